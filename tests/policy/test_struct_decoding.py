"""policy/struct_decoding.py decodes the analyzer's Structs as protobuf's json_format.MessageToDict does."""

from __future__ import annotations

import math
from typing import Any

import pulumi_policy.policy
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2

import tests.policy.harness  # noqa: F401 (puts the pack's folder on sys.path)

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


@given(st.dictionaries(st.text(max_size=10), values, max_size=8))
def test_a_struct_decodes_as_protobufs_own(document: dict[str, Any]) -> None:
    message = _struct(document)
    assert struct_decoding.struct_to_dict(message) == json_format.MessageToDict(message)


def test_an_unset_value_and_a_null_decode_to_none() -> None:
    message = struct_pb2.Struct()
    message.fields["unset"].Clear()
    message.fields["null"].null_value = struct_pb2.NULL_VALUE
    expected = {"unset": None, "null": None}
    assert struct_decoding.struct_to_dict(message) == json_format.MessageToDict(message) == expected


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_infinity_and_nan_are_refused_as_protobuf_refuses_them(number: float) -> None:
    message = _struct({"nested": {"list": [1, number]}})
    with pytest.raises(ValueError) as ours:
        struct_decoding.struct_to_dict(message)
    with pytest.raises(ValueError) as theirs:
        json_format.MessageToDict(message)
    assert str(ours.value) == str(theirs.value)


def test_each_message_is_decoded_once_and_others_are_left_to_protobuf() -> None:
    shim = struct_decoding._JsonFormat()
    request = analyzer_pb2.AnalyzeRequest(urn="urn:x")
    request.properties.update({"a": {"b": [1, "c"]}})
    first = shim.MessageToDict(request.properties)
    assert shim.MessageToDict(request.properties) is first  # pulumi_policy asks once per policy
    # Another message with the same content is decoded on its own.
    twin = _struct({"a": {"b": [1, "c"]}})
    assert shim.MessageToDict(twin) == first and shim.MessageToDict(twin) is not first
    # Any other message, or any option, goes to protobuf.
    assert shim.MessageToDict(request) == json_format.MessageToDict(request)
    assert shim.MessageToDict(twin, preserving_proto_field_name=True) == json_format.MessageToDict(twin)
    assert shim.Parse is json_format.Parse


def test_the_cache_forgets_the_oldest_beyond_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(struct_decoding, "CACHED_STRUCTS", 2)
    shim = struct_decoding._JsonFormat()
    messages = [_struct({"n": float(i)}) for i in range(3)]
    decoded = [shim.MessageToDict(m) for m in messages]
    assert shim.MessageToDict(messages[2]) is decoded[2]
    assert shim.MessageToDict(messages[0]) is not decoded[0]  # evicted, decoded again
    assert shim.MessageToDict(messages[0]) == decoded[0]


def test_install_is_what_pulumi_policy_decodes_with(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi_policy.policy, "json_format", json_format)
    struct_decoding.install()
    assert isinstance(pulumi_policy.policy.json_format, struct_decoding._JsonFormat)
