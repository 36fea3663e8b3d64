"""serve-metrics: the gauges per kind from the newest manifests and verify/status.json, scraped as text."""

import threading
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from jobs_testkit import Aws
from platform_backup import exporter
from platform_backup.settings import iso, key_timestamp
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


def backup(aws: Aws, prefix: str, finished: datetime, size: int, duration: float, **extra: Any) -> None:
    document = {"finished_at": iso(finished), "size": size, "duration_seconds": duration, **extra}
    aws.store.put_json(f"{prefix}{key_timestamp(finished)}.manifest.json", document)


def scrape(registry: Any) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("kind", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def seeded(aws: Aws) -> Aws:
    backup(aws, "postgres/shop/", at(4), 100, 10.0)
    backup(aws, "postgres/shop/", at(8), 300, 30.0)  # shop's newest
    backup(aws, "postgres/billing/", at(6), 200, 20.0)  # billing's newest: the oldest newest, the worst
    backup(aws, "redis/platform-cache/", at(8, 30), 0, 40.0, snapshot_name="s")
    backup(aws, "config/", at(8, 45), 5000, 2.5)
    aws.store.put_json("verify/status.json", {"kinds": {"postgres": {"success": True}, "redis": {"success": False}}})
    return aws


def test_gauges_per_kind_from_the_newest_manifests_and_the_verify_status(seeded: Aws) -> None:
    metrics = scrape(exporter.build_registry(lambda: exporter.read_bucket(seeded.store), clock=lambda: NOW))

    assert metrics[("platform_backup_last_success_timestamp_seconds", "postgres")] == at(6).timestamp()
    assert metrics[("platform_backup_age_seconds", "postgres")] == 3 * 3600
    assert metrics[("platform_backup_size_bytes", "postgres")] == 200
    assert metrics[("platform_backup_duration_seconds", "postgres")] == 20.0
    assert metrics[("platform_backup_age_seconds", "redis")] == 30 * 60
    assert metrics[("platform_backup_duration_seconds", "redis")] == 40.0
    assert metrics[("platform_backup_age_seconds", "config")] == 15 * 60
    assert metrics[("platform_backup_size_bytes", "config")] == 5000
    assert metrics[("platform_backup_verify_success", "postgres")] == 1
    assert metrics[("platform_backup_verify_success", "redis")] == 0
    assert ("platform_backup_verify_success", "config") not in metrics, "a kind no verify run reported has no result"
    assert metrics[("platform_backup_exporter_errors_total", "")] == 0


def test_the_age_is_live_while_the_bucket_is_read_once_a_minute(seeded: Aws) -> None:
    reads = []
    now = [NOW]

    def read() -> exporter.Snapshot:
        reads.append(now[0])
        return exporter.read_bucket(seeded.store)

    registry = exporter.build_registry(read, clock=lambda: now[0])
    scrape(registry)
    now[0] += 30
    metrics = scrape(registry)
    assert len(reads) == 1
    assert metrics[("platform_backup_age_seconds", "config")] == 15 * 60 + 30
    now[0] += 31
    scrape(registry)
    assert len(reads) == 2


def test_a_bucket_error_is_counted_and_the_scrape_still_answers() -> None:
    def read() -> exporter.Snapshot:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "ListObjectsV2")

    metrics = scrape(exporter.build_registry(read, clock=lambda: NOW))

    assert metrics[("platform_backup_exporter_errors_total", "")] == 1
    assert not [name for name, _ in metrics if name == "platform_backup_verify_success"]


def test_after_a_failed_read_the_last_good_read_is_served_with_live_ages(seeded: Aws) -> None:
    now = [NOW]
    fail = [False]

    def read() -> exporter.Snapshot:
        if fail[0]:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "ListObjectsV2")
        return exporter.read_bucket(seeded.store)

    registry = exporter.build_registry(read, clock=lambda: now[0])
    scrape(registry)
    fail[0], now[0] = True, NOW + 120
    metrics = scrape(registry)

    assert metrics[("platform_backup_exporter_errors_total", "")] == 1
    assert metrics[("platform_backup_age_seconds", "config")] == 15 * 60 + 120
    assert metrics[("platform_backup_verify_success", "postgres")] == 1


def test_the_server_answers_metrics_and_healthz(seeded: Aws) -> None:
    registry = exporter.build_registry(lambda: exporter.read_bucket(seeded.store), clock=lambda: NOW)
    server = exporter.make_server(registry, 0, host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()

    assert 'platform_backup_size_bytes{kind="config"} 5000.0' in body
