"""verify: fresh backups pass; stale, corrupted, missing and absent ones fail with a named reason."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jobs_testkit import Aws, PrefixListS3
from platform_backup import verify
from platform_backup.cli import main
from platform_backup.settings import iso, key_timestamp
from platform_backup.store import Store

DUMP = b"PGDMP fake dump bytes"


def manifest(key: str, body: bytes, finished: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "started_at": iso(finished - timedelta(seconds=12)),
        "finished_at": iso(finished),
        "duration_seconds": 12.0,
        **extra,
    }


def postgres_backup(aws: Aws, database: str, age: timedelta, body: bytes = DUMP) -> str:
    finished = datetime.now(UTC) - age
    key = f"postgres/{database}/{key_timestamp(finished)}.dump"
    aws.put_backup(key, body, manifest(key, body, finished, kind="postgres", database=database))
    return key


def run_verify(capsys: pytest.CaptureFixture[str], kinds: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("VERIFY_KINDS", kinds)
    code = main(["verify"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def status(aws: Aws) -> dict[str, Any]:
    return dict(json.loads(aws.body("verify/status.json")))


def test_fresh_backups_pass_and_the_status_records_them(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_backup(aws, "shop", timedelta(hours=9))  # an older one: only the newest counts
    key = postgres_backup(aws, "shop", timedelta(minutes=5))
    other = postgres_backup(aws, "billing", timedelta(hours=2))

    code, output = run_verify(capsys, "postgres", monkeypatch)

    assert code == 0, output
    assert f"OK     postgres: {key}" in output and other in output
    entry = status(aws)["kinds"]["postgres"]
    assert entry["success"] is True and entry["reason"] is None
    assert entry["key"] == other, "the worst (oldest newest) backup across databases"
    assert entry["size_bytes"] == len(DUMP) and entry["duration_seconds"] == 12.0
    assert abs(entry["last_success_timestamp"] - (datetime.now(UTC) - timedelta(hours=2)).timestamp()) < 60
    head = aws.s3.head_object(Bucket=aws.store.bucket, Key="verify/status.json")
    assert head["SSEKMSKeyId"] == aws.key_arn


def test_a_stale_backup_fails_naming_the_kind_the_key_and_by_how_much(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = postgres_backup(aws, "shop", timedelta(seconds=18000 + 600))

    code, output = run_verify(capsys, "postgres", monkeypatch)

    assert code == 1
    assert "FAILED postgres: shop: stale by 6" in output and key in output
    assert "platform-backup: error: verification failed: postgres" in output
    assert status(aws)["kinds"]["postgres"]["success"] is False


def test_the_max_age_comes_from_verify_max_age(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_backup(aws, "shop", timedelta(minutes=10))
    monkeypatch.setenv("VERIFY_MAX_AGE", "postgres=300")

    code, output = run_verify(capsys, "postgres", monkeypatch)

    assert code == 1 and "max age 300 s" in output


def test_a_dump_that_does_not_match_its_manifest_fails_with_a_checksum_mismatch(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = postgres_backup(aws, "shop", timedelta(minutes=5))
    aws.s3.put_object(Bucket=aws.store.bucket, Key=key, Body=DUMP.replace(b"fake", b"FAKE"))

    code, output = run_verify(capsys, "postgres", monkeypatch)

    assert code == 1
    assert f"checksum mismatch for s3://{aws.store.bucket}/{key}" in output


def test_a_missing_dump_fails(aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    key = postgres_backup(aws, "shop", timedelta(minutes=5))
    aws.s3.delete_object(Bucket=aws.store.bucket, Key=key)

    code, output = run_verify(capsys, "postgres", monkeypatch)

    assert code == 1 and f"{key} is missing" in output


def test_no_backup_at_all_fails_each_kind(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = run_verify(capsys, "postgres,config", monkeypatch)

    assert code == 1
    assert "FAILED postgres: no backup at all" in output and "FAILED config: no backup at all" in output
    assert set(status(aws)["kinds"]) == {"postgres", "config"}


def test_a_configured_database_without_backups_fails(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_backup(aws, "shop", timedelta(minutes=5))
    monkeypatch.setenv("PG_DATABASES", "shop,billing")

    code, output = run_verify(capsys, "postgres", monkeypatch)

    assert code == 1 and "no backup at all under s3://platform-backups-test/postgres/billing/" in output


def test_config_is_checked_by_its_checksum(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    finished = datetime.now(UTC) - timedelta(minutes=3)
    key = f"config/{key_timestamp(finished)}.json.gz"
    aws.put_backup(key, b"gzip bytes", manifest(key, b"gzip bytes", finished, kind="config"))

    code, output = run_verify(capsys, "config", monkeypatch)

    assert code == 0, output


def redis_backup(aws: Aws, snapshot: str, age: timedelta) -> None:
    finished = datetime.now(UTC) - age
    document = {
        "kind": "redis",
        "snapshot_name": snapshot,
        "status": "available",
        "size": None,
        "finished_at": iso(finished),
        "duration_seconds": 30.0,
    }
    aws.store.put_json(f"redis/platform-cache/{key_timestamp(finished)}.manifest.json", document)


def test_redis_passes_when_the_snapshot_is_available_and_fails_when_it_is_gone(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.elasticache.create_replication_group(
        ReplicationGroupId="platform-cache",
        ReplicationGroupDescription="cache",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=1,
    )
    aws.elasticache.create_snapshot(ReplicationGroupId="platform-cache", SnapshotName="platform-cache-backup-a")
    redis_backup(aws, "platform-cache-backup-a", timedelta(minutes=20))

    assert run_verify(capsys, "redis", monkeypatch)[0] == 0
    aws.elasticache.delete_snapshot(SnapshotName="platform-cache-backup-a")
    code, output = run_verify(capsys, "redis", monkeypatch)

    assert code == 1 and "snapshot platform-cache-backup-a is missing" in output


def test_unknown_verify_kinds_are_a_configuration_error(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = run_verify(capsys, "postgres,mongo", monkeypatch)

    assert code == 2 and "VERIFY_KINDS has unknown kind(s) mongo" in output


def test_an_unreadable_dump_fails_its_database_only_and_the_status_is_still_written(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbidden = postgres_backup(aws, "shop", timedelta(minutes=5))
    postgres_backup(aws, "billing", timedelta(minutes=5))
    store = Store(aws.store.bucket, aws.key_arn, PrefixListS3(aws.s3, frozenset({forbidden})))
    monkeypatch.setenv("VERIFY_KINDS", "postgres")

    (result,) = verify.verify(store, None, datetime.now(UTC))

    assert result.success is False
    (reason,) = result.reasons
    assert reason.startswith(f"shop: cannot read s3://{aws.store.bucket}/{forbidden}: AWS error AccessDenied")
    assert {item.unit for item in result.latest} == {"shop", "billing"}
    written = status(aws)["kinds"]["postgres"]
    assert written["success"] is False and "AccessDenied" in written["reason"]
