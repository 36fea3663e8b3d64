"""Guardrails: VPC and EC2 networking (flow logs, security groups, subnets, the routes of data-store subnets)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from guardrails.base import (
    Reference,
    as_list,
    config_value,
    depends_on,
    each,
    is_true,
    known_only,
    number,
    reference,
    resource_rule,
    stack_rule,
)

VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
DATA_SUBNET_GROUPS = ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup")
WORLD = {"0.0.0.0/0", "::/0"}
LOAD_BALANCER_TAG = ("purpose", "load-balancer")
DATA_PORTS = (5432, 6379)


def _rules_of(resource_type: str, props: Mapping[str, Any], direction: str) -> list[dict[str, Any]]:
    """Every ingress (or egress) permission of a resource as {fromPort, toPort, protocol, cidrs}.

    Only CIDR sources are read: a permission from a security group or prefix list has no CIDR, whether its id is
    known yet or not, so a referenced group still to be created never stops a check.
    """
    if resource_type in (INGRESS_RULE, EGRESS_RULE):
        if (resource_type == INGRESS_RULE) != (direction == "ingress"):
            return []
        cidrs = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c]
        return [
            {
                "fromPort": props.get("fromPort"),
                "toPort": props.get("toPort"),
                "protocol": props.get("ipProtocol"),
                "cidrs": cidrs,
            }
        ]
    if resource_type == LEGACY_RULE:
        if props.get("type") != direction:
            return []
        return [
            {
                "fromPort": props.get("fromPort"),
                "toPort": props.get("toPort"),
                "protocol": props.get("protocol"),
                "cidrs": as_list(props.get("cidrBlocks")) + as_list(props.get("ipv6CidrBlocks")),
            }
        ]
    return [
        {
            "fromPort": rule.get("fromPort"),
            "toPort": rule.get("toPort"),
            "protocol": rule.get("protocol"),
            "cidrs": as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks")),
        }
        for rule in as_list(props.get(direction))
    ]


def _ingress_entries(resource_type: str, props: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _rules_of(resource_type, props, "ingress")


# "The world": any CIDR that is not private. 0.0.0.0/1 is as open as 0.0.0.0/0. Python's is_private holds for a
# network when its first and last addresses are private, so a block wider than the widest private block (/8 in
# IPv4: 10/8, 127/8; /7 in IPv6: fc00::/7) spans public space whatever its ends. 100.64.0.0/10 (carrier-grade
# NAT, RFC 6598: a VPC may use it) is private here, although is_private says no.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
WIDEST_PRIVATE_PREFIX = {4: 8, 6: 7}


def _is_world(cidr: Any) -> bool:
    """Whether a CIDR (or address) reaches beyond private address space; an invalid one counts as the world."""
    try:
        network = ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return True
    if network.version == 4 and network.subnet_of(SHARED_ADDRESS_SPACE):  # type: ignore[arg-type]
        return False
    return not (network.is_private and network.prefixlen >= WIDEST_PRIVATE_PREFIX[network.version])


def _ports(entry: Mapping[str, Any]) -> tuple[int, int]:
    """The port range an entry opens; all protocols ("-1") open every port."""
    if str(entry.get("protocol")) in ("-1", "all"):
        return 0, 65535
    return int(number(entry.get("fromPort"), 0)), int(number(entry.get("toPort"), 65535))


def _covers(entry: Mapping[str, Any], port: int) -> bool:
    low, high = _ports(entry)
    return low <= port <= high


def _is_load_balancer_group(group: PolicyResource) -> bool:
    key, value = LOAD_BALANCER_TAG
    return any((group.props.get(field) or {}).get(key) == value for field in ("tags", "tagsAll"))


def _group_of(rule: PolicyResource) -> PolicyResource | None:
    """The security group of this stack that a standalone rule's ``securityGroupId`` comes from."""
    deps = rule.property_dependencies.get("securityGroupId", [])
    groups = [dep for dep in deps if dep.resource_type == SECURITY_GROUP]
    return groups[0] if len(groups) == 1 else None


# Public ingress is judged where it can be judged first. A resource rule runs in `pulumi up --skip-preview` before
# anything is created, so everything a permission says by itself is judged there: any opening to the world on a port
# outside allowedPublicPorts, and a SecurityGroup's inline ingress whole (its own tags say whether it is a load
# balancer's). What a standalone rule (SecurityGroupIngressRule, SecurityGroupRule) opens on an allowed port depends
# on the tags of its group, another resource, which only a stack rule sees (stack rules run after the resources are
# created): that case alone is the stack rule's. Each opening is reported by exactly one of the two.
PUBLIC_PORTS_CONFIG = {
    "allowedPublicPorts": {
        "type": "array",
        "items": {"type": "integer"},
        "default": [80, 443],
        "description": "Ports a load balancer's security group (tagged purpose=load-balancer) may open to the world.",
    }
}


def _world_openings(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, int, int]]:
    """(the world CIDRs, low port, high port) of every ingress permission open to the world."""
    for entry in _ingress_entries(resource_type, props):
        opened = sorted({str(c) for c in entry["cidrs"] if _is_world(c)})
        if opened:
            low, high = _ports(entry)
            yield ", ".join(opened), low, high


def _on_allowed_port(low: int, high: int, allowed: set[int]) -> bool:
    return low == high and low in allowed


def _tagged_load_balancer(props: Mapping[str, Any]) -> bool:
    key, value = LOAD_BALANCER_TAG
    return any((props.get(field) or {}).get(key) == value for field in ("tags", "tagsAll"))


@resource_rule(
    name="aws-ec2-securitygroup-disallow-public-ingress",
    description="Security groups must not admit traffic from the world (any CIDR that is not private: 0.0.0.0/1 is "
    "as open as 0.0.0.0/0; 100.64.0.0/10 counts as private), inline or in standalone ingress rules, except on "
    "allowedPublicPorts (HTTP/HTTPS) of a load balancer's group. Judged before anything is created; a standalone "
    "rule on an allowed port is judged by aws-ec2-securitygroup-disallow-public-web-ingress, which sees its group.",
    resource_types=[SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE],
    severity=Severity.CRITICAL,
    control="AWS-FSBP EC2.18",
    remediation=(
        "Admit traffic from the security groups or private CIDRs that need it. Only a load balancer's group "
        "(the SecurityGroup tagged purpose=load-balancer) may take the allowedPublicPorts (80/443) from the internet, "
        "one port per permission."
    ),
    config=PUBLIC_PORTS_CONFIG,
)
def _public_ingress(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    allowed = {int(p) for p in config_value(args, "allowedPublicPorts", [80, 443])}
    for cidrs, low, high in _world_openings(args.resource_type, props):
        if _on_allowed_port(low, high, allowed):
            if args.resource_type != SECURITY_GROUP:
                continue  # the stack rule, which sees the rule's group
            if _tagged_load_balancer(props):
                continue
        yield f"{args.name}: ingress from {cidrs} to ports {low}-{high}"


@stack_rule(
    name="aws-ec2-securitygroup-disallow-public-web-ingress",
    description="A standalone ingress rule (SecurityGroupIngressRule, SecurityGroupRule) may open an "
    "allowedPublicPorts port (HTTP/HTTPS) to the world only on a load balancer's group: the SecurityGroup of this "
    "stack tagged purpose=load-balancer that its securityGroupId comes from (the tag is on the group, so only a "
    "stack rule sees it; every other opening is judged by aws-ec2-securitygroup-disallow-public-ingress).",
    resource_types=[SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE],
    severity=Severity.CRITICAL,
    control="AWS-FSBP EC2.18",
    remediation=(
        "Take the rule's security_group_id from the load balancer's SecurityGroup (tagged purpose=load-balancer) of "
        "the same stack, or admit the traffic from the security groups or private CIDRs that need it."
    ),
    config=PUBLIC_PORTS_CONFIG,
)
def _public_web_ingress(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    allowed = {int(p) for p in config_value(args, "allowedPublicPorts", [80, 443])}

    def check(rule: PolicyResource) -> Iterable[tuple[str, str | None]]:
        for cidrs, low, high in _world_openings(rule.resource_type, rule.props):
            if not _on_allowed_port(low, high, allowed):
                continue  # the resource rule's
            group = _group_of(rule)
            if group is None or not _is_load_balancer_group(group):
                where = f"group {group.name}" if group else "a group outside this stack"
                yield (
                    f"{rule.name}: ingress from {cidrs} to ports {low}-{high} on {where}, not a load balancer's",
                    rule.urn,
                )

    return each((r for r in resources if r.resource_type in (INGRESS_RULE, LEGACY_RULE)), check)


# Egress to the world on every port is advisory: nodes pull images, reach AWS APIs and call out through the NAT
# gateways, so their groups need it (and the NAT path carries it); elsewhere it is usually a default left in place.
NODE_CLUSTER_TAG = "kubernetes.io/cluster/"
NAT_TAG = ("purpose", "nat")


def _all_ports(entry: Mapping[str, Any]) -> bool:
    return _ports(entry) == (0, 65535)


def _exempt_from_egress_rule(group: PolicyResource | None) -> bool:
    """A group of nodes (tag kubernetes.io/cluster/<name> = owned) or of a NAT instance (tag purpose=nat)."""
    if group is None:
        return False
    tags = dict((group.props.get("tags") or {}).items())
    nodes = any(str(k).startswith(NODE_CLUSTER_TAG) and v == "owned" for k, v in tags.items())
    return nodes or tags.get(NAT_TAG[0]) == NAT_TAG[1]


@stack_rule(
    name="aws-ec2-securitygroup-disallow-public-egress-all-ports",
    description="Security groups should not allow egress to the world (any CIDR that is not private) on every "
    "port (protocol -1, or 0-65535), inline or in standalone egress rules; the groups of nodes (tagged "
    "kubernetes.io/cluster/<name> = owned) and of NAT instances (tagged purpose=nat) are exempt, as the way out "
    "to the internet goes through them. Advisory in every stack: filed under availability only so that dev "
    "reports it without blocking.",
    resource_types=[SECURITY_GROUP, EGRESS_RULE, LEGACY_RULE],
    severity=Severity.LOW,
    category="advice",
    remediation="Allow egress to what the group's members call (other security groups, the VPC CIDR, HTTPS to the "
    "world through the NAT gateways), not every port to 0.0.0.0/0; on an aws.ec2.SecurityGroup leave egress unset "
    "(the provider then removes AWS's allow-all rule) and add aws.vpc.SecurityGroupEgressRule resources.",
)
def _public_egress(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    def check(resource: PolicyResource) -> Iterable[tuple[str, str | None]]:
        group = resource if resource.resource_type == SECURITY_GROUP else _group_of(resource)
        for entry in _rules_of(resource.resource_type, resource.props, "egress"):
            opened = sorted({str(c) for c in entry["cidrs"] if _is_world(c)})
            if opened and _all_ports(entry) and not _exempt_from_egress_rule(group):
                yield f"{resource.name}: egress to {', '.join(opened)} on every port", resource.urn

    return each((r for r in resources if r.resource_type in (SECURITY_GROUP, EGRESS_RULE, LEGACY_RULE)), check)


@resource_rule(
    name="aws-ec2-securitygroup-disallow-database-port-cidr",
    description="PostgreSQL (5432) and Redis (6379) must be admitted only from security groups, never from a CIDR.",
    resource_types=[SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE],
    severity=Severity.HIGH,
    remediation="Replace the CIDR source with the cluster node security group (referencedSecurityGroupId).",
)
def _data_port_cidr(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for entry in _ingress_entries(args.resource_type, props):
        for port in DATA_PORTS:
            if entry["cidrs"] and _covers(entry, port):
                yield f"port {port} is open to {', '.join(entry['cidrs'])}"


@resource_rule(
    name="aws-ec2-defaultsecuritygroup-disallow-rules",
    description="The VPC's default security group must have no rules.",
    resource_types=[DEFAULT_SECURITY_GROUP],
    severity=Severity.MEDIUM,
    control="CIS-AWS 5.4",
    remediation="Manage the default security group with ingress=[] and egress=[]; attach explicit groups instead.",
)
def _default_group(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for direction in ("ingress", "egress"):
        if as_list(props.get(direction)):
            yield f"the default security group has {direction} rules"


@resource_rule(
    name="aws-ec2-subnet-disallow-public-ip-on-launch",
    description="Only public-tier subnets may assign public IPs to instances automatically.",
    resource_types=[SUBNET],
    severity=Severity.MEDIUM,
    control="AWS-FSBP EC2.15",
    remediation="Set mapPublicIpOnLaunch=false, or tag the subnet tier=public if it really is the public tier.",
)
def _public_ip(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    tier = (props.get("tags") or {}).get("tier")
    if is_true(props.get("mapPublicIpOnLaunch")) and tier != "public":
        yield f"subnet of tier {tier!r} assigns public IPs on launch"


@stack_rule(
    name="aws-ec2-vpc-missing-flow-logs",
    description="Every VPC must have flow logs.",
    resource_types=[VPC, FLOW_LOG],
    severity=Severity.MEDIUM,
    control="AWS-FSBP EC2.6",
    remediation="Create an aws.ec2.FlowLog with vpc_id=<the VPC's id>, traffic_type ALL, to an encrypted log group.",
)
def _flow_logs(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    # Matched through property dependencies, which are known in preview too.
    flow_logs = [r for r in resources if r.resource_type == FLOW_LOG]

    def check(vpc: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if not any(depends_on(flow, "vpcId", vpc) for flow in flow_logs):
            yield f"VPC {vpc.name} has no flow log", vpc.urn

    return each((r for r in resources if r.resource_type == VPC), check)


@stack_rule(
    name="aws-ec2-vpc-missing-locked-default-security-group",
    description="Every VPC must manage its default security group (otherwise AWS's allow-all rules stay).",
    resource_types=[VPC, DEFAULT_SECURITY_GROUP],
    severity=Severity.MEDIUM,
    control="CIS-AWS 5.4",
    remediation="Add aws.ec2.DefaultSecurityGroup(vpc_id=<vpc id>, ingress=[], egress=[]).",
)
def _default_group_managed(
    resources: list[PolicyResource], args: StackValidationArgs
) -> Iterable[tuple[str, str | None]]:
    defaults = [r for r in resources if r.resource_type == DEFAULT_SECURITY_GROUP]

    def check(vpc: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if not any(depends_on(group, "vpcId", vpc) for group in defaults):
            yield f"VPC {vpc.name} leaves its default security group unmanaged", vpc.urn

    return each((r for r in resources if r.resource_type == VPC), check)


# --- data stores live in subnets without a route to the internet ----------------------------------

# Route targets that reach the internet by their kind alone (set, even to a value not yet known, is enough).
# gatewayId may also be a virtual private gateway: it counts when it is an igw- id or an InternetGateway's.
EGRESS_TARGETS = {"natGatewayId": "NAT gateway", "egressOnlyGatewayId": "egress-only internet gateway"}


def _is_set(props: Mapping[str, Any], key: str) -> bool:
    try:
        return bool(props.get(key))
    except UnknownValueError:
        return True


def _to_internet_gateway(props: Mapping[str, Any], gateways: list[PolicyResource]) -> bool:
    """Whether a route's gatewayId is an internet gateway: by its id, or (id unknown) by the resources it came
    from; unknown and from nothing of this stack, it cannot be told."""
    try:
        return str(props.get("gatewayId") or "").startswith("igw-")
    except UnknownValueError:
        if not gateways:
            raise
        return any(g.resource_type == INTERNET_GATEWAY for g in gateways)


def _internet_route(
    props: Mapping[str, Any], destinations: tuple[str, str], gateways: list[PolicyResource]
) -> str | None:
    """'<default route> via <target>' when a route sends 0.0.0.0/0 or ::/0 to the internet, else None."""
    default = [str(d) for d in (props.get(destinations[0]), props.get(destinations[1])) if str(d) in WORLD]
    if not default:
        return None
    target = next((kind for key, kind in EGRESS_TARGETS.items() if _is_set(props, key)), None)
    if target is None and _to_internet_gateway(props, gateways):
        target = "internet gateway"
    return f"{default[0]} via {target}" if target else None


def _route(route: PolicyResource) -> tuple[Reference, str | None]:
    """A Route's route table, and where it sends default traffic to the internet (or None)."""
    table = reference(route, "routeTableId", [ROUTE_TABLE])
    gateways = route.property_dependencies.get("gatewayId", [])
    return table, _internet_route(route.props, ("destinationCidrBlock", "destinationIpv6CidrBlock"), gateways)


def _inline_routes(table: PolicyResource) -> tuple[Reference, str | None]:
    """A RouteTable as a reference (its URN, and its id when known), and its inline default route to the
    internet (or None)."""
    try:
        ids = frozenset({str(table.props.get("id"))} if table.props.get("id") else set())
    except UnknownValueError:
        ids = frozenset()
    gateways = table.property_dependencies.get("routes", [])
    found = None
    for route in as_list(table.props.get("routes")):
        found = found or _internet_route(route, ("cidrBlock", "ipv6CidrBlock"), gateways)
    return Reference(ids, frozenset({table.urn})), found


def _association(association: PolicyResource) -> tuple[Reference, Reference]:
    return reference(association, "subnetId", [SUBNET]), reference(association, "routeTableId", [ROUTE_TABLE])


def _label(ref: Reference) -> str:
    """A subnet or route table as a message names it: its resource name, else its id."""
    names = sorted(urn.rsplit("::", 1)[-1] for urn in ref.urns) or sorted(ref.values)
    return ", ".join(names)


@stack_rule(
    name="aws-ec2-subnet-disallow-internet-route-for-data-stores",
    description="The subnets of RDS and ElastiCache subnet groups must not be associated with a route table that "
    "sends 0.0.0.0/0 or ::/0 to a NAT gateway, an internet gateway or an egress-only internet gateway (a Route, "
    "or an inline route of the RouteTable): data stores live in isolated subnets.",
    resource_types=[
        *DATA_SUBNET_GROUPS,
        SUBNET,
        ROUTE_TABLE_ASSOCIATION,
        ROUTE_TABLE,
        ROUTE,
    ],
    severity=Severity.HIGH,
    remediation="Give the subnet group the database-tier subnets (whose route table has only the local route "
    "and VPC endpoints), e.g. subnet_ids=network.database_subnet_ids, not the private (NAT-routed) or public ones.",
)
def _data_store_internet_route(
    resources: list[PolicyResource], args: StackValidationArgs
) -> Iterable[tuple[str, str | None]]:
    # Matched by ids in an update, and through property dependencies (URNs) in a first preview; a route,
    # table or association that cannot be resolved may be the one that routes a group out, so a group
    # found clean while one was skipped gives up (raises the unknown) instead of passing.
    associations, unknown_association = known_only(
        (r for r in resources if r.resource_type == ROUTE_TABLE_ASSOCIATION), _association
    )
    routes, unknown_route = known_only((r for r in resources if r.resource_type == ROUTE), _route)
    tables, unknown_table = known_only((r for r in resources if r.resource_type == ROUTE_TABLE), _inline_routes)
    routed_tables = [(table, why) for _, (table, why) in [*routes, *tables] if why]
    skipped = unknown_association or unknown_route or unknown_table

    def check(group: PolicyResource) -> Iterable[tuple[str, str | None]]:
        subnets = reference(group, "subnetIds", [SUBNET])
        found = []
        for _, (subnet, table) in associations:
            if subnet.meets(subnets):
                found += [
                    f"{_label(subnet)} ({why}, route table {_label(table)})"
                    for t, why in routed_tables
                    if t.meets(table)
                ]
        if found:
            yield f"subnet group {group.name} has subnets routed to the internet: {'; '.join(found)}", group.urn
        elif skipped is not None:
            raise skipped

    return each((r for r in resources if r.resource_type in DATA_SUBNET_GROUPS), check)


# --- EKS nodes live in private subnets ---------------------------------------------------------------------------

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def _subnet_ref(subnet: PolicyResource) -> Reference:
    """A Subnet as a reference: its URN, and its id when known."""
    try:
        ids = frozenset({str(subnet.props.get("id"))} if subnet.props.get("id") else set())
    except UnknownValueError:
        ids = frozenset()
    return Reference(ids, frozenset({subnet.urn}))


@stack_rule(
    name="aws-eks-nodegroup-disallow-public-subnets",
    description="Managed node groups must run in private subnets only: every subnet of a node group is associated "
    "with a route table of this stack whose default route (0.0.0.0/0) goes to a NAT gateway, not an internet "
    "gateway, and does not map public IPs on launch.",
    resource_types=[NODE_GROUP, SUBNET, ROUTE_TABLE_ASSOCIATION, ROUTE_TABLE, ROUTE],
    severity=Severity.HIGH,
    control="CIS-EKS 5.4.3",
    remediation="Give the node group the private-tier subnets (subnet_ids=network.private_subnet_ids): "
    "map_public_ip_on_launch=False, each associated with a route table whose 0.0.0.0/0 route has nat_gateway_id.",
)
def _private_nodes(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    # Matched by ids in an update and through property dependencies in a first preview (see the data-store rule);
    # a subnet found wanting while a route, table or association was skipped gives up instead of violating.
    associations, unknown_association = known_only(
        (r for r in resources if r.resource_type == ROUTE_TABLE_ASSOCIATION), _association
    )
    routes, unknown_route = known_only((r for r in resources if r.resource_type == ROUTE), _route)
    tables, unknown_table = known_only((r for r in resources if r.resource_type == ROUTE_TABLE), _inline_routes)
    defaults = [(table, why) for _, (table, why) in [*routes, *tables] if why and why.split(" via ")[0] == "0.0.0.0/0"]
    skipped = unknown_association or unknown_route or unknown_table
    subnets = [(s, _subnet_ref(s)) for s in resources if s.resource_type == SUBNET]

    def problems(subnet: PolicyResource, ref: Reference) -> list[str]:
        found = []
        if is_true(subnet.props.get("mapPublicIpOnLaunch")):
            found.append("maps public IPs on launch")
        tables_of = [table for _, (s, table) in associations if s.meets(ref)]
        targets = [why.split(" via ")[1] for table in tables_of for t, why in defaults if t.meets(table)]
        if "internet gateway" in targets:
            found.append("routes 0.0.0.0/0 to an internet gateway")
        elif "NAT gateway" not in targets:
            if skipped is not None:
                raise skipped
            found.append(
                "has no default route through a NAT gateway"
                if tables_of
                else "has no route table association in this stack (the VPC's main route table)"
            )
        return found

    def check(group: PolicyResource) -> Iterable[tuple[str, str | None]]:
        wanted = reference(group, "subnetIds", [SUBNET])
        found = [
            f"{subnet.name} {'; '.join(why)}"
            for subnet, ref in subnets
            if ref.meets(wanted) and (why := problems(subnet, ref))
        ]
        if found:
            yield f"node group {group.name} runs in subnets that are not private: {'; '.join(found)}", group.urn

    return each((r for r in resources if r.resource_type == NODE_GROUP), check)
