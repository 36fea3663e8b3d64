"""Run guardrails over fixtures through the pack's own analyzer, in-process.

A ``Case`` starts from one compliant resource and changes one property per
failing case; a ``StackCase`` does the same with a small graph, and its
``unknown`` cases make one value of one resource unknown (as in a first
preview) while another resource violates: the violation must still be
reported. Each case module under tests/policy (``cases_<service>.py``) exports
``CASES``; test_rules.py runs them all and test_meta.py checks every policy has
them.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime.rpc import UNKNOWN, _special_asset_sig, _special_sig_key
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from tests.conftest import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "policy"))

import struct_decoding
from guardrails import ALL_POLICIES, REGISTRY

from tools.engine import Resource, Run
from tools.policy_gate import PolicyClient, PolicyResult, evaluate, load_policy_config

# As policy/__main__.py does: the rules run the way the pack ships.
struct_decoding.install()

DELETE = object()
"""An override value that removes the property."""


@dataclass
class Case:
    policy: str
    type: str
    compliant: dict[str, Any]
    violating: dict[str, dict[str, Any]]
    """Case name -> {dotted.path: new value (or DELETE)}; each must give exactly one violation."""
    expect: dict[str, str] = field(default_factory=dict)
    """Case name -> text the violation message must contain."""
    stack: str = "prod"
    config: dict[str, Any] = field(default_factory=dict)
    """Policy config for this policy (over the stack's config file)."""
    unknown: list[str] | None = None
    """Paths that, unknown during preview, must not give a violation (default: the paths changed above)."""


@dataclass
class Res:
    """A resource of a stack fixture."""

    type: str
    name: str
    props: dict[str, Any]
    parent: str | None = None
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    protect: bool = False

    @property
    def urn(self) -> str:
        return f"urn:pulumi:test::platform::{self.type}::{self.name}"


Change = Callable[[list[Res]], list[Res]]


@dataclass
class StackCase:
    policy: str
    compliant: list[Res]
    violating: dict[str, Change]
    """Case name -> a change to the compliant graph; each must give exactly one violation."""
    expect: dict[str, str] = field(default_factory=dict)
    """Case name (of violating and unknown) -> text the violation message must contain."""
    stack: str = "prod"
    config: dict[str, Any] = field(default_factory=dict)
    unknown: dict[str, Change] = field(default_factory=dict)
    """Case name -> a change that makes a value the policy reads on one resource unknown and makes another
    resource violate: exactly that one violation, and the policy's "during preview" notice."""


def chain(*changes: Change) -> Change:
    """Several changes to a graph, applied in order."""

    def change(graph: list[Res]) -> list[Res]:
        for one in changes:
            graph = one(graph)
        return graph

    return change


def string_asset(text: str) -> dict[str, Any]:
    """An inline asset (pulumi.StringAsset) as the wire carries it."""
    return {_special_sig_key: _special_asset_sig, "text": text}


def file_asset(path: str) -> dict[str, Any]:
    """A file asset (pulumi.FileAsset) as the wire carries it."""
    return {_special_sig_key: _special_asset_sig, "path": path}


def set_path(props: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(props)
    node: Any = result
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return result


def _client() -> PolicyClient:
    servicer = _PolicyAnalyzerServicer(
        "platform-guardrails",
        "0.0.1",
        list(ALL_POLICIES),
        EnforcementLevel.MANDATORY,
        {r.name: {"enforcementLevel": EnforcementLevel.MANDATORY, **r.config_defaults} for r in REGISTRY},
    )
    return PolicyClient(servicer, in_process=True)


def _resource(res: Res) -> Resource:
    wire = json.loads(json.dumps(res.props))
    return Resource(
        urn=res.urn,
        type=res.type,
        name=res.name,
        parent=res.parent,
        custom=True,
        inputs=res.props,
        outputs=res.props,
        dependencies=sorted({u for urns in res.property_dependencies.values() for u in urns}),
        property_dependencies=res.property_dependencies,
        protect=res.protect,
        raw_inputs=wire,
        raw_outputs=wire,
    )


def evaluate_fixture(resources: list[Res], stack: str, config: dict[str, Any], policy: str) -> PolicyResult:
    user_config = load_policy_config(stack)
    if config:
        user_config = {**user_config, policy: {**user_config.get(policy, {}), **config}}
    run = Run(
        project="platform",
        stack=stack,
        mode="update",
        resources=[_resource(r) for r in resources],
        outputs={},
        secret_outputs=[],
    )
    return evaluate(_client(), run, user_config)


def violations_of(result: PolicyResult, policy: str) -> list[dict[str, Any]]:
    return [v for v in result.violations if v["policy"] == policy]


def unknown(value: Any = None) -> str:
    """The wire's marker for a value unknown during preview."""
    return UNKNOWN
