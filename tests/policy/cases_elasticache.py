"""Fixtures for the ElastiCache guardrails: a Redis replication group as our components send it (prod and
dev), and cache clusters (a member of the group, a Memcached cluster)."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CLUSTER = "aws:elasticache/cluster:Cluster"
KEY = "arn:aws:kms:ca-central-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

_group = {
    "replicationGroupId": "platform-prod-cache",
    "description": "platform prod cache",
    "engine": "redis",
    "engineVersion": "7.1",
    "nodeType": "cache.r7g.large",
    "numCacheClusters": 3,
    "port": 6379,
    "parameterGroupName": "default.redis7",
    "subnetGroupName": "platform-prod-cache",
    "securityGroupIds": ["sg-0cache"],
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "atRestEncryptionEnabled": True,
    "kmsKeyId": KEY,
    "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required",
    "authToken": "Zq4v1XQ2lN8pT0yW6rB3mK7sJ5cH9dF1",
    "snapshotRetentionLimit": 7,
    "snapshotWindow": "03:00-05:00",
    "maintenanceWindow": "sun:05:00-sun:06:00",
    "autoMinorVersionUpgrade": True,
    "tags": {"Name": "platform-prod-cache", "environment": "prod"},
}

# Dev: one node, no failover, snapshots kept 1 day (the dev stack's cache.snapshotRetentionDays).
_dev_group = {
    **_group,
    "replicationGroupId": "platform-dev-cache",
    "nodeType": "cache.t4g.small",
    "numCacheClusters": 1,
    "automaticFailoverEnabled": False,
    "multiAzEnabled": False,
    "snapshotRetentionLimit": 1,
}
# A node added to the group: it takes encryption from the group.
_member = {"clusterId": "platform-prod-cache-004", "replicationGroupId": "platform-prod-cache"}
_memcached = {
    "clusterId": "platform-prod-sessions",
    "engine": "memcached",
    "engineVersion": "1.6.22",
    "nodeType": "cache.t4g.small",
    "numCacheNodes": 2,
    "azMode": "cross-az",
    "subnetGroupName": "platform-prod-cache",
    "securityGroupIds": ["sg-0cache"],
    "transitEncryptionEnabled": True,
}

_rbac_group = {**{k: v for k, v in _group.items() if k != "authToken"}, "userGroupIds": ["platform-prod-cache-users"]}

CASES = [
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-at-rest",
        type=GROUP,
        compliant=_group,
        violating={"off": {"atRestEncryptionEnabled": False}, "aws-managed-key": {"kmsKeyId": DELETE}},
        expect={"off": "encryption at rest is off", "aws-managed-key": "set kmsKeyId"},
        # A key not known yet (one still to be created) is set: only the flag can be unknown.
        unknown=["atRestEncryptionEnabled"],
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-in-transit",
        type=GROUP,
        compliant=_group,
        violating={
            "off": {"transitEncryptionEnabled": False},
            "unset": {"transitEncryptionEnabled": DELETE},
            "preferred-mode": {"transitEncryptionMode": "preferred"},
        },
        expect={
            "off": "encryption in transit is off",
            "unset": "transitEncryptionEnabled is not true",
            "preferred-mode": "transitEncryptionMode is 'preferred'",
        },
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-auth",
        type=GROUP,
        compliant=_group,
        violating={
            "no-token": {"authToken": DELETE},
            "empty-token": {"authToken": ""},
            "token-without-tls": {"transitEncryptionEnabled": False},
        },
        expect={
            "no-token": "neither authToken nor userGroupIds",
            "empty-token": "neither authToken nor userGroupIds",
            "token-without-tls": "authentication needs encryption in transit",
        },
        # A token not known yet (a generated password) is set: only whether TLS is on can be unknown.
        unknown=["transitEncryptionEnabled"],
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-auth",
        type=GROUP,
        compliant=_rbac_group,
        violating={"no-user-group": {"userGroupIds": []}},
        expect={"no-user-group": "no authentication"},
        unknown=["transitEncryptionEnabled"],
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-automatic-failover",
        type=GROUP,
        compliant=_group,
        violating={"off": {"automaticFailoverEnabled": False}},
        expect={"off": "automatic failover is off"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-multi-az",
        type=GROUP,
        compliant=_group,
        violating={"off": {"multiAzEnabled": False}, "unset": {"multiAzEnabled": DELETE}},
        expect={"off": "Multi-AZ is off", "unset": "Multi-AZ is off"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-configure-snapshot-retention",
        type=GROUP,
        compliant=_group,
        violating={
            "one-day": {"snapshotRetentionLimit": 1},
            "off": {"snapshotRetentionLimit": 0},
            "unset": {"snapshotRetentionLimit": DELETE},
        },
        expect={
            "one-day": "snapshotRetentionLimit is 1, less than the minimum of 7 days",
            "off": "snapshotRetentionLimit is 0, less than the minimum of 7 days",
            "unset": "snapshotRetentionLimit is 0",
        },
    ),
    Case(
        policy="aws-elasticache-replicationgroup-configure-snapshot-retention",
        type=GROUP,
        compliant={**_group, "snapshotRetentionLimit": 14},
        config={"minimumDays": 14},
        violating={"a-week": {"snapshotRetentionLimit": 7}},
        expect={"a-week": "minimum of 14"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-disallow-default-subnet-group",
        type=GROUP,
        compliant=_group,
        violating={"default": {"subnetGroupName": "default"}, "unset": {"subnetGroupName": DELETE}},
        expect={"default": "default subnet group", "unset": "subnetGroupName is not set"},
    ),
    # Dev: the stack's policy config (policy/config/dev.json) asks for 1 day of snapshots, and
    # failover and Multi-AZ are advisory there.
    Case(
        policy="aws-elasticache-replicationgroup-configure-snapshot-retention",
        type=GROUP,
        compliant=_dev_group,
        stack="dev",
        violating={"off": {"snapshotRetentionLimit": 0}},
        expect={"off": "snapshotRetentionLimit is 0, less than the minimum of 1 days"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-automatic-failover",
        type=GROUP,
        compliant=_group,
        stack="dev",
        violating={"one-node": {"automaticFailoverEnabled": False}},
        expect={"one-node": "automatic failover is off"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-multi-az",
        type=GROUP,
        compliant=_group,
        stack="dev",
        violating={"one-node": {"multiAzEnabled": False}},
        expect={"one-node": "Multi-AZ is off"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-at-rest",
        type=GROUP,
        compliant=_dev_group,
        stack="dev",
        violating={"off": {"atRestEncryptionEnabled": False}},
        expect={"off": "encryption at rest is off"},
    ),
    # Cache clusters.
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-at-rest",
        type=CLUSTER,
        compliant=_member,
        violating={"standalone-redis": {"replicationGroupId": DELETE, "engine": "redis"}},
        expect={"standalone-redis": "a standalone redis cache cluster cannot be encrypted at rest"},
        unknown=["replicationGroupId"],
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-at-rest",
        type=CLUSTER,
        compliant=_memcached,
        violating={"valkey": {"engine": "valkey"}},
        expect={"valkey": "a standalone valkey cache cluster cannot be encrypted at rest"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-in-transit",
        type=CLUSTER,
        compliant=_member,
        violating={"standalone-redis": {"replicationGroupId": DELETE, "engine": "redis"}},
        expect={"standalone-redis": "a standalone redis cache cluster cannot use TLS"},
        unknown=["replicationGroupId"],
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-encryption-in-transit",
        type=CLUSTER,
        compliant=_memcached,
        violating={"off": {"transitEncryptionEnabled": False}, "unset": {"transitEncryptionEnabled": DELETE}},
        expect={"off": "encryption in transit is off", "unset": "transitEncryptionEnabled is not true"},
    ),
    Case(
        policy="aws-elasticache-replicationgroup-enable-auto-minor-version-upgrade",
        type=GROUP,
        compliant=_group,
        violating={"off": {"autoMinorVersionUpgrade": False}},
        expect={"off": "autoMinorVersionUpgrade is false"},
    ),
]
