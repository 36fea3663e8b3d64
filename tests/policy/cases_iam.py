"""Fixtures for the IAM guardrails (the compliant role and role policy are the Network's flow-log ones)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.policy.harness import Case, Res, StackCase

ROLE = "aws:iam/role:Role"
ACCOUNT = "123456789012"
LOG_GROUP_ARN = f"arn:aws:logs:ca-central-1:{ACCOUNT}:log-group:/aws/vpc/platform-prod/flow-logs"
ISSUER = "oidc.eks.ca-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
OIDC_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
WORKER_NODE = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


WRITE_FLOW_LOGS = {
    "Sid": "WriteFlowLogGroup",
    "Effect": "Allow",
    "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
    "Resource": [LOG_GROUP_ARN, f"{LOG_GROUP_ARN}:*"],
}
FIND_FLOW_LOGS = {
    "Sid": "FindFlowLogGroup",
    "Effect": "Allow",
    "Action": ["logs:DescribeLogGroups"],
    "Resource": [f"arn:aws:logs:ca-central-1:{ACCOUNT}:log-group:*"],
}
DENY_OUTSIDE_REGION = {
    "Sid": "DenyOutsideRegion",
    "Effect": "Deny",
    "NotAction": ["iam:*", "sts:*"],
    "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": "ca-central-1"}},
}
BACKUPS_BUT_DELETE = {
    "Sid": "BackupsOnly",
    "Effect": "Allow",
    "NotAction": "s3:DeleteBucket",
    "Resource": ["arn:aws:s3:::platform-prod-backups", "arn:aws:s3:::platform-prod-backups/*"],
}
ADMIN_STATEMENT = {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}

KEY = f"arn:aws:kms:ca-central-1:{ACCOUNT}:key/d73c80c9-1bbb-f0e0-249f-92f007e03c0e"
GRANT_KEY_TO_EBS = {
    "Sid": "GrantKeyToEbs",
    "Effect": "Allow",
    "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
    "Resource": [KEY],
    "Condition": {"Bool": {"kms:GrantIsForAWSResource": ["true"]}},
}
ENCRYPT_VOLUMES = {
    "Sid": "EncryptVolumes",
    "Effect": "Allow",
    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
    "Resource": [KEY],
}
EBS_CSI_ROLE_POLICY = {"policy": document(GRANT_KEY_TO_EBS, ENCRYPT_VOLUMES), "role": "platform-prod-ebs-csi-driver"}

FLOW_LOG_ROLE = {
    "description": "Lets VPC Flow Logs write to the flow log group",
    "assumeRolePolicy": document(
        {
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Principal": {"Service": ["vpc-flow-logs.amazonaws.com"]},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": [ACCOUNT]},
                "ArnLike": {"aws:SourceArn": [f"arn:aws:ec2:ca-central-1:{ACCOUNT}:vpc-flow-log/*"]},
            },
        }
    ),
    "name": "platform-prod-vpc-flow-logs",
}
FLOW_LOG_ROLE_POLICY = {"policy": document(WRITE_FLOW_LOGS, FIND_FLOW_LOGS), "role": "platform-prod-vpc-flow-logs"}


def irsa_trust(condition: dict[str, Any]) -> str:
    return document(
        {
            "Effect": "Allow",
            "Action": ["sts:AssumeRoleWithWebIdentity"],
            "Principal": {"Federated": [OIDC_PROVIDER]},
            "Condition": condition,
        }
    )


SA = "system:serviceaccount:external-dns:external-dns"
IRSA_ROLE = {
    "name": "platform-prod-external-dns",
    "description": "external-dns manages records in the platform zone",
    "assumeRolePolicy": irsa_trust({"StringEquals": {f"{ISSUER}:sub": [SA], f"{ISSUER}:aud": ["sts.amazonaws.com"]}}),
}


def pod_identity_trust(condition: dict[str, Any] | None) -> str:
    statement: dict[str, Any] = {
        "Sid": "EksPodIdentity",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Principal": {"Service": ["pods.eks.amazonaws.com"]},
    }
    if condition is not None:
        statement["Condition"] = condition
    return document(statement)


CLUSTER_ARN = f"arn:aws:eks:ca-central-1:{ACCOUNT}:cluster/platform-prod"
POD_IDENTITY_ROLE = {
    "name": "platform-prod-backup",
    "description": "The backup job writes dumps to the backup bucket",
    "assumeRolePolicy": pod_identity_trust(
        {"StringEquals": {"aws:SourceAccount": [ACCOUNT]}, "ArnEquals": {"aws:SourceArn": [CLUSTER_ARN]}}
    ),
}

CASES = [
    Case(
        policy="aws-iam-policy-disallow-admin-wildcard",
        type="aws:iam/rolePolicy:RolePolicy",
        compliant=FLOW_LOG_ROLE_POLICY,
        violating={
            "star-on-star": {"policy": document(WRITE_FLOW_LOGS, FIND_FLOW_LOGS, ADMIN_STATEMENT)},
            "star-colon-star": {"policy": document(WRITE_FLOW_LOGS, {**ADMIN_STATEMENT, "Action": ["*:*"], "Sid": ""})},
        },
        expect={
            "star-on-star": 'policy: statement \'Everything\' allows action "*" on resource "*"',
            "star-colon-star": "Statement[1] allows",
        },
    ),
    Case(
        policy="aws-iam-policy-disallow-admin-wildcard",
        type="aws:iam/policy:Policy",
        compliant={
            "name": "platform-prod-read-backups",
            "description": "Read the backup bucket",
            "policy": document(
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::platform-prod-backups/*"]},
                # Deny statements may be as broad as they like.
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                # "*" on specific resources, or service-wide actions on "*", are not this rule's concern.
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            ),
        },
        violating={
            "allow-star": {"policy": document(ADMIN_STATEMENT)},
            "not-action-on-star": {
                "policy": document(
                    {"Sid": "PowerUser", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}
                )
            },
            "not-action-not-resource": {
                "policy": document(
                    {
                        "Effect": "Allow",
                        "NotAction": "iam:*",
                        "NotResource": "arn:aws:s3:::platform-prod-backups/*",
                    }
                )
            },
            "star-on-not-resource": {
                "policy": document(
                    {"Effect": "Allow", "Action": "*", "NotResource": ["arn:aws:iam::123456789012:role/admin"]}
                )
            },
        },
        expect={
            "allow-star": 'policy: statement \'Everything\' allows action "*" on resource "*"',
            "not-action-on-star": "statement 'PowerUser' allows NotAction (iam:*, organizations:*: every other action) "
            'on resource "*"',
            "not-action-not-resource": "Statement[0] allows NotAction (iam:*: every other action) on NotResource",
            "star-on-not-resource": 'Statement[0] allows action "*" on NotResource (every other resource)',
        },
    ),
    Case(
        # NotAction on specific resources, or Deny with NotAction, is not administrator-equivalent.
        policy="aws-iam-policy-disallow-admin-wildcard",
        type="aws:iam/policy:Policy",
        compliant={
            "name": "platform-prod-deny-outside-region",
            "policy": document(DENY_OUTSIDE_REGION, BACKUPS_BUT_DELETE),
        },
        violating={
            "deny-becomes-allow": {"policy": document({**DENY_OUTSIDE_REGION, "Effect": "Allow"}, BACKUPS_BUT_DELETE)}
        },
        expect={"deny-becomes-allow": "statement 'DenyOutsideRegion' allows NotAction"},
    ),
    Case(
        # The EBS CSI driver's pod role as the cluster component grants it: patterns within a service, on the key.
        policy="aws-iam-policy-disallow-wildcard-actions",
        type="aws:iam/rolePolicy:RolePolicy",
        compliant=EBS_CSI_ROLE_POLICY,
        violating={
            "star-on-the-key": {"policy": document(GRANT_KEY_TO_EBS, {**ENCRYPT_VOLUMES, "Action": ["*"]})},
            "star-colon-star-on-the-key": {"policy": document(GRANT_KEY_TO_EBS, {**ENCRYPT_VOLUMES, "Action": "*:*"})},
            "not-action-on-the-key": {
                "policy": document(
                    GRANT_KEY_TO_EBS,
                    {"Sid": "AllButDelete", "Effect": "Allow", "NotAction": "kms:ScheduleKeyDeletion", "Resource": KEY},
                )
            },
            "kms-star-on-star": {
                "policy": document(GRANT_KEY_TO_EBS, {**ENCRYPT_VOLUMES, "Action": ["kms:*"], "Resource": "*"})
            },
            "iam-star-not-resource": {
                "policy": document(
                    GRANT_KEY_TO_EBS,
                    {"Effect": "Allow", "Action": ["s3:GetObject", "IAM:*"], "NotResource": [KEY]},
                )
            },
        },
        expect={
            "star-on-the-key": f"policy: statement 'EncryptVolumes' allows action \"*\" (every action of every "
            f"service) on {KEY}",
            "star-colon-star-on-the-key": "statement 'EncryptVolumes' allows action \"*\"",
            "not-action-on-the-key": "statement 'AllButDelete' allows NotAction (kms:ScheduleKeyDeletion: every "
            f"other action of every service) on {KEY}",
            "kms-star-on-star": "statement 'EncryptVolumes' allows kms:* (every action of the service) on "
            'resource "*"',
            "iam-star-not-resource": "Statement[1] allows iam:* (every action of the service) on NotResource",
        },
    ),
    Case(
        # A role's inline policies, and what the admin-wildcard rule reports already ("*" on "*"), or Deny.
        policy="aws-iam-policy-disallow-wildcard-actions",
        type=ROLE,
        compliant={
            **FLOW_LOG_ROLE,
            "inlinePolicies": [
                {"name": "flow-logs", "policy": FLOW_LOG_ROLE_POLICY["policy"]},
                {"name": "deny-all", "policy": document({"Effect": "Deny", "Action": "*", "Resource": "*"})},
                {"name": "admin", "policy": document(ADMIN_STATEMENT)},
            ],
        },
        violating={
            "s3-star": {
                "inlinePolicies.0.policy": document(
                    WRITE_FLOW_LOGS, {**FIND_FLOW_LOGS, "Action": "s3:*", "Resource": "*"}
                )
            }
        },
        expect={"s3-star": "inline policy 'flow-logs': statement 'FindFlowLogGroup' allows s3:*"},
    ),
    Case(
        policy="aws-iam-policy-disallow-unscoped-escalation-actions",
        type="aws:iam/policy:Policy",
        compliant={
            "name": "platform-prod-deployer",
            "policy": document(
                {
                    "Sid": "PassNodeRole",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": f"arn:aws:iam::{ACCOUNT}:role/platform-prod-nodes",
                    "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                },
                {"Sid": "ReadRoles", "Effect": "Allow", "Action": ["iam:GetRole", "iam:List*"], "Resource": "*"},
                # Service-wide and all-action wildcards are the other rules' findings.
                {"Effect": "Allow", "Action": ["iam:*", "sts:*"], "Resource": "*"},
            ),
        },
        violating={
            "pass-any-role": {
                "policy": document(
                    {
                        "Sid": "PassNodeRole",
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                    }
                )
            },
            "assume-any-role": {
                "policy": document({"Sid": "Hop", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
            },
            "pattern-on-not-resource": {
                "policy": document(
                    {
                        "Effect": "Allow",
                        "Action": ["iam:Get*", "IAM:Pass*"],
                        "NotResource": f"arn:aws:iam::{ACCOUNT}:role/admin",
                    }
                )
            },
            "rewrite-any-policy": {
                "policy": document(
                    {"Sid": "Policies", "Effect": "Allow", "Action": ["iam:CreatePolicyVersion"], "Resource": ["*"]}
                )
            },
        },
        expect={
            "pass-any-role": "policy: statement 'PassNodeRole' allows iam:PassRole on resource \"*\"",
            "assume-any-role": "statement 'Hop' allows sts:AssumeRole on resource \"*\"",
            "pattern-on-not-resource": "Statement[0] allows iam:PassRole on NotResource (every other resource)",
            "rewrite-any-policy": "statement 'Policies' allows iam:CreatePolicyVersion on resource \"*\"",
        },
    ),
    Case(
        policy="aws-iam-role-disallow-administrator-access",
        type="aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        compliant={"role": "platform-prod-nodes", "policyArn": WORKER_NODE},
        violating={
            "admin": {"policyArn": ADMIN},
            "admin-govcloud": {"policyArn": "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"},
        },
        expect={
            "admin": f"{ADMIN} is attached to a role",
            "admin-govcloud": "arn:aws-us-gov:iam::aws:policy/AdministratorAccess is attached to a role",
        },
    ),
    Case(
        policy="aws-iam-role-disallow-administrator-access",
        type=ROLE,
        compliant=FLOW_LOG_ROLE,
        violating={"managed-admin": {"managedPolicyArns": [WORKER_NODE, ADMIN]}},
        expect={"managed-admin": f"{ADMIN} is attached to a role"},
    ),
    Case(
        policy="aws-iam-role-disallow-administrator-access",
        type="aws:iam/policyAttachment:PolicyAttachment",
        compliant={"name": "admins", "policyArn": ADMIN, "groups": ["break-glass-admins"]},
        violating={"to-a-role": {"roles": ["platform-prod-app"]}},
        expect={"to-a-role": f"{ADMIN} is attached to a role"},
    ),
    Case(
        policy="aws-iam-role-disallow-administrator-access",
        type="aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        compliant={"roleName": "platform-prod-nodes", "policyArns": [WORKER_NODE]},
        violating={"exclusive-admin": {"policyArns": [WORKER_NODE, ADMIN]}},
        expect={"exclusive-admin": f"{ADMIN} is attached to a role"},
    ),
    Case(
        policy="aws-iam-role-disallow-unscoped-pod-trust",
        type=ROLE,
        compliant=IRSA_ROLE,
        violating={
            "string-like-wildcard": {
                "assumeRolePolicy": irsa_trust(
                    {
                        "StringEquals": {f"{ISSUER}:aud": ["sts.amazonaws.com"]},
                        "StringLike": {f"{ISSUER}:sub": ["system:serviceaccount:external-dns:*"]},
                    }
                )
            },
            "no-sub": {"assumeRolePolicy": irsa_trust({"StringEquals": {f"{ISSUER}:aud": ["sts.amazonaws.com"]}})},
            "no-condition": {"assumeRolePolicy": irsa_trust({})},
            "two-service-accounts": {
                "assumeRolePolicy": irsa_trust(
                    {"StringEquals": {f"{ISSUER}:sub": [SA, "system:serviceaccount:default:default"]}}
                )
            },
            "namespace-only": {
                "assumeRolePolicy": irsa_trust(
                    {"StringEquals": {f"{ISSUER}:sub": ["system:serviceaccount:external-dns"]}}
                )
            },
            "other-issuer": {
                "assumeRolePolicy": irsa_trust(
                    {"StringEquals": {"oidc.eks.ca-central-1.amazonaws.com/id/OTHERCLUSTER:sub": [SA]}}
                )
            },
        },
        expect={
            "string-like-wildcard": "matched with StringLike",
            "no-sub": "no StringEquals condition on",
            "two-service-accounts": "allows 2 subjects",
            "namespace-only": "not system:serviceaccount:<namespace>:<name>",
            "no-condition": "no StringEquals condition on",
            "other-issuer": "no StringEquals condition on oidc.eks.ca-central-1.amazonaws.com/id/EXAMPLE",
        },
    ),
    Case(
        policy="aws-iam-role-disallow-unscoped-pod-trust",
        type=ROLE,
        compliant=POD_IDENTITY_ROLE,
        violating={
            "no-condition": {"assumeRolePolicy": pod_identity_trust(None)},
            "if-exists": {
                "assumeRolePolicy": pod_identity_trust({"StringEqualsIfExists": {"aws:SourceAccount": [ACCOUNT]}})
            },
            "any-account-arn": {
                "assumeRolePolicy": pod_identity_trust({"ArnLike": {"aws:SourceArn": ["arn:aws:eks:*:*:cluster/*"]}})
            },
        },
        expect={
            "no-condition": "'EksPodIdentity': pods.eks.amazonaws.com may assume the role without",
            "if-exists": "pods.eks.amazonaws.com may assume the role without aws:SourceAccount/aws:SourceArn",
            "any-account-arn": "pods.eks.amazonaws.com may assume the role without aws:SourceAccount/aws:SourceArn",
        },
    ),
    Case(
        policy="aws-iam-role-disallow-unscoped-pod-trust",
        type=ROLE,
        # Not a pod role: a service principal, and web identity from a non-EKS issuer (GitHub Actions).
        compliant={
            **FLOW_LOG_ROLE,
            "assumeRolePolicy": document(
                json.loads(str(FLOW_LOG_ROLE["assumeRolePolicy"]))["Statement"][0],
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {
                        "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
                    },
                    "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/platform:*"}},
                },
            ),
        },
        violating={
            "also-trusts-pods": {
                "assumeRolePolicy": document(
                    json.loads(str(FLOW_LOG_ROLE["assumeRolePolicy"]))["Statement"][0],
                    json.loads(irsa_trust({}))["Statement"][0],
                )
            }
        },
        expect={"also-trusts-pods": "Statement[1]"},
    ),
]

FLOW_LOG_TRUST = json.loads(str(FLOW_LOG_ROLE["assumeRolePolicy"]))["Statement"][0]
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/platform-prod-deploy-from-ci"
OTHER_ACCOUNT = "210987654321"
# CI in the tooling account assumes the deploy role; our own admins role may too.
CI_TRUST = {
    "Sid": "CiAccount",
    "Effect": "Allow",
    "Action": "sts:AssumeRole",
    "Principal": {"AWS": [f"arn:aws:iam::{OTHER_ACCOUNT}:role/ci-runner"]},
    "Condition": {"StringEquals": {"sts:ExternalId": "platform-prod-ci"}},
}
ADMINS_TRUST = {
    "Sid": "Admins",
    "Effect": "Allow",
    "Action": "sts:AssumeRole",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/platform-admins"},
}
DEPLOY_ROLE = Res(
    ROLE,
    "deploy-from-ci",
    {"name": "platform-prod-deploy-from-ci", "arn": ROLE_ARN, "assumeRolePolicy": document(CI_TRUST, ADMINS_TRUST)},
)


def trust(*statements: dict[str, Any]) -> Callable[[list[Res]], list[Res]]:
    def change(graph: list[Res]) -> list[Res]:
        return [
            Res(r.type, r.name, {**r.props, "assumeRolePolicy": document(*statements)})
            if r.name == "deploy-from-ci"
            else r
            for r in graph
        ]

    return change


def new_role(graph: list[Res]) -> list[Res]:
    """A first preview: the role's ARN (and so its account) is not known yet."""
    return [Res(r.type, r.name, {k: v for k, v in r.props.items() if k != "arn"}) for r in graph]


CASES += [
    Case(
        policy="aws-iam-role-disallow-wildcard-trust",
        type=ROLE,
        compliant=FLOW_LOG_ROLE,
        violating={
            "star": {"assumeRolePolicy": document({**FLOW_LOG_TRUST, "Principal": "*"})},
            "aws-star": {"assumeRolePolicy": document({**FLOW_LOG_TRUST, "Sid": "Anyone", "Principal": {"AWS": "*"}})},
            "not-principal": {
                "assumeRolePolicy": document(
                    {**{k: v for k, v in FLOW_LOG_TRUST.items() if k != "Principal"}, "NotPrincipal": {"AWS": ROLE_ARN}}
                )
            },
        },
        # A trust unknown in a first preview is reported once, by the pod-trust rule; this one judges it
        # at `pulumi up`, where it is known before the role is created.
        unknown=[],
        expect={
            "star": "Statement[0] lets any principal assume the role",
            "aws-star": "statement 'Anyone' lets any principal assume the role",
            "not-principal": "Statement[0] lets any principal assume the role",
        },
    ),
    Case(
        policy="aws-iam-role-disallow-unscoped-pod-trust",
        type=ROLE,
        compliant=IRSA_ROLE,
        violating={
            "no-aud": {"assumeRolePolicy": irsa_trust({"StringEquals": {f"{ISSUER}:sub": [SA]}})},
            "other-aud": {
                "assumeRolePolicy": irsa_trust({"StringEquals": {f"{ISSUER}:sub": [SA], f"{ISSUER}:aud": ["vault"]}})
            },
            "aud-like": {
                "assumeRolePolicy": irsa_trust(
                    {"StringEquals": {f"{ISSUER}:sub": [SA]}, "StringLike": {f"{ISSUER}:aud": ["*"]}}
                )
            },
        },
        expect={
            "no-aud": f"Statement[0]: no StringEquals condition on {ISSUER}:aud",
            "other-aud": f"{ISSUER}:aud allows vault; only sts.amazonaws.com",
            "aud-like": f"{ISSUER}:aud is matched with StringLike",
        },
    ),
    StackCase(
        policy="aws-iam-role-disallow-unconditioned-cross-account-trust",
        compliant=[DEPLOY_ROLE, Res(ROLE, "flow-logs", FLOW_LOG_ROLE)],
        violating={
            "no-external-id": trust({**CI_TRUST, "Condition": {}}, ADMINS_TRUST),
            "external-id-if-exists": trust(
                {**CI_TRUST, "Condition": {"StringEqualsIfExists": {"sts:ExternalId": "x"}}}, ADMINS_TRUST
            ),
            "bare-account-id": trust({**CI_TRUST, "Principal": {"AWS": OTHER_ACCOUNT}, "Condition": {}}),
        },
        expect={
            "no-external-id": f"role deploy-from-ci: statement 'CiAccount' lets account(s) {OTHER_ACCOUNT} (not the "
            f"role's account {ACCOUNT}) assume it without an sts:ExternalId",
            "external-id-if-exists": f"lets account(s) {OTHER_ACCOUNT}",
            "bare-account-id": f"lets account(s) {OTHER_ACCOUNT}",
            "unknown-account": f"lets account(s) {OTHER_ACCOUNT}",
        },
        unknown={
            # A new role naming an account outside trustedAccounts: its own account is not known yet, so the
            # rule gives up for it alone; the existing role's violation is still reported.
            "unknown-account": lambda graph: [
                *trust({**CI_TRUST, "Condition": {}})(graph),
                Res(ROLE, "new", {"name": "new", "assumeRolePolicy": document({**CI_TRUST, "Condition": {}})}),
            ],
        },
    ),
    StackCase(
        # The other account listed in trustedAccounts, and an organisation condition instead of an ExternalId.
        policy="aws-iam-role-disallow-unconditioned-cross-account-trust",
        compliant=new_role(
            [
                Res(
                    ROLE,
                    "deploy-from-ci",
                    {**DEPLOY_ROLE.props, "assumeRolePolicy": document({**CI_TRUST, "Condition": {}})},
                ),
                Res(
                    ROLE,
                    "org",
                    {
                        "name": "org",
                        "assumeRolePolicy": document(
                            {
                                **CI_TRUST,
                                "Principal": {"AWS": "arn:aws:iam::555566667777:root"},
                                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
                            }
                        ),
                    },
                ),
            ]
        ),
        config={"trustedAccounts": [OTHER_ACCOUNT]},
        violating={
            "org-wildcard": lambda graph: [
                Res(
                    r.type,
                    r.name,
                    {
                        **r.props,
                        "arn": f"arn:aws:iam::{ACCOUNT}:role/org",
                        "assumeRolePolicy": document(
                            {
                                **CI_TRUST,
                                "Principal": {"AWS": "arn:aws:iam::555566667777:root"},
                                "Condition": {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
                            }
                        ),
                    },
                )
                if r.name == "org"
                else r
                for r in graph
            ]
        },
        expect={"org-wildcard": "role org: statement 'CiAccount' lets account(s) 555566667777"},
    ),
]
