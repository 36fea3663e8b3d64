"""Decode each request's property Structs once, not once per policy, with the same result as protobuf's.

pulumi_policy (1.21.0) turns a resource's properties into Python values with
``json_format.MessageToDict`` anew for every policy: in Analyze once per resource policy, in AnalyzeStack
every resource (its properties and its provider's) once per stack policy. That generic printer looks up
descriptors for every value; over the platform's properties (large CRD schemas, dashboards) it was about
half of the pack's time (docs/performance.md).

``install`` makes pulumi_policy decode a Struct once per request: within one Analyze, AnalyzeStack or
Remediate call, the same message object gets the same decoded dict, which ``struct_to_dict`` builds with a
walk of the Struct (protobuf's own result, compared by tests/policy/test_struct_decoding.py; only nesting
deeper than protobuf's recursion allows decodes here where it would fail there). Sharing the dict is safe
because pulumi_policy only reads it: ``deserialize_properties`` builds new containers from it before any
policy sees them. The cache lives for one call on its own thread, so nothing is kept after it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import threading
from collections.abc import Callable
from typing import Any

import pulumi_policy.policy
from google.protobuf import json_format, struct_pb2

VERIFIED_WITH = "1.21.0"
"""The pulumi-policy whose use of json_format this was checked against (policy/requirements.txt pins it)."""
CACHED_CALLS = ("Analyze", "AnalyzeStack", "Remediate")


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


_call = threading.local()
"""``cache``: id(message) -> (message, decoded) for the call running on this thread, else absent or None."""


class _JsonFormat:
    """The ``json_format`` pulumi_policy.policy sees: a Struct decoded here, once per call, everything else (and
    a Struct outside the cached calls, such as the config) by protobuf."""

    def __getattr__(self, name: str) -> Any:
        return getattr(json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (protobuf's name)
        cache: dict[int, tuple[Any, dict[str, Any]]] | None = getattr(_call, "cache", None)
        if cache is None or args or kwargs or not isinstance(message, struct_pb2.Struct):
            return json_format.MessageToDict(message, *args, **kwargs)
        # The entry holds the message, so its id is not reused by another message while cached.
        hit = cache.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        decoded = struct_to_dict(message)
        cache[id(message)] = (message, decoded)
        return decoded


def _one_decoding_per_message(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: Any) -> Any:
        _call.cache = {}
        try:
            return method(self, request, context)
        finally:
            _call.cache = None

    return call


class IncompatiblePulumiPolicyError(RuntimeError):
    """pulumi_policy is not the version this was checked against, or no longer decodes through json_format."""


def install() -> None:
    """Make pulumi_policy decode each Struct once per call; refuses to run against another pulumi-policy.
    Installing twice is installing once."""
    if isinstance(getattr(pulumi_policy.policy, "json_format", None), _JsonFormat):
        return
    version = importlib.metadata.version("pulumi_policy")
    servicer = pulumi_policy.policy._PolicyAnalyzerServicer
    if (
        version != VERIFIED_WITH
        or getattr(pulumi_policy.policy, "json_format", None) is not json_format
        or not all(callable(getattr(servicer, name, None)) for name in CACHED_CALLS)
    ):
        raise IncompatiblePulumiPolicyError(
            f"policy/struct_decoding.py was checked against pulumi-policy {VERIFIED_WITH}, found {version}: check "
            "that its policy.py still decodes properties with json_format.MessageToDict and never changes the "
            "decoded dict, then update VERIFIED_WITH"
        )
    setattr(pulumi_policy.policy, "json_format", _JsonFormat())  # noqa: B010 (the module does not export it)
    for name in CACHED_CALLS:
        setattr(servicer, name, _one_decoding_per_message(getattr(servicer, name)))
