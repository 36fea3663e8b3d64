"""Velero as the prod stack records it: where backups go (the backup bucket's velero/ prefix, under its key),
what is backed up and when (the teams' schedule table), and what its role may do."""

from __future__ import annotations

import json
from typing import Any

from components.backup_storage import EXPIRY_DAYS
from components.velero import AWS_PLUGIN_IMAGE, SCHEDULES
from tests.conftest import Graph, stack_config, stack_graph


def _rendered(graph: Graph, kind: str, name: str) -> dict[str, Any]:
    found = [
        r["inputs"]
        for r in graph.resources
        if r["type"].startswith("kubernetes:")
        and r["type"].endswith(f":{kind}")
        and r["inputs"].get("metadata", {}).get("name") == name
        and r["inputs"]["metadata"].get("namespace") == "velero"
    ]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _prod() -> Graph:
    return stack_graph("prod", "update")


def test_backups_go_to_the_velero_prefix_of_the_backup_bucket_under_its_key() -> None:
    graph = _prod()
    spec = _rendered(graph, "BackupStorageLocation", "default")["spec"]
    bucket = graph.named("backups-bucket", "aws:s3/bucket:Bucket")["outputs"]["bucket"]
    key = graph.named("backups-key", "aws:kms/key:Key")["outputs"]["arn"]
    assert spec["provider"] == "aws" and spec["default"] is True
    assert spec["objectStorage"] == {"bucket": bucket, "prefix": "velero"}
    assert spec["config"] == {"region": "ca-central-1", "kmsKeyId": key}


def test_the_application_namespaces_are_backed_up_daily_and_hourly_within_the_buckets_lifecycle() -> None:
    graph = _prod()
    namespaces = json.loads(stack_config("prod")["platform:workloads"])["namespaces"]
    expected = {"daily": ("0 2 * * *", "720h"), "hourly": ("0 * * * *", "168h")}
    assert expected == SCHEDULES
    for name, (cron, ttl) in expected.items():
        spec = _rendered(graph, "Schedule", name)["spec"]
        assert spec["schedule"] == cron
        template = spec["template"]
        assert template["ttl"] == ttl and template["includedNamespaces"] == namespaces
        assert template["storageLocation"] == "default" and template["defaultVolumesToFsBackup"] is True
        # Velero deletes a backup at its TTL; the lifecycle must not delete it earlier.
        assert int(ttl.removesuffix("h")) <= EXPIRY_DAYS["velero/"] * 24


def test_the_role_reaches_only_the_velero_prefix_and_the_backup_key_through_s3() -> None:
    graph = _prod()
    trust = json.loads(graph.named("velero-role", "aws:iam/role:Role")["inputs"]["assumeRolePolicy"])
    (subject,) = [v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subject == ["system:serviceaccount:velero:velero-server"]
    policy = json.loads(graph.named("velero-role", "aws:iam/rolePolicy:RolePolicy")["inputs"]["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    bucket_arn = graph.named("backups-bucket", "aws:s3/bucket:Bucket")["outputs"]["arn"]
    assert statements["ReadWriteVeleroPrefix"]["Resource"] == [f"{bucket_arn}/velero/*"]
    listing = statements["ListVeleroPrefix"]
    assert listing["Resource"] == [bucket_arn]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["velero/*", "velero"]
    key = statements["UseBackupKeyThroughS3"]
    assert {"kms:GenerateDataKey*", "kms:Decrypt", "kms:Encrypt"} <= set(key["Action"])
    assert key["Resource"] == [graph.named("backups-key", "aws:kms/key:Key")["outputs"]["arn"]]
    assert key["Condition"]["StringEquals"]["kms:ViaService"] == ["s3.ca-central-1.amazonaws.com"]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any(a.startswith(("iam:", "ec2:", "s3:*", "kms:*")) for a in actions)


def test_the_server_and_node_agent_use_the_role_and_the_aws_plugin() -> None:
    graph = _prod()
    account = _rendered(graph, "ServiceAccount", "velero-server")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/platform-prod-velero-ca-central-1"
    )
    server = _rendered(graph, "Deployment", "velero")["spec"]["template"]["spec"]
    assert server["serviceAccountName"] == "velero-server"
    assert [c["image"] for c in server["initContainers"]] == [AWS_PLUGIN_IMAGE]
    agent = _rendered(graph, "DaemonSet", "node-agent")["spec"]["template"]["spec"]
    assert agent["serviceAccountName"] == "velero-server"
    assert agent["tolerations"] == [{"operator": "Exists"}]
    (container,) = agent["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_velero_is_scraped_and_its_namespace_is_the_only_privileged_one_besides_monitoring() -> None:
    graph = _prod()
    for kind, name in (("ServiceMonitor", "velero"), ("PodMonitor", "node-agent")):
        assert _rendered(graph, kind, name)["metadata"]["labels"]["platform.io/scrape"] == "true"
    privileged = {
        n["inputs"]["metadata"]["name"]
        for n in graph.of_type("kubernetes:core/v1:Namespace")
        if n["inputs"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    }
    assert privileged == {"monitoring", "velero"}
    assert [v for v in graph.document["policy"]["violations"] if v["level"] == "mandatory"] == []
