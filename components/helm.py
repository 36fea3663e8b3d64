"""Helm charts: the one way third-party software is installed in the cluster.

Every chart goes through ``ChartSource.install``: a ``kubernetes.helm.v4.Chart`` with a pinned version
from its public repository, values built in Python by the add-on's own ``values()`` function (tests
check every key against the chart's own values.yaml, so a typo is our error, not a silently ignored
setting), and the release in one namespace.

Values must be known when the program runs: the provider renders nothing while any value is unknown
(a first preview would then show and judge none of the chart's objects). So values name roles by the
ARN built from their name and the account, and the cluster by its name, never by another resource's
outputs.

The settings every add-on shares (the restricted Pod Security context, a spread over zones and nodes,
resource requests and limits) are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class ChartSource:
    chart: str
    """The chart's name in its repository."""
    repository: str
    """The public chart repository `pulumi up` fetches it from (../shared/charts/README.md)."""

    def install(
        self,
        name: str,
        *,
        version: str,
        namespace: str,
        values: pulumi.Input[Mapping[str, Any]],
        parent: pulumi.Resource,
        depends_on: pulumi.Input[Sequence[pulumi.Resource]] = (),
    ) -> k8s.helm.v4.Chart:
        """The chart as release ``name`` (also the prefix of its objects' names) in ``namespace``."""
        return k8s.helm.v4.Chart(
            name,
            k8s.helm.v4.ChartArgs(
                chart=self.chart,
                version=version,
                repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=self.repository),
                namespace=namespace,
                values=values,
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
        )


METRICS_SERVER = ChartSource("metrics-server", "https://kubernetes-sigs.github.io/metrics-server")
CLUSTER_AUTOSCALER = ChartSource("cluster-autoscaler", "https://kubernetes.github.io/autoscaler")
LOAD_BALANCER_CONTROLLER = ChartSource("aws-load-balancer-controller", "https://aws.github.io/eks-charts")
EXTERNAL_SECRETS = ChartSource("external-secrets", "https://charts.external-secrets.io")
PROMETHEUS_OPERATOR_CRDS = ChartSource("prometheus-operator-crds", "https://prometheus-community.github.io/helm-charts")
KUBE_PROMETHEUS_STACK = ChartSource("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts")
TEMPO = ChartSource("tempo", "https://grafana-community.github.io/helm-charts")
OPENTELEMETRY_COLLECTOR = ChartSource(
    "opentelemetry-collector", "https://open-telemetry.github.io/opentelemetry-helm-charts"
)
VELERO = ChartSource("velero", "https://vmware-tanzu.github.io/helm-charts")
FLUENT_BIT = ChartSource("fluent-bit", "https://fluent.github.io/helm-charts")
CLOUDWATCH_EXPORTER = ChartSource(
    "prometheus-yet-another-cloudwatch-exporter", "https://prometheus-community.github.io/helm-charts"
)

RESTRICTED_POD: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
"""Pod-level settings the "restricted" Pod Security standard requires."""
RESTRICTED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Container-level settings of the "restricted" standard, and a read-only root."""


SCRAPE_LABEL = {"platform.io/scrape": "true"}
"""The label Prometheus selects ServiceMonitors, PodMonitors, Probes and PrometheusRules by, in every namespace
(components/monitoring.py): every service's monitor carries it, and so does each chart's."""

NEEDS_API = {"platform.io/needs-kubernetes-api": "true"}
"""Pod annotation: these pods call the Kubernetes API, so they mount their service account's token (the
policy pack's kubernetes-pod-disable-service-account-token-automount reads it). Every add-on here is a
controller or an API extension: each one needs it."""


def resources(cpu: str, memory: str, cpu_limit: str) -> dict[str, Any]:
    """Requests, and limits: memory limit = request (the pod is never OOM-killed for memory the node
    promised it); the CPU limit above the request, so start-up bursts are not throttled."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory}}


def spread(match_labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """A Deployment's replicas over zones (as even as capacity allows) and never two on one node while
    another fits.

    Only nodes the pods may run on count (nodeTaintsPolicy Honor: the tainted compute nodes would otherwise
    count as empty nodes and hold the skew), and only the pods of one ReplicaSet (matchLabelKeys
    pod-template-hash: during a rollout the old pods do not block the new ones)."""
    selector = {"matchLabels": dict(match_labels)}
    common = {
        "maxSkew": 1,
        "labelSelector": selector,
        "matchLabelKeys": ["pod-template-hash"],
        "nodeTaintsPolicy": "Honor",
    }
    return [
        {**common, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"},
        {**common, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"},
    ]
