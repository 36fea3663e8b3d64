"""Guardrails over the whole graph: alarms on data stores, protection of state,
default-deny namespaces and disruption budgets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from guardrails.base import as_list, config_value, number, stack_rule

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
KMS_KEY = "aws:kms/key:Key"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]


def _deps(resource: PolicyResource, key: str) -> set[str]:
    return {dep.urn for dep in resource.property_dependencies.get(key, [])}


def _alarmed(store: PolicyResource, alarms: list[PolicyResource]) -> bool:
    # An alarm watches a store when its dimensions are computed from it.
    return any(store.urn in _deps(alarm, "dimensions") | {d.urn for d in alarm.dependencies} for alarm in alarms)


@stack_rule(
    name="aws-rds-instance-missing-alarm",
    description="Every RDS instance and cluster must have at least one CloudWatch alarm on its metrics.",
    resource_types=[RDS_INSTANCE, RDS_CLUSTER, ALARM],
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Create aws.cloudwatch.MetricAlarm(s) with dimensions={'DBInstanceIdentifier': db.identifier} "
    "(CPU, free storage, connections) wired to the alert topic.",
)
def _rds_alarm(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    alarms = [r for r in resources if r.resource_type == ALARM]
    for db in resources:
        if db.resource_type in (RDS_INSTANCE, RDS_CLUSTER) and not _alarmed(db, alarms):
            yield f"database {db.name} has no CloudWatch alarm", db.urn


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
    for group in resources:
        if group.resource_type == REPLICATION_GROUP and not _alarmed(group, alarms):
            yield f"cache {group.name} has no CloudWatch alarm", group.urn


def _is_backup_bucket(resource: PolicyResource) -> bool:
    tags = resource.props.get("tags") or {}
    return resource.resource_type in BUCKET_TYPES and tags.get("purpose") == "backups"


@stack_rule(
    name="aws-stateful-resource-enforce-protect",
    description="Stateful resources (RDS, ElastiCache, backup buckets and the KMS keys that encrypt them) must be "
    "`protect`ed, so that no `pulumi up` or `destroy` deletes them by accident.",
    resource_types=[RDS_INSTANCE, RDS_CLUSTER, REPLICATION_GROUP, *BUCKET_TYPES, KMS_KEY],
    severity=Severity.HIGH,
    category="availability",
    remediation="Create the resource with ResourceOptions(protect=True) (the components do so when the stack's "
    "config asks for deletion protection, as prod does).",
)
def _protected(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    stateful = [
        r
        for r in resources
        if r.resource_type in (RDS_INSTANCE, RDS_CLUSTER, REPLICATION_GROUP) or _is_backup_bucket(r)
    ]
    # Keys that encrypt stateful data are as stateful as the data.
    key_urns = {urn for r in resources for key in ("kmsKeyId", "kmsKeyArn") for urn in _deps(r, key) if r in stateful}
    stateful += [r for r in resources if r.urn in key_urns and r not in stateful]
    for resource in stateful:
        if not resource.opts.protect:
            yield f"{resource.resource_type} {resource.name} is not protected", resource.urn


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
    description="Every application namespace must have a default-deny NetworkPolicy (all pods, Ingress and Egress, "
    "no rules); other policies then allow what is needed.",
    resource_types=[NAMESPACE, NETWORK_POLICY],
    severity=Severity.HIGH,
    control="CIS-EKS 5.3.2",
    remediation="Add a NetworkPolicy in the namespace with podSelector {}, policyTypes [Ingress, Egress] and no rules.",
    config={"excludedNamespaces": {"type": "array", "items": {"type": "string"}, "default": SYSTEM_NAMESPACES}},
)
def _default_deny(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    excluded = set(config_value(args, "excludedNamespaces", SYSTEM_NAMESPACES))
    denied = {_namespace_of(p) for p in resources if p.resource_type == NETWORK_POLICY and _is_default_deny(p)}
    for namespace in resources:
        if namespace.resource_type != NAMESPACE:
            continue
        name = str((namespace.props.get("metadata") or {}).get("name") or namespace.name)
        if name not in excluded and name not in denied:
            yield f"namespace {name} has no default-deny NetworkPolicy", namespace.urn


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
    scaled = {
        (_namespace_of(h), str(((h.props.get("spec") or {}).get("scaleTargetRef") or {}).get("name")))
        for h in resources
        if h.resource_type in HPA_TYPES
    }
    for deployment in resources:
        if deployment.resource_type != DEPLOYMENT:
            continue
        spec = deployment.props.get("spec") or {}
        namespace = _namespace_of(deployment)
        name = str((deployment.props.get("metadata") or {}).get("name") or deployment.name)
        replicated = number(spec.get("replicas"), 1) > 1 or (namespace, name) in scaled
        if replicated and not any(_pdb_covers(p, namespace, _labels(spec)) for p in pdbs):
            yield f"deployment {namespace}/{name} has no PodDisruptionBudget", deployment.urn
