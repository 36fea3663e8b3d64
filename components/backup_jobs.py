"""The backup jobs: CronJobs in namespace ``backups`` that run the job CLI of jobs/ (its image in an ECR
repository this component creates) against PostgreSQL, Redis's API and the application namespaces, writing
to the backup bucket under its key; and the exporter that turns what they wrote into metrics.

| CronJob                  | schedule (UTC)      | writes                                     |
| ------------------------ | ------------------- | ------------------------------------------ |
| backup-postgres          | every 4 hours       | ``postgres/<db>/<ts>.dump`` + manifest     |
| backup-postgres-weekly   | Sundays 01:00       | ``weekly/postgres/<db>/<ts>.dump`` + manif. |
| backup-redis             | every 30 minutes    | an ElastiCache snapshot + ``redis/`` manif. |
| backup-config            | every 30 minutes    | ``config/<ts>.json.gz`` + manifest         |
| backup-verify            | hourly              | ``verify/status.json``                     |

The schedules are the teams' (reference/004, the backup schedule table); the CronJob names are what the
backup alerts select (monitoring/rules/backups.yaml). The exporter (Deployment ``backup-metrics``) reads the
newest manifests and the verify status on each scrape and exports ``platform_backup_*`` by ``kind``: a
CronJob's pod is gone before Prometheus could scrape it, and the bucket is the record that outlives it.

Each job has its own service account and IRSA role, allowed only its prefixes of the bucket, the bucket's
key through S3 for that bucket, and (redis) the one replication group and the snapshots this job names.
Credentials: PostgreSQL's from the RDS master secret through an ExternalSecret; AWS's from IRSA; the
Kubernetes API's (config) from the service account token. None is ever an argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addon_network import ANYWHERE, Traffic, allow_traffic
from components.backup_storage import EXPIRY_DAYS
from components.config import BackupJobsConfig
from components.context import Account, StackContext
from components.helm import NEEDS_API, SCRAPE_LABEL, resources
from components.irsa import ClusterOidc, pod_role
from components.policies import (
    Condition,
    Statement,
    account_administers_key,
    customer_managed_key,
    key_through_s3_for_bucket,
    policy_json,
)

NAMESPACE = "backups"
REPOSITORY = "backup-jobs"
"""ECR repository purpose: ``<project>-<stack>-backup-jobs``."""
METRICS_PORT = 9102
HTTPS = 443
UID = 65532
"""The image's user (jobs/Dockerfile)."""
TIME_ZONE = "Etc/UTC"
SNAPSHOT_PREFIX = "backup-"
"""The job names its snapshots ``<replication group>-backup-<timestamp>`` and prunes only those."""
REDIS_RETENTION_DAYS = EXPIRY_DAYS["redis/"]
"""Snapshots are kept as long as their manifests under ``redis/``."""
VERIFY_MAX_AGE = {"postgres": 18000, "redis": 4500, "config": 4500}
"""Seconds: the schedule plus a margin, the same thresholds as BackupOlderThanRPO."""
UNTAGGED_IMAGE_DAYS = 7
"""Untagged images (layers of an interrupted push, a build without a tag) are expired after this."""
S3_WRITE = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
S3_KEY_WRITE = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
"""Multipart uploads decrypt too: S3 reads the data key back to assemble the parts."""
S3_KEY_READ = ["kms:Decrypt", "kms:DescribeKey"]


@dataclass(frozen=True)
class Job:
    """One CronJob: its schedule, the CLI's arguments, and what it may reach."""

    schedule: str
    args: tuple[str, ...]
    service_account: str
    deadline_seconds: int
    """activeDeadlineSeconds: a job still running then is killed and counts as failed."""
    database: bool = False
    """Gets PostgreSQL's credentials and egress to the database subnets."""
    kubernetes_api: bool = False
    """Mounts its service account token (backup-config reads the application namespaces)."""
    cpu: str = "100m"
    memory: str = "256Mi"


JOBS: dict[str, Job] = {
    "backup-postgres": Job(
        "0 */4 * * *", ("backup", "postgres"), "backup-postgres", 3 * 3600, database=True, cpu="250m", memory="512Mi"
    ),
    "backup-postgres-weekly": Job(
        "0 1 * * 0",
        ("backup", "postgres", "--weekly"),
        "backup-postgres",
        3 * 3600,
        database=True,
        cpu="250m",
        memory="512Mi",
    ),
    "backup-redis": Job("*/30 * * * *", ("backup", "redis"), "backup-redis", 25 * 60),
    "backup-config": Job("*/30 * * * *", ("backup", "config"), "backup-config", 25 * 60, kubernetes_api=True),
    "backup-verify": Job("30 * * * *", ("verify",), "backup-verify", 50 * 60, cpu="250m", memory="512Mi"),
}
EXPORTER = "backup-metrics"
"""The exporter's Deployment, Service, ServiceMonitor and service account."""

CONFIG_KINDS: tuple[tuple[str, str], ...] = (
    # (API group, resource) backup-config reads in the application namespaces: never Secrets (the
    # ExternalSecrets that make them are backed up instead).
    ("", "configmaps"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("", "persistentvolumeclaims"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("policy", "poddisruptionbudgets"),
    ("networking.k8s.io", "networkpolicies"),
    ("networking.k8s.io", "ingresses"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("external-secrets.io", "externalsecrets"),
    ("monitoring.coreos.com", "servicemonitors"),
)


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "platform-backups"}


# --- IAM -----------------------------------------------------------------------------------------------


def _prefix_statements(
    sid: str, bucket_arn: str, *, read: Sequence[str] = (), write: Sequence[str] = ()
) -> list[Statement]:
    statements = []
    if write:
        statements.append(
            Statement(sid=f"Write{sid}", actions=S3_WRITE, resources=[f"{bucket_arn}/{p}*" for p in write])
        )
    if read:
        statements += [
            Statement(sid=f"Read{sid}", actions=["s3:GetObject"], resources=[f"{bucket_arn}/{p}*" for p in read]),
            Statement(
                sid=f"List{sid}",
                actions=["s3:ListBucket"],
                resources=[bucket_arn],
                conditions=[Condition(test="StringLike", variable="s3:prefix", values=[f"{p}*" for p in read])],
            ),
        ]
    return statements


def role_statements(
    job: str,
    account: Account,
    region: str,
    *,
    bucket_arn: str,
    key_arn: str,
    replication_group_id: str,
    cache_key_arn: str,
) -> list[Statement]:
    """What the service account ``job`` may do: its prefixes, the key through S3 for the bucket, and the
    replication group (redis, verify)."""

    def key(actions: list[str]) -> Statement:
        return key_through_s3_for_bucket(
            "UseBackupKeyThroughS3", actions, key_arn=key_arn, bucket_arn=bucket_arn, account=account, region=region
        )

    replication_group_arn = account.arn("elasticache", region, f"replicationgroup:{replication_group_id}")
    snapshots = account.arn("elasticache", region, f"snapshot:{replication_group_id}-{SNAPSHOT_PREFIX}*")
    # Listing snapshots by replication group is authorised against the account's snapshots, not one name:
    # read-only metadata (names, sizes, states), so on "*" rather than a prune that fails on AccessDenied.
    list_snapshots = Statement(sid="ListSnapshots", actions=["elasticache:DescribeSnapshots"], resources=["*"])
    if job == "backup-postgres":
        # Backs up, and (docs/disaster-recovery.md) restores: reads what it wrote.
        prefixes = ["postgres/", "weekly/postgres/"]
        return [*_prefix_statements("Postgres", bucket_arn, read=prefixes, write=prefixes), key(S3_KEY_WRITE)]
    if job == "backup-redis":
        return [
            *_prefix_statements("RedisManifests", bucket_arn, read=["redis/"], write=["redis/"]),
            key(S3_KEY_WRITE),
            Statement(
                sid="SnapshotTheReplicationGroup",
                actions=["elasticache:CreateSnapshot"],
                resources=[replication_group_arn, snapshots],
            ),
            Statement(
                sid="ReadTheReplicationGroup",
                actions=["elasticache:DescribeReplicationGroups"],
                resources=[replication_group_arn],
            ),
            list_snapshots,
            # The engine version for the manifest, from the group's member clusters (<group>-001, ...).
            Statement(
                sid="ReadTheMemberClusters",
                actions=["elasticache:DescribeCacheClusters"],
                resources=[account.arn("elasticache", region, f"cluster:{replication_group_id}-*")],
            ),
            # Only snapshots this job named; the job deletes one only when a newer one is available.
            Statement(sid="PruneOwnSnapshots", actions=["elasticache:DeleteSnapshot"], resources=[snapshots]),
            # The snapshot is encrypted with the cache's key: ElastiCache takes a grant on it for the caller.
            Statement(
                sid="LetElastiCacheUseTheCacheKey",
                actions=["kms:CreateGrant", "kms:DescribeKey"],
                resources=[cache_key_arn],
                conditions=[
                    Condition(
                        test="StringEquals",
                        variable="kms:ViaService",
                        values=[f"elasticache.{region}.{account.dns_suffix}"],
                    ),
                    Condition(test="Bool", variable="kms:GrantIsForAWSResource", values=["true"]),
                ],
            ),
        ]
    if job == "backup-config":
        return [*_prefix_statements("Config", bucket_arn, read=["config/"], write=["config/"]), key(S3_KEY_WRITE)]
    kinds = ["postgres/", "weekly/postgres/", "redis/", "config/", "verify/"]
    if job == "backup-verify":
        return [
            *_prefix_statements("Backups", bucket_arn, read=kinds),
            *_prefix_statements("VerifyStatus", bucket_arn, write=["verify/"]),
            key(S3_KEY_WRITE),
            list_snapshots,
        ]
    if job == EXPORTER:
        return [*_prefix_statements("Backups", bucket_arn, read=kinds), key(S3_KEY_READ)]
    raise ValueError(f"no role for {job!r}")


def repository_key_statements(account: Account) -> list[Statement]:
    """The repository's key: administered by the account (IAM decides who); ECR uses it through grants it
    creates when the repository is made, so neither pushers nor the nodes pulling need KMS permissions."""
    return [account_administers_key(account)]


# --- pods ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """What the CLI reads from its environment (jobs/README.md)."""

    bucket: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    region: str
    database_host: pulumi.Input[str]
    database_port: int
    replication_group_id: pulumi.Input[str]
    application_namespaces: Sequence[str]
    postgres_databases: Sequence[str]
    credentials_secret: str
    """The Secret (from the ExternalSecret) with PostgreSQL's username and password."""


def container_env(job: str, spec: Job | None, env: Environment) -> list[k8s.core.v1.EnvVarArgs]:
    var = k8s.core.v1.EnvVarArgs
    common = [
        var(name="BACKUP_BUCKET", value=env.bucket),
        var(name="BACKUP_KMS_KEY_ARN", value=env.key_arn),
        var(name="AWS_REGION", value=env.region),
        # The regional STS endpoint (through the VPC's STS endpoint), not the global one.
        var(name="AWS_STS_REGIONAL_ENDPOINTS", value="regional"),
        var(name="TMPDIR", value="/tmp"),
    ]
    if spec is not None and spec.database:

        def secret(name: str, key: str) -> k8s.core.v1.EnvVarArgs:
            selector = k8s.core.v1.SecretKeySelectorArgs(name=env.credentials_secret, key=key)
            return var(name=name, value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=selector))

        common += [
            var(name="PGHOST", value=env.database_host),
            var(name="PGPORT", value=str(env.database_port)),
            # RDS refuses connections without TLS (rds.force_ssl).
            var(name="PGSSLMODE", value="require"),
            var(name="PG_DATABASES", value=",".join(env.postgres_databases)),
            secret("PGUSER", "username"),
            secret("PGPASSWORD", "password"),
        ]
    if job in ("backup-verify", EXPORTER):
        # The databases to check: those configured, or (empty) every database with backups.
        common.append(var(name="PG_DATABASES", value=",".join(env.postgres_databases)))
    if job in ("backup-redis", "backup-verify", EXPORTER):
        common += [
            var(name="REDIS_REPLICATION_GROUP_ID", value=env.replication_group_id),
            var(name="REDIS_RETENTION_DAYS", value=str(REDIS_RETENTION_DAYS)),
        ]
    if job == "backup-config":
        common.append(var(name="CONFIG_NAMESPACES", value=",".join(env.application_namespaces)))
    if job == "backup-verify":
        common.append(var(name="VERIFY_MAX_AGE", value=",".join(f"{k}={v}" for k, v in VERIFY_MAX_AGE.items())))
    if job == EXPORTER:
        common.append(var(name="METRICS_PORT", value=str(METRICS_PORT)))
    return common


def pod_spec(
    job: str,
    spec: Job | None,
    *,
    image: pulumi.Input[str],
    env: Environment,
    node_selector: Mapping[str, str],
    args: Sequence[str],
    cpu: str,
    memory: str,
    scratch: str,
    restart_policy: str,
    ports: Sequence[k8s.core.v1.ContainerPortArgs] = (),
    probe: k8s.core.v1.ProbeArgs | None = None,
) -> k8s.core.v1.PodSpecArgs:
    """The restricted pod every job and the exporter run in: non-root, read-only root, /tmp an emptyDir."""
    core = k8s.core.v1
    return core.PodSpecArgs(
        service_account_name=spec.service_account if spec else EXPORTER,
        automount_service_account_token=bool(spec and spec.kubernetes_api),
        restart_policy=restart_policy,
        node_selector=dict(node_selector),
        security_context=core.PodSecurityContextArgs(
            run_as_non_root=True,
            run_as_user=UID,
            run_as_group=UID,
            fs_group=UID,
            seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
        ),
        containers=[
            core.ContainerArgs(
                name="job" if spec else "exporter",
                image=image,
                image_pull_policy="IfNotPresent",
                args=list(args),
                env=container_env(job, spec, env),
                ports=list(ports) or None,
                readiness_probe=probe,
                liveness_probe=probe,
                resources=core.ResourceRequirementsArgs(**resources(cpu, memory, "1")),
                security_context=core.SecurityContextArgs(
                    allow_privilege_escalation=False,
                    read_only_root_filesystem=True,
                    run_as_non_root=True,
                    capabilities=core.CapabilitiesArgs(drop=["ALL"]),
                    seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                volume_mounts=[core.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            )
        ],
        volumes=[core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=scratch))],
    )


# --- the component -------------------------------------------------------------------------------------


@dataclass
class BackupJobsArgs:
    config: BackupJobsConfig
    context: StackContext
    oidc: ClusterOidc
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    database_host: pulumi.Input[str]
    database_port: int
    database_secret_arn: pulumi.Input[str]
    """RDS's master user secret: JSON {username, password}."""
    database_subnet_cidrs: Sequence[str]
    replication_group_id: pulumi.Input[str]
    cache_kms_key_arn: pulumi.Input[str]
    """The cache's key, which encrypts its snapshots too."""
    application_namespaces: Sequence[str]
    node_selector: dict[str, str]
    secret_store: str
    namespace: pulumi.Resource
    secret_store_ready: Sequence[pulumi.Resource]
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    protect: bool = True


class BackupJobs(pulumi.ComponentResource):
    """The backup CronJobs, the exporter, their roles and traffic, and the image's repository."""

    repository_url: pulumi.Output[str]

    def __init__(self, name: str, args: BackupJobsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:backups:BackupJobs", name, None, opts)
        self._name, self._args = name, args
        context = args.context
        repository = self._repository()
        self.repository_url = repository.repository_url
        # The image's name from the account, region and repository name (what ECR makes of them), not from the
        # repository's output: a first preview then shows, and the pack judges, the exact image.
        reference = f"{context.naming.name(REPOSITORY)}:{args.config.image_tag}"
        if args.config.image_digest:
            reference += f"@{args.config.image_digest}"
        image = context.account.apply(lambda a: f"{a.id}.dkr.ecr.{context.region}.{a.dns_suffix}/{reference}")
        inside = pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])
        credentials = self._database_credentials()
        env = Environment(
            bucket=args.bucket_name,
            key_arn=args.kms_key_arn,
            region=context.region,
            database_host=args.database_host,
            database_port=args.database_port,
            replication_group_id=args.replication_group_id,
            application_namespaces=args.application_namespaces,
            postgres_databases=args.config.postgres_databases,
            credentials_secret=credentials,
        )
        accounts = sorted({job.service_account for job in JOBS.values()} | {EXPORTER})
        # The exporter starts at once and reads the bucket: it waits for its role's policy. A CronJob's first run
        # is minutes away, long after IAM has answered: nothing for it to wait for but its namespace.
        exporter_grants: list[pulumi.Resource] = []
        for account in accounts:
            role = pod_role(
                f"{name}-{account}-role",
                purpose=account,
                context=context,
                oidc=args.oidc,
                namespace=NAMESPACE,
                service_account=account,
                statements=self._statements(account),
                parent=self,
            )
            if account == EXPORTER:
                exporter_grants = [role.role, *role.grants]
            k8s.core.v1.ServiceAccount(
                f"{name}-{account}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=account,
                    namespace=NAMESPACE,
                    labels=labels(account),
                    annotations={"eks.amazonaws.com/role-arn": role.role.arn},
                ),
                automount_service_account_token=False,
                opts=inside,
            )
        self._config_reader(inside)
        for job, spec in JOBS.items():
            self._traffic(job, spec)
            self._cron_job(job, spec, image, env, inside)
        self._exporter(image, env, inside, after=exporter_grants)
        self.register_outputs({"repository_url": self.repository_url})

    def _statements(self, account: str) -> pulumi.Output[list[Statement]]:
        args, region = self._args, self._args.context.region
        return pulumi.Output.all(
            args.context.account, args.bucket_arn, args.kms_key_arn, args.replication_group_id, args.cache_kms_key_arn
        ).apply(
            lambda v: role_statements(
                account, v[0], region, bucket_arn=v[1], key_arn=v[2], replication_group_id=v[3], cache_key_arn=v[4]
            )
        )

    # --- the image ---------------------------------------------------------------------------------

    def _repository(self) -> aws.ecr.Repository:
        args = self._args
        naming = args.context.naming
        key = customer_managed_key(
            self,
            f"{self._name}-images-key",
            alias=naming.name(f"{REPOSITORY}-images"),
            description=f"{naming.prefix} backup job images (ECR)",
            policy=policy_json(self, args.context.account.apply(repository_key_statements)),
            protect=args.protect,
        )
        repository = aws.ecr.Repository(
            f"{self._name}-repository",
            aws.ecr.RepositoryArgs(
                name=naming.name(REPOSITORY),
                # A tag names one image for good: the stack pins a tag (backups.jobs.imageTag), and what it
                # runs cannot change under it.
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.ecr.LifecyclePolicy(
            f"{self._name}-repository-lifecycle",
            aws.ecr.LifecyclePolicyArgs(
                repository=repository.name,
                policy=pulumi.Output.json_dumps(
                    {
                        "rules": [
                            {
                                "rulePriority": 1,
                                # Tagged images stay: a stack pins one by tag, and an expired pinned image
                                # would stop every backup at its next run.
                                "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
                                "selection": {
                                    "tagStatus": "untagged",
                                    "countType": "sinceImagePushed",
                                    "countUnit": "days",
                                    "countNumber": UNTAGGED_IMAGE_DAYS,
                                },
                                "action": {"type": "expire"},
                            }
                        ]
                    }
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return repository

    # --- credentials and permissions -----------------------------------------------------------------

    def _database_credentials(self) -> str:
        """PostgreSQL's login for the jobs, from the RDS master secret (RDS rotates it; the Secret follows)."""
        args = self._args
        secret = "backup-postgres-database"
        k8s.apiextensions.CustomResource(
            f"{self._name}-database-credentials",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret, namespace=NAMESPACE, labels=labels(secret)),
            spec={
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": args.secret_store},
                "refreshInterval": "5m",
                "target": {"name": secret, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                "data": [
                    {"secretKey": key, "remoteRef": {"key": args.database_secret_arn, "property": key}}
                    for key in ("username", "password")
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, *args.secret_store_ready]),
        )
        return secret

    def _config_reader(self, inside: pulumi.ResourceOptions) -> None:
        """backup-config may get and list the backed-up kinds (no Secrets) in the application namespaces."""
        rbac = k8s.rbac.v1
        groups: dict[str, list[str]] = {}
        for group, resource in CONFIG_KINDS:
            groups.setdefault(group, []).append(resource)
        role = rbac.ClusterRole(
            f"{self._name}-config-reader",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="backup-config-reader", labels=labels("backup-config")),
            rules=[
                rbac.PolicyRuleArgs(api_groups=[group], resources=resources_, verbs=["get", "list"])
                for group, resources_ in groups.items()
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        for namespace in self._args.application_namespaces:
            rbac.RoleBinding(
                f"{self._name}-config-reader-{namespace}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="backup-config-reader", namespace=namespace, labels=labels("backup-config")
                ),
                role_ref=rbac.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name
                ),
                subjects=[rbac.SubjectArgs(kind="ServiceAccount", name="backup-config", namespace=NAMESPACE)],
                opts=inside,
            )

    # --- traffic ------------------------------------------------------------------------------------

    def _traffic(self, job: str, spec: Job) -> None:
        """Egress: HTTPS (S3, KMS, STS and ElastiCache's API through the VPC endpoints or the NAT gateways; the
        API server by its ClusterIP) and, for the PostgreSQL jobs, the database port in the database subnets.
        Nothing comes in."""
        egress: dict[str, list[int]] = {ANYWHERE: [HTTPS]}
        if spec.database:
            for cidr in self._args.database_subnet_cidrs:
                egress[cidr] = [self._args.database_port]
        allow_traffic(
            job,
            namespace=NAMESPACE,
            traffic=Traffic(pods={"job": job}, egress=egress),
            vpc_cidr="",
            parent=self,
            wait_for=self._args.namespace,
        )

    # --- workloads ----------------------------------------------------------------------------------

    def _cron_job(
        self,
        job: str,
        spec: Job,
        image: pulumi.Input[str],
        env: Environment,
        inside: pulumi.ResourceOptions,
    ) -> None:
        batch, meta = k8s.batch.v1, k8s.meta.v1
        pod_labels = {**labels(job), "job": job}
        batch.CronJob(
            f"{self._name}-{job}",
            metadata=meta.ObjectMetaArgs(name=job, namespace=NAMESPACE, labels=labels(job)),
            spec=batch.CronJobSpecArgs(
                schedule=spec.schedule,
                time_zone=TIME_ZONE,
                # A run still going when the next is due: the next is skipped, never run beside it.
                concurrency_policy="Forbid",
                # A run missed by more than this (the controller was down) is skipped, not started late.
                starting_deadline_seconds=600,
                successful_jobs_history_limit=3,
                # Kept for the logs and for BackupJobFailed (kube_job_status_failed).
                failed_jobs_history_limit=3,
                job_template=batch.JobTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=pod_labels),
                    spec=batch.JobSpecArgs(
                        backoff_limit=2,
                        active_deadline_seconds=spec.deadline_seconds,
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=meta.ObjectMetaArgs(
                                labels=pod_labels, annotations=NEEDS_API if spec.kubernetes_api else None
                            ),
                            spec=pod_spec(
                                job,
                                spec,
                                image=image,
                                env=env,
                                node_selector=self._args.node_selector,
                                args=spec.args,
                                cpu=spec.cpu,
                                memory=spec.memory,
                                scratch="1Gi",
                                restart_policy="Never",
                            ),
                        ),
                    ),
                ),
            ),
            opts=inside,
        )

    def _exporter(
        self,
        image: pulumi.Input[str],
        env: Environment,
        inside: pulumi.ResourceOptions,
        *,
        after: list[pulumi.Resource],
    ) -> None:
        core, meta = k8s.core.v1, k8s.meta.v1
        pod_labels = {**labels(EXPORTER), "job": EXPORTER}
        allow_traffic(
            EXPORTER,
            namespace=NAMESPACE,
            traffic=Traffic(pods={"job": EXPORTER}, from_monitoring=[METRICS_PORT], egress={ANYWHERE: [HTTPS]}),
            vpc_cidr="",
            parent=self,
            wait_for=self._args.namespace,
        )
        probe = core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/healthz", port="metrics"), period_seconds=30, timeout_seconds=5
        )
        k8s.apps.v1.Deployment(
            f"{self._name}-{EXPORTER}",
            metadata=meta.ObjectMetaArgs(name=EXPORTER, namespace=NAMESPACE, labels=labels(EXPORTER)),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # One is enough: a scrape it misses is a gap in a gauge, and a restart takes seconds.
                replicas=1,
                selector=meta.LabelSelectorArgs(match_labels=pod_labels),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels=pod_labels),
                    spec=pod_spec(
                        EXPORTER,
                        None,
                        image=image,
                        env=env,
                        node_selector=self._args.node_selector,
                        args=["serve-metrics"],
                        cpu="50m",
                        memory="128Mi",
                        scratch="64Mi",
                        restart_policy="Always",
                        ports=[core.ContainerPortArgs(name="metrics", container_port=METRICS_PORT)],
                        probe=probe,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=after)),
        )
        core.Service(
            f"{self._name}-{EXPORTER}-service",
            metadata=meta.ObjectMetaArgs(name=EXPORTER, namespace=NAMESPACE, labels=labels(EXPORTER)),
            spec=core.ServiceSpecArgs(
                selector=pod_labels,
                ports=[core.ServicePortArgs(name="metrics", port=METRICS_PORT, target_port="metrics")],
            ),
            opts=inside,
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-{EXPORTER}-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=meta.ObjectMetaArgs(
                name=EXPORTER, namespace=NAMESPACE, labels={**labels(EXPORTER), **SCRAPE_LABEL}
            ),
            spec={
                "selector": {"matchLabels": labels(EXPORTER)},
                "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "60s"}],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=self._args.monitoring_crds.apply(lambda crds: [self._args.namespace, *(crds or [])]),
            ),
        )
