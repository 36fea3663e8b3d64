"""Whatever config it is given, the loader returns Settings or a ConfigError.

Any other exception would reach users as a Python traceback.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import AREAS, ConfigError, Settings, load_settings
from tests.test_config import raw_stack

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

# Values that look almost right are more likely to reach deep validators.
plausible = st.sampled_from(
    [
        "10.0.0.0/16",
        "10.0.0.0/33",
        "300.1.1.1/8",
        "ca-central-1a",
        "us-east-1",
        "ca-wset-1",
        "8.8.0.0/16",
        "100.64.0.0/16",
        "m7g.huge",
        "m7i.large",
        "AL2023_x86_64_STANDARD",
        "kube-system",
        "monitoring",
        "one_per_az",
        "SPOT",
        -1,
        0,
        1,
        35,
        36,
        2**40,
        "",
        "7",
    ]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            paths += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            paths += _paths(v, (*prefix, i))
    return paths


@st.composite
def mutated_config(draw: st.DrawFn) -> dict[str, Any]:
    raw = copy.deepcopy(raw_stack(draw(st.sampled_from(["dev", "prod"]))))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(raw) if p]
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        parent: Any = raw
        for part in path[:-1]:
            parent = parent[part]
        if action == "replace":
            parent[path[-1]] = draw(json_values | plausible)
        elif action == "delete" and isinstance(parent, (dict, list)):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(json_values | plausible)
    return raw


def _check(raw: dict[str, Any], secret_keys: list[str]) -> None:
    try:
        result = load_settings(raw, secret_keys, "platform", "dev")
    except ConfigError as err:
        assert err.problems, "a ConfigError must name at least one problem"
        for problem in err.problems:
            assert problem.key and problem.message
    else:
        assert isinstance(result, Settings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_config(), st.lists(st.sampled_from(["platform:monitoringSlackWebhookUrl", "platform:network"])))
def test_mutated_stack_config_never_raises_anything_else(raw: dict[str, Any], secret_keys: list[str]) -> None:
    _check(raw, secret_keys)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f"platform:{a}" for a in AREAS] + ["aws:region", "platform:x", "other:key"]),
        json_values | json_values.map(json.dumps) | st.text(max_size=30),
        max_size=8,
    )
)
def test_random_config_never_raises_anything_else(raw: dict[str, Any]) -> None:
    _check(raw, [])
