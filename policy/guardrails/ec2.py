"""Guardrails: VPC and EC2 networking (flow logs, security groups, subnets, the routes of data-store subnets)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
DATA_SUBNET_GROUPS = ("aws:rds/subnetGroup:SubnetGroup", "aws:elasticache/subnetGroup:SubnetGroup")
WORLD = {"0.0.0.0/0", "::/0"}
LOAD_BALANCER_TAG = ("purpose", "load-balancer")
DATA_PORTS = (5432, 6379)


def _ingress_entries(resource_type: str, props: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every ingress permission of a resource as {fromPort, toPort, protocol, cidrs, groups}."""
    if resource_type == INGRESS_RULE:
        cidrs = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c]
        return [
            {
                "fromPort": props.get("fromPort"),
                "toPort": props.get("toPort"),
                "protocol": props.get("ipProtocol"),
                "cidrs": cidrs,
                "groups": as_list(props.get("referencedSecurityGroupId")) + as_list(props.get("prefixListId")),
            }
        ]
    if resource_type == LEGACY_RULE:
        if props.get("type") != "ingress":
            return []
        return [
            {
                "fromPort": props.get("fromPort"),
                "toPort": props.get("toPort"),
                "protocol": props.get("protocol"),
                "cidrs": as_list(props.get("cidrBlocks")) + as_list(props.get("ipv6CidrBlocks")),
                "groups": as_list(props.get("sourceSecurityGroupId")) + as_list(props.get("prefixListIds")),
            }
        ]
    entries = []
    for rule in as_list(props.get("ingress")):
        entries.append(
            {
                "fromPort": rule.get("fromPort"),
                "toPort": rule.get("toPort"),
                "protocol": rule.get("protocol"),
                "cidrs": as_list(rule.get("cidrBlocks")) + as_list(rule.get("ipv6CidrBlocks")),
                "groups": as_list(rule.get("securityGroups")) + as_list(rule.get("prefixListIds")),
            }
        )
    return entries


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


@stack_rule(
    name="aws-ec2-securitygroup-disallow-public-ingress",
    description="Security groups must not admit traffic from 0.0.0.0/0 or ::/0 (inline ingress or standalone "
    "ingress rules), except HTTP/HTTPS on load-balancer groups.",
    resource_types=[SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE],
    severity=Severity.CRITICAL,
    control="AWS-FSBP EC2.18",
    remediation=(
        "Admit traffic from the security groups or CIDRs that need it. Only a load balancer's group "
        "(the SecurityGroup tagged purpose=load-balancer; a standalone rule must take its security_group_id from "
        "that group of the same stack) may take 80/443 from the internet."
    ),
    config={"allowedPublicPorts": {"type": "array", "items": {"type": "integer"}, "default": [80, 443]}},
)
def _public_ingress(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    # A stack rule: a standalone rule is exempt through the tags of its security group, another resource.
    allowed = {int(p) for p in config_value(args, "allowedPublicPorts", [80, 443])}

    def check(resource: PolicyResource) -> Iterable[tuple[str, str | None]]:
        group = resource if resource.resource_type == SECURITY_GROUP else _group_of(resource)
        for entry in _ingress_entries(resource.resource_type, resource.props):
            opened = WORLD & {str(c) for c in entry["cidrs"]}
            if not opened:
                continue
            low, high = _ports(entry)
            if low == high and low in allowed and group is not None and _is_load_balancer_group(group):
                continue
            yield f"{resource.name}: ingress from {', '.join(sorted(opened))} to ports {low}-{high}", resource.urn

    return each((r for r in resources if r.resource_type in (SECURITY_GROUP, INGRESS_RULE, LEGACY_RULE)), check)


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
