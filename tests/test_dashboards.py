"""The Grafana dashboards in monitoring/dashboards/ and the rules in monitoring/rules/: well-formed models that
query only metrics the stack produces (tests/metric_catalog.py) or a later issue will."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.cloudwatch_exporter import exported_metrics
from tests.metric_catalog import (
    DASHBOARDS_DIR,
    KUBE_STATE_METRICS,
    KUBELET_CADVISOR,
    NODE_EXPORTER,
    PRODUCERS,
    RULES_DIR,
    metric_names,
    recorded_names,
    rule_files,
    rules,
    substitute_grafana_variables,
    variable_query_metrics,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED_DASHBOARDS = {"service-overview", "postgres-redis", "backups", "slo"}
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
KNOWN = frozenset().union(*PRODUCERS.values())
INSTANCE_LABELS = ("dimension_DBInstanceIdentifier", "dimension_CacheClusterId", "instance")
"""Labels whose values name one AWS resource or host: a dashboard must take them from a variable."""


@dataclass(frozen=True)
class Finding:
    dashboard: str
    panel: str
    metric: str

    def __str__(self) -> str:
        return f"{self.dashboard}: panel {self.panel!r} queries {self.metric}, which no producer has"


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        model: dict[str, Any] = json.load(handle)
    return model


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside rows (collapsed rows keep theirs) included."""
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL expression) of each panel target, where = the panel's title."""
    for panel in panels(model):
        for target in panel.get("targets", []):
            yield panel.get("title", f"id {panel.get('id')}"), target.get("expr", "")


def variable_queries(model: dict[str, Any]) -> Iterator[tuple[str, str | dict[str, Any]]]:
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            yield f"variable ${variable['name']}", variable["query"]


def unknown_metrics(name: str, model: dict[str, Any]) -> list[Finding]:
    """The metrics the dashboard's panels and variables read that no producer in PRODUCERS has."""
    used = [(where, metric) for where, expr in queries(model) for metric in metric_names(expr)]
    used += [(where, metric) for where, query in variable_queries(model) for metric in variable_query_metrics(query)]
    return [Finding(name, where, metric) for where, metric in used if metric not in KNOWN]


def dashboard_id(path: Path) -> str:
    return path.stem


@pytest.fixture(params=DASHBOARD_FILES, ids=dashboard_id)
def dashboard(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    path: Path = request.param
    return path.stem, load(path)


def test_the_four_dashboards_are_there() -> None:
    assert {path.stem for path in DASHBOARD_FILES} == EXPECTED_DASHBOARDS


def test_dashboard_has_a_fixed_uid_a_title_and_the_platform_conventions(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    assert isinstance(model.get("uid"), str) and model["uid"], "a fixed uid keeps links and the sidecar stable"
    assert len(model["uid"]) <= 40, "Grafana refuses uids longer than 40 characters"
    assert isinstance(model.get("title"), str) and model["title"]
    assert model.get("tags") == ["platform"]
    assert model.get("refresh") == "1m"
    assert model.get("time") == {"from": "now-6h", "to": "now"}
    assert model.get("schemaVersion", 0) >= 39
    assert "id" not in model or model["id"] is None, "a provisioned dashboard gets its id from Grafana"


def test_dashboard_uids_and_titles_are_unique() -> None:
    models = [load(path) for path in DASHBOARD_FILES]
    assert len({m["uid"] for m in models}) == len(models)
    assert len({m["title"] for m in models}) == len(models)


def test_dashboard_picks_the_prometheus_datasource_by_variable(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_panel_ids_are_unique(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    ids: list[Any] = [panel.get("id") for panel in panels(model)]
    assert all(isinstance(i, int) for i in ids), ids
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_query_panel_has_expressions_on_the_datasource_variable(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    with_targets = [panel for panel in panels(model) if "targets" in panel]
    assert with_targets
    for panel in with_targets:
        title = panel.get("title")
        assert title, f"panel {panel.get('id')} has no title"
        assert panel["targets"], title
        assert panel.get("datasource") == DATASOURCE, title
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), title
        for target in panel["targets"]:
            assert isinstance(target.get("expr"), str) and target["expr"].strip(), title
            assert target.get("datasource") == DATASOURCE, title


def test_every_query_parses(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    for where, expr in queries(model):
        try:
            metric_names(expr)
        except ValueError as err:
            pytest.fail(f"{where}: {expr}: {err}")


def test_every_dashboard_metric_has_a_producer(dashboard: tuple[str, dict[str, Any]]) -> None:
    name, model = dashboard
    findings = unknown_metrics(name, model)
    assert not findings, "\n".join(map(str, findings))


def test_a_panel_on_a_metric_nobody_produces_is_reported() -> None:
    model = {
        "panels": [
            {"id": 1, "type": "row", "title": "Row", "panels": []},
            {"id": 2, "title": "Fine", "targets": [{"expr": "sum(rate(http_requests_total[$__rate_interval]))"}]},
            {
                "id": 3,
                "title": "Typo",
                "targets": [
                    {"expr": 'rate(http_request_total{namespace="$namespace"}[5m])'},
                    {"expr": "up"},
                ],
            },
        ],
        "templating": {
            "list": [{"name": "job", "type": "query", "query": "label_values(made_up_info, job)"}],
        },
    }
    assert unknown_metrics("broken", model) == [
        Finding("broken", "Typo", "http_request_total"),
        Finding("broken", "variable $job", "made_up_info"),
    ]
    assert str(unknown_metrics("broken", model)[0]) == (
        "broken: panel 'Typo' queries http_request_total, which no producer has"
    )


def test_the_data_tier_dashboard_charts_every_rds_and_elasticache_metric_the_exporter_exports() -> None:
    model = load(DASHBOARDS_DIR / "postgres-redis.json")
    used = {metric for _, expr in queries(model) for metric in metric_names(expr)}
    data_tier = {m for m in exported_metrics() if m.startswith(("aws_rds_", "aws_elasticache_"))}
    assert data_tier - used == set()
    assert "platform:postgres_max_connections" in used


def test_no_dashboard_hard_codes_an_instance(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    for where, expr in queries(model):
        for label in INSTANCE_LABELS:
            for value in _matcher_values(expr, label):
                assert value.startswith("$"), f"{where}: {label}={value!r} names one resource; use a variable"


def _matcher_values(expr: str, label: str) -> list[str]:
    """The values matched against `label` in the expression, before Grafana's variables are substituted."""
    return re.findall(rf'\b{re.escape(label)}\s*(?:=~|!~|!=|=)\s*"([^"]*)"', expr)


def test_the_slo_dashboard_charts_every_window_the_slo_rules_record() -> None:
    slo_rules = RULES_DIR / "slo.yaml"
    if not slo_rules.exists():
        pytest.skip("monitoring/rules/slo.yaml is not written yet: the SLO dashboard reads http_requests_total")
    recorded = {str(rule["record"]) for rule in rules(slo_rules) if "record" in rule}
    used = {metric for _, expr in queries(load(DASHBOARDS_DIR / "slo.json")) for metric in metric_names(expr)}
    assert recorded, "slo.yaml records nothing"
    assert recorded - used == set(), "the SLO dashboard does not chart these windows"


def test_panels_fit_the_grid_without_overlapping(dashboard: tuple[str, dict[str, Any]]) -> None:
    _, model = dashboard
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(model):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


# Rules


RULE_FILES = rule_files()


def unknown_rule_metrics(path: Path) -> list[str]:
    """What each rule of the file reads that no producer in PRODUCERS has."""
    return [
        f"{path.name}: {rule.get('record') or rule.get('alert')} reads {metric}, which no producer has"
        for rule in rules(path)
        for metric in sorted(metric_names(str(rule["expr"])))
        if metric not in KNOWN
    ]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_rule_metric_has_a_producer(path: Path) -> None:
    findings = unknown_rule_metrics(path)
    assert not findings, "\n".join(findings)


def test_a_rule_on_a_metric_nobody_produces_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "groups:\n- name: g\n  rules:\n"
        "  - alert: Fine\n    expr: up == 0\n"
        "  - alert: Typo\n    expr: kube_deployment_status_replicas_unavaliable > 0\n"
    )
    assert unknown_rule_metrics(path) == [
        "broken.yaml: Typo reads kube_deployment_status_replicas_unavaliable, which no producer has"
    ]


# The catalog


def test_the_backup_exporter_serves_what_the_backup_alert_and_dashboard_read() -> None:
    assert PRODUCERS["backup-metrics exporter"] >= {
        "platform_backup_size_bytes",
        "platform_backup_verify_success",
        "platform_backup_last_success_timestamp_seconds",
        "platform_backup_age_seconds",
        "platform_backup_duration_seconds",
    }


def test_each_exporter_lists_only_its_own_families() -> None:
    assert all(name.startswith("kube_") for name in KUBE_STATE_METRICS)
    assert all(name.startswith("node_") for name in NODE_EXPORTER)
    assert all(name.startswith(("container_", "kubelet_")) for name in KUBELET_CADVISOR)


def test_the_cloudwatch_names_are_the_exporters_and_the_recorded_names_the_rule_files() -> None:
    assert PRODUCERS["CloudWatch through YACE"] == exported_metrics()
    assert PRODUCERS["recording rules in monitoring/rules"] == recorded_names(RULES_DIR)


def test_recorded_names_are_read_from_both_rule_layouts(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text(
        "groups:\n- name: a\n  rules:\n  - record: a:x:rate5m\n    expr: rate(x[5m])\n  - alert: X\n    expr: up == 0\n"
    )
    (tmp_path / "crd.yaml").write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n  - name: b\n"
        "    rules:\n    - record: b:y:sum\n      expr: sum(y)\n"
    )
    assert recorded_names(tmp_path) == {"a:x:rate5m", "b:y:sum"}


# The extractor


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        ('up{job="kube_state_metrics", namespace=~"node_.*"}', {"up"}),
        (
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            {"http_request_duration_seconds_bucket"},
        ),
        (
            'sum by (namespace, service) (rate(http_requests_total{status=~"5.."}[5m]))'
            " / ignoring(status) sum without (pod) (rate(http_requests_total[5m]))",
            {"http_requests_total"},
        ),
        (
            "aws_rds_database_connections_average / on() group_left() platform:postgres_max_connections",
            {"aws_rds_database_connections_average", "platform:postgres_max_connections"},
        ),
        (
            "kube_job_status_failed * on(namespace, job_name) group_right(owner_name) kube_job_owner",
            {"kube_job_status_failed", "kube_job_owner"},
        ),
        (
            'label_replace(kube_pod_info, "node_name", "$1", "node", "(kube_.*)")',
            {"kube_pod_info"},
        ),
        (
            "rate(node_cpu_seconds_total[5m] offset 1h) - rate(node_cpu_seconds_total[5m] offset -5m) > bool 0.5",
            {"node_cpu_seconds_total"},
        ),
        ("max_over_time(rate(container_cpu_usage_seconds_total[5m])[1h:1m])", {"container_cpu_usage_seconds_total"}),
        (
            'time() - max by (kind) (platform_backup_last_success_timestamp_seconds{kind="postgres"}) > 86400',
            {"platform_backup_last_success_timestamp_seconds"},
        ),
        (
            'vector(1) and on() absent(ALERTS{alertname="Watchdog"}) or count(up @ 1700000000) > 1e3',
            {"ALERTS", "up"},
        ),
        (
            'topk(5, sort_desc(clamp_min(kube_node_status_allocatable{resource="cpu"}, 0)))',
            {"kube_node_status_allocatable"},
        ),
        ('{__name__="node_load1", instance="a"} unless node_load5 @ end()', {"node_load1", "node_load5"}),
        (
            'sum(rate(http_requests_total{namespace="$namespace", service=~"${service:regex}"}[$__rate_interval]))'
            " * $__range_s",
            {"http_requests_total"},
        ),
    ],
)
def test_metric_names_returns_exactly_the_metrics(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


@pytest.mark.parametrize(
    "expr",
    ['{__name__=~"kube_.*"}', '{job="x"}', "sum(rate(x[5m])", "rate(x[$window"],
)
def test_metric_names_refuses_what_it_cannot_read(expr: str) -> None:
    with pytest.raises(ValueError):
        metric_names(expr)


def test_a_misplaced_grafana_variable_becomes_an_unknown_metric() -> None:
    assert substitute_grafana_variables("rate(x[$__rate_interval]) * ${__interval_ms}") == "rate(x[5m]) * 300"
    assert metric_names("sum(up) / $total") == {"up", "x"}
    assert "x" not in KNOWN


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("label_values(http_requests_total, namespace)", {"http_requests_total"}),
        ('label_values(kube_cronjob_info{namespace="backups"}, cronjob)', {"kube_cronjob_info"}),
        ('label_values(kube_pod_info{namespace="a", node=~"b,c"}, pod)', {"kube_pod_info"}),
        ({"query": "label_values(namespace)", "refId": "A"}, set()),
        ("query_result(topk(3, up))", {"up"}),
        ("label_names()", set()),
    ],
)
def test_variable_query_metrics(query: str | dict[str, Any], expected: set[str]) -> None:
    assert variable_query_metrics(query) == expected
