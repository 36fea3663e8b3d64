"""Monitoring: kube-prometheus-stack tuned for EKS, the teams' alerts and dashboards, and the data tier's
CloudWatch metrics, in the ``monitoring`` namespace.

- **Prometheus** keeps ``prometheusRetentionDays`` of metrics on a gp3 volume per server, capped at 85% of
  the volume (``retentionSize``: a full disk stops ingestion, the cap drops the oldest blocks first), with
  the external labels ``cluster`` and ``environment`` on every alert. It selects ServiceMonitors,
  PodMonitors, Probes and PrometheusRules in every namespace by one label, ``platform.io/scrape: "true"``
  (``SCRAPE_LABEL``): the chart's own objects carry it (``commonLabels``), every service's ServiceMonitor
  does (components/service.py), and a team's own monitor or rule needs only that label.
- **EKS hides the control plane**: no scraping of kube-controller-manager, kube-scheduler and etcd (and
  kube-proxy, whose metrics listen on the node's loopback), and none of their alert groups, which would
  otherwise fire forever as "target down". The chart's generic app and node-exporter alert groups are off
  too: the teams' rules (monitoring/rules/) replace them, and two rules for one problem would page twice.
- **Alertmanager** reads its whole configuration from a Secret this component writes
  (components/alerting.py): the Slack and PagerDuty secrets never pass through chart values.
- **Grafana**'s admin password is generated (pulumi-random) and kept in a Secret the chart only names. Its
  data sources are provisioned from values (Prometheus, Alertmanager); dashboards are ConfigMaps labelled
  ``grafana_dashboard: "1"`` in ``monitoring``, from monitoring/dashboards/ plus the chart's defaults.
- **The chart's admission webhooks are off**: they are installed by Helm hooks, which a Pulumi Chart does
  not run. PrometheusRules are checked with promtool in CI instead (tests/test_alert_rules.py).
- Every pod but node-exporter runs at the restricted Pod Security level. node-exporter reads the node
  itself (host network and PID namespaces, the root filesystem read-only): its exemptions and reasons
  are in policy/config/<stack>.json.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from components import cloudwatch_exporter
from components.addon_network import ANYWHERE, cidr_peers, monitoring_peer, pod_traffic_policy, tcp_ports
from components.alerting import alertmanager_config
from components.config import MonitoringConfig
from components.context import StackContext
from components.helm import (
    CLOUDWATCH_EXPORTER,
    KUBE_PROMETHEUS_STACK,
    NEEDS_API,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    SCRAPE_LABEL,
    resources,
)
from components.irsa import ClusterOidc, pod_role
from components.log_shipping import LogShipping, LogShippingArgs
from components.tracing import TEMPO_HTTP_PORT, TEMPO_RELEASE, Tracing, TracingArgs

NAMESPACE = "monitoring"
RELEASE = "monitoring"
PROJECT_DIR = Path(__file__).resolve().parent.parent
RULES_DIR = PROJECT_DIR / "monitoring" / "rules"
DASHBOARDS_DIR = PROJECT_DIR / "monitoring" / "dashboards"
STORAGE_CLASS = "gp3"
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ROLE = "grafana-dashboards"
"""The Role Grafana's sidecar gets: read ConfigMaps in monitoring. (The chart's own would also read every
Secret, here the admin password and the Alertmanager configuration, or cluster-wide by default.)"""
ALERTMANAGER_SECRET = "alertmanager-config"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
ALERTMANAGER_MESH_PORT = 9094
GRAFANA_PORT = 3000
OPERATOR_PORT = 8080
SIDECAR_HEALTH_PORT = 8080
KUBE_STATE_METRICS_PORT = 8080
NODE_EXPORTER_PORT = 9100
KUBELET_PORT = 10250
HTTPS = 443
RETENTION_SHARE = 0.85
"""retentionSize as a share of the volume: the write-ahead log and compaction need the rest."""
MAX_CONNECTIONS_RULE = "platform:postgres_max_connections"
"""The recorded series the PostgreSQL connections alert divides by (monitoring/rules/data-tier.yaml)."""

# Alert groups of the chart for what EKS does not expose, or that the teams' rules replace.
DISABLED_DEFAULT_RULES = (
    "etcd",
    "kubeControllerManager",
    "kubeSchedulerAlerting",
    "kubeSchedulerRecording",
    "kubeProxy",
    "windows",
    "kubernetesApps",
    "nodeExporterAlerting",
)


def rule_files() -> dict[str, dict[str, Any]]:
    """Each rule file of monitoring/rules by its name (without .yaml): the PrometheusRule specs."""
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted(RULES_DIR.glob("*.yaml"))}


def dashboards() -> dict[str, str]:
    """Each dashboard of monitoring/dashboards by file name, as compact JSON."""
    return {path.name: json.dumps(json.loads(path.read_text())) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def max_connections_rule(max_connections: int) -> dict[str, Any]:
    """The recorded max_connections of the parameter group (components/database.py): a constant the
    connections alert and dashboard divide by, so the rule files need not know it."""
    return {
        "groups": [
            {
                "name": "platform-data-tier-settings",
                "rules": [{"record": MAX_CONNECTIONS_RULE, "expr": f"vector({max_connections})"}],
            }
        ]
    }


def grafana_datasources() -> list[dict[str, Any]]:
    """Grafana's data sources, provisioned from a file (the chart's datasource sidecar is off: one sidecar,
    one health port for the shared probes)."""
    return [
        {
            "name": "Prometheus",
            "uid": "prometheus",
            "type": "prometheus",
            "url": f"http://{RELEASE}-prometheus.{NAMESPACE}:{PROMETHEUS_PORT}",
            "access": "proxy",
            "isDefault": True,
            "jsonData": {"httpMethod": "POST", "timeInterval": "30s"},
        },
        {
            "name": "Alertmanager",
            "uid": "alertmanager",
            "type": "alertmanager",
            "url": f"http://{RELEASE}-alertmanager.{NAMESPACE}:{ALERTMANAGER_PORT}",
            "access": "proxy",
            "jsonData": {"implementation": "prometheus"},
        },
        {
            "name": "Tempo",
            "uid": "tempo",
            "type": "tempo",
            "url": f"http://{TEMPO_RELEASE}.{NAMESPACE}:{TEMPO_HTTP_PORT}",
            "access": "proxy",
            # No service map: it reads the span metrics of Tempo's metrics generator, which is off.
            "jsonData": {"nodeGraph": {"enabled": True}},
        },
    ]


def _volume(storage_gib: int) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": STORAGE_CLASS,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{storage_gib}Gi"}},
            }
        }
    }


def _spread(labels: dict[str, str]) -> list[dict[str, Any]]:
    """Replicas of a StatefulSet over zones, never two on one node (its volumes are zonal: the zone
    spread is best effort)."""
    selector = {"matchLabels": labels}
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        },
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": selector,
        },
    ]


def stack_values(
    config: MonitoringConfig, *, cluster_name: str, stack: str, node_selector: dict[str, str]
) -> dict[str, Any]:
    """kube-prometheus-stack's values (every key is checked against the chart's values.yaml by a test)."""
    prometheus = config.prometheus
    alertmanager = config.alertmanager
    by_label = {"matchLabels": SCRAPE_LABEL}
    every_namespace: dict[str, Any] = {}
    retention_size = math.floor(prometheus.storage_gib * RETENTION_SHARE)
    return {
        "fullnameOverride": RELEASE,
        "commonLabels": SCRAPE_LABEL,
        # The CRDs come from the prometheus-operator-crds chart (components/addons.py).
        "crds": {"enabled": False},
        "defaultRules": {"rules": dict.fromkeys(DISABLED_DEFAULT_RULES, False)},
        "windowsMonitoring": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {
            "admissionWebhooks": {"enabled": False, "patch": {"enabled": False}},
            "tls": {"enabled": False},
            "podAnnotations": NEEDS_API,
            "resources": resources("100m", "256Mi", "500m"),
            "nodeSelector": node_selector,
        },
        "prometheus": {
            # Drains take one server at a time; with one server a budget would block every drain.
            "podDisruptionBudget": {"enabled": prometheus.replicas > 1, "minAvailable": prometheus.replicas - 1},
            "prometheusSpec": {
                "replicas": prometheus.replicas,
                "retention": f"{config.prometheus_retention_days}d",
                "retentionSize": f"{retention_size}GB",
                "externalLabels": {"cluster": cluster_name, "environment": stack},
                "storageSpec": _volume(prometheus.storage_gib),
                "resources": resources("500m", prometheus.memory, "2"),
                "nodeSelector": node_selector,
                "podAntiAffinity": "",
                "topologySpreadConstraints": _spread({"app.kubernetes.io/name": "prometheus"}),
                # One label selects everything, in every namespace.
                "ruleSelectorNilUsesHelmValues": False,
                "ruleSelector": by_label,
                "ruleNamespaceSelector": every_namespace,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelector": by_label,
                "serviceMonitorNamespaceSelector": every_namespace,
                "podMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelector": by_label,
                "podMonitorNamespaceSelector": every_namespace,
                "probeSelectorNilUsesHelmValues": False,
                "probeSelector": by_label,
                "probeNamespaceSelector": every_namespace,
            },
        },
        "alertmanager": {
            "podDisruptionBudget": {"enabled": alertmanager.replicas > 1, "minAvailable": alertmanager.replicas - 1},
            "alertmanagerSpec": {
                "replicas": alertmanager.replicas,
                "useExistingSecret": True,
                "configSecret": ALERTMANAGER_SECRET,
                "storage": _volume(alertmanager.storage_gib),
                "resources": resources("50m", "128Mi", "250m"),
                "nodeSelector": node_selector,
                "podAntiAffinity": "",
                "topologySpreadConstraints": _spread({"app.kubernetes.io/name": "alertmanager"}),
            },
        },
        "grafana": {
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "persistence": {
                "enabled": True,
                "storageClassName": STORAGE_CLASS,
                "size": f"{config.grafana.storage_gib}Gi",
            },
            # One pod with a ReadWriteOnce volume: the old pod must let go of it before the new one starts.
            "deploymentStrategy": {"type": "Recreate"},
            # The volume's owner is set by fsGroup; the chown init container would need root.
            "initChownData": {"enabled": False},
            "rbac": {"namespaced": True, "useExistingRole": GRAFANA_ROLE},
            "testFramework": {"enabled": False},
            # The sidecar lists ConfigMaps (dashboards).
            "podAnnotations": NEEDS_API,
            # The subcharts' monitors do not get commonLabels: each gets the label Prometheus selects by.
            "serviceMonitor": {"labels": SCRAPE_LABEL},
            "resources": resources("100m", "512Mi", "500m"),
            "nodeSelector": node_selector,
            "securityContext": {**RESTRICTED_POD, "runAsUser": 472, "runAsGroup": 472, "fsGroup": 472},
            "containerSecurityContext": RESTRICTED_CONTAINER,
            "datasources": {"datasources.yaml": {"apiVersion": 1, "datasources": grafana_datasources()}},
            "sidecar": {
                "resources": resources("50m", "128Mi", "200m"),
                "securityContext": RESTRICTED_CONTAINER,
                # One sidecar (dashboards), so one health port for the shared probes: k8s-sidecar's default,
                # 8080 (the chart sets HEALTH_PORT on the other sidecars and the init container only).
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": SIDECAR_HEALTH_PORT}},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": SIDECAR_HEALTH_PORT}},
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    # This namespace only, ConfigMaps only (GRAFANA_ROLE).
                    "searchNamespace": None,
                    "resource": "configmap",
                },
                "datasources": {"enabled": False},
            },
        },
        "kube-state-metrics": {
            "prometheus": {"monitor": {"additionalLabels": SCRAPE_LABEL}},
            "podAnnotations": NEEDS_API,
            "resources": resources("50m", "192Mi", "250m"),
            "nodeSelector": node_selector,
        },
        # Host namespaces and read-only host mounts (exempted with reasons in policy/config), but as nobody,
        # without capabilities or privilege escalation, under the runtime's seccomp profile.
        "prometheus-node-exporter": {
            "securityContext": {**RESTRICTED_POD, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534},
            "containerSecurityContext": RESTRICTED_CONTAINER,
            "prometheus": {"monitor": {"additionalLabels": SCRAPE_LABEL}},
            "resources": resources("50m", "64Mi", "250m"),
        },
    }


@dataclass
class MonitoringArgs:
    config: MonitoringConfig
    context: StackContext
    oidc: ClusterOidc
    cluster_name: str
    node_selector: dict[str, str]
    vpc_cidr: str
    namespace: pulumi.Resource
    """The monitoring namespace object."""
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    """The Prometheus Operator CRD chart's objects (Chart.resources)."""
    wait_for: Sequence[pulumi.Resource]
    """The node groups: the pods need somewhere to run."""
    max_connections: int
    """The PostgreSQL parameter group's max_connections."""
    slack_webhook_url: pulumi.Output[str] | None
    pagerduty_routing_key: pulumi.Output[str] | None
    traces_kms_key_arn: pulumi.Input[str]
    """The key of the traces bucket (the backups' key)."""


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack, the CloudWatch exporter, the teams' rules and dashboards, and their traffic."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:Monitoring", name, None, opts)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])
        context = args.context
        traffic = self._allow_traffic(args)
        secrets = [
            self._grafana_admin(in_namespace),
            self._alertmanager_config(args, in_namespace),
            self._grafana_role(in_namespace),
        ]
        after_crds = args.monitoring_crds.apply(lambda crds: [args.namespace, *(crds or [])])
        stack = KUBE_PROMETHEUS_STACK.install(
            RELEASE,
            version=args.config.kube_prometheus_stack,
            namespace=NAMESPACE,
            values=stack_values(
                args.config,
                cluster_name=args.cluster_name,
                stack=context.naming.stack,
                node_selector=args.node_selector,
            ),
            parent=self,
            depends_on=after_crds.apply(lambda first: [*first, *secrets, *traffic, *args.wait_for]),
        )
        self.role = pod_role(
            f"{name}-cloudwatch-role",
            purpose=cloudwatch_exporter.ROLE,
            context=context,
            oidc=args.oidc,
            namespace=NAMESPACE,
            service_account=cloudwatch_exporter.SERVICE_ACCOUNT,
            statements=cloudwatch_exporter.role_statements(),
            parent=self,
        )
        CLOUDWATCH_EXPORTER.install(
            cloudwatch_exporter.RELEASE,
            version=args.config.cloudwatch_exporter,
            namespace=NAMESPACE,
            values=context.account.apply(
                lambda a: cloudwatch_exporter.values(
                    region=context.region,
                    project=context.naming.project,
                    stack=context.naming.stack,
                    role_arn=a.role_arn(context.iam_role_name(cloudwatch_exporter.ROLE)),
                    node_selector=args.node_selector,
                    scrape_label=SCRAPE_LABEL,
                )
            ),
            parent=self,
            depends_on=after_crds.apply(lambda first: [*first, *traffic, *self.role.grants, *args.wait_for]),
        )
        specs = {**rule_files(), "data-tier-settings": max_connections_rule(args.max_connections)}
        for rule_name, spec in specs.items():
            k8s.apiextensions.CustomResource(
                f"rules-{rule_name}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"platform-{rule_name}", namespace=NAMESPACE, labels=SCRAPE_LABEL
                ),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=after_crds),
            )
        for file_name, text in dashboards().items():
            stem = file_name.removesuffix(".json")
            k8s.core.v1.ConfigMap(
                f"dashboard-{stem}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"dashboard-{stem}", namespace=NAMESPACE, labels=DASHBOARD_LABEL
                ),
                data={file_name: text},
                opts=in_namespace,
            )
        self.chart = stack
        self.tracing = Tracing(
            "tracing",
            TracingArgs(
                config=args.config.tracing,
                context=context,
                oidc=args.oidc,
                kms_key_arn=args.traces_kms_key_arn,
                node_selector=args.node_selector,
                replicas=args.config.prometheus.replicas,
                namespace=args.namespace,
                monitoring_crds=args.monitoring_crds,
                wait_for=args.wait_for,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.logs = LogShipping(
            "log-shipping",
            LogShippingArgs(
                config=args.config.logs,
                context=context,
                oidc=args.oidc,
                cluster_name=args.cluster_name,
                namespace=NAMESPACE,
                namespace_resource=args.namespace,
                monitoring_crds=args.monitoring_crds,
                wait_for=args.wait_for,
                protect=args.config.protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})

    def _grafana_admin(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        """Grafana's admin login: a generated password, only in this Secret (and, encrypted, in state)."""
        password = random.RandomPassword(
            "grafana-admin-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        return k8s.core.v1.Secret(
            "grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ADMIN_SECRET, namespace=NAMESPACE),
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=opts,
        )

    def _grafana_role(self, opts: pulumi.ResourceOptions) -> k8s.rbac.v1.Role:
        return k8s.rbac.v1.Role(
            "grafana-dashboards-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ROLE, namespace=NAMESPACE),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["configmaps"], verbs=["get", "list", "watch"])
            ],
            opts=opts,
        )

    def _alertmanager_config(self, args: MonitoringArgs, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
        """alertmanager.yaml with the receivers' secrets, as a secret Output into a Secret."""
        slack = args.slack_webhook_url if args.slack_webhook_url is not None else pulumi.Output.from_input("")
        pagerduty = (
            args.pagerduty_routing_key if args.pagerduty_routing_key is not None else pulumi.Output.from_input("")
        )
        rendered: pulumi.Output[str] = pulumi.Output.all(slack, pagerduty).apply(
            lambda v: yaml.safe_dump(
                alertmanager_config(slack_webhook_url=v[0] or None, pagerduty_routing_key=v[1] or None),
                sort_keys=False,
            )
        )
        document: pulumi.Output[str] = pulumi.Output.secret(rendered)
        return k8s.core.v1.Secret(
            "alertmanager-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ALERTMANAGER_SECRET, namespace=NAMESPACE),
            type="Opaque",
            string_data={"alertmanager.yaml": document},
            opts=opts,
        )

    def _allow_traffic(self, args: MonitoringArgs) -> list[pulumi.Resource]:
        """What each monitoring pod may send and receive, on top of the namespace's default deny.
        (node-exporter runs in the host's network namespace, where NetworkPolicies do not apply.)"""
        net = k8s.networking.v1
        vpc = args.vpc_cidr
        opts = pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])

        def pods(name: str) -> net.NetworkPolicyPeerArgs:
            return net.NetworkPolicyPeerArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": name})
            )

        api_server = net.NetworkPolicyEgressRuleArgs(to=cidr_peers([ANYWHERE]), ports=tcp_ports([HTTPS]))
        every_pod = net.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs())
        policies: dict[str, tuple[dict[str, str], list[Any], list[Any]]] = {
            # Prometheus scrapes every pod (any port a monitor names), the kubelets and node-exporter on the
            # nodes, and asks the API server for targets; Grafana queries it; it sends alerts to Alertmanager.
            "prometheus": (
                {"app.kubernetes.io/name": "prometheus"},
                [
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[pods("grafana"), pods("prometheus")], ports=tcp_ports([PROMETHEUS_PORT])
                    ),
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[monitoring_peer()], ports=tcp_ports([PROMETHEUS_PORT, 8080])
                    ),
                ],
                [
                    net.NetworkPolicyEgressRuleArgs(to=[every_pod]),
                    net.NetworkPolicyEgressRuleArgs(
                        to=cidr_peers([vpc]), ports=tcp_ports([KUBELET_PORT, NODE_EXPORTER_PORT])
                    ),
                    api_server,
                ],
            ),
            # Alertmanagers gossip with each other (TCP and UDP 9094) and call PagerDuty and Slack.
            "alertmanager": (
                {"app.kubernetes.io/name": "alertmanager"},
                [
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[pods("prometheus"), pods("grafana")], ports=tcp_ports([ALERTMANAGER_PORT])
                    ),
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[monitoring_peer()], ports=tcp_ports([ALERTMANAGER_PORT, 8080])
                    ),
                    net.NetworkPolicyIngressRuleArgs(from_=[pods("alertmanager")], ports=_mesh_ports()),
                ],
                [net.NetworkPolicyEgressRuleArgs(to=[pods("alertmanager")], ports=_mesh_ports()), api_server],
            ),
            # Grafana queries Prometheus and Alertmanager, and its sidecar watches ConfigMaps.
            "grafana": (
                {"app.kubernetes.io/name": "grafana"},
                [net.NetworkPolicyIngressRuleArgs(from_=[monitoring_peer()], ports=tcp_ports([GRAFANA_PORT]))],
                [
                    net.NetworkPolicyEgressRuleArgs(to=[pods("prometheus")], ports=tcp_ports([PROMETHEUS_PORT])),
                    net.NetworkPolicyEgressRuleArgs(to=[pods("alertmanager")], ports=tcp_ports([ALERTMANAGER_PORT])),
                    net.NetworkPolicyEgressRuleArgs(to=[pods("tempo")], ports=tcp_ports([TEMPO_HTTP_PORT])),
                    api_server,
                ],
            ),
            # The operator, kube-state-metrics and the CloudWatch exporter call the API server or AWS APIs.
            "operator": (
                {"app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator"},
                [net.NetworkPolicyIngressRuleArgs(from_=[monitoring_peer()], ports=tcp_ports([OPERATOR_PORT]))],
                [api_server],
            ),
            "kube-state-metrics": (
                {"app.kubernetes.io/name": "kube-state-metrics"},
                [
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[monitoring_peer()], ports=tcp_ports([KUBE_STATE_METRICS_PORT])
                    )
                ],
                [api_server],
            ),
            "cloudwatch-exporter": (
                {"app.kubernetes.io/name": "prometheus-yet-another-cloudwatch-exporter"},
                [
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[monitoring_peer()], ports=tcp_ports([cloudwatch_exporter.PORT])
                    )
                ],
                [api_server],
            ),
        }
        return [
            pod_traffic_policy(name, namespace=NAMESPACE, pods=labels, ingress=ingress, egress=egress, opts=opts)
            for name, (labels, ingress, egress) in policies.items()
        ]


def _mesh_ports() -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [
        k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=ALERTMANAGER_MESH_PORT)
        for protocol in ("TCP", "UDP")
    ]
