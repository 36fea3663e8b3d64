"""Typed, validated stack configuration.

Every value under the ``platform:`` namespace is turned into the typed objects
below before any resource is created. A mistake stops the program with one
message listing every problem found, each naming the key path, the value given
and what is allowed (``ConfigError``, a ``pulumi.RunError`` so that the CLI
prints it without a Python traceback).

Keys are camelCase, as in Pulumi stack files. Areas are objects
(``platform:network: {...}``); values that must be secret are top-level keys
of their own, because Pulumi marks secrecy per top-level key: a plain-text
value in one of them is rejected.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Self, TypeVar

import pulumi
import pulumi_aws
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

NAMESPACE = "platform"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Values that must never sit in a stack file in plain text. Each is its own
# top-level key (see the module docstring). Pulumi.yaml declares no platform:
# keys (its comment says why), so load_settings is what refuses a plain value.
SECRET_KEYS = {
    "monitoringSlackWebhookUrl": "Slack incoming-webhook URL for Alertmanager",
    "monitoringPagerdutyRoutingKey": "PagerDuty Events v2 routing key for Alertmanager",
}

TIERS = ("public", "private", "database")

# Kubernetes versions in EKS standard support (kubernetes-versions-standard
# in the EKS user guide; 1.33 left it in July 2026). Update as EKS releases
# and retires versions; the policy pack's supportedVersions follows it.
EKS_STANDARD_SUPPORT = ("1.34", "1.35", "1.36")

# PostgreSQL majors in RDS standard support (end of standard support: 14 in
# Nov 2026, 15 Feb 2028, 16 Feb 2029, 17 Feb 2030, 18 in 2031).
POSTGRES_MAJORS = (14, 15, 16, 17, 18)
# ElastiCache engine versions (the newest redis OSS line is 7.1).
CACHE_VERSIONS = {"redis": ("7.0", "7.1"), "valkey": ("7.2", "8.0", "8.1")}
DEFAULT_CACHE_VERSION = {"redis": "7.1", "valkey": "8.0"}
# Instance families RDS PostgreSQL and ElastiCache offer (sizes vary by family;
# AWS rejects a size a family lacks, but a made-up family stops here).
_SIZE = r"(micro|small|medium|large|xlarge|[0-9]{1,2}xlarge|metal)"
_RDS_FAMILIES = "t3|t4g|m5d?|m6gd?|m6id?|m6in|m7gd?|m7i|m8gd?|r5[bd]?|r6gd?|r6id?|r6in|r7gd?|r7i|r8gd?|x2g|x2iedn|z1d"
RDS_CLASS = rf"^db\.({_RDS_FAMILIES})\.{_SIZE}$"
CACHE_NODE_TYPE = rf"^cache\.(t3|t4g|m5|m6g|m7g|r5|r6g|r6gd|r7g|c7gn)\.{_SIZE}$"

# Regions and EC2 instance types as the AWS provider knows them (its enums follow
# the AWS SDK's endpoint and EC2 models), so a typo stops here, not in AWS.
AWS_REGIONS = tuple(r.value for r in pulumi_aws.Region)
EC2_INSTANCE_TYPES = frozenset(t.value for t in pulumi_aws.ec2.InstanceType)

# VPC ranges that hold no internet host (RFC 1918, plus RFC 6598 shared address
# space, which AWS VPCs also accept). A public range in a VPC shadows the real
# hosts that own it: the nodes could no longer reach them, and some AWS services
# refuse such VPCs.
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)

# Namespaces workloads.namespaces must not claim. Kubernetes keeps default and
# every kube-* name for itself (the control plane, CoreDNS, node leases), and the
# platform creates and manages its own namespaces for its in-cluster services:
# a default-deny NetworkPolicy from us would cut either kind off.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PLATFORM_NAMESPACES = ("cluster-addons", "external-secrets", "monitoring", "velero", "backups")
RESERVED_NAMESPACES = (*SYSTEM_NAMESPACES, *PLATFORM_NAMESPACES)


@dataclass(frozen=True)
class Problem:
    """One bad config value: where it is, what was given, what is allowed."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(pulumi.RunError):
    """All config problems of a stack, reported together and without a traceback."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"invalid stack configuration ({count} problem{'s' if count != 1 else ''}):\n{lines}")


def _show(value: Any) -> str:
    """Render a received value for an error message, short and unambiguous."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _did_you_mean(value: str, allowed: Iterable[str], count: int = 1) -> str:
    """The hint "; did you mean x?" naming the closest allowed values; empty when none is close."""
    close = difflib.get_close_matches(value, list(allowed), n=count)
    if not close:
        return ""
    options = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
    return f"; did you mean {options}?"


_GRAVITON = re.compile(r"^(a1|[a-z]+\d+g[a-z-]*)\.")


def is_graviton(instance_type: str) -> bool:
    """Whether an EC2 instance type runs on Graviton (arm64): a1, or a family whose
    generation digit is followed by g (m7g, c7gn, im4gn, x2gd, t4g, ...)."""
    return bool(_GRAVITON.match(instance_type))


# --- rules across keys ----------------------------------------------------------
#
# One rule, one method, named for the rule. A rule returns what is wrong, or None.
# pydantic stops at the first model validator that raises, so the models do not
# declare model validators of their own: Model runs every rule and reports each
# broken one, so that two independent mistakes in one area are both reported.

_Check = TypeVar("_Check", bound=Callable[[Any], "str | None"])


@dataclass(frozen=True)
class _RuleMark:
    key: str | None


def rule(key: str | None = None) -> Callable[[_Check], _Check]:
    """Mark a model method as one config rule.

    key: the camelCase key the problem is reported at; left out, the model's own
    key (a rule across several keys: its message names them and their values).
    """

    def mark(check: _Check) -> _Check:
        setattr(check, "config_rule", _RuleMark(key))  # noqa: B010 (a function attribute mypy cannot see)
        return check

    return mark


@functools.cache
def _rules_of(model: type) -> tuple[tuple[Callable[[Any], str | None], str | None], ...]:
    """A model's rules in declaration order, base classes first."""
    found: dict[str, tuple[Callable[[Any], str | None], str | None]] = {}
    for klass in reversed(model.__mro__):
        for name, value in vars(klass).items():
            mark = getattr(value, "config_rule", None)
            if isinstance(mark, _RuleMark):
                found[name] = (value, mark.key)
    return tuple(found.values())


# --- reusable field types -------------------------------------------------


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as err:
        raise ValueError(f"must be an IPv4 network in CIDR notation such as 10.0.0.0/16 ({err})") from None
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]


def _vpc_sized(value: str) -> str:
    # AWS accepts VPC and subnet ranges from /16 to /28.
    prefix = ipaddress.IPv4Network(value).prefixlen
    if not 16 <= prefix <= 28:
        raise ValueError(f"must be between /16 and /28 (AWS limits for VPCs and subnets), got /{prefix}")
    return value


VpcCidr = Annotated[str, AfterValidator(_cidr), AfterValidator(_vpc_sized)]


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of the CloudWatch Logs retention periods {list(LOG_RETENTION_DAYS)}")
    return value


LogRetentionDays = Annotated[int, AfterValidator(_log_retention)]


def _region_problem(value: str) -> str | None:
    if value in AWS_REGIONS:
        return None
    return f"must be an AWS region name the AWS provider knows, such as ca-central-1{_did_you_mean(value, AWS_REGIONS)}"


def _region(value: str) -> str:
    problem = _region_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Region = Annotated[str, AfterValidator(_region)]


def _instance_type(value: str) -> str:
    if value not in EC2_INSTANCE_TYPES:
        hint = _did_you_mean(value, EC2_INSTANCE_TYPES, count=3)
        raise ValueError(f"must be an EC2 instance type the AWS provider knows, such as m7g.large{hint}")
    return value


InstanceType = Annotated[str, AfterValidator(_instance_type)]


def _private_range(value: str) -> str:
    if not any(ipaddress.IPv4Network(value).subnet_of(r) for r in PRIVATE_RANGES):
        raise ValueError(
            f"must be private address space ({', '.join(map(str, PRIVATE_RANGES))}): a public range in a VPC "
            "shadows the internet hosts that own it, so the nodes could not reach them, and some AWS services "
            "refuse such VPCs"
        )
    return value


def _dns_label(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", value):
        raise ValueError("must be a DNS label (lowercase letters, digits and hyphens, at most 63) such as apps")
    return value


def _not_reserved(value: str) -> str:
    if value in SYSTEM_NAMESPACES or value.startswith("kube-"):
        raise ValueError(
            f"is a Kubernetes system namespace ({', '.join(SYSTEM_NAMESPACES)} and every kube-* name): "
            "Kubernetes keeps them for the control plane and its add-ons, which the default-deny "
            "NetworkPolicy would cut off; use a namespace of your own such as apps"
        )
    if value in PLATFORM_NAMESPACES:
        raise ValueError(
            f"is one of the platform's own namespaces ({', '.join(PLATFORM_NAMESPACES)}), which the platform "
            "creates and manages for its in-cluster services; use another name"
        )
    return value


Namespace = Annotated[str, AfterValidator(_dns_label), AfterValidator(_not_reserved)]

_IAM_PRINCIPAL = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")


def _iam_principal(value: str) -> str:
    if not _IAM_PRINCIPAL.match(value):
        raise ValueError("must be an IAM role or user ARN such as arn:aws:iam::123456789012:role/platform-deployer")
    return value


IamPrincipal = Annotated[str, AfterValidator(_iam_principal)]


class Model(BaseModel):
    """Base of every config object: camelCase keys, no unknown keys, no coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        strict=True,
        frozen=True,
        use_attribute_docstrings=True,
    )

    @model_validator(mode="after")
    def _rules_hold(self) -> Self:
        """Run every rule of the model (see ``rule``) and report each one broken."""
        fields = {f.alias: name for name, f in type(self).model_fields.items()}
        errors = []
        for check, key in _rules_of(type(self)):
            message = check(self)
            if message is None:
                continue
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("config_rule", "{message}", {"message": message}),
                    loc=(key,) if key else (),
                    input=getattr(self, fields[key]) if key else self.model_dump(by_alias=True),
                )
            )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


# --- areas ------------------------------------------------------------------


class SubnetCidrs(Model):
    """Explicit subnet ranges per tier, one per availability zone, in AZ order."""

    public: list[VpcCidr]
    """Load balancers and NAT gateways."""
    private: list[VpcCidr]
    """Nodes and pods."""
    database: list[VpcCidr]
    """RDS and ElastiCache; no internet route."""


class NetworkConfig(Model):
    vpc_cidr: Annotated[VpcCidr, AfterValidator(_private_range)] = "10.0.0.0/16"
    """The VPC's IPv4 range, private address space; every subnet is carved from it."""
    availability_zones: list[str] = Field(min_length=2)
    """AZ names, in order (at least 2). Fixed in config, not looked up, so that
    the subnet of each AZ never moves when AWS adds a zone."""
    nat_gateways: Literal["one_per_az", "single"] = "one_per_az"
    """one_per_az: an AZ outage does not cut egress for the others (default).
    single: one shared NAT gateway, cheaper, for non-production stacks."""
    public_prefix_length: int = Field(default=24, ge=16, le=27)
    """Size of each public subnet (load balancers, NAT gateways) when computed."""
    private_prefix_length: int = Field(default=19, ge=16, le=28)
    """Size of each private subnet when computed; large, because the VPC CNI
    gives every pod an address from it."""
    database_prefix_length: int = Field(default=24, ge=16, le=28)
    """Size of each database subnet when computed."""
    subnets: SubnetCidrs | None = None
    """Explicit subnet ranges; left out, they are computed from vpcCidr."""
    flow_logs_retention_days: LogRetentionDays = 365
    """Retention of the VPC flow log group."""
    interface_endpoints: list[str] = ["ecr.api", "ecr.dkr", "sts", "logs"]
    """Interface endpoints (service suffixes of com.amazonaws.<region>.) so that
    image pulls, STS and log shipping do not cross the NAT gateways."""
    protect_flow_logs: bool = True
    """Protect the flow-log key and log group from deletion (the logs are audit evidence)."""

    @field_validator("availability_zones")
    @classmethod
    def _distinct_zones(cls, zones: list[str]) -> list[str]:
        if len(set(zones)) != len(zones):
            raise ValueError("must not repeat a zone")
        return zones

    @field_validator("interface_endpoints")
    @classmethod
    def _endpoint_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"[a-z0-9]+([.-][a-z0-9]+)*", name):
                raise ValueError(f"{name!r} is not a service name such as ecr.api")
        return names

    @rule("interfaceEndpoints")
    def _s3_not_an_interface_endpoint(self) -> str | None:
        if "s3" in self.interface_endpoints:
            return (
                f"got {_show(self.interface_endpoints)}: s3 always has a gateway endpoint (free); do not list it here"
            )
        return None

    @rule("interfaceEndpoints")
    def _endpoints_listed_once(self) -> str | None:
        normalised = [n.replace(".", "-") for n in self.interface_endpoints]
        if len(set(normalised)) != len(normalised):
            return f"got {_show(self.interface_endpoints)}: lists a service twice (ecr.api and ecr-api are one)"
        return None

    @rule()
    def _subnets_fit_the_vpc(self) -> str | None:
        try:
            subnet_layout(self)
        except ValueError as err:
            return str(err)
        return None


class Taint(Model):
    key: str
    """Taint key, e.g. workload."""
    value: str = ""
    """Taint value; left out, empty."""
    effect: Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]
    """What happens to pods that do not tolerate the taint."""


class NodeGroupConfig(Model):
    ami_type: Literal[
        "AL2023_ARM_64_STANDARD", "AL2023_x86_64_STANDARD", "BOTTLEROCKET_ARM_64", "BOTTLEROCKET_x86_64"
    ] = "AL2023_ARM_64_STANDARD"
    """AMI type; arm64 (Graviton) by default, so the instance types must be Graviton ones."""
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,37}$")
    """Short name of the group (lowercase, digits, hyphens)."""
    instance_types: list[InstanceType] = Field(min_length=1)
    """EC2 instance types, most preferred first (Graviton types for arm64, others for x86_64)."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    """SPOT only where interruptions are acceptable."""
    min_size: int = Field(ge=0)
    """Fewest nodes the autoscaler keeps."""
    max_size: int = Field(ge=1)
    """Most nodes the autoscaler may add."""
    desired_size: int | None = None
    """Initial size; left out, min size. Ignored after creation (autoscaler)."""
    disk_size_gib: int = Field(default=50, ge=20, le=16384)
    """Root volume size (encrypted gp3)."""
    labels: dict[str, str] = {}
    """Kubernetes labels on every node of the group."""
    taints: list[Taint] = []
    """Taints that keep other pods off the group."""

    @rule()
    def _min_size_within_max(self) -> str | None:
        if self.min_size > self.max_size:
            return f"minSize ({self.min_size}) must not exceed maxSize ({self.max_size})"
        return None

    @rule()
    def _desired_size_within_bounds(self) -> str | None:
        desired = self.desired_size
        if desired is None or self.min_size > self.max_size:  # no bounds to be within (the rule above)
            return None
        if not self.min_size <= desired <= self.max_size:
            return f"desiredSize ({desired}) must be within [minSize, maxSize] = [{self.min_size}, {self.max_size}]"
        return None

    @rule("instanceTypes")
    def _instance_types_match_architecture(self) -> str | None:
        # EKS would accept the group and its nodes would never join: the AMI cannot boot.
        arm = "ARM_64" in self.ami_type
        wrong = [t for t in self.instance_types if is_graviton(t) != arm]
        if not wrong:
            return None
        kind = "Graviton (arm64)" if arm else "x86_64 (not Graviton)"
        return f"got {_show(wrong)}: amiType {self.ami_type} runs on {kind} instance types only"


class ClusterConfig(Model):
    kubernetes_version: str = "1.35"
    """Kubernetes minor version, one in EKS standard support (no extended-support fees)."""
    admin_principals: list[IamPrincipal] = Field(min_length=1)
    """IAM roles or users granted cluster-admin through EKS access entries (nobody is admin implicitly)."""
    deployer_principal: IamPrincipal
    """The IAM role (or user) that runs `pulumi up` (e.g. the CI role): it must be an admin, or the
    in-cluster resources cannot be created."""
    preview_principals: list[IamPrincipal] = []
    """IAM roles that may read every object of the cluster, Secrets included, and change none (EKS access policy
    AmazonEKSAdminViewPolicy): the CI preview and drift roles (bootstrap/), so that `pulumi preview` and the drift
    check can read the Kubernetes objects (and the load balancer controller's chart its live webhook Secret);
    pulumi-kubernetes falls back to a client-side diff when a server-side dry run is forbidden."""
    api_access_cidrs: list[Cidr] = []
    """Private networks (a self-hosted CI runner's subnet, a VPN) allowed to the private API
    endpoint on 443. `pulumi up` creates in-cluster objects, so it must run from one of them
    (or from a public CIDR when the public endpoint is on). Left out, only the nodes reach the API."""
    kubeconfig_role_arn: IamPrincipal | None = None
    """Role `aws eks get-token` assumes for the Kubernetes provider and the kubeconfig; left out,
    the caller's own credentials."""
    kubeconfig_profile: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    """AWS profile for `aws eks get-token`; left out, the default credential chain."""
    log_retention_days: LogRetentionDays = 90
    """Retention of the control-plane log group."""
    protect: bool = True
    """EKS deletion protection and Pulumi `protect` on the cluster and its key (the key encrypts
    Kubernetes secrets and persistent volumes); turn off only for non-production."""
    addon_versions: dict[
        Literal["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver"], str
    ] = {}
    """Pinned add-on versions (e.g. v1.20.4-eksbuild.1). An add-on left out follows EKS's *default*
    build for the cluster's Kubernetes version (not the newest): the data source
    `aws.eks.get_addon_version_output(most_recent=False)` is read again on every run, so when AWS
    moves its default, an unrelated `pulumi up` re-rolls the add-on. Prod pins every add-on in
    Pulumi.prod.yaml, so that only a reviewed change moves one."""
    endpoint_public_access: bool = False
    """Public API endpoint; off by default (the private endpoint is always on)."""
    public_access_cidrs: list[Cidr] = []
    """CIDRs allowed to reach the public endpoint; required when it is on; never 0.0.0.0/0."""
    node_groups: list[NodeGroupConfig] = Field(min_length=1)
    """Managed node groups (at least one)."""

    @field_validator("kubernetes_version")
    @classmethod
    def _standard_support(cls, version: str) -> str:
        if version not in EKS_STANDARD_SUPPORT:
            raise ValueError(f"must be a version in EKS standard support {list(EKS_STANDARD_SUPPORT)}")
        return version

    @field_validator("addon_versions")
    @classmethod
    def _addon_versions(cls, versions: dict[str, str]) -> dict[str, str]:
        for name, version in versions.items():
            if not re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", version):
                raise ValueError(f"{name}: {version!r} is not an EKS add-on version such as v1.20.4-eksbuild.1")
        return versions

    @rule()
    def _kubeconfig_role_is_admin(self) -> str | None:
        if self.kubeconfig_role_arn is not None and self.kubeconfig_role_arn not in self.admin_principals:
            return (
                f"kubeconfigRoleArn {self.kubeconfig_role_arn} is not among adminPrincipals: the Kubernetes "
                "provider signs as that role and would be refused"
            )
        return None

    @rule("previewPrincipals")
    def _previewers_are_not_admins(self) -> str | None:
        both = sorted(set(self.preview_principals) & set(self.admin_principals))
        if both:
            return f"{', '.join(both)} is also in adminPrincipals: a principal is an admin or a previewer, not both"
        return None

    @rule()
    def _deployer_is_admin(self) -> str | None:
        if self.deployer_principal not in self.admin_principals:
            return (
                f"deployerPrincipal {self.deployer_principal} is not among adminPrincipals: the identity that "
                "runs `pulumi up` could not create the in-cluster resources"
            )
        return None

    @rule()
    def _api_access_not_world(self) -> str | None:
        if "0.0.0.0/0" in self.api_access_cidrs:
            return "apiAccessCidrs must not contain 0.0.0.0/0; list the networks CI and admins use"
        return None

    @rule()
    def _public_access_not_world(self) -> str | None:
        if "0.0.0.0/0" in self.public_access_cidrs:
            return "publicAccessCidrs must not contain 0.0.0.0/0; list the CIDRs allowed"
        return None

    @rule()
    def _public_endpoint_has_cidrs(self) -> str | None:
        if self.endpoint_public_access and not self.public_access_cidrs:
            return "endpointPublicAccess needs publicAccessCidrs (never open to the world)"
        return None

    @rule()
    def _schedulable_group_exists(self) -> str | None:
        if not any(
            g.min_size >= 1 and all(t.effect == "PREFER_NO_SCHEDULE" for t in g.taints) for g in self.node_groups
        ):
            return (
                "nodeGroups needs a group without NO_SCHEDULE/NO_EXECUTE taints and minSize >= 1: "
                "CoreDNS and the other add-ons would have nowhere to run"
            )
        return None

    @rule()
    def _node_group_names_unique(self) -> str | None:
        names = [g.name for g in self.node_groups]
        if len(set(names)) != len(names):
            return f"node group names must be unique, got {names}"
        return None


class DatabaseConfig(Model):
    engine_version: str = Field(default="17", pattern=r"^\d{2}$")
    """PostgreSQL major version; RDS keeps the minor current (automatic minor upgrades), so a
    pinned minor would become a downgrade the next time AWS upgrades it."""
    instance_class: str = Field(default="db.r7g.large", pattern=RDS_CLASS)
    """RDS instance class (Graviton: db.t4g for dev, db.r7g for prod)."""
    allocated_storage_gib: int = Field(default=100, ge=20, le=65536)
    """Initial gp3 storage."""
    max_allocated_storage_gib: int = Field(default=500, ge=20, le=65536)
    """Ceiling of storage autoscaling; at least 10% above allocatedStorageGib (an RDS limit)."""
    backup_retention_days: int = Field(default=30, ge=1, le=35)
    """Automated backup retention, 1..35 days."""
    multi_az: bool = True
    """Standby in another AZ; turn off only for non-production."""
    deletion_protection: bool = True
    """RDS deletion protection and Pulumi `protect`; turn off only for non-production."""
    skip_final_snapshot: bool = False
    """Delete without a final snapshot; only for disposable stacks (never prod)."""
    performance_insights_retention_days: int = Field(default=7, ge=7, le=731)
    """Performance Insights retention (7 days is free)."""
    log_retention_days: LogRetentionDays = 30
    """Retention of the postgresql and upgrade log groups."""

    @field_validator("engine_version")
    @classmethod
    def _supported_major(cls, version: str) -> str:
        if int(version) not in POSTGRES_MAJORS:
            raise ValueError(f"must be a PostgreSQL major in RDS standard support {list(POSTGRES_MAJORS)}")
        return version

    @field_validator("performance_insights_retention_days")
    @classmethod
    def _insights_retention(cls, days: int) -> int:
        if days not in (7, 731) and days % 31 != 0:
            raise ValueError("must be 7, 731 or a multiple of 31 (months)")
        return days

    @rule("maxAllocatedStorageGib")
    def _autoscaling_ceiling_10_percent_above_allocated(self) -> str | None:
        # RDS refuses a MaxAllocatedStorage less than 10% above AllocatedStorage. Integer
        # arithmetic: math.ceil(100 * 1.1) is 111 in floating point, not 110.
        minimum = -(-self.allocated_storage_gib * 11 // 10)
        if self.max_allocated_storage_gib >= minimum:
            return None
        return (
            f"got {self.max_allocated_storage_gib}: must be at least {minimum}, 10% above "
            f"allocatedStorageGib ({self.allocated_storage_gib}): RDS refuses a storage-autoscaling ceiling "
            "closer to the allocated storage"
        )


class CacheConfig(Model):
    engine: Literal["redis", "valkey"] = "redis"
    """ElastiCache engine."""
    engine_version: str | None = Field(default=None, pattern=r"^\d+\.\d+$")
    """Engine major.minor; left out, 7.1 for redis and 8.0 for valkey."""
    node_type: str = Field(default="cache.r7g.large", pattern=CACHE_NODE_TYPE)
    """Node type (Graviton: cache.t4g for dev, cache.r7g for prod)."""
    num_cache_clusters: int = Field(default=3, ge=1, le=6)
    """Primary plus replicas; 1 means a single node without failover."""
    snapshot_retention_days: int = Field(default=7, ge=0, le=35)
    """Daily snapshot retention, 0..35 days (0 turns snapshots off)."""
    protect: bool = True
    """Pulumi `protect` on the replication group and its key; turn off only for non-production."""
    log_retention_days: LogRetentionDays = 30
    """Retention of the slow-log and engine-log groups."""

    @rule()
    def _engine_version_offered(self) -> str | None:
        if self.engine_version is not None and self.engine_version not in CACHE_VERSIONS[self.engine]:
            return (
                f"engineVersion {self.engine_version} is not a {self.engine} version ElastiCache offers "
                f"{list(CACHE_VERSIONS[self.engine])}"
            )
        return None

    @property
    def version(self) -> str:
        """The engine version to run."""
        return self.engine_version or DEFAULT_CACHE_VERSION[self.engine]


JOBS_IMAGE_TAG = "0.1.0"
"""The backup jobs' image tag: the version of jobs/ (jobs/platform_backup/__init__.py) at this commit."""
ImageTag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
DatabaseName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")]


class BackupJobsConfig(Model):
    """The backup CronJobs of namespace backups (components/backup_jobs.py, jobs/)."""

    image_tag: ImageTag = JOBS_IMAGE_TAG
    """Tag of the job image in the stack's ECR repository (<project>-<stack>-backup-jobs; tags are immutable).
    The image must be pushed before the jobs run: docs/disaster-recovery.md, "First deploy"."""
    image_digest: str | None = Field(default=None, pattern=r"^sha256:[a-f0-9]{64}$")
    """The image's digest (``sha256:...``), to pin the tag's image by content too (the tag stays, to read)."""
    postgres_databases: list[DatabaseName] = []
    """Databases backup-postgres dumps; empty: every database on the server (but the templates and rdsadmin)."""

    @rule("postgresDatabases")
    def _databases_unique(self) -> str | None:
        repeated = sorted({d for d in self.postgres_databases if self.postgres_databases.count(d) > 1})
        return f"names a database more than once: {', '.join(repeated)}" if repeated else None


class BackupsConfig(Model):
    dr_region: Region | None = None
    """Region of the off-site copy; required while replicate is on."""
    replicate: bool = True
    """Copy every backup object to drRegion (the off-site copy of the 3-2-1 rule); also
    replicates the database's automated backups there."""
    protect: bool = True
    """Pulumi `protect` on the buckets and keys; turn off only for non-production."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete a bucket that still holds objects; only for disposable stacks."""
    object_lock: bool = True
    """S3 Object Lock in governance mode on the backup bucket (against ransomware and mistakes)."""
    object_lock_days: int = Field(default=7, ge=1, le=7)
    """Default Object Lock retention; at most the shortest expiry (redis/, 7 days)."""
    access_log_retention_days: int = Field(default=90, ge=1, le=3650)
    """How long the log bucket keeps S3 server access logs."""
    jobs: BackupJobsConfig = BackupJobsConfig()
    """The backup jobs: PostgreSQL dumps, Redis snapshots, the namespaces' objects, verification."""

    @rule()
    def _replication_has_dr_region(self) -> str | None:
        if self.replicate and self.dr_region is None:
            return "replicate is on but drRegion is not set"
        return None

    @rule()
    def _force_destroy_needs_protect_off(self) -> str | None:
        if self.force_destroy and self.protect:
            return "forceDestroy needs protect off (a protected bucket cannot be destroyed anyway)"
        return None


Quantity = Annotated[str, Field(pattern=r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$")]
"""A Kubernetes resource quantity such as 500m, 2 or 512Mi."""
_QUANTITY_UNITS = {"m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: str) -> float:
    """A Quantity as a number (cores, or bytes), to compare two of them."""
    for unit, factor in _QUANTITY_UNITS.items():
        if value.endswith(unit):
            return float(value.removesuffix(unit)) * factor
    return float(value)


class NamespaceQuota(Model):
    """ResourceQuota and LimitRange of every application namespace (what one team may use)."""

    requests_cpu: Quantity = "8"
    """Sum of the CPU requests of the namespace's pods."""
    requests_memory: Quantity = "16Gi"
    """Sum of their memory requests."""
    limits_cpu: Quantity = "16"
    """Sum of their CPU limits."""
    limits_memory: Quantity = "32Gi"
    """Sum of their memory limits."""
    pods: int = Field(default=100, ge=1)
    """Pods at most."""
    persistent_volume_claims: int = Field(default=20, ge=0)
    """PersistentVolumeClaims at most."""
    load_balancer_services: int = Field(default=0, ge=0)
    """Services of type LoadBalancer at most (0: traffic enters through Ingresses and the ALB)."""
    default_request_cpu: Quantity = "100m"
    """CPU request of a container that sets none (LimitRange)."""
    default_request_memory: Quantity = "128Mi"
    """Memory request of a container that sets none."""
    default_limit_cpu: Quantity = "500m"
    """CPU limit of a container that sets none."""
    default_limit_memory: Quantity = "512Mi"
    """Memory limit of a container that sets none."""
    max_cpu: Quantity = "4"
    """CPU limit of one container at most."""
    max_memory: Quantity = "8Gi"
    """Memory limit of one container at most."""

    @rule()
    def _container_defaults_in_order(self) -> str | None:
        # The API server refuses a LimitRange whose default request exceeds its default limit, or whose
        # default limit exceeds its max: say so here, before `pulumi up` is half done.
        for resource, (request, limit, most) in {
            "cpu": (self.default_request_cpu, self.default_limit_cpu, self.max_cpu),
            "memory": (self.default_request_memory, self.default_limit_memory, self.max_memory),
        }.items():
            if not quantity(request) <= quantity(limit) <= quantity(most):
                return (
                    f"{resource}: defaultRequest ({request}) <= defaultLimit ({limit}) <= max ({most}) must hold "
                    "(a LimitRange the API server would refuse)"
                )
        return None


# --- services (workloads.services) ------------------------------------------------

# An image reference: registry/repository, then a tag, a digest or both. `latest`, or no tag at all (which
# means latest), would make every node pull whatever was pushed last: a rollout nobody reviewed.
_IMAGE = re.compile(
    r"^(?P<repository>[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(:[0-9]+(?=/))?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*)"
    r"(:(?P<tag>[\w][\w.-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _pinned_image(value: str) -> str:
    match = _IMAGE.match(value)
    if match is None:
        raise ValueError("must be an image reference such as ghcr.io/org/app:1.4.2 or ghcr.io/org/app@sha256:<64 hex>")
    tag, digest = match["tag"], match["digest"]
    if digest is None and (tag is None or tag == "latest"):
        raise ValueError(
            "must be pinned: a version tag (ghcr.io/org/app:1.4.2) or a digest (@sha256:...); "
            f"{'latest' if tag else 'no tag (which means latest)'} would deploy whatever was pushed last"
        )
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]

_ACM_CERTIFICATE = re.compile(r"^arn:aws(-[a-z]+)*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")


def _acm_certificate(value: str) -> str:
    if not _ACM_CERTIFICATE.match(value):
        raise ValueError(
            "must be an ACM certificate ARN such as "
            "arn:aws:acm:ca-central-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
        )
    return value


AcmCertificate = Annotated[str, AfterValidator(_acm_certificate)]

# Environment variable names that say "credential": their values come from the ExternalSecret (database,
# redis) or the pod's IAM role, never from a literal in a stack file.
_CREDENTIAL_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)")


# The variables a service with database / redis gets (components/service.py).
INJECTED_ENV = (
    "DATABASE_HOST",
    "DATABASE_PORT",
    "DATABASE_SSLMODE",
    "DATABASE_USERNAME",
    "DATABASE_PASSWORD",
    "DATABASE_PASSWORD_FILE",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_TLS",
    "REDIS_AUTH_TOKEN",
    "REDIS_AUTH_TOKEN_FILE",
)


class ResourceAmounts(Model):
    cpu: Quantity | None = None
    """CPU (cores or millicores such as 250m)."""
    memory: Quantity | None = None
    """Memory (such as 256Mi)."""


class ServiceResources(Model):
    requests: ResourceAmounts
    """What the scheduler reserves (and what HPA utilisation is measured against): cpu and memory."""
    limits: ResourceAmounts
    """The most the container may use: cpu and memory."""

    @rule()
    def _requests_within_limits(self) -> str | None:
        for resource in ("cpu", "memory"):
            request, limit = getattr(self.requests, resource), getattr(self.limits, resource)
            if request is not None and limit is not None and quantity(request) > quantity(limit):
                return f"requests.{resource} ({request}) must not exceed limits.{resource} ({limit})"
        return None


class ScalingPolicy(Model):
    type: Literal["Pods", "Percent"]
    """Pods: a number of pods; Percent: a share of the current replicas."""
    value: int = Field(ge=1)
    """How many pods (or percent) at most per period."""
    period_seconds: int = Field(ge=1, le=1800)
    """The period the value applies to."""


class ScalingRules(Model):
    stabilization_window_seconds: int = Field(ge=0, le=3600)
    """Recommendations of the last this many seconds are considered (the highest for scale-down)."""
    policies: list[ScalingPolicy] = Field(min_length=1)
    """How fast replicas may change."""
    select_policy: Literal["Max", "Min"] = "Max"
    """Which policy wins when several allow a change (Max: the larger change)."""


def _scale_up() -> ScalingRules:
    # The teams' guide: react within a minute, +50% or +2 pods per minute, whichever is more.
    return ScalingRules.model_validate(
        {
            "stabilizationWindowSeconds": 60,
            "policies": [
                {"type": "Percent", "value": 50, "periodSeconds": 60},
                {"type": "Pods", "value": 2, "periodSeconds": 60},
            ],
            "selectPolicy": "Max",
        }
    )


def _scale_down() -> ScalingRules:
    # The teams' guide: wait 5 minutes of lower load, then shed at most 10% a minute.
    return ScalingRules.model_validate(
        {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
            "selectPolicy": "Max",
        }
    )


class Autoscaling(Model):
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU and memory utilisation of the requests."""

    min_replicas: int = Field(ge=1, le=1000)
    """Fewest pods."""
    max_replicas: int = Field(ge=1, le=1000)
    """Most pods."""
    cpu_utilization: int | None = Field(default=70, ge=1, le=100)
    """Target average CPU use, percent of the request (null: do not scale on CPU)."""
    memory_utilization: int | None = Field(default=80, ge=1, le=100)
    """Target average memory use, percent of the request (null: do not scale on memory)."""
    scale_up: ScalingRules = Field(default_factory=_scale_up)
    """behavior.scaleUp (default: 60 s window, +50% or +2 pods a minute, whichever is more)."""
    scale_down: ScalingRules = Field(default_factory=_scale_down)
    """behavior.scaleDown (default: 300 s window, -10% a minute)."""

    @rule()
    def _bounds_in_order(self) -> str | None:
        if self.min_replicas > self.max_replicas:
            return f"minReplicas ({self.min_replicas}) must not exceed maxReplicas ({self.max_replicas})"
        if self.cpu_utilization is None and self.memory_utilization is None:
            return "cpuUtilization and memoryUtilization are both null: the HPA would have no metric"
        return None


class Probe(Model):
    path: str = Field(pattern=r"^/[^\s]*$")
    """HTTP path, on the service's port."""
    initial_delay_seconds: int = Field(default=0, ge=0, le=600)
    period_seconds: int = Field(default=10, ge=1, le=300)
    timeout_seconds: int = Field(default=3, ge=1, le=60)
    failure_threshold: int = Field(default=3, ge=1, le=120)


class Probes(Model):
    """Kubelet probes, all HTTP GET on the service's port."""

    readiness: Probe
    """Traffic only to pods that answer (and none to a pod that is shutting down)."""
    liveness: Probe
    """A pod that stops answering is restarted."""
    startup: Probe | None = None
    """Holds the other two until the pod has started; left out, the liveness path with 30 tries (5 minutes)."""


class IngressConfig(Model):
    host: str = Field(pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    """Host name the load balancer routes on (its DNS record is yours to create)."""
    path: str = Field(default="/", pattern=r"^/[A-Za-z0-9/._~-]*$")
    """Path prefix."""
    certificate_arn: AcmCertificate
    """ACM certificate for the host (HTTPS only; HTTP redirects to it)."""
    internet_facing: bool = False
    """An internet-facing load balancer; the namespace must be in
    addons.loadBalancerController.internetFacingNamespaces. Otherwise internal (reachable in the VPC)."""


class DisruptionBudget(Model):
    """The PodDisruptionBudget: set one of the two."""

    max_unavailable: int | None = Field(default=None, ge=0)
    """Pods a voluntary disruption (a node drain) may take down at once."""
    min_available: int | None = Field(default=None, ge=0)
    """Pods that must stay up during one."""

    @rule()
    def _one_of(self) -> str | None:
        if (self.max_unavailable is None) == (self.min_available is None):
            return "set exactly one of maxUnavailable and minAvailable"
        return None


class IamStatement(Model):
    actions: list[str] = Field(min_length=1)
    """IAM actions, service:Action (a trailing * in the action name is allowed, a bare * is not)."""
    resources: list[str] = Field(min_length=1)
    """Exact ARNs (a * inside an ARN's resource part is allowed, a bare * is not)."""

    @field_validator("actions")
    @classmethod
    def _actions(cls, actions: list[str]) -> list[str]:
        for action in actions:
            if not re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+\*?", action):
                raise ValueError(f"action {action!r} must be service:Action such as s3:GetObject (no bare *)")
            if action.split(":")[0] in _ESCALATING_SERVICES:
                raise ValueError(
                    f"action {action!r}: a service's role may not use {', '.join(_ESCALATING_SERVICES)} (it could "
                    "grant itself more, or become another role); ask the platform team for a role of its own"
                )
        return actions

    @field_validator("resources")
    @classmethod
    def _resources(cls, resources: list[str]) -> list[str]:
        for arn in resources:
            match = re.fullmatch(
                r"arn:aws(-[a-z]+)*:(?P<service>[a-z0-9-]+):[a-z0-9-]*:(\d{12})?:(?P<resource>\S+)", arn
            )
            if match is None:
                raise ValueError(f"resource {arn!r} must be an ARN such as arn:aws:s3:::my-bucket/* (no bare *)")
            if _type_wide(match["service"], match["resource"]):
                raise ValueError(
                    f"resource {arn!r} names every resource of its kind; name the exact ones "
                    "(a * after a name, such as my-bucket/* or secret:orders-*, is fine)"
                )
        return resources


# Services whose ARNs name a resource without a type (arn:aws:sqs:<region>:<account>:<queue>); S3's are
# <bucket>/<key>. Every other service's resource starts with its type (secret:, table/, role/, ...).
_UNTYPED_ARNS = ("sqs", "sns")


def _type_wide(service: str, resource: str) -> bool:
    """Whether a resource pattern names every resource of its kind (IAM's * also matches : and /)."""
    if "*" not in resource:
        return False
    before = resource.split("*", 1)[0]
    if service == "s3":
        # A wildcard in the bucket name reaches other buckets; `bucket/*` is the objects of one.
        return "/" not in before or before.split("/", 1)[0] == ""
    if service in _UNTYPED_ARNS:
        return before == ""
    # A type, its separator and at least one literal character before the first *: secret:orders-*.
    return re.match(r"[A-Za-z][A-Za-z0-9-]*[:/][^*]", before) is None


# IAM actions of these services let a role widen its own permissions or act as another principal.
_ESCALATING_SERVICES = ("iam", "sts", "organizations")


EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ServiceConfig(Model):
    """One application service: a Deployment with its Service, autoscaler, budget, policies and ingress."""

    namespace: Namespace
    """One of workloads.namespaces."""
    image: PinnedImage
    """Container image, pinned by version tag or digest."""
    port: int = Field(ge=1024, le=65535)
    """The container's HTTP port (unprivileged: the container runs as non-root with no capabilities)."""
    metrics_port: int | None = Field(default=None, ge=1024, le=65535)
    """Port of the Prometheus metrics; left out, the service's port."""
    metrics_path: str = Field(default="/metrics", pattern=r"^/[^\s]*$")
    """Path of the Prometheus metrics."""
    args: list[str] = []
    """Container arguments."""
    env: dict[EnvName, str] = {}
    """Plain environment variables (credentials come from database/redis or the pod's role, never here)."""
    resources: ServiceResources
    """Requests and limits (required)."""
    replicas: int = Field(default=2, ge=1, le=1000)
    """Pods when there is no autoscaling; with autoscaling, the count at creation (within its bounds)."""
    autoscaling: Autoscaling | None = None
    """A HorizontalPodAutoscaler; left out, a fixed replica count."""
    disruption_budget: DisruptionBudget = DisruptionBudget.model_validate({"maxUnavailable": 1})
    """The PodDisruptionBudget (default: one pod at a time may be evicted)."""
    probes: Probes
    """Startup, readiness and liveness probes."""
    ingress: IngressConfig | None = None
    """Traffic from a load balancer (the AWS Load Balancer Controller); left out, in-cluster only."""
    database: bool = False
    """Needs PostgreSQL: egress to it, and its credentials as DATABASE_* variables from Secrets Manager."""
    redis: bool = False
    """Needs Redis: egress to it, and its auth token as REDIS_* variables from Secrets Manager."""
    aws_permissions: list[IamStatement] = []
    """AWS permissions of the pod's IAM role (IRSA); left out, no role at all."""
    kubernetes_api: bool = False
    """The pods call the Kubernetes API (mount the service account token); off for nearly every service."""
    writable_paths: list[str] = ["/tmp"]
    """Directories the app writes to (emptyDirs: the root filesystem is read-only)."""
    run_as_user: int = Field(default=65532, ge=1)
    """The non-root user id the container runs as (and its group)."""
    termination_grace_period_seconds: int = Field(default=45, ge=1, le=600)
    """Time from SIGTERM to SIGKILL; must cover the pre-stop pause and the app's own draining."""
    pre_stop_seconds: int = Field(default=15, ge=0, le=120)
    """Pause before SIGTERM, while the load balancer and kube-proxy stop sending traffic to the pod."""

    @rule("env")
    def _no_injected_names_in_env(self) -> str | None:
        injected = {
            n
            for n in INJECTED_ENV
            if (self.database and n.startswith("DATABASE_")) or (self.redis and n.startswith("REDIS_"))
        }
        taken = sorted(set(self.env) & injected)
        if taken:
            return f"{', '.join(taken)}: set by the platform (database: true / redis: true); use other names"
        return None

    @rule("env")
    def _no_credentials_in_env(self) -> str | None:
        named = sorted(name for name in self.env if _CREDENTIAL_NAME.search(name.upper()))
        if named:
            return (
                f"{', '.join(named)} look{'s' if len(named) == 1 else ''} like credentials: a value here would sit "
                "in plain text in the stack file, the state and the Deployment; use database: true / redis: true "
                "(credentials from Secrets Manager) or awsPermissions (the pod's IAM role)"
            )
        return None

    @rule("resources")
    def _requests_and_limits_set(self) -> str | None:
        resources = self.resources
        missing = [
            f"{kind}.{r}"
            for kind, amounts in (("requests", resources.requests), ("limits", resources.limits))
            for r in ("cpu", "memory")
            if getattr(amounts, r) is None and f"{kind}.{r}" not in self._hpa_requests_missing()
        ]
        if missing:
            return (
                f"{', '.join(missing)} must be set (the scheduler, the namespace's quota, the HPA and the policy "
                "pack need requests and limits of both)"
            )
        return None

    @rule("replicas")
    def _replicas_within_bounds(self) -> str | None:
        scaling = self.autoscaling
        if scaling is not None and not scaling.min_replicas <= self.replicas <= scaling.max_replicas:
            return (
                f"got {self.replicas}: must be within autoscaling [minReplicas, maxReplicas] = "
                f"[{scaling.min_replicas}, {scaling.max_replicas}]"
            )
        return None

    def _hpa_requests_missing(self) -> list[str]:
        """The requests the HPA measures against that are not set (the rule below reports them)."""
        scaling = self.autoscaling
        if scaling is None:
            return []
        return [
            f"requests.{resource}"
            for resource, target in (("cpu", scaling.cpu_utilization), ("memory", scaling.memory_utilization))
            if target is not None and getattr(self.resources.requests, resource) is None
        ]

    @rule("autoscaling")
    def _autoscaling_has_requests(self) -> str | None:
        missing = [m.removeprefix("requests.") for m in self._hpa_requests_missing()]
        if missing:
            return (
                f"scales on {' and '.join(missing)} utilisation, but resources.requests.{missing[0]} is not set: "
                "utilisation is measured against the request, so the HPA could never compute it"
            )
        return None

    @rule("disruptionBudget")
    def _budget_allows_a_drain(self) -> str | None:
        fewest = self.autoscaling.min_replicas if self.autoscaling else self.replicas
        budget = self.disruption_budget
        if budget.max_unavailable == 0:
            return "maxUnavailable 0 blocks every node drain (no pod may ever be evicted); use 1 or more"
        if budget.min_available is not None and budget.min_available >= fewest:
            return (
                f"minAvailable {budget.min_available} with as few as {fewest} replicas blocks every node drain "
                f"(no pod could be evicted); use at most {fewest - 1} or maxUnavailable 1"
            )
        return None

    @rule("terminationGracePeriodSeconds")
    def _grace_covers_the_pause(self) -> str | None:
        if self.termination_grace_period_seconds <= self.pre_stop_seconds:
            return (
                f"got {self.termination_grace_period_seconds}: must exceed preStopSeconds ({self.pre_stop_seconds}), "
                "or the pod is killed before it has drained"
            )
        return None

    @rule("writablePaths")
    def _writable_paths(self) -> str | None:
        for path in self.writable_paths:
            reserved = path.rstrip("/") in ("", "/etc", "/var/run/secrets") or (path.rstrip("/") + "/").startswith(
                "/etc/platform/"
            )
            if not re.fullmatch(r"/[A-Za-z0-9._/-]+", path) or reserved:
                return (
                    f"got {_show(path)}: must be an absolute directory other than /, /etc, /var/run/secrets and "
                    "/etc/platform/... (where the credentials are mounted)"
                )
        if len(set(self.writable_paths)) != len(self.writable_paths):
            return f"got {_show(self.writable_paths)}: a path is listed twice"
        return None


ServiceName = Annotated[str, Field(pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")]
"""A service's name: a DNS label of at most 40 characters (it prefixes its objects' and IAM role's names)."""


class WorkloadsConfig(Model):
    namespaces: list[Namespace] = ["apps"]
    """Application namespaces (each gets Pod Security "restricted", a quota, container defaults and a
    default-deny NetworkPolicy); DNS labels, none of RESERVED_NAMESPACES nor any kube-* name."""
    quota: NamespaceQuota = NamespaceQuota()
    """Quota and container defaults of each application namespace."""
    data_tier_namespaces: list[Namespace] | None = None
    """Application namespaces whose pods may reach PostgreSQL and Redis (a service's NetworkPolicy opens
    egress to them only here); left out, every application namespace."""
    services: dict[ServiceName, ServiceConfig] = {}
    """Application services by name (see "Deploy your service" in the README)."""

    @property
    def data_namespaces(self) -> list[str]:
        return list(self.namespaces if self.data_tier_namespaces is None else self.data_tier_namespaces)


ChartVersion = Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
"""A chart version as its repository publishes it (x.y.z)."""


class AddonConfig(Model):
    version: ChartVersion
    """Chart version, pinned."""
    replicas: int = Field(default=2, ge=1, le=5)
    """Pods; more than one gets a PodDisruptionBudget and a spread across zones."""


class MetricsServerConfig(AddonConfig):
    version: ChartVersion = "3.13.1"


class ClusterAutoscalerConfig(AddonConfig):
    version: ChartVersion = "9.59.0"


class LoadBalancerControllerConfig(AddonConfig):
    version: ChartVersion = "3.5.0"
    internet_facing_namespaces: list[Namespace] = []
    """Application namespaces whose Ingresses may use the internet-facing class (alb-internet-facing);
    every other load balancer is internal."""
    ssl_policy: Literal[
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    ] = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS policy of every HTTPS listener: TLS 1.2 at least (1.3 preferred)."""


class ExternalSecretsConfig(AddonConfig):
    version: ChartVersion = "2.9.0"


class CrdChartConfig(Model):
    version: ChartVersion = "31.0.1"
    """Chart version, pinned."""


class VeleroConfig(Model):
    version: ChartVersion = "12.1.0"
    """velero chart version, pinned (one server: Velero runs a single controller)."""


class AddonsConfig(Model):
    """The in-cluster add-ons: each chart's version and replicas."""

    node_selector: dict[str, str] = {"node-group": "general"}
    """Labels of the nodes the add-ons run on: those of an untainted node group (the system nodes)."""
    metrics_server: MetricsServerConfig = MetricsServerConfig()
    """metrics-server (resource metrics for HPAs and `kubectl top`)."""
    cluster_autoscaler: ClusterAutoscalerConfig = ClusterAutoscalerConfig()
    """Cluster Autoscaler (grows and shrinks the managed node groups within their min and max)."""
    load_balancer_controller: LoadBalancerControllerConfig = LoadBalancerControllerConfig()
    """AWS Load Balancer Controller (ALBs for Ingresses, NLBs for Services)."""
    external_secrets: ExternalSecretsConfig = ExternalSecretsConfig()
    """External Secrets Operator (Secrets Manager secrets as Kubernetes Secrets)."""
    velero: VeleroConfig = VeleroConfig()
    """Velero (the application namespaces and their volumes, to the backup bucket's velero/ prefix)."""
    prometheus_operator_crds: CrdChartConfig = CrdChartConfig()
    """The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule, ...), on their own so that
    services can declare their monitors before, and independently of, the monitoring stack."""


class AlarmThresholds(Model):
    """CloudWatch alarm thresholds for the data tier (the teams' alert levels)."""

    rds_cpu_percent: float = Field(default=80, gt=0, le=100)
    """RDS CPUUtilization above this."""
    rds_freeable_memory_mib: int = Field(default=256, ge=16)
    """RDS FreeableMemory below this."""
    rds_connections_percent: float = Field(default=80, gt=0, le=100)
    """RDS DatabaseConnections above this share of max_connections."""
    rds_replica_lag_seconds: int = Field(default=10, ge=1)
    """RDS ReplicaLag above this (where replicas exist)."""
    cache_cpu_percent: float = Field(default=80, gt=0, le=100)
    """ElastiCache CPUUtilization above this."""
    cache_engine_cpu_percent: float = Field(default=80, gt=0, le=100)
    """ElastiCache EngineCPUUtilization above this."""
    cache_memory_percent: float = Field(default=80, gt=0, le=100)
    """ElastiCache DatabaseMemoryUsagePercentage above this."""
    cache_evictions: int = Field(default=1000, ge=0)
    """ElastiCache Evictions per 5 minutes above this (allkeys-lru evicts by design, so not 0)."""
    cache_replication_lag_seconds: int = Field(default=10, ge=1)
    """ElastiCache ReplicationLag above this (where replicas exist)."""


class PrometheusConfig(Model):
    replicas: int = Field(default=1, ge=1, le=3)
    """Prometheus servers, each scraping everything (2 in prod: one survives a node's loss or a rollout)."""
    storage_gib: int = Field(default=50, ge=10, le=16384)
    """Each server's gp3 volume; the size cap on retained data is 85% of it (the rest is the write-ahead
    log and compaction's headroom)."""
    memory: Quantity = "2Gi"
    """Each server's memory request and limit."""


class AlertmanagerConfig(Model):
    replicas: int = Field(default=1, ge=1, le=3)
    """Alertmanagers, gossiping silences and notifications (2 in prod)."""
    storage_gib: int = Field(default=2, ge=1, le=100)
    """Each one's gp3 volume (silences and the notification log)."""


class GrafanaConfig(Model):
    storage_gib: int = Field(default=10, ge=1, le=1000)
    """Grafana's gp3 volume (its SQLite database: users, preferences, dashboards saved in the UI)."""


class TracingConfig(Model):
    tempo: ChartVersion = "2.2.4"
    """tempo chart version (single-binary Tempo: traces kept in S3)."""
    collector: ChartVersion = "0.170.0"
    """opentelemetry-collector chart version (receives OTLP, Jaeger and Zipkin; samples; sends to Tempo)."""
    sampling_percentage: float = Field(default=100, gt=0, le=100)
    """Share of traces kept, decided per trace id at the collector (head sampling); prod keeps 10%."""


class LogsConfig(Model):
    fluent_bit: ChartVersion = "0.58.1"
    """fluent-bit chart version (the DaemonSet that ships container logs to CloudWatch Logs)."""
    retention_days: Annotated[int, AfterValidator(_log_retention)] = 30
    """How long CloudWatch Logs keeps the containers' logs (a CloudWatch retention period)."""


class MonitoringConfig(Model):
    kube_prometheus_stack: ChartVersion = "88.5.3"
    """kube-prometheus-stack chart version (Prometheus Operator, Prometheus, Alertmanager, Grafana,
    kube-state-metrics, node-exporter)."""
    cloudwatch_exporter: ChartVersion = "0.47.0"
    """prometheus-yet-another-cloudwatch-exporter chart version (RDS, ElastiCache and ACM metrics)."""
    prometheus_retention_days: int = Field(default=30, ge=1, le=365)
    """How long Prometheus keeps metrics."""
    prometheus: PrometheusConfig = PrometheusConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    tracing: TracingConfig = TracingConfig()
    """The OpenTelemetry Collector and Tempo."""
    logs: LogsConfig = LogsConfig()
    """Fluent Bit and the containers' log group."""
    alarms: AlarmThresholds = AlarmThresholds()
    """CloudWatch alarm thresholds; each left out keeps its default."""
    protect: bool = True
    """Pulumi `protect` on the alarm topic's key (deleting it silences every alarm); turn off only for
    non-production."""


class TagsConfig(Model):
    owner: str = Field(min_length=1, max_length=256)
    """Team that owns the stack (tag owner)."""
    cost_center: str = Field(min_length=1, max_length=256)
    """Cost center billed (tag cost-center)."""
    extra: dict[str, str] = {}
    """More tags for every resource; keys must not start with aws:."""

    @field_validator("extra")
    @classmethod
    def _tag_keys(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
                raise ValueError(f"tag {key!r} is not allowed (key 1..128 chars, not aws:, value <= 256)")
        return tags


AREAS: dict[str, type[Model]] = {
    "network": NetworkConfig,
    "cluster": ClusterConfig,
    "database": DatabaseConfig,
    "cache": CacheConfig,
    "backups": BackupsConfig,
    "workloads": WorkloadsConfig,
    "addons": AddonsConfig,
    "monitoring": MonitoringConfig,
    "tags": TagsConfig,
}


@dataclass(frozen=True)
class Settings:
    """The whole stack configuration, typed and validated."""

    project: str
    stack: str
    region: str
    network: NetworkConfig
    cluster: ClusterConfig
    database: DatabaseConfig
    cache: CacheConfig
    backups: BackupsConfig
    workloads: WorkloadsConfig
    addons: AddonsConfig
    monitoring: MonitoringConfig
    tags: TagsConfig
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secret values by key (without namespace), as secret Outputs."""


# --- subnet layout ------------------------------------------------------------


def subnet_layout(network: NetworkConfig) -> dict[str, list[ipaddress.IPv4Network]]:
    """Subnet ranges per tier, one per AZ in AZ order.

    Explicit ranges are checked; computed ones are carved from the VPC range,
    largest blocks first so that each block starts aligned and none overlap.
    Raises ValueError naming the problem.
    """
    vpc = ipaddress.IPv4Network(network.vpc_cidr)
    zones = len(network.availability_zones)
    if network.subnets is not None:
        layout = {tier: [ipaddress.IPv4Network(c) for c in getattr(network.subnets, tier)] for tier in TIERS}
        for tier, nets in layout.items():
            if len(nets) != zones:
                raise ValueError(f"subnets.{tier} has {len(nets)} ranges for {zones} availability zones")
            for net in nets:
                if not net.subnet_of(vpc):
                    raise ValueError(f"subnets.{tier} range {net} is outside vpcCidr {vpc}")
        flat = [(tier, net) for tier, nets in layout.items() for net in nets]
        for i, (tier_a, a) in enumerate(flat):
            for tier_b, b in flat[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"subnets.{tier_a} {a} overlaps subnets.{tier_b} {b}")
        return layout

    prefix = {
        "public": network.public_prefix_length,
        "private": network.private_prefix_length,
        "database": network.database_prefix_length,
    }
    for tier, length in prefix.items():
        if length < vpc.prefixlen:
            raise ValueError(f"{tier}PrefixLength /{length} is larger than vpcCidr {vpc}")
    needed = sum(zones * 2 ** (32 - length) for length in prefix.values())
    if needed > vpc.num_addresses:
        raise ValueError(
            f"{zones} AZs x (public /{prefix['public']}, private /{prefix['private']}, "
            f"database /{prefix['database']}) need {needed} addresses; vpcCidr {vpc} has {vpc.num_addresses}"
        )
    layout = {tier: [] for tier in TIERS}
    cursor = int(vpc.network_address)
    # Largest first: every block then starts on its own alignment, no gaps.
    for tier in sorted(TIERS, key=lambda t: prefix[t]):
        for _ in range(zones):
            layout[tier].append(ipaddress.IPv4Network((cursor, prefix[tier])))
            cursor += 2 ** (32 - prefix[tier])
    return layout


# --- loading -------------------------------------------------------------------


def _parse_area(key: str, raw: Any) -> tuple[Any, list[Problem]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None, [Problem(key, f"got {_show(raw)}: must be an object of settings")]
    if not isinstance(raw, dict):
        return None, [Problem(key, f"got {_show(raw)}: must be an object of settings")]
    return raw, []


def _problems_from(key: str, error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        where = key
        for part in item["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "config_rule":
            # A rule (see ``rule``): its message names the values itself.
            problems.append(Problem(where, message))
        elif item["type"] == "extra_forbidden":
            problems.append(Problem(where, "unknown key (check the spelling; see docs/configuration.md)"))
        elif item["type"] == "missing":
            problems.append(Problem(where, "is required"))
        elif isinstance(item["input"], dict):
            # A rule across several keys: the message names them and their values.
            problems.append(Problem(where, message))
        else:
            problems.append(Problem(where, f"got {_show(item['input'])}: {message}"))
    return problems


def load_settings(
    raw_config: Mapping[str, Any],
    secret_keys: Iterable[str],
    project: str,
    stack: str,
) -> Settings:
    """Validate raw stack config (``namespace:key`` -> value) into Settings.

    Values may be JSON strings (as the Pulumi runtime passes structured config)
    or already-parsed objects. Raises ConfigError listing every problem.
    """
    secret_keys = set(secret_keys)
    problems: list[Problem] = []
    prefix = f"{NAMESPACE}:"
    ours = {k[len(prefix) :]: v for k, v in raw_config.items() if k.startswith(prefix)}

    allowed = sorted([*AREAS, *SECRET_KEYS])
    for name in sorted(set(ours) - set(AREAS) - set(SECRET_KEYS)):
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {prefix}{close[0]}? " if close else ""
        problems.append(
            Problem(f"{prefix}{name}", f"unknown key; {hint}allowed keys are {', '.join(prefix + a for a in allowed)}")
        )

    region = raw_config.get("aws:region")
    if not isinstance(region, str):
        problems.append(
            Problem("aws:region", f"got {_show(region)}: must be set to an AWS region such as ca-central-1")
        )
        region = None
    elif (region_problem := _region_problem(region)) is not None:
        problems.append(Problem("aws:region", f"got {_show(region)}: {region_problem}"))
        region = None

    areas: dict[str, Any] = {}
    for name, model in AREAS.items():
        key = f"{prefix}{name}"
        if key in secret_keys:
            # Never validated (an error would echo the value) nor used (it would flow out in plain text).
            problems.append(
                Problem(
                    key,
                    "is marked secret, but areas hold plain settings (value not shown); keep secrets in their own "
                    f"keys ({', '.join(prefix + k for k in SECRET_KEYS)})",
                )
            )
            continue
        raw, parse_problems = _parse_area(key, ours.get(name, {}))
        problems += parse_problems
        if raw is None:
            continue
        try:
            areas[name] = model.model_validate(raw)
        except ValidationError as err:
            problems += _problems_from(key, err)

    secrets: dict[str, pulumi.Output[str]] = {}
    for name, what in SECRET_KEYS.items():
        key = f"{prefix}{name}"
        if name not in ours:
            continue
        if key not in secret_keys:
            problems.append(
                Problem(
                    key,
                    f"the {what} is given in plain text (value not shown); remove it from the stack file "
                    f"and set it with `pulumi config set --secret {key} <value>`",
                )
            )
            continue
        if not isinstance(ours[name], str) or not ours[name]:
            problems.append(Problem(key, "must be a non-empty string (value not shown)"))
            continue
        secrets[name] = pulumi.Output.secret(ours[name])

    if region is not None:
        network = areas.get("network")
        if network is not None:
            for i, zone in enumerate(network.availability_zones):
                if not re.fullmatch(re.escape(region) + r"[a-z]", zone):
                    problems.append(
                        Problem(
                            f"{prefix}network.availabilityZones[{i}]",
                            f"got {_show(zone)}: must be a zone of aws:region {region} such as {region}a",
                        )
                    )
        backups = areas.get("backups")
        if backups is not None and backups.dr_region == region:
            problems.append(
                Problem(
                    f"{prefix}backups.drRegion",
                    f"got {_show(backups.dr_region)}: must differ from aws:region "
                    "(an off-site copy in the same region is not off-site)",
                )
            )

    problems += _addon_problems(areas, prefix)
    problems += _service_problems(areas, prefix, region)
    if problems:
        raise ConfigError(problems)
    return Settings(project=project, stack=stack, region=str(region), secrets=secrets, **areas)


def _addon_problems(areas: Mapping[str, Any], prefix: str) -> list[Problem]:
    """Rules across areas: the add-ons' nodes and namespaces must exist."""
    problems: list[Problem] = []
    addons, cluster, workloads = areas.get("addons"), areas.get("cluster"), areas.get("workloads")
    if addons is None:
        return problems
    if cluster is not None:
        selector = addons.node_selector
        matching = [
            group
            for group in cluster.node_groups
            if not group.taints and all(group.labels.get(k) == v for k, v in selector.items())
        ]
        if matching and all(group.min_size < 1 for group in matching):
            problems.append(
                Problem(
                    f"{prefix}addons.nodeSelector",
                    f"got {_show(selector)}: the node groups with these labels "
                    f"({', '.join(g.name for g in matching)}) may shrink to 0 (minSize), and the add-ons, the "
                    "Cluster Autoscaler among them, would have nowhere to run; give one of them minSize 1 or more",
                )
            )
        if not matching:
            problems.append(
                Problem(
                    f"{prefix}addons.nodeSelector",
                    f"got {_show(selector)}: no untainted node group has these labels, so the add-ons could not "
                    "be scheduled; use the labels of a node group without taints (cluster.nodeGroups[].labels)",
                )
            )
    if workloads is not None:
        for i, namespace in enumerate(addons.load_balancer_controller.internet_facing_namespaces):
            if namespace not in workloads.namespaces:
                problems.append(
                    Problem(
                        f"{prefix}addons.loadBalancerController.internetFacingNamespaces[{i}]",
                        f"got {_show(namespace)}: must be one of workloads.namespaces {workloads.namespaces}",
                    )
                )
    return problems


def _service_problems(areas: Mapping[str, Any], prefix: str, region: str | None) -> list[Problem]:
    """Rules across services and areas: namespaces, the data tier's reach, load balancer schemes, routes,
    certificates' regions, and the namespace's container maximum and quota."""
    problems: list[Problem] = []
    workloads, addons = areas.get("workloads"), areas.get("addons")
    if workloads is None:
        return problems
    base = f"{prefix}workloads"
    for i, namespace in enumerate(workloads.data_tier_namespaces or []):
        if namespace not in workloads.namespaces:
            problems.append(
                Problem(
                    f"{base}.dataTierNamespaces[{i}]",
                    f"got {_show(namespace)}: must be one of workloads.namespaces {workloads.namespaces}",
                )
            )
    problems += _quota_problems(workloads, prefix)
    internet_facing = addons.load_balancer_controller.internet_facing_namespaces if addons is not None else None
    routes: dict[tuple[str, str], str] = {}
    for name, service in workloads.services.items():
        key = f"{base}.services.{name}"
        if service.namespace not in workloads.namespaces:
            problems.append(
                Problem(
                    f"{key}.namespace",
                    f"got {_show(service.namespace)}: service {name} must run in one of workloads.namespaces "
                    f"{workloads.namespaces}",
                )
            )
            continue
        needs = [what for what, wanted in (("database", service.database), ("redis", service.redis)) if wanted]
        if needs and service.namespace not in workloads.data_namespaces:
            problems.append(
                Problem(
                    f"{key}.{needs[0]}",
                    f"service {name} needs {' and '.join(needs)}, but its namespace {service.namespace} has no "
                    f"egress to the data tier (workloads.dataTierNamespaces {workloads.data_namespaces}); add the "
                    "namespace there or move the service",
                )
            )
        problems += _fits_the_namespace(key, name, service, workloads.quota)
        ingress = service.ingress
        if ingress is None:
            continue
        certificate_region = ingress.certificate_arn.split(":")[3]
        if region is not None and certificate_region != region:
            problems.append(
                Problem(
                    f"{key}.ingress.certificateArn",
                    f"service {name}: the certificate is in {certificate_region}, but a load balancer in {region} "
                    f"can only use an ACM certificate of {region}",
                )
            )
        if ingress.internet_facing and internet_facing is not None and service.namespace not in internet_facing:
            problems.append(
                Problem(
                    f"{key}.ingress.internetFacing",
                    f"service {name} asks for an internet-facing load balancer, but its namespace "
                    f"{service.namespace} is not in addons.loadBalancerController.internetFacingNamespaces "
                    f"{internet_facing}",
                )
            )
        route = (ingress.host, ingress.path.rstrip("/") or "/")
        if route in routes:
            problems.append(
                Problem(
                    f"{key}.ingress",
                    f"service {name} routes host {ingress.host} path {ingress.path}, which service "
                    f"{routes[route]} already routes; give one of them another host or path",
                )
            )
        else:
            routes[route] = name
    return problems


MAX_SURGE_PERCENT = 25
"""A rollout's surge (components/service.py): this share of the replicas, rounded up, on top of them."""


def _most_pods(service: ServiceConfig) -> int:
    """The most pods a service runs at once: the HPA's maximum (or replicas) plus a rollout's surge."""
    replicas = service.autoscaling.max_replicas if service.autoscaling else service.replicas
    return replicas + math.ceil(replicas * MAX_SURGE_PERCENT / 100)


def _fits_the_namespace(key: str, name: str, service: ServiceConfig, quota: NamespaceQuota) -> list[Problem]:
    """Admission would refuse every pod whose limit exceeds the namespace's LimitRange maximum."""
    problems = []
    for resource, most in (("cpu", quota.max_cpu), ("memory", quota.max_memory)):
        limit = getattr(service.resources.limits, resource)
        if limit is not None and quantity(limit) > quantity(most):
            problems.append(
                Problem(
                    f"{key}.resources.limits.{resource}",
                    f"service {name}: got {_show(limit)}, above the namespace's container maximum "
                    f"(workloads.quota.max{resource.capitalize()} {most}): every pod would be refused",
                )
            )
    return problems


def _quota_problems(workloads: WorkloadsConfig, prefix: str) -> list[Problem]:
    """The services of a namespace at their most pods must fit its quota, or the quota silently stops an
    autoscaler short of its maximum (and a rollout's surge pod)."""
    problems = []
    quota = workloads.quota
    for namespace in workloads.namespaces:
        services = {n: s for n, s in workloads.services.items() if s.namespace == namespace}
        if not services:
            continue
        names = ", ".join(sorted(services))
        pods = sum(_most_pods(s) for s in services.values())
        if pods > quota.pods:
            problems.append(
                Problem(
                    f"{prefix}workloads.quota.pods",
                    f"namespace {namespace}: its services ({names}) may run {pods} pods at once (most replicas plus "
                    f"the rollout surge each), above the quota of {quota.pods}",
                )
            )
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                quota_key = f"{kind}{resource.capitalize()}"
                total = quantity(getattr(quota, f"{kind}_{resource}"))
                amounts = [(_most_pods(s), getattr(getattr(s.resources, kind), resource)) for s in services.values()]
                needed = sum(pods * quantity(amount) for pods, amount in amounts if amount is not None)
                if needed > total:
                    problems.append(
                        Problem(
                            f"{prefix}workloads.quota.{quota_key}",
                            f"namespace {namespace}: its services ({names}) at their most pods (most replicas plus "
                            f"the rollout surge each) need {kind}.{resource} of {needed:g}"
                            f"{' bytes' if resource == 'memory' else ' cores'}, above the quota "
                            f"{getattr(quota, f'{kind}_{resource}')}",
                        )
                    )
    return problems


def settings_from_runtime() -> Settings:
    """Load Settings from the config the Pulumi runtime holds for this stack.

    Reads the whole config map (not key by key) so that an unknown key under
    ``platform:`` is reported instead of silently ignored.
    """
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys |= {k for k in raw if runtime_config.is_config_secret(k)}
    return load_settings(raw, secret_keys, pulumi.get_project(), pulumi.get_stack())
