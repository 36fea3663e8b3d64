"""Guardrails: EKS clusters, managed node groups and the launch templates of their nodes.

``supportedVersions`` must follow EKS *standard* support
(https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html):
add a version when EKS releases it and remove one when it leaves standard
support (extended support costs more per cluster hour), in the pack default
and in policy/config/<stack>.json.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from guardrails.base import as_document, as_list, config_value, is_set, is_true, number, resource_rule

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
WIDEST_PREFIX = {4: 8, 6: 32}
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
SUPPORTED_VERSIONS = ["1.34", "1.35", "1.36"]


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


def _cidr_problem(cidr: str, allowed: list[str]) -> str | None:
    """Why a public access CIDR is not acceptable, or None.

    Never the whole internet; no block wider than /8 (IPv4) or /32 (IPv6) unless
    listed as such in allowedPublicCidrs (0.0.0.0/1 + 128.0.0.0/1 is the whole
    internet too); otherwise inside one of the allowed CIDRs.
    """
    network = _network(cidr)
    if network is None:
        return "not a valid CIDR"
    if network.prefixlen == 0:
        return "the whole internet"
    widest = WIDEST_PREFIX[network.version]
    if network.prefixlen < widest and str(network) not in {str(n) for n in map(_network, allowed) if n}:
        return f"wider than /{widest}"
    inside = any(
        n is not None and n.version == network.version and network.subnet_of(n)  # type: ignore[arg-type]
        for n in map(_network, allowed)
    )
    return None if inside else "not inside allowedPublicCidrs"


@resource_rule(
    name="aws-eks-cluster-disallow-public-endpoint",
    description="The cluster's API endpoint must be private (endpointPublicAccess false), or public only to "
    "publicAccessCidrs that all lie inside the configured allowedPublicCidrs: never 0.0.0.0/0 (the AWS default "
    "when public access is on without CIDRs), nor blocks wider than /8 (IPv4) or /32 (IPv6) unless allowed "
    "as such.",
    resource_types=[CLUSTER],
    severity=Severity.HIGH,
    control="AWS-FSBP EKS.1",
    remediation="Set vpc_config.endpoint_public_access=False and endpoint_private_access=True (reach the API "
    "through the VPC), or set public_access_cidrs to the office/CI egress CIDRs and list them (or the blocks "
    "they lie in) in allowedPublicCidrs in the stack's policy config.",
    config={
        "allowedPublicCidrs": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "CIDRs the public API endpoint may be open to (office, VPN, CI egress); "
            "empty: the endpoint must be private.",
        }
    },
)
def _public_endpoint(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    vpc = props.get("vpcConfig") or {}
    public = vpc.get("endpointPublicAccess")
    if public is False or (isinstance(public, str) and public.lower() == "false"):
        return
    allowed = [str(c) for c in as_list(config_value(args, "allowedPublicCidrs", []))]
    cidrs = [str(c) for c in as_list(vpc.get("publicAccessCidrs"))]
    if not cidrs:
        yield "the public API endpoint is open to 0.0.0.0/0 (no publicAccessCidrs)"
        return
    problems = [(c, p) for c in cidrs if (p := _cidr_problem(c, allowed))]
    if problems:
        listed = ", ".join(f"{c} ({p})" for c, p in problems)
        yield f"the public API endpoint is open to {listed}"


@resource_rule(
    name="aws-eks-cluster-missing-control-plane-logs",
    description="All five control-plane log types must be sent to CloudWatch: "
    "api, audit, authenticator, controllerManager and scheduler.",
    resource_types=[CLUSTER],
    severity=Severity.MEDIUM,
    control="AWS-FSBP EKS.8",
    remediation='Set enabled_cluster_log_types=["api", "audit", "authenticator", "controllerManager", "scheduler"] '
    "(and create the /aws/eks/<cluster>/cluster log group first, with retention and KMS).",
)
def _control_plane_logs(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    enabled = {str(t) for t in as_list(props.get("enabledClusterLogTypes"))}
    missing = [t for t in LOG_TYPES if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


@resource_rule(
    name="aws-eks-cluster-missing-secrets-encryption",
    description="Kubernetes secrets must be envelope-encrypted with a KMS key "
    '(encryptionConfig with resources ["secrets"] and provider.keyArn).',
    resource_types=[CLUSTER],
    severity=Severity.HIGH,
    control="AWS-FSBP EKS.3",
    remediation="Set encryption_config=ClusterEncryptionConfigArgs(resources=['secrets'], "
    "provider=ClusterEncryptionConfigProviderArgs(key_arn=<customer managed key ARN>)).",
)
def _secrets_encryption(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    configs = [c for c in as_list(props.get("encryptionConfig")) if isinstance(c, Mapping)]
    if not configs:
        yield "no encryptionConfig: secrets are not encrypted with a KMS key"
        return
    covering = [c for c in configs if "secrets" in {str(r) for r in as_list(c.get("resources"))}]
    if not covering:
        yield 'encryptionConfig does not list "secrets" in resources'
    elif not any(is_set(c, "provider", "keyArn") for c in covering):  # a key still to be created is a key
        yield "encryptionConfig for secrets has no provider.keyArn"


@resource_rule(
    name="aws-eks-cluster-disallow-unsupported-version",
    description="The cluster must pin a Kubernetes version from supportedVersions, the versions in EKS standard "
    "support (the list must be updated as EKS releases and retires versions).",
    resource_types=[CLUSTER],
    severity=Severity.MEDIUM,
    control="AWS-FSBP EKS.2",
    remediation="Set version to one of the supported versions (the stack's kubernetesVersion) and upgrade "
    "one minor version at a time; update supportedVersions when EKS's standard-support calendar changes.",
    config={
        "supportedVersions": {
            "type": "array",
            "items": {"type": "string"},
            "default": SUPPORTED_VERSIONS,
            "description": "Kubernetes minor versions in EKS standard support; keep in step with the "
            "EKS release calendar.",
        }
    },
)
def _version(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    supported = [str(v) for v in config_value(args, "supportedVersions", SUPPORTED_VERSIONS)]
    version = props.get("version")
    if version is None:
        yield f"no version pinned (EKS would pick its default); use one of {', '.join(supported)}"
    elif str(version) not in supported:
        yield f"Kubernetes {version} is not a supported version ({', '.join(supported)})"


@resource_rule(
    name="aws-ec2-launchtemplate-enforce-imdsv2",
    description='Launch templates must require IMDSv2 (metadataOptions.httpTokens "required"), '
    "unless they turn the metadata endpoint off.",
    resource_types=[LAUNCH_TEMPLATE],
    severity=Severity.HIGH,
    control="AWS-FSBP EC2.170",
    remediation='Set metadata_options=LaunchTemplateMetadataOptionsArgs(http_endpoint="enabled", '
    'http_tokens="required", http_put_response_hop_limit=1).',
)
def _imdsv2(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    options = props.get("metadataOptions") or {}
    if options.get("httpEndpoint") == "disabled":
        return
    tokens = options.get("httpTokens")
    if tokens != "required":
        yield f"httpTokens is {tokens or 'not set (optional)'}: IMDSv1 is allowed"


@resource_rule(
    name="aws-ec2-launchtemplate-enforce-metadata-hop-limit",
    description="Launch templates of nodes must set the metadata hop limit to 1 "
    "(metadataOptions.httpPutResponseHopLimit), so that pods cannot reach the node role's credentials.",
    resource_types=[LAUNCH_TEMPLATE],
    severity=Severity.HIGH,
    remediation="Set metadata_options.http_put_response_hop_limit=1; pods get AWS credentials from "
    "EKS Pod Identity or IRSA, not from the node's instance profile.",
)
def _hop_limit(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    options = props.get("metadataOptions") or {}
    if options.get("httpEndpoint") == "disabled":
        return
    limit = options.get("httpPutResponseHopLimit")
    if limit is None:
        yield "httpPutResponseHopLimit is not set (AMIs registered for IMDSv2, such as AL2023, default to 2)"
    elif number(limit) != 1:
        yield f"httpPutResponseHopLimit is {number(limit):g}: pods can reach the instance metadata"


@resource_rule(
    name="aws-ec2-launchtemplate-disallow-unencrypted-volumes",
    description="Launch templates must declare their EBS volumes (at least the root volume) "
    "with blockDeviceMappings[].ebs.encrypted true.",
    resource_types=[LAUNCH_TEMPLATE],
    severity=Severity.HIGH,
    control="AWS-FSBP EC2.3",
    remediation="Declare the root volume in block_device_mappings with ebs=LaunchTemplateBlockDeviceMappingEbsArgs("
    'encrypted="true", kms_key_id=<customer managed key ARN>, volume_type="gp3").',
)
def _volume_encryption(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    mappings = [m for m in as_list(props.get("blockDeviceMappings")) if isinstance(m, Mapping)]
    volumes = [m for m in mappings if isinstance(m.get("ebs"), Mapping)]
    if not volumes:
        yield "no EBS volume in blockDeviceMappings: the root volume's encryption is left to the AMI"
    for mapping in volumes:
        if not is_true(mapping["ebs"].get("encrypted")):
            yield f"EBS volume {mapping.get('deviceName') or '(unnamed)'} is not encrypted"


@resource_rule(
    name="aws-eks-nodegroup-disallow-remote-access",
    description="Managed node groups must not enable remote access (a remoteAccess block opens SSH or RDP, "
    "to 0.0.0.0/0 when no source security group is given).",
    resource_types=[NODE_GROUP],
    severity=Severity.HIGH,
    remediation="Remove remote_access from the node group; reach nodes with SSM Session Manager "
    "(AmazonSSMManagedInstanceCore on the node role) when needed.",
)
def _remote_access(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    remote = props.get("remoteAccess")
    if remote is None:
        return
    key = remote.get("ec2SshKey") if isinstance(remote, Mapping) else None
    sources = as_list(remote.get("sourceSecurityGroupIds")) if isinstance(remote, Mapping) else []
    reach = f"from {', '.join(str(s) for s in sources)}" if sources else "from 0.0.0.0/0"
    yield f"remote access is enabled (key {key or 'none'}, {reach})"


@resource_rule(
    name="aws-eks-nodegroup-missing-launch-template",
    description="Managed node groups must use a launch template (launchTemplate with an id or name), so that "
    "the template's IMDSv2, metadata hop limit and encrypted-volume settings apply to their nodes.",
    resource_types=[NODE_GROUP],
    severity=Severity.HIGH,
    remediation="Create an aws.ec2.LaunchTemplate (metadata_options http_tokens='required', "
    "http_put_response_hop_limit=1, encrypted root volume) and set the node group's launch_template="
    "NodeGroupLaunchTemplateArgs(id=<template id>, version=<template latest_version>); leave disk_size and "
    "remote_access unset.",
)
def _launch_template(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    # A block not known at all may name no template; an id or name not known yet (a template still to be
    # created) names one.
    template = props.get("launchTemplate")
    if not isinstance(template, Mapping):
        yield "no launchTemplate: nodes get EKS's default launch template, not the IMDSv2/hop-limit/volume settings"
    elif not (is_set(template, "id") or is_set(template, "name")):
        yield "launchTemplate names no template (neither id nor name)"


# EKS accepts node group names of 1-63 characters. With a prefix, the provider appends a 26-character unique
# suffix, so the prefix may have at most 63 - 26 = 37 characters. Found in terraform-provider-aws
# internal/service/eks/node_group.go (which pulumi-aws wraps): node_group_name has
# validation.StringLenBetween(0, 63) and node_group_name_prefix StringLenBetween(0, 63-id.UniqueIDSuffixLength),
# UniqueIDSuffixLength being 26 (terraform-plugin-sdk helper/id). Pulumi without the provider's Check (our
# offline gate, a first preview of a new component) would only learn this from a failed `pulumi up`.
NODE_GROUP_NAME_LIMIT = 63
UNIQUE_SUFFIX_LENGTH = 26
NODE_GROUP_PREFIX_LIMIT = NODE_GROUP_NAME_LIMIT - UNIQUE_SUFFIX_LENGTH


@resource_rule(
    name="aws-eks-nodegroup-enforce-name-length",
    description=f"A managed node group's nodeGroupName must have at most {NODE_GROUP_NAME_LIMIT} characters and "
    f"its nodeGroupNamePrefix at most {NODE_GROUP_PREFIX_LIMIT} (EKS's {NODE_GROUP_NAME_LIMIT} less the "
    f"provider's {UNIQUE_SUFFIX_LENGTH}-character unique suffix); a longer one fails only at `pulumi up`.",
    resource_types=[NODE_GROUP],
    severity=Severity.MEDIUM,
    remediation=f"Shorten the name: derive the prefix from the group's purpose and truncate it to "
    f"{NODE_GROUP_PREFIX_LIMIT} characters including the trailing '-' (e.g. f\"{{name[:36].rstrip('-')}}-\"), "
    f"or give a nodeGroupName of at most {NODE_GROUP_NAME_LIMIT} characters.",
)
def _name_length(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for key, limit in (("nodeGroupName", NODE_GROUP_NAME_LIMIT), ("nodeGroupNamePrefix", NODE_GROUP_PREFIX_LIMIT)):
        value = props.get(key)
        if isinstance(value, str) and len(value) > limit:
            yield f"{key} {value!r} has {len(value)} characters, more than {limit}"


# --- who may administer the cluster -------------------------------------------------------------------------------


@resource_rule(
    name="aws-eks-cluster-enforce-api-authentication-mode",
    description="The cluster must authenticate through EKS access entries only (accessConfig.authenticationMode "
    '"API"), not the aws-auth ConfigMap, which anyone with write access to kube-system can edit.',
    resource_types=[CLUSTER],
    severity=Severity.HIGH,
    remediation='Set access_config=ClusterAccessConfigArgs(authentication_mode="API") and grant access with '
    "aws.eks.AccessEntry and aws.eks.AccessPolicyAssociation (moving from CONFIG_MAP goes through API_AND_CONFIG_MAP).",
)
def _authentication_mode(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    mode = (props.get("accessConfig") or {}).get("authenticationMode")
    if mode != "API":
        yield f"authenticationMode is {mode or 'not set (EKS uses CONFIG_MAP)'}, not API"


@resource_rule(
    name="aws-eks-cluster-disable-bootstrap-cluster-creator-admin",
    description="The cluster must not make its creator a cluster admin "
    "(accessConfig.bootstrapClusterCreatorAdminPermissions false): admins are the stack's listed principals.",
    resource_types=[CLUSTER],
    severity=Severity.HIGH,
    control="CIS-EKS 4.1.1",
    remediation="Set access_config.bootstrap_cluster_creator_admin_permissions=False (it replaces the cluster when "
    "changed) and list the admins in adminPrincipals, each with an access entry.",
)
def _bootstrap_admin(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    value = (props.get("accessConfig") or {}).get("bootstrapClusterCreatorAdminPermissions")
    if value is None:
        yield "bootstrapClusterCreatorAdminPermissions is not set (EKS defaults to true): the creator is an admin"
    elif is_true(value):
        yield "bootstrapClusterCreatorAdminPermissions is true: the creator is a cluster admin"


@resource_rule(
    name="aws-eks-accesspolicyassociation-disallow-unlisted-cluster-admin",
    description="The cluster-admin access policy (AmazonEKSClusterAdminPolicy) may be associated only with the "
    "principals the stack lists in adminPrincipals (IAM ARNs).",
    resource_types=[ACCESS_POLICY_ASSOCIATION],
    severity=Severity.CRITICAL,
    control="CIS-EKS 4.1.1",
    remediation="Associate AmazonEKSClusterAdminPolicy only with the principals in the stack's adminPrincipals (and "
    "list a new admin there, in the stack file and the policy config, in the same change); give others "
    "AmazonEKSAdminPolicy, AmazonEKSEditPolicy or AmazonEKSViewPolicy scoped to their namespaces.",
    config={
        "adminPrincipals": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "IAM ARNs that may hold AmazonEKSClusterAdminPolicy (the stack's cluster.adminPrincipals).",
        }
    },
    first_preview="needs-values",
)
def _cluster_admins(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not str(props.get("policyArn") or "").endswith(f"/{CLUSTER_ADMIN_POLICY}"):
        return
    listed = {str(p) for p in as_list(config_value(args, "adminPrincipals", []))}
    principal = props.get("principalArn")  # the ARN itself is needed: a role still to be created gives up
    if str(principal) not in listed:
        yield f"{principal} is given {CLUSTER_ADMIN_POLICY} but is not in adminPrincipals"


# --- add-ons -----------------------------------------------------------------------------------------------------


@resource_rule(
    name="aws-eks-addon-enable-network-policy",
    description="The vpc-cni add-on must enforce NetworkPolicies (configurationValues with enableNetworkPolicy "
    '"true"); without it, NetworkPolicy objects are accepted and ignored.',
    resource_types=[ADDON],
    severity=Severity.HIGH,
    control="CIS-EKS 5.4.4",
    remediation='Set configuration_values=json.dumps({"enableNetworkPolicy": "true"}) on the vpc-cni add-on.',
)
def _network_policy(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if props.get("addonName") != "vpc-cni":
        return
    values = as_document(props.get("configurationValues"))
    if str(values.get("enableNetworkPolicy")).lower() != "true":
        yield f"vpc-cni has enableNetworkPolicy {values.get('enableNetworkPolicy')!r}: NetworkPolicies are not enforced"


VERSION_SOURCE_TAG = "version-source"


@resource_rule(
    name="aws-eks-addon-enforce-pinned-version",
    description=f"Every EKS add-on must run a version pinned in the stack file (tag {VERSION_SOURCE_TAG} = "
    '"pinned"), not EKS\'s default build for the Kubernetes version ("eks-default"), which AWS moves and every '
    "`pulumi up` would then roll out.",
    resource_types=[ADDON],
    severity=Severity.MEDIUM,
    category="availability",
    remediation="Pin the add-on's version in the stack file (cluster.addons.<name>.version); the cluster component "
    f"then sets addon_version and tags the add-on {VERSION_SOURCE_TAG}=pinned.",
)
def _pinned_addon(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    source = (props.get("tags") or {}).get(VERSION_SOURCE_TAG)
    if source != "pinned":
        shown = repr(source) if source else "no"
        yield f"add-on {props.get('addonName')} has {shown} {VERSION_SOURCE_TAG} tag, not 'pinned'"


# --- node interfaces and volumes ---------------------------------------------------------------------------------


@resource_rule(
    name="aws-ec2-launchtemplate-missing-volume-kms-key",
    description="Every encrypted EBS volume of a launch template must name a customer-managed KMS key "
    "(blockDeviceMappings[].ebs.kmsKeyId); otherwise the account's default EBS key, usually aws/ebs, is used.",
    resource_types=[LAUNCH_TEMPLATE],
    severity=Severity.MEDIUM,
    remediation="Set block_device_mappings[].ebs.kms_key_id=<the platform's customer-managed key ARN> (the node "
    "role and the EC2 Auto Scaling service-linked role need kms:CreateGrant on it).",
)
def _volume_key(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for mapping in as_list(props.get("blockDeviceMappings")):
        ebs = mapping.get("ebs") if isinstance(mapping, Mapping) else None
        if isinstance(ebs, Mapping) and is_true(ebs.get("encrypted")) and not is_set(ebs, "kmsKeyId"):
            name = mapping.get("deviceName") or "(unnamed)"
            yield f"EBS volume {name} is encrypted with the default key (no kmsKeyId)"


@resource_rule(
    name="aws-ec2-launchtemplate-disallow-public-ip",
    description="Launch templates must not give their network interfaces a public IP "
    "(networkInterfaces[].associatePublicIpAddress not true): nodes are reached through private addresses.",
    resource_types=[LAUNCH_TEMPLATE],
    severity=Severity.HIGH,
    control="AWS-FSBP EC2.25",
    remediation='Remove associate_public_ip_address from network_interfaces (or set it to "false"); nodes go out '
    "through the NAT gateways of their private subnets.",
)
def _public_ip(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for index, interface in enumerate(as_list(props.get("networkInterfaces"))):
        if isinstance(interface, Mapping) and is_true(interface.get("associatePublicIpAddress")):
            yield f"network interface {number(interface.get('deviceIndex'), index):g} is given a public IP"
