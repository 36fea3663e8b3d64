"""A first preview (a new stack) shows the gate every policy document it can know.

A document computed from a resource still being created is unknown in a first `pulumi preview` (the engine
does not run the invoke that renders it), and the policy pack cannot judge an unknown document. So documents
name what they can by ARNs built from names and the account (roles, buckets, log groups, the topic), not from
the resources' outputs. What stays unknown cannot be known before the resources exist, each for a reason below.
"""

from __future__ import annotations

import pytest

from tests.conftest import STACKS, stack_graph

UNKNOWN = "[unknown]"
DOCUMENTS = {
    "aws:kms/key:Key": "policy",
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
}
# Unknown until the resources exist, and why.
UNKNOWABLE = {
    # The trust names the cluster's OIDC provider and issuer, which EKS assigns when it creates the cluster.
    ("aws:iam/role:Role", "cluster-vpc-cni"),
    ("aws:iam/role:Role", "cluster-ebs-csi-driver"),
    ("aws:iam/role:Role", "cluster-autoscaler-role"),
    ("aws:iam/role:Role", "load-balancer-controller-role"),
    ("aws:iam/role:Role", "external-secrets-role"),
    ("aws:iam/role:Role", "monitoring-cloudwatch-role"),
    ("aws:iam/role:Role", "tracing-tempo-role"),
    ("aws:iam/role:Role", "log-shipping-role"),
    ("aws:iam/role:Role", "velero-role"),
    # External Secrets may read exactly the RDS master secret (RDS names it rds!db-<uuid> when it creates the
    # instance) and the cache's secret, and decrypt with exactly their keys (KMS assigns the key ids).
    ("aws:iam/rolePolicy:RolePolicy", "external-secrets-role"),
    # Tempo may use exactly the backups' key (through S3, for its bucket).
    ("aws:iam/rolePolicy:RolePolicy", "tracing-tempo-role"),
    # Velero: the backup bucket (its ARN from the bucket's outputs) and exactly its key.
    ("aws:iam/rolePolicy:RolePolicy", "velero-role"),
    # The backup jobs' roles: the trust names the cluster's OIDC provider; the policies the bucket, its key, the
    # cache's key and the replication group's id (ElastiCache's), for the snapshot ARNs.
    *(
        (kind, f"backup-jobs-backup-{job}-role")
        for kind in ("aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy")
        for job in ("postgres", "redis", "config", "verify", "metrics")
    ),
    # The bucket policy refuses uploads under any key but the bucket's own, named by its ARN: KMS assigns it.
    ("aws:s3/bucketPolicy:BucketPolicy", "backups-bucket-policy"),
    ("aws:s3/bucketPolicy:BucketPolicy", "backups-dr-bucket-policy"),
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_document_is_known_in_a_first_preview_but_those_that_cannot_be(stack: str) -> None:
    graph = stack_graph(stack, "preview")
    unknown = {
        (r["type"], r["name"])
        for type_, key in DOCUMENTS.items()
        for r in graph.of_type(type_)
        if r["inputs"].get(key) == UNKNOWN
    }
    documents = sum(len(graph.of_type(t)) for t in DOCUMENTS)
    assert documents > 15
    assert unknown <= UNKNOWABLE, unknown - UNKNOWABLE
