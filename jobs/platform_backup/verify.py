"""Verification: the newest backup of each kind exists, matches its manifest and is younger than its max age.

The result goes to verify/status.json (read by the metrics exporter) and to stdout as a report.
"""

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from platform_backup import elasticache as redis_backup
from platform_backup.errors import BackupError, ConfigError
from platform_backup.settings import env_list, iso, parse_iso
from platform_backup.store import Store

log = logging.getLogger(__name__)

KINDS = ("postgres", "redis", "config")
STATUS_KEY = "verify/status.json"
# The alert thresholds of monitoring/rules/backups.yaml: each schedule plus a margin.
DEFAULT_MAX_AGE = {"postgres": 18000, "redis": 4500, "config": 4500}


@dataclass
class Latest:
    """The newest backup of one unit of a kind (a database, a replication group, the cluster's config)."""

    kind: str
    unit: str
    prefix: str
    manifest_key: str | None
    manifest: dict[str, Any] | None
    error: str | None = None
    """Why the manifest could not be read (an AWS error), when it could not."""

    @property
    def finished_at(self) -> datetime | None:
        if not self.manifest or not self.manifest.get("finished_at"):
            return None
        return parse_iso(str(self.manifest["finished_at"]))

    @property
    def backup_key(self) -> str | None:
        if not self.manifest:
            return None
        return str(self.manifest.get("key") or self.manifest.get("snapshot_name") or "") or None


@dataclass
class KindResult:
    kind: str
    success: bool
    checked_at: str
    latest: list[Latest] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def worst(self) -> Latest | None:
        """The unit whose newest backup is the oldest (a unit without any backup is worst of all)."""
        if not self.latest:
            return None
        return min(self.latest, key=lambda item: item.finished_at.timestamp() if item.finished_at else float("-inf"))

    def to_status(self) -> dict[str, Any]:
        worst = self.worst()
        manifest = worst.manifest if worst and worst.manifest else {}
        return {
            "success": self.success,
            "checked_at": self.checked_at,
            "key": worst.backup_key if worst else None,
            "last_success_timestamp": worst.finished_at.timestamp() if worst and worst.finished_at else None,
            "size_bytes": manifest.get("size"),
            "duration_seconds": manifest.get("duration_seconds"),
            "reason": "; ".join(self.reasons) or None,
            "units": {item.unit: item.backup_key for item in self.latest},
        }


def verify_kinds() -> list[str]:
    kinds = env_list("VERIFY_KINDS") or list(KINDS)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ConfigError(f"VERIFY_KINDS has unknown kind(s) {', '.join(unknown)}; expected some of {', '.join(KINDS)}")
    return kinds


def max_ages() -> dict[str, int]:
    """VERIFY_MAX_AGE as `kind=seconds,...`, each kind defaulting to the alert rules' threshold."""
    ages = dict(DEFAULT_MAX_AGE)
    for item in env_list("VERIFY_MAX_AGE"):
        kind, _, seconds = item.partition("=")
        if kind.strip() not in KINDS or not seconds.strip().isdigit():
            raise ConfigError(f"VERIFY_MAX_AGE must look like 'postgres=18000,redis=4500', got {item!r}")
        ages[kind.strip()] = int(seconds)
    return ages


def latest_backups(store: Store, kind: str) -> list[Latest]:
    if kind == "config":
        units = [("config", "config/")]
    elif kind == "postgres":
        databases = env_list("PG_DATABASES") or store.subfolders("postgres/")
        units = [(database, f"postgres/{database}/") for database in databases]
    else:
        group = os.environ.get("REDIS_REPLICATION_GROUP_ID", "").strip()
        groups = [group] if group else store.subfolders("redis/")
        units = [(name, f"redis/{name}/") for name in groups]
    latest = []
    for unit, prefix in units:
        key = store.newest_manifest_key(prefix)
        try:
            latest.append(Latest(kind, unit, prefix, key, store.read_json(key) if key else None))
        except ClientError as error:
            reason = f"{unit}: cannot read manifest {store.url(str(key))}: {_aws_error(error)}"
            latest.append(Latest(kind, unit, prefix, key, None, reason))
    return latest


def verify(store: Store, elasticache: Any, now: datetime) -> list[KindResult]:
    ages = max_ages()
    results = []
    for kind in verify_kinds():
        result = KindResult(kind, True, iso(now), latest_backups(store, kind))
        if not result.latest:
            result.reasons.append(f"no backup at all under {store.url(kind + '/')}")
        for latest in result.latest:
            problem = _check(store, elasticache, latest, ages[kind], now)
            if problem:
                result.reasons.append(problem)
        result.success = not result.reasons
        results.append(result)
    store.put_json(
        STATUS_KEY, {"checked_at": iso(now), "kinds": {result.kind: result.to_status() for result in results}}
    )
    return results


def _aws_error(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"AWS error {details.get('Code', 'unknown')}: {details.get('Message') or error}"


def _check(store: Store, elasticache: Any, latest: Latest, max_age: int, now: datetime) -> str | None:
    """The unit's failure reason, or None; an AWS error reading one unit is that unit's failure, not the run's."""
    if latest.error:
        return latest.error
    try:
        return _check_unit(store, elasticache, latest, max_age, now)
    except ClientError as error:
        manifest = latest.manifest or {}
        if latest.kind == "redis":
            what = f"snapshot {manifest.get('snapshot_name')}"
        else:
            what = store.url(str(manifest.get("key")))
        return f"{latest.unit}: cannot read {what}: {_aws_error(error)} (manifest {latest.manifest_key})"


def _check_unit(store: Store, elasticache: Any, latest: Latest, max_age: int, now: datetime) -> str | None:
    if latest.manifest is None:
        return f"no backup at all under {store.url(latest.prefix)}"
    manifest = latest.manifest
    if latest.kind == "redis":
        name = str(manifest.get("snapshot_name"))
        snapshot = redis_backup.describe_snapshot(elasticache, name)
        if snapshot is None:
            return f"{latest.unit}: snapshot {name} is missing"
        if snapshot.get("SnapshotStatus") != "available":
            return f"{latest.unit}: snapshot {name} is {snapshot.get('SnapshotStatus')}, not available"
    else:
        key = str(manifest.get("key"))
        try:
            found = store.hash_object(key)
        except BackupError as error:
            return f"{latest.unit}: {error} (manifest {latest.manifest_key})"
        if found.sha256 != manifest.get("sha256") or found.size != manifest.get("size"):
            return (
                f"{latest.unit}: checksum mismatch for {store.url(key)}: the object has sha256 {found.sha256} "
                f"({found.size} bytes), the manifest says {manifest.get('sha256')} ({manifest.get('size')} bytes)"
            )
    finished = latest.finished_at
    if finished is None:
        return f"{latest.unit}: manifest {latest.manifest_key} has no finished_at"
    age = (now - finished).total_seconds()
    if age > max_age:
        return (
            f"{latest.unit}: stale by {age - max_age:.0f} s: {latest.backup_key} finished {age:.0f} s ago "
            f"(max age {max_age} s)"
        )
    return None


def print_report(results: list[KindResult], now: datetime) -> None:
    for result in results:
        if not result.success:
            for reason in result.reasons:
                print(f"FAILED {result.kind}: {reason}")
            continue
        for latest in result.latest:
            manifest = latest.manifest or {}
            age = (now - latest.finished_at).total_seconds() if latest.finished_at else float("nan")
            print(
                f"OK     {result.kind}: {latest.backup_key} ({manifest.get('size')} bytes, "
                f"took {manifest.get('duration_seconds')} s, {age:.0f} s old)"
            )


def failure_summary(results: list[KindResult]) -> str | None:
    failed = [result for result in results if not result.success]
    if not failed:
        return None
    return "verification failed: " + "; ".join(f"{result.kind}: {' / '.join(result.reasons)}" for result in failed)
