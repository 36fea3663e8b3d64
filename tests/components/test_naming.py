"""Names stay inside AWS limits and unique; tags come from one place."""

from __future__ import annotations

import re

import pytest

from components.naming import LIMITS, InvalidNameError, Naming, default_tags

LONG = Naming("platform-with-a-rather-long-project-name", "production-eu-central-blue")


@pytest.mark.parametrize(
    ("kind", "limit"), [("rds", 63), ("elasticache", 40), ("iam-role", 64), ("s3", 63), ("eks", 100)]
)
def test_long_names_are_shortened_to_the_service_limit(kind: str, limit: int) -> None:
    name = LONG.name("database-primary-with-a-very-long-purpose-name-indeed", kind)
    assert len(name) <= limit == LIMITS[kind]
    # RDS, ElastiCache, S3 and EKS rules at once: letter first, no "--", no trailing "-".
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name), name


def test_short_names_are_kept_readable() -> None:
    assert Naming("platform", "dev").name("postgres", "rds") == "platform-dev-postgres"


def test_shortened_names_of_different_purposes_do_not_collide() -> None:
    a = LONG.name("cache-replication-group-for-sessions", "elasticache")
    b = LONG.name("cache-replication-group-for-queues", "elasticache")
    assert a != b and len(a) <= 40 and len(b) <= 40


def test_names_are_cleaned_to_lowercase_and_single_hyphens() -> None:
    assert Naming("Platform", "Dev").name("Flow__Logs--Role", "iam-role") == "platform-dev-flow-logs-role"


def test_a_purpose_that_cannot_start_with_a_letter_is_refused() -> None:
    with pytest.raises(InvalidNameError):
        Naming("1platform", "dev").name("x")


def test_bucket_names_are_globally_unique_and_dns_compliant() -> None:
    name = LONG.bucket_name("backups-with-a-long-purpose", "123456789012", "ca-central-1")
    assert len(name) <= 63
    assert name.endswith("-123456789012-ca-central-1")
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name)
    assert Naming("platform", "dev").bucket_name("backups", "123456789012", "ca-central-1") == (
        "platform-dev-backups-123456789012-ca-central-1"
    )


def test_default_tags_carry_the_five_required_keys_and_cannot_be_overridden_by_extra() -> None:
    tags = default_tags("platform", "prod", "team-a", "cc-1", {"environment": "spoofed", "team": "x"})
    assert tags == {
        "team": "x",
        "environment": "prod",
        "project": "platform",
        "owner": "team-a",
        "cost-center": "cc-1",
        "managed-by": "pulumi",
    }
