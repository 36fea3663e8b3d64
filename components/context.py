"""The stack context: what every component needs to know about where it is built, passed as one argument.

Naming, region, tags and the account's facts (id, partition, DNS suffix) are the same for every component
of a stack. They travel together in one frozen ``StackContext`` instead of being declared in every Args
class and passed to every component one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.naming import Naming


@dataclass(frozen=True)
class Account:
    """The AWS account and partition the stack runs in, as the provider reports them.

    Service principals, endpoint service names and ARNs are built from these, never from the
    commercial partition's literals: ``amazonaws.com`` is ``amazonaws.com.cn`` in China, and
    ``arn:aws:`` is ``arn:aws-us-gov:`` in GovCloud.
    """

    id: str
    """The 12-digit account id."""
    partition: str
    """aws, aws-cn, aws-us-gov, ..."""
    dns_suffix: str
    """amazonaws.com in the commercial partition."""
    reverse_dns_prefix: str
    """com.amazonaws in the commercial partition: the start of VPC endpoint service names."""

    @property
    def root(self) -> str:
        """The account's root principal: in a key policy it delegates to the account's IAM policies."""
        return f"arn:{self.partition}:iam::{self.id}:root"

    def arn(self, service: str, region: str, resource: str) -> str:
        """An ARN of this account: arn:<partition>:<service>:<region>:<account>:<resource>."""
        return f"arn:{self.partition}:{service}:{region}:{self.id}:{resource}"

    def service_principal(self, service: str, region: str | None = None) -> str:
        """``vpc-flow-logs.amazonaws.com``, or with a region ``logs.ca-central-1.amazonaws.com``."""
        return f"{service}.{region}.{self.dns_suffix}" if region else f"{service}.{self.dns_suffix}"

    def endpoint_service(self, service: str, region: str) -> str:
        """The VPC endpoint service name of ``service`` (com.amazonaws.<region>.<service>)."""
        return f"{self.reverse_dns_prefix}.{region}.{service}"

    def role_arn(self, name: str) -> str:
        """The ARN of this account's IAM role ``name`` (or ``path/name``), built from its name: a document that
        names a role this way is known in a first preview, unlike one computed from the role's outputs (the
        engine does not run an invoke whose inputs come from a resource still being created).

        In a key policy, KMS stores the role by its unique id: a role deleted and recreated under the same
        name is no longer the one the policy names, though the text Pulumi holds is unchanged. Replace the
        key's policy (change and restore it) after recreating such a role by hand."""
        return f"arn:{self.partition}:iam::{self.id}:role/{name}"

    def managed_policy_arn(self, policy: str) -> str:
        """The ARN of an AWS-managed IAM policy (``service-role/AmazonEBSCSIDriverPolicy``)."""
        return f"arn:{self.partition}:iam::aws:policy/{policy}"


@dataclass(frozen=True)
class StackContext:
    """Where a component is built: one argument instead of the same fields in every Args class."""

    naming: Naming
    """Physical names of the stack's resources."""
    region: str
    """Region of the stack's AWS provider."""
    account: pulumi.Output[Account]
    """Account, partition and DNS suffix, from the provider's data sources."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """The stack's tags. The provider's default_tags put them on every AWS resource; they are here for
    what default tags do not reach (a launch template's tag specifications, Kubernetes labels)."""

    def iam_role_name(self, purpose: str) -> str:
        """The physical name of an IAM role.

        IAM is global: the region in the name keeps the stacks of two regions (and the DR region's
        resources) apart.
        """
        return self.naming.name(f"{purpose}-{self.region}", "iam-role")


def stack_context(naming: Naming, region: str, tags: Mapping[str, str], provider: aws.Provider) -> StackContext:
    """The context of a stack whose AWS resources go through ``provider``."""
    invoke = pulumi.InvokeOutputOptions(provider=provider)
    caller = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    account = pulumi.Output.all(
        caller.account_id, partition.partition, partition.dns_suffix, partition.reverse_dns_prefix
    ).apply(lambda v: Account(id=v[0], partition=v[1], dns_suffix=v[2], reverse_dns_prefix=v[3]))
    return StackContext(naming=naming, region=region, account=account, tags=dict(tags))


class ArgumentError(pulumi.InputPropertyError):
    """A component argument that cannot work: the SDK's input-property error, naming the property, with a
    message (the SDK's own carries none, so the program's error output would not say what is wrong)."""

    def __init__(self, args_class: str, property_path: str, reason: str) -> None:
        super().__init__(property_path, reason)
        self.args = (f"{args_class}.{property_path}: {reason}",)
