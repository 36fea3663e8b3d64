"""In-cluster objects against the official Kubernetes schemas (kubernetes-validate, strict),
for the cluster's Kubernetes version in each stack."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from components.config import EKS_STANDARD_SUPPORT
from tests.conftest import Graph, stack_config, stack_graph
from tools.engine import Run
from tools.render import kubernetes_manifests


def _run_of(graph: Graph) -> Run:
    from tools.engine import Resource

    resources = [
        Resource(
            urn=r["urn"], type=r["type"], name=r["name"], parent=r["parent"], custom=r["custom"], inputs=r["inputs"]
        )
        for r in graph.resources
    ]
    return Run(
        project="platform", stack=graph.stack, mode=graph.mode, resources=resources, outputs={}, secret_outputs=[]
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_in_cluster_object_is_valid_for_the_clusters_kubernetes_version(stack: str) -> None:
    version = json.loads(stack_config(stack)["platform:cluster"])["kubernetesVersion"]
    assert version in EKS_STANDARD_SUPPORT
    manifests = kubernetes_manifests(_run_of(stack_graph(stack, "update")))
    # Patches are partial objects by design: the schemas would call them incomplete.
    full = {name: text for name, text in manifests.items() if not name.endswith("-patch.yaml")}
    assert full, "the stack has in-cluster objects"
    for text in full.values():
        # Raises with the failing path and schema when the object is not valid.
        kubernetes_validate.validate(yaml.safe_load(text), version, strict=True)


def test_an_invalid_object_is_caught() -> None:
    bad = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "x"}, "provisoner": "typo"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.35", strict=True)
