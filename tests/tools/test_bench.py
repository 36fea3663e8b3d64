"""The benchmark's own programs still run (they are code in strings, which lint and types do not see)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_DIR
from tools.bench import GATE_CODE, PROGRAM_ONLY_CODE, STREAM_CODE, _scaled_code


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_growth_program_builds_as_many_networks_as_asked() -> None:
    one, two = int(_run(_scaled_code(1)).strip()), int(_run(_scaled_code(2)).strip())
    assert one > 40 and two - one == one - 2  # the provider and the stack are not repeated


def test_the_program_and_gate_programs_run_prod() -> None:
    assert int(_run(PROGRAM_ONLY_CODE).strip()) > 150
    phases = json.loads(_run(GATE_CODE))
    assert phases["resources"] > 150 and phases["policies"] >= 95


def test_the_streamed_gate_program_reports_its_phases_and_both_processes_memory() -> None:
    phases = json.loads(_run(STREAM_CODE))
    assert set(phases) == {"streamed_program", "after_program", "engine_mib", "pack_mib"}
    assert all(value > 0 for value in phases.values())
