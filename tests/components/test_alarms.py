"""Alarms: the encrypted topic and the data-tier alarms, asserted on recorded inputs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from components.alarms import Alarms, AlarmsArgs, CacheAlarmTarget, DatabaseAlarmTarget
from components.config import AlarmThresholds
from components.naming import default_tags
from tests.components.context import fixed_context
from tests.policy.harness import _client
from tools.engine import Run
from tools.policy_gate import evaluate, load_policy_config

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def program(
    thresholds: AlarmThresholds | None = None, members: int = 3, replicas: bool = False, database: bool = True
) -> Callable[[], None]:
    def run() -> None:
        tags = default_tags("platform", "prod", "platform-team", "eng", {})
        provider = aws.Provider("aws", region="ca-central-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
        Alarms(
            "alarms",
            AlarmsArgs(
                context=fixed_context("prod"),
                thresholds=thresholds or AlarmThresholds(),
                database=DatabaseAlarmTarget(
                    "platform-prod-postgres", 200, replicas, identifier="platform-prod-postgres"
                )
                if database
                else None,
                cache=CacheAlarmTarget("platform-prod-redis", members) if members else None,
            ),
            opts=pulumi.ResourceOptions(providers={"aws": provider}),
        )

    return run


def alarms_by_metric(run: Run) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for alarm in run.by_type(ALARM):
        found.setdefault(alarm.inputs["metricName"], []).append(alarm.inputs)
    return found


def test_rds_alarms_use_the_teams_thresholds(build: Callable[..., Run]) -> None:
    alarms = alarms_by_metric(build(program(members=0)))
    # Storage is watched by RDS's storage events (below), not a threshold fixed at deploy time.
    assert set(alarms) == {"CPUUtilization", "FreeableMemory", "DatabaseConnections"}
    by = {metric: inputs[0] for metric, inputs in alarms.items()}
    assert (by["CPUUtilization"]["comparisonOperator"], by["CPUUtilization"]["threshold"]) == (
        "GreaterThanThreshold",
        80,
    )
    # 256 MiB; 80% of 200 connections.
    assert by["FreeableMemory"]["threshold"] == 256 * 1024**2
    assert by["DatabaseConnections"]["threshold"] == 160
    for inputs in by.values():
        assert inputs["namespace"] == "AWS/RDS" and inputs["dimensions"] == {
            "DBInstanceIdentifier": "platform-prod-postgres"
        }


def test_storage_is_watched_by_rds_low_storage_events_that_follow_autoscaling(build: Callable[..., Run]) -> None:
    """A free-storage threshold fixed at deploy time (10% of the initial 100 GiB) is 1% of the volume once
    autoscaling has grown it to 1000 GiB; RDS's own low-storage events are relative to the current size and
    also fire before the maxAllocatedStorage ceiling."""
    run = build(program(members=0))
    assert not [a for a in run.by_type(ALARM) if a.inputs["metricName"] == "FreeStorageSpace"]
    (subscription,) = run.by_type("aws:rds/eventSubscription:EventSubscription")
    (topic,) = run.by_type("aws:sns/topic:Topic")
    assert subscription.inputs["snsTopic"] == topic.outputs["arn"]
    assert subscription.inputs["sourceType"] == "db-instance"
    assert subscription.inputs["sourceIds"] == ["platform-prod-postgres"]
    assert subscription.inputs["eventCategories"] == ["low storage"]
    assert subscription.inputs["enabled"] is True
    # RDS may publish, for this database only, and encrypt with the topic's key.
    (policy,) = run.by_type("aws:sns/topicPolicy:TopicPolicy")
    (rds,) = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "DatabaseEventsPublish"]
    assert rds["Principal"] == {"Service": ["events.rds.amazonaws.com"]}
    assert rds["Condition"]["ArnLike"]["aws:SourceArn"] == [
        "arn:aws:rds:ca-central-1:123456789012:db:platform-prod-postgres"
    ]
    (key,) = run.by_type("aws:kms/key:Key")
    (publishers,) = [
        s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"] == "AlarmSourcesPublishEncrypted"
    ]
    assert set(publishers["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.rds.amazonaws.com"}


def test_without_a_database_no_storage_events_and_no_rds_grant(build: Callable[..., Run]) -> None:
    run = build(program(database=False))
    assert run.by_type("aws:rds/eventSubscription:EventSubscription") == []
    (policy,) = run.by_type("aws:sns/topicPolicy:TopicPolicy")
    assert "DatabaseEventsPublish" not in {s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_the_topic_key_goes_through_the_shared_key_helper(build: Callable[..., Run]) -> None:
    run = build(program())
    (key,) = run.by_type("aws:kms/key:Key")
    (alias,) = run.by_type("aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/platform-prod-alarms"
    assert alias.inputs["targetKeyId"] == key.outputs["keyId"]
    assert key.protect is True and key.inputs["deletionWindowInDays"] == 30


def test_replica_lag_alarm_only_with_replicas(build: Callable[..., Run]) -> None:
    assert "ReplicaLag" not in alarms_by_metric(build(program(members=0)))
    (lag,) = alarms_by_metric(build(program(members=0, replicas=True)))["ReplicaLag"]
    assert lag["threshold"] == 10 and lag["treatMissingData"] == "notBreaching"


def test_cache_alarms_watch_every_member_node(build: Callable[..., Run]) -> None:
    alarms = alarms_by_metric(build(program(database=False)))
    for metric in (
        "CPUUtilization",
        "EngineCPUUtilization",
        "DatabaseMemoryUsagePercentage",
        "Evictions",
        "ReplicationLag",
    ):
        members = sorted(a["dimensions"]["CacheClusterId"] for a in alarms[metric])
        assert members == ["platform-prod-redis-001", "platform-prod-redis-002", "platform-prod-redis-003"], metric
    assert {a["threshold"] for a in alarms["DatabaseMemoryUsagePercentage"]} == {80}
    assert {(a["statistic"], a["threshold"]) for a in alarms["Evictions"]} == {("Sum", 1000)}


def test_a_single_node_cache_has_no_replication_lag_alarm(build: Callable[..., Run]) -> None:
    alarms = alarms_by_metric(build(program(members=1, database=False)))
    assert "ReplicationLag" not in alarms and len(alarms["CPUUtilization"]) == 1


def test_thresholds_come_from_config(build: Callable[..., Run]) -> None:
    thresholds = AlarmThresholds.model_validate({"rdsCpuPercent": 90, "cacheMemoryPercent": 70})
    alarms = alarms_by_metric(build(program(thresholds)))
    assert {a["threshold"] for a in alarms["CPUUtilization"] if a["namespace"] == "AWS/RDS"} == {90}
    assert {a["threshold"] for a in alarms["DatabaseMemoryUsagePercentage"]} == {70}


def test_every_alarm_notifies_the_encrypted_topic(build: Callable[..., Run]) -> None:
    run = build(program())
    (topic,) = run.by_type("aws:sns/topic:Topic")
    (key,) = run.by_type("aws:kms/key:Key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    (cloudwatch,) = [s for s in statements if "cloudwatch.amazonaws.com" in s.get("Principal", {}).get("Service", [])]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    for alarm in run.by_type(ALARM):
        assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]] == alarm.inputs["okActions"]
    (policy,) = run.by_type("aws:sns/topicPolicy:TopicPolicy")
    (publish,) = [s for s in json.loads(policy.inputs["policy"])["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish"]
    assert publish["Resource"] == [topic.outputs["arn"]]
    assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == ["123456789012"]


def test_bad_thresholds_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="rdsCpuPercent"):
        AlarmThresholds.model_validate({"rdsCpuPercent": 150})


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_alarms_alone_pass_the_prod_policy_pack(build: Callable[..., Run], mode: str) -> None:
    result = evaluate(_client(), build(program(), mode=mode), load_policy_config("prod"))
    assert result.mandatory == []
