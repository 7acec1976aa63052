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
