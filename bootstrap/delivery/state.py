"""The Pulumi state backend: a bucket for ``pulumi login s3://...`` and a key for ``awskms://`` secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from delivery.documents import Account, Statement, account_administers_key, deny_insecure_transport

# Old versions of the stack files are the way back from a bad update; three months of them is plenty and
# keeps the bucket from growing without end.
NONCURRENT_DAYS = 90


@dataclass
class StateBackendArgs:
    account: pulumi.Output[Account]
    bucket_name: pulumi.Output[str]
    """The bucket's globally unique name (the program builds it from the account and region)."""
    state_key_alias: str = "pulumi-state"
    """The alias of the bucket's key."""
    secrets_key_alias: str = "pulumi-secrets"
    """The alias of the secrets-provider key: ``awskms://alias/<it>?region=<region>``."""


class StateBackend(pulumi.ComponentResource):
    """The state bucket (versioned, SSE-KMS with its own key, TLS only, never public, ACLs off) and the
    key of the ``awskms://`` secrets provider. Both keys and the bucket are protected: losing either loses
    every stack."""

    bucket_name: pulumi.Output[str]
    state_key_arn: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]
    key_aliases: list[str]
    """Both keys' aliases (``alias/...``)."""

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("bootstrap:state:StateBackend", name, None, opts)
        self._name = name
        key_policy = self._document(args.account.apply(account_administers_key))
        state_key = self._key(f"{name}-key", "Pulumi state bucket", key_policy, args.state_key_alias)
        secrets_key = self._key(
            f"{name}-secrets-key", "Pulumi stack secrets (awskms://)", key_policy, args.secrets_key_alias
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            aws.s3.BucketArgs(bucket=args.bucket_name),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        self._configure_bucket(bucket, state_key)
        aws.s3.BucketPolicy(
            f"{name}-bucket",
            aws.s3.BucketPolicyArgs(
                bucket=bucket.id,
                policy=self._document(
                    pulumi.Output.all(args.account, args.bucket_name).apply(lambda v: deny_insecure_transport(*v))
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bucket_name = bucket.bucket
        self.state_key_arn = state_key.arn
        self.secrets_key_arn = secrets_key.arn
        self.key_aliases = [f"alias/{args.state_key_alias}", f"alias/{args.secrets_key_alias}"]
        self.register_outputs(
            {"bucketName": self.bucket_name, "stateKeyArn": self.state_key_arn, "secretsKeyArn": self.secrets_key_arn}
        )

    def _document(self, statements: pulumi.Output[list[Statement]]) -> pulumi.Output[str]:
        opts = pulumi.InvokeOutputOptions(parent=self)
        return aws.iam.get_policy_document_output(statements=statements, opts=opts).json

    def _key(self, name: str, description: str, policy: pulumi.Output[str], alias: str) -> aws.kms.Key:
        key = aws.kms.Key(
            name,
            aws.kms.KeyArgs(
                description=description, enable_key_rotation=True, deletion_window_in_days=30, policy=policy
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias(
            name,
            aws.kms.AliasArgs(name=f"alias/{alias}", target_key_id=key.key_id),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key

    def _configure_bucket(self, bucket: aws.s3.Bucket, key: aws.kms.Key) -> None:
        child = pulumi.ResourceOptions(parent=self)
        name = self._name
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=key.arn
                        ),
                        bucket_key_enabled=True,
                    )
                ],
            ),
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire-old-versions",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=NONCURRENT_DAYS
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=7
                        ),
                    )
                ],
            ),
            opts=child,
        )
