"""Cache: an ElastiCache replication group (Redis OSS, or Valkey by config) for the teams' workloads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.config import CacheConfig
from components.context import Account, StackContext
from components.naming import final_snapshot_identifier
from components.policies import (
    Statement,
    account_administers_key,
    customer_managed_key,
    log_group_arn,
    logs_may_use_key,
    policy_json,
)

PORT = 6379

# The teams' windows, in UTC. Snapshots run daily and end an hour before the
# weekly maintenance starts, so that a snapshot and a patch never overlap
# (ElastiCache rejects overlapping windows and delays the snapshot otherwise).
MAINTENANCE_WINDOW = "sun:05:00-sun:06:00"
SNAPSHOT_WINDOW = "03:00-04:00"

# The teams' settings. allkeys-lru: the cache evicts the least recently used
# key of any kind instead of refusing writes when memory is full. timeout: idle
# clients are dropped after 5 minutes. tcp-keepalive: dead peers are found in
# about a minute instead of the kernel's two hours.
PARAMETERS = {"maxmemory-policy": "allkeys-lru", "timeout": "300", "tcp-keepalive": "60"}

# ElastiCache AUTH tokens: 16-128 printable characters, and the only
# non-alphanumeric characters allowed are !&#$^<>- (AWS ElastiCache user guide,
# "Authenticating with the Valkey and Redis OSS AUTH command"; CreateReplicationGroup
# AuthToken). 64 characters of that alphabet are far beyond guessing.
AUTH_TOKEN_LENGTH = 64
AUTH_TOKEN_SPECIALS = "!&#$^<>-"

LOG_TYPES = ("slow-log", "engine-log")


def parameter_group_family(engine: str, engine_version: str) -> str:
    """The parameter group family of an engine version: redis7, valkey7, valkey8."""
    major = engine_version.split(".", maxsplit=1)[0]
    return f"{engine}{major}"


@dataclass
class CacheArgs:
    config: CacheConfig
    """Validated cache settings (engine, version, node type, node count, retention, protect)."""
    context: StackContext
    """Naming (the replication group is <project>-<stack>-cache, and its groups, key, logs and secret),
    region and account (the key policy's CloudWatch Logs principal and log group ARNs)."""
    vpc_id: pulumi.Input[str]
    """VPC of the cache's security group."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """The database-tier subnets (no route to the internet), one per AZ, for the cache's own subnet group;
    replicas land in other AZs."""
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Security groups admitted on 6379 (the cluster's nodes). Left out, nothing can connect: the
    cache's security group then has no ingress rule at all (never a CIDR)."""
    availability_zones: Sequence[str] = ()
    """AZs to spread the nodes over, primary first (one node per AZ, round robin). Left out,
    ElastiCache picks, and nothing guarantees the replicas are in other AZs than the primary."""


class Cache(pulumi.ComponentResource):
    """An ElastiCache replication group, encrypted and authenticated, with its logs and auth token.

    With more than one node (prod: a primary and two replicas) the replicas
    are spread across AZs and take over automatically; with one node (dev)
    there is no failover. Data is encrypted at rest with the cache's own
    customer-managed key and in transit (TLS required); clients authenticate
    with a generated AUTH token kept in a Secrets Manager secret. With
    ``config.protect`` the group and its key are protected and deleting the
    group leaves a final snapshot.
    """

    primary_endpoint: pulumi.Output[str]
    """Address of the primary (reads and writes); TLS on port ``port``."""
    reader_endpoint: pulumi.Output[str]
    """Address that spreads reads over the replicas (the primary when there is none)."""
    port: pulumi.Output[int]
    """Port clients connect to (6379)."""
    replication_group_id: pulumi.Output[str]
    """Replication group id (the ReplicationGroupId alarm dimension)."""
    member_cluster_ids: pulumi.Output[list[str]]
    """Ids of the member clusters (<group id>-001, -002, ...): the CacheClusterId alarm dimension."""
    auth_token_secret_arn: pulumi.Output[str]
    """Secrets Manager secret holding {host, readerHost, port, tls, authToken} as JSON."""
    security_group_id: pulumi.Output[str]
    """The cache's security group (admits 6379 from the allowed groups only)."""
    kms_key_arn: pulumi.Output[str]
    """Key encrypting the data, snapshots, logs and the secret; readers of the secret need kms:Decrypt on it."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cache:Cache", name, None, opts)
        self._name = name
        self._args = args
        self._naming = args.context.naming
        self._child = pulumi.ResourceOptions(parent=self)
        # The data and its key are the state: the stack's config protects them (prod).
        self._protected = pulumi.ResourceOptions(parent=self, protect=args.config.protect)
        self._log_group_names = {t: f"/aws/elasticache/{self._naming.prefix}/{t}" for t in LOG_TYPES}

        key = self._create_key()
        log_groups = self._create_log_groups(key)
        security_group = self._create_security_group()
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            aws.elasticache.SubnetGroupArgs(
                name=self._naming.name("cache", "elasticache"),
                description=f"{self._naming.prefix} cache: database-tier subnets (no route to the internet)",
                subnet_ids=args.subnet_ids,
            ),
            opts=self._child,
        )
        parameter_group = self._create_parameter_group()
        token = self._create_auth_token()
        group = self._create_replication_group(
            key=key,
            log_groups=log_groups,
            security_group=security_group,
            subnet_group=subnet_group,
            parameter_group=parameter_group,
            token=token,
        )
        secret = self._create_auth_token_secret(key, group, token)

        count = args.config.num_cache_clusters
        self.primary_endpoint = group.primary_endpoint_address
        self.reader_endpoint = group.reader_endpoint_address
        self.port = group.port.apply(lambda port: port if port is not None else PORT)
        self.replication_group_id = group.replication_group_id
        # AWS names the members of a cluster-mode-disabled group <id>-001, -002,
        # ... in creation order; derived from the group's id so that an alarm on
        # a member depends on the group in the graph.
        self.member_cluster_ids = group.replication_group_id.apply(
            lambda group_id: [f"{group_id}-{i:03d}" for i in range(1, count + 1)]
        )
        self.auth_token_secret_arn = secret.arn
        self.security_group_id = security_group.id
        self.kms_key_arn = key.arn
        self.register_outputs(
            {
                "primary_endpoint": self.primary_endpoint,
                "reader_endpoint": self.reader_endpoint,
                "port": self.port,
                "replication_group_id": self.replication_group_id,
                "member_cluster_ids": self.member_cluster_ids,
                "auth_token_secret_arn": self.auth_token_secret_arn,
                "security_group_id": self.security_group_id,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _create_key(self) -> aws.kms.Key:
        args = self._args
        prefix = self._naming.prefix
        region = args.context.region
        names = list(self._log_group_names.values())
        return customer_managed_key(
            self,
            f"{self._name}-key",
            alias=f"{prefix}-cache",
            description=f"{prefix} cache: data at rest, snapshots, logs and the auth token secret",
            policy=policy_json(self, args.context.account.apply(lambda a: _key_statements(a, region, names))),
            protect=args.config.protect,
        )

    def _create_log_groups(self, key: aws.kms.Key) -> dict[str, aws.cloudwatch.LogGroup]:
        # ElastiCache delivers these as vended logs: whoever runs `pulumi up`
        # needs logs:CreateLogDelivery and logs:PutResourcePolicy, and AWS adds
        # the delivery's resource policy to the group (ElastiCache user guide,
        # "ElastiCache logging destinations").
        return {
            log_type: aws.cloudwatch.LogGroup(
                f"{self._name}-{log_type}",
                aws.cloudwatch.LogGroupArgs(
                    name=log_group_name,
                    retention_in_days=self._args.config.log_retention_days,
                    kms_key_id=key.arn,
                ),
                opts=self._child,
            )
            for log_type, log_group_name in self._log_group_names.items()
        }

    def _create_security_group(self) -> aws.ec2.SecurityGroup:
        args = self._args
        # No egress rule: the nodes never open connections to their clients,
        # and the AWS provider removes the allow-all egress rule AWS adds to a
        # new group.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                description=f"ElastiCache {args.config.engine}: {PORT} from the allowed security groups only",
                tags={"Name": f"{self._naming.prefix}-cache"},
            ),
            opts=self._child,
        )
        # One rule per source group, never a CIDR: a pod's address says nothing
        # about who it is, the node's security group does.
        for index, source in enumerate(args.allowed_security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-ingress-{index}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=group.id,
                    description=f"{args.config.engine} over TLS from an allowed security group",
                    ip_protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    referenced_security_group_id=source,
                ),
                opts=self._child,
            )
        return group

    def _create_parameter_group(self) -> aws.elasticache.ParameterGroup:
        config = self._args.config
        family = parameter_group_family(config.engine, config.version)
        return aws.elasticache.ParameterGroup(
            f"{self._name}-params",
            aws.elasticache.ParameterGroupArgs(
                # The family is in the name so that a major-version or engine
                # change creates the new group before the old one is dropped
                # (a group in use cannot be deleted).
                name=self._naming.name(f"cache-{family}", "elasticache"),
                family=family,
                description=f"{self._naming.prefix} cache: the teams' {family} settings",
                parameters=[
                    aws.elasticache.ParameterGroupParameterArgs(name=key, value=value)
                    for key, value in PARAMETERS.items()
                ],
            ),
            opts=self._child,
        )

    def _create_auth_token(self) -> random.RandomPassword:
        # The result is a secret in state and in every Output built from it.
        return random.RandomPassword(
            f"{self._name}-auth-token",
            random.RandomPasswordArgs(
                length=AUTH_TOKEN_LENGTH,
                special=True,
                override_special=AUTH_TOKEN_SPECIALS,
                # AWS recommends at least three character classes; ask for all four.
                min_upper=1,
                min_lower=1,
                min_numeric=1,
                min_special=1,
            ),
            opts=self._child,
        )

    def _create_replication_group(
        self,
        *,
        key: aws.kms.Key,
        log_groups: dict[str, aws.cloudwatch.LogGroup],
        security_group: aws.ec2.SecurityGroup,
        subnet_group: aws.elasticache.SubnetGroup,
        parameter_group: aws.elasticache.ParameterGroup,
        token: random.RandomPassword,
    ) -> aws.elasticache.ReplicationGroup:
        args = self._args
        config = args.config
        group_id = self._naming.name("cache", "elasticache")
        # Failover needs a replica to promote, and Multi-AZ needs failover
        # (CreateReplicationGroup rejects either with a single node).
        highly_available = config.num_cache_clusters > 1
        return aws.elasticache.ReplicationGroup(
            f"{self._name}-group",
            aws.elasticache.ReplicationGroupArgs(
                replication_group_id=group_id,
                description=f"{self._naming.prefix} {config.engine} cache",
                engine=config.engine,
                engine_version=config.version,
                node_type=config.node_type,
                port=PORT,
                num_cache_clusters=config.num_cache_clusters,
                preferred_cache_cluster_azs=_spread(args.availability_zones, config.num_cache_clusters),
                automatic_failover_enabled=highly_available,
                multi_az_enabled=highly_available,
                subnet_group_name=subnet_group.name,
                security_group_ids=[security_group.id],
                parameter_group_name=parameter_group.name,
                at_rest_encryption_enabled=True,
                kms_key_id=key.arn,
                transit_encryption_enabled=True,
                # "required": no plain-text connection is accepted, even during
                # a migration ("preferred" accepts both).
                transit_encryption_mode="required",
                auth_token=token.result,
                auto_minor_version_upgrade=True,
                maintenance_window=MAINTENANCE_WINDOW,
                snapshot_window=SNAPSHOT_WINDOW,
                snapshot_retention_limit=config.snapshot_retention_days,
                # A protected (prod) group leaves its data behind when it is
                # deleted anyway, under a name no earlier deletion used; dev
                # keeps no final snapshot.
                final_snapshot_identifier=final_snapshot_identifier(
                    self,
                    f"{self._name}-final-snapshot",
                    group_id,
                    # A new key or subnet group replaces the group (ForceNew in the provider).
                    replaced_with={"kmsKeyId": key.arn, "subnetGroup": subnet_group.name},
                )
                if config.protect
                else None,
                log_delivery_configurations=[
                    aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                        destination=log_groups[log_type].name,
                        destination_type="cloudwatch-logs",
                        log_format="json",
                        log_type=log_type,
                    )
                    for log_type in LOG_TYPES
                ],
            ),
            opts=self._protected,
        )

    def _create_auth_token_secret(
        self, key: aws.kms.Key, group: aws.elasticache.ReplicationGroup, token: random.RandomPassword
    ) -> aws.secretsmanager.Secret:
        args = self._args
        secret = aws.secretsmanager.Secret(
            f"{self._name}-auth-token",
            aws.secretsmanager.SecretArgs(
                name=f"{self._naming.prefix}/cache/auth-token",
                description=f"{self._naming.prefix} cache: endpoint and AUTH token (JSON)",
                kms_key_id=key.arn,
                # A deleted prod secret can be restored for 30 days; dev's is
                # deleted at once so that a recreated stack can reuse the name.
                recovery_window_in_days=30 if args.config.protect else 0,
            ),
            opts=self._child,
        )
        document: dict[str, Any] = {
            "host": group.primary_endpoint_address,
            "readerHost": group.reader_endpoint_address,
            "port": PORT,
            "tls": True,
            "authToken": token.result,
        }
        aws.secretsmanager.SecretVersion(
            f"{self._name}-auth-token",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=secret.id,
                # Secret because the token is; json_dumps keeps the secrecy.
                secret_string=pulumi.Output.json_dumps(document),
            ),
            opts=self._child,
        )
        return secret


def _key_statements(account: Account, region: str, log_group_names: list[str]) -> list[Statement]:
    # The groups' ARNs are known before the groups exist, so the key policy can
    # name them without a cycle (key -> log group -> key).
    log_group_arns = [log_group_arn(account, region, n) for n in log_group_names]
    return [
        # ElastiCache and Secrets Manager use the key on behalf of the caller
        # (grants, kms:ViaService), so IAM policies of the account decide who
        # may: the root statement delegates to them.
        account_administers_key(account),
        # CloudWatch Logs may use the key only for the cache's log groups (the
        # encryption context names them), or creating the groups fails.
        logs_may_use_key("CloudWatchLogsUseForCacheLogGroups", account, region, log_group_arns),
    ]


def _spread(zones: Sequence[str], nodes: int) -> list[str] | None:
    """One AZ per node, round robin, so an AZ outage takes at most one node per AZ."""
    return [zones[i % len(zones)] for i in range(nodes)] if zones else None
