"""Fixtures for the CloudWatch Logs guardrails (the compliant group is the Network's flow-log group)."""

from __future__ import annotations

from collections.abc import Callable

from tests.policy.harness import DELETE, Case, Res, StackCase, chain, unknown

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FLOW_LOG_GROUP = {
    "kmsKeyId": "arn:aws:kms:ca-central-1:123456789012:key/941a1111-5994-f9fb-9acc-0045d4cef1c3",
    "retentionInDays": 365,
    "name": "/aws/vpc/platform-prod/flow-logs",
}

CONTROL_PLANE_GROUP = {
    "kmsKeyId": "arn:aws:kms:ca-central-1:123456789012:key/d73c80c9-1bbb-f0e0-249f-92f007e03c0e",
    "retentionInDays": 365,
    "name": "/aws/eks/platform-prod-eks/cluster",
}
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP_ARN = "arn:aws:logs:ca-central-1:123456789012:log-group:/aws/vpc/platform-prod/flow-logs"
_GROUP_URN = f"urn:pulumi:test::platform::{LOG_GROUP}::flow-logs"
AUDIT_GRAPH = [
    Res(
        FLOW_LOG,
        "flow-log",
        {"vpcId": "vpc-1ed9ce979cdebd03d", "logDestinationType": "cloud-watch-logs", "logDestination": LOG_GROUP_ARN},
        property_dependencies={"logDestination": [_GROUP_URN]},
    ),
    Res(LOG_GROUP, "flow-logs", {**FLOW_LOG_GROUP, "arn": LOG_GROUP_ARN}),
    Res(LOG_GROUP, "control-plane", CONTROL_PLANE_GROUP),
    # Application logs: short retention is fine, and a name that looks like flow logs is not enough.
    Res(LOG_GROUP, "app", {**FLOW_LOG_GROUP, "name": "/apps/flow-logs", "retentionInDays": 30}),
]


def changed(name: str, key: str, value: object) -> Callable[[list[Res]], list[Res]]:
    def change(graph: list[Res]) -> list[Res]:
        return [
            Res(r.type, r.name, {**r.props, key: value}, r.parent, r.property_dependencies) if r.name == name else r
            for r in graph
        ]

    return change


def first_preview(graph: list[Res]) -> list[Res]:
    """The destination ARN is unknown: the flow log names its group through the property dependency only."""
    return changed("flow-log", "logDestination", unknown())(
        [
            Res(r.type, r.name, {k: v for k, v in r.props.items() if k != "arn"}, r.parent, r.property_dependencies)
            for r in graph
        ]
    )


CASES = [
    Case(
        policy="aws-cloudwatch-loggroup-missing-retention",
        type=LOG_GROUP,
        compliant=FLOW_LOG_GROUP,
        violating={"unset": {"retentionInDays": DELETE}, "zero": {"retentionInDays": 0}},
        expect={"unset": "retentionInDays is not set", "zero": "retentionInDays is 0"},
        unknown=["retentionInDays"],
    ),
    Case(
        policy="aws-cloudwatch-loggroup-missing-kms-key",
        type=LOG_GROUP,
        compliant=FLOW_LOG_GROUP,
        violating={"no-key": {"kmsKeyId": DELETE}, "empty-key": {"kmsKeyId": ""}},
        expect={"no-key": "no kmsKeyId", "empty-key": "the log group has no kmsKeyId"},
        unknown=[],
    ),
    Case(
        # A first preview: the key is created with the stack, so its ARN is not known yet; it is set.
        policy="aws-cloudwatch-loggroup-missing-kms-key",
        type=LOG_GROUP,
        compliant={**FLOW_LOG_GROUP, "kmsKeyId": unknown()},
        violating={"no-key": {"kmsKeyId": DELETE}},
        expect={"no-key": "the log group has no kmsKeyId"},
        unknown=[],
    ),
    StackCase(
        policy="aws-cloudwatch-loggroup-configure-audit-retention",
        compliant=AUDIT_GRAPH,
        violating={
            "flow-logs-30-days": changed("flow-logs", "retentionInDays", 30),
            "control-plane-90-days": changed("control-plane", "retentionInDays", 90),
            "first-preview-flow-logs": chain(changed("flow-logs", "retentionInDays", 30), first_preview),
        },
        expect={
            "flow-logs-30-days": "VPC flow-log group /aws/vpc/platform-prod/flow-logs keeps its logs 30 days; "
            "audit logs are kept at least 365",
            "control-plane-90-days": "EKS control-plane log group /aws/eks/platform-prod-eks/cluster keeps its logs 90",
            "first-preview-flow-logs": "VPC flow-log group /aws/vpc/platform-prod/flow-logs keeps its logs 30 days",
            "unknown-destination": "EKS control-plane log group",
        },
        unknown={
            "unknown-destination": chain(
                changed("flow-log", "logDestination", unknown()),
                lambda graph: [
                    Res(r.type, r.name, r.props, r.parent, {"logDestination": []}) if r.name == "flow-log" else r
                    for r in graph
                ],
                changed("control-plane", "retentionInDays", 90),
            )
        },
    ),
    StackCase(
        # dev lowers the minimum: its flow logs keep 30 days and its control plane 90.
        policy="aws-cloudwatch-loggroup-configure-audit-retention",
        stack="dev",
        compliant=[
            AUDIT_GRAPH[0],
            Res(LOG_GROUP, "flow-logs", {**FLOW_LOG_GROUP, "arn": LOG_GROUP_ARN, "retentionInDays": 30}),
            Res(LOG_GROUP, "control-plane", {**CONTROL_PLANE_GROUP, "retentionInDays": 90}),
        ],
        violating={"flow-logs-14-days": changed("flow-logs", "retentionInDays", 14)},
        expect={"flow-logs-14-days": "keeps its logs 14 days; audit logs are kept at least 30"},
    ),
]
