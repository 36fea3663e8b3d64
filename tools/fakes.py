"""Realistic stand-ins for what AWS would compute, for the engine's update mode.

Each resource gets an id and an ARN in the shape AWS gives them, in the
region of its provider and a fake account, plus the type-specific outputs
other resources read (a VPC's default security group, an EIP's address, a
log group's ARN...). ``tagsAll`` is the provider's default tags merged with
the resource's own, as the AWS provider computes it. Invokes (data sources)
get answers of the same kind.

A type with no entry here still gets an id and an ARN; add an entry when a
component reads one of its other outputs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pulumi_aws

FAKE_ACCOUNT = "123456789012"
"""The documentation account id AWS uses in its own examples."""


def _hex(seed: str, length: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _uuid(seed: str) -> str:
    return str(uuid.UUID(hashlib.sha256(seed.encode()).hexdigest()[:32]))


def _ip(seed: str, prefix: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return f"{prefix}.{digest[0] % 254 + 1}"


Fake = Callable[[str, dict[str, Any], str, str], tuple[str, dict[str, Any]]]
"""(urn, inputs, region, account) -> (id, outputs beyond the inputs)."""


def _ec2(prefix: str, arn_type: str, extra: Callable[[str, str], dict[str, Any]] | None = None) -> Fake:
    def fake(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        rid = f"{prefix}-{_hex(urn)}"
        outputs = {"arn": f"arn:aws:ec2:{region}:{account}:{arn_type}/{rid}", "ownerId": account}
        if extra:
            outputs.update(extra(urn, rid))
        return rid, outputs

    return fake


def _vpc_extra(urn: str, rid: str) -> dict[str, Any]:
    return {
        "defaultSecurityGroupId": f"sg-{_hex(urn + 'sg')}",
        "defaultRouteTableId": f"rtb-{_hex(urn + 'rtb')}",
        "mainRouteTableId": f"rtb-{_hex(urn + 'rtb')}",
        "defaultNetworkAclId": f"acl-{_hex(urn + 'acl')}",
        "dhcpOptionsId": f"dopt-{_hex(urn + 'dopt')}",
    }


def _eip(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    rid = f"eipalloc-{_hex(urn)}"
    # 203.0.113.0/24 is TEST-NET-3: never a real address.
    return rid, {
        "allocationId": rid,
        "publicIp": _ip(urn, "203.0.113"),
        "arn": f"arn:aws:ec2:{region}:{account}:elastic-ip/{rid}",
    }


def _nat(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    rid = f"nat-{_hex(urn)}"
    return rid, {
        "networkInterfaceId": f"eni-{_hex(urn + 'eni')}",
        "privateIp": _ip(urn, "10.255.0"),
        "publicIp": _ip(urn, "203.0.113"),
    }


def _vpc_endpoint(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    rid = f"vpce-{_hex(urn)}"
    service = str(inputs.get("serviceName", ""))
    outputs: dict[str, Any] = {
        "arn": f"arn:aws:ec2:{region}:{account}:vpc-endpoint/{rid}",
        "ownerId": account,
        "state": "available",
    }
    if inputs.get("vpcEndpointType") == "Gateway":
        outputs["prefixListId"] = f"pl-{_hex(urn, 8)}"
    else:
        outputs["dnsEntries"] = [
            {
                "dnsName": f"{rid}.{service.rsplit('.', 1)[-1]}.{region}.vpce.amazonaws.com",
                "hostedZoneId": "Z1HUB23UULQXV",
            }
        ]
        outputs["networkInterfaceIds"] = [
            f"eni-{_hex(urn + str(i))}" for i, _ in enumerate(inputs.get("subnetIds") or [])
        ]
    return rid, outputs


def _kms_key(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    key_id = _uuid(urn)
    return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}


def _kms_alias(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name"))
    return name, {
        "arn": f"arn:aws:kms:{region}:{account}:{name}",
        "targetKeyArn": f"arn:aws:kms:{region}:{account}:key/{inputs.get('targetKeyId')}",
    }


def _log_group(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"/fake/{_hex(urn, 8)}")
    return name, {"name": name, "arn": f"arn:aws:logs:{region}:{account}:log-group:{name}"}


def _iam_role(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"role-{_hex(urn, 12)}")
    path = str(inputs.get("path") or "/")
    return name, {
        "name": name,
        "arn": f"arn:aws:iam::{account}:role{path}{name}",
        "uniqueId": "AROA" + _hex(urn, 17).upper(),
        "createDate": "2026-01-01T00:00:00Z",
    }


def _role_policy(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"policy-{_hex(urn, 8)}")
    return f"{inputs.get('role')}:{name}", {"name": name}


def _random_password(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    length = int(inputs.get("length") or 16)
    # Deterministic but obviously fake; the SDK marks it secret (additionalSecretOutputs).
    value = ("offline" + _hex(urn, 64)) * (length // 71 + 1)
    return "none", {"result": value[:length], "bcryptHash": "$2a$10$" + _hex(urn + "bcrypt", 53)}


def _random_id(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    hex_value = _hex(urn, int(inputs.get("byteLength") or 8) * 2)
    raw = bytes.fromhex(hex_value)
    b64 = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return b64, {
        "hex": hex_value,
        "b64Url": b64,
        "b64Std": base64.b64encode(raw).decode(),
        "dec": str(int(hex_value, 16)),
    }


def _named(
    service: str, arn_part: str, name_key: str, id_is_arn: bool = False, suffix: Callable[[str], str] | None = None
) -> Fake:
    """Resources whose id is their (given) name and whose ARN names it."""

    def fake(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        name = str(inputs.get(name_key) or f"{arn_part}-{_hex(urn, 12)}")
        arn = f"arn:aws:{service}:{region}:{account}:{arn_part}{name}{suffix(urn) if suffix else ''}"
        outputs = {name_key: name, "arn": arn}
        return (arn if id_is_arn else name), outputs

    return fake


def _rds_instance(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    identifier = str(inputs.get("identifier") or f"db-{_hex(urn, 12)}")
    address = f"{identifier}.c{_hex(urn, 12)}.{region}.rds.amazonaws.com"
    port = int(inputs.get("port") or 5432)
    outputs: dict[str, Any] = {
        "identifier": identifier,
        "arn": f"arn:aws:rds:{region}:{account}:db:{identifier}",
        "resourceId": "db-" + _hex(urn, 26).upper(),
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "hostedZoneId": "Z2OOZ3PR6TEBMW",
        "status": "available",
    }
    if inputs.get("manageMasterUserPassword"):
        outputs["masterUserSecrets"] = [
            {
                "secretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:rds!db-{_uuid(urn)}-{_hex(urn, 6)}",
                "kmsKeyId": inputs.get("masterUserSecretKmsKeyId")
                or f"arn:aws:kms:{region}:{account}:alias/aws/secretsmanager",
                "secretStatus": "active",
            }
        ]
    return identifier, outputs


def _replication_group(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    group_id = str(inputs.get("replicationGroupId") or f"rg-{_hex(urn, 12)}")
    count = int(inputs.get("numCacheClusters") or 1)
    host = f"{group_id}.{_hex(urn, 6)}.{region[:6]}.cache.amazonaws.com"
    return group_id, {
        "replicationGroupId": group_id,
        "arn": f"arn:aws:elasticache:{region}:{account}:replicationgroup:{group_id}",
        "primaryEndpointAddress": f"master.{host}",
        "readerEndpointAddress": f"replica.{host}",
        "port": int(inputs.get("port") or 6379),
        # AWS names the member clusters <group>-001, -002, ...
        "memberClusters": [f"{group_id}-{i:03d}" for i in range(1, count + 1)],
        "engineVersionActual": f"{inputs.get('engineVersion') or '7.1'}.0",
    }


def _secret(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"secret-{_hex(urn, 8)}")
    # AWS appends six random characters to a secret's ARN.
    arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{_hex(urn, 6)}"
    return arn, {"name": name, "arn": arn}


def _secret_version(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    version = _uuid(urn)
    return f"{inputs.get('secretId')}|{version}", {"versionId": version, "arn": inputs.get("secretId")}


def _bucket(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("bucket") or f"bucket-{_hex(urn, 20)}")
    return name, {
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "hostedZoneId": "Z1QDHH18159H29",
        "region": region,
        "bucketRegion": region,
    }


def _topic(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"topic-{_hex(urn, 8)}")
    arn = f"arn:aws:sns:{region}:{account}:{name}"
    return arn, {"name": name, "arn": arn, "owner": account}


def _eks_cluster(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"eks-{_hex(urn, 8)}")
    oidc = _hex(urn, 32).upper()
    vpc_config = dict(inputs.get("vpcConfig") or {})
    vpc_config["clusterSecurityGroupId"] = f"sg-{_hex(urn + 'cluster-sg')}"
    vpc_config["vpcId"] = vpc_config.get("vpcId") or f"vpc-{_hex(urn)}"
    return name, {
        "name": name,
        "arn": f"arn:aws:eks:{region}:{account}:cluster/{name}",
        "endpoint": f"https://{oidc}.gr7.{region}.eks.amazonaws.com",
        # A syntactically valid, obviously fake PEM (base64 of a placeholder).
        "certificateAuthority": {
            "data": base64.b64encode(b"-----BEGIN CERTIFICATE-----\nOFFLINE\n-----END CERTIFICATE-----\n").decode()
        },
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc}"}]}],
        "vpcConfig": vpc_config,
        "platformVersion": "eks.1",
        "status": "ACTIVE",
        "clusterId": _uuid(urn),
    }


def _oidc_provider(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    host = str(inputs.get("url") or "").removeprefix("https://")
    arn = f"arn:aws:iam::{account}:oidc-provider/{host}"
    return arn, {"arn": arn}


def _launch_template(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    rid = f"lt-{_hex(urn)}"
    return rid, {
        "arn": f"arn:aws:ec2:{region}:{account}:launch-template/{rid}",
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _node_group(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster, name = str(inputs.get("clusterName")), str(inputs.get("nodeGroupName") or f"ng-{_hex(urn, 8)}")
    return f"{cluster}:{name}", {
        "nodeGroupName": name,
        "arn": f"arn:aws:eks:{region}:{account}:nodegroup/{cluster}/{name}/{_uuid(urn)}",
        "status": "ACTIVE",
        "resources": [{"autoscalingGroups": [{"name": f"eks-{name}-{_uuid(urn)}"}], "remoteAccessSecurityGroupId": ""}],
    }


def _ecr_repository(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    name = str(inputs.get("name") or f"repo-{_hex(urn, 8)}")
    return name, {
        "name": name,
        "arn": f"arn:aws:ecr:{region}:{account}:repository/{name}",
        "registryId": account,
        "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}",
    }


def _addon(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    cluster, name = str(inputs.get("clusterName")), str(inputs.get("addonName"))
    return f"{cluster}:{name}", {"arn": f"arn:aws:eks:{region}:{account}:addon/{cluster}/{name}/{_uuid(urn)}"}


FAKES: dict[str, Fake] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:eks/addon:Addon": _addon,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:rds/parameterGroup:ParameterGroup": _named("rds", "pg:", "name"),
    "aws:rds/subnetGroup:SubnetGroup": _named("rds", "subgrp:", "name"),
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:elasticache/parameterGroup:ParameterGroup": _named("elasticache", "parametergroup:", "name"),
    "aws:elasticache/subnetGroup:SubnetGroup": _named("elasticache", "subnetgroup:", "name"),
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:sns/topic:Topic": _topic,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _named("cloudwatch", "alarm:", "name"),
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
    "aws:ec2/vpc:Vpc": _ec2("vpc", "vpc", _vpc_extra),
    "aws:ec2/subnet:Subnet": _ec2("subnet", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": _ec2("igw", "internet-gateway"),
    "aws:ec2/routeTable:RouteTable": _ec2("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _ec2("rtbassoc", "route-table-association"),
    "aws:ec2/route:Route": _ec2("r-rtb", "route"),
    "aws:ec2/securityGroup:SecurityGroup": _ec2("sg", "security-group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _ec2("sg", "security-group"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _ec2(
        "sgr", "security-group-rule", lambda urn, rid: {"securityGroupRuleId": rid}
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _ec2(
        "sgr", "security-group-rule", lambda urn, rid: {"securityGroupRuleId": rid}
    ),
    "aws:ec2/flowLog:FlowLog": _ec2("fl", "vpc-flow-log"),
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
}


def _kubernetes_object(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
    """A Kubernetes object as the API server returns it: the provider's id is
    ``<namespace>/<name>`` (``<name>`` when cluster-scoped), and the server adds uid,
    resourceVersion, generation and creationTimestamp to the metadata."""
    meta: dict[str, Any] = inputs["metadata"] if isinstance(inputs.get("metadata"), dict) else {}
    name, namespace = str(meta.get("name") or _hex(urn, 8)), meta.get("namespace")
    rid = f"{namespace}/{name}" if namespace else name
    server = {"uid": _uuid(urn), "resourceVersion": str(int(_hex(urn, 6), 16)), "generation": 1}
    server["creationTimestamp"] = "2025-01-01T00:00:00Z"
    return rid, {"metadata": {**meta, **server}}


def _generic(type_: str) -> Fake:
    package, module, kind = [*type_.split(":"), "", ""][:3]
    service = module.split("/")[0] or package
    slug = kind.lower() or "resource"

    def fake(urn: str, inputs: dict[str, Any], region: str, account: str) -> tuple[str, dict[str, Any]]:
        rid = f"{slug}-{_hex(urn)}"
        outputs: dict[str, Any] = {}
        if package == "aws":
            outputs["arn"] = f"arn:aws:{service}:{region}:{account}:{slug}/{rid}"
        return rid, outputs

    return fake


@cache
def _aws_classes() -> dict[str, tuple[str, str]]:
    """Resource token -> (module, class name), from the SDK's own registry."""
    source = Path(pulumi_aws.__file__).read_text(encoding="utf-8")
    start = source.index('resource_modules="""') + len('resource_modules="""')
    modules = json.loads(source[start : source.index('"""', start)])
    return {token: (m["fqn"], name) for m in modules for token, name in m["classes"].items()}


@cache
def _has_output(type_: str, attribute: str) -> bool:
    """Whether an AWS resource type has an output property (its SDK class says so)."""
    found = _aws_classes().get(type_)
    if found is None:
        return False
    module, name = found
    # The program has already imported the module of any type it created.
    cls = getattr(importlib.import_module(module), name)
    return attribute in vars(cls)


def is_taggable(type_: str) -> bool:
    """Whether an AWS resource type has a tagsAll output."""
    return _has_output(type_, "tags_all")


def planned_outputs(type_: str, inputs: dict[str, Any], region: str, default_tags: dict[str, str]) -> dict[str, Any]:
    """What the AWS provider knows at plan time beyond the inputs: the region
    (pulumi-aws 7, per resource) and tagsAll (default tags merged with the
    resource's own; the resource's win)."""
    planned: dict[str, Any] = {}
    if _has_output(type_, "region") and "region" not in inputs:
        planned["region"] = region
    if is_taggable(type_):
        tags = inputs.get("tags") or {}
        planned["tags"] = tags
        planned["tagsAll"] = {**default_tags, **tags}
    return planned


def fake_resource(
    *, type_: str, urn: str, inputs: dict[str, Any], region: str, account: str, default_tags: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """Id and outputs (inputs plus computed values) of a created resource."""
    if type_.startswith("pulumi:providers:"):
        return _uuid(urn), dict(inputs)
    fake: Fake
    if type_.startswith("kubernetes:") and not type_.startswith("kubernetes:helm.sh/"):
        fake = _kubernetes_object
    else:
        fake = FAKES.get(type_, _generic(type_))
    rid, computed = fake(urn, inputs, region, account)
    outputs = {**inputs, **planned_outputs(type_, inputs, region, default_tags), **computed, "id": rid}
    return rid, outputs


# --- invokes ---------------------------------------------------------------------


def render_policy_document(args: dict[str, Any]) -> str:
    """What aws.iam.getPolicyDocument returns: the statements as IAM JSON."""
    statements = []
    for st in args.get("statements") or []:
        out: dict[str, Any] = {}
        if st.get("sid"):
            out["Sid"] = st["sid"]
        out["Effect"] = st.get("effect") or "Allow"
        for key, name in (("actions", "Action"), ("notActions", "NotAction")):
            if st.get(key):
                out[name] = sorted(st[key])
        for key, name in (("resources", "Resource"), ("notResources", "NotResource")):
            if st.get(key):
                out[name] = sorted(st[key])
        for key, name in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if st.get(key):
                principal: dict[str, Any] = {}
                for p in st[key]:
                    principal.setdefault(p["type"], []).extend(p["identifiers"])
                out[name] = "*" if principal == {"*": ["*"]} else principal
        if st.get("conditions"):
            condition: dict[str, Any] = {}
            for c in st["conditions"]:
                condition.setdefault(c["test"], {})[c["variable"]] = c["values"]
            out["Condition"] = condition
        statements.append(out)
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17", "Statement": statements}
    return json.dumps(document, indent=2, sort_keys=False)


def fake_invoke(token: str, args: dict[str, Any], region: str, account: str) -> dict[str, Any] | None:
    """The answer of a data source, or None when the engine knows no answer."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": account,
            "arn": f"arn:aws:sts::{account}:assumed-role/platform-deployer/offline-preview",
            "id": account,
            "userId": "AROAOFFLINEPREVIEW:offline-preview",
        }
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
    if token == "aws:index/getRegion:getRegion":
        name = args.get("region") or args.get("name") or region
        return {"name": name, "region": name, "id": name, "endpoint": f"ec2.{name}.amazonaws.com"}
    if token == "aws:eks/getAddonVersion:getAddonVersion":
        # A plausible newest build for the requested add-on and Kubernetes version.
        minor = str(args.get("kubernetesVersion", "1.35")).split(".")[-1]
        version = f"v1.{minor}.0-eksbuild.1"
        return {
            "addonName": args.get("addonName"),
            "kubernetesVersion": args.get("kubernetesVersion"),
            "version": version,
            "id": args.get("addonName"),
            "mostRecent": args.get("mostRecent"),
        }
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        rendered = render_policy_document(args)
        return {
            "json": rendered,
            "minifiedJson": json.dumps(json.loads(rendered), separators=(",", ":")),
            "id": _hex(rendered, 10),
        }
    return None
