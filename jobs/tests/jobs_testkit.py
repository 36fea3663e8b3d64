"""What the backup jobs' tests share: moto's bucket and key, a fixed clock, and paths.

A module of its own name, not conftest: the repository's tests/ has a conftest too, and `from conftest import`
would depend on which of the two was imported last.
"""

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
