"""backup redis: an ElastiCache snapshot through the API (moto), its manifest, and pruning that never deletes
the newest available snapshot nor anything this job did not create."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from jobs_testkit import MONDAY, Aws, fixed_clock
from platform_backup import elasticache
from platform_backup.cli import main
from platform_backup.errors import BackupError

GROUP = "platform-cache"


@pytest.fixture
def group(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    aws.elasticache.create_replication_group(
        ReplicationGroupId=GROUP,
        ReplicationGroupDescription="cache",
        Engine="redis",
        CacheNodeType="cache.t4g.micro",
        NumCacheClusters=1,
    )
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    return GROUP


def snapshot(aws: Aws, name: str) -> None:
    aws.elasticache.create_snapshot(ReplicationGroupId=GROUP, SnapshotName=name)


def names(aws: Aws) -> set[str]:
    return {item["SnapshotName"] for item in aws.elasticache.describe_snapshots(ReplicationGroupId=GROUP)["Snapshots"]}


def test_backup_creates_a_lowercase_snapshot_and_writes_its_manifest(aws: Aws, group: str) -> None:
    manifest = elasticache.backup(aws.store, aws.elasticache, fixed_clock(MONDAY), sleep=lambda _: None)

    assert "platform-cache-backup-20261130t083000z" in names(aws)
    stored = json.loads(aws.body("redis/platform-cache/20261130T083000Z.manifest.json"))
    assert stored == manifest
    assert stored["kind"] == "redis" and stored["replication_group_id"] == GROUP
    assert stored["snapshot_name"] == "platform-cache-backup-20261130t083000z"
    assert stored["status"] == "available"
    assert stored["finished_at"] == "2026-11-30T08:30:00Z"
    head = aws.s3.head_object(Bucket=aws.store.bucket, Key="redis/platform-cache/20261130T083000Z.manifest.json")
    assert head["SSEKMSKeyId"] == aws.key_arn


def test_backup_prunes_own_snapshots_beyond_retention_and_nothing_else(aws: Aws, group: str) -> None:
    old = [elasticache.snapshot_name(GROUP, MONDAY - timedelta(days=days)) for days in (8, 30)]
    recent = elasticache.snapshot_name(GROUP, MONDAY - timedelta(days=6))
    foreign = ["platform-cache-manual-keep", "platform-cache-backup-by-hand", "other-backup-20200101t000000z"]
    for name in [*old, recent, *foreign]:
        snapshot(aws, name)

    elasticache.backup(aws.store, aws.elasticache, fixed_clock(MONDAY), sleep=lambda _: None)

    assert names(aws) == {recent, *foreign, "platform-cache-backup-20261130t083000z"}


def test_prune_never_deletes_the_newest_available_snapshot_however_old(aws: Aws, group: str) -> None:
    oldest, newest = (elasticache.snapshot_name(GROUP, MONDAY - timedelta(days=days)) for days in (40, 20))
    snapshot(aws, oldest)
    snapshot(aws, newest)

    deleted = elasticache.prune(aws.elasticache, GROUP, 7, MONDAY)

    assert deleted == [oldest]
    assert names(aws) == {newest}


class FakeElastiCache:
    """Snapshots in states moto cannot produce (failed, creating); only the calls prune and backup make."""

    def __init__(self, snapshots: list[dict[str, Any]], create_errors: list[str] | None = None) -> None:
        self.snapshots = snapshots
        self.deleted: list[str] = []
        self.create_errors = create_errors or []  # error codes the next CreateSnapshot calls raise
        self.create_calls = 0

    def get_paginator(self, _: str) -> Any:
        fake = self

        class Paginator:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"Snapshots": fake.snapshots}]

        return Paginator()

    def delete_snapshot(self, SnapshotName: str) -> None:  # noqa: N803 - boto3's argument name
        self.deleted.append(SnapshotName)

    def create_snapshot(self, **_: Any) -> None:
        self.create_calls += 1
        if self.create_errors:
            code = self.create_errors.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"}}, "CreateSnapshot")

    def describe_snapshots(self, SnapshotName: str) -> dict[str, Any]:  # noqa: N803
        return {"Snapshots": [item for item in self.snapshots if item["SnapshotName"] == SnapshotName]}


def fake(days: int, status: str) -> dict[str, Any]:
    name = elasticache.snapshot_name(GROUP, MONDAY - timedelta(days=days))
    return {"SnapshotName": name, "SnapshotStatus": status, "SnapshotSource": "manual"}


def test_prune_keeps_old_snapshots_when_the_newer_ones_are_not_available() -> None:
    client = FakeElastiCache([fake(30, "available"), fake(20, "failed"), fake(0, "creating")])

    assert elasticache.prune(client, GROUP, 7, MONDAY) == []


def test_prune_deletes_old_failed_snapshots_once_a_newer_one_is_available() -> None:
    client = FakeElastiCache([fake(30, "failed"), fake(20, "available"), fake(10, "creating"), fake(1, "available")])

    assert elasticache.prune(client, GROUP, 7, MONDAY) == [fake(30, "x")["SnapshotName"], fake(20, "x")["SnapshotName"]]


def test_backup_fails_when_the_snapshot_fails(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    client = FakeElastiCache([fake(0, "failed")])

    with pytest.raises(BackupError, match="snapshot platform-cache-backup-20261130t083000z failed"):
        elasticache.backup(aws.store, client, fixed_clock(MONDAY), sleep=lambda _: None)

    assert aws.store.keys("redis/") == []


def test_backup_gives_up_after_the_timeout(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    monkeypatch.setenv("REDIS_SNAPSHOT_TIMEOUT_SECONDS", "60")
    client = FakeElastiCache([fake(0, "creating")])
    now = [1000.0]
    monkeypatch.setattr(elasticache.time, "monotonic", lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(BackupError, match="not available after 60 s"):
        elasticache.backup(aws.store, client, fixed_clock(MONDAY), sleep=sleep)


def test_snapshot_size_is_the_sum_of_the_node_snapshots() -> None:
    found = {"NodeSnapshots": [{"CacheSize": "5 MB"}, {"CacheSize": "1.5 GB"}]}

    assert elasticache.cache_size_bytes(found) == 5 * 1024**2 + int(1.5 * 1024**3)
    assert elasticache.cache_size_bytes({}) is None


def test_the_cli_backs_up_redis_through_the_api(
    aws: Aws, group: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["backup", "redis"]) == 0

    (key,) = aws.store.keys("redis/platform-cache/")
    assert json.loads(aws.body(key))["status"] == "available"
    assert datetime.now(UTC).strftime("%Y%m%d") in key


class FakeTime:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        monkeypatch.setattr(elasticache.time, "monotonic", lambda: self.now)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_busy_group_is_retried_until_it_takes_the_snapshot(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    monkeypatch.setenv("REDIS_SNAPSHOT_POLL_SECONDS", "20")
    available = {**fake(0, "available"), "EngineVersion": "7.1.0"}
    client = FakeElastiCache([available], create_errors=["InvalidReplicationGroupState"] * 2)
    clock = FakeTime(monkeypatch)

    manifest = elasticache.backup(aws.store, client, fixed_clock(MONDAY), sleep=clock.sleep)

    assert client.create_calls == 3 and clock.sleeps == [20, 20]
    assert manifest["status"] == "available"
    assert "replication group platform-cache is busy (InvalidReplicationGroupState" in caplog.text


def test_a_group_busy_beyond_the_busy_wait_fails_with_a_clear_message(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    monkeypatch.setenv("REDIS_BUSY_WAIT_SECONDS", "60")
    client = FakeElastiCache([], create_errors=["InvalidReplicationGroupState"] * 100)
    clock = FakeTime(monkeypatch)

    with pytest.raises(BackupError, match=r"platform-cache is still busy after 60 s .*InvalidReplicationGroupState"):
        elasticache.backup(aws.store, client, fixed_clock(MONDAY), sleep=clock.sleep)

    assert sum(clock.sleeps) == 60 and client.create_calls == 5
    assert aws.store.keys("redis/") == []


def test_the_snapshot_quota_fails_at_once(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    client = FakeElastiCache([], create_errors=["SnapshotQuotaExceededFault"])
    clock = FakeTime(monkeypatch)

    with pytest.raises(BackupError, match=r"snapshot quota is reached \(SnapshotQuotaExceededFault"):
        elasticache.backup(aws.store, client, fixed_clock(MONDAY), sleep=clock.sleep)

    assert client.create_calls == 1 and clock.sleeps == []


def test_the_default_waits_fit_in_the_cronjobs_active_deadline() -> None:
    worst = elasticache.DEFAULT_BUSY_WAIT_SECONDS + elasticache.DEFAULT_TIMEOUT_SECONDS
    assert worst + 2 * elasticache.DEFAULT_POLL_SECONDS + 60 <= elasticache.ACTIVE_DEADLINE_SECONDS


# Thinning: a realistic series of the CronJob's half-hourly snapshots over 7.5 days, pruned by the run that took
# Monday 08:30's snapshot, 5 minutes later (the clock is injected; nothing reads the real time).
NOW = MONDAY + timedelta(minutes=5)
SERIES_START = MONDAY - timedelta(days=7, hours=12)  # Sunday 22 November, 20:30


def at(stamp: str) -> str:
    return f"{GROUP}-backup-{stamp}"


def half_hourly(start: datetime, end: datetime) -> list[datetime]:
    moments = [start]
    while moments[-1] + timedelta(minutes=30) <= end:
        moments.append(moments[-1] + timedelta(minutes=30))
    return moments


def series(statuses: dict[str, str] | None = None, end: datetime = MONDAY) -> list[dict[str, Any]]:
    """One snapshot every 30 minutes from SERIES_START to `end`, `available` unless `statuses` says otherwise."""
    found = []
    for moment in half_hourly(SERIES_START, end):
        name = elasticache.snapshot_name(GROUP, moment)
        status = (statuses or {}).get(name, "available")
        found.append({"SnapshotName": name, "SnapshotStatus": status, "SnapshotSource": "manual"})
    return found


def all_names(snapshots: list[dict[str, Any]]) -> set[str]:
    return {str(item["SnapshotName"]) for item in snapshots}


# What the 08:35 run keeps, written out by hand: 4 + 22 + 6 = 32.
KEPT_AT_0835 = {
    # every snapshot of the last 2 hours
    *(at(f"20261130t{hhmm}00z") for hhmm in ("0830", "0800", "0730", "0700")),
    # the newest of each UTC hour up to 24 hours: Monday 00-06 h, Sunday 09-23 h (Sunday 08:30 is 24 h 05 old)
    *(at(f"20261130t{hour:02d}3000z") for hour in range(0, 7)),
    *(at(f"20261129t{hour:02d}3000z") for hour in range(9, 24)),
    # the newest of each UTC day up to 7 days: Monday 23 to Saturday 28 (Sunday 29's newest is kept above)
    *(at(f"202611{day}t233000z") for day in range(23, 29)),
}
FOREIGN = [
    {"SnapshotName": "platform-cache-manual-keep", "SnapshotStatus": "available", "SnapshotSource": "manual"},
    {"SnapshotName": "other-backup-20261101t000000z", "SnapshotStatus": "available", "SnapshotSource": "manual"},
    {"SnapshotName": at("20261101t000000z"), "SnapshotStatus": "available", "SnapshotSource": "automatic"},
]


def test_thinning_a_week_and_a_half_of_half_hourly_snapshots_keeps_32(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_REPLICATION_GROUP_ID", GROUP)
    snapshots = series()
    snapshots[-1]["EngineVersion"] = "7.1.0"  # the snapshot this run takes, Monday 08:30
    client = FakeElastiCache([*snapshots, *FOREIGN])
    moments = iter([MONDAY, NOW, NOW])  # started, finished, pruned

    elasticache.backup(aws.store, client, lambda: next(moments), sleep=lambda _: None)

    assert len(snapshots) == 361 and len(KEPT_AT_0835) == 32
    assert len(client.deleted) == len(set(client.deleted)) == 361 - 32
    assert set(client.deleted) == all_names(snapshots) - KEPT_AT_0835


def test_thinning_keeps_the_newest_available_of_an_hour_or_day_not_a_failed_or_busy_one() -> None:
    statuses = {
        at("20261130t073000z"): "failed",  # within the last 2 hours: kept like the others
        at("20261129t153000z"): "failed",  # Sunday 15 h: its 15:00 is kept instead
        at("20261125t233000z"): "failed",  # Wednesday: its 23:00 is kept instead
        at("20261126t233000z"): "deleting",  # Thursday: left alone, and its 23:00 is kept
        at("20261124t120000z"): "creating",  # never deleted while being created
    }
    snapshots = series(statuses)
    client = FakeElastiCache([*snapshots, *FOREIGN])

    deleted = elasticache.prune(client, GROUP, 7, NOW)

    kept = KEPT_AT_0835 - {at("20261129t153000z"), at("20261125t233000z")} | {
        at("20261129t150000z"),
        at("20261125t230000z"),
        at("20261126t230000z"),
        at("20261126t233000z"),
        at("20261124t120000z"),
    }
    assert deleted == client.deleted
    assert set(deleted) == all_names(snapshots) - kept
    assert at("20261129t153000z") in deleted and at("20261125t233000z") in deleted


def test_runs_every_30_minutes_delete_only_what_ages_out_and_stay_at_32() -> None:
    client = FakeElastiCache(series())
    elasticache.prune(client, GROUP, 7, NOW)
    client.snapshots = [item for item in client.snapshots if item["SnapshotName"] not in client.deleted]
    deleted_per_run = []
    for moment in half_hourly(MONDAY + timedelta(minutes=30), datetime(2026, 12, 1, 0, 0, tzinfo=UTC)):
        client.snapshots.append(
            {"SnapshotName": elasticache.snapshot_name(GROUP, moment), "SnapshotStatus": "available"}
        )
        client.deleted = []
        deleted_per_run.append(elasticache.prune(client, GROUP, 7, moment + timedelta(minutes=5)))
        client.snapshots = [item for item in client.snapshots if item["SnapshotName"] not in client.deleted]
        assert len(client.snapshots) == 32

    # 09:05: Monday 07:00 leaves the last 2 hours and is not its hour's newest; the rest was thinned already.
    assert deleted_per_run[0] == [at("20261130t070000z")]
    # Tuesday 00:05: the snapshots at Tuesday 00:00 and the days before are thinned exactly like Monday 08:35's.
    assert all_names(client.snapshots) == {
        *(at("20261201t000000z"), at("20261130t233000z"), at("20261130t230000z"), at("20261130t223000z")),
        *(at(f"20261130t{hour:02d}3000z") for hour in range(0, 22)),
        *(at(f"202611{day}t233000z") for day in range(24, 30)),
    }


@pytest.mark.parametrize("newest", ["failed", "creating"])
def test_a_failed_or_creating_newest_snapshot_blocks_deletion_after_the_last_good_one(newest: str) -> None:
    # The job has failed since Saturday 11:30: Saturday 12:00 to Monday 08:00 failed, Monday 08:30 `newest`.
    last_good = datetime(2026, 11, 28, 11, 30, tzinfo=UTC)
    statuses = {elasticache.snapshot_name(GROUP, moment): "failed" for moment in half_hourly(last_good, MONDAY)}
    statuses[elasticache.snapshot_name(GROUP, last_good)] = "available"
    statuses[elasticache.snapshot_name(GROUP, MONDAY)] = newest
    snapshots = series(statuses)
    client = FakeElastiCache(snapshots)

    deleted = elasticache.prune(client, GROUP, 7, NOW)

    older = {elasticache.snapshot_name(GROUP, moment) for moment in half_hourly(SERIES_START, last_good)}
    kept_days = {at(f"202611{day}t233000z") for day in range(23, 28)} | {elasticache.snapshot_name(GROUP, last_good)}
    assert set(deleted) == older - kept_days
    assert set(deleted) == set(client.deleted)


@pytest.mark.parametrize("newest", ["failed", "creating"])
def test_nothing_is_deleted_while_the_only_available_snapshot_is_the_oldest(newest: str) -> None:
    statuses = {name: "failed" for name in all_names(series())}
    statuses[elasticache.snapshot_name(GROUP, SERIES_START)] = "available"  # 7.5 days old, beyond retention
    statuses[elasticache.snapshot_name(GROUP, MONDAY)] = newest
    client = FakeElastiCache(series(statuses))

    assert elasticache.prune(client, GROUP, 7, NOW) == []
    assert client.deleted == []
