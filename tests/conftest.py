"""Fixtures: the recorded graph of a whole stack, and one component built alone.

Stack graphs come from the offline preview itself (``python -m tools.preview
--json`` in a fresh process per stack and mode), so tests assert on exactly
what users see. Single components run in-process under the same engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from tools.engine import Run, run_program  # noqa: E402
from tools.stackconfig import load_stack_config  # noqa: E402

STACKS = ("dev", "prod")
MODES = ("preview", "update")


class Graph:
    """The --json document of a stack, with lookups tests need."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.stack: str = document["stack"]
        self.mode: str = document["mode"]
        self.resources: list[dict[str, Any]] = document["resources"]
        self.outputs: dict[str, Any] = document["outputs"]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]

    def named(self, name: str, type_: str | None = None) -> dict[str, Any]:
        found = [r for r in self.resources if r["name"] == name and (type_ is None or r["type"] == type_)]
        assert len(found) == 1, f"expected one resource named {name!r}, found {len(found)}"
        return found[0]

    def by_id(self, type_: str, id_: str) -> dict[str, Any]:
        found = [r for r in self.of_type(type_) if r["outputs"].get("id") == id_]
        assert len(found) == 1, f"expected one {type_} with id {id_!r}, found {len(found)}"
        return found[0]


def run_preview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.preview", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


_graphs: dict[tuple[str, str], Graph] = {}


def stack_graph(stack: str, mode: str) -> Graph:
    """The recorded graph of a committed stack, computed once per test session."""
    key = (stack, mode)
    if key not in _graphs:
        result = run_preview("--stack", stack, "--mode", mode, "--json")
        assert result.returncode == 0, result.stderr
        _graphs[key] = Graph(json.loads(result.stdout))
    return _graphs[key]


@pytest.fixture(params=[(s, m) for s in STACKS for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}")
def any_graph(request: pytest.FixtureRequest) -> Graph:
    return stack_graph(*request.param)


@pytest.fixture(params=STACKS)
def update_graph(request: pytest.FixtureRequest) -> Graph:
    """A stack in update mode, where ids and ARNs are filled in."""
    return stack_graph(request.param, "update")


def stack_config(stack: str) -> dict[str, str]:
    return load_stack_config(PROJECT_DIR, stack).values


@pytest.fixture
def build() -> Iterator[Callable[..., Run]]:
    """Run a program (usually one component) alone under the offline engine."""

    def _build(
        program: Callable[[], Any],
        *,
        mode: str = "update",
        stack: str = "test",
        config: dict[str, str] | None = None,
        secret_keys: list[str] | None = None,
    ) -> Run:
        return run_program(
            program,
            project="platform",
            stack=stack,
            mode=mode,
            config=config if config is not None else {"aws:region": "ca-central-1"},
            secret_keys=secret_keys,
            project_dir=PROJECT_DIR,
        )

    yield _build
