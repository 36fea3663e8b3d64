"""IRSA (IAM roles for service accounts): the one way this code base gives pods AWS permissions.

Why IRSA and not EKS Pod Identity (both are installed: the OIDC provider for IRSA, the
eks-pod-identity-agent add-on for teams and charts that want Pod Identity later):

- The scope is in the role itself. An IRSA trust policy names the one
  ``system:serviceaccount:<namespace>:<name>`` that may assume the role, so a
  reviewer (and the policy pack's ``aws-iam-role-disallow-unscoped-pod-trust``)
  sees from the role alone who can use it. A Pod Identity role trusts
  ``pods.eks.amazonaws.com`` for the whole account; which service account gets
  it is decided by a separate association that no IAM review looks at.
- It needs nothing running on the nodes: credentials come from STS (through
  the VPC's STS endpoint), not from an agent DaemonSet, so a role works as soon
  as a pod starts, including the VPC CNI's own pods before any other add-on.
- Every AWS SDK and every chart we run supports it; Pod Identity needs recent SDKs.

The cost, one OIDC provider per cluster (IAM allows 100 per account), does not
matter at our scale. Pods never use the node's role: the nodes' metadata hop
limit is 1, so only host-network pods reach the instance metadata service.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.context import Account, ArgumentError, StackContext
from components.policies import Condition, Principal, Statement, policy_json

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class ClusterOidc:
    """What a pod role's trust policy needs of a cluster (``Cluster.oidc``)."""

    provider_arn: pulumi.Input[str]
    """ARN of the cluster's IAM OIDC provider: the Federated principal."""
    issuer: pulumi.Input[str]
    """The cluster's OIDC issuer URL (https://oidc.eks.<region>.amazonaws.com/id/<id>)."""


@dataclass(frozen=True)
class PodRole:
    """A pod role and what grants it its permissions (wait for these before its pods need them)."""

    role: aws.iam.Role
    grants: list[pulumi.Resource] = field(default_factory=list)


def pod_role(
    name: str,
    *,
    purpose: str,
    context: StackContext,
    oidc: ClusterOidc,
    namespace: str,
    service_account: str,
    statements: pulumi.Input[Sequence[Statement]] = (),
    managed_policies: Sequence[str] = (),
    parent: pulumi.Resource,
) -> PodRole:
    """An IAM role that only the service account ``namespace/service_account`` of one cluster can assume.

    ``name`` names the children (role, inline policy, attachments); ``purpose`` the role itself
    (``<project>-<stack>-<purpose>-<region>``). ``statements`` become the role's inline policy: name
    exact ARNs. ``managed_policies`` names AWS-managed policies (``service-role/AmazonEBSCSIDriverPolicy``),
    only for AWS's own add-ons, whose policies AWS keeps in step with them. Annotate the service account
    with ``eks.amazonaws.com/role-arn: <role.arn>``.
    """
    for prop, value in (("namespace", namespace), ("service_account", service_account)):
        if not _DNS_LABEL.match(value):
            raise ArgumentError("pod_role", prop, f"{value!r} is not a Kubernetes name (a DNS label), for {name}")
    child = pulumi.ResourceOptions(parent=parent)
    trust = pulumi.Output.all(oidc.provider_arn, oidc.issuer).apply(
        lambda v: _trust_statements(v[0], v[1], namespace, service_account)
    )
    role = aws.iam.Role(
        name,
        aws.iam.RoleArgs(
            name=context.iam_role_name(purpose),
            description=f"IRSA role of {namespace}/{service_account}",
            assume_role_policy=policy_json(parent, trust),
        ),
        opts=child,
    )
    grants: list[pulumi.Resource] = []
    # An empty list (an add-on with only its AWS-managed policy) writes no inline policy.
    if not (isinstance(statements, Sequence) and not statements):
        document = pulumi.Output.from_input(statements).apply(list)
        grants.append(
            aws.iam.RolePolicy(
                name, aws.iam.RolePolicyArgs(role=role.id, policy=policy_json(parent, document)), opts=child
            )
        )
    for policy in managed_policies:
        grants.append(
            aws.iam.RolePolicyAttachment(
                f"{name}-{kebab(policy)}",
                aws.iam.RolePolicyAttachmentArgs(
                    role=role.name,
                    policy_arn=context.account.apply(functools.partial(Account.managed_policy_arn, policy=policy)),
                ),
                opts=child,
            )
        )
    return PodRole(role=role, grants=grants)


def kebab(policy: str) -> str:
    """service-role/AmazonEBSCSIDriverPolicy -> amazon-ebs-csi-driver-policy (for resource names)."""
    policy = policy.rsplit("/", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", policy).replace("_", "-").lower()


def _trust_statements(provider_arn: str, issuer: str, namespace: str, service_account: str) -> list[Statement]:
    host = issuer.removeprefix("https://")
    return [
        Statement(
            sid="OneServiceAccount",
            actions=["sts:AssumeRoleWithWebIdentity"],
            principals=[Principal(type="Federated", identifiers=[provider_arn])],
            conditions=[
                # StringEquals, never StringLike: exactly this service account.
                Condition(
                    test="StringEquals",
                    variable=f"{host}:sub",
                    values=[f"system:serviceaccount:{namespace}:{service_account}"],
                ),
                # The token was minted for STS, not for some other audience.
                Condition(test="StringEquals", variable=f"{host}:aud", values=["sts.amazonaws.com"]),
            ],
        )
    ]
