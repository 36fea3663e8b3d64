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
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NODE_GROUP_SG = Res(
    SG,
    "nodes",
    {
        "vpcId": "vpc-1",
        "description": "nodes",
        "tags": {"Name": "nodes", "kubernetes.io/cluster/platform-prod": "owned"},
    },
)
EGRESS_GRAPH = [
    APP_GROUP,
    NODE_GROUP_SG,
    # The nodes go out to the world on every port (through the NAT gateways): exempt.
    Res(
        EGRESS,
        "nodes-all-out",
        {"securityGroupId": "sg-0nodes", "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"},
        property_dependencies={"securityGroupId": [NODE_GROUP_SG.urn]},
    ),
]


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

# --- the routes of data-store subnets: the Network's tiers as an update sends them (ids and dependencies) ---

SUBNET = "aws:ec2/subnet:Subnet"
TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
RDS_SUBNETS = "aws:rds/subnetGroup:SubnetGroup"
CACHE_SUBNETS = "aws:elasticache/subnetGroup:SubnetGroup"
IGW = Res("aws:ec2/internetGateway:InternetGateway", "igw", {"vpcId": "vpc-1"})
NAT = Res("aws:ec2/natGateway:NatGateway", "nat-a", {"subnetId": "subnet-0pub0a"})
EIGW = Res("aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway", "eigw", {"vpcId": "vpc-1"})
VGW = Res("aws:ec2/vpnGateway:VpnGateway", "vgw", {"vpcId": "vpc-1"})
IDS = {"igw": "igw-0a1b", "nat-a": "nat-0a1b", "eigw": "eigw-0a1b", "vgw": "vgw-0a1b"}


def _subnet(name: str, tier: str) -> Res:
    return Res(SUBNET, name, {"vpcId": "vpc-1", "tags": {"tier": tier}})


SUBNETS = {name: _subnet(name, name.split("-")[0]) for name in ("public-a", "private-a", "database-a", "database-b")}
SUBNET_IDS = {name: f"subnet-0{name.replace('-', '')}" for name in SUBNETS}
TABLES = {
    "public": Res(
        TABLE,
        "public",
        {"vpcId": "vpc-1", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": IDS["igw"]}]},
        property_dependencies={"routes": [IGW.urn]},
    ),
    "private-a": Res(TABLE, "private-a", {"vpcId": "vpc-1"}),
    # Peering to a shared-services VPC is no way out to the internet.
    "database": Res(
        TABLE,
        "database",
        {"vpcId": "vpc-1", "routes": [{"cidrBlock": "10.20.0.0/16", "vpcPeeringConnectionId": "pcx-0a1b"}]},
    ),
}
TABLE_IDS = {name: f"rtb-0{name.replace('-', '')}" for name in TABLES}


def route(name: str, table: str, target: str, kind: str, destination: str = "0.0.0.0/0") -> Res:
    """A Route from a table to a gateway (kind: the property naming it)."""
    key = "destinationIpv6CidrBlock" if ":" in destination else "destinationCidrBlock"
    return Res(
        ROUTE,
        name,
        {"routeTableId": TABLE_IDS[table], key: destination, kind: IDS[target]},
        property_dependencies={"routeTableId": [TABLES[table].urn], kind: [GATEWAYS[target].urn]},
    )


GATEWAYS = {g.name: g for g in (IGW, NAT, EIGW, VGW)}


def association(subnet: str, table: str) -> Res:
    return Res(
        ASSOCIATION,
        f"{subnet}-assoc",
        {"subnetId": SUBNET_IDS[subnet], "routeTableId": TABLE_IDS[table]},
        property_dependencies={"subnetId": [SUBNETS[subnet].urn], "routeTableId": [TABLES[table].urn]},
    )


def subnet_group(kind: str, name: str, subnets: list[str]) -> Res:
    return Res(
        kind,
        name,
        {"subnetIds": [SUBNET_IDS[s] for s in subnets], "name": f"platform-prod-{name}"},
        property_dependencies={"subnetIds": [SUBNETS[s].urn for s in subnets]},
    )


DB_SUBNETS = subnet_group(RDS_SUBNETS, "db-subnets", ["database-a", "database-b"])
NETWORK = [
    IGW,
    NAT,
    EIGW,
    VGW,
    *SUBNETS.values(),
    *TABLES.values(),
    route("private-a-egress", "private-a", "nat-a", "natGatewayId"),
    # A default route to on-premises through a VPN gateway is not to the internet.
    route("database-on-premises", "database", "vgw", "gatewayId"),
    association("public-a", "public"),
    association("private-a", "private-a"),
    association("database-a", "database"),
    association("database-b", "database"),
]
ROUTING_GRAPH = [*NETWORK, DB_SUBNETS]
CACHE_GRAPH = [*ROUTING_GRAPH, subnet_group(CACHE_SUBNETS, "cache-subnets", ["database-a", "database-b"])]
PRIVATE_A = "private-a (0.0.0.0/0 via NAT gateway, route table private-a)"


def node_group(subnets: list[str]) -> Res:
    return Res(
        "aws:eks/nodeGroup:NodeGroup",
        "nodes",
        {"clusterName": "platform-prod", "subnetIds": [SUBNET_IDS[s] for s in subnets]},
        property_dependencies={"subnetIds": [SUBNETS[s].urn for s in subnets]},
    )


NODES = node_group(["private-a"])


def regrouped_nodes(subnets: list[str]) -> Change:
    return lambda graph: [node_group(subnets) if r.name == "nodes" else r for r in graph]


def regrouped(name: str, subnets: list[str]) -> Change:
    """The subnet group of that name on other subnets (ids and dependencies)."""

    def change(graph: list[Res]) -> list[Res]:
        return [subnet_group(r.type, name, subnets) if r.name == name else r for r in graph]

    return change


def first_preview(graph: list[Res]) -> list[Res]:
    """The graph as a first preview sends it: every id unknown, the property dependencies recorded."""
    ids = {"subnetIds", "subnetId", "routeTableId", "natGatewayId", "gatewayId", "egressOnlyGatewayId"}

    def blank(props: dict[str, Any]) -> dict[str, Any]:
        result = {k: unknown() if k in ids else v for k, v in props.items()}
        if "routes" in result:
            result["routes"] = [blank(r) for r in result["routes"]]
        return result

    return [replace(r, props=blank(r.props)) for r in graph]


def previewed(*changes: Change) -> Change:
    return chain(*changes, first_preview)


CASES = [
    Case(
        policy="aws-ec2-securitygroup-disallow-public-ingress",
        type=SG,
        compliant=APP_GROUP.props,
        violating={
            "ssh-from-world": {
                _app_ingress: {**_https_from_vpc, "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
            },
            "https-from-world-not-lb": {f"{_app_ingress}.cidrBlocks": ["0.0.0.0/0"]},
            "half-the-world": {f"{_app_ingress}.cidrBlocks": ["0.0.0.0/1"]},
            "a-public-block": {f"{_app_ingress}.cidrBlocks": ["52.94.0.0/22"]},
            "ipv6-world": {_app_ingress: {**_https_from_vpc, "cidrBlocks": [], "ipv6CidrBlocks": ["::/0"]}},
        },
        expect={
            "ssh-from-world": "fixture: ingress from 0.0.0.0/0 to ports 22-22",
            "https-from-world-not-lb": "ingress from 0.0.0.0/0 to ports 443-443",
            "half-the-world": "ingress from 0.0.0.0/1 to ports 443-443",
            "a-public-block": "ingress from 52.94.0.0/22",
            "ipv6-world": "ingress from ::/0 to ports 443-443",
        },
        unknown=[f"{_app_ingress}.cidrBlocks"],
    ),
    Case(
        # A load balancer's group may take HTTPS from the world inline, never every port; carrier-grade NAT is private.
        policy="aws-ec2-securitygroup-disallow-public-ingress",
        type=SG,
        compliant={
            **LB_GROUP.props,
            "ingress": [
                {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
                {"protocol": "tcp", "fromPort": 8080, "toPort": 8080, "cidrBlocks": ["100.64.0.0/16"]},
            ],
        },
        violating={
            "lb-but-all-ports": {
                "ingress.0": {"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}
            },
            "group-not-a-load-balancer": {"tags": {"Name": "alb"}},
        },
        expect={
            "lb-but-all-ports": "ingress from 0.0.0.0/0 to ports 0-65535",
            "group-not-a-load-balancer": "ingress from 0.0.0.0/0 to ports 443-443",
        },
        unknown=["ingress.0.cidrBlocks"],
    ),
    Case(
        # Judged before anything exists: a standalone rule opening SSH to the world, whatever its group.
        policy="aws-ec2-securitygroup-disallow-public-ingress",
        type=RULE,
        compliant=LB_HTTPS.props,
        violating={
            "ssh": {"fromPort": 22, "toPort": 22},
            "referenced-group-too": {"fromPort": 22, "toPort": 22, "referencedSecurityGroupId": unknown()},
        },
        expect={"ssh": "ingress from 0.0.0.0/0 to ports 22-22", "referenced-group-too": "ports 22-22"},
        unknown=["cidrIpv4"],
    ),
    StackCase(
        policy="aws-ec2-securitygroup-disallow-public-web-ingress",
        compliant=INGRESS_GRAPH,
        violating={
            # The exemption comes from the group's tags, never from the rule's own.
            "group-not-a-load-balancer": changed("alb", "tags", {"Name": "alb"}),
            "rule-tagged-but-group-not": chain(
                changed("alb", "tags", {"Name": "alb"}), changed("alb-https", "tags", {"purpose": "load-balancer"})
            ),
            "group-outside-the-stack": relinked("alb-https", "securityGroupId", []),
            "legacy-rule-on-app": added(
                Res(
                    LEGACY,
                    "app-https",
                    {
                        "type": "ingress",
                        "securityGroupId": "sg-0app",
                        "protocol": "tcp",
                        "fromPort": 443,
                        "toPort": 443,
                        "cidrBlocks": ["0.0.0.0/0"],
                    },
                    property_dependencies={"securityGroupId": [APP_GROUP.urn]},
                )
            ),
        },
        expect={
            "group-not-a-load-balancer": "alb-https: ingress from 0.0.0.0/0 to ports 443-443 on group alb",
            "rule-tagged-but-group-not": "alb-https: ingress from 0.0.0.0/0 to ports 443-443",
            "group-outside-the-stack": "on a group outside this stack",
            "legacy-rule-on-app": "app-https: ingress from 0.0.0.0/0 to ports 443-443 on group app",
            "https-while-lb-rule-cidr-unknown": "app-https: ingress from 0.0.0.0/0 to ports 443-443",
        },
        unknown={
            # The load balancer rule's CIDR unknown (it cannot be judged), while a rule on the app group opens HTTPS.
            "https-while-lb-rule-cidr-unknown": chain(
                changed("alb-https", "cidrIpv4", unknown()),
                added(
                    Res(
                        RULE,
                        "app-https",
                        {
                            "securityGroupId": "sg-0app",
                            "ipProtocol": "tcp",
                            "fromPort": 443,
                            "toPort": 443,
                            "cidrIpv4": "0.0.0.0/0",
                        },
                        property_dependencies={"securityGroupId": [APP_GROUP.urn]},
                    )
                ),
            ),
        },
    ),
    StackCase(
        policy="aws-ec2-securitygroup-disallow-public-egress-all-ports",
        compliant=EGRESS_GRAPH,
        violating={
            "app-group-all-out": added(
                Res(
                    EGRESS,
                    "app-all-out",
                    {"securityGroupId": "sg-0app", "ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"},
                    property_dependencies={"securityGroupId": [APP_GROUP.urn]},
                )
            ),
            "inline-every-port": changed(
                "app", "egress", [{"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["0.0.0.0/1"]}]
            ),
            "nodes-no-longer-owned": changed("nodes", "tags", {"Name": "nodes"}),
        },
        expect={
            "app-group-all-out": "app-all-out: egress to 0.0.0.0/0 on every port",
            "inline-every-port": "app: egress to 0.0.0.0/1 on every port",
            "nodes-no-longer-owned": "nodes-all-out: egress to 0.0.0.0/0 on every port",
            "app-out-while-nodes-rule-unknown": "app: egress to 0.0.0.0/0 on every port",
        },
        stack="dev",
        unknown={
            "app-out-while-nodes-rule-unknown": chain(
                changed("nodes-all-out", "cidrIpv4", unknown()),
                changed("app", "egress", [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]),
            )
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
    StackCase(
        policy="aws-ec2-subnet-disallow-internet-route-for-data-stores",
        compliant=ROUTING_GRAPH,
        violating={
            "private-subnets": regrouped("db-subnets", ["private-a", "database-b"]),
            "public-subnet": regrouped("db-subnets", ["database-a", "public-a"]),
            "nat-route-on-database-table": added(route("database-egress", "database", "nat-a", "natGatewayId")),
            "ipv6-egress-only": added(route("database-v6", "database", "eigw", "egressOnlyGatewayId", "::/0")),
            "vpn-becomes-internet-gateway": chain(
                lambda g: [r for r in g if r.name != "database-on-premises"],
                added(route("database-on-premises", "database", "igw", "gatewayId")),
            ),
            "inline-default-route": changed(
                "database", "routes", [{"cidrBlock": "0.0.0.0/0", "natGatewayId": IDS["nat-a"]}]
            ),
            "association-moved": lambda g: [
                association("database-b", "private-a") if r.name == "database-b-assoc" else r for r in g
            ],
            # Subnet ids given as literals (another stack's, or config): matched by id alone.
            "by-id-without-dependencies": lambda g: [
                replace(r, props={**r.props, "subnetIds": [SUBNET_IDS["private-a"]]}, property_dependencies={})
                if r.name == "db-subnets"
                else r
                for r in g
            ],
        },
        expect={
            "private-subnets": f"subnet group db-subnets has subnets routed to the internet: {PRIVATE_A}",
            "public-subnet": "public-a (0.0.0.0/0 via internet gateway, route table public)",
            "nat-route-on-database-table": "database-a (0.0.0.0/0 via NAT gateway, route table database); "
            "database-b (0.0.0.0/0 via NAT gateway, route table database)",
            "ipv6-egress-only": "database-a (::/0 via egress-only internet gateway, route table database)",
            "vpn-becomes-internet-gateway": "database-a (0.0.0.0/0 via internet gateway, route table database)",
            "inline-default-route": "database-a (0.0.0.0/0 via NAT gateway, route table database)",
            "association-moved": "routed to the internet: database-b (0.0.0.0/0 via NAT gateway, route table "
            "private-a)",
            "by-id-without-dependencies": f"routed to the internet: {PRIVATE_A}",
        },
    ),
    StackCase(
        # A first preview: no id is known yet, the property dependencies say what refers to what.
        policy="aws-ec2-subnet-disallow-internet-route-for-data-stores",
        compliant=first_preview(ROUTING_GRAPH),
        violating={
            "private-subnets": previewed(regrouped("db-subnets", ["private-a", "database-b"])),
            "public-subnet": previewed(regrouped("db-subnets", ["public-a"])),
            "nat-route-on-database-table": previewed(
                added(route("database-egress", "database", "nat-a", "natGatewayId"))
            ),
            "vpn-becomes-internet-gateway": previewed(
                lambda g: [r for r in g if r.name != "database-on-premises"],
                added(route("database-on-premises", "database", "igw", "gatewayId")),
            ),
        },
        expect={
            "private-subnets": f"subnet group db-subnets has subnets routed to the internet: {PRIVATE_A}",
            "public-subnet": "public-a (0.0.0.0/0 via internet gateway, route table public)",
            "nat-route-on-database-table": "database-a (0.0.0.0/0 via NAT gateway, route table database)",
            "vpn-becomes-internet-gateway": "database-a (0.0.0.0/0 via internet gateway, route table database)",
            "cache-subnets-from-elsewhere": f"db-subnets has subnets routed to the internet: {PRIVATE_A}",
            "route-target-unresolvable": f"db-subnets has subnets routed to the internet: {PRIVATE_A}",
        },
        unknown={
            # The cache's subnet ids come from nothing in this stack (unknown, no dependencies): it is not judged.
            "cache-subnets-from-elsewhere": previewed(
                regrouped("db-subnets", ["private-a"]),
                added(Res(CACHE_SUBNETS, "cache-subnets", {"subnetIds": unknown()})),
            ),
            # A route on the database table whose gateway cannot be told: the clean cache group is not judged.
            "route-target-unresolvable": chain(
                added(subnet_group(CACHE_SUBNETS, "cache-subnets", ["database-a"])),
                previewed(regrouped("db-subnets", ["private-a"])),
                added(
                    Res(
                        ROUTE,
                        "database-mystery",
                        {"routeTableId": unknown(), "destinationCidrBlock": "0.0.0.0/0", "gatewayId": unknown()},
                        property_dependencies={"routeTableId": [TABLES["database"].urn]},
                    )
                ),
            ),
        },
    ),
    StackCase(
        # ElastiCache subnet groups are held to the same; one group's unknown subnets hide nothing of another.
        policy="aws-ec2-subnet-disallow-internet-route-for-data-stores",
        compliant=CACHE_GRAPH,
        stack="dev",
        violating={"cache-on-private-subnets": regrouped("cache-subnets", ["private-a"])},
        expect={
            "cache-on-private-subnets": f"subnet group cache-subnets has subnets routed to the internet: {PRIVATE_A}",
            "db-subnets-unknown": f"subnet group cache-subnets has subnets routed to the internet: {PRIVATE_A}",
            "association-unresolvable": f"subnet group db-subnets has subnets routed to the internet: {PRIVATE_A}",
        },
        unknown={
            "db-subnets-unknown": chain(
                changed("db-subnets", "subnetIds", unknown()),
                lambda g: [replace(r, property_dependencies={}) if r.name == "db-subnets" else r for r in g],
                regrouped("cache-subnets", ["private-a"]),
            ),
            # An association that cannot be resolved may route the clean cache group out: it is not judged; the
            # database group is routed out for sure.
            "association-unresolvable": chain(
                added(Res(ASSOCIATION, "mystery-assoc", {"subnetId": unknown(), "routeTableId": TABLE_IDS["public"]})),
                regrouped("db-subnets", ["private-a"]),
            ),
        },
    ),
    StackCase(
        policy="aws-eks-nodegroup-disallow-public-subnets",
        compliant=[*NETWORK, NODES],
        violating={
            "public-subnet": regrouped_nodes(["private-a", "public-a"]),
            "isolated-subnet": regrouped_nodes(["database-a"]),
        },
        expect={
            "public-subnet": "public-a routes 0.0.0.0/0 to an internet gateway",
            "isolated-subnet": "database-a has no default route through a NAT gateway",
        },
    ),
]
