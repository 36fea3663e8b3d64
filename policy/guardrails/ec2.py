"""Guardrails: VPC and EC2 networking (flow logs, security groups, subnets)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from guardrails.base import as_list, config_value, depends_on, each, is_true, number, resource_rule, stack_rule

VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
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
