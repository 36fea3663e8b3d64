"""The pull-request comment from two real offline previews of dev, and `--estimate` on both stacks.

The head is dev as committed; the base is dev with the general node group at one t4g.medium instead of two
t4g.large (a stack file written from Pulumi.dev.yaml), so the pull request raises the cluster's cost.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR
from tools.estimate import PRICES_DIR
from tools.pr_comment import CHART_TYPE, CLUSTER_TYPE, MARKER, SECTIONS, main, offline_changes, render_comment

TABLE = json.loads((PRICES_DIR / "ca-central-1.json").read_text(encoding="utf-8"))


def _start(*args: str, stdout: Path) -> subprocess.Popen[bytes]:
    with stdout.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tools.preview", *args], cwd=PROJECT_DIR, stdout=out, stderr=subprocess.PIPE
        )


def _finish(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()


def _make_previews(root: Path) -> None:
    """base/dev.json and head/dev.json (--json --estimate), dev.txt (--compare base) and prod.txt (--estimate)."""
    base_stack_file = root / "Pulumi.dev-base.yaml"
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    changed = text.replace("instanceTypes: [t4g.large, t4g.medium]", "instanceTypes: [t4g.medium]")
    changed = changed.replace("desiredSize: 2", "desiredSize: 1")
    assert changed.count("t4g.medium]") == 1 and "desiredSize: 1" in changed, "Pulumi.dev.yaml's node group moved"
    base_stack_file.write_text(changed, encoding="utf-8")
    for side in ("base", "head"):
        (root / side).mkdir()
    base = root / "base" / "dev.json"
    _finish(
        _start("--stack", "dev", "--json", "--estimate", "--config-file", str(base_stack_file), stdout=base),
        _start("--stack", "dev", "--json", "--estimate", stdout=root / "head" / "dev.json"),
        _start("--stack", "prod", "--estimate", stdout=root / "prod.txt"),
    )
    _finish(_start("--stack", "dev", "--compare", str(base), stdout=root / "dev.txt"))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previews, made once per session: under xdist the workers share the session's folder, and whichever
    comes first makes them while the other waits on the lock (each preview takes ~15 s)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's folder; without xdist, basetemp is already this session's own
    folder = shared / "pr-comment-previews"
    folder.mkdir(exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".done").exists():
            _make_previews(folder)
            (folder / ".done").touch()
    return folder


@pytest.fixture(scope="module")
def folders(root: Path) -> dict[str, Path]:
    return {"base": root / "base", "head": root / "head"}


@pytest.fixture(scope="module")
def documents(folders: dict[str, Path]) -> dict[str, Any]:
    return {side: json.loads((folders[side] / "dev.json").read_text()) for side in ("base", "head")}


@pytest.fixture(scope="module")
def comment(folders: dict[str, Path]) -> str:
    return render_comment(["dev"], folders["base"], folders["head"], None)


@pytest.fixture(scope="module")
def texts(root: Path) -> dict[str, str]:
    """`--estimate` as text: dev against the base (--compare), prod alone."""
    return {stack: (root / f"{stack}.txt").read_text() for stack in ("dev", "prod")}


def test_the_comment_starts_with_its_marker_and_has_every_section_in_order(comment: str) -> None:
    assert comment.splitlines()[0] == MARKER
    assert "### Stack `dev`" in comment
    positions = [comment.index(f"#### {section}") for section in SECTIONS]
    assert positions == sorted(positions)


def test_the_changes_name_the_node_group_and_its_changed_inputs(comment: str) -> None:
    assert "0 added, 0 removed" in comment
    node_group = re.search(r"- `([^`]*aws:eks/nodeGroup:NodeGroup::cluster-general)` — inputs: (.*)", comment)
    assert node_group is not None
    assert node_group.group(2) == "`instanceTypes`, `scalingConfig`"


def test_the_controller_charts_regenerated_webhook_objects_are_not_counted_as_changes(comment: str) -> None:
    """Two offline renders of the load balancer controller's chart differ in its webhook CA (no live Secret to
    reuse); its inputs did not change, so the comment does not count them as the pull request's."""
    assert "0 added, 0 removed, 1 changed" in comment
    changed = comment[
        comment.index("<summary>Changed") : comment.index("</details>", comment.index("<summary>Changed"))
    ]
    assert "aws-load-balancer-webhook" not in changed
    regenerated = comment[comment.index("<summary>Regenerated offline") :]
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        assert f"{kind}::aws-load-balancer-controller:aws-load-balancer-webhook` — inputs: `webhooks`" in regenerated


def _resource(urn: str, type_: str, inputs: dict[str, Any], parent: str = "") -> dict[str, Any]:
    return {"urn": urn, "type": type_, "parent": parent, "inputs": inputs}


WEBHOOKS = "admissionregistration.k8s.io/v1"


def _webhooks(ca: str, path: str = "/validate") -> dict[str, Any]:
    hook = {"name": "h", "clientConfig": {"caBundle": ca, "service": {"name": "svc", "path": path}}}
    return {
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "aws-load-balancer-webhook"},
        "webhooks": [hook],
    }


def _document(
    ca: str, *, values: dict[str, Any] | None = None, kube_version: str = "1.35", path: str = "/validate"
) -> dict[str, Any]:
    """An EKS cluster, the controller's chart with its webhook configuration and another object it renders (a
    ConfigMap whose data follows the CA too), and an object of the program's own (the same)."""
    chart_inputs = {"chart": "aws-load-balancer-controller", "version": "3.5.0", "values": values or {"a": 1}}
    configmap = {"kind": "ConfigMap", "metadata": {"name": "other"}, "data": {"ca": ca}}
    return {
        "resources": [
            _resource("urn:eks", CLUSTER_TYPE, {"version": kube_version}),
            _resource("urn:chart", CHART_TYPE, chart_inputs),
            _resource(
                "urn:chart-webhooks",
                f"kubernetes:{WEBHOOKS}:ValidatingWebhookConfiguration",
                _webhooks(ca, path),
                "urn:chart",
            ),
            _resource("urn:chart-configmap", "kubernetes:core/v1:ConfigMap", configmap, parent="urn:chart"),
            _resource("urn:own-webhooks", f"kubernetes:{WEBHOOKS}:ValidatingWebhookConfiguration", _webhooks(ca, path)),
        ]
    }


def test_only_a_listed_chart_object_differing_only_where_its_chart_generates_values_is_not_counted() -> None:
    # The chart's inputs and the Kubernetes version unchanged; the CA differs. The listed webhook configuration
    # differs only in caBundle: regenerated. The chart's ConfigMap is not listed, and the program's own object
    # is not a chart's: both changes.
    same = offline_changes(_document("one"), _document("two"))
    assert same.regenerated == {"urn:chart-webhooks": ["webhooks"]}
    assert sorted(same.changed) == ["urn:chart-configmap", "urn:own-webhooks"]
    # A listed object that differs beyond what its chart generates (a webhook's path) is a change.
    path = offline_changes(_document("one"), _document("two", path="/mutate"))
    assert path.regenerated == {}
    assert "urn:chart-webhooks" in path.changed
    # The chart's values changed: so may its objects.
    values = offline_changes(_document("one"), _document("two", values={"a": 2}))
    assert values.regenerated == {}
    assert sorted(values.changed) == ["urn:chart", "urn:chart-configmap", "urn:chart-webhooks", "urn:own-webhooks"]
    # The cluster's version changed: a chart may render differently for it (.Capabilities.KubeVersion).
    version = offline_changes(_document("one"), _document("two", kube_version="1.36"))
    assert version.regenerated == {}
    assert "urn:chart-webhooks" in version.changed


def test_the_policy_counts_are_the_documents_own(comment: str, documents: dict[str, Any]) -> None:
    for level in ("mandatory", "advisory"):
        head, base = (
            sum(1 for v in documents[side]["policy"]["violations"] if v["level"] == level) for side in ("head", "base")
        )
        assert f"| {level} | {head} | {base} |" in comment


def test_the_cost_change_is_the_node_groups_and_positive(comment: str, documents: dict[str, Any]) -> None:
    spot, hours = TABLE["spotFactor"]["value"], TABLE["hoursPerMonth"]
    disk = 50 * TABLE["prices"]["ebs.gp3GibMonth"]["usd"]
    large = TABLE["ec2InstanceHour"]["t4g.large"]["usd"] * spot * hours + disk
    medium = TABLE["ec2InstanceHour"]["t4g.medium"]["usd"] * spot * hours + disk
    expected = {"desired": 2 * large - 1 * medium, "min": 1 * large - 1 * medium}

    head, base = (documents[side]["estimate"]["cost"] for side in ("head", "base"))
    for key, value in expected.items():
        assert value > 0
        assert head["total"][key] - base["total"][key] == pytest.approx(value, abs=0.011)
        assert head["components"]["cluster"][key] - base["components"]["cluster"][key] == pytest.approx(
            value, abs=0.011
        )
    change = round(head["total"]["desired"] - base["total"]["desired"], 2)
    assert f"Change against the base: **+${change:,.2f}** at desired" in comment
    cluster_row = next(line for line in comment.splitlines() if line.startswith("| cluster |"))
    assert f"+${change:,.2f}" in cluster_row
    assert not any(line.startswith(("| network |", "| database |")) for line in comment.splitlines())


def test_the_rollout_time_is_the_critical_paths(comment: str, documents: dict[str, Any]) -> None:
    path = documents["head"]["estimate"]["criticalPath"]
    assert f"**{path['totalMinutes']:g} min** (base: " in comment
    first_timed = next(link for link in path["links"] if link["minutes"] > 0)
    assert f"`{first_timed['name']}` ({first_timed['minutes']:g} min)" in comment


def test_the_real_pulumi_preview_summary_is_used_when_given(folders: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text(json.dumps({"changeSummary": {"update": 1, "same": 483}, "steps": []}))
    rendered = render_comment(["dev"], folders["base"], folders["head"], tmp_path)
    assert "From `pulumi preview`: same 483, update 1." in rendered
    (tmp_path / "dev.json").unlink()
    (tmp_path / "dev.txt").write_text("Previewing update (dev)\n\nResources:\n    ~ 1 to update\n    483 unchanged\n")
    rendered = render_comment(["dev"], folders["base"], folders["head"], tmp_path)
    assert "From `pulumi preview`: same 483, update 1." in rendered


def test_the_text_summary_ignores_ansi_colours_and_reads_the_one_line_total(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    coloured = (
        "Previewing update (dev)\n\n\x1b[1mResources:\x1b[0m\n"
        "    \x1b[32m+ 2 to create\x1b[0m\n    \x1b[33m~ 1 to update\x1b[0m\n"
        "    \x1b[1m3 changes\x1b[0m. 480 unchanged\n"
    )
    (tmp_path / "dev.txt").write_text(coloured)
    rendered = render_comment(["dev"], folders["base"], folders["head"], tmp_path)
    assert "From `pulumi preview`: create 2, same 480, update 1." in rendered
    # Only the total: it is said as the total.
    (tmp_path / "dev.txt").write_text("Resources:\n    3 changes. 480 unchanged\n")
    rendered = render_comment(["dev"], folders["base"], folders["head"], tmp_path)
    assert "From `pulumi preview`: change 3, same 480." in rendered


@pytest.mark.parametrize(
    ("status", "job", "said"),
    [
        ("failure", "failure", "`pulumi preview` failed (see the run)."),
        ("skipped", "failure", "`pulumi preview` did not run: a step before it failed (see the run)."),
        (None, "skipped", "`pulumi preview` not run (a fork's pull request gets no AWS credentials)."),
        (None, "failure", "`pulumi preview` left no result (see the run)."),
        ("success", "success", "`pulumi preview` succeeded but printed no resource summary (see the run)."),
    ],
)
def test_a_real_preview_without_output_says_what_happened(
    folders: dict[str, Path], tmp_path: Path, status: str | None, job: str, said: str
) -> None:
    (tmp_path / "dev.txt").write_text("\n")  # what the workflow writes from an empty output
    if status is not None:
        (tmp_path / "dev.status").write_text(f"{status}\n")
    rendered = render_comment(["dev"], folders["base"], folders["head"], tmp_path, job)
    assert said in rendered
    assert "From `pulumi preview`" not in rendered
    assert "Offline, base → head:" in rendered  # the offline comparison is still there


def test_a_failed_real_preview_with_counts_says_both(folders: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "dev.txt").write_text("Resources:\n    ~ 1 to update\n    483 unchanged\n")
    (tmp_path / "dev.status").write_text("failure\n")
    rendered = render_comment(["dev"], folders["base"], folders["head"], tmp_path, "failure")
    assert "From `pulumi preview`: same 483, update 1. The preview step's outcome: failure (see the run)." in rendered


def test_a_missing_base_or_failed_head_is_said_not_fatal(folders: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "prod.json").write_text("")  # a preview that failed before printing
    rendered = render_comment(["dev", "prod"], tmp_path, folders["head"], None)
    assert "Base: no preview (dev.json missing); the head is shown alone." in rendered
    assert "No base estimate to compare with." in rendered
    rendered = render_comment(["prod"], folders["base"], tmp_path, None)
    assert "Head: the preview failed (prod.json is not a preview document)." in rendered


def test_the_command_is_deterministic(folders: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["--base", str(folders["base"]), "--head", str(folders["head"])]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0] == render_comment(["dev"], folders["base"], folders["head"], None)


def test_the_docs_example_has_the_renderers_marker_and_headings() -> None:
    docs = (PROJECT_DIR / "docs" / "estimates.md").read_text(encoding="utf-8")
    example = docs.split("<!-- example:begin -->", 1)[1].split("<!-- example:end -->", 1)[0]
    assert MARKER in example
    for section in SECTIONS:
        assert f"#### {section}" in example, section


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_estimate_prints_the_cost_and_the_critical_path(texts: dict[str, str], stack: str) -> None:
    text = texts[stack]
    assert "Estimated monthly cost (USD, ca-central-1, 730 h/month):" in text
    assert re.search(r"^    total +\$[\d,]+\.\d\d +\$[\d,]+\.\d\d$", text, re.MULTILINE)
    assert f"Price table: tools/prices/ca-central-1.json, taken {TABLE['taken']}; sources:" in text
    assert "    https://aws.amazon.com/eks/pricing/" in text
    assert re.search(r"^Rollout critical path: [\d.]+ min$", text, re.MULTILINE)
    assert "aws:eks/cluster:Cluster  cluster-eks" in text or "aws:rds/instance:Instance  database-instance" in text


def test_compare_prints_the_signed_change(texts: dict[str, str]) -> None:
    assert "Change against the compared preview (dev):" in texts["dev"]
    assert re.search(r"^    cluster +\+\$[\d.]+ +\+\$[\d.]+$", texts["dev"], re.MULTILINE)


def test_compare_with_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--stack", "dev", "--compare", str(tmp_path / "none.json")],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: cannot read {tmp_path / 'none.json'}: No such file or directory"
    ]
