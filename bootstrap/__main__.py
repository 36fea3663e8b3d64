"""The account bootstrap: settings in, the state backend and GitHub's roles out (docs/delivery.md)."""

import pulumi
import pulumi_aws as aws
from delivery.documents import Account
from delivery.github import GitHubCi, GitHubCiArgs
from delivery.settings import load_settings
from delivery.state import StateBackend, StateBackendArgs
from pulumi.runtime import config as runtime_config

settings = load_settings({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()})
provider = aws.Provider(
    "aws",
    aws.ProviderArgs(region=settings.region, default_tags=aws.ProviderDefaultTagsArgs(tags=settings.default_tags)),
)
invoke = pulumi.InvokeOutputOptions(provider=provider)
caller = aws.get_caller_identity_output(opts=invoke)
partition = aws.get_partition_output(opts=invoke)
account = pulumi.Output.all(caller.account_id, partition.partition, partition.dns_suffix).apply(
    lambda v: Account(id=v[0], partition=v[1], dns_suffix=v[2])
)
# Bucket names are global: the account and region make this one unique.
bucket_name = account.apply(lambda a: f"pulumi-state-{a.id}-{settings.region}")

state_args = StateBackendArgs(account=account, bucket_name=bucket_name)
state = StateBackend("state", state_args, opts=pulumi.ResourceOptions(providers=[provider]))
ci = GitHubCi(
    "github",
    GitHubCiArgs(
        settings=settings,
        account=account,
        state_bucket=bucket_name,
        state_key_arn=state.state_key_arn,
        secrets_key_arn=state.secrets_key_arn,
        key_aliases=state.key_aliases,
    ),
    opts=pulumi.ResourceOptions(providers=[provider]),
)

pulumi.export("stateBackendUrl", pulumi.Output.concat("s3://", state.bucket_name, f"?region={settings.region}"))
pulumi.export("secretsProvider", f"awskms://alias/{state_args.secrets_key_alias}?region={settings.region}")
pulumi.export("previewRoleArn", ci.preview_role_arn)
# The drift check's role (the drift environment's AWS_DRIFT_ROLE_ARN); like the preview role, each stack lists it
# in platform:cluster.previewPrincipals.
pulumi.export("driftRoleArn", ci.drift_role_arn)
# One deploy role per platform stack: deploy.yml's environment of that stack names it (docs/delivery.md), and
# that stack's platform:cluster.deployerPrincipal must be it.
pulumi.export("deployRoleArns", ci.deploy_role_arns)
