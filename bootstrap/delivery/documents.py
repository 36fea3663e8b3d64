"""The IAM statements of the bootstrap: trust policies, the preview role's, the drift role's and each stack's
deploy role's permissions.

Plain functions of the account and the settings, so that every ARN a document
names is built from names (known in a first preview, so the pack can judge
it) and the documents can be read here in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from delivery.settings import Settings

Statement = aws.iam.GetPolicyDocumentStatementArgs
Principal = aws.iam.GetPolicyDocumentStatementPrincipalArgs
Condition = aws.iam.GetPolicyDocumentStatementConditionArgs

GITHUB_ISSUER = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials asks GitHub for (its default).
STS_AUDIENCE = "sts.amazonaws.com"

# The Pulumi DIY backend's layout in the bucket (pkg/backend/diy: project-scoped stacks): stack files
# .pulumi/stacks/<project>/<stack>.json (and .json.bak, .json.gz), history and backups per stack, and the
# update lock .pulumi/locks/organization/<project>/<stack>/<id>.json, which `pulumi up`, `refresh` and
# `destroy` take and `pulumi preview` does not.
BOOKKEEPING = ".pulumi"


@dataclass(frozen=True)
class Account:
    """The account and partition the bootstrap runs in, as the provider reports them."""

    id: str
    partition: str
    dns_suffix: str

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.id}:root"

    def iam(self, resource: str) -> str:
        return f"arn:{self.partition}:iam::{self.id}:{resource}"

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.id}:{resource}"

    def s3(self, bucket: str, key: str | None = None) -> str:
        return f"arn:{self.partition}:s3:::{bucket}" + ("" if key is None else f"/{key}")

    @property
    def github_provider_arn(self) -> str:
        return self.iam(f"oidc-provider/{GITHUB_ISSUER}")


# --- trust ---------------------------------------------------------------------------------------


def github_trust(account: Account, subjects: list[str]) -> list[Statement]:
    """Only GitHub's OIDC tokens for STS whose subject is exactly one of ``subjects`` may assume the role.

    StringEquals on both claims: no pattern, so neither another repository nor another event of this one
    matches (GitHub's subject is ``repo:<owner>/<name>:pull_request`` for pull requests and
    ``repo:<owner>/<name>:environment:<env>`` for a job with an environment).
    """
    return [
        Statement(
            sid="GitHubActionsOidc",
            actions=["sts:AssumeRoleWithWebIdentity"],
            principals=[Principal(type="Federated", identifiers=[account.github_provider_arn])],
            conditions=[
                Condition(test="StringEquals", variable=f"{GITHUB_ISSUER}:aud", values=[STS_AUDIENCE]),
                Condition(test="StringEquals", variable=f"{GITHUB_ISSUER}:sub", values=subjects),
            ],
        )
    ]


def pull_request_subject(settings: Settings) -> str:
    return f"repo:{settings.github.repository}:pull_request"


def environment_subject(settings: Settings, environment: str) -> str:
    return f"repo:{settings.github.repository}:environment:{environment}"


def preview_subjects(settings: Settings) -> list[str]:
    """Pull requests of the repository."""
    return [pull_request_subject(settings)]


def drift_subjects(settings: Settings) -> list[str]:
    """The drift check's environment (main only, by its deployment branch rule): no pull request."""
    return [environment_subject(settings, settings.github.drift_environment)]


def deploy_subjects(settings: Settings, stack: str) -> list[str]:
    """The one environment of one stack: dev's deploy job gets no role that can change prod."""
    return [environment_subject(settings, settings.github.deploy_environments[stack])]


# --- the state bucket and the keys -----------------------------------------------------------------


def _stack_files(account: Account, settings: Settings, bucket: str) -> list[str]:
    project = settings.platform.project
    return [account.s3(bucket, f"{BOOKKEEPING}/stacks/{project}/{stack}.json*") for stack in settings.platform.stacks]


def _list_state(account: Account, bucket: str) -> Statement:
    """Listing under .pulumi/ (stacks, locks); the backend URL names the region, so no GetBucketLocation."""
    return Statement(
        sid="ListState",
        actions=["s3:ListBucket"],
        resources=[account.s3(bucket)],
        conditions=[Condition(test="StringLike", variable="s3:prefix", values=["", f"{BOOKKEEPING}/*"])],
    )


def _key_via_s3(sid: str, actions: list[str], account: Account, settings: Settings, key_arn: str) -> Statement:
    """The state bucket's key, only as S3 uses it on the caller's behalf."""
    return Statement(
        sid=sid,
        actions=actions,
        resources=[key_arn],
        conditions=[
            Condition(
                test="StringEquals", variable="kms:ViaService", values=[f"s3.{settings.region}.{account.dns_suffix}"]
            )
        ],
    )


def state_read(
    account: Account, settings: Settings, bucket: str, state_key_arn: str, secrets_key_arn: str
) -> list[Statement]:
    """What `pulumi preview` reads: the backend's metadata and the stacks' files, and the stacks' secrets.

    Decrypt only: the awskms secrets provider decrypts the stack's data key with KMS and encrypts values
    locally with it; only `pulumi stack init` (an admin) asks KMS to encrypt.
    """
    return [
        _list_state(account, bucket),
        Statement(
            sid="ReadState",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[account.s3(bucket, f"{BOOKKEEPING}/meta.yaml"), *_stack_files(account, settings, bucket)],
        ),
        _key_via_s3("ReadStateKey", ["kms:Decrypt"], account, settings, state_key_arn),
        Statement(sid="DecryptStackSecrets", actions=["kms:Decrypt"], resources=[secrets_key_arn]),
    ]


def state_write(
    account: Account, settings: Settings, bucket: str, state_key_arn: str, secrets_key_arn: str, *, stack: str
) -> list[Statement]:
    """What `pulumi up` of ``stack`` writes: that stack's file, history, backups and update locks, nothing
    else (not the other stacks', not the bootstrap's)."""
    project = settings.platform.project
    per_stack = [
        f"{BOOKKEEPING}/stacks/{project}/{stack}.json*",
        f"{BOOKKEEPING}/history/{project}/{stack}/*",
        f"{BOOKKEEPING}/backups/{project}/{stack}/*",
        f"{BOOKKEEPING}/locks/organization/{project}/{stack}/*",
    ]
    return [
        _list_state(account, bucket),
        Statement(
            sid="ReadBackendMetadata",
            actions=["s3:GetObject"],
            resources=[account.s3(bucket, f"{BOOKKEEPING}/meta.yaml")],
        ),
        Statement(
            sid="WriteState",
            actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"],
            resources=[account.s3(bucket, p) for p in per_stack],
        ),
        _key_via_s3("UseStateKey", ["kms:Decrypt", "kms:GenerateDataKey"], account, settings, state_key_arn),
        Statement(sid="DecryptStackSecrets", actions=["kms:Decrypt"], resources=[secrets_key_arn]),
    ]


def account_administers_key(account: Account) -> list[Statement]:
    """Key policy: the account's IAM policies decide who uses the key (the roles' identity policies)."""
    return [
        Statement(
            sid="AccountAdministersKey",
            principals=[Principal(type="AWS", identifiers=[account.root])],
            actions=["kms:*"],
            # In a key policy "*" means this key.
            resources=["*"],
        )
    ]


def deny_insecure_transport(account: Account, bucket: str) -> list[Statement]:
    return [
        Statement(
            sid="DenyInsecureTransport",
            effect="Deny",
            principals=[Principal(type="*", identifiers=["*"])],
            actions=["s3:*"],
            resources=[account.s3(bucket), account.s3(bucket, "*")],
            conditions=[Condition(test="Bool", variable="aws:SecureTransport", values=["false"])],
        )
    ]


# --- the preview role ------------------------------------------------------------------------------

# AWS managed ReadOnlyAccess lets a refresh read every resource's configuration; it also reads data, often
# through wildcards (ssm:Get*, lambda:Get*, glue:Get*, ...). These are the data reads it grants that neither
# `pulumi preview` nor a refresh of the platform makes: object contents (other than the state's), secret
# values, parameters, function code, connection passwords, launch template user data, query results,
# stream records, log events, table items, images, instance passwords and consoles, database log files, and
# decryption with any key but the state's and the secrets key. A deny list: a data read AWS adds to
# ReadOnlyAccess later is not on it until it is added here.
DATA_READS = [
    "s3:GetObject*",
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter*",
    "lambda:GetFunction",
    "glue:GetConnection*",
    "ec2:GetLaunchTemplateData",
    "athena:GetQueryResults*",
    "kinesis:GetRecords",
    "dynamodb:PartiQLSelect",
    "kms:Decrypt",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "logs:StartLiveTail",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ec2:GetPasswordData",
    "ec2:GetConsoleOutput",
    "ec2:GetConsoleScreenshot",
    "rds:DownloadDBLogFilePortion",
    "rds:DownloadCompleteDBLogFile",
]


def _state_reads(
    account: Account, settings: Settings, bucket: str, state_key_arn: str, secrets_key_arn: str
) -> list[str]:
    """What both read-only roles read of the state: the backend's metadata, the stack files, the two keys."""
    return [
        account.s3(bucket, f"{BOOKKEEPING}/meta.yaml"),
        *_stack_files(account, settings, bucket),
        state_key_arn,
        secrets_key_arn,
    ]


def deny_data_reads(
    account: Account, settings: Settings, bucket: str, state_key_arn: str, secrets_key_arn: str
) -> list[Statement]:
    """Refuse ReadOnlyAccess's data reads everywhere but on what the preview needs: the state files, and
    decryption with the state key (through S3) and the secrets key."""
    return [
        Statement(
            sid="DenyDataReads",
            effect="Deny",
            actions=DATA_READS,
            not_resources=_state_reads(account, settings, bucket, state_key_arn, secrets_key_arn),
        )
    ]


# --- the drift role -------------------------------------------------------------------------------

# What a refresh of the platform reads that the preview role is refused: an aws:secretsmanager/secretVersion
# (the cache's AUTH token) is read back with GetSecretValue, which Secrets Manager decrypts with the secret's
# key on the caller's behalf (kms:Decrypt through secretsmanager.<region>).
SECRET_VALUE_READS = ["secretsmanager:GetSecretValue", "kms:Decrypt"]


def platform_secrets(account: Account, settings: Settings) -> list[str]:
    """The secrets the platform's stacks name (``<prefix>-<stack>/...``), in every stack region."""
    return [
        account.arn("secretsmanager", region, f"secret:{settings.stack_prefix(stack)}/*")
        for region in settings.platform.regions
        for stack in settings.platform.stacks
    ]


def drift_reads(
    account: Account, settings: Settings, bucket: str, state_key_arn: str, secrets_key_arn: str
) -> list[Statement]:
    """The preview role's denials, less what the refresh of the platform's secret versions needs: the values of
    the platform's own secrets, decrypted by Secrets Manager. Any other secret, and any decryption that is not
    Secrets Manager's (or the state's), stays refused."""
    through_secrets_manager = Condition(
        test="StringEquals",
        variable="kms:ViaService",
        values=[f"secretsmanager.{region}.{account.dns_suffix}" for region in settings.platform.regions],
    )
    secrets = platform_secrets(account, settings)
    return [
        Statement(
            sid="DenyDataReads",
            effect="Deny",
            actions=[a for a in DATA_READS if a not in SECRET_VALUE_READS],
            not_resources=_state_reads(account, settings, bucket, state_key_arn, secrets_key_arn),
        ),
        Statement(
            sid="DenyOtherSecretValues",
            effect="Deny",
            actions=["secretsmanager:GetSecretValue"],
            not_resources=secrets,
        ),
        Statement(
            sid="DenyDecryptingOutsideSecretsManager",
            effect="Deny",
            actions=["kms:Decrypt"],
            not_resources=[state_key_arn, secrets_key_arn],
            # Absent (a direct Decrypt), kms:ViaService matches StringNotEquals: refused.
            conditions=[
                Condition(test="StringNotEquals", variable="kms:ViaService", values=through_secrets_manager.values)
            ],
        ),
        Statement(sid="ReadPlatformSecretValues", actions=["secretsmanager:GetSecretValue"], resources=secrets),
        Statement(
            sid="DecryptPlatformSecretsThroughSecretsManager",
            actions=["kms:Decrypt"],
            resources=[account.arn("kms", region, "key/*") for region in settings.platform.regions],
            # Secrets Manager names the secret in the encryption context of every data key it decrypts.
            conditions=[
                through_secrets_manager,
                Condition(test="StringLike", variable="kms:EncryptionContext:SecretARN", values=secrets),
            ],
        ),
    ]


# --- the deploy roles (one per stack) ---------------------------------------------------------------

# Services whose ARNs carry the resource's name: a stack's deploy role manages only the resources named
# <prefix>-<stack>-... or <prefix>-<stack>/... (log groups and secrets use the slash) in the stack regions.
NAMED_SERVICES = ["eks", "rds", "elasticache", "logs", "cloudwatch", "sns", "secretsmanager", "ecr"]
# Resources of those services the stacks use without naming them: RDS's default option group, the replicated
# automated backups in the DR region (prod: `auto-backup:ab-<id>`), and the master password secret RDS creates
# for the instance (manage_master_user_password: `rds!db-<id>`). Shared by the stacks' roles: not separated.
UNNAMED_RESOURCES = {"rds": ["og:default:*", "auto-backup:*"], "secretsmanager": ["secret:rds!*"]}
# Services whose ARNs carry ids, not names (VPC objects, security groups, launch templates, keys): every
# stack's role may act on every such resource of the account in the stack regions. Not separated between
# stacks; separate accounts per environment are the boundary (docs/delivery.md).
ID_SERVICES = ["ec2"]
# Actions that do not take a resource ARN (IAM needs Resource "*" for them): lookups, key creation, and the
# CloudWatch Logs delivery that ElastiCache's log delivery (and EKS control-plane logs and RDS log exports,
# where the service sets the log group's resource policy) goes through.
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
]
UNSCOPED_ACTIONS = [
    "ec2:Describe*",
    "eks:Describe*",
    "eks:List*",
    "rds:Describe*",
    "elasticache:Describe*",
    "kms:CreateKey",
    "kms:List*",
    "logs:Describe*",
    *LOG_DELIVERY_ACTIONS,
    "cloudwatch:Describe*",
    "sns:List*",
    "secretsmanager:GetRandomPassword",
    "secretsmanager:ListSecrets",
    "ecr:GetAuthorizationToken",
]
# Services that create a service-linked role the first time the account uses them.
SERVICE_LINKED = [
    "eks",
    "eks-nodegroup",
    "rds",
    "elasticache",
    "autoscaling",
    "elasticloadbalancing",
    "spot",
]


def named(account: Account, settings: Settings, service: str, region: str, stack: str) -> list[str]:
    """One stack's resources of a service whose ARNs carry names."""
    prefix = settings.stack_prefix(stack)
    return [account.arn(service, region, f"*{prefix}-*"), account.arn(service, region, f"*{prefix}/*")]


def deploy_services(account: Account, settings: Settings, stack: str) -> list[Statement]:
    """Every action of the platform's services: on ``stack``'s named resources where ARNs carry names, on
    the account's resources in the stack regions where they carry ids."""
    regions = settings.platform.regions
    return [
        *[
            Statement(
                sid=f"Manage{service.title().replace('-', '')}",
                actions=[f"{service}:*"],
                resources=[
                    arn
                    for region in regions
                    for arn in (
                        *named(account, settings, service, region, stack),
                        *[account.arn(service, region, r) for r in UNNAMED_RESOURCES.get(service, [])],
                    )
                ],
            )
            for service in NAMED_SERVICES
        ],
        *[
            Statement(
                sid=f"Manage{service.title()}ById",
                actions=[f"{service}:*"],
                resources=[account.arn(service, region, "*") for region in regions],
            )
            for service in ID_SERVICES
        ],
        Statement(
            sid="ManageKms",
            actions=["kms:*"],
            resources=[
                arn
                for region in regions
                for arn in (
                    account.arn("kms", region, "key/*"),
                    account.arn("kms", region, f"alias/{settings.stack_prefix(stack)}-*"),
                )
            ],
        ),
        Statement(
            sid="LookUpInStackRegions",
            actions=UNSCOPED_ACTIONS,
            resources=["*"],
            conditions=[Condition(test="StringEquals", variable="aws:RequestedRegion", values=regions)],
        ),
    ]


def deploy_iam_and_buckets(account: Account, settings: Settings, stack: str) -> list[Statement]:
    """IAM and S3 under the stack's name prefix, and the service-linked roles its services need. The EKS
    clusters' OIDC providers carry ids: not separated between stacks."""
    prefix = settings.stack_prefix(stack)
    return [
        Statement(
            sid="ManagePlatformIam",
            actions=["iam:*"],
            resources=[
                account.iam(f"role/{prefix}-*"),
                account.iam(f"policy/{prefix}-*"),
                account.iam(f"instance-profile/{prefix}-*"),
                *[
                    account.iam(f"oidc-provider/oidc.eks.{r}.{account.dns_suffix}/id/*")
                    for r in settings.platform.regions
                ],
            ],
        ),
        Statement(
            sid="CreateServiceLinkedRoles",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[account.iam("role/aws-service-role/*")],
            conditions=[
                Condition(
                    test="StringEquals",
                    variable="iam:AWSServiceName",
                    values=[f"{s}.{account.dns_suffix}" for s in SERVICE_LINKED],
                )
            ],
        ),
        Statement(
            sid="ManagePlatformBuckets",
            actions=["s3:*"],
            resources=[account.s3(f"{prefix}-*"), account.s3(f"{prefix}-*", "*")],
        ),
    ]


def deploy_guards(account: Account, settings: Settings, keys: list[str]) -> list[Statement]:
    """What the grants above would otherwise allow: changing the CI roles themselves and GitHub's provider
    (the roles' names share the prefix), and administering the bootstrap's keys (``keys``: their aliases,
    which KMS checks as kms:ResourceAliases) beyond the use the state needs."""
    own = [
        *[account.iam(f"role/{settings.deploy_role_name(stack)}") for stack in settings.platform.stacks],
        account.iam(f"role/{settings.roles.preview_role_name}"),
        account.iam(f"role/{settings.roles.drift_role_name}"),
        account.github_provider_arn,
    ]
    return [
        Statement(sid="DenyChangingCiIdentity", effect="Deny", not_actions=["iam:Get*", "iam:List*"], resources=own),
        Statement(
            sid="DenyAdministeringBootstrapKeys",
            effect="Deny",
            not_actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:List*", "kms:Get*"],
            resources=["*"],
            conditions=[Condition(test="ForAnyValue:StringEquals", variable="kms:ResourceAliases", values=keys)],
        ),
    ]
