"""Database: RDS PostgreSQL for the teams' data, encrypted, monitored and backed up off-site."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import DatabaseConfig
from components.context import Account, ArgumentError, StackContext
from components.naming import final_snapshot_identifier
from components.policies import (
    Condition,
    Principal,
    Statement,
    account_administers_key,
    customer_managed_key,
    log_group_arn,
    logs_may_use_key,
    policy_json,
)

PORT = 5432
MAX_CONNECTIONS = 200
"""max_connections in the parameter group; the connection alarms take their share of it."""


# The teams' windows, in UTC. The maintenance window ends when the backup
# window starts: they must not overlap (RDS rejects that).
BACKUP_WINDOW = "03:00-06:00"
MAINTENANCE_WINDOW = "mon:00:00-mon:03:00"
MONITORING_INTERVAL_SECONDS = 60
LOG_EXPORTS = ("postgresql", "upgrade")

# Parameters RDS applies only at a reboot; sending them with "immediate" is an
# error (ModifyDBParameterGroup: "cannot use immediate apply method for static parameter").
_STATIC = "pending-reboot"
_DYNAMIC = "immediate"
# The teams' tuning, in the units RDS uses for each parameter (kB for the
# memory settings, MB for WAL sizes, ms for durations).
PARAMETERS: tuple[tuple[str, str, str], ...] = (
    ("max_connections", str(MAX_CONNECTIONS), _STATIC),
    ("shared_preload_libraries", "pg_stat_statements", _STATIC),
    # TLS only: a plain-text connection is refused by the server.
    ("rds.force_ssl", "1", _DYNAMIC),
    ("random_page_cost", "1.1", _DYNAMIC),
    ("effective_io_concurrency", "200", _DYNAMIC),
    ("checkpoint_completion_target", "0.9", _DYNAMIC),
    ("default_statistics_target", "100", _DYNAMIC),
    ("work_mem", "4096", _DYNAMIC),  # 4 MB
    ("maintenance_work_mem", "65536", _DYNAMIC),  # 64 MB
    ("min_wal_size", "1024", _DYNAMIC),  # 1 GB
    ("max_wal_size", "4096", _DYNAMIC),  # 4 GB
    # Slow statements: every statement running longer than 1 s is logged.
    ("log_min_duration_statement", "1000", _DYNAMIC),
)


@dataclass
class DatabaseArgs:
    config: DatabaseConfig
    """Validated database settings (version, class, storage, retention, safety switches)."""
    context: StackContext
    """Naming (the instance identifier is <project>-<stack>-postgres), region and account (the ARNs of
    the key and role policies)."""
    vpc_id: pulumi.Input[str]
    """VPC of the database's security group."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """The database-tier subnets (one per AZ) of the DB subnet group."""
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Security groups admitted on 5432 (the cluster's nodes). Left out, nothing can reach the database
    until a group is added; a CIDR is never admitted."""
    dr_provider: aws.Provider | None = None
    """Provider of the DR region. Given, automated backups are replicated there, encrypted with a key
    created there (the off-site copy). Left out, backups stay in the primary region only."""
    dr_region: str | None = None
    """Region of dr_provider; required with it (the config checks that it differs from the stack's)."""


class Database(pulumi.ComponentResource):
    """One RDS PostgreSQL instance in the database subnets, reachable only from the given groups.

    Storage, Performance Insights, the RDS-managed master secret and the log
    groups are encrypted with the database's own KMS key. Point-in-time
    recovery comes from automated backups (retention from config), replicated
    to the DR region when a DR provider is given.
    """

    address: pulumi.Output[str]
    """Host name of the instance (resolves to the primary, also after a Multi-AZ failover)."""
    port: pulumi.Output[int]
    """Port PostgreSQL listens on (5432)."""
    endpoint: pulumi.Output[str]
    """address:port."""
    instance_identifier: pulumi.Output[str]
    """RDS instance identifier: the DBInstanceIdentifier dimension of its CloudWatch metrics."""
    identifier: str
    """The same identifier, chosen from the stack's naming before the instance exists."""
    instance_arn: pulumi.Output[str]
    """ARN of the instance."""
    master_secret_arn: pulumi.Output[str]
    """ARN of the Secrets Manager secret RDS keeps the master credentials in (rotated by RDS)."""
    security_group_id: pulumi.Output[str]
    """The database's security group (admits 5432 from the allowed groups only)."""
    kms_key_arn: pulumi.Output[str]
    """The database's customer-managed KMS key."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _check(args)
        super().__init__("platform:database:Database", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._naming = args.context.naming
        self._identifier = self.identifier = self._naming.name("postgres", "rds")
        self._major = int(args.config.engine_version)
        self._log_group_names = [f"/aws/rds/instance/{self._identifier}/{log}" for log in LOG_EXPORTS]

        key = self._create_key()
        log_groups = self._create_log_groups(key)
        security_group = self._create_security_group()
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            aws.rds.SubnetGroupArgs(
                name=self._identifier,
                description="Database-tier subnets (no route to the internet)",
                subnet_ids=args.subnet_ids,
                tags={"Name": self._identifier},
            ),
            opts=self._child,
        )
        parameter_group = self._create_parameter_group()
        monitoring_role, monitoring_attachment = self._create_monitoring_role()
        instance = self._create_instance(
            key=key,
            security_group=security_group,
            subnet_group=subnet_group,
            parameter_group=parameter_group,
            monitoring_role=monitoring_role,
            wait_for=[*log_groups, monitoring_attachment],
        )
        if args.dr_provider is not None:
            self._replicate_backups(instance, args.dr_provider)

        self.address = instance.address
        self.port = instance.port
        self.endpoint = instance.endpoint
        self.instance_identifier = instance.identifier
        self.instance_arn = instance.arn
        self.master_secret_arn = instance.master_user_secrets.apply(_master_secret_arn)
        self.security_group_id = security_group.id
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "endpoint": self.endpoint,
                "instance_identifier": self.instance_identifier,
                "instance_arn": self.instance_arn,
                "master_secret_arn": self.master_secret_arn,
                "security_group_id": self.security_group_id,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _create_key(self) -> aws.kms.Key:
        args = self._args
        prefix = self._naming.prefix
        region = args.context.region
        return customer_managed_key(
            self,
            f"{self._name}-key",
            alias=f"{prefix}-postgres",
            description=f"{prefix} PostgreSQL: storage, Performance Insights, master secret, logs",
            policy=policy_json(
                self, args.context.account.apply(lambda a: _key_statements(a, region, self._log_group_names))
            ),
            # Without the key the data, its snapshots and its backups are unreadable.
            protect=args.config.deletion_protection,
        )

    def _create_log_groups(self, key: aws.kms.Key) -> list[aws.cloudwatch.LogGroup]:
        # The names RDS writes the exports to; we create them first so that they
        # have a retention and our key (RDS would create them never-expiring and
        # encrypted with a key AWS owns).
        return [
            aws.cloudwatch.LogGroup(
                f"{self._name}-{log}",
                aws.cloudwatch.LogGroupArgs(
                    name=group_name,
                    retention_in_days=self._args.config.log_retention_days,
                    kms_key_id=key.arn,
                ),
                opts=self._child,
            )
            for log, group_name in zip(LOG_EXPORTS, self._log_group_names, strict=True)
        ]

    def _create_security_group(self) -> aws.ec2.SecurityGroup:
        args = self._args
        # No egress rules: the database never opens a connection; replies to
        # admitted clients pass anyway (security groups are stateful), and the
        # provider removes AWS's default allow-all egress rule.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                description="PostgreSQL: 5432 from the allowed security groups only",
                tags={"Name": self._naming.name("postgres")},
            ),
            opts=self._child,
        )
        # One rule per source group, so adding a source never touches the
        # others. Named by position: keep the list's order stable.
        for index, source in enumerate(args.allowed_security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-ingress-{index}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=group.id,
                    description="PostgreSQL from an allowed security group",
                    ip_protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    referenced_security_group_id=source,
                ),
                opts=self._child,
            )
        return group

    def _create_parameter_group(self) -> aws.rds.ParameterGroup:
        # The major version is in the name: a major upgrade changes the family,
        # which replaces the group, and Pulumi creates the replacement first,
        # moves the instance to it, then deletes the old one. A fixed name would
        # collide with the group still in use.
        name = self._naming.name(f"postgres{self._major}", "rds")
        return aws.rds.ParameterGroup(
            f"{self._name}-params",
            aws.rds.ParameterGroupArgs(
                name=name,
                family=f"postgres{self._major}",
                description=f"PostgreSQL {self._major}: the teams' tuning, TLS only",
                parameters=[
                    aws.rds.ParameterGroupParameterArgs(name=p, value=v, apply_method=m) for p, v, m in PARAMETERS
                ],
                tags={"Name": name},
            ),
            opts=self._child,
        )

    def _create_monitoring_role(self) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        args = self._args
        region = args.context.region
        trust = args.context.account.apply(lambda a: _monitoring_trust_statements(a, region, self._identifier))
        role = aws.iam.Role(
            f"{self._name}-monitoring",
            aws.iam.RoleArgs(
                name=args.context.iam_role_name("rds-monitoring"),
                description="Lets RDS Enhanced Monitoring publish OS metrics of the database",
                assume_role_policy=policy_json(self, trust),
            ),
            opts=self._child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{self._name}-monitoring",
            aws.iam.RolePolicyAttachmentArgs(
                role=role.name,
                # The AWS-managed policy: only logs:CreateLogGroup/PutRetentionPolicy/
                # PutLogEvents... on the RDSOSMetrics log group.
                policy_arn=args.context.account.apply(
                    lambda a: a.managed_policy_arn("service-role/AmazonRDSEnhancedMonitoringRole")
                ),
            ),
            opts=self._child,
        )
        return role, attachment

    def _create_instance(
        self,
        *,
        key: aws.kms.Key,
        security_group: aws.ec2.SecurityGroup,
        subnet_group: aws.rds.SubnetGroup,
        parameter_group: aws.rds.ParameterGroup,
        monitoring_role: aws.iam.Role,
        wait_for: list[pulumi.Resource],
    ) -> aws.rds.Instance:
        config = self._args.config
        return aws.rds.Instance(
            f"{self._name}-instance",
            aws.rds.InstanceArgs(
                identifier=self._identifier,
                engine="postgres",
                # The major only: with automatic minor upgrades RDS moves the
                # minor on its own, and a pinned minor would then read as a
                # downgrade that RDS refuses ("Cannot upgrade postgres from 17.7
                # to 17.6"); the provider accepts a major as a prefix of the
                # running version. New instances get RDS's default minor.
                engine_version=str(self._major),
                # Only lets a major change made in config go through; RDS never
                # upgrades a major by itself while it is in standard support.
                allow_major_version_upgrade=True,
                auto_minor_version_upgrade=True,
                instance_class=config.instance_class,
                storage_type="gp3",
                allocated_storage=config.allocated_storage_gib,
                # Storage autoscaling: grows before the disk fills, up to this ceiling.
                max_allocated_storage=config.max_allocated_storage_gib,
                storage_encrypted=True,
                kms_key_id=key.arn,
                port=PORT,
                db_subnet_group_name=subnet_group.name,
                vpc_security_group_ids=[security_group.id],
                publicly_accessible=False,
                multi_az=config.multi_az,
                parameter_group_name=parameter_group.name,
                # RDS generates the master password and keeps it in Secrets
                # Manager, encrypted with our key: it never passes through Pulumi.
                username="postgres_admin",
                manage_master_user_password=True,
                master_user_secret_kms_key_id=key.arn,
                iam_database_authentication_enabled=True,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=key.arn,
                performance_insights_retention_period=config.performance_insights_retention_days,
                monitoring_interval=MONITORING_INTERVAL_SECONDS,
                monitoring_role_arn=monitoring_role.arn,
                enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
                backup_retention_period=config.backup_retention_days,
                backup_window=BACKUP_WINDOW,
                maintenance_window=MAINTENANCE_WINDOW,
                copy_tags_to_snapshot=True,
                # Keep the automated backups (and so point-in-time recovery) for
                # their retention period after the instance is deleted.
                delete_automated_backups=False,
                deletion_protection=config.deletion_protection,
                skip_final_snapshot=config.skip_final_snapshot,
                final_snapshot_identifier=None
                if config.skip_final_snapshot
                else final_snapshot_identifier(
                    self,
                    f"{self._name}-final-snapshot",
                    self._identifier,
                    # A new key or subnet group replaces the instance (ForceNew in the provider).
                    replaced_with={"kmsKeyId": key.arn, "subnetGroup": subnet_group.name},
                ),
                tags={"Name": self._identifier, "purpose": "database", "engine": "postgres"},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=config.deletion_protection,
                # Nothing in the instance's inputs names these, yet it must wait:
                # RDS creates a missing export log group itself on first write,
                # with no retention and no key of ours, and then ours fails to
                # create (ResourceAlreadyExistsException). And RDS checks that
                # the monitoring role carries its policy when monitoring starts.
                depends_on=wait_for,
            ),
        )

    def _replicate_backups(self, instance: aws.rds.Instance, dr_provider: aws.Provider) -> None:
        args = self._args
        prefix = self._naming.prefix
        in_dr = pulumi.ResourceOptions(parent=self, provider=dr_provider)
        # The off-site copy needs a key in its own region (KMS keys are regional).
        dr_key = customer_managed_key(
            self,
            f"{self._name}-dr-key",
            alias=f"{prefix}-postgres-dr",
            description=f"{prefix} PostgreSQL backups replicated from {args.context.region}",
            policy=policy_json(self, args.context.account.apply(lambda a: [account_administers_key(a)])),
            protect=args.config.deletion_protection,
            provider=dr_provider,
        )
        # Created in the DR region (through its provider): RDS there pulls the
        # snapshots and transaction logs, so point-in-time recovery works there too.
        aws.rds.InstanceAutomatedBackupsReplication(
            f"{self._name}-dr-backups",
            aws.rds.InstanceAutomatedBackupsReplicationArgs(
                source_db_instance_arn=instance.arn,
                kms_key_id=dr_key.arn,
                retention_period=args.config.backup_retention_days,
            ),
            opts=in_dr,
        )


def _check(args: DatabaseArgs) -> None:
    """Refuse inconsistent arguments before any resource exists."""
    if (args.dr_provider is None) != (args.dr_region is None):
        raise ArgumentError("DatabaseArgs", "dr_region", "dr_provider and dr_region go together (give both or neither)")


def _master_secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret]) -> str:
    # With manage_master_user_password RDS keeps exactly one secret.
    arn = secrets[0].secret_arn if secrets else None
    if arn is None:
        raise ValueError("the RDS instance reports no master user secret")
    return arn


def _key_statements(account: Account, region: str, log_group_names: list[str]) -> list[Statement]:
    # The groups' ARNs are known before they exist, so the key policy can name
    # them without a cycle (key -> group -> key).
    arns = [log_group_arn(account, region, name) for name in log_group_names]
    return [
        account_administers_key(account),
        # CloudWatch Logs may use the key only for the database's log groups,
        # or creating the encrypted groups fails.
        logs_may_use_key("CloudWatchLogsUseForDatabaseLogGroups", account, region, arns),
    ]


def _monitoring_trust_statements(account: Account, region: str, identifier: str) -> list[Statement]:
    return [
        Statement(
            actions=["sts:AssumeRole"],
            principals=[Principal(type="Service", identifiers=[account.service_principal("monitoring.rds")])],
            # Confused-deputy guard: only for this database of this account
            # (RDS User Guide, "Setting up and enabling Enhanced Monitoring").
            conditions=[
                Condition(test="StringEquals", variable="aws:SourceAccount", values=[account.id]),
                Condition(
                    test="ArnLike",
                    variable="aws:SourceArn",
                    values=[account.arn("rds", region, f"db:{identifier}")],
                ),
            ],
        )
    ]
