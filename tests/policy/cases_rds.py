"""Fixtures for the RDS guardrails: a PostgreSQL instance and a DB cluster as our components send them."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
KEY = "arn:aws:kms:ca-central-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
AWS_MANAGED_KEY = "arn:aws:kms:ca-central-1:123456789012:alias/aws/rds"

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

_replica = {
    **{
        k: v
        for k, v in _instance.items()
        if k not in ("dbName", "username", "manageMasterUserPassword", "masterUserSecretKmsKeyId")
    },
    "identifier": "platform-prod-db-replica",
    "replicateSourceDb": "arn:aws:rds:ca-central-1:123456789012:db:platform-prod-db",
}

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
        policy="aws-rds-instance-configure-backup-retention",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "a-week": {"backupRetentionPeriod": 7},
            "off": {"backupRetentionPeriod": 0},
            "unset": {"backupRetentionPeriod": DELETE},
        },
        expect={"a-week": "backupRetentionPeriod is 7, less than the minimum of 30 days", "unset": "not set"},
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
    ),
    Case(
        policy="aws-rds-instance-enable-deletion-protection",
        type=INSTANCE,
        compliant=_instance,
        violating={"off": {"deletionProtection": False}, "unset": {"deletionProtection": DELETE}},
        expect={"off": "no deletion protection"},
    ),
    Case(
        policy="aws-rds-instance-enable-deletion-protection",
        type=CLUSTER,
        compliant=_cluster,
        violating={"off": {"deletionProtection": False}},
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
    ),
    Case(
        policy="aws-rds-instance-enable-performance-insights-encryption",
        type=CLUSTER,
        compliant=_cluster,
        violating={"no-key": {"performanceInsightsKmsKeyId": DELETE}},
    ),
    Case(
        policy="aws-rds-instance-enable-log-exports",
        type=INSTANCE,
        compliant=_instance,
        violating={
            "only-upgrade": {"enabledCloudwatchLogsExports": ["upgrade"]},
            "none": {"enabledCloudwatchLogsExports": DELETE},
        },
        expect={"only-upgrade": "lacks postgresql"},
        # An unknown element of the list is as unknown as the whole list.
        unknown=["enabledCloudwatchLogsExports.0"],
    ),
    Case(
        policy="aws-rds-instance-enable-log-exports",
        type=CLUSTER,
        compliant=_cluster,
        violating={"empty": {"enabledCloudwatchLogsExports": []}},
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
    ),
    Case(
        policy="aws-rds-instance-enable-copy-tags-to-snapshots",
        type=INSTANCE,
        compliant=_instance,
        violating={"off": {"copyTagsToSnapshot": False}},
    ),
    Case(
        policy="aws-rds-instance-enable-copy-tags-to-snapshots",
        type=CLUSTER,
        compliant=_cluster,
        violating={"unset": {"copyTagsToSnapshot": DELETE}},
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
        expect={"plain-password": "given in password", "not-managed": "manageMasterUserPassword is not true"},
    ),
    Case(
        policy="aws-rds-instance-disallow-plain-master-password",
        type=CLUSTER,
        compliant=_cluster,
        violating={
            "plain-password": {"masterPassword": "correct-horse-battery-staple"},
            "not-managed": {"manageMasterUserPassword": DELETE},
        },
        expect={"plain-password": "given in masterPassword"},
    ),
    Case(
        # A read replica takes the source's master user: no password settings of its own.
        policy="aws-rds-instance-disallow-plain-master-password",
        type=INSTANCE,
        compliant=_replica,
        violating={"promoted-without-managed-password": {"replicateSourceDb": DELETE}},
        expect={"promoted-without-managed-password": "manageMasterUserPassword is not true"},
    ),
]
