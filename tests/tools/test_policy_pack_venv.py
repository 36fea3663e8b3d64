"""The pack as the Pulumi CLI runs it: from its own virtual environment, built from policy/requirements.txt alone.

The CLI starts ``policy/.venv/bin/python -u -m pulumi.policy <engine> policy`` (PulumiPolicy.yaml names the
virtual environment). A module the pack imports that only the project's environment happens to have
(PyYAML arrives there through ``pulumi``; the project's own packages are not there at all) would pass every
other test and fail under the CLI. So this test builds that environment the way ``make policy-venv`` does, in
a temporary directory, and runs a recorded stack through the pack started from it.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import venv

import pytest
import yaml

from tests.conftest import PROJECT_DIR
from tests.policy.harness import REGISTRY
from tools.engine import run_program
from tools.policy_gate import evaluate, load_policy_config, running_pack
from tools.stackconfig import load_stack_config

PACK_DIR = PROJECT_DIR / "policy"


def test_the_pack_declares_its_version_and_virtual_environment() -> None:
    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    major, minor, patch = (int(part) for part in str(manifest["version"]).split("."))
    assert (major, minor, patch) >= (1, 0, 0)
    assert manifest["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_every_requirement_of_the_pack_is_pinned() -> None:
    lines = [line.split("#")[0].strip() for line in (PACK_DIR / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    assert requirements and all("==" in r for r in requirements), requirements
    names = {r.split("==")[0].lower() for r in requirements}
    # What the pack's modules import: the analyzer and YAML for Helm values.
    assert {"pulumi", "pulumi-policy", "pyyaml"} <= names


@pytest.fixture(scope="module")
def pack_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtual environment with policy/requirements.txt installed and nothing else."""
    where = tmp_path_factory.mktemp("policy-venv") / ".venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = where / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"],
        cwd=PACK_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        reason = f"pip could not install policy/requirements.txt (no package index?): {installed.stderr[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return str(python)


def test_the_pack_environment_holds_nothing_of_the_project(pack_python: str) -> None:
    probe = "import importlib.util as u; print([m for m in ('pulumi_aws', 'pydantic', 'components') if u.find_spec(m)])"
    result = subprocess.run([pack_python, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    assert result.stdout.strip() == "[]"


def test_a_stack_runs_through_the_pack_started_from_its_own_environment(pack_python: str) -> None:
    config = load_stack_config(PROJECT_DIR, "prod")
    run = run_program(
        lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"),
        project=config.project,
        stack="prod",
        mode="update",
        config=config.values,
        secret_keys=config.secret_keys,
        project_dir=PROJECT_DIR,
    )
    with running_pack(PACK_DIR, python=pack_python) as pack:
        result = evaluate(pack.client(), run, load_policy_config("prod"))
    # Every rule of the pack answered, and prod passes as it does through the project's environment.
    assert {p["name"] for p in result.policies} == {rule.name for rule in REGISTRY}
    assert result.mandatory == []
