"""Network: the VPC, its three subnet tiers, egress, endpoints and flow logs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import NetworkConfig, subnet_layout
from components.context import Account, StackContext
from components.policies import (
    Condition,
    Principal,
    Statement,
    account_administers_key,
    customer_managed_key,
    log_group_arn,
    logs_may_use_key,
    policy_json,
)


@dataclass
class NetworkArgs:
    config: NetworkConfig
    """Validated network settings (CIDRs, AZs, NAT mode, endpoints, flow logs)."""
    context: StackContext
    """Naming (the VPC is tagged Name=<project>-<stack>), region and account (endpoint service names, the
    flow-log key and role policies)."""


class Network(pulumi.ComponentResource):
    """A VPC across the configured AZs with public, private and database tiers.

    Public subnets hold load balancers and NAT gateways; private subnets hold
    the nodes and pods and reach the internet only through NAT; database
    subnets have no route to the internet at all.
    """

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    database_subnet_ids: pulumi.Output[list[str]]
    endpoint_security_group_id: pulumi.Output[str]
    vpc_name: str
    """The VPC's Name tag (<project>-<stack>), known before the VPC exists."""
    internet_path: list[pulumi.Resource]
    """The way to and from the internet: the public subnets and their routes, the internet gateway, the
    NAT gateways and the private subnets' default routes. What load balancers and the in-cluster
    controllers that manage them need; they depend on these, so a destroy removes them first."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:network:Network", name, None, opts)
        self._name = name
        self._args = args
        self._prefix = args.context.naming.prefix
        self._zones = args.config.availability_zones
        self._child = pulumi.ResourceOptions(parent=self)

        self.vpc_name = self._prefix
        self._vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=args.config.vpc_cidr,
                enable_dns_support=True,
                # Interface endpoints with private DNS need DNS hostnames on.
                enable_dns_hostnames=True,
                tags={"Name": self.vpc_name},
            ),
            opts=self._child,
        )
        self._lock_default_security_group()
        self.internet_path = []
        igw = aws.ec2.InternetGateway(
            f"{name}-igw",
            aws.ec2.InternetGatewayArgs(vpc_id=self._vpc.id, tags={"Name": f"{self._prefix}-igw"}),
            opts=self._child,
        )
        subnets = self._create_subnets()
        self.internet_path += [igw, *subnets["public"]]
        nat_ids = self._create_nat_gateways(subnets["public"], igw)
        private_tables, database_table = self._create_routes(subnets, igw, nat_ids)
        endpoint_sg = self._create_endpoints(subnets["private"], [*private_tables, database_table])
        self._create_flow_logs()

        self.vpc_id = self._vpc.id
        self.vpc_cidr = self._vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["public"]])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["private"]])
        self.database_subnet_ids = pulumi.Output.all(*[s.id for s in subnets["database"]])
        self.endpoint_security_group_id = endpoint_sg.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
                "endpoint_security_group_id": self.endpoint_security_group_id,
            }
        )

    def _lock_default_security_group(self) -> None:
        # Taking over the default group with no rules removes AWS's allow-all
        # rules, so nothing attached to it by accident can talk (CIS 5.4).
        aws.ec2.DefaultSecurityGroup(
            f"{self._name}-default-sg",
            aws.ec2.DefaultSecurityGroupArgs(
                vpc_id=self._vpc.id,
                ingress=[],
                egress=[],
                tags={"Name": f"{self._prefix}-default-locked"},
            ),
            opts=self._child,
        )

    def _create_subnets(self) -> dict[str, list[aws.ec2.Subnet]]:
        layout = subnet_layout(self._args.config)
        # Tags the AWS Load Balancer Controller uses to pick subnets: every load
        # balancer, internal ones too, in the public subnets. An internal load
        # balancer gets private addresses only, wherever it is; kept out of the
        # private subnets, where the pods get their addresses too (VPC CNI), a
        # service's NetworkPolicy can admit its load balancer by subnet without
        # admitting every pod of the cluster.
        role_tags = {
            "public": {"kubernetes.io/role/elb": "1", "kubernetes.io/role/internal-elb": "1"},
            "private": {},
            "database": {},
        }
        subnets: dict[str, list[aws.ec2.Subnet]] = {}
        for tier, cidrs in layout.items():
            subnets[tier] = [
                aws.ec2.Subnet(
                    f"{self._name}-{tier}-{zone}",
                    aws.ec2.SubnetArgs(
                        vpc_id=self._vpc.id,
                        cidr_block=str(cidr),
                        availability_zone=zone,
                        # Nothing we run needs an automatic public address:
                        # load balancers and NAT gateways get their own.
                        map_public_ip_on_launch=False,
                        tags={"Name": f"{self._prefix}-{tier}-{zone}", "tier": tier, **role_tags[tier]},
                    ),
                    opts=self._child,
                )
                for zone, cidr in zip(self._zones, cidrs, strict=True)
            ]
        return subnets

    def _create_nat_gateways(
        self, public_subnets: list[aws.ec2.Subnet], igw: aws.ec2.InternetGateway
    ) -> list[pulumi.Output[str]]:
        """One NAT gateway id per AZ, in AZ order (the same one repeated when single)."""
        one_per_az = self._args.config.nat_gateways == "one_per_az"
        zones = self._zones if one_per_az else self._zones[:1]
        gateways = []
        for zone, subnet in zip(zones, public_subnets, strict=False):
            eip = aws.ec2.Eip(
                f"{self._name}-nat-{zone}",
                aws.ec2.EipArgs(domain="vpc", tags={"Name": f"{self._prefix}-nat-{zone}"}),
                opts=self._child,
            )
            nat = aws.ec2.NatGateway(
                f"{self._name}-nat-{zone}",
                aws.ec2.NatGatewayArgs(
                    allocation_id=eip.id,
                    subnet_id=subnet.id,
                    connectivity_type="public",
                    tags={"Name": f"{self._prefix}-nat-{zone}"},
                ),
                # A public NAT gateway needs the internet gateway attached
                # first; nothing in its inputs says so (AWS NatGateway docs).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            self.internet_path.append(nat)
            gateways.append(nat.id)
        return gateways if one_per_az else gateways * len(self._zones)

    def _create_routes(
        self,
        subnets: dict[str, list[aws.ec2.Subnet]],
        igw: aws.ec2.InternetGateway,
        nat_ids: list[pulumi.Output[str]],
    ) -> tuple[list[aws.ec2.RouteTable], aws.ec2.RouteTable]:
        prefix = self._prefix
        public_table = aws.ec2.RouteTable(
            f"{self._name}-public",
            aws.ec2.RouteTableArgs(vpc_id=self._vpc.id, tags={"Name": f"{prefix}-public", "tier": "public"}),
            opts=self._child,
        )
        public_route = aws.ec2.Route(
            f"{self._name}-public-internet",
            aws.ec2.RouteArgs(route_table_id=public_table.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id),
            opts=self._child,
        )
        self._associate("public", subnets["public"], [public_table] * len(self._zones))
        self.internet_path.append(public_route)

        # One table per AZ so that each AZ leaves through its own NAT gateway:
        # an AZ outage then does not cut egress for the others.
        private_tables = []
        for zone, nat_id in zip(self._zones, nat_ids, strict=True):
            table = aws.ec2.RouteTable(
                f"{self._name}-private-{zone}",
                aws.ec2.RouteTableArgs(
                    vpc_id=self._vpc.id, tags={"Name": f"{prefix}-private-{zone}", "tier": "private"}
                ),
                opts=self._child,
            )
            egress = aws.ec2.Route(
                f"{self._name}-private-{zone}-egress",
                aws.ec2.RouteArgs(route_table_id=table.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat_id),
                opts=self._child,
            )
            self.internet_path.append(egress)
            private_tables.append(table)
        self._associate("private", subnets["private"], private_tables)

        # The database tier gets only the VPC's local route: no path to or
        # from the internet, whatever else changes in the VPC.
        database_table = aws.ec2.RouteTable(
            f"{self._name}-database",
            aws.ec2.RouteTableArgs(vpc_id=self._vpc.id, tags={"Name": f"{prefix}-database", "tier": "database"}),
            opts=self._child,
        )
        self._associate("database", subnets["database"], [database_table] * len(self._zones))
        return private_tables, database_table

    def _associate(self, tier: str, subnets: list[aws.ec2.Subnet], tables: list[aws.ec2.RouteTable]) -> None:
        for zone, subnet, table in zip(self._zones, subnets, tables, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{self._name}-{tier}-{zone}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=table.id),
                opts=self._child,
            )

    def _create_endpoints(
        self, private_subnets: list[aws.ec2.Subnet], tables: list[aws.ec2.RouteTable]
    ) -> aws.ec2.SecurityGroup:
        region = self._args.context.region
        account = self._args.context.account
        # S3 through a gateway endpoint: free, and backups and image layers
        # (ECR stores them in S3) do not pay NAT data processing.
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3",
            aws.ec2.VpcEndpointArgs(
                vpc_id=self._vpc.id,
                service_name=account.apply(lambda a: a.endpoint_service("s3", region)),
                vpc_endpoint_type="Gateway",
                route_table_ids=[t.id for t in tables],
                tags={"Name": f"{self._prefix}-s3"},
            ),
            opts=self._child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints",
            aws.ec2.SecurityGroupArgs(
                vpc_id=self._vpc.id,
                description="Interface VPC endpoints: HTTPS from inside the VPC only",
                tags={"Name": f"{self._prefix}-endpoints"},
            ),
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=endpoint_sg.id,
                description="HTTPS from the VPC",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=self._vpc.cidr_block,
            ),
            opts=self._child,
        )
        for service in self._args.config.interface_endpoints:
            service_name = account.apply(functools.partial(_endpoint_service, service=service, region=region))
            aws.ec2.VpcEndpoint(
                f"{self._name}-{service.replace('.', '-')}",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=self._vpc.id,
                    service_name=service_name,
                    vpc_endpoint_type="Interface",
                    private_dns_enabled=True,
                    subnet_ids=[s.id for s in private_subnets],
                    security_group_ids=[endpoint_sg.id],
                    tags={"Name": f"{self._prefix}-{service}"},
                ),
                opts=self._child,
            )
        return endpoint_sg

    def _create_flow_logs(self) -> None:
        args = self._args
        context = args.context
        region = context.region
        prefix = context.naming.prefix
        log_group_name = f"/aws/vpc/{prefix}/flow-logs"
        # The logs are audit evidence: the stack's config protects them (prod).
        protect = pulumi.ResourceOptions(parent=self, protect=args.config.protect_flow_logs)
        key = customer_managed_key(
            self,
            f"{self._name}-flow-logs",
            alias=f"{prefix}-flow-logs",
            description=f"{prefix} VPC flow logs",
            policy=policy_json(
                self, context.account.apply(lambda a: _flow_log_key_statements(a, region, log_group_name))
            ),
            protect=args.config.protect_flow_logs,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            aws.cloudwatch.LogGroupArgs(
                name=log_group_name,
                retention_in_days=args.config.flow_logs_retention_days,
                kms_key_id=key.arn,
            ),
            opts=protect,
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs",
            aws.iam.RoleArgs(
                name=context.iam_role_name("vpc-flow-logs"),
                description="Lets VPC Flow Logs write to the flow log group",
                assume_role_policy=policy_json(
                    self, context.account.apply(lambda a: _flow_log_trust_statements(a, region))
                ),
            ),
            opts=self._child,
        )
        # The group's ARN from its name, not its outputs: a document computed from a resource still
        # being created is unknown in a first preview, and the gate could not read it.
        write_statements = context.account.apply(
            lambda a: _flow_log_write_statements(a, region, log_group_arn(a, region, log_group_name))
        )
        role_policy = aws.iam.RolePolicy(
            f"{self._name}-flow-logs",
            aws.iam.RolePolicyArgs(role=role.id, policy=policy_json(self, write_statements)),
            opts=self._child,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-logs",
            aws.ec2.FlowLogArgs(
                vpc_id=self._vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=log_group.arn,
                iam_role_arn=role.arn,
                # One-minute aggregation: faster evidence during an incident.
                max_aggregation_interval=60,
                tags={"Name": f"{prefix}-flow-logs"},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # The flow log names the role, not its policy: created in parallel, it
                # can first deliver before the role may write, and then stays in
                # DeliverLogsStatus FAILED ("Access error") until it is recreated.
                depends_on=[role_policy],
            ),
        )


def _endpoint_service(account: Account, service: str, region: str) -> str:
    return account.endpoint_service(service, region)


def _flow_log_key_statements(account: Account, region: str, log_group_name: str) -> list[Statement]:
    # The group's ARN is known before the group exists, so the key policy can
    # name it without a dependency cycle (key -> group -> key).
    group_arn = log_group_arn(account, region, log_group_name)
    return [
        account_administers_key(account),
        # CloudWatch Logs may use the key only for this log group (the
        # encryption context names it), or `pulumi up` fails to create it.
        logs_may_use_key("CloudWatchLogsUseForFlowLogGroup", account, region, [group_arn]),
    ]


def _flow_log_trust_statements(account: Account, region: str) -> list[Statement]:
    return [
        Statement(
            actions=["sts:AssumeRole"],
            principals=[Principal(type="Service", identifiers=[account.service_principal("vpc-flow-logs")])],
            # Confused-deputy guard: only flow logs of this account.
            conditions=[
                Condition(test="StringEquals", variable="aws:SourceAccount", values=[account.id]),
                Condition(
                    test="ArnLike",
                    variable="aws:SourceArn",
                    values=[account.arn("ec2", region, "vpc-flow-log/*")],
                ),
            ],
        )
    ]


def _flow_log_write_statements(account: Account, region: str, group_arn: str) -> list[Statement]:
    return [
        Statement(
            sid="WriteFlowLogGroup",
            actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[group_arn, f"{group_arn}:*"],
        ),
        # DescribeLogGroups cannot be scoped to one group.
        Statement(
            sid="FindFlowLogGroup",
            actions=["logs:DescribeLogGroups"],
            resources=[log_group_arn(account, region, "*")],
        ),
    ]
