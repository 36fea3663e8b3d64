"""Guardrails: RDS DB instances (and DB clusters where the property exists)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from guardrails.base import as_list, config_value, each, is_set, is_true, number, reference, resource_rule, stack_rule

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
BOTH = (INSTANCE, CLUSTER)
PLAIN_PASSWORDS = {INSTANCE: ("password", "passwordWo"), CLUSTER: ("masterPassword", "masterPasswordWo")}


def _kind(args: ResourceValidationArgs) -> str:
    return {CLUSTER: "cluster", CLUSTER_INSTANCE: "cluster instance"}.get(args.resource_type, "instance")


def _aws_managed_key(props: Mapping[str, Any], name: str) -> bool:
    """Whether a KMS key property names the AWS-managed RDS key (alias/aws/rds).

    A key not known yet is the output of a resource still to be created, and a stack cannot create an AWS-managed
    key (a look-up of alias/aws/rds is a data source, known in a preview too): it is a customer-managed key.
    """
    try:
        return str(props.get(name) or "").endswith("alias/aws/rds")
    except UnknownValueError:
        return False


@resource_rule(
    name="aws-rds-instance-enable-storage-encryption",
    description="RDS storage must be encrypted with a customer-managed KMS key.",
    resource_types=BOTH,
    severity=Severity.HIGH,
    control="AWS-FSBP RDS.3",
    remediation=(
        "Set storage_encrypted=True and kms_key_id=<the platform's customer-managed KMS key ARN> (changing it "
        "replaces the database: restore from a snapshot)."
    ),
)
def _storage_encryption(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("storageEncrypted")):
        yield f"the DB {_kind(args)}'s storage is not encrypted (storageEncrypted is not true)"
        return
    if not is_set(props, "kmsKeyId"):
        yield "storage is encrypted with the AWS-managed key: set kmsKeyId to a customer-managed key"
    elif _aws_managed_key(props, "kmsKeyId"):
        yield f"storage is encrypted with the AWS-managed key {props.get('kmsKeyId')}"


@resource_rule(
    name="aws-rds-instance-disallow-public-access",
    description="RDS databases (instances, clusters and the instances of a cluster) must not be publicly accessible.",
    resource_types=[*BOTH, CLUSTER_INSTANCE],
    severity=Severity.CRITICAL,
    control="AWS-FSBP RDS.2",
    remediation="Set publicly_accessible=False and place the database in the database-tier subnet group.",
)
def _public_access(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if is_true(props.get("publiclyAccessible")):
        yield f"the DB {_kind(args)} is publicly accessible"


@resource_rule(
    name="aws-rds-instance-configure-backup-retention",
    description="RDS automated backups must be kept at least the configured number of days.",
    resource_types=BOTH,
    severity=Severity.MEDIUM,
    control="AWS-FSBP RDS.11",
    remediation=(
        "Set backup_retention_period to at least the minimum (database.backupRetentionDays in the stack config; 30 "
        "in prod)."
    ),
    config={"minimumDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 30}},
)
def _backup_retention(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    minimum = number(config_value(args, "minimumDays", 30), 30)
    value = props.get("backupRetentionPeriod")
    if value is None:
        yield f"backupRetentionPeriod is not set (at least {minimum:g} days are required)"
    elif number(value) < minimum:
        yield f"backupRetentionPeriod is {number(value):g}, less than the minimum of {minimum:g} days"


@resource_rule(
    name="aws-rds-instance-enable-deletion-protection",
    description="RDS databases must have deletion protection on.",
    resource_types=BOTH,
    severity=Severity.MEDIUM,
    category="availability",
    control="AWS-FSBP RDS.8",
    remediation="Set deletion_protection=True (database.deletionProtection in the stack config).",
)
def _deletion_protection(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("deletionProtection")):
        yield f"the DB {_kind(args)} has no deletion protection"


@resource_rule(
    name="aws-rds-instance-enable-multi-az",
    description="RDS DB instances must be Multi-AZ (a standby in another availability zone).",
    resource_types=[INSTANCE],
    severity=Severity.MEDIUM,
    category="availability",
    control="AWS-FSBP RDS.5",
    remediation="Set multi_az=True (database.multiAz in the stack config).",
)
def _multi_az(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("multiAz")):
        yield "the DB instance is single-AZ (multiAz is not true)"


@resource_rule(
    name="aws-rds-instance-enable-iam-authentication",
    description="RDS databases must have IAM database authentication on.",
    resource_types=BOTH,
    severity=Severity.MEDIUM,
    control="AWS-FSBP RDS.10",
    remediation="Set iam_database_authentication_enabled=True and grant rds_iam to the roles that log in with IAM.",
)
def _iam_authentication(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("iamDatabaseAuthenticationEnabled")):
        yield f"the DB {_kind(args)} has IAM database authentication off"


@resource_rule(
    name="aws-rds-instance-enable-performance-insights-encryption",
    description="RDS Performance Insights must be on and encrypted with a customer-managed KMS key.",
    resource_types=BOTH,
    severity=Severity.MEDIUM,
    remediation=(
        "Set performance_insights_enabled=True and performance_insights_kms_key_id=<the platform's KMS key ARN>."
    ),
)
def _performance_insights(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("performanceInsightsEnabled")):
        yield "Performance Insights is off"
        return
    if not is_set(props, "performanceInsightsKmsKeyId"):
        yield "Performance Insights has no KMS key (performanceInsightsKmsKeyId is not set)"
    elif _aws_managed_key(props, "performanceInsightsKmsKeyId"):
        yield f"Performance Insights is encrypted with the AWS-managed key {props.get('performanceInsightsKmsKeyId')}"


@resource_rule(
    name="aws-rds-instance-enable-log-exports",
    description="RDS databases must export their engine logs to CloudWatch Logs.",
    resource_types=BOTH,
    severity=Severity.MEDIUM,
    control="AWS-FSBP RDS.9",
    remediation=(
        "Set enabled_cloudwatch_logs_exports to include every required log type (for PostgreSQL: ['postgresql', "
        "'upgrade'])."
    ),
    config={"requiredLogExports": {"type": "array", "items": {"type": "string"}, "default": ["postgresql"]}},
)
def _log_exports(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    required = [str(t) for t in as_list(config_value(args, "requiredLogExports", ["postgresql"]))]
    exported = {str(t) for t in as_list(props.get("enabledCloudwatchLogsExports"))}
    missing = [t for t in required if t not in exported]
    if missing:
        yield f"enabledCloudwatchLogsExports lacks {', '.join(missing)}"


@resource_rule(
    name="aws-rds-instance-enable-auto-minor-version-upgrade",
    description="RDS databases must apply minor engine upgrades automatically.",
    resource_types=BOTH,
    severity=Severity.LOW,
    control="AWS-FSBP RDS.13",
    remediation="Remove auto_minor_version_upgrade=False (the default is True) and keep a maintenance window.",
)
def _auto_minor_upgrade(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    # Unset means the provider default, true.
    value = props.get("autoMinorVersionUpgrade")
    if value is not None and not is_true(value):
        yield "autoMinorVersionUpgrade is false"


@resource_rule(
    name="aws-rds-instance-enable-copy-tags-to-snapshots",
    description="RDS databases must copy their tags to snapshots.",
    resource_types=BOTH,
    severity=Severity.LOW,
    control="AWS-FSBP RDS.17",
    remediation="Set copy_tags_to_snapshot=True.",
)
def _copy_tags(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("copyTagsToSnapshot")):
        yield "copyTagsToSnapshot is not true"


@resource_rule(
    name="aws-rds-instance-disallow-skip-final-snapshot",
    description="Deleting an RDS database must take a final snapshot.",
    resource_types=BOTH,
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Set skip_final_snapshot=False and a final_snapshot_identifier no earlier deletion used "
    "(e.g. <name>-final-<random suffix>: a fixed name fails the second teardown with DBSnapshotAlreadyExists).",
)
def _final_snapshot(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if is_true(props.get("skipFinalSnapshot")):
        yield "skipFinalSnapshot is true: deleting the database would lose everything since the last backup"


@resource_rule(
    name="aws-rds-instance-disallow-plain-master-password",
    description="The master password must be a Secrets Manager secret managed by RDS, never a program input.",
    resource_types=BOTH,
    severity=Severity.HIGH,
    remediation=(
        "Set manage_master_user_password=True (optionally master_user_secret_kms_key_id=<KMS key ARN>) and remove "
        "password/master_password; applications read the secret named by masterUserSecrets."
    ),
)
def _master_password(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type == INSTANCE and props.get("replicateSourceDb"):
        return  # a read replica has the source's master user
    plain = [key for key in PLAIN_PASSWORDS[args.resource_type] if props.get(key)]
    if plain:
        yield f"the master password is given in {', '.join(plain)}"
    elif not is_true(props.get("manageMasterUserPassword")):
        yield "manageMasterUserPassword is not true"


# A resource rule on the parameter group: it runs before anything is created (`pulumi up --skip-preview`) and
# needs nothing of another resource. A PostgreSQL instance on a default parameter group is not judged here: from
# PostgreSQL 15 the default group has rds.force_ssl = 1 (earlier ones have 0: a component gives its own group).
@resource_rule(
    name="aws-rds-parametergroup-enforce-ssl",
    description="PostgreSQL parameter groups (family postgres*) must set rds.force_ssl to 1, so that the databases "
    "using them refuse connections without TLS.",
    resource_types=[PARAMETER_GROUP],
    severity=Severity.HIGH,
    remediation='Add parameters=[ParameterGroupParameterArgs(name="rds.force_ssl", value="1", '
    'apply_method="immediate")] to the database\'s aws.rds.ParameterGroup; clients connect with sslmode=verify-full.',
)
def _force_ssl(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not str(props.get("family") or "").startswith("postgres"):
        return
    values = [
        p.get("value")
        for p in as_list(props.get("parameters"))
        if isinstance(p, Mapping) and p.get("name") == "rds.force_ssl"
    ]
    if not values:
        yield "rds.force_ssl is not set: connections without TLS are accepted"
    elif str(values[-1]).strip() != "1":
        yield f"rds.force_ssl is {values[-1]}: connections without TLS are accepted"


@resource_rule(
    name="aws-rds-instance-enable-enhanced-monitoring",
    description="RDS DB instances must have Enhanced Monitoring on (monitoringInterval above 0, with a "
    "monitoringRoleArn).",
    resource_types=[INSTANCE],
    severity=Severity.LOW,
    control="AWS-FSBP RDS.6",
    remediation="Set monitoring_interval=60 (or less) and monitoring_role_arn=<a role trusted by "
    "monitoring.rds.amazonaws.com with AmazonRDSEnhancedMonitoringRole>.",
)
def _enhanced_monitoring(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    interval = number(props.get("monitoringInterval"), 0)
    if interval <= 0:
        yield "Enhanced Monitoring is off (monitoringInterval is 0 or not set)"
    elif not is_set(props, "monitoringRoleArn"):
        yield f"monitoringInterval is {interval:g} but no monitoringRoleArn is set"


KMS_KEYS = ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:kms/alias:Alias")


@stack_rule(
    name="aws-rds-instanceautomatedbackupsreplication-missing-kms-key",
    description="The cross-region copy of an instance's automated backups must be encrypted with a customer-managed "
    "KMS key in the destination region (kmsKeyId set, not alias/aws/rds).",
    resource_types=[BACKUP_REPLICATION, *KMS_KEYS],
    severity=Severity.HIGH,
    remediation="Set kms_key_id=<the ARN of the platform's customer-managed key in the DR region> "
    "(an aws.kms.Key created with the DR region's provider).",
)
def _backup_copy_key(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    # A stack rule for the first preview: a kmsKeyId not known yet is judged by what it is computed from (a key
    # of this stack is customer-managed); unknown and from anything else, it gives up for that copy alone.
    def check(copy: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if not is_set(copy.props, "kmsKeyId"):
            yield f"the automated-backup copy {copy.name} names no kmsKeyId", copy.urn
            return
        key = reference(copy, "kmsKeyId", KMS_KEYS)
        if any(v.endswith("alias/aws/rds") for v in key.values):
            yield f"the automated-backup copy {copy.name} is encrypted with the AWS-managed key alias/aws/rds", copy.urn

    return each((r for r in resources if r.resource_type == BACKUP_REPLICATION), check)
