"""Fixtures for the KMS guardrails (the compliant key is the Network's flow-log key as previewed)."""

from __future__ import annotations

import json
from typing import Any

from tests.policy.harness import DELETE, Case

KEY = "aws:kms/key:Key"
ACCOUNT = "123456789012"
LOG_GROUP_ARN = f"arn:aws:logs:ca-central-1:{ACCOUNT}:log-group:/aws/vpc/platform-prod/flow-logs"

ADMINISTERS = {
    "Sid": "AccountAdministersKey",
    "Effect": "Allow",
    "Action": ["kms:*"],
    "Resource": ["*"],
    "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]},
}
LOGS_USE = {
    "Sid": "CloudWatchLogsUseForFlowLogGroup",
    "Effect": "Allow",
    "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
    "Resource": ["*"],
    "Principal": {"Service": ["logs.ca-central-1.amazonaws.com"]},
    "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [LOG_GROUP_ARN]}},
}
# The pattern of AWS managed keys: anyone, but only from this account and through one service.
VIA_EBS = {
    "Sid": "AccountUsesKeyThroughEbs",
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant"],
    "Resource": "*",
    "Principal": {"AWS": "*"},
    "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.ca-central-1.amazonaws.com"}},
}


def key_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def _with(statement: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**statement, **changes}


FLOW_LOG_KEY = {
    "enableKeyRotation": True,
    "policy": key_policy(ADMINISTERS, LOGS_USE),
    "description": "platform-prod VPC flow logs",
    "deletionWindowInDays": 30,
}

CASES = [
    Case(
        policy="aws-kms-key-enable-key-rotation",
        type=KEY,
        compliant=FLOW_LOG_KEY,
        violating={"rotation-off": {"enableKeyRotation": False}, "rotation-unset": {"enableKeyRotation": DELETE}},
        expect={"rotation-off": "rotation is off"},
        unknown=["enableKeyRotation"],
    ),
    Case(
        policy="aws-kms-key-enable-key-rotation",
        type=KEY,
        compliant={
            "description": "platform-prod release signing",
            "customerMasterKeySpec": "ECC_NIST_P256",
            "keyUsage": "SIGN_VERIFY",
            "enableKeyRotation": False,
            "policy": key_policy(ADMINISTERS),
        },
        violating={"symmetric-without-rotation": {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}},
    ),
    Case(
        policy="aws-kms-key-disallow-wildcard-principal",
        type=KEY,
        compliant=FLOW_LOG_KEY,
        violating={
            "aws-star": {
                "policy": key_policy(ADMINISTERS, LOGS_USE, _with(ADMINISTERS, Sid="Anyone", Principal={"AWS": "*"}))
            },
            "bare-star": {"policy": key_policy(ADMINISTERS, _with(LOGS_USE, Principal="*", Condition={}))},
            "star-in-list": {
                "policy": key_policy(
                    _with(ADMINISTERS, Principal={"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}), LOGS_USE
                )
            },
            "not-principal": {
                "policy": key_policy(
                    ADMINISTERS,
                    LOGS_USE,
                    {
                        "Effect": "Allow",
                        "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"},
                        "Action": "kms:Decrypt",
                        "Resource": "*",
                    },
                )
            },
        },
        expect={"aws-star": "statement 'Anyone' allows a wildcard principal", "not-principal": "Statement[2]"},
    ),
    Case(
        policy="aws-kms-key-disallow-wildcard-principal",
        type=KEY,
        compliant={**FLOW_LOG_KEY, "policy": key_policy(ADMINISTERS, VIA_EBS)},
        violating={
            "only-via-service": {
                "policy": key_policy(
                    ADMINISTERS,
                    _with(VIA_EBS, Condition={"StringEquals": {"kms:ViaService": "ec2.ca-central-1.amazonaws.com"}}),
                )
            },
            "if-exists": {
                "policy": key_policy(
                    ADMINISTERS, _with(VIA_EBS, Condition={"StringEqualsIfExists": {"kms:CallerAccount": ACCOUNT}})
                )
            },
            "negated": {
                "policy": key_policy(
                    ADMINISTERS, _with(VIA_EBS, Condition={"StringNotEquals": {"kms:CallerAccount": "111122223333"}})
                )
            },
            "wildcard-account": {
                "policy": key_policy(ADMINISTERS, _with(VIA_EBS, Condition={"StringLike": {"kms:CallerAccount": "*"}}))
            },
            "principal-arn-any-account": {
                "policy": key_policy(
                    ADMINISTERS, _with(VIA_EBS, Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}})
                )
            },
        },
        expect={"only-via-service": "'AccountUsesKeyThroughEbs' allows a wildcard principal"},
    ),
    Case(
        policy="aws-kms-key-disallow-wildcard-principal",
        type=KEY,
        compliant={
            **FLOW_LOG_KEY,
            "policy": key_policy(
                ADMINISTERS,
                _with(
                    VIA_EBS, Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/platform-prod-*"}}
                ),
                _with(VIA_EBS, Sid="Org", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}),
                {
                    "Sid": "DenyOthers",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}},
                },
            ),
        },
        violating={
            "org-wildcard": {
                "policy": key_policy(
                    ADMINISTERS, _with(VIA_EBS, Sid="Org", Condition={"StringLike": {"aws:PrincipalOrgID": "o-*"}})
                )
            }
        },
        expect={"org-wildcard": "'Org'"},
    ),
]
