"""Guardrails: KMS keys (rotation, and who the key policy lets in).

A replica key (``aws:kms/replicaKey:ReplicaKey``) shares its primary key's
rotation, so only its own key policy is checked; a key policy managed as its
own resource (``aws:kms/keyPolicy:KeyPolicy``) is checked like a key's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from guardrails.base import as_document, as_list, is_true, resource_rule, statements
from guardrails.iam import is_allow, scoped_condition_keys, statement_label

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


def _wildcard_principal(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return any("*" in [str(p) for p in as_list(value)] for value in principal.values())
    # Allow with NotPrincipal lets in everyone but the principals listed.
    return statement.get("NotPrincipal") is not None


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
)
def _key_policy_principal(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    # No policy means the default key policy: the account root only.
    for index, statement in enumerate(statements(as_document(props.get("policy")))):
        if is_allow(statement) and _wildcard_principal(statement) and not scoped_condition_keys(statement):
            label = statement_label(statement, index)
            yield f"{label} allows a wildcard principal without a condition pinning the account"
