"""Fixtures for the VPC and EC2 guardrails.

Public ingress is a stack rule: a standalone ingress rule is exempt (80/443 from
the internet) only through the tags of the security group its securityGroupId
comes from, so its fixtures are graphs: an application group with an inline
rule, and a load balancer's group with a standalone HTTPS rule.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.policy.harness import DELETE, Case, Change, Res, StackCase, chain, set_path, unknown

SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_URN = "urn:pulumi:test::platform::aws:ec2/vpc:Vpc::vpc"

_https_from_vpc = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/16"]}

APP_GROUP = Res(
    SG, "app", {"vpcId": "vpc-1", "description": "app", "ingress": [_https_from_vpc], "tags": {"Name": "app"}}
)
LB_GROUP = Res(
    SG,
    "alb",
    {"vpcId": "vpc-1", "description": "public load balancer", "tags": {"Name": "alb", "purpose": "load-balancer"}},
)
LB_HTTPS = Res(
    RULE,
    "alb-https",
    {
        "securityGroupId": "sg-0a1b2c3d4e5f60001",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
        "cidrIpv4": "0.0.0.0/0",
        "description": "HTTPS from the internet",
    },
    property_dependencies={"securityGroupId": [LB_GROUP.urn]},
)
INGRESS_GRAPH = [APP_GROUP, LB_GROUP, LB_HTTPS]


def changed(name: str, path: str, value: Any) -> Change:
    """The graph with one property of the resource of that name changed (DELETE removes it)."""

    def change(graph: list[Res]) -> list[Res]:
        return [replace(r, props=set_path(r.props, path, value)) if r.name == name else r for r in graph]

    return change


def relinked(name: str, key: str, urns: list[str]) -> Change:
    def change(graph: list[Res]) -> list[Res]:
        return [replace(r, property_dependencies={key: urns}) if r.name == name else r for r in graph]

    return change


def added(*resources: Res) -> Change:
    return lambda graph: [*graph, *resources]


_app_ingress = "ingress.0"


CASES = [
    StackCase(
        policy="aws-ec2-securitygroup-disallow-public-ingress",
        compliant=INGRESS_GRAPH,
        violating={
            "ssh-from-world": changed(
                "app", _app_ingress, {**_https_from_vpc, "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
            ),
            "https-from-world-not-lb": changed("app", f"{_app_ingress}.cidrBlocks", ["0.0.0.0/0"]),
            "ipv6-world": changed(
                "app", _app_ingress, {**_https_from_vpc, "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]}
            ),
            "lb-but-all-ports": changed(
                "alb", "ingress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]
            ),
            # The exemption comes from the group's tags, never from the rule's own.
            "group-not-a-load-balancer": changed("alb", "tags", {"Name": "alb"}),
            "rule-tagged-but-group-not": chain(
                changed("alb", "tags", {"Name": "alb"}), changed("alb-https", "tags", {"purpose": "load-balancer"})
            ),
            "group-outside-the-stack": relinked("alb-https", "securityGroupId", []),
            "ssh-on-the-load-balancer": chain(changed("alb-https", "fromPort", 22), changed("alb-https", "toPort", 22)),
            "legacy-rule-on-app": added(
                Res(
                    LEGACY,
                    "app-ssh",
                    {
                        "type": "ingress",
                        "securityGroupId": "sg-0app",
                        "protocol": "tcp",
                        "fromPort": 22,
                        "toPort": 22,
                        "cidrBlocks": ["0.0.0.0/0"],
                    },
                    property_dependencies={"securityGroupId": [APP_GROUP.urn]},
                )
            ),
        },
        expect={
            "ssh-from-world": "app: ingress from 0.0.0.0/0 to ports 22-22",
            "https-from-world-not-lb": "app: ingress from 0.0.0.0/0 to ports 443-443",
            "ipv6-world": "ingress from ::/0 to ports 443-443",
            "lb-but-all-ports": "alb: ingress from 0.0.0.0/0 to ports 0-65535",
            "group-not-a-load-balancer": "alb-https: ingress from 0.0.0.0/0 to ports 443-443",
            "rule-tagged-but-group-not": "alb-https: ingress from 0.0.0.0/0 to ports 443-443",
            "group-outside-the-stack": "alb-https: ingress from 0.0.0.0/0 to ports 443-443",
            "ssh-on-the-load-balancer": "alb-https: ingress from 0.0.0.0/0 to ports 22-22",
            "legacy-rule-on-app": "app-ssh: ingress from 0.0.0.0/0 to ports 22-22",
            "ssh-while-lb-tags-unknown": "app: ingress from 0.0.0.0/0 to ports 22-22",
            "lb-opens-ssh-while-app-ingress-unknown": "alb-https: ingress from 0.0.0.0/0 to ports 22-22",
        },
        unknown={
            # The load balancer's tags unknown (its rule cannot be judged), while the app group opens SSH.
            "ssh-while-lb-tags-unknown": chain(
                changed("alb", "tags", unknown()),
                changed("app", f"{_app_ingress}.fromPort", 22),
                changed("app", f"{_app_ingress}.toPort", 22),
                changed("app", f"{_app_ingress}.cidrBlocks", ["0.0.0.0/0"]),
            ),
            "lb-opens-ssh-while-app-ingress-unknown": chain(
                changed("app", "ingress", unknown()),
                changed("alb-https", "fromPort", 22),
                changed("alb-https", "toPort", 22),
            ),
        },
    ),
    Case(
        policy="aws-ec2-securitygroup-disallow-database-port-cidr",
        type=RULE,
        compliant={
            "securityGroupId": "sg-db",
            "ipProtocol": "tcp",
            "fromPort": 5432,
            "toPort": 5432,
            "referencedSecurityGroupId": "sg-nodes",
        },
        violating={
            "postgres-from-vpc-cidr": {"referencedSecurityGroupId": DELETE, "cidrIpv4": "10.0.0.0/16"},
            "redis-in-a-range": {
                "fromPort": 6000,
                "toPort": 7000,
                "referencedSecurityGroupId": DELETE,
                "cidrIpv4": "10.1.0.0/24",
            },
        },
        expect={"postgres-from-vpc-cidr": "port 5432", "redis-in-a-range": "port 6379"},
        unknown=["fromPort"],
    ),
    Case(
        policy="aws-ec2-defaultsecuritygroup-disallow-rules",
        type="aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        compliant={"vpcId": "vpc-1", "ingress": [], "egress": []},
        violating={
            "egress-left": {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}
        },
        expect={"egress-left": "the default security group has egress rules"},
    ),
    Case(
        policy="aws-ec2-subnet-disallow-public-ip-on-launch",
        type="aws:ec2/subnet:Subnet",
        compliant={
            "vpcId": "vpc-1",
            "cidrBlock": "10.0.0.0/24",
            "mapPublicIpOnLaunch": False,
            "tags": {"tier": "private"},
        },
        violating={"private-with-public-ip": {"mapPublicIpOnLaunch": True}},
        expect={"private-with-public-ip": "subnet of tier 'private' assigns public IPs on launch"},
    ),
    StackCase(
        policy="aws-ec2-vpc-missing-flow-logs",
        compliant=[
            Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}),
            Res(
                "aws:ec2/flowLog:FlowLog",
                "flow",
                {"vpcId": "vpc-1", "trafficType": "ALL"},
                property_dependencies={"vpcId": [VPC_URN]},
            ),
        ],
        violating={
            "no-flow-log": lambda graph: [r for r in graph if r.type != "aws:ec2/flowLog:FlowLog"],
            "second-vpc-without": lambda graph: [*graph, Res("aws:ec2/vpc:Vpc", "other", {"cidrBlock": "10.1.0.0/16"})],
        },
        expect={"no-flow-log": "VPC vpc has no flow log", "second-vpc-without": "VPC other has no flow log"},
    ),
    StackCase(
        policy="aws-ec2-vpc-missing-locked-default-security-group",
        compliant=[
            Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}),
            Res(
                "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
                "default",
                {"vpcId": "vpc-1", "ingress": [], "egress": []},
                property_dependencies={"vpcId": [VPC_URN]},
            ),
        ],
        violating={"unmanaged": lambda graph: graph[:1]},
        expect={"unmanaged": "VPC vpc leaves its default security group unmanaged"},
    ),
]
