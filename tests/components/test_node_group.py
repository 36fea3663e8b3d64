"""NodeGroup: one managed node group and its launch template, built alone (without a Cluster)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.config import NodeGroupConfig
from components.node_group import NAME_PREFIX_LIMIT, NodeGroup, NodeGroupArgs, name_prefix
from tests.components.context import fixed_context
from tools.engine import Run

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KEY_ARN = "arn:aws:kms:ca-central-1:123456789012:key/0f0e0d0c-0000-4000-8000-000000000000"


def program(group: dict[str, Any]) -> Callable[[], NodeGroup]:
    def build() -> NodeGroup:
        return NodeGroup(
            "batch",
            NodeGroupArgs(
                context=fixed_context(tags={"owner": "platform-team"}),
                config=NodeGroupConfig.model_validate(group),
                cluster_name="platform-test-eks",
                kubernetes_version="1.35",
                node_role_arn="arn:aws:iam::123456789012:role/platform-test-eks-nodes-ca-central-1",
                subnet_ids=["subnet-0a", "subnet-0b"],
                security_group_id="sg-0nodes",
                volume_key_arn=KEY_ARN,
            ),
        )

    return build


GROUP = {"name": "batch", "instanceTypes": ["c7g.xlarge"], "minSize": 0, "maxSize": 4}


def test_a_node_group_is_usable_without_a_cluster_component(build: Callable[..., Run]) -> None:
    run = build(program(GROUP), config={})
    (component,) = run.by_type("platform:cluster:NodeGroup")
    assert component.name == "batch"
    (group,) = run.by_type(NODE_GROUP)
    (template,) = run.by_type(TEMPLATE)
    assert group.parent == template.parent == component.urn
    assert group.inputs["launchTemplate"]["id"] == template.outputs["id"]
    assert group.inputs["subnetIds"] == ["subnet-0a", "subnet-0b"]
    assert group.inputs["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["vpcSecurityGroupIds"] == ["sg-0nodes"]
    ((volume,),) = [[m["ebs"] for m in template.inputs["blockDeviceMappings"]]]
    assert volume["kmsKeyId"] == KEY_ARN and volume["encrypted"] == "true"
    # The stack's tags reach what the nodes launch (default tags do not).
    for spec in template.inputs["tagSpecifications"]:
        assert spec["tags"]["owner"] == "platform-team"
    assert component.outputs["node_group_name"] == group.outputs["nodeGroupName"]


@pytest.mark.parametrize("length", [1, 30, 36, 37, 38])
def test_the_name_prefix_stays_within_the_eks_limit_for_every_allowed_name(length: int) -> None:
    name = ("g" + "a" * 40)[:length]
    NodeGroupConfig.model_validate({**GROUP, "name": name})  # the config allows it
    prefix = name_prefix(name)
    assert len(prefix) <= NAME_PREFIX_LIMIT == 37
    assert prefix.endswith("-") and name.startswith(prefix[:-1])


def test_the_longest_group_name_is_recorded_with_a_prefix_eks_accepts(build: Callable[..., Run]) -> None:
    longest = "g" + "x" * 37  # 38 characters, the most the config allows
    run = build(program({**GROUP, "name": longest}), config={})
    (group,) = run.by_type(NODE_GROUP)
    assert len(group.inputs["nodeGroupNamePrefix"]) <= 37


def test_a_name_prefix_never_ends_in_two_hyphens() -> None:
    assert name_prefix("a" * 35 + "-bc") == "a" * 35 + "-"
