"""How a guardrail is declared: one small check plus the metadata a reviewer acts on.

Every rule is registered here with its category, which decides its level per
stack (policy/config/<stack>.json): security rules are mandatory everywhere;
availability and cost rules are mandatory in prod and advisory in dev.

Checks read the property names the engine sends (camelCase, numbers as
floats). A value unknown during preview raises inside ``args.props``; the
analyzer turns that into an advisory "can't run policy during preview", never
a violation, so resource checks simply read what they need.

A stack rule checks many resources in one call, and the analyzer stops it at
the first unknown value: in a first preview (where keys, ARNs and ids are
unknown) that would hide every other resource's violations. So stack checks
go through ``each`` (one check per resource; an unknown value skips only
that resource and is raised at the end, so the notice is still emitted) and
``known_only`` for what they gather from other resources. What one resource
refers to in another (a subnet group's subnets, a route's table) is read with
``reference``: by id in an update, by the recorded property dependencies in a
first preview, where the ids are unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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
from pulumi_policy.proxy import UnknownValueError

from guardrails import exemptions as _exemptions

Category = Literal["security", "availability", "cost", "advice"]
"""security: mandatory in every stack. availability and cost: mandatory in prod, advisory in dev. advice:
advisory in every stack (good practice whose exceptions are normal, e.g. images by digest)."""
FirstPreview = Literal["decides", "needs-values"]
"""Whether a rule can decide during a first ``pulumi preview`` (a new stack or resource), where ids, ARNs and
documents naming them are not known yet. "decides": it reads only what is known then (literals, and whether a
property is set: ``is_set``). "needs-values": it must read a value that can be unknown then (a policy
document naming a key's ARN, an OIDC issuer) and gives up, for that resource alone, until it is known."""
NAME = re.compile(
    r"^(aws|kubernetes|stack)-[a-z0-9]+(-[a-z0-9]+)*-(missing|disallow|enable|disable|configure|enforce)-[a-z0-9-]+$"
)
VERBS = ("missing", "disallow", "enable", "disable", "configure", "enforce")

T = TypeVar("T")
R = TypeVar("R")
Finding = tuple[str, str | None]

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
    first_preview: FirstPreview = "decides"

    @property
    def name(self) -> str:
        return str(self.policy.name)

    def level(self, stack: str) -> str:
        """The enforcement level this rule has in a stack."""
        if self.category == "advice":
            return "advisory"
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
    first_preview: FirstPreview = "decides",
    exemptions: bool = False,
) -> Callable[[ResourceCheck], ResourceValidationPolicy]:
    """Declare a rule over single resources; the check yields one message per problem.

    ``config`` is a JSON schema per property, each with a ``default``.
    ``control`` is "<framework> <reference>", e.g. "AWS-FSBP RDS.2".
    ``exemptions``: the rule judges Kubernetes objects, and the stack's policy config may exempt some of them,
    each with its reason (guardrails/exemptions.py).
    """
    types = tuple(resource_types)
    config = _with_exemptions(config, exemptions)

    def wrap(check: ResourceCheck) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
            # Read before the type test, so that a bad entry refuses the config whatever the stack holds.
            exempt = _exemptions.parse(name, config_value(args, _exemptions.KEY, [])) if exemptions else ()
            if args.resource_type not in types:
                return
            messages = check(args.props, args)
            for message in _unless_exempted(messages, exempt, args) if exempt else messages:
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
        _register(Rule(policy, category, types, control, defaults, first_preview))
        return policy

    return wrap


def _with_exemptions(
    config: Mapping[str, Mapping[str, Any]] | None, exemptions: bool
) -> Mapping[str, Mapping[str, Any]] | None:
    if not exemptions:
        return config
    return {**(config or {}), _exemptions.KEY: _exemptions.SCHEMA}


def _unless_exempted(
    messages: Iterable[str], exempt: Sequence[_exemptions.Exemption], args: ResourceValidationArgs
) -> Iterator[str]:
    """A resource rule's messages, or none when an exemption covers the object.

    Only a violation needs the object's namespace: a compliant object whose namespace is not known yet (a
    first preview) is judged as before.
    """
    found = iter(messages)
    first = next(found, None)
    if first is None or _exemptions.exempted(exempt, args.resource_type, args.props, args.name):
        return
    yield first
    yield from found


def _report_unexempted(
    findings: Iterable[Finding],
    exempt: Sequence[_exemptions.Exemption],
    resources: list[PolicyResource],
    report_violation: Callable[..., None],
) -> None:
    """Report a stack rule's findings but those on an exempted object.

    A finding whose object's namespace is not known yet is held back (as ``each`` does), and the first such
    unknown is raised at the end, so the preview notice is still emitted.
    """
    by_urn = {r.urn: r for r in resources} if exempt else {}
    unknown: UnknownValueError | None = None
    try:
        for message, urn in findings:
            resource = by_urn.get(urn) if urn else None
            if resource is not None:
                try:
                    if _exemptions.exempted(exempt, resource.resource_type, resource.props, resource.name):
                        continue
                except UnknownValueError as err:
                    unknown = unknown or err
                    continue
            report_violation(message, urn)
    except UnknownValueError as err:
        unknown = unknown or err
    if unknown is not None:
        raise unknown


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
    first_preview: FirstPreview = "decides",
    exemptions: bool = False,
) -> Callable[[StackCheck], StackValidationPolicy]:
    """Declare a rule over the whole graph; the check yields (message, urn or None).

    ``exemptions`` as for ``resource_rule``: a finding on an exempted object (by its urn) is not reported.
    """
    types = tuple(resource_types)
    config = _with_exemptions(config, exemptions)

    def wrap(check: StackCheck) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report_violation: Callable[..., None]) -> None:
            exempt = _exemptions.parse(name, config_value(args, _exemptions.KEY, [])) if exemptions else ()
            resources = list(args.resources)
            _report_unexempted(check(resources, args), exempt, resources, report_violation)

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
        _register(Rule(policy, category, types, control, defaults, first_preview))
        return policy

    return wrap


# --- helpers for checks ------------------------------------------------------------


def config_value(args: ResourceValidationArgs | StackValidationArgs, key: str, default: Any) -> Any:
    """A policy config value (the pack's defaults apply when the stack file has none)."""
    return (args.get_config() or {}).get(key, default)


def is_set(props: Mapping[str, Any], *path: str) -> bool:
    """Whether the property at ``path`` is set (not missing, None, empty or false).

    A value not known yet (a reference to a key, a group, a template that will exist) is set: only its
    value is unknown, so a presence check passes on it during a first preview.
    """
    value: Any = props
    try:
        for key in path:
            if not isinstance(value, Mapping):
                return False
            value = value.get(key)
    except UnknownValueError:
        return True
    if value is None or value is False or value == "":
        return False
    # The analyzer hands lists and objects over in wrappers of its own: ask their length.
    if isinstance(value, (Mapping, Sequence)) and not isinstance(value, (str, bytes)):
        return len(value) > 0
    return True


def known_or_none(props: Mapping[str, Any], key: str) -> Any:
    """The value of ``key``, or None while it is unknown (a first preview).

    For a rule that shares a document with another rule which already reports that document as
    undecided (so one unknown document gives one notice, not one per rule): it judges the document once it
    is known, at `pulumi up` at the latest, where inputs are resolved before the resource is created.
    """
    try:
        return props.get(key)
    except UnknownValueError:
        return None


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


# --- stack rules: one resource's unknown value hides nothing else ---------------------


def each(items: Iterable[T], check: Callable[[T], Iterable[R]]) -> Iterator[R]:
    """Run ``check`` on every item and yield what it finds, item by item.

    An item whose check meets a value unknown during preview
    (``UnknownValueError``) gives what it found before that value, and the
    other items are still checked; the first unknown is raised once all items
    are done, so the analyzer still reports that the policy could not fully
    run during preview.
    """
    unknown: UnknownValueError | None = None
    for item in items:
        try:
            yield from check(item)
        except UnknownValueError as err:
            unknown = unknown or err
    if unknown is not None:
        raise unknown


def known_only(items: Iterable[T], read: Callable[[T], R]) -> tuple[list[tuple[T, R]], UnknownValueError | None]:
    """``read`` on every item whose values it needs are known: (item, result) pairs, and the first unknown met.

    For what a stack check gathers from other resources (e.g. the namespaces
    that have a default-deny policy): a caller that would violate only for want
    of a skipped item raises the returned unknown instead (see ``each``).
    """
    found: list[tuple[T, R]] = []
    unknown: UnknownValueError | None = None
    for item in items:
        try:
            found.append((item, read(item)))
        except UnknownValueError as err:
            unknown = unknown or err
    return found, unknown


def dependency_urns(resource: PolicyResource, key: str) -> set[str]:
    """URNs of the resources a property of ``resource`` was computed from (known in preview too)."""
    return {dep.urn for dep in resource.property_dependencies.get(key, [])}


def depends_on(resource: PolicyResource, key: str, target: PolicyResource) -> bool:
    """Whether a property of ``resource`` was computed from ``target`` (e.g. a FlowLog's vpcId)."""
    return target.urn in dependency_urns(resource, key)


@dataclass(frozen=True)
class Reference:
    """What a property refers to: its values when known (ids, ARNs) and the URNs of the resources it was
    computed from. In an update both are there; in a first preview only the URNs."""

    values: frozenset[str]
    urns: frozenset[str]

    def meets(self, other: Reference) -> bool:
        """Whether two references name a common resource (by a known value or by URN)."""
        return bool(self.values & other.values or self.urns & other.urns)


def reference(resource: PolicyResource, key: str, types: Iterable[str]) -> Reference:
    """What a property of ``resource`` refers to among resources of ``types`` (e.g. a subnet group's subnetIds).

    Its values when they are known, and the URNs of the resources of ``types`` it was computed from. When the
    value is unknown, it is resolved through its dependencies alone, and only if all of them are of ``types``
    (a dependency of another kind, or none, could stand for anything): otherwise the ``UnknownValueError`` is
    raised, for ``each`` or ``known_only`` to skip this resource alone.
    """
    wanted = set(types)
    deps = resource.property_dependencies.get(key, [])
    urns = frozenset(dep.urn for dep in deps if dep.resource_type in wanted)
    try:
        values = frozenset(str(v) for v in as_list(resource.props.get(key)) if v)
    except UnknownValueError:
        if not deps or len(urns) < len({dep.urn for dep in deps}):
            raise
        values = frozenset()
    return Reference(values, urns)
