"""tools.estimate on small hand-built graphs: cost arithmetic, critical path, delta, and what it cannot price."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.estimate import (
    CREATION_TIMES,
    PRICES_DIR,
    CycleError,
    EstimateError,
    cost_delta,
    critical_path,
    estimate_cost,
    load_previous,
)

STACK = "urn:pulumi:test::platform::pulumi:pulumi:Stack::platform-test"
PLATFORM = "urn:pulumi:test::platform::platform:index:Platform::platform"
AWS = "urn:pulumi:test::platform::pulumi:providers:aws::aws"
K8S = "urn:pulumi:test::platform::pulumi:providers:kubernetes::k8s"

# The price table itself, read here independently of the estimator: the expected figures below are computed from it.
TABLE = json.loads((PRICES_DIR / "ca-central-1.json").read_text(encoding="utf-8"))
HOURS = TABLE["hoursPerMonth"]


def price(key: str) -> float:
    return float(TABLE["prices"][key]["usd"])


def resource(
    type_: str,
    name: str,
    parent: str,
    inputs: dict[str, Any] | None = None,
    *,
    dependencies: list[str] | None = None,
    custom: bool = True,
    provider: str | None = AWS,
) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:test::platform::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "custom": custom,
        "provider": provider if custom else None,
        "dependencies": dependencies or [],
        "inputs": inputs or {},
    }


def component(type_: str, name: str, parent: str = PLATFORM) -> dict[str, Any]:
    return resource(type_, name, parent, custom=False)


def base_graph() -> list[dict[str, Any]]:
    return [
        {"urn": STACK, "type": "pulumi:pulumi:Stack", "name": "platform-test", "parent": None, "custom": False},
        {**component("platform:index:Platform", "platform", STACK), "urn": PLATFORM},
        {**resource("pulumi:providers:aws", "aws", PLATFORM, {"region": "ca-central-1"}, provider=None), "urn": AWS},
        {**resource("pulumi:providers:kubernetes", "k8s", PLATFORM, provider=None), "urn": K8S},
    ]


def small_platform() -> list[dict[str, Any]]:
    """A cluster with one spot node group, a NAT with its EIP, two endpoints, a Multi-AZ database, volumes."""
    cluster = component("platform:cluster:Cluster", "cluster")
    group = component("platform:cluster:NodeGroup", "cluster-general", cluster["urn"])
    template = resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "cluster-general",
        group["urn"],
        {"blockDeviceMappings": [{"ebs": {"volumeSize": 50, "volumeType": "gp3"}}]},
    )
    network = component("platform:network:Network", "network")
    database = component("platform:database:Database", "database")
    monitoring = component("platform:monitoring:Monitoring", "monitoring")
    return [
        *base_graph(),
        cluster,
        group,
        template,
        resource(
            "aws:eks/cluster:Cluster", "cluster-eks", cluster["urn"], {"upgradePolicy": {"supportType": "STANDARD"}}
        ),
        resource(
            "aws:eks/nodeGroup:NodeGroup",
            "cluster-general",
            group["urn"],
            {
                "instanceTypes": ["t4g.large", "t4g.medium"],
                "capacityType": "SPOT",
                "scalingConfig": {"minSize": 1, "desiredSize": 2, "maxSize": 3},
            },
            dependencies=[template["urn"]],
        ),
        network,
        resource("aws:ec2/eip:Eip", "network-nat", network["urn"]),
        resource("aws:ec2/natGateway:NatGateway", "network-nat", network["urn"], {"connectivityType": "public"}),
        resource(
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "network-sts",
            network["urn"],
            {"vpcEndpointType": "Interface", "subnetIds": ["[unknown]", "[unknown]"]},
        ),
        resource("aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3", network["urn"], {"vpcEndpointType": "Gateway"}),
        database,
        resource(
            "aws:rds/instance:Instance",
            "database-instance",
            database["urn"],
            {
                "instanceClass": "db.t4g.medium",
                "multiAz": True,
                "allocatedStorage": 20,
                "storageType": "gp3",
                "manageMasterUserPassword": True,
            },
        ),
        resource("aws:kms/key:Key", "database-key", database["urn"]),
        monitoring,
        resource(
            "kubernetes:core/v1:PersistentVolumeClaim",
            "grafana",
            monitoring["urn"],
            {"spec": {"resources": {"requests": {"storage": "10Gi"}}}},
            provider=K8S,
        ),
        resource(
            "kubernetes:monitoring.coreos.com/v1:Prometheus",
            "prometheus",
            monitoring["urn"],
            {
                "spec": {
                    "replicas": 2,
                    "storage": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "100Gi"}}}}},
                }
            },
            provider=K8S,
        ),
    ]


def test_cost_per_component_and_in_total_follows_the_price_table() -> None:
    estimate = estimate_cost(small_platform())

    spot_large = TABLE["ec2InstanceHour"]["t4g.large"]["usd"] * TABLE["spotFactor"]["value"] * HOURS
    node_disk = 50 * price("ebs.gp3GibMonth")
    cluster_fixed = price("eks.clusterHour") * HOURS
    cluster = {
        "min": cluster_fixed + 1 * (spot_large + node_disk),
        "desired": cluster_fixed + 2 * (spot_large + node_disk),
    }
    network = (
        price("vpc.natGatewayHour") + price("vpc.publicIpv4Hour") + 2 * price("vpc.interfaceEndpointAzHour")
    ) * HOURS
    database = (
        2 * TABLE["rdsInstanceHour"]["db.t4g.medium"]["usd"] * HOURS  # Multi-AZ: two instances
        + 2 * 20 * price("rds.gp3GibMonth")  # and storage twice
        + price("kms.keyMonth")
        + price("secretsmanager.secretMonth")  # the master password RDS keeps in Secrets Manager
    )
    monitoring = (10 + 2 * 100) * price("ebs.gp3GibMonth")

    components = estimate.components()
    assert sorted(components) == ["cluster", "database", "monitoring", "network"]
    assert components["cluster"].min == pytest.approx(cluster["min"])
    assert components["cluster"].desired == pytest.approx(cluster["desired"])
    for name, expected in (("network", network), ("database", database), ("monitoring", monitoring)):
        assert components[name].min == components[name].desired == pytest.approx(expected), name
    assert estimate.total().min == pytest.approx(cluster["min"] + network + database + monitoring)
    assert estimate.total().desired == pytest.approx(cluster["desired"] + network + database + monitoring)

    document = estimate.as_json()
    assert document["total"]["desired"] == round(
        sum(round(v, 2) for v in (cluster["desired"], network, database, monitoring)), 2
    )
    assert document["priceTable"]["taken"] == TABLE["taken"]
    assert "https://aws.amazon.com/eks/pricing/" in document["priceTable"]["sources"]


def test_assumptions_name_what_was_chosen_and_what_is_left_out() -> None:
    assumptions = "\n".join(estimate_cost(small_platform()).assumptions)
    assert "priced at the first, t4g.large" in assumptions
    assert "35% of the on-demand price" in assumptions
    assert "network-s3: a gateway endpoint, free of charge" in assumptions
    assert "data processed (per GB) is usage-based and not estimated" in assumptions
    assert "backup storage beyond the free allowance" in assumptions
    assert "data transfer" in assumptions
    assert "730 hours a month" in assumptions


def test_an_instance_type_without_a_price_is_reported_not_a_crash() -> None:
    graph = small_platform()
    group = next(r for r in graph if r["type"] == "aws:eks/nodeGroup:NodeGroup")
    group["inputs"]["instanceTypes"] = ["x9.huge"]
    rds = next(r for r in graph if r["type"] == "aws:rds/instance:Instance")
    rds["inputs"]["instanceClass"] = "db.x9.huge"

    estimate = estimate_cost(graph)

    assert "no price for EC2 instance type x9.huge (node group cluster-general): its instances are not counted" in (
        estimate.assumptions
    )
    assert any(a.startswith("no price for RDS instance class db.x9.huge") for a in estimate.assumptions)
    node_disk = 50 * price("ebs.gp3GibMonth")  # the disks are still there
    cluster = estimate.components()["cluster"]
    assert cluster.desired == pytest.approx(price("eks.clusterHour") * HOURS + 2 * node_disk)


def test_a_region_without_a_price_table_is_an_error() -> None:
    graph = small_platform()
    next(r for r in graph if r["urn"] == AWS)["inputs"]["region"] = "xx-nowhere-1"
    with pytest.raises(EstimateError, match="no price table for region xx-nowhere-1"):
        estimate_cost(graph)


def chain_graph(rds_multi_az: bool) -> list[dict[str, Any]]:
    """vpc -> eks -> node group (in component `cluster`); vpc -> rds; a Deployment that depends on `cluster`."""
    cluster = component("platform:cluster:Cluster", "cluster")
    vpc = resource("aws:ec2/vpc:Vpc", "vpc", PLATFORM)
    eks = resource("aws:eks/cluster:Cluster", "eks", cluster["urn"], dependencies=[vpc["urn"]])
    nodes = resource("aws:eks/nodeGroup:NodeGroup", "nodes", cluster["urn"], dependencies=[eks["urn"]])
    rds = resource("aws:rds/instance:Instance", "rds", PLATFORM, {"multiAz": rds_multi_az}, dependencies=[vpc["urn"]])
    app = resource("kubernetes:apps/v1:Deployment", "app", PLATFORM, dependencies=[cluster["urn"]], provider=K8S)
    return [*base_graph(), cluster, vpc, eks, nodes, rds, app]


def minutes(type_: str) -> float:
    return CREATION_TIMES[type_].minutes


def test_the_critical_path_is_the_longest_chain_and_a_component_dependency_waits_for_its_children() -> None:
    path = critical_path(chain_graph(rds_multi_az=False))
    assert [link.name for link in path.links] == ["aws", "vpc", "eks", "nodes", "app"]
    assert path.total_minutes == pytest.approx(
        0.2
        + minutes("aws:eks/cluster:Cluster")
        + minutes("aws:eks/nodeGroup:NodeGroup")
        + minutes("kubernetes:apps/v1:Deployment")
    )


def test_a_multi_az_database_takes_over_the_critical_path() -> None:
    path = critical_path(chain_graph(rds_multi_az=True))
    assert [link.name for link in path.links] == ["aws", "vpc", "rds"]
    assert path.total_minutes == pytest.approx(0.2 + minutes("aws:rds/instance:Instance#multiAz"))


def test_a_charts_objects_wait_for_the_charts_dependencies() -> None:
    graph = chain_graph(rds_multi_az=True)
    rds = next(r for r in graph if r["name"] == "rds")
    chart = {**component("kubernetes:helm.sh/v4:Chart", "chart"), "dependencies": [rds["urn"]]}
    child = resource("kubernetes:apps/v1:Deployment", "chart-app", chart["urn"], provider=K8S)
    path = critical_path([*graph, chart, child])
    assert [link.name for link in path.links] == ["aws", "vpc", "rds", "chart-app"]


def test_a_dependency_cycle_is_reported_by_name() -> None:
    graph = chain_graph(rds_multi_az=False)
    vpc = next(r for r in graph if r["name"] == "vpc")
    nodes = next(r for r in graph if r["name"] == "nodes")
    vpc["dependencies"] = [nodes["urn"]]
    with pytest.raises(CycleError, match=r"dependency cycle.*Vpc vpc -> NodeGroup nodes -> Cluster eks -> Vpc vpc"):
        critical_path(graph)


def test_the_delta_is_signed_per_changed_component_and_in_total() -> None:
    base = {
        "components": {"cluster": {"min": 100.0, "desired": 150.0}, "cache": {"min": 20.0, "desired": 20.0}},
        "total": {"min": 120.0, "desired": 170.0},
    }
    head = {
        "components": {"cluster": {"min": 90.0, "desired": 180.5}, "database": {"min": 50.0, "desired": 50.0}},
        "total": {"min": 140.0, "desired": 230.5},
    }
    assert cost_delta(head, base) == {
        "components": {
            "cache": {"min": -20.0, "desired": -20.0},
            "cluster": {"min": -10.0, "desired": 30.5},
            "database": {"min": 50.0, "desired": 50.0},
        },
        "total": {"min": 20.0, "desired": 60.5},
    }
    assert cost_delta(head, head) == {"components": {}, "total": {"min": 0.0, "desired": 0.0}}


def test_compare_refuses_what_is_not_an_estimated_preview(tmp_path: Any) -> None:
    missing, plain, other = tmp_path / "missing.json", tmp_path / "plain.json", tmp_path / "other.json"
    plain.write_text(json.dumps({"stack": "dev", "resources": []}))
    other.write_text("[1, 2]")
    with pytest.raises(EstimateError, match="cannot read"):
        load_previous(missing)
    with pytest.raises(EstimateError, match="has no estimate"):
        load_previous(plain)
    with pytest.raises(EstimateError, match="is not a preview document"):
        load_previous(other)
