"""Every rule over its fixtures: compliant passes, each one-property change gives
exactly the expected violation, and a value unknown during preview is no violation."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.policy.harness import Case, Res, StackCase, evaluate_fixture, set_path, unknown, violations_of


def all_cases() -> list[Case | StackCase]:
    cases: list[Case | StackCase] = []
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        cases += importlib.import_module(f"tests.policy.{path.stem}").CASES
    return cases


CASES = all_cases()
RESOURCE_CASES = [c for c in CASES if isinstance(c, Case)]
STACK_CASES = [c for c in CASES if isinstance(c, StackCase)]


def _id(case: Case | StackCase) -> str:
    return f"{case.policy}[{case.stack}]"


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=_id)
def test_compliant_fixture_passes(case: Case) -> None:
    result = evaluate_fixture([Res(case.type, "fixture", case.compliant)], case.stack, case.config, case.policy)
    assert violations_of(result, case.policy) == []


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in RESOURCE_CASES for n in c.violating],
    ids=lambda v: v if isinstance(v, str) else _id(v),
)
def test_one_change_gives_exactly_one_violation(case: Case, name: str) -> None:
    props = case.compliant
    for path, value in case.violating[name].items():
        props = set_path(props, path, value)
    result = evaluate_fixture([Res(case.type, "fixture", props)], case.stack, case.config, case.policy)
    found = violations_of(result, case.policy)
    assert len(found) == 1, found
    assert found[0]["level"] == "mandatory" if case.stack == "prod" else found[0]["level"] in ("mandatory", "advisory")
    assert case.expect.get(name, "") in found[0]["message"]
    assert found[0]["remediation"]


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in RESOURCE_CASES for n in c.violating],
    ids=lambda v: v if isinstance(v, str) else _id(v),
)
def test_an_unknown_value_is_not_a_violation(case: Case, name: str) -> None:
    # The failing case, but with the values it changed unknown (as in a first preview).
    props = case.compliant
    for path in case.unknown if case.unknown is not None else case.violating[name]:
        props = set_path(props, path, unknown())
    result = evaluate_fixture([Res(case.type, "fixture", props)], case.stack, case.config, case.policy)
    assert violations_of(result, case.policy) == []


@pytest.mark.parametrize("case", STACK_CASES, ids=_id)
def test_compliant_graph_passes(case: StackCase) -> None:
    result = evaluate_fixture(case.compliant, case.stack, case.config, case.policy)
    assert violations_of(result, case.policy) == []


@pytest.mark.parametrize(
    ("case", "name"),
    [(c, n) for c in STACK_CASES for n in c.violating],
    ids=lambda v: v if isinstance(v, str) else _id(v),
)
def test_one_graph_change_gives_exactly_one_violation(case: StackCase, name: str) -> None:
    import copy

    graph = case.violating[name](copy.deepcopy(case.compliant))
    result = evaluate_fixture(graph, case.stack, case.config, case.policy)
    found = violations_of(result, case.policy)
    assert len(found) == 1, found
    assert case.expect.get(name, "") in found[0]["message"]
