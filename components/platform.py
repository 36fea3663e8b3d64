"""Platform: the whole stack graph, wired from typed settings."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import Settings
from components.naming import Naming, default_tags
from components.network import Network, NetworkArgs


class Platform(pulumi.ComponentResource):
    """Builds every component of a stack and wires their outputs together.

    All AWS resources go through one explicit provider whose default_tags
    tag them from config; Pulumi.yaml disables the default providers so that
    nothing can slip past it untagged or in the wrong region.
    """

    network: Network

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:Platform", name, None, opts)
        naming = Naming(settings.project, settings.stack)
        tags = settings.tags
        provider = aws.Provider(
            f"{name}-aws",
            aws.ProviderArgs(
                region=settings.region,
                default_tags=aws.ProviderDefaultTagsArgs(
                    tags=default_tags(settings.project, settings.stack, tags.owner, tags.cost_center, tags.extra)
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        children = pulumi.ResourceOptions(parent=self, providers={"aws": provider})
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(provider=provider))

        self.network = Network(
            "network",
            NetworkArgs(
                config=settings.network,
                naming=naming,
                region=settings.region,
                account_id=identity.account_id,
                partition=partition.partition,
            ),
            opts=children,
        )
        self.register_outputs({"vpc_id": self.network.vpc_id})
