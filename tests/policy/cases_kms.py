"""Fixtures for the KMS guardrails (the compliant key is the Network's flow-log key as previewed)."""

from __future__ import annotations

import json
from typing import Any

from tests.policy.harness import DELETE, Case

KEY = "aws:kms/key:Key"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
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

EBS_CSI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/platform-prod-ebs-csi-driver-ca-central-1"
EBS_CSI_USE = {
    "Sid": "EncryptVolumes",
    "Effect": "Allow",
    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
    "Resource": ["*"],
    "Principal": {"AWS": [EBS_CSI_ROLE]},
}

CASES = [
    Case(
        # The cluster's volume key: the root administers it, a pod role uses it.
        policy="aws-kms-key-disallow-wildcard-actions",
        type=KEY,
        compliant={**FLOW_LOG_KEY, "policy": key_policy(ADMINISTERS, LOGS_USE, EBS_CSI_USE)},
        violating={
            "role-gets-kms-star": {"policy": key_policy(ADMINISTERS, LOGS_USE, _with(EBS_CSI_USE, Action=["kms:*"]))},
            "role-gets-star": {"policy": key_policy(ADMINISTERS, LOGS_USE, _with(EBS_CSI_USE, Action="*"))},
            "service-gets-not-action": {
                "policy": key_policy(
                    ADMINISTERS,
                    {k: v for k, v in LOGS_USE.items() if k != "Action"} | {"NotAction": ["kms:PutKeyPolicy"]},
                    EBS_CSI_USE,
                )
            },
        },
        expect={
            "role-gets-kms-star": f"statement 'EncryptVolumes' allows every KMS action to {EBS_CSI_ROLE}",
            "role-gets-star": f"statement 'EncryptVolumes' allows every KMS action to {EBS_CSI_ROLE}",
            "service-gets-not-action": "allows every KMS action to logs.ca-central-1.amazonaws.com",
        },
    ),
    Case(
        policy="aws-kms-key-enable-key-rotation",
        type=KEY,
        compliant=FLOW_LOG_KEY,
        violating={"rotation-off": {"enableKeyRotation": False}, "rotation-unset": {"enableKeyRotation": DELETE}},
        expect={"rotation-off": "rotation is off", "rotation-unset": "automatic key rotation is off"},
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
        expect={"symmetric-without-rotation": "automatic key rotation is off"},
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
        expect={
            "aws-star": "statement 'Anyone' allows a wildcard principal",
            "bare-star": "statement 'CloudWatchLogsUseForFlowLogGroup' allows a wildcard principal",
            "star-in-list": "statement 'AccountAdministersKey' allows a wildcard principal",
            "not-principal": "Statement[2] allows a wildcard principal without a condition pinning the account",
        },
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
        expect={
            "only-via-service": "'AccountUsesKeyThroughEbs' allows a wildcard principal",
            "if-exists": "'AccountUsesKeyThroughEbs' allows a wildcard principal",
            "negated": "'AccountUsesKeyThroughEbs' allows a wildcard principal",
            "wildcard-account": "'AccountUsesKeyThroughEbs' allows a wildcard principal",
            "principal-arn-any-account": "'AccountUsesKeyThroughEbs' allows a wildcard principal",
        },
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
    # A multi-Region replica key (rotation follows its primary) and a key policy managed on its own.
    Case(
        policy="aws-kms-key-disallow-wildcard-principal",
        type=REPLICA_KEY,
        compliant={
            "primaryKeyArn": f"arn:aws:kms:ca-central-1:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "description": "platform-prod backups (ca-west-1)",
            "deletionWindowInDays": 30,
            "policy": key_policy(ADMINISTERS, VIA_EBS),
        },
        violating={"aws-star": {"policy": key_policy(ADMINISTERS, _with(VIA_EBS, Condition={}))}},
        expect={"aws-star": "'AccountUsesKeyThroughEbs' allows a wildcard principal"},
        unknown=["policy"],
    ),
    Case(
        policy="aws-kms-key-disallow-wildcard-principal",
        type=KEY_POLICY,
        compliant={"keyId": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "policy": key_policy(ADMINISTERS, LOGS_USE)},
        violating={"bare-star": {"policy": key_policy(ADMINISTERS, _with(LOGS_USE, Principal="*", Condition={}))}},
        expect={"bare-star": "'CloudWatchLogsUseForFlowLogGroup' allows a wildcard principal"},
    ),
]

CASES += [
    Case(
        policy="aws-kms-key-disallow-policy-lockout-bypass",
        type=KEY,
        compliant=FLOW_LOG_KEY,
        violating={"bypass": {"bypassPolicyLockoutSafetyCheck": True}},
        expect={"bypass": "bypassPolicyLockoutSafetyCheck is true"},
    ),
    Case(
        policy="aws-kms-key-disallow-policy-lockout-bypass",
        type=KEY_POLICY,
        compliant={"keyId": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "policy": key_policy(ADMINISTERS)},
        violating={"bypass": {"bypassPolicyLockoutSafetyCheck": True}},
        expect={"bypass": "a policy that locks everyone out would be accepted"},
    ),
    Case(
        policy="aws-kms-key-configure-deletion-window",
        type=KEY,
        compliant=FLOW_LOG_KEY,
        violating={"seven-days": {"deletionWindowInDays": 7}},
        expect={"seven-days": "deletionWindowInDays is 7: at least 30 days are required"},
    ),
    Case(
        # Unset is KMS's default of 30 days; dev keeps the same minimum (its keys use 30), at advisory level.
        policy="aws-kms-key-configure-deletion-window",
        type=KEY,
        stack="dev",
        compliant={k: v for k, v in FLOW_LOG_KEY.items() if k != "deletionWindowInDays"},
        violating={"ten-days": {"deletionWindowInDays": 10}},
        expect={"ten-days": "deletionWindowInDays is 10"},
    ),
]
