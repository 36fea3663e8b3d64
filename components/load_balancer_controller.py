"""AWS Load Balancer Controller: an ALB for each Ingress (by IngressClass) and an NLB for each Service
of type LoadBalancer.

- Region and VPC are given, so the controller never asks the instance metadata service (which the
  nodes' hop limit of 1 keeps from pods anyway). The VPC is given by its Name tag (``vpcTags``; the
  controller looks it up with ec2:DescribeVpcs), not by its id: the name is known before the VPC
  exists, the id is not, and the provider renders nothing of a chart while a value is unknown, so with
  the id a new stack's first preview would show and judge none of the controller's objects.
- Two IngressClasses: ``alb`` (the default), whose IngressClassParams pin the scheme to internal, and,
  only when the stack lists namespaces in ``addons.loadBalancerController.internetFacingNamespaces``,
  ``alb-internet-facing``, whose params pin internet-facing and admit only those namespaces. Both pin the
  TLS policy of HTTPS listeners (TLS 1.2 at least); the controller's default does the same for
  Services.
- The IRSA role is the controller's documented policy (docs/install/iam_policy.json of the
  controller) with its tag conditions narrowed from "has an elbv2.k8s.aws/cluster tag" to "tagged for
  this cluster", and ARNs narrowed to this account and region. What the documented policy leaves
  unscoped stays so (listeners and rules, which carry no tag; target registration; rules on the node
  security group; WAF and Shield, authorized against the ACL or protection too); creating, changing
  and deleting load balancers, target groups and security groups needs this cluster's tag.
- Teardown: see ``LoadBalancerController.ingress_wait`` and the README ("How to tear down").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import LoadBalancerControllerConfig
from components.context import Account, StackContext
from components.helm import LOAD_BALANCER_CONTROLLER, NEEDS_API, RESTRICTED_CONTAINER, RESTRICTED_POD, resources, spread
from components.irsa import ClusterOidc, PodRole, pod_role
from components.policies import Condition, Statement

RELEASE = "aws-load-balancer-controller"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
ROLE = "aws-load-balancer-controller"
WEBHOOK_PORT = 9443
METRICS_PORT = 8080
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
"""The tag the controller puts on every load balancer, target group and security group it creates."""
INTERNAL_CLASS = "alb"
INTERNET_FACING_CLASS = "alb-internet-facing"


def values(
    config: LoadBalancerControllerConfig,
    *,
    cluster_name: str,
    region: str,
    vpc_name: str,
    role_arn: str,
    node_selector: dict[str, str],
) -> dict[str, Any]:
    """The chart's values (every key is checked against the chart's values.yaml by a test)."""
    replicas = config.replicas
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcTags": {"Name": vpc_name},
        "replicaCount": replicas,
        "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # The default class, internal only; its params are created here (not by the chart) so that
        # the internet-facing class can sit beside it.
        "ingressClass": INTERNAL_CLASS,
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        "defaultLoadBalancerScheme": "internal",
        "defaultSSLPolicy": config.ssl_policy,
        # Pods are targets by IP (the VPC CNI gives them VPC addresses): no NodePort hop.
        "defaultTargetType": "ip",
        "podAnnotations": NEEDS_API,
        "podSecurityContext": RESTRICTED_POD,
        "securityContext": RESTRICTED_CONTAINER,
        "resources": resources("100m", "256Mi", "500m"),
        "nodeSelector": node_selector,
        "configureDefaultAffinity": False,
        "topologySpreadConstraints": spread({"app.kubernetes.io/name": "aws-load-balancer-controller"}),
        # Rendered only with more than one replica (the chart's own rule).
        "podDisruptionBudget": {"maxUnavailable": 1},
        "webhookBindPort": WEBHOOK_PORT,
        # The Service webhook sees every Service created anywhere, and fails them while no controller pod
        # is ready (first install, a lost SPOT node in dev): the other charts' Services would be refused
        # (aws-load-balancer-controller#4140). Ignored, a LoadBalancer Service created in that window
        # lacks the controller's loadBalancerClass; the quota holds those at 0 anyway.
        "serviceMutatorWebhookConfig": {"failurePolicy": "Ignore"},
        # Reuse the webhook's certificate when the provider can read the existing Secret (the chart's
        # `lookup`); without a cluster to ask, every render generates a new one (see README).
        "keepTLSSecret": True,
    }


def _elb(account: Account, region: str, resource: str) -> str:
    return account.arn("elasticloadbalancing", region, resource)


def role_statements(account: Account, region: str, cluster_name: str) -> list[Statement]:
    """The controller's documented policy, each write scoped to what this cluster's controller tagged."""
    ours = Condition(test="StringEquals", variable=f"aws:ResourceTag/{CLUSTER_TAG}", values=[cluster_name])
    tagging_ours = Condition(test="StringEquals", variable=f"aws:RequestTag/{CLUSTER_TAG}", values=[cluster_name])
    no_cluster_tag_in_request = Condition(test="Null", variable=f"aws:RequestTag/{CLUSTER_TAG}", values=["true"])
    security_groups = account.arn("ec2", region, "security-group/*")
    load_balancers = [_elb(account, region, "loadbalancer/app/*/*"), _elb(account, region, "loadbalancer/net/*/*")]
    target_groups = _elb(account, region, "targetgroup/*/*")
    return [
        Statement(
            sid="ElbServiceLinkedRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=["*"],
            conditions=[
                Condition(
                    test="StringEquals",
                    variable="iam:AWSServiceName",
                    values=[f"elasticloadbalancing.{account.dns_suffix}"],
                )
            ],
        ),
        Statement(
            sid="Discover",
            # Read-only calls that accept no resource ARN.
            actions=[
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:DescribeRouteTables",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "cognito-idp:DescribeUserPoolClient",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
            ],
            resources=["*"],
        ),
        Statement(
            sid="AttachWafAndShield",
            # Authorized against the web ACL or the protection too, which never carry the cluster's tag:
            # as the documented policy, on "*" without a condition.
            actions=[
                "waf-regional:AssociateWebACL",
                "waf-regional:DisassociateWebACL",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "shield:CreateProtection",
                "shield:DeleteProtection",
            ],
            resources=["*"],
        ),
        Statement(
            sid="SetWebAclOnOwnLoadBalancers",
            actions=["elasticloadbalancing:SetWebAcl"],
            resources=load_balancers,
            conditions=[ours],
        ),
        Statement(
            sid="OpenNodeSecurityGroupsToLoadBalancers",
            # Rules on the node security group (not created by the controller, so not tagged) that admit
            # the load balancers' own groups: the documented policy allows this on every group.
            actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            resources=[security_groups],
        ),
        Statement(
            sid="CreateTaggedSecurityGroups",
            actions=["ec2:CreateSecurityGroup"],
            resources=[security_groups, account.arn("ec2", region, "vpc/*")],
        ),
        Statement(
            sid="TagSecurityGroupsOnCreate",
            actions=["ec2:CreateTags"],
            resources=[security_groups],
            conditions=[
                Condition(test="StringEquals", variable="ec2:CreateAction", values=["CreateSecurityGroup"]),
                tagging_ours,
            ],
        ),
        Statement(
            sid="RetagOwnSecurityGroups",
            actions=["ec2:CreateTags", "ec2:DeleteTags"],
            resources=[security_groups],
            conditions=[no_cluster_tag_in_request, ours],
        ),
        Statement(
            sid="ManageOwnSecurityGroups",
            actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
            resources=[security_groups],
            conditions=[ours],
        ),
        Statement(
            sid="CreateTaggedLoadBalancers",
            actions=["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            resources=[*load_balancers, target_groups],
            conditions=[tagging_ours],
        ),
        Statement(
            sid="TagOnCreate",
            actions=["elasticloadbalancing:AddTags"],
            resources=[*load_balancers, target_groups],
            conditions=[
                Condition(
                    test="StringEquals",
                    variable="elasticloadbalancing:CreateAction",
                    values=["CreateTargetGroup", "CreateLoadBalancer"],
                ),
                tagging_ours,
            ],
        ),
        Statement(
            sid="RetagOwnLoadBalancers",
            actions=["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            resources=[*load_balancers, target_groups],
            conditions=[no_cluster_tag_in_request, ours],
        ),
        Statement(
            sid="ManageOwnLoadBalancers",
            actions=[
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools",
            ],
            resources=[*load_balancers, target_groups],
            conditions=[ours],
        ),
        Statement(
            sid="RegisterTargets",
            actions=["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            resources=[target_groups],
        ),
        Statement(
            sid="CreateListenersOnOwnLoadBalancers",
            actions=["elasticloadbalancing:CreateListener"],
            resources=load_balancers,
            conditions=[ours],
        ),
        Statement(
            sid="ManageListenersAndRules",
            # Listeners and rules carry no cluster tag of their own (as in the documented policy); their
            # ARNs name the load balancer. Tagging here reaches listeners and rules only, never a load
            # balancer (which would let the controller claim one it did not make).
            actions=[
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:RemoveTags",
            ],
            resources=[
                _elb(account, region, "listener/app/*/*/*"),
                _elb(account, region, "listener/net/*/*/*"),
                _elb(account, region, "listener-rule/app/*/*/*/*"),
                _elb(account, region, "listener-rule/net/*/*/*/*"),
            ],
        ),
    ]


@dataclass
class LoadBalancerControllerArgs:
    config: LoadBalancerControllerConfig
    context: StackContext
    oidc: ClusterOidc
    cluster_name: str
    vpc_name: str
    """The VPC's Name tag (unique to the stack: <project>-<stack>)."""
    namespace: str
    node_selector: dict[str, str]
    wait_for: list[pulumi.Resource]
    """The namespace object and the node groups."""
    network_path: Sequence[pulumi.Resource]
    """What the controller and its load balancers need until the last load balancer is deleted: the
    public subnets, the internet gateway and its route, the NAT gateways and the private egress routes
    (see ``ingress_wait``)."""


class LoadBalancerController(pulumi.ComponentResource):
    """The controller's chart, its pod role and the two IngressClasses."""

    role: PodRole
    ingress_wait: pulumi.Output[list[pulumi.Resource]]
    """Give every Ingress and every Service of type LoadBalancer ``depends_on=ingress_wait``: each
    object the controller's chart rendered (its Deployment, webhook, RBAC), and the IngressClasses. On
    ``pulumi destroy`` they are then deleted first, and the provider waits for each to be gone, which
    happens only after the controller has deleted its load balancer, target groups and security groups
    (the controller's finalizers); the controller itself, the node groups, the subnets and the VPC
    come after. (A dependency on the Chart component alone would not order them before its children.)"""

    def __init__(self, name: str, args: LoadBalancerControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:LoadBalancerController", name, None, opts)
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
                vpc_name=args.vpc_name,
                role_arn=a.role_arn(context.iam_role_name(ROLE)),
                node_selector=args.node_selector,
            )
        )
        chart = LOAD_BALANCER_CONTROLLER.install(
            RELEASE,
            version=args.config.version,
            namespace=args.namespace,
            values=chart_values,
            parent=self,
            # The network path: deleted only after the controller, so that it can still reach the
            # ELB API (through the NAT gateways) and its load balancers' subnets and addresses are
            # released before the subnets and the internet gateway go.
            depends_on=[*args.wait_for, *self.role.grants, *args.network_path],
        )
        classes = self._ingress_classes(args.config, chart)
        self.ingress_wait = chart.resources.apply(lambda rendered: [*(rendered or []), *classes])
        self.register_outputs({})

    def _ingress_classes(self, config: LoadBalancerControllerConfig, chart: k8s.helm.v4.Chart) -> list[pulumi.Resource]:
        # IngressClassParams is the controller's CRD, and its webhook validates them: after every object of
        # the chart, so that a destroy also deletes them while the controller still runs.
        after_chart = pulumi.ResourceOptions(parent=self, depends_on=chart.resources.apply(lambda r: list(r or [])))
        created: list[pulumi.Resource] = []
        schemes: list[tuple[str, str, dict[str, Any] | None, bool]] = [(INTERNAL_CLASS, "internal", None, True)]
        if config.internet_facing_namespaces:
            selector = {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": list(config.internet_facing_namespaces),
                    }
                ]
            }
            schemes.append((INTERNET_FACING_CLASS, "internet-facing", selector, False))
        for class_name, scheme, namespaces, default in schemes:
            spec: dict[str, Any] = {"scheme": scheme, "sslPolicy": config.ssl_policy, "ipAddressType": "ipv4"}
            if namespaces is not None:
                spec["namespaceSelector"] = namespaces
            params = k8s.apiextensions.CustomResource(
                f"{class_name}-params",
                api_version="elbv2.k8s.aws/v1beta1",
                kind="IngressClassParams",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name),
                spec=spec,
                opts=after_chart,
            )
            ingress_class = k8s.networking.v1.IngressClass(
                class_name,
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=class_name,
                    annotations={"ingressclass.kubernetes.io/is-default-class": "true" if default else "false"},
                ),
                spec=k8s.networking.v1.IngressClassSpecArgs(
                    controller="ingress.k8s.aws/alb",
                    parameters=k8s.networking.v1.IngressClassParametersReferenceArgs(
                        api_group="elbv2.k8s.aws", kind="IngressClassParams", name=class_name
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[params]),
            )
            created += [params, ingress_class]
        return created
