"""Guardrails: S3 buckets and their settings resources.

In pulumi-aws 7 a bucket's settings are separate resources that name the
bucket in their ``bucket`` property, so every rule here is a stack rule: it
finds the settings resources whose ``bucket`` depends on the bucket (property
dependencies, known in preview too) and checks them. A bucket with no such
resource violates. Backup buckets are the ones tagged ``purpose: backups``.

Each bucket is checked on its own (``each``): a value unknown during preview
on one bucket or its settings hides nothing about the others. Nothing here
reads a bucket's ``arn`` output, which a preview does not have (its outputs
are the inputs): the ARN is built from the ``bucket`` name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from guardrails.base import (
    as_document,
    as_list,
    depends_on,
    each,
    is_set,
    is_true,
    resource_rule,
    stack_rule,
    statements,
)

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
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

Findings = Iterable[tuple[str, str | None]]


# --- graph helpers -------------------------------------------------------------------


def _buckets(resources: list[PolicyResource]) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in BUCKETS]


def _settings(resources: list[PolicyResource], types: tuple[str, ...], bucket: PolicyResource) -> list[PolicyResource]:
    """The settings resources of these types whose ``bucket`` is this bucket."""
    return [r for r in resources if r.resource_type in types and depends_on(r, "bucket", bucket)]


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


def _each_bucket(
    resources: list[PolicyResource], check: Callable[[PolicyResource], Findings], *, backups_only: bool = False
) -> Findings:
    """``check`` on every bucket (or every backup bucket), one at a time (see ``base.each``)."""

    def one(bucket: PolicyResource) -> Findings:
        if backups_only and not _is_backup(bucket):
            return []
        return check(bucket)

    return each(_buckets(resources), one)


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

    def check(bucket: PolicyResource) -> Findings:
        configs = _settings(resources, ENCRYPTION, bucket)
        if not configs:
            yield f"bucket {bucket.name} has no server-side encryption configuration", bucket.urn
            return
        defaults = [
            rule.get("applyServerSideEncryptionByDefault") or {}
            for config in configs
            for rule in as_list(config.props.get("rules"))
            if isinstance(rule, Mapping)
        ]
        algorithms = [d.get("sseAlgorithm") for d in defaults]
        # A key ARN not known yet (a key still to be created) is a customer-managed key.
        if any(d.get("sseAlgorithm") in KMS_ALGORITHMS and is_set(d, "kmsMasterKeyId") for d in defaults):
            return
        if bucket.urn in log_targets and "AES256" in algorithms:
            return
        if any(a in KMS_ALGORITHMS for a in algorithms):
            yield (
                f"bucket {bucket.name} uses SSE-KMS with the AWS-managed key: "
                "set kmsMasterKeyId to a customer-managed key",
                bucket.urn,
            )
        else:
            shown = ", ".join(str(a) for a in algorithms) or "none"
            yield f"bucket {bucket.name} defaults to {shown}, not SSE-KMS with a KMS key", bucket.urn

    return _each_bucket(resources, check)


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
    def check(bucket: PolicyResource) -> Findings:
        blocks = _settings(resources, PUBLIC_ACCESS_BLOCK, bucket)
        if not blocks:
            yield f"bucket {bucket.name} has no public access block", bucket.urn
            return
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if not any(is_true(b.props.get(flag)) for b in blocks)]
        if off:
            yield f"bucket {bucket.name}'s public access block leaves {', '.join(off)} off", bucket.urn

    return _each_bucket(resources, check)


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
    def check(bucket: PolicyResource) -> Findings:
        controls = _settings(resources, OWNERSHIP, bucket)
        if not controls:
            yield f"bucket {bucket.name} has no ownership controls (ACLs stay enabled)", bucket.urn
            return
        ownership = [(c.props.get("rule") or {}).get("objectOwnership") for c in controls]
        if "BucketOwnerEnforced" not in ownership:
            yield (
                f"bucket {bucket.name} has object ownership {', '.join(str(o) for o in ownership)}, "
                "not BucketOwnerEnforced",
                bucket.urn,
            )

    return _each_bucket(resources, check)


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


def _covers_bucket(resources: list[str], name: str | None) -> bool:
    """Whether the statement's resources cover the bucket and its objects (in any partition).

    Without a known bucket name (an auto-named bucket in a preview) any
    pattern that comes with its ``/*`` counts.
    """
    patterns = [_glob(r) for r in resources]
    if name is None:
        listed = set(resources)
        return "*" in listed or any(f"{r}/*" in listed for r in listed)
    return any(
        all(any(p.fullmatch(target) for p in patterns) for target in (arn, f"{arn}/object"))
        for arn in (f"arn:{partition}:s3:::{name}" for partition in PARTITIONS)
    )


def _denies_insecure_transport(statement: Mapping[str, Any], name: str | None) -> bool:
    if statement.get("Effect") != "Deny" or not _any_principal(statement.get("Principal")):
        return False
    if not any(str(a).lower() in ("*", "s3:*") for a in as_list(statement.get("Action"))):
        return False
    if not _insecure_transport_condition(statement.get("Condition")):
        return False
    return _covers_bucket([str(r) for r in as_list(statement.get("Resource"))], name)


def _bucket_name(bucket: PolicyResource) -> str | None:
    """The bucket's name: its ``bucket`` property, else the name in its ``arn`` output (after an update)."""
    name = bucket.props.get("bucket")
    if name:
        return str(name)
    arn = str(bucket.props.get("arn") or "")
    return arn.partition(":s3:::")[2] or None


@stack_rule(
    name="aws-s3-bucket-enforce-tls",
    first_preview="needs-values",
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
    def check(bucket: PolicyResource) -> Findings:
        policies = _settings(resources, POLICY, bucket)
        if not policies:
            yield f"bucket {bucket.name} has no bucket policy (nothing denies requests without TLS)", bucket.urn
            return
        name = _bucket_name(bucket)
        found = [s for p in policies for s in statements(as_document(p.props.get("policy")))]
        if not any(_denies_insecure_transport(s, name) for s in found):
            yield (
                f"bucket {bucket.name}'s policy does not deny s3:* on the bucket and its objects "
                "when aws:SecureTransport is false",
                bucket.urn,
            )

    return _each_bucket(resources, check)


# --- backup buckets -----------------------------------------------------------------


def _object_lock(bucket: PolicyResource) -> bool:
    """Object Lock on the bucket, which makes S3 turn versioning on (and keep it on)."""
    return _object_lock_on(bucket.props)


def _object_lock_on(props: Mapping[str, Any]) -> bool:
    if is_true(props.get("objectLockEnabled")):
        return True
    legacy = props.get("objectLockConfiguration")
    return isinstance(legacy, Mapping) and legacy.get("objectLockEnabled") == "Enabled"


@stack_rule(
    name="aws-s3-bucket-enable-versioning",
    description="Backup buckets (tagged purpose=backups) must have versioning enabled "
    "(a bucket created with Object Lock has it).",
    resource_types=[*BUCKETS, *VERSIONING],
    severity=Severity.MEDIUM,
    control="AWS-FSBP S3.14",
    remediation="Add aws.s3.BucketVersioning(bucket=<bucket id>, versioning_configuration={status: 'Enabled'}), "
    "or create the bucket with object_lock_enabled=True.",
)
def _versioning(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    def check(bucket: PolicyResource) -> Findings:
        configs = _settings(resources, VERSIONING, bucket)
        status = [(c.props.get("versioningConfiguration") or {}).get("status") for c in configs]
        if "Enabled" in status or _object_lock(bucket):
            return
        if not configs:
            yield f"backup bucket {bucket.name} has no versioning configuration", bucket.urn
        else:
            yield (
                f"backup bucket {bucket.name} has versioning {', '.join(str(s) for s in status)}, not Enabled",
                bucket.urn,
            )

    return _each_bucket(resources, check, backups_only=True)


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
    def check(bucket: PolicyResource) -> Findings:
        configs = _settings(resources, LIFECYCLE, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no lifecycle configuration", bucket.urn
        elif not any(_enabled_rules(c) for c in configs):
            yield f"backup bucket {bucket.name}'s lifecycle configuration has no Enabled rule", bucket.urn

    return _each_bucket(resources, check, backups_only=True)


def _has_target(logging: PolicyResource) -> bool:
    # A target computed from a bucket of the stack is known to exist even while its name is unknown.
    return bool(logging.property_dependencies.get("targetBucket")) or bool(logging.props.get("targetBucket"))


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
    def check(bucket: PolicyResource) -> Findings:
        configs = _settings(resources, LOGGING, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no server access logging", bucket.urn
        elif not any(_has_target(c) for c in configs):
            yield f"backup bucket {bucket.name}'s access logging has no target bucket", bucket.urn
        elif all(depends_on(c, "targetBucket", bucket) for c in configs):
            yield f"backup bucket {bucket.name} logs its access into itself", bucket.urn

    return _each_bucket(resources, check, backups_only=True)


def _region(bucket: PolicyResource) -> str | None:
    """The bucket's region: its ``region`` (or ``bucketRegion``) output, else its provider's; None if unknown."""
    region = bucket.props.get("region") or bucket.props.get("bucketRegion")
    if not region and bucket.provider is not None:
        region = bucket.provider.props.get("region")
    return str(region) if region else None


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
        "Create the replica bucket with a provider for the DR region (backups.drRegion) and region=<DR region>, and "
        "add aws.s3.BucketReplicationConfig(bucket=<bucket id>, role=<replication role arn>, rules=[{status: "
        "'Enabled', destination: {bucket: <replica bucket arn>}}]); both buckets need versioning."
    ),
)
def _replication(resources: list[PolicyResource], args: StackValidationArgs) -> Findings:
    buckets = {b.urn: b for b in _buckets(resources)}
    replicas = _linked_buckets(resources, REPLICATION, "rules")

    def check(bucket: PolicyResource) -> Findings:
        if bucket.urn in replicas:
            return
        configs = _settings(resources, REPLICATION, bucket)
        if not configs:
            yield f"backup bucket {bucket.name} has no replication configuration", bucket.urn
            return
        if not any(_enabled_rules(c) for c in configs):
            yield f"backup bucket {bucket.name}'s replication configuration has no Enabled rule", bucket.urn
            return
        destinations = [
            buckets[dep.urn] for c in configs for dep in c.property_dependencies.get("rules", []) if dep.urn in buckets
        ]
        if not destinations:
            yield (
                f"backup bucket {bucket.name} replicates to no bucket of this stack (its region cannot be checked)",
                bucket.urn,
            )
            return
        # A region that cannot be told (no region output, no provider) is not compared: no violation.
        region = _region(bucket)
        regions = [_region(d) for d in destinations]
        if region is not None and all(r == region for r in regions):
            names = ", ".join(d.name for d in destinations)
            yield f"backup bucket {bucket.name} replicates only within its own region {region} (to {names})", bucket.urn

    return _each_bucket(resources, check, backups_only=True)


# --- resource rules: what a bucket or its encryption says by itself --------------------------------------------


@resource_rule(
    name="aws-s3-bucket-enable-bucket-key",
    description="A bucket's default encryption with SSE-KMS (rules with sseAlgorithm aws:kms) must enable the S3 "
    "Bucket Key (bucketKeyEnabled true), which cuts the KMS requests (and their cost and throttling) per object.",
    resource_types=ENCRYPTION,
    severity=Severity.LOW,
    remediation="Set bucket_key_enabled=True on the rule of the aws.s3.BucketServerSideEncryptionConfiguration.",
)
def _bucket_key(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for rule in as_list(props.get("rules")):
        if not isinstance(rule, Mapping):
            continue
        algorithm = (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
        if algorithm == "aws:kms" and not is_true(rule.get("bucketKeyEnabled")):
            yield "an aws:kms default-encryption rule has bucketKeyEnabled off"


@resource_rule(
    name="aws-s3-bucket-enable-object-lock",
    description="Backup buckets (tagged purpose=backups) must be created with Object Lock (objectLockEnabled true), "
    "so that backups cannot be deleted or overwritten within their retention.",
    resource_types=BUCKETS,
    severity=Severity.MEDIUM,
    category="availability",
    control="AWS-FSBP S3.15",
    remediation="Create the bucket with object_lock_enabled=True (it cannot be turned on later for a bucket created "
    "without it: create a new bucket and copy) and add aws.s3.BucketObjectLockConfiguration with a default "
    "retention.",
)
def _object_lock_enabled(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if (props.get("tags") or {}).get(BACKUP_TAG[0]) == BACKUP_TAG[1] and not _object_lock_on(props):
        yield "backup bucket without Object Lock (objectLockEnabled is not true)"
