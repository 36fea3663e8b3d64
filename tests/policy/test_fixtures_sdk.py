"""Fixtures speak the installed SDKs: every type token a case or a rule uses exists in pulumi-aws or
pulumi-kubernetes (``@pulumi.type_token``), and every top-level property a fixture sets is one the engine
would send for that type: an input of its Args class for a resource rule's ``Case``, an output of the
resource class for a ``StackCase`` graph (property dependencies included). Kubernetes objects are checked
at the top level only (apiVersion, kind, metadata, spec, data...), like every other fixture."""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

import pulumi_aws
import pulumi_kubernetes
import pytest

from tests.policy.harness import REGISTRY, Case, Res, StackCase
from tests.policy.test_rules import CASES

PACKAGES = [Path(pulumi_aws.__file__).parent, Path(pulumi_kubernetes.__file__).parent]
TYPE_TOKEN = re.compile(r'^@pulumi\.type_token\("([^"]+)"\)\s*\nclass (\w+)\(', re.MULTILINE)
CLASS = re.compile(r"^class (\w+)\b.*?(?=^class |^@pulumi\.type_token|\Z)", re.MULTILINE | re.DOTALL)
GETTER = re.compile(r'@pulumi\.getter(?:\(name="(\w+)"\))?\s*\n\s*def (\w+)\(self\)')
ALWAYS = {"id", "urn"}  # outputs of every resource, not declared as getters


@cache
def type_tokens() -> dict[str, tuple[Path, str]]:
    """Every resource type token of the installed SDKs -> (its module file, its class name)."""
    found: dict[str, tuple[Path, str]] = {}
    for package in PACKAGES:
        for path in package.rglob("*.py"):
            if path.name.startswith("_"):
                continue
            text = path.read_text(encoding="utf-8")
            for match in TYPE_TOKEN.finditer(text):
                found[match.group(1)] = (path, match.group(2))
    return found


@cache
def properties(token: str) -> tuple[frozenset[str], frozenset[str]]:
    """(input names, output names) of a type, camelCase, from the getters of its Args and resource classes."""
    path, resource_class = type_tokens()[token]
    inputs: set[str] = set()
    outputs: set[str] = set(ALWAYS)
    for block in CLASS.finditer(path.read_text(encoding="utf-8")):
        name = block.group(1)
        getters = {camel or python for camel, python in GETTER.findall(block.group(0))}
        if name.endswith("Args"):
            inputs |= getters
        elif name == resource_class:
            outputs |= getters
    if token.startswith("pulumi:providers:"):
        outputs |= inputs  # a provider's state is its configuration
    return frozenset(inputs), frozenset(outputs)


def _graphs(case: StackCase) -> list[list[Res]]:
    changes = [*case.violating.values(), *case.unknown.values()]
    return [case.compliant, *(change(copy.deepcopy(case.compliant)) for change in changes)]


def _case_props(case: Case) -> list[dict[str, object]]:
    """The compliant fixture and every failing one (top-level keys only matter)."""
    fixtures = [case.compliant]
    for change in case.violating.values():
        keys = {path.split(".")[0] for path in change}
        fixtures.append({**case.compliant, **dict.fromkeys(keys)})
    return fixtures


def _id(case: Case | StackCase) -> str:
    return case.policy


def test_the_sdks_are_indexed() -> None:
    assert len(type_tokens()) > 1000
    assert "aws:s3/bucket:Bucket" in type_tokens() and "kubernetes:apps/v1:Deployment" in type_tokens()


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.name)
def test_rule_types_exist_in_the_sdks(rule: object) -> None:
    types = [t for t in rule.resource_types if not t.endswith("*")]  # type: ignore[attr-defined]
    assert [t for t in types if t not in type_tokens()] == []


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c, Case)], ids=_id)
def test_case_type_and_input_names_exist(case: Case) -> None:
    assert case.type in type_tokens(), f"{case.type} is no type of the installed SDKs"
    inputs, _ = properties(case.type)
    unknown = sorted({key for props in _case_props(case) for key in props} - inputs)
    assert unknown == [], f"not inputs of {case.type}: {unknown}"


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c, StackCase)], ids=_id)
def test_stack_case_types_and_output_names_exist(case: StackCase) -> None:
    problems = []
    for graph in _graphs(case):
        for res in graph:
            if res.type not in type_tokens():
                problems.append(f"{res.name}: {res.type} is no type of the installed SDKs")
                continue
            _, outputs = properties(res.type)
            for key in sorted({*res.props, *res.property_dependencies} - outputs):
                problems.append(f"{res.name}: {key} is not an output of {res.type}")
    assert sorted(set(problems)) == []
