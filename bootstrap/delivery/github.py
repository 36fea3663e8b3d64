"""GitHub Actions' identity in the account: the OIDC provider, the preview role and one deploy role per stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from delivery import documents
from delivery.documents import Account, Statement
from delivery.settings import Settings

# The AWS managed policy behind the preview role: every Describe/Get/List a refresh of the platform makes
# (EC2, EKS, RDS, ElastiCache, IAM, KMS, S3 configuration, logs, SNS, Secrets Manager metadata, ECR), kept
# current by AWS as services add read actions. Its data reads are denied (documents.DATA_READS).
READ_ONLY_ACCESS = "ReadOnlyAccess"
# The longest session a role hands out: a prod `pulumi up` (an EKS cluster and its node groups, a Multi-AZ
# database) can outlast the default hour, and credentials that expire halfway leave pending operations.
MAX_SESSION_SECONDS = 4 * 3600


@dataclass
class GitHubCiArgs:
    settings: Settings
    account: pulumi.Output[Account]
    state_bucket: pulumi.Output[str]
    """The state bucket's name (built from the account and region, so the documents are known in a first
    preview)."""
    state_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    key_aliases: list[str]
    """The bootstrap keys' aliases (``alias/...``), which the deploy role may use but not administer."""


class GitHubCi(pulumi.ComponentResource):
    """GitHub's OIDC provider and the roles only this repository's workflows can assume: ``preview``
    (read-only; pull requests), ``drift`` (read-only and the platform's secret values; the drift check's
    environment) and one deploy role per platform stack (that stack's protected environment only)."""

    preview_role_arn: pulumi.Output[str]
    drift_role_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]
    """Per platform stack, its deploy role's ARN."""

    def __init__(self, name: str, args: GitHubCiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bootstrap:github:GitHubCi", name, None, opts)
        self._args = args
        settings = args.settings
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            aws.iam.OpenIdConnectProviderArgs(
                url=f"https://{documents.GITHUB_ISSUER}", client_id_lists=[documents.STS_AUDIENCE]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        preview = self._read_only_role(
            f"{name}-preview",
            settings.roles.preview_role_name,
            documents.preview_subjects(settings),
            provider,
            documents.deny_data_reads,
        )
        drift = self._read_only_role(
            f"{name}-drift",
            settings.roles.drift_role_name,
            documents.drift_subjects(settings),
            provider,
            documents.drift_reads,
        )
        self.preview_role_arn = preview.arn
        self.drift_role_arn = drift.arn
        self.deploy_role_arns = {stack: self._deploy_role(name, stack, provider) for stack in settings.platform.stacks}
        self.register_outputs(
            {
                "previewRoleArn": self.preview_role_arn,
                "driftRoleArn": self.drift_role_arn,
                "deployRoleArns": self.deploy_role_arns,
            }
        )

    def _read_only_role(
        self,
        name: str,
        role_name: str,
        subjects: list[str],
        provider: aws.iam.OpenIdConnectProvider,
        limits: Callable[[Account, Settings, str, str, str], list[Statement]],
    ) -> aws.iam.Role:
        """ReadOnlyAccess, the state's reads, and ``limits``: the data reads it is refused (and allowed)."""
        role = self._role(name, role_name, subjects, provider)
        aws.iam.RolePolicyAttachment(
            f"{name}-read-only",
            aws.iam.RolePolicyAttachmentArgs(
                role=role.name,
                policy_arn=self._args.account.apply(lambda a: f"arn:{a.partition}:iam::aws:policy/{READ_ONLY_ACCESS}"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._inline(role, f"{name}-state", self._state(documents.state_read))
        self._inline(role, f"{name}-no-data", self._state(limits))
        return role

    def _deploy_role(self, name: str, stack: str, provider: aws.iam.OpenIdConnectProvider) -> pulumi.Output[str]:
        """The role of one stack: trusted for its environment alone, its state alone, its named resources."""
        args, settings = self._args, self._args.settings
        deploy = self._role(
            f"{name}-deploy-{stack}",
            settings.deploy_role_name(stack),
            documents.deploy_subjects(settings, stack),
            provider,
        )
        self._inline(
            deploy,
            f"{name}-deploy-{stack}-state",
            self._state(
                lambda a, s, bucket, state_key, secrets_key: documents.state_write(
                    a, s, bucket, state_key, secrets_key, stack=stack
                )
            ),
        )
        self._inline(
            deploy,
            f"{name}-deploy-{stack}-services",
            args.account.apply(lambda a: documents.deploy_services(a, settings, stack)),
        )
        self._inline(
            deploy,
            f"{name}-deploy-{stack}-iam-buckets",
            args.account.apply(
                lambda a: [
                    *documents.deploy_iam_and_buckets(a, settings, stack),
                    *documents.deploy_guards(a, settings, args.key_aliases),
                ]
            ),
        )
        return deploy.arn

    def _document(self, statements: pulumi.Output[list[Statement]]) -> pulumi.Output[str]:
        opts = pulumi.InvokeOutputOptions(parent=self)
        return aws.iam.get_policy_document_output(statements=statements, opts=opts).json

    def _role(
        self, name: str, role_name: str, subjects: list[str], provider: aws.iam.OpenIdConnectProvider
    ) -> aws.iam.Role:
        trust = self._args.account.apply(lambda a: documents.github_trust(a, subjects))
        return aws.iam.Role(
            name,
            aws.iam.RoleArgs(
                name=role_name, assume_role_policy=self._document(trust), max_session_duration=MAX_SESSION_SECONDS
            ),
            # The trust names the provider by its ARN (built from its URL): the role waits for it to exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[provider]),
        )

    def _state(
        self, build: Callable[[Account, Settings, str, str, str], list[Statement]]
    ) -> pulumi.Output[list[Statement]]:
        args = self._args
        return pulumi.Output.all(args.account, args.state_bucket, args.state_key_arn, args.secrets_key_arn).apply(
            lambda v: build(v[0], args.settings, v[1], v[2], v[3])
        )

    def _inline(self, role: aws.iam.Role, name: str, statements: pulumi.Output[list[Statement]]) -> None:
        aws.iam.RolePolicy(
            name,
            aws.iam.RolePolicyArgs(role=role.id, policy=self._document(statements)),
            opts=pulumi.ResourceOptions(parent=self),
        )
