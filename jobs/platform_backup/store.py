"""The backup bucket: streamed uploads with SSE-KMS on every write, manifests, and finding the newest backup.

Every write names the KMS key by ARN (ServerSideEncryption=aws:kms, SSEKMSKeyId=<arn>), multipart uploads and
copies included, so an object never depends on the bucket's default encryption. Nothing here deletes an
object: expiry is the bucket's lifecycle rules' job.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from platform_backup.errors import BackupError
from platform_backup.settings import aws_region, require_env

log = logging.getLogger(__name__)

PART_SIZE = 8 * 1024 * 1024
"""The first parts' size: S3's minimum is 5 MiB (except the last part); parts may differ in size."""
PARTS_PER_DOUBLING = 1000
"""The part size doubles every 1 000 parts, so S3's 10 000 parts hold 8 MiB x 1 000 x (2^10 - 1), about 7.8 TiB,
above S3's 5 TiB object limit (a fixed 8 MiB stopped at 78 GiB). Memory stays bounded by the current part
(the buffer and its copy: twice the part size): 16 MiB up to 7.8 GiB, 32 MiB up to 23 GiB, 64 MiB up to
55 GiB, 128 MiB up to 117 GiB; only a dump beyond 4 TiB reaches parts of 4 GiB (S3's maximum is 5 GiB)."""
MAX_PARTS = 10_000


def part_size_for(number: int, first: int = PART_SIZE, per_doubling: int = PARTS_PER_DOUBLING) -> int:
    """The size of part `number` (1-based): `first`, doubled every `per_doubling` parts."""
    return first << ((number - 1) // per_doubling)


CHUNK = 1024 * 1024
MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Upload:
    key: str
    size: int
    sha256: str


def aws_client(service: str) -> Any:
    """A boto3 client from the standard chain (IRSA's web identity in the cluster; AWS_ENDPOINT_URL in tests)."""
    return boto3.client(service, region_name=aws_region())


class Store:
    def __init__(self, bucket: str, kms_key_arn: str | None, client: Any) -> None:
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.client = client

    @classmethod
    def from_env(cls, *, writes: bool) -> "Store":
        bucket = require_env("BACKUP_BUCKET")
        kms_key_arn = require_env("BACKUP_KMS_KEY_ARN") if writes else None
        return cls(bucket, kms_key_arn, aws_client("s3"))

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _encryption(self) -> dict[str, str]:
        if not self.kms_key_arn:
            raise BackupError("BACKUP_KMS_KEY_ARN is needed to write to the bucket")
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn}

    # Writes

    def put_bytes(self, key: str, body: bytes, content_type: str) -> Upload:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **self._encryption())
        return Upload(key, len(body), hashlib.sha256(body).hexdigest())

    def put_json(self, key: str, document: dict[str, Any]) -> Upload:
        body = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
        return self.put_bytes(key, body, "application/json")

    def upload_stream(
        self,
        key: str,
        stream: IO[bytes],
        finish: Callable[[], None],
        part_size: int = PART_SIZE,
        parts_per_doubling: int = PARTS_PER_DOUBLING,
    ) -> Upload:
        """Uploads what `stream` yields without keeping more than one part in memory, hashing on the way.

        `finish` is called when the stream ends and raises if its producer failed (pg_dump's exit code):
        a multipart upload is then aborted (nothing becomes visible) and a small one is never put. Parts
        grow as `part_size_for` says (`part_size` and `parts_per_doubling` are there for tests).
        """
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= (size_now := part_size_for(len(parts) + 1, part_size, parts_per_doubling)):
                    if upload_id is None:
                        upload_id = self._start_multipart(key)
                    parts.append(self._upload_part(key, upload_id, len(parts) + 1, _take(buffer, size_now)))
            finish()
            if upload_id is None:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=bytes(buffer),
                    ContentType="application/octet-stream",
                    **self._encryption(),
                )
            else:
                if buffer:
                    parts.append(self._upload_part(key, upload_id, len(parts) + 1, bytes(buffer)))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            if upload_id is not None:
                self._abort(key, upload_id)
            raise
        return Upload(key, size, digest.hexdigest())

    def _start_multipart(self, key: str) -> str:
        response = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="application/octet-stream", **self._encryption()
        )
        return str(response["UploadId"])

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        if number > MAX_PARTS:
            raise BackupError(f"{self.url(key)} does not fit in S3's {MAX_PARTS} parts (over 5 TiB)")
        response = self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            log.warning("could not abort the multipart upload of %s: %s", self.url(key), error)

    def copy(self, source_key: str, key: str) -> None:
        """A server-side copy (multipart above 8 MiB, so dumps over 5 GiB copy too), encrypted like any write."""
        self.client.copy(
            {"Bucket": self.bucket, "Key": source_key},
            self.bucket,
            key,
            ExtraArgs=self._encryption(),
            Config=TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE),
        )

    # Reads

    def read_json(self, key: str) -> dict[str, Any]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        try:
            document = json.loads(body)
        except ValueError as error:
            raise BackupError(f"{self.url(key)} is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise BackupError(f"{self.url(key)} is not a JSON object")
        return document

    def exists(self, key: str) -> bool:
        """Whether `key` exists, decided by listing, not by a GET or HEAD.

        The roles may ListBucket only under the prefixes they read (an `s3:prefix` condition), and S3 then
        answers a GET or HEAD of a missing key with 403 AccessDenied, not 404: a 403 cannot tell "missing"
        from "forbidden". A listing with the key itself as prefix is allowed wherever the role reads, and
        the key, if present, is the first one listed (it sorts before every longer key with that prefix).
        """
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=2)
        return any(item.get("Key") == key for item in response.get("Contents", []))

    def read_json_if_exists(self, key: str) -> dict[str, Any] | None:
        if not self.exists(key):
            return None
        try:
            return self.read_json(key)
        except ClientError as error:
            if _error_code(error) in {"NoSuchKey", "404"}:  # deleted between the listing and the read
                return None
            raise

    def iter_object(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def hash_object(self, key: str, sink: IO[bytes] | None = None) -> Upload:
        """Size and sha256 of an object, streamed (and copied to `sink` if given); missing: BackupError.

        Existence is decided by listing first (see `exists`): a missing key read directly may give 403.
        """
        if not self.exists(key):
            raise BackupError(f"{self.url(key)} is missing")
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in self.iter_object(key):
                digest.update(chunk)
                size += len(chunk)
                if sink is not None:
                    sink.write(chunk)
        except ClientError as error:
            if _error_code(error) in {"NoSuchKey", "404"}:
                raise BackupError(f"{self.url(key)} is missing") from None
            raise
        return Upload(key, size, digest.hexdigest())

    def keys(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        return [
            str(item["Key"])
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def subfolders(self, prefix: str) -> list[str]:
        """The names one level below `prefix` (`postgres/` gives the databases that have backups)."""
        paginator = self.client.get_paginator("list_objects_v2")
        names = [
            str(common["Prefix"])[len(prefix) :].rstrip("/")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
            for common in page.get("CommonPrefixes", [])
        ]
        return sorted(names)

    def newest_manifest_key(self, prefix: str) -> str | None:
        """The newest manifest directly under `prefix`: keys carry a sortable UTC timestamp."""
        manifests = [
            key for key in self.keys(prefix) if key.endswith(MANIFEST_SUFFIX) and "/" not in key[len(prefix) :]
        ]
        return max(manifests) if manifests else None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _take(buffer: bytearray, size: int) -> bytes:
    """The first `size` bytes of `buffer`, removed from it, copied once (not through a bytearray slice)."""
    with memoryview(buffer) as view, view[:size] as head:
        taken = bytes(head)
    del buffer[:size]
    return taken
