"""Guardrails: S3 buckets and their settings resources.

In pulumi-aws 7 a bucket's settings are separate resources that name the
bucket in their ``bucket`` property, so every rule here is a stack rule: it
finds the settings resources whose ``bucket`` depends on the bucket (property
dependencies, known in preview too) and checks them. A bucket with no such
resource violates. Backup buckets are the ones tagged ``purpose: backups``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from guardrails.base import as_document, as_list, is_true, stack_rule, statements

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)
LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")

BACKUP_TAG = ("purpose", "backups")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

Findings = Iterable[tuple[str, str | None]]


# --- graph helpers -------------------------------------------------------------------


def _depends_on(resource: PolicyResource, key: str, target: PolicyResource) -> bool:
    return any(dep.urn == target.urn for dep in resource.property_dependencies.get(key, []))


def _buckets(resources: list[PolicyResource]) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in BUCKETS]


def _settings(resources: list[PolicyResource], types: tuple[str, ...], bucket: PolicyResource) -> list[PolicyResource]:
    """The settings resources of these types whose ``bucket`` is this bucket."""
    return [r for r in resources if r.resource_type in types and _depends_on(r, "bucket", bucket)]


def _is_backup(bucket: PolicyResource) -> bool:
    tags = bucket.props.get("tags") or {}
    return bool(tags.get(BACKUP_TAG[0]) == BACKUP_TAG[1])


def _linked_buckets(resources: list[PolicyResource], types: tuple[str, ...], key: str) -> set[str]:
    """URNs of the buckets that a ``key`` property of these settings resources depends on."""
    urns: set[str] = set()
    for resource in resources:
        if resource.resource_type in types:
            urns |= {dep.urn for dep in resource.property_dependencies.get(key, []) if dep.resource_type in BUCKETS}
    return urns


def _enabled_rules(resource: PolicyResource) -> list[Mapping[str, Any]]:
    return [r for r in as_list(resource.props.get("rules")) if isinstance(r, Mapping) and r.get("status") == "Enabled"]


# --- encryption, public access, ownership, TLS (every bucket) ---------------------------


@stack_rule(
    name="aws-s3-bucket-missing-kms-encryption",
    description=(
        "Every bucket must default to SSE-KMS with a customer-managed KMS key (server access log targets, "
        "which S3 cannot deliver to under SSE-KMS, must at least default to SSE-S3)."
    ),
    resource_types=[*BUCKETS, *ENCRYPTION, *LOGGING],
    severity=Severity.HIGH,
    control="AWS-FSBP S3.17",
    remediation=(
        "Add aws.s3.BucketServerSideEncryptionConfiguration(bucket=<bucket id>, "
        "rules=[{apply_server_side_encryption_by_default: {sse_algorithm: 'aws:kms', "
        "kms_master_key_id: <key arn>}, bucket_key_enabled: True}])."
    ),
)
def _kms_encryption(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    log_targets = _linked_buckets(resources, LOGGING, "targetBucket")
    for bucket in _buckets(resources):
        configs = _settings(resources, ENCRYPTION, bucket)
        if not configs:
            yield f"bucket {bucket.name} has no server-side encryption configuration", bucket.urn
            continue
        defaults = [
            rule.get("applyServerSideEncryptionByDefault") or {}
            for config in configs
            for rule in as_list(config.props.get("rules"))
            if isinstance(rule, Mapping)
        ]
        algorithms = [d.get("sseAlgorithm") for d in defaults]
        if any(d.get("sseAlgorithm") in KMS_ALGORITHMS and d.get("kmsMasterKeyId") for d in defaults):
            continue
        if bucket.urn in log_targets and "AES256" in algorithms:
            continue
        if any(a in KMS_ALGORITHMS for a in algorithms):
            yield (
                f"bucket {bucket.name} uses SSE-KMS with the AWS-managed key: "
                "set kmsMasterKeyId to a customer-managed key",
                bucket.urn,
            )
        else:
            shown = ", ".join(str(a) for a in algorithms) or "none"
            yield f"bucket {bucket.name} defaults to {shown}, not SSE-KMS with a KMS key", bucket.urn


@stack_rule(
    name="aws-s3-bucket-missing-public-access-block",
    description="Every bucket must have a public access block with all four flags on.",
    resource_types=[*BUCKETS, *PUBLIC_ACCESS_BLOCK],
    severity=Severity.CRITICAL,
    control="AWS-FSBP S3.8",
    remediation=(
        "Add aws.s3.BucketPublicAccessBlock(bucket=<bucket id>, block_public_acls=True, block_public_policy=True, "
        "ignore_public_acls=True, restrict_public_buckets=True)."
    ),
)
def _public_access_block(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    for bucket in _buckets(resources):
        blocks = _settings(resources, PUBLIC_ACCESS_BLOCK, bucket)
        if not blocks:
            yield f"bucket {bucket.name} has no public access block", bucket.urn
            continue
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if not any(is_true(b.props.get(flag)) for b in blocks)]
        if off:
            yield f"bucket {bucket.name}'s public access block leaves {', '.join(off)} off", bucket.urn


@stack_rule(
    name="aws-s3-bucket-disable-acls",
    description="Every bucket must disable ACLs (object ownership BucketOwnerEnforced).",
    resource_types=[*BUCKETS, *OWNERSHIP],
    severity=Severity.MEDIUM,
    control="AWS-FSBP S3.12",
    remediation=(
        "Add aws.s3.BucketOwnershipControls(bucket=<bucket id>, rule={object_ownership: 'BucketOwnerEnforced'}) "
        "and grant access with the bucket policy instead of ACLs."
    ),
)
def _acls_disabled(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    for bucket in _buckets(resources):
        controls = _settings(resources, OWNERSHIP, bucket)
        if not controls:
            yield f"bucket {bucket.name} has no ownership controls (ACLs stay enabled)", bucket.urn
            continue
        ownership = [(c.props.get("rule") or {}).get("objectOwnership") for c in controls]
        if "BucketOwnerEnforced" not in ownership:
            yield (
                f"bucket {bucket.name} has object ownership {', '.join(str(o) for o in ownership)}, "
                "not BucketOwnerEnforced",
                bucket.urn,
            )


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM resource pattern (``*`` and ``?`` wildcards) as a regex."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.IGNORECASE)


def _any_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def _insecure_transport_condition(condition: Any) -> bool:
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        if str(operator).lower() not in ("bool", "boolifexists") or not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            if str(key).lower() == "aws:securetransport" and any(str(v).lower() == "false" for v in as_list(values)):
                return True
    return False


def _denies_insecure_transport(statement: Mapping[str, Any], bucket_arn: str) -> bool:
    if statement.get("Effect") != "Deny" or not _any_principal(statement.get("Principal")):
        return False
    if not any(str(a).lower() in ("*", "s3:*") for a in as_list(statement.get("Action"))):
        return False
    if not _insecure_transport_condition(statement.get("Condition")):
        return False
    patterns = [_glob(str(r)) for r in as_list(statement.get("Resource"))]
    return all(any(p.fullmatch(target) for p in patterns) for target in (bucket_arn, f"{bucket_arn}/object"))


@stack_rule(
    name="aws-s3-bucket-enforce-tls",
    description=(
        "Every bucket policy must deny all S3 actions on the bucket and its objects when "
        "aws:SecureTransport is false (TLS-only access)."
    ),
    resource_types=[*BUCKETS, *POLICY],
    severity=Severity.HIGH,
    control="AWS-FSBP S3.5",
    remediation=(
        "Add aws.s3.BucketPolicy(bucket=<bucket id>) with a statement Effect=Deny, Principal='*', Action='s3:*', "
        "Resource=[<bucket arn>, '<bucket arn>/*'], Condition={'Bool': {'aws:SecureTransport': 'false'}}."
    ),
)
def _tls_only(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    for bucket in _buckets(resources):
        policies = _settings(resources, POLICY, bucket)
        if not policies:
            yield f"bucket {bucket.name} has no bucket policy (nothing denies requests without TLS)", bucket.urn
            continue
        arn = str(bucket.props.get("arn"))
        found = [s for p in policies for s in statements(as_document(p.props.get("policy")))]
        if not any(_denies_insecure_transport(s, arn) for s in found):
            yield (
                f"bucket {bucket.name}'s policy does not deny s3:* on the bucket and its objects "
                "when aws:SecureTransport is false",
                bucket.urn,
            )


# --- backup buckets -----------------------------------------------------------------


@stack_rule(
    name="aws-s3-bucket-enable-versioning",
    description="Backup buckets (tagged purpose=backups) must have versioning enabled.",
    resource_types=[*BUCKETS, *VERSIONING],
    severity=Severity.MEDIUM,
    control="AWS-FSBP S3.14",
    remediation="Add aws.s3.BucketVersioning(bucket=<bucket id>, versioning_configuration={status: 'Enabled'}).",
)
def _versioning(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    for bucket in filter(_is_backup, _buckets(resources)):
        configs = _settings(resources, VERSIONING, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no versioning configuration", bucket.urn
            continue
        status = [(c.props.get("versioningConfiguration") or {}).get("status") for c in configs]
        if "Enabled" not in status:
            yield (
                f"backup bucket {bucket.name} has versioning {', '.join(str(s) for s in status)}, not Enabled",
                bucket.urn,
            )


@stack_rule(
    name="aws-s3-bucket-missing-lifecycle",
    description="Backup buckets (tagged purpose=backups) must have a lifecycle configuration with an enabled rule.",
    resource_types=[*BUCKETS, *LIFECYCLE],
    severity=Severity.LOW,
    control="AWS-FSBP S3.13",
    remediation=(
        "Add aws.s3.BucketLifecycleConfiguration(bucket=<bucket id>) with an Enabled rule that transitions and expires "
        "old backups and noncurrent versions and aborts incomplete multipart uploads."
    ),
)
def _lifecycle(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    for bucket in filter(_is_backup, _buckets(resources)):
        configs = _settings(resources, LIFECYCLE, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no lifecycle configuration", bucket.urn
        elif not any(_enabled_rules(c) for c in configs):
            yield f"backup bucket {bucket.name}'s lifecycle configuration has no Enabled rule", bucket.urn


@stack_rule(
    name="aws-s3-bucket-missing-access-logging",
    description="Backup buckets (tagged purpose=backups) must have server access logging to another bucket.",
    resource_types=[*BUCKETS, *LOGGING],
    severity=Severity.MEDIUM,
    control="AWS-FSBP S3.9",
    remediation=(
        "Add aws.s3.BucketLogging(bucket=<bucket id>, target_bucket=<access-log bucket id>, "
        "target_prefix='<bucket>/'); the target bucket is in the same region and uses SSE-S3."
    ),
)
def _access_logging(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    for bucket in filter(_is_backup, _buckets(resources)):
        configs = _settings(resources, LOGGING, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no server access logging", bucket.urn
        elif not any(c.props.get("targetBucket") for c in configs):
            yield f"backup bucket {bucket.name}'s access logging has no target bucket", bucket.urn
        elif all(_depends_on(c, "targetBucket", bucket) for c in configs):
            yield f"backup bucket {bucket.name} logs its access into itself", bucket.urn


def _region(bucket: PolicyResource) -> Any:
    return bucket.props.get("region") or bucket.props.get("bucketRegion")


@stack_rule(
    name="aws-s3-bucket-missing-cross-region-replication",
    description=(
        "Backup buckets (tagged purpose=backups) must replicate to a bucket of this stack in another region; "
        "the replica buckets themselves are exempt."
    ),
    resource_types=[*BUCKETS, *REPLICATION],
    severity=Severity.MEDIUM,
    category="availability",
    control="AWS-FSBP S3.7",
    remediation=(
        "Create the replica bucket with a provider for the DR region (backups.drRegion) and add "
        "aws.s3.BucketReplicationConfig(bucket=<bucket id>, role=<replication role arn>, rules=[{status: 'Enabled', "
        "destination: {bucket: <replica bucket arn>}}]); both buckets need versioning."
    ),
)
def _replication(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    buckets = {b.urn: b for b in _buckets(resources)}
    replicas = _linked_buckets(resources, REPLICATION, "rules")
    for bucket in filter(_is_backup, buckets.values()):
        if bucket.urn in replicas:
            continue
        configs = _settings(resources, REPLICATION, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no replication configuration", bucket.urn
            continue
        if not any(_enabled_rules(c) for c in configs):
            yield f"backup bucket {bucket.name}'s replication configuration has no Enabled rule", bucket.urn
            continue
        destinations = [
            buckets[dep.urn] for c in configs for dep in c.property_dependencies.get("rules", []) if dep.urn in buckets
        ]
        if not destinations:
            yield (
                f"backup bucket {bucket.name} replicates to no bucket of this stack (its region cannot be checked)",
                bucket.urn,
            )
            continue
        region = _region(bucket)
        if all(_region(d) == region for d in destinations):
            names = ", ".join(d.name for d in destinations)
            yield f"backup bucket {bucket.name} replicates only within its own region {region} (to {names})", bucket.urn
