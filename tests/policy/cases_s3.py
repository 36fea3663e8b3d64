"""Fixtures for the S3 guardrails: a backup bucket replicated to the DR region, with its access-log buckets.

The compliant graph is what the backups component sends in a first preview:
four buckets (the backups and their replica, each with an access-log bucket in
its region) and their settings resources, each linked to its bucket through the
property dependencies of ``bucket``. The buckets' outputs are their inputs (no
``arn``), plus the ``region`` the engine plans. Each failing case changes one
resource; each unknown case makes a value of one bucket (early in the graph)
unknown while a later one violates.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from tests.policy.harness import DELETE, Case, Res, StackCase, chain, set_path, unknown

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
LOGGING = "aws:s3/bucketLogging:BucketLogging"

PRIMARY, DR = "ca-central-1", "ca-west-1"
ACCOUNT = "123456789012"


def _key(region: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def _urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::platform::{type_}::{name}"


def _tls_policy(name: str) -> str:
    arn = f"arn:aws:s3:::{name}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _bucket(name: str, region: str, *, backups: bool, kms: bool, type_: str = BUCKET) -> list[Res]:
    """A bucket and the settings every bucket has."""
    bucket_name = f"platform-prod-{name}"
    tags = {"Name": bucket_name, **({"purpose": "backups"} if backups else {})}
    link = {"bucket": [_urn(type_, name)]}
    default = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": _key(region)} if kms else {"sseAlgorithm": "AES256"}
    return [
        Res(
            type_,
            name,
            {"bucket": bucket_name, "region": region, "forceDestroy": False, "tags": tags},
        ),
        Res(
            SSE,
            f"{name}-encryption",
            {
                "bucket": bucket_name,
                "region": region,
                "rules": [{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": kms}],
            },
            property_dependencies=link,
        ),
        Res(
            PAB,
            f"{name}-public-access",
            {
                "bucket": bucket_name,
                "region": region,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
            property_dependencies=link,
        ),
        Res(
            OWNERSHIP,
            f"{name}-ownership",
            {"bucket": bucket_name, "region": region, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            property_dependencies=link,
        ),
        Res(
            POLICY,
            f"{name}-policy",
            {"bucket": bucket_name, "region": region, "policy": _tls_policy(bucket_name)},
            property_dependencies=link,
        ),
    ]


def _backup_settings(name: str, region: str, log_bucket: str) -> list[Res]:
    """What a backup bucket has on top: versioning, lifecycle, access logging."""
    bucket_name = f"platform-prod-{name}"
    link = {"bucket": [_urn(BUCKET, name)]}
    return [
        Res(
            VERSIONING,
            f"{name}-versioning",
            {"bucket": bucket_name, "region": region, "versioningConfiguration": {"status": "Enabled"}},
            property_dependencies=link,
        ),
        Res(
            LIFECYCLE,
            f"{name}-lifecycle",
            {
                "bucket": bucket_name,
                "region": region,
                "rules": [
                    {
                        "id": "backups",
                        "status": "Enabled",
                        "filter": {"prefix": ""},
                        "transitions": [{"days": 30, "storageClass": "GLACIER_IR"}],
                        "noncurrentVersionExpiration": {"noncurrentDays": 90},
                        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                    }
                ],
            },
            property_dependencies=link,
        ),
        Res(
            LOGGING,
            f"{name}-logging",
            {
                "bucket": bucket_name,
                "region": region,
                "targetBucket": f"platform-prod-{log_bucket}",
                "targetPrefix": f"{bucket_name}/",
            },
            property_dependencies={**link, "targetBucket": [_urn(BUCKET, log_bucket)]},
        ),
    ]


_replication = Res(
    REPLICATION,
    "backups-replication",
    {
        "bucket": "platform-prod-backups",
        "region": PRIMARY,
        "role": f"arn:aws:iam::{ACCOUNT}:role/platform-prod-backups-replication",
        "rules": [
            {
                "id": "dr-copy",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "deleteMarkerReplication": {"status": "Enabled"},
                "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                "destination": {
                    "bucket": "arn:aws:s3:::platform-prod-backups-replica",
                    "storageClass": "STANDARD_IA",
                    "encryptionConfiguration": {"replicaKmsKeyId": _key(DR)},
                },
            }
        ],
    },
    property_dependencies={"bucket": [_urn(BUCKET, "backups")], "rules": [_urn(BUCKET, "backups-replica")]},
)

GRAPH: list[Res] = [
    *_bucket("backups", PRIMARY, backups=True, kms=True),
    *_backup_settings("backups", PRIMARY, "access-logs"),
    _replication,
    *_bucket("backups-replica", DR, backups=True, kms=True),
    *_backup_settings("backups-replica", DR, "access-logs-dr"),
    *_bucket("access-logs", PRIMARY, backups=False, kms=False),
    *_bucket("access-logs-dr", DR, backups=False, kms=False),
]

Change = Callable[[list[Res]], list[Res]]
BACKUPS = "backups"  # the first bucket of the graph


def without(type_: str, name: str) -> Change:
    """The graph without one resource."""
    return lambda graph: [r for r in graph if (r.type, r.name) != (type_, name)]


def changed(type_: str, name: str, path: str, value: Any) -> Change:
    """The graph with one property of one resource changed (DELETE removes it)."""

    def change(graph: list[Res]) -> list[Res]:
        for res in graph:
            if (res.type, res.name) == (type_, name):
                res.props = set_path(res.props, path, value)
        return graph

    return change


def added(*resources: Res) -> Change:
    return lambda graph: [*graph, *resources]


def relinked(type_: str, name: str, key: str, urns: list[str]) -> Change:
    """The graph with the property dependencies of one property of one resource replaced."""

    def change(graph: list[Res]) -> list[Res]:
        for res in graph:
            if (res.type, res.name) == (type_, name):
                res.property_dependencies = {**res.property_dependencies, key: urns}
        return graph

    return change


def without_bucket(name: str) -> Change:
    """The graph without one bucket and the settings resources of that bucket."""
    urn = _urn(BUCKET, name)
    return lambda graph: [r for r in graph if r.urn != urn and urn not in r.property_dependencies.get("bucket", [])]


_default = "rules.0.applyServerSideEncryptionByDefault"

CASES = [
    StackCase(
        policy="aws-s3-bucket-missing-kms-encryption",
        compliant=GRAPH,
        violating={
            "no-encryption-config": without(SSE, "backups-encryption"),
            "sse-s3": changed(SSE, "backups-encryption", _default, {"sseAlgorithm": "AES256"}),
            "aws-managed-key": changed(SSE, "backups-replica-encryption", f"{_default}.kmsMasterKeyId", DELETE),
            "log-bucket-without-encryption": without(SSE, "access-logs-encryption"),
            "unlinked-v2-bucket": added(Res(BUCKET_V2, "scratch", {"bucket": "scratch", "region": PRIMARY})),
        },
        expect={
            "no-encryption-config": "bucket backups has no server-side encryption configuration",
            "sse-s3": "bucket backups defaults to AES256, not SSE-KMS",
            "aws-managed-key": "bucket backups-replica uses SSE-KMS with the AWS-managed key",
            "log-bucket-without-encryption": "bucket access-logs has no",
            "unlinked-v2-bucket": "bucket scratch has no",
            "unknown-key": "bucket access-logs has no server-side encryption configuration",
        },
        unknown={
            # A first preview: the backups key's ARN is unknown; the log bucket's missing encryption still shows.
            "unknown-key": chain(
                changed(SSE, "backups-encryption", f"{_default}.sseAlgorithm", unknown()),
                without(SSE, "access-logs-encryption"),
            )
        },
    ),
    StackCase(
        # The V2 type of the settings resource counts as well.
        policy="aws-s3-bucket-missing-kms-encryption",
        compliant=[
            Res(BUCKET, "app", {"bucket": "app", "region": PRIMARY, "tags": {}}),
            Res(
                SSE_V2,
                "app-encryption",
                {
                    "bucket": "app",
                    "rules": [
                        {
                            "applyServerSideEncryptionByDefault": {
                                "sseAlgorithm": "aws:kms:dsse",
                                "kmsMasterKeyId": _key(PRIMARY),
                            }
                        }
                    ],
                },
                property_dependencies={"bucket": [_urn(BUCKET, "app")]},
            ),
        ],
        violating={"sse-s3": changed(SSE_V2, "app-encryption", _default, {"sseAlgorithm": "AES256"})},
        expect={"sse-s3": "bucket app defaults to AES256"},
    ),
    StackCase(
        policy="aws-s3-bucket-missing-public-access-block",
        compliant=GRAPH,
        violating={
            "no-block": without(PAB, "access-logs-public-access"),
            "policy-allowed": changed(PAB, "backups-public-access", "blockPublicPolicy", False),
            "acls-ignored-off": changed(PAB, "backups-replica-public-access", "ignorePublicAcls", DELETE),
        },
        expect={
            "no-block": "bucket access-logs has no public access block",
            "policy-allowed": "bucket backups's public access block leaves blockPublicPolicy off",
            "acls-ignored-off": "leaves ignorePublicAcls off",
            "unknown-flag": "bucket access-logs-dr has no public access block",
        },
        unknown={
            "unknown-flag": chain(
                changed(PAB, "backups-public-access", "blockPublicAcls", unknown()),
                without(PAB, "access-logs-dr-public-access"),
            )
        },
    ),
    StackCase(
        policy="aws-s3-bucket-disable-acls",
        compliant=GRAPH,
        violating={
            "no-ownership-controls": without(OWNERSHIP, "backups-ownership"),
            "object-writer": changed(OWNERSHIP, "access-logs-ownership", "rule.objectOwnership", "ObjectWriter"),
            "preferred": changed(OWNERSHIP, "backups-ownership", "rule.objectOwnership", "BucketOwnerPreferred"),
        },
        expect={
            "no-ownership-controls": "bucket backups has no ownership controls",
            "object-writer": "object ownership ObjectWriter, not BucketOwnerEnforced",
            "preferred": "bucket backups has object ownership BucketOwnerPreferred, not BucketOwnerEnforced",
            "unknown-ownership": "bucket access-logs-dr has no ownership controls",
        },
        unknown={
            "unknown-ownership": chain(
                changed(OWNERSHIP, "backups-ownership", "rule.objectOwnership", unknown()),
                without(OWNERSHIP, "access-logs-dr-ownership"),
            )
        },
    ),
    StackCase(
        policy="aws-s3-bucket-enforce-tls",
        compliant=GRAPH,
        violating={
            "no-policy": without(POLICY, "backups-policy"),
            "allow-instead-of-deny": changed(
                POLICY, "backups-policy", "policy", _tls_policy("platform-prod-backups").replace("Deny", "Allow")
            ),
            "condition-true": changed(
                POLICY, "backups-policy", "policy", _tls_policy("platform-prod-backups").replace('"false"', '"true"')
            ),
            "objects-only": changed(
                POLICY,
                "backups-replica-policy",
                "policy",
                _tls_policy("platform-prod-backups-replica").replace(
                    '"arn:aws:s3:::platform-prod-backups-replica", ', ""
                ),
            ),
            "other-bucket": changed(POLICY, "access-logs-policy", "policy", _tls_policy("platform-prod-backups")),
        },
        expect={
            "no-policy": "bucket backups has no bucket policy",
            "allow-instead-of-deny": "bucket backups's policy does not deny s3:* on the bucket and its objects",
            "condition-true": "bucket backups's policy does not deny",
            "objects-only": "bucket backups-replica's policy",
            "other-bucket": "bucket access-logs's policy",
            "unknown-policy": "bucket access-logs has no bucket policy",
        },
        unknown={
            "unknown-policy": chain(
                changed(POLICY, "backups-policy", "policy", unknown()), without(POLICY, "access-logs-policy")
            )
        },
    ),
    StackCase(
        # An auto-named bucket after an update: its name comes from the arn output, in its own partition.
        policy="aws-s3-bucket-enforce-tls",
        compliant=[
            Res(BUCKET, "scratch", {"arn": "arn:aws-us-gov:s3:::scratch-20240101", "region": "us-gov-west-1"}),
            Res(
                POLICY,
                "scratch-policy",
                {
                    "bucket": "scratch-20240101",
                    "policy": _tls_policy("scratch-20240101").replace(":aws:", ":aws-us-gov:"),
                },
                property_dependencies={"bucket": [_urn(BUCKET, "scratch")]},
            ),
        ],
        violating={"other-bucket": changed(POLICY, "scratch-policy", "policy", _tls_policy("platform-prod-backups"))},
        expect={"other-bucket": "bucket scratch's policy does not deny"},
    ),
    StackCase(
        policy="aws-s3-bucket-enable-versioning",
        compliant=GRAPH,
        violating={
            "no-versioning": without(VERSIONING, "backups-versioning"),
            "suspended": changed(
                VERSIONING, "backups-replica-versioning", "versioningConfiguration.status", "Suspended"
            ),
        },
        expect={
            "no-versioning": "backup bucket backups has no versioning configuration",
            "suspended": "backup bucket backups-replica has versioning Suspended, not Enabled",
            "unknown-tags": "backup bucket backups-replica has versioning Suspended, not Enabled",
        },
        unknown={
            # Whether the first bucket is a backup bucket cannot be told; the replica's suspended versioning shows.
            "unknown-tags": chain(
                changed(BUCKET, BACKUPS, "tags", unknown()),
                changed(VERSIONING, "backups-replica-versioning", "versioningConfiguration.status", "Suspended"),
            )
        },
    ),
    StackCase(
        # Object Lock turns versioning on (and keeps it on): no BucketVersioning resource is needed.
        policy="aws-s3-bucket-enable-versioning",
        compliant=without(VERSIONING, "backups-replica-versioning")(
            changed(BUCKET, "backups-replica", "objectLockEnabled", True)(copy.deepcopy(GRAPH))
        ),
        violating={"object-lock-turned-off": changed(BUCKET, "backups-replica", "objectLockEnabled", False)},
        expect={
            "object-lock-turned-off": "backup bucket backups-replica has no versioning configuration",
            "unknown-object-lock": "backup bucket backups-replica has no versioning configuration",
        },
        unknown={
            "unknown-object-lock": chain(
                changed(VERSIONING, "backups-versioning", "versioningConfiguration.status", unknown()),
                changed(BUCKET, "backups-replica", "objectLockEnabled", False),
            )
        },
    ),
    StackCase(
        policy="aws-s3-bucket-missing-lifecycle",
        compliant=GRAPH,
        violating={
            "no-lifecycle": without(LIFECYCLE, "backups-replica-lifecycle"),
            "rule-disabled": changed(LIFECYCLE, "backups-lifecycle", "rules.0.status", "Disabled"),
        },
        expect={
            "no-lifecycle": "backup bucket backups-replica has no lifecycle configuration",
            "rule-disabled": "backup bucket backups's lifecycle configuration has no Enabled rule",
            "unknown-rules": "backup bucket backups-replica has no lifecycle configuration",
        },
        unknown={
            "unknown-rules": chain(
                changed(LIFECYCLE, "backups-lifecycle", "rules", unknown()),
                without(LIFECYCLE, "backups-replica-lifecycle"),
            )
        },
    ),
    StackCase(
        policy="aws-s3-bucket-missing-access-logging",
        compliant=GRAPH,
        violating={
            "no-logging": without(LOGGING, "backups-logging"),
            "into-itself": relinked(LOGGING, "backups-logging", "targetBucket", [_urn(BUCKET, "backups")]),
            "untagged-becomes-backups": changed(BUCKET, "access-logs", "tags.purpose", "backups"),
            "target-removed": chain(
                relinked(LOGGING, "backups-logging", "targetBucket", []),
                changed(LOGGING, "backups-logging", "targetBucket", DELETE),
            ),
        },
        expect={
            "no-logging": "backup bucket backups has no server access logging",
            "into-itself": "backup bucket backups logs its access into itself",
            "untagged-becomes-backups": "backup bucket access-logs has no server access logging",
            "target-removed": "backup bucket backups's access logging has no target bucket",
            "unknown-tags": "backup bucket backups-replica has no server access logging",
        },
        unknown={
            "unknown-tags": chain(
                changed(BUCKET, BACKUPS, "tags", unknown()), without(LOGGING, "backups-replica-logging")
            )
        },
    ),
    StackCase(
        policy="aws-s3-bucket-missing-cross-region-replication",
        compliant=GRAPH,
        violating={
            # Without its replication the replica would be one more unreplicated backup bucket.
            "no-replication": lambda graph: without(REPLICATION, "backups-replication")(
                without_bucket("backups-replica")(graph)
            ),
            "second-backup-bucket": added(
                Res(
                    BUCKET,
                    "backups-2",
                    {"bucket": "platform-prod-backups-2", "region": PRIMARY, "tags": {"purpose": "backups"}},
                )
            ),
            "rule-disabled": changed(REPLICATION, "backups-replication", "rules.0.status", "Disabled"),
            "replica-in-same-region": changed(BUCKET, "backups-replica", "region", PRIMARY),
            # The replica lives in another stack: its region cannot be seen.
            "destination-outside-stack": without_bucket("backups-replica"),
        },
        expect={
            "no-replication": "backup bucket backups has no replication configuration",
            "second-backup-bucket": "backup bucket backups-2 has no replication configuration",
            "rule-disabled": "has no Enabled rule",
            "replica-in-same-region": "replicates only within its own region ca-central-1 (to backups-replica)",
            "destination-outside-stack": "replicates to no bucket of this stack",
            "unknown-replica-region": "backup bucket backups-2 has no replication configuration",
        },
        unknown={
            # The replica's region unknown: the backups bucket cannot be judged; another backup bucket still can.
            "unknown-replica-region": chain(
                changed(BUCKET, "backups-replica", "region", unknown()),
                added(Res(BUCKET, "backups-2", {"bucket": "platform-prod-backups-2", "tags": {"purpose": "backups"}})),
            )
        },
    ),
    StackCase(
        # A region that cannot be told (no region output, no provider) is not compared: no violation.
        policy="aws-s3-bucket-missing-cross-region-replication",
        compliant=changed(BUCKET, "backups-replica", "region", DELETE)(copy.deepcopy(GRAPH)),
        violating={"rule-disabled": changed(REPLICATION, "backups-replication", "rules.0.status", "Disabled")},
        expect={"rule-disabled": "backup bucket backups's replication configuration has no Enabled rule"},
    ),
    Case(
        policy="aws-s3-bucket-enable-bucket-key",
        type=SSE,
        compliant={
            "bucket": "platform-prod-backups",
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": _key(PRIMARY)},
                    "bucketKeyEnabled": True,
                }
            ],
        },
        violating={"off": {"rules.0.bucketKeyEnabled": False}, "unset": {"rules.0.bucketKeyEnabled": DELETE}},
        expect={"off": "bucketKeyEnabled off", "unset": "bucketKeyEnabled off"},
    ),
    Case(
        policy="aws-s3-bucket-enable-object-lock",
        type=BUCKET,
        compliant={"bucket": "platform-prod-backups", "objectLockEnabled": True, "tags": {"purpose": "backups"}},
        violating={"off": {"objectLockEnabled": False}},
        expect={"off": "backup bucket without Object Lock"},
    ),
    Case(
        policy="aws-s3-bucket-enable-object-lock",
        type=BUCKET,
        compliant={"bucket": "platform-dev-backups", "objectLockEnabled": True, "tags": {"purpose": "backups"}},
        stack="dev",
        violating={"off": {"objectLockEnabled": False}},
        expect={"off": "backup bucket without Object Lock"},
    ),
]
