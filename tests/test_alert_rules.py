"""The alert and recording rules of monitoring/rules/: promtool accepts them and their unit tests pass, every
alert has a test where it fires and one where it does not, and the labels follow the conventions
Alertmanager's routing and inhibition rely on (components/alerting.py).

promtool comes from the ``prometheus`` Debian package. Without it the tests are skipped locally and fail
under CI (CI=true), so a runner that lost it cannot pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
RULES_DIR = PROJECT_DIR / "monitoring" / "rules"
TESTS_DIR = RULES_DIR / "tests"
RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))
TEST_FILES = sorted(TESTS_DIR.glob("*_test.yaml"))
SEVERITIES = {"critical", "warning"}
OBJECT_LABELS = {"namespace", "service", "pod", "container", "node", "instance", "resource"}
"""Labels that name what an alert is about; Alertmanager groups and inhibits on them."""
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
"""level:metric:operations (Prometheus' naming convention for recording rules)."""
RULE_KEYS = {"alert", "record", "expr", "for", "labels", "annotations"}
"""The fields a PrometheusRule's rule accepts that Prometheus 2.42 knows as well."""
PROMTOOL_MISSING = "promtool is not installed (apt-get install prometheus)"

Document = dict[str, Any]


def load(path: Path) -> Document:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path}: not a YAML mapping"
    return document


def alerts(document: Document) -> list[Document]:
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def records(document: Document) -> list[Document]:
    return [rule for group in document["groups"] for rule in group["rules"] if "record" in rule]


def loaded_rule_files(test_path: Path, document: Document) -> set[Path]:
    """The rule files a promtool test file loads (relative to the test file, as promtool resolves them)."""
    return {(test_path.parent / name).resolve() for name in document.get("rule_files", [])}


def alert_cases(tests: dict[Path, Document], rule_path: Path) -> list[Document]:
    """Every alert_rule_test case of the test files that load ``rule_path``."""
    return [
        case
        for path, document in tests.items()
        if rule_path.resolve() in loaded_rule_files(path, document)
        for test in document.get("tests", [])
        for case in test.get("alert_rule_test", [])
    ]


def coverage_problems(rules: dict[Path, Document], tests: dict[Path, Document]) -> list[str]:
    """What is untested: each alert (per severity) needs a case of a test file loading its rule file that
    expects it to fire with that severity, and each alert name a case expecting nothing (exp_alerts: [])."""
    problems = []
    for rule_path, document in rules.items():
        cases = alert_cases(tests, rule_path)
        for rule in alerts(document):
            name = rule["alert"]
            severity = rule.get("labels", {}).get("severity")
            own = [case for case in cases if case.get("alertname") == name]
            fires = [
                expected
                for case in own
                for expected in case.get("exp_alerts") or []
                if expected.get("exp_labels", {}).get("severity") == severity
            ]
            if not fires:
                problems.append(f"{rule_path.name}: {name} ({severity}) has no test case where it fires")
            if not any(case.get("exp_alerts") == [] for case in own):
                problems.append(f"{rule_path.name}: {name} has no test case where it does not fire")
    return problems


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PROMTOOL_MISSING}: CI must run the rule tests")
        pytest.skip(PROMTOOL_MISSING)
    return path


def test_each_rule_file_has_its_test_file() -> None:
    assert RULE_FILES, f"no rule files in {RULES_DIR}"
    for rule_path in RULE_FILES:
        test_path = TESTS_DIR / f"{rule_path.stem}_test.yaml"
        assert test_path.is_file(), f"{rule_path.name} has no unit tests ({test_path.relative_to(PROJECT_DIR)})"
        assert loaded_rule_files(test_path, load(test_path)) == {rule_path.resolve()}, (
            f"{test_path.name} must load exactly ../{rule_path.name}"
        )
    for test_path in TEST_FILES:
        assert (RULES_DIR / test_path.name.replace("_test.yaml", ".yaml")).is_file(), f"{test_path.name}: no rule file"


@pytest.mark.parametrize("rule_path", RULE_FILES, ids=lambda path: path.name)
def test_rule_file_is_a_prometheus_rule_spec(rule_path: Path) -> None:
    """The program makes each file one PrometheusRule whose spec is the file's content: nothing else."""
    document = load(rule_path)
    assert set(document) == {"groups"}, f"{rule_path.name}: top-level keys {sorted(document)}"
    for group in document["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, f"{rule_path.name}: {rule} has keys outside {sorted(RULE_KEYS)}"


@pytest.mark.parametrize("rule_path", RULE_FILES, ids=lambda path: path.name)
def test_promtool_check_rules(promtool: str, rule_path: Path) -> None:
    result = run(promtool, "check", "rules", str(rule_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_path", TEST_FILES, ids=lambda path: path.name)
def test_promtool_test_rules(promtool: str, test_path: Path) -> None:
    result = run(promtool, "test", "rules", str(test_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    rules = {path: load(path) for path in RULE_FILES}
    tests = {path: load(path) for path in TEST_FILES}
    assert coverage_problems(rules, tests) == []


def test_coverage_check_catches_an_untested_alert(tmp_path: Path) -> None:
    """The check above is not vacuous: an alert with only a firing case, and one with no case, are reported."""
    rule_path = tmp_path / "extra.yaml"
    rules = {
        rule_path: {
            "groups": [
                {
                    "name": "extra",
                    "rules": [
                        {"alert": "OnlyFires", "expr": "vector(1)", "labels": {"severity": "warning"}},
                        {"alert": "Untested", "expr": "vector(1)", "labels": {"severity": "critical"}},
                    ],
                }
            ]
        }
    }
    fires = {"exp_labels": {"severity": "warning"}}
    tests = {
        tmp_path / "tests" / "extra_test.yaml": {
            "rule_files": ["../extra.yaml"],
            "tests": [{"alert_rule_test": [{"alertname": "OnlyFires", "eval_time": "1m", "exp_alerts": [fires]}]}],
        }
    }
    assert coverage_problems(rules, tests) == [
        "extra.yaml: OnlyFires has no test case where it does not fire",
        "extra.yaml: Untested (critical) has no test case where it fires",
        "extra.yaml: Untested has no test case where it does not fire",
    ]


@pytest.mark.parametrize("rule_path", RULE_FILES, ids=lambda path: path.name)
def test_alerts_have_a_severity_and_templated_annotations(rule_path: Path) -> None:
    for rule in alerts(load(rule_path)):
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity must be one of {SEVERITIES}"
        annotations = rule.get("annotations", {})
        for key in ("summary", "description"):
            assert annotations.get(key, "").strip(), f"{name}: no {key} annotation"
        assert "$labels" in annotations["description"] or "$value" in annotations["description"], (
            f"{name}: the description names neither the object ($labels) nor the value ($value)"
        )


def test_alerts_sharing_a_name_are_one_warning_and_one_critical() -> None:
    """Alertmanager silences a warning while the critical of the same name and object fires: a name has
    one rule, or exactly one warning and one critical."""
    severities: dict[str, list[str]] = defaultdict(list)
    for rule_path in RULE_FILES:
        for rule in alerts(load(rule_path)):
            severities[rule["alert"]].append(rule["labels"]["severity"])
    for name, found in severities.items():
        assert len(found) == 1 or sorted(found) == ["critical", "warning"], f"{name}: severities {found}"


@pytest.mark.parametrize("test_path", TEST_FILES, ids=lambda path: path.name)
def test_firing_alerts_name_their_object(test_path: Path) -> None:
    """Each expected alert carries a label that Alertmanager can group and inhibit on."""
    for test in load(test_path).get("tests", []):
        for case in test.get("alert_rule_test", []):
            for expected in case.get("exp_alerts") or []:
                labels = set(expected.get("exp_labels", {}))
                assert labels & OBJECT_LABELS, f"{test_path.name}: {case['alertname']} has none of {OBJECT_LABELS}"


@pytest.mark.parametrize("rule_path", RULE_FILES, ids=lambda path: path.name)
def test_recording_rules_are_named_and_tested(rule_path: Path) -> None:
    test_path = TESTS_DIR / f"{rule_path.stem}_test.yaml"
    tested = [
        case["expr"]
        for test in (load(test_path).get("tests", []) if test_path.is_file() else [])
        for case in test.get("promql_expr_test", [])
    ]
    for rule in records(load(rule_path)):
        name = rule["record"]
        assert RECORD_NAME.match(name), f"{name}: not level:metric:operations"
        assert any(re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) for expr in tested), (
            f"{name}: no promql_expr_test in {test_path.name}"
        )


WRONG_NAMESPACE = "not-the-one-the-rule-sets"


def copy_of(test_path: Path, directory: Path, *, wrong_label: bool) -> Path:
    """``test_path`` in ``directory`` with absolute rule file paths; with ``wrong_label``, the first expected
    firing alert expects a namespace the rule does not set."""
    document = load(test_path)
    document["rule_files"] = [str((test_path.parent / name).resolve()) for name in document["rule_files"]]
    if wrong_label:
        expected = next(
            alert
            for test in document["tests"]
            for case in test.get("alert_rule_test", [])
            for alert in case.get("exp_alerts") or []
        )
        expected["exp_labels"]["namespace"] = WRONG_NAMESPACE
    copy = directory / test_path.name
    copy.write_text(yaml.safe_dump(document, sort_keys=False))
    return copy


@pytest.mark.parametrize("test_path", TEST_FILES, ids=lambda path: path.name)
def test_promtool_fails_on_a_wrong_expectation(promtool: str, test_path: Path, tmp_path: Path) -> None:
    """The harness can fail: the copy passes as it is (so copying breaks nothing) and fails, on that label,
    with one expected label changed."""
    result = run(promtool, "test", "rules", str(copy_of(test_path, tmp_path, wrong_label=False)))
    assert result.returncode == 0, result.stdout + result.stderr
    result = run(promtool, "test", "rules", str(copy_of(test_path, tmp_path, wrong_label=True)))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "FAILED" in output
    assert WRONG_NAMESPACE in output


def test_promtool_check_fails_on_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    rule = {"alert": "Broken", "expr": "sum by (namespace (up)", "labels": {"severity": "warning"}}
    broken.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [rule]}]}))
    result = run(promtool, "check", "rules", str(broken))
    assert result.returncode != 0, result.stdout + result.stderr
