"""The cluster's add-ons, each from its pinned chart on the system nodes, with exactly the traffic it needs.

Namespaces (components/namespaces.py): metrics-server, Cluster Autoscaler and the AWS Load Balancer
Controller in ``cluster-addons``; the External Secrets Operator in ``external-secrets``. Every add-on
waits for the node groups (its pods need somewhere to run; created earlier, the provider would wait
for them to become ready until it times out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import cluster_autoscaler, external_secrets, load_balancer_controller, metrics_server
from components.addon_network import ANYWHERE, Traffic, allow_traffic
from components.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.config import AddonsConfig
from components.context import StackContext
from components.external_secrets import ExternalSecrets, ExternalSecretsArgs
from components.helm import PROMETHEUS_OPERATOR_CRDS
from components.irsa import ClusterOidc
from components.load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
from components.metrics_server import MetricsServer, MetricsServerArgs
from components.namespaces import Namespaces

ADDONS_NAMESPACE = "cluster-addons"
SECRETS_NAMESPACE = "external-secrets"
HTTPS = 443
MONITORING_KINDS = (
    "servicemonitors",
    "podmonitors",
    "probes",
    "prometheusrules",
    "prometheuses",
    "alertmanagers",
    "alertmanagerconfigs",
)
"""The Prometheus Operator kinds the platform uses: what to scrape and alert on, and the Prometheus and
Alertmanager servers (components/monitoring.py). AlertmanagerConfig is not used, but the operator's
Alertmanager controller waits for its informer and, without the CRD, never creates an Alertmanager.
Their schemas are large (0.35-0.5 MB each, 2.6 MB for all ten) and the policy pack decodes every object of
every preview: the kinds the operator does without (PrometheusAgent, ScrapeConfig, ThanosRuler: each
checked for and skipped when absent) stay out."""


def monitoring_crd_values() -> dict[str, Any]:
    """The prometheus-operator-crds chart's values: MONITORING_KINDS on, every other CRD off."""
    every = (
        "alertmanagerconfigs",
        "alertmanagers",
        "podmonitors",
        "probes",
        "prometheusagents",
        "prometheuses",
        "prometheusrules",
        "scrapeconfigs",
        "servicemonitors",
        "thanosrulers",
    )
    return {"crds": {kind: {"enabled": kind in MONITORING_KINDS} for kind in every}}


@dataclass
class ClusterAddonsArgs:
    config: AddonsConfig
    context: StackContext
    oidc: ClusterOidc
    cluster_name: str
    """The EKS cluster's name, as a plain string."""
    node_groups: Sequence[pulumi.Resource]
    namespaces: Namespaces
    secret_store_namespaces: Sequence[str]
    """The namespaces whose ExternalSecrets may use the ClusterSecretStore."""
    vpc_name: str
    """The VPC's Name tag."""
    vpc_cidr: str
    """The VPC's CIDR from config (the API server's and the nodes' addresses are in it)."""
    internet_path: Sequence[pulumi.Resource]
    """Network.internet_path: what the load balancer controller needs until its load balancers are gone."""
    secret_arns: Sequence[pulumi.Input[str]]
    """Secrets Manager secrets External Secrets may read."""
    secret_key_arns: Sequence[pulumi.Input[str]]
    """Their keys."""


class ClusterAddons(pulumi.ComponentResource):
    """metrics-server, Cluster Autoscaler, AWS Load Balancer Controller and External Secrets."""

    load_balancer_controller: LoadBalancerController
    external_secrets: ExternalSecrets
    monitoring_crds: k8s.helm.v4.Chart
    """The Prometheus Operator's CRDs: ServiceMonitors and PrometheusRules wait for its objects."""

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:Addons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        config = args.config
        selector = dict(config.node_selector)
        # Each add-on's own NetworkPolicy first: its chart waits for it, so the pods never start behind
        # the namespace's default deny, and a destroy removes the policy only after the add-on.
        allowed = self._allow_traffic(args)
        addons_ns = args.namespaces.namespaces[ADDONS_NAMESPACE]
        secrets_ns = args.namespaces.namespaces[SECRETS_NAMESPACE]

        MetricsServer(
            "metrics-server",
            MetricsServerArgs(
                config=config.metrics_server,
                namespace=ADDONS_NAMESPACE,
                node_selector=selector,
                wait_for=[addons_ns, allowed[metrics_server.RELEASE], *args.node_groups],
            ),
            opts=child,
        )
        ClusterAutoscaler(
            "cluster-autoscaler",
            ClusterAutoscalerArgs(
                config=config.cluster_autoscaler,
                context=args.context,
                oidc=args.oidc,
                cluster_name=args.cluster_name,
                namespace=ADDONS_NAMESPACE,
                node_selector=selector,
                wait_for=[addons_ns, allowed[cluster_autoscaler.RELEASE], *args.node_groups],
            ),
            opts=child,
        )
        self.load_balancer_controller = LoadBalancerController(
            "load-balancer-controller",
            LoadBalancerControllerArgs(
                config=config.load_balancer_controller,
                context=args.context,
                oidc=args.oidc,
                cluster_name=args.cluster_name,
                vpc_name=args.vpc_name,
                namespace=ADDONS_NAMESPACE,
                node_selector=selector,
                wait_for=[addons_ns, allowed[load_balancer_controller.RELEASE], *args.node_groups],
                network_path=args.internet_path,
            ),
            opts=child,
        )
        self.external_secrets = ExternalSecrets(
            "external-secrets",
            ExternalSecretsArgs(
                config=config.external_secrets,
                context=args.context,
                oidc=args.oidc,
                namespace=SECRETS_NAMESPACE,
                node_selector=selector,
                secret_arns=args.secret_arns,
                key_arns=args.secret_key_arns,
                secret_store_namespaces=args.secret_store_namespaces,
                wait_for=[secrets_ns, allowed[external_secrets.RELEASE], *args.node_groups],
            ),
            opts=child,
        )
        # CRDs only: no pods, so no nodes or NetworkPolicy to wait for.
        self.monitoring_crds = PROMETHEUS_OPERATOR_CRDS.install(
            "prometheus-operator-crds",
            version=config.prometheus_operator_crds.version,
            namespace=ADDONS_NAMESPACE,
            values=monitoring_crd_values(),
            parent=self,
            depends_on=[addons_ns],
        )
        self.register_outputs({})

    def _allow_traffic(self, args: ClusterAddonsArgs) -> dict[str, pulumi.Resource]:
        """Each add-on's NetworkPolicy, by release."""
        vpc = args.vpc_cidr
        rules = {
            (ADDONS_NAMESPACE, metrics_server.RELEASE): Traffic(
                pods={"app.kubernetes.io/name": "metrics-server"},
                # The API server calls the metrics API; metrics-server calls every kubelet (in the VPC) and
                # the API server. The latter on 443 anywhere: pods reach it by the `kubernetes` Service's
                # ClusterIP, outside the VPC's range, and the policy agent sees that address.
                from_vpc=[metrics_server.PORT],
                egress={vpc: [metrics_server.PORT], ANYWHERE: [HTTPS]},
            ),
            (ADDONS_NAMESPACE, cluster_autoscaler.RELEASE): Traffic(
                pods={"app.kubernetes.io/name": "aws-cluster-autoscaler"},
                from_monitoring=[cluster_autoscaler.METRICS_PORT],
                # The API server, and the Auto Scaling, EC2 and EKS APIs through the NAT gateways.
                egress={ANYWHERE: [HTTPS]},
            ),
            (ADDONS_NAMESPACE, load_balancer_controller.RELEASE): Traffic(
                pods={"app.kubernetes.io/name": "aws-load-balancer-controller"},
                from_vpc=[load_balancer_controller.WEBHOOK_PORT],
                from_monitoring=[load_balancer_controller.METRICS_PORT],
                # The API server, and the ELB, EC2, ACM, WAF and Shield APIs.
                egress={ANYWHERE: [HTTPS]},
            ),
            (SECRETS_NAMESPACE, external_secrets.RELEASE): Traffic(
                # The controller, its webhook and its certificate controller.
                pods={"app.kubernetes.io/instance": external_secrets.RELEASE},
                from_vpc=[external_secrets.WEBHOOK_PORT],
                from_monitoring=[external_secrets.METRICS_PORT],
                # The API server, STS and Secrets Manager.
                egress={ANYWHERE: [HTTPS]},
            ),
        }
        return {
            release: allow_traffic(
                release,
                namespace=namespace,
                traffic=traffic,
                vpc_cidr=vpc,
                parent=self,
                wait_for=args.namespaces.namespaces[namespace],
            )
            for (namespace, release), traffic in rules.items()
        }
