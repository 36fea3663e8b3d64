"""Guardrails: KMS keys (rotation, who the key policy lets in, the lockout check and the deletion window).

A replica key (``aws:kms/replicaKey:ReplicaKey``) shares its primary key's
rotation, so only its own key policy is checked; a key policy managed as its
own resource (``aws:kms/keyPolicy:KeyPolicy``) is checked like a key's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from guardrails.base import as_document, as_list, config_value, is_true, number, resource_rule, statements
from guardrails.iam import any_principal, is_allow, principals, scoped_condition_keys, statement_label

KEY = "aws:kms/key:Key"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SYMMETRIC = "SYMMETRIC_DEFAULT"


@resource_rule(
    name="aws-kms-key-enable-key-rotation",
    description="Symmetric customer managed KMS keys must have automatic key rotation on "
    "(asymmetric and HMAC keys and keys in custom key stores, which AWS cannot rotate, are exempt).",
    resource_types=[KEY],
    severity=Severity.MEDIUM,
    control="AWS-FSBP KMS.4",
    remediation="Set enable_key_rotation=True on the aws.kms.Key (rotation_period_in_days defaults to 365).",
)
def _rotation(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    spec = str(props.get("customerMasterKeySpec") or SYMMETRIC)
    if spec != SYMMETRIC or props.get("customKeyStoreId"):
        return
    if not is_true(props.get("enableKeyRotation")):
        yield "automatic key rotation is off"


@resource_rule(
    name="aws-kms-key-disallow-wildcard-principal",
    description="A key policy (of a key, a replica key, or a KeyPolicy resource) must not allow a wildcard "
    'principal ("*", {"AWS": "*"}, or Allow with NotPrincipal) unless the same statement pins the caller\'s '
    "account with a condition: "
    "kms:CallerAccount, aws:PrincipalAccount, aws:PrincipalOrgID, aws:SourceAccount or aws:SourceOrgID "
    "(exact ids, no wildcard), or aws:PrincipalArn or aws:SourceArn (ARNs with a literal account id), "
    "under StringEquals, StringEqualsIgnoreCase, StringLike, ArnEquals or ArnLike "
    "(never ...IfExists, negated operators, Null or ForAllValues).",
    resource_types=[KEY, REPLICA_KEY, KEY_POLICY],
    severity=Severity.HIGH,
    remediation="Name the principals (the account root, roles, service principals) in the key policy, or keep "
    "Principal {'AWS': '*'} only with Condition StringEquals {'kms:CallerAccount': '<account id>'} "
    "(plus kms:ViaService where a service uses the key).",
    first_preview="needs-values",
)
def _key_policy_principal(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    # No policy means the default key policy: the account root only.
    for index, statement in enumerate(statements(as_document(props.get("policy")))):
        if is_allow(statement) and any_principal(statement) and not scoped_condition_keys(statement):
            label = statement_label(statement, index)
            yield f"{label} allows a wildcard principal without a condition pinning the account"


ACCOUNT_ROOT = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:root|\d{12})$")


def _every_key_action(statement: Mapping[str, Any]) -> bool:
    """Whether an Allow statement grants every KMS action: "*", "kms:*" (in any case), or NotAction."""
    if statement.get("NotAction") is not None:
        return True
    return any(str(a).lower() in ("*", "kms:*") for a in as_list(statement.get("Action")))


@resource_rule(
    name="aws-kms-key-disallow-wildcard-actions",
    description='A key policy may allow every KMS action ("*", "kms:*" or NotAction) to the account root only '
    "(the statement that lets the account's IAM policies decide). Given to a role, user or service, every action "
    "includes kms:PutKeyPolicy, kms:DisableKey and kms:ScheduleKeyDeletion: whoever holds it can lock the "
    "account out of the key or destroy what it encrypts.",
    resource_types=[KEY, REPLICA_KEY, KEY_POLICY],
    severity=Severity.HIGH,
    remediation="List the actions the principal uses (e.g. kms:Encrypt, kms:Decrypt, kms:GenerateDataKey*, "
    "kms:DescribeKey, and kms:CreateGrant with kms:GrantIsForAWSResource for AWS services); keep kms:* for the "
    "account root's statement alone.",
    first_preview="needs-values",
)
def _key_wildcard_actions(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for index, statement in enumerate(statements(as_document(props.get("policy")))):
        if not is_allow(statement) or not _every_key_action(statement):
            continue
        others = [
            p
            for kind in ("AWS", "Service", "Federated")
            for p in principals(statement, kind)
            if not (kind == "AWS" and ACCOUNT_ROOT.match(p))
        ]
        if others:
            yield f"{statement_label(statement, index)} allows every KMS action to {', '.join(sorted(others))}"


@resource_rule(
    name="aws-kms-key-disallow-policy-lockout-bypass",
    description="A key (or key policy) must not set bypassPolicyLockoutSafetyCheck: the check stops a key policy "
    "that would leave no principal able to change it, a key nobody can administer again (only AWS Support can "
    "restore access).",
    resource_types=[KEY, REPLICA_KEY, KEY_POLICY],
    severity=Severity.HIGH,
    remediation="Remove bypass_policy_lockout_safety_check (it defaults to False) and keep a statement that lets "
    "the account root (or an administrator role) call kms:PutKeyPolicy.",
)
def _lockout_bypass(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if is_true(props.get("bypassPolicyLockoutSafetyCheck")):
        yield "bypassPolicyLockoutSafetyCheck is true: a policy that locks everyone out would be accepted"


DEFAULT_DELETION_WINDOW_DAYS = 30  # what KMS uses when deletionWindowInDays is not set


@resource_rule(
    name="aws-kms-key-configure-deletion-window",
    description="A key's deletion window (deletionWindowInDays, 7 to 30; unset is 30) must be at least "
    "minimumDeletionWindowDays (default 30): the window is the only time in which a scheduled deletion, and "
    "the loss of everything the key encrypts, can be cancelled.",
    resource_types=[KEY, REPLICA_KEY],
    severity=Severity.MEDIUM,
    category="availability",
    config={"minimumDeletionWindowDays": {"type": "integer", "default": 30}},
    remediation="Set deletion_window_in_days=30 on the aws.kms.Key (or ReplicaKey), or leave it out (KMS uses 30).",
)
def _deletion_window(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    minimum = number(config_value(args, "minimumDeletionWindowDays", 30))
    days = props.get("deletionWindowInDays")
    window = DEFAULT_DELETION_WINDOW_DAYS if days is None else number(days)
    if window < minimum:
        yield f"deletionWindowInDays is {window:g}: at least {minimum:g} days are required"
