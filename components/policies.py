"""IAM and KMS policy documents, built the same way by every component.

Documents come from ``aws.iam.get_policy_document`` with typed statements;
callers build the plain statements inside ``Output.all(...).apply(...)`` once
the ARNs they name are known.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.context import Account

Statement = aws.iam.GetPolicyDocumentStatementArgs
Principal = aws.iam.GetPolicyDocumentStatementPrincipalArgs
Condition = aws.iam.GetPolicyDocumentStatementConditionArgs

EVERYONE = Principal(type="*", identifiers=["*"])

# What CloudWatch Logs needs of a key that encrypts a log group.
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


def policy_json(parent: pulumi.Resource, statements: pulumi.Output[list[Statement]]) -> pulumi.Output[str]:
    """The JSON document of ``statements`` (the invoke goes through the parent's provider)."""
    document = aws.iam.get_policy_document_output(statements=statements, opts=pulumi.InvokeOutputOptions(parent=parent))
    return document.json


def log_group_arn(account: Account, region: str, name: str) -> str:
    """A log group's ARN, known before the group exists (so a key policy can name it without a cycle)."""
    return account.arn("logs", region, f"log-group:{name}")


def deny_insecure_transport(bucket_arn: str) -> Statement:
    """Bucket policy: every request without TLS is refused, whoever makes it."""
    return Statement(
        sid="DenyInsecureTransport",
        effect="Deny",
        principals=[EVERYONE],
        actions=["s3:*"],
        resources=[bucket_arn, f"{bucket_arn}/*"],
        conditions=[Condition(test="Bool", variable="aws:SecureTransport", values=["false"])],
    )


def key_through_s3_for_bucket(
    sid: str, actions: list[str], *, key_arn: str, bucket_arn: str, account: Account, region: str
) -> Statement:
    """Identity policy: use the key only through S3, and only for this bucket's objects (with a bucket key
    the encryption context is the bucket's ARN, without one the object's)."""
    return Statement(
        sid=sid,
        actions=actions,
        resources=[key_arn],
        conditions=[
            Condition(test="StringEquals", variable="kms:ViaService", values=[account.service_principal("s3", region)]),
            Condition(
                test="StringLike", variable="kms:EncryptionContext:aws:s3:arn", values=[bucket_arn, f"{bucket_arn}/*"]
            ),
        ],
    )


def account_administers_key(account: Account) -> Statement:
    """The account's IAM policies decide who may use the key; AWS services that use it on a
    caller's behalf (grants, kms:ViaService) go through them."""
    return Statement(
        sid="AccountAdministersKey",
        principals=[Principal(type="AWS", identifiers=[account.root])],
        actions=["kms:*"],
        # In a key policy "*" means this key.
        resources=["*"],
    )


def logs_may_use_key(sid: str, account: Account, region: str, log_group_arns: list[str]) -> Statement:
    """CloudWatch Logs may use the key only for these log groups (the encryption context names
    them); without it, creating an encrypted log group fails."""
    return Statement(
        sid=sid,
        principals=[Principal(type="Service", identifiers=[account.service_principal("logs", region)])],
        actions=LOGS_KEY_ACTIONS,
        resources=["*"],
        conditions=[Condition(test="ArnEquals", variable="kms:EncryptionContext:aws:logs:arn", values=log_group_arns)],
    )


def customer_managed_key(
    parent: pulumi.Resource,
    resource_name: str,
    *,
    alias: str,
    description: str,
    policy: pulumi.Input[str],
    protect: bool = False,
    provider: pulumi.ProviderResource | None = None,
    wait_for: list[pulumi.Resource] | None = None,
) -> aws.kms.Key:
    """A rotating customer-managed key with a 30-day deletion window, and its alias.

    ``protect`` goes to the key only: the alias is a name, not data. ``provider`` places
    both in another region (KMS keys and aliases are regional). ``wait_for``: principals the policy
    names by an ARN built from their name (KMS refuses a policy naming one that does not exist yet).
    """
    key = aws.kms.Key(
        resource_name,
        aws.kms.KeyArgs(description=description, enable_key_rotation=True, deletion_window_in_days=30, policy=policy),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, protect=protect, depends_on=wait_for),
    )
    aws.kms.Alias(
        resource_name,
        aws.kms.AliasArgs(name=f"alias/{alias}", target_key_id=key.key_id),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return key
