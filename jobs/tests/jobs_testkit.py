"""What the backup jobs' tests share: moto's bucket and key, a fixed clock, and paths.

A module of its own name, not conftest: the repository's tests/ has a conftest too, and `from conftest import`
would depend on which of the two was imported last.
"""

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

JOBS = Path(__file__).resolve().parents[1]
if str(JOBS) not in sys.path:
    sys.path.insert(0, str(JOBS))

from platform_backup.store import Store  # noqa: E402

REGION = "eu-west-1"
BUCKET = "platform-backups-test"
MONDAY = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
SUNDAY = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


@dataclass
class Aws:
    s3: Any
    elasticache: Any
    key_arn: str
    store: Store

    def put_backup(self, key: str, body: bytes, manifest: dict[str, Any]) -> None:
        """An object and its manifest as a backup run leaves them (for verify and the exporter)."""
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.key_arn}
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        manifest_key = key.removesuffix(".dump").removesuffix(".json.gz") + ".manifest.json"
        self.store.put_json(manifest_key, manifest)

    def body(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def fixed_clock(moment: datetime) -> Any:
    return lambda: moment


class PrefixListS3:
    """moto's S3 client as the cluster's roles see it: ListBucket only with an `s3:prefix` condition, so a
    GET or HEAD of a missing key answers 403 AccessDenied, not 404 (moto does not enforce IAM). Keys in
    `forbidden` answer 403 even when they exist (an object the role may not read)."""

    def __init__(self, s3: Any, forbidden: frozenset[str] = frozenset()) -> None:
        self.s3 = s3
        self.forbidden = forbidden

    def _access_denied(self, operation: str) -> Exception:
        error = {
            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return ClientError(error, operation)  # type: ignore[arg-type]

    def _check(self, operation: str, Bucket: str, Key: str) -> None:  # noqa: N803 - boto3's argument names
        listed = self.s3.list_objects_v2(Bucket=Bucket, Prefix=Key).get("Contents", [])
        if Key in self.forbidden or not any(item["Key"] == Key for item in listed):
            raise self._access_denied(operation)

    def get_object(self, **kwargs: Any) -> Any:
        self._check("GetObject", kwargs["Bucket"], kwargs["Key"])
        return self.s3.get_object(**kwargs)

    def head_object(self, **kwargs: Any) -> Any:
        self._check("HeadObject", kwargs["Bucket"], kwargs["Key"])
        return self.s3.head_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)
