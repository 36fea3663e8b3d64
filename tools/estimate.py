"""Cost and rollout-time estimates from a recorded run (the resources of ``tools.preview --json``).

- ``estimate_cost``: monthly cost per component (the Platform's top-level components) and per stack, at the node
  groups' minimum and desired sizes, from the dated, cited price table of the stack's region
  (``tools/prices/<region>.json``). Every assumption, and every resource it could not price, is a line of
  ``CostEstimate.assumptions``: an unknown instance type is reported, never a crash.
- ``critical_path``: the longest chain of creations through the recorded dependencies, weighted by
  ``CREATION_TIMES`` (typical minutes per resource type), as a longest path over the DAG in topological order.
- ``cost_delta``: the signed change of each component and of the total against a previous estimate.

Everything here reads the JSON shape (``dict[str, Any]``) so that a document written by an older run compares
with a new one; ``estimate`` returns the ``"estimate"`` key of the ``--json`` document, ``render_estimate`` its
text.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_DIR = Path(__file__).resolve().parent / "prices"
STACK_TYPE = "pulumi:pulumi:Stack"
UNKNOWN = "[unknown]"
EKS_DEFAULT_DISK_GIB = 20  # the EKS managed node group's diskSize when neither it nor a launch template sets one

JsonDict = dict[str, Any]


class EstimateError(Exception):
    """An estimate cannot be made: no price table for the region, a dependency cycle, a bad document."""


class CycleError(EstimateError):
    """The recorded dependencies loop, so no creation order exists."""


# --- the price table --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    taken: str


@dataclass(frozen=True)
class PriceTable:
    path: Path
    region: str
    currency: str
    hours_per_month: float
    taken: str
    basis: str
    spot_factor: float
    spot_note: str
    prices: Mapping[str, Price]
    ec2_instance_hour: Mapping[str, Price]
    rds_instance_hour: Mapping[str, Price]
    elasticache_node_hour: Mapping[str, Price]

    def sources(self) -> list[str]:
        tables = (self.prices, self.ec2_instance_hour, self.rds_instance_hour, self.elasticache_node_hour)
        return sorted({p.source for table in tables for p in table.values()})

    def price(self, key: str) -> float:
        return self.prices[key].usd


def _prices(raw: Mapping[str, Any]) -> dict[str, Price]:
    return {
        key: Price(usd=float(p["usd"]), unit=str(p["unit"]), source=str(p["source"]), taken=str(p["taken"]))
        for key, p in raw.items()
    }


def load_price_table(region: str, prices_dir: Path = PRICES_DIR) -> PriceTable:
    path = prices_dir / f"{region}.json"
    if not path.is_file():
        raise EstimateError(f"no price table for region {region}: add {path}")
    raw = json.loads(path.read_text(encoding="utf-8"))
    spot = raw["spotFactor"]
    return PriceTable(
        path=path,
        region=str(raw["region"]),
        currency=str(raw["currency"]),
        hours_per_month=float(raw["hoursPerMonth"]),
        taken=str(raw["taken"]),
        basis=str(raw["basis"]),
        spot_factor=float(spot["value"]),
        spot_note=f"{spot['note']} ({spot['source']}, taken {spot['taken']})",
        prices=_prices(raw["prices"]),
        ec2_instance_hour=_prices(raw["ec2InstanceHour"]),
        rds_instance_hour=_prices(raw["rdsInstanceHour"]),
        elasticache_node_hour=_prices(raw["elasticacheNodeHour"]),
    )


# --- the recorded graph -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    dependencies: tuple[str, ...]
    inputs: Mapping[str, Any]

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]


class Graph:
    """The resources of one run, with the parent/child and provider lookups the estimates need."""

    def __init__(self, resources: Iterable[Mapping[str, Any]]) -> None:
        self.nodes: dict[str, Node] = {}
        for r in resources:
            self.nodes[r["urn"]] = Node(
                urn=r["urn"],
                type=r["type"],
                name=r["name"],
                parent=r.get("parent"),
                custom=bool(r.get("custom", True)),
                provider=r.get("provider"),
                dependencies=tuple(r.get("dependencies") or ()),
                inputs=r.get("inputs") or {},
            )
        self.children: dict[str, list[str]] = defaultdict(list)
        for node in self.nodes.values():
            if node.parent:
                self.children[node.parent].append(node.urn)
        # Packages with a provider in the run: a component of such a package (a Helm Chart) is constructed by
        # its provider, a component of any other package (platform:*) by this program.
        self.provider_packages = {n.type.rsplit(":", 1)[-1] for n in self.nodes.values() if _is_provider(n)}

    def of_type(self, type_: str) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.type == type_), key=lambda n: n.urn)

    def component_of(self, node: Node) -> str:
        """The Platform's top-level component holding `node`: the ancestor two levels below the stack."""
        chain = [node]
        while chain[-1].parent and chain[-1].parent in self.nodes:
            chain.append(self.nodes[chain[-1].parent])
        chain = [n for n in chain if n.type != STACK_TYPE]
        if len(chain) >= 2:
            return chain[-2].name
        return chain[-1].name if chain else node.name

    def region_of(self, node: Node) -> str | None:
        provider = self.nodes.get(node.provider or "")
        region = provider.inputs.get("region") if provider else None
        return region if isinstance(region, str) and region != UNKNOWN else None

    def main_region(self) -> str:
        """The region of the AWS provider most resources use: the stack's region."""
        counts: dict[str, int] = defaultdict(int)
        for node in self.nodes.values():
            if node.package == "aws" and (region := self.region_of(node)):
                counts[region] += 1
        if not counts:
            raise EstimateError("no AWS provider with a known region in the document: cannot choose a price table")
        return min(counts, key=lambda r: (-counts[r], r))

    def is_remote_component(self, node: Node) -> bool:
        return not node.custom and node.package in self.provider_packages

    def custom_descendants(self, urn: str) -> list[str]:
        found: list[str] = []
        stack = list(self.children.get(urn, ()))
        while stack:
            child = self.nodes[stack.pop()]
            if child.custom:
                found.append(child.urn)
            stack.extend(self.children.get(child.urn, ()))
        return found


def _is_provider(node: Node) -> bool:
    return node.type.startswith("pulumi:providers:")


# --- cost -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    min: float
    desired: float

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.min + other.min, self.desired + other.desired)


ZERO = Amount(0.0, 0.0)


@dataclass(frozen=True)
class CostLine:
    component: str
    urn: str
    item: str
    monthly: Amount


@dataclass
class CostEstimate:
    table: PriceTable
    lines: list[CostLine] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def components(self) -> dict[str, Amount]:
        totals: dict[str, Amount] = defaultdict(lambda: ZERO)
        for line in self.lines:
            totals[line.component] = totals[line.component] + line.monthly
        return dict(sorted(totals.items()))

    def total(self) -> Amount:
        return sum((line.monthly for line in self.lines), ZERO)

    def as_json(self) -> JsonDict:
        table = self.table
        components = {name: _amount_json(a) for name, a in self.components().items()}
        return {
            "currency": table.currency,
            "region": table.region,
            "hoursPerMonth": table.hours_per_month,
            "priceTable": {
                "file": f"tools/prices/{table.path.name}",
                "taken": table.taken,
                "basis": table.basis,
                "sources": table.sources(),
            },
            "components": components,
            # The sum of the rounded components, so that the figures a reader adds up agree to the cent.
            "total": {key: round(sum(c[key] for c in components.values()), 2) for key in ("min", "desired")},
            "lines": [
                {"component": ln.component, "urn": ln.urn, "item": ln.item, **_amount_json(ln.monthly)}
                for ln in sorted(self.lines, key=lambda ln: (ln.component, ln.urn, ln.item))
            ],
            "assumptions": self.assumptions,
        }


def _amount_json(amount: Amount) -> dict[str, float]:
    return {"min": round(amount.min, 2), "desired": round(amount.desired, 2)}


def _usd(value: float) -> str:
    """A unit price as the price pages print it: cents at least, fractions of a cent when there are some."""
    text = f"{value:,.4f}".rstrip("0")
    return "$" + (text + "0" * max(0, 2 - len(text.split(".")[1])))


class _Pricer:
    """Prices one resource at a time into `CostEstimate.lines`, noting each assumption once."""

    def __init__(self, graph: Graph, table: PriceTable, estimate: CostEstimate) -> None:
        self.graph, self.table, self.estimate = graph, table, estimate
        self.hours = table.hours_per_month

    def note(self, text: str) -> None:
        if text not in self.estimate.assumptions:
            self.estimate.assumptions.append(text)

    def add(self, node: Node, item: str, monthly_min: float, monthly_desired: float | None = None) -> None:
        desired = monthly_min if monthly_desired is None else monthly_desired
        self.estimate.lines.append(
            CostLine(self.graph.component_of(node), node.urn, item, Amount(monthly_min, desired))
        )

    def hourly(self, node: Node, key: str, count: float, what: str) -> None:
        price = self.table.price(key)
        self.add(node, f"{what}: {count:g} x {_usd(price)}/h x {self.hours:g} h", count * price * self.hours)

    def monthly(self, node: Node, key: str, count: float, what: str) -> None:
        price = self.table.price(key)
        self.add(node, f"{what}: {count:g} x {_usd(price)}/month", count * price)

    # -- EKS and EC2

    def eks_cluster(self, node: Node) -> None:
        self.hourly(node, "eks.clusterHour", 1, "EKS control plane")
        if node.inputs.get("upgradePolicy", {}).get("supportType") != "STANDARD":
            self.note(f"{node.name}: extended support is not priced (only standard support, $0.10/h, is)")

    def node_group(self, node: Node) -> None:
        scaling = node.inputs.get("scalingConfig") or {}
        sizes = (scaling.get("minSize"), scaling.get("desiredSize"))
        if not all(isinstance(s, int) for s in sizes):
            self.note(f"no price for node group {node.name}: its scalingConfig is not known")
            return
        low, desired = int(sizes[0] or 0), int(sizes[1] or 0)
        types = node.inputs.get("instanceTypes") or []
        if not types or not isinstance(types[0], str) or types[0] == UNKNOWN:
            self.note(f"no price for node group {node.name}: its instance types are not known")
        else:
            self._node_instances(node, str(types[0]), [str(t) for t in types], low, desired)
        self._node_disks(node, low, desired)

    def _node_instances(self, node: Node, first: str, types: list[str], low: int, desired: int) -> None:
        if len(types) > 1:
            self.note(f"node group {node.name} lists {', '.join(types)}: priced at the first, {first}")
        price = self.table.ec2_instance_hour.get(first)
        if price is None:
            self.note(f"no price for EC2 instance type {first} (node group {node.name}): its instances are not counted")
            return
        capacity = str(node.inputs.get("capacityType") or "ON_DEMAND")
        hourly, label = price.usd, "on-demand"
        if capacity == "SPOT":
            hourly, label = price.usd * self.table.spot_factor, f"spot at {self.table.spot_factor:g} x on-demand"
            self.note(f"spot: {self.table.spot_note}")
        per_node = hourly * self.hours
        self.add(
            node,
            f"EC2 {first} ({label}): {low}..{desired} x {_usd(hourly)}/h x {self.hours:g} h",
            low * per_node,
            desired * per_node,
        )

    def _node_disks(self, node: Node, low: int, desired: int) -> None:
        size, volume_type = self._node_disk(node)
        if volume_type != "gp3":
            self.note(f"node group {node.name}: its {volume_type} root volumes are priced as gp3")
        per_node = size * self.table.price("ebs.gp3GibMonth")
        self.add(
            node,
            f"EBS root volumes: {low}..{desired} x {size:g} GiB x {_usd(self.table.price('ebs.gp3GibMonth'))}",
            low * per_node,
            desired * per_node,
        )

    def _node_disk(self, node: Node) -> tuple[float, str]:
        """The root volume: the launch template's block device, else the node group's diskSize, else EKS's."""
        for dep in node.dependencies:
            template = self.graph.nodes.get(dep)
            if template is None or template.type != "aws:ec2/launchTemplate:LaunchTemplate":
                continue
            for mapping in template.inputs.get("blockDeviceMappings") or []:
                ebs = mapping.get("ebs") or {}
                if isinstance(ebs.get("volumeSize"), int | float):
                    return float(ebs["volumeSize"]), str(ebs.get("volumeType") or "gp3")
        if isinstance(node.inputs.get("diskSize"), int | float):
            return float(node.inputs["diskSize"]), "gp3"
        self.note(f"node group {node.name}: no disk size recorded, EKS's default {EKS_DEFAULT_DISK_GIB} GiB assumed")
        return float(EKS_DEFAULT_DISK_GIB), "gp3"

    # -- network

    def nat_gateway(self, node: Node) -> None:
        if node.inputs.get("connectivityType", "public") == "private":
            self.hourly(node, "vpc.natGatewayHour", 1, "NAT gateway (private)")
            return
        self.hourly(node, "vpc.natGatewayHour", 1, "NAT gateway")
        self.note("NAT gateways: the hourly charge only; data processed (per GB) is usage-based and not estimated")
        self.note("a public NAT gateway's public IPv4 address is its Elastic IP, priced with the Elastic IPs")

    def eip(self, node: Node) -> None:
        self.hourly(node, "vpc.publicIpv4Hour", 1, "public IPv4 address (Elastic IP)")

    def vpc_endpoint(self, node: Node) -> None:
        if node.inputs.get("vpcEndpointType", "Gateway") != "Interface":
            self.note(f"{node.name}: a gateway endpoint, free of charge")
            return
        subnets = node.inputs.get("subnetIds")
        if not isinstance(subnets, list):
            self.note(f"no price for interface endpoint {node.name}: its subnets (one per AZ) are not known")
            return
        self.hourly(node, "vpc.interfaceEndpointAzHour", len(subnets), "interface endpoint, per AZ")
        self.note("interface endpoints: the hourly charge per AZ only; data processed is not estimated")

    # -- data tier

    def rds_instance(self, node: Node) -> None:
        inputs = node.inputs
        multi_az = inputs.get("multiAz") is True
        copies = 2 if multi_az else 1
        layout = "Multi-AZ (x2)" if multi_az else "Single-AZ"
        if inputs.get("engine", "postgres") != "postgres":
            self.note(f"{node.name}: engine {inputs.get('engine')} priced as PostgreSQL")
        instance_class = str(inputs.get("instanceClass"))
        price = self.table.rds_instance_hour.get(instance_class)
        if price is None:
            self.note(f"no price for RDS instance class {instance_class} ({node.name}): the instance is not counted")
        else:
            self.add(
                node,
                f"RDS {instance_class} {layout}: {copies} x {_usd(price.usd)}/h x {self.hours:g} h",
                copies * price.usd * self.hours,
            )
        storage = inputs.get("allocatedStorage")
        if isinstance(storage, int | float):
            if inputs.get("storageType", "gp3") != "gp3":
                self.note(f"{node.name}: {inputs.get('storageType')} storage priced as gp3")
            gib_month = self.table.price("rds.gp3GibMonth")
            self.add(
                node,
                f"RDS gp3 storage {layout}: {copies} x {storage:g} GiB x {_usd(gib_month)}",
                copies * float(storage) * gib_month,
            )
        if inputs.get("manageMasterUserPassword") is True:
            # RDS keeps the master password in a Secrets Manager secret of its own, outside the graph.
            self.monthly(node, "secretsmanager.secretMonth", 1, "Secrets Manager secret (RDS-managed master password)")
        self.note(
            "RDS: allocated storage only (autoscaling up to maxAllocatedStorage is not estimated); backup storage "
            "beyond the free allowance (the database's size), cross-region backup replication and its transfer, "
            "and Enhanced Monitoring's CloudWatch Logs are usage-based and not estimated"
        )

    def replication_group(self, node: Node) -> None:
        inputs = node.inputs
        node_type = str(inputs.get("nodeType"))
        if isinstance(inputs.get("numNodeGroups"), int):
            nodes = inputs["numNodeGroups"] * (1 + int(inputs.get("replicasPerNodeGroup") or 0))
        else:
            nodes = int(inputs.get("numCacheClusters") or 1)
        price = self.table.elasticache_node_hour.get(node_type)
        if price is None:
            self.note(f"no price for ElastiCache node type {node_type} ({node.name}): its nodes are not counted")
            return
        self.add(
            node,
            f"ElastiCache {node_type}: {nodes} x {_usd(price.usd)}/h x {self.hours:g} h",
            nodes * price.usd * self.hours,
        )
        self.note("ElastiCache: nodes only; snapshots beyond one free copy of the cluster are not estimated")

    # -- per-month items

    def kms_key(self, node: Node) -> None:
        self.monthly(node, "kms.keyMonth", 1, "KMS key")
        self.note("KMS: keys only; requests are usage-based and not estimated")

    def alarm(self, node: Node) -> None:
        queries = node.inputs.get("metricQueries") or []
        metrics = sum(1 for q in queries if isinstance(q, dict) and q.get("metric")) or 1
        self.monthly(node, "cloudwatch.alarmMonth", metrics, "CloudWatch alarm (per metric)")

    def secret(self, node: Node) -> None:
        self.monthly(node, "secretsmanager.secretMonth", 1, "Secrets Manager secret")
        self.note("Secrets Manager: secrets only; API calls are usage-based and not estimated")

    # -- Kubernetes volumes (EBS gp3 through the CSI driver)

    def pvc(self, node: Node) -> None:
        self._volumes(node, [node.inputs.get("spec") or {}], 1, "PersistentVolumeClaim")

    def stateful_set(self, node: Node) -> None:
        spec = node.inputs.get("spec") or {}
        templates = [t.get("spec") or {} for t in spec.get("volumeClaimTemplates") or []]
        self._volumes(node, templates, _int(spec.get("replicas"), 1), "volumeClaimTemplates")

    def prometheus_operator(self, node: Node) -> None:
        spec = node.inputs.get("spec") or {}
        template = ((spec.get("storage") or {}).get("volumeClaimTemplate") or {}).get("spec")
        if template:
            copies = _int(spec.get("replicas"), 1) * _int(spec.get("shards"), 1)
            self._volumes(node, [template], copies, "storage.volumeClaimTemplate")

    def _volumes(self, node: Node, specs: list[Mapping[str, Any]], copies: int, what: str) -> None:
        gib = 0.0
        for spec in specs:
            request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            size = _gib(request)
            if size is None:
                self.note(f"no size for a volume of {node.name}: storage request {request!r} not understood")
                continue
            gib += size
        if gib:
            price = self.table.price("ebs.gp3GibMonth")
            self.add(node, f"EBS gp3 ({what}): {copies} x {gib:g} GiB x {_usd(price)}", copies * gib * price)
            self.note("Kubernetes volumes are priced as EBS gp3 at their requested size (the gp3 StorageClass)")


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) else default


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_TO_GIB = {
    "Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 1024.0,
    "K": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30, "T": 1e12 / 2**30, None: 1 / 2**30,
}  # fmt: skip


def _gib(quantity: Any) -> float | None:
    """A Kubernetes storage quantity ("100Gi", "10G") in GiB."""
    match = _QUANTITY.match(str(quantity)) if quantity is not None else None
    return float(match.group(1)) * _TO_GIB[match.group(2)] if match else None


_PRICED: dict[str, Callable[[_Pricer, Node], None]] = {
    "aws:eks/cluster:Cluster": _Pricer.eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _Pricer.node_group,
    "aws:ec2/natGateway:NatGateway": _Pricer.nat_gateway,
    "aws:ec2/eip:Eip": _Pricer.eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _Pricer.vpc_endpoint,
    "aws:rds/instance:Instance": _Pricer.rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": _Pricer.replication_group,
    "aws:kms/key:Key": _Pricer.kms_key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _Pricer.alarm,
    "aws:secretsmanager/secret:Secret": _Pricer.secret,
    "kubernetes:core/v1:PersistentVolumeClaim": _Pricer.pvc,
    "kubernetes:apps/v1:StatefulSet": _Pricer.stateful_set,
    "kubernetes:monitoring.coreos.com/v1:Prometheus": _Pricer.prometheus_operator,
    "kubernetes:monitoring.coreos.com/v1:Alertmanager": _Pricer.prometheus_operator,
}

# Usage-based, or created outside the graph: named with a count so a reader sees what the figure leaves out.
_NOT_ESTIMATED: dict[str, str] = {
    "aws:s3/bucket:Bucket": "S3 buckets: storage, requests and replication are usage-based, not estimated",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch log groups: ingestion and storage are usage-based, not estimated",
    "aws:ec2/flowLog:FlowLog": "VPC flow logs: charged as log ingestion, usage-based, not estimated",
    "aws:ecr/repository:Repository": "ECR repositories: image storage is usage-based, not estimated",
    "aws:sns/topic:Topic": "SNS topics: notifications are usage-based, not estimated",
    "kubernetes:networking.k8s.io/v1:Ingress": "Ingresses: the load balancers the AWS Load Balancer Controller creates "
    "for them are not in the graph (each ALB has an hourly, an LCU and a public IPv4 charge), not estimated",
}


def estimate_cost(resources: Iterable[Mapping[str, Any]], prices_dir: Path = PRICES_DIR) -> CostEstimate:
    graph = Graph(resources)
    table = load_price_table(graph.main_region(), prices_dir)
    estimate = CostEstimate(table=table)
    estimate.assumptions.append(
        f"prices: {table.currency} on-demand list prices for {table.region}, taken {table.taken}, "
        f"{table.hours_per_month:g} hours a month ({estimate.table.path.name}); {table.basis}"
    )
    pricer = _Pricer(graph, table, estimate)
    elsewhere: dict[str, int] = defaultdict(int)
    for node in sorted(graph.nodes.values(), key=lambda n: n.urn):
        price = _PRICED.get(node.type)
        if price is None:
            continue
        region = graph.region_of(node)
        if region and region != table.region:
            elsewhere[region] += 1
        price(pricer, node)
    for region, count in sorted(elsewhere.items()):
        estimate.assumptions.append(f"{count} priced resource(s) in {region} priced at {table.region}'s rates")
    for type_, text in _NOT_ESTIMATED.items():
        if count := len(graph.of_type(type_)):
            estimate.assumptions.append(f"{text} ({count})")
    estimate.assumptions.append("data transfer (internet, cross-AZ, cross-region) is usage-based, not estimated")
    return estimate


# --- the rollout's critical path --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreationTime:
    minutes: float
    basis: str


# Typical minutes from create call to "ready" as `pulumi up` waits for it. AWS publishes few of these; where no
# document gives a figure, the basis says "observed typical" (creation times seen in this team's and
# the community's deploys), and the figure is a planning number, not a promise.
CREATION_TIMES: dict[str, CreationTime] = {
    "aws:eks/cluster:Cluster": CreationTime(12, "observed typical 10-15 min until the control plane is ACTIVE"),
    "aws:eks/nodeGroup:NodeGroup": CreationTime(5, "observed typical 3-6 min: instances launched and Ready"),
    "aws:eks/addon:Addon": CreationTime(2, "observed typical 1-3 min until ACTIVE (pods scheduled)"),
    "aws:eks/accessEntry:AccessEntry": CreationTime(0.1, "seconds: an API record"),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": CreationTime(0.1, "seconds: an API record"),
    "aws:rds/instance:Instance#multiAz": CreationTime(25, "observed typical 20-30 min for a Multi-AZ instance"),
    "aws:rds/instance:Instance": CreationTime(12, "observed typical 10-15 min for a Single-AZ instance"),
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": CreationTime(
        5, "observed typical a few minutes until replicating"
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": CreationTime(
        15, "observed typical 15-20 min until available (more with more nodes)"
    ),
    "aws:ec2/natGateway:NatGateway": CreationTime(2, "observed typical 1-2 min until available"),
    "aws:ec2/vpcEndpoint:VpcEndpoint#Interface": CreationTime(2, "observed typical 1-3 min until available"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": CreationTime(0.2, "seconds: a gateway endpoint is a route"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": CreationTime(0.1, "seconds: an API record"),
    "kubernetes:apps/v1:Deployment": CreationTime(2, "observed typical 1-3 min: Pulumi waits for the rollout"),
    "kubernetes:apps/v1:StatefulSet": CreationTime(3, "observed typical 2-4 min: ordered pods, volumes attached"),
    "kubernetes:apps/v1:DaemonSet": CreationTime(2, "observed typical 1-3 min: Pulumi waits for every node's pod"),
    "kubernetes:networking.k8s.io/v1:Ingress": CreationTime(
        3, "observed typical 2-4 min: Pulumi waits for the load balancer's address"
    ),
}
# By type prefix, after the exact types above: the long tail of API records.
CREATION_TIMES_BY_PREFIX: tuple[tuple[str, CreationTime], ...] = (
    ("pulumi:providers:", CreationTime(0, "no cloud call: a provider is configured in-process")),
    ("random:", CreationTime(0, "no cloud call: generated in-process")),
    ("aws:iam/", CreationTime(0.2, "seconds: IAM records (eventual consistency absorbed by retries)")),
    ("aws:kms/", CreationTime(0.2, "seconds: a key or alias")),
    ("aws:", CreationTime(0.2, "seconds: API records (subnets, security groups, buckets, log groups, ...)")),
    ("kubernetes:", CreationTime(0.1, "seconds: applied and ready at once (configuration objects, CRDs)")),
)
DEFAULT_CREATION_TIME = CreationTime(0.5, "no figure for this type: half a minute assumed")


def creation_time(node: Node) -> CreationTime:
    variant = ""
    if node.type == "aws:rds/instance:Instance" and node.inputs.get("multiAz") is True:
        variant = "#multiAz"
    elif node.type == "aws:ec2/vpcEndpoint:VpcEndpoint" and node.inputs.get("vpcEndpointType") == "Interface":
        variant = "#Interface"
    annotations = ((node.inputs.get("metadata") or {}).get("annotations")) or {}
    if node.package == "kubernetes" and annotations.get("pulumi.com/skipAwait") == "true":
        return CreationTime(0.1, "seconds: pulumi.com/skipAwait, applied without waiting")
    if (exact := CREATION_TIMES.get(node.type + variant)) is not None:
        return exact
    for prefix, time in CREATION_TIMES_BY_PREFIX:
        if node.type.startswith(prefix):
            return time
    return DEFAULT_CREATION_TIME


@dataclass(frozen=True)
class Link:
    urn: str
    type: str
    name: str
    minutes: float


@dataclass(frozen=True)
class CriticalPath:
    links: tuple[Link, ...]

    @property
    def total_minutes(self) -> float:
        return sum(link.minutes for link in self.links)

    def as_json(self) -> JsonDict:
        return {
            "totalMinutes": round(self.total_minutes, 1),
            "links": [{"type": k.type, "name": k.name, "urn": k.urn, "minutes": k.minutes} for k in self.links],
            "basis": "longest chain of creations through the recorded dependencies (a dependency on a component "
            "waits for everything under it; a provider waits for its inputs; a Helm chart's objects wait for the "
            "chart's dependencies), each resource weighted by its type's typical creation time; components take "
            "no time. See docs/estimates.md.",
        }


def waits_for(graph: Graph, node: Node) -> set[str]:
    """The custom resources `node` cannot be created before, as the engine orders them."""
    direct = list(node.dependencies)
    if node.provider:
        direct.append(node.provider)
    # A chart's objects are registered by its provider's Construct, which the SDK sends only once the chart's
    # dependencies exist: they inherit them. A component of this program does not pass its own on.
    parent = graph.nodes.get(node.parent or "")
    while parent is not None and graph.is_remote_component(parent):
        direct.extend(parent.dependencies)
        parent = graph.nodes.get(parent.parent or "")
    found: set[str] = set()
    for urn in direct:
        dep = graph.nodes.get(urn)
        if dep is None:
            continue
        # Depending on a component means waiting for all of its custom descendants (pulumi/pulumi#2509).
        found.update([urn] if dep.custom else graph.custom_descendants(urn))
    found.discard(node.urn)
    return found


def critical_path(resources: Iterable[Mapping[str, Any]]) -> CriticalPath:
    """The longest weighted chain, by dynamic programming over a topological order (Kahn)."""
    graph = Graph(resources)
    customs = sorted(urn for urn, n in graph.nodes.items() if n.custom)
    before = {urn: waits_for(graph, graph.nodes[urn]) for urn in customs}
    after: dict[str, list[str]] = defaultdict(list)
    for urn, deps in before.items():
        for dep in deps:
            after[dep].append(urn)
    pending = {urn: len(deps) for urn, deps in before.items()}
    ready = sorted(urn for urn, count in pending.items() if count == 0)
    finish: dict[str, float] = {}
    previous: dict[str, str | None] = {}
    while ready:
        urn = ready.pop()
        slowest = max(sorted(before[urn]), key=lambda d: finish[d], default=None)
        previous[urn] = slowest
        finish[urn] = creation_time(graph.nodes[urn]).minutes + (finish[slowest] if slowest else 0.0)
        for successor in after[urn]:
            pending[successor] -= 1
            if pending[successor] == 0:
                ready.append(successor)
        ready.sort()
    if len(finish) < len(customs):
        raise CycleError(_describe_cycle(graph, {u: before[u] for u in customs if u not in finish}))
    if not finish:
        return CriticalPath(links=())
    end: str | None = max(sorted(finish), key=lambda u: finish[u])
    chain: list[Link] = []
    while end is not None:
        node = graph.nodes[end]
        chain.append(Link(node.urn, node.type, node.name, creation_time(node).minutes))
        end = previous[end]
    return CriticalPath(links=tuple(reversed(chain)))


def _describe_cycle(graph: Graph, stuck: Mapping[str, set[str]]) -> str:
    """One loop among the resources that never became ready, named in dependency order."""
    start = min(stuck)
    seen: list[str] = []
    urn = start
    while urn not in seen:
        seen.append(urn)
        urn = min(d for d in stuck[urn] if d in stuck)
    loop = [*seen[seen.index(urn) :], urn]
    names = " -> ".join(f"{graph.nodes[u].type.rsplit(':', 1)[-1]} {graph.nodes[u].name}" for u in loop)
    return f"dependency cycle, no creation order exists: {names} (each waits for the next)"


# --- comparing two estimates ------------------------------------------------------------------------------------


def cost_delta(head: Mapping[str, Any], base: Mapping[str, Any]) -> JsonDict:
    """head - base of two `CostEstimate.as_json()`, per component (those that changed) and in total, signed."""
    names = sorted(set(head["components"]) | set(base["components"]))
    zero = {"min": 0.0, "desired": 0.0}
    components: JsonDict = {}
    for name in names:
        new, old = head["components"].get(name, zero), base["components"].get(name, zero)
        change = {key: round(new[key] - old[key], 2) for key in ("min", "desired")}
        if any(change.values()):
            components[name] = change
    total = {key: round(head["total"][key] - base["total"][key], 2) for key in ("min", "desired")}
    return {"components": components, "total": total}


def load_previous(path: Path) -> JsonDict:
    """A previous `--json --estimate` document, or EstimateError saying why it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise EstimateError(f"cannot read {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise EstimateError(f"{path} is not JSON: {err}") from None
    if not isinstance(document, dict) or not {"stack", "resources"} <= set(document):
        raise EstimateError(f"{path} is not a preview document (python -m tools.preview --json --estimate)")
    cost = (document.get("estimate") or {}).get("cost")
    if not isinstance(cost, dict) or not {"components", "total"} <= set(cost):
        raise EstimateError(f"{path} has no estimate: write it with python -m tools.preview --json --estimate")
    return document


# --- the whole estimate, as JSON and as text --------------------------------------------------------------------


def estimate(document: Mapping[str, Any], compare: Mapping[str, Any] | None = None) -> JsonDict:
    """The `"estimate"` key of a `--json` document: cost, critical path and, given a previous one, the delta."""
    cost = estimate_cost(document["resources"]).as_json()
    result: JsonDict = {"cost": cost, "criticalPath": critical_path(document["resources"]).as_json()}
    if compare is not None:
        result["delta"] = {"againstStack": compare["stack"], **cost_delta(cost, compare["estimate"]["cost"])}
    return result


def format_usd(value: float, signed: bool = False) -> str:
    sign = ("+" if value > 0 else "-" if value < 0 else "±") if signed else ("-" if value < 0 else "")
    return f"{sign}${abs(value):,.2f}"


def _row(name: str, amount: Mapping[str, float], width: int, signed: bool = False) -> str:
    low, desired = format_usd(amount["min"], signed), format_usd(amount["desired"], signed)
    return f"    {name:<{width}}  {low:>12}  {desired:>12}"


def render_estimate(result: Mapping[str, Any]) -> str:
    cost, path = result["cost"], result["criticalPath"]
    width = max((len(name) for name in cost["components"]), default=9)
    lines = [
        "",
        f"Estimated monthly cost ({cost['currency']}, {cost['region']}, {cost['hoursPerMonth']:g} h/month):",
        f"    {'component':<{width}}  {'at min':>12}  {'at desired':>12}",
        *(_row(name, amount, width) for name, amount in cost["components"].items()),
        _row("total", cost["total"], width),
    ]
    if "delta" in result:
        delta = result["delta"]
        lines.append(f"Change against the compared preview ({delta['againstStack']}):")
        lines.extend(_row(name, change, width, signed=True) for name, change in delta["components"].items())
        lines.append(_row("total", delta["total"], width, signed=True))
    table = cost["priceTable"]
    lines.append(f"Price table: {table['file']}, taken {table['taken']}; sources:")
    lines.extend(f"    {source}" for source in table["sources"])
    lines.append("Assumptions:")
    lines.extend(f"    - {text}" for text in cost["assumptions"])
    lines.append(f"Rollout critical path: {path['totalMinutes']:g} min")
    lines.extend(f"    {link['minutes']:>5g} min  {link['type']}  {link['name']}" for link in path["links"])
    return "\n".join(lines)
