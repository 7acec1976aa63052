"""`gpuplane estimate`: how long `pulumi up` takes from an empty account, offline.

Pulumi runs every operation whose dependencies are done at once (unbounded
`--parallel`), so the time to a working platform is the longest chain of
dependencies, each link costing its resource type's creation time. The model
below gives each type a duration; published figures come from
../shared/REFERENCE.md section 3, the rest are marked as assumptions.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from gpuplane.graph import Resource, ResourceGraph


@dataclass(frozen=True)
class Duration:
    minutes: float
    source: str


_REF = "REFERENCE.md section 3"
ASSUMED = "assumption"

# Creation time by resource type (exact token), then by prefix ending in ':' or '/'.
DURATIONS: Mapping[str, Duration] = {
    "aws:eks/cluster:Cluster": Duration(12.0, f"{_REF}: EKS 9-16 min (AWS: 9 average)"),
    "aws:eks/nodeGroup:NodeGroup": Duration(4.0, ASSUMED),
    "aws:eks/addon:Addon": Duration(1.5, ASSUMED),
    "aws:ec2/natGateway:NatGateway": Duration(2.0, ASSUMED),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": Duration(0.2, ASSUMED),
    "aws:eks/accessEntry:AccessEntry": Duration(0.2, ASSUMED),
    "aws:iam/role:Role": Duration(0.2, ASSUMED),
    "aws:kms/key:Key": Duration(0.3, ASSUMED),
    "aws:s3/bucket:Bucket": Duration(0.2, ASSUMED),
    "aws:sqs/queue:Queue": Duration(0.5, ASSUMED),
    "gcp:container/cluster:Cluster": Duration(
        4.0, f"{_REF}: GKE zonal standard 3-4 min, Autopilot about 6"
    ),
    "gcp:container/nodePool:NodePool": Duration(3.0, ASSUMED),
    "gcp:kms/keyRing:KeyRing": Duration(0.2, ASSUMED),
    "gcp:kms/cryptoKey:CryptoKey": Duration(0.2, ASSUMED),
    "gcp:compute/routerNat:RouterNat": Duration(1.0, ASSUMED),
    "azure-native:containerservice:ManagedCluster": Duration(13.0, f"{_REF}: AKS 9-18 min"),
    "azure-native:containerservice:AgentPool": Duration(
        4.0, f"{_REF}: adding an AKS node pool about 4 min"
    ),
    "azure-native:keyvault:Vault": Duration(0.5, ASSUMED),
    "azure-native:network:NatGateway": Duration(1.0, ASSUMED),
    "azure-native:storage:StorageAccount": Duration(0.5, ASSUMED),
    "azure-native:operationalinsights:Workspace": Duration(0.5, ASSUMED),
    "kubernetes:helm.sh/v3:Release": Duration(2.0, f"{ASSUMED}: chart install and readiness wait"),
    "kubernetes:operator.knative.dev/v1beta1:KnativeServing": Duration(
        2.0, f"{ASSUMED}: the operator rolls out Serving"
    ),
    "kubernetes:": Duration(0.1, ASSUMED),
    "pulumi:providers:": Duration(0.0, "no cloud call"),
    "random:": Duration(0.0, "no cloud call"),
    "aws:": Duration(0.2, ASSUMED),
    "gcp:": Duration(0.2, ASSUMED),
    "azure-native:": Duration(0.3, ASSUMED),
}
# Per-type refinements read from inputs.
AUTOPILOT = Duration(6.0, f"{_REF}: GKE Autopilot about 6 min")
KPS_RELEASE = Duration(4.0, f"{ASSUMED}: kube-prometheus-stack (CRDs, operator, Prometheus)")
GKE_REGIONAL = Duration(6.0, f"{ASSUMED}: regional GKE, taken as Autopilot's 6 min")


def duration(resource: Resource) -> Duration:
    """The model's creation time for one resource."""
    if resource.type == "gcp:container/cluster:Cluster":
        if resource.inputs.get("enableAutopilot") is True:
            return AUTOPILOT
        location = str(resource.inputs.get("location", ""))
        if location and location.count("-") == 1:  # us-central1 (region), not us-central1-a
            return GKE_REGIONAL
    if resource.type == "kubernetes:helm.sh/v3:Release" and (
        resource.inputs.get("chart") == "kube-prometheus-stack"
    ):
        return KPS_RELEASE
    if resource.type in DURATIONS:
        return DURATIONS[resource.type]
    for prefix in sorted((k for k in DURATIONS if k.endswith(":")), key=len, reverse=True):
        if resource.type.startswith(prefix):
            return DURATIONS[prefix]
    return Duration(0.2, ASSUMED)


@dataclass(frozen=True)
class Estimate:
    stack: str
    critical_path_minutes: float
    serial_minutes: float
    critical_path: tuple[str, ...]
    """URNs, first created to last."""
    minutes: Mapping[str, float]
    """Each custom resource's own duration, by URN."""
    finish: Mapping[str, float]
    """When each custom resource is done, minutes from the start."""

    def to_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "critical_path_minutes": round(self.critical_path_minutes, 1),
            "serial_minutes": round(self.serial_minutes, 1),
            "critical_path": list(self.critical_path),
        }


def _custom(graph: ResourceGraph) -> list[Resource]:
    return [r for r in graph if r.custom]


def waits_for(graph: ResourceGraph) -> dict[str, set[str]]:
    """For every custom resource, the custom resources it waits for.

    A dependency on a component waits for all of the component's custom descendants.
    """
    children: dict[str, list[str]] = {}
    for resource in graph:
        if resource.parent is not None:
            children.setdefault(resource.parent, []).append(resource.urn)

    @cache
    def custom_below(urn: str) -> frozenset[str]:
        out: set[str] = set()
        for child in children.get(urn, ()):
            if graph.get(child).custom:
                out.add(child)
            out |= custom_below(child)
        return frozenset(out)

    result: dict[str, set[str]] = {}
    for resource in _custom(graph):
        deps: set[str] = set()
        for urn in resource.dependencies:
            if urn not in graph.resources:
                continue
            dep = graph.get(urn)
            deps |= {urn} if dep.custom else set(custom_below(urn))
        # A resource waits for its explicit provider, which waits for its own inputs.
        provider = _provider_urn(graph, resource.provider)
        if provider is not None:
            deps.add(provider)
        deps.discard(resource.urn)
        result[resource.urn] = deps
    return result


def _provider_urn(graph: ResourceGraph, reference: str | None) -> str | None:
    """A provider reference is `<urn>::<id>`; the URN, if the provider is in the graph."""
    if reference is None:
        return None
    for candidate in (reference, reference.rsplit("::", 1)[0]):
        if candidate in graph.resources:
            return candidate
    return None


def estimate(graph: ResourceGraph) -> Estimate:
    """The critical path and the serial sum under the duration model."""
    deps = waits_for(graph)
    minutes = {urn: duration(graph.get(urn)).minutes for urn in deps}
    finish: dict[str, float] = {}
    previous: dict[str, str | None] = {}

    def done(urn: str, stack: tuple[str, ...] = ()) -> float:
        if urn in finish:
            return finish[urn]
        if urn in stack:
            raise ValueError(f"dependency cycle through {urn}")
        start, before = 0.0, None
        for dep in sorted(deps[urn]):
            t = done(dep, (*stack, urn))
            if t > start:
                start, before = t, dep
        finish[urn] = start + minutes[urn]
        previous[urn] = before
        return finish[urn]

    for urn in sorted(deps):
        done(urn)
    last = max(finish, key=lambda u: (finish[u], u)) if finish else None
    path: list[str] = []
    while last is not None:
        path.append(last)
        last = previous[last]
    return Estimate(
        stack=graph.stack,
        critical_path_minutes=finish[path[0]] if path else 0.0,
        serial_minutes=sum(minutes.values()),
        critical_path=tuple(reversed(path)),
        minutes=minutes,
        finish=finish,
    )


def _steps(graph: ResourceGraph, result: Estimate) -> Iterator[tuple[float, Duration, Resource]]:
    """(done at, modelled duration, resource) along the critical path."""
    for urn in result.critical_path:
        resource = graph.get(urn)
        yield result.finish[urn], duration(resource), resource


def text(graph: ResourceGraph, result: Estimate) -> str:
    lines = [
        f"{result.stack}: about {result.critical_path_minutes:.1f} min to a working platform "
        f"(critical path); {result.serial_minutes:.1f} min if every resource ran one by one",
        "critical path:",
    ]
    for done_at, model, resource in _steps(graph, result):
        lines.append(
            f"  {done_at:>6.1f}  +{model.minutes:<4g} {resource.type} {resource.name}"
            f"  [{model.source}]"
        )
    return "\n".join(lines) + "\n"


def markdown(graph: ResourceGraph, result: Estimate) -> str:
    lines = [
        f"### gpuplane estimate: `{result.stack}`",
        "",
        f"About **{result.critical_path_minutes:.0f} min** to a working platform "
        f"(serial sum {result.serial_minutes:.0f} min).",
        "",
        "| done at (min) | takes | resource | model |",
        "|---:|---:|---|---|",
    ]
    for done_at, model, resource in _steps(graph, result):
        lines.append(
            f"| {done_at:.1f} | {model.minutes:g} | `{resource.type}` "
            f"{resource.name} | {model.source} |"
        )
    return "\n".join(lines) + "\n"


# -- cold start: the first request after idle, per GPU pool ------------------------------

POOL_LABEL = "gpuplane.dev/pool"
GB = 1.0
# Published figures (REFERENCE.md section 3), and the assumptions that fill the gaps.
NODE_KARPENTER = Duration(84 / 60, f"{_REF}: Karpenter with a small image, 84 s reported")
NODE_AUTOSCALER = Duration(5.0, f"{_REF}: 3-7 min typical on AKS and EKS autoscalers (midpoint)")
NODE_GKE = Duration(4.0, f"{ASSUMED}: GKE autoscaler, taken inside the 3-7 min AKS/EKS range")
NODE_EXISTING = Duration(0.0, f"{ASSUMED}: capacity managed outside gpuplane, none counted")
PULL_DEFAULT = Duration(112 / 60, f"{_REF}: 10.8 GB vLLM image, 1m52s default pull")
PULL_SOCI = Duration(1.0, f"{_REF}: the same image, 45-60 s with SOCI parallel pull")
PULL_STREAMING = Duration(0.5, f"{_REF}: GKE image streaming, 5.4 GB Triton 191 s -> 30 s")
PULL_SNAPSHOT = Duration(5 / 60, f"{_REF}: preloaded EBS snapshot, 9.5 GB image under 5 s")
BUCKET_GB_PER_S = 0.2  # assumption: one storage-initializer stream from an in-region bucket
ENGINE_START = Duration(0.5, f"{ASSUMED}: model server start and engine warm-up, 30 s")
LOCAL_GB_PER_S = 1.0  # assumption: reading weights from local disk into the GPU


@dataclass(frozen=True)
class PoolColdStart:
    pool: str
    cloud: str
    node: Duration
    pull: Duration
    """With the image acceleration this pool has."""
    pull_plain: Duration
    """With none."""
    acceleration: str
    weights_bucket: Duration
    weights_cache: Duration
    """What the node-local model cache leaves to wait for."""
    load: Duration
    cached: bool = False
    """The pool keeps the node-local model cache (gpuplane:models.cache): `total` counts
    the cache, else the bucket."""

    @property
    def weights(self) -> Duration:
        return self.weights_cache if self.cached else self.weights_bucket

    @property
    def total(self) -> float:
        return self.node.minutes + self.pull.minutes + self.weights.minutes + self.load.minutes

    @property
    def total_uncached_plain(self) -> float:
        return (
            self.node.minutes
            + self.pull_plain.minutes
            + self.weights_bucket.minutes
            + self.load.minutes
        )

    def to_json(self) -> dict[str, object]:
        def part(d: Duration) -> dict[str, object]:
            return {"minutes": round(d.minutes, 2), "source": d.source}

        return {
            "pool": self.pool,
            "cloud": self.cloud,
            "acceleration": self.acceleration,
            "node_from_zero": part(self.node),
            "image_pull": part(self.pull),
            "image_pull_without_acceleration": part(self.pull_plain),
            "weights_from_bucket": part(self.weights_bucket),
            "weights_from_node_cache": part(self.weights_cache),
            "model_load": part(self.load),
            "node_cache": self.cached,
            "total_minutes": round(self.total, 2),
            "total_minutes_without_acceleration_or_cache": round(self.total_uncached_plain, 2),
        }


@dataclass(frozen=True)
class ColdStart:
    stack: str
    model_gb: float
    pools: tuple[PoolColdStart, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "model_gb": self.model_gb,
            "pools": [p.to_json() for p in self.pools],
        }


def _pool_accelerations(graph: ResourceGraph) -> list[tuple[str, str, Duration, str]]:
    """(pool, cloud, node-from-zero model, acceleration) for every GPU pool in the graph."""
    found: list[tuple[str, str, Duration, str]] = []
    classes = {
        (r.inputs.get("kind"), (r.inputs.get("metadata") or {}).get("name")): r
        for r in graph
        if r.type.endswith(":EC2NodeClass")
        or r.type.endswith(":NodeClass")
        or r.type.endswith(":AKSNodeClass")
    }
    for r in graph:
        if r.type == "kubernetes:karpenter.sh/v1:NodePool":
            template = (r.inputs.get("spec") or {}).get("template") or {}
            pool = ((template.get("metadata") or {}).get("labels") or {}).get(POOL_LABEL)
            ref = (template.get("spec") or {}).get("nodeClassRef") or {}
            node_class = classes.get((ref.get("kind"), ref.get("name")))
            if pool is None:
                continue
            if ref.get("kind") == "EC2NodeClass" and node_class is not None:
                found.append((pool, "aws", NODE_KARPENTER, _aws_acceleration(node_class)))
            elif ref.get("group") == "eks.amazonaws.com":
                found.append((pool, "aws", NODE_KARPENTER, "none known (EKS Auto Mode)"))
            else:
                found.append((pool, "azure", NODE_KARPENTER, _aks_acceleration(graph)))
        elif r.type == "gcp:container/nodePool:NodePool":
            config = r.inputs.get("nodeConfig") or {}
            if not config.get("guestAccelerators"):
                continue
            pool = (config.get("labels") or {}).get(POOL_LABEL) or str(r.inputs.get("name"))
            streaming = (config.get("gcfsConfig") or {}).get("enabled") is True
            found.append((pool, "gcp", NODE_GKE, "image streaming" if streaming else "none"))
        elif r.type == "azure-native:containerservice:AgentPool":
            labels = r.inputs.get("nodeLabels") or {}
            if labels.get("nvidia.com/gpu.present") != "true":
                continue
            pool = labels.get(POOL_LABEL) or str(r.inputs.get("agentPoolName"))
            found.append((pool, "azure", NODE_AUTOSCALER, _aks_acceleration(graph)))
    if not found:  # Autopilot or an existing cluster: the GPU runtime's pool terms
        autopilot = any(
            r.type == "gcp:container/cluster:Cluster" and r.inputs.get("enableAutopilot") is True
            for r in graph
        )
        for term in _runtime_terms(graph):
            pool = term.get(POOL_LABEL) or term.get("cloud.google.com/gke-accelerator") or "gpu"
            if autopilot:
                found.append((pool, "gcp", NODE_GKE, "image streaming (Autopilot default)"))
            else:
                found.append((pool, "existing", NODE_EXISTING, "unknown (your cluster)"))
    return found


def _runtime_terms(graph: ResourceGraph) -> list[dict[str, str]]:
    terms: list[dict[str, str]] = []
    for r in graph.by_type("kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"):
        affinity = ((r.inputs.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
        required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
        for term in required.get("nodeSelectorTerms") or []:
            terms.append(
                {
                    e.get("key"): (e.get("values") or [""])[0]
                    for e in term.get("matchExpressions") or []
                }
            )
    return terms


def _aws_acceleration(node_class: Resource) -> str:
    spec = node_class.inputs.get("spec") or {}
    user_data = str(spec.get("userData") or "")
    if any((m.get("ebs") or {}).get("snapshotID") for m in spec.get("blockDeviceMappings") or []):
        return "image cache snapshot"
    if "FastImagePull: true" in user_data or 'snapshotter = "soci"' in user_data:
        return "SOCI parallel pull"
    return "none"


def _aks_acceleration(graph: ResourceGraph) -> str:
    del graph  # AKS has no image acceleration gpuplane can turn on (docs/first-model.md)
    return "none (not offered on AKS)"


def _pull(acceleration: str) -> Duration:
    if acceleration.startswith("SOCI"):
        return PULL_SOCI
    if acceleration.startswith("image streaming"):
        return PULL_STREAMING
    if acceleration == "image cache snapshot":
        return PULL_SNAPSHOT
    return PULL_DEFAULT


def cold_start(graph: ResourceGraph, model_gb: float = 15.0) -> ColdStart:
    """The modelled first request after idle on each GPU pool, from a pool at zero."""
    if not model_gb > 0:
        raise ValueError(f"model size must be above 0 GB, given {model_gb}")
    bucket = Duration(
        model_gb / BUCKET_GB_PER_S / 60,
        f"{ASSUMED}: {model_gb:g} GB at {BUCKET_GB_PER_S * 1000:.0f} MB/s from the bucket",
    )
    load = Duration(
        ENGINE_START.minutes + model_gb / LOCAL_GB_PER_S / 60,
        f"{ASSUMED}: 30 s engine start + {model_gb:g} GB at {LOCAL_GB_PER_S:g} GB/s into the GPU",
    )
    rows = []
    cached = _cached_pools(graph)
    for pool, cloud, node, acceleration in _pool_accelerations(graph):
        pull = _pull(acceleration)
        # On a node from zero the cache agent copies the weights while the image pulls;
        # only what outlasts the pull is waited for.
        rest = max(0.0, bucket.minutes - pull.minutes)
        cache = Duration(
            rest,
            f"{ASSUMED}: the node agent's copy runs beside the image pull; "
            f"{rest * 60:.0f} s outlast it on a new node, none on a warm one",
        )
        rows.append(
            PoolColdStart(
                pool=pool,
                cloud=cloud,
                node=node,
                pull=pull,
                pull_plain=PULL_DEFAULT,
                acceleration=acceleration,
                weights_bucket=bucket,
                weights_cache=cache,
                load=load,
                cached=pool in cached,
            )
        )
    return ColdStart(stack=graph.stack, model_gb=model_gb, pools=tuple(rows))


def _cached_pools(graph: ResourceGraph) -> set[str]:
    """The pools with a LocalModelNodeGroup (named after the pool): they keep the cache."""
    return {
        str((r.inputs.get("metadata") or {}).get("name"))
        for r in graph
        if r.type == "kubernetes:serving.kserve.io/v1alpha1:LocalModelNodeGroup"
    }


_TOTALS = (
    "totals count weights from the node cache on pools that keep it (gpuplane:models.cache), "
    "from the bucket elsewhere"
)


def _m(minutes: float) -> str:
    return f"{minutes:.1f}"


def cold_start_text(result: ColdStart) -> str:
    if not result.pools:
        return f"{result.stack}: no GPU pool, so no GPU cold start to model\n"
    lines = [
        f"{result.stack}: modelled cold start of a {result.model_gb:g} GB model, "
        "first request after idle on a pool at zero (minutes)"
    ]
    for p in result.pools:
        lines += [
            f"  pool {p.pool} ({p.cloud}): about {_m(p.total)} min as configured "
            f"({_m(p.total_uncached_plain)} with no image acceleration)",
            f"    node from zero   {_m(p.node.minutes):>5}  [{p.node.source}]",
            f"    image pull       {_m(p.pull.minutes):>5}  {p.acceleration} [{p.pull.source}]",
            f"      without        {_m(p.pull_plain.minutes):>5}  [{p.pull_plain.source}]",
            f"    weights, bucket  {_m(p.weights_bucket.minutes):>5}  "
            f"{'' if p.cached else '(counted) '}[{p.weights_bucket.source}]",
            f"    weights, cache   {_m(p.weights_cache.minutes):>5}  "
            f"{'(counted) ' if p.cached else '(no cache on this pool) '}"
            f"[{p.weights_cache.source}]",
            f"    model load       {_m(p.load.minutes):>5}  [{p.load.source}]",
        ]
    lines.append(f"{_TOTALS}; measure on the cluster: gpuplane smoke --budget <minutes>m")
    return "\n".join(lines) + "\n"


def cold_start_markdown(result: ColdStart) -> str:
    lines = [
        f"### gpuplane estimate --cold-start: `{result.stack}` ({result.model_gb:g} GB model)",
        "",
        "| pool | node from zero | image pull (in use) | without | weights: bucket | "
        "weights: node cache | model load | total as configured |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result.pools:
        lines.append(
            f"| {p.pool} ({p.cloud}) | {_m(p.node.minutes)} | {_m(p.pull.minutes)} "
            f"({p.acceleration}) | {_m(p.pull_plain.minutes)} | {_m(p.weights_bucket.minutes)} | "
            f"{_m(p.weights_cache.minutes)} | {_m(p.load.minutes)} | **{_m(p.total)}** |"
        )
    if not result.pools:
        lines.append("| no GPU pool | | | | | | | |")
    lines += [
        "",
        f"Minutes; {_TOTALS}. Sources: REFERENCE.md section 3 where published, else assumptions.",
    ]
    return "\n".join(lines) + "\n"
