"""Cache: the component alone, asserted on the recorded inputs, with the prod and dev stack configs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pydantic import ValidationError

from components.cache import Cache, CacheArgs
from components.config import CacheConfig, ConfigError, load_settings
from tests.components.context import fixed_context
from tests.test_config import raw_stack
from tools.engine import UNKNOWN_TEXT, Resource, Run

GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PARAMS = "aws:elasticache/parameterGroup:ParameterGroup"
SUBNETS = "aws:elasticache/subnetGroup:SubnetGroup"
REGION = "ca-central-1"
ACCOUNT = "123456789012"
# Every child must reach AWS through the component's provider: with the
# default provider disabled, one that does not fails the run.
CONFIG = {"aws:region": REGION, "pulumi:disable-default-providers": '["aws"]'}
TAGS = {
    "environment": "prod",
    "project": "platform",
    "owner": "platform-team",
    "cost-center": "eng",
    "managed-by": "pulumi",
}
OUTPUTS = {
    "primary_endpoint",
    "reader_endpoint",
    "port",
    "replication_group_id",
    "member_cluster_ids",
    "auth_token_secret_arn",
    "security_group_id",
    "kms_key_arn",
}


def stack_cache(stack: str) -> CacheConfig:
    return CacheConfig.model_validate(raw_stack(stack)["platform:cache"])


def cache_program(
    config: CacheConfig,
    *,
    stack: str = "prod",
    allowed: Sequence[str] = ("sg-0nodes",),
    node_group: bool = False,
    default_tags: dict[str, str] | None = None,
) -> Callable[[], Cache]:
    """Cache alone behind an explicit provider; ``node_group`` admits a security group created in the program."""

    def program() -> Cache:
        provider = aws.Provider(
            "aws",
            aws.ProviderArgs(
                region=REGION,
                default_tags=aws.ProviderDefaultTagsArgs(tags=default_tags) if default_tags else None,
            ),
        )
        sources: list[pulumi.Input[str]] = list(allowed)
        if node_group:
            nodes = aws.ec2.SecurityGroup(
                "nodes",
                aws.ec2.SecurityGroupArgs(vpc_id="vpc-0test", description="cluster nodes"),
                opts=pulumi.ResourceOptions(provider=provider),
            )
            sources.append(nodes.id)
        return Cache(
            "cache",
            CacheArgs(
                config=config,
                context=fixed_context(stack, REGION),
                vpc_id="vpc-0test",
                subnet_ids=["subnet-0a", "subnet-0b", "subnet-0d"],
                allowed_security_group_ids=sources,
            ),
            opts=pulumi.ResourceOptions(providers={"aws": provider}),
        )

    return program


def one(run: Run, type_: str) -> Resource:
    (resource,) = run.by_type(type_)
    return resource


@pytest.fixture(params=["preview", "update"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def prod(build: Callable[..., Run]) -> Run:
    return build(cache_program(stack_cache("prod")), config=CONFIG)


@pytest.fixture
def dev(build: Callable[..., Run]) -> Run:
    return build(cache_program(stack_cache("dev"), stack="dev"), config=CONFIG)


# --- defaults and minimal args ------------------------------------------------------------


def test_minimal_args_give_a_protected_three_node_redis_7_that_nobody_can_reach(build: Callable[..., Run]) -> None:
    run = build(cache_program(CacheConfig(), allowed=()), config=CONFIG)
    component = run.named("cache")
    assert component.type == "platform:cache:Cache"
    assert set(component.outputs) == OUTPUTS
    group = one(run, GROUP)
    assert (group.inputs["engine"], group.inputs["engineVersion"]) == ("redis", "7.1")
    assert group.inputs["nodeType"] == "cache.r7g.large"
    assert group.inputs["numCacheClusters"] == 3
    assert group.inputs["snapshotRetentionLimit"] == 7
    assert group.protect and one(run, KEY).protect
    # No source given: no ingress rule at all, and never a CIDR instead.
    assert run.by_type(INGRESS) == []
    assert "ingress" not in one(run, SECURITY_GROUP).inputs
    assert one(run, PARAMS).inputs["family"] == "redis7"


def test_every_child_is_parented_to_the_component_and_uses_the_given_provider(prod: Run) -> None:
    component = prod.named("cache")
    provider = one(prod, "pulumi:providers:aws")
    children = prod.children(component.urn)
    assert {r.type for r in children} == {
        GROUP, KEY, "aws:kms/alias:Alias", LOG_GROUP, SECURITY_GROUP, INGRESS, PARAMS, SUBNETS, PASSWORD, SECRET,
        SECRET_VERSION, "random:index/randomId:RandomId",
    }  # fmt: skip
    for child in children:
        assert child.name.startswith("cache-"), child.name
        if child.type.startswith("aws:"):
            assert child.provider == provider.urn, child.urn


# --- prod vs dev -------------------------------------------------------------------------------


def test_prod_runs_a_primary_and_two_replicas_with_failover_across_azs(prod: Run) -> None:
    group = one(prod, GROUP)
    assert group.inputs["numCacheClusters"] == 3
    assert group.inputs["automaticFailoverEnabled"] is True
    assert group.inputs["multiAzEnabled"] is True
    assert group.inputs["nodeType"] == "cache.r7g.large"
    assert one(prod, SUBNETS).inputs["subnetIds"] == ["subnet-0a", "subnet-0b", "subnet-0d"]


def test_dev_runs_one_node_without_failover_or_multi_az(dev: Run) -> None:
    group = one(dev, GROUP)
    assert group.inputs["numCacheClusters"] == 1
    # CreateReplicationGroup refuses failover and Multi-AZ without a replica.
    assert group.inputs["automaticFailoverEnabled"] is False
    assert group.inputs["multiAzEnabled"] is False
    assert group.inputs["nodeType"] == "cache.t4g.small"


def test_prod_protects_the_group_and_its_key_and_keeps_a_final_snapshot(prod: Run) -> None:
    group, key = one(prod, GROUP), one(prod, KEY)
    assert group.protect and key.protect
    (suffix,) = prod.by_type("random:index/randomId:RandomId")
    # A new suffix whenever the group is created anew: new stack, new key or new subnet group (both replace it).
    assert suffix.inputs["keepers"] == {
        "identifier": "platform-prod-cache",
        "kmsKeyId": one(prod, KEY).outputs["arn"],
        "subnetGroup": one(prod, SUBNETS).outputs["name"],
    }
    assert group.inputs["finalSnapshotIdentifier"] == f"platform-prod-cache-final-{suffix.outputs['hex']}"
    assert one(prod, SECRET).inputs["recoveryWindowInDays"] == 30
    # Nothing else is protected: logs, groups and the secret can be replaced freely.
    assert [r.name for r in prod.resources if r.protect] == ["cache-key", "cache-group"]


def test_dev_turns_protection_and_the_final_snapshot_off(dev: Run) -> None:
    group = one(dev, GROUP)
    assert not group.protect and not one(dev, KEY).protect
    assert "finalSnapshotIdentifier" not in group.inputs
    assert one(dev, SECRET).inputs["recoveryWindowInDays"] == 0


def test_snapshot_retention_comes_from_the_stack(prod: Run, dev: Run) -> None:
    assert one(prod, GROUP).inputs["snapshotRetentionLimit"] == 7
    assert one(dev, GROUP).inputs["snapshotRetentionLimit"] == 1


# --- encryption, authentication and the secret ----------------------------------------------------


def test_data_is_encrypted_at_rest_with_its_own_rotating_key_and_in_transit_with_tls_required(prod: Run) -> None:
    group, key = one(prod, GROUP), one(prod, KEY)
    assert group.inputs["atRestEncryptionEnabled"] is True
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert group.property_dependencies["kmsKeyId"] == [key.urn]
    assert group.inputs["transitEncryptionEnabled"] is True
    assert group.inputs["transitEncryptionMode"] == "required"
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    (alias,) = prod.by_type("aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/platform-prod-cache"


def test_auth_token_is_a_random_password_elasticache_accepts(prod: Run) -> None:
    password = one(prod, PASSWORD)
    assert 16 <= password.inputs["length"] <= 128
    specials = password.inputs["overrideSpecial"]
    # The only non-alphanumeric characters AUTH accepts (no space, '/', '"' or '@'). An empty
    # override would make pulumi-random fall back to its own specials, '@' among them.
    assert password.inputs["special"] is True and specials and set(specials) <= set("!&#$^<>-")
    assert one(prod, GROUP).inputs["authToken"] == password.outputs["result"]


def test_auth_token_is_secret_in_the_graph_and_absent_from_plain_outputs(prod: Run) -> None:
    token = one(prod, PASSWORD).outputs["result"]
    group = one(prod, GROUP)
    assert "/authToken" in group.secret_inputs
    assert "/authToken" in group.secret_outputs
    version = one(prod, SECRET_VERSION)
    assert "/secretString" in version.secret_inputs
    component = prod.named("cache")
    assert token not in json.dumps(component.outputs)
    assert component.secret_outputs == []
    # Only the secret-marked values carry it.
    for resource in prod.resources:
        plain = {k: v for k, v in resource.inputs.items() if f"/{k}" not in resource.secret_inputs}
        assert token not in json.dumps(plain), resource.urn


def test_auth_token_is_stored_as_json_in_a_secret_encrypted_with_the_cache_key(prod: Run) -> None:
    secret, version, key, group = one(prod, SECRET), one(prod, SECRET_VERSION), one(prod, KEY), one(prod, GROUP)
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]
    assert secret.inputs["name"] == "platform-prod/cache/auth-token"
    assert version.inputs["secretId"] == secret.outputs["id"]
    document = json.loads(version.inputs["secretString"])
    assert document == {
        "host": group.outputs["primaryEndpointAddress"],
        "readerHost": group.outputs["readerEndpointAddress"],
        "port": 6379,
        "tls": True,
        "authToken": one(prod, PASSWORD).outputs["result"],
    }
    assert prod.named("cache").outputs["auth_token_secret_arn"] == secret.outputs["arn"]


# --- network ------------------------------------------------------------------------------------


def test_security_group_admits_6379_only_from_the_given_security_groups(build: Callable[..., Run]) -> None:
    run = build(cache_program(stack_cache("prod"), allowed=("sg-0bastion",), node_group=True), config=CONFIG)
    sg = run.named("cache-sg")
    nodes = run.named("nodes")
    rules = run.by_type(INGRESS)
    assert len(rules) == 2
    for rule in rules:
        assert rule.inputs["securityGroupId"] == sg.outputs["id"]
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 6379, 6379)
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    assert [r.inputs["referencedSecurityGroupId"] for r in rules] == ["sg-0bastion", nodes.outputs["id"]]
    assert rules[1].property_dependencies["referencedSecurityGroupId"] == [nodes.urn]
    # No inline rules: in particular no egress (the nodes never call out).
    assert not {"ingress", "egress"} & set(sg.inputs)
    assert sg.inputs["vpcId"] == "vpc-0test"
    assert one(run, GROUP).inputs["securityGroupIds"] == [sg.outputs["id"]]


def test_group_sits_in_its_own_subnet_group(prod: Run) -> None:
    group, subnets = one(prod, GROUP), one(prod, SUBNETS)
    assert group.inputs["subnetGroupName"] == subnets.outputs["name"] == "platform-prod-cache"
    assert group.property_dependencies["subnetGroupName"] == [subnets.urn]


# --- engine settings, windows, logs --------------------------------------------------------------


def test_parameter_group_carries_the_teams_settings_for_the_engine_family(prod: Run) -> None:
    params, group = one(prod, PARAMS), one(prod, GROUP)
    assert params.inputs["family"] == "redis7"
    assert {p["name"]: p["value"] for p in params.inputs["parameters"]} == {
        "maxmemory-policy": "allkeys-lru",
        "timeout": "300",
        "tcp-keepalive": "60",
    }
    assert group.inputs["parameterGroupName"] == params.outputs["name"]
    # The family in the name lets an upgrade create the new group before dropping the old.
    assert params.inputs["name"] == "platform-prod-cache-redis7"


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("redis", "7.1", "redis7"),
        ("redis", "7.0", "redis7"),
        ("valkey", "7.2", "valkey7"),
        ("valkey", "8.0", "valkey8"),
    ],
)
def test_parameter_group_family_follows_engine_and_major_version(
    build: Callable[..., Run], engine: str, version: str, family: str
) -> None:
    config = CacheConfig.model_validate({"engine": engine, "engineVersion": version})
    run = build(cache_program(config), config=CONFIG)
    params, group = one(run, PARAMS), one(run, GROUP)
    assert params.inputs["family"] == family
    assert params.inputs["name"] == f"platform-prod-cache-{family}"
    assert (group.inputs["engine"], group.inputs["engineVersion"]) == (engine, version)


def _minutes(day: str, clock: str) -> int:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    hours, minutes = clock.split(":")
    return days.index(day) * 1440 + int(hours) * 60 + int(minutes)


def test_snapshots_never_overlap_the_sunday_maintenance_window(prod: Run) -> None:
    group = one(prod, GROUP)
    assert group.inputs["maintenanceWindow"] == "sun:05:00-sun:06:00"
    assert group.inputs["autoMinorVersionUpgrade"] is True
    start_day, start, end_day, end = re.split(r"[-]|:(?=\d\d:)", group.inputs["maintenanceWindow"])
    maintenance = (_minutes(start_day, start), _minutes(end_day, end))
    snap_start, snap_end = group.inputs["snapshotWindow"].split("-")
    # The snapshot window is daily: check it on every day of the week.
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        window = (_minutes(day, snap_start), _minutes(day, snap_end))
        assert window[1] - window[0] >= 60, "ElastiCache needs a snapshot window of at least 60 minutes"
        assert window[1] <= maintenance[0] or window[0] >= maintenance[1], (day, window, maintenance)


def test_slow_and_engine_logs_go_to_encrypted_log_groups_with_retention(prod: Run, dev: Run) -> None:
    for run, stack in ((prod, "prod"), (dev, "dev")):
        key = one(run, KEY)
        groups = {g.inputs["name"]: g for g in run.by_type(LOG_GROUP)}
        delivery = one(run, GROUP).inputs["logDeliveryConfigurations"]
        assert sorted((d["logType"], d["destination"], d["destinationType"], d["logFormat"]) for d in delivery) == [
            (t, f"/aws/elasticache/platform-{stack}/{t}", "cloudwatch-logs", "json") for t in ("engine-log", "slow-log")
        ]
        assert sorted(d["destination"] for d in delivery) == sorted(groups)
        for group in groups.values():
            assert group.inputs["retentionInDays"] == stack_cache(stack).log_retention_days
            assert group.inputs["kmsKeyId"] == key.outputs["arn"]
            assert group.property_dependencies["kmsKeyId"] == [key.urn]


def test_log_retention_follows_the_config(build: Callable[..., Run]) -> None:
    config = stack_cache("prod").model_copy(update={"log_retention_days": 365})
    run = build(cache_program(config), config=CONFIG)
    assert {g.inputs["retentionInDays"] for g in run.by_type(LOG_GROUP)} == {365}


def test_key_lets_cloudwatch_logs_use_it_only_for_the_cache_log_groups(prod: Run) -> None:
    key = one(prod, KEY)
    arns = sorted(g.outputs["arn"] for g in prod.by_type(LOG_GROUP))
    statements = json.loads(key.inputs["policy"])["Statement"]
    (logs,) = [s for s in statements if s["Principal"] == {"Service": [f"logs.{REGION}.amazonaws.com"]}]
    assert sorted(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == arns
    (root,) = [s for s in statements if s["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}]
    assert root["Action"] == ["kms:*"]
    assert all(s["Principal"] != "*" for s in statements)


# --- outputs -------------------------------------------------------------------------------------


def test_outputs_name_the_endpoints_port_group_members_secret_and_key(prod: Run) -> None:
    outputs = prod.named("cache").outputs
    group = one(prod, GROUP)
    assert outputs["primary_endpoint"] == group.outputs["primaryEndpointAddress"]
    assert outputs["reader_endpoint"] == group.outputs["readerEndpointAddress"]
    assert outputs["port"] == 6379
    assert outputs["replication_group_id"] == "platform-prod-cache"
    # The names AWS gives the members (the fake engine answers as AWS does).
    assert outputs["member_cluster_ids"] == group.outputs["memberClusters"]
    assert outputs["member_cluster_ids"] == [f"platform-prod-cache-{i:03d}" for i in (1, 2, 3)]
    assert outputs["security_group_id"].startswith("sg-")
    assert outputs["kms_key_arn"] == one(prod, KEY).outputs["arn"]


def test_dev_has_one_member_cluster(dev: Run) -> None:
    assert dev.named("cache").outputs["member_cluster_ids"] == ["platform-dev-cache-001"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_first_preview_runs_with_ids_unknown(build: Callable[..., Run], stack: str) -> None:
    run = build(cache_program(stack_cache(stack), stack=stack), mode="preview", config=CONFIG)
    group = one(run, GROUP)
    assert group.inputs["kmsKeyId"] == UNKNOWN_TEXT
    assert group.inputs["securityGroupIds"] == [UNKNOWN_TEXT]
    assert "/authToken" in group.secret_inputs
    outputs = run.named("cache").outputs
    assert outputs["kms_key_arn"] == UNKNOWN_TEXT
    # Decided from config, so known before anything exists: alarms can be planned.
    count = stack_cache(stack).num_cache_clusters
    assert outputs["member_cluster_ids"] == [f"platform-{stack}-cache-{i:03d}" for i in range(1, count + 1)]


# --- full args: valkey ---------------------------------------------------------------------------


def test_full_args_build_a_valkey_8_group(build: Callable[..., Run]) -> None:
    config = CacheConfig.model_validate(
        {
            "engine": "valkey",
            "engineVersion": "8.0",
            "nodeType": "cache.m7g.large",
            "numCacheClusters": 2,
            "snapshotRetentionDays": 14,
            "protect": True,
            "logRetentionDays": 90,
        }
    )
    run = build(cache_program(config, node_group=True), config=CONFIG)
    group = one(run, GROUP)
    assert (group.inputs["engine"], group.inputs["engineVersion"]) == ("valkey", "8.0")
    assert group.inputs["nodeType"] == "cache.m7g.large"
    assert group.inputs["numCacheClusters"] == 2
    assert group.inputs["automaticFailoverEnabled"] is True and group.inputs["multiAzEnabled"] is True
    assert group.inputs["snapshotRetentionLimit"] == 14
    assert one(run, PARAMS).inputs["family"] == "valkey8"
    assert {g.inputs["retentionInDays"] for g in run.by_type(LOG_GROUP)} == {90}
    assert len(run.by_type(INGRESS)) == 2
    assert run.named("cache").outputs["member_cluster_ids"] == ["platform-prod-cache-001", "platform-prod-cache-002"]


# --- bad config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"engineVersion": "6.2"}, "not a redis version ElastiCache offers"),
        ({"engineVersion": "7.2"}, "not a redis version ElastiCache offers"),
        ({"engine": "valkey", "engineVersion": "7.1"}, "not a valkey version ElastiCache offers"),
        ({"engine": "memcached"}, "'redis' or 'valkey'"),
        ({"nodeType": "db.r7g.large"}, "should match pattern"),
        ({"numCacheClusters": 0}, "greater than or equal to 1"),
        ({"numCacheClusters": 7}, "less than or equal to 6"),
        ({"snapshotRetentionDays": 36}, "less than or equal to 35"),
        ({"logRetentionDays": 10}, "CloudWatch Logs retention periods"),
        ({"protect": "yes"}, "valid boolean"),
    ],
)
def test_bad_cache_config_is_refused_before_any_resource(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CacheConfig.model_validate(raw)


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("nodeType", "db.r7g.large", "platform:cache.nodeType"),
        ("snapshotRetentionDays", 40, "platform:cache.snapshotRetentionDays"),
        ("numCacheClusters", 0, "platform:cache.numCacheClusters"),
    ],
)
def test_bad_cache_value_in_a_stack_is_named_by_key(key: str, value: Any, where: str) -> None:
    raw = raw_stack("prod")
    raw["platform:cache"][key] = value
    with pytest.raises(ConfigError) as caught:
        load_settings(raw, (), "platform", "prod")
    (problem,) = caught.value.problems
    assert problem.key == where
    assert problem.message.startswith(f"got {value!r}")


# --- the policy pack -----------------------------------------------------------------------------

# Stack rules about components this one does not build: the alarms come with
# the alarm component (issue 4, item 4), wired to member_cluster_ids.
NOT_OURS = {"aws-elasticache-replicationgroup-missing-alarm", "aws-rds-instance-missing-alarm"}


def test_the_component_alone_passes_the_prod_policy_pack(build: Callable[..., Run], mode: str) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    # The Platform's provider tags every resource; the same here, so that the
    # required-tags rule sees what it sees in a stack.
    run = build(cache_program(stack_cache("prod"), default_tags=TAGS), mode=mode, config=CONFIG)
    result = evaluate(_client(), run, load_policy_config("prod"))
    assert [v for v in result.mandatory if v["policy"] not in NOT_OURS] == []
    assert {v["policy"] for v in result.mandatory} == {"aws-elasticache-replicationgroup-missing-alarm"}
