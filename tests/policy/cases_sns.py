"""Fixtures for the SNS guardrails (the compliant topic and policy are the alarm topic's, as the Alarms build them)."""

from __future__ import annotations

import json
from typing import Any

from tests.policy.harness import DELETE, Case, unknown

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:ca-central-1:{ACCOUNT}:platform-prod-alarms"
KEY_ARN = f"arn:aws:kms:ca-central-1:{ACCOUNT}:key/cd649dff-9aa9-ce7f-386e-57f4ee4f63ae"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


ACCOUNT_MANAGES = {
    "Sid": "AccountManagesTopic",
    "Effect": "Allow",
    "Action": ["sns:GetTopicAttributes", "sns:Publish", "sns:SetTopicAttributes", "sns:Subscribe"],
    "Resource": [TOPIC_ARN],
    "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]},
}
ALARMS_PUBLISH = {
    "Sid": "CloudWatchAlarmsPublish",
    "Effect": "Allow",
    "Action": ["sns:Publish"],
    "Resource": [TOPIC_ARN],
    "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
    "Condition": {
        "StringEquals": {"aws:SourceAccount": [ACCOUNT]},
        "ArnLike": {"aws:SourceArn": [f"arn:aws:cloudwatch:ca-central-1:{ACCOUNT}:alarm:*"]},
    },
}
# Anyone, but only for events of our own S3 buckets: scoped by the source account.
S3_EVENTS = {
    "Sid": "BucketEvents",
    "Effect": "Allow",
    "Action": "sns:Publish",
    "Resource": TOPIC_ARN,
    "Principal": {"AWS": "*"},
    "Condition": {"StringEquals": {"aws:SourceOwner": ACCOUNT}},
}
ALARM_TOPIC_POLICY = {"arn": TOPIC_ARN, "policy": document(ACCOUNT_MANAGES, ALARMS_PUBLISH, S3_EVENTS)}

CASES = [
    Case(
        policy="aws-sns-topic-missing-kms-key",
        type=TOPIC,
        compliant={"name": "platform-prod-alarms", "kmsMasterKeyId": KEY_ARN},
        violating={
            "no-key": {"kmsMasterKeyId": DELETE},
            "aws-managed": {"kmsMasterKeyId": "alias/aws/sns"},
            "aws-managed-arn": {"kmsMasterKeyId": f"arn:aws:kms:ca-central-1:{ACCOUNT}:alias/aws/sns"},
        },
        expect={
            "no-key": "the topic has no kmsMasterKeyId",
            "aws-managed": "encrypted with the AWS managed key alias/aws/sns",
            "aws-managed-arn": "encrypted with the AWS managed key alias/aws/sns",
        },
        unknown=[],
    ),
    Case(
        # A first preview: the topic's key is created with the stack.
        policy="aws-sns-topic-missing-kms-key",
        type=TOPIC,
        compliant={"name": "platform-prod-alarms", "kmsMasterKeyId": unknown()},
        violating={"empty": {"kmsMasterKeyId": ""}},
        expect={"empty": "the topic has no kmsMasterKeyId"},
        unknown=[],
    ),
    Case(
        policy="aws-sns-topic-disallow-public-policy",
        type=TOPIC_POLICY,
        compliant=ALARM_TOPIC_POLICY,
        violating={
            "anyone-publishes": {
                "policy": document(ACCOUNT_MANAGES, {**ALARMS_PUBLISH, "Principal": "*", "Condition": {}})
            },
            "source-owner-wildcard": {
                "policy": document(
                    ACCOUNT_MANAGES, {**S3_EVENTS, "Condition": {"StringLike": {"aws:SourceOwner": "*"}}}
                )
            },
            "if-exists": {
                "policy": document(
                    ACCOUNT_MANAGES,
                    {**S3_EVENTS, "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}},
                )
            },
        },
        expect={
            "anyone-publishes": "statement 'CloudWatchAlarmsPublish' allows any principal without",
            "source-owner-wildcard": "statement 'BucketEvents' allows any principal",
            "if-exists": "statement 'BucketEvents' allows any principal",
        },
    ),
    Case(
        policy="aws-sns-topic-disallow-public-policy",
        type=TOPIC,
        compliant={"name": "platform-prod-alarms", "kmsMasterKeyId": KEY_ARN, "policy": ALARM_TOPIC_POLICY["policy"]},
        violating={"org-any": {"policy": document({**S3_EVENTS, "Sid": "", "Condition": {}})}},
        expect={"org-any": "Statement[0] allows any principal without an aws:SourceAccount"},
    ),
]
