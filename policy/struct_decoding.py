"""A faster decoding of the analyzer's property Structs, the same result as protobuf's.

pulumi_policy turns every resource's properties into Python values with
``json_format.MessageToDict`` (policy.py: Analyze, AnalyzeStack, the config and the provider), once per
resource per call. That generic printer looks up descriptors for every value; over the platform's
properties (large CRD schemas, dashboards) it was about half of the pack's time. ``struct_to_dict`` walks
the Struct directly and returns what MessageToDict returns for a Struct (tests/policy/test_struct_decoding.py
compares the two on generated Structs, including the NaN and infinity errors); any other message goes to
protobuf's own.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import pulumi_policy.policy
from google.protobuf import json_format, struct_pb2


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return {key: _value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        # As json_format: JSON has no infinity or NaN, and a string would read back as a string_value.
        if math.isinf(number):
            raise ValueError("Fail to serialize Infinity for Value.number_value, which would parse as string_value")
        if math.isnan(number):
            raise ValueError("Fail to serialize NaN for Value.number_value, which would parse as string_value")
        return number
    return None  # null_value, or no kind set


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    """``json_format.MessageToDict(message)`` of a Struct."""
    return {key: _value(item) for key, item in message.fields.items()}


CACHED_STRUCTS = 1024
"""Decoded Structs kept: more than a stack's resources, so that AnalyzeStack, which decodes every resource
once per stack policy, decodes each once."""


class _JsonFormat:
    """The ``json_format`` pulumi_policy.policy sees: Structs decoded here, once per message, everything else
    by protobuf.

    pulumi_policy decodes a resource's properties anew for every policy (Analyze: once per resource policy;
    AnalyzeStack: every resource once per stack policy), from the same request message. The decoded dict is
    only read (deserialize_properties builds new containers from it), so one decoding per message object
    serves them all. The cache holds the message itself, so its id cannot be reused while cached."""

    def __init__(self) -> None:
        self._cache: OrderedDict[int, tuple[struct_pb2.Struct, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (protobuf's name)
        if not isinstance(message, struct_pb2.Struct) or args or kwargs:
            return json_format.MessageToDict(message, *args, **kwargs)
        key = id(message)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] is message:
                self._cache.move_to_end(key)
                return hit[1]
        decoded = struct_to_dict(message)
        with self._lock:
            self._cache[key] = (message, decoded)
            if len(self._cache) > CACHED_STRUCTS:
                self._cache.popitem(last=False)
        return decoded


def install() -> None:
    """Make pulumi_policy decode its Structs here (pinned pulumi-policy: policy.py's module-level import)."""
    setattr(pulumi_policy.policy, "json_format", _JsonFormat())  # noqa: B010 (the module does not export it)
