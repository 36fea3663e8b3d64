"""Namespaces: the application namespaces from config and the platform's own, each with its guardrails.

Every namespace gets:

- Pod Security Admission labels: ``enforce`` at its level, ``audit`` and ``warn`` at ``restricted`` so
  that anything below restricted shows up in the audit log and in `kubectl` even where it is allowed.
  The version is pinned to the cluster's minor, so a Kubernetes upgrade does not tighten or loosen a
  level unannounced.
- A default-deny NetworkPolicy (every pod, ingress and egress) and one that lets every pod ask the
  cluster DNS (kube-system/kube-dns, port 53). The VPC CNI's network policy agent enforces them
  (``enableNetworkPolicy`` on the vpc-cni add-on, components/cluster.py).

Application namespaces also get a ResourceQuota and a LimitRange (container defaults and maximum) from
``workloads.quota``. Platform namespaces hold the platform's own charts, which set their own requests and
limits; each add-on opens what it needs with its own NetworkPolicy (components/addon_network.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from components.config import NamespaceQuota

PsaLevel = Literal["restricted", "baseline", "privileged"]


@dataclass(frozen=True)
class PlatformNamespace:
    name: str
    level: PsaLevel
    reason: str
    """Why this level and not restricted (or that restricted suffices)."""


# The lowest Pod Security level each platform namespace needs, and why.
PLATFORM_NAMESPACES = (
    PlatformNamespace(
        "cluster-addons",
        "restricted",
        "metrics-server, Cluster Autoscaler and the AWS Load Balancer Controller run as non-root with read-only "
        "roots and no capabilities; none needs the host",
    ),
    PlatformNamespace(
        "external-secrets",
        "restricted",
        "the operator, its webhook and certificate controller need no host access or capability",
    ),
    PlatformNamespace(
        "monitoring",
        "privileged",
        "prometheus-node-exporter reads the node's own metrics: it needs hostNetwork, hostPID and read-only "
        "hostPath mounts of / , /proc and /sys, and Fluent Bit reads the node's container logs (hostPath "
        "/var/log, as root); only the privileged level admits these (baseline forbids hostPath and host "
        "namespaces); every other pod there is still warned and audited at restricted",
    ),
    PlatformNamespace(
        "velero",
        "privileged",
        "Velero's node agent reads every pod's volume files on the node (hostPath /var/lib/kubelet/pods, as root) "
        "for file-system backups; only the privileged level admits hostPath; the server and every other pod "
        "there are still warned and audited at restricted",
    ),
    PlatformNamespace(
        "backups",
        "restricted",
        "the backup CronJobs only talk to PostgreSQL, Redis and AWS APIs",
    ),
)

DNS = {"namespace": "kube-system", "k8s-app": "kube-dns"}
"""How CoreDNS's pods are labelled (EKS's coredns add-on)."""


@dataclass
class NamespacesArgs:
    application: Sequence[str]
    """Application namespaces (workloads.namespaces): restricted, quota, container defaults."""
    quota: NamespaceQuota
    """The quota and container defaults of each application namespace."""
    kubernetes_version: str
    """The cluster's minor version (1.35): the Pod Security standard's version."""


class Namespaces(pulumi.ComponentResource):
    """Every namespace the platform creates, with Pod Security labels, default-deny and DNS egress."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    """Namespace objects by name: create namespaced objects with depends_on on theirs, or read .metadata.name."""

    def __init__(self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:Namespaces", name, None, opts)
        self._args = args
        self.namespaces = {}
        for platform in PLATFORM_NAMESPACES:
            self._namespace(platform.name, platform.level, role="platform", reason=platform.reason)
        for namespace in args.application:
            self._namespace(
                namespace,
                "restricted",
                role="application",
                reason="application workloads",
                # The Load Balancer Controller adds a readiness gate to every pod behind a target group: a
                # rolling update waits until the new pod is healthy in the load balancer before the next
                # old one goes (without it the ALB may briefly have no healthy target).
                labels={"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"},
            )
            self._quota(namespace)
        self.register_outputs({})

    def _namespace(
        self, namespace: str, level: PsaLevel, *, role: str, reason: str, labels: dict[str, str] | None = None
    ) -> None:
        version = f"v{self._args.kubernetes_version}"
        created = k8s.core.v1.Namespace(
            namespace,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/enforce-version": version,
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/audit-version": version,
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/warn-version": version,
                    "platform.example.com/role": role,
                    **(labels or {}),
                },
                annotations={"platform.example.com/pod-security-reason": reason},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespaces[namespace] = created
        inside = pulumi.ResourceOptions(parent=self)
        k8s.networking.v1.NetworkPolicy(
            f"{namespace}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace=created.metadata.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                # Every pod; no rule, so nothing in and nothing out but what another policy allows.
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Ingress", "Egress"],
            ),
            opts=inside,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{namespace}-allow-dns",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-dns", namespace=created.metadata.name),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": DNS["namespace"]}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"k8s-app": DNS["k8s-app"]}),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53),
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=53),
                        ],
                    )
                ],
            ),
            opts=inside,
        )

    def _quota(self, namespace: str) -> None:
        quota = self._args.quota
        created = self.namespaces[namespace]
        inside = pulumi.ResourceOptions(parent=self)
        k8s.core.v1.ResourceQuota(
            f"{namespace}-quota",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="quota", namespace=created.metadata.name),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(
                hard={
                    "requests.cpu": quota.requests_cpu,
                    "requests.memory": quota.requests_memory,
                    "limits.cpu": quota.limits_cpu,
                    "limits.memory": quota.limits_memory,
                    "pods": str(quota.pods),
                    "persistentvolumeclaims": str(quota.persistent_volume_claims),
                    "services.loadbalancers": str(quota.load_balancer_services),
                    # NodePorts open a port on every node, around the load balancers and their TLS.
                    "services.nodeports": "0",
                }
            ),
            opts=inside,
        )
        k8s.core.v1.LimitRange(
            f"{namespace}-limits",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="container-defaults", namespace=created.metadata.name),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        # A container without requests or limits gets these, so the quota (which
                        # needs them) admits it and the scheduler places it by a real size.
                        default_request={"cpu": quota.default_request_cpu, "memory": quota.default_request_memory},
                        default={"cpu": quota.default_limit_cpu, "memory": quota.default_limit_memory},
                        max={"cpu": quota.max_cpu, "memory": quota.max_memory},
                    )
                ]
            ),
            opts=inside,
        )
