"""Guardrails: SNS topics (encryption with a customer key, and who the topic policy lets publish).

A topic's access policy is either the topic's own ``policy`` input or an
``aws:sns/topicPolicy:TopicPolicy``; both are checked alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity
from pulumi_policy.proxy import UnknownValueError

from guardrails.base import as_document, as_list, is_set, resource_rule, statements
from guardrails.iam import POSITIVE_OPERATORS, any_principal, is_allow, scoped_condition_keys, statement_label

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
AWS_MANAGED_KEY = "alias/aws/sns"


def is_aws_managed_key(props: Mapping[str, Any], key: str, alias: str) -> bool:
    """Whether a key property names an AWS managed key by its alias (``alias/aws/sns`` or its ARN).

    A value not known yet is a key this program creates (an AWS managed alias is a literal), so it is not.
    """
    try:
        value = str(props.get(key) or "")
    except UnknownValueError:
        return False
    return value == alias or value.endswith(f":{alias}")


@resource_rule(
    name="aws-sns-topic-missing-kms-key",
    description="Every SNS topic must be encrypted with a customer managed KMS key: kmsMasterKeyId set (a key "
    "not created yet counts) and not the AWS managed alias/aws/sns, whose key policy cannot let CloudWatch "
    "alarms or RDS events publish and cannot be restricted.",
    resource_types=[TOPIC],
    severity=Severity.MEDIUM,
    remediation="Set kms_master_key_id to the ARN of a customer managed key whose policy lets the publishing "
    "services (cloudwatch.amazonaws.com, events.rds.amazonaws.com) call kms:GenerateDataKey* and kms:Decrypt.",
)
def _topic_key(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_set(props, "kmsMasterKeyId"):
        yield "the topic has no kmsMasterKeyId: messages are stored unencrypted"
    elif is_aws_managed_key(props, "kmsMasterKeyId", AWS_MANAGED_KEY):
        yield f"the topic is encrypted with the AWS managed key {AWS_MANAGED_KEY}, not a customer managed key"


SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:principalorgid"}


def _source_owner(statement: Mapping[str, Any]) -> bool:
    """Whether a statement requires aws:SourceOwner (the account of an S3 or SES source) to be one literal id."""
    condition = statement.get("Condition") or {}
    for operator, entries in condition.items() if isinstance(condition, Mapping) else []:
        if str(operator).lower().removeprefix("foranyvalue:") not in POSITIVE_OPERATORS:
            continue
        for key, values in entries.items() if isinstance(entries, Mapping) else []:
            listed = [str(v) for v in as_list(values)]
            if str(key).lower() == "aws:sourceowner" and listed and all(v.isdigit() and len(v) == 12 for v in listed):
                return True
    return False


@resource_rule(
    name="aws-sns-topic-disallow-public-policy",
    description='A topic policy (the topic\'s policy input or a TopicPolicy) must not allow any principal ("*", '
    '{"AWS": "*"} or NotPrincipal) unless the same statement pins the source: aws:SourceAccount, aws:SourceArn '
    "(with a literal account), aws:SourceOwner or aws:PrincipalOrgID, under a positive operator and without "
    "wildcards in account ids.",
    resource_types=[TOPIC, TOPIC_POLICY],
    severity=Severity.HIGH,
    remediation="Name the publishing principals (Service: cloudwatch.amazonaws.com, events.rds.amazonaws.com, "
    "or account roots), or keep Principal '*' only with Condition StringEquals {'aws:SourceAccount': "
    "'<account id>'} and ArnLike {'aws:SourceArn': '<the source ARN>'}.",
    first_preview="needs-values",
)
def _topic_policy(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    # A topic without a policy input has the default policy: the owner account only.
    for index, statement in enumerate(statements(as_document(props.get("policy")))):
        if not is_allow(statement) or not any_principal(statement):
            continue
        if scoped_condition_keys(statement) & SOURCE_KEYS or _source_owner(statement):
            continue
        label = statement_label(statement, index)
        yield (
            f"{label} allows any principal without an aws:SourceAccount, aws:SourceArn, aws:SourceOwner or "
            "aws:PrincipalOrgID condition"
        )
