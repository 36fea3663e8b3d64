"""policy/struct_decoding.py: the analyzer's Structs decoded as protobuf's json_format.MessageToDict decodes
them, once per message and call, in the analyzer the pack ships with (tests/policy/harness.py installs it)."""

from __future__ import annotations

import importlib.metadata
import math
from typing import Any

import pulumi_policy.policy
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer

import tests.policy.harness  # noqa: F401 (puts the pack's folder on sys.path, installs the decoding)

import struct_decoding  # isort: skip

# JSON-like values as Structs carry them: numbers are doubles, keys are strings.
scalars = st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40,
)


def _struct(document: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(document)
    return message


def _same(ours: Any, theirs: Any) -> bool:
    """Equal, with the same types and key order: 1 and 1.0, or -0.0 and 0.0, are not the same here."""
    return repr(ours) == repr(theirs)


@given(st.dictionaries(st.text(max_size=10), values, max_size=8))
def test_a_struct_decodes_as_protobufs_own(document: dict[str, Any]) -> None:
    message = _struct(document)
    assert _same(struct_decoding.struct_to_dict(message), json_format.MessageToDict(message))


def test_numbers_unset_values_nulls_and_empty_containers_decode_as_protobufs_own() -> None:
    message = _struct({"int": 1, "negzero": -0.0, "big": 2**53 + 1, "tiny": 5e-324, "list": [], "map": {}, "é": "ü"})
    message.fields["unset"].Clear()
    message.fields["null"].null_value = struct_pb2.NULL_VALUE
    ours, theirs = struct_decoding.struct_to_dict(message), json_format.MessageToDict(message)
    assert _same(ours, theirs)
    assert ours["int"] == 1.0 and isinstance(ours["int"], float)
    assert ours["unset"] is None and ours["null"] is None


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_infinity_and_nan_are_refused_as_protobuf_refuses_them(number: float) -> None:
    message = _struct({"nested": {"list": [1, number]}})
    with pytest.raises(ValueError) as ours:
        struct_decoding.struct_to_dict(message)
    with pytest.raises(ValueError) as theirs:
        json_format.MessageToDict(message)
    assert str(ours.value) == str(theirs.value)


# --- in the analyzer ---------------------------------------------------------------------------------

RESOURCES = 600  # with their providers' properties, more Structs than any fixed-size cache of 1,024 would hold
POLICIES = 3


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[struct_pb2.Struct]:
    """Every Struct struct_decoding decodes, in order."""
    seen: list[struct_pb2.Struct] = []
    decode = struct_decoding.struct_to_dict

    def counting(message: struct_pb2.Struct) -> dict[str, Any]:
        seen.append(message)
        return decode(message)

    monkeypatch.setattr(struct_decoding, "struct_to_dict", counting)
    return seen


def _servicer(policies: list[Any]) -> _PolicyAnalyzerServicer:
    levels = {p.name: {"enforcementLevel": EnforcementLevel.MANDATORY} for p in policies}
    return _PolicyAnalyzerServicer("test-pack", "0.0.1", policies, EnforcementLevel.MANDATORY, levels)


def _resource_policies(seen: list[Any]) -> list[ResourceValidationPolicy]:
    def validate(args: Any, report: Any) -> None:
        seen.append(args.props["spec"]["replicas"])
        if args.props["spec"]["replicas"] < 2:
            report("one replica")

    return [ResourceValidationPolicy(f"resource-{i}", "replicas", validate) for i in range(POLICIES)]


def _stack_policies(seen: list[Any]) -> list[StackValidationPolicy]:
    def validate(args: Any, report: Any) -> None:
        seen.append(sum(r.props["spec"]["replicas"] for r in args.resources))

    return [StackValidationPolicy(f"stack-{i}", "replicas", validate) for i in range(POLICIES)]


def _analyzer_resource(i: int, message: Any) -> None:
    message.type, message.urn, message.name = "k8s:Deployment", f"urn:d{i}", f"d{i}"
    message.properties.update({"spec": {"replicas": i % 3, "template": {"labels": {"app": f"d{i}"}}}})
    message.provider.type, message.provider.urn, message.provider.name = "pulumi:providers:k8s", "urn:p", "p"
    message.provider.properties.update({"kubeconfig": f"k{i}"})


def test_analyze_decodes_a_resources_structs_once_for_all_its_policies(decodes: list[struct_pb2.Struct]) -> None:
    seen: list[Any] = []
    request = analyzer_pb2.AnalyzeRequest()
    _analyzer_resource(1, request)
    response = _servicer(_resource_policies(seen)).Analyze(request, None)

    assert seen == [1] * POLICIES
    assert len(response.diagnostics) == POLICIES  # every policy saw the resource and reported
    assert sorted(map(id, decodes)) == sorted({id(request.properties), id(request.provider.properties)})


def test_analyze_stack_decodes_each_struct_once_however_many_resources_and_policies(
    decodes: list[struct_pb2.Struct],
) -> None:
    seen: list[Any] = []
    request = analyzer_pb2.AnalyzeStackRequest()
    for i in range(RESOURCES):
        _analyzer_resource(i, request.resources.add())
    _servicer(_stack_policies(seen)).AnalyzeStack(request, None)

    assert seen == [sum(i % 3 for i in range(RESOURCES))] * POLICIES
    assert len(decodes) == 2 * RESOURCES  # each resource's properties and its provider's, once
    # Nothing a policy or pulumi_policy did changed what the next policy was given.
    for message in request.resources:
        assert json_format.MessageToDict(message.properties) == struct_decoding.struct_to_dict(message.properties)


def test_outside_a_call_nothing_is_kept(decodes: list[struct_pb2.Struct]) -> None:
    message = _struct({"a": 1})
    shim = pulumi_policy.policy.json_format
    assert isinstance(shim, struct_decoding._JsonFormat)
    assert shim.MessageToDict(message) == {"a": 1.0}
    assert decodes == []  # protobuf's own, uncached (the config is decoded so, once)
    assert shim.MessageToDict(analyzer_pb2.AnalyzeRequest(urn="x")) == {"urn": "x"}


def test_another_pulumi_policy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi_policy.policy, "json_format", json_format)  # as if not installed yet
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.22.0")
    with pytest.raises(struct_decoding.IncompatiblePulumiPolicyError, match=r"checked against pulumi-policy 1\.21\.0"):
        struct_decoding.install()
