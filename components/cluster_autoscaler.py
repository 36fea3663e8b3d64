"""Cluster Autoscaler: grows a managed node group when pods cannot be scheduled and shrinks it when
nodes stay underused, within the group's minSize and maxSize. The node groups stay the unit of capacity
(their instance types, labels and taints come from config); the autoscaler owns their desired size,
which the node groups ignore after creation (components/node_group.py).

- Discovery: the Auto Scaling groups EKS tags for every managed node group
  (k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/<cluster>), so no group is listed.
- Scale from zero: for a group at size 0 there is no node to copy labels and taints from; the
  autoscaler reads them from the managed node group (eks:DescribeNodegroup), so a pod that tolerates
  the compute group's taint grows that group from 0.
- Zones: every node group spans all the cluster's zones (one Auto Scaling group over the private
  subnets), and Auto Scaling balances its instances over them; balance-similar-node-groups keeps
  groups that differ only by zone-specific labels even, should zonal groups be added.
- The IRSA role may change only Auto Scaling groups tagged as this cluster's (owned), and read only
  this cluster's node groups; the Describe calls AWS cannot scope by resource are on "*".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.config import ClusterAutoscalerConfig
from components.context import Account, StackContext
from components.helm import CLUSTER_AUTOSCALER, NEEDS_API, RESTRICTED_CONTAINER, RESTRICTED_POD, resources, spread
from components.irsa import ClusterOidc, PodRole, pod_role
from components.policies import Condition, Statement

RELEASE = "cluster-autoscaler"
SERVICE_ACCOUNT = "cluster-autoscaler"
ROLE = "cluster-autoscaler"
METRICS_PORT = 8085
"""The chart's service port for /metrics."""
EXPANDER = "least-waste"
"""How the autoscaler picks the node group to grow: the one that leaves the least CPU and memory idle once
the pending pods fit, so a pod that tolerates the compute taint does not grow the big compute nodes when a
general node would do. (priority would need a priority list kept by hand in step with the node groups.)"""


def values(
    config: ClusterAutoscalerConfig, *, cluster_name: str, region: str, role_arn: str, node_selector: dict[str, str]
) -> dict[str, Any]:
    """The chart's values (every key is checked against the chart's values.yaml by a test)."""
    replicas = config.replicas
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "replicaCount": replicas,
        "rbac": {
            "serviceAccount": {
                "name": SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            }
        },
        "extraArgs": {
            "expander": EXPANDER,
            "balance-similar-node-groups": True,
            # EKS labels every node with its group's name; groups that differ only by it are similar.
            "balancing-ignore-label_1": "eks.amazonaws.com/nodegroup",
            "balancing-ignore-label_2": "eks.amazonaws.com/sourceLaunchTemplateId",
            # A node running a pod with local storage (an emptyDir) is still drained: pods here keep
            # nothing they need in emptyDirs (caches and /tmp).
            "skip-nodes-with-local-storage": False,
            # With more than one replica only the leader acts.
            "leader-elect": replicas > 1,
        },
        "podAnnotations": NEEDS_API,
        "securityContext": RESTRICTED_POD,
        "containerSecurityContext": RESTRICTED_CONTAINER,
        "resources": resources("100m", "300Mi", "500m"),
        "nodeSelector": node_selector,
        "topologySpreadConstraints": spread({"app.kubernetes.io/name": "aws-cluster-autoscaler"}),
        # The chart always renders its PDB (maxUnavailable 1): with one replica a drain still proceeds.
        "podDisruptionBudget": {"maxUnavailable": 1},
    }


def role_statements(account: Account, region: str, cluster_name: str) -> list[Statement]:
    """What the autoscaler may do (the Cluster Autoscaler's AWS guide, scoped to this cluster)."""
    return [
        Statement(
            sid="ResizeThisClustersGroups",
            actions=["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            resources=[account.arn("autoscaling", region, "autoScalingGroup:*:autoScalingGroupName/*")],
            # EKS tags the Auto Scaling group of each managed node group it creates for this cluster.
            conditions=[
                Condition(
                    test="StringEquals",
                    variable=f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}",
                    values=["owned"],
                ),
            ],
        ),
        Statement(
            sid="ReadThisClustersNodeGroups",
            # Labels and taints of a group at size 0.
            actions=["eks:DescribeNodegroup"],
            resources=[account.arn("eks", region, f"nodegroup/{cluster_name}/*/*")],
        ),
        Statement(
            sid="DiscoverGroupsAndInstanceTypes",
            # Read-only calls that accept no resource ARN (Service Authorization Reference).
            actions=[
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            resources=["*"],
        ),
    ]


@dataclass
class ClusterAutoscalerArgs:
    config: ClusterAutoscalerConfig
    context: StackContext
    oidc: ClusterOidc
    cluster_name: str
    """The EKS cluster's name (known before it exists: it is built from the stack's naming)."""
    namespace: str
    node_selector: dict[str, str]
    wait_for: list[pulumi.Resource]
    """The namespace object and the node groups (the autoscaler needs somewhere to run)."""


class ClusterAutoscaler(pulumi.ComponentResource):
    """The Cluster Autoscaler chart and its pod role."""

    role: PodRole

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:ClusterAutoscaler", name, None, opts)
        context = args.context
        self.role = pod_role(
            f"{name}-role",
            purpose=ROLE,
            context=context,
            oidc=args.oidc,
            namespace=args.namespace,
            service_account=SERVICE_ACCOUNT,
            statements=context.account.apply(lambda a: role_statements(a, context.region, args.cluster_name)),
            parent=self,
        )
        chart_values = context.account.apply(
            lambda a: values(
                args.config,
                cluster_name=args.cluster_name,
                region=context.region,
                role_arn=a.role_arn(context.iam_role_name(ROLE)),
                node_selector=args.node_selector,
            )
        )
        CLUSTER_AUTOSCALER.install(
            RELEASE,
            version=args.config.version,
            namespace=args.namespace,
            values=chart_values,
            parent=self,
            # The pods assume the role as soon as they start.
            depends_on=[*args.wait_for, *self.role.grants],
        )
        self.register_outputs({})
