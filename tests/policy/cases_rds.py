"""Fixtures for the RDS guardrails: a PostgreSQL instance and a DB cluster as our components send them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.policy.harness import DELETE, Case, Change, Res, StackCase, unknown

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
KEY = "arn:aws:kms:ca-central-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
AWS_MANAGED_KEY = "arn:aws:kms:ca-central-1:123456789012:alias/aws/rds"

PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
DR_KEY = "arn:aws:kms:ca-west-1:123456789012:key/1c2d3e4f-5061-7283-94a5-b6c7d8e9f0a1"
DR_AWS_MANAGED_KEY = "arn:aws:kms:ca-west-1:123456789012:alias/aws/rds"

_instance = {
    "identifier": "platform-prod-db",
    "engine": "postgres",
    "engineVersion": "17.6",
    "instanceClass": "db.r7g.large",
    "allocatedStorage": 100,
    "maxAllocatedStorage": 500,
    "storageType": "gp3",
    "storageEncrypted": True,
    "kmsKeyId": KEY,
    "dbName": "app",
    "username": "app",
    "manageMasterUserPassword": True,
    "masterUserSecretKmsKeyId": KEY,
    "dbSubnetGroupName": "platform-prod-db",
    "parameterGroupName": "platform-prod-postgres17",
    "vpcSecurityGroupIds": ["sg-0db"],
    "publiclyAccessible": False,
    "multiAz": True,
    "backupRetentionPeriod": 30,
    "backupWindow": "03:00-04:00",
    "maintenanceWindow": "sun:04:30-sun:05:30",
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "platform-prod-db-final",
    "copyTagsToSnapshot": True,
    "iamDatabaseAuthenticationEnabled": True,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KEY,
    "performanceInsightsRetentionPeriod": 7,
    "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
    "autoMinorVersionUpgrade": True,
    "monitoringInterval": 60,
    "monitoringRoleArn": "arn:aws:iam::123456789012:role/platform-prod-rds-monitoring",
    "tags": {"Name": "platform-prod-db", "environment": "prod"},
}

_cluster = {
    "clusterIdentifier": "platform-prod-aurora",
    "engine": "aurora-postgresql",
    "engineVersion": "17.6",
    "databaseName": "app",
    "masterUsername": "app",
    "manageMasterUserPassword": True,
    "masterUserSecretKmsKeyId": KEY,
    "storageEncrypted": True,
    "kmsKeyId": KEY,
    "dbSubnetGroupName": "platform-prod-db",
    "vpcSecurityGroupIds": ["sg-0db"],
    "backupRetentionPeriod": 30,
    "preferredBackupWindow": "03:00-04:00",
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "platform-prod-aurora-final",
    "copyTagsToSnapshot": True,
    "iamDatabaseAuthenticationEnabled": True,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KEY,
    "enabledCloudwatchLogsExports": ["postgresql"],
    "tags": {"Name": "platform-prod-aurora", "environment": "prod"},
}

_cluster_instance = {
    "identifier": "platform-prod-aurora-1",
    "clusterIdentifier": "platform-prod-aurora",
    "engine": "aurora-postgresql",
    "instanceClass": "db.r7g.large",
    "dbSubnetGroupName": "platform-prod-db",
    "publiclyAccessible": False,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KEY,
    "autoMinorVersionUpgrade": True,
    "monitoringInterval": 60,
    "tags": {"Name": "platform-prod-aurora-1"},
}

# Dev, as the dev stack file configures the database: single-AZ, backups kept 7 days, no deletion
# protection, final snapshot skipped (availability rules are advisory in dev).
_dev_instance = {
    **_instance,
    "identifier": "platform-dev-db",
    "instanceClass": "db.t4g.medium",
    "multiAz": False,
    "backupRetentionPeriod": 7,
    "deletionProtection": False,
    "skipFinalSnapshot": True,
}

_replica = {
    **{
        k: v
        for k, v in _instance.items()
        if k not in ("dbName", "username", "manageMasterUserPassword", "masterUserSecretKmsKeyId")
    },
    "identifier": "platform-prod-db-replica",
    "replicateSourceDb": "arn:aws:rds:ca-central-1:123456789012:db:platform-prod-db",
}

_parameter_group = {
    "name": "platform-prod-postgres17",
    "family": "postgres17",
    "description": "PostgreSQL 17: TLS only",
    "parameters": [
        {"name": "max_connections", "value": "200", "applyMethod": "pending-reboot"},
        {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"},
    ],
}

# The cross-region copy of the instance's automated backups, with the DR region's key of this stack.
DR_KEY_RES = Res("aws:kms/key:Key", "dr-key", {"description": "DR backups", "enableKeyRotation": True})
BACKUP_COPY = Res(
    BACKUP_REPLICATION,
    "dr-backups",
    {
        "sourceDbInstanceArn": "arn:aws:rds:ca-central-1:123456789012:db:platform-prod-db",
        "kmsKeyId": DR_KEY,
        "retentionPeriod": 30,
    },
    property_dependencies={"kmsKeyId": [DR_KEY_RES.urn]},
)
OTHER_COPY = Res(
    BACKUP_REPLICATION,
    "other-backups",
    {"sourceDbInstanceArn": "arn:aws:rds:ca-central-1:123456789012:db:platform-prod-other", "retentionPeriod": 7},
)
BACKUP_COPY_GRAPH = [DR_KEY_RES, BACKUP_COPY]


def changed(name: str, key: str, value: Any) -> Change:
    def change(graph: list[Res]) -> list[Res]:
        props = lambda r: {k: v for k, v in {**r.props, key: value}.items() if v is not DELETE}  # noqa: E731
        return [replace(r, props=props(r)) if r.name == name else r for r in graph]

    return change


CASES = [
    Case(
        policy="aws-rds-instance-enable-storage-encryption",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "unencrypted": {"storageEncrypted": False},
            "aws-managed-key": {"kmsKeyId": DELETE},
            "aws-managed-alias": {"kmsKeyId": AWS_MANAGED_KEY},
        },
        expect={
            "unencrypted": "not encrypted",
            "aws-managed-key": "set kmsKeyId",
            "aws-managed-alias": "alias/aws/rds",
        },
        # A key not known yet (one still to be created) is a customer-managed key: only the flag can be unknown.
        unknown=["storageEncrypted"],
    ),
    Case(
        policy="aws-rds-instance-enable-storage-encryption",
        type=CLUSTER,
        compliant=_cluster,
        violating={"unencrypted": {"storageEncrypted": DELETE}},
        expect={"unencrypted": "DB cluster's storage is not encrypted"},
    ),
    Case(
        policy="aws-rds-instance-disallow-public-access",
        type=INSTANCE,
        compliant=_instance,
        violating={"public": {"publiclyAccessible": True}},
        expect={"public": "publicly accessible"},
    ),
    Case(
        policy="aws-rds-instance-disallow-public-access",
        type=CLUSTER,
        compliant=_cluster,
        violating={"public": {"publiclyAccessible": True}},
        expect={"public": "DB cluster is publicly accessible"},
    ),
    Case(
        policy="aws-rds-instance-disallow-public-access",
        type=CLUSTER_INSTANCE,
        compliant=_cluster_instance,
        violating={"public": {"publiclyAccessible": True}},
        expect={"public": "the DB cluster instance is publicly accessible"},
    ),
    Case(
        policy="aws-rds-instance-configure-backup-retention",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "a-week": {"backupRetentionPeriod": 7},
            "off": {"backupRetentionPeriod": 0},
            "unset": {"backupRetentionPeriod": DELETE},
        },
        expect={
            "a-week": "backupRetentionPeriod is 7, less than the minimum of 30 days",
            "off": "backupRetentionPeriod is 0, less than the minimum of 30 days",
            "unset": "not set",
        },
    ),
    Case(
        policy="aws-rds-instance-configure-backup-retention",
        type=INSTANCE,
        compliant={**_instance, "backupRetentionPeriod": 7},
        config={"minimumDays": 7},
        violating={"one-day": {"backupRetentionPeriod": 1}},
        expect={"one-day": "minimum of 7"},
    ),
    Case(
        policy="aws-rds-instance-configure-backup-retention",
        type=CLUSTER,
        compliant=_cluster,
        violating={"a-week": {"backupRetentionPeriod": 7}},
        expect={"a-week": "backupRetentionPeriod is 7, less than the minimum of 30 days"},
    ),
    Case(
        policy="aws-rds-instance-enable-deletion-protection",
        type=INSTANCE,
        compliant=_instance,
        violating={"off": {"deletionProtection": False}, "unset": {"deletionProtection": DELETE}},
        expect={"off": "no deletion protection", "unset": "the DB instance has no deletion protection"},
    ),
    Case(
        policy="aws-rds-instance-enable-deletion-protection",
        type=CLUSTER,
        compliant=_cluster,
        violating={"off": {"deletionProtection": False}},
        expect={"off": "the DB cluster has no deletion protection"},
    ),
    Case(
        policy="aws-rds-instance-enable-multi-az",
        type=INSTANCE,
        compliant=_instance,
        violating={"single-az": {"multiAz": False}},
        expect={"single-az": "single-AZ"},
    ),
    Case(
        policy="aws-rds-instance-enable-iam-authentication",
        type=INSTANCE,
        compliant=_instance,
        violating={"off": {"iamDatabaseAuthenticationEnabled": False}},
        expect={"off": "IAM database authentication off"},
    ),
    Case(
        policy="aws-rds-instance-enable-iam-authentication",
        type=CLUSTER,
        compliant=_cluster,
        violating={"unset": {"iamDatabaseAuthenticationEnabled": DELETE}},
        expect={"unset": "the DB cluster has IAM database authentication off"},
    ),
    Case(
        policy="aws-rds-instance-enable-performance-insights-encryption",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "off": {"performanceInsightsEnabled": False},
            "no-key": {"performanceInsightsKmsKeyId": DELETE},
            "aws-managed-key": {"performanceInsightsKmsKeyId": AWS_MANAGED_KEY},
        },
        expect={"off": "Performance Insights is off", "no-key": "no KMS key", "aws-managed-key": "AWS-managed key"},
        unknown=["performanceInsightsEnabled"],
    ),
    Case(
        policy="aws-rds-instance-enable-performance-insights-encryption",
        type=CLUSTER,
        compliant=_cluster,
        violating={"no-key": {"performanceInsightsKmsKeyId": DELETE}},
        expect={"no-key": "Performance Insights has no KMS key"},
        unknown=["performanceInsightsEnabled"],
    ),
    Case(
        policy="aws-rds-instance-enable-log-exports",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "only-upgrade": {"enabledCloudwatchLogsExports": ["upgrade"]},
            "none": {"enabledCloudwatchLogsExports": DELETE},
        },
        expect={"only-upgrade": "lacks postgresql", "none": "enabledCloudwatchLogsExports lacks postgresql"},
        # An unknown element of the list is as unknown as the whole list.
        unknown=["enabledCloudwatchLogsExports.0"],
    ),
    Case(
        policy="aws-rds-instance-enable-log-exports",
        type=CLUSTER,
        compliant=_cluster,
        violating={"empty": {"enabledCloudwatchLogsExports": []}},
        expect={"empty": "enabledCloudwatchLogsExports lacks postgresql"},
    ),
    Case(
        policy="aws-rds-instance-enable-auto-minor-version-upgrade",
        type=INSTANCE,
        compliant=_instance,
        violating={"off": {"autoMinorVersionUpgrade": False}},
        expect={"off": "autoMinorVersionUpgrade is false"},
    ),
    Case(
        policy="aws-rds-instance-enable-auto-minor-version-upgrade",
        type=CLUSTER,
        compliant=_cluster,
        violating={"off": {"autoMinorVersionUpgrade": False}},
        expect={"off": "autoMinorVersionUpgrade is false"},
    ),
    Case(
        policy="aws-rds-instance-enable-copy-tags-to-snapshots",
        type=INSTANCE,
        compliant=_instance,
        violating={"off": {"copyTagsToSnapshot": False}},
        expect={"off": "copyTagsToSnapshot is not true"},
    ),
    Case(
        policy="aws-rds-instance-enable-copy-tags-to-snapshots",
        type=CLUSTER,
        compliant=_cluster,
        violating={"unset": {"copyTagsToSnapshot": DELETE}},
        expect={"unset": "copyTagsToSnapshot is not true"},
    ),
    Case(
        policy="aws-rds-instance-disallow-skip-final-snapshot",
        type=INSTANCE,
        compliant=_instance,
        violating={"skipped": {"skipFinalSnapshot": True}},
        expect={"skipped": "skipFinalSnapshot is true"},
    ),
    Case(
        policy="aws-rds-instance-disallow-skip-final-snapshot",
        type=CLUSTER,
        compliant=_cluster,
        violating={"skipped": {"skipFinalSnapshot": True}},
        expect={"skipped": "skipFinalSnapshot is true"},
    ),
    Case(
        policy="aws-rds-instance-disallow-plain-master-password",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "plain-password": {"password": "correct-horse-battery-staple"},
            "write-only-password": {"passwordWo": "correct-horse-battery-staple"},
            "not-managed": {"manageMasterUserPassword": False},
        },
        expect={
            "plain-password": "given in password",
            "write-only-password": "the master password is given in passwordWo",
            "not-managed": "manageMasterUserPassword is not true",
        },
    ),
    Case(
        policy="aws-rds-instance-disallow-plain-master-password",
        type=CLUSTER,
        compliant=_cluster,
        violating={
            "plain-password": {"masterPassword": "correct-horse-battery-staple"},
            "not-managed": {"manageMasterUserPassword": DELETE},
        },
        expect={"plain-password": "given in masterPassword", "not-managed": "manageMasterUserPassword is not true"},
    ),
    Case(
        # A read replica takes the source's master user: no password settings of its own.
        policy="aws-rds-instance-disallow-plain-master-password",
        type=INSTANCE,
        compliant=_replica,
        violating={"promoted-without-managed-password": {"replicateSourceDb": DELETE}},
        expect={"promoted-without-managed-password": "manageMasterUserPassword is not true"},
    ),
    # Dev: the stack's policy config asks for 7 days of backups; availability rules are advisory there.
    Case(
        policy="aws-rds-instance-configure-backup-retention",
        type=INSTANCE,
        compliant=_dev_instance,
        stack="dev",
        violating={"three-days": {"backupRetentionPeriod": 3}},
        expect={"three-days": "backupRetentionPeriod is 3, less than the minimum of 7 days"},
    ),
    Case(
        policy="aws-rds-instance-enable-multi-az",
        type=INSTANCE,
        compliant=_instance,
        stack="dev",
        violating={"single-az": {"multiAz": False}},
        expect={"single-az": "the DB instance is single-AZ"},
    ),
    Case(
        policy="aws-rds-instance-enable-deletion-protection",
        type=INSTANCE,
        compliant=_instance,
        stack="dev",
        violating={"off": {"deletionProtection": False}},
        expect={"off": "the DB instance has no deletion protection"},
    ),
    Case(
        policy="aws-rds-instance-disallow-skip-final-snapshot",
        type=INSTANCE,
        compliant=_instance,
        stack="dev",
        violating={"skipped": {"skipFinalSnapshot": True}},
        expect={"skipped": "skipFinalSnapshot is true"},
    ),
    Case(
        # Security stays mandatory in dev.
        policy="aws-rds-instance-disallow-public-access",
        type=INSTANCE,
        compliant=_dev_instance,
        stack="dev",
        violating={"public": {"publiclyAccessible": True}},
        expect={"public": "the DB instance is publicly accessible"},
    ),
    # --- TLS only, Enhanced Monitoring, the cross-region backup copy ---
    Case(
        policy="aws-rds-parametergroup-enforce-ssl",
        type=PARAMETER_GROUP,
        compliant=_parameter_group,
        violating={
            "ssl-not-forced": {"parameters.1.value": "0"},
            "parameter-removed": {"parameters": [_parameter_group["parameters"][0]]},
        },
        expect={"ssl-not-forced": "rds.force_ssl is 0", "parameter-removed": "rds.force_ssl is not set"},
        unknown=["parameters.1.value"],
    ),
    Case(
        # A MySQL group has no rds.force_ssl to set: not judged.
        policy="aws-rds-parametergroup-enforce-ssl",
        type=PARAMETER_GROUP,
        compliant={**_parameter_group, "family": "mysql8.0", "parameters": []},
        violating={"now-postgres": {"family": "postgres17"}},
        expect={"now-postgres": "rds.force_ssl is not set"},
    ),
    Case(
        policy="aws-rds-instance-enable-enhanced-monitoring",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "off": {"monitoringInterval": 0},
            "unset": {"monitoringInterval": DELETE},
            "no-role": {"monitoringRoleArn": DELETE},
        },
        expect={
            "off": "Enhanced Monitoring is off",
            "unset": "Enhanced Monitoring is off",
            "no-role": "no monitoringRoleArn",
        },
        # A role not known yet (created with the database) is set: only the interval can be unknown.
        unknown=["monitoringInterval"],
    ),
    StackCase(
        policy="aws-rds-instanceautomatedbackupsreplication-missing-kms-key",
        compliant=BACKUP_COPY_GRAPH,
        violating={
            "no-key": changed("dr-backups", "kmsKeyId", DELETE),
            "aws-managed-key": changed("dr-backups", "kmsKeyId", DR_AWS_MANAGED_KEY),
        },
        expect={
            "no-key": "dr-backups names no kmsKeyId",
            "aws-managed-key": "dr-backups is encrypted with the AWS-managed key",
            "key-of-the-stack-unknown": "other-backups names no kmsKeyId",
            "key-from-elsewhere-unknown": "other-backups names no kmsKeyId",
        },
        unknown={
            # A first preview: the DR key's ARN unknown, computed from the key of this stack: decided (no violation),
            # while another copy without a key still shows. The notice comes from the copy whose unknown key comes
            # from no resource of this stack.
            "key-of-the-stack-unknown": lambda graph: [
                *[replace(r, props={**r.props, "kmsKeyId": unknown()}) if r.name == "dr-backups" else r for r in graph],
                replace(OTHER_COPY, name="third-backups", props={**OTHER_COPY.props, "kmsKeyId": unknown()}),
                OTHER_COPY,
            ],
            "key-from-elsewhere-unknown": lambda graph: [
                *graph,
                replace(OTHER_COPY, name="third-backups", props={**OTHER_COPY.props, "kmsKeyId": unknown()}),
                OTHER_COPY,
            ],
        },
    ),
]
