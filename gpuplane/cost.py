"""`gpuplane cost`: what a stack costs idle and at peak, from dated price tables, offline.

Idle is everything that runs with no traffic: control plane fees, system and
platform nodes at their minimum, NAT gateways, the ingress load balancer,
addresses, disks and keys where priced, GPU pools at their minimum (0 unless
configured). Peak adds every GPU pool at its maximum. Prices come from
gpuplane/prices/<cloud>.json, each table with its date and source; anything a
table does not price is listed as unpriced, never guessed. A spot pool whose
spot price the table lacks is priced at on-demand and says so (an upper bound).
"""

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpuplane.graph import Resource, ResourceGraph

if TYPE_CHECKING:
    from gpuplane.components.serving.cost_rules import PriceSheet

HOURS_PER_MONTH = 730
PRICES = Path(__file__).parent / "prices"
INGRESS_RELEASE = "istio-ingressgateway"


class PriceError(ValueError):
    """No price table for the stack's cloud or region."""


@dataclass(frozen=True)
class Item:
    urn: str
    type: str
    name: str
    what: str
    idle_hourly: float
    peak_hourly: float
    note: str = ""


@dataclass(frozen=True)
class Unpriced:
    urn: str
    type: str
    name: str
    reason: str


@dataclass
class CostReport:
    stack: str
    cloud: str
    region: str | None
    price_table: dict[str, str]
    items: list[Item] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def idle_hourly(self) -> float:
        return sum(i.idle_hourly for i in self.items)

    @property
    def peak_hourly(self) -> float:
        return sum(i.peak_hourly for i in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "region": self.region,
            "currency": "USD",
            "idle_hourly": round(self.idle_hourly, 4),
            "peak_hourly": round(self.peak_hourly, 4),
            "idle_monthly": round(self.idle_hourly * HOURS_PER_MONTH, 2),
            "peak_monthly": round(self.peak_hourly * HOURS_PER_MONTH, 2),
            "price_table": self.price_table,
            "items": [
                {
                    **asdict(i),
                    "idle_hourly": round(i.idle_hourly, 4),
                    "peak_hourly": round(i.peak_hourly, 4),
                }
                for i in self.items
            ],
            "unpriced": [asdict(u) for u in self.unpriced],
        }


@cache
def price_table(cloud: str) -> dict[str, Any]:
    path = PRICES / f"{cloud}.json"
    if not path.is_file():
        raise PriceError(f"no price table for cloud {cloud!r}")
    return json.loads(path.read_text())


@dataclass
class _Pricer:
    """Looks prices up in one cloud's table, for one region."""

    table: Mapping[str, Any]
    region: str | None

    def instance(self, machine: str, spot: bool) -> tuple[float | None, str]:
        """Hourly price of one node, and a note; None where the table has no price."""
        regions = self.table.get("regions", {})
        prices = regions.get(self.region or "", {}).get("instances", {}).get(machine)
        if prices is None:
            return None, ""
        if spot:
            if prices.get("spot") is not None:
                return float(prices["spot"]), "spot"
            return float(
                prices["on_demand"]
            ), "spot priced at on-demand (no spot price: upper bound)"
        return float(prices["on_demand"]), "on-demand"

    def service(self, key: str) -> Mapping[str, Any] | None:
        return self.table.get("services", {}).get(key)

    def hourly(self, key: str) -> float | None:
        entry = self.service(key)
        if entry is None:
            return None
        if "hourly" in entry:
            return float(entry["hourly"])
        if "monthly" in entry:
            return float(entry["monthly"]) / HOURS_PER_MONTH
        return None

    def gb_hourly(self, key: str) -> float | None:
        entry = self.service(key)
        if entry is None or "gb_month" not in entry:
            return None
        return float(entry["gb_month"]) / HOURS_PER_MONTH


def price_sheet(cloud: str, region: str | None) -> "PriceSheet | None":
    """Every node price of a cloud region's table, priced by the same lookup as the
    report (spot without a spot price at on-demand), for the cost recording rules."""
    from gpuplane.components.serving.cost_rules import InstancePrice, PriceSheet

    if cloud not in _CLOUDS or region is None:
        return None
    table = price_table(cloud)
    instances = table.get("regions", {}).get(region, {}).get("instances")
    if not instances:
        return None
    pricer = _Pricer(table, region)
    prices = []
    for machine in sorted(instances):
        on_demand, _ = pricer.instance(machine, spot=False)
        spot, _ = pricer.instance(machine, spot=True)
        if on_demand is not None and spot is not None:
            prices.append(InstancePrice(machine, on_demand, spot))
    return PriceSheet(
        cloud=cloud,
        region=region,
        date=str(table.get("date", "")),
        source=str(table.get("source", "")),
        instances=tuple(prices),
    )


_PACKAGES = {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}

# Cloud resource types this module prices (by the tables) ...
PRICED = frozenset(
    {
        "aws:ec2/eip:Eip",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/subnet:Subnet",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:kms/key:Key",
        "gcp:compute/routerNat:RouterNat",
        "gcp:container/cluster:Cluster",
        "gcp:container/nodePool:NodePool",
        "azure-native:containerservice:AgentPool",
        "azure-native:containerservice:ManagedCluster",
        "azure-native:network:NatGateway",
        "azure-native:network:PublicIPAddress",
    }
)
# ... and those with no charge while the platform idles: free (identities, policies,
# routing, firewall rules) or billed only by use (requests, stored bytes, log volume)
# that an idle platform does not make. Any other type is listed as unpriced.
NO_IDLE_FEE = frozenset(
    {
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/route:Route",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:eks/addon:Addon",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:sqs/queue:Queue",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "gcp:compute/firewall:Firewall",
        "gcp:compute/network:Network",
        "gcp:compute/router:Router",
        "gcp:compute/subnetwork:Subnetwork",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
        "gcp:kms/keyRing:KeyRing",
        "gcp:projects/iAMMember:IAMMember",
        "gcp:serviceaccount/account:Account",
        "gcp:serviceaccount/iAMMember:IAMMember",
        "gcp:storage/bucket:Bucket",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "azure-native:authorization:RoleAssignment",
        "azure-native:keyvault:Key",
        "azure-native:keyvault:Vault",
        "azure-native:managedidentity:FederatedIdentityCredential",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:monitor:DiagnosticSetting",
        "azure-native:network:Subnet",
        "azure-native:network:VirtualNetwork",
        "azure-native:operationalinsights:Workspace",
        "azure-native:resources:ResourceGroup",
        "azure-native:storage:BlobContainer",
        "azure-native:storage:StorageAccount",
    }
)
# In-cluster objects cost nothing themselves (their nodes and load balancers are priced).
_NO_FEE_PACKAGES = ("kubernetes", "random", "pulumi", "command", "tls")


def _unknown_types(graph: ResourceGraph, listed: Sequence[Unpriced] = ()) -> list[Unpriced]:
    """Custom resources of a type this module neither prices nor knows to be free (and
    not already listed as unpriced for a reason of their own)."""
    seen = {u.urn for u in listed}
    return [
        Unpriced(r.urn, r.type, r.name, f"{r.type}: no price rule for this type (not counted)")
        for r in graph
        if r.urn not in seen
        and r.custom
        and not r.is_provider
        and r.package not in _NO_FEE_PACKAGES
        and r.type not in PRICED
        and r.type not in NO_IDLE_FEE
    ]


def _cloud(graph: ResourceGraph) -> str:
    """The stack's `cloud` output, or (graphs planned before it existed) the cloud whose
    provider packages the graph uses."""
    cloud = graph.outputs.get("cloud")
    if isinstance(cloud, str) and cloud:
        return cloud
    found = {_PACKAGES[r.package] for r in graph if r.package in _PACKAGES}
    return found.pop() if len(found) == 1 else ("existing" if not found else "mixed")


def _region(graph: ResourceGraph) -> str | None:
    """The stack's `region` output, or the region its resources name."""
    region = graph.outputs.get("region")
    if isinstance(region, str) and region:
        return region
    for r in graph:
        if r.type == "aws:ec2/subnet:Subnet" and r.inputs.get("availabilityZone"):
            return str(r.inputs["availabilityZone"])[:-1]
        if r.package == "gcp" and isinstance(r.inputs.get("region"), str):
            return str(r.inputs["region"])
        if r.package == "azure-native" and isinstance(r.inputs.get("location"), str):
            return str(r.inputs["location"])
    return None


def _gib(value: Any) -> float | None:
    """`200`, `"200Gi"`, `"50"` -> GiB."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().removesuffix("Gi").removesuffix("G")
        try:
            return float(text)
        except ValueError:
            return None
    return None


class _Builder:
    def __init__(self, graph: ResourceGraph, report: CostReport, pricer: _Pricer) -> None:
        self.graph, self.report, self.pricer = graph, report, pricer

    def item(self, r: Resource, what: str, idle: float, peak: float, note: str = "") -> None:
        self.report.items.append(Item(r.urn, r.type, r.name, what, idle, peak, note))

    def unpriced(self, r: Resource, reason: str) -> None:
        self.report.unpriced.append(Unpriced(r.urn, r.type, r.name, reason))

    def service(self, r: Resource, key: str, what: str, count: float = 1.0) -> None:
        price = self.pricer.hourly(key)
        if price is None:
            self.unpriced(r, f"{what}: the {self.report.cloud} price table has no {key!r}")
        else:
            self.item(r, what, price * count, price * count)

    def nodes(
        self, r: Resource, machine: str | None, idle: int, peak: int, spot: bool, what: str
    ) -> float | None:
        """Price `idle`..`peak` nodes of `machine`; returns the node's hourly price."""
        if not machine:
            self.unpriced(r, f"{what}: no machine type in its inputs")
            return None
        price, note = self.pricer.instance(machine, spot)
        if price is None:
            self.unpriced(
                r, f"{what}: {machine} has no price for {self.report.region} in the table"
            )
            return None
        self.item(r, f"{what}: {idle}..{peak} x {machine}", price * idle, price * peak, note)
        return price

    def volumes(
        self, r: Resource, mappings: Iterable[Any], idle: int, peak: int, what: str
    ) -> None:
        """gp3 block devices of `idle`..`peak` nodes; throughput above the included 125
        MB/s is listed as unpriced."""
        ebs = [m.get("ebs") or {} for m in mappings if isinstance(m, Mapping)]
        gib = sum(_gib(e.get("volumeSize")) or 0.0 for e in ebs)
        price = self.pricer.gb_hourly("ebs_gp3")
        if gib and price is not None:
            self.item(
                r,
                f"gp3 volumes: {idle}..{peak} x {gib:g} GiB",
                price * gib * idle,
                price * gib * peak,
            )
        throughput = max((float(e.get("throughput") or 0) for e in ebs), default=0.0)
        if throughput > 125:
            self.unpriced(r, f"{what}: gp3 throughput above 125 MB/s ({throughput:g})")

    def karpenter_pool(self, r: Resource) -> None:
        spec = r.inputs.get("spec") or {}
        template = spec.get("template", {}).get("spec", {})
        requirements = {
            q.get("key"): q.get("values") or [] for q in template.get("requirements") or []
        }
        machines = requirements.get("node.kubernetes.io/instance-type") or []
        spot = requirements.get("karpenter.sh/capacity-type") == ["spot"]
        peak = int((spec.get("limits") or {}).get("nodes") or 0)
        name = r.get("metadata.name") or r.name
        if not machines or not peak:
            self.unpriced(r, f"NodePool {name}: no instance types or no node limit to price")
            return
        prices = [(self.pricer.instance(m, spot), m) for m in machines]
        known = [(p, note, m) for (p, note), m in prices if p is not None]
        if not known:
            self.unpriced(r, f"NodePool {name}: none of {', '.join(machines)} is priced")
            return
        price, note, machine = max(known)  # the dearest allowed type: a peak bound
        self.item(r, f"NodePool {name}: 0..{peak} x {machine}", 0.0, price * peak, note)
        node_class = template.get("nodeClassRef") or {}
        mappings = [
            m
            for c in self.graph.by_type("kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
            if c.get("metadata.name") == node_class.get("name")
            for m in (c.inputs.get("spec") or {}).get("blockDeviceMappings") or []
        ]
        self.volumes(r, mappings, 0, peak, f"NodePool {name}")
        if node_class.get("group") == "eks.amazonaws.com":
            self.unpriced(r, f"NodePool {name}: EKS Auto Mode's per-instance fee and disk")

    def load_balancer(self) -> None:
        """The Istio gateway's LoadBalancer Service: one cloud load balancer."""
        for release in self.graph.by_type("kubernetes:helm.sh/v3:Release"):
            if release.inputs.get("name") != INGRESS_RELEASE:
                continue
            service = (release.inputs.get("values") or {}).get("service") or {}
            if service.get("type") != "LoadBalancer":
                return
            key = {"aws": "nlb", "gcp": "forwarding_rule", "azure": "lb_standard"}[
                self.report.cloud
            ]
            self.service(release, key, "ingress load balancer")
            if self.report.cloud == "aws":
                # An internet-facing NLB holds one public IPv4 address per subnet (zone).
                zones = sum(
                    1
                    for s in self.graph.by_type("aws:ec2/subnet:Subnet")
                    if s.inputs.get("tags", {}).get("kubernetes.io/role/elb") == "1"
                )
                if zones:
                    self.service(release, "public_ipv4", f"ingress NLB addresses ({zones})", zones)
            if self.report.cloud == "azure":
                self.service(release, "public_ip_standard_static", "ingress public IP")


def _aws(b: _Builder) -> None:
    g = b.graph
    for r in g.by_type("aws:eks/cluster:Cluster"):
        extended = (r.get("upgradePolicy.supportType") or "") == "EXTENDED"
        key = "eks_extended_support" if extended else "eks_control_plane"
        b.service(r, key, "EKS control plane" + (" (extended support)" if extended else ""))
    for r in g.by_type("aws:ec2/natGateway:NatGateway"):
        b.service(r, "nat_gateway", "NAT gateway")
    for r in g.by_type("aws:ec2/eip:Eip"):
        b.service(r, "public_ipv4", "public IPv4 address")
    for r in g.by_type("aws:kms/key:Key"):
        b.service(r, "kms_key", "KMS key")
    templates = {r.urn: r for r in g.by_type("aws:ec2/launchTemplate:LaunchTemplate")}
    for r in g.by_type("aws:eks/nodeGroup:NodeGroup"):
        scaling = r.inputs.get("scalingConfig") or {}
        idle = int(scaling.get("desiredSize") or scaling.get("minSize") or 0)
        peak = int(scaling.get("maxSize") or idle)
        types = r.inputs.get("instanceTypes") or []
        spot = r.inputs.get("capacityType") == "SPOT"
        b.nodes(r, types[0] if types else None, idle, peak, spot, "node group")
        for urn in r.property_dependencies.get("launchTemplate", ()):
            template = templates.get(urn)
            if template is not None:
                mappings = template.inputs.get("blockDeviceMappings") or []
                b.volumes(template, mappings, idle, peak, "launch template")
    for r in g.by_type("kubernetes:karpenter.sh/v1:NodePool"):
        b.karpenter_pool(r)
    b.load_balancer()


def _gcp(b: _Builder) -> None:
    g = b.graph
    for r in g.by_type("gcp:container/cluster:Cluster"):
        note = str((b.pricer.service("gke_control_plane") or {}).get("note", ""))
        price = b.pricer.hourly("gke_control_plane")
        if price is None:
            b.unpriced(r, "GKE control plane: no 'gke_control_plane' in the table")
        else:
            b.item(r, "GKE control plane", price, price, note)
        if r.inputs.get("enableAutopilot") is True:
            b.unpriced(
                r,
                "Autopilot bills each pod's requests (the platform's pods at idle, GPU pods "
                "at peak): not priced here",
            )
    for r in g.by_type("gcp:container/nodePool:NodePool"):
        config = r.inputs.get("nodeConfig") or {}
        scaling = r.inputs.get("autoscaling") or {}
        idle = int(scaling.get("totalMinNodeCount", r.inputs.get("initialNodeCount") or 0))
        peak = int(scaling.get("totalMaxNodeCount", idle))
        spot = config.get("spot") is True
        b.nodes(r, config.get("machineType"), idle, peak, spot, f"node pool {r.inputs.get('name')}")
        price = b.pricer.gb_hourly("pd_balanced")
        gib = _gib(config.get("diskSizeGb"))
        if gib and price is not None:
            b.item(
                r,
                f"pd-balanced boot disks: {idle}..{peak} x {gib:g} GB",
                price * gib * idle,
                price * gib * peak,
            )
    pools = g.by_type("gcp:container/nodePool:NodePool")
    idle_vms = sum(
        int((p.inputs.get("autoscaling") or {}).get("totalMinNodeCount") or 0) for p in pools
    )
    peak_vms = sum(
        int((p.inputs.get("autoscaling") or {}).get("totalMaxNodeCount") or 0) for p in pools
    )
    for r in g.by_type("gcp:compute/routerNat:RouterNat"):
        # Cloud NAT bills per VM that uses it (every private node here), plus data per GB.
        price = b.pricer.hourly("cloud_nat")
        if price is None:
            b.unpriced(r, "Cloud NAT: no 'cloud_nat' in the table")
        else:
            b.item(r, f"Cloud NAT: {idle_vms}..{peak_vms} VMs", price * idle_vms, price * peak_vms)
    b.load_balancer()


def _azure_pools(r: Resource) -> Iterator[tuple[str, dict[str, Any]]]:
    if r.type == "azure-native:containerservice:AgentPool":
        yield str(r.inputs.get("agentPoolName") or r.name), r.inputs
        return
    for pool in r.inputs.get("agentPoolProfiles") or []:
        yield str(pool.get("name")), pool


def _azure(b: _Builder) -> None:
    g = b.graph
    for r in g.by_type("azure-native:containerservice:ManagedCluster"):
        tier = (r.inputs.get("sku") or {}).get("tier", "Free")
        key = {"Free": "aks_free_tier", "Standard": "aks_standard_tier"}.get(tier)
        if key is None:
            b.unpriced(r, f"AKS {tier} tier: not in the price table")
        else:
            b.service(r, key, f"AKS control plane ({tier} tier)")
    for r in [
        *g.by_type("azure-native:containerservice:ManagedCluster"),
        *g.by_type("azure-native:containerservice:AgentPool"),
    ]:
        for name, pool in _azure_pools(r):
            autoscale = pool.get("enableAutoScaling") is True
            count = int(pool.get("count") or 0)
            idle = int(pool.get("minCount") or 0) if autoscale else count
            peak = int(pool.get("maxCount") or idle) if autoscale else count
            spot = pool.get("scaleSetPriority") == "Spot"
            b.nodes(r, pool.get("vmSize"), idle, peak, spot, f"node pool {name}")
            if peak:
                b.unpriced(
                    r, f"node pool {name}: OS disks (managed disk tiers are not in the table)"
                )
    for r in g.by_type("azure-native:network:NatGateway"):
        b.service(r, "nat_gateway", "NAT gateway")
    for r in g.by_type("azure-native:network:PublicIPAddress"):
        b.service(r, "public_ip_standard_static", "static public IP")
    for r in g.by_type("azure-native:containerservice:ManagedCluster"):
        outbound = (r.inputs.get("networkProfile") or {}).get("outboundType", "loadBalancer")
        if outbound == "loadBalancer":
            b.service(r, "public_ip_standard_static", "AKS outbound public IP")
    for r in g.by_type("kubernetes:karpenter.sh/v1:NodePool"):
        b.karpenter_pool(r)
    b.load_balancer()


JOBS_COMPONENT = "gpuplane:jobs:JobsStack"
JOB_WORKLOADS = ("kubernetes:keda.sh/v1alpha1:ScaledJob", "kubernetes:batch/v1:CronJob")
# What jobs add that bills by use (storage, requests, throughput), not by the hour.
USAGE_BILLED: Mapping[str, str] = {
    "aws:s3/bucket:Bucket": "S3 data bucket: per GB stored and per request",
    "aws:sqs/queue:Queue": "SQS queue: per request (the first million a month free)",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge rule: per event delivered",
    "gcp:storage/bucket:Bucket": "Cloud Storage data bucket: per GB stored and per operation",
    "gcp:pubsub/topic:Topic": "Pub/Sub topic: per TiB published (the first 10 GiB a month free)",
    "gcp:pubsub/subscription:Subscription": "Pub/Sub subscription: per TiB delivered and retained",
    "azure-native:storage:BlobContainer": "blob container: per GB stored and per operation",
    "azure-native:storage:Queue": "storage queue: per GB stored and per 10,000 operations",
    "azure-native:eventgrid:SystemTopic": "Event Grid: per million operations (100,000 free)",
}


def _jobs(b: _Builder) -> None:
    """Jobs' queues, topics and data storage bill by use: listed, never guessed. A job's
    GPUs are its pool's, whose peak already counts every node Kueue can admit work on."""
    for r in b.graph:
        if JOBS_COMPONENT not in r.urn or not r.custom:
            continue
        if r.type in USAGE_BILLED:
            b.unpriced(r, USAGE_BILLED[r.type])
        elif r.type in JOB_WORKLOADS:
            name = r.get("metadata.name")
            spec = r.get("spec.jobTargetRef") or r.get("spec.jobTemplate.spec") or {}
            selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
            where = "its GPU pool's peak above" if selector else "the system nodes above"
            b.item(r, f"job {name}: counted in {where}", 0.0, 0.0)


def _with_jobs(cloud: Any) -> Any:
    def run(b: _Builder) -> None:
        cloud(b)
        _jobs(b)

    return run


_CLOUDS = {"aws": _with_jobs(_aws), "gcp": _with_jobs(_gcp), "azure": _with_jobs(_azure)}


def cost(graph: ResourceGraph) -> CostReport:
    """The stack's idle and peak cost under its cloud's price table."""
    cloud = _cloud(graph)
    region = _region(graph)
    if cloud not in _CLOUDS:
        return CostReport(
            stack=graph.stack,
            cloud=cloud or "unknown",
            region=region,
            price_table={"source": "none: the cluster is not created by gpuplane", "date": ""},
            unpriced=(
                [Unpriced("", "", "", "the graph uses no single cloud's resources")]
                if cloud == "mixed"
                else []
            )
            + _unknown_types(graph),
        )
    table = price_table(cloud)
    report = CostReport(
        stack=graph.stack,
        cloud=cloud,
        region=region,
        price_table={"source": str(table.get("source", "")), "date": str(table.get("date", ""))},
    )
    if region not in table.get("regions", {}):
        # The table's service fees are that region's too: nothing is priced elsewhere.
        known = ", ".join(table.get("regions", {})) or "none"
        report.unpriced.append(
            Unpriced("", "", "", f"region {region}: the {cloud} price table covers only {known}")
        )
        report.unpriced.extend(_unknown_types(graph))
        return report
    _CLOUDS[cloud](_Builder(graph, report, _Pricer(table, region)))
    report.unpriced.extend(_unknown_types(graph, report.unpriced))
    return report


def text(report: CostReport) -> str:
    data = report.to_json()
    lines = [
        f"{report.stack} ({report.cloud}, {report.region or 'no region'}): "
        f"idle {data['idle_hourly']:.4f} USD/h ({data['idle_monthly']:,.2f}/month), "
        f"peak {data['peak_hourly']:.4f} USD/h ({data['peak_monthly']:,.2f}/month)",
        f"prices: {report.price_table['source']} ({report.price_table['date']})",
    ]
    for item in sorted(report.items, key=lambda i: (-i.peak_hourly, i.name)):
        note = f"  [{item.note}]" if item.note else ""
        lines.append(
            f"  {item.idle_hourly:>9.4f} {item.peak_hourly:>9.4f}  {item.what} ({item.name}){note}"
        )
    for entry in report.unpriced:
        lines.append(f"  unpriced: {entry.reason} ({entry.name or 'stack'})")
    return "\n".join(lines) + "\n"


def markdown(report: CostReport) -> str:
    data = report.to_json()
    lines = [
        f"### gpuplane cost: `{report.stack}`",
        "",
        "| | per hour | per month |",
        "|---|---:|---:|",
        f"| idle | {data['idle_hourly']:.2f} | {data['idle_monthly']:,.2f} |",
        f"| peak | {data['peak_hourly']:.2f} | {data['peak_monthly']:,.2f} |",
        "",
        f"USD, {report.cloud} {report.region or ''}; prices from {report.price_table['source']} "
        f"({report.price_table['date']}).",
        "",
        "| item | idle $/h | peak $/h | note |",
        "|---|---:|---:|---|",
    ]
    for item in sorted(report.items, key=lambda i: (-i.peak_hourly, i.name)):
        lines.append(
            f"| {item.what} | {item.idle_hourly:.4f} | {item.peak_hourly:.4f} | {item.note} |"
        )
    if report.unpriced:
        lines += ["", "Unpriced:", ""]
        lines += [f"- {u.reason}" for u in report.unpriced]
    return "\n".join(lines) + "\n"
