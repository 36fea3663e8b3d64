"""Guardrails: CloudWatch Logs (retention and encryption of log groups)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from guardrails.base import number, resource_rule

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@resource_rule(
    name="aws-cloudwatch-loggroup-missing-retention",
    description="Every log group must set retentionInDays to a positive number of days "
    "(unset or 0 keeps logs forever).",
    resource_types=[LOG_GROUP],
    severity=Severity.MEDIUM,
    control="AWS-FSBP CloudWatch.16",
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
    description="Every log group must be encrypted with a customer managed KMS key (kmsKeyId set).",
    resource_types=[LOG_GROUP],
    severity=Severity.MEDIUM,
    remediation="Set kms_key_id to the ARN of a customer managed key whose policy lets "
    "logs.<region>.amazonaws.com use it for this log group (kms:EncryptionContext:aws:logs:arn).",
)
def _kms(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not props.get("kmsKeyId"):
        yield "the log group has no kmsKeyId: it is encrypted with a key AWS owns"
