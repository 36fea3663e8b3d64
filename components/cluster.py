"""Cluster: the EKS control plane, its managed node groups, core add-ons and the Kubernetes provider.

Pods get AWS permissions through IRSA only (components/irsa.py explains why); the
cluster provides its OIDC provider for that (``Cluster.oidc``).

Ordering, which the best-known modules get wrong: the cluster is created
without EKS's self-managed add-ons; vpc-cni, kube-proxy and
eks-pod-identity-agent are installed as managed add-ons before the node groups
(a node without a CNI never becomes Ready); coredns and aws-ebs-csi-driver
after them (their Deployments need nodes, or the add-ons stay DEGRADED until
EKS times out).

Instance metadata: nodes answer IMDSv2 with a hop limit of 1, so only
host-network pods reach it. Of the add-ons, vpc-cni, kube-proxy and the pod
identity agent run on the host network already; the EBS CSI node plugin is
put there (``node.hostNetwork``) because it reads the instance's attached
network interfaces and volumes from IMDS to report a correct volume-attach
limit, which its Kubernetes-metadata fallback cannot. Pods with IRSA get
their region from the EKS pod identity webhook (AWS_REGION); charts that would
read the region or VPC from IMDS are given them explicitly.

Account prerequisite: the EC2 Auto Scaling service-linked role
(AWSServiceRoleForAutoScaling) must exist before the first ``pulumi up``, because
the volume key's policy names it (KMS refuses a policy naming a principal that
does not exist). AWS creates it with the account's first Auto Scaling group; in
a fresh account run ``aws iam create-service-linked-role --aws-service-name
autoscaling.amazonaws.com`` once.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import ClusterConfig
from components.context import Account, StackContext
from components.irsa import ClusterOidc, PodRole, kebab, pod_role
from components.node_group import NodeGroup, NodeGroupArgs
from components.policies import (
    Condition,
    Principal,
    Statement,
    account_administers_key,
    customer_managed_key,
    log_group_arn,
    logs_may_use_key,
    policy_json,
)

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
"""All five control-plane log types (AWS-FSBP EKS.8)."""
ADMIN_POLICY = "cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW_POLICY = "cluster-access-policy/AmazonEKSAdminViewPolicy"
"""Get, list and watch on every resource, Secrets included (a preview reads the Secrets the stack manages)."""
"""The access policy that makes an access entry cluster-admin (cluster-wide scope), after arn:<partition>:eks::aws:."""
ADDONS_BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
"""DaemonSets a node needs to become Ready (network, service routing, pod credentials)."""
ADDONS_AFTER_NODES = ("coredns", "aws-ebs-csi-driver")
"""Deployments that need schedulable nodes."""

# Ports the control plane opens on nodes, one rule each (not a range, which
# would also open every port in between). The kubelet and the webhooks and
# extension API servers that add-ons and admission controllers serve: the API
# server calls them, so without the rule `kubectl apply` of a webhooked object
# times out (context deadline exceeded).
CONTROL_PLANE_TO_NODE_PORTS: dict[int, str] = {
    443: "webhooks and extension API servers serving on 443",
    4443: "metrics-server (charts before 3.x)",
    6443: "prometheus-adapter",
    8443: "Karpenter and ingress-nginx admission webhooks",
    9443: "AWS Load Balancer Controller and Kyverno webhooks",
    10250: "kubelet API (logs, exec, metrics), metrics-server and cert-manager webhooks",
}

VERSION_SOURCE_TAG = "version-source"
"""Tag on each add-on: "pinned" (the stack file names its version) or "eks-default" (EKS's default build,
read again on every run)."""
# Purposes of the IAM roles that key policies name (IAM role names are <project>-<stack>-<purpose>-<region>).
CLUSTER_ROLE = "eks-cluster"
EBS_CSI_ROLE = "ebs-csi-driver"
# Service accounts of the add-ons that get a pod role.
VPC_CNI_SERVICE_ACCOUNT = ("kube-system", "aws-node")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")

AUTOSCALING_ROLE = "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
"""The EC2 Auto Scaling service-linked role (path and name): it launches the nodes."""
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
EBS_CSI_CONFIGURATION = {"node": {"hostNetwork": True}}
"""The EBS CSI node plugin on the host network, where the nodes' hop limit of 1 lets it read instance
metadata (its attached interfaces and volumes, for a correct volume-attach limit); see the module docstring."""
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}
"""The network policy agent: without it NetworkPolicies (every namespace's default deny) are accepted and
silently not enforced."""


@dataclass
class ClusterArgs:
    config: ClusterConfig
    """Validated cluster settings (version, admins, endpoint access, node groups, add-on pins)."""
    context: StackContext
    """Naming (the cluster is <project>-<stack>-eks), region (the kubeconfig, log group ARN, IAM role names),
    account (key and trust policies) and tags (on what the nodes launch)."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster's and nodes' security groups."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets, one per AZ: the control plane's network interfaces and every node group."""


class Cluster(pulumi.ComponentResource):
    """An EKS cluster with a private API endpoint, audited and encrypted, and its managed node groups.

    Authentication is by EKS access entries only: the admin principals from
    config are granted cluster-admin explicitly, nobody implicitly. Two
    customer-managed keys: one for the Kubernetes secrets and the control-plane
    logs, one for the nodes' root volumes and the persistent volumes of the
    default StorageClass. Their policies grant the services and roles that use
    them directly, so no identity policy names a key.
    """

    cluster_name: pulumi.Output[str]
    """Name of the EKS cluster (for `aws eks update-kubeconfig --name`)."""
    endpoint: pulumi.Output[str]
    """URL of the Kubernetes API server (private unless the stack opens it to listed CIDRs)."""
    oidc_provider_arn: pulumi.Output[str]
    """ARN of the cluster's IAM OIDC provider: the Federated principal of pod roles."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL (https://oidc.eks.<region>.amazonaws.com/id/<id>)."""
    oidc: ClusterOidc
    """Both of the above, for ``irsa.pod_role``."""
    node_security_group_id: pulumi.Output[str]
    """Security group of every node: data stores admit this group, and only it."""
    node_role_arn: pulumi.Output[str]
    """IAM role of the nodes."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (JSON) that gets its token from `aws eks get-token`; secret."""
    provider: k8s.Provider
    """Kubernetes provider for in-cluster resources; usable once the deployer is cluster-admin."""
    eks_name: str
    """The cluster's name as a plain string, known before the cluster exists (for chart values, which
    must be known for a chart to render in a first preview)."""
    node_groups: list[aws.eks.NodeGroup]
    """The managed node groups: in-cluster software waits for somewhere to run."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:Cluster", name, None, opts)
        self._name = name
        self._args = args
        self._context = args.context
        self._child = pulumi.ResourceOptions(parent=self)
        self._eks_name = args.context.naming.name("eks", "eks")
        self.eks_name = self._eks_name
        # The name EKS writes control-plane logs to; ours must exist first.
        self._log_group_name = f"/aws/eks/{self._eks_name}/cluster"

        control_plane_sg, node_sg = self._create_security_groups()
        cluster_role, cluster_role_grants = self._create_cluster_role()
        key = self._create_key(cluster_role)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            aws.cloudwatch.LogGroupArgs(
                name=self._log_group_name,
                retention_in_days=args.config.log_retention_days,
                kms_key_id=key.arn,
            ),
            opts=self._child,
        )
        cluster = self._create_control_plane(
            key, cluster_role, control_plane_sg, wait_for=[log_group, *cluster_role_grants]
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.oidc_issuer = cluster.identities.apply(_issuer)
        oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            aws.iam.OpenIdConnectProviderArgs(
                url=self.oidc_issuer,
                client_id_lists=["sts.amazonaws.com"],
                # No thumbprint: IAM trusts the EKS issuers through its own CA
                # library (IAM user guide, "Create an OIDC identity provider").
                tags={"Name": f"{self._eks_name}-oidc"},
            ),
            opts=self._child,
        )
        self.oidc_provider_arn = oidc_provider.arn
        self.oidc = ClusterOidc(provider_arn=self.oidc_provider_arn, issuer=self.oidc_issuer)
        admin_grants = self._grant_admins(cluster)

        # AWS maintains the managed policy with the driver (its writes are limited by tag
        # conditions to volumes and snapshots the driver created); the volume key's policy
        # lets the role use that key.
        ebs = self._pod_role(EBS_CSI_ROLE, *EBS_CSI_SERVICE_ACCOUNT, [], ["service-role/AmazonEBSCSIDriverPolicy"])
        volume_key = self._create_volume_key(ebs.role)
        node_role, node_role_grants = self._create_node_role()
        early_addons = self._create_early_addons(cluster)
        node_groups = [
            NodeGroup(
                f"{name}-{group.name}",
                NodeGroupArgs(
                    context=args.context,
                    config=group,
                    cluster_name=cluster.name,
                    kubernetes_version=cluster.version,
                    node_role_arn=node_role.arn,
                    subnet_ids=args.private_subnet_ids,
                    security_group_id=node_sg.id,
                    volume_key_arn=volume_key.arn,
                    wait_for=[*early_addons, *node_role_grants],
                ),
                opts=self._child,
            ).node_group
            for group in args.config.node_groups
        ]
        self._create_late_addons(cluster, ebs, node_groups)
        self.node_groups = node_groups

        self.kubeconfig = pulumi.Output.secret(self._kubeconfig(cluster, admin_grants))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=self.kubeconfig,
                # Replace the provider (and so every in-cluster object) only when the
                # cluster itself is new: a change of role or profile is an update.
                cluster_identifier=cluster.endpoint,
            ),
            opts=self._child,
        )
        self._create_storage_classes(volume_key)

        self.node_security_group_id = node_sg.id
        self.node_role_arn = node_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
                "oidc_issuer": self.oidc_issuer,
                "node_security_group_id": self.node_security_group_id,
                "node_role_arn": self.node_role_arn,
                "kubeconfig": self.kubeconfig,
            }
        )

    # --- pod roles -----------------------------------------------------------------------------

    def _pod_role(
        self, purpose: str, namespace: str, service_account: str, statements: Any, managed_policies: Sequence[str]
    ) -> PodRole:
        return pod_role(
            f"{self._name}-{purpose}",
            purpose=purpose,
            context=self._context,
            oidc=self.oidc,
            namespace=namespace,
            service_account=service_account,
            statements=statements,
            managed_policies=managed_policies,
            parent=self,
        )

    # --- key and IAM ---------------------------------------------------------------------------

    def _create_key(self, cluster_role: aws.iam.Role) -> aws.kms.Key:
        """The key of the Kubernetes secrets (envelope encryption) and the control-plane logs."""
        prefix = self._context.naming.prefix
        region = self._context.region
        return customer_managed_key(
            self,
            f"{self._name}-key",
            alias=f"{prefix}-eks",
            description=f"{prefix} EKS: Kubernetes secrets and control-plane logs",
            policy=policy_json(
                self,
                self._context.account.apply(
                    lambda a: _key_statements(
                        a, region, self._log_group_name, self._context.iam_role_name(CLUSTER_ROLE)
                    )
                ),
            ),
            # Losing the key loses every Kubernetes secret.
            protect=self._args.config.protect,
            # The policy names the role by an ARN built from its name, not from the role's outputs: a
            # document computed from a resource still being created is unknown in a first preview (the
            # engine does not run the invoke), and the gate could not read it. KMS refuses a policy
            # naming a role that does not exist yet, so the key waits for it explicitly.
            wait_for=[cluster_role],
        )

    def _create_volume_key(self, ebs_csi_role: aws.iam.Role) -> aws.kms.Key:
        """The key of the nodes' volumes and the persistent volumes (the default StorageClass).

        A key of its own: its policy names the EBS CSI driver's pod role, which trusts the
        cluster's OIDC provider, which needs the cluster, which needs the secrets key; one key
        for both would be a cycle. Its policy grants what the driver and EC2 Auto Scaling need
        directly, so no identity policy has to name the key (unknown in a first preview).
        """
        prefix = self._context.naming.prefix
        return customer_managed_key(
            self,
            f"{self._name}-volume-key",
            alias=f"{prefix}-eks-volumes",
            description=f"{prefix} EKS: node root volumes and persistent volumes",
            policy=policy_json(
                self,
                self._context.account.apply(
                    lambda a: _volume_key_statements(a, self._context.iam_role_name(EBS_CSI_ROLE))
                ),
            ),
            # Losing the key loses every persistent volume and its snapshots.
            protect=self._args.config.protect,
            # As for the secrets key: the role by its name, and an explicit wait for it.
            wait_for=[ebs_csi_role],
        )

    def _create_cluster_role(self) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        role = aws.iam.Role(
            f"{self._name}-cluster-role",
            aws.iam.RoleArgs(
                name=self._context.iam_role_name(CLUSTER_ROLE),
                description="Lets EKS run the control plane of the cluster",
                assume_role_policy=policy_json(self, self._context.account.apply(lambda a: _service_trust(a, "eks"))),
            ),
            opts=self._child,
        )
        # Envelope encryption of secrets: the key's policy lets this role use the key.
        grants: list[pulumi.Resource] = [
            self._attach_managed(f"{self._name}-cluster-role", role, "AmazonEKSClusterPolicy")
        ]
        return role, grants

    def _create_node_role(self) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        role = aws.iam.Role(
            f"{self._name}-node-role",
            aws.iam.RoleArgs(
                name=self._context.iam_role_name("eks-nodes"),
                description="Instance role of the cluster's nodes (kubelet and image pulls only)",
                assume_role_policy=policy_json(self, self._context.account.apply(lambda a: _service_trust(a, "ec2"))),
            ),
            opts=self._child,
        )
        # What the kubelet needs, and no more: the VPC CNI's permissions go to
        # its own pod role (aws-node), not to every process on the node; pull-only
        # ECR access (no listing or describing of repositories).
        grants: list[pulumi.Resource] = [
            self._attach_managed(f"{self._name}-node-role", role, policy)
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
        ]
        return role, grants

    def _attach_managed(self, prefix: str, role: aws.iam.Role, policy: str) -> aws.iam.RolePolicyAttachment:
        return aws.iam.RolePolicyAttachment(
            f"{prefix}-{kebab(policy)}",
            aws.iam.RolePolicyAttachmentArgs(
                role=role.name, policy_arn=self._context.account.apply(lambda a: a.managed_policy_arn(policy))
            ),
            opts=self._child,
        )

    # --- network -------------------------------------------------------------------------------

    def _create_security_groups(self) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        args = self._args
        prefix = self._context.naming.prefix
        control_plane = aws.ec2.SecurityGroup(
            f"{self._name}-control-plane-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                description="EKS control plane: the API server from the nodes",
                tags={"Name": f"{prefix}-eks-control-plane"},
            ),
            opts=self._child,
        )
        nodes = aws.ec2.SecurityGroup(
            f"{self._name}-node-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                description="EKS nodes: each other, and the control plane on the kubelet and webhook ports",
                # The AWS Load Balancer Controller adds its rules to the one group
                # of a node's network interface that carries this tag.
                tags={"Name": f"{prefix}-eks-nodes", f"kubernetes.io/cluster/{self._eks_name}": "owned"},
            ),
            opts=self._child,
        )

        def ingress(role: str, group: aws.ec2.SecurityGroup, source: aws.ec2.SecurityGroup, **rule: Any) -> None:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-{role}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=group.id, referenced_security_group_id=source.id, **rule
                ),
                opts=self._child,
            )

        # Pods talk to pods on other nodes on any port (CoreDNS on 53/udp,
        # services, the VPC CNI's network policy agent decides the rest).
        ingress("nodes-from-nodes", nodes, nodes, ip_protocol="-1", description="Node to node, all traffic")
        for port, use in CONTROL_PLANE_TO_NODE_PORTS.items():
            ingress(
                f"nodes-from-control-plane-{port}",
                nodes,
                control_plane,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=f"Control plane to nodes: {use}",
            )
        for index, cidr in enumerate(args.config.api_access_cidrs):
            # Where `pulumi up` and the admins run from (the private endpoint answers
            # only inside the VPC and networks routed to it).
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-control-plane-from-api-clients-{index}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=control_plane.id,
                    cidr_ipv4=cidr,
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    description=f"Kubernetes API from {cidr} (CI, admins)",
                ),
                opts=self._child,
            )
        ingress(
            "control-plane-from-nodes-443",
            control_plane,
            nodes,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="Nodes and pods to the Kubernetes API server",
        )
        # The provider removes AWS's default allow-all egress rule, so egress is
        # explicit. Nodes reach image registries, AWS APIs (through the NAT
        # gateways and VPC endpoints) and the API server.
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-nodes-egress",
            aws.vpc.SecurityGroupEgressRuleArgs(
                security_group_id=nodes.id,
                ip_protocol="-1",
                cidr_ipv4="0.0.0.0/0",
                description="Nodes to anywhere (registries, AWS APIs, the API server)",
            ),
            opts=self._child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-control-plane-egress",
            aws.vpc.SecurityGroupEgressRuleArgs(
                security_group_id=control_plane.id,
                referenced_security_group_id=nodes.id,
                ip_protocol="-1",
                description="Control plane to the nodes (kubelet, webhooks)",
            ),
            opts=self._child,
        )
        return control_plane, nodes

    # --- control plane -------------------------------------------------------------------------

    def _create_control_plane(
        self,
        key: aws.kms.Key,
        role: aws.iam.Role,
        security_group: aws.ec2.SecurityGroup,
        wait_for: list[pulumi.Resource],
    ) -> aws.eks.Cluster:
        config = self._args.config
        return aws.eks.Cluster(
            f"{self._name}-eks",
            aws.eks.ClusterArgs(
                name=self._eks_name,
                version=config.kubernetes_version,
                role_arn=role.arn,
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=self._args.private_subnet_ids,
                    security_group_ids=[security_group.id],
                    endpoint_private_access=True,
                    endpoint_public_access=config.endpoint_public_access,
                    # Left out when private: AWS would report 0.0.0.0/0 for an endpoint that is off.
                    public_access_cidrs=config.public_access_cidrs if config.endpoint_public_access else None,
                ),
                enabled_cluster_log_types=list(LOG_TYPES),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    resources=["secrets"],
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn),
                ),
                access_config=aws.eks.ClusterAccessConfigArgs(
                    # Access entries only (no aws-auth ConfigMap), and whoever runs
                    # `pulumi up` gets no hidden admin rights: admins are listed.
                    authentication_mode="API",
                    bootstrap_cluster_creator_admin_permissions=False,
                ),
                # STANDARD: when the version leaves standard support EKS upgrades
                # the cluster instead of billing extended support.
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
                # No unmanaged vpc-cni/kube-proxy/coredns: the managed add-ons below
                # are the only copies, installed in the order nodes need them.
                bootstrap_self_managed_addons=False,
                deletion_protection=config.protect,
                tags={"Name": self._eks_name},
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=config.protect,
                # Nothing in the cluster's inputs names these, yet it must wait:
                # EKS creates a missing /aws/eks/<name>/cluster group itself, with
                # no retention and no key, and ours then fails to create
                # (ResourceAlreadyExistsException); and the cluster role must carry
                # its policies when EKS first assumes it.
                depends_on=wait_for,
            ),
        )

    def _grant_admins(self, cluster: aws.eks.Cluster) -> list[aws.eks.AccessPolicyAssociation]:
        config = self._args.config
        # The previewers' entries are not returned: nothing this program creates waits for them.
        self._grant(cluster, "viewer", config.preview_principals, VIEW_POLICY)
        return self._grant(cluster, "admin", config.admin_principals, ADMIN_POLICY)

    def _grant(
        self, cluster: aws.eks.Cluster, role: str, principals: Sequence[str], policy: str
    ) -> list[aws.eks.AccessPolicyAssociation]:
        """An access entry per principal and the cluster-wide access policy ``policy``."""
        associations = []
        for principal, slug in _principal_slugs(principals).items():
            entry = aws.eks.AccessEntry(
                f"{self._name}-{role}-{slug}",
                aws.eks.AccessEntryArgs(cluster_name=cluster.name, principal_arn=principal, type="STANDARD"),
                opts=self._child,
            )
            associations.append(
                aws.eks.AccessPolicyAssociation(
                    f"{self._name}-{role}-{slug}",
                    aws.eks.AccessPolicyAssociationArgs(
                        cluster_name=cluster.name,
                        # From the entry: the association needs it to exist.
                        principal_arn=entry.principal_arn,
                        policy_arn=self._context.account.apply(lambda a: f"arn:{a.partition}:eks::aws:{policy}"),
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    ),
                    opts=self._child,
                )
            )
        return associations

    # --- add-ons -------------------------------------------------------------------------------

    def _create_early_addons(self, cluster: aws.eks.Cluster) -> list[pulumi.Resource]:
        """vpc-cni, kube-proxy and eks-pod-identity-agent, and what they need to run."""
        cni = self._pod_role("vpc-cni", *VPC_CNI_SERVICE_ACCOUNT, [], ["AmazonEKS_CNI_Policy"])
        cni_addon = self._addon(
            cluster,
            "vpc-cni",
            role=cni.role,
            configuration=VPC_CNI_CONFIGURATION,
            # aws-node crash-loops without its permissions, and the node stays NotReady.
            wait_for=cni.grants,
        )
        return [cni_addon, *(self._addon(cluster, addon) for addon in ADDONS_BEFORE_NODES if addon != "vpc-cni")]

    def _create_late_addons(self, cluster: aws.eks.Cluster, ebs: PodRole, node_groups: list[aws.eks.NodeGroup]) -> None:
        """coredns and aws-ebs-csi-driver: Deployments, created once nodes exist to run them."""
        # Nothing in an add-on's inputs names the node groups, yet EKS reports it
        # ACTIVE only when its pods run, and they cannot run before nodes exist:
        # created earlier, it stays DEGRADED and times out.
        self._addon(cluster, "coredns", wait_for=node_groups)
        self._addon(
            cluster,
            "aws-ebs-csi-driver",
            role=ebs.role,
            configuration=EBS_CSI_CONFIGURATION,
            wait_for=[*node_groups, *ebs.grants],
        )

    def _addon(
        self,
        cluster: aws.eks.Cluster,
        addon: str,
        *,
        role: aws.iam.Role | None = None,
        configuration: dict[str, Any] | None = None,
        wait_for: Sequence[pulumi.Resource] = (),
    ) -> aws.eks.Addon:
        config = self._args.config
        pinned = {str(k): v for k, v in config.addon_versions.items()}.get(addon)
        version: pulumi.Input[str] = (
            pinned
            if pinned is not None
            else aws.eks.get_addon_version_output(
                addon_name=addon,
                kubernetes_version=config.kubernetes_version,
                # EKS's default build for the version, not the newest: a new build
                # then does not roll into prod on the next `pulumi up` unasked.
                most_recent=False,
                opts=pulumi.InvokeOutputOptions(parent=self),
            ).version
        )
        return aws.eks.Addon(
            f"{self._name}-{addon}",
            aws.eks.AddonArgs(
                cluster_name=cluster.name,
                addon_name=addon,
                addon_version=version,
                service_account_role_arn=role.arn if role is not None else None,
                configuration_values=json.dumps(configuration) if configuration else None,
                # The add-ons' settings are this program's: overwrite manual edits.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                # Where the version comes from, for the policy pack (prod requires "pinned"): both are
                # plain strings by the time they reach it.
                tags={VERSION_SOURCE_TAG: "pinned" if pinned is not None else "eks-default"},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(wait_for)),
        )

    # --- Kubernetes ----------------------------------------------------------------------------

    def _kubeconfig(
        self, cluster: aws.eks.Cluster, admin_grants: list[aws.eks.AccessPolicyAssociation]
    ) -> pulumi.Output[str]:
        config = self._args.config
        region = self._context.region
        return pulumi.Output.all(
            cluster.name,
            cluster.endpoint,
            cluster.certificate_authority.apply(lambda ca: ca.data),
            # Waits for the admins' access: in-cluster objects made through this
            # kubeconfig fail with Unauthorized before the deployer is an admin.
            *[grant.id for grant in admin_grants],
        ).apply(
            lambda v: _kubeconfig_json(
                v[0], v[1], v[2], region=region, role_arn=config.kubeconfig_role_arn, profile=config.kubeconfig_profile
            )
        )

    def _create_storage_classes(self, key: aws.kms.Key) -> None:
        in_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)
        k8s.storage.v1.StorageClass(
            f"{self._name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="gp3", annotations={DEFAULT_CLASS_ANNOTATION: "true"}),
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": key.arn,
                "csi.storage.k8s.io/fstype": "ext4",
            },
            # The volume is created in the AZ of the node the pod is scheduled
            # to; bound at claim time it could land in an AZ with no room.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=in_cluster,
        )
        # EKS still creates gp2; clusters created before 1.30 mark it default. Two
        # defaults make the class of an unnamed claim depend on creation order, so
        # gp2 is marked "false" explicitly (a no-op on newer clusters). patchForce:
        # the annotation may belong to EKS's own field manager.
        k8s.storage.v1.StorageClassPatch(
            f"{self._name}-gp2-not-default",
            metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                name="gp2",
                annotations={DEFAULT_CLASS_ANNOTATION: "false", "pulumi.com/patchForce": "true"},
            ),
            opts=in_cluster,
        )


# --- plain helpers ---------------------------------------------------------------------------------


def _issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity] | None) -> str:
    for identity in identities or []:
        for oidc in identity.oidcs or []:
            if oidc.issuer:
                return oidc.issuer
    raise ValueError("the EKS cluster reports no OIDC issuer")


def _principal_slugs(principals: Sequence[str]) -> dict[str, str]:
    """Each distinct principal's part of its resource names.

    arn:aws:iam::123456789012:role/ops/platform-admins -> role-ops-platform-admins;
    principals whose role or user names read the same (in two accounts, or
    a/b and a-b) are told apart by their account id and ARN.
    """

    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")

    short = {p: slug(p.split(":", 5)[5]) for p in dict.fromkeys(principals)}
    counts = Counter(short.values())
    return {p: s if counts[s] == 1 else slug(p.split(":", 4)[4]) for p, s in short.items()}


def _service_trust(account: Account, service: str) -> list[Statement]:
    return [
        Statement(
            actions=["sts:AssumeRole"],
            principals=[Principal(type="Service", identifiers=[account.service_principal(service)])],
        )
    ]


def _key_statements(account: Account, region: str, log_group_name: str, cluster_role_name: str) -> list[Statement]:
    # The group's ARN is known before the group exists, so the key policy can
    # name it without a cycle (key -> group -> key).
    return [
        account_administers_key(account),
        logs_may_use_key(
            "CloudWatchLogsUseForControlPlaneLogs",
            account,
            region,
            [log_group_arn(account, region, log_group_name)],
        ),
        # Envelope encryption of secrets: the control plane uses the key as the cluster
        # role (the four actions terraform-aws-eks grants).
        Statement(
            sid="ClusterRoleEnvelopeEncryptsSecrets",
            principals=[Principal(type="AWS", identifiers=[account.role_arn(cluster_role_name)])],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
            resources=["*"],
        ),
    ]


def _volume_key_statements(account: Account, ebs_csi_role_name: str) -> list[Statement]:
    autoscaling = account.role_arn(f"aws-service-role/{AUTOSCALING_ROLE}")
    ebs_csi = account.role_arn(ebs_csi_role_name)
    return [
        account_administers_key(account),
        # Node groups launch through EC2 Auto Scaling, whose service-linked role
        # creates the encrypted root volumes: without these two statements
        # instances fail to launch (Client.InvalidKMSKey.InvalidState) while every
        # offline check passes. (EC2 Auto Scaling user guide, "Required AWS KMS
        # key policy for use with encrypted volumes".)
        Statement(
            sid="AutoScalingUsesKeyForNodeVolumes",
            principals=[Principal(type="AWS", identifiers=[autoscaling])],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resources=["*"],
        ),
        Statement(
            sid="AutoScalingAttachesNodeVolumes",
            principals=[Principal(type="AWS", identifiers=[autoscaling])],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions=[Condition(test="Bool", variable="kms:GrantIsForAWSResource", values=["true"])],
        ),
        # What the EBS CSI driver needs of a customer-managed key (EBS CSI driver
        # docs, "KMS key policy"): create grants for EBS only, and use the key.
        Statement(
            sid="GrantKeyToEbs",
            principals=[Principal(type="AWS", identifiers=[ebs_csi])],
            actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            resources=["*"],
            conditions=[Condition(test="Bool", variable="kms:GrantIsForAWSResource", values=["true"])],
        ),
        Statement(
            sid="EncryptVolumes",
            principals=[Principal(type="AWS", identifiers=[ebs_csi])],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resources=["*"],
        ),
    ]


def _kubeconfig_json(
    cluster_name: str, endpoint: str, ca_data: str, *, region: str, role_arn: str | None, profile: str | None
) -> str:
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if role_arn:
        args += ["--role-arn", role_arn]
    if profile:
        args += ["--profile", profile]
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": args,
        }
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [{"name": cluster_name, "user": user}],
        },
        indent=2,
    )
