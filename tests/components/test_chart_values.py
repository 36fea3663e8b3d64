"""Every values key an add-on sets is one its chart declares: a typo fails here, not silently in the chart.

One test per values builder checks the real values against the chart's values.yaml from the chart
cache, and one shows that a misspelt key (at the top and nested) is caught.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components import (
    cloudwatch_exporter,
    cluster_autoscaler,
    external_secrets,
    load_balancer_controller,
    metrics_server,
)
from components.addons import monitoring_crd_values
from components.config import AddonsConfig, MonitoringConfig
from components.monitoring import stack_values
from components.tracing import collector_values, tempo_values
from components.velero import values as velero_values
from tests.chart_cache import chart_defaults, chart_texts, require_charts, unknown_keys

ADDONS = AddonsConfig()
MONITORING = MonitoringConfig.model_validate({"prometheus": {"replicas": 2}, "alertmanager": {"replicas": 2}})
SELECTOR = {"node-group": "general"}
ROLE = "arn:aws:iam::123456789012:role/platform-test-x-ca-central-1"
# Values the charts write into the object as they are (toYaml), or free-form flag maps.
KUBERNETES_OBJECTS = {"resources", "nodeSelector", "topologySpreadConstraints", "securityContext"}


def _metrics_server() -> dict[str, Any]:
    return metrics_server.values(ADDONS.metrics_server, SELECTOR)


def _cluster_autoscaler() -> dict[str, Any]:
    return cluster_autoscaler.values(
        ADDONS.cluster_autoscaler,
        cluster_name="platform-test-eks",
        region="ca-central-1",
        role_arn=ROLE,
        node_selector=SELECTOR,
    )


def _load_balancer_controller() -> dict[str, Any]:
    return load_balancer_controller.values(
        ADDONS.load_balancer_controller,
        cluster_name="platform-test-eks",
        region="ca-central-1",
        vpc_name="platform-test",
        role_arn=ROLE,
        node_selector=SELECTOR,
    )


def _external_secrets() -> dict[str, Any]:
    return external_secrets.values(ADDONS.external_secrets, role_arn=ROLE, node_selector=SELECTOR)


def _kube_prometheus_stack() -> dict[str, Any]:
    return stack_values(MONITORING, cluster_name="platform-test-eks", stack="test", node_selector=SELECTOR)


def _cloudwatch_exporter() -> dict[str, Any]:
    return cloudwatch_exporter.values(
        region="ca-central-1",
        project="platform",
        stack="test",
        role_arn=ROLE,
        node_selector=SELECTOR,
        scrape_label={"platform.io/scrape": "true"},
    )


def _tempo() -> dict[str, Any]:
    return tempo_values(region="ca-central-1", bucket="platform-test-traces", role_arn=ROLE, node_selector=SELECTOR)


def _collector() -> dict[str, Any]:
    return collector_values(MONITORING.tracing, replicas=2, node_selector=SELECTOR)


EXTERNAL_SECRETS_DEPLOYMENTS = ("", "webhook.", "certController.")
# The Prometheus and Alertmanager specs are the operator's CRD fields, passed through as they are.
MONITORING_OBJECTS = (
    {
        f"{part}.{key}"
        for part in ("prometheus.prometheusSpec", "alertmanager.alertmanagerSpec")
        for key in (
            "resources",
            "nodeSelector",
            "topologySpreadConstraints",
            "storageSpec",
            "storage",
            "externalLabels",
        )
    }
    | {
        f"{part}.{key}"
        for part in ("prometheusOperator", "grafana", "kube-state-metrics", "prometheus-node-exporter")
        for key in ("resources", "nodeSelector", "securityContext", "containerSecurityContext", "podAnnotations")
    }
    | {"grafana.sidecar.resources", "grafana.sidecar.securityContext", "commonLabels"}
)

BUILDERS: dict[str, tuple[str, str, Callable[[], dict[str, Any]], set[str]]] = {
    "metrics-server": ("metrics-server", ADDONS.metrics_server.version, _metrics_server, {*KUBERNETES_OBJECTS}),
    "cluster-autoscaler": (
        "cluster-autoscaler",
        ADDONS.cluster_autoscaler.version,
        _cluster_autoscaler,
        {*KUBERNETES_OBJECTS, "containerSecurityContext", "extraArgs"},
    ),
    "aws-load-balancer-controller": (
        "aws-load-balancer-controller",
        ADDONS.load_balancer_controller.version,
        _load_balancer_controller,
        {*KUBERNETES_OBJECTS, "podSecurityContext"},
    ),
    "prometheus-operator-crds": (
        "prometheus-operator-crds",
        ADDONS.prometheus_operator_crds.version,
        monitoring_crd_values,
        set(),
    ),
    "kube-prometheus-stack": (
        "kube-prometheus-stack",
        MONITORING.kube_prometheus_stack,
        _kube_prometheus_stack,
        MONITORING_OBJECTS,
    ),
    "prometheus-yet-another-cloudwatch-exporter": (
        "prometheus-yet-another-cloudwatch-exporter",
        MONITORING.cloudwatch_exporter,
        _cloudwatch_exporter,
        {*KUBERNETES_OBJECTS, "podSecurityContext"},
    ),
    "tempo": (
        "tempo",
        MONITORING.tracing.tempo,
        _tempo,
        # tempo.storage is Tempo's own storage configuration, written into its config file as it is.
        {*KUBERNETES_OBJECTS, "tempo.resources", "tempo.securityContext", "tempo.storage"},
    ),
    "opentelemetry-collector": (
        "opentelemetry-collector",
        MONITORING.tracing.collector,
        _collector,
        # The collector's configuration is its own document, not the chart's.
        {*KUBERNETES_OBJECTS, "podSecurityContext", "alternateConfig"},
    ),
    "velero": (
        "velero",
        ADDONS.velero.version,
        lambda: velero_values(role_arn=ROLE, node_selector=SELECTOR),
        {
            *KUBERNETES_OBJECTS,
            "podSecurityContext",
            "containerSecurityContext",
            "nodeAgent.podSecurityContext",
            "nodeAgent.containerSecurityContext",
            "nodeAgent.resources",
        },
    ),
    "external-secrets": (
        "external-secrets",
        ADDONS.external_secrets.version,
        _external_secrets,
        # The chart's podSecurityContext/securityContext have an `enabled` switch, the rest is the object.
        {
            f"{prefix}{key}"
            for prefix in EXTERNAL_SECRETS_DEPLOYMENTS
            for key in (
                "resources",
                "nodeSelector",
                "topologySpreadConstraints",
                "podSecurityContext",
                "securityContext",
            )
        },
    ),
}


@pytest.fixture(autouse=True)
def _charts() -> None:
    require_charts()


# Keys a chart documents only in a comment of its values.yaml (`# configSecret:`), so its defaults lack them.
COMMENTED_KEYS = {
    "kube-prometheus-stack": {
        "alertmanager.alertmanagerSpec.configSecret",
        "grafana.persistence.storageClassName",
        "grafana.rbac.useExistingRole",
        "grafana.podAnnotations",
    },
    "tempo": {"persistence.storageClassName"},
    "opentelemetry-collector": {"podDisruptionBudget.maxUnavailable"},
    "prometheus-yet-another-cloudwatch-exporter": {
        "serviceMonitor.labels",
        "serviceMonitor.interval",
        "serviceMonitor.timeout",
    },
}


@pytest.mark.parametrize("addon", sorted(BUILDERS))
def test_every_values_key_is_one_the_chart_declares(addon: str) -> None:
    chart, version, build, verbatim = BUILDERS[addon]
    commented = COMMENTED_KEYS.get(addon, set())
    assert sorted(unknown_keys(build(), chart_defaults(chart, version), verbatim)) == sorted(commented)
    # Each of those is documented in a comment and read by a template (`.Values....<key>`).
    texts = chart_texts(chart, version)
    for path in commented:
        leaf = path.rsplit(".", 1)[-1]
        assert any(f"# {leaf}:" in text for name, text in texts.items() if name.endswith("values.yaml")), path
        assert any(f".{leaf}" in text for name, text in texts.items() if "/templates/" in name), path


@pytest.mark.parametrize("addon", sorted(BUILDERS))
def test_a_misspelt_values_key_is_caught(addon: str) -> None:
    chart, version, build, verbatim = BUILDERS[addon]
    values = copy.deepcopy(build())
    defaults = chart_defaults(chart, version)
    top = next(iter(values))
    values[top + "s"] = values[top]
    # A nested mapping the chart declares key by key (not a free-form one).
    nested = next(
        k
        for k, v in values.items()
        if isinstance(v, dict) and v and k not in verbatim and isinstance(defaults.get(k), dict) and defaults[k]
    )
    inner = next(iter(values[nested]))
    values[nested][inner.upper()] = values[nested][inner]
    found = unknown_keys(values, defaults, verbatim)
    assert f"{top}s" in found and f"{nested}.{inner.upper()}" in found


def test_external_secrets_security_contexts_keep_the_charts_switch() -> None:
    values = _external_secrets()
    for part in (values, values["webhook"], values["certController"]):
        assert part["podSecurityContext"]["enabled"] is True and part["securityContext"]["enabled"] is True
