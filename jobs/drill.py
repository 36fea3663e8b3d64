"""The restore drill (`make drill`): back up, destroy, restore and compare, against real servers.

Starts a real PostgreSQL and redis-server and a moto S3/KMS/ElastiCache endpoint on loopback, then:

1. writes known data into PostgreSQL and fingerprints it (row count and md5 per table);
2. runs the job CLI's `backup postgres` (a subprocess, configured by environment only);
3. drops the database, runs `restore postgres` into the same name and compares the fingerprints;
4. `backup redis` against moto's ElastiCache, and the manifest it writes;
5. `verify` of the fresh backups passes;
6. corrupts the stored dump: `restore` refuses it and `verify` fails naming the checksum;
7. makes the newest backup stale: `verify` fails reporting it stale;
8. Redis's data round trip as an ElastiCache restore performs it: known keys, SAVE (the snapshot is the
   RDB file), FLUSHALL, a new server from that RDB, the same fingerprint.

Each step prints its duration; the total wall time goes to the JSON summary (out/drill.json) that the DR
runbook cites. Any failed check exits non-zero; every server started is stopped, on failure too.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from localservers import Moto, Postgres, Redis, missing_servers

JOBS = Path(__file__).resolve().parent
DATABASE = "app"
REPLICATION_GROUP = "platform-cache"

SEED_SQL = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    name text NOT NULL,
    balance numeric(14, 2) NOT NULL,
    created_at timestamptz NOT NULL,
    profile jsonb NOT NULL
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    amount numeric(12, 4) NOT NULL,
    note text,
    placed_at timestamptz NOT NULL,
    lines jsonb NOT NULL
);
CREATE SCHEMA audit;
CREATE TABLE audit.events (
    id bigserial PRIMARY KEY,
    happened_at timestamptz NOT NULL,
    kind text NOT NULL,
    ratio double precision,
    payload jsonb
);
INSERT INTO customers
SELECT i, 'customer ' || i || E' \u00e9\u00e8 \\ "quoted"', round((i * 37.13) % 100000, 2),
       timestamptz '2026-01-01 00:00:00+00' + i * interval '17 minutes',
       jsonb_build_object('tier', i % 4, 'tags', jsonb_build_array('a' || (i % 7), 'b'), 'vip', i % 11 = 0)
FROM generate_series(1, 2000) AS i;
INSERT INTO orders
SELECT i, 1 + (i * 7919) % 2000, round(((i * 3.7) % 999)::numeric, 4),
       CASE WHEN i % 5 = 0 THEN NULL ELSE 'order note ' || md5(i::text) END,
       timestamptz '2026-06-01 12:00:00+02' + i * interval '3 minutes 7 seconds',
       jsonb_build_array(jsonb_build_object('sku', 'sku-' || (i % 97), 'qty', 1 + i % 5))
FROM generate_series(1, 6000) AS i;
INSERT INTO audit.events (happened_at, kind, ratio, payload)
SELECT timestamptz '2026-11-30 00:00:00+00' + i * interval '1 second', 'kind-' || (i % 13), i / 7.0,
       CASE WHEN i % 3 = 0 THEN NULL ELSE jsonb_build_object('n', i, 'nested', jsonb_build_object('x', i % 5)) END
FROM generate_series(1, 3000) AS i;
"""


class DrillError(Exception):
    pass


class Drill:
    def __init__(self, workdir: Path, out: Path) -> None:
        self.workdir = workdir
        self.out = out
        self.steps: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.postgres = Postgres()
        self.redis = Redis(workdir / "redis")
        self.moto = Moto()
        self.s3: Any = None

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        number = len(self.steps) + 1
        entry: dict[str, Any] = {"step": number, "name": name}
        print(f"[{number:2}] {name} ...", flush=True)
        started = time.monotonic()
        try:
            yield entry
        except Exception as error:
            entry.update(ok=False, seconds=round(time.monotonic() - started, 3), error=str(error))
            self.steps.append(entry)
            print(f"[{number:2}] FAILED after {entry['seconds']:.2f} s: {error}", flush=True)
            raise
        entry.update(ok=True, seconds=round(time.monotonic() - started, 3))
        self.steps.append(entry)
        print(f"[{number:2}] ok ({entry['seconds']:.2f} s)", flush=True)

    # Helpers

    def env(self, **extra: str) -> dict[str, str]:
        """The job's environment: servers' addresses and the bucket, nothing inherited but PATH and locale."""
        base = {key: os.environ[key] for key in ("LANG", "LC_ALL") if key in os.environ}
        base.update(self.postgres.env())
        base.update(self.moto.env())
        base.update(
            PYTHONPATH=str(JOBS),
            TMPDIR=str(self.workdir / "tmp"),
            HOME=str(self.workdir),
            REDIS_REPLICATION_GROUP_ID=REPLICATION_GROUP,
            REDIS_SNAPSHOT_POLL_SECONDS="1",
        )
        base.update(extra)
        return base

    def cli(self, *args: str, expect: int = 0, **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "platform_backup", *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if (result.returncode == 0) != (expect == 0) or (expect and result.returncode != expect):
            raise DrillError(
                f"`platform-backup {' '.join(args)}` exited {result.returncode}, expected {expect}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def newest(self, prefix: str, suffix: str) -> str:
        keys = [
            item["Key"]
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.moto.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if item["Key"].endswith(suffix)
        ]
        if not keys:
            raise DrillError(f"no object {prefix}*{suffix} in the bucket")
        return str(max(keys))

    def read_json(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.s3.get_object(Bucket=self.moto.bucket, Key=key)["Body"].read()))

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(
            Bucket=self.moto.bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=self.moto.key_arn
        )

    def fingerprint(self, name: str) -> dict[str, Any]:
        path = self.workdir / f"{name}.json"
        self.cli("fingerprint", "postgres", "--database", DATABASE, "--json", str(path))
        return dict(json.loads(path.read_text()))

    # The drill

    def run(self) -> None:
        with self.step("start PostgreSQL, redis-server and the moto S3/KMS/ElastiCache endpoint") as entry:
            (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
            self.postgres.start()
            self.redis.start()
            self.moto.start()
            self.s3 = self.moto.client("s3")
            self.moto.client("elasticache").create_replication_group(
                ReplicationGroupId=REPLICATION_GROUP,
                ReplicationGroupDescription="backup drill",
                Engine="redis",
                CacheNodeType="cache.t4g.micro",
                NumCacheClusters=1,
            )
            entry["postgres"] = str(self.postgres.bin_dir)
            entry["redis_server"] = subprocess.run(
                ["redis-server", "--version"], capture_output=True, text=True, check=True
            ).stdout.strip()
        self._postgres_round_trip()
        self._redis_snapshot()
        self._verify_fresh()
        self._corrupted_dump()
        self._stale_backup()
        self._redis_data_round_trip()

    def _postgres_round_trip(self) -> None:
        with self.step("write known data into PostgreSQL and fingerprint it") as entry:
            with psycopg.connect(dbname="postgres", autocommit=True, **self._conninfo()) as conn:
                conn.execute(f"CREATE DATABASE {DATABASE}")
            with psycopg.connect(dbname=DATABASE, **self._conninfo()) as conn:
                conn.execute(SEED_SQL)  # type: ignore[arg-type]
            source = self.fingerprint("source")
            entry["tables"] = {name: table["rows"] for name, table in source["tables"].items()}
            self.source = source
        with self.step("backup postgres (job CLI)") as entry:
            self.cli("backup", "postgres")
            manifest_key = self.newest(f"postgres/{DATABASE}/", ".manifest.json")
            manifest = self.read_json(manifest_key)
            head = self.s3.head_object(Bucket=self.moto.bucket, Key=manifest["key"])
            body = self.s3.get_object(Bucket=self.moto.bucket, Key=manifest["key"])["Body"].read()
            if hashlib.sha256(body).hexdigest() != manifest["sha256"] or len(body) != manifest["size"]:
                raise DrillError(f"manifest {manifest_key} does not match the uploaded dump")
            if head.get("SSEKMSKeyId") != self.moto.key_arn:
                raise DrillError(f"{manifest['key']} is not encrypted with the backup key: {head.get('SSEKMSKeyId')}")
            self.dump_key = str(manifest["key"])
            entry.update(key=self.dump_key, size=manifest["size"], sha256=manifest["sha256"])
        with (
            self.step(f"destroy the data: DROP DATABASE {DATABASE}"),
            psycopg.connect(dbname="postgres", autocommit=True, **self._conninfo()) as conn,
        ):
            conn.execute(f"DROP DATABASE {DATABASE} WITH (FORCE)")
        with self.step(f"restore postgres into {DATABASE} (job CLI) and compare the fingerprints") as entry:
            report_path = self.workdir / "restored.json"
            self.cli(
                "restore", "postgres", "--database", DATABASE, "--into", DATABASE, "--report-json", str(report_path)
            )
            restored = json.loads(report_path.read_text())
            after = self.fingerprint("after-restore")
            for report in (restored, after):
                if report["tables"] != self.source["tables"]:
                    raise DrillError(
                        f"restored tables differ: source {self.source['tables']}, restored {report['tables']}"
                    )
            if len(self.source["tables"]) < 3:
                raise DrillError(f"expected the 3 seeded tables, the source has {list(self.source['tables'])}")
            entry["identical_tables"] = sorted(self.source["tables"])

    def _conninfo(self) -> dict[str, Any]:
        env = self.postgres.env()
        return {"host": env["PGHOST"], "port": int(env["PGPORT"]), "user": env["PGUSER"]}

    def _redis_snapshot(self) -> None:
        with self.step("backup redis (job CLI) against moto's ElastiCache, and its manifest") as entry:
            self.cli("backup", "redis")
            manifest = self.read_json(self.newest(f"redis/{REPLICATION_GROUP}/", ".manifest.json"))
            name = manifest.get("snapshot_name", "")
            if manifest.get("status") != "available" or not name.startswith(f"{REPLICATION_GROUP}-backup-"):
                raise DrillError(f"unexpected redis manifest: {manifest}")
            snapshots = self.moto.client("elasticache").describe_snapshots(SnapshotName=name)["Snapshots"]
            if not snapshots:
                raise DrillError(f"snapshot {name} is not in ElastiCache")
            entry["snapshot"] = name

    def _verify_fresh(self) -> None:
        with self.step("verify the fresh backups (postgres, redis)") as entry:
            result = self.cli("verify", VERIFY_KINDS="postgres,redis")
            status = self.read_json("verify/status.json")
            if not all(status["kinds"][kind]["success"] for kind in ("postgres", "redis")):
                raise DrillError(f"verify/status.json does not report success: {status}")
            entry["report"] = result.stdout.strip().splitlines()

    def _corrupted_dump(self) -> None:
        with self.step("corrupt the stored dump: restore must refuse it") as entry:
            good = self.s3.get_object(Bucket=self.moto.bucket, Key=self.dump_key)["Body"].read()
            self.put(self.dump_key, good[:-64] + bytes(64))
            result = self.cli("restore", "postgres", "--database", DATABASE, "--into", "app_corrupt", expect=1)
            if "checksum mismatch" not in result.stderr:
                raise DrillError(f"restore did not name the checksum: {result.stderr}")
            with psycopg.connect(dbname="postgres", **self._conninfo()) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'app_corrupt'").fetchone():
                    raise DrillError("restore created the target database from a corrupted dump")
            entry["refusal"] = result.stderr.strip().splitlines()[-1]
        with self.step("verify must fail on the corrupted dump, naming the checksum") as entry:
            result = self.cli("verify", expect=1, VERIFY_KINDS="postgres,redis")
            if "checksum mismatch" not in result.stderr or self.dump_key not in result.stderr:
                raise DrillError(f"verify did not report the checksum of {self.dump_key}: {result.stderr}")
            status = self.read_json("verify/status.json")
            if status["kinds"]["postgres"]["success"] or not status["kinds"]["redis"]["success"]:
                raise DrillError(f"verify/status.json should fail postgres only: {status}")
            entry["failure"] = result.stderr.strip().splitlines()[-1]
            self.put(self.dump_key, good)

    def _stale_backup(self) -> None:
        with self.step("make the newest backup stale: verify must report it") as entry:
            manifest_key = self.dump_key.removesuffix(".dump") + ".manifest.json"
            manifest = self.read_json(manifest_key)
            self.cli("verify", VERIFY_KINDS="postgres")  # the restored good bytes verify again
            six_hours_ago = datetime.now(UTC) - timedelta(hours=6)
            manifest["finished_at"] = six_hours_ago.isoformat(timespec="seconds").replace("+00:00", "Z")
            self.put(manifest_key, json.dumps(manifest).encode())
            result = self.cli("verify", expect=1, VERIFY_KINDS="postgres")
            if "stale" not in result.stderr or self.dump_key not in result.stderr:
                raise DrillError(f"verify did not report {self.dump_key} stale: {result.stderr}")
            entry["failure"] = result.stderr.strip().splitlines()[-1]

    def _redis_data_round_trip(self) -> None:
        with self.step(
            "Redis: known keys, SAVE (the RDB), FLUSHALL, a new server from that RDB, the same fingerprint"
        ) as entry:
            client = redis.Redis(host="127.0.0.1", port=self.redis.port)
            for i in range(2000):
                client.set(f"session:{i}", json.dumps({"user": i, "cart": list(range(i % 9))}))
            client.hset("config:flags", mapping={f"flag{i}": str(i % 2) for i in range(50)})
            client.rpush("queue:jobs", *[f"job-{i}" for i in range(500)])
            client.sadd("set:tags", *[f"tag-{i}" for i in range(100)])
            client.zadd("rank:scores", {f"player-{i}": i * 1.5 for i in range(300)})
            client.set(b"binary:\x00\xff", bytes(range(256)))
            before = redis_fingerprint(client)
            client.save()
            snapshot = self.workdir / "snapshot.rdb"
            shutil.copyfile(self.redis.root / "dump.rdb", snapshot)
            client.flushall()
            if client.dbsize() != 0:
                raise DrillError("FLUSHALL left keys behind")
            client.close()
            self.redis.stop()
            shutil.copyfile(snapshot, self.redis.root / "dump.rdb")
            self.redis.start()
            client = redis.Redis(host="127.0.0.1", port=self.redis.port)
            after = redis_fingerprint(client)
            client.close()
            if after != before:
                raise DrillError(f"Redis data differs after the restore from the RDB: {before} != {after}")
            entry.update(fingerprint=before, rdb_bytes=snapshot.stat().st_size)

    def stop(self) -> None:
        for server in (self.redis, self.postgres, self.moto):
            try:
                server.stop()
            except Exception as error:  # noqa: BLE001 - stop the others whatever one does
                print(f"could not stop {type(server).__name__}: {error}", file=sys.stderr)

    def summary(self, ok: bool) -> dict[str, Any]:
        return {
            "ok": ok,
            "total_seconds": round(time.monotonic() - self.started, 3),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "steps": self.steps,
        }


def redis_fingerprint(client: "redis.Redis") -> dict[str, Any]:
    """The number of keys and the sha256 of every key with its type and value, sorted.

    Values, not DUMP: DUMP carries the internal encoding (listpack or hashtable), which a server may choose
    differently when it loads the same data from an RDB file.
    """
    digest = hashlib.sha256()
    keys = sorted(client.scan_iter(count=1000))
    for key in keys:
        kind = client.type(key)
        value: Any
        if kind == b"string":
            value = client.get(key)
        elif kind == b"hash":
            value = sorted(client.hgetall(key).items())
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"set":
            value = sorted(client.smembers(key))
        elif kind == b"zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            raise DrillError(f"the drill does not fingerprint Redis type {kind!r} (key {key!r})")
        digest.update(repr((key, kind, value)).encode() + b"\n")
    return {"keys": len(keys), "sha256": digest.hexdigest()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", default="out/drill.json", help="where to write the JSON summary")
    args = parser.parse_args()
    missing = missing_servers()
    if missing:
        print(f"drill: missing {'; '.join(missing)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = False
    with tempfile.TemporaryDirectory(prefix="platform-backup-drill-") as workdir:
        drill = Drill(Path(workdir), out)
        try:
            drill.run()
            ok = True
        except Exception as error:  # noqa: BLE001 - any failure fails the drill, after the servers stop
            print(f"drill: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            drill.stop()
            summary = drill.summary(ok)
            out.write_text(json.dumps(summary, indent=2) + "\n")
    verdict = "passed" if ok else "FAILED"
    print(f"drill {verdict}: {len(summary['steps'])} step(s), total wall time {summary['total_seconds']:.1f} s ({out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
