"""Streamed uploads: multipart above one part, SSE-KMS on every part's upload, nothing left on failure."""

import hashlib
import io
import os
from typing import Any

import pytest
from jobs_testkit import Aws, PrefixListS3
from platform_backup.errors import BackupError
from platform_backup.store import MAX_PARTS, PART_SIZE, Store, part_size_for


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


class RecordingS3:
    """moto's client, recording the size of each uploaded part."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.part_sizes: list[int] = []

    def upload_part(self, **kwargs: Any) -> Any:
        self.part_sizes.append(len(kwargs["Body"]))
        return self.s3.upload_part(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def test_the_part_size_doubles_every_so_many_parts(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1024)  # moto enforces S3's 5 MiB by default
    client = RecordingS3(aws.s3)
    store = Store(aws.store.bucket, aws.key_arn, client)
    body = os.urandom(1024 * (2 + 2 * 2 + 2 * 4) + 100)

    upload = store.upload_stream("postgres/db/parts.dump", io.BytesIO(body), lambda: None, 1024, 2)

    assert client.part_sizes == [1024, 1024, 2048, 2048, 4096, 4096, 100]
    assert upload.sha256 == hashlib.sha256(body).hexdigest()
    assert aws.body("postgres/db/parts.dump") == body
    assert aws.s3.head_object(Bucket=aws.store.bucket, Key="postgres/db/parts.dump")["ETag"].endswith('-7"')


def test_parts_grow_so_that_s3s_5_tib_object_fits_in_10000_parts() -> None:
    assert part_size_for(1) == part_size_for(1000) == PART_SIZE
    assert part_size_for(1001) == 2 * PART_SIZE
    assert sum(part_size_for(number) for number in range(1, MAX_PARTS + 1)) >= 5 * 1024**4
    assert part_size_for(MAX_PARTS) <= 5 * 1024**3, "S3's maximum part size"
