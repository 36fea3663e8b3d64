"""The GitHub workflows: actionlint and zizmor report nothing, every action is pinned by commit, and each
job gets only the permissions its steps use (docs/delivery.md)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
# The tools come with the test environment (requirements-delivery.txt), beside this interpreter.
TOOL_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
CONFIGURE_AWS = "aws-actions/configure-aws-credentials@"


def tool(name: str) -> str:
    """The tool's path; missing, a failure under CI and a skip elsewhere."""
    found = shutil.which(name, path=TOOL_PATH)
    if found is None:
        reason = f"{name} is not installed: pip install -r requirements-delivery.txt"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=PROJECT_DIR,
        env={**os.environ, "PATH": TOOL_PATH, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def workflow(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def jobs(path: Path) -> dict[str, dict[str, Any]]:
    return dict(workflow(path)["jobs"])


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]


def test_there_are_the_three_workflows() -> None:
    assert [p.name for p in WORKFLOW_FILES] == ["deploy.yml", "drift.yml", "pull-request.yml"]


def test_actionlint_reports_nothing() -> None:
    actionlint = tool("actionlint")
    tool("shellcheck")  # actionlint checks every run: script with it when it is on PATH
    result = run(actionlint, "-no-color", *[str(p) for p in WORKFLOW_FILES])
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_zizmor_reports_nothing_even_pedantic() -> None:
    zizmor = tool("zizmor")
    result = run(zizmor, "--offline", "--persona", "pedantic", "--format", "json", str(WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version_named(path: Path) -> None:
    uses = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert uses
    for line in uses:
        reference, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(reference.strip()), line
        assert re.match(r"^\s*v\d", comment), f"{line}: name the version the commit is (# vX.Y.Z)"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_permission_at_the_workflow_level_and_each_job_names_its_own(path: Path) -> None:
    assert workflow(path)["permissions"] == {}
    for name, job in jobs(path).items():
        assert "permissions" in job, f"{path.name}: job {name} names no permissions"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_only_jobs_that_assume_an_aws_role_may_ask_for_an_oidc_token(path: Path) -> None:
    for name, job in jobs(path).items():
        wants_token = job["permissions"].get("id-token") == "write"
        assert wants_token == bool(steps_using(job, CONFIGURE_AWS)), f"{path.name}: job {name}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials(path: Path) -> None:
    for job in jobs(path).values():
        for step in steps_using(job, "actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_write_permissions_only_where_the_comment_and_the_issue_are_written_and_no_code_runs_there() -> None:
    writers = {
        (path.name, name): job
        for path in WORKFLOW_FILES
        for name, job in jobs(path).items()
        if any(level == "write" and scope != "id-token" for scope, level in job["permissions"].items())
    }
    assert set(writers) == {("pull-request.yml", "post-comment"), ("drift.yml", "report")}
    for job in writers.values():
        assert not steps_using(job, "actions/checkout@")
        assert len(job["permissions"]) == 1


def test_a_forks_pull_request_gets_no_aws_credentials_and_posts_no_comment() -> None:
    document = workflow(WORKFLOWS / "pull-request.yml")
    # YAML reads the key `on` as True.
    assert set(document[True]) == {"pull_request"}
    same_repository = "github.event.pull_request.head.repo.full_name == github.repository"
    for name in ("pulumi-preview", "post-comment"):
        assert same_repository in document["jobs"][name]["if"]


def test_the_real_previews_and_updates_run_the_pack_with_their_stacks_config() -> None:
    for path in WORKFLOW_FILES:
        for job in jobs(path).values():
            for step in steps_using(job, "pulumi/actions@"):
                stack = step["with"]["stack-name"]
                assert step["with"]["policyPacks"] == "policy"
                assert step["with"]["policyPackConfigs"] == f"policy/config/{stack}.json"


def test_deploys_run_one_at_a_time_per_stack_and_prod_waits_for_dev_and_its_approval() -> None:
    deploy = jobs(WORKFLOWS / "deploy.yml")
    for stack in ("dev", "prod"):
        assert deploy[stack]["environment"] == stack
        assert deploy[stack]["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
    assert deploy["prod"]["needs"] == ["dev"]


def test_pull_request_code_and_deploys_run_on_different_runner_groups() -> None:
    runners = {
        (path.name, name): job["runs-on"]
        for path in WORKFLOW_FILES
        for name, job in jobs(path).items()
        if steps_using(job, CONFIGURE_AWS)
    }
    assert runners == {
        ("pull-request.yml", "pulumi-preview"): "${{ vars.PLATFORM_PREVIEW_RUNNER || 'ubuntu-24.04' }}",
        ("drift.yml", "detect"): "${{ vars.PLATFORM_PREVIEW_RUNNER || 'ubuntu-24.04' }}",
        ("deploy.yml", "dev"): "${{ vars.PLATFORM_DEPLOY_RUNNER || 'ubuntu-24.04' }}",
        ("deploy.yml", "prod"): "${{ vars.PLATFORM_DEPLOY_RUNNER || 'ubuntu-24.04' }}",
    }
    assert not any("PLATFORM_RUNNER" in path.read_text(encoding="utf-8") for path in WORKFLOW_FILES)


def test_each_deploy_takes_its_environments_own_role_for_up_to_four_hours_and_previews_one() -> None:
    """Deploys: their environment's deploy role; pull requests: the preview role; the drift check: the drift
    role (which reads the platform's secret values, so never a pull request's)."""
    durations = {}
    for path in WORKFLOW_FILES:
        for name, job in jobs(path).items():
            for step in steps_using(job, CONFIGURE_AWS):
                durations[(path.name, name)] = step["with"]["role-duration-seconds"]
                if path.name == "deploy.yml":
                    # An environment variable: the dev and prod environments each define their own.
                    assert job["environment"] == name
                    assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
                elif path.name == "drift.yml":
                    assert job["environment"] == "drift"
                    assert step["with"]["role-to-assume"] == "${{ vars.AWS_DRIFT_ROLE_ARN }}"
                else:
                    assert step["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert durations == {
        ("pull-request.yml", "pulumi-preview"): 3600,
        ("drift.yml", "detect"): 3600,
        ("deploy.yml", "dev"): 14400,
        ("deploy.yml", "prod"): 14400,
    }


def test_every_pulumi_step_pins_the_cli_of_the_sdk_and_prints_no_colours() -> None:
    (sdk,) = re.findall(
        r"^pulumi==(\d+\.\d+\.\d+)$", (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE
    )
    found = 0
    for path in WORKFLOW_FILES:
        for job in jobs(path).values():
            for step in steps_using(job, "pulumi/actions@"):
                found += 1
                assert step["with"]["pulumi-version"] == sdk
                assert step["with"]["color"] == "never"
    assert found == 4  # the previews of pull requests and drift, the two deploys


def test_the_real_previews_outcome_reaches_the_comment_even_when_it_failed() -> None:
    preview = jobs(WORKFLOWS / "pull-request.yml")["pulumi-preview"]
    (keep,) = [s for s in preview["steps"] if s.get("name") == "Keep the preview for the comment"]
    assert keep["if"] == "always()"
    assert keep["env"]["OUTCOME"] == "${{ steps.preview.outcome }}"
    assert '> "pulumi/$STACK.status"' in keep["run"]
    render = jobs(WORKFLOWS / "pull-request.yml")["render-comment"]
    (step,) = [s for s in render["steps"] if s.get("name") == "Render"]
    assert "--pulumi pulumi --pulumi-job" in step["run"]
    assert step["env"]["PULUMI_JOB"] == "${{ needs.pulumi-preview.result }}"


def test_a_base_with_a_mandatory_violation_is_still_compared() -> None:
    offline = jobs(WORKFLOWS / "pull-request.yml")["offline-preview"]
    (base,) = [s for s in offline["steps"] if s.get("name") == "Preview the base"]
    assert 'if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then rm -f' in base["run"]
    assert "|| rm -f" not in base["run"]


def test_the_drift_check_records_every_failure_and_files_no_empty_output() -> None:
    detect = jobs(WORKFLOWS / "drift.yml")["detect"]
    (record,) = [s for s in detect["steps"] if s.get("name") == "Record the outcome"]
    assert record["if"] == "always()"
    script = record["run"]
    assert "printed nothing" in script
    assert "access reason" in script
    # The code block only around an output that has something in it.
    assert 'if [ -n "${OUTPUT//[[:space:]]/}" ]; then echo; echo "~~~"' in script
