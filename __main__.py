"""The platform stack: typed config in, components wired, outputs out."""

import pulumi

from components.config import settings_from_runtime
from components.platform import Platform

settings = settings_from_runtime()
platform = Platform("platform", settings)

pulumi.export("vpcId", platform.network.vpc_id)
pulumi.export("vpcCidr", platform.network.vpc_cidr)
pulumi.export("publicSubnetIds", platform.network.public_subnet_ids)
pulumi.export("privateSubnetIds", platform.network.private_subnet_ids)
pulumi.export("databaseSubnetIds", platform.network.database_subnet_ids)
pulumi.export("endpointSecurityGroupId", platform.network.endpoint_security_group_id)
pulumi.export("clusterName", platform.cluster.cluster_name)
pulumi.export("clusterEndpoint", platform.cluster.endpoint)
pulumi.export("oidcProviderArn", platform.cluster.oidc_provider_arn)
pulumi.export("kubeconfig", pulumi.Output.secret(platform.cluster.kubeconfig))
pulumi.export("databaseEndpoint", platform.database.endpoint)
pulumi.export("databaseMasterSecretArn", platform.database.master_secret_arn)
pulumi.export("cachePrimaryEndpoint", platform.cache.primary_endpoint)
pulumi.export("cacheAuthTokenSecretArn", platform.cache.auth_token_secret_arn)
pulumi.export("backupBucket", platform.backups.bucket_name)
pulumi.export("backupKmsKeyArn", platform.backups.kms_key_arn)
if platform.backups.dr_bucket_name is not None:
    pulumi.export("drBackupBucket", platform.backups.dr_bucket_name)
pulumi.export("backupJobsRepositoryUrl", platform.backup_jobs.repository_url)
pulumi.export("alarmTopicArn", platform.alarms.topic_arn)
