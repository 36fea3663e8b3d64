"""PostgreSQL: pg_dump streamed to the bucket, restore refusing a dump that does not match its manifest,
and a per-table fingerprint (row count and md5 of the ordered rows) to compare a restore with its source.

The connection comes only from libpq's environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE): the
password reaches pg_dump and pg_restore through their environment, never their arguments.
"""

import json
import logging
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from platform_backup.errors import BackupError
from platform_backup.settings import Clock, env_list, iso, key_timestamp, utc_now
from platform_backup.store import MANIFEST_SUFFIX, Store

log = logging.getLogger(__name__)

MAINTENANCE_DATABASE = "postgres"
EXCLUDED_DATABASES = frozenset({"rdsadmin"})


def connect(database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dbname=database, connect_timeout=15, autocommit=True)


def check_database_name(name: str) -> str:
    """A plain name: libpq reads a --dbname with `=` or a URI scheme as a connection string (another host)."""
    if not name or "=" in name or name.startswith(("postgres://", "postgresql://")):
        raise BackupError(f"{name!r} is not a database name")
    return name


def list_databases() -> list[str]:
    """PG_DATABASES, or every database that accepts connections except templates and RDS's own."""
    configured = env_list("PG_DATABASES")
    if configured:
        return [check_database_name(name) for name in configured]
    with connect(MAINTENANCE_DATABASE) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname"
        ).fetchall()
    return [str(name) for (name,) in rows if name not in EXCLUDED_DATABASES]


def tool_version(tool: str) -> str:
    """`pg_dump (PostgreSQL) 17.2` gives `17.2`."""
    try:
        output = subprocess.run([tool, "--version"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise BackupError(f"{tool} is not usable: {error}") from None
    match = re.search(r"(\d+(?:\.\d+)?)", output)
    return match.group(1) if match else output.strip()


def server_version(database: str) -> str:
    with connect(database) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def _major(version: str) -> int:
    match = re.match(r"\s*(\d+)", version)
    if not match:
        raise BackupError(f"cannot read a major version from {version!r}")
    return int(match.group(1))


def dump_key(database: str, stamp: str, weekly: bool = False) -> str:
    return f"{'weekly/' if weekly else ''}postgres/{database}/{stamp}.dump"


def manifest_key_for(dump: str) -> str:
    return dump.removesuffix(".dump") + MANIFEST_SUFFIX


# Backup


def backup(store: Store, clock: Clock = utc_now, weekly: bool = False) -> list[dict[str, Any]]:
    """Dumps every database; with `weekly` (`backup postgres --weekly`, the backup-postgres-weekly CronJob,
    Sundays 01:00 UTC) also copies each dump under weekly/. The 4-hourly run never writes weekly/, whatever
    the day.

    One weekly copy per database and UTC day: a run that finds one of the same day already (a retried
    weekly Job) skips it, so the 90-day weekly/ prefix holds one dump per week, not one per run.
    """
    run_started = clock()
    stamp = key_timestamp(run_started)
    databases = list_databases()
    if not databases:
        raise BackupError("no database to back up (PG_DATABASES is empty and the server lists none)")
    dump_version = tool_version("pg_dump")
    log.info("backup postgres: %d database(s) %s, pg_dump %s", len(databases), ", ".join(databases), dump_version)
    manifests, failures = [], []
    for database in databases:
        try:  # one failing database does not cost the others their backup
            manifest = _backup_database(store, database, stamp, dump_version, clock)
            manifests.append(manifest)
            if weekly and not _weekly_copy_exists(store, database, stamp):
                manifests.append(_weekly_copy(store, manifest))
        except (BackupError, psycopg.Error) as error:
            log.error("backup of database %s failed: %s", database, error)
            failures.append(f"{database}: {error}")
    if failures:
        raise BackupError(f"{len(failures)} of {len(databases)} database backup(s) failed: " + "; ".join(failures))
    return manifests


def _backup_database(store: Store, database: str, stamp: str, dump_version: str, clock: Clock) -> dict[str, Any]:
    started = clock()
    version = server_version(database)
    if _major(dump_version) < _major(version):
        raise BackupError(
            f"pg_dump {dump_version} cannot dump server {version} of database {database}: "
            "pg_dump's major version must be at least the server's"
        )
    key = dump_key(database, stamp)
    log.info("dumping %s (server %s) to %s", database, version, store.url(key))
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            ["pg_dump", "--format=custom", "--no-password", "--dbname", database],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert process.stdout is not None

        def finish() -> None:
            if process.wait() != 0:
                stderr.seek(0)
                message = stderr.read().decode(errors="replace").strip().replace("\n", " ")
                raise BackupError(f"pg_dump of database {database} failed (exit {process.returncode}): {message}")

        try:
            upload = store.upload_stream(key, process.stdout, finish)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finished = clock()
    manifest = {
        "kind": "postgres",
        "database": database,
        "key": key,
        "size": upload.size,
        "sha256": upload.sha256,
        "server_version": version,
        "pg_dump_version": dump_version,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
    }
    store.put_json(manifest_key_for(key), manifest)
    log.info("dumped %s: %d bytes, sha256 %s, %s", database, upload.size, upload.sha256, finished - started)
    return manifest


def _weekly_copy_exists(store: Store, database: str, stamp: str) -> bool:
    same_day = store.keys(f"weekly/postgres/{database}/{stamp[:8]}")
    existing = [key for key in same_day if key.endswith(".dump")]
    if existing:
        log.info("weekly copy of %s for %s exists already: %s", database, stamp[:8], existing[0])
    return bool(existing)


def _weekly_copy(store: Store, manifest: dict[str, Any]) -> dict[str, Any]:
    """The weekly run's dump copied under weekly/ (its lifecycle keeps it 90 days), with its own manifest."""
    key = "weekly/" + str(manifest["key"])
    store.copy(str(manifest["key"]), key)
    weekly = {**manifest, "key": key, "copied_from": manifest["key"]}
    store.put_json(manifest_key_for(key), weekly)
    log.info("weekly copy of %s at %s", manifest["database"], store.url(key))
    return weekly


# Fingerprint


def user_tables(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1, 2"
    ).fetchall()
    return [(str(schema), str(table)) for schema, table in rows]


def fingerprint(database: str) -> dict[str, Any]:
    """Row count and md5 of the rows in text form, ordered, for every user table.

    The session's TimeZone and float output are fixed so the same data gives the same text on any server.
    """
    tables: dict[str, dict[str, Any]] = {}
    with connect(database) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET extra_float_digits = 3")
        for schema, table in user_tables(conn):
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
            ).format(sql.Identifier(schema, table))
            count, digest = conn.execute(query).fetchone()  # type: ignore[misc]
            tables[f"{schema}.{table}"] = {"rows": int(count), "md5": str(digest)}
    return {"database": database, "tables": tables}


def print_fingerprint(report: dict[str, Any]) -> None:
    print(f"database {report['database']}: {len(report['tables'])} table(s)")
    for name, entry in report["tables"].items():
        print(f"  {name}: {entry['rows']} row(s), md5 {entry['md5']}")


def write_json(path: str, document: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


# Restore


@dataclass(frozen=True)
class RestoreRequest:
    source: str
    target: str
    backup_key: str | None = None
    replace: bool = False


def newest_dump(store: Store, database: str) -> str:
    manifest = store.newest_manifest_key(f"postgres/{database}/")
    if manifest is None:
        raise BackupError(f"no backup of database {database} under {store.url(f'postgres/{database}/')}")
    return manifest.removesuffix(MANIFEST_SUFFIX) + ".dump"


SCRATCH_SUFFIX = "__restoring"
MAX_NAME_BYTES = 63
"""PostgreSQL truncates longer identifiers (NAMEDATALEN - 1): a truncated scratch name could be another database."""


def scratch_name(target: str) -> str:
    name = target + SCRATCH_SUFFIX
    if len(name.encode()) > MAX_NAME_BYTES:
        raise BackupError(
            f"database name {target!r} is too long to restore through {name!r} "
            f"(PostgreSQL names have at most {MAX_NAME_BYTES} bytes)"
        )
    return name


def restore(store: Store, request: RestoreRequest) -> dict[str, Any]:
    """Restores into a scratch database `<target>__restoring`, then renames it to the target.

    Nothing touches the server before the dump is downloaded and its checksum matches the manifest. The old
    target (with --replace) is dropped only after pg_restore succeeded and the scratch's fingerprint is read;
    a failed restore drops the scratch and leaves the target as it was.
    """
    check_database_name(request.target)
    scratch = scratch_name(request.target)
    key = request.backup_key or newest_dump(store, request.source)
    manifest = store.read_json_if_exists(manifest_key_for(key))
    if manifest is None:
        raise BackupError(f"refusing to restore {store.url(key)}: its manifest {manifest_key_for(key)} is missing")
    log.info("restore %s into database %s", store.url(key), request.target)
    with tempfile.NamedTemporaryFile(prefix="restore-", suffix=".dump") as local:
        started = time.monotonic()
        download = store.hash_object(key, sink=local)
        local.flush()
        log.info("downloaded %d bytes in %.1f s", download.size, time.monotonic() - started)
        if download.sha256 != manifest.get("sha256") or download.size != manifest.get("size"):
            raise BackupError(
                f"refusing to restore {store.url(key)}: checksum mismatch: the object has sha256 {download.sha256} "
                f"({download.size} bytes), the manifest says {manifest.get('sha256')} ({manifest.get('size')} bytes)"
            )
        _check_target(request.target, request.replace)
        _create_scratch(scratch)
        try:
            _pg_restore(local.name, scratch)
            report = fingerprint(scratch)
        except BaseException:
            log.error("restore into %s failed: dropping it; database %s is untouched", scratch, request.target)
            _drop(scratch)
            raise
    _swap(scratch, request.target, request.replace)
    report.update({"database": request.target, "restored_from": key, "sha256": download.sha256})
    return report


def _exists(conn: psycopg.Connection[Any], database: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def _check_target(target: str, replace: bool) -> None:
    """Refuses a target that has tables unless --replace, before any work on the server."""
    with connect(MAINTENANCE_DATABASE) as conn:
        if not _exists(conn, target):
            return
    with connect(target) as existing:
        tables = user_tables(existing)
    if tables and not replace:
        raise BackupError(
            f"refusing to restore into database {target}: it exists and has {len(tables)} table(s) "
            "(pass --replace to replace it once the restore has succeeded)"
        )


def _create_scratch(scratch: str) -> None:
    with connect(MAINTENANCE_DATABASE) as conn:
        if _exists(conn, scratch):
            log.info("dropping database %s, left over by an earlier restore", scratch)
            _terminate(conn, scratch)
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(scratch)))
        log.info("creating database %s", scratch)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))


def _drop(database: str) -> None:
    try:
        with connect(MAINTENANCE_DATABASE) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    except psycopg.Error as error:
        log.error("could not drop database %s: %s", database, error)


def _terminate(conn: psycopg.Connection[Any], database: str) -> None:
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    ).fetchall()
    log.info("terminated %d other connection(s) to database %s", len(rows), database)


def _swap(scratch: str, target: str, replace: bool) -> None:
    """The old target dropped (an empty one, or one with tables under --replace), the scratch renamed to it."""
    with connect(MAINTENANCE_DATABASE) as conn:
        if _exists(conn, target):
            with connect(target) as existing:
                tables = user_tables(existing)
            if tables and not replace:  # it gained tables while the restore ran
                _terminate(conn, scratch)
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(scratch)))
                raise BackupError(f"refusing to replace database {target}: it has {len(tables)} table(s) now")
            log.info("dropping the old database %s (the restore into %s succeeded)", target, scratch)
            _terminate(conn, target)
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(target)))
        _terminate(conn, scratch)
        log.info("renaming database %s to %s", scratch, target)
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(scratch), sql.Identifier(target)))


def _pg_restore(path: str, target: str) -> None:
    result = subprocess.run(
        ["pg_restore", "--exit-on-error", "--no-owner", "--no-acl", "--no-password", "--dbname", target, path],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.strip().replace("\n", " ")
        raise BackupError(f"pg_restore into database {target} failed (exit {result.returncode}): {message}")
