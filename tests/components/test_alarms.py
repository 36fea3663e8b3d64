"""Alarms: the encrypted topic and the data-tier alarms, asserted on recorded inputs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from components.alarms import Alarms, AlarmsArgs, CacheAlarmTarget, DatabaseAlarmTarget
from components.config import AlarmThresholds
from components.naming import Naming, default_tags
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
                naming=Naming("platform", "prod"),
                thresholds=thresholds or AlarmThresholds(),
                region="ca-central-1",
                account_id="123456789012",
                database=DatabaseAlarmTarget("platform-prod-postgres", 100, 200, replicas) if database else None,
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
    assert set(alarms) == {"CPUUtilization", "FreeStorageSpace", "FreeableMemory", "DatabaseConnections"}
    by = {metric: inputs[0] for metric, inputs in alarms.items()}
    assert (by["CPUUtilization"]["comparisonOperator"], by["CPUUtilization"]["threshold"]) == (
        "GreaterThanThreshold",
        80,
    )
    # 10% of 100 GiB, in bytes; 256 MiB; 80% of 200 connections.
    assert by["FreeStorageSpace"]["threshold"] == 10 * 1024**3
    assert by["FreeStorageSpace"]["comparisonOperator"] == "LessThanThreshold"
    assert by["FreeableMemory"]["threshold"] == 256 * 1024**2
    assert by["DatabaseConnections"]["threshold"] == 160
    for inputs in by.values():
        assert inputs["namespace"] == "AWS/RDS" and inputs["dimensions"] == {
            "DBInstanceIdentifier": "platform-prod-postgres"
        }


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
    (cloudwatch,) = [s for s in statements if s.get("Principal") == {"Service": ["cloudwatch.amazonaws.com"]}]
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
