"""Fixtures for the whole-graph guardrails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tests.policy.harness import Res, StackCase, unknown

DB = Res("aws:rds/instance:Instance", "db", {"identifier": "platform-prod-postgres", "storageEncrypted": True})
CACHE = Res("aws:elasticache/replicationGroup:ReplicationGroup", "cache", {"replicationGroupId": "platform-prod-redis"})


def alarm(name: str, target: Res) -> Res:
    return Res(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        name,
        {"metricName": "CPUUtilization"},
        property_dependencies={"dimensions": [target.urn]},
    )


KEY = Res("aws:kms/key:Key", "db-key", {"enableKeyRotation": True}, protect=True)
PROTECTED_DB = Res(
    "aws:rds/instance:Instance",
    "db",
    {"identifier": "platform-prod-postgres"},
    property_dependencies={"kmsKeyId": [KEY.urn]},
    protect=True,
)
BACKUPS = Res(
    "aws:s3/bucket:Bucket", "backups", {"bucket": "platform-prod-backups", "tags": {"purpose": "backups"}}, protect=True
)

# The keys a database, a cache and a backup bucket name, as the data-tier components wire them.
PI_KEY = Res("aws:kms/key:Key", "pi-key", {"enableKeyRotation": True}, protect=True)
SECRET_KEY = Res("aws:kms/key:Key", "secret-key", {"enableKeyRotation": True}, protect=True)
SECRET_ALIAS = Res(
    "aws:kms/alias:Alias",
    "secret-key-alias",
    {"name": "alias/platform-prod-db-secret"},
    property_dependencies={"targetKeyId": [SECRET_KEY.urn]},
)
DR_KEY = Res("aws:kms/key:Key", "dr-key", {"enableKeyRotation": True}, protect=True)
CACHE_KEY = Res("aws:kms/key:Key", "cache-key", {"enableKeyRotation": True}, protect=True)
BACKUPS_KEY = Res("aws:kms/key:Key", "backups-key", {"enableKeyRotation": True}, protect=True)
LOGS_KEY = Res("aws:kms/key:Key", "logs-key", {"enableKeyRotation": True})
DB_WITH_KEYS = Res(
    "aws:rds/instance:Instance",
    "db",
    {"identifier": "platform-prod-postgres", "storageEncrypted": True, "performanceInsightsEnabled": True},
    property_dependencies={
        "kmsKeyId": [KEY.urn],
        "performanceInsightsKmsKeyId": [PI_KEY.urn],
        "masterUserSecretKmsKeyId": [SECRET_ALIAS.urn],
    },
    protect=True,
)
DB_BACKUP_COPY = Res(
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    "db-dr-backups",
    {"retentionPeriod": 30},
    property_dependencies={"kmsKeyId": [DR_KEY.urn], "sourceDbInstanceArn": [DB_WITH_KEYS.urn]},
)
PROTECTED_CACHE = Res(
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "cache",
    {"replicationGroupId": "platform-prod-redis", "atRestEncryptionEnabled": True},
    property_dependencies={"kmsKeyId": [CACHE_KEY.urn]},
    protect=True,
)
BACKUPS_ENCRYPTION = Res(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "backups-encryption",
    {"bucket": "platform-prod-backups", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
    property_dependencies={"bucket": [BACKUPS.urn], "rules": [BACKUPS_KEY.urn]},
)
LOG_BUCKET = Res(
    "aws:s3/bucket:Bucket", "access-logs", {"bucket": "platform-prod-access-logs", "tags": {}}, protect=True
)
LOG_BUCKET_ENCRYPTION = Res(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "access-logs-encryption",
    {
        "bucket": "platform-prod-access-logs",
        "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
    },
    property_dependencies={"bucket": [LOG_BUCKET.urn], "rules": [LOGS_KEY.urn]},
)
# The log bucket and its key first: a value unknown there must hide nothing that comes after.
# Cache clusters: a standalone Redis node holds data; a member of a replication group and Memcached do not.
SESSIONS = Res("aws:elasticache/cluster:Cluster", "sessions", {"clusterId": "sessions", "engine": "redis"})
SESSION_NODE = Res(
    "aws:elasticache/cluster:Cluster",
    "sessions-1",
    {"clusterId": "sessions-1", "replicationGroupId": "platform-prod-redis"},
)
MEMCACHED = Res("aws:elasticache/cluster:Cluster", "memcached", {"clusterId": "pages", "engine": "memcached"})
DATA_TIER = [
    LOGS_KEY,
    LOG_BUCKET,
    LOG_BUCKET_ENCRYPTION,
    KEY,
    PI_KEY,
    SECRET_KEY,
    SECRET_ALIAS,
    DR_KEY,
    CACHE_KEY,
    BACKUPS_KEY,
    DB_WITH_KEYS,
    DB_BACKUP_COPY,
    PROTECTED_CACHE,
    BACKUPS,
    BACKUPS_ENCRYPTION,
    SESSION_NODE,
    MEMCACHED,
]


def unprotected(name: str) -> Callable[[list[Res]], list[Res]]:
    return lambda graph: [replace(r, protect=False) if r.name == name else r for r in graph]


def with_props(name: str, **props: Any) -> Callable[[list[Res]], list[Res]]:
    return lambda graph: [replace(r, props={**r.props, **props}) if r.name == name else r for r in graph]


def namespace(name: str) -> Res:
    return Res("kubernetes:core/v1:Namespace", f"ns-{name}", {"metadata": {"name": name}})


def deny_all(ns: str) -> Res:
    return Res(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        f"deny-{ns}",
        {
            "metadata": {"name": "default-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
    )


def deployment(replicas: int) -> Res:
    return Res(
        "kubernetes:apps/v1:Deployment",
        "api",
        {
            "metadata": {"name": "api", "namespace": "apps"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "api", "tier": "web"}}},
            },
        },
    )


def worker() -> Res:
    base = deployment(2)
    props = {
        "metadata": {"name": "worker", "namespace": "apps"},
        "spec": {**base.props["spec"], "template": {"metadata": {"labels": {"app": "worker"}}}},
    }
    return Res(base.type, "worker", props)


PDB = Res(
    "kubernetes:policy/v1:PodDisruptionBudget",
    "api-pdb",
    {
        "metadata": {"name": "api", "namespace": "apps"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "api"}}},
    },
)
HPA = Res(
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "api-hpa",
    {
        "metadata": {"name": "api", "namespace": "apps"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "minReplicas": 1},
    },
)

CASES = [
    StackCase(
        policy="aws-rds-instance-missing-alarm",
        compliant=[DB, alarm("db-cpu", DB)],
        violating={"no-alarm": lambda g: g[:1], "alarm-on-something-else": lambda g: [g[0], alarm("other", CACHE)]},
        expect={
            "no-alarm": "database db has no CloudWatch alarm",
            "alarm-on-something-else": "database db has no CloudWatch alarm",
        },
    ),
    StackCase(
        policy="aws-elasticache-replicationgroup-missing-alarm",
        compliant=[CACHE, alarm("cache-memory", CACHE)],
        violating={"no-alarm": lambda g: g[:1]},
        expect={"no-alarm": "cache cache has no CloudWatch alarm"},
    ),
    StackCase(
        # Dev: availability rules are advisory.
        policy="aws-elasticache-replicationgroup-missing-alarm",
        compliant=[CACHE, alarm("cache-memory", CACHE)],
        stack="dev",
        violating={"no-alarm": lambda g: g[:1]},
        expect={"no-alarm": "cache cache has no CloudWatch alarm"},
    ),
    StackCase(
        policy="aws-stateful-resource-enforce-protect",
        compliant=[KEY, PROTECTED_DB, BACKUPS, Res("aws:kms/key:Key", "logs-key", {"enableKeyRotation": True})],
        violating={
            "db-unprotected": lambda g: [g[0], replace(g[1], protect=False), *g[2:]],
            "db-key-unprotected": lambda g: [replace(g[0], protect=False), *g[1:]],
            "backup-bucket-unprotected": lambda g: [*g[:2], replace(g[2], protect=False), g[3]],
        },
        expect={
            "db-unprotected": "aws:rds/instance:Instance db is not protected",
            "db-key-unprotected": "aws:kms/key:Key db-key",
            "backup-bucket-unprotected": "aws:s3/bucket:Bucket backups is not protected",
        },
    ),
    StackCase(
        # Every key that encrypts stateful data: storage, Performance Insights, the master user secret (through
        # its alias), the automated-backup copy, the cache, the backup bucket's default encryption.
        policy="aws-stateful-resource-enforce-protect",
        compliant=DATA_TIER,
        violating={
            "performance-insights-key": unprotected("pi-key"),
            "master-secret-key-behind-alias": unprotected("secret-key"),
            "backup-copy-key": unprotected("dr-key"),
            "cache-key": unprotected("cache-key"),
            "backup-bucket-key": unprotected("backups-key"),
            "cache": unprotected("cache"),
            "log-bucket-becomes-backups": with_props("access-logs", tags={"purpose": "backups"}),
            "standalone-redis-node": lambda g: [*g, SESSIONS],
            "sessions-node-leaves-its-group": lambda g: [
                replace(r, props={"clusterId": "sessions-1"}) if r.name == "sessions-1" else r for r in g
            ],
        },
        expect={
            "performance-insights-key": "aws:kms/key:Key pi-key is not protected",
            "master-secret-key-behind-alias": "aws:kms/key:Key secret-key is not protected",
            "backup-copy-key": "aws:kms/key:Key dr-key is not protected",
            "cache-key": "aws:kms/key:Key cache-key is not protected",
            "backup-bucket-key": "aws:kms/key:Key backups-key is not protected",
            "cache": "aws:elasticache/replicationGroup:ReplicationGroup cache is not protected",
            # Its bucket and key become stateful; the bucket carries protect in this case, the key does not.
            "log-bucket-becomes-backups": "aws:kms/key:Key logs-key is not protected",
            "unknown-bucket-tags": "aws:kms/key:Key pi-key is not protected",
            "standalone-redis-node": "aws:elasticache/cluster:Cluster sessions is not protected",
            "sessions-node-leaves-its-group": "aws:elasticache/cluster:Cluster sessions-1 is not protected",
        },
        unknown={
            # Whether the log bucket holds backups cannot be told (its key neither); the PI key still can.
            "unknown-bucket-tags": lambda g: unprotected("pi-key")(with_props("access-logs", tags=unknown())(g)),
        },
    ),
    StackCase(
        # Dev: protect is advisory.
        policy="aws-stateful-resource-enforce-protect",
        compliant=DATA_TIER,
        stack="dev",
        violating={"db-unprotected": unprotected("db")},
        expect={"db-unprotected": "aws:rds/instance:Instance db is not protected"},
    ),
    StackCase(
        policy="kubernetes-namespace-missing-default-deny-networkpolicy",
        compliant=[namespace("apps"), deny_all("apps"), namespace("kube-system")],
        violating={
            "no-policy": lambda g: [g[0], g[2]],
            "policy-allows-ingress": lambda g: [
                g[0],
                replace(
                    g[1],
                    props={**g[1].props, "spec": {**g[1].props["spec"], "ingress": [{"from": [{"podSelector": {}}]}]}},
                ),
                g[2],
            ],
            "policy-in-other-namespace": lambda g: [g[0], deny_all("other"), g[2]],
        },
        expect={
            "no-policy": "namespace apps has no default-deny NetworkPolicy",
            "policy-allows-ingress": "namespace apps has no default-deny NetworkPolicy",
            "policy-in-other-namespace": "namespace apps has no default-deny NetworkPolicy",
        },
    ),
    StackCase(
        policy="kubernetes-namespace-missing-default-deny-networkpolicy",
        compliant=[namespace("apps"), deny_all("apps"), namespace("web"), deny_all("web")],
        violating={"web-without-policy": lambda g: g[:3]},
        expect={
            "web-without-policy": "namespace web has no default-deny NetworkPolicy",
            "unknown-spec-in-apps": "namespace web has no default-deny NetworkPolicy",
        },
        unknown={
            # The apps policy cannot be read yet (apps is not judged); web has no policy at all.
            "unknown-spec-in-apps": lambda g: [g[0], replace(g[1], props={**g[1].props, "spec": unknown()}), g[2]],
        },
    ),
    StackCase(
        policy="kubernetes-deployment-missing-pod-disruption-budget",
        compliant=[deployment(3), PDB],
        violating={
            "replicated-without-pdb": lambda g: g[:1],
            "hpa-without-pdb": lambda g: [deployment(1), HPA],
            "pdb-selects-other-pods": lambda g: [
                g[0],
                replace(
                    PDB,
                    props={**PDB.props, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "worker"}}}},
                ),
            ],
        },
        expect={
            "replicated-without-pdb": "deployment apps/api has no PodDisruptionBudget",
            "hpa-without-pdb": "deployment apps/api has no PodDisruptionBudget",
            "pdb-selects-other-pods": "deployment apps/api has no PodDisruptionBudget",
            "unknown-replicas": "deployment apps/worker has no PodDisruptionBudget",
        },
        unknown={
            # The api's replicas unknown: it is not judged; a second replicated deployment without a PDB is.
            "unknown-replicas": lambda g: [
                replace(g[0], props={**g[0].props, "spec": {**g[0].props["spec"], "replicas": unknown()}}),
                g[1],
                worker(),
            ],
        },
    ),
]
