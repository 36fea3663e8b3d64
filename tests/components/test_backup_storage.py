"""BackupStorage: the component alone, asserted on the inputs the engine records."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from pydantic import ValidationError

from components.backup_storage import BackupStorage, BackupStorageArgs
from components.config import BackupsConfig, ConfigError, load_settings
from components.naming import default_tags
from tests.components.context import fixed_context
from tests.conftest import PROJECT_DIR
from tools.engine import EngineError, Resource, Run

ACCOUNT = "123456789012"
REGION = "ca-central-1"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# Every taggable AWS resource gets these through the provider, as Platform does it.
TAGS = default_tags("platform", "test", "platform-team", "eng-platform", {})
# Nothing may fall back to a default provider (Pulumi.yaml disables them).
ENGINE_CONFIG = {"aws:region": REGION, "pulumi:disable-default-providers": '["*"]'}


def backups_config(stack: str, **changes: Any) -> BackupsConfig:
    """The stack file's platform:backups, as the config loader validates it, with changes (camelCase keys)."""
    raw = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["platform:backups"]
    return BackupsConfig.model_validate({**raw, **changes})


def program(
    config: BackupsConfig,
    *,
    dr_provider: bool = True,
    region: str = REGION,
    partition: str | None = None,
    built: list[BackupStorage] | None = None,
) -> Callable[[], BackupStorage]:
    def build() -> BackupStorage:
        tags = aws.ProviderDefaultTagsArgs(tags=TAGS)
        primary = aws.Provider("aws", region=region, default_tags=tags)
        dr = None
        if dr_provider and config.dr_region is not None:
            dr = aws.Provider("aws-dr", region=config.dr_region, default_tags=tags)
        context = fixed_context(region=region, partition=partition or "aws")
        args = BackupStorageArgs(config=config, context=context, dr_provider=dr)
        component = BackupStorage("backups", args, opts=pulumi.ResourceOptions(providers={"aws": primary}))
        if built is not None:
            built.append(component)
        return component

    return build


@pytest.fixture
def run_stack(build: Callable[..., Run]) -> Callable[..., Run]:
    """Build the component with a committed stack's backups config."""

    def _run(stack: str, mode: str = "update") -> Run:
        return build(program(backups_config(stack)), mode=mode, config=ENGINE_CONFIG)

    return _run


@pytest.fixture
def prod(run_stack: Callable[..., Run]) -> Run:
    return run_stack("prod")


@pytest.fixture
def dev(run_stack: Callable[..., Run]) -> Run:
    return run_stack("dev")


# --- helpers ---------------------------------------------------------------------------------


def settings(run: Run, type_: str, bucket: Resource) -> list[Resource]:
    """The settings resources of a type whose ``bucket`` is this bucket (as the policy pack finds them)."""
    return [r for r in run.by_type(type_) if bucket.urn in r.property_dependencies.get("bucket", [])]


def one(run: Run, type_: str, bucket: Resource) -> Resource:
    (found,) = settings(run, type_, bucket)
    return found


def document(resource: Resource, key: str = "policy") -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(resource.inputs[key])["Statement"]
    return statements


def by_sid(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements if s.get("Sid") == sid]
    return found


def named(run: Run, type_: str, name: str) -> Resource:
    (found,) = [r for r in run.by_type(type_) if r.name == name]
    return found


def provider_named(run: Run, name: str) -> str:
    return run.named(name).urn


# --- with the committed stacks' backups config: what prod and dev get --------------------------


def test_prod_has_a_backup_bucket_and_its_log_bucket_in_each_region(prod: Run) -> None:
    buckets = {b.name: b for b in prod.by_type(BUCKET)}
    assert set(buckets) == {"backups-bucket", "backups-logs", "backups-dr-bucket", "backups-dr-logs"}
    assert buckets["backups-bucket"].inputs["bucket"] == f"platform-test-backups-{ACCOUNT}-ca-central-1"
    assert buckets["backups-dr-bucket"].inputs["bucket"] == f"platform-test-backups-{ACCOUNT}-ca-west-1"
    assert buckets["backups-logs"].inputs["bucket"] == f"platform-test-backups-access-logs-{ACCOUNT}-ca-central-1"
    primary, dr = provider_named(prod, "aws"), provider_named(prod, "aws-dr")
    for name, bucket in buckets.items():
        expected = dr if "-dr-" in name else primary
        assert bucket.provider == expected, name
        region = "ca-west-1" if "-dr-" in name else "ca-central-1"
        # Explicit, so that the policy pack can compare regions at preview too.
        assert bucket.inputs["region"] == bucket.outputs["region"] == region


def test_resources_in_the_dr_region_and_only_those_use_the_dr_provider(prod: Run) -> None:
    primary, dr = provider_named(prod, "aws"), provider_named(prod, "aws-dr")
    aws_resources = [r for r in prod.resources if r.custom and r.type.startswith("aws:")]
    on_dr = {r.name for r in aws_resources if r.provider == dr}
    assert on_dr and all(name.startswith("backups-dr-") for name in on_dr)
    assert all(r.provider == primary for r in aws_resources if r.provider != dr)
    # The replication role and its configuration live with the source bucket.
    replication = [r for r in aws_resources if r.name == "backups-replication"]
    assert {r.type for r in replication} == {ROLE, ROLE_POLICY, REPLICATION}
    assert all(r.provider == primary for r in replication)


def test_backup_buckets_are_tagged_for_the_policy_pack_and_the_log_buckets_are_not(prod: Run) -> None:
    tags = {b.name: b.inputs["tags"] for b in prod.by_type(BUCKET)}
    assert tags["backups-bucket"] == {"purpose": "backups", "copy": "primary"}
    assert tags["backups-dr-bucket"] == {"purpose": "backups", "copy": "dr-replica"}
    assert tags["backups-logs"] == tags["backups-dr-logs"] == {"purpose": "access-logs"}
    for bucket in prod.by_type(BUCKET):
        assert set(bucket.outputs["tagsAll"]) >= set(TAGS), bucket.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", ["preview", "update"])
def test_no_bucket_can_be_public_or_use_acls(run_stack: Callable[..., Run], stack: str, mode: str) -> None:
    run = run_stack(stack, mode)
    for bucket in run.by_type(BUCKET):
        block = one(run, PUBLIC_ACCESS, bucket)
        flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        assert all(block.inputs[f] is True for f in flags), bucket.name
        assert one(run, OWNERSHIP, bucket).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_backup_buckets_default_to_their_own_kms_key_with_a_bucket_key(prod: Run) -> None:
    for bucket_name, key_name in (("backups-bucket", "backups-key"), ("backups-dr-bucket", "backups-dr-key")):
        (rule,) = one(prod, ENCRYPTION, prod.named(bucket_name)).inputs["rules"]
        key = named(prod, KEY, key_name)
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms",
            "kmsMasterKeyId": key.outputs["arn"],
        }
        assert rule["bucketKeyEnabled"] is True
        assert key.provider == prod.named(bucket_name).provider
    # S3 server access logging cannot deliver to an SSE-KMS bucket: the log buckets use SSE-S3.
    for log_bucket in ("backups-logs", "backups-dr-logs"):
        (rule,) = one(prod, ENCRYPTION, prod.named(log_bucket)).inputs["rules"]
        assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_keys_rotate_and_are_not_shared_between_regions(prod: Run) -> None:
    keys = {k.name: k for k in prod.by_type(KEY)}
    assert set(keys) == {"backups-key", "backups-dr-key"}
    assert keys["backups-key"].outputs["arn"].startswith("arn:aws:kms:ca-central-1:")
    assert keys["backups-dr-key"].outputs["arn"].startswith("arn:aws:kms:ca-west-1:")
    for key in keys.values():
        assert key.inputs["enableKeyRotation"] is True
        assert key.inputs["deletionWindowInDays"] == 30
    aliases = prod.by_type("aws:kms/alias:Alias")
    assert sorted(a.inputs["name"] for a in aliases) == ["alias/platform-test-backups"] * 2


EXPECTED_EXPIRY = {"postgres/": 30, "redis/": 7, "velero/": 30, "config/": 90, "weekly/": 90, "archive/": 365}


@pytest.mark.parametrize("bucket_name", ["backups-bucket", "backups-dr-bucket"])
def test_lifecycle_keeps_each_prefix_as_long_as_the_schedule_says(prod: Run, bucket_name: str) -> None:
    # The replica has its own lifecycle: S3 never replicates the delete markers lifecycle creates.
    rules = one(prod, LIFECYCLE, prod.named(bucket_name)).inputs["rules"]
    assert all(r["status"] == "Enabled" for r in rules)
    by_prefix = {r["filter"].get("prefix"): r for r in rules}
    expiry = {prefix: r["expiration"]["days"] for prefix, r in by_prefix.items() if "days" in r["expiration"]}
    assert expiry == EXPECTED_EXPIRY
    assert by_prefix["archive/"]["transitions"] == [{"days": 0, "storageClass": "GLACIER"}]
    assert not [r for p, r in by_prefix.items() if p != "archive/" and r.get("transitions")]
    # One rule over the whole bucket (empty filter) for what versioning and uploads leave behind.
    everything = by_prefix[None]
    assert everything["filter"] == {}
    assert everything["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert everything["expiration"] == {"expiredObjectDeleteMarker": True}
    assert everything["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


@pytest.mark.parametrize("bucket_name", ["backups-bucket", "backups-dr-bucket"])
def test_backup_buckets_are_versioned(prod: Run, bucket_name: str) -> None:
    versioning = one(prod, VERSIONING, prod.named(bucket_name))
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}


@pytest.mark.parametrize(
    ("bucket_name", "key_name"), [("backups-bucket", "backups-key"), ("backups-dr-bucket", "backups-dr-key")]
)
def test_bucket_policy_denies_plain_http_and_uploads_under_another_key(
    prod: Run, bucket_name: str, key_name: str
) -> None:
    bucket = prod.named(bucket_name)
    key = named(prod, KEY, key_name)
    arn = bucket.outputs["arn"]
    statements = document(one(prod, POLICY, bucket))
    tls = by_sid(statements, "DenyInsecureTransport")
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", ["s3:*"])
    assert tls["Resource"] == [arn, f"{arn}/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": ["false"]}}
    algorithm = by_sid(statements, "DenyOtherEncryption")
    assert (algorithm["Effect"], algorithm["Action"], algorithm["Resource"]) == ("Deny", ["s3:PutObject"], [f"{arn}/*"])
    # IfExists: uploads without headers still get the default encryption.
    assert algorithm["Condition"] == {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": ["aws:kms"]}}
    other_key = by_sid(statements, "DenyOtherKmsKey")
    assert other_key["Effect"] == "Deny" and other_key["Action"] == ["s3:PutObject"]
    assert other_key["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": [key.outputs["arn"]]}
    }
    assert all(s["Effect"] == "Deny" for s in statements), "the backup bucket policy only takes rights away"


@pytest.mark.parametrize(
    ("bucket_name", "log_name"), [("backups-bucket", "backups-logs"), ("backups-dr-bucket", "backups-dr-logs")]
)
def test_access_logs_go_to_a_separate_bucket_in_the_same_region(prod: Run, bucket_name: str, log_name: str) -> None:
    bucket, log_bucket = prod.named(bucket_name), prod.named(log_name)
    logging = one(prod, LOGGING, bucket)
    assert logging.inputs["targetBucket"] == log_bucket.outputs["id"]
    assert logging.inputs["targetPrefix"] == "backups/"
    assert log_bucket.urn in logging.property_dependencies["targetBucket"]
    assert logging.provider == bucket.provider == log_bucket.provider
    assert not settings(prod, LOGGING, log_bucket), "the log bucket does not log into itself"
    log_arn = log_bucket.outputs["arn"]
    statements = document(one(prod, POLICY, log_bucket))
    assert by_sid(statements, "DenyInsecureTransport")["Resource"] == [log_arn, f"{log_arn}/*"]
    grant = by_sid(statements, "S3ServerAccessLogsFromBackupBucket")
    assert grant["Principal"] == {"Service": ["logging.s3.amazonaws.com"]}
    assert (grant["Action"], grant["Resource"]) == (["s3:PutObject"], [f"{log_arn}/backups/*"])
    assert grant["Condition"] == {
        "ArnLike": {"aws:SourceArn": [bucket.outputs["arn"]]},
        "StringEquals": {"aws:SourceAccount": [ACCOUNT]},
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_log_buckets_expire_logs_after_the_configured_retention(run_stack: Callable[..., Run], stack: str) -> None:
    run = run_stack(stack)
    log_buckets = [b for b in run.by_type(BUCKET) if b.inputs["tags"]["purpose"] == "access-logs"]
    assert len(log_buckets) == {"dev": 1, "prod": 2}[stack]
    for log_bucket in log_buckets:
        (rule,) = one(run, LIFECYCLE, log_bucket).inputs["rules"]
        assert rule["status"] == "Enabled" and rule["filter"] == {}
        assert rule["expiration"] == {"days": 90}
        assert not settings(run, OBJECT_LOCK, log_bucket) and log_bucket.inputs["objectLockEnabled"] is False


def test_prod_locks_backups_in_governance_mode_no_longer_than_the_shortest_expiry(prod: Run) -> None:
    for bucket_name in ("backups-bucket", "backups-dr-bucket"):
        bucket = prod.named(bucket_name)
        # Object Lock can only be turned on when the bucket is created; the replica needs it too.
        assert bucket.inputs["objectLockEnabled"] is True
        lock = one(prod, OBJECT_LOCK, bucket)
        assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 7}}
        assert "objectLockEnabled" not in lock.inputs  # deprecated on this resource
    assert min(EXPECTED_EXPIRY.values()) >= 7


def test_prod_replicates_every_object_to_the_dr_bucket_under_the_dr_key(prod: Run) -> None:
    bucket, dr_bucket = prod.named("backups-bucket"), prod.named("backups-dr-bucket")
    dr_key = named(prod, KEY, "backups-dr-key")
    (role,) = prod.by_type(ROLE)
    config = one(prod, REPLICATION, bucket)
    assert config.provider == provider_named(prod, "aws")
    assert config.inputs["role"] == role.outputs["arn"]
    (rule,) = config.inputs["rules"]
    assert (rule["status"], rule["priority"]) == ("Enabled", 1)
    assert rule["filter"] == {}, "an empty filter: every object"
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["destination"] == {
        "bucket": dr_bucket.outputs["arn"],
        "encryptionConfiguration": {"replicaKmsKeyId": dr_key.outputs["arn"]},
        "metrics": {"status": "Enabled"},
    }
    # The pack finds the replica through the rules' dependencies.
    assert dr_bucket.urn in config.property_dependencies["rules"]
    # S3 refuses the configuration until both buckets are versioned.
    versionings = {one(prod, VERSIONING, b).urn for b in (bucket, dr_bucket)}
    assert versionings <= set(config.dependencies)


def test_replication_role_may_do_only_replication_on_these_buckets(prod: Run) -> None:
    bucket, dr_bucket = prod.named("backups-bucket"), prod.named("backups-dr-bucket")
    arn, dr_arn = bucket.outputs["arn"], dr_bucket.outputs["arn"]
    (role,) = prod.by_type(ROLE)
    assert role.inputs["name"] == "platform-test-backups-replication-ca-central-1"
    (trust,) = document(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": ["s3.amazonaws.com"]} and trust["Action"] == ["sts:AssumeRole"]
    (policy,) = prod.by_type(ROLE_POLICY)
    assert policy.inputs["role"] == role.outputs["id"]
    statements = document(policy)
    resources = {s["Sid"]: s["Resource"] for s in statements}
    # No key here: each key's policy grants the role its use (next test), so this document names no
    # key ARN, which a first preview cannot know.
    assert resources == {
        "ReadReplicationConfiguration": [arn],
        "ReadSourceVersions": [f"{arn}/*"],
        "WriteReplicas": [f"{dr_arn}/*"],
    }
    actions = {s["Sid"]: s["Action"] for s in statements}
    assert actions["WriteReplicas"] == ["s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"]
    # Object Lock is on: S3 reads each version's retention to copy it.
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold"} <= set(actions["ReadSourceVersions"])
    assert all(s["Effect"] == "Allow" and "*" not in s["Resource"] for s in statements)


@pytest.mark.parametrize(
    ("key_name", "bucket_name", "actions", "region"),
    [
        ("backups-key", "backups-bucket", ["kms:Decrypt"], "ca-central-1"),
        ("backups-dr-key", "backups-dr-bucket", ["kms:Encrypt", "kms:GenerateDataKey"], "ca-west-1"),
    ],
)
def test_key_policies_let_the_replication_role_use_each_key_only_through_s3(
    prod: Run, key_name: str, bucket_name: str, actions: list[str], region: str
) -> None:
    key = named(prod, KEY, key_name)
    arn = prod.named(bucket_name).outputs["arn"]
    (role,) = prod.by_type(ROLE)
    statements = document(key)
    admin = by_sid(statements, "AccountAdministersKey")
    assert admin["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}
    replication = by_sid(statements, "ReplicationRoleUsesKeyThroughS3")
    assert replication["Principal"] == {"AWS": [role.outputs["arn"]]}
    assert replication["Action"] == actions
    assert replication["Condition"] == {
        "StringEquals": {"kms:ViaService": [f"s3.{region}.amazonaws.com"]},
        # With a bucket key the encryption context is the bucket's ARN, without one the object's.
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]},
    }
    assert role.urn in key.dependencies


def test_prod_protects_buckets_and_keys_and_never_force_destroys(prod: Run) -> None:
    for resource in [*prod.by_type(BUCKET), *prod.by_type(KEY)]:
        assert resource.protect, resource.name
    assert all(b.inputs["forceDestroy"] is False for b in prod.by_type(BUCKET))


def test_dev_has_no_replica_no_lock_no_protection_and_may_be_destroyed(dev: Run) -> None:
    assert {b.name for b in dev.by_type(BUCKET)} == {"backups-bucket", "backups-logs"}
    for type_ in (REPLICATION, ROLE, ROLE_POLICY, OBJECT_LOCK):
        assert not dev.by_type(type_), type_
    assert not [r for r in dev.resources if r.name.startswith("backups-dr-")]
    (key,) = dev.by_type(KEY)
    assert [s["Sid"] for s in document(key)] == ["AccountAdministersKey"]
    assert dev.named("backups-bucket").inputs["objectLockEnabled"] is False
    for resource in [*dev.by_type(BUCKET), key]:
        assert not resource.protect, resource.name
    assert all(b.inputs["forceDestroy"] is True for b in dev.by_type(BUCKET))
    # None outputs: the engine records no value for them.
    outputs = dev.named("backups").outputs
    assert outputs.get("dr_bucket_name") is None and outputs.get("dr_bucket_arn") is None
    assert outputs["bucket_name"] == f"platform-test-backups-{ACCOUNT}-ca-central-1"


def test_dev_still_encrypts_versions_expires_and_logs_its_backups(dev: Run) -> None:
    bucket = dev.named("backups-bucket")
    (rule,) = one(dev, ENCRYPTION, bucket).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == dev.by_type(KEY)[0].outputs["arn"]
    assert one(dev, VERSIONING, bucket).inputs["versioningConfiguration"] == {"status": "Enabled"}
    rules = one(dev, LIFECYCLE, bucket).inputs["rules"]
    expiry = {r["filter"]["prefix"]: r["expiration"]["days"] for r in rules if "prefix" in r["filter"]}
    assert expiry == EXPECTED_EXPIRY
    assert one(dev, LOGGING, bucket).inputs["targetBucket"] == dev.named("backups-logs").outputs["id"]


def test_outputs_name_the_buckets_the_key_and_the_replica(prod: Run) -> None:
    component = prod.named("backups")
    assert component.type == "platform:backups:BackupStorage"
    bucket, dr_bucket = prod.named("backups-bucket"), prod.named("backups-dr-bucket")
    key = named(prod, KEY, "backups-key")
    assert component.outputs == {
        "bucket_name": bucket.outputs["bucket"],
        "bucket_arn": bucket.outputs["arn"],
        "kms_key_arn": key.outputs["arn"],
        "log_bucket_name": prod.named("backups-logs").outputs["bucket"],
        "dr_bucket_name": dr_bucket.outputs["bucket"],
        "dr_bucket_arn": dr_bucket.outputs["arn"],
    }
    assert all(r.parent == component.urn for r in prod.resources if r.custom and r.type.startswith("aws:"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_first_preview_leaves_arns_unknown_and_still_builds_everything(
    run_stack: Callable[..., Run], stack: str
) -> None:
    preview, update = run_stack(stack, "preview"), run_stack(stack, "update")
    assert sorted(r.urn for r in preview.resources) == sorted(r.urn for r in update.resources)
    outputs = preview.named("backups").outputs
    assert outputs["bucket_arn"] == "[unknown]" and outputs["kms_key_arn"] == "[unknown]"
    # Names come from config and the account id, so they are known before anything exists.
    assert outputs["bucket_name"] == f"platform-test-backups-{ACCOUNT}-ca-central-1"
    policy = one(preview, POLICY, preview.named("backups-bucket"))
    assert policy.inputs["policy"] == "[unknown]"


# --- args: defaults, minimal, full, bad ----------------------------------------------------------


def test_minimal_args_are_the_safe_defaults(build: Callable[..., Run]) -> None:
    config = BackupsConfig.model_validate({"drRegion": "us-west-2"})
    assert (config.replicate, config.object_lock, config.protect, config.force_destroy) == (True, True, True, False)
    run = build(program(config, region="us-east-1"), config={**ENGINE_CONFIG, "aws:region": "us-east-1"})
    dr_bucket = run.named("backups-dr-bucket")
    assert dr_bucket.outputs["region"] == "us-west-2"
    assert dr_bucket.inputs["bucket"] == f"platform-test-backups-{ACCOUNT}-us-west-2"
    assert run.by_type(REPLICATION) and len(run.by_type(OBJECT_LOCK)) == 2
    assert all(b.protect and b.inputs["forceDestroy"] is False for b in run.by_type(BUCKET))
    # Left out, the partition is the commercial one.
    admin = by_sid(document(run.by_type(KEY)[0]), "AccountAdministersKey")
    assert admin["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}


def test_full_args_set_retention_lock_days_and_partition(build: Callable[..., Run]) -> None:
    config = BackupsConfig.model_validate(
        {
            "drRegion": "us-gov-east-1",
            "replicate": True,
            "protect": True,
            "forceDestroy": False,
            "objectLock": True,
            "objectLockDays": 3,
            "accessLogRetentionDays": 400,
        }
    )
    run = build(
        program(config, region="us-gov-west-1", partition="aws-us-gov"),
        config={**ENGINE_CONFIG, "aws:region": "us-gov-west-1"},
    )
    for lock in run.by_type(OBJECT_LOCK):
        assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 3}
    log_rules = [one(run, LIFECYCLE, run.named(n)).inputs["rules"][0] for n in ("backups-logs", "backups-dr-logs")]
    assert all(r["expiration"] == {"days": 400} for r in log_rules)
    for key in run.by_type(KEY):
        admin = by_sid(document(key), "AccountAdministersKey")
        assert admin["Principal"] == {"AWS": [f"arn:aws-us-gov:iam::{ACCOUNT}:root"]}
    assert run.named("backups-bucket").inputs["bucket"].endswith("-us-gov-west-1")


def test_object_lock_off_drops_the_lock_and_its_replication_permissions(build: Callable[..., Run]) -> None:
    config = backups_config("prod", objectLock=False)
    run = build(program(config), config=ENGINE_CONFIG)
    assert not run.by_type(OBJECT_LOCK)
    assert all(b.inputs["objectLockEnabled"] is False for b in run.by_type(BUCKET))
    (policy,) = run.by_type(ROLE_POLICY)
    read = by_sid(document(policy), "ReadSourceVersions")["Action"]
    assert "s3:GetObjectRetention" not in read and "s3:GetObjectLegalHold" not in read


def test_replication_without_a_dr_provider_is_refused(build: Callable[..., Run]) -> None:
    with pytest.raises(EngineError, match=r"BackupStorageArgs\.dr_provider: backups\.replicate is on"):
        build(program(backups_config("prod"), dr_provider=False), config=ENGINE_CONFIG)


def test_no_replication_needs_no_dr_provider_and_leaves_the_dr_outputs_none(build: Callable[..., Run]) -> None:
    built: list[BackupStorage] = []
    config = backups_config("prod", replicate=False)
    run = build(program(config, dr_provider=False, built=built), config=ENGINE_CONFIG)
    assert not run.by_type(REPLICATION) and not run.by_type(ROLE)
    (component,) = built
    assert component.dr_bucket_name is None and component.dr_bucket_arn is None
    assert run.named("backups").outputs.get("dr_bucket_arn") is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"objectLockDays": 8}, r"objectLockDays\n.*less than or equal to 7"),
        ({"objectLockDays": 0}, r"objectLockDays\n.*greater than or equal to 1"),
        ({"accessLogRetentionDays": 0}, r"accessLogRetentionDays\n.*greater than or equal to 1"),
        ({"drRegion": "canada-central"}, r"drRegion\n.*AWS region name"),
        ({"drRegion": None}, "replicate is on but drRegion is not set"),
        ({"forceDestroy": True}, "forceDestroy needs protect off"),
        ({"objectLock": "yes"}, r"objectLock\n.*valid boolean"),
        ({"replicas": 2}, r"replicas\n.*Extra inputs are not permitted"),
    ],
)
def test_bad_backups_config_is_refused_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        backups_config("prod", **changes)


def test_bad_backups_config_in_a_stack_file_is_a_config_error_with_the_full_key() -> None:
    raw = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())["config"]
    raw["platform:backups"] = {**raw["platform:backups"], "objectLockDays": 30}
    with pytest.raises(ConfigError, match=r"platform:backups\.objectLockDays"):
        load_settings(raw, [], "platform", "prod")


# --- the policy pack, on this component alone --------------------------------------------------

# Stack rules about components this one does not build.
EXEMPT = {"aws-rds-instance-missing-alarm", "aws-elasticache-replicationgroup-missing-alarm"}


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_policy_pack_finds_no_mandatory_violation_in_prod(run_stack: Callable[..., Run], mode: str) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    result = evaluate(_client(), run_stack("prod", mode), load_policy_config("prod"))
    assert [v for v in result.mandatory if v["policy"] not in EXEMPT] == []
    if mode == "update":
        assert result.violations == [] and result.unknown_during_preview == []


def test_policy_pack_only_advises_on_what_dev_turns_down(run_stack: Callable[..., Run]) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    result = evaluate(_client(), run_stack("dev"), load_policy_config("dev"))
    assert [v for v in result.mandatory if v["policy"] not in EXEMPT] == []
    # No replica, no protection and no Object Lock in dev: visible, as advice.
    assert {v["policy"] for v in result.violations} == {
        "aws-s3-bucket-missing-cross-region-replication",
        "aws-stateful-resource-enforce-protect",
        "aws-s3-bucket-enable-object-lock",
    }


def test_bucket_policy_refuses_aws_kms_uploads_that_do_not_name_our_key(prod: Run) -> None:
    # Without a key id S3 would use the AWS-managed aws/s3 key, which replication cannot decrypt.
    statements = [
        st
        for policy in prod.by_type("aws:s3/bucketPolicy:BucketPolicy")
        for st in json.loads(policy.inputs["policy"])["Statement"]
    ]
    denies = [st for st in statements if st.get("Sid") == "DenyKmsWithoutOurKeyId"]
    assert len(denies) == 2, "on the backup bucket and on its DR replica"
    for statement in denies:
        assert statement["Effect"] == "Deny" and statement["Action"] == ["s3:PutObject"]
        assert statement["Condition"]["Null"] == {"s3:x-amz-server-side-encryption-aws-kms-key-id": ["true"]}
        assert statement["Condition"]["StringEquals"] == {"s3:x-amz-server-side-encryption": ["aws:kms"]}
