"""The backup jobs as the prod stack records them: the CronJobs the backup alerts select, on the teams'
schedule, in restricted pods that the job CLI accepts; what each job's role and NetworkPolicy let it reach;
the image's repository; and the exporter Prometheus scrapes."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
import yaml

from components.backup_jobs import EXPORTER, JOBS, METRICS_PORT, REDIS_RETENTION_DAYS, VERIFY_MAX_AGE
from components.backup_storage import EXPIRY_DAYS
from components.config import BackupJobsConfig
from components.helm import SCRAPE_LABEL
from tests.conftest import PROJECT_DIR, Graph, stack_graph
from tests.test_config import problems_of, raw_stack

NAMESPACE = "backups"
RULES = PROJECT_DIR / "monitoring" / "rules" / "backups.yaml"
JOBS_DIR = str(PROJECT_DIR / "jobs")


def _prod() -> Graph:
    return stack_graph("prod", "update")


def _object(graph: Graph, kind: str, name: str, namespace: str | None = NAMESPACE) -> dict[str, Any]:
    found = [
        r["inputs"]
        for r in graph.resources
        if r["type"].startswith("kubernetes:")
        and r["type"].endswith(f":{kind}")
        and r["inputs"].get("metadata", {}).get("name") == name
        and r["inputs"]["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _pod(graph: Graph, job: str) -> dict[str, Any]:
    if job == EXPORTER:
        return _object(graph, "Deployment", job)["spec"]["template"]["spec"]
    return _object(graph, "CronJob", job)["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _env(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _policy(graph: Graph, job: str) -> dict[str, dict[str, Any]]:
    role = graph.named(f"backup-jobs-{job}-role", "aws:iam/rolePolicy:RolePolicy")
    return {s["Sid"]: s for s in json.loads(role["inputs"]["policy"])["Statement"]}


def _rule_cronjobs() -> set[str]:
    """Every CronJob name the backup alert rules select."""
    names: set[str] = set()
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            for alternatives in re.findall(r'cronjob=~?"([^"]+)"', rule["expr"]):
                names.update(alternatives.split("|"))
    return names


def test_every_cronjob_the_alerts_select_exists_on_the_teams_schedule() -> None:
    graph = _prod()
    cronjobs = {r["inputs"]["metadata"]["name"]: r["inputs"] for r in graph.of_type("kubernetes:batch/v1:CronJob")}
    assert _rule_cronjobs() <= set(cronjobs)
    schedules = {name: spec["spec"]["schedule"] for name, spec in cronjobs.items()}
    assert schedules == {
        "backup-postgres": "0 */4 * * *",
        "backup-postgres-weekly": "0 1 * * 0",
        "backup-redis": "*/30 * * * *",
        "backup-config": "*/30 * * * *",
        "backup-verify": "30 * * * *",
    }
    for name, cronjob in cronjobs.items():
        spec = cronjob["spec"]
        assert cronjob["metadata"]["namespace"] == NAMESPACE
        assert spec["timeZone"] == "Etc/UTC", name
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["startingDeadlineSeconds"] > 0 and spec["failedJobsHistoryLimit"] >= 1, name
        job = spec["jobTemplate"]["spec"]
        assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 1, name
        assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_the_thresholds_of_verify_are_those_of_the_rpo_alert() -> None:
    expr = next(
        r["expr"]
        for g in yaml.safe_load(RULES.read_text())["groups"]
        for r in g["rules"]
        if r.get("alert") == "BackupOlderThanRPO"
    )
    # backup-redis and backup-config share the 30-minute threshold; backup-postgres has its own.
    assert f"> {VERIFY_MAX_AGE['redis']}" in expr and f"> {VERIFY_MAX_AGE['postgres']}" in expr
    assert VERIFY_MAX_AGE["config"] == VERIFY_MAX_AGE["redis"]
    # Snapshots are pruned when their manifests expire.
    assert EXPIRY_DAYS["redis/"] == REDIS_RETENTION_DAYS


@pytest.mark.parametrize("job", [*JOBS, EXPORTER])
def test_every_pod_is_restricted_and_runs_the_stacks_image(job: str) -> None:
    graph = _prod()
    pod = _pod(graph, job)
    (container,) = pod["containers"]
    repository = graph.named("backup-jobs-repository", "aws:ecr/repository:Repository")["outputs"]["repositoryUrl"]
    assert container["image"] == f"{repository}:{BackupJobsConfig().image_tag}"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    # Only backup-config reads the Kubernetes API; IRSA's token is projected without the API token.
    assert pod["automountServiceAccountToken"] is (job == "backup-config")
    account = _object(graph, "ServiceAccount", pod["serviceAccountName"])
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        f":role/platform-prod-{pod['serviceAccountName']}-ca-central-1"
    )


@pytest.mark.parametrize("job", [*JOBS, EXPORTER])
def test_the_job_cli_accepts_every_pods_arguments(job: str) -> None:
    # The job CLI is its own package (jobs/), not installed into this environment.
    if JOBS_DIR not in sys.path:
        sys.path.insert(0, JOBS_DIR)
    from platform_backup.cli import parser

    (container,) = _pod(_prod(), job)["containers"]
    parsed = parser().parse_args(container["args"])
    assert parsed.command == container["args"][0]


def test_postgres_credentials_come_from_the_rds_secret_never_as_values() -> None:
    graph = _prod()
    secret_arn = graph.named("database-instance", "aws:rds/instance:Instance")["outputs"]["masterUserSecrets"][0][
        "secretArn"
    ]
    external = _object(graph, "ExternalSecret", "backup-postgres-database")["spec"]
    assert {d["remoteRef"]["key"] for d in external["data"]} == {secret_arn}
    for job in ("backup-postgres", "backup-postgres-weekly"):
        env = _env(_pod(graph, job))
        for variable, key in (("PGUSER", "username"), ("PGPASSWORD", "password")):
            assert env[variable] == {"secretKeyRef": {"name": "backup-postgres-database", "key": key}}
        assert env["PGSSLMODE"] == "require"
        assert env["PGHOST"] == graph.named("database-instance", "aws:rds/instance:Instance")["outputs"]["address"]
    for job in ("backup-redis", "backup-config", "backup-verify", EXPORTER):
        assert not {"PGUSER", "PGPASSWORD"} & set(_env(_pod(graph, job))), job


def test_every_job_writes_to_the_backup_bucket_under_its_key() -> None:
    graph = _prod()
    bucket = graph.named("backups-bucket", "aws:s3/bucket:Bucket")["outputs"]["bucket"]
    key = graph.named("backups-key", "aws:kms/key:Key")["outputs"]["arn"]
    for job in [*JOBS, EXPORTER]:
        env = _env(_pod(graph, job))
        assert env["BACKUP_BUCKET"] == bucket and env["BACKUP_KMS_KEY_ARN"] == key, job
    assert _env(_pod(graph, "backup-config"))["CONFIG_NAMESPACES"] == "apps"
    # The jobs that dump, verify and export agree on the databases (empty: every database with backups).
    assert {_env(_pod(graph, job))["PG_DATABASES"] for job in ("backup-postgres", "backup-verify", EXPORTER)} == {""}
    group = graph.named("cache-group", "aws:elasticache/replicationGroup:ReplicationGroup")
    assert _env(_pod(graph, "backup-redis"))["REDIS_REPLICATION_GROUP_ID"] == group["outputs"]["replicationGroupId"]


def _egress(graph: Graph, job: str) -> dict[str, set[int]]:
    policy = _object(graph, "NetworkPolicy", job)["spec"]
    reached: dict[str, set[int]] = {}
    for rule in policy.get("egress", []):
        for peer in rule["to"]:
            reached.setdefault(peer["ipBlock"]["cidr"], set()).update(p["port"] for p in rule["ports"])
    return reached


def test_postgres_jobs_reach_the_database_subnets_and_the_rest_only_https() -> None:
    graph = _prod()
    subnets = {r["inputs"]["cidrBlock"] for r in graph.of_type("aws:ec2/subnet:Subnet") if "database" in r["name"]}
    assert len(subnets) == 3
    for job in JOBS:
        egress = _egress(graph, job)
        if JOBS[job].database:
            assert egress == {"0.0.0.0/0": {443}, **{cidr: {5432} for cidr in subnets}}
        else:
            assert egress == {"0.0.0.0/0": {443}}, job
        assert _object(graph, "NetworkPolicy", job)["spec"].get("ingress", []) == [], job
    (scrape,) = _object(graph, "NetworkPolicy", EXPORTER)["spec"]["ingress"]
    assert [p["port"] for p in scrape["ports"]] == [METRICS_PORT]


def test_each_role_reaches_only_its_prefixes_of_the_bucket() -> None:
    graph = _prod()
    bucket_arn = graph.named("backups-bucket", "aws:s3/bucket:Bucket")["outputs"]["arn"]
    key_arn = graph.named("backups-key", "aws:kms/key:Key")["outputs"]["arn"]
    writes = {
        "backup-postgres": ["postgres/*", "weekly/postgres/*"],
        "backup-redis": ["redis/*"],
        "backup-config": ["config/*"],
        "backup-verify": ["verify/*"],
        "backup-metrics": [],
    }
    for account, prefixes in writes.items():
        statements = _policy(graph, account)
        written = {
            r.removeprefix(f"{bucket_arn}/")
            for s in statements.values()
            if "s3:PutObject" in s["Action"]
            for r in s["Resource"]
        }
        assert written == set(prefixes), account
        actions = {a for s in statements.values() for a in s["Action"]}
        assert "s3:DeleteObject" not in actions and not any(a.endswith("*") and ":" not in a for a in actions)
        assert not any(a in ("s3:*", "kms:*", "elasticache:*") for a in actions), account
        key = statements["UseBackupKeyThroughS3"]
        assert key["Resource"] == [key_arn]
        assert key["Condition"]["StringEquals"]["kms:ViaService"] == ["s3.ca-central-1.amazonaws.com"]
        trust = json.loads(
            graph.named(f"backup-jobs-{account}-role", "aws:iam/role:Role")["inputs"]["assumeRolePolicy"]
        )
        (subject,) = [v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub")]
        assert subject == [f"system:serviceaccount:backups:{account}"]


def test_the_redis_role_snapshots_exactly_the_replication_group() -> None:
    graph = _prod()
    group = graph.named("cache-group", "aws:elasticache/replicationGroup:ReplicationGroup")["outputs"]
    statements = _policy(graph, "backup-redis")
    own = f"arn:aws:elasticache:ca-central-1:123456789012:snapshot:{group['replicationGroupId']}-backup-*"
    assert statements["SnapshotTheReplicationGroup"]["Resource"] == [group["arn"], own]
    assert statements["PruneOwnSnapshots"]["Resource"] == [own]
    # Nobody else touches ElastiCache but to read the snapshots (verify).
    for account in ("backup-postgres", "backup-config", "backup-metrics"):
        assert not any(a.startswith("elasticache:") for s in _policy(graph, account).values() for a in s["Action"])
    assert {
        a for s in _policy(graph, "backup-verify").values() for a in s["Action"] if a.startswith("elasticache:")
    } == {"elasticache:DescribeSnapshots"}
    # Listing by replication group is authorised against every snapshot: read-only metadata, on "*".
    for account in ("backup-redis", "backup-verify"):
        listing = _policy(graph, account)["ListSnapshots"]
        assert listing["Action"] == ["elasticache:DescribeSnapshots"] and listing["Resource"] == ["*"]


def test_only_backup_config_reads_the_application_namespaces_and_never_secrets() -> None:
    graph = _prod()
    (role,) = [
        r["inputs"]
        for r in graph.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
        if r["inputs"]["metadata"]["name"] == "backup-config-reader"
    ]
    for rule in role["rules"]:
        assert rule["verbs"] == ["get", "list"]
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"]
    binding = _object(graph, "RoleBinding", "backup-config-reader", "apps")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "backup-config", "namespace": "backups"}]


def test_the_image_repository_is_immutable_scanned_and_encrypted_with_its_own_key() -> None:
    graph = _prod()
    repository = graph.named("backup-jobs-repository", "aws:ecr/repository:Repository")
    inputs = repository["inputs"]
    assert inputs["name"] == "platform-prod-backup-jobs"
    assert inputs["imageTagMutability"] == "IMMUTABLE"
    assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    key = graph.named("backup-jobs-images-key", "aws:kms/key:Key")["outputs"]["arn"]
    assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]
    assert repository["protect"] is True
    assert graph.outputs["backupJobsRepositoryUrl"] == repository["outputs"]["repositoryUrl"]
    # Only untagged images expire: a stack runs a pinned tag, which must outlive any number of newer pushes.
    lifecycle = graph.named("backup-jobs-repository-lifecycle", "aws:ecr/lifecyclePolicy:LifecyclePolicy")
    (rule,) = json.loads(lifecycle["inputs"]["policy"])["rules"]
    assert rule["selection"]["tagStatus"] == "untagged" and rule["action"] == {"type": "expire"}


def test_the_exporter_is_scraped_by_the_platform_label() -> None:
    graph = _prod()
    monitor = _object(graph, "ServiceMonitor", EXPORTER)
    assert SCRAPE_LABEL.items() <= monitor["metadata"]["labels"].items()
    service = _object(graph, "Service", EXPORTER)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [p["port"] for p in service["spec"]["ports"]] == [METRICS_PORT]


@pytest.mark.parametrize(
    ("jobs", "where", "message"),
    [
        ({"postgresDatabases": ["app", "app"]}, "platform:backups.jobs.postgresDatabases", "more than once: app"),
        ({"postgresDatabases": ["drop table"]}, "platform:backups.jobs.postgresDatabases[0]: got 'drop table'", ""),
        ({"imageTag": "latest tag"}, "platform:backups.jobs.imageTag: got 'latest tag'", ""),
        ({"imageDigest": "sha256:abc"}, "platform:backups.jobs.imageDigest: got 'sha256:abc'", ""),
    ],
)
def test_bad_jobs_config_is_refused_naming_the_key_and_value(jobs: dict[str, Any], where: str, message: str) -> None:
    raw = raw_stack("dev")
    raw["platform:backups"]["jobs"] = jobs
    problems = problems_of(raw)
    assert any(p.startswith(where) and message in p for p in problems), problems


def test_a_digest_pins_the_image() -> None:
    digest = "sha256:" + "a" * 64
    assert BackupJobsConfig.model_validate({"imageDigest": digest}).image_digest == digest


def test_the_cronjobs_do_not_wait_for_iam() -> None:
    """No needless edge on `pulumi up`'s path: a CronJob waits for its namespace and the values its pods read
    (bucket, key, database address), not for IAM: its first run is minutes away, long after IAM answered. Only
    the exporter, which starts at once, waits for its role's policy."""
    graph = _prod()
    types = {r["urn"]: r["type"] for r in graph.resources}
    for cronjob in graph.of_type("kubernetes:batch/v1:CronJob"):
        waits = {types[d] for d in cronjob["dependencies"]}
        assert "kubernetes:core/v1:Namespace" in waits, cronjob["name"]
        assert not {t for t in waits if t.startswith("aws:iam/")}, cronjob["name"]
    exporter = graph.named("backup-jobs-backup-metrics", "kubernetes:apps/v1:Deployment")
    assert "aws:iam/rolePolicy:RolePolicy" in {types[d] for d in exporter["dependencies"]}
