"""Guardrails: CloudWatch Logs (retention and encryption of log groups, and how long audit logs are kept).

Audit-relevant groups are the EKS control-plane group (``/aws/eks/<cluster>/cluster``, the name EKS writes
to) and the groups VPC flow logs deliver to. A flow-log group is recognised through the
``aws:ec2/flowLog:FlowLog`` that names it (its logDestination ARN or, in a first preview, the property
dependency on the group), never by its name alone: any group can be called ``.../flow-logs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from guardrails.base import config_value, each, is_set, known_only, number, reference, resource_rule, stack_rule

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
EKS_CONTROL_PLANE = re.compile(r"^/aws/eks/[^/]+/cluster$")


@resource_rule(
    name="aws-cloudwatch-loggroup-missing-retention",
    description="Every log group must set retentionInDays to a positive number of days "
    "(unset or 0 keeps logs forever, and pays for them forever). Not AWS-FSBP CloudWatch.16: that control "
    "counts never-expiring groups as compliant; it is aws-cloudwatch-loggroup-configure-audit-retention's.",
    resource_types=[LOG_GROUP],
    severity=Severity.MEDIUM,
    remediation="Set retention_in_days on the aws.cloudwatch.LogGroup to one of the values CloudWatch accepts "
    "(e.g. 365 for audit and flow logs, 30 for application logs).",
)
def _retention(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    days = props.get("retentionInDays")
    if days is None:
        yield "retentionInDays is not set: the logs are kept forever"
    elif number(days) <= 0:
        yield f"retentionInDays is {number(days):g}: the logs are kept forever"


@resource_rule(
    name="aws-cloudwatch-loggroup-missing-kms-key",
    description="Every log group must be encrypted with a customer managed KMS key (kmsKeyId set; a key not "
    "created yet counts: CloudWatch Logs accepts only customer managed keys).",
    resource_types=[LOG_GROUP],
    severity=Severity.MEDIUM,
    remediation="Set kms_key_id to the ARN of a customer managed key whose policy lets "
    "logs.<region>.amazonaws.com use it for this log group (kms:EncryptionContext:aws:logs:arn).",
)
def _kms(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_set(props, "kmsKeyId"):
        yield "the log group has no kmsKeyId: it is encrypted with a key AWS owns"


def _group_arn_name(arn: str) -> str:
    """The group name in a log group ARN (``arn:aws:logs:<region>:<account>:log-group:<name>[:*]``)."""
    return arn.partition(":log-group:")[2].removesuffix(":*")


def _flow_log_groups(resources: list[PolicyResource]) -> tuple[set[str], set[str], Exception | None]:
    """Names and URNs of the groups flow logs deliver to, and the first unknown met on the way."""
    flow_logs = [r for r in resources if r.resource_type == FLOW_LOG]

    def read(flow_log: PolicyResource) -> tuple[set[str], frozenset[str]]:
        if str(flow_log.props.get("logDestinationType") or "cloud-watch-logs") != "cloud-watch-logs":
            return set(), frozenset()
        names = {str(flow_log.props["logGroupName"])} if flow_log.props.get("logGroupName") else set()
        target = reference(flow_log, "logDestination", [LOG_GROUP])
        return names | {_group_arn_name(v) for v in target.values}, target.urns

    found, unknown = known_only(flow_logs, read)
    names = {n for _, (group_names, _urns) in found for n in group_names}
    urns = {u for _, (_names, group_urns) in found for u in group_urns}
    return names, urns, unknown


def _short_retention(group: PolicyResource, why: str, minimum: float) -> Iterator[tuple[str, str | None]]:
    days = group.props.get("retentionInDays")
    if days is not None and 0 < number(days) < minimum:
        yield (
            f"{why} {group.props.get('name') or group.name} keeps its logs {number(days):g} days; "
            f"audit logs are kept at least {minimum:g}",
            group.urn,
        )


@stack_rule(
    name="aws-cloudwatch-loggroup-configure-audit-retention",
    description="Audit-relevant log groups must keep their logs at least minimumAuditRetentionDays (default "
    "365, the default of AWS-FSBP CloudWatch.16; never-expiring groups comply): the EKS control-plane group "
    "(/aws/eks/<cluster>/cluster) and every group a VPC flow log (aws:ec2/flowLog:FlowLog) delivers to, "
    "recognised through the flow log's logDestination, not by name. dev lowers the minimum in its policy "
    "config (its flow logs keep 30 days), so the rule stays a security rule, mandatory in both stacks.",
    resource_types=[LOG_GROUP, FLOW_LOG],
    severity=Severity.MEDIUM,
    control="AWS-FSBP CloudWatch.16",
    config={"minimumAuditRetentionDays": {"type": "integer", "default": 365}},
    remediation="Set retention_in_days on the group to at least the minimum (365 in prod: network."
    "flowLogsRetentionDays and cluster.logRetentionDays in the stack config), or 0 to never expire.",
)
def _audit_retention(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    minimum = number(config_value(args, "minimumAuditRetentionDays", 365))
    names, urns, unknown = _flow_log_groups(resources)
    groups = [r for r in resources if r.resource_type == LOG_GROUP]

    def check(group: PolicyResource) -> Iterator[tuple[str, str | None]]:
        name = str(group.props.get("name") or "")
        if EKS_CONTROL_PLANE.match(name):
            yield from _short_retention(group, "EKS control-plane log group", minimum)
        elif group.urn in urns or (name and name in names):
            yield from _short_retention(group, "VPC flow-log group", minimum)

    yield from each(groups, check)
    if unknown is not None:
        raise unknown
