"""Every policy follows the conventions, has its metadata, its tests, its config and its doc row."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pulumi_policy import StackValidationPolicy

from tests.conftest import PROJECT_DIR
from tests.policy.harness import REGISTRY, Case
from tests.policy.test_rules import CASES
from tools.policy_docs import exemptions, render_table
from tools.policy_gate import load_policy_config

from guardrails.base import NAME, VERBS  # isort: skip
from guardrails.exemptions import SCHEMA, parse  # isort: skip

RULES = {rule.name: rule for rule in REGISTRY}


def test_the_pack_has_rules_for_every_service() -> None:
    prefixes = {name.split("-")[0] + "-" + name.split("-")[1] for name in RULES}
    for service in (
        "aws-s3",
        "aws-rds",
        "aws-elasticache",
        "aws-eks",
        "aws-ec2",
        "aws-kms",
        "aws-iam",
        "aws-cloudwatch",
    ):
        assert service in prefixes, f"no {service} rule"
    assert any(p.startswith("kubernetes-") for p in prefixes)


@pytest.mark.parametrize("name", sorted(RULES))
def test_policy_has_name_metadata_and_category(name: str) -> None:
    rule = RULES[name]
    assert NAME.match(name) and any(f"-{verb}-" in name for verb in VERBS)
    assert rule.policy.description and rule.policy.description.endswith(".")
    assert rule.policy.severity is not None
    assert rule.policy.remediation_steps and len(rule.policy.remediation_steps) > 20
    assert rule.category in ("security", "availability", "cost", "advice")
    assert rule.first_preview in ("decides", "needs-values")
    assert rule.resource_types, "the types a rule reads are listed (for the docs)"
    schema = rule.policy.config_schema
    for key, prop in (schema.properties if schema else {}).items():
        assert "default" in prop and "type" in prop, f"config {key} needs a type and a default"


@pytest.mark.parametrize("name", sorted(RULES))
def test_policy_has_a_compliant_fixture_and_a_failing_case(name: str) -> None:
    cases = [c for c in CASES if c.policy == name]
    assert cases, f"{name} has no fixtures in tests/policy/cases_*.py"
    assert any(c.violating for c in cases)
    kinds = {isinstance(c, Case) for c in cases}
    assert kinds == {not isinstance(RULES[name].policy, StackValidationPolicy)}, "fixture kind matches policy kind"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_config_file_names_every_policy_with_an_explicit_level(stack: str) -> None:
    config = load_policy_config(stack)
    assert set(config) == set(RULES), "run `python -m tools.policy_docs --sync`"
    for name, entry in config.items():
        rule = RULES[name]
        assert entry["enforcementLevel"] == rule.level(stack), f"{name} in {stack}"
        schema = rule.policy.config_schema.properties if rule.policy.config_schema else {}
        assert set(entry) - {"enforcementLevel"} <= set(schema), f"{name}: unknown config keys"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_config_file_values_match_each_policys_schema_as_the_cli_checks_them(stack: str) -> None:
    for name, entry in load_policy_config(stack).items():
        schema = RULES[name].policy.config_schema
        properties = schema.properties if schema else {}
        values = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        jsonschema.Draft7Validator({"type": "object", "properties": properties}).validate(values)


def test_every_kubernetes_rule_takes_exemptions_and_no_other_rule_does() -> None:
    for name, rule in RULES.items():
        schema = rule.policy.config_schema
        takes = schema.properties.get("exemptions") if schema else None
        if name.startswith("kubernetes-"):
            assert takes == SCHEMA and rule.config_defaults["exemptions"] == [], name
        else:
            assert takes is None, f"{name} judges no Kubernetes object"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_exemption_in_a_config_file_names_a_namespace_and_its_reason(stack: str) -> None:
    for name, entry in load_policy_config(stack).items():
        for exemption in parse(name, entry.get("exemptions", [])):  # raises, naming the entry, when one is bad
            assert exemption.namespace or (exemption.kind and exemption.name), name
            assert exemption.reason, name


def test_the_docs_list_every_exemption() -> None:
    doc = (PROJECT_DIR / "docs" / "policies.md").read_text()
    granted = exemptions({stack: load_policy_config(stack) for stack in ("dev", "prod")})
    for stack, rule, target, reason in granted:
        assert f"| {stack} | `{rule}` | `{target}` | {reason.replace('|', chr(92) + '|')} |" in doc
    assert ("No exemptions." in doc) == (not granted)


def test_dev_keeps_security_mandatory_and_relaxes_only_availability_and_cost() -> None:
    dev = load_policy_config("dev")
    for name, rule in RULES.items():
        expected = "mandatory" if rule.category == "security" else "advisory"
        if rule.category == "advice":
            assert load_policy_config("prod")[name]["enforcementLevel"] == "advisory"
        assert dev[name]["enforcementLevel"] == expected


def test_rule_table_in_the_docs_matches_the_pack() -> None:
    assert (PROJECT_DIR / "docs" / "policies.md").read_text() == render_table(), "run `python -m tools.policy_docs`"


def test_policy_config_files_are_valid_json_objects() -> None:
    for stack in ("dev", "prod"):
        assert isinstance(json.loads((PROJECT_DIR / "policy" / "config" / f"{stack}.json").read_text()), dict)


def test_is_set_counts_a_value_not_known_yet_as_set_and_empty_values_as_missing() -> None:
    from guardrails.base import is_set  # isort: skip
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, _ListProxy

    class Unknown(dict):  # what the analyzer's property proxy does with a value not known yet
        def get(self, key: object, default: object = None) -> object:
            raise UnknownValueError(UNKNOWN_STRING_VALUE, [str(key)])

    assert is_set(Unknown(), "kmsKeyId")
    assert is_set({"a": {"b": "x"}}, "a", "b")
    assert is_set({"a": _ListProxy(["x"], ["a"])}, "a")
    # The analyzer wraps lists: an empty wrapped list is as missing as an empty one.
    for empty in (None, "", False, [], {}, _ListProxy([], ["a"])):
        assert not is_set({"a": empty}, "a"), empty
    assert not is_set({}, "a") and not is_set({"a": "x"}, "a", "b")
