"""Fixtures for the required-tags stack rule: outputs of the Network's resources as previewed
(``tagsAll`` carries the provider's default tags; inputs have only the resource's own tags)."""

from __future__ import annotations

import copy
from dataclasses import replace

from tests.policy.harness import Res, StackCase, unknown

ACCOUNT = "123456789012"
DEFAULT_TAGS = {
    "environment": "prod",
    "project": "platform",
    "owner": "platform-team",
    "cost-center": "eng-platform",
    "managed-by": "pulumi",
}
KEY_ID = "941a1111-5994-f9fb-9acc-0045d4cef1c3"
KEY_ARN = f"arn:aws:kms:ca-central-1:{ACCOUNT}:key/{KEY_ID}"
LOG_GROUP_ARN = f"arn:aws:logs:ca-central-1:{ACCOUNT}:log-group:/aws/vpc/platform-prod/flow-logs"

GRAPH = [
    Res(
        "pulumi:providers:aws",
        "platform-aws",
        {"region": "ca-central-1", "defaultTags": '{"tags": {"environment": "prod"}}'},
    ),
    Res(
        "aws:ec2/vpc:Vpc",
        "network-vpc",
        {
            "cidrBlock": "10.20.0.0/16",
            "enableDnsSupport": True,
            "enableDnsHostnames": True,
            "id": "vpc-1ed9ce979cdebd03d",
            "tags": {"Name": "platform-prod"},
            "tagsAll": {**DEFAULT_TAGS, "Name": "platform-prod"},
        },
    ),
    Res(
        "aws:kms/key:Key",
        "network-flow-logs",
        {
            "enableKeyRotation": True,
            "description": "platform-prod VPC flow logs",
            "deletionWindowInDays": 30,
            "keyId": KEY_ID,
            "arn": KEY_ARN,
            "id": KEY_ID,
            "tags": {},
            "tagsAll": dict(DEFAULT_TAGS),
            "region": "ca-central-1",
        },
    ),
    Res(
        "aws:cloudwatch/logGroup:LogGroup",
        "network-flow-logs",
        {
            "kmsKeyId": KEY_ARN,
            "retentionInDays": 365,
            "name": "/aws/vpc/platform-prod/flow-logs",
            "arn": LOG_GROUP_ARN,
            "id": "/aws/vpc/platform-prod/flow-logs",
            "tags": {},
            "tagsAll": dict(DEFAULT_TAGS),
            "region": "ca-central-1",
        },
        property_dependencies={"kmsKeyId": ["urn:pulumi:test::platform::aws:kms/key:Key::network-flow-logs"]},
    ),
    # Not taggable: no tagsAll in its outputs, so it is skipped.
    Res(
        "aws:kms/alias:Alias",
        "network-flow-logs",
        {"name": "alias/platform-prod-flow-logs", "targetKeyId": KEY_ID, "region": "ca-central-1"},
    ),
]


def _retag(graph: list[Res], type_: str, **changes: str | None) -> list[Res]:
    for resource in graph:
        if resource.type == type_:
            tags = dict(resource.props["tagsAll"])
            for key, value in changes.items():
                if value is None:
                    tags.pop(key.replace("_", "-"), None)
                else:
                    tags[key.replace("_", "-")] = value
            resource.props["tagsAll"] = tags
    return graph


CASES = [
    StackCase(
        policy="aws-tags-resource-missing-required-tags",
        compliant=GRAPH,
        violating={
            "log-group-without-cost-center": lambda g: _retag(g, "aws:cloudwatch/logGroup:LogGroup", cost_center=None),
            "key-with-empty-owner": lambda g: _retag(g, "aws:kms/key:Key", owner=""),
        },
        expect={
            "log-group-without-cost-center": "aws:cloudwatch/logGroup:LogGroup network-flow-logs lacks required tags: "
            "cost-center",
            "key-with-empty-owner": "lacks required tags: owner",
            "unknown-vpc-tags": "aws:cloudwatch/logGroup:LogGroup network-flow-logs lacks required tags: cost-center",
        },
        unknown={
            # The VPC's tags unknown (it comes first); the log group's missing tag still shows.
            "unknown-vpc-tags": lambda g: _retag(
                [replace(r, props={**r.props, "tagsAll": unknown()}) if r.type == "aws:ec2/vpc:Vpc" else r for r in g],
                "aws:cloudwatch/logGroup:LogGroup",
                cost_center=None,
            )
        },
    ),
    StackCase(
        policy="aws-tags-resource-missing-required-tags",
        compliant=_retag(copy.deepcopy(GRAPH[:2]), "aws:ec2/vpc:Vpc", data_classification="internal"),
        config={"requiredTags": ["environment", "data-classification"]},
        violating={"configured-tag-missing": lambda g: _retag(g, "aws:ec2/vpc:Vpc", data_classification=None)},
        expect={"configured-tag-missing": "aws:ec2/vpc:Vpc network-vpc lacks required tags: data-classification"},
    ),
]
