"""Database: the component alone, asserted on the recorded inputs, with the prod and dev configs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from pydantic import ValidationError

from components.config import DatabaseConfig
from components.database import MAX_CONNECTIONS, Database, DatabaseArgs
from tests.components.context import fixed_context
from tests.conftest import PROJECT_DIR
from tools.engine import EngineError, Resource, Run

INSTANCE = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
SUBNETS = ["subnet-db-a", "subnet-db-b", "subnet-db-c"]
NODES = "sg-0nodes0000000000"
ACCOUNT = "123456789012"
REGION = "ca-central-1"
DR_REGION = "ca-west-1"
# The only provider configs under which a resource may be created: no default provider.
NO_DEFAULT = {"aws:region": REGION, "pulumi:disable-default-providers": '["aws"]'}
TAGS = {"environment": "test", "project": "platform", "owner": "t", "cost-center": "c", "managed-by": "pulumi"}


def stack_database(stack: str) -> DatabaseConfig:
    """The database model of a committed stack file."""
    doc = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    return DatabaseConfig.model_validate(doc["config"].get("platform:database", {}))


def database_program(
    config: DatabaseConfig,
    *,
    allowed: tuple[str, ...] = (NODES,),
    dr: bool = False,
    dr_region: str | None = None,
    default_tags: bool = False,
) -> Callable[[], Database]:
    def program() -> Database:
        tags = aws.ProviderDefaultTagsArgs(tags=TAGS) if default_tags else None
        provider = aws.Provider("aws", region=REGION, default_tags=tags)
        dr_provider = aws.Provider("aws-dr", region=DR_REGION, default_tags=tags) if dr else None
        return Database(
            "db",
            DatabaseArgs(
                config=config,
                context=fixed_context(region=REGION),
                vpc_id="vpc-0test",
                subnet_ids=SUBNETS,
                allowed_security_group_ids=list(allowed),
                dr_provider=dr_provider,
                dr_region=dr_region if dr_region is not None else (DR_REGION if dr else None),
            ),
            opts=pulumi.ResourceOptions(providers={"aws": provider}),
        )

    return program


def one(run: Run, type_: str) -> Resource:
    (found,) = run.by_type(type_)
    return found


def primary_key(run: Run) -> Resource:
    (key,) = [k for k in run.by_type(KEY) if k.name == "db-key"]
    return key


@pytest.fixture
def prod(build: Callable[..., Run]) -> Run:
    return build(database_program(stack_database("prod"), dr=True), config=NO_DEFAULT)


@pytest.fixture
def dev(build: Callable[..., Run]) -> Run:
    return build(database_program(stack_database("dev")), config=NO_DEFAULT)


# --- the instance -------------------------------------------------------------------------


def test_prod_instance_is_encrypted_private_multi_az_and_protected(prod: Run) -> None:
    db = one(prod, INSTANCE).inputs
    key_arn = primary_key(prod).outputs["arn"]
    assert db["identifier"] == "platform-test-postgres"
    assert (db["engine"], db["instanceClass"]) == ("postgres", "db.r7g.large")
    assert (db["storageType"], db["allocatedStorage"], db["maxAllocatedStorage"]) == ("gp3", 100, 1000)
    assert db["storageEncrypted"] is True and db["kmsKeyId"] == key_arn
    assert db["publiclyAccessible"] is False and db["port"] == 5432
    assert db["multiAz"] is True and db["deletionProtection"] is True
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["performanceInsightsEnabled"] is True and db["performanceInsightsKmsKeyId"] == key_arn
    assert db["performanceInsightsRetentionPeriod"] == 7
    assert db["autoMinorVersionUpgrade"] is True and db["copyTagsToSnapshot"] is True
    assert db["deleteAutomatedBackups"] is False
    assert db["tags"]["purpose"] == "database"


def test_engine_version_sends_the_major_only_so_automatic_minor_upgrades_do_not_drift(prod: Run) -> None:
    assert one(prod, INSTANCE).inputs["engineVersion"] == "17"


def test_prod_keeps_backups_30_days_and_takes_a_final_snapshot(prod: Run) -> None:
    db = one(prod, INSTANCE).inputs
    assert db["backupRetentionPeriod"] == 30
    assert db["skipFinalSnapshot"] is False
    (suffix,) = prod.by_type("random:index/randomId:RandomId")
    # A new suffix whenever the instance is created anew: new stack, new key or new subnet group.
    assert suffix.inputs["keepers"] == {
        "identifier": "platform-test-postgres",
        "kmsKeyId": db["kmsKeyId"],
        "subnetGroup": db["dbSubnetGroupName"],
    }
    assert db["finalSnapshotIdentifier"] == f"platform-test-postgres-final-{suffix.outputs['hex']}"


def _minutes_of_week(spec: str) -> int:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    day, hour, minute = spec.lower().split(":")
    return days.index(day) * 1440 + int(hour) * 60 + int(minute)


def test_backup_and_maintenance_windows_are_the_teams_and_do_not_overlap(prod: Run) -> None:
    db = one(prod, INSTANCE).inputs
    assert db["backupWindow"] == "03:00-06:00"
    assert db["maintenanceWindow"] == "mon:00:00-mon:03:00"
    start, end = (_minutes_of_week(p) for p in db["maintenanceWindow"].split("-"))
    begin, finish = (int(t[:2]) * 60 + int(t[3:]) for t in db["backupWindow"].split("-"))
    for day in range(7):  # the backup window is daily
        b, f = day * 1440 + begin, day * 1440 + finish
        assert f <= start or b >= end, f"backup window on day {day} overlaps maintenance"


def test_master_password_is_managed_by_rds_with_our_key_and_never_an_input(prod: Run) -> None:
    db = one(prod, INSTANCE)
    assert db.inputs["manageMasterUserPassword"] is True
    assert db.inputs["masterUserSecretKmsKeyId"] == primary_key(prod).outputs["arn"]
    for resource in prod.resources:
        assert not {"password", "passwordWo", "masterPassword"} & set(resource.inputs), resource.urn
    assert not prod.by_type("random:index/randomPassword:RandomPassword")


def test_instance_uses_the_subnet_group_security_group_and_parameter_group(prod: Run) -> None:
    db = one(prod, INSTANCE).inputs
    subnets = one(prod, SUBNET_GROUP)
    assert subnets.inputs["subnetIds"] == SUBNETS
    assert db["dbSubnetGroupName"] == subnets.outputs["name"]
    assert db["vpcSecurityGroupIds"] == [one(prod, SG).outputs["id"]]
    assert db["parameterGroupName"] == one(prod, PARAMS).outputs["name"]


def test_prod_protects_the_instance_and_both_keys(prod: Run) -> None:
    assert one(prod, INSTANCE).protect
    assert all(k.protect for k in prod.by_type(KEY))
    assert len(prod.by_type(KEY)) == 2


def test_dev_turns_safety_down_as_its_stack_file_says(dev: Run) -> None:
    db = one(dev, INSTANCE)
    assert db.inputs["instanceClass"] == "db.t4g.medium"
    assert (db.inputs["allocatedStorage"], db.inputs["maxAllocatedStorage"]) == (20, 100)
    assert db.inputs["multiAz"] is False and db.inputs["deletionProtection"] is False
    assert db.inputs["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db.inputs
    assert db.inputs["backupRetentionPeriod"] == 7
    assert not db.protect and not primary_key(dev).protect
    # Still encrypted, private and TLS-only in dev.
    assert db.inputs["storageEncrypted"] is True and db.inputs["publiclyAccessible"] is False


def test_defaults_of_the_model_are_the_safe_ones(build: Callable[..., Run]) -> None:
    run = build(database_program(DatabaseConfig()), config=NO_DEFAULT)
    db = one(run, INSTANCE)
    assert db.protect and db.inputs["deletionProtection"] is True and db.inputs["multiAz"] is True
    assert db.inputs["skipFinalSnapshot"] is False and db.inputs["backupRetentionPeriod"] == 30
    assert not run.by_type(REPLICATION), "no DR provider, no replication"


# --- parameter group ------------------------------------------------------------------------


def test_parameter_group_carries_the_teams_tuning_and_forces_tls(prod: Run) -> None:
    group = one(prod, PARAMS).inputs
    params = {p["name"]: p for p in group["parameters"]}
    assert {name: p["value"] for name, p in params.items()} == {
        "max_connections": str(MAX_CONNECTIONS),
        "shared_preload_libraries": "pg_stat_statements",
        "rds.force_ssl": "1",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "checkpoint_completion_target": "0.9",
        "default_statistics_target": "100",
        "work_mem": "4096",
        "maintenance_work_mem": "65536",
        "min_wal_size": "1024",
        "max_wal_size": "4096",
        "log_min_duration_statement": "1000",
    }
    assert MAX_CONNECTIONS == 200
    # Static parameters can only be applied at a reboot.
    assert params["max_connections"]["applyMethod"] == "pending-reboot"
    assert params["shared_preload_libraries"]["applyMethod"] == "pending-reboot"
    assert params["work_mem"]["applyMethod"] == "immediate"


def test_parameter_group_family_and_name_follow_the_major_so_an_upgrade_creates_the_new_one_first(
    build: Callable[..., Run],
) -> None:
    runs = {
        version: build(database_program(DatabaseConfig.model_validate({"engineVersion": version})), config=NO_DEFAULT)
        for version in ("16", "17")
    }
    names = set()
    for major, run in runs.items():
        group = one(run, PARAMS)
        assert group.inputs["family"] == f"postgres{major}"
        assert group.inputs["name"].endswith(f"postgres{major}")
        # Create-before-replace (Pulumi's default) needs the two names to differ.
        assert not group.delete_before_replace
        names.add(group.inputs["name"])
    assert len(names) == 2


# --- logs and monitoring ---------------------------------------------------------------------


def test_log_exports_go_to_our_encrypted_groups_that_exist_before_the_instance(prod: Run) -> None:
    db = one(prod, INSTANCE)
    assert db.inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    groups = {g.inputs["name"]: g for g in prod.by_type(LOG_GROUP)}
    assert set(groups) == {
        "/aws/rds/instance/platform-test-postgres/postgresql",
        "/aws/rds/instance/platform-test-postgres/upgrade",
    }
    for group in groups.values():
        assert group.inputs["retentionInDays"] == 30
        assert group.inputs["kmsKeyId"] == primary_key(prod).outputs["arn"]
        assert group.urn in db.dependencies


def test_log_retention_comes_from_config(build: Callable[..., Run]) -> None:
    run = build(database_program(DatabaseConfig.model_validate({"logRetentionDays": 90})), config=NO_DEFAULT)
    assert {g.inputs["retentionInDays"] for g in run.by_type(LOG_GROUP)} == {90}


def test_key_lets_cloudwatch_logs_use_it_only_for_the_database_log_groups(prod: Run) -> None:
    key = primary_key(prod)
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    (logs,) = [s for s in statements if s["Principal"].get("Service") == [f"logs.{REGION}.amazonaws.com"]]
    assert sorted(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == sorted(
        g.outputs["arn"] for g in prod.by_type(LOG_GROUP)
    )
    (admin,) = [s for s in statements if s.get("Sid") == "AccountAdministersKey"]
    assert admin["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}
    assert all(s["Principal"] != "*" for s in statements)


def test_enhanced_monitoring_every_60s_with_a_role_only_rds_monitoring_of_this_db_can_assume(prod: Run) -> None:
    db = one(prod, INSTANCE)
    role = one(prod, ROLE)
    assert db.inputs["monitoringInterval"] == 60
    assert db.inputs["monitoringRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": ["monitoring.rds.amazonaws.com"]}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == [ACCOUNT]
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == [db.outputs["arn"]]
    attachment = one(prod, ATTACHMENT)
    assert attachment.inputs["role"] == role.outputs["name"]
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
    assert attachment.urn in db.dependencies


def test_the_instance_waits_only_for_what_its_inputs_cannot_say(prod: Run) -> None:
    db = one(prod, INSTANCE)
    from_inputs = {urn for urns in db.property_dependencies.values() for urn in urns}
    explicit = set(db.dependencies) - from_inputs
    assert {prod.get(urn).type for urn in explicit} == {LOG_GROUP, ATTACHMENT}
    others = [r for r in prod.resources if r.custom and r.type != INSTANCE]
    for resource in others:
        assert set(resource.dependencies) <= {u for us in resource.property_dependencies.values() for u in us}


# --- network access ------------------------------------------------------------------------------


def test_security_group_admits_5432_only_from_the_given_groups(build: Callable[..., Run]) -> None:
    run = build(database_program(stack_database("prod"), allowed=(NODES, "sg-0other")), config=NO_DEFAULT)
    group = one(run, SG)
    assert "ingress" not in group.inputs or not group.inputs["ingress"]
    assert "egress" not in group.inputs or not group.inputs["egress"]
    rules = run.by_type(INGRESS)
    assert sorted(r.inputs["referencedSecurityGroupId"] for r in rules) == sorted([NODES, "sg-0other"])
    for rule in rules:
        assert rule.inputs["securityGroupId"] == group.outputs["id"]
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 5432, 5432)
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)


def test_minimal_args_admit_nobody(build: Callable[..., Run]) -> None:
    run = build(database_program(stack_database("dev"), allowed=()), config=NO_DEFAULT)
    assert run.by_type(INGRESS) == []
    assert one(run, SG).inputs["vpcId"] == "vpc-0test"


# --- the off-site copy ------------------------------------------------------------------------


def test_prod_replicates_automated_backups_to_the_dr_region_with_a_key_there(prod: Run) -> None:
    replication = one(prod, REPLICATION)
    dr_provider = prod.named("aws-dr")
    (dr_key,) = [k for k in prod.by_type(KEY) if k.provider == dr_provider.urn]
    assert replication.provider == dr_provider.urn
    assert replication.inputs["sourceDbInstanceArn"] == one(prod, INSTANCE).outputs["arn"]
    assert replication.inputs["kmsKeyId"] == dr_key.outputs["arn"]
    assert dr_key.outputs["arn"].startswith(f"arn:aws:kms:{DR_REGION}:")
    assert replication.inputs["retentionPeriod"] == 30
    assert dr_key.inputs["enableKeyRotation"] is True and dr_key.protect
    # Everything else stays in the primary region.
    primary = prod.named("aws").urn
    for resource in prod.resources:
        if resource.custom and resource.type.startswith("aws:") and resource not in (replication, dr_key):
            assert resource.provider == primary or resource.type == "aws:kms/alias:Alias", resource.urn


def test_without_a_dr_provider_nothing_is_created_elsewhere(dev: Run) -> None:
    assert dev.by_type(REPLICATION) == []
    assert len(dev.by_type(KEY)) == 1
    provider = dev.named("aws").urn
    assert all(r.provider == provider for r in dev.resources if r.custom and r.type.startswith("aws:"))


@pytest.mark.parametrize(
    ("dr", "dr_region", "message"),
    [(False, DR_REGION, "go together")],
)
def test_dr_args_must_be_consistent(build: Callable[..., Run], dr: bool, dr_region: str, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        build(database_program(stack_database("prod"), dr=dr, dr_region=dr_region), config=NO_DEFAULT)


# --- outputs and modes ---------------------------------------------------------------------------


def test_outputs_name_the_endpoint_secret_group_and_key(prod: Run) -> None:
    component = prod.named("db")
    assert component.type == "platform:database:Database"
    out = component.outputs
    db = one(prod, INSTANCE)
    assert set(out) == {
        "address",
        "port",
        "endpoint",
        "instance_identifier",
        "instance_arn",
        "master_secret_arn",
        "security_group_id",
        "kms_key_arn",
    }
    assert out["address"] == db.outputs["address"] and out["port"] == 5432
    assert out["endpoint"] == f"{db.outputs['address']}:5432"
    assert out["instance_identifier"] == "platform-test-postgres"
    assert out["instance_arn"] == db.outputs["arn"]
    assert out["master_secret_arn"] == db.outputs["masterUserSecrets"][0]["secretArn"]
    assert out["master_secret_arn"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!")
    assert out["security_group_id"] == one(prod, SG).outputs["id"]
    assert out["kms_key_arn"] == primary_key(prod).outputs["arn"]
    assert component.secret_outputs == []


def test_children_are_named_after_the_component_and_parented_to_it(prod: Run) -> None:
    component = prod.named("db")
    children = [r for r in prod.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert children
    for child in children:
        assert child.parent == component.urn and child.name.startswith("db-"), child.urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_first_preview_runs_with_everything_unknown(build: Callable[..., Run], stack: str) -> None:
    run = build(database_program(stack_database(stack), dr=stack == "prod"), mode="preview", config=NO_DEFAULT)
    out = run.named("db").outputs
    assert out["instance_arn"] == "[unknown]" and out["master_secret_arn"] == "[unknown]"
    assert one(run, INSTANCE).inputs["kmsKeyId"] == "[unknown]"


# --- bad config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key", "message"),
    [
        ({"backupRetentionDays": 0}, "backupRetentionDays", "greater than or equal to 1"),
        ({"backupRetentionDays": 36}, "backupRetentionDays", "less than or equal to 35"),
        ({"instanceClass": "cache.r7g.large"}, "instanceClass", "should match pattern"),
        ({"instanceClass": "r7g.large"}, "instanceClass", "should match pattern"),
        ({"engineVersion": "17.6"}, "engineVersion", "should match pattern"),
        ({"engineVersion": "13"}, "engineVersion", "RDS standard support"),
        ({"engineVersion": "99"}, "engineVersion", "RDS standard support"),
        ({"performanceInsightsRetentionDays": 30}, "performanceInsightsRetentionDays", "multiple of 31"),
        ({"logRetentionDays": 10}, "logRetentionDays", "retention periods"),
        ({"allocatedStorageGib": 200, "maxAllocatedStorageGib": 100}, "maxAllocatedStorageGib", "at least 220"),
        ({"allocatedStorageGib": 100, "maxAllocatedStorageGib": 109}, "maxAllocatedStorageGib", "at least 110"),
    ],
)
def test_bad_database_config_is_refused_naming_the_key(config: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DatabaseConfig.model_validate(config)
    (error,) = caught.value.errors()
    assert ".".join(str(p) for p in error["loc"]) == key
    assert message in error["msg"]


def test_performance_insights_retention_is_7_days_or_whole_months() -> None:
    for days in (7, 62, 731):
        assert (
            DatabaseConfig.model_validate(
                {"performanceInsightsRetentionDays": days}
            ).performance_insights_retention_days
            == days
        )
    with pytest.raises(ValidationError, match="multiple of 31"):
        DatabaseConfig.model_validate({"performanceInsightsRetentionDays": 100})


# --- the policy pack ---------------------------------------------------------------------------------


# Stack rules that need a component this one does not build (the alarms).
EXEMPT = {"aws-rds-instance-missing-alarm"}


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_the_component_alone_passes_the_prod_policy_pack(build: Callable[..., Run], mode: str) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    program = database_program(stack_database("prod"), dr=True, default_tags=True)
    run = build(program, mode=mode, stack="prod", config=NO_DEFAULT)
    result = evaluate(_client(), run, load_policy_config("prod"))
    mandatory = [v for v in result.mandatory if v["policy"] not in EXEMPT]
    assert mandatory == []
    if mode == "update":
        assert {v["policy"] for v in result.mandatory} == EXEMPT


def test_dev_fails_only_availability_rules_which_dev_makes_advisory(build: Callable[..., Run]) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    run = build(database_program(stack_database("dev"), default_tags=True), stack="dev", config=NO_DEFAULT)
    result = evaluate(_client(), run, load_policy_config("dev"))
    assert result.mandatory == []
    assert {v["policy"] for v in result.violations} >= {
        "aws-rds-instance-enable-multi-az",
        "aws-rds-instance-enable-deletion-protection",
        "aws-rds-instance-disallow-skip-final-snapshot",
        "aws-stateful-resource-enforce-protect",
    }
