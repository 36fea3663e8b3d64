"""How a guardrail is declared: one small check plus the metadata a reviewer acts on.

Every rule is registered here with its category, which decides its level per
stack (policy/config/<stack>.json): security rules are mandatory everywhere;
availability and cost rules are mandatory in prod and advisory in dev.

Checks read the property names the engine sends (camelCase, numbers as
floats). A value unknown during preview raises inside ``args.props``; the
analyzer turns that into an advisory "can't run policy during preview", never
a violation, so checks simply read what they need.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

Category = Literal["security", "availability", "cost"]
NAME = re.compile(
    r"^(aws|kubernetes|stack)-[a-z0-9]+(-[a-z0-9]+)*-(missing|disallow|enable|disable|configure|enforce)-[a-z0-9-]+$"
)
VERBS = ("missing", "disallow", "enable", "disable", "configure", "enforce")

ResourceCheck = Callable[[Mapping[str, Any], ResourceValidationArgs], Iterable[str]]
StackCheck = Callable[[list[PolicyResource], StackValidationArgs], Iterable[tuple[str, str | None]]]


@dataclass(frozen=True)
class Rule:
    """A registered policy with what the docs, config files and tests need."""

    policy: ResourceValidationPolicy | StackValidationPolicy
    category: Category
    resource_types: tuple[str, ...]
    control: str | None
    config_defaults: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.policy.name)

    def level(self, stack: str) -> str:
        """The enforcement level this rule has in a stack."""
        if self.category == "security" or stack == "prod":
            return "mandatory"
        return "advisory"


REGISTRY: list[Rule] = []


def _framework(control: str | None) -> PolicyComplianceFramework | None:
    if control is None:
        return None
    name, _, reference = control.partition(" ")
    return PolicyComplianceFramework(name=name, reference=reference or None)


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) if config else None


def _register(rule: Rule) -> None:
    if not NAME.match(rule.name):
        raise ValueError(f"policy name {rule.name!r} must be <provider>-<service>-<resource>-<verb>-<what>")
    if any(r.name == rule.name for r in REGISTRY):
        raise ValueError(f"policy {rule.name!r} is registered twice")
    REGISTRY.append(rule)


def resource_rule(
    *,
    name: str,
    description: str,
    resource_types: Iterable[str],
    remediation: str,
    severity: Severity = Severity.HIGH,
    category: Category = "security",
    control: str | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[ResourceCheck], ResourceValidationPolicy]:
    """Declare a rule over single resources; the check yields one message per problem.

    ``config`` is a JSON schema per property, each with a ``default``.
    ``control`` is "<framework> <reference>", e.g. "AWS-FSBP RDS.2".
    """
    types = tuple(resource_types)

    def wrap(check: ResourceCheck) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
            if args.resource_type not in types:
                return
            for message in check(args.props, args):
                report_violation(message)

        policy = ResourceValidationPolicy(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=_schema(config),
            severity=severity,
            framework=_framework(control),
            remediation_steps=remediation,
        )
        defaults = {k: v["default"] for k, v in (config or {}).items()}
        _register(Rule(policy, category, types, control, defaults))
        return policy

    return wrap


def stack_rule(
    *,
    name: str,
    description: str,
    resource_types: Iterable[str],
    remediation: str,
    severity: Severity = Severity.HIGH,
    category: Category = "security",
    control: str | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[StackCheck], StackValidationPolicy]:
    """Declare a rule over the whole graph; the check yields (message, urn or None)."""
    types = tuple(resource_types)

    def wrap(check: StackCheck) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report_violation: Callable[..., None]) -> None:
            for message, urn in check(list(args.resources), args):
                report_violation(message, urn)

        policy = StackValidationPolicy(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=_schema(config),
            severity=severity,
            framework=_framework(control),
            remediation_steps=remediation,
        )
        defaults = {k: v["default"] for k, v in (config or {}).items()}
        _register(Rule(policy, category, types, control, defaults))
        return policy

    return wrap


# --- helpers for checks ------------------------------------------------------------


def config_value(args: ResourceValidationArgs | StackValidationArgs, key: str, default: Any) -> Any:
    """A policy config value (the pack's defaults apply when the stack file has none)."""
    return (args.get_config() or {}).get(key, default)


def as_document(value: Any) -> dict[str, Any]:
    """An IAM/KMS/S3 policy document given as JSON text or already parsed."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return dict(value.items()) if isinstance(value, Mapping) else {}


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def as_list(value: Any) -> list[Any]:
    """A list of a value that may be one item, a list, or the analyzer's list proxy."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def number(value: Any, default: float = 0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
