"""A v4 Chart under the offline engine: rendered by a real helm from the chart cache, and
recorded as pulumi-kubernetes 4.34 registers it (provider/pkg/provider/helm/v4/chart.go and
provider/pkg/provider/yaml/v2/yaml.go)."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest
import yaml
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from tests.conftest import PROJECT_DIR
from tools import yamlv2
from tools.charts import ChartCacheError, chart_archive, chart_cache, helm_binary
from tools.engine import CHART_TYPE, CHART_UNKNOWN_NOTE, SECRET_VALUE, SIG_KEY, EngineError, Run, run_program
from tools.policy_gate import PolicyClient, evaluate, load_policy_config, running_pack
from tools.preview import _write_artifacts
from tools.render import kubernetes_manifests, resource_json, run_json, run_text, summary

MODES = ("preview", "update")
METRICS_REPO = "https://kubernetes-sigs.github.io/metrics-server"
CHARTS_NEEDED = [
    ("metrics-server", "3.13.1"),
    ("grafana", "12.11.1"),
    ("prometheus-redis-exporter", "6.29.0"),
    ("prometheus-operator-crds", "31.0.1"),
    ("aws-load-balancer-controller", "3.5.0"),
]


@pytest.fixture(scope="module", autouse=True)
def helm_and_cache() -> None:
    """These tests need the real helm and the chart cache: in CI their absence fails, elsewhere it skips."""
    try:
        helm_binary()
        chart_cache()
        for chart, version in CHARTS_NEEDED:
            chart_archive(chart, version)
    except ChartCacheError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"helm or the chart cache is missing in CI: {err}")
        pytest.skip(f"helm or the chart cache is missing ({err}); `make helm` and the cache at ../shared/charts")


def run(program: Callable[[], Any], mode: str = "update", **kwargs: Any) -> Run:
    kwargs.setdefault("kube_version", "1.35")
    return run_program(
        program,
        project="platform",
        stack="test",
        mode=mode,
        config={"aws:region": "ca-central-1"},
        project_dir=PROJECT_DIR,
        **kwargs,
    )


def provider(**kwargs: Any) -> k8s.Provider:
    return k8s.Provider("k8s", kubeconfig="{}", **kwargs)


def metrics_server(opts: pulumi.ResourceOptions, **kwargs: Any) -> k8s.helm.v4.Chart:
    kwargs.setdefault("namespace", "kube-system")
    return k8s.helm.v4.Chart(
        "metrics",
        chart="metrics-server",
        version="3.13.1",
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=METRICS_REPO),
        opts=opts,
        **kwargs,
    )


def metrics_program(cluster: k8s.Provider | None = None) -> None:
    chart = metrics_server(pulumi.ResourceOptions(provider=cluster or provider()))
    # The SDK turns the Chart's `resources` output back into resource objects.
    pulumi.export("count", chart.resources.apply(len))
    pulumi.export("kinds", chart.resources.apply(lambda rs: sorted(type(r).__name__ for r in rs)))


def one(run_: Run, type_: str, name: str) -> Any:
    found = [r for r in run_.resources if r.type == type_ and r.name == name]
    assert len(found) == 1, [(r.type, r.name) for r in run_.resources]
    return found[0]


# --- names, types, parents, providers ----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_children_are_named_and_typed_as_the_provider_registers_them(mode: str) -> None:
    recorded = run(metrics_program, mode)
    (chart,) = recorded.by_type(CHART_TYPE)
    (k8s_provider,) = recorded.by_type("pulumi:providers:kubernetes")
    assert chart.remote and not chart.custom and chart.provider == k8s_provider.urn
    children = recorded.children(chart.urn)
    # yaml.go register: "<Chart name>:<namespace>/<name>", "<Chart name>:<name>" when cluster-scoped.
    assert {(c.type, c.name) for c in children} == {
        ("kubernetes:core/v1:ServiceAccount", "metrics:kube-system/metrics-metrics-server"),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "metrics:system:metrics-metrics-server-aggregated-reader",
        ),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "metrics:system:metrics-metrics-server"),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "metrics:metrics-metrics-server:system:auth-delegator",
        ),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "metrics:system:metrics-metrics-server"),
        (
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
            "metrics:kube-system/metrics-metrics-server-auth-reader",
        ),
        ("kubernetes:core/v1:Service", "metrics:kube-system/metrics-metrics-server"),
        ("kubernetes:apps/v1:Deployment", "metrics:kube-system/metrics-metrics-server"),
        ("kubernetes:apiregistration.k8s.io/v1:APIService", "metrics:v1beta1.metrics.k8s.io"),
    }
    deployment = one(recorded, "kubernetes:apps/v1:Deployment", "metrics:kube-system/metrics-metrics-server")
    assert deployment.urn == (
        "urn:pulumi:test::platform::kubernetes:helm.sh/v4:Chart$kubernetes:apps/v1:Deployment"
        "::metrics:kube-system/metrics-metrics-server"
    )
    for child in children:
        assert child.custom and child.parent == chart.urn and child.provider == k8s_provider.urn
    assert deployment.inputs["apiVersion"] == "apps/v1" and deployment.inputs["kind"] == "Deployment"
    # Release name = the Chart's name; hooks and tests are never rendered.
    assert deployment.inputs["metadata"]["labels"]["app.kubernetes.io/instance"] == "metrics"
    assert not any("helm.sh/hook" in (c.inputs["metadata"].get("annotations") or {}) for c in children)
    assert chart.outputs["resources"] == [c.urn for c in children]
    assert recorded.outputs["count"] == 9
    assert "Deployment" in recorded.outputs["kinds"] and recorded.notes == []


def test_an_update_gives_children_api_server_outputs() -> None:
    recorded = run(metrics_program, "update")
    deployment = one(recorded, "kubernetes:apps/v1:Deployment", "metrics:kube-system/metrics-metrics-server")
    assert deployment.outputs["id"] == "kube-system/metrics-metrics-server"
    assert deployment.outputs["metadata"]["uid"] and deployment.outputs["spec"] == deployment.inputs["spec"]
    cluster_role = one(
        recorded, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "metrics:system:metrics-metrics-server"
    )
    assert cluster_role.outputs["id"] == "system:metrics-metrics-server"


def test_release_name_and_resource_prefix_inputs_are_honoured() -> None:
    def program() -> None:
        metrics_server(pulumi.ResourceOptions(provider=provider()), name="ms", resource_prefix="pre")

    recorded = run(program)
    one(recorded, "kubernetes:apps/v1:Deployment", "pre:kube-system/ms-metrics-server")


def test_namespaced_objects_without_a_namespace_get_the_charts() -> None:
    def program() -> None:
        k8s.helm.v4.Chart(
            "redis", chart="prometheus-redis-exporter", version="6.29.0", namespace="cache",
            opts=pulumi.ResourceOptions(provider=provider()),
        )  # fmt: skip

    recorded = run(program)
    # The chart's templates set no namespace; the provider's Normalize fills it in.
    account = one(recorded, "kubernetes:core/v1:ServiceAccount", "redis:cache/redis-prometheus-redis-exporter")
    assert account.inputs["metadata"]["namespace"] == "cache"


@pytest.mark.parametrize(("provider_namespace", "expected"), [("apps", "apps"), (None, "default")])
def test_without_a_chart_namespace_objects_get_the_providers_default(
    provider_namespace: str | None, expected: str
) -> None:
    def program() -> None:
        kwargs = {"namespace": provider_namespace} if provider_namespace else {}
        k8s.helm.v4.Chart(
            "redis", chart="prometheus-redis-exporter", version="6.29.0",
            opts=pulumi.ResourceOptions(provider=provider(**kwargs)),
        )  # fmt: skip

    recorded = run(program)
    deployment = one(recorded, "kubernetes:apps/v1:Deployment", f"redis:{expected}/redis-prometheus-redis-exporter")
    assert deployment.inputs["metadata"]["namespace"] == expected


# --- secrets, unknowns, errors -------------------------------------------------------------


def grafana_program(cluster: k8s.Provider | None = None) -> None:
    k8s.helm.v4.Chart(
        "grafana", chart="grafana", version="12.11.1", namespace="monitoring",
        values={"adminPassword": "hunter2-not-shown"},
        opts=pulumi.ResourceOptions(provider=cluster or provider()),
    )  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_a_secrets_data_is_secret_and_redacted(mode: str) -> None:
    recorded = run(grafana_program, mode)
    secret = one(recorded, "kubernetes:core/v1:Secret", "grafana:monitoring/grafana")
    assert secret.secret_inputs == ["/data"]
    assert secret.raw_inputs["data"][SIG_KEY] == SECRET_VALUE
    assert "/data" in secret.secret_outputs
    encoded = base64.b64encode(b"hunter2-not-shown").decode()
    assert secret.inputs["data"]["admin-password"] == encoded
    shown = resource_json(secret)
    assert shown["inputs"]["data"] == "[secret]" and shown["outputs"]["data"] == "[secret]"
    assert encoded not in str(shown)


def test_an_unknown_input_renders_nothing_and_leaves_a_note() -> None:
    def program() -> None:
        suffix = random.RandomId("suffix", byte_length=4)
        metrics_server(pulumi.ResourceOptions(provider=provider()), values={"podLabels": {"build": suffix.hex}})

    recorded = run(program, "preview")
    (chart,) = recorded.by_type(CHART_TYPE)
    assert recorded.children(chart.urn) == []
    assert recorded.notes == [f"{chart.urn}: {CHART_UNKNOWN_NOTE}"]
    policy = {"pack": "p", "policies": [], "violations": []}
    assert CHART_UNKNOWN_NOTE in run_text(recorded, policy)
    assert run_json(recorded, policy)["notes"] == recorded.notes
    assert summary(recorded)["charts"] == {"metrics": 0}


def test_a_version_missing_from_the_cache_is_a_clear_error() -> None:
    def program() -> None:
        k8s.helm.v4.Chart(
            "metrics", chart="metrics-server", version="9.9.9", opts=pulumi.ResourceOptions(provider=provider())
        )

    with pytest.raises(EngineError, match=r"chart metrics-server version 9\.9\.9 is not in the chart cache"):
        run(program)


def test_the_kubernetes_version_comes_from_the_one_eks_cluster_or_must_be_given() -> None:
    def program(with_cluster: bool) -> Callable[[], None]:
        def body() -> None:
            if with_cluster:
                aws.eks.Cluster(
                    "eks", role_arn="arn:aws:iam::123456789012:role/eks", version="1.34",
                    vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=["subnet-1"]),
                    opts=pulumi.ResourceOptions(provider=aws.Provider("aws", region="ca-central-1")),
                )  # fmt: skip
            metrics_server(pulumi.ResourceOptions(provider=provider()))

        return body

    assert run(program(True), kube_version=None).by_type("kubernetes:apps/v1:Deployment")
    with pytest.raises(EngineError, match="kube_version"):
        run(program(False), kube_version=None)


# --- CRDs and dependencies -------------------------------------------------------------------


CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def load_balancer_controller(skip_crds: bool, ingress_class: bool = True) -> Callable[[], None]:
    def program() -> None:
        k8s.helm.v4.Chart(
            "lb", chart="aws-load-balancer-controller", version="3.5.0", namespace="kube-system",
            skip_crds=skip_crds,
            values={"clusterName": "platform", "createIngressClassResource": ingress_class},
            opts=pulumi.ResourceOptions(provider=provider()),
        )  # fmt: skip

    return program


@pytest.mark.parametrize(("skip_crds", "count"), [(False, 7), (True, 0)])
def test_a_charts_crds_folder_is_rendered_unless_skip_crds(skip_crds: bool, count: int) -> None:
    recorded = run(load_balancer_controller(skip_crds, ingress_class=False))
    crds = recorded.by_type(CRD)
    assert len(crds) == count
    if count:
        # Cluster-scoped: no namespace in the name, none filled in.
        one(recorded, CRD, "lb:ingressclassparams.elbv2.k8s.aws")
        assert all("namespace" not in c.inputs["metadata"] for c in crds)
    assert recorded.by_type("kubernetes:apps/v1:Deployment")


def test_crds_a_chart_renders_from_templates_ignore_skip_crds() -> None:
    def program() -> None:
        k8s.helm.v4.Chart(
            "crds", chart="prometheus-operator-crds", version="31.0.1", skip_crds=True,
            opts=pulumi.ResourceOptions(provider=provider()),
        )  # fmt: skip

    recorded = run(program)
    assert len(recorded.by_type(CRD)) == 10
    one(recorded, CRD, "crds:servicemonitors.monitoring.coreos.com")


def test_a_list_is_expanded_and_a_custom_resource_depends_on_its_crd() -> None:
    recorded = run(load_balancer_controller(skip_crds=False))
    params = one(recorded, "kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams", "lb:alb")  # scope: Cluster
    crd = one(recorded, CRD, "lb:ingressclassparams.elbv2.k8s.aws")
    assert params.dependencies == [crd.urn]
    assert recorded.resources.index(crd) < recorded.resources.index(params)
    one(recorded, "kubernetes:networking.k8s.io/v1:IngressClass", "lb:alb")
    assert not recorded.by_type("kubernetes:core/v1:List")


def test_a_custom_resource_without_its_crd_is_refused_as_the_provider_would() -> None:
    with pytest.raises(
        EngineError, match=r"cannot tell whether elbv2\.k8s\.aws/v1beta1/IngressClassParams is namespaced"
    ):
        run(load_balancer_controller(skip_crds=True))


def test_custom_resources_depend_on_their_crd_and_namespaced_objects_on_their_namespace() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget"}, "scope": "Namespaced"},
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {yamlv2.DEPENDS_ON: "example.com/namespaces/apps/Widget/w"}},
    }
    objects = yamlv2.normalize([widget, config, crd, namespace], "apps")
    assert objects[0]["metadata"]["namespace"] == "apps"  # scope from the CRD among the objects
    edges = yamlv2.dependencies(objects)
    assert edges == [[2, 3], [0, 3], [], []]
    assert yamlv2.apply_order(edges) == [2, 3, 0, 1]
    assert yamlv2.type_token("example.com/v1", "Widget") == "kubernetes:example.com/v1:Widget"
    with pytest.raises(yamlv2.ObjectError, match=r"cannot tell whether example\.org/v1/Gadget is namespaced"):
        yamlv2.normalize([{"apiVersion": "example.org/v1", "kind": "Gadget", "metadata": {"name": "g"}}], "apps")


# --- what people and tools read ----------------------------------------------------------------


def test_summary_text_and_manifests_per_chart(tmp_path: Path) -> None:
    def program() -> None:
        cluster = provider()
        metrics_program(cluster)
        grafana_program(cluster)

    recorded = run(program)
    info = summary(recorded)
    assert info["charts"] == {"metrics": 9, "grafana": 7}
    text = run_text(recorded, {"pack": "p", "policies": [], "violations": []})
    assert "Charts:" in text and "   9  metrics (rendered objects)" in text
    assert "└─ kubernetes:apps/v1:Deployment" in text or "├─ kubernetes:apps/v1:Deployment" in text

    manifests = kubernetes_manifests(recorded)
    assert "metrics/deployment-metrics-metrics-server.yaml" in manifests
    assert "metrics/clusterrole-system_metrics-metrics-server.yaml" in manifests
    assert len([m for m in manifests if m.startswith("grafana/")]) == 7
    _write_artifacts(recorded, tmp_path)
    written = tmp_path / "manifests" / "grafana" / "secret-grafana.yaml"
    secret = yaml.safe_load(written.read_text())
    assert secret["data"] == "[secret]" and secret["metadata"]["namespace"] == "monitoring"


class RecordingAnalyzer:
    """An analyzer that records what the gate sends it."""

    def __init__(self) -> None:
        self.analyzed: dict[str, dict[str, Any]] = {}
        self.stack: dict[str, dict[str, Any]] = {}

    def GetAnalyzerInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return analyzer_pb2.AnalyzerInfo(name="recording")

    def Configure(self, request: Any, context: Any) -> None:  # noqa: N802
        return None

    def ConfigureStack(self, request: Any, context: Any) -> None:  # noqa: N802
        return None

    def Analyze(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.analyzed[request.urn] = {
            "properties": json_format.MessageToDict(request.properties),
            "parent": request.options.parent,
        }
        return analyzer_pb2.AnalyzeResponse()

    def AnalyzeStack(self, request: Any, context: Any) -> Any:  # noqa: N802
        for r in request.resources:
            self.stack[r.urn] = json_format.MessageToDict(r.properties)
        return analyzer_pb2.AnalyzeResponse()


@pytest.mark.parametrize("mode", MODES)
def test_the_gate_sees_the_chart_without_properties_and_each_object_as_a_child(mode: str) -> None:
    recorded = run(metrics_program, mode)
    analyzer = RecordingAnalyzer()
    evaluate(PolicyClient(analyzer, in_process=True), recorded, {})
    (chart,) = recorded.by_type(CHART_TYPE)
    assert analyzer.analyzed[chart.urn]["properties"] == {}
    deployment = one(recorded, "kubernetes:apps/v1:Deployment", "metrics:kube-system/metrics-metrics-server")
    assert analyzer.analyzed[deployment.urn]["parent"] == chart.urn
    assert analyzer.analyzed[deployment.urn]["properties"]["metadata"]["namespace"] == "kube-system"
    # Resource references reach an analyzer as ids (after an update) or URNs.
    refs = analyzer.stack[chart.urn]["resources"]
    assert len(refs) == 9 and all(isinstance(ref, str) for ref in refs)

    with running_pack() as pack:  # the real pack takes the same graph without failing
        result = evaluate(pack.client(), recorded, load_policy_config("dev"))
    assert all(v["urn"] for v in result.violations)
