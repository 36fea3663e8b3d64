"""The config rules: each is one named check, and every broken one is reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi_aws
import pytest
import yaml
from pydantic import ValidationError

from components import config
from components.config import (
    AREAS,
    PLATFORM_NAMESPACES,
    RESERVED_NAMESPACES,
    SYSTEM_NAMESPACES,
    BackupsConfig,
    ClusterConfig,
    ConfigError,
    Model,
    NodeGroupConfig,
    Problem,
    is_graviton,
)
from tests.conftest import PROJECT_DIR, run_preview
from tests.test_config import load, raw_stack

DOC = (PROJECT_DIR / "docs" / "configuration.md").read_text()


def problems(raw: dict[str, Any], stack: str = "dev") -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load(raw, stack=stack)
    return caught.value.problems


def only(raw: dict[str, Any], stack: str = "dev") -> Problem:
    (problem,) = problems(raw, stack)
    return problem


# --- database.maxAllocatedStorageGib: at least 10% above allocatedStorageGib -------------------


def test_fails_when_the_autoscaling_ceiling_is_less_than_10_percent_above_the_storage() -> None:
    raw = raw_stack("prod")
    raw["platform:database"].update(allocatedStorageGib=100, maxAllocatedStorageGib=109)
    problem = only(raw, "prod")
    assert problem.key == "platform:database.maxAllocatedStorageGib"
    assert problem.message.startswith("got 109: must be at least 110, 10% above allocatedStorageGib (100): RDS refuses")


@pytest.mark.parametrize(("allocated", "ceiling"), [(100, 110), (21, 24), (20, 22), (1000, 1100)])
def test_accepts_a_ceiling_exactly_10_percent_above_the_storage_rounded_up(allocated: int, ceiling: int) -> None:
    raw = raw_stack("prod")
    raw["platform:database"].update(allocatedStorageGib=allocated, maxAllocatedStorageGib=ceiling)
    assert load(raw, stack="prod").database.max_allocated_storage_gib == ceiling
    raw["platform:database"]["maxAllocatedStorageGib"] = ceiling - 1
    assert f"must be at least {ceiling}," in only(raw, "prod").message


# --- regions: the ones the AWS provider knows -------------------------------------------------


def test_fails_on_a_misspelled_aws_region_and_suggests_the_real_one() -> None:
    raw = raw_stack("dev")
    raw["aws:region"] = "ca-wset-1"
    found = problems(raw)
    assert found[0] == Problem(
        "aws:region",
        "got 'ca-wset-1': must be an AWS region name the AWS provider knows, such as ca-central-1; "
        "did you mean ca-west-1?",
    )


def test_fails_on_a_misspelled_dr_region_and_suggests_the_real_one() -> None:
    raw = raw_stack("prod")
    raw["platform:backups"]["drRegion"] = "ca-wset-1"
    problem = only(raw, "prod")
    assert problem.key == "platform:backups.drRegion"
    assert problem.message.startswith("got 'ca-wset-1': must be an AWS region name")
    assert problem.message.endswith("did you mean ca-west-1?")


def test_fails_on_a_region_shaped_name_aws_does_not_have() -> None:
    raw = raw_stack("prod")
    raw["platform:backups"]["drRegion"] = "xx-nowhere-9"
    assert only(raw, "prod").key == "platform:backups.drRegion"


@pytest.mark.parametrize("region", [r.value for r in pulumi_aws.Region])
def test_accepts_every_region_the_aws_provider_knows_as_dr_region(region: str) -> None:
    assert BackupsConfig.model_validate({"drRegion": region}).dr_region == region


def test_the_dr_region_must_differ_from_aws_region() -> None:
    raw = raw_stack("prod")
    raw["platform:backups"]["drRegion"] = "ca-central-1"
    problem = only(raw, "prod")
    assert problem.key == "platform:backups.drRegion" and "must differ from aws:region" in problem.message


# --- network.vpcCidr: private address space --------------------------------------------------


@pytest.mark.parametrize("cidr", ["8.8.0.0/16", "172.32.0.0/16", "192.169.0.0/16", "100.128.0.0/16"])
def test_fails_on_a_vpc_range_that_is_not_private_address_space(cidr: str) -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["vpcCidr"] = cidr
    problem = only(raw)
    assert problem.key == "platform:network.vpcCidr"
    assert problem.message.startswith(
        f"got {cidr!r}: must be private address space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10)"
    )
    assert "shadows the internet hosts" in problem.message and "could not reach them" in problem.message


@pytest.mark.parametrize("cidr", ["10.20.0.0/16", "172.31.0.0/16", "192.168.0.0/16", "100.64.0.0/16"])
def test_accepts_private_and_shared_address_space(cidr: str) -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["vpcCidr"] = cidr
    assert load(raw).network.vpc_cidr == cidr


# --- cluster.nodeGroups[i].instanceTypes: known types, matching the architecture ------------------


def test_fails_on_an_instance_type_ec2_does_not_have_and_suggests_close_ones() -> None:
    raw = raw_stack("prod")
    raw["platform:cluster"]["nodeGroups"][0]["instanceTypes"] = ["m7g.huge"]
    problem = only(raw, "prod")
    assert problem.key == "platform:cluster.nodeGroups[0].instanceTypes[0]"
    assert problem.message.startswith("got 'm7g.huge': must be an EC2 instance type the AWS provider knows")
    assert "did you mean m7g.large" in problem.message


def test_fails_on_x86_instance_types_for_an_arm_ami_naming_them() -> None:
    raw = raw_stack("prod")
    raw["platform:cluster"]["nodeGroups"][1]["instanceTypes"] = ["c7g.2xlarge", "c7i.2xlarge"]
    assert only(raw, "prod") == Problem(
        "platform:cluster.nodeGroups[1].instanceTypes",
        'got ["c7i.2xlarge"]: amiType AL2023_ARM_64_STANDARD runs on Graviton (arm64) instance types only',
    )


def test_fails_on_graviton_instance_types_for_an_x86_ami() -> None:
    raw = raw_stack("dev")
    raw["platform:cluster"]["nodeGroups"][0]["amiType"] = "BOTTLEROCKET_x86_64"
    problem = only(raw)
    assert problem.key == "platform:cluster.nodeGroups[0].instanceTypes"
    assert "t4g.large" in problem.message and "x86_64 (not Graviton)" in problem.message


@pytest.mark.parametrize(
    ("instance_type", "graviton"),
    [
        ("a1.large", True),
        ("t4g.medium", True),
        ("m7g.large", True),
        ("c7gn.large", True),
        ("im4gn.large", True),
        ("is4gen.large", True),
        ("x2gd.large", True),
        ("g5g.xlarge", True),
        ("m7i.large", False),
        ("m7i-flex.large", False),
        ("g5.xlarge", False),
        ("c6in.large", False),
        ("mac2-m2.metal", False),
        ("u-3tb1.56xlarge", False),
    ],
)
def test_is_graviton_tells_arm64_types_from_x86_ones(instance_type: str, graviton: bool) -> None:
    assert instance_type in {t.value for t in pulumi_aws.ec2.InstanceType}
    assert is_graviton(instance_type) is graviton


def test_preview_reports_an_architecture_mismatch_and_an_unrelated_mistake_in_one_run(tmp_path: Path) -> None:
    raw = raw_stack("dev")
    raw["platform:cluster"]["nodeGroups"][0]["amiType"] = "AL2023_x86_64_STANDARD"
    raw["platform:database"]["backupRetentionDays"] = 99
    stack_file = tmp_path / "Pulumi.try.yaml"
    stack_file.write_text(yaml.safe_dump({"config": raw}))
    result = run_preview("--stack", "dev", "--config-file", str(stack_file), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid stack configuration (2 problems)" in result.stderr
    assert "platform:cluster.nodeGroups[0].instanceTypes: got [" in result.stderr
    assert "amiType AL2023_x86_64_STANDARD runs on x86_64 (not Graviton) instance types only" in result.stderr
    assert "platform:database.backupRetentionDays: got 99" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# --- workloads.namespaces: not Kubernetes' nor the platform's own ---------------------------------


@pytest.mark.parametrize("name", [*SYSTEM_NAMESPACES, "kube-flannel"])
def test_fails_on_a_kubernetes_system_namespace(name: str) -> None:
    raw = raw_stack("dev")
    raw["platform:workloads"]["namespaces"] = ["apps", name]
    problem = only(raw)
    assert problem.key == "platform:workloads.namespaces[1]"
    assert problem.message.startswith(f"got {name!r}: is a Kubernetes system namespace")
    assert "every kube-* name" in problem.message and "NetworkPolicy would cut off" in problem.message


@pytest.mark.parametrize("name", PLATFORM_NAMESPACES)
def test_fails_on_a_namespace_the_platform_creates_itself(name: str) -> None:
    raw = raw_stack("dev")
    raw["platform:workloads"]["namespaces"] = [name]
    problem = only(raw)
    assert problem.key == "platform:workloads.namespaces[0]"
    assert problem.message.startswith(f"got {name!r}: is one of the platform's own namespaces")


def test_the_reserved_namespaces_are_the_system_ones_and_the_platforms() -> None:
    assert set(RESERVED_NAMESPACES) == {
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "cluster-addons",
        "monitoring",
        "backups",
        "velero",
        "external-secrets",
    }


# --- one rule, one validator; every broken rule reported ---------------------------------------


MODELS = [v for v in vars(config).values() if isinstance(v, type) and issubclass(v, Model) and v is not Model]


def test_every_area_is_among_the_models_checked() -> None:
    assert set(AREAS.values()) <= set(MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_models_declare_rules_not_model_validators(model: type[Model]) -> None:
    # pydantic stops at the first model validator that raises; rules are all run.
    assert list(model.__pydantic_decorators__.model_validators) == ["_rules_hold"]


def test_cluster_rules_are_one_method_each_named_for_the_rule() -> None:
    rules = {n for n in vars(ClusterConfig) if hasattr(getattr(ClusterConfig, n), "config_rule")}
    assert rules == {
        "_kubeconfig_role_is_admin",
        "_deployer_is_admin",
        "_previewers_are_not_admins",
        "_api_access_not_world",
        "_public_access_not_world",
        "_public_endpoint_has_cidrs",
        "_schedulable_group_exists",
        "_node_group_names_unique",
    }


def test_reports_every_broken_cluster_rule_at_once() -> None:
    raw = raw_stack("prod")
    cluster = raw["platform:cluster"]
    cluster["deployerPrincipal"] = "arn:aws:iam::123456789012:role/someone-else"
    cluster["apiAccessCidrs"] = ["0.0.0.0/0"]
    cluster["endpointPublicAccess"] = True
    cluster["nodeGroups"][1]["name"] = "general"
    found = problems(raw, "prod")
    assert [p.key for p in found] == ["platform:cluster"] * 4
    messages = "\n".join(p.message for p in found)
    assert "deployerPrincipal arn:aws:iam::123456789012:role/someone-else is not among adminPrincipals" in messages
    assert "apiAccessCidrs must not contain 0.0.0.0/0" in messages
    assert "endpointPublicAccess needs publicAccessCidrs" in messages
    assert "node group names must be unique" in messages


def test_reports_every_broken_node_group_rule_at_once() -> None:
    raw = raw_stack("dev")
    group = raw["platform:cluster"]["nodeGroups"][0]
    group.update(amiType="AL2023_x86_64_STANDARD", minSize=5, maxSize=3)
    found = problems(raw)
    assert [(p.key, p.message[:20]) for p in found] == [
        ("platform:cluster.nodeGroups[0]", "minSize (5) must not"),
        ("platform:cluster.nodeGroups[0].instanceTypes", 'got ["t4g.large", "t'),
    ]


def test_reports_every_broken_backups_rule_at_once() -> None:
    raw = raw_stack("prod")
    raw["platform:backups"] = {"replicate": True, "forceDestroy": True}
    messages = [p.message for p in problems(raw, "prod")]
    assert messages == [
        "replicate is on but drRegion is not set",
        "forceDestroy needs protect off (a protected bucket cannot be destroyed anyway)",
    ]


def test_a_node_group_with_max_below_min_is_not_also_told_desired_is_out_of_bounds() -> None:
    config = {"name": "g", "instanceTypes": ["t4g.large"], "minSize": 5, "maxSize": 3, "desiredSize": 4}
    with pytest.raises(ValidationError) as caught:
        NodeGroupConfig.model_validate(config)
    assert [e["msg"] for e in caught.value.errors()] == ["minSize (5) must not exceed maxSize (3)"]


# --- docs and docstrings say what the code does ----------------------------------------------


def test_addon_versions_docstring_says_the_default_build_not_the_newest() -> None:
    description = ClusterConfig.model_fields["addon_versions"].description or ""
    assert "newest version" not in description
    assert "default" in description and "most_recent=False" in description
    assert "re-rolls" in description and "Pulumi.prod.yaml" in description


def test_docs_state_each_new_rule() -> None:
    for text in [
        "10% above `allocatedStorageGib`",
        "100.64.0.0/10",
        "did you mean",
        "Graviton",
        "kube-*",
        *RESERVED_NAMESPACES,
        "`default` build",
    ]:
        assert text in DOC, text


def test_the_namespaces_config_reserves_are_the_ones_the_platform_creates() -> None:
    from components.namespaces import PLATFORM_NAMESPACES as CREATED

    assert {n.name for n in CREATED} == set(PLATFORM_NAMESPACES)


def test_fails_when_no_untainted_node_group_has_the_add_ons_node_selector() -> None:
    raw = raw_stack("prod")
    raw["platform:addons"]["nodeSelector"] = {"node-group": "compute"}
    problem = only(raw, "prod")
    assert problem.key == "platform:addons.nodeSelector"
    assert "no untainted node group has these labels" in problem.message


def test_fails_when_an_internet_facing_namespace_is_not_an_application_namespace() -> None:
    raw = raw_stack("dev")
    raw["platform:addons"]["loadBalancerController"]["internetFacingNamespaces"] = ["shop"]
    problem = only(raw)
    assert problem.key == "platform:addons.loadBalancerController.internetFacingNamespaces[0]"
    assert problem.message == "got 'shop': must be one of workloads.namespaces ['apps']"


def test_fails_on_an_unpinned_chart_version() -> None:
    raw = raw_stack("dev")
    raw["platform:addons"]["metricsServer"]["version"] = "latest"
    problem = only(raw)
    assert problem.key == "platform:addons.metricsServer.version"


def test_fails_when_the_add_ons_node_groups_may_shrink_to_zero() -> None:
    raw = raw_stack("prod")
    raw["platform:addons"]["nodeSelector"] = {"node-group": "spare"}
    raw["platform:cluster"]["nodeGroups"].append(
        {"name": "spare", "instanceTypes": ["m7g.large"], "minSize": 0, "maxSize": 2, "labels": {"node-group": "spare"}}
    )
    problem = only(raw, "prod")
    assert problem.key == "platform:addons.nodeSelector"
    assert "(spare) may shrink to 0 (minSize)" in problem.message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("defaultRequestCpu", "1", "cpu: defaultRequest (1) <= defaultLimit (500m) <= max (4)"),
        ("defaultLimitMemory", "16Gi", "memory: defaultRequest (128Mi) <= defaultLimit (16Gi) <= max (8Gi)"),
    ],
)
def test_fails_on_container_defaults_the_api_server_would_refuse(key: str, value: str, expected: str) -> None:
    raw = raw_stack("dev")
    raw["platform:workloads"]["quota"] = {key: value}
    problem = only(raw)
    assert problem.key == "platform:workloads.quota"
    assert problem.message == f"{expected} must hold (a LimitRange the API server would refuse)"
