"""tools.k8s_validate: built-in kinds strictly, custom kinds against CRDs, placeholders, the CLI.

Tests marked by ``cache`` need helm and the chart cache: outside CI they skip
with the reason, with CI=true they fail.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kv
import pytest
import yaml

from tests.conftest import PROJECT_DIR
from tools.charts import ChartCacheError, chart_archive, chart_cache, helm_binary
from tools.k8s_validate import (
    CRD_CACHE_DIR,
    PLACEHOLDERS,
    ValidationError,
    chart_crds,
    load_yaml_documents,
    main,
    supported_kube_versions,
    validate_objects,
)

KUBE = "1.35"
IN_CI = os.environ.get("CI") == "true"
EXTERNAL_SECRETS = "external-secrets-2.9.0"
CRD_CHARTS = (
    "prometheus-operator-crds-31.0.1",
    "karpenter-crd-1.14.1",
    EXTERNAL_SECRETS,
    "velero-12.1.0",
    "base-1.30.3",
    # Other cached charts that ship CRDs (checked: every other cached chart renders none).
    "karpenter-1.14.1",
    "kube-prometheus-stack-88.5.3",
    "aws-load-balancer-controller-3.5.0",
)


def need_cache() -> None:
    """Skip (outside CI) or fail (CI=true) when helm or the chart cache is missing."""
    try:
        helm_binary()
        chart_cache()
    except ChartCacheError as exc:
        if IN_CI:
            pytest.fail(f"CI must have helm and the chart cache: {exc}")
        pytest.skip(f"needs helm and the chart cache (`make helm`, ../shared/charts): {exc}")


@pytest.fixture
def cache() -> dict[str, list[dict[str, Any]]]:
    need_cache()
    return chart_crds(KUBE)


def need_external_secrets_crds(crds: dict[str, list[dict[str, Any]]]) -> None:
    if not crds.get(EXTERNAL_SECRETS):
        reason = (
            f"the cached {EXTERNAL_SECRETS}.tgz ships no CRDs: it was packaged from the git tree, where "
            "templates/crds/ is generated at release time; the published chart (charts.external-secrets.io) "
            "has them. Rebuild the cache from the published package."
        )
        # A known gap of the cache (noted on the in-cluster issue), not a missing tool: expected to fail
        # everywhere, CI included, and these tests run for real once the cache has the CRDs.
        pytest.xfail(reason)


def errors_of(*objects: dict[str, Any], extra_crds: tuple[dict[str, Any], ...] = ()) -> list[ValidationError]:
    return validate_objects(list(objects), KUBE, extra_crds)


def deployment(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    }
                ]
            },
        },
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}},
        "spec": spec,
    }


def service_monitor(**endpoint: Any) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "web", "namespace": "apps", "labels": {"release": "kps"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "namespaceSelector": {"matchNames": ["apps"]},
            "endpoints": [{"port": "http", "interval": "30s", "path": "/metrics", **endpoint}],
        },
    }


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "versions": [
            {"name": "v1alpha1", "served": False, "storage": False, "schema": {"openAPIV3Schema": {"type": "object"}}},
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                    "mode": {"type": "string", "enum": ["fast", "safe"]},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "template": {"type": "object", "x-kubernetes-embedded-resource": True},
                                },
                            }
                        },
                    }
                },
            },
        ],
    },
}


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "apps", "annotations": {"a": "b"}},
        "spec": {"size": 3, **spec},
    }


# --- built-in kinds -------------------------------------------------------------------------------------------------


def test_a_valid_deployment_passes() -> None:
    assert errors_of(deployment()) == []


def test_a_misspelled_field_fails_strictly_naming_its_path() -> None:
    obj = deployment()
    obj["spec"]["replica"] = obj["spec"].pop("replicas")
    (error,) = errors_of(obj)
    assert (error.kind, error.namespace, error.name, error.path) == ("Deployment", "apps", "web", "spec.replica")
    assert "unknown field" in error.message
    assert str(error).startswith("Deployment apps/web (apps/v1): spec.replica: ")


def test_a_wrong_type_fails() -> None:
    obj = deployment(replicas="three")
    obj["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    errors = errors_of(obj)
    assert [e.path for e in errors] == [
        "spec.replicas",
        "spec.template.spec.containers[0].ports[0].containerPort",
    ]
    assert all("is not of type 'integer'" in e.message for e in errors)


def test_every_error_of_an_object_is_reported_not_just_the_first() -> None:
    obj = deployment(replicas="three", paused="no")
    obj["metadata"]["lables"] = {}
    assert {e.path for e in errors_of(obj)} == {"metadata.lables", "spec.paused", "spec.replicas"}


def test_agrees_with_kubernetes_validate_on_valid_and_invalid_objects() -> None:
    bad_type = deployment(replicas="three")
    unknown = deployment(replica=1)
    for obj, valid in ((deployment(), True), (bad_type, False), (unknown, False)):
        try:
            kv.validate(obj, KUBE, strict=True)
            library_valid = True
        except kv.ValidationError:
            library_valid = False
        assert library_valid is valid
        assert (errors_of(obj) == []) is valid


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("apps/v1", "Deploymnet"),  # a typo
        ("extensions/v1beta1", "Ingress"),  # removed from Kubernetes long before 1.35
        ("v1", "Affinity"),  # a schema file exists, but for a sub-type, not a kind
        ("v1", "[unknown]"),  # cannot be identified
    ],
)
def test_an_unknown_built_in_kind_fails(api_version: str, kind: str) -> None:
    (error,) = errors_of({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})
    assert error.path == ""
    assert "unknown kind" in error.message or "cannot identify" in error.message


def test_an_unknown_custom_kind_fails(cache: dict[str, list[dict[str, Any]]]) -> None:
    (error,) = errors_of({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "x"}})
    assert "unknown kind: example.com/v1 Widget" in error.message


def test_documents_that_are_not_objects_fail() -> None:
    errors = validate_objects(["text", {"kind": "Deployment"}, {"apiVersion": "v1"}], KUBE)
    assert [e.index for e in errors] == [0, 1, 2]
    assert all("not a Kubernetes object" in e.message for e in errors)


def test_a_v1_list_is_checked_item_by_item() -> None:
    service_account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "a"}}
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "date": {}}
    (error,) = errors_of({"apiVersion": "v1", "kind": "List", "items": [service_account, bad]})
    assert (error.kind, error.name, error.path) == ("ConfigMap", "cm", "date")


def test_an_unsupported_kube_version_is_refused() -> None:
    with pytest.raises(ValueError, match=r"supported: 1\.25"):
        validate_objects([deployment()], "1.10")
    assert "1.35" in supported_kube_versions()
    assert validate_objects([deployment()], "v1.35.2") == []


# --- placeholders ---------------------------------------------------------------------------------------------------


def test_placeholders_are_exactly_what_the_engine_writes() -> None:
    from tools.engine import SECRET_TEXT, UNKNOWN_TEXT

    assert {SECRET_TEXT, UNKNOWN_TEXT} == PLACEHOLDERS


def test_placeholders_are_valid_for_any_field_type() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"},
        "data": "[secret]",  # a whole redacted map
        "stringData": {"password": "[secret]"},  # a redacted string
    }
    obj = deployment(replicas="[unknown]")  # an integer unknown offline
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "[unknown]"
    container["image"] = "[unknown]"
    container["env"] = "[secret]"  # a redacted list
    assert errors_of(secret, obj) == []


def test_a_string_that_merely_contains_a_placeholder_is_checked_as_a_string() -> None:
    (error,) = errors_of(deployment(replicas="[unknown]-2"))
    assert error.path == "spec.replicas"


def test_placeholders_in_custom_objects(cache: dict[str, list[dict[str, Any]]]) -> None:
    monitor = service_monitor(targetPort="[unknown]", interval="[unknown]", bearerTokenSecret="[secret]")
    assert errors_of(monitor, widget(size="[unknown]"), extra_crds=(WIDGET_CRD,)) == []


# --- custom kinds: CRDs from the chart cache ------------------------------------------------------------------------


def test_a_valid_service_monitor_passes(cache: dict[str, list[dict[str, Any]]]) -> None:
    assert errors_of(service_monitor(targetPort=8080, scheme="https")) == []


@pytest.mark.parametrize(
    ("endpoint", "path", "message"),
    [
        ({"port": 8080}, "spec.endpoints[0].port", "is not of type 'string'"),
        ({"interval": "30 seconds"}, "spec.endpoints[0].interval", "does not match"),
        ({"targetPort": 1.5}, "spec.endpoints[0].targetPort", "neither an integer nor a string"),
        ({"scheme": "gopher"}, "spec.endpoints[0].scheme", "is not one of"),
        ({"intervall": "30s"}, "spec.endpoints[0].intervall", "unknown field"),
    ],
)
def test_a_bad_service_monitor_fails(
    cache: dict[str, list[dict[str, Any]]], endpoint: dict[str, Any], path: str, message: str
) -> None:
    (error,) = errors_of(service_monitor(**endpoint))
    assert (error.kind, error.namespace, error.name, error.path) == ("ServiceMonitor", "apps", "web", path)
    assert message in error.message


def test_a_custom_objects_metadata_is_checked_only_as_an_object(cache: dict[str, list[dict[str, Any]]]) -> None:
    monitor = service_monitor()
    monitor["metadata"]["finalizers"] = ["x"]
    assert errors_of(monitor) == []
    monitor["metadata"] = "web"
    assert [e.path for e in errors_of(monitor)] == ["metadata"]


def test_a_version_the_crd_does_not_serve_fails(cache: dict[str, list[dict[str, Any]]]) -> None:
    monitor = service_monitor()
    monitor["apiVersion"] = "monitoring.coreos.com/v1beta1"
    (error,) = errors_of(monitor)
    assert error.path == "apiVersion" and "served: v1" in error.message


EXTERNAL_SECRET: dict[str, Any] = {
    "apiVersion": "external-secrets.io/v1",
    "kind": "ExternalSecret",
    "metadata": {"name": "db", "namespace": "apps"},
    "spec": {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
        "target": {"name": "db", "creationPolicy": "Owner"},
        "data": [{"secretKey": "password", "remoteRef": {"key": "prod/db", "property": "password"}}],
    },
}
CLUSTER_SECRET_STORE: dict[str, Any] = {
    "apiVersion": "external-secrets.io/v1",
    "kind": "ClusterSecretStore",
    "metadata": {"name": "aws"},
    "spec": {
        "provider": {
            "aws": {
                "service": "SecretsManager",
                "region": "eu-west-1",
                "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}},
            }
        }
    },
}


def test_external_secrets_serves_v1(cache: dict[str, list[dict[str, Any]]]) -> None:
    need_external_secrets_crds(cache)
    for crd in cache[EXTERNAL_SECRETS]:
        if crd["spec"]["names"]["kind"] in ("ExternalSecret", "ClusterSecretStore"):
            assert "v1" in [v["name"] for v in crd["spec"]["versions"] if v.get("served")]


def test_a_valid_external_secret_and_cluster_secret_store_pass(cache: dict[str, list[dict[str, Any]]]) -> None:
    need_external_secrets_crds(cache)
    assert errors_of(EXTERNAL_SECRET, CLUSTER_SECRET_STORE) == []


def test_a_bad_external_secret_and_cluster_secret_store_fail(cache: dict[str, list[dict[str, Any]]]) -> None:
    need_external_secrets_crds(cache)
    secret = copy.deepcopy(EXTERNAL_SECRET)
    secret["spec"]["secretStoreRef"]["nmae"] = secret["spec"]["secretStoreRef"].pop("name")
    store = copy.deepcopy(CLUSTER_SECRET_STORE)
    store["spec"]["provider"]["aws"]["region"] = ["eu-west-1"]
    errors = errors_of(secret, store)
    assert {(e.kind, e.path) for e in errors} >= {
        ("ExternalSecret", "spec.secretStoreRef.nmae"),
        ("ClusterSecretStore", "spec.provider.aws.region"),
    }


# --- custom kinds: CRDs given with the objects ----------------------------------------------------------------------


def test_a_crd_given_in_extra_crds_is_used() -> None:
    # Found in extra_crds, so the chart cache is not needed.
    assert errors_of(widget(port="http", note=None, extra={"any": {"thing": 1}}), extra_crds=(WIDGET_CRD,)) == []
    assert errors_of(widget(port=8080, labels={"a": "b"}), extra_crds=(WIDGET_CRD,)) == []
    bad = widget(size=0, port=1.5, mode="slow", labels={"a": 1}, colour="red")
    errors = errors_of(bad, extra_crds=(WIDGET_CRD,))
    assert {e.path for e in errors} == {
        "spec.size",
        "spec.port",
        "spec.mode",
        "spec.labels.a",
        "spec.colour",
    }
    missing = widget()
    del missing["spec"]["size"]
    assert [e.message for e in errors_of(missing, extra_crds=(WIDGET_CRD,))] == ["'size' is a required property"]


def test_an_embedded_resource_allows_its_metadata() -> None:
    template = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}}
    assert errors_of(widget(template=template), extra_crds=(WIDGET_CRD,)) == []
    assert [e.path for e in errors_of(widget(template={**template, "spec": {}}), extra_crds=(WIDGET_CRD,))] == [
        "spec.template.spec"
    ]


def test_a_crd_among_the_objects_defines_its_kind() -> None:
    assert errors_of(WIDGET_CRD, widget()) == []
    old = widget()
    old["apiVersion"] = "example.com/v1alpha1"
    (error,) = errors_of(WIDGET_CRD, old)
    assert error.path == "apiVersion" and "not served" in error.message


def test_a_given_crd_takes_precedence_over_the_cache(cache: dict[str, list[dict[str, Any]]]) -> None:
    (crd,) = (c for c in cache["prometheus-operator-crds-31.0.1"] if c["spec"]["names"]["kind"] == "ServiceMonitor")
    newer = copy.deepcopy(crd)
    endpoint = newer["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    endpoint["endpoints"]["items"]["properties"]["newField"] = {"type": "string"}
    assert errors_of(service_monitor(newField="x"), extra_crds=(newer,)) == []
    assert [e.path for e in errors_of(service_monitor(newField="x"))] == ["spec.endpoints[0].newField"]


# --- the CRDs of the chart cache ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chart", CRD_CHARTS)
def test_every_crd_of_the_cache_loads(cache: dict[str, list[dict[str, Any]]], chart: str) -> None:
    if chart == EXTERNAL_SECRETS:
        need_external_secrets_crds(cache)
    assert cache[chart], f"{chart} rendered no CustomResourceDefinition"
    for crd in cache[chart]:
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served"):
                continue
            # An empty object of the kind: errors are fine (required fields), a crash is not.
            obj = {"apiVersion": f"{spec['group']}/{version['name']}", "kind": spec["names"]["kind"], "metadata": {}}
            for error in errors_of(obj):
                assert "unknown kind" not in error.message and "not served" not in error.message


def test_only_the_listed_charts_ship_crds(cache: dict[str, list[dict[str, Any]]]) -> None:
    shipping = {chart for chart, crds in cache.items() if crds}
    assert shipping == set(CRD_CHARTS) - ({EXTERNAL_SECRETS} - shipping)


def test_the_extracted_crds_are_cached_on_disk(cache: dict[str, list[dict[str, Any]]]) -> None:
    for chart in CRD_CHARTS:
        assert list(CRD_CACHE_DIR.glob(f"{chart}-*.json")), chart
    started = time.perf_counter()
    again = subprocess.run(
        [sys.executable, "-c", "from tools.k8s_validate import chart_crds; chart_crds('1.35')"],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
    )
    assert again.returncode == 0
    assert time.perf_counter() - started < 10  # a fresh process reads the disk cache (helm would take longer)


def test_objects_rendered_from_the_cached_charts_pass(cache: dict[str, list[dict[str, Any]]]) -> None:
    """The charts' own output with default values is valid: a guard against false positives."""
    rendered: list[Any] = []
    for chart, version, values in (
        ("kube-prometheus-stack", "88.5.3", []),
        ("velero", "12.1.0", []),
        ("karpenter", "1.14.1", ["--set", "settings.clusterName=c"]),
        ("aws-load-balancer-controller", "3.5.0", ["--set", "clusterName=c"]),
        ("istiod", "1.30.3", []),
    ):
        result = subprocess.run(
            [
                *(str(helm_binary()), "template", chart, str(chart_archive(chart, version)), "--namespace", "ns"),
                *("--kube-version", f"{KUBE}.0", "--include-crds", *values),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rendered.extend(load_yaml_documents(result.stdout))
    assert len(rendered) > 100
    assert [str(e) for e in validate_objects(rendered, KUBE)] == []


# --- the command line -----------------------------------------------------------------------------------------------


def write_manifests(folder: Path, *objects: dict[str, Any]) -> Path:
    (folder / "manifests" / "sub").mkdir(parents=True)
    for number, obj in enumerate(objects):
        (folder / "manifests" / "sub" / f"{number}.yaml").write_text(yaml.safe_dump(obj))
    return folder


def test_cli_exit_0_when_every_object_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_manifests(tmp_path, deployment(), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})
    assert main([str(tmp_path), "--kube-version", KUBE]) == 0
    out = capsys.readouterr().out
    assert "Deployment" in out and "2 objects in 2 files: 0 errors" in out


def test_cli_exit_1_and_one_line_per_error(tmp_path: Path) -> None:
    write_manifests(tmp_path, deployment(replicas="three", replica=1), deployment())
    (tmp_path / "manifests" / "broken.yaml").write_text("a: [b\n")
    result = subprocess.run(
        [sys.executable, "-m", "tools.k8s_validate", str(tmp_path), "--kube-version", KUBE],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{tmp_path}/manifests/sub/0.yaml #1: Deployment apps/web") for line in lines)
    assert sum("spec.replica" in line for line in lines) == 2
    assert any("broken.yaml: not valid YAML" in line for line in lines)
    assert any(line.split() == ["Deployment", "2", "objects", "1", "invalid"] for line in lines)
    assert lines[-1] == "2 objects in 2 files: 3 errors"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-dir", "--kube-version", KUBE], "is not a directory"),
        (["DIR", "--kube-version", "1.10"], "no schemas for Kubernetes '1.10'"),
        (["DIR", "--kube-version", "1.99"], "no schemas for Kubernetes '1.99'"),
        (["EMPTY", "--kube-version", KUBE], "no YAML documents"),
    ],
)
def test_cli_exit_2_on_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write_manifests(tmp_path / "dir", deployment())
    (tmp_path / "empty").mkdir()
    replace = {"DIR": str(tmp_path / "dir"), "EMPTY": str(tmp_path / "empty"), "missing-dir": str(tmp_path / "no")}
    assert main([replace.get(arg, arg) for arg in args]) == 2
    assert message in capsys.readouterr().err


def test_cli_exit_2_without_kube_version(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path)])
    assert exit_.value.code == 2


def test_cli_exit_2_when_the_chart_cache_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORM_CHART_CACHE", str(tmp_path / "no-charts"))
    write_manifests(tmp_path / "dir", service_monitor())
    assert main([str(tmp_path / "dir"), "--kube-version", KUBE]) == 2
    err = capsys.readouterr().err
    assert "no-charts" in err and "PLATFORM_CHART_CACHE" in err
    # Built-in kinds need no cache.
    write_manifests(tmp_path / "builtin", deployment())
    assert main([str(tmp_path / "builtin"), "--kube-version", KUBE]) == 0
