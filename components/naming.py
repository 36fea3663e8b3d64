"""Physical names and tags, in one place.

Names are derived from project, stack and a purpose (what the resource is
for: ``postgres``, ``eks``) and kept inside each AWS service's limits. When a
name would be too long it is shortened and given a short hash of the full
name, so two long purposes never collide. Names are a
contract with existing stacks: changing a rule here renames (replaces)
resources.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random

# Longest physical name each service accepts.
LIMITS = {
    "rds": 63,  # DB instance identifier
    "elasticache": 40,  # replication group id
    "iam-role": 64,
    "s3": 63,
    "eks": 100,
    "log-group": 512,
    "generic": 255,
}


class InvalidNameError(ValueError):
    """A purpose that cannot become a valid name (a programming error, not config)."""


@dataclass(frozen=True)
class Naming:
    project: str
    stack: str

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.stack}"

    def name(self, purpose: str, kind: str = "generic") -> str:
        """``<project>-<stack>-<purpose>`` within the limit of ``kind``.

        Lowercase letters, digits and single hyphens, starting with a letter and
        not ending in a hyphen: the common denominator of RDS, ElastiCache, S3
        and EKS rules.
        """
        limit = LIMITS[kind]
        full = _clean(f"{self.prefix}-{purpose}")
        if not full or not full[0].isalpha():
            raise InvalidNameError(f"name for purpose {purpose!r} must start with a letter, got {full!r}")
        return _fit(full, limit)

    def bucket_name(self, purpose: str, account_id: str, region: str) -> str:
        """A globally unique S3 bucket name: the account and region make it unique.

        Bucket names are global across all AWS accounts, so project-stack-purpose
        alone could already be taken by someone else.
        """
        suffix = f"-{account_id}-{region}"
        base = _fit(_clean(f"{self.prefix}-{purpose}"), LIMITS["s3"] - len(suffix))
        name = f"{base}{suffix}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name):
            raise InvalidNameError(f"{name!r} is not a valid S3 bucket name")
        return name


def final_snapshot_identifier(
    parent: pulumi.Resource,
    resource_name: str,
    identifier: str,
    replaced_with: Mapping[str, pulumi.Input[str]] | None = None,
) -> pulumi.Output[str]:
    """``<identifier>-final-<8 hex>``: a final snapshot name no earlier deletion has used.

    A fixed name (``<identifier>-final``) fails the second teardown of a recreated stack with
    DBSnapshotAlreadyExists (or its ElastiCache twin), because the first teardown's snapshot is
    kept on purpose. The suffix is a RandomId that is new whenever the stack is created anew, and
    whenever one of ``replaced_with`` changes: pass the inputs whose change replaces the database
    (its key, its subnet group), so that a replacement's deletion gets a name of its own too.
    """
    suffix = random.RandomId(
        resource_name,
        random.RandomIdArgs(byte_length=4, keepers={"identifier": identifier, **(replaced_with or {})}),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return pulumi.Output.concat(identifier, "-final-", suffix.hex)


def _clean(text: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    text = re.sub(r"-{2,}", "-", text)
    return text.strip("-")


def _fit(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - len(digest) - 1].rstrip('-')}-{digest}"


def default_tags(project: str, stack: str, owner: str, cost_center: str, extra: dict[str, str]) -> dict[str, str]:
    """Tags every AWS resource carries, through the provider's default_tags."""
    return {
        **extra,
        "environment": stack,
        "project": project,
        "owner": owner,
        "cost-center": cost_center,
        "managed-by": "pulumi",
    }
