"""Every rule over its fixtures: compliant passes, each one-property change gives
exactly the expected violation at the stack's level, and a value unknown during
preview is no violation but a "during preview" notice (for a stack rule, one
that hides no other resource's violation)."""

from __future__ import annotations

import copy
import importlib
from pathlib import Path
from typing import Any

import pytest

from tests.policy.harness import (
    REGISTRY,
    Case,
    Res,
    StackCase,
    evaluate_fixture,
    set_path,
    unknown,
    violations_of,
)
from tools.policy_gate import PolicyResult


def all_cases() -> list[Case | StackCase]:
    cases: list[Case | StackCase] = []
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        cases += importlib.import_module(f"tests.policy.{path.stem}").CASES
    return cases


RULES = {rule.name: rule for rule in REGISTRY}
CASES = all_cases()
RESOURCE_CASES = [c for c in CASES if isinstance(c, Case)]
STACK_CASES = [c for c in CASES if isinstance(c, StackCase)]


def _id(case: Case | StackCase) -> str:
    return f"{case.policy}[{case.stack}]"


def _named(value: Any) -> str:
    return value if isinstance(value, str) else _id(value)


def _one_violation(result: PolicyResult, case: Case | StackCase, name: str) -> dict[str, Any]:
    found = violations_of(result, case.policy)
    assert len(found) == 1, found
    assert found[0]["level"] == RULES[case.policy].level(case.stack)
    assert case.expect[name] in found[0]["message"]
    assert found[0]["remediation"]
    return found[0]


def _notices(result: PolicyResult, policy: str) -> list[dict[str, Any]]:
    return [u for u in result.unknown_during_preview if u["policy"] == policy]


def test_every_failing_case_pins_its_message() -> None:
    unpinned = [
        f"{c.policy}: {name}"
        for c in CASES
        for name in [*c.violating, *(c.unknown if isinstance(c, StackCase) else {})]
        if not c.expect.get(name)
    ]
    assert unpinned == [], "give each failing case an expect= text"


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=_id)
def test_compliant_fixture_passes(case: Case) -> None:
    result = evaluate_fixture([Res(case.type, "fixture", case.compliant)], case.stack, case.config, case.policy)
    assert violations_of(result, case.policy) == []
    if case.unknown == []:
        # A first-preview fixture (values not known yet, e.g. a key created with the stack): the rule decides.
        assert _notices(result, case.policy) == [], "a property set to a value not known yet is set"


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in RESOURCE_CASES for n in c.violating],
    ids=_named,
)
def test_one_change_gives_exactly_one_violation(case: Case, name: str) -> None:
    props = case.compliant
    for path, value in case.violating[name].items():
        props = set_path(props, path, value)
    result = evaluate_fixture([Res(case.type, "fixture", props)], case.stack, case.config, case.policy)
    _one_violation(result, case, name)


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in RESOURCE_CASES for n in c.violating if c.unknown != []],
    ids=_named,
)
def test_an_unknown_value_is_not_a_violation(case: Case, name: str) -> None:
    # The failing case, but with the values it changed unknown (as in a first preview): the policy
    # reads one of them, so it says it cannot run during preview, and reports nothing.
    props = case.compliant
    for path in case.unknown if case.unknown is not None else case.violating[name]:
        props = set_path(props, path, unknown())
    result = evaluate_fixture([Res(case.type, "fixture", props)], case.stack, case.config, case.policy)
    assert violations_of(result, case.policy) == []
    assert _notices(result, case.policy), "the unknown path is not read: fix the case's unknown="


@pytest.mark.parametrize("case", STACK_CASES, ids=_id)
def test_compliant_graph_passes(case: StackCase) -> None:
    result = evaluate_fixture(case.compliant, case.stack, case.config, case.policy)
    assert violations_of(result, case.policy) == []


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in STACK_CASES for n in c.violating],
    ids=_named,
)
def test_one_graph_change_gives_exactly_one_violation(case: StackCase, name: str) -> None:
    graph = case.violating[name](copy.deepcopy(case.compliant))
    result = evaluate_fixture(graph, case.stack, case.config, case.policy)
    _one_violation(result, case, name)


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in STACK_CASES for n in c.unknown],
    ids=_named,
)
def test_an_unknown_value_on_one_resource_hides_no_other_violation(case: StackCase, name: str) -> None:
    graph = case.unknown[name](copy.deepcopy(case.compliant))
    result = evaluate_fixture(graph, case.stack, case.config, case.policy)
    _one_violation(result, case, name)
    assert _notices(result, case.policy), "the unknown value is not read: the case does not test what it says"
