"""Guardrails over the whole graph: alarms on data stores, protection of state,
default-deny namespaces and disruption budgets.

Each resource is checked on its own (``each``); what a check gathers from the
other resources goes through ``known_only``, so a value unknown during preview
on one resource hides nothing about the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from guardrails.base import as_list, config_value, dependency_urns, each, known_only, number, stack_rule

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
KMS_KEY = "aws:kms/key:Key"
KMS_REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
KMS_KEYS = (KMS_KEY, KMS_REPLICA_KEY)
KMS_ALIAS = "aws:kms/alias:Alias"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
STORES = (RDS_INSTANCE, RDS_CLUSTER, REPLICATION_GROUP, CACHE_CLUSTER)
# The properties through which a resource names the KMS keys of stateful data.
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    RDS_INSTANCE: ("kmsKeyId", "performanceInsightsKmsKeyId", "masterUserSecretKmsKeyId"),
    RDS_CLUSTER: ("kmsKeyId", "performanceInsightsKmsKeyId", "masterUserSecretKmsKeyId"),
    RDS_BACKUP_REPLICATION: ("kmsKeyId",),
    REPLICATION_GROUP: ("kmsKeyId",),
    **{t: ("rules",) for t in BUCKET_ENCRYPTION},  # rules[].applyServerSideEncryptionByDefault.kmsMasterKeyId
}
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]


def _alarmed(store: PolicyResource, alarms: list[PolicyResource]) -> bool:
    # An alarm watches a store when its dimensions are computed from it.
    return any(
        store.urn in dependency_urns(alarm, "dimensions") | {d.urn for d in alarm.dependencies} for alarm in alarms
    )


@stack_rule(
    name="aws-rds-instance-missing-alarm",
    description="Every RDS instance and cluster must have at least one CloudWatch alarm on its metrics.",
    resource_types=[RDS_INSTANCE, RDS_CLUSTER, ALARM],
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Create aws.cloudwatch.MetricAlarm(s) with dimensions={'DBInstanceIdentifier': db.identifier} "
    "(CPU, freeable memory, connections) wired to the alert topic; watch storage with an RDS event "
    "subscription (category low storage), which follows storage autoscaling.",
)
def _rds_alarm(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    alarms = [r for r in resources if r.resource_type == ALARM]

    def check(db: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if not _alarmed(db, alarms):
            yield f"database {db.name} has no CloudWatch alarm", db.urn

    return each((r for r in resources if r.resource_type in (RDS_INSTANCE, RDS_CLUSTER)), check)


@stack_rule(
    name="aws-elasticache-replicationgroup-missing-alarm",
    description="Every ElastiCache replication group must have at least one CloudWatch alarm on its metrics.",
    resource_types=[REPLICATION_GROUP, ALARM],
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Create aws.cloudwatch.MetricAlarm(s) with dimensions={'ReplicationGroupId': group.id} "
    "(memory, evictions, CPU) wired to the alert topic.",
)
def _cache_alarm(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    alarms = [r for r in resources if r.resource_type == ALARM]

    def check(group: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if not _alarmed(group, alarms):
            yield f"cache {group.name} has no CloudWatch alarm", group.urn

    return each((r for r in resources if r.resource_type == REPLICATION_GROUP), check)


def _is_backup_bucket(resource: PolicyResource) -> bool:
    tags = resource.props.get("tags") or {}
    return resource.resource_type in BUCKET_TYPES and tags.get("purpose") == "backups"


def _is_store(resource: PolicyResource) -> bool:
    """A data store: an RDS instance or cluster, a replication group, or a standalone Redis OSS / Valkey cache
    cluster (a member of a replication group is the group's; Memcached keeps nothing to lose)."""
    if resource.resource_type == CACHE_CLUSTER:
        props = resource.props
        return not props.get("replicationGroupId") and str(props.get("engine") or "redis").lower() != "memcached"
    return resource.resource_type in STORES


def _keys_named(resource: PolicyResource) -> set[str]:
    """URNs of the KMS keys a resource names in its key properties (through an alias, the alias's key)."""
    urns: set[str] = set()
    for key in KEY_PROPERTIES.get(resource.resource_type, ()):
        for dep in resource.property_dependencies.get(key, []):
            if dep.resource_type in KMS_KEYS:
                urns.add(dep.urn)
            elif dep.resource_type == KMS_ALIAS:
                urns |= {d.urn for d in dep.property_dependencies.get("targetKeyId", []) if d.resource_type in KMS_KEYS}
    return urns


def _holds_state(resource: PolicyResource) -> bool:
    """Whether the keys a resource names encrypt stateful data: those of a data store, of its automated-backup
    copy, and of a bucket encryption configuration whose bucket is a backup bucket."""
    if resource.resource_type in (*STORES, RDS_BACKUP_REPLICATION):
        return True
    if resource.resource_type in BUCKET_ENCRYPTION:
        return any(_is_backup_bucket(b) for b in resource.property_dependencies.get("bucket", []))
    return False


@stack_rule(
    name="aws-stateful-resource-enforce-protect",
    description="Stateful resources (RDS instances and clusters, ElastiCache replication groups and standalone "
    "Redis OSS / Valkey clusters, backup buckets) and the KMS keys that encrypt them (storage, Performance "
    "Insights, the master user secret, automated-backup copies, a backup bucket's default encryption) must be "
    "`protect`ed, so that no `pulumi up` or `destroy` deletes them by accident.",
    resource_types=[
        *STORES,
        *BUCKET_TYPES,
        *KMS_KEYS,
        KMS_ALIAS,
        RDS_BACKUP_REPLICATION,
        *BUCKET_ENCRYPTION,
    ],
    severity=Severity.HIGH,
    category="availability",
    remediation="Create the resource with ResourceOptions(protect=True) (the components do so when the stack's "
    "config asks for deletion protection, as prod does); protect the KMS key along with the data it encrypts.",
)
def _protected(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    # Keys that encrypt stateful data are as stateful as the data. A user whose statefulness cannot be
    # told (its tags unknown) leaves the keys it names unknown, not unprotected.
    users = [r for r in resources if r.resource_type in KEY_PROPERTIES]
    holders, unknown = known_only(users, _holds_state)
    state_keys = {urn for user, holds in holders if holds for urn in _keys_named(user)}
    told = {user.urn for user, _ in holders}
    unsure_keys = {urn for user in users if user.urn not in told for urn in _keys_named(user)}

    def check(resource: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if resource.resource_type in KMS_KEYS:
            if resource.urn not in state_keys:
                if resource.urn in unsure_keys and unknown is not None and not resource.opts.protect:
                    raise unknown
                return
        elif not (_is_store(resource) or _is_backup_bucket(resource)):
            return
        if not resource.opts.protect:
            yield f"{resource.resource_type} {resource.name} is not protected", resource.urn

    return each(resources, check)


def _namespace_of(resource: PolicyResource) -> str:
    metadata = resource.props.get("metadata") or {}
    return str(metadata.get("namespace") or "default")


def _is_default_deny(policy: PolicyResource) -> bool:
    spec = policy.props.get("spec") or {}
    selector = spec.get("podSelector") or {}
    selects_all = not (selector.get("matchLabels") or selector.get("matchExpressions"))
    types = {str(t) for t in as_list(spec.get("policyTypes"))}
    return (
        selects_all
        and {"Ingress", "Egress"} <= types
        and not as_list(spec.get("ingress"))
        and not as_list(spec.get("egress"))
    )


@stack_rule(
    name="kubernetes-namespace-missing-default-deny-networkpolicy",
    exemptions=True,
    description="Every application namespace must have a default-deny NetworkPolicy (all pods, Ingress and Egress, "
    "no rules); other policies then allow what is needed.",
    resource_types=[NAMESPACE, NETWORK_POLICY],
    severity=Severity.HIGH,
    control="CIS-EKS 4.3.2",
    remediation="Add a NetworkPolicy in the namespace with podSelector {}, policyTypes [Ingress, Egress] and no rules.",
    config={"excludedNamespaces": {"type": "array", "items": {"type": "string"}, "default": SYSTEM_NAMESPACES}},
)
def _default_deny(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    excluded = set(config_value(args, "excludedNamespaces", SYSTEM_NAMESPACES))
    policies = [p for p in resources if p.resource_type == NETWORK_POLICY]
    # A policy that cannot be read yet may be the default deny of its namespace (of any, if that is unknown too).
    placed, unknown_anywhere = known_only(policies, _namespace_of)
    read, unknown_deny = known_only([policy for policy, _ in placed], _is_default_deny)
    namespace_of = {policy.urn: namespace for policy, namespace in placed}
    denied = {namespace_of[policy.urn] for policy, deny in read if deny}
    told = {policy.urn for policy, _ in read}
    maybe = {namespace for policy, namespace in placed if policy.urn not in told}

    def check(namespace: PolicyResource) -> Iterable[tuple[str, str | None]]:
        name = str((namespace.props.get("metadata") or {}).get("name") or namespace.name)
        if name in excluded or name in denied:
            return
        if unknown_anywhere is not None:
            raise unknown_anywhere
        if name in maybe and unknown_deny is not None:
            raise unknown_deny
        yield f"namespace {name} has no default-deny NetworkPolicy", namespace.urn

    return each((r for r in resources if r.resource_type == NAMESPACE), check)


def _labels(spec: Mapping[str, Any]) -> dict[str, Any]:
    template = spec.get("template") or {}
    return dict(((template.get("metadata") or {}).get("labels") or {}).items())


def _pdb_covers(pdb: PolicyResource, namespace: str, labels: Mapping[str, Any]) -> bool:
    if _namespace_of(pdb) != namespace:
        return False
    match = dict((((pdb.props.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}).items())
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


@stack_rule(
    name="kubernetes-deployment-missing-pod-disruption-budget",
    exemptions=True,
    description="Every Deployment with more than one replica, or scaled by an HPA, must have a PodDisruptionBudget "
    "selecting its pods, so that node drains and upgrades keep it available.",
    resource_types=[DEPLOYMENT, *HPA_TYPES, PDB],
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Add a policy/v1 PodDisruptionBudget in the same namespace with selector.matchLabels of the pods "
    "and minAvailable (or maxUnavailable) set.",
)
def _pdb(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    pdbs = [r for r in resources if r.resource_type == PDB]
    hpas, unknown_hpa = known_only(
        (h for h in resources if h.resource_type in HPA_TYPES),
        lambda h: (_namespace_of(h), str(((h.props.get("spec") or {}).get("scaleTargetRef") or {}).get("name"))),
    )
    scaled = {target for _, target in hpas}

    def check(deployment: PolicyResource) -> Iterable[tuple[str, str | None]]:
        spec = deployment.props.get("spec") or {}
        namespace = _namespace_of(deployment)
        name = str((deployment.props.get("metadata") or {}).get("name") or deployment.name)
        replicated = number(spec.get("replicas"), 1) > 1 or (namespace, name) in scaled
        if not replicated and unknown_hpa is not None:
            raise unknown_hpa  # an HPA that cannot be read yet may scale it
        if not replicated:
            return
        labels = _labels(spec)
        covering, unknown_pdb = known_only(pdbs, lambda p: _pdb_covers(p, namespace, labels))
        if any(covers for _, covers in covering):
            return
        if unknown_pdb is not None:
            raise unknown_pdb
        yield f"deployment {namespace}/{name} has no PodDisruptionBudget", deployment.urn

    return each((r for r in resources if r.resource_type == DEPLOYMENT), check)
