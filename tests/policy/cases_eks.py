"""Fixtures for the EKS guardrails: a cluster, a managed node group and its launch template,
as an EKS component on the Network's private subnets would send them."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:ca-central-1:{ACCOUNT}:key/5b0c2f7e-8d1a-4c3e-9f2b-1a2b3c4d5e6f"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]
ALL_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

EKS_CLUSTER = {
    "name": "platform-prod",
    "roleArn": f"arn:aws:iam::{ACCOUNT}:role/platform-prod-eks-cluster",
    "version": "1.35",
    "vpcConfig": {
        "subnetIds": SUBNETS,
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "securityGroupIds": ["sg-0c1u5t3r000000001"],
    },
    "enabledClusterLogTypes": ALL_LOG_TYPES,
    "encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": ["secrets"]},
    "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    "upgradePolicy": {"supportType": "STANDARD"},
    "tags": {"Name": "platform-prod"},
}
PUBLIC_RESTRICTED = {
    **EKS_CLUSTER,
    "vpcConfig": {
        **EKS_CLUSTER["vpcConfig"],
        "endpointPublicAccess": True,
        "publicAccessCidrs": ["203.0.113.0/24", "198.51.100.17/32"],
    },
}
# The office and CI egress blocks the stack's policy config allows.
ALLOWED_CIDRS = {"allowedPublicCidrs": ["203.0.113.0/24", "198.51.100.0/24"]}

_ROOT_VOLUME = {
    "deviceName": "/dev/xvda",
    "ebs": {
        "volumeSize": 50,
        "volumeType": "gp3",
        "encrypted": "true",
        "kmsKeyId": KEY_ARN,
        "deleteOnTermination": "true",
    },
}
NODE_LAUNCH_TEMPLATE = {
    "namePrefix": "platform-prod-nodes-",
    "description": "Nodes of platform-prod: IMDSv2 only, encrypted gp3 root volume",
    "metadataOptions": {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    },
    "blockDeviceMappings": [_ROOT_VOLUME],
    "vpcSecurityGroupIds": ["sg-0n0d3s0000000001"],
    "updateDefaultVersion": True,
    "tagSpecifications": [{"resourceType": "instance", "tags": {"Name": "platform-prod-node"}}],
}
_DATA_VOLUME = {"deviceName": "/dev/xvdb", "ebs": {"volumeSize": 100, "volumeType": "gp3", "encrypted": "false"}}

ADDON = "aws:eks/addon:Addon"
ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ADMINS = {
    "adminPrincipals": [
        f"arn:aws:iam::{ACCOUNT}:role/platform-deployer",
        f"arn:aws:iam::{ACCOUNT}:role/platform-admins",
    ]
}
_ADMIN_ASSOCIATION = {
    "clusterName": "platform-prod",
    "principalArn": f"arn:aws:iam::{ACCOUNT}:role/platform-admins",
    "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
    "accessScope": {"type": "cluster"},
}
_VPC_CNI = {
    "clusterName": "platform-prod",
    "addonName": "vpc-cni",
    "addonVersion": "v1.20.4-eksbuild.2",
    "configurationValues": '{"enableNetworkPolicy": "true"}',
    "resolveConflictsOnCreate": "OVERWRITE",
    "resolveConflictsOnUpdate": "OVERWRITE",
    "tags": {"version-source": "pinned"},
}

MANAGED_NODE_GROUP = {
    "clusterName": "platform-prod",
    "nodeGroupNamePrefix": "platform-prod-general-",
    "nodeRoleArn": f"arn:aws:iam::{ACCOUNT}:role/platform-prod-nodes",
    "subnetIds": SUBNETS,
    "scalingConfig": {"desiredSize": 3, "minSize": 3, "maxSize": 6},
    "updateConfig": {"maxUnavailable": 1},
    "launchTemplate": {"id": "lt-0123456789abcdef0", "version": "1"},
    "amiType": "AL2023_x86_64_STANDARD",
    "capacityType": "ON_DEMAND",
    "instanceTypes": ["m6i.large"],
    "labels": {"pool": "general"},
}

NAMED_NODE_GROUP = {k: v for k, v in MANAGED_NODE_GROUP.items() if k != "nodeGroupNamePrefix"}

CASES = [
    Case(
        policy="aws-eks-cluster-disallow-public-endpoint",
        type=CLUSTER,
        compliant=EKS_CLUSTER,
        violating={
            "public-without-cidrs": {"vpcConfig.endpointPublicAccess": True},
            "public-by-default": {"vpcConfig.endpointPublicAccess": DELETE},
            # With the default config (no allowed CIDRs) any public endpoint violates.
            "public-to-an-office": {
                "vpcConfig.endpointPublicAccess": True,
                "vpcConfig.publicAccessCidrs": ["203.0.113.0/24"],
            },
        },
        expect={
            "public-without-cidrs": "open to 0.0.0.0/0 (no publicAccessCidrs)",
            "public-by-default": "open to 0.0.0.0/0 (no publicAccessCidrs)",
            "public-to-an-office": "open to 203.0.113.0/24 (not inside allowedPublicCidrs)",
        },
        unknown=["vpcConfig.endpointPublicAccess"],
    ),
    Case(
        policy="aws-eks-cluster-disallow-public-endpoint",
        type=CLUSTER,
        compliant=PUBLIC_RESTRICTED,
        config=ALLOWED_CIDRS,
        violating={
            "world-cidr": {"vpcConfig.publicAccessCidrs": ["203.0.113.0/24", "0.0.0.0/0"]},
            "cidrs-removed": {"vpcConfig.publicAccessCidrs": DELETE},
            "outside-the-allowed": {"vpcConfig.publicAccessCidrs.1": "192.0.2.10/32"},
            "wider-than-allowed": {"vpcConfig.publicAccessCidrs.0": "203.0.112.0/23"},
            "world-in-halves": {"vpcConfig.publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]},
            "ipv6-world": {"vpcConfig.publicAccessCidrs.1": "::/0"},
            "not-a-cidr": {"vpcConfig.publicAccessCidrs.1": "office"},
        },
        expect={
            "world-cidr": "the public API endpoint is open to 0.0.0.0/0 (the whole internet)",
            "cidrs-removed": "open to 0.0.0.0/0 (no publicAccessCidrs)",
            "outside-the-allowed": "open to 192.0.2.10/32 (not inside allowedPublicCidrs)",
            "wider-than-allowed": "203.0.112.0/23 (not inside allowedPublicCidrs)",
            "world-in-halves": "0.0.0.0/1 (wider than /8), 128.0.0.0/1 (wider than /8)",
            "ipv6-world": "::/0 (the whole internet)",
            "not-a-cidr": "office (not a valid CIDR)",
        },
        unknown=["vpcConfig.publicAccessCidrs"],
    ),
    Case(
        # Even a config that allows the whole internet allows neither 0.0.0.0/0 nor its halves it does not list.
        policy="aws-eks-cluster-disallow-public-endpoint",
        type=CLUSTER,
        compliant={
            **PUBLIC_RESTRICTED,
            "vpcConfig": {**PUBLIC_RESTRICTED["vpcConfig"], "publicAccessCidrs": ["0.0.0.0/1"]},
        },
        config={"allowedPublicCidrs": ["0.0.0.0/0", "0.0.0.0/1"]},
        violating={
            "whole-internet": {"vpcConfig.publicAccessCidrs.0": "0.0.0.0/0"},
            "other-half": {"vpcConfig.publicAccessCidrs.0": "128.0.0.0/1"},
        },
        expect={"whole-internet": "0.0.0.0/0 (the whole internet)", "other-half": "128.0.0.0/1 (wider than /8)"},
    ),
    Case(
        policy="aws-eks-cluster-missing-control-plane-logs",
        type=CLUSTER,
        compliant=EKS_CLUSTER,
        violating={
            "no-audit": {"enabledClusterLogTypes": ["api", "authenticator", "controllerManager", "scheduler"]},
            "no-logs": {"enabledClusterLogTypes": DELETE},
        },
        expect={"no-audit": "not enabled: audit", "no-logs": "api, audit, authenticator, controllerManager, scheduler"},
        unknown=["enabledClusterLogTypes"],
    ),
    Case(
        policy="aws-eks-cluster-missing-secrets-encryption",
        type=CLUSTER,
        compliant=EKS_CLUSTER,
        violating={
            "no-encryption": {"encryptionConfig": DELETE},
            "not-secrets": {"encryptionConfig.resources": []},
            "no-key": {"encryptionConfig.provider.keyArn": ""},
        },
        expect={"no-encryption": "no encryptionConfig", "not-secrets": '"secrets"', "no-key": "no provider.keyArn"},
        unknown=["encryptionConfig"],
    ),
    Case(
        policy="aws-eks-cluster-disallow-unsupported-version",
        type=CLUSTER,
        compliant=EKS_CLUSTER,
        violating={"extended-support": {"version": "1.30"}, "unpinned": {"version": DELETE}},
        expect={
            "extended-support": "Kubernetes 1.30 is not a supported version (1.34, 1.35, 1.36)",
            "unpinned": "no version",
        },
        unknown=["version"],
    ),
    Case(
        policy="aws-eks-cluster-disallow-unsupported-version",
        type=CLUSTER,
        compliant={**EKS_CLUSTER, "version": "1.37"},
        config={"supportedVersions": ["1.35", "1.36", "1.37"]},
        violating={"dropped-from-config": {"version": "1.34"}},
        expect={"dropped-from-config": "(1.35, 1.36, 1.37)"},
    ),
    Case(
        policy="aws-ec2-launchtemplate-enforce-imdsv2",
        type=LAUNCH_TEMPLATE,
        compliant=NODE_LAUNCH_TEMPLATE,
        violating={
            "optional": {"metadataOptions.httpTokens": "optional"},
            "tokens-unset": {"metadataOptions.httpTokens": DELETE},
            "no-metadata-options": {"metadataOptions": DELETE},
        },
        expect={
            "optional": "httpTokens is optional",
            "tokens-unset": "not set",
            "no-metadata-options": "httpTokens is not set (optional): IMDSv1 is allowed",
        },
        unknown=["metadataOptions"],
    ),
    Case(
        policy="aws-ec2-launchtemplate-enforce-imdsv2",
        type=LAUNCH_TEMPLATE,
        compliant={**NODE_LAUNCH_TEMPLATE, "metadataOptions": {"httpEndpoint": "disabled"}},
        violating={"endpoint-enabled": {"metadataOptions.httpEndpoint": "enabled"}},
        expect={"endpoint-enabled": "httpTokens is not set (optional): IMDSv1 is allowed"},
    ),
    Case(
        policy="aws-ec2-launchtemplate-enforce-metadata-hop-limit",
        type=LAUNCH_TEMPLATE,
        compliant=NODE_LAUNCH_TEMPLATE,
        violating={
            "hop-limit-2": {"metadataOptions.httpPutResponseHopLimit": 2},
            "hop-limit-unset": {"metadataOptions.httpPutResponseHopLimit": DELETE},
        },
        expect={"hop-limit-2": "httpPutResponseHopLimit is 2", "hop-limit-unset": "not set"},
        unknown=["metadataOptions.httpPutResponseHopLimit"],
    ),
    Case(
        policy="aws-ec2-launchtemplate-disallow-unencrypted-volumes",
        type=LAUNCH_TEMPLATE,
        compliant=NODE_LAUNCH_TEMPLATE,
        violating={
            "root-unencrypted": {"blockDeviceMappings.0.ebs.encrypted": "false"},
            "encryption-unset": {"blockDeviceMappings.0.ebs.encrypted": DELETE},
            "unencrypted-data-volume": {"blockDeviceMappings": [_ROOT_VOLUME, _DATA_VOLUME]},
            "no-volumes": {"blockDeviceMappings": DELETE},
        },
        expect={
            "root-unencrypted": "EBS volume /dev/xvda is not encrypted",
            "encryption-unset": "EBS volume /dev/xvda is not encrypted",
            "unencrypted-data-volume": "EBS volume /dev/xvdb is not encrypted",
            "no-volumes": "no EBS volume",
        },
        unknown=["blockDeviceMappings"],
    ),
    Case(
        policy="aws-eks-nodegroup-disallow-remote-access",
        type=NODE_GROUP,
        compliant=MANAGED_NODE_GROUP,
        violating={
            "ssh-key": {"remoteAccess": {"ec2SshKey": "platform-prod-nodes"}},
            "ssh-from-bastion": {
                "remoteAccess": {"ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-0ba5710n00000001"]}
            },
        },
        expect={"ssh-key": "key platform-prod-nodes, from 0.0.0.0/0", "ssh-from-bastion": "from sg-0ba5710n00000001"},
    ),
    Case(
        policy="aws-eks-nodegroup-missing-launch-template",
        type=NODE_GROUP,
        compliant=MANAGED_NODE_GROUP,
        violating={
            "no-launch-template": {"launchTemplate": DELETE},
            "template-without-id-or-name": {"launchTemplate": {"version": "1"}},
        },
        expect={
            "no-launch-template": "no launchTemplate",
            "template-without-id-or-name": "launchTemplate names no template",
        },
        unknown=["launchTemplate"],
    ),
    Case(
        policy="aws-eks-nodegroup-missing-launch-template",
        type=NODE_GROUP,
        compliant={**MANAGED_NODE_GROUP, "launchTemplate": {"name": "platform-prod-nodes", "version": "$Latest"}},
        violating={"name-emptied": {"launchTemplate.name": ""}},
        expect={"name-emptied": "launchTemplate names no template"},
        # A name not known yet names a template; only a block not known at all cannot be judged.
        unknown=["launchTemplate"],
    ),
    Case(
        policy="aws-eks-nodegroup-enforce-name-length",
        type=NODE_GROUP,
        # The component's prefix for a 38-character group name: truncated to 36 characters plus "-" (37).
        compliant={**MANAGED_NODE_GROUP, "nodeGroupNamePrefix": "platform-prod-eks-general-purpose-am-"},
        violating={
            "prefix-untruncated": {"nodeGroupNamePrefix": "platform-prod-eks-general-purpose-amd6-"},
            "prefix-one-over": {"nodeGroupNamePrefix": "platform-prod-eks-general-purpose-amd-"},
            "name-too-long": {"nodeGroupNamePrefix": DELETE, "nodeGroupName": "platform-prod-" + "g" * 50},
        },
        expect={
            "prefix-untruncated": "nodeGroupNamePrefix 'platform-prod-eks-general-purpose-amd6-' has 39 characters, "
            "more than 37",
            "prefix-one-over": "has 38 characters, more than 37",
            "name-too-long": "nodeGroupName 'platform-prod-gggg",
        },
        unknown=["nodeGroupNamePrefix"],
    ),
    Case(
        policy="aws-eks-nodegroup-enforce-name-length",
        type=NODE_GROUP,
        compliant={**NAMED_NODE_GROUP, "nodeGroupName": "n" * 63},
        violating={"one-over": {"nodeGroupName": "n" * 64}},
        expect={"one-over": "has 64 characters, more than 63"},
    ),
    # --- who may administer the cluster ---
    Case(
        policy="aws-eks-cluster-enforce-api-authentication-mode",
        type=CLUSTER,
        compliant=EKS_CLUSTER,
        violating={
            "config-map-too": {"accessConfig.authenticationMode": "API_AND_CONFIG_MAP"},
            "unset": {"accessConfig.authenticationMode": DELETE},
        },
        expect={"config-map-too": "authenticationMode is API_AND_CONFIG_MAP", "unset": "not set (EKS uses CONFIG_MAP)"},
    ),
    Case(
        policy="aws-eks-cluster-disable-bootstrap-cluster-creator-admin",
        type=CLUSTER,
        compliant=EKS_CLUSTER,
        violating={
            "creator-admin": {"accessConfig.bootstrapClusterCreatorAdminPermissions": True},
            "unset": {"accessConfig.bootstrapClusterCreatorAdminPermissions": DELETE},
        },
        expect={"creator-admin": "is true", "unset": "EKS defaults to true"},
    ),
    Case(
        policy="aws-eks-accesspolicyassociation-disallow-unlisted-cluster-admin",
        type=ACCESS_POLICY_ASSOCIATION,
        compliant=_ADMIN_ASSOCIATION,
        config=ADMINS,
        violating={"unlisted-principal": {"principalArn": f"arn:aws:iam::{ACCOUNT}:role/ci-runner"}},
        expect={
            "unlisted-principal": "role/ci-runner is given AmazonEKSClusterAdminPolicy but is not in adminPrincipals"
        },
    ),
    Case(
        # A namespace-scoped edit policy is anyone's to have.
        policy="aws-eks-accesspolicyassociation-disallow-unlisted-cluster-admin",
        type=ACCESS_POLICY_ASSOCIATION,
        compliant={
            **_ADMIN_ASSOCIATION,
            "principalArn": f"arn:aws:iam::{ACCOUNT}:role/team-a",
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
            "accessScope": {"type": "namespace", "namespaces": ["team-a"]},
        },
        config=ADMINS,
        violating={"made-cluster-admin": {"policyArn": _ADMIN_ASSOCIATION["policyArn"]}},
        expect={"made-cluster-admin": "role/team-a is given AmazonEKSClusterAdminPolicy"},
    ),
    # --- add-ons ---
    Case(
        policy="aws-eks-addon-enable-network-policy",
        type=ADDON,
        compliant=_VPC_CNI,
        violating={
            "off": {"configurationValues": '{"enableNetworkPolicy": "false"}'},
            "no-configuration": {"configurationValues": DELETE},
        },
        expect={"off": "enableNetworkPolicy 'false'", "no-configuration": "enableNetworkPolicy None"},
    ),
    Case(
        policy="aws-eks-addon-enforce-pinned-version",
        type=ADDON,
        compliant=_VPC_CNI,
        violating={
            "eks-default": {"tags.version-source": "eks-default"},
            "untagged": {"tags": DELETE},
        },
        expect={"eks-default": "has 'eks-default' version-source tag", "untagged": "has no version-source tag"},
    ),
    Case(
        policy="aws-eks-addon-enforce-pinned-version",
        type=ADDON,
        compliant=_VPC_CNI,
        stack="dev",
        violating={"eks-default": {"tags.version-source": "eks-default"}},
        expect={"eks-default": "not 'pinned'"},
    ),
    # --- node interfaces and volumes ---
    Case(
        policy="aws-ec2-launchtemplate-missing-volume-kms-key",
        type=LAUNCH_TEMPLATE,
        compliant=NODE_LAUNCH_TEMPLATE,
        violating={"default-key": {"blockDeviceMappings.0.ebs.kmsKeyId": DELETE}},
        expect={"default-key": "EBS volume /dev/xvda is encrypted with the default key"},
        # A key not known yet (one still to be created) is set: only whether the volume is encrypted can be unknown.
        unknown=["blockDeviceMappings.0.ebs.encrypted"],
    ),
    Case(
        policy="aws-ec2-launchtemplate-disallow-public-ip",
        type=LAUNCH_TEMPLATE,
        compliant={
            **NODE_LAUNCH_TEMPLATE,
            "networkInterfaces": [{"deviceIndex": 0, "associatePublicIpAddress": "false"}],
        },
        violating={"public-ip": {"networkInterfaces.0.associatePublicIpAddress": "true"}},
        expect={"public-ip": "network interface 0 is given a public IP"},
    ),
]
