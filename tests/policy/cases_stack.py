"""Fixtures for the whole-graph guardrails."""

from __future__ import annotations

from dataclasses import replace

from tests.policy.harness import Res, StackCase

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
        expect={"no-alarm": "database db has no CloudWatch alarm"},
    ),
    StackCase(
        policy="aws-elasticache-replicationgroup-missing-alarm",
        compliant=[CACHE, alarm("cache-memory", CACHE)],
        violating={"no-alarm": lambda g: g[:1]},
    ),
    StackCase(
        policy="aws-stateful-resource-enforce-protect",
        compliant=[KEY, PROTECTED_DB, BACKUPS, Res("aws:kms/key:Key", "logs-key", {"enableKeyRotation": True})],
        violating={
            "db-unprotected": lambda g: [g[0], replace(g[1], protect=False), *g[2:]],
            "db-key-unprotected": lambda g: [replace(g[0], protect=False), *g[1:]],
            "backup-bucket-unprotected": lambda g: [*g[:2], replace(g[2], protect=False), g[3]],
        },
        expect={"db-key-unprotected": "aws:kms/key:Key db-key"},
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
        expect={"no-policy": "namespace apps"},
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
        expect={"replicated-without-pdb": "deployment apps/api"},
    ),
]
