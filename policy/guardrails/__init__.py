"""The platform's guardrails, one module per service.

Importing this package registers every rule (``base.REGISTRY``). The pack's
``__main__.py`` only builds the PolicyPack from ``ALL_POLICIES``; tests and
the offline engine import the same modules.
"""

from __future__ import annotations

from guardrails import (  # noqa: F401 - importing registers the rules
    ec2,
    ecr,
    eks,
    elasticache,
    iam,
    kms,
    kubernetes,
    logs,
    rds,
    s3,
    secretsmanager,
    sns,
    stack,
    tags,
)
from guardrails.base import REGISTRY, Rule

ALL_POLICIES = [rule.policy for rule in REGISTRY]
RULES: dict[str, Rule] = {rule.name: rule for rule in REGISTRY}

__all__ = ["ALL_POLICIES", "REGISTRY", "RULES", "Rule"]
