"""Which metric names the stack's deployed software produces, and the metric names a PromQL expression reads.

A dashboard or rule that queries a name nobody produces shows "No data" or never fires, and nothing else
says so: tests/test_dashboards.py checks every query against this catalog.

PRODUCERS maps each source the stack deploys to the names it produces that the dashboards and rules use
(plus the obvious members of the same families). Names that are only derived are not listed twice: the
CloudWatch names come from components.cloudwatch_exporter.exported_metrics() and the recording rules' from
the ``record:`` keys of monitoring/rules/*.yaml, read at import, and the program's own recording rule from
components.monitoring.

The backup jobs' exporter (jobs/platform_backup/exporter.py, Deployment backup-metrics) is asked for its own
family names: its registry's collect() yields every family even before its first read of the bucket.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from components.cloudwatch_exporter import exported_metrics
from components.monitoring import MAX_CONNECTIONS_RULE

PROJECT_DIR = Path(__file__).resolve().parent.parent
RULES_DIR = PROJECT_DIR / "monitoring" / "rules"
DASHBOARDS_DIR = PROJECT_DIR / "monitoring" / "dashboards"
JOBS_DIR = PROJECT_DIR / "jobs"


def backup_exporter_names() -> frozenset[str]:
    """The sample names the backup exporter serves (a counter's samples end in _total)."""
    if str(JOBS_DIR) not in sys.path:
        sys.path.insert(0, str(JOBS_DIR))  # the job CLI is its own package, not installed here
    from platform_backup.exporter import Snapshot, build_registry

    registry = build_registry(lambda: Snapshot(manifests={}, verify_success={}))
    return frozenset(sample.name for family in registry.collect() for sample in family.samples) | frozenset(
        family.name for family in registry.collect() if family.type == "gauge"
    )


# Each exporter's list holds the names the dashboards and rules use plus the obvious members of the same
# families, each a real metric of that exporter (checked against the dashboards and rules that
# kube-prometheus-stack 88.5.3 ships, and the exporters' documentation). A new query on another name adds
# it here, to the exporter that really produces it.

# kube-state-metrics 2.20 (kube-prometheus-stack 88.5.3's subchart); pods, deployments, replicasets, jobs,
# cronjobs and horizontalpodautoscalers are among its default collectors.
KUBE_STATE_METRICS = frozenset(
    {
        # pods
        "kube_pod_info",
        "kube_pod_owner",
        "kube_pod_status_phase",
        "kube_pod_status_ready",
        "kube_pod_container_resource_limits",
        "kube_pod_container_resource_requests",
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_status_waiting_reason",
        "kube_pod_container_status_last_terminated_reason",
        # deployments and their replicasets
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas",
        "kube_deployment_status_replicas_available",
        "kube_deployment_status_replicas_unavailable",
        "kube_deployment_status_replicas_updated",
        "kube_replicaset_owner",
        # horizontal pod autoscalers (every service has one)
        "kube_horizontalpodautoscaler_spec_min_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        # cronjobs
        "kube_cronjob_info",
        "kube_cronjob_created",
        "kube_cronjob_spec_suspend",
        "kube_cronjob_next_schedule_time",
        "kube_cronjob_status_active",
        "kube_cronjob_status_last_schedule_time",
        "kube_cronjob_status_last_successful_time",
        # jobs
        "kube_job_info",
        "kube_job_owner",
        "kube_job_status_active",
        "kube_job_status_succeeded",
        "kube_job_status_failed",
        "kube_job_status_start_time",
        "kube_job_status_completion_time",
        "kube_job_complete",
        "kube_job_failed",
    }
)

# prometheus-node-exporter with its default collectors (filesystem, meminfo among them).
NODE_EXPORTER = frozenset(
    {
        "node_filesystem_avail_bytes",
        "node_filesystem_free_bytes",
        "node_filesystem_size_bytes",
        "node_filesystem_files",
        "node_filesystem_files_free",
        "node_filesystem_readonly",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemFree_bytes",
        "node_memory_MemTotal_bytes",
    }
)

# The kubelet's cAdvisor endpoint, less what kube-prometheus-stack's default cAdvisorMetricRelabelings drop
# (container_memory_swap, container_spec_*, container_cpu_user_seconds_total, container_fs_io_*, ...).
KUBELET_CADVISOR = frozenset(
    {
        "container_cpu_usage_seconds_total",
        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total",
        "container_memory_working_set_bytes",
        "container_memory_rss",
        "container_memory_cache",
    }
)

# The platform's HTTP convention for services: podinfo, the demo service, exposes exactly these.
HTTP_SERVICES = frozenset(
    {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
    }
)

# Series Prometheus makes itself: each target's up, and the alerts' state.
PROMETHEUS_ALERTMANAGER = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})

# Recording rules the program generates from the stack's configuration (not in monitoring/rules/).
PROGRAM_RULES = frozenset({MAX_CONNECTIONS_RULE})


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    """The rule files in monitoring/rules/, sorted (none while the directory is missing)."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def _rules_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping with an ``expr`` and a ``record`` or ``alert`` key, at any depth.

    Both layouts hold rules: a Prometheus rule file (``groups:``) and a PrometheusRule (``spec.groups``).
    """
    if isinstance(node, dict):
        if "expr" in node and ("record" in node or "alert" in node):
            yield node
            return
        for value in node.values():
            yield from _rules_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _rules_in(item)


def rules(path: Path) -> list[dict[str, Any]]:
    """The alerting and recording rules of one file (of any of its YAML documents)."""
    with path.open(encoding="utf-8") as handle:
        return [rule for document in yaml.safe_load_all(handle) for rule in _rules_in(document)]


def recorded_names(directory: Path = RULES_DIR) -> frozenset[str]:
    """Every ``record:`` name in the directory's rule files."""
    return frozenset(str(rule["record"]) for path in rule_files(directory) for rule in rules(path) if "record" in rule)


PRODUCERS: dict[str, frozenset[str]] = {
    "kube-state-metrics": KUBE_STATE_METRICS,
    "prometheus-node-exporter": NODE_EXPORTER,
    "kubelet/cAdvisor": KUBELET_CADVISOR,
    "services' HTTP metrics (podinfo)": HTTP_SERVICES,
    "CloudWatch through YACE": frozenset(exported_metrics()),
    "Prometheus and Alertmanager": PROMETHEUS_ALERTMANAGER,
    "program-generated recording rules": PROGRAM_RULES,
    "recording rules in monitoring/rules": recorded_names(),
    # The backup jobs' exporter (components/backup_jobs.py), scraped through its ServiceMonitor.
    "backup-metrics exporter": backup_exporter_names(),
    # Velero's server (components/velero.py), scraped through the chart's ServiceMonitor.
    "Velero": frozenset(
        {
            "velero_backup_last_successful_timestamp",
            "velero_backup_success_total",
            "velero_backup_failure_total",
            "velero_backup_partial_failure_total",
            "velero_backup_attempt_total",
            "velero_backup_last_status",
        }
    ),
}

# Grafana's built-in interval variables, replaced by a value of the right kind before parsing.
_DURATION_VARIABLES = re.compile(r"\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?")
_OTHER_VARIABLES = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\]")


def _built_in(match: re.Match[str]) -> str:
    """A number for $__range_s / $__interval_ms and the like, a duration for the rest."""
    return "300" if match.group(0).rstrip("}").endswith(("_s", "_ms")) else "5m"


def substitute_grafana_variables(expr: str) -> str:
    """The expression with Grafana's variables replaced so that it parses as PromQL.

    Interval variables ($__rate_interval, ${__range}, ...) become 5m (300 where they are numbers); any
    other ($namespace, ${datasource}, ${var:regex}, [[var]]) becomes ``x``, which is a valid label value
    inside a string and, anywhere else, a metric name no producer has (so a misplaced variable is reported).
    """
    return _OTHER_VARIABLES.sub("x", _DURATION_VARIABLES.sub(_built_in, expr))


def _selector_name(selector: promql_parser.VectorSelector) -> str:
    """The metric a selector reads: its name, or its __name__="..." matcher."""
    if selector.name:
        return selector.name
    matchers = [*selector.matchers.matchers, *(m for group in selector.matchers.or_matchers for m in group)]
    for matcher in matchers:
        if matcher.name == "__name__":
            if matcher.op == promql_parser.MatchOp.Equal:
                return matcher.value
            raise ValueError(f"{selector}: a __name__ matcher other than = selects metrics nobody can list")
    raise ValueError(f"{selector}: a selector without a metric name reads every metric")


def metric_names(expr: str) -> frozenset[str]:
    """The metric names a PromQL expression (Grafana variables allowed) reads.

    Raises ValueError when the expression does not parse or selects metrics by a pattern.
    """
    tree = promql_parser.parse(substitute_grafana_variables(expr))
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(_selector_name(node))

    promql_parser.walk(tree, visit)
    return frozenset(names)


_LABEL_VALUES = re.compile(r"\s*label_values\(\s*(?P<selector>.*)\s*,\s*[A-Za-z_]\w*\s*\)\s*", re.DOTALL)
_QUERY_RESULT = re.compile(r"\s*query_result\(\s*(?P<expr>.*)\s*\)\s*", re.DOTALL)
_NO_METRIC = re.compile(r"\s*(?:label_values\(\s*[A-Za-z_]\w*\s*\)|label_names\(\s*\))\s*")


def variable_query_metrics(query: str | dict[str, Any]) -> frozenset[str]:
    """The metric names a Grafana Prometheus variable query reads (label_values, query_result)."""
    text = query.get("query", "") if isinstance(query, dict) else query
    if match := _LABEL_VALUES.fullmatch(text):
        return metric_names(match["selector"])
    if match := _QUERY_RESULT.fullmatch(text):
        return metric_names(match["expr"])
    if _NO_METRIC.fullmatch(text):
        return frozenset()
    raise ValueError(f"variable query {text!r}: not label_values(), label_names() or query_result()")
