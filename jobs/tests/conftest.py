"""Fixtures for the backup jobs' tests: moto's in-process AWS (S3, KMS, ElastiCache) and a real PostgreSQL.

The PostgreSQL tests need the server binaries (Debian package postgresql). Without them they are skipped
with the reason, except under CI=true, where they must run: a missing server fails them there.
"""

import os
from collections.abc import Iterator

import boto3
import pytest
from jobs_testkit import BUCKET, REGION, Aws
from localservers import Postgres, postgres_bin_dir
from moto import mock_aws
from platform_backup.store import Store


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PG_DATABASES", "VERIFY_KINDS", "VERIFY_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        monkeypatch.setenv("BACKUP_BUCKET", BUCKET)
        monkeypatch.setenv("BACKUP_KMS_KEY_ARN", key_arn)
        yield Aws(s3, boto3.client("elasticache", region_name=REGION), key_arn, Store(BUCKET, key_arn, s3))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    if postgres_bin_dir() is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: these tests must run)")
        pytest.skip(reason)
    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres(postgres_server: Postgres, monkeypatch: pytest.MonkeyPatch) -> Postgres:
    """The session's server, with libpq's variables and its pg_dump first on PATH for this test."""
    for name, value in postgres_server.env().items():
        monkeypatch.setenv(name, value)
    return postgres_server
