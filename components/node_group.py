"""NodeGroup: one EKS managed node group and the launch template its nodes start from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import NodeGroupConfig
from components.context import StackContext

MAX_UNAVAILABLE_PERCENT = 33
"""Rolling node updates replace at most a third of a group at a time."""
NAME_PREFIX_LIMIT = 37
"""EKS names a group <prefix><26 generated characters> within its 63-character limit, so the AWS provider
refuses a node_group_name_prefix longer than 37 characters."""


@dataclass
class NodeGroupArgs:
    context: StackContext
    """Naming (the launch template is <project>-<stack>-eks-<group>) and the stack's tags (on what the
    nodes launch: instances, volumes, network interfaces)."""
    config: NodeGroupConfig
    """Validated settings of this group (instance types, sizes, labels, taints, disk, AMI type)."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster the group joins."""
    kubernetes_version: pulumi.Input[str]
    """The cluster's version: an upgrade in config rolls the nodes after the control plane."""
    node_role_arn: pulumi.Input[str]
    """IAM role of the nodes (kubelet and image pulls only)."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets, one per AZ (never public ones: nodes have no public address)."""
    security_group_id: pulumi.Input[str]
    """The nodes' security group (the only group on their network interfaces)."""
    volume_key_arn: pulumi.Input[str]
    """Customer-managed key of the nodes' root (and Bottlerocket data) volumes."""
    wait_for: Sequence[pulumi.Resource] = ()
    """What the nodes need before they can join yet nothing in the group's inputs names (the CNI and
    kube-proxy add-ons, the node role's policies). Left out, nothing."""


class NodeGroup(pulumi.ComponentResource):
    """A managed node group of IMDSv2-only nodes with encrypted volumes, no SSH key and no public address.

    Capacity is added by adding groups (config ``cluster.nodeGroups``), without editing ``Cluster``.
    """

    node_group_name: pulumi.Output[str]
    """The EKS node group's name (prefix plus EKS's suffix)."""
    node_group: aws.eks.NodeGroup
    """The EKS node group: what depends on nodes (CoreDNS, the EBS CSI driver) waits for it."""

    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:NodeGroup", name, None, opts)
        self._name = name
        self._args = args
        # The launch template and the group were children of the Cluster before NodeGroup existed;
        # the alias keeps a stack created then from replacing them.
        self._moved = [pulumi.Alias(parent=opts.parent)] if opts is not None and opts.parent is not None else []
        template = self._create_launch_template()
        self.node_group = self._create_node_group(template)
        self.node_group_name = self.node_group.node_group_name
        self.register_outputs({"node_group_name": self.node_group_name})

    def _create_launch_template(self) -> aws.ec2.LaunchTemplate:
        args, group = self._args, self._args.config
        prefix = args.context.naming.prefix
        return aws.ec2.LaunchTemplate(
            self._name,
            aws.ec2.LaunchTemplateArgs(
                name=args.context.naming.name(f"eks-{group.name}"),
                description=f"Nodes of the {group.name} group: IMDSv2 only, encrypted volumes, no SSH key",
                update_default_version=True,
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    # One hop: the node and its host-network pods (VPC CNI, kube-proxy, the
                    # EBS CSI node plugin) reach the metadata service; other pods do not, so
                    # they cannot take the node role's credentials. Pods get AWS access from
                    # IRSA, and charts are given region and VPC explicitly (components/cluster.py
                    # says which add-on reads what).
                    http_put_response_hop_limit=1,
                    instance_metadata_tags="disabled",
                ),
                block_device_mappings=_volumes(group, args.volume_key_arn),
                # Our security group only: with security groups in the template EKS
                # does not add its cluster security group to the nodes.
                vpc_security_group_ids=[args.security_group_id],
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(
                        resource_type=kind,
                        tags={**args.context.tags, "Name": f"{prefix}-eks-{group.name}", "eks-node-group": group.name},
                    )
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags={"Name": f"{prefix}-eks-{group.name}"},
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=self._moved),
        )

    def _create_node_group(self, template: aws.ec2.LaunchTemplate) -> aws.eks.NodeGroup:
        args, group = self._args, self._args.config
        return aws.eks.NodeGroup(
            self._name,
            aws.eks.NodeGroupArgs(
                cluster_name=args.cluster_name,
                # A prefix, not a name: a change EKS can only make by replacing the
                # group (instance types, capacity type) creates the new group
                # before the old one is drained and deleted, which a fixed name forbids.
                node_group_name_prefix=name_prefix(group.name),
                version=args.kubernetes_version,
                node_role_arn=args.node_role_arn,
                subnet_ids=args.subnet_ids,
                ami_type=group.ami_type,
                capacity_type=group.capacity_type,
                instance_types=group.instance_types,
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=group.min_size,
                    max_size=group.max_size,
                    desired_size=group.desired_size if group.desired_size is not None else group.min_size,
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=MAX_UNAVAILABLE_PERCENT),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                labels=group.labels or None,
                taints=[
                    aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value or None, effect=t.effect) for t in group.taints
                ]
                or None,
                tags={"Name": f"{args.context.naming.prefix}-eks-{group.name}"},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                aliases=self._moved,
                # desiredSize is the initial size only: after creation the Cluster Autoscaler
                # owns it (components/cluster_autoscaler.py), and the next `pulumi up` must not
                # scale its decision back.
                ignore_changes=["scalingConfig.desiredSize"],
                # Nothing in the group's inputs names these, yet its nodes join only
                # with a CNI, kube-proxy and the pod identity agent installed and the
                # node role's policies attached; otherwise they stay NotReady and
                # EKS fails the group (NodeCreationFailure).
                depends_on=list(args.wait_for),
            ),
        )


def name_prefix(group_name: str) -> str:
    """The group's node_group_name_prefix: its name and a hyphen, within EKS's prefix limit."""
    return f"{group_name[: NAME_PREFIX_LIMIT - 1].rstrip('-')}-"


def _volumes(group: NodeGroupConfig, key_arn: pulumi.Input[str]) -> list[aws.ec2.LaunchTemplateBlockDeviceMappingArgs]:
    def ebs(size: int | None) -> aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs:
        return aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
            volume_type="gp3",
            volume_size=size,
            encrypted="true",
            kms_key_id=key_arn,
            delete_on_termination="true",
        )

    if group.ami_type.startswith("BOTTLEROCKET"):
        # Bottlerocket keeps its OS on /dev/xvda (the AMI's size) and containers
        # and images on /dev/xvdb: both encrypted, the configured size on the data volume.
        return [
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvda", ebs=ebs(None)),
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvdb", ebs=ebs(group.disk_size_gib)),
        ]
    return [aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvda", ebs=ebs(group.disk_size_gib))]
