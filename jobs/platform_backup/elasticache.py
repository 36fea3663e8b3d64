"""Redis (ElastiCache): a manual snapshot of the replication group through the API, its manifest, and pruning.

Pruning thins the snapshots this job created (`<group>-backup-<timestamp>`): every one of the last 2 hours,
then the newest available one of each UTC hour up to 24 hours, then of each UTC day up to the retention;
the rest, and everything beyond the retention, is deleted. It deletes only while a newer snapshot is
`available`: the last good snapshot is never deleted. Automatic snapshots are ElastiCache's own
(SnapshotRetentionLimit) and never touched.
"""

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from platform_backup.errors import BackupError
from platform_backup.settings import KEY_TIMESTAMP_FORMAT, Clock, env_int, iso, key_timestamp, require_env, utc_now
from platform_backup.store import Store

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 7
# Thinning of the job's snapshots (one every 30 minutes). The RPO is met by the newest snapshot alone; the older
# ones are for "restore to how it was an hour ago / yesterday / last week", which needs one per hour or per
# day, not every one: all of them for 7 days would be ~336 full copies, each billed per GB-month, and near
# ElastiCache's snapshot quota (SnapshotQuotaExceededFault). Kept: every snapshot younger than KEEP_ALL_WINDOW
# (4), then the newest available one of each UTC hour younger than HOURLY_WINDOW (22), then the newest
# available one of each UTC day within the retention (6 at 7 days): about 4 + 22 + 6 = 32 snapshots.
KEEP_ALL_WINDOW = timedelta(hours=2)
HOURLY_WINDOW = timedelta(hours=24)
# The time budget of one run, under the CronJob's activeDeadlineSeconds of 1500 s (components/backup_jobs.py):
# up to DEFAULT_BUSY_WAIT_SECONDS while ElastiCache refuses CreateSnapshot because the group is busy (its
# automatic snapshot window, maintenance), then up to DEFAULT_TIMEOUT_SECONDS for the snapshot to become
# available, each overshooting by at most one poll: 600 + 750 + 2 x 15 = 1380 s, which leaves 120 s for the
# pod's start, the manifest and pruning. A deadline kill would leave no log line saying why.
ACTIVE_DEADLINE_SECONDS = 1500
DEFAULT_BUSY_WAIT_SECONDS = 600
DEFAULT_TIMEOUT_SECONDS = 750
DEFAULT_POLL_SECONDS = 15
BUSY = "InvalidReplicationGroupState"
QUOTA = "SnapshotQuotaExceededFault"
SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def snapshot_prefix(group: str) -> str:
    return f"{group}-backup-"


def snapshot_name(group: str, moment: datetime) -> str:
    """ElastiCache names are lowercase letters, digits and hyphens: `cache-backup-20261201t083000z`."""
    return snapshot_prefix(group) + key_timestamp(moment).lower()


def snapshot_time(group: str, name: str) -> datetime | None:
    """The creation time this job wrote into the name; None for a name this job did not make."""
    match = re.fullmatch(re.escape(snapshot_prefix(group)) + r"(\d{8}t\d{6}z)", name)
    if not match:
        return None
    return datetime.strptime(match.group(1).upper(), KEY_TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def cache_size_bytes(snapshot: dict[str, Any]) -> int | None:
    """The sum of the node snapshots' CacheSize (`"5 MB"`), when ElastiCache reports it."""
    total, known = 0, False
    for node in snapshot.get("NodeSnapshots", []):
        match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?B)\s*", str(node.get("CacheSize", "")), re.IGNORECASE)
        if match:
            total += int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])
            known = True
    return total if known else None


def describe_snapshot(elasticache: Any, name: str) -> dict[str, Any] | None:
    try:
        snapshots = elasticache.describe_snapshots(SnapshotName=name)["Snapshots"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "SnapshotNotFoundFault":
            return None
        raise
    return dict(snapshots[0]) if snapshots else None


def backup(
    store: Store,
    elasticache: Any,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    group = require_env("REDIS_REPLICATION_GROUP_ID")
    retention_days = env_int("REDIS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    timeout = env_int("REDIS_SNAPSHOT_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
    busy_wait = env_int("REDIS_BUSY_WAIT_SECONDS", DEFAULT_BUSY_WAIT_SECONDS)
    poll = env_int("REDIS_SNAPSHOT_POLL_SECONDS", DEFAULT_POLL_SECONDS)
    started = clock()
    name = snapshot_name(group, started)
    log.info("backup redis: snapshot %s of replication group %s", name, group)
    _create_snapshot(elasticache, group, name, busy_wait=busy_wait, poll=poll, sleep=sleep)
    snapshot = _wait_available(elasticache, name, timeout, poll, sleep)
    finished = clock()
    manifest = {
        "kind": "redis",
        "replication_group_id": group,
        "snapshot_name": name,
        "status": snapshot.get("SnapshotStatus"),
        "size": cache_size_bytes(snapshot),
        "engine_version": snapshot.get("EngineVersion") or _engine_version(elasticache, group),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
    }
    key = f"redis/{group}/{key_timestamp(started)}.manifest.json"
    store.put_json(key, manifest)
    log.info("snapshot %s available after %.1f s; manifest %s", name, manifest["duration_seconds"], store.url(key))
    prune(elasticache, group, retention_days, clock())
    return manifest


def _create_snapshot(
    elasticache: Any, group: str, name: str, *, busy_wait: int, poll: int, sleep: Callable[[float], None]
) -> None:
    """CreateSnapshot, retried every `poll` seconds for up to `busy_wait` while the group is busy.

    ElastiCache refuses a snapshot with InvalidReplicationGroupState while the group takes its automatic
    snapshot (its snapshot window) or is under maintenance: that passes. SnapshotQuotaExceededFault does not.
    """
    deadline = time.monotonic() + busy_wait
    while True:
        try:
            elasticache.create_snapshot(ReplicationGroupId=group, SnapshotName=name)
            return
        except ClientError as error:
            details = error.response.get("Error", {})
            code, message = details.get("Code"), details.get("Message") or str(error)
            if code == QUOTA:
                raise BackupError(
                    f"ElastiCache refused snapshot {name}: the snapshot quota is reached ({QUOTA}: {message})"
                ) from None
            if code != BUSY:
                raise
            if time.monotonic() >= deadline:
                raise BackupError(
                    f"replication group {group} is still busy after {busy_wait} s (REDIS_BUSY_WAIT_SECONDS), "
                    f"ElastiCache refuses snapshot {name}: {BUSY}: {message}"
                ) from None
            log.warning("replication group %s is busy (%s: %s); retrying in %d s", group, BUSY, message, poll)
            sleep(poll)


def _wait_available(
    elasticache: Any, name: str, timeout: int, poll: int, sleep: Callable[[float], None]
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = describe_snapshot(elasticache, name)
        status = snapshot.get("SnapshotStatus") if snapshot else None
        if snapshot is not None and status == "available":
            return snapshot
        if status == "failed":
            raise BackupError(f"ElastiCache snapshot {name} failed")
        if time.monotonic() >= deadline:
            raise BackupError(f"ElastiCache snapshot {name} is not available after {timeout} s (status {status})")
        log.info("snapshot %s is %s; waiting %d s", name, status or "not listed yet", poll)
        sleep(poll)


def _engine_version(elasticache: Any, group: str) -> str | None:
    """The engine version of the group's first member cluster; None (logged) when it cannot be read."""
    try:
        groups = elasticache.describe_replication_groups(ReplicationGroupId=group)["ReplicationGroups"]
        members = groups[0].get("MemberClusters", []) if groups else []
        if not members:
            return None
        clusters = elasticache.describe_cache_clusters(CacheClusterId=members[0])["CacheClusters"]
    except ClientError as error:
        log.warning("engine version of %s unknown: %s", group, error)
        return None
    return str(clusters[0]["EngineVersion"]) if clusters and clusters[0].get("EngineVersion") else None


def own_snapshots(elasticache: Any, group: str) -> list[tuple[datetime, dict[str, Any]]]:
    """This job's manual snapshots of the group, oldest first."""
    paginator = elasticache.get_paginator("describe_snapshots")
    found = []
    for page in paginator.paginate(ReplicationGroupId=group, SnapshotSource="manual"):
        for snapshot in page.get("Snapshots", []):
            created = snapshot_time(group, str(snapshot.get("SnapshotName", "")))
            if created is not None and snapshot.get("SnapshotSource", "manual") == "manual":
                found.append((created, dict(snapshot)))
    return sorted(found, key=lambda item: item[0])


def _newest_per(moments: list[datetime], bucket: Callable[[datetime], Any]) -> dict[Any, datetime]:
    newest: dict[Any, datetime] = {}
    for moment in moments:
        key = bucket(moment)
        if key not in newest or moment > newest[key]:
            newest[key] = moment
    return newest


def _utc_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _utc_day(moment: datetime) -> Any:
    return moment.astimezone(UTC).date()


def prune(elasticache: Any, group: str, retention_days: int, now: datetime) -> list[str]:
    """Deletes this job's snapshots the thinning schedule (KEEP_ALL_WINDOW, HOURLY_WINDOW, retention) drops.

    A snapshot is deleted only if it is `available` or `failed` (not being created or deleted) and older than
    the newest `available` one. An hour's or a day's snapshot kept is its newest `available` one, even when
    that one is in a younger window: so a day keeps its last good snapshot, and a failed one is never kept
    in place of a good one.
    """
    snapshots = own_snapshots(elasticache, group)
    available = [created for created, snapshot in snapshots if snapshot.get("SnapshotStatus") == "available"]
    newest_available = max(available) if available else None
    newest_of_hour = _newest_per(available, _utc_hour)
    newest_of_day = _newest_per(available, _utc_day)
    cutoff = now - timedelta(days=retention_days)
    deleted = []
    for created, snapshot in snapshots:
        name = str(snapshot["SnapshotName"])
        if newest_available is None or created >= newest_available:
            continue  # no newer good snapshot to fall back on
        if snapshot.get("SnapshotStatus") not in {"available", "failed"}:
            continue  # still being created or deleted
        age = now - created
        if created < cutoff:
            reason = f"older than {retention_days} days"
        elif age < KEEP_ALL_WINDOW:
            continue
        elif age < HOURLY_WINDOW:
            if newest_of_hour.get(_utc_hour(created)) == created:
                continue
            reason = "not the newest available of its UTC hour"
        else:
            if newest_of_day.get(_utc_day(created)) == created:
                continue
            reason = "not the newest available of its UTC day"
        log.info("pruning snapshot %s (%s)", name, reason)
        elasticache.delete_snapshot(SnapshotName=name)
        deleted.append(name)
    log.info("pruned %d snapshot(s) of %s", len(deleted), group)
    return deleted
