"""Alarms: an encrypted SNS topic for infrastructure alarms, CloudWatch alarms on the data tier, and the
database's storage events."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import AlarmThresholds
from components.context import Account, StackContext
from components.policies import (
    Condition,
    Principal,
    Statement,
    account_administers_key,
    customer_managed_key,
    policy_json,
)

FIVE_MINUTES = 300
MIB = 1024**2
STORAGE_EVENT_CATEGORIES = ["low storage"]
"""RDS events about storage, each relative to what the instance has now, so they stay right as storage
autoscaling grows it (RDS User Guide, "Amazon RDS event categories and event messages"): more than 90% of
the allocated storage used (RDS-EVENT-0089, which also marks each autoscaling step, since autoscaling starts
at 10% free), storage exhausted (RDS-EVENT-0007), and, as the event list files them under the same
category, autoscaling about to reach or approaching the maxAllocatedStorage ceiling (RDS-EVENT-0224,
RDS-EVENT-0225): check that list when RDS changes it."""


@dataclass
class DatabaseAlarmTarget:
    instance_identifier: pulumi.Input[str]
    """The RDS instance identifier as the instance reports it (the alarms' DBInstanceIdentifier dimension and
    the storage events' source, which RDS requires to exist)."""
    max_connections: int
    """The parameter group's max_connections; the connections threshold is a share of it."""
    has_replicas: bool = False
    """Read replicas exist: add the replica-lag alarm. Left out, no lag alarm."""
    identifier: str = ""
    """The same identifier as chosen before the instance exists, for the topic policy's source condition (a
    document computed from the instance's outputs is unknown in a first preview). Left out, the policy admits
    the events of any DB instance of the account."""


@dataclass
class CacheAlarmTarget:
    replication_group_id: pulumi.Input[str]
    """The replication group id; its members are <id>-001, -002, ... (AWS naming)."""
    num_cache_clusters: int
    """Members in the group; one alarm set per member (ElastiCache metrics are per node)."""


@dataclass
class AlarmsArgs:
    context: StackContext
    """Naming (the topic and the alarms), region and account (the topic and key accept only this account's
    alarms and events)."""
    thresholds: AlarmThresholds
    """Alarm thresholds (config platform:monitoring.alarms)."""
    protect: bool = True
    """Pulumi `protect` on the topic's key (a deleted key silences every alarm); off only for non-production."""
    database: DatabaseAlarmTarget | None = None
    """The database to watch; left out, no RDS alarms."""
    cache: CacheAlarmTarget | None = None
    """The cache to watch; left out, no ElastiCache alarms."""


class Alarms(pulumi.ComponentResource):
    """CloudWatch alarms on RDS and ElastiCache, all notifying one KMS-encrypted SNS topic."""

    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:Alarms", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        topic = self._create_topic()
        self._actions = [topic.arn]
        if args.database is not None:
            self._create_database_alarms(args.database)
            self._subscribe_to_storage_events(args.database, topic)
        if args.cache is not None:
            self._create_cache_alarms(args.cache)
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

    def _create_topic(self) -> aws.sns.Topic:
        args = self._args
        context = args.context
        prefix = context.naming.prefix
        key = customer_managed_key(
            self,
            f"{self._name}-topic",
            alias=f"{prefix}-alarms",
            description=f"{prefix} alarm topic",
            policy=policy_json(self, context.account.apply(_topic_key_statements)),
            protect=args.protect,
        )
        topic_name = context.naming.name("alarms")
        topic = aws.sns.Topic(
            f"{self._name}-topic",
            aws.sns.TopicArgs(name=topic_name, kms_master_key_id=key.arn),
            opts=self._child,
        )
        aws.sns.TopicPolicy(
            f"{self._name}-topic",
            aws.sns.TopicPolicyArgs(
                arn=topic.arn,
                policy=policy_json(
                    self,
                    # The topic's and the database's ARNs from their names, not from their outputs: a
                    # document computed from resources still being created is unknown in a first preview.
                    context.account.apply(
                        lambda a: _topic_statements(
                            context.region,
                            account=a,
                            topic_arn=a.arn("sns", context.region, topic_name),
                            database=(args.database.identifier or "*") if args.database is not None else None,
                        )
                    ),
                ),
            ),
            opts=self._child,
        )
        return topic

    def _alarm(
        self,
        purpose: str,
        namespace: str,
        dimensions: dict[str, pulumi.Input[str]],
        *,
        metric: str,
        comparison: str,
        threshold: float,
        statistic: str = "Average",
        periods: int = 3,
        description: str,
        missing_data: str = "missing",
    ) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-{purpose}",
            aws.cloudwatch.MetricAlarmArgs(
                name=self._args.context.naming.name(purpose),
                alarm_description=description,
                namespace=namespace,
                metric_name=metric,
                dimensions=dimensions,
                statistic=statistic,
                period=FIVE_MINUTES,
                # Three five-minute periods: a sustained problem, not a spike.
                evaluation_periods=periods,
                comparison_operator=comparison,
                threshold=threshold,
                treat_missing_data=missing_data,
                alarm_actions=self._actions,
                ok_actions=self._actions,
            ),
            opts=self._child,
        )

    def _create_database_alarms(self, db: DatabaseAlarmTarget) -> None:
        t = self._args.thresholds
        dims: dict[str, pulumi.Input[str]] = {"DBInstanceIdentifier": db.instance_identifier}
        self._alarm(
            "rds-cpu",
            "AWS/RDS",
            dims,
            metric="CPUUtilization",
            comparison="GreaterThanThreshold",
            threshold=t.rds_cpu_percent,
            description=f"RDS CPU above {t.rds_cpu_percent}% for 15 minutes",
        )
        self._alarm(
            "rds-freeable-memory",
            "AWS/RDS",
            dims,
            metric="FreeableMemory",
            comparison="LessThanThreshold",
            threshold=t.rds_freeable_memory_mib * MIB,
            description=f"RDS freeable memory below {t.rds_freeable_memory_mib} MiB",
        )
        connections = db.max_connections * t.rds_connections_percent / 100
        self._alarm(
            "rds-connections",
            "AWS/RDS",
            dims,
            metric="DatabaseConnections",
            comparison="GreaterThanThreshold",
            threshold=connections,
            description=f"RDS connections above {t.rds_connections_percent}% of max_connections ({db.max_connections})",
        )
        if db.has_replicas:
            self._alarm(
                "rds-replica-lag",
                "AWS/RDS",
                dims,
                metric="ReplicaLag",
                comparison="GreaterThanThreshold",
                threshold=t.rds_replica_lag_seconds,
                missing_data="notBreaching",
                description=f"RDS replica lag above {t.rds_replica_lag_seconds} s",
            )

    def _subscribe_to_storage_events(self, db: DatabaseAlarmTarget, topic: aws.sns.Topic) -> None:
        """Storage, watched by RDS itself: storage autoscaling grows the volume, so a free-space threshold
        fixed at deploy time (a share of the initial size) would fire ever later as it grows; RDS's own
        low-storage events are relative to the current size and also warn before the ceiling."""
        aws.rds.EventSubscription(
            f"{self._name}-rds-storage",
            aws.rds.EventSubscriptionArgs(
                name=self._args.context.naming.name("rds-storage"),
                sns_topic=topic.arn,
                source_type="db-instance",
                source_ids=[db.instance_identifier],
                event_categories=STORAGE_EVENT_CATEGORIES,
                enabled=True,
            ),
            opts=self._child,
        )

    def _create_cache_alarms(self, cache: CacheAlarmTarget) -> None:
        t = self._args.thresholds
        for index in range(1, cache.num_cache_clusters + 1):
            member = _member_id(cache.replication_group_id, index)
            node: dict[str, pulumi.Input[str]] = {"CacheClusterId": member}
            suffix = f"{index:03d}"
            self._alarm(
                f"cache-{suffix}-cpu",
                "AWS/ElastiCache",
                node,
                metric="CPUUtilization",
                comparison="GreaterThanThreshold",
                threshold=t.cache_cpu_percent,
                description=f"cache node {suffix} CPU above {t.cache_cpu_percent}%",
            )
            # Redis is single-threaded: engine CPU saturates long before host CPU.
            self._alarm(
                f"cache-{suffix}-engine-cpu",
                "AWS/ElastiCache",
                node,
                metric="EngineCPUUtilization",
                comparison="GreaterThanThreshold",
                threshold=t.cache_engine_cpu_percent,
                description=f"cache node {suffix} engine CPU above {t.cache_engine_cpu_percent}%",
            )
            self._alarm(
                f"cache-{suffix}-memory",
                "AWS/ElastiCache",
                node,
                metric="DatabaseMemoryUsagePercentage",
                comparison="GreaterThanThreshold",
                threshold=t.cache_memory_percent,
                description=f"cache node {suffix} memory above {t.cache_memory_percent}%",
            )
            self._alarm(
                f"cache-{suffix}-evictions",
                "AWS/ElastiCache",
                node,
                metric="Evictions",
                statistic="Sum",
                periods=1,
                comparison="GreaterThanThreshold",
                threshold=t.cache_evictions,
                missing_data="notBreaching",
                description=f"cache node {suffix} evicted more than {t.cache_evictions} keys in 5 minutes",
            )
            if cache.num_cache_clusters > 1:
                # Only replicas report lag; the primary (which moves on failover) reports nothing.
                self._alarm(
                    f"cache-{suffix}-replication-lag",
                    "AWS/ElastiCache",
                    node,
                    metric="ReplicationLag",
                    comparison="GreaterThanThreshold",
                    threshold=t.cache_replication_lag_seconds,
                    missing_data="notBreaching",
                    description=f"cache node {suffix} replication lag above {t.cache_replication_lag_seconds} s",
                )


def _member_id(replication_group_id: pulumi.Input[str], index: int) -> pulumi.Output[str]:
    """AWS names a replication group's member clusters <group id>-001, -002, ..."""
    return pulumi.Output.from_input(replication_group_id).apply(lambda group: f"{group}-{index:03d}")


def _topic_key_statements(account: Account) -> list[Statement]:
    return [
        account_administers_key(account),
        # CloudWatch and RDS encrypt the messages they publish to the topic with
        # this key; without this an encrypted topic silently drops them (AWS SNS
        # docs, "compatibility between event sources and encrypted topics").
        Statement(
            sid="AlarmSourcesPublishEncrypted",
            principals=[
                Principal(
                    type="Service",
                    identifiers=[account.service_principal("cloudwatch"), account.service_principal("events.rds")],
                )
            ],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=[Condition(test="StringEquals", variable="aws:SourceAccount", values=[account.id])],
        ),
    ]


def _topic_statements(region: str, account: Account, topic_arn: str, database: str | None) -> list[Statement]:
    statements = [
        Statement(
            sid="AccountManagesTopic",
            principals=[Principal(type="AWS", identifiers=[account.root])],
            actions=["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Publish"],
            resources=[topic_arn],
        ),
        Statement(
            sid="CloudWatchAlarmsPublish",
            principals=[Principal(type="Service", identifiers=[account.service_principal("cloudwatch")])],
            actions=["sns:Publish"],
            resources=[topic_arn],
            conditions=[
                Condition(test="StringEquals", variable="aws:SourceAccount", values=[account.id]),
                Condition(
                    test="ArnLike", variable="aws:SourceArn", values=[account.arn("cloudwatch", region, "alarm:*")]
                ),
            ],
        ),
    ]
    if database is not None:
        # The topic's policy replaces SNS's default, so RDS events need their own grant
        # (RDS User Guide, "Granting permissions to publish notifications to an Amazon SNS topic").
        statements.append(
            Statement(
                sid="DatabaseEventsPublish",
                principals=[Principal(type="Service", identifiers=[account.service_principal("events.rds")])],
                actions=["sns:Publish"],
                resources=[topic_arn],
                conditions=[
                    Condition(test="StringEquals", variable="aws:SourceAccount", values=[account.id]),
                    Condition(
                        test="ArnLike", variable="aws:SourceArn", values=[account.arn("rds", region, f"db:{database}")]
                    ),
                ],
            )
        )
    return statements
