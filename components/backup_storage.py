"""Backup storage: the S3 bucket every backup lands in, its key, its access logs and its DR replica."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import BackupsConfig
from components.context import Account, ArgumentError, StackContext
from components.policies import (
    EVERYONE,
    Condition,
    Principal,
    Statement,
    account_administers_key,
    customer_managed_key,
    deny_insecure_transport,
    policy_json,
)

# The teams' schedule: days each prefix's backups are kept (current versions).
EXPIRY_DAYS = {"postgres/": 30, "redis/": 7, "velero/": 30, "config/": 90, "weekly/": 90}
ARCHIVE_PREFIX = "archive/"
ARCHIVE_TRANSITION_DAYS = 0
"""Archives are written to be kept, not read: they go to Glacier at once."""
ARCHIVE_EXPIRY_DAYS = 365
NONCURRENT_VERSION_DAYS = 30
"""How long an overwritten, deleted or expired version stays recoverable before it is gone for good."""
INCOMPLETE_UPLOAD_DAYS = 7
"""Parts of a multipart upload that never completed (a backup job killed mid-upload) cost storage."""
ACCESS_LOG_PREFIX = "backups/"
# What the replication role may do with each key: read the source, write the replica.
SOURCE_KEY_ACTIONS = ["kms:Decrypt"]
REPLICA_KEY_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey"]
# Physical purposes of the buckets (bucket names: <project>-<stack>-<purpose>-<account>-<region>).
BACKUP_BUCKET = "backups"
LOG_BUCKET = "backups-access-logs"
REPLICATION_ROLE = "backups-replication"

BACKUP_TAGS = {"purpose": "backups", "copy": "primary"}
# The replica is a backup too: the policy pack holds it to the same rules (versioning, lifecycle, access
# logging), and exempts it from replication because a replication rule points at it.
REPLICA_TAGS = {"purpose": "backups", "copy": "dr-replica"}
LOG_TAGS = {"purpose": "access-logs"}


@dataclass
class BackupStorageArgs:
    config: BackupsConfig
    """Validated backups settings (replication, Object Lock, protection, log retention)."""
    context: StackContext
    """Naming (bucket names are globally unique: account and region in the name; key aliases, the role),
    the region of the provider the component gets through opts (the buckets live there) and the account
    (bucket names, the ARNs and service principals in key, bucket and role policies)."""
    dr_provider: aws.Provider | None = None
    """Provider for config.dr_region, where the replica bucket, its key and its access logs live. Required
    when config.replicate is on (an input property error otherwise); left out with replication off, nothing
    is built outside the primary region."""


@dataclass(frozen=True)
class _Site:
    """Where a set of buckets lives: the primary region (inherited provider) or the DR region."""

    prefix: str
    """Child-name prefix: "" for the primary region, "dr-" for the DR region."""
    region: str
    provider: aws.Provider | None


class BackupStorage(pulumi.ComponentResource):
    """The backup bucket of a stack, encrypted with its own KMS key, with its own access-log bucket.

    Every backup (pg_dump, Redis RDB, Velero, config) lands under a prefix whose lifecycle keeps it as long
    as the teams' schedule says. With config.object_lock, versions cannot be deleted before
    config.object_lock_days (governance mode); with config.replicate, every object is copied to a bucket in
    the DR region under a key of that region (the off-site copy of the 3-2-1 rule).
    """

    bucket_name: pulumi.Output[str]
    """Name of the backup bucket (where backup jobs write)."""
    bucket_arn: pulumi.Output[str]
    """ARN of the backup bucket, for the IAM policies of backup jobs."""
    kms_key_arn: pulumi.Output[str]
    """ARN of the key that encrypts the backup bucket; writers must use it (the bucket policy denies others)."""
    log_bucket_name: pulumi.Output[str]
    """Name of the bucket that receives the backup bucket's S3 server access logs."""
    dr_bucket_name: pulumi.Output[str] | None
    """Name of the replica bucket in the DR region; None without replication."""
    dr_bucket_arn: pulumi.Output[str] | None
    """ARN of the replica bucket in the DR region; None without replication."""

    def __init__(self, name: str, args: BackupStorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:backups:BackupStorage", name, None, opts)
        config = args.config
        if config.replicate and args.dr_provider is None:
            raise ArgumentError(
                "BackupStorageArgs", "dr_provider", "backups.replicate is on: give a provider for backups.drRegion"
            )
        self._name = name
        self._args = args
        self._naming = args.context.naming
        primary = _Site("", args.context.region, None)

        # The role comes first: the key policies on both sides name it.
        role = self._create_replication_role() if config.replicate else None
        log_bucket = self._create_log_bucket(primary)
        bucket = self._create_bucket(primary, "bucket", BACKUP_BUCKET, BACKUP_TAGS, object_lock=config.object_lock)
        key = self._create_key(primary, role, SOURCE_KEY_ACTIONS)
        versioning = self._configure_backup_bucket(primary, bucket, key, log_bucket)
        dr_bucket = self._create_replica(bucket, versioning, role) if role is not None else None

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        self.log_bucket_name = log_bucket.bucket
        self.dr_bucket_name = dr_bucket.bucket if dr_bucket is not None else None
        self.dr_bucket_arn = dr_bucket.arn if dr_bucket is not None else None
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "log_bucket_name": self.log_bucket_name,
                "dr_bucket_name": self.dr_bucket_name,
                "dr_bucket_arn": self.dr_bucket_arn,
            }
        )

    # --- buckets ---------------------------------------------------------------------------

    def _opts(self, site: _Site, *, protect: bool | None = None) -> pulumi.ResourceOptions:
        # provider=None inherits the component's provider (the primary region).
        return pulumi.ResourceOptions(parent=self, provider=site.provider, protect=protect)

    def _bucket_arn(self, site: _Site, purpose: str) -> pulumi.Output[str]:
        """A bucket's ARN from its name, not from the bucket's outputs: a policy document computed from a
        resource still being created is unknown in a first preview (the engine does not run the invoke),
        and the gate could not read it. Bucket ARNs carry no region or account."""
        return self._args.context.account.apply(
            lambda a: f"arn:{a.partition}:s3:::{self._naming.bucket_name(purpose, a.id, site.region)}"
        )

    def _create_bucket(
        self, site: _Site, role: str, purpose: str, tags: dict[str, str], *, object_lock: bool = False
    ) -> aws.s3.Bucket:
        args, config = self._args, self._args.config
        return aws.s3.Bucket(
            f"{self._name}-{site.prefix}{role}",
            aws.s3.BucketArgs(
                bucket=args.context.account.apply(lambda a: self._naming.bucket_name(purpose, a.id, site.region)),
                # The site's region said explicitly, though the provider has it too: it is then known at
                # preview, where the policy pack checks that the replica is in another region.
                region=site.region,
                # Object Lock can only be switched on when the bucket is created without a support case;
                # a replica must have it too or S3 refuses to replicate locked objects
                # (DstBucketObjectLockConfigMissing). Server access logs cannot go to a locked bucket.
                object_lock_enabled=object_lock,
                force_destroy=config.force_destroy,
                tags=tags,
            ),
            opts=self._opts(site, protect=config.protect),
        )

    def _lock_down(self, site: _Site, role: str, bucket: aws.s3.Bucket) -> None:
        """All four public access block settings, and ACLs off (the bucket owner owns every object)."""
        aws.s3.BucketPublicAccessBlock(
            f"{self._name}-{site.prefix}{role}-public-access",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=self._opts(site),
        )
        aws.s3.BucketOwnershipControls(
            f"{self._name}-{site.prefix}{role}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            opts=self._opts(site),
        )

    def _create_log_bucket(self, site: _Site) -> aws.s3.Bucket:
        bucket = self._create_bucket(site, "logs", LOG_BUCKET, LOG_TAGS)
        self._lock_down(site, "logs", bucket)
        # SSE-S3, not SSE-KMS: S3 server access logging cannot deliver to a bucket whose default
        # encryption is SSE-KMS (AWS S3 User Guide, "Enabling Amazon S3 server access logging").
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-{site.prefix}logs-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        ),
                    )
                ],
            ),
            opts=self._opts(site),
        )
        # Unversioned: only S3 writes here, each log object once, so versions would only keep expired
        # logs around.
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-{site.prefix}logs-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire-access-logs",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=self._args.config.access_log_retention_days
                        ),
                        abort_incomplete_multipart_upload=_abort_incomplete_uploads(),
                    )
                ],
            ),
            opts=self._opts(site),
        )
        return bucket

    def _configure_backup_bucket(
        self, site: _Site, bucket: aws.s3.Bucket, key: aws.kms.Key, log_bucket: aws.s3.Bucket
    ) -> aws.s3.BucketVersioning:
        config = self._args.config
        prefix = f"{self._name}-{site.prefix}bucket"
        versioning = aws.s3.BucketVersioning(
            f"{prefix}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=self._opts(site),
        )
        self._lock_down(site, "bucket", bucket)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{prefix}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=key.arn
                        ),
                        # One data key per bucket instead of a KMS call per object: cheaper, and no
                        # KMS request-rate throttling when a restore reads thousands of objects.
                        bucket_key_enabled=True,
                    )
                ],
            ),
            opts=self._opts(site),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{prefix}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(bucket=bucket.id, rules=_backup_lifecycle_rules()),
            opts=self._opts(site),
        )
        if config.object_lock:
            # Governance mode: nobody deletes or overwrites a version before its retention ends, except
            # with s3:BypassGovernanceRetention, which no role here has. The retention is no longer than
            # the shortest expiry (redis/, 7 days), so lifecycle still expires on schedule.
            aws.s3.BucketObjectLockConfiguration(
                f"{prefix}-object-lock",
                aws.s3.BucketObjectLockConfigurationInitArgs(
                    bucket=bucket.id,
                    rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                        default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                            mode="GOVERNANCE", days=config.object_lock_days
                        )
                    ),
                ),
                opts=self._opts(site),
            )
        aws.s3.BucketPolicy(
            f"{prefix}-policy",
            aws.s3.BucketPolicyArgs(
                bucket=bucket.id,
                policy=policy_json(
                    self,
                    pulumi.Output.all(bucket_arn=bucket.arn, key_arn=key.arn).apply(
                        lambda a: _backup_bucket_statements(**a)
                    ),
                ),
            ),
            opts=self._opts(site),
        )
        self._log_access(site, bucket, log_bucket)
        return versioning

    def _log_access(self, site: _Site, bucket: aws.s3.Bucket, log_bucket: aws.s3.Bucket) -> None:
        # With ACLs disabled on the log bucket, S3 delivers logs only with a bucket policy that grants
        # the logging service principal (AWS S3 User Guide, "Permissions for log delivery").
        grant = pulumi.Output.all(
            account=self._args.context.account,
            log_bucket_arn=self._bucket_arn(site, LOG_BUCKET),
            source_bucket_arn=self._bucket_arn(site, BACKUP_BUCKET),
        )
        log_policy = aws.s3.BucketPolicy(
            f"{self._name}-{site.prefix}logs-policy",
            aws.s3.BucketPolicyArgs(
                bucket=log_bucket.id,
                policy=policy_json(self, grant.apply(lambda a: _log_bucket_statements(**a))),
            ),
            opts=self._opts(site),
        )
        aws.s3.BucketLogging(
            f"{self._name}-{site.prefix}bucket-logging",
            aws.s3.BucketLoggingInitArgs(
                bucket=bucket.id, target_bucket=log_bucket.id, target_prefix=ACCESS_LOG_PREFIX
            ),
            # Logging starts only once the log bucket lets the logging service write:
            # the grant is in the policy, which nothing in the inputs waits for.
            opts=pulumi.ResourceOptions.merge(self._opts(site), pulumi.ResourceOptions(depends_on=[log_policy])),
        )

    # --- keys ------------------------------------------------------------------------------

    def _create_key(self, site: _Site, replication_role: aws.iam.Role | None, role_actions: list[str]) -> aws.kms.Key:
        """The bucket's key; the replication role, when there is one, may use it for role_actions.

        The key policy grants the role directly (KMS needs no identity policy then), so the role's own
        policy names no key ARN, which a first preview cannot know.
        """
        args = self._args
        prefix = self._naming.prefix
        role_name = args.context.iam_role_name(REPLICATION_ROLE) if replication_role is not None else None
        statements = pulumi.Output.all(
            account=args.context.account, bucket_arn=self._bucket_arn(site, BACKUP_BUCKET)
        ).apply(
            lambda a: _key_statements(
                site.region, role_actions, role_arn=a["account"].role_arn(role_name) if role_name else None, **a
            )
        )
        # Aliases are per region, so the replica's key has the same alias in the DR region.
        return customer_managed_key(
            self,
            f"{self._name}-{site.prefix}key",
            alias=f"{prefix}-backups",
            description=f"{prefix} backups ({site.region})",
            policy=policy_json(self, statements),
            protect=args.config.protect,
            provider=site.provider,
            # The policy names the role by an ARN built from its name (known in a first preview); KMS
            # refuses a policy naming a role that does not exist yet.
            wait_for=[replication_role] if replication_role is not None else None,
        )

    # --- replication -----------------------------------------------------------------------

    def _create_replication_role(self) -> aws.iam.Role:
        context = self._args.context
        return aws.iam.Role(
            f"{self._name}-replication",
            aws.iam.RoleArgs(
                name=context.iam_role_name(REPLICATION_ROLE),
                description="Lets S3 replicate the backup bucket to its DR replica",
                assume_role_policy=policy_json(self, context.account.apply(_replication_trust_statements)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_replica(
        self, bucket: aws.s3.Bucket, versioning: aws.s3.BucketVersioning, role: aws.iam.Role
    ) -> aws.s3.Bucket:
        """The DR copy: a bucket with the same settings under its own key in the DR region."""
        config = self._args.config
        assert config.dr_region is not None  # the config model requires it with replicate
        dr = _Site("dr-", config.dr_region, self._args.dr_provider)
        dr_log_bucket = self._create_log_bucket(dr)
        dr_bucket = self._create_bucket(dr, "bucket", BACKUP_BUCKET, REPLICA_TAGS, object_lock=config.object_lock)
        dr_key = self._create_key(dr, role, REPLICA_KEY_ACTIONS)
        dr_versioning = self._configure_backup_bucket(dr, dr_bucket, dr_key, dr_log_bucket)
        self._replicate(
            dr,
            bucket=bucket,
            dr_bucket=dr_bucket,
            dr_key=dr_key,
            role=role,
            versionings=[versioning, dr_versioning],
        )
        return dr_bucket

    def _replicate(
        self,
        dr: _Site,
        *,
        bucket: aws.s3.Bucket,
        dr_bucket: aws.s3.Bucket,
        dr_key: aws.kms.Key,
        role: aws.iam.Role,
        versionings: list[aws.s3.BucketVersioning],
    ) -> None:
        object_lock = self._args.config.object_lock
        region = self._args.context.region
        primary = _Site("", region, None)
        scope = pulumi.Output.all(
            bucket_arn=self._bucket_arn(primary, BACKUP_BUCKET), dr_bucket_arn=self._bucket_arn(dr, BACKUP_BUCKET)
        )
        role_policy = aws.iam.RolePolicy(
            f"{self._name}-replication",
            aws.iam.RolePolicyArgs(
                name="replicate-backups",
                role=role.id,
                policy=policy_json(self, scope.apply(lambda a: _replication_statements(object_lock, **a))),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketReplicationConfig(
            f"{self._name}-replication",
            aws.s3.BucketReplicationConfigArgs(
                bucket=bucket.id,
                role=role.arn,
                rules=[
                    aws.s3.BucketReplicationConfigRuleArgs(
                        id="everything-to-dr",
                        status="Enabled",
                        # A rule with a filter must have a priority (PutBucketReplication); it is the only one.
                        priority=1,
                        # An empty filter is every object, and makes this a V2 rule, which is what allows
                        # delete-marker replication.
                        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(),
                        # A deletion (not one by lifecycle: those markers are never replicated, so the
                        # replica has its own lifecycle) shows as deleted in the DR copy too; the versions
                        # stay there, and Object Lock still holds them.
                        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
                            status="Enabled"
                        ),
                        # Without this, S3 silently skips SSE-KMS objects, which every object here is.
                        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                                status="Enabled"
                            )
                        ),
                        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                            bucket=dr_bucket.arn,
                            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                                replica_kms_key_id=dr_key.arn
                            ),
                            # ReplicationLatency and OperationsFailedReplication in CloudWatch: the only
                            # way to see that the off-site copy lags or fails.
                            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(status="Enabled"),
                        ),
                    )
                ],
            ),
            # S3 refuses a replication configuration unless versioning is already on in both buckets;
            # nothing in the inputs says so (the configuration names the buckets, not their versioning).
            # S3 rejects the configuration until both buckets are versioned, and
            # objects written before the role may read and write them never
            # replicate: neither is in the data flow.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*versionings, role_policy]),
        )


def _abort_incomplete_uploads() -> aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs:
    return aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
        days_after_initiation=INCOMPLETE_UPLOAD_DAYS
    )


def _backup_lifecycle_rules() -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    Rule = aws.s3.BucketLifecycleConfigurationRuleArgs  # noqa: N806 - a type alias, read as one
    Filter = aws.s3.BucketLifecycleConfigurationRuleFilterArgs  # noqa: N806
    Expiration = aws.s3.BucketLifecycleConfigurationRuleExpirationArgs  # noqa: N806
    rules = [
        Rule(
            id=f"expire-{prefix.rstrip('/')}",
            status="Enabled",
            filter=Filter(prefix=prefix),
            expiration=Expiration(days=days),
        )
        for prefix, days in EXPIRY_DAYS.items()
    ]
    rules.append(
        Rule(
            id="archive-to-glacier",
            status="Enabled",
            filter=Filter(prefix=ARCHIVE_PREFIX),
            transitions=[
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=ARCHIVE_TRANSITION_DAYS, storage_class="GLACIER"
                )
            ],
            expiration=Expiration(days=ARCHIVE_EXPIRY_DAYS),
        )
    )
    # Versioning turns every expiry and overwrite into a noncurrent version; without this rule they
    # would be kept (and paid for) forever. Delete markers left with no versions behind them go too.
    rules.append(
        Rule(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=Filter(),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=NONCURRENT_VERSION_DAYS
            ),
            expiration=Expiration(expired_object_delete_marker=True),
            abort_incomplete_multipart_upload=_abort_incomplete_uploads(),
        )
    )
    return rules


def _backup_bucket_statements(bucket_arn: str, key_arn: str) -> list[Statement]:
    objects = f"{bucket_arn}/*"
    return [
        deny_insecure_transport(bucket_arn),
        # ...IfExists: an upload without encryption headers gets the bucket's default (our key), so
        # only an upload that asks for something else is refused. A writer that names the key must
        # name it by ARN (kms_key_arn), not by id or alias.
        Statement(
            sid="DenyOtherEncryption",
            effect="Deny",
            principals=[EVERYONE],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions=[
                Condition(
                    test="StringNotEqualsIfExists", variable="s3:x-amz-server-side-encryption", values=["aws:kms"]
                )
            ],
        ),
        # aws:kms without a key id makes S3 use the AWS-managed aws/s3 key, which
        # the replication role cannot decrypt: such objects would never reach
        # the DR copy (S3 PutObject docs). Writers must name our key.
        Statement(
            sid="DenyKmsWithoutOurKeyId",
            effect="Deny",
            principals=[EVERYONE],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions=[
                Condition(test="StringEquals", variable="s3:x-amz-server-side-encryption", values=["aws:kms"]),
                Condition(test="Null", variable="s3:x-amz-server-side-encryption-aws-kms-key-id", values=["true"]),
            ],
        ),
        Statement(
            sid="DenyOtherKmsKey",
            effect="Deny",
            principals=[EVERYONE],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions=[
                Condition(
                    test="StringNotEqualsIfExists",
                    variable="s3:x-amz-server-side-encryption-aws-kms-key-id",
                    values=[key_arn],
                )
            ],
        ),
    ]


def _log_bucket_statements(account: Account, log_bucket_arn: str, source_bucket_arn: str) -> list[Statement]:
    return [
        deny_insecure_transport(log_bucket_arn),
        Statement(
            sid="S3ServerAccessLogsFromBackupBucket",
            principals=[Principal(type="Service", identifiers=[account.service_principal("logging.s3")])],
            actions=["s3:PutObject"],
            resources=[f"{log_bucket_arn}/{ACCESS_LOG_PREFIX}*"],
            # Confused-deputy guard: only the logs of our backup bucket, in our account.
            conditions=[
                Condition(test="ArnLike", variable="aws:SourceArn", values=[source_bucket_arn]),
                Condition(test="StringEquals", variable="aws:SourceAccount", values=[account.id]),
            ],
        ),
    ]


def _key_statements(
    region: str, role_actions: list[str], *, account: Account, bucket_arn: str, role_arn: str | None
) -> list[Statement]:
    statements = [account_administers_key(account)]
    if role_arn is not None:
        statements.append(
            # Replication of SSE-KMS objects fails unless the replication role may use both keys, and
            # only through S3 for this bucket. With a bucket key the encryption context is the bucket's
            # ARN, without one the object's (AWS S3 User Guide, "Replicating encrypted objects").
            Statement(
                sid="ReplicationRoleUsesKeyThroughS3",
                principals=[Principal(type="AWS", identifiers=[role_arn])],
                actions=role_actions,
                resources=["*"],
                conditions=[
                    Condition(
                        test="StringEquals", variable="kms:ViaService", values=[account.service_principal("s3", region)]
                    ),
                    Condition(
                        test="StringLike",
                        variable="kms:EncryptionContext:aws:s3:arn",
                        values=[bucket_arn, f"{bucket_arn}/*"],
                    ),
                ],
            )
        )
    return statements


def _replication_trust_statements(account: Account) -> list[Statement]:
    # The trust policy AWS documents for replication, without aws:SourceArn/aws:SourceAccount: S3 does
    # not document setting them when it assumes the role, and a condition on a missing key would
    # deny and stop replication. Only someone allowed iam:PassRole on this role can make S3 use it.
    return [
        Statement(
            actions=["sts:AssumeRole"],
            principals=[Principal(type="Service", identifiers=[account.service_principal("s3")])],
        )
    ]


def _replication_statements(object_lock: bool, *, bucket_arn: str, dr_bucket_arn: str) -> list[Statement]:
    # No key statements: both keys' policies grant this role what it needs of them, through S3 and for
    # these buckets only (kms:ViaService, encryption context), so no key ARN appears here.
    read_versions = [
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
    ]
    if object_lock:
        # A locked object is replicated with its retention, which S3 reads as the role.
        read_versions += ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    return [
        Statement(
            sid="ReadReplicationConfiguration",
            actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
            resources=[bucket_arn],
        ),
        Statement(sid="ReadSourceVersions", actions=read_versions, resources=[f"{bucket_arn}/*"]),
        Statement(
            sid="WriteReplicas",
            actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            resources=[f"{dr_bucket_arn}/*"],
        ),
    ]
