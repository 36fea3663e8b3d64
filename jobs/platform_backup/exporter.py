"""The Prometheus exporter: on each scrape, the newest backup per kind and verify/status.json as gauges.

Bucket reads are cached for CACHE_SECONDS (Prometheus scrapes every 30 s; listing the bucket that often
costs requests for nothing); the age is computed at each scrape. A failing read is logged and counted in
platform_backup_exporter_errors_total, and the last good read is served meanwhile (its ages keep growing);
before any good read there are no backup gauges at all. The exporter never crashes on a read.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from platform_backup.errors import BackupError
from platform_backup.verify import KINDS, STATUS_KEY, latest_backups

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
DEFAULT_PORT = 9102


@dataclass(frozen=True)
class Snapshot:
    """What one read of the bucket found: per kind, the worst newest backup's manifest; verify's status."""

    manifests: dict[str, dict[str, Any]]
    verify_success: dict[str, bool]


class BackupCollector(Collector):
    def __init__(self, read: Callable[[], Snapshot], errors: Counter, clock: Callable[[], float] = time.time) -> None:
        self._read = read
        self._errors = errors
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Snapshot | None = None
        self._read_at = float("-inf")

    def _snapshot(self) -> Snapshot | None:
        with self._lock:
            if self._cached is None or self._clock() - self._read_at >= CACHE_SECONDS:
                try:
                    self._cached = self._read()
                except Exception as error:  # noqa: BLE001 - a scrape must not crash the exporter
                    self._errors.inc()
                    log.error("reading the backup bucket failed (serving the last good read, if any): %s", error)
                self._read_at = self._clock()
            return self._cached

    def collect(self) -> Iterator[Metric]:
        last = GaugeMetricFamily(
            "platform_backup_last_success_timestamp_seconds",
            "When the newest backup of the kind finished (for postgres, the oldest of the databases' newest).",
            labels=["kind"],
        )
        age = GaugeMetricFamily(
            "platform_backup_age_seconds", "Seconds since the newest backup of the kind finished.", labels=["kind"]
        )
        size = GaugeMetricFamily("platform_backup_size_bytes", "Size of the newest backup.", labels=["kind"])
        duration = GaugeMetricFamily(
            "platform_backup_duration_seconds", "How long the newest backup took.", labels=["kind"]
        )
        verified = GaugeMetricFamily(
            "platform_backup_verify_success",
            "1 if the last verify run found the newest backup of the kind intact and fresh, else 0.",
            labels=["kind"],
        )
        snapshot = self._snapshot()
        if snapshot is not None:
            now = self._clock()
            for kind in KINDS:
                manifest = snapshot.manifests.get(kind)
                if manifest is not None:
                    finished = float(manifest["finished_at_timestamp"])
                    last.add_metric([kind], finished)
                    age.add_metric([kind], max(0.0, now - finished))
                    if manifest.get("size") is not None:
                        size.add_metric([kind], float(manifest["size"]))
                    if manifest.get("duration_seconds") is not None:
                        duration.add_metric([kind], float(manifest["duration_seconds"]))
                # Only a kind a verify run reported: before the first run there is no result, not a failure
                # (BackupVerifyResultMissing says so after two hours; BackupVerifyFailed would page at once).
                if kind in snapshot.verify_success:
                    verified.add_metric([kind], 1.0 if snapshot.verify_success[kind] else 0.0)
        yield from (last, age, size, duration, verified)


def read_bucket(store: Any) -> Snapshot:
    manifests: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        found = [latest for latest in latest_backups(store, kind) if latest.finished_at is not None]
        if found:
            worst = min(found, key=lambda latest: latest.finished_at.timestamp())  # type: ignore[union-attr]
            assert worst.finished_at is not None and worst.manifest is not None
            manifests[kind] = {**worst.manifest, "finished_at_timestamp": worst.finished_at.timestamp()}
    status = store.read_json_if_exists(STATUS_KEY) or {}
    kinds = status.get("kinds") or {}
    if not isinstance(kinds, dict):
        raise BackupError(f"{STATUS_KEY} has no 'kinds' object")
    verify_success = {kind: bool((kinds[kind] or {}).get("success")) for kind in KINDS if kind in kinds}
    return Snapshot(manifests, verify_success)


def build_registry(read: Callable[[], Snapshot], clock: Callable[[], float] = time.time) -> CollectorRegistry:
    registry = CollectorRegistry()
    errors = Counter("platform_backup_exporter_errors", "Reads of the backup bucket that failed.", registry=None)
    registry.register(BackupCollector(read, errors, clock))
    registry.register(errors)  # after the collector, so a scrape's own failed read is in its count
    return registry


def make_server(registry: CollectorRegistry, port: int, host: str = "") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, content_type = generate_latest(registry), "text/plain; version=0.0.4; charset=utf-8"
            elif path == "/healthz":
                body, content_type = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per scrape would drown the job's own log lines

    return ThreadingHTTPServer((host, port), Handler)
