"""Guardrails: ElastiCache replication groups (Redis OSS / Valkey), and cache clusters for encryption.

A cache cluster (``aws:elasticache/cluster:Cluster``) that belongs to a
replication group (``replicationGroupId``) takes its settings from the group,
which is checked. A standalone Redis OSS / Valkey cluster cannot be encrypted
at rest or in transit (CreateCacheCluster has neither setting for them): it
violates both rules. A Memcached cluster keeps nothing on disk (at rest does
not apply) and must set ``transitEncryptionEnabled``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity
from pulumi_policy.proxy import UnknownValueError

from guardrails.base import as_list, config_value, is_set, is_true, number, resource_rule

REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"


def _standalone_engine(props: Mapping[str, Any]) -> str | None:
    """The engine of a cache cluster that is not a member of a replication group; None for a member."""
    if props.get("replicationGroupId"):
        return None
    return str(props.get("engine") or "redis").lower()


@resource_rule(
    name="aws-elasticache-replicationgroup-enable-encryption-at-rest",
    description="Replication groups must be encrypted at rest with a customer-managed KMS key "
    "(a standalone Redis OSS / Valkey cache cluster cannot be, so it violates).",
    resource_types=[REPLICATION_GROUP, CACHE_CLUSTER],
    severity=Severity.HIGH,
    control="AWS-FSBP ElastiCache.4",
    remediation=(
        "Set at_rest_encryption_enabled=True and kms_key_id=<the platform's KMS key ARN> (replaces the group: "
        "restore from a snapshot); create Redis OSS / Valkey as an aws.elasticache.ReplicationGroup, not a "
        "standalone aws.elasticache.Cluster."
    ),
)
def _at_rest(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type == CACHE_CLUSTER:
        engine = _standalone_engine(props)
        if engine is not None and engine != "memcached":
            yield f"a standalone {engine} cache cluster cannot be encrypted at rest: create a replication group"
        return
    if not is_true(props.get("atRestEncryptionEnabled")):
        yield "encryption at rest is off (atRestEncryptionEnabled is not true)"
    elif not is_set(props, "kmsKeyId"):  # a key still to be created is a key
        yield "encryption at rest uses the AWS-managed key: set kmsKeyId to a customer-managed key"


@resource_rule(
    name="aws-elasticache-replicationgroup-enable-encryption-in-transit",
    description="Replication groups must require TLS for every connection; so must Memcached cache clusters "
    "(transitEncryptionEnabled), and a standalone Redis OSS / Valkey cache cluster, which cannot, violates.",
    resource_types=[REPLICATION_GROUP, CACHE_CLUSTER],
    severity=Severity.HIGH,
    control="AWS-FSBP ElastiCache.5",
    remediation=(
        "Set transit_encryption_enabled=True and leave transit_encryption_mode unset or 'required'; clients connect "
        "with TLS. Create Redis OSS / Valkey as an aws.elasticache.ReplicationGroup, not a standalone "
        "aws.elasticache.Cluster."
    ),
)
def _in_transit(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type == CACHE_CLUSTER:
        engine = _standalone_engine(props)
        if engine is None:
            return
        if engine != "memcached":
            yield f"a standalone {engine} cache cluster cannot use TLS: create a replication group"
        elif not is_true(props.get("transitEncryptionEnabled")):
            yield "encryption in transit is off (transitEncryptionEnabled is not true)"
        return
    if not is_true(props.get("transitEncryptionEnabled")):
        yield "encryption in transit is off (transitEncryptionEnabled is not true)"
        return
    mode = props.get("transitEncryptionMode")
    if mode is not None and mode != "required":
        yield f"transitEncryptionMode is {mode!r}: plain-text connections are still accepted"


def _user_groups(props: Mapping[str, Any]) -> bool:
    """Whether userGroupIds names a user group; a list not known yet is set. (base.is_set takes the analyzer's
    list proxy for a non-empty list.)"""
    try:
        return bool(as_list(props.get("userGroupIds")))
    except UnknownValueError:
        return True


@resource_rule(
    name="aws-elasticache-replicationgroup-enable-auth",
    description="Replication groups must authenticate clients, with an AUTH token or RBAC user groups.",
    resource_types=[REPLICATION_GROUP],
    severity=Severity.HIGH,
    control="AWS-FSBP ElastiCache.6",
    remediation=(
        "Set auth_token=<a random password kept as a secret> (needs encryption in transit) or user_group_ids=[<user "
        "group id>]."
    ),
)
def _auth(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    # A token or user group set to a value not known yet (a generated password) is set.
    if not any(is_set(props, key) for key in ("authToken", "authTokenWo")) and not _user_groups(props):
        yield "no authentication: neither authToken nor userGroupIds is set"
    elif not is_true(props.get("transitEncryptionEnabled")):
        # ElastiCache takes an AUTH token or RBAC user groups only with encryption in transit on.
        yield "authentication needs encryption in transit (transitEncryptionEnabled is not true)"


@resource_rule(
    name="aws-elasticache-replicationgroup-enable-automatic-failover",
    description="Replication groups must fail over to a replica automatically.",
    resource_types=[REPLICATION_GROUP],
    severity=Severity.MEDIUM,
    category="availability",
    control="AWS-FSBP ElastiCache.3",
    remediation="Set automatic_failover_enabled=True with at least one replica (cache.numCacheClusters of 2 or more).",
)
def _automatic_failover(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("automaticFailoverEnabled")):
        yield "automatic failover is off"


@resource_rule(
    name="aws-elasticache-replicationgroup-enable-multi-az",
    description="Replication groups must be Multi-AZ (replicas in other availability zones).",
    resource_types=[REPLICATION_GROUP],
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Set multi_az_enabled=True together with automatic failover and at least one replica.",
)
def _multi_az(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_true(props.get("multiAzEnabled")):
        yield "Multi-AZ is off"


@resource_rule(
    name="aws-elasticache-replicationgroup-configure-snapshot-retention",
    description="Replication groups must keep daily snapshots at least the configured number of days.",
    resource_types=[REPLICATION_GROUP],
    severity=Severity.MEDIUM,
    control="AWS-FSBP ElastiCache.1",
    remediation=(
        "Set snapshot_retention_limit to at least the minimum (cache.snapshotRetentionDays in the stack config) and "
        "a snapshot_window."
    ),
    config={"minimumDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 7}},
)
def _snapshot_retention(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    minimum = number(config_value(args, "minimumDays", 7), 7)
    value = number(props.get("snapshotRetentionLimit"), 0)
    if value < minimum:
        yield f"snapshotRetentionLimit is {value:g}, less than the minimum of {minimum:g} days"


@resource_rule(
    name="aws-elasticache-replicationgroup-disallow-default-subnet-group",
    description="Replication groups must use a dedicated subnet group, not the default one.",
    resource_types=[REPLICATION_GROUP],
    severity=Severity.MEDIUM,
    control="AWS-FSBP ElastiCache.7",
    remediation=(
        "Create an aws.elasticache.SubnetGroup over the database-tier subnets and set subnet_group_name to its name."
    ),
)
def _subnet_group(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    name = props.get("subnetGroupName")
    if not name:
        yield "subnetGroupName is not set (the default subnet group is used)"
    elif name == "default":
        yield "the replication group is on the default subnet group"


@resource_rule(
    name="aws-elasticache-replicationgroup-enable-auto-minor-version-upgrade",
    description="Replication groups must apply minor engine upgrades automatically (autoMinorVersionUpgrade, "
    "true when not set).",
    resource_types=[REPLICATION_GROUP],
    severity=Severity.LOW,
    control="AWS-FSBP ElastiCache.2",
    remediation="Remove auto_minor_version_upgrade=False (the default is true) and keep a maintenance_window.",
)
def _auto_minor_upgrade(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    value = props.get("autoMinorVersionUpgrade")
    if value is not None and not is_true(value):
        yield "autoMinorVersionUpgrade is false"
