"""Streamed uploads: multipart above one part, SSE-KMS on every part's upload, nothing left on failure."""

import hashlib
import io
import os

import pytest
from jobs_testkit import Aws, PrefixListS3
from platform_backup.errors import BackupError
from platform_backup.store import PART_SIZE, Store


def test_a_stream_larger_than_one_part_goes_up_as_multipart_with_the_kms_key(aws: Aws) -> None:
    body = os.urandom(PART_SIZE + PART_SIZE // 2)

    upload = aws.store.upload_stream("postgres/db/big.dump", io.BytesIO(body), lambda: None)

    assert upload.size == len(body)
    assert upload.sha256 == hashlib.sha256(body).hexdigest()
    assert aws.body("postgres/db/big.dump") == body
    head = aws.s3.head_object(Bucket=aws.store.bucket, Key="postgres/db/big.dump")
    assert head["ETag"].endswith('-2"'), "two parts"
    assert head["SSEKMSKeyId"] == aws.key_arn


def test_a_failed_producer_aborts_the_multipart_upload_and_leaves_no_object(aws: Aws) -> None:
    def failed() -> None:
        raise BackupError("pg_dump failed")

    with pytest.raises(BackupError):
        aws.store.upload_stream("postgres/db/broken.dump", io.BytesIO(bytes(PART_SIZE + 1)), failed)

    assert aws.store.keys("postgres/") == []
    assert aws.s3.list_multipart_uploads(Bucket=aws.store.bucket).get("Uploads", []) == []


def test_a_failed_producer_of_a_small_stream_puts_nothing(aws: Aws) -> None:
    def failed() -> None:
        raise BackupError("pg_dump failed")

    with pytest.raises(BackupError):
        aws.store.upload_stream("postgres/db/small.dump", io.BytesIO(b"partial"), failed)

    assert aws.store.keys("postgres/") == []


def test_the_newest_manifest_is_found_by_the_timestamp_in_its_key(aws: Aws) -> None:
    for stamp in ("20261130T083000Z", "20261201T083000Z", "20261129T235959Z"):
        aws.store.put_json(f"config/{stamp}.manifest.json", {"stamp": stamp})
    aws.store.put_json("config/nested/20991231T000000Z.manifest.json", {})

    assert aws.store.newest_manifest_key("config/") == "config/20261201T083000Z.manifest.json"
    assert aws.store.newest_manifest_key("redis/") is None


def test_a_missing_object_is_missing_even_when_s3_answers_403(aws: Aws) -> None:
    store = Store(aws.store.bucket, aws.key_arn, PrefixListS3(aws.s3))
    aws.store.put_json("verify/status.json.old", {"near": "but not the key"})

    assert store.read_json_if_exists("verify/status.json") is None
    with pytest.raises(BackupError, match=r"postgres/db/gone\.dump is missing"):
        store.hash_object("postgres/db/gone.dump")


def test_an_existing_object_is_read_through_the_prefix_listing(aws: Aws) -> None:
    store = Store(aws.store.bucket, aws.key_arn, PrefixListS3(aws.s3))
    aws.store.put_json("verify/status.json", {"checked_at": "x"})
    aws.store.put_bytes("postgres/db/a.dump", b"PGDMP", "application/octet-stream")

    assert store.read_json_if_exists("verify/status.json") == {"checked_at": "x"}
    assert store.hash_object("postgres/db/a.dump").sha256 == hashlib.sha256(b"PGDMP").hexdigest()
