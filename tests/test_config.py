"""Typed stack config: the committed stacks load; every bad value is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_settings, subnet_layout
from tests.conftest import PROJECT_DIR, run_preview, stack_config


def raw_stack(stack: str) -> dict[str, Any]:
    """The stack file's config, parsed (objects as dicts, not JSON strings)."""
    doc = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(doc["config"])


def load(raw: dict[str, Any], secret_keys: tuple[str, ...] = (), stack: str = "dev"):
    return load_settings(raw, secret_keys, "platform", stack)


def problems_of(raw: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(raw, secret_keys)
    return [str(p) for p in caught.value.problems]


# --- the committed stacks ------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stack_files_load_as_the_runtime_passes_them(stack: str) -> None:
    # Values as the CLI hands them over: JSON strings for objects.
    settings = load_settings(stack_config(stack), [], "platform", stack)
    assert settings.region == "ca-central-1"
    assert settings.stack == stack


def test_dev_turns_safety_down_explicitly_and_prod_keeps_it() -> None:
    dev = load(raw_stack("dev"))
    prod = load(raw_stack("prod"), stack="prod")
    assert len(dev.network.availability_zones) == 2 and dev.network.nat_gateways == "single"
    assert len(prod.network.availability_zones) == 3 and prod.network.nat_gateways == "one_per_az"
    assert (dev.database.multi_az, dev.database.deletion_protection) == (False, False)
    assert (prod.database.multi_az, prod.database.deletion_protection) == (True, True)
    assert dev.database.backup_retention_days == 7 and prod.database.backup_retention_days == 30
    assert prod.backups.dr_region == "ca-west-1" and not dev.backups.replicate


def test_defaults_are_the_safe_ones() -> None:
    raw = raw_stack("prod")
    raw["platform:database"] = {}
    raw["platform:network"] = {"availabilityZones": ["ca-central-1a", "ca-central-1b"]}
    settings = load(raw, stack="prod")
    assert settings.database.multi_az and settings.database.deletion_protection
    assert settings.database.backup_retention_days == 30
    assert settings.network.nat_gateways == "one_per_az"
    assert settings.cluster.endpoint_public_access is False


# --- rejected values: each names the key, the value and what is allowed ------------------


def _set(raw: dict[str, Any], key: str, path: list[str | int], value: Any) -> dict[str, Any]:
    node = raw.setdefault(key, {})
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return raw


BAD = {
    "malformed-cidr": (("platform:network", ["vpcCidr"], "10.0.0.0/33"), "platform:network.vpcCidr", "10.0.0.0/33"),
    "cidr-host-bits": (("platform:network", ["vpcCidr"], "10.0.0.1/16"), "platform:network.vpcCidr", "10.0.0.1/16"),
    "one-az": (
        ("platform:network", ["availabilityZones"], ["ca-central-1a"]),
        "platform:network.availabilityZones",
        "at least 2",
    ),
    "min-over-max": (
        ("platform:cluster", ["nodeGroups", 0, "minSize"], 5),
        "platform:cluster.nodeGroups[0]",
        "minSize (5) must not exceed maxSize (3)",
    ),
    "desired-outside": (
        ("platform:cluster", ["nodeGroups", 0, "desiredSize"], 9),
        "platform:cluster.nodeGroups[0]",
        "desiredSize (9) must be within",
    ),
    "retention-zero": (
        ("platform:database", ["backupRetentionDays"], 0),
        "platform:database.backupRetentionDays",
        "greater than or equal to 1",
    ),
    "retention-36": (
        ("platform:database", ["backupRetentionDays"], 36),
        "platform:database.backupRetentionDays",
        "less than or equal to 35",
    ),
    "wrong-type-int": (
        ("platform:database", ["backupRetentionDays"], "7"),
        "platform:database.backupRetentionDays",
        "valid integer",
    ),
    "wrong-type-bool": (("platform:database", ["multiAz"], "yes"), "platform:database.multiAz", "valid boolean"),
    "unknown-nested-key": (
        ("platform:network", ["natGateway"], "single"),
        "platform:network.natGateway",
        "unknown key",
    ),
    "bad-enum": (
        ("platform:network", ["natGateways"], "two"),
        "platform:network.natGateways",
        "'one_per_az' or 'single'",
    ),
    "flow-log-retention": (
        ("platform:network", ["flowLogsRetentionDays"], 10),
        "platform:network.flowLogsRetentionDays",
        "retention periods",
    ),
    "az-of-other-region": (
        ("platform:network", ["availabilityZones"], ["us-east-1a", "us-east-1b"]),
        "platform:network.availabilityZones[0]",
        "aws:region ca-central-1",
    ),
    "dr-same-region": (
        ("platform:backups", ["drRegion"], "ca-central-1"),
        "platform:backups.drRegion",
        "must differ from aws:region",
    ),
    "vpc-too-large": (
        ("platform:network", ["vpcCidr"], "10.0.0.0/8"),
        "platform:network.vpcCidr",
        "between /16 and /28",
    ),
    "duplicate-endpoint": (
        ("platform:network", ["interfaceEndpoints"], ["ecr.api", "ecr-api"]),
        "platform:network.interfaceEndpoints",
        "twice",
    ),
    "deployer-not-admin": (
        ("platform:cluster", ["deployerPrincipal"], "arn:aws:iam::123456789012:role/someone-else"),
        "platform:cluster",
        "is not among adminPrincipals",
    ),
    "k8s-out-of-standard-support": (
        ("platform:cluster", ["kubernetesVersion"], "1.29"),
        "platform:cluster.kubernetesVersion",
        "EKS standard support",
    ),
    "admin-not-an-arn": (
        ("platform:cluster", ["adminPrincipals", 0], "admin"),
        "platform:cluster.adminPrincipals[0]",
        "IAM role or user ARN",
    ),
    "addon-version-malformed": (
        ("platform:cluster", ["addonVersions"], {"coredns": "1.11"}),
        "platform:cluster.addonVersions",
        "EKS add-on version",
    ),
    "public-endpoint-open": (
        ("platform:cluster", ["publicAccessCidrs"], ["0.0.0.0/0"]),
        "platform:cluster",
        "0.0.0.0/0",
    ),
    "vpc-public-range": (
        ("platform:network", ["vpcCidr"], "8.8.0.0/16"),
        "platform:network.vpcCidr: got '8.8.0.0/16'",
        "must be private address space",
    ),
    "dr-region-misspelt": (
        ("platform:backups", ["drRegion"], "ca-wset-1"),
        "platform:backups.drRegion: got 'ca-wset-1'",
        "did you mean ca-west-1?",
    ),
    "instance-type-misspelt": (
        ("platform:cluster", ["nodeGroups", 0, "instanceTypes", 0], "t4g.lareg"),
        "platform:cluster.nodeGroups[0].instanceTypes[0]: got 't4g.lareg'",
        "did you mean t4g.large",
    ),
    "instance-types-of-the-other-architecture": (
        ("platform:cluster", ["nodeGroups", 0, "amiType"], "AL2023_x86_64_STANDARD"),
        "platform:cluster.nodeGroups[0].instanceTypes: got",
        "runs on x86_64 (not Graviton) instance types only",
    ),
    "storage-ceiling-too-close": (
        ("platform:database", ["maxAllocatedStorageGib"], 21),
        "platform:database.maxAllocatedStorageGib: got 21",
        "must be at least 22, 10% above allocatedStorageGib (20)",
    ),
    "namespace-of-kubernetes": (
        ("platform:workloads", ["namespaces", 0], "kube-system"),
        "platform:workloads.namespaces[0]: got 'kube-system'",
        "is a Kubernetes system namespace",
    ),
    "namespace-of-the-platform": (
        ("platform:workloads", ["namespaces", 0], "monitoring"),
        "platform:workloads.namespaces[0]: got 'monitoring'",
        "is one of the platform's own namespaces",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_rejects_bad_value_naming_key_and_value(case: str) -> None:
    (key, path, value), where, allowed = BAD[case]
    raw = _set(raw_stack("dev"), key, list(path), value)
    problems = problems_of(raw)
    assert any(p.startswith(where) and allowed in p for p in problems), problems


def test_rejects_subnet_range_outside_the_vpc() -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["subnets"] = {
        "public": ["10.20.0.0/24", "10.99.1.0/24"],
        "private": ["10.20.32.0/19", "10.20.64.0/19"],
        "database": ["10.20.2.0/24", "10.20.3.0/24"],
    }
    (problem,) = problems_of(raw)
    assert problem.startswith("platform:network") and "10.99.1.0/24 is outside vpcCidr 10.20.0.0/16" in problem


def test_rejects_overlapping_subnet_ranges() -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["subnets"] = {
        "public": ["10.20.0.0/24", "10.20.1.0/24"],
        "private": ["10.20.0.0/19", "10.20.64.0/19"],
        "database": ["10.20.96.0/24", "10.20.97.0/24"],
    }
    (problem,) = problems_of(raw)
    assert "overlaps" in problem and "10.20.0.0/19" in problem


def test_rejects_subnets_that_do_not_fit_the_vpc() -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["vpcCidr"] = "10.20.0.0/18"
    (problem,) = problems_of(raw)
    assert problem.startswith("platform:network: 2 AZs x (public /24, private /19, database /24) need 17408")
    assert "vpcCidr 10.20.0.0/18 has 16384" in problem


def test_rejects_a_misspelled_area_and_lists_the_allowed_ones() -> None:
    raw = raw_stack("dev")
    raw["platform:netwrok"] = raw.pop("platform:network")
    problems = problems_of(raw)
    assert any(p.startswith("platform:netwrok: unknown key; did you mean platform:network?") for p in problems)
    # The real area is now missing, and that is reported too.
    assert any(p.startswith("platform:network.availabilityZones: is required") for p in problems)


def test_rejects_a_secret_given_in_plain_text_without_echoing_it() -> None:
    raw = raw_stack("prod")
    raw["platform:monitoringSlackWebhookUrl"] = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    (problem,) = problems_of(raw)
    assert problem.startswith("platform:monitoringSlackWebhookUrl") and "plain text" in problem
    assert "pulumi config set --secret platform:monitoringSlackWebhookUrl" in problem
    assert "XXXXSECRET" not in problem


def test_rejects_an_area_marked_secret_without_echoing_it() -> None:
    raw = raw_stack("prod")
    raw["platform:monitoring"] = {"prometheusRetentionDays": "https://hooks.slack.com/SUPERSECRET"}
    (problem,) = problems_of(raw, secret_keys=("platform:monitoring",))
    assert problem.startswith("platform:monitoring: is marked secret") and "SUPERSECRET" not in problem


def test_rejects_explicit_subnets_smaller_than_aws_allows() -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["subnets"] = {
        "public": ["10.20.0.0/30", "10.20.1.0/24"],
        "private": ["10.20.32.0/19", "10.20.64.0/19"],
        "database": ["10.20.2.0/24", "10.20.3.0/24"],
    }
    (problem,) = problems_of(raw)
    assert problem.startswith("platform:network.subnets.public[0]") and "got /30" in problem


def test_accepts_a_secret_set_as_secret() -> None:
    raw = raw_stack("prod")
    raw["platform:monitoringSlackWebhookUrl"] = "https://hooks.slack.com/services/T000/B000/XXXX"
    settings = load(raw, secret_keys=("platform:monitoringSlackWebhookUrl",), stack="prod")
    assert set(settings.secrets) == {"monitoringSlackWebhookUrl"}


def test_rejects_an_area_that_is_not_an_object() -> None:
    raw = raw_stack("dev")
    raw["platform:network"] = "10.0.0.0/16"
    problems = problems_of(raw)
    assert any(p.startswith("platform:network: got '10.0.0.0/16': must be an object") for p in problems)


def test_reports_every_problem_at_once() -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["vpcCidr"] = "nope"
    raw["platform:database"]["backupRetentionDays"] = 99
    raw["platform:cluster"]["nodeGroups"][0]["minSize"] = 10
    raw["platform:backups"]["drRegion"] = "ca-central-1"
    raw["platform:typo"] = {}
    with pytest.raises(ConfigError) as caught:
        load(raw)
    keys = [p.key for p in caught.value.problems]
    assert len(keys) == 5, keys
    assert "invalid stack configuration (5 problems)" in str(caught.value)


def test_requires_a_region() -> None:
    raw = raw_stack("dev")
    del raw["aws:region"]
    problems = problems_of(raw)
    assert any(p.startswith("aws:region") for p in problems)


# --- subnet layout -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_computed_subnets_are_inside_the_vpc_and_disjoint(stack: str) -> None:
    import ipaddress

    network = load(raw_stack(stack), stack=stack).network
    layout = subnet_layout(network)
    vpc = ipaddress.IPv4Network(network.vpc_cidr)
    flat = [n for nets in layout.values() for n in nets]
    assert all(len(nets) == len(network.availability_zones) for nets in layout.values())
    assert all(n.subnet_of(vpc) for n in flat)
    assert all(not a.overlaps(b) for i, a in enumerate(flat) for b in flat[i + 1 :])


# --- through the CLI: exit 2, the key named, no traceback --------------------------------


def _write_stack(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "Pulumi.try.yaml"
    path.write_text(yaml.safe_dump({"config": raw}))
    return path


CLI_CASES = {
    **{name: (case[0], case[1]) for name, case in BAD.items()},
    "unknown-area": (("platform:netwrok", ["vpcCidr"], "10.0.0.0/16"), "platform:netwrok"),
    "secret-in-plain-text": (
        ("platform:monitoringSlackWebhookUrl", None, "https://hooks.example/x"),
        "platform:monitoringSlackWebhookUrl",
    ),
}


@pytest.mark.parametrize("case", CLI_CASES, ids=list(CLI_CASES))
def test_preview_exits_2_naming_the_key_without_traceback(case: str, tmp_path: Path) -> None:
    (key, path, value), where = CLI_CASES[case]
    raw = raw_stack("dev")
    if path is None:
        raw[key] = value
    else:
        _set(raw, key, list(path), value)
    result = run_preview("--stack", "dev", "--config-file", str(_write_stack(tmp_path, raw)), "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert where in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_preview_exits_2_on_a_stack_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  platform:network: {vpcCidr: [\n")
    result = run_preview("--stack", "dev", "--config-file", str(path))
    assert result.returncode == 2
    assert str(path) in result.stderr and "not valid YAML" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"config:\n  aws:region: ca-central-1\n  platform:tags: {owner: a, costCenter: 2024-01-01}\n", "YAML date"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"- just\n- a list\n", "must be a mapping"),
        (b"config:\n  'bad key!': 1\n", "must look like namespace:key"),
    ],
    ids=["yaml-date", "not-utf8", "not-a-mapping", "bad-key"],
)
def test_preview_exits_2_on_a_stack_file_it_cannot_use(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_bytes(content)
    result = run_preview("--stack", "dev", "--config-file", str(path))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_preview_exits_2_when_the_config_file_is_a_directory(tmp_path: Path) -> None:
    result = run_preview("--stack", "dev", "--config-file", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in result.stderr


def test_keys_without_a_namespace_belong_to_the_project(tmp_path: Path) -> None:
    from tools.stackconfig import load_stack_config

    raw = raw_stack("dev")
    raw["network"] = raw.pop("platform:network")
    path = _write_stack(tmp_path, raw)
    assert "platform:network" in load_stack_config(PROJECT_DIR, "dev", path).values


def test_preview_runs_another_stack_file(tmp_path: Path) -> None:
    raw = raw_stack("dev")
    raw["platform:network"]["vpcCidr"] = "172.16.0.0/16"
    result = run_preview("--stack", "dev", "--config-file", str(_write_stack(tmp_path, raw)), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["vpcCidr"] == "172.16.0.0/16"


def test_cache_version_defaults_follow_the_engine() -> None:
    from components.config import CacheConfig

    assert CacheConfig.model_validate({}).version == "7.1"
    assert CacheConfig.model_validate({"engine": "valkey"}).version == "8.0"


@pytest.mark.parametrize(
    ("area", "key", "value"),
    [
        ("platform:database", "instanceClass", "db.foo.bar"),
        ("platform:database", "instanceClass", "cache.r7g.large"),
        ("platform:cache", "nodeType", "cache.x9z.large"),
        ("platform:cache", "nodeType", "db.r7g.large"),
    ],
)
def test_rejects_an_instance_class_the_service_does_not_offer(area: str, key: str, value: str) -> None:
    raw = raw_stack("prod")
    raw[area][key] = value
    (problem,) = problems_of(raw)
    assert problem.startswith(f"{area}.{key}: got {value!r}")
