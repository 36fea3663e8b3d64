"""Does a second `pulumi preview` of an unchanged stack propose changes? Every chart object must render the
same twice, or `pulumi preview` shows it changing in every pull request and the drift check
(`preview --expect-no-changes`) fails every morning.

The one chart that renders differently each time is the load balancer controller's: with no live Secret its
templates generate a new webhook CA. With `keepTLSSecret` they `lookup` the live Secret and reuse it, and the
Kubernetes provider renders a v4 Chart with `--dry-run=server` (pulumi-kubernetes
provider/pkg/provider/helm/v4/chart.go), so against a cluster the principal can read Secrets in, the render is
stable. Shown here with the real helm and the chart against a small fake API server (tests/fake_kube_api.py).
"""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import load_balancer_controller
from tests.conftest import PROJECT_DIR, STACKS
from tests.fake_kube_api import FakeCluster, kinds_of, serving
from tools import helm, yamlv2
from tools.engine import Resource, Run, run_program
from tools.helm import HelmError, render_chart
from tools.pr_comment import RENDERED_AFRESH, rendered_afresh_key
from tools.stackconfig import load_stack_config

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
WEBHOOK_KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def _run(stack: str) -> Run:
    """The stack's program in preview mode, every chart rendered afresh (the in-process render cache cleared)."""
    config = load_stack_config(PROJECT_DIR, stack)
    helm._renders.clear()
    return run_program(
        lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"),
        project=config.project,
        stack=stack,
        mode="preview",
        config=config.values,
        secret_keys=config.secret_keys,
        project_dir=PROJECT_DIR,
    )


@pytest.fixture(scope="module", params=STACKS)
def two_runs(request: pytest.FixtureRequest) -> Iterator[tuple[Run, Run]]:
    before = Path.cwd()
    os.chdir(PROJECT_DIR)  # the program reads its files (rules, dashboards) relative to itself
    try:
        yield _run(request.param), _run(request.param)
    finally:
        os.chdir(before)
        helm._renders.clear()


def _as_document(resource: Resource) -> dict[str, Any]:
    """The resource as the preview's --json document has it (what tools.pr_comment reads)."""
    return {"inputs": resource.raw_inputs}


def test_a_second_render_changes_only_what_the_pr_comment_knows_to_be_rendered_afresh(
    two_runs: tuple[Run, Run],
) -> None:
    """Every object that differs between two renders is in tools.pr_comment's RENDERED_AFRESH (the load balancer
    controller's webhook certificate), and differs only where that table says its chart generates values: a
    chart that starts generating anything else fails here, before it shows as a change in every preview."""
    first, second = two_runs
    before = {r.urn: r for r in first.resources}
    after = {r.urn: r for r in second.resources}
    assert before.keys() == after.keys(), "the two runs registered different resources"
    charts = [r for r in first.resources if r.type == CHART_TYPE]
    assert len(charts) > 5 and all(any(r.parent == c.urn for r in first.resources) for c in charts), (
        "every chart renders objects"
    )

    changed = [before[urn] for urn in before if before[urn].raw_inputs != after[urn].raw_inputs]

    # Every other resource of the stack (AWS, the program's own Kubernetes objects, every other chart's
    # objects) has the same inputs in both runs.
    chart_of = {c.urn: c for c in charts}
    keys = {rendered_afresh_key(_as_document(chart_of[r.parent]), _as_document(r)): r for r in changed}
    assert set(keys) == set(RENDERED_AFRESH)
    for key, resource in keys.items():
        stable = RENDERED_AFRESH[key]
        assert stable(resource.raw_inputs) == stable(after[resource.urn].raw_inputs), key


def _cluster_version(run: Run) -> str:
    (cluster,) = run.by_type("aws:eks/cluster:Cluster")
    return str(cluster.inputs["version"])


def _controller_render(run: Run, kubeconfig: Path | None = None) -> list[dict[str, Any]]:
    chart = next(r for r in run.resources if r.type == CHART_TYPE and r.name == load_balancer_controller.RELEASE)
    inputs = chart.raw_inputs
    return render_chart(
        inputs["chart"],
        inputs["version"],
        release=load_balancer_controller.RELEASE,
        namespace=inputs["namespace"],
        values=inputs["values"],
        kube_version=_cluster_version(run),
        kubeconfig=kubeconfig,
    )


def _only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def _ca_bundles(objects: list[dict[str, Any]]) -> set[str]:
    return {hook["clientConfig"]["caBundle"] for o in objects if o["kind"] in WEBHOOK_KINDS for hook in o["webhooks"]}


def test_against_a_cluster_the_controller_chart_reuses_the_live_webhook_certificate(
    two_runs: tuple[Run, Run], tmp_path: Path
) -> None:
    run = two_runs[0]
    assert (
        run.get(
            next(r.urn for r in run.resources if r.type == CHART_TYPE and r.name == load_balancer_controller.RELEASE)
        ).raw_inputs["values"]["keepTLSSecret"]
        is True
    )

    # The first `pulumi up`: no Secret yet, the chart generates one.
    installed = _controller_render(run)
    live_secret = _only(installed, "Secret")
    assert _ca_bundles(installed) == {live_secret["data"]["ca.crt"]}

    cluster = FakeCluster(
        kinds=kinds_of(installed, lambda v, k: yamlv2.is_namespaced(v, k, installed, [])),
        version=_cluster_version(run),
    )
    cluster.add_secret(live_secret)
    with serving(cluster, tmp_path) as kubeconfig:
        next_preview = _controller_render(run, kubeconfig)
        following = _controller_render(run, kubeconfig)

    assert next_preview == following == installed
    assert _only(next_preview, "Secret")["data"] == live_secret["data"]
    assert _ca_bundles(next_preview) == {live_secret["data"]["ca.crt"]}


def test_a_principal_that_cannot_read_the_secret_cannot_render_the_controller_chart(
    two_runs: tuple[Run, Run], tmp_path: Path
) -> None:
    """Helm's `lookup` fails the render on any error but "not found": a preview or drift role without `get` on
    Secrets in the add-ons' namespace fails the whole preview (why the preview principals get
    AmazonEKSAdminViewPolicy, which includes Secrets: docs/delivery.md)."""
    run = two_runs[0]
    installed = _controller_render(run)
    cluster = FakeCluster(
        kinds=kinds_of(installed, lambda v, k: yamlv2.is_namespaced(v, k, installed, [])),
        version=_cluster_version(run),
        forbid_secrets=True,
    )
    cluster.add_secret(_only(installed, "Secret"))
    # The template's `lookup` fails (not the helm CLI's own ownership check of the rendered objects, which the
    # provider's client-only render does not make).
    with (
        serving(cluster, tmp_path) as kubeconfig,
        pytest.raises(HelmError, match=r"error calling lookup: secrets \"aws-load-balancer-tls\" is forbidden"),
    ):
        _controller_render(run, kubeconfig)
