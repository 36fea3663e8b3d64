"""Network: asserted on the recorded inputs of the real stacks and of the component alone."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import pytest

from components.config import ConfigError, NetworkConfig
from components.network import Network, NetworkArgs
from tests.components.context import fixed_context
from tests.conftest import Graph, stack_graph
from tools.engine import EngineError, Run

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
TABLE = "aws:ec2/routeTable:RouteTable"
ASSOC = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"
REQUIRED_TAGS = {"environment", "project", "owner", "cost-center", "managed-by"}


def net(graph: Graph, type_: str) -> list[dict[str, Any]]:
    """Resources of a type that the Network component created (the stack has others)."""
    return [r for r in graph.of_type(type_) if "platform:network:Network$" in r["urn"]]


def tier_subnets(graph: Graph, tier: str) -> list[dict[str, Any]]:
    return [s for s in net(graph, SUBNET) if s["inputs"]["tags"]["tier"] == tier]


def table_of_subnet(graph: Graph, subnet: dict[str, Any]) -> dict[str, Any]:
    (assoc,) = [a for a in net(graph, ASSOC) if a["inputs"]["subnetId"] == subnet["outputs"]["id"]]
    return graph.by_id(TABLE, assoc["inputs"]["routeTableId"])


def routes_of(graph: Graph, table: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in net(graph, ROUTE) if r["inputs"]["routeTableId"] == table["outputs"]["id"]]


# --- the committed stacks -------------------------------------------------------------------


def test_subnets_are_inside_the_vpc_and_disjoint(any_graph: Graph) -> None:
    (vpc,) = net(any_graph, "aws:ec2/vpc:Vpc")
    vpc_net = ipaddress.IPv4Network(vpc["inputs"]["cidrBlock"])
    nets = [ipaddress.IPv4Network(s["inputs"]["cidrBlock"]) for s in net(any_graph, SUBNET)]
    assert len(nets) == (9 if any_graph.stack == "prod" else 6)
    assert all(n.subnet_of(vpc_net) for n in nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def test_each_tier_has_one_subnet_per_az(any_graph: Graph) -> None:
    zones = {"dev": 2, "prod": 3}[any_graph.stack]
    for tier in ("public", "private", "database"):
        subnets = tier_subnets(any_graph, tier)
        assert len({s["inputs"]["availabilityZone"] for s in subnets}) == len(subnets) == zones


def test_nat_gateway_count_per_stack(any_graph: Graph) -> None:
    expected = {"dev": 1, "prod": 3}[any_graph.stack]
    assert len(net(any_graph, NAT)) == expected
    assert len(net(any_graph, "aws:ec2/eip:Eip")) == expected


def test_each_private_subnet_leaves_through_a_nat_gateway_in_its_own_az_in_prod() -> None:
    graph = stack_graph("prod", "update")
    for subnet in tier_subnets(graph, "private"):
        table = table_of_subnet(graph, subnet)
        (route,) = routes_of(graph, table)
        assert route["inputs"]["destinationCidrBlock"] == "0.0.0.0/0"
        nat = graph.by_id(NAT, route["inputs"]["natGatewayId"])
        nat_subnet = graph.by_id(SUBNET, nat["inputs"]["subnetId"])
        assert nat_subnet["inputs"]["availabilityZone"] == subnet["inputs"]["availabilityZone"]
        assert nat_subnet["inputs"]["tags"]["tier"] == "public"


def test_dev_private_subnets_share_the_single_nat_gateway() -> None:
    graph = stack_graph("dev", "update")
    (nat,) = net(graph, NAT)
    tables = {table_of_subnet(graph, s)["urn"] for s in tier_subnets(graph, "private")}
    assert len(tables) == 2, "one route table per AZ even with a shared NAT"
    for subnet in tier_subnets(graph, "private"):
        (route,) = routes_of(graph, table_of_subnet(graph, subnet))
        assert route["inputs"]["natGatewayId"] == nat["outputs"]["id"]


def test_database_tier_has_no_route_to_the_internet(update_graph: Graph) -> None:
    tables = {
        table_of_subnet(update_graph, s)["urn"]: table_of_subnet(update_graph, s)
        for s in tier_subnets(update_graph, "database")
    }
    assert len(tables) == 1
    for table in tables.values():
        assert routes_of(update_graph, table) == []
        assert "route" not in table["inputs"] or not table["inputs"]["route"]
    # And no route anywhere targets the database table by another path.
    db_ids = {t["outputs"]["id"] for t in tables.values()}
    assert not [r for r in net(update_graph, ROUTE) if r["inputs"]["routeTableId"] in db_ids]


def test_public_tier_routes_to_the_internet_gateway(update_graph: Graph) -> None:
    (igw,) = net(update_graph, "aws:ec2/internetGateway:InternetGateway")
    for subnet in tier_subnets(update_graph, "public"):
        (route,) = routes_of(update_graph, table_of_subnet(update_graph, subnet))
        assert route["inputs"]["gatewayId"] == igw["outputs"]["id"]


def test_nat_gateways_wait_for_the_internet_gateway(any_graph: Graph) -> None:
    (igw,) = net(any_graph, "aws:ec2/internetGateway:InternetGateway")
    for nat in net(any_graph, NAT):
        assert igw["urn"] in nat["dependencies"]


def test_flow_logs_are_on_to_an_encrypted_log_group_with_retention(update_graph: Graph) -> None:
    (vpc,) = net(update_graph, "aws:ec2/vpc:Vpc")
    (flow,) = net(update_graph, "aws:ec2/flowLog:FlowLog")
    (group,) = net(update_graph, "aws:cloudwatch/logGroup:LogGroup")
    (key,) = net(update_graph, "aws:kms/key:Key")
    assert flow["inputs"]["vpcId"] == vpc["outputs"]["id"]
    assert flow["inputs"]["trafficType"] == "ALL"
    assert flow["inputs"]["logDestinationType"] == "cloud-watch-logs"
    assert flow["inputs"]["logDestination"] == group["outputs"]["arn"]
    assert group["inputs"]["retentionInDays"] == {"dev": 30, "prod": 365}[update_graph.stack]
    assert group["inputs"]["kmsKeyId"] == key["outputs"]["arn"]
    assert key["inputs"]["enableKeyRotation"] is True


def test_flow_log_key_lets_cloudwatch_logs_use_it_only_for_that_group(update_graph: Graph) -> None:
    (key,) = net(update_graph, "aws:kms/key:Key")
    (group,) = net(update_graph, "aws:cloudwatch/logGroup:LogGroup")
    statements = json.loads(key["inputs"]["policy"])["Statement"]
    (logs,) = [s for s in statements if s.get("Principal", {}).get("Service") == ["logs.ca-central-1.amazonaws.com"]]
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [group["outputs"]["arn"]]
    assert all(s["Principal"] != "*" for s in statements)


def test_flow_log_role_is_scoped_to_its_log_group(update_graph: Graph) -> None:
    (group,) = net(update_graph, "aws:cloudwatch/logGroup:LogGroup")
    (policy,) = net(update_graph, "aws:iam/rolePolicy:RolePolicy")
    (write,) = [s for s in json.loads(policy["inputs"]["policy"])["Statement"] if s["Sid"] == "WriteFlowLogGroup"]
    assert write["Resource"] == sorted([group["outputs"]["arn"], group["outputs"]["arn"] + ":*"])
    (role,) = net(update_graph, "aws:iam/role:Role")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": ["vpc-flow-logs.amazonaws.com"]}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == ["123456789012"]


def test_default_security_group_is_locked_down(any_graph: Graph) -> None:
    (group,) = net(any_graph, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert group["inputs"]["ingress"] == [] and group["inputs"]["egress"] == []


def test_subnets_carry_load_balancer_discovery_tags_and_no_public_ips(any_graph: Graph) -> None:
    for subnet in net(any_graph, SUBNET):
        tags, tier = subnet["inputs"]["tags"], subnet["inputs"]["tags"]["tier"]
        # Internal load balancers too live in the public subnets, away from the pods' addresses.
        assert ("kubernetes.io/role/elb" in tags) == (tier == "public")
        assert ("kubernetes.io/role/internal-elb" in tags) == (tier == "public")
        assert subnet["inputs"]["mapPublicIpOnLaunch"] is False


def test_endpoints_keep_s3_and_image_pulls_off_the_nat(update_graph: Graph) -> None:
    endpoints = net(update_graph, "aws:ec2/vpcEndpoint:VpcEndpoint")
    services = {e["inputs"]["serviceName"]: e for e in endpoints}
    assert set(services) == {f"com.amazonaws.ca-central-1.{s}" for s in ("s3", "ecr.api", "ecr.dkr", "sts", "logs")}
    s3 = services["com.amazonaws.ca-central-1.s3"]
    assert s3["inputs"]["vpcEndpointType"] == "Gateway"
    private_and_db = {
        table_of_subnet(update_graph, s)["outputs"]["id"]
        for t in ("private", "database")
        for s in tier_subnets(update_graph, t)
    }
    assert set(s3["inputs"]["routeTableIds"]) == private_and_db
    (sg,) = net(update_graph, "aws:ec2/securityGroup:SecurityGroup")
    private_ids = {s["outputs"]["id"] for s in tier_subnets(update_graph, "private")}
    for endpoint in services.values():
        if endpoint is s3:
            continue
        assert endpoint["inputs"]["privateDnsEnabled"] is True
        assert set(endpoint["inputs"]["subnetIds"]) == private_ids
        assert endpoint["inputs"]["securityGroupIds"] == [sg["outputs"]["id"]]
    (rule,) = net(update_graph, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert (rule["inputs"]["fromPort"], rule["inputs"]["toPort"], rule["inputs"]["cidrIpv4"]) == (
        443,
        443,
        update_graph.outputs["vpcCidr"],
    )


def test_every_taggable_resource_carries_the_required_tags(update_graph: Graph) -> None:
    aws = [r for r in update_graph.resources if r["custom"] and r["type"].startswith("aws:")]
    tagged = [r for r in aws if "tagsAll" in r["outputs"]]
    # The types AWS lets us tag are all covered (Route, associations, inline
    # policies and aliases have no tags in AWS).
    assert {r["type"] for r in tagged} >= {
        "aws:ec2/vpc:Vpc", SUBNET, TABLE, NAT, "aws:ec2/eip:Eip", "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ec2/securityGroup:SecurityGroup", "aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role", "aws:ec2/flowLog:FlowLog", "aws:ec2/internetGateway:InternetGateway",
    }  # fmt: skip
    assert not {r["type"] for r in tagged} & {ROUTE, ASSOC, "aws:iam/rolePolicy:RolePolicy", "aws:kms/alias:Alias"}
    for resource in tagged:
        tags = resource["outputs"]["tagsAll"]
        assert set(tags) >= REQUIRED_TAGS, resource["urn"]
        assert tags["environment"] == update_graph.stack and tags["managed-by"] == "pulumi"


def test_every_aws_resource_uses_a_tagged_provider_of_the_stack(any_graph: Graph) -> None:
    providers = {p["urn"]: p for p in any_graph.of_type("pulumi:providers:aws")}
    regions = sorted(p["inputs"]["region"] for p in providers.values())
    # The DR provider exists only where backups are replicated (prod).
    assert regions == {"dev": ["ca-central-1"], "prod": ["ca-central-1", "ca-west-1"]}[any_graph.stack]
    for provider in providers.values():
        assert set(json.loads(provider["inputs"]["defaultTags"])["tags"]) >= REQUIRED_TAGS
    for resource in any_graph.resources:
        if resource["custom"] and resource["type"].startswith("aws:"):
            assert resource["provider"] in providers, resource["urn"]
    primary = next(urn for urn, p in providers.items() if p["inputs"]["region"] == "ca-central-1")
    assert all(r["provider"] == primary for r in any_graph.resources if "platform:network:Network$" in r["urn"])


def test_outputs_name_the_vpc_and_subnets_per_tier(update_graph: Graph) -> None:
    outputs = update_graph.outputs
    (vpc,) = net(update_graph, "aws:ec2/vpc:Vpc")
    assert outputs["vpcId"] == vpc["outputs"]["id"]
    for tier in ("public", "private", "database"):
        assert outputs[f"{tier}SubnetIds"] == [s["outputs"]["id"] for s in tier_subnets(update_graph, tier)]
    assert outputs["endpointSecurityGroupId"].startswith("sg-")


def test_a_first_preview_leaves_ids_unknown() -> None:
    graph = stack_graph("prod", "preview")
    assert graph.outputs["vpcId"] == "[unknown]"
    (subnet, *_) = net(graph, SUBNET)
    assert subnet["inputs"]["vpcId"] == "[unknown]"


# --- the component alone ----------------------------------------------------------------------


def network_program(config: dict[str, Any]) -> Callable[[], Network]:
    def program() -> Network:
        return Network(
            "net",
            NetworkArgs(
                config=NetworkConfig.model_validate(config),
                context=fixed_context(),
            ),
        )

    return program


MINIMAL = {"availabilityZones": ["ca-central-1a", "ca-central-1b"]}


def test_minimal_args_give_nat_per_az_and_default_endpoints(build: Callable[..., Run]) -> None:
    run = build(network_program(MINIMAL), config={})
    assert len(run.by_type(NAT)) == 2
    assert len(run.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")) == 5
    (vpc,) = run.by_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    component = run.named("net")
    assert component.type == "platform:network:Network"
    assert set(component.outputs) == {
        "vpc_id",
        "vpc_cidr",
        "public_subnet_ids",
        "private_subnet_ids",
        "database_subnet_ids",
        "endpoint_security_group_id",
    }


def test_full_args_use_explicit_subnets_and_endpoint_list(build: Callable[..., Run]) -> None:
    config = {
        "vpcCidr": "10.50.0.0/16",
        "availabilityZones": ["ca-central-1a", "ca-central-1b"],
        "natGateways": "single",
        "subnets": {
            "public": ["10.50.0.0/24", "10.50.1.0/24"],
            "private": ["10.50.64.0/18", "10.50.128.0/18"],
            "database": ["10.50.2.0/24", "10.50.3.0/24"],
        },
        "flowLogsRetentionDays": 90,
        "interfaceEndpoints": ["sts"],
    }
    run = build(network_program(config), config={})
    cidrs = sorted(s.inputs["cidrBlock"] for s in run.by_type(SUBNET))
    assert cidrs == sorted(config["subnets"]["public"] + config["subnets"]["private"] + config["subnets"]["database"])
    assert len(run.by_type(NAT)) == 1
    assert [e.inputs["serviceName"] for e in run.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")] == [
        "com.amazonaws.ca-central-1.s3",
        "com.amazonaws.ca-central-1.sts",
    ]
    (group,) = run.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 90


def test_component_alone_with_no_provider_is_refused_when_defaults_are_disabled(build: Callable[..., Run]) -> None:
    with pytest.raises(EngineError, match="no explicit provider"):
        build(network_program(MINIMAL), config={"pulumi:disable-default-providers": '["aws"]'})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"availabilityZones": ["ca-central-1a"]}, "at least 2"),
        ({**MINIMAL, "vpcCidr": "10.0.0.0/8x"}, "CIDR"),
        ({**MINIMAL, "interfaceEndpoints": ["s3"]}, "gateway endpoint"),
        ({**MINIMAL, "privatePrefixLength": 12}, "greater than or equal to 16"),
    ],
)
def test_bad_network_args_are_refused_before_any_resource(config: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        NetworkConfig.model_validate(config)


def test_config_error_is_a_run_error_for_a_clean_cli_exit() -> None:
    import pulumi

    assert issubclass(ConfigError, pulumi.RunError)


def test_the_flow_log_waits_for_its_role_policy(any_graph: Graph) -> None:
    """A flow log created before its role may write ends in DeliverLogsStatus FAILED and stays so; the
    flow log names the role, not its policy, so only an explicit dependency orders them."""
    (flow,) = net(any_graph, "aws:ec2/flowLog:FlowLog")
    (policy,) = [p for p in net(any_graph, "aws:iam/rolePolicy:RolePolicy") if p["name"] == "network-flow-logs"]
    assert policy["urn"] in flow["dependencies"]


def test_service_names_and_principals_follow_the_partition(build: Callable[..., Run]) -> None:
    """In China the DNS suffix is amazonaws.com.cn and endpoint services start cn.com.amazonaws."""

    def program() -> Network:
        context = fixed_context(
            region="cn-north-1",
            partition="aws-cn",
            dns_suffix="amazonaws.com.cn",
            reverse_dns_prefix="cn.com.amazonaws",
        )
        config = NetworkConfig.model_validate({"availabilityZones": ["cn-north-1a", "cn-north-1b"]})
        return Network("net", NetworkArgs(config=config, context=context))

    run = build(program, config={})
    names = {e.inputs["serviceName"] for e in run.by_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert names == {f"cn.com.amazonaws.cn-north-1.{s}" for s in ("s3", "ecr.api", "ecr.dkr", "sts", "logs")}
    (role,) = run.by_type("aws:iam/role:Role")
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": ["vpc-flow-logs.amazonaws.com.cn"]}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == ["arn:aws-cn:ec2:cn-north-1:123456789012:vpc-flow-log/*"]
    (key,) = run.by_type("aws:kms/key:Key")
    principals = [s["Principal"] for s in json.loads(key.inputs["policy"])["Statement"]]
    assert {"Service": ["logs.cn-north-1.amazonaws.com.cn"]} in principals
    assert {"AWS": ["arn:aws-cn:iam::123456789012:root"]} in principals
