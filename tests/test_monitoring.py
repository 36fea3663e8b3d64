"""Monitoring as the program records it, and Alertmanager's routing checked by amtool.

The stack tests run prod's stack file with both alerting secrets set (as `secure:` values, which the
offline engine replaces by placeholders) through the offline preview once, with --out, and read the
recorded objects: the kube-prometheus-stack settings, the rules and dashboards from the repository, the
CloudWatch exporter and its role, the traffic policies; and grep the output and every written manifest
for the secrets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alerting import (
    CRITICAL_RECEIVER,
    INHIBIT_EQUAL,
    SILENT_RECEIVER,
    WARNING_RECEIVER,
    alertmanager_config,
)
from components.cloudwatch_exporter import JOBS, exported_metrics, metric_name, prom_name
from components.config import MonitoringConfig
from components.database import MAX_CONNECTIONS
from components.helm import SCRAPE_LABEL
from components.monitoring import (
    ALERTMANAGER_SECRET,
    DASHBOARD_LABEL,
    DASHBOARDS_DIR,
    GRAFANA_ADMIN_SECRET,
    MAX_CONNECTIONS_RULE,
    RULES_DIR,
)
from components.tracing import LIFECYCLE_DAYS, RECEIVER_PORTS, TEMPO_RETENTION
from tests.conftest import PROJECT_DIR, Graph, run_preview, stack_graph

SLACK = "https://hooks.slack.com/services/T000TEST/B000TEST/unit-test-slack-secret"
PAGERDUTY = "unit-test-pagerduty-routing-key-0123456789"
SECRET_KEYS = ("platform:monitoringSlackWebhookUrl", "platform:monitoringPagerdutyRoutingKey")


# --- Alertmanager's configuration, by amtool ------------------------------------------------------------


def _amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs amtool (apt-get install prometheus-alertmanager)")
        pytest.skip("amtool is not installed (apt-get install prometheus-alertmanager)")
    return found


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _amtool_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_amtool(), *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("slack", "pagerduty"), [(SLACK, PAGERDUTY), (None, None), (SLACK, None)], ids=["both", "none", "slack-only"]
)
def test_amtool_accepts_the_configuration(tmp_path: Path, slack: str | None, pagerduty: str | None) -> None:
    path = _write(tmp_path, alertmanager_config(slack_webhook_url=slack, pagerduty_routing_key=pagerduty))
    result = _amtool_run("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=HTTPErrorRateHigh"], CRITICAL_RECEIVER),
        (["severity=warning", "alertname=HTTPLatencyHigh"], WARNING_RECEIVER),
        (["severity=info", "alertname=KubeQuotaAlmostFull"], SILENT_RECEIVER),
        (["severity=none", "alertname=Watchdog"], SILENT_RECEIVER),
        # An alert no rule classified is not lost, and pages nobody.
        (["alertname=Unclassified"], WARNING_RECEIVER),
    ],
    ids=["critical", "warning", "info", "none", "no-severity"],
)
def test_each_severity_routes_to_its_receiver(tmp_path: Path, labels: list[str], receivers: str) -> None:
    path = _write(tmp_path, alertmanager_config(slack_webhook_url=SLACK, pagerduty_routing_key=PAGERDUTY))
    result = _amtool_run(
        "config", "routes", "test", f"--config.file={path}", f"--verify.receivers={receivers}", *labels
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_routing_test_fails_for_the_wrong_receiver(tmp_path: Path) -> None:
    path = _write(tmp_path, alertmanager_config(slack_webhook_url=SLACK, pagerduty_routing_key=PAGERDUTY))
    result = _amtool_run(
        "config",
        "routes",
        "test",
        f"--config.file={path}",
        f"--verify.receivers={WARNING_RECEIVER}",
        "severity=critical",
    )
    assert result.returncode != 0


def test_critical_pages_and_posts_while_warning_only_posts() -> None:
    config = alertmanager_config(slack_webhook_url=SLACK, pagerduty_routing_key=PAGERDUTY)
    receivers = {r["name"]: r for r in config["receivers"]}
    critical, warning, silent = receivers[CRITICAL_RECEIVER], receivers[WARNING_RECEIVER], receivers[SILENT_RECEIVER]
    assert [c["routing_key"] for c in critical["pagerduty_configs"]] == [PAGERDUTY]
    assert [c["api_url"] for c in critical["slack_configs"]] == [SLACK]
    assert [c["api_url"] for c in warning["slack_configs"]] == [SLACK]
    assert "pagerduty_configs" not in warning
    assert set(silent) == {"name"}
    # Without the secrets the receivers stay (so does the routing) but notify nobody.
    bare = {r["name"]: r for r in alertmanager_config(slack_webhook_url=None, pagerduty_routing_key=None)["receivers"]}
    assert all(set(r) == {"name"} for r in bare.values()) and set(bare) == set(receivers)


def test_a_critical_silences_the_warning_of_the_same_alert_and_object() -> None:
    config = alertmanager_config(slack_webhook_url=None, pagerduty_routing_key=None)
    (severity_rule,) = [r for r in config["inhibit_rules"] if r["source_matchers"] == ['severity="critical"']]
    assert severity_rule["target_matchers"] == ['severity="warning"']
    assert severity_rule["equal"] == INHIBIT_EQUAL and INHIBIT_EQUAL[0] == "alertname"
    # The warning/critical pairs of the rule files share a name, so the inhibition can pair them.
    pairs: dict[str, set[str]] = {}
    for spec in (yaml.safe_load(p.read_text()) for p in RULES_DIR.glob("*.yaml")):
        for group in spec["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    pairs.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert {name for name, severities in pairs.items() if len(severities) == 2} >= {
        "SLOErrorBudgetBurn",
        "CertificateExpiry",
    }


def test_critical_repeats_hourly_and_groups_by_alert_and_object() -> None:
    route = alertmanager_config(slack_webhook_url=None, pagerduty_routing_key=None)["route"]
    (critical,) = [r for r in route["routes"] if r["receiver"] == CRITICAL_RECEIVER]
    assert critical["repeat_interval"] == "1h"
    assert route["group_by"][0] == "alertname" and route["group_wait"] == "30s"


# --- the CloudWatch exporter's names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("CPUUtilization", "cpuutilization"),
        ("DatabaseConnections", "database_connections"),
        ("DatabaseMemoryUsagePercentage", "database_memory_usage_percentage"),
        ("ReadIOPS", "read_iops"),
        ("aws/elasticache", "aws_elasticache"),
    ],
)
def test_cloudwatch_words_become_the_exporters_names(word: str, name: str) -> None:
    assert prom_name(word) == name


def test_every_configured_cloudwatch_metric_has_its_exported_name() -> None:
    names = exported_metrics()
    assert len(names) == sum(len(m) for m in JOBS.values())
    assert "aws_rds_database_connections_average" in names
    assert "aws_elasticache_evictions_sum" in names
    assert metric_name("AWS/CertificateManager", JOBS["AWS/CertificateManager"][0]) in names


# --- the stack ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("monitoring-out")


@pytest.fixture(scope="module")
def run(out: Path) -> tuple[Graph, str]:
    """prod with both alerting secrets set: the graph, and the preview's whole output."""
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    for key in SECRET_KEYS:
        document["config"][key] = {"secure": "v1:AAAAencryptedAAAA"}
    stack_file = out / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    result = run_preview(
        "--stack", "prod", "--config-file", str(stack_file), "--mode", "update", "--json", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    return Graph(json.loads(result.stdout)), result.stdout + result.stderr


def _rendered(graph: Graph, kind: str, name: str, namespace: str = "monitoring") -> dict[str, Any]:
    found = [
        r["inputs"]
        for r in graph.resources
        if r["custom"]
        and r["type"].startswith("kubernetes:")
        and r["type"].endswith(f":{kind}")
        and r["inputs"].get("metadata", {}).get("name") == name
        and r["inputs"]["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _prod() -> MonitoringConfig:
    raw = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]["platform:monitoring"]
    return MonitoringConfig.model_validate(raw)


def test_the_secrets_are_set_and_appear_nowhere(run: tuple[Graph, str], out: Path) -> None:
    graph, text = run
    assert sorted(graph.document["summary"]["securePlaceholders"]) == sorted(SECRET_KEYS)
    placeholder = "offline-placeholder-for-"
    assert placeholder not in text
    manifests = list((out / "manifests").rglob("*.yaml"))
    assert len(manifests) > 100
    assert [p.name for p in manifests if placeholder in p.read_text()] == []
    for name in (ALERTMANAGER_SECRET, GRAFANA_ADMIN_SECRET):
        assert _rendered(graph, "Secret", name)["stringData"] == "[secret]"


def test_prometheus_keeps_the_retention_on_gp3_with_external_labels_and_two_replicas(run: tuple[Graph, str]) -> None:
    graph, _ = run
    config = _prod()
    spec = _rendered(graph, "Prometheus", "monitoring-prometheus")["spec"]
    assert spec["replicas"] == config.prometheus.replicas == 2
    assert spec["retention"] == f"{config.prometheus_retention_days}d" == "30d"
    assert spec["retentionSize"] == "85GB"  # 85% of 100 GiB
    claim = spec["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3" and claim["resources"]["requests"]["storage"] == "100Gi"
    assert spec["externalLabels"] == {"cluster": "platform-prod-eks", "environment": "prod"}
    for kind in ("rule", "serviceMonitor", "podMonitor", "probe"):
        assert spec[f"{kind}Selector"] == {"matchLabels": SCRAPE_LABEL}
        assert spec[f"{kind}NamespaceSelector"] == {}
    budget = _rendered(graph, "PodDisruptionBudget", "monitoring-prometheus")["spec"]
    assert budget["minAvailable"] == 1


def test_alertmanager_reads_our_secret_and_keeps_state_on_gp3(run: tuple[Graph, str]) -> None:
    graph, _ = run
    spec = _rendered(graph, "Alertmanager", "monitoring-alertmanager")["spec"]
    assert spec["configSecret"] == ALERTMANAGER_SECRET and spec["replicas"] == 2
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "gp3"
    # The chart writes no configuration of its own (it would hold the receivers in plain values).
    assert not [r for r in graph.of_type("kubernetes:core/v1:Secret") if "alertmanager-monitoring" in r["name"]]


def test_no_scraper_or_alert_for_the_control_plane_eks_hides(run: tuple[Graph, str]) -> None:
    graph, _ = run
    monitors = {
        r["inputs"]["metadata"]["name"] for r in graph.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    }
    assert not {m for m in monitors if any(p in m for p in ("controller-manager", "scheduler", "etcd", "kube-proxy"))}
    rules = json.dumps(
        [r["inputs"]["spec"] for r in graph.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")]
    )
    for alert in ("KubeControllerManagerDown", "KubeSchedulerDown", "etcdInsufficientMembers", "KubeProxyDown"):
        assert alert not in rules


def test_grafana_takes_its_admin_from_the_generated_secret_and_keeps_its_data(run: tuple[Graph, str]) -> None:
    graph, _ = run
    deployment = _rendered(graph, "Deployment", "monitoring-grafana")
    (grafana,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "grafana"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in grafana["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs["GF_SECURITY_ADMIN_PASSWORD"] == refs["GF_SECURITY_ADMIN_USER"] == GRAFANA_ADMIN_SECRET
    password = graph.named("grafana-admin-password", "random:index/randomPassword:RandomPassword")["inputs"]
    assert password["length"] >= 32
    claim = _rendered(graph, "PersistentVolumeClaim", "monitoring-grafana")["spec"]
    assert claim["storageClassName"] == "gp3"
    # The sidecar reads ConfigMaps of monitoring only: no ClusterRole, no Secrets.
    role = _rendered(graph, "Role", "grafana-dashboards")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    binding = _rendered(graph, "RoleBinding", "monitoring-grafana")
    assert binding["roleRef"]["name"] == "grafana-dashboards"
    assert not [
        r for r in graph.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole") if "grafana" in r["name"]
    ]


def test_every_rule_file_is_a_prometheus_rule_prometheus_selects(run: tuple[Graph, str]) -> None:
    graph, _ = run
    files = {p.stem: yaml.safe_load(p.read_text()) for p in RULES_DIR.glob("*.yaml")}
    assert len(files) >= 7
    for stem, spec in files.items():
        rule = _rendered(graph, "PrometheusRule", f"platform-{stem}")
        assert rule["spec"] == spec and rule["metadata"]["labels"] == SCRAPE_LABEL
    settings = _rendered(graph, "PrometheusRule", "platform-data-tier-settings")["spec"]
    (recorded,) = settings["groups"][0]["rules"]
    assert recorded == {"record": MAX_CONNECTIONS_RULE, "expr": f"vector({MAX_CONNECTIONS})"}


def test_every_dashboard_ships_as_a_labelled_config_map(run: tuple[Graph, str]) -> None:
    graph, _ = run
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert len(files) >= 4
    for path in files:
        config_map = _rendered(graph, "ConfigMap", f"dashboard-{path.stem}")
        assert config_map["metadata"]["labels"] == DASHBOARD_LABEL
        assert json.loads(config_map["data"][path.name]) == json.loads(path.read_text())


def test_the_cloudwatch_exporter_reads_only_this_stacks_resources_with_a_read_only_role(run: tuple[Graph, str]) -> None:
    graph, _ = run
    config = yaml.safe_load(_rendered(graph, "ConfigMap", "cloudwatch-exporter")["data"]["config.yml"])
    assert config["sts-region"] == "ca-central-1"
    jobs = {job["type"]: job for job in config["discovery"]["jobs"]}
    assert set(jobs) == set(JOBS)
    for kind, job in jobs.items():
        assert job["regions"] == ["ca-central-1"]
        if kind == "AWS/CertificateManager":
            # The ingress certificates come from config, issued outside the stack: untagged, all watched.
            assert "searchTags" not in job
            continue
        assert {t["key"]: t["value"] for t in job["searchTags"]} == {"project": "^platform$", "environment": "^prod$"}
    trust = json.loads(graph.named("monitoring-cloudwatch-role", "aws:iam/role:Role")["inputs"]["assumeRolePolicy"])
    (subject,) = [v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subject == ["system:serviceaccount:monitoring:cloudwatch-exporter"]
    policy = json.loads(graph.named("monitoring-cloudwatch-role", "aws:iam/rolePolicy:RolePolicy")["inputs"]["policy"])
    actions = [a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert all(a.split(":")[1].startswith(("Get", "List")) for a in actions), actions
    account = _rendered(graph, "ServiceAccount", "cloudwatch-exporter")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/platform-prod-cloudwatch-exporter-ca-central-1"
    )
    monitor = _rendered(graph, "ServiceMonitor", "cloudwatch-exporter")
    assert monitor["metadata"]["labels"]["platform.io/scrape"] == "true"


def test_every_monitor_and_rule_carries_the_label_prometheus_selects_by(run: tuple[Graph, str]) -> None:
    """commonLabels reach only kube-prometheus-stack's own objects; its subcharts and the other charts get the
    label one by one. A monitor without it is never scraped, and its alerts never fire."""
    graph, _ = run
    kinds = ("ServiceMonitor", "PodMonitor", "Probe", "PrometheusRule")
    found = [
        r["inputs"]["metadata"]
        for r in graph.resources
        if r["type"].startswith("kubernetes:monitoring.coreos.com/") and r["type"].rsplit(":", 1)[1] in kinds
    ]
    names = {m["name"] for m in found}
    assert {
        "monitoring-kube-state-metrics",
        "monitoring-prometheus-node-exporter",
        "monitoring-grafana",
        "monitoring-kubelet",
        "cloudwatch-exporter",
        "tempo",
        "otel-collector",
        "fluent-bit",
        "podinfo",
    } <= names
    assert [m["name"] for m in found if (m.get("labels") or {}).get("platform.io/scrape") != "true"] == []


def test_grafanas_sidecar_is_probed_on_the_port_it_serves_health_on(run: tuple[Graph, str]) -> None:
    graph, _ = run
    pod = _rendered(graph, "Deployment", "monitoring-grafana")["spec"]["template"]["spec"]
    (sidecar,) = [c for c in pod["containers"] if c["name"] == "grafana-sc-dashboard"]
    env = {e["name"]: e.get("value") for e in sidecar.get("env", [])}
    # k8s-sidecar serves /healthz on $HEALTH_PORT, 8080 when unset.
    serves = int(env.get("HEALTH_PORT") or 8080)
    for probe in ("readinessProbe", "livenessProbe"):
        assert sidecar[probe]["httpGet"] == {"path": "/healthz", "port": serves}


def test_alertmanagers_gossip_over_tcp_and_udp_and_only_with_each_other(run: tuple[Graph, str]) -> None:
    graph, _ = run
    spec = _rendered(graph, "NetworkPolicy", "alertmanager")["spec"]
    peers = [rule for rule in spec["ingress"] if {p["protocol"] for p in rule.get("ports", [])} == {"TCP", "UDP"}]
    (mesh,) = peers
    assert mesh["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}}]
    assert {p["port"] for p in mesh["ports"]} == {9094}


def test_every_monitoring_pod_is_covered_by_a_traffic_policy(run: tuple[Graph, str]) -> None:
    graph, _ = run
    policies = [
        r["inputs"]["spec"]["podSelector"]["matchLabels"]
        for r in graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if r["inputs"]["metadata"]["namespace"] == "monitoring" and r["inputs"]["spec"]["podSelector"]
    ]
    for record in graph.of_type("kubernetes:apps/v1:Deployment"):
        if record["inputs"]["metadata"].get("namespace") != "monitoring":
            continue
        labels = record["inputs"]["spec"]["template"]["metadata"]["labels"]
        assert any(all(labels.get(k) == v for k, v in selector.items()) for selector in policies), labels


def test_dev_runs_one_of_each_without_a_budget_that_would_block_drains() -> None:
    graph = stack_graph("dev", "update")
    assert _rendered(graph, "Prometheus", "monitoring-prometheus")["spec"]["replicas"] == 1
    assert _rendered(graph, "Alertmanager", "monitoring-alertmanager")["spec"]["replicas"] == 1
    budgets = {r["inputs"]["metadata"]["name"] for r in graph.of_type("kubernetes:policy/v1:PodDisruptionBudget")}
    assert not {"monitoring-prometheus", "monitoring-alertmanager"} & budgets


def test_the_pack_finds_nothing_mandatory_and_only_the_node_agents_and_the_operator_are_exempt(
    run: tuple[Graph, str],
) -> None:
    graph, _ = run
    assert [v for v in graph.document["policy"]["violations"] if v["level"] == "mandatory"] == []
    exemptions = json.loads((PROJECT_DIR / "policy" / "config" / "prod.json").read_text())
    ours = {
        (e["kind"], e["name"])
        for rule in exemptions.values()
        for e in rule.get("exemptions", [])
        if e["namespace"] == "monitoring" or e.get("name", "").startswith("monitoring-")
    }
    assert ours == {
        ("DaemonSet", "monitoring-prometheus-node-exporter"),
        ("DaemonSet", "fluent-bit"),
        ("ClusterRole", "monitoring-operator"),
    }


# --- tracing -----------------------------------------------------------------------------------------------


_BUCKET_SETTINGS = {
    "ServerSideEncryptionConfiguration": "tracing-bucket-encryption",
    "LifecycleConfiguration": "tracing-bucket-lifecycle",
    "PublicAccessBlock": "tracing-bucket-public-access",
    "Policy": "tracing-bucket-policy",
}


def _bucket_setting(graph: Graph, kind: str) -> dict[str, Any]:
    type_ = f"aws:s3/bucket{kind}:Bucket{kind}"
    return graph.named(_BUCKET_SETTINGS[kind], type_)["inputs"]


def test_traces_live_a_week_at_most_in_their_own_bucket_under_the_backups_key(run: tuple[Graph, str]) -> None:
    graph, _ = run
    bucket = graph.named("tracing-bucket", "aws:s3/bucket:Bucket")["inputs"]
    assert bucket["bucket"] == "platform-prod-traces-123456789012-ca-central-1"
    assert bucket["tags"]["purpose"] == "traces"
    backups_key = graph.named("backups-key", "aws:kms/key:Key")["outputs"]["arn"]
    (rule,) = _bucket_setting(graph, "ServerSideEncryptionConfiguration")["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": backups_key} and rule["bucketKeyEnabled"] is True
    (expiry,) = _bucket_setting(graph, "LifecycleConfiguration")["rules"]
    assert expiry["status"] == "Enabled" and expiry["expiration"]["days"] == LIFECYCLE_DAYS == 7
    # Tempo forgets a block before the lifecycle deletes it.
    assert int(TEMPO_RETENTION.removesuffix("h")) < LIFECYCLE_DAYS * 24
    block = _bucket_setting(graph, "PublicAccessBlock")
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (deny,) = json.loads(_bucket_setting(graph, "Policy")["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": ["false"]}}


def test_tempo_writes_its_bucket_only_and_uses_the_key_only_through_s3_for_it(run: tuple[Graph, str]) -> None:
    graph, _ = run
    bucket = "platform-prod-traces-123456789012-ca-central-1"
    config = yaml.safe_load(_rendered(graph, "ConfigMap", "tempo")["data"]["tempo.yaml"])
    assert config["storage"]["trace"]["backend"] == "s3"
    assert config["storage"]["trace"]["s3"] == {
        "bucket": bucket,
        "endpoint": "s3.ca-central-1.amazonaws.com",
        "region": "ca-central-1",
    }
    assert config["compactor"]["compaction"]["block_retention"] == TEMPO_RETENTION
    assert config["usage_report"]["reporting_enabled"] is False
    policy = json.loads(graph.named("tracing-tempo-role", "aws:iam/rolePolicy:RolePolicy")["inputs"]["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    bucket_arn = f"arn:aws:s3:::{bucket}"
    assert statements["ListBucket"]["Resource"] == [bucket_arn]
    assert statements["ReadWriteBlocks"]["Resource"] == [f"{bucket_arn}/*"]
    key = statements["UseKeyThroughS3ForTraces"]
    assert key["Resource"] == [graph.named("backups-key", "aws:kms/key:Key")["outputs"]["arn"]]
    assert key["Condition"]["StringEquals"]["kms:ViaService"] == ["s3.ca-central-1.amazonaws.com"]
    assert key["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [bucket_arn, f"{bucket_arn}/*"]
    claim = _rendered(graph, "StatefulSet", "tempo")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "gp3"


def test_the_collector_takes_otlp_jaeger_and_zipkin_and_keeps_the_configured_share(run: tuple[Graph, str]) -> None:
    graph, _ = run
    config = yaml.safe_load(_rendered(graph, "ConfigMap", "otel-collector")["data"]["relay"])
    (pipeline,) = config["service"]["pipelines"].values()
    assert pipeline["receivers"] == ["otlp", "jaeger", "zipkin"]
    assert pipeline["processors"] == ["memory_limiter", "probabilistic_sampler", "batch"]
    assert config["processors"]["probabilistic_sampler"]["sampling_percentage"] == _prod().tracing.sampling_percentage
    assert _prod().tracing.sampling_percentage == 10
    assert config["exporters"]["otlp"]["endpoint"] == "tempo.monitoring:4317"
    service = _rendered(graph, "Service", "otel-collector")["spec"]
    ports = {(p["port"], p["protocol"]) for p in service["ports"]}
    assert {(port, protocol) for port, protocol in RECEIVER_PORTS.values()} <= ports
    dev = yaml.safe_load(_rendered(stack_graph("dev", "update"), "ConfigMap", "otel-collector")["data"]["relay"])
    assert dev["processors"]["probabilistic_sampler"]["sampling_percentage"] == 100


def test_grafana_has_prometheus_alertmanager_and_tempo(run: tuple[Graph, str]) -> None:
    graph, _ = run
    config_map = _rendered(graph, "ConfigMap", "monitoring-grafana")
    sources = yaml.safe_load(config_map["data"]["datasources.yaml"])["datasources"]
    urls = {s["type"]: s["url"] for s in sources}
    assert urls == {
        "prometheus": "http://monitoring-prometheus.monitoring:9090",
        "alertmanager": "http://monitoring-alertmanager.monitoring:9093",
        "tempo": "http://tempo.monitoring:3200",
    }
    # Each is a Service the stack renders, on that port.
    for url in urls.values():
        host, port = url.removeprefix("http://").split(":")
        service = _rendered(graph, "Service", host.split(".")[0])["spec"]
        assert int(port) in {p["port"] for p in service["ports"]}, url
