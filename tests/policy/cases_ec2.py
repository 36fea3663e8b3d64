"""Fixtures for the VPC and EC2 guardrails."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case, Res, StackCase

SG = "aws:ec2/securityGroup:SecurityGroup"
RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
VPC_URN = "urn:pulumi:test::platform::aws:ec2/vpc:Vpc::vpc"

_https_from_vpc = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/16"]}

CASES = [
    Case(
        policy="aws-ec2-securitygroup-disallow-public-ingress",
        type=SG,
        compliant={"vpcId": "vpc-1", "description": "app", "ingress": [_https_from_vpc], "tags": {"Name": "app"}},
        violating={
            "ssh-from-world": {
                "ingress": [{**_https_from_vpc, "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]
            },
            "https-from-world-not-lb": {"ingress": [{**_https_from_vpc, "cidrBlocks": ["0.0.0.0/0"]}]},
            "ipv6-world": {"ingress": [{**_https_from_vpc, "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]}]},
            "lb-but-all-ports": {
                "tags": {"purpose": "load-balancer"},
                "ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
            },
        },
        expect={"ssh-from-world": "0.0.0.0/0 to ports 22-22", "lb-but-all-ports": "ports 0-65535"},
    ),
    Case(
        policy="aws-ec2-securitygroup-disallow-public-ingress",
        type=RULE,
        compliant={
            "securityGroupId": "sg-1",
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrIpv4": "0.0.0.0/0",
            "tags": {"purpose": "load-balancer"},
        },
        violating={"not-a-load-balancer": {"tags": {}}, "ssh": {"fromPort": 22, "toPort": 22}},
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
        expect={"second-vpc-without": "VPC other has no flow log"},
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
    ),
]
