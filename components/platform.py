"""Platform: the whole stack graph, wired from typed settings."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.addons import ClusterAddons, ClusterAddonsArgs
from components.alarms import Alarms, AlarmsArgs, CacheAlarmTarget, DatabaseAlarmTarget
from components.backup_jobs import NAMESPACE as BACKUP_JOBS_NAMESPACE
from components.backup_jobs import BackupJobs, BackupJobsArgs
from components.backup_storage import BackupStorage, BackupStorageArgs
from components.cache import PORT as CACHE_PORT
from components.cache import Cache, CacheArgs
from components.cluster import Cluster, ClusterArgs
from components.config import Settings, subnet_layout
from components.context import StackContext, stack_context
from components.database import MAX_CONNECTIONS, Database, DatabaseArgs
from components.database import PORT as DATABASE_PORT
from components.monitoring import NAMESPACE as MONITORING_NAMESPACE
from components.monitoring import Monitoring, MonitoringArgs
from components.namespaces import Namespaces, NamespacesArgs
from components.naming import Naming, default_tags
from components.network import Network, NetworkArgs
from components.service import DataTier, LoadBalancing
from components.velero import NAMESPACE as VELERO_NAMESPACE
from components.velero import Velero, VeleroArgs
from components.workloads import Workloads, WorkloadsArgs


class Platform(pulumi.ComponentResource):
    """Builds every component of a stack and wires their outputs together.

    All AWS resources go through explicit providers whose default_tags tag
    them from config: one for the stack's region and, when backups are
    replicated, one for the DR region used by the replica resources only.
    Pulumi.yaml disables the default providers so that nothing can slip past
    them untagged or in the wrong region.
    """

    network: Network
    cluster: Cluster
    database: Database
    cache: Cache
    backups: BackupStorage
    alarms: Alarms
    namespaces: Namespaces
    addons: ClusterAddons
    monitoring: Monitoring
    velero: Velero
    backup_jobs: BackupJobs
    workloads: Workloads

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Platform", name, None, opts)
        tags = default_tags(
            settings.project, settings.stack, settings.tags.owner, settings.tags.cost_center, settings.tags.extra
        )
        provider = self._aws_provider(f"{name}-aws", settings.region, tags)
        dr_region = settings.backups.dr_region if settings.backups.replicate else None
        dr_provider = self._aws_provider(f"{name}-aws-dr", dr_region, tags) if dr_region else None
        children = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        context = stack_context(Naming(settings.project, settings.stack), settings.region, tags, provider)

        self.network = Network("network", NetworkArgs(config=settings.network, context=context), opts=children)
        self.cluster = Cluster(
            "cluster",
            ClusterArgs(
                config=settings.cluster,
                context=context,
                vpc_id=self.network.vpc_id,
                private_subnet_ids=self.network.private_subnet_ids,
            ),
            opts=children,
        )
        # Only the cluster's nodes may reach PostgreSQL and Redis, and both live in
        # the database subnets, which have no route to the internet.
        data_clients: list[pulumi.Input[str]] = [self.cluster.node_security_group_id]
        self.database = Database(
            "database",
            DatabaseArgs(
                config=settings.database,
                context=context,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.database_subnet_ids,
                allowed_security_group_ids=data_clients,
                dr_provider=dr_provider,
                dr_region=dr_region,
            ),
            opts=children,
        )
        self.cache = Cache(
            "cache",
            CacheArgs(
                config=settings.cache,
                context=context,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.database_subnet_ids,
                allowed_security_group_ids=data_clients,
                availability_zones=settings.network.availability_zones,
            ),
            opts=children,
        )
        self.backups = BackupStorage(
            "backups",
            BackupStorageArgs(config=settings.backups, context=context, dr_provider=dr_provider),
            opts=children,
        )
        self.alarms = Alarms(
            "alarms",
            AlarmsArgs(
                context=context,
                thresholds=settings.monitoring.alarms,
                protect=settings.monitoring.protect,
                database=DatabaseAlarmTarget(
                    instance_identifier=self.database.instance_identifier,
                    identifier=self.database.identifier,
                    max_connections=MAX_CONNECTIONS,
                ),
                cache=CacheAlarmTarget(
                    replication_group_id=self.cache.replication_group_id,
                    num_cache_clusters=settings.cache.num_cache_clusters,
                ),
            ),
            opts=children,
        )
        self._in_cluster(settings, context, provider)
        self.register_outputs({"vpc_id": self.network.vpc_id})

    def _in_cluster(self, settings: Settings, context: StackContext, provider: aws.Provider) -> None:
        """Namespaces and add-ons, through the cluster's Kubernetes provider (IAM through the AWS one)."""
        in_cluster = pulumi.ResourceOptions(
            parent=self, providers={"aws": provider, "kubernetes": self.cluster.provider}
        )
        self.namespaces = Namespaces(
            "namespaces",
            NamespacesArgs(
                application=settings.workloads.namespaces,
                quota=settings.workloads.quota,
                kubernetes_version=settings.cluster.kubernetes_version,
            ),
            opts=in_cluster,
        )
        self.addons = ClusterAddons(
            "addons",
            ClusterAddonsArgs(
                config=settings.addons,
                context=context,
                oidc=self.cluster.oidc,
                cluster_name=self.cluster.eks_name,
                node_groups=self.cluster.node_groups,
                namespaces=self.namespaces,
                # The backup jobs read PostgreSQL's login through the store too.
                secret_store_namespaces=[*settings.workloads.namespaces, BACKUP_JOBS_NAMESPACE],
                vpc_name=self.network.vpc_name,
                vpc_cidr=settings.network.vpc_cidr,
                internet_path=self.network.internet_path,
                secret_arns=[self.database.master_secret_arn, self.cache.auth_token_secret_arn],
                secret_key_arns=[self.database.kms_key_arn, self.cache.kms_key_arn],
            ),
            opts=in_cluster,
        )
        self.monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                config=settings.monitoring,
                context=context,
                oidc=self.cluster.oidc,
                cluster_name=self.cluster.eks_name,
                node_selector=dict(settings.addons.node_selector),
                vpc_cidr=settings.network.vpc_cidr,
                namespace=self.namespaces.namespaces[MONITORING_NAMESPACE],
                monitoring_crds=self.addons.monitoring_crds.resources,
                wait_for=self.cluster.node_groups,
                max_connections=MAX_CONNECTIONS,
                slack_webhook_url=settings.secrets.get("monitoringSlackWebhookUrl"),
                pagerduty_routing_key=settings.secrets.get("monitoringPagerdutyRoutingKey"),
                traces_kms_key_arn=self.backups.kms_key_arn,
            ),
            opts=in_cluster,
        )
        self.velero = Velero(
            "velero",
            VeleroArgs(
                config=settings.addons.velero,
                context=context,
                oidc=self.cluster.oidc,
                bucket_name=self.backups.bucket_name,
                bucket_arn=self.backups.bucket_arn,
                kms_key_arn=self.backups.kms_key_arn,
                application_namespaces=settings.workloads.namespaces,
                node_selector=dict(settings.addons.node_selector),
                namespace=self.namespaces.namespaces[VELERO_NAMESPACE],
                monitoring_crds=self.addons.monitoring_crds.resources,
                wait_for=self.cluster.node_groups,
            ),
            opts=in_cluster,
        )
        layout = subnet_layout(settings.network)
        self.backup_jobs = BackupJobs(
            "backup-jobs",
            BackupJobsArgs(
                config=settings.backups.jobs,
                context=context,
                oidc=self.cluster.oidc,
                bucket_name=self.backups.bucket_name,
                bucket_arn=self.backups.bucket_arn,
                kms_key_arn=self.backups.kms_key_arn,
                database_host=self.database.address,
                database_port=DATABASE_PORT,
                database_secret_arn=self.database.master_secret_arn,
                database_subnet_cidrs=[str(c) for c in layout["database"]],
                replication_group_id=self.cache.replication_group_id,
                cache_kms_key_arn=self.cache.kms_key_arn,
                application_namespaces=settings.workloads.namespaces,
                node_selector=dict(settings.addons.node_selector),
                secret_store=self.addons.external_secrets.store_name,
                namespace=self.namespaces.namespaces[BACKUP_JOBS_NAMESPACE],
                secret_store_ready=[self.addons.external_secrets.store],
                monitoring_crds=self.addons.monitoring_crds.resources,
                protect=settings.backups.protect,
            ),
            opts=in_cluster,
        )
        self.workloads = Workloads(
            "workloads",
            WorkloadsArgs(
                config=settings.workloads,
                context=context,
                oidc=self.cluster.oidc,
                data_tier=DataTier(
                    subnet_cidrs=[str(c) for c in layout["database"]],
                    database_host=self.database.address,
                    database_port=DATABASE_PORT,
                    database_secret_arn=self.database.master_secret_arn,
                    redis_host=self.cache.primary_endpoint,
                    redis_port=CACHE_PORT,
                    redis_secret_arn=self.cache.auth_token_secret_arn,
                ),
                load_balancing=LoadBalancing(
                    ssl_policy=settings.addons.load_balancer_controller.ssl_policy,
                    wait=self.addons.load_balancer_controller.ingress_wait,
                    subnet_cidrs=[str(c) for c in layout["public"]],
                ),
                secret_store=self.addons.external_secrets.store_name,
                namespaces=self.namespaces.namespaces,
                secret_store_ready=[self.addons.external_secrets.store],
                monitoring_crds=self.addons.monitoring_crds.resources,
            ),
            opts=in_cluster,
        )

    def _aws_provider(self, name: str, region: str, tags: dict[str, str]) -> aws.Provider:
        return aws.Provider(
            name,
            aws.ProviderArgs(region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags)),
            opts=pulumi.ResourceOptions(parent=self),
        )
