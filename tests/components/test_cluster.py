"""Cluster: the component alone, asserted on the recorded inputs, with the prod and dev configs."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from pydantic import ValidationError

from components.cluster import Cluster, ClusterArgs
from components.config import ClusterConfig, ConfigError, load_settings
from components.irsa import pod_role
from components.policies import Statement
from tests.components.context import fixed_context
from tests.conftest import PROJECT_DIR
from tools.engine import EngineError, Resource, Run

EKS = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
K8S_PROVIDER = "pulumi:providers:kubernetes"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
STORAGE_CLASS_PATCH = "kubernetes:storage.k8s.io/v1:StorageClassPatch"
SUBNETS = ["subnet-priv-a", "subnet-priv-b", "subnet-priv-c"]
ACCOUNT = "123456789012"
REGION = "ca-central-1"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/platform-deployer-prod"
ADMINS = f"arn:aws:iam::{ACCOUNT}:role/platform-admins"
# The only provider configs under which a resource may be created: no default provider.
NO_DEFAULT = {"aws:region": REGION, "pulumi:disable-default-providers": '["aws", "kubernetes"]'}
TAGS = {"environment": "test", "project": "platform", "owner": "t", "cost-center": "c", "managed-by": "pulumi"}
API_CLIENTS = ["10.10.0.0/16"]  # Pulumi.prod.yaml's apiAccessCidrs
MINIMAL: dict[str, Any] = {
    "adminPrincipals": [DEPLOYER],
    "deployerPrincipal": DEPLOYER,
    "nodeGroups": [{"name": "general", "instanceTypes": ["m7g.large"], "minSize": 1, "maxSize": 3}],
}


def raw_cluster(stack: str) -> dict[str, Any]:
    doc = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(doc["config"]["platform:cluster"])


def stack_cluster(stack: str) -> ClusterConfig:
    """The cluster model of a committed stack file."""
    return ClusterConfig.model_validate(raw_cluster(stack))


def cluster_program(
    config: ClusterConfig,
    *,
    default_tags: bool = False,
    extra: Callable[[Cluster], None] | None = None,
) -> Callable[[], Cluster]:
    def program() -> Cluster:
        tags = aws.ProviderDefaultTagsArgs(tags=TAGS) if default_tags else None
        provider = aws.Provider("aws", region=REGION, default_tags=tags)
        cluster = Cluster(
            "cluster",
            ClusterArgs(
                config=config,
                context=fixed_context(region=REGION, tags=TAGS),
                vpc_id="vpc-0test",
                private_subnet_ids=SUBNETS,
            ),
            opts=pulumi.ResourceOptions(providers={"aws": provider}),
        )
        if extra is not None:
            extra(cluster)
        return cluster

    return program


def secrets_key(run: Run) -> Resource:
    """The key of the Kubernetes secrets and the control-plane logs."""
    return named(run, KEY, "cluster-key")


def volume_key(run: Run) -> Resource:
    """The key of the node and persistent volumes."""
    return named(run, KEY, "cluster-volume-key")


def one(run: Run, type_: str) -> Resource:
    (found,) = run.by_type(type_)
    return found


def named(run: Run, type_: str, name: str) -> Resource:
    (found,) = [r for r in run.by_type(type_) if r.name == name]
    return found


def document(resource: Resource, key: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(resource.inputs[key])["Statement"]
    return statements


@pytest.fixture
def prod(build: Callable[..., Run]) -> Run:
    return build(cluster_program(stack_cluster("prod")), config=NO_DEFAULT)


@pytest.fixture
def dev(build: Callable[..., Run]) -> Run:
    return build(cluster_program(stack_cluster("dev")), config=NO_DEFAULT)


@pytest.fixture(params=["dev", "prod"])
def either(request: pytest.FixtureRequest, build: Callable[..., Run]) -> Run:
    """A committed stack's cluster (run.stack says which)."""
    return build(cluster_program(stack_cluster(request.param)), stack=request.param, config=NO_DEFAULT)


# --- control plane ---------------------------------------------------------------------------------


def test_control_plane_is_private_audited_encrypted_and_authenticates_by_access_entries(either: Run) -> None:
    eks = one(either, EKS).inputs
    key_arn = secrets_key(either).outputs["arn"]
    control_plane_sg = named(either, SG, "cluster-control-plane-sg").outputs["id"]
    assert eks["name"] == "platform-test-eks" and eks["version"] == "1.35"
    vpc = eks["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    assert vpc["subnetIds"] == SUBNETS and vpc["securityGroupIds"] == [control_plane_sg]
    assert eks["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert eks["encryptionConfig"] == {"resources": ["secrets"], "provider": {"keyArn": key_arn}}
    assert eks["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert eks["upgradePolicy"] == {"supportType": "STANDARD"}
    # The managed add-ons are the only copies of vpc-cni, kube-proxy and coredns.
    assert eks["bootstrapSelfManagedAddons"] is False


def test_a_public_endpoint_when_enabled_is_open_only_to_the_listed_cidrs(build: Callable[..., Run]) -> None:
    config = ClusterConfig.model_validate(
        {**MINIMAL, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "198.51.100.7/32"]}
    )
    vpc = one(build(cluster_program(config), config=NO_DEFAULT), EKS).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]


def test_control_plane_logs_go_to_our_encrypted_group_which_the_cluster_waits_for(prod: Run) -> None:
    group = one(prod, LOG_GROUP)
    assert group.inputs["name"] == "/aws/eks/platform-test-eks/cluster"
    # Audit evidence: prod keeps a year (Pulumi.prod.yaml).
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == secrets_key(prod).outputs["arn"]
    # Nothing in the cluster's inputs names the group: only depends_on orders them.
    eks = one(prod, EKS)
    assert group.urn in eks.dependencies
    assert not any(group.urn in urns for urns in eks.property_dependencies.values())


def test_log_retention_comes_from_config(build: Callable[..., Run]) -> None:
    config = ClusterConfig.model_validate({**MINIMAL, "logRetentionDays": 365})
    assert one(build(cluster_program(config), config=NO_DEFAULT), LOG_GROUP).inputs["retentionInDays"] == 365


def test_the_secrets_key_lets_logs_and_the_cluster_role_use_it(prod: Run) -> None:
    key = secrets_key(prod)
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    statements = {s["Sid"]: s for s in document(key, "policy")}
    assert statements["AccountAdministersKey"]["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}
    logs = statements["CloudWatchLogsUseForControlPlaneLogs"]
    assert logs["Principal"] == {"Service": [f"logs.{REGION}.amazonaws.com"]}
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [one(prod, LOG_GROUP).outputs["arn"]]
    # Envelope encryption of secrets, granted in the key's policy to the cluster role (no identity
    # policy names the key, which a first preview cannot know).
    role = named(prod, ROLE, "cluster-cluster-role")
    envelope = statements["ClusterRoleEnvelopeEncryptsSecrets"]
    assert envelope["Principal"] == {"AWS": [role.outputs["arn"]]}
    assert set(envelope["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"}
    # KMS refuses a policy naming a role that does not exist: the key waits for it.
    assert role.urn in key.dependencies
    assert set(statements) == {"AccountAdministersKey", "CloudWatchLogsUseForControlPlaneLogs", envelope["Sid"]}


def test_the_volume_key_lets_auto_scaling_and_the_ebs_csi_driver_use_it(prod: Run) -> None:
    key = volume_key(prod)
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    statements = {s["Sid"]: s for s in document(key, "policy")}
    slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    use = statements["AutoScalingUsesKeyForNodeVolumes"]
    assert use["Principal"] == {"AWS": [slr]}
    assert set(use["Action"]) == {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    }
    grant = statements["AutoScalingAttachesNodeVolumes"]
    assert grant["Principal"] == {"AWS": [slr]} and grant["Action"] == ["kms:CreateGrant"]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": ["true"]}}
    assert all(s["Principal"] != "*" and "*" not in json.dumps(s["Principal"]) for s in statements.values())
    assert named(prod, ROLE, "cluster-ebs-csi-driver").urn in key.dependencies


def test_each_admin_principal_is_granted_cluster_admin_explicitly(prod: Run) -> None:
    entries = [e for e in prod.by_type(ENTRY) if "-admin-" in e.name]
    associations = [a for a in prod.by_type(ASSOCIATION) if "-admin-" in a.name]
    assert sorted(e.inputs["principalArn"] for e in entries) == sorted([DEPLOYER, ADMINS])
    assert all(e.inputs["type"] == "STANDARD" and e.inputs["clusterName"] == "platform-test-eks" for e in entries)
    assert sorted(a.inputs["principalArn"] for a in associations) == sorted([DEPLOYER, ADMINS])
    for association in associations:
        assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert association.inputs["accessScope"] == {"type": "cluster"}
        (entry,) = [e for e in entries if e.inputs["principalArn"] == association.inputs["principalArn"]]
        assert entry.urn in association.dependencies


def test_the_preview_principals_read_everything_and_change_nothing(prod: Run) -> None:
    previewers = [f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in ("platform-previewer", "platform-drift-checker")]
    assert raw_cluster("prod")["previewPrincipals"] == previewers
    entries = {e.inputs["principalArn"]: e for e in prod.by_type(ENTRY) if "-viewer-" in e.name}
    associations = {a.inputs["principalArn"]: a for a in prod.by_type(ASSOCIATION) if "-viewer-" in a.name}
    assert sorted(entries) == sorted(associations) == sorted(previewers)
    for principal, association in associations.items():
        assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy"
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert entries[principal].urn in association.dependencies


def test_a_previewer_cannot_also_be_an_admin() -> None:
    with pytest.raises(ValueError, match="is also in adminPrincipals"):
        ClusterConfig.model_validate({**MINIMAL, "previewPrincipals": [DEPLOYER]})


def test_admins_with_the_same_role_name_in_two_accounts_get_distinct_entries(build: Callable[..., Run]) -> None:
    other = "arn:aws:iam::210987654321:role/platform-admins"
    config = ClusterConfig.model_validate({**MINIMAL, "adminPrincipals": [DEPLOYER, ADMINS, other]})
    run = build(cluster_program(config), config=NO_DEFAULT)
    assert sorted(e.name for e in run.by_type(ENTRY)) == [
        "cluster-admin-123456789012-role-platform-admins",
        "cluster-admin-210987654321-role-platform-admins",
        "cluster-admin-role-platform-deployer-prod",
    ]


def test_a_principal_listed_twice_gets_one_access_entry(build: Callable[..., Run]) -> None:
    config = ClusterConfig.model_validate({**MINIMAL, "adminPrincipals": [DEPLOYER, DEPLOYER]})
    run = build(cluster_program(config), config=NO_DEFAULT)
    assert len(run.by_type(ENTRY)) == len(run.by_type(ASSOCIATION)) == 1


# --- IAM -------------------------------------------------------------------------------------------


def test_cluster_and_node_roles_carry_only_the_managed_policies_they_need(prod: Run) -> None:
    def attached(role_name: str) -> set[str]:
        role = named(prod, ROLE, role_name)
        return {a.inputs["policyArn"] for a in prod.by_type(ATTACHMENT) if a.inputs["role"] == role.outputs["name"]}

    assert attached("cluster-cluster-role") == {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}
    # No CNI policy on the node: aws-node has its own pod role.
    assert attached("cluster-node-role") == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    }
    assert attached("cluster-vpc-cni") == {"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}
    assert attached("cluster-ebs-csi-driver") == {"arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"}
    trust = document(named(prod, ROLE, "cluster-node-role"), "assumeRolePolicy")
    assert trust == [{"Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": {"Service": ["ec2.amazonaws.com"]}}]


def test_the_cluster_waits_for_its_role_policy_and_key(prod: Run) -> None:
    eks = one(prod, EKS)
    role = named(prod, ROLE, "cluster-cluster-role")
    (grant,) = [r for r in prod.by_type(ATTACHMENT) if r.inputs["role"] == role.outputs["name"]]
    assert grant.urn in eks.dependencies
    assert not [r for r in prod.by_type(ROLE_POLICY) if r.inputs["role"] == role.outputs["name"]]
    assert secrets_key(prod).urn in eks.dependencies


def test_oidc_provider_trusts_the_clusters_issuer_for_sts(prod: Run) -> None:
    oidc = one(prod, OIDC)
    issuer = one(prod, EKS).outputs["identities"][0]["oidcs"][0]["issuer"]
    assert oidc.inputs["url"] == issuer and oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    outputs = prod.named("cluster").outputs
    assert outputs["oidc_issuer"] == issuer and outputs["oidc_provider_arn"] == oidc.outputs["arn"]


def irsa_statement(run: Run, role: Resource) -> dict[str, Any]:
    (statement,) = document(role, "assumeRolePolicy")
    assert statement["Action"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Principal"] == {"Federated": [one(run, OIDC).outputs["arn"]]}
    return statement


def test_pod_role_trust_is_scoped_to_one_namespace_and_service_account(prod: Run) -> None:
    host = one(prod, EKS).outputs["identities"][0]["oidcs"][0]["issuer"].removeprefix("https://")
    for role_name, subject in [
        ("cluster-vpc-cni", "system:serviceaccount:kube-system:aws-node"),
        ("cluster-ebs-csi-driver", "system:serviceaccount:kube-system:ebs-csi-controller-sa"),
    ]:
        condition = irsa_statement(prod, named(prod, ROLE, role_name))["Condition"]
        assert condition == {"StringEquals": {f"{host}:sub": [subject], f"{host}:aud": ["sts.amazonaws.com"]}}


def test_ebs_csi_driver_may_use_the_volume_key_for_volumes_only_through_ebs(prod: Run) -> None:
    role = named(prod, ROLE, "cluster-ebs-csi-driver")
    statements = {s["Sid"]: s for s in document(volume_key(prod), "policy")}
    for sid in ("GrantKeyToEbs", "EncryptVolumes"):
        assert statements[sid]["Principal"] == {"AWS": [role.outputs["arn"]]}
        assert statements[sid]["Resource"] == ["*"]  # in a key policy: this key
    assert statements["GrantKeyToEbs"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": ["true"]}}
    # The actions the EBS CSI driver's documentation lists for a customer-managed key ("KMS key
    # policy"), no more: a wildcard here would let the pod administer the key that guards every volume.
    assert set(statements["GrantKeyToEbs"]["Action"]) == {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}
    assert set(statements["EncryptVolumes"]["Action"]) == {
        "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
    }  # fmt: skip
    # Its own role has only the AWS-managed driver policy: no identity policy names a key.
    assert not [p for p in prod.by_type(ROLE_POLICY) if p.inputs["role"] == role.outputs["name"]]
    addon = named(prod, ADDON, "cluster-aws-ebs-csi-driver")
    assert addon.inputs["serviceAccountRoleArn"] == role.outputs["arn"]


def test_pod_role_gives_a_service_account_a_role_scoped_to_exact_arns(build: Callable[..., Run]) -> None:
    bucket = "arn:aws:s3:::platform-test-backups"

    def extra(cluster: Cluster) -> None:
        # What another component calls with the cluster's OIDC facts.
        pod_role(
            "velero",
            purpose="velero",
            context=fixed_context(region=REGION),
            oidc=cluster.oidc,
            namespace="velero",
            service_account="velero-server",
            statements=[Statement(sid="Backups", actions=["s3:GetObject", "s3:PutObject"], resources=[f"{bucket}/*"])],
            parent=cluster,
        )
        pod_role(
            "loki",
            purpose="loki",
            context=fixed_context(region=REGION),
            oidc=cluster.oidc,
            namespace="logging",
            service_account="loki",
            statements=cluster.oidc_provider_arn.apply(
                lambda _: [Statement(actions=["s3:ListBucket"], resources=[bucket])]
            ),
            parent=cluster,
        )

    run = build(cluster_program(ClusterConfig.model_validate(MINIMAL), extra=extra), config=NO_DEFAULT)
    host = one(run, EKS).outputs["identities"][0]["oidcs"][0]["issuer"].removeprefix("https://")
    velero = named(run, ROLE, "velero")
    assert velero.inputs["name"] == "platform-test-velero-ca-central-1"
    assert velero.parent == run.named("cluster").urn
    conditions = irsa_statement(run, velero)["Condition"]["StringEquals"]
    assert conditions[f"{host}:sub"] == ["system:serviceaccount:velero:velero-server"]
    assert conditions[f"{host}:aud"] == ["sts.amazonaws.com"]
    (grant,) = document(named(run, ROLE_POLICY, "velero"), "policy")
    assert grant["Resource"] == [f"{bucket}/*"]
    assert named(run, ROLE_POLICY, "velero").inputs["role"] == velero.outputs["name"]
    loki = named(run, ROLE, "loki")
    assert irsa_statement(run, loki)["Condition"]["StringEquals"][f"{host}:sub"] == [
        "system:serviceaccount:logging:loki"
    ]
    assert document(named(run, ROLE_POLICY, "loki"), "policy")[0]["Resource"] == [bucket]


@pytest.mark.parametrize(
    ("namespace", "service_account", "prop"),
    [("Apps", "api", "namespace"), ("apps", "api_server", "service_account"), ("", "api", "namespace")],
)
def test_pod_role_refuses_names_kubernetes_would_not_accept_naming_the_property(
    build: Callable[..., Run], namespace: str, service_account: str, prop: str
) -> None:
    def extra(cluster: Cluster) -> None:
        pod_role(
            "bad",
            purpose="bad",
            context=fixed_context(region=REGION),
            oidc=cluster.oidc,
            namespace=namespace,
            service_account=service_account,
            parent=cluster,
        )

    with pytest.raises(EngineError, match=rf"pod_role\.{prop}: .* is not a Kubernetes name"):
        build(cluster_program(ClusterConfig.model_validate(MINIMAL), extra=extra), config=NO_DEFAULT)


def test_no_policy_the_component_writes_allows_a_wildcard_resource(either: Run) -> None:
    # Key use is granted in the keys' policies; the roles carry only AWS-managed policies, so no
    # inline identity policy exists to widen (and none names a key ARN a first preview cannot know).
    assert either.by_type(ROLE_POLICY) == []
    for role in either.by_type(ROLE):
        assert all("Resource" not in s for s in document(role, "assumeRolePolicy"))
    # In a key policy "*" means the key itself; its principals are all named.
    for key in either.by_type(KEY):
        for statement in document(key, "policy"):
            assert statement["Resource"] == ["*"]


# --- node groups -----------------------------------------------------------------------------------


def groups(run: Run) -> dict[str, Resource]:
    return {g.name.removeprefix("cluster-"): g for g in run.by_type(NODE_GROUP)}


def test_dev_has_one_general_spot_group_on_small_graviton_instances(dev: Run) -> None:
    (general,) = groups(dev).values()
    inputs = general.inputs
    assert inputs["nodeGroupNamePrefix"] == "general-"
    assert inputs["capacityType"] == "SPOT" and inputs["amiType"] == "AL2023_ARM_64_STANDARD"
    assert inputs["instanceTypes"] == ["t4g.large", "t4g.medium"]
    assert inputs["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 2}
    assert inputs["labels"] == {"node-group": "general"}
    assert "taints" not in inputs


def test_prod_has_a_general_group_and_a_tainted_compute_group(prod: Run) -> None:
    by_name = groups(prod)
    assert set(by_name) == {"general", "compute"}
    general, compute = by_name["general"].inputs, by_name["compute"].inputs
    assert general["scalingConfig"] == {"minSize": 3, "maxSize": 10, "desiredSize": 3}
    assert general["capacityType"] == "ON_DEMAND" and general["instanceTypes"] == ["m7g.large"]
    assert "taints" not in general
    assert compute["scalingConfig"] == {"minSize": 0, "maxSize": 5, "desiredSize": 0}
    assert compute["instanceTypes"] == ["c7g.2xlarge"]
    assert compute["taints"] == [{"key": "workload", "value": "compute", "effect": "NO_SCHEDULE"}]
    assert compute["labels"] == {"node-group": "compute", "workload": "compute"}


def test_every_group_rolls_a_third_at_a_time_in_private_subnets_and_keeps_the_autoscalers_size(either: Run) -> None:
    node_role_arn = named(either, ROLE, "cluster-node-role").outputs["arn"]
    for group in either.by_type(NODE_GROUP):
        inputs = group.inputs
        assert inputs["subnetIds"] == SUBNETS
        assert inputs["updateConfig"] == {"maxUnavailablePercentage": 33}
        assert inputs["nodeRoleArn"] == node_role_arn
        assert inputs["version"] == "1.35"
        assert group.ignore_changes == ["scalingConfig.desiredSize"]
        # The launch template decides the disk and there is no way in by SSH.
        assert "remoteAccess" not in inputs and "diskSize" not in inputs


def test_every_launch_template_requires_imdsv2_with_one_hop_and_encrypts_the_root_volume(either: Run) -> None:
    key_arn = volume_key(either).outputs["arn"]
    node_sg = named(either, SG, "cluster-node-sg").outputs["id"]
    templates = {t.outputs["id"]: t for t in either.by_type(TEMPLATE)}
    assert len(templates) == len(either.by_type(NODE_GROUP))
    for group in either.by_type(NODE_GROUP):
        launch = group.inputs["launchTemplate"]
        template = templates[launch["id"]]
        assert launch["version"] == str(template.outputs["latestVersion"])
        inputs = template.inputs
        assert inputs["metadataOptions"]["httpTokens"] == "required"
        assert inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert inputs["metadataOptions"]["httpEndpoint"] == "enabled"
        (root,) = inputs["blockDeviceMappings"]
        assert root["deviceName"] == "/dev/xvda"
        size = {"dev": 50, "prod": 100}[either.stack]
        assert root["ebs"] == {
            "volumeType": "gp3",
            "volumeSize": size,
            "encrypted": "true",
            "kmsKeyId": key_arn,
            "deleteOnTermination": "true",
        }
        assert "keyName" not in inputs and "imageId" not in inputs and "userData" not in inputs
        assert inputs["vpcSecurityGroupIds"] == [node_sg]


def test_bottlerocket_encrypts_its_os_and_data_volumes_and_sizes_the_data_volume(build: Callable[..., Run]) -> None:
    config = ClusterConfig.model_validate(
        {
            **MINIMAL,
            "nodeGroups": [
                {
                    "name": "br",
                    "amiType": "BOTTLEROCKET_x86_64",
                    "instanceTypes": ["m7i.large"],
                    "minSize": 1,
                    "maxSize": 2,
                    "diskSizeGib": 80,
                }
            ],
        }
    )
    run = build(cluster_program(config), config=NO_DEFAULT)
    volumes = {m["deviceName"]: m["ebs"] for m in one(run, TEMPLATE).inputs["blockDeviceMappings"]}
    assert set(volumes) == {"/dev/xvda", "/dev/xvdb"}
    assert all(v["encrypted"] == "true" and v["kmsKeyId"] == volume_key(run).outputs["arn"] for v in volumes.values())
    assert "volumeSize" not in volumes["/dev/xvda"] and volumes["/dev/xvdb"]["volumeSize"] == 80
    assert one(run, NODE_GROUP).inputs["amiType"] == "BOTTLEROCKET_x86_64"


def test_desired_size_defaults_to_the_minimum(build: Callable[..., Run]) -> None:
    run = build(cluster_program(ClusterConfig.model_validate(MINIMAL)), config=NO_DEFAULT)
    assert one(run, NODE_GROUP).inputs["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}
    assert one(run, NODE_GROUP).inputs["capacityType"] == "ON_DEMAND"


# --- add-ons ---------------------------------------------------------------------------------------


def test_network_add_ons_come_before_the_node_groups_and_coredns_after(either: Run) -> None:
    addons = {a.inputs["addonName"]: a for a in either.by_type(ADDON)}
    assert set(addons) == {"vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"}
    node_groups = either.by_type(NODE_GROUP)
    for group in node_groups:
        for early in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert addons[early].urn in group.dependencies, (group.name, early)
    for late in ("coredns", "aws-ebs-csi-driver"):
        assert {g.urn for g in node_groups} <= set(addons[late].dependencies), late
    for early in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert not {g.urn for g in node_groups} & set(addons[early].dependencies), early
    # The nodes also wait for the node role's policies.
    node_role = named(either, ROLE, "cluster-node-role").outputs["name"]
    grants = [a.urn for a in either.by_type(ATTACHMENT) if a.inputs["role"] == node_role]
    assert all(set(grants) <= set(g.dependencies) for g in node_groups)


def test_vpc_cni_runs_with_its_own_role_once_it_has_its_policy_and_enforces_network_policies(prod: Run) -> None:
    cni = named(prod, ADDON, "cluster-vpc-cni")
    assert cni.inputs["serviceAccountRoleArn"] == named(prod, ROLE, "cluster-vpc-cni").outputs["arn"]
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    (grant,) = [a for a in prod.by_type(ATTACHMENT) if a.name == "cluster-vpc-cni-amazon-eks-cni-policy"]
    assert grant.urn in cni.dependencies


def test_the_ebs_csi_node_plugin_runs_on_the_host_network_where_the_hop_limit_lets_it_read_metadata(
    either: Run,
) -> None:
    """Nodes answer IMDSv2 with a hop limit of 1: a pod-network EBS CSI node plugin falls back to
    Kubernetes metadata and can report a wrong volume-attach limit on Nitro instances."""
    ebs = named(either, ADDON, "cluster-aws-ebs-csi-driver")
    assert json.loads(ebs.inputs["configurationValues"]) == {"node": {"hostNetwork": True}}
    for template in either.by_type(TEMPLATE):
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1


def test_prod_pins_every_add_on_in_its_stack_file_and_reads_no_default_build(build: Callable[..., Run]) -> None:
    """A default build re-read on every run rolls prod's add-ons when AWS moves it."""
    pinned = raw_cluster("prod")["addonVersions"]
    run = build(cluster_program(stack_cluster("prod")), config=NO_DEFAULT)
    assert {a.inputs["addonName"]: a.inputs["addonVersion"] for a in run.by_type(ADDON)} == pinned
    assert not [args for token, args in run.invokes if token == "aws:eks/getAddonVersion:getAddonVersion"]


def test_add_on_versions_are_pinned_in_config_or_resolved_for_the_cluster_version(build: Callable[..., Run]) -> None:
    config = ClusterConfig.model_validate({**MINIMAL, "addonVersions": {"coredns": "v1.12.1-eksbuild.2"}})
    run = build(cluster_program(config), config=NO_DEFAULT)
    versions = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in run.by_type(ADDON)}
    assert versions.pop("coredns") == "v1.12.1-eksbuild.2"
    assert len(versions) == 4
    # The four unpinned ones are asked of EKS for the cluster's version, as its default build
    # (not the newest: a new build must not roll into prod unasked), and used as answered.
    asked = [args for token, args in run.invokes if token == "aws:eks/getAddonVersion:getAddonVersion"]
    assert sorted(a["addonName"] for a in asked) == sorted(versions)
    assert all(a["kubernetesVersion"] == "1.35" and a["mostRecent"] is False for a in asked)
    assert set(versions.values()) == {"v1.35.0-eksbuild.1"}
    for addon in run.by_type(ADDON):
        assert addon.inputs["resolveConflictsOnCreate"] == addon.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
        assert addon.inputs["clusterName"] == "platform-test-eks"


# --- security groups -------------------------------------------------------------------------------


def test_security_groups_admit_each_other_and_the_api_clients_only(prod: Run) -> None:
    nodes = named(prod, SG, "cluster-node-sg").outputs["id"]
    control_plane = named(prod, SG, "cluster-control-plane-sg").outputs["id"]
    all_rules = prod.by_type(INGRESS)
    # The one kind of CIDR rule: the configured API clients, on 443 of the control plane.
    by_cidr = [r.inputs for r in all_rules if "cidrIpv4" in r.inputs or "cidrIpv6" in r.inputs]
    assert [(r["securityGroupId"], r["cidrIpv4"], r["fromPort"], r["toPort"]) for r in by_cidr] == [
        (control_plane, cidr, 443, 443) for cidr in API_CLIENTS
    ]
    rules = [r for r in all_rules if "referencedSecurityGroupId" in r.inputs]
    into_nodes = [r.inputs for r in rules if r.inputs["securityGroupId"] == nodes]
    (node_to_node,) = [r for r in into_nodes if r["referencedSecurityGroupId"] == nodes]
    assert node_to_node["ipProtocol"] == "-1"
    from_control_plane = [r for r in into_nodes if r["referencedSecurityGroupId"] == control_plane]
    # kubelet, the API server's webhook calls (443, 8443, 9443, 4443) and metrics-server/aggregated APIs (6443).
    assert sorted((r["fromPort"], r["toPort"]) for r in from_control_plane) == [
        (p, p) for p in (443, 4443, 6443, 8443, 9443, 10250)
    ]
    assert all(r["ipProtocol"] == "tcp" for r in from_control_plane)
    (into_control_plane,) = [r.inputs for r in rules if r.inputs["securityGroupId"] == control_plane]
    assert (into_control_plane["referencedSecurityGroupId"], into_control_plane["fromPort"]) == (nodes, 443)
    assert into_control_plane["toPort"] == 443
    egress = {r.inputs["securityGroupId"]: r.inputs for r in prod.by_type(EGRESS)}
    assert egress[nodes]["cidrIpv4"] == "0.0.0.0/0"
    assert egress[control_plane]["referencedSecurityGroupId"] == nodes


def test_node_security_group_is_the_output_the_data_tier_admits(prod: Run) -> None:
    group = named(prod, SG, "cluster-node-sg")
    assert prod.named("cluster").outputs["node_security_group_id"] == group.outputs["id"]
    assert group.inputs["tags"]["kubernetes.io/cluster/platform-test-eks"] == "owned"


# --- Kubernetes ------------------------------------------------------------------------------------


def test_kubernetes_provider_uses_a_secret_exec_kubeconfig_once_the_admins_are_in(prod: Run) -> None:
    provider = one(prod, K8S_PROVIDER)
    eks = one(prod, EKS).outputs
    assert "/kubeconfig" in provider.secret_inputs
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    (cluster,) = kubeconfig["clusters"]
    assert cluster["cluster"] == {
        "server": eks["endpoint"],
        "certificate-authority-data": eks["certificateAuthority"]["data"],
    }
    (user,) = kubeconfig["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws" and exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["args"][:6] == ["eks", "get-token", "--cluster-name", "platform-test-eks", "--region", REGION]
    assert "--role-arn" not in exec_["args"] and "--profile" not in exec_["args"]
    # The admins' associations (the deployer's among them); the previewers' are nobody's prerequisite.
    admins = {a.urn for a in prod.by_type(ASSOCIATION) if "-admin-" in a.name}
    assert admins and admins <= set(provider.dependencies)
    assert not {a.urn for a in prod.by_type(ASSOCIATION) if "-viewer-" in a.name} & set(provider.dependencies)
    component = prod.named("cluster")
    assert "/kubeconfig" in component.secret_outputs
    assert json.loads(component.outputs["kubeconfig"]) == kubeconfig


def test_kubeconfig_assumes_the_configured_role_or_profile(build: Callable[..., Run]) -> None:
    role = ADMINS
    config = ClusterConfig.model_validate(
        {**MINIMAL, "adminPrincipals": [DEPLOYER, ADMINS], "kubeconfigRoleArn": role, "kubeconfigProfile": "ci"}
    )
    run = build(cluster_program(config), config=NO_DEFAULT)
    (user,) = json.loads(one(run, K8S_PROVIDER).inputs["kubeconfig"])["users"]
    args = user["user"]["exec"]["args"]
    assert args[args.index("--role-arn") + 1] == role
    assert args[args.index("--profile") + 1] == "ci"


def test_gp3_replaces_gp2_as_the_encrypted_default_storage_class(either: Run) -> None:
    provider = one(either, K8S_PROVIDER).urn
    gp3 = one(either, STORAGE_CLASS)
    assert gp3.provider == provider
    assert gp3.inputs["metadata"] == {
        "name": "gp3",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    }
    assert gp3.inputs["provisioner"] == "ebs.csi.aws.com"
    assert gp3.inputs["parameters"]["type"] == "gp3"
    assert gp3.inputs["parameters"]["encrypted"] == "true"
    assert gp3.inputs["parameters"]["kmsKeyId"] == volume_key(either).outputs["arn"]
    assert gp3.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    gp2 = one(either, STORAGE_CLASS_PATCH)
    assert gp2.provider == provider
    assert gp2.inputs["metadata"]["name"] == "gp2"
    assert gp2.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "false"
    kubernetes = [r for r in either.resources if r.type.startswith("kubernetes:")]
    assert {r.type for r in kubernetes} == {STORAGE_CLASS, STORAGE_CLASS_PATCH}


# --- the component -------------------------------------------------------------------------------


def test_outputs_are_the_ones_other_components_need(prod: Run) -> None:
    component = prod.named("cluster")
    assert component.type == "platform:cluster:Cluster"
    assert set(component.outputs) == {
        "cluster_name",
        "endpoint",
        "oidc_provider_arn",
        "oidc_issuer",
        "node_security_group_id",
        "node_role_arn",
        "kubeconfig",
    }
    eks = one(prod, EKS).outputs
    assert component.outputs["cluster_name"] == eks["name"]
    assert component.outputs["endpoint"] == eks["endpoint"]
    assert component.outputs["node_role_arn"] == named(prod, ROLE, "cluster-node-role").outputs["arn"]


def test_children_are_named_after_the_component_and_parented_to_it(prod: Run) -> None:
    component = prod.named("cluster")
    node_groups = {r.urn for r in prod.by_type("platform:cluster:NodeGroup")}
    assert node_groups
    assert all(r.parent == component.urn for r in prod.by_type("platform:cluster:NodeGroup"))
    children = [r for r in prod.resources if r.custom and r.type != "pulumi:providers:aws"]
    assert children
    for child in children:
        # Node groups and their launch templates are children of their NodeGroup component.
        parents = node_groups if child.type in (NODE_GROUP, TEMPLATE) else {component.urn}
        assert child.parent in parents and child.name.startswith("cluster-"), child.urn
    aws_children = [c for c in children if c.type.startswith("aws:")]
    (aws_provider,) = prod.by_type("pulumi:providers:aws")
    assert all(c.provider == aws_provider.urn for c in aws_children)


def test_only_the_cluster_and_its_keys_are_protected_and_nothing_waits_without_a_reason(prod: Run) -> None:
    assert sorted(r.type for r in prod.resources if r.protect) == sorted([EKS, KEY, KEY])
    assert one(prod, EKS).inputs["deletionProtection"] is True
    # Ordering that the inputs cannot express, and nothing else, is depends_on.
    for resource in prod.resources:
        from_inputs = {u for urns in resource.property_dependencies.values() for u in urns}
        extra = set(resource.dependencies) - from_inputs
        if extra:
            # The keys wait for the roles their policies name by ARN (KMS refuses unknown principals).
            assert resource.type in {EKS, NODE_GROUP, ADDON, KEY}, resource.urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_first_preview_runs_with_the_endpoint_unknown(build: Callable[..., Run], stack: str) -> None:
    run = build(cluster_program(stack_cluster(stack)), mode="preview", config=NO_DEFAULT)
    outputs = run.named("cluster").outputs
    assert outputs["endpoint"] == "[unknown]" and outputs["kubeconfig"] == "[unknown]"
    assert one(run, K8S_PROVIDER).inputs["kubeconfig"] == "[unknown]"
    assert len(run.by_type(NODE_GROUP)) == {"dev": 1, "prod": 2}[stack]
    assert one(run, STORAGE_CLASS).inputs["parameters"]["kmsKeyId"] == "[unknown]"


# --- bad config ------------------------------------------------------------------------------------


def _with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(MINIMAL)
    change(raw)
    return raw


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        (_with(lambda c: c.update(endpointPublicAccess=True)), "", "endpointPublicAccess needs publicAccessCidrs"),
        (
            _with(lambda c: c.update(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"])),
            "",
            "publicAccessCidrs must not contain 0.0.0.0/0",
        ),
        (
            _with(lambda c: c["nodeGroups"][0].update(minSize=4)),
            "nodeGroups.0",
            "minSize (4) must not exceed maxSize (3)",
        ),
        (_with(lambda c: c["nodeGroups"][0].update(capacityType="RESERVED")), "nodeGroups.0.capacityType", "SPOT"),
        (
            _with(lambda c: c["nodeGroups"][0].update(taints=[{"key": "a", "effect": "NoSchedule"}])),
            "nodeGroups.0.taints.0.effect",
            "NO_SCHEDULE",
        ),
        (_with(lambda c: c.update(kubernetesVersion="1.29")), "kubernetesVersion", "EKS standard support"),
        (_with(lambda c: c.update(deployerPrincipal=ADMINS)), "", "is not among adminPrincipals"),
    ],
)
def test_bad_cluster_config_is_refused_naming_the_key(raw: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ClusterConfig.model_validate(raw)
    (error,) = caught.value.errors()
    assert ".".join(str(p) for p in error["loc"]) == key
    assert message in error["msg"]


def test_a_rule_across_keys_is_reported_under_the_cluster_key_with_its_names() -> None:
    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    raw = doc["config"]
    raw["platform:cluster"]["endpointPublicAccess"] = True
    with pytest.raises(ConfigError) as caught:
        load_settings(raw, [], "platform", "prod")
    (problem,) = caught.value.problems
    assert problem.key == "platform:cluster" and "publicAccessCidrs" in problem.message


# --- the policy pack -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", ["preview", "update"])
def test_the_component_alone_passes_its_stacks_policy_pack(build: Callable[..., Run], stack: str, mode: str) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    run = build(cluster_program(stack_cluster(stack), default_tags=True), mode=mode, stack=stack, config=NO_DEFAULT)
    result = evaluate(_client(), run, load_policy_config(stack))
    # Nothing exempted: every rule that applies to the cluster passes on its own...
    assert result.mandatory == []
    # ...but dev follows EKS's default add-on builds, which prod may not: visible, as advice.
    expected = {"aws-eks-addon-enforce-pinned-version"} if stack == "dev" else set()
    assert {v["policy"] for v in result.violations} == expected


def test_a_public_endpoint_fails_the_prod_pack_unless_its_cidrs_are_allowed(build: Callable[..., Run]) -> None:
    from tests.policy.harness import _client
    from tools.policy_gate import evaluate, load_policy_config

    prod = raw_cluster("prod")
    config = ClusterConfig.model_validate(
        {
            **MINIMAL,
            # What prod requires besides: audit logs a year, add-ons pinned.
            "logRetentionDays": prod["logRetentionDays"],
            "addonVersions": prod["addonVersions"],
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
        }
    )
    run = build(cluster_program(config, default_tags=True), stack="prod", config=NO_DEFAULT)
    result = evaluate(_client(), run, load_policy_config("prod"))
    assert {v["policy"] for v in result.mandatory} == {"aws-eks-cluster-disallow-public-endpoint"}


def test_dev_turns_protection_off(build: Callable[..., Run]) -> None:
    run = build(cluster_program(stack_cluster("dev")), config=NO_DEFAULT)
    assert not any(r.protect for r in run.resources)
    assert one(run, EKS).inputs["deletionProtection"] is False


def test_a_kubeconfig_role_that_is_not_an_admin_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"kubeconfigRoleArn .* is not among adminPrincipals"):
        ClusterConfig.model_validate({**MINIMAL, "kubeconfigRoleArn": f"arn:aws:iam::{ACCOUNT}:role/platform-kube"})


def test_node_groups_that_leave_coredns_nowhere_to_run_are_refused() -> None:
    from pydantic import ValidationError

    tainted = {**MINIMAL["nodeGroups"][0], "taints": [{"key": "workload", "value": "compute", "effect": "NO_SCHEDULE"}]}
    with pytest.raises(ValidationError, match="CoreDNS"):
        ClusterConfig.model_validate({**MINIMAL, "nodeGroups": [tainted]})
    with pytest.raises(ValidationError, match="CoreDNS"):
        ClusterConfig.model_validate({**MINIMAL, "nodeGroups": [{**MINIMAL["nodeGroups"][0], "minSize": 0}]})


def test_nodes_launch_with_the_stack_tags(prod: Run) -> None:
    for template in prod.by_type("aws:ec2/launchTemplate:LaunchTemplate"):
        for spec in template.inputs["tagSpecifications"]:
            assert {k: spec["tags"][k] for k in TAGS} == TAGS, spec
