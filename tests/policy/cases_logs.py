"""Fixtures for the CloudWatch Logs guardrails (the compliant group is the Network's flow-log group)."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG_GROUP = {
    "kmsKeyId": "arn:aws:kms:ca-central-1:123456789012:key/941a1111-5994-f9fb-9acc-0045d4cef1c3",
    "retentionInDays": 365,
    "name": "/aws/vpc/platform-prod/flow-logs",
}

CASES = [
    Case(
        policy="aws-cloudwatch-loggroup-missing-retention",
        type=LOG_GROUP,
        compliant=FLOW_LOG_GROUP,
        violating={"unset": {"retentionInDays": DELETE}, "zero": {"retentionInDays": 0}},
        expect={"unset": "retentionInDays is not set", "zero": "retentionInDays is 0"},
        unknown=["retentionInDays"],
    ),
    Case(
        policy="aws-cloudwatch-loggroup-missing-kms-key",
        type=LOG_GROUP,
        compliant=FLOW_LOG_GROUP,
        violating={"no-key": {"kmsKeyId": DELETE}, "empty-key": {"kmsKeyId": ""}},
        expect={"no-key": "no kmsKeyId", "empty-key": "the log group has no kmsKeyId"},
        unknown=["kmsKeyId"],
    ),
]
