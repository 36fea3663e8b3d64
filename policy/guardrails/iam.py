"""Guardrails: IAM (administrator rights, and who a role's trust policy lets in).

Policy documents arrive as JSON strings (``as_document``). The condition
helpers here are shared with the KMS key-policy and SNS topic-policy rules: a
statement counts as restricted to an account only through the condition keys
and operators listed in ``scoped_condition_keys``.

Every rule that parses a document is "needs-values": a document that names an
ARN not created yet (an OIDC provider, a key, a topic) is itself unknown in a
first preview, so the rule gives up for that resource alone until it is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from guardrails.base import (
    as_document,
    as_list,
    config_value,
    each,
    known_or_none,
    resource_rule,
    stack_rule,
    statements,
)

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY_ATTACHMENTS_EXCLUSIVE = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"

ADMINISTRATOR_ACCESS = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/AdministratorAccess$")
SERVICE_ACCOUNT = re.compile(r"^system:serviceaccount:[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
EKS_OIDC_ISSUER = re.compile(r"^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/[A-Za-z0-9]+$")
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
WEB_IDENTITY_ACTIONS = {"sts:assumerolewithwebidentity", "sts:*", "*"}

# Condition operators that require the key to be present and equal/like a value
# (no ...IfExists, no negation, no Null, no ForAllValues: those pass when the key is absent).
POSITIVE_OPERATORS = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
# Keys whose values are account or organisation ids: accepted only without wildcards.
ACCOUNT_KEYS = {
    "aws:principalaccount",
    "aws:sourceaccount",
    "kms:calleraccount",
    "aws:principalorgid",
    "aws:sourceorgid",
}
# Keys whose values are ARNs: accepted when the ARN's account field is a literal 12-digit id.
ARN_KEYS = {"aws:principalarn", "aws:sourcearn"}
ACCOUNT_ID = re.compile(r"^\d{12}$")


def is_allow(statement: Mapping[str, Any]) -> bool:
    return str(statement.get("Effect", "")).lower() == "allow"


def _operator(name: str) -> str:
    return name.lower().removeprefix("foranyvalue:")


def _scoping_value(key: str, value: Any) -> bool:
    text = str(value)
    if key in ARN_KEYS:
        fields = text.split(":")
        return len(fields) > 5 and bool(ACCOUNT_ID.match(fields[4]))
    return bool(text) and "*" not in text and "?" not in text


def scoped_condition_keys(statement: Mapping[str, Any]) -> set[str]:
    """The account-scoping condition keys (lower case) a statement really enforces.

    A key counts when it is under StringEquals, StringEqualsIgnoreCase,
    StringLike, ArnEquals or ArnLike (optionally ForAnyValue:), has at least one
    value, and every value pins an account: account and organisation ids
    (aws:PrincipalAccount, aws:SourceAccount, kms:CallerAccount,
    aws:PrincipalOrgID, aws:SourceOrgID) without any wildcard; ARNs
    (aws:PrincipalArn, aws:SourceArn) with a literal 12-digit account field.
    """
    found: set[str] = set()
    condition = statement.get("Condition") or {}
    if not isinstance(condition, Mapping):
        return found
    for operator, entries in condition.items():
        if _operator(str(operator)) not in POSITIVE_OPERATORS or not isinstance(entries, Mapping):
            continue
        for key, values in entries.items():
            name = str(key).lower()
            listed = as_list(values)
            if name in ACCOUNT_KEYS | ARN_KEYS and listed and all(_scoping_value(name, v) for v in listed):
                found.add(name)
    return found


def principals(statement: Mapping[str, Any], kind: str) -> list[str]:
    """The principals of one kind ("AWS", "Service", "Federated") a statement names, as strings."""
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    return [str(p) for p in as_list(principal.get(kind))]


def statement_label(statement: Mapping[str, Any], index: int) -> str:
    """How a message names a statement: its Sid, else its position (Statement[0] is the first)."""
    sid = statement.get("Sid")
    return f"statement {sid!r}" if sid else f"Statement[{index}]"


# --- no "*" on "*" -------------------------------------------------------------------


def _documents(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(where, policy JSON) of every identity policy a resource carries."""
    if resource_type == ROLE:
        return [
            (f"inline policy {p.get('name') or i!r}", p.get("policy"))
            for i, p in enumerate(as_list(props.get("inlinePolicies")))
            if isinstance(p, Mapping)
        ]
    return [("policy", props.get("policy"))]


def _admin_equivalent(statement: Mapping[str, Any]) -> str | None:
    """What makes an Allow statement administrator-equivalent, or None.

    Action "*" (or "*:*"), or any NotAction (everything but a few actions), on
    resource "*" or with NotResource (everything but a few resources).
    """
    if not is_allow(statement):
        return None
    everywhere = "*" in {str(r) for r in as_list(statement.get("Resource"))}
    if statement.get("NotResource") is not None:
        where = "NotResource (every other resource)"
    elif everywhere:
        where = 'resource "*"'
    else:
        return None
    if {str(a) for a in as_list(statement.get("Action"))} & {"*", "*:*"}:
        return f'action "*" on {where}'
    if statement.get("NotAction") is not None:
        excluded = ", ".join(str(a) for a in as_list(statement.get("NotAction")))
        return f"NotAction ({excluded}: every other action) on {where}"
    return None


def _allowances(
    resource_type: str, props: Mapping[str, Any], problem_of: Callable[[Mapping[str, Any]], str | None]
) -> Iterator[str]:
    """One finding per statement of the resource's identity-policy documents that ``problem_of`` objects to."""
    for where, policy in _documents(resource_type, props):
        for index, statement in enumerate(statements(as_document(policy))):
            problem = problem_of(statement)
            if problem:
                yield f"{where}: {statement_label(statement, index)} allows {problem}"


@resource_rule(
    name="aws-iam-policy-disallow-admin-wildcard",
    description='IAM policies (managed, inline and role/user/group policies) must not allow action "*" '
    '(or "*:*") or NotAction on resource "*" or with NotResource: each is administrator-equivalent.',
    resource_types=[POLICY, ROLE_POLICY, USER_POLICY, GROUP_POLICY, ROLE],
    severity=Severity.CRITICAL,
    control="AWS-FSBP IAM.1",
    remediation="List the actions the workload calls (e.g. s3:GetObject) and the ARNs it needs them on, with "
    "Action and Resource (never Allow with NotAction or NotResource); grant administration only through SSO "
    "permission sets, never from this program.",
    first_preview="needs-values",
)
def _admin_wildcard(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    return _allowances(args.resource_type, props, _admin_equivalent)


# --- no wildcard actions, no unscoped escalation ---------------------------------------
# The two rules below take up what aws-iam-policy-disallow-admin-wildcard leaves: a statement it
# reports (administrator-equivalent) is not reported again, so each finding has one rule.

ALL_ACTIONS = re.compile(r"^\*+(:\*+)?$")  # "*", "*:*"
SERVICE_WIDE = re.compile(r"^([a-z0-9-]+):\*+$")  # "iam:*", "s3:*"
# Actions that let a principal give itself (or a resource it controls) more rights when allowed on every
# resource: pass or assume any role, rewrite or attach any policy, mint credentials for any user
# (Rhino Security Labs, "AWS IAM privilege escalation methods"). A "*" pattern that covers one counts.
ESCALATION_ACTIONS = (
    "iam:PassRole",
    "sts:AssumeRole",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
)


def _actions(statement: Mapping[str, Any]) -> list[str]:
    """The Action patterns of a statement, lower case (IAM compares actions case-insensitively)."""
    return [str(a).lower() for a in as_list(statement.get("Action"))]


def _resources(statement: Mapping[str, Any]) -> str | None:
    """How a message names where a statement applies: "*" and NotResource are every resource (None: listed ARNs)."""
    if statement.get("NotResource") is not None:
        return "NotResource (every other resource)"
    if "*" in {str(r) for r in as_list(statement.get("Resource"))}:
        return 'resource "*"'
    return None


def _listed(statement: Mapping[str, Any]) -> str:
    return ", ".join(str(r) for r in as_list(statement.get("Resource"))) or "(no resource)"


def _wildcard_actions(statement: Mapping[str, Any]) -> str | None:
    """What wildcard an Allow statement grants that the admin-wildcard rule does not report, or None.

    Every action of every service ("*", NotAction) on listed resources; every action of a service
    ("iam:*") on every resource.
    """
    if not is_allow(statement) or _admin_equivalent(statement):
        return None
    everywhere = _resources(statement)
    if everywhere is None:
        if any(ALL_ACTIONS.match(a) for a in _actions(statement)):
            return f'action "*" (every action of every service) on {_listed(statement)}'
        if statement.get("NotAction") is not None:
            excluded = ", ".join(str(a) for a in as_list(statement.get("NotAction")))
            return f"NotAction ({excluded}: every other action of every service) on {_listed(statement)}"
        return None
    services = sorted({a for a in _actions(statement) if SERVICE_WIDE.match(a)})
    if services:
        return f"{', '.join(services)} (every action of the service) on {everywhere}"
    return None


@resource_rule(
    name="aws-iam-policy-disallow-wildcard-actions",
    description='IAM identity policies (managed, inline and role/user/group policies) must not allow action "*" '
    '(or NotAction) on any resource, nor every action of a service ("iam:*", "kms:*", "s3:*") on resource "*" '
    'or with NotResource. A statement aws-iam-policy-disallow-admin-wildcard reports ("*" or NotAction on '
    '"*") is not reported again; KMS key policies are resource policies, not checked here.',
    resource_types=[POLICY, ROLE_POLICY, USER_POLICY, GROUP_POLICY, ROLE],
    severity=Severity.HIGH,
    control="AWS-FSBP IAM.21",
    remediation="List the actions the workload calls (e.g. kms:Decrypt, kms:GenerateDataKey*) on the ARNs it "
    'needs them on; never "*" or "<service>:*" (those include kms:ScheduleKeyDeletion, kms:PutKeyPolicy, '
    "iam:CreateAccessKey, s3:PutBucketPolicy and every action AWS adds later).",
    first_preview="needs-values",
)
def _wildcard_action_rule(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    return _allowances(args.resource_type, props, _wildcard_actions)


def _covers(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern ("*" any run, "?" one character) matches an action, case-insensitively."""
    regex = re.escape(pattern.lower()).replace("\\*", ".*").replace("\\?", ".")
    return re.fullmatch(regex, action.lower()) is not None


def _escalation(statement: Mapping[str, Any]) -> str | None:
    """Which escalation actions an Allow statement grants on every resource through named (not wildcard-all or
    service-wide) action patterns, or None; the broader grants are the wildcard rules'."""
    if not is_allow(statement):
        return None
    everywhere = _resources(statement)
    if everywhere is None:
        return None
    patterns = [a for a in _actions(statement) if not (ALL_ACTIONS.match(a) or SERVICE_WIDE.match(a))]
    granted = [e for e in ESCALATION_ACTIONS if any(_covers(p, e) for p in patterns)]
    if not granted:
        return None
    return f"{', '.join(granted)} on {everywhere}"


@resource_rule(
    name="aws-iam-policy-disallow-unscoped-escalation-actions",
    description="IAM identity policies must not allow privilege-escalation actions (iam:PassRole, "
    "sts:AssumeRole, iam:CreatePolicyVersion, iam:Attach/Put*Policy, iam:UpdateAssumeRolePolicy, "
    'iam:CreateAccessKey and the like, also through patterns such as "iam:Pass*") on resource "*" or with '
    "NotResource: each lets the holder take the rights of any role or user.",
    resource_types=[POLICY, ROLE_POLICY, USER_POLICY, GROUP_POLICY, ROLE],
    severity=Severity.HIGH,
    remediation="Name the roles, users or policies the action is needed on in Resource (e.g. iam:PassRole on "
    'arn:aws:iam::<account>:role/<the role>, with Condition StringEquals iam:PassedToService), never "*".',
    first_preview="needs-values",
)
def _escalation_rule(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    return _allowances(args.resource_type, props, _escalation)


# --- no AdministratorAccess on roles ---------------------------------------------------


def _attached_arns(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == ROLE:
        return [str(a) for a in as_list(props.get("managedPolicyArns"))]
    if resource_type == ROLE_POLICY_ATTACHMENTS_EXCLUSIVE:
        return [str(a) for a in as_list(props.get("policyArns"))]
    if resource_type == POLICY_ATTACHMENT and not as_list(props.get("roles")):
        return []  # attached to users or groups only: not a workload role
    return [str(props.get("policyArn") or "")]


@resource_rule(
    name="aws-iam-role-disallow-administrator-access",
    description="No role may have the AWS managed AdministratorAccess policy attached "
    "(role policy attachments, managedPolicyArns, policy attachments naming roles).",
    resource_types=[ROLE_POLICY_ATTACHMENT, ROLE_POLICY_ATTACHMENTS_EXCLUSIVE, POLICY_ATTACHMENT, ROLE],
    severity=Severity.CRITICAL,
    control="CIS-AWS 1.16",
    remediation="Attach a policy with the actions and resources the workload needs instead of "
    "arn:aws:iam::aws:policy/AdministratorAccess; human administrators use SSO permission sets.",
)
def _administrator_access(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for arn in _attached_arns(args.resource_type, props):
        if ADMINISTRATOR_ACCESS.match(arn):
            yield f"{arn} is attached to a role"


# --- pod roles trust one service account -----------------------------------------------


def _web_identity_problem(statement: Mapping[str, Any], issuer: str) -> str | None:
    """Why an IRSA statement for one EKS OIDC issuer is not scoped to one service account."""
    subject = f"{issuer}:sub".lower()
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        condition = {}
    by_operator = {str(op): entries for op, entries in condition.items() if isinstance(entries, Mapping)}
    for operator, entries in by_operator.items():
        if operator.lower() != "stringequals" and any(str(k).lower() == subject for k in entries):
            return f"{issuer}:sub is matched with {operator} (only StringEquals on one service account is scoped)"
    values = [
        v
        for operator, entries in by_operator.items()
        if operator.lower() == "stringequals"
        for k, v in entries.items()
        if str(k).lower() == subject
    ]
    subjects = [str(s) for value in values for s in as_list(value)]
    if not subjects:
        return f"no StringEquals condition on {issuer}:sub: any service account of the cluster can assume it"
    if len(subjects) != 1:
        return f"{issuer}:sub allows {len(subjects)} subjects ({', '.join(subjects)}); one service account only"
    if not SERVICE_ACCOUNT.match(subjects[0]):
        return f"{issuer}:sub is {subjects[0]!r}, not system:serviceaccount:<namespace>:<name>"
    return None


def _irsa_statements(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """(label, statement, issuer) of every Allow statement that lets an EKS OIDC issuer assume the role (IRSA)."""
    for index, statement in enumerate(statements(document)):
        actions = {str(a).lower() for a in as_list(statement.get("Action"))}
        if not is_allow(statement) or not actions & WEB_IDENTITY_ACTIONS:
            continue
        for federated in principals(statement, "Federated"):
            issuer = federated.partition(":oidc-provider/")[2]
            if EKS_OIDC_ISSUER.match(issuer):
                yield statement_label(statement, index), statement, issuer
                break


@resource_rule(
    name="aws-iam-role-disallow-unscoped-pod-trust",
    description="A pod role's trust policy must be scoped: an IRSA statement (Federated EKS OIDC provider, "
    'sts:AssumeRoleWithWebIdentity) needs StringEquals "<issuer>:sub" equal to exactly one '
    '"system:serviceaccount:<namespace>:<name>" (no StringLike); an EKS Pod Identity statement '
    "(pods.eks.amazonaws.com) needs an aws:SourceAccount or aws:SourceArn condition pinning the account. "
    'An IRSA statement must also pin the token\'s audience: StringEquals "<issuer>:aud" equal to '
    '"sts.amazonaws.com" alone; otherwise a token minted for another audience (any projected token of the '
    "cluster) can be exchanged for the role's credentials. A trust policy unknown in a first preview (it names "
    "an OIDC provider that does not exist yet) is reported here, once; the other trust rules judge it at "
    "`pulumi up`, where it is known before the role is created.",
    resource_types=[ROLE],
    severity=Severity.HIGH,
    remediation="IRSA: add Condition StringEquals {'<issuer>:sub': 'system:serviceaccount:<ns>:<sa>', "
    "'<issuer>:aud': 'sts.amazonaws.com'} and remove StringLike on :sub. Pod Identity: add StringEquals "
    "{'aws:SourceAccount': '<account id>'} and/or ArnEquals {'aws:SourceArn': '<cluster ARN>'}; the "
    "PodIdentityAssociation names the one namespace and service account.",
    first_preview="needs-values",
)
def _pod_trust(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    document = as_document(props.get("assumeRolePolicy"))
    for label, statement, issuer in _irsa_statements(document):
        problems = [p for p in (_web_identity_problem(statement, issuer), _audience_problem(statement, issuer)) if p]
        if problems:
            yield f"{label}: {'; '.join(problems)}"
    for index, statement in enumerate(statements(document)):
        if not is_allow(statement) or POD_IDENTITY_PRINCIPAL not in principals(statement, "Service"):
            continue
        if not scoped_condition_keys(statement) & {"aws:sourceaccount", "aws:sourcearn"}:
            label = statement_label(statement, index)
            yield f"{label}: {POD_IDENTITY_PRINCIPAL} may assume the role without aws:SourceAccount/aws:SourceArn"


STS_AUDIENCE = "sts.amazonaws.com"


def _audience_problem(statement: Mapping[str, Any], issuer: str) -> str | None:
    """Why an IRSA statement does not pin the token's audience to STS."""
    audience = f"{issuer}:aud".lower()
    condition = statement.get("Condition")
    values: list[str] = []
    for operator, entries in condition.items() if isinstance(condition, Mapping) else []:
        if not isinstance(entries, Mapping):
            continue
        for key, value in entries.items():
            if str(key).lower() != audience:
                continue
            if str(operator).lower() != "stringequals":
                return f"{issuer}:aud is matched with {operator} (only StringEquals {STS_AUDIENCE!r} pins it)"
            values += [str(v) for v in as_list(value)]
    if not values:
        return f"no StringEquals condition on {issuer}:aud: a token issued for any audience can assume it"
    if values != [STS_AUDIENCE]:
        return f"{issuer}:aud allows {', '.join(values)}; only {STS_AUDIENCE} (the audience EKS tokens for IRSA carry)"
    return None


# --- who else may assume a role ----------------------------------------------------------


def any_principal(statement: Mapping[str, Any]) -> bool:
    """Whether a statement names everyone: Principal "*", {"AWS": "*"} (alone or in a list), or NotPrincipal."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, Mapping) and "*" in [str(p) for p in as_list(principal.get("AWS"))]:
        return True
    # Allow with NotPrincipal lets in everyone but the principals listed.
    return statement.get("NotPrincipal") is not None


@resource_rule(
    name="aws-iam-role-disallow-wildcard-trust",
    description='A role\'s trust policy must not allow any principal: Allow with Principal "*", {"AWS": "*"} '
    '(alone or in a list) or NotPrincipal lets every AWS account (and, with "*", anonymous callers) ask to '
    "assume the role; conditions do not make such a trust reviewable, so it is not accepted with any.",
    resource_types=[ROLE],
    severity=Severity.CRITICAL,
    remediation="Name the principals that assume the role: a service principal (Service: ec2.amazonaws.com), "
    "the OIDC provider of an IRSA role, or the ARNs of the roles of another account together with an "
    "sts:ExternalId or aws:PrincipalOrgID condition.",
    first_preview="needs-values",
)
def _wildcard_trust(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    trust = known_or_none(props, "assumeRolePolicy")
    if trust is None:
        return  # unknown in a first preview: reported once, by aws-iam-role-disallow-unscoped-pod-trust
    for index, statement in enumerate(statements(as_document(trust))):
        if is_allow(statement) and any_principal(statement):
            yield f"{statement_label(statement, index)} lets any principal assume the role"


ACCOUNT_IN_PRINCIPAL = re.compile(r"^(?:arn:aws[a-z-]*:(?:iam|sts)::)?(\d{12})(?::|$)")
# Keys that tie a cross-account trust to an agreement (ExternalId: the confused-deputy guard) or to our
# organisation; aws:PrincipalOrgPaths values are paths that end in wildcards by design.
CROSS_ACCOUNT_KEYS = {"sts:externalid", "aws:principalorgid", "aws:principalorgpaths"}


def cross_account_conditions(statement: Mapping[str, Any]) -> set[str]:
    """The cross-account condition keys (lower case) a statement requires with a positive operator and a value."""
    found: set[str] = set()
    condition = statement.get("Condition") or {}
    if not isinstance(condition, Mapping):
        return found
    for operator, entries in condition.items():
        if _operator(str(operator)) not in POSITIVE_OPERATORS or not isinstance(entries, Mapping):
            continue
        for key, values in entries.items():
            name = str(key).lower()
            listed = [str(v) for v in as_list(values)]
            if name in CROSS_ACCOUNT_KEYS and listed and all(listed):
                if name == "aws:principalorgid" and any("*" in v or "?" in v for v in listed):
                    continue
                found.add(name)
    return found


def principal_accounts(statement: Mapping[str, Any]) -> set[str]:
    """The account ids of the AWS principals a statement names (ARNs of roots, roles and users, or bare ids)."""
    accounts = set()
    for principal in principals(statement, "AWS"):
        match = ACCOUNT_IN_PRINCIPAL.match(principal)
        if match:
            accounts.add(match.group(1))
    return accounts


def _own_account(role: PolicyResource) -> str | None:
    """The account of the role's own ARN (an output: known once the role exists, None before)."""
    arn = role.props.get("arn")
    fields = str(arn).split(":") if arn else []
    return fields[4] if len(fields) > 4 and ACCOUNT_ID.match(fields[4]) else None


def _foreign_trust(role: PolicyResource, trusted: set[str]) -> Iterator[tuple[str, str | None]]:
    trust = known_or_none(role.props, "assumeRolePolicy")
    if trust is None:
        return  # unknown in a first preview: reported once, by aws-iam-role-disallow-unscoped-pod-trust
    own = _own_account(role)
    for index, statement in enumerate(statements(as_document(trust))):
        if not is_allow(statement) or cross_account_conditions(statement):
            continue
        foreign = sorted(principal_accounts(statement) - trusted - ({own} if own else set()))
        if foreign and own is None:
            # A new role: its account is not known yet, so a principal outside trustedAccounts may be ours.
            raise UnknownValueError(UNKNOWN_STRING_VALUE, [role.name, "arn"])
        if foreign:
            label = statement_label(statement, index)
            yield (
                f"role {role.name}: {label} lets account(s) {', '.join(foreign)} (not the role's account {own}) "
                "assume it without an sts:ExternalId, aws:PrincipalOrgID or aws:PrincipalOrgPaths condition",
                role.urn,
            )


@stack_rule(
    name="aws-iam-role-disallow-unconditioned-cross-account-trust",
    description="A role's trust policy may let AWS principals of another account assume it only with an "
    "sts:ExternalId, aws:PrincipalOrgID (exact id) or aws:PrincipalOrgPaths condition (StringEquals, "
    'StringLike, ArnEquals or ArnLike, never ...IfExists). "Another account" is any account but the one in '
    "the role's own ARN and those listed in trustedAccounts (default none): a stack rule, because the ARN is an "
    "output. Before the role exists its account is unknown, and the rule gives up for that role alone if it "
    "names an account outside trustedAccounts.",
    resource_types=[ROLE],
    severity=Severity.HIGH,
    config={"trustedAccounts": {"type": "array", "items": {"type": "string"}, "default": []}},
    remediation="Add Condition StringEquals {'sts:ExternalId': '<the id agreed with the other account>'} (a "
    "third party) or {'aws:PrincipalOrgID': '<o-...>'} (an account of our organisation) to the statement, or "
    "list the account in trustedAccounts of the stack's policy config if it is one of ours.",
    first_preview="needs-values",
)
def _cross_account_trust(
    resources: list[PolicyResource], args: StackValidationArgs
) -> Iterable[tuple[str, str | None]]:
    trusted = {str(a) for a in config_value(args, "trustedAccounts", [])}
    roles = [r for r in resources if r.resource_type == ROLE]
    return each(roles, lambda role: _foreign_trust(role, trusted))
