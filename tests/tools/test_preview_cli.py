"""`python -m tools.preview`: the JSON contract, the readable preview, artifacts, exit codes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_DIR, Graph, run_preview, stack_graph

RESOURCE_KEYS = {"urn", "type", "name", "parent", "inputs", "protect", "dependencies"}


def test_json_has_the_documented_shape(any_graph: Graph) -> None:
    document = any_graph.document
    assert {"stack", "mode", "resources", "outputs", "policy", "summary"} <= set(document)
    assert document["stack"] in ("dev", "prod") and document["mode"] in ("preview", "update")
    for resource in document["resources"]:
        assert set(resource) >= RESOURCE_KEYS, resource["urn"]
    assert isinstance(document["policy"]["violations"], list)
    for violation in document["policy"]["violations"]:
        assert {"policy", "level", "urn", "message"} <= set(violation)
    managed = [r for r in document["resources"] if r["type"] != "pulumi:pulumi:Stack"]
    assert document["summary"]["resources"] == len(managed)
    assert sum(document["summary"]["byType"].values()) == len(managed)


def test_every_resource_but_the_stack_has_a_parent_in_the_graph(any_graph: Graph) -> None:
    urns = {r["urn"] for r in any_graph.resources}
    for resource in any_graph.resources:
        if resource["type"] == "pulumi:pulumi:Stack":
            assert resource["parent"] is None
        else:
            assert resource["parent"] in urns, resource["urn"]
        assert set(resource["dependencies"]) <= urns


def test_prod_and_dev_differ_where_the_stack_files_say() -> None:
    dev, prod = stack_graph("dev", "update"), stack_graph("prod", "update")
    assert dev.document["summary"]["resources"] < prod.document["summary"]["resources"]


def test_text_preview_reads_like_pulumi_preview() -> None:
    result = run_preview("--stack", "prod")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Previewing create of platform/prod" in text
    assert " +   pulumi:pulumi:Stack" in text and "├─ platform:network:Network" in text
    assert "├─ platform:monitoring:Alarms" in text and "├─ platform:cluster:Addons" in text
    assert "└─ platform:workloads:Workloads" in text
    assert "Resources:" in text and "By type:" in text and "Outputs:" in text
    assert 'vpcCidr: "10.10.0.0/16"' in text
    assert "vpcId: output<unknown until created>" in text


def test_secure_values_become_placeholders_announced_once_and_stay_secret(tmp_path: Path) -> None:
    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    doc["config"]["platform:monitoringSlackWebhookUrl"] = {"secure": "v1:AAAAencryptedAAAA"}
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    text = run_preview("--stack", "prod", "--config-file", str(stack_file))
    assert text.returncode == 0, text.stderr
    assert text.stdout.count("cannot be decrypted offline") == 1
    assert "platform:monitoringSlackWebhookUrl" in text.stdout
    result = run_preview("--stack", "prod", "--config-file", str(stack_file), "--json")
    document = json.loads(result.stdout)
    assert document["summary"]["securePlaceholders"] == ["platform:monitoringSlackWebhookUrl"]
    assert "AAAAencryptedAAAA" not in result.stdout


def test_out_writes_the_graph_as_dot_and_picture(tmp_path: Path) -> None:
    if shutil.which("dot") is None and os.environ.get("CI") != "true":
        pytest.skip("graphviz `dot` is not installed (CI installs it with apt-get)")
    result = run_preview("--stack", "dev", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    dot = (tmp_path / "graph.dot").read_text()
    assert dot.startswith("digraph platform_dev") and "network-vpc" in dot
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifests = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "manifests").glob("*.yaml")}
    gp3 = manifests["storageclass-cluster-gp3.yaml"]
    assert (gp3["apiVersion"], gp3["kind"], gp3["metadata"]["name"]) == ("storage.k8s.io/v1", "StorageClass", "gp3")
    assert gp3["volumeBindingMode"] == "WaitForFirstConsumer" and gp3["parameters"]["encrypted"] == "true"


def test_unknown_stack_exits_2_with_the_missing_file_named() -> None:
    result = run_preview("--stack", "staging")
    assert result.returncode == 2
    assert "Pulumi.staging.yaml: file not found" in result.stderr and "Traceback" not in result.stderr


def test_bad_mode_is_refused_by_the_argument_parser() -> None:
    result = run_preview("--stack", "dev", "--mode", "destroy")
    assert result.returncode == 2 and "invalid choice: 'destroy'" in result.stderr
