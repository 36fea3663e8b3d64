"""The data tier as wired in the committed stacks, and a prod stack file that turns safety down."""

from __future__ import annotations

import json

from tests.conftest import PROJECT_DIR, Graph, run_preview, stack_graph

DR_REGION = "ca-west-1"


def _dr_resources(graph: Graph) -> list[dict]:
    dr_providers = {p["urn"] for p in graph.of_type("pulumi:providers:aws") if p["inputs"]["region"] == DR_REGION}
    return [r for r in graph.resources if r.get("provider") in dr_providers]


def test_the_stacks_show_the_data_tier_and_the_alarms(any_graph: Graph) -> None:
    components = {r["type"] for r in any_graph.resources if not r["custom"]}
    assert {
        "platform:database:Database",
        "platform:cache:Cache",
        "platform:backups:BackupStorage",
        "platform:monitoring:Alarms",
    } <= components
    assert any_graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")


def test_replicas_live_in_the_dr_region_in_prod_only() -> None:
    prod, dev = stack_graph("prod", "update"), stack_graph("dev", "update")
    assert _dr_resources(dev) == []
    types = {r["type"] for r in _dr_resources(prod)}
    assert "aws:s3/bucket:Bucket" in types and "aws:kms/key:Key" in types
    assert "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication" in types
    (replication,) = prod.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    (dr_bucket,) = [
        r
        for r in _dr_resources(prod)
        if r["type"] == "aws:s3/bucket:Bucket" and r["inputs"]["tags"].get("purpose") == "backups"
    ]
    assert replication["inputs"]["rules"][0]["destination"]["bucket"] == dr_bucket["outputs"]["arn"]


def test_alarms_watch_the_stacks_database_and_cache(update_graph: Graph) -> None:
    (db,) = update_graph.of_type("aws:rds/instance:Instance")
    (group,) = update_graph.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    alarms = update_graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    watched_db = {a["inputs"]["dimensions"].get("DBInstanceIdentifier") for a in alarms} - {None}
    watched_nodes = {a["inputs"]["dimensions"].get("CacheClusterId") for a in alarms} - {None}
    assert watched_db == {db["outputs"]["identifier"]}
    assert watched_nodes == set(group["outputs"]["memberClusters"])


def test_stateful_resources_are_protected_in_prod_and_not_in_dev() -> None:
    for stack, expected in (("prod", True), ("dev", False)):
        graph = stack_graph(stack, "update")
        stateful = graph.of_type("aws:rds/instance:Instance") + graph.of_type(
            "aws:elasticache/replicationGroup:ReplicationGroup"
        )
        stateful += [
            b for b in graph.of_type("aws:s3/bucket:Bucket") if b["inputs"]["tags"].get("purpose") == "backups"
        ]
        assert stateful and {r["protect"] for r in stateful} == {expected}, stack


def test_no_data_store_admits_a_cidr(any_graph: Graph) -> None:
    for rule in any_graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if rule["inputs"].get("fromPort") in (5432, 6379):
            assert "cidrIpv4" not in rule["inputs"] and "referencedSecurityGroupId" in rule["inputs"]


def test_generated_secrets_never_appear_in_the_preview(update_graph: Graph) -> None:
    passwords = update_graph.of_type("random:index/randomPassword:RandomPassword")
    # The cache's auth token and Grafana's admin password.
    assert len(passwords) == 2 and all(p["outputs"]["result"] == "[secret]" for p in passwords)
    (group,) = update_graph.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert group["inputs"]["authToken"] == "[secret]"
    (db,) = update_graph.of_type("aws:rds/instance:Instance")
    assert "password" not in db["inputs"] and db["inputs"]["manageMasterUserPassword"] is True
    # The fake token (what pulumi-random would produce) is nowhere in the document.
    assert "offline" not in json.dumps(update_graph.document).replace("offline engine", "")


def test_a_prod_stack_file_with_dev_safety_fails_the_gate_by_name() -> None:
    path = PROJECT_DIR / "tests" / "fixtures" / "Pulumi.prod-unsafe.yaml"
    result = run_preview("--stack", "prod", "--mode", "update", "--config-file", str(path), "--json")
    assert result.returncode == 1, result.stderr
    mandatory = {v["policy"] for v in json.loads(result.stdout)["policy"]["violations"] if v["level"] == "mandatory"}
    assert mandatory >= {
        "aws-rds-instance-enable-multi-az",
        "aws-rds-instance-enable-deletion-protection",
        "aws-rds-instance-disallow-skip-final-snapshot",
        "aws-rds-instance-configure-backup-retention",
        "aws-elasticache-replicationgroup-enable-automatic-failover",
        "aws-elasticache-replicationgroup-enable-multi-az",
        "aws-elasticache-replicationgroup-configure-snapshot-retention",
        "aws-s3-bucket-missing-cross-region-replication",
        "aws-stateful-resource-enforce-protect",
    }


def test_only_the_cluster_nodes_reach_postgres_and_redis(update_graph: Graph) -> None:
    cluster = next(r for r in update_graph.resources if r["type"] == "platform:cluster:Cluster")
    node_sg = cluster["outputs"]["node_security_group_id"]
    rules = [
        r
        for r in update_graph.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r["inputs"].get("fromPort") in (5432, 6379)
    ]
    assert sorted(r["inputs"]["fromPort"] for r in rules) == [5432, 6379]
    assert all(r["inputs"]["referencedSecurityGroupId"] == node_sg for r in rules)


def _subnets_without_internet_route(graph: Graph) -> set[str]:
    """Ids of the subnets whose route table has no default route (to a NAT or internet gateway)."""
    routed = {
        r["inputs"]["routeTableId"]
        for r in graph.of_type("aws:ec2/route:Route")
        if r["inputs"].get("destinationCidrBlock") == "0.0.0.0/0"
    }
    return {
        a["inputs"]["subnetId"]
        for a in graph.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a["inputs"]["routeTableId"] not in routed
    }


def test_postgres_and_redis_live_only_in_subnets_without_a_route_to_the_internet(update_graph: Graph) -> None:
    """The database tier: a compromised or misconfigured data store cannot reach out, nor be reached
    through a NAT path. Redis lived in the NAT-routed private subnets before."""
    isolated = _subnets_without_internet_route(update_graph)
    database_tier = {
        s["outputs"]["id"]
        for s in update_graph.of_type("aws:ec2/subnet:Subnet")
        if s["inputs"]["tags"]["tier"] == "database"
    }
    assert isolated == database_tier
    (rds,) = update_graph.of_type("aws:rds/subnetGroup:SubnetGroup")
    (redis,) = update_graph.of_type("aws:elasticache/subnetGroup:SubnetGroup")
    assert set(rds["inputs"]["subnetIds"]) == set(redis["inputs"]["subnetIds"]) == database_tier
