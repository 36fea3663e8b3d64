"""The traffic an add-on's pods may send and receive, on top of its namespace's default deny.

The EKS control plane reaches webhooks and the metrics API through its network interfaces in the
VPC: ingress from the VPC's CIDR on the given port. Pods reach the API server by the `kubernetes`
Service's ClusterIP (outside the VPC's range) and AWS APIs without a VPC endpoint through the NAT
gateways: egress HTTPS to anywhere. Kubelet probes come from the node's own address, which the VPC
CNI's policy agent always admits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

ANYWHERE = "0.0.0.0/0"
MONITORING_NAMESPACE = "monitoring"


@dataclass(frozen=True)
class Traffic:
    pods: Mapping[str, str]
    """Labels of the add-on's pods."""
    from_vpc: Sequence[int] = ()
    """Ports the control plane calls (webhooks, the metrics API)."""
    from_monitoring: Sequence[int] = ()
    """Metrics ports Prometheus (namespace monitoring) scrapes."""
    egress: Mapping[str, Sequence[int]] = field(default_factory=dict)
    """CIDR -> TCP ports the pods call."""


def tcp_ports(numbers: Sequence[int]) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in numbers]


def cidr_peers(cidrs: Sequence[str]) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    return [k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c)) for c in cidrs]


def monitoring_peer() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Every pod of the monitoring namespace (Prometheus)."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
        )
    )


def pod_traffic_policy(
    name: str,
    *,
    namespace: str,
    pods: Mapping[str, str],
    ingress: Sequence[k8s.networking.v1.NetworkPolicyIngressRuleArgs],
    egress: Sequence[k8s.networking.v1.NetworkPolicyEgressRuleArgs],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """One NetworkPolicy ``name`` in ``namespace``: exactly these rules, both directions, for the pods
    labelled ``pods`` (for traffic that Traffic cannot say: pod peers, UDP, every namespace)."""
    net = k8s.networking.v1
    return net.NetworkPolicy(
        f"{namespace}-{name}-traffic",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pods)),
            policy_types=["Ingress", "Egress"],
            ingress=list(ingress),
            egress=list(egress),
        ),
        opts=opts,
    )


def allow_traffic(
    name: str,
    *,
    namespace: str,
    traffic: Traffic,
    vpc_cidr: str,
    parent: pulumi.Resource,
    wait_for: pulumi.Resource,
) -> k8s.networking.v1.NetworkPolicy:
    """One NetworkPolicy admitting exactly ``traffic`` for the add-on's pods."""
    net = k8s.networking.v1
    ingress = []
    if traffic.from_vpc:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=cidr_peers([vpc_cidr]),
                ports=tcp_ports(traffic.from_vpc),
            )
        )
    if traffic.from_monitoring:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[monitoring_peer()],
                ports=tcp_ports(traffic.from_monitoring),
            )
        )
    egress = [
        net.NetworkPolicyEgressRuleArgs(to=cidr_peers([cidr]), ports=tcp_ports(numbers))
        for cidr, numbers in traffic.egress.items()
    ]
    return net.NetworkPolicy(
        f"{name}-traffic",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(traffic.pods)),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            egress=egress,
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[wait_for]),
    )
