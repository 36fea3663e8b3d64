"""backup/restore/fingerprint postgres against a real PostgreSQL server and moto's S3."""

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from jobs_testkit import MONDAY, SUNDAY, Aws, fixed_clock
from localservers import Postgres
from platform_backup import postgres as pg
from platform_backup.cli import main
from platform_backup.errors import BackupError

SEED = """
CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric(10, 2), tags jsonb, at timestamptz);
CREATE TABLE item_notes (id serial PRIMARY KEY, item_id integer REFERENCES items (id), note text);
INSERT INTO items
SELECT i, 'item ' || i, i * 1.25, jsonb_build_object('n', i), '2026-01-01Z'::timestamptz + i * interval '1 h'
FROM generate_series(1, 500) AS i;
INSERT INTO item_notes (item_id, note) SELECT 1 + i % 500, md5(i::text) FROM generate_series(1, 800) AS i;
"""


def admin(sql: str) -> None:
    with psycopg.connect(dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
def shop(postgres: Postgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """A seeded database named for the test (tests share the session's server)."""
    name = "shop_" + request.node.name.removeprefix("test_")[:40].replace("[", "_").replace("]", "")
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {name}")
    with psycopg.connect(dbname=name) as conn:
        conn.execute(SEED)  # type: ignore[arg-type]
    yield name
    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_backup_streams_the_dump_with_a_manifest_that_matches_the_uploaded_bytes(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)

    (manifest,) = pg.backup(aws.store, fixed_clock(MONDAY))

    key = f"postgres/{shop}/20261130T083000Z.dump"
    body = aws.body(key)
    assert body.startswith(b"PGDMP")  # the custom format's magic
    stored = json.loads(aws.body(f"postgres/{shop}/20261130T083000Z.manifest.json"))
    assert stored == manifest
    assert stored["kind"] == "postgres" and stored["database"] == shop and stored["key"] == key
    assert stored["size"] == len(body)
    assert stored["sha256"] == hashlib.sha256(body).hexdigest()
    assert stored["server_version"].split(".")[0] == stored["pg_dump_version"].split(".")[0]
    assert stored["started_at"] == stored["finished_at"] == "2026-11-30T08:30:00Z"
    assert stored["duration_seconds"] == 0
    for written in (key, f"postgres/{shop}/20261130T083000Z.manifest.json"):
        head = aws.s3.head_object(Bucket=aws.store.bucket, Key=written)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == aws.key_arn
    assert not aws.store.keys("weekly/"), "a Monday backup has no weekly copy"


def test_the_4_hourly_backup_on_sunday_writes_no_weekly_copy(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)

    (daily,) = pg.backup(aws.store, fixed_clock(SUNDAY))

    assert daily["key"] == f"postgres/{shop}/20261206T010000Z.dump"
    assert aws.store.keys("weekly/") == []


def test_backup_weekly_also_writes_the_weekly_copy_encrypted_with_the_key(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)

    daily, weekly = pg.backup(aws.store, fixed_clock(SUNDAY), weekly=True)

    weekly_key = f"weekly/postgres/{shop}/20261206T010000Z.dump"
    assert daily["key"] == f"postgres/{shop}/20261206T010000Z.dump"
    assert weekly["key"] == weekly_key and weekly["copied_from"] == daily["key"]
    assert aws.body(weekly_key) == aws.body(daily["key"])
    assert json.loads(aws.body(f"weekly/postgres/{shop}/20261206T010000Z.manifest.json"))["sha256"] == daily["sha256"]
    assert aws.s3.head_object(Bucket=aws.store.bucket, Key=weekly_key)["SSEKMSKeyId"] == aws.key_arn


def test_a_second_weekly_run_on_the_same_day_makes_no_second_weekly_copy(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)
    pg.backup(aws.store, fixed_clock(SUNDAY), weekly=True)

    manifests = pg.backup(aws.store, fixed_clock(SUNDAY + timedelta(hours=1)), weekly=True)

    assert [manifest["key"] for manifest in manifests] == [f"postgres/{shop}/20261206T020000Z.dump"]
    assert [key for key in aws.store.keys("weekly/") if key.endswith(".dump")] == [
        f"weekly/postgres/{shop}/20261206T010000Z.dump"
    ]


def test_weekly_writes_the_weekly_copy_on_any_day(aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)

    assert main(["backup", "postgres", "--weekly"]) == 0

    (weekly,) = [key for key in aws.store.keys(f"weekly/postgres/{shop}/") if key.endswith(".dump")]
    assert aws.s3.head_object(Bucket=aws.store.bucket, Key=weekly)["SSEKMSKeyId"] == aws.key_arn


def test_backup_without_pg_databases_dumps_every_database_but_templates_and_rdsadmin(aws: Aws, shop: str) -> None:
    admin("DROP DATABASE IF EXISTS rdsadmin")
    admin("CREATE DATABASE rdsadmin")
    try:
        manifests = pg.backup(aws.store, fixed_clock(MONDAY))
    finally:
        admin("DROP DATABASE rdsadmin")

    databases = {manifest["database"] for manifest in manifests}
    assert {"postgres", shop} <= databases
    assert not databases & {"rdsadmin", "template0", "template1"}


def test_a_failing_database_fails_the_run_after_the_others_are_backed_up(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PG_DATABASES", f"no_such_db,{shop}")

    assert main(["backup", "postgres"]) == 1

    err = capsys.readouterr().err
    assert (
        err.strip().splitlines()[-1].startswith("platform-backup: error: 1 of 2 database backup(s) failed: no_such_db")
    )
    assert "Traceback" not in err
    assert aws.store.keys("postgres/no_such_db/") == []
    assert len(aws.store.keys(f"postgres/{shop}/")) == 2


def test_a_connection_string_is_not_taken_for_a_database_name(aws: Aws, postgres: Postgres) -> None:
    with pytest.raises(BackupError, match="is not a database name"):
        pg.restore(aws.store, pg.RestoreRequest("shop", "host=elsewhere dbname=shop"))


def test_restore_round_trip_gives_the_same_fingerprint(aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)
    pg.backup(aws.store, fixed_clock(MONDAY))
    source = pg.fingerprint(shop)
    admin(f"DROP DATABASE {shop}")

    report = pg.restore(aws.store, pg.RestoreRequest(shop, shop))

    assert report["tables"] == source["tables"]
    assert report["tables"]["public.items"]["rows"] == 500
    assert report["tables"]["public.item_notes"]["rows"] == 800
    assert report["restored_from"] == f"postgres/{shop}/20261130T083000Z.dump"


def test_restore_refuses_a_dump_whose_checksum_differs_from_its_manifest(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)
    (manifest,) = pg.backup(aws.store, fixed_clock(MONDAY))
    body = aws.body(manifest["key"])
    aws.s3.put_object(Bucket=aws.store.bucket, Key=manifest["key"], Body=body[:-1] + bytes([body[-1] ^ 0xFF]))

    with pytest.raises(BackupError, match="checksum mismatch"):
        pg.restore(aws.store, pg.RestoreRequest(shop, "restored_copy"))

    with psycopg.connect(dbname="postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'restored_copy'").fetchone() is None


def test_restore_refuses_a_dump_without_manifest(aws: Aws, postgres: Postgres) -> None:
    aws.s3.put_object(Bucket=aws.store.bucket, Key="postgres/x/20261130T083000Z.dump", Body=b"PGDMP")

    with pytest.raises(BackupError, match=r"manifest .* is missing"):
        pg.restore(aws.store, pg.RestoreRequest("x", "y", backup_key="postgres/x/20261130T083000Z.dump"))


def test_restore_refuses_a_target_with_tables_unless_replace(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)
    pg.backup(aws.store, fixed_clock(MONDAY))
    with psycopg.connect(dbname=shop, autocommit=True) as conn:
        conn.execute("DELETE FROM item_notes WHERE id > 10")
    request = pg.RestoreRequest(shop, shop)

    with pytest.raises(BackupError, match="has 2 table"):
        pg.restore(aws.store, request)
    report = pg.restore(aws.store, pg.RestoreRequest(shop, shop, replace=True))

    assert report["tables"]["public.item_notes"]["rows"] == 800


def test_restore_cli_prints_the_table_report_and_writes_it_as_json(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)
    pg.backup(aws.store, fixed_clock(MONDAY))
    report_path = f"{tmp_path}/report.json"
    fingerprint_path = f"{tmp_path}/fingerprint.json"

    assert (
        main(["restore", "postgres", "--database", shop, "--into", f"{shop}_copy", "--report-json", report_path]) == 0
    )
    assert main(["fingerprint", "postgres", "--database", shop, "--json", fingerprint_path]) == 0
    admin(f"DROP DATABASE {shop}_copy")

    out = capsys.readouterr().out
    assert "public.items: 500 row(s)" in out
    with open(report_path) as restored, open(fingerprint_path) as live:
        assert json.load(restored)["tables"] == json.load(live)["tables"]


def database_exists(name: str) -> bool:
    with psycopg.connect(dbname="postgres") as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_a_failing_restore_with_replace_leaves_the_old_target_intact(
    aws: Aws, shop: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = f"postgres/{shop}/20261130T083000Z.dump"
    broken = b"PGDMP this is not a dump pg_restore can read"
    aws.put_backup(key, broken, {"key": key, "size": len(broken), "sha256": hashlib.sha256(broken).hexdigest()})
    before = pg.fingerprint(shop)

    with pytest.raises(BackupError, match="pg_restore into database") as failed:
        pg.restore(aws.store, pg.RestoreRequest(shop, shop, replace=True))

    assert pg.fingerprint(shop) == before
    assert f"{shop}__restoring failed" in str(failed.value)
    assert before["tables"]["public.items"]["rows"] == 500
    assert not database_exists(f"{shop}__restoring")
    assert f"database {shop} is untouched" in caplog.text


def test_restore_replace_drops_a_leftover_scratch_and_ends_the_old_targets_sessions(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="platform_backup")
    monkeypatch.setenv("PG_DATABASES", shop)
    pg.backup(aws.store, fixed_clock(MONDAY))
    source = pg.fingerprint(shop)
    admin(f"CREATE DATABASE {shop}__restoring")
    with psycopg.connect(dbname=shop, autocommit=True) as conn:
        conn.execute("DELETE FROM item_notes")
    session = psycopg.connect(dbname=shop, autocommit=True)

    try:
        report = pg.restore(aws.store, pg.RestoreRequest(shop, shop, replace=True))
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
    finally:
        session.close()

    assert report["database"] == shop and report["tables"] == source["tables"]
    assert pg.fingerprint(shop)["tables"] == source["tables"]
    assert not database_exists(f"{shop}__restoring")
    assert f"dropping database {shop}__restoring, left over by an earlier restore" in caplog.text
    assert re.search(rf"terminated [1-9]\d* other connection\(s\) to database {shop}$", caplog.text, re.MULTILINE)


def test_a_target_name_too_long_for_the_scratch_name_is_refused(aws: Aws, postgres: Postgres) -> None:
    with pytest.raises(BackupError, match="too long"):
        pg.restore(aws.store, pg.RestoreRequest("shop", "x" * 60))


def test_restore_without_pg_restore_on_path_is_one_line_and_leaves_no_scratch(
    aws: Aws, shop: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PG_DATABASES", shop)
    pg.backup(aws.store, fixed_clock(MONDAY))
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_restore there

    assert main(["restore", "postgres", "--database", shop, "--into", f"{shop}_copy"]) == 1

    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("platform-backup: error: FileNotFoundError: ")
    assert "pg_restore" in err and "Traceback" not in err
    assert not database_exists(f"{shop}_copy") and not database_exists(f"{shop}_copy__restoring")
