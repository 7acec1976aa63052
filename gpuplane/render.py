"""`gpuplane render`: every object a stack installs, its Helm releases rendered in-process.

Each `kubernetes:helm.sh/v3:Release` of the plan is rendered by the real Helm engine
(the `helm-python-sdk` package, which embeds Helm's Go SDK) with what Pulumi hands
Helm: the release's `values`, `name` and `namespace`, and the cluster's Kubernetes
version as `.Capabilities.KubeVersion`; as `helm install` does, the chart's `crds/`
(of enabled subcharts) come first unless `skipCrds`, `helm.sh/hook: test` objects and
NOTES.txt are left out, other hooks are kept and recorded, and namespaced objects
without a namespace get the release's. The renderer is Helm v4; Pulumi's Release
installs with the Helm v3 SDK (same template engine and functions).

Offline there is no cluster: `lookup` returns nothing, `.Capabilities.APIVersions` is
Helm's built-in set, and values Pulumi only knows after deploying (`@unknown`) are
rendered as the string `UNKNOWN_VALUE`.
"""

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gpuplane.charts import ChartError, ChartRef, cached_archive, helm_module, releases
from gpuplane.components.versions import KUBERNETES_DEFAULT
from gpuplane.graph import ASSET, RESOURCE_REF, SECRET, UNKNOWN, Resource, ResourceGraph
from gpuplane.loader import InputError

UNKNOWN_VALUE = "UNKNOWN_VALUE"
TEST_HOOKS = frozenset({"test", "test-success", "test-failure"})
HOOK_ANNOTATION = "helm.sh/hook"
# Built-in cluster-scoped kinds (Kubernetes 1.36); everything else is namespaced
# unless a CRD in the stack says `scope: Cluster`.
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "RuntimeClass",
        "ServiceCIDR",
        "StorageClass",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)
# Custom resources whose `spec.image` is the image their operator runs.
SPEC_IMAGE_KINDS = frozenset({"Prometheus", "PrometheusAgent", "Alertmanager", "ThanosRuler"})
_SPLIT = re.compile(r"(?:^|\s*\n)---\s*")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# Pulumi types that are not objects of their own (the release itself, YAML groups).
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


class RenderError(InputError):
    """A release that cannot be rendered: one line naming the release, chart and cause."""


@dataclass
class Object:
    """One Kubernetes object the stack installs."""

    body: dict[str, Any]
    release: str
    """The release name, or "" for the stack's own objects."""
    source: str
    """The template (or crds/ file) it came from, or the Pulumi URN."""
    hooks: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion") or "")

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str | None:
        namespace = (self.body.get("metadata") or {}).get("namespace")
        return str(namespace) if namespace else None

    @property
    def type(self) -> str:
        """The Pulumi type token: kubernetes:apps/v1:Deployment, kubernetes:core/v1:Pod."""
        group, _, version = self.api_version.rpartition("/")
        return f"kubernetes:{group or 'core'}/{version}:{self.kind}"

    @property
    def label(self) -> str:
        """istio-system/Deployment/istiod, or ClusterRole/istiod for a cluster-scoped object."""
        return "/".join(p for p in (self.namespace, self.kind, self.name) if p)

    @property
    def where(self) -> str:
        if not self.release:
            return f"{self.label} (the stack's own)"
        return f"{self.label} in release {self.release}"


@dataclass
class ReleaseRender:
    urn: str
    name: str
    namespace: str
    chart: ChartRef
    objects: list[Object] = field(default_factory=list)
    tests_skipped: int = 0
    unknown_values: int = 0
    seconds: float = 0.0

    @property
    def hooks(self) -> int:
        return sum(1 for o in self.objects if o.hooks)


@dataclass
class StackRender:
    project: str
    stack: str
    kube_version: str
    renderer: str
    releases: list[ReleaseRender] = field(default_factory=list)
    own: list[Object] = field(default_factory=list)
    seconds: float = 0.0

    def objects(self) -> list[Object]:
        return [*self.own, *(o for r in self.releases for o in r.objects)]

    def kinds(self) -> Counter[str]:
        return Counter(o.kind for o in self.objects())

    def images(self) -> list[str]:
        return sorted({image for o in self.objects() for _, image in images_of(o.body)})

    def summary(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "kubernetesVersion": self.kube_version,
            "renderer": self.renderer,
            "objects": len(self.objects()),
            "ownObjects": len(self.own),
            "releases": [
                {
                    "name": r.name,
                    "namespace": r.namespace,
                    "chart": r.chart.name,
                    "version": r.chart.version,
                    "objects": len(r.objects),
                    "hooks": r.hooks,
                    "testHooksSkipped": r.tests_skipped,
                    "unknownValues": r.unknown_values,
                }
                for r in self.releases
            ],
            "kinds": dict(sorted(self.kinds().items())),
            "images": self.images(),
        }


def plain(value: Any) -> tuple[Any, int]:
    """Graph inputs as Helm values: secrets unwrapped, references as URNs, unknowns as
    UNKNOWN_VALUE; with the number of unknowns met."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in (SECRET, RESOURCE_REF, ASSET):
                return plain(inner)
        count = 0
        out: dict[str, Any] = {}
        for k, v in value.items():
            out[k], n = plain(v)
            count += n
        return out, count
    if isinstance(value, list):
        pairs = [plain(v) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if value == UNKNOWN:
        return UNKNOWN_VALUE, 1
    return value, 0


def kube_version(graph: ResourceGraph) -> str:
    """The cluster's Kubernetes version as Helm's KubeVersion: `v1.36.0`.

    Read from the plan's EKS, GKE or AKS cluster; an existing cluster (or an unknown
    version) gets gpuplane's default minor.
    """
    fields = {
        "aws:eks/cluster:Cluster": "version",
        "gcp:container/cluster:Cluster": "minMasterVersion",
        "azure-native:containerservice:ManagedCluster": "kubernetesVersion",
    }
    for resource in graph:
        key = fields.get(resource.type)
        if key is None:
            continue
        match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", str(resource.inputs.get(key, "")))
        if match:
            return f"v{match[1]}.{match[2]}.{match[3] or 0}"
    return f"v{KUBERNETES_DEFAULT}.0"


def renderer_name() -> str:
    helm = helm_module()
    return f"Helm {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__})"


def renderer_note(renderer: str) -> str:
    return (
        f"rendered by {renderer}; Pulumi's kubernetes:helm.sh/v3:Release installs with "
        "the Helm v3 SDK (same template engine and functions)"
    )


def render_stack(
    graph: ResourceGraph,
    *,
    charts_root: Path,
    pull_hint: str,
    project_dir: Path | None = None,
    version: str | None = None,
) -> StackRender:
    """Render every release of the graph (and collect the stack's own objects).

    Raises ChartError for a chart missing from the cache or altered in it, and
    RenderError for a chart that does not load or render with the release's values.
    """
    started = time.perf_counter()
    result = StackRender(
        project=graph.project,
        stack=graph.stack,
        kube_version=version or kube_version(graph),
        renderer=renderer_name(),
        own=own_objects(graph),
    )
    for release in releases(graph):
        result.releases.append(
            render_release(
                release,
                charts_root=charts_root,
                pull_hint=pull_hint,
                project_dir=project_dir,
                version=result.kube_version,
            )
        )
    default_namespaces(result)
    result.seconds = time.perf_counter() - started
    return result


def _chart_path(ref: ChartRef, charts_root: Path, pull_hint: str, project_dir: Path | None) -> Path:
    if ref.is_local:
        path = (project_dir or Path.cwd()) / ref.reference
        if not path.exists():
            raise ChartError(f"chart {ref.reference}: no such local chart at {path}")
        return path
    return cached_archive(charts_root, ref, pull_hint)


def render_release(
    release: Resource,
    *,
    charts_root: Path,
    pull_hint: str,
    version: str,
    project_dir: Path | None = None,
) -> ReleaseRender:
    """One helm.sh/v3 Release, rendered as Pulumi's install would."""
    started = time.perf_counter()
    helm = helm_module()
    ref = ChartRef.of(release)
    path = _chart_path(ref, charts_root, pull_hint, project_dir)
    name = str(release.inputs.get("name") or release.name)
    namespace = str(release.inputs.get("namespace") or "default")
    values, unknowns = plain(release.inputs.get("values") or {})
    if not isinstance(values, dict):
        raise RenderError(f"release {name}: values must be a mapping, not {type(values).__name__}")
    where = f"release {name} (chart {ref.label})"
    options = {
        "name": name,
        "namespace": namespace,
        "kube_version": version,
        "is_install": True,
        "revision": 1,
    }
    try:
        chart = helm.Chart.load(path)
    except helm.HelmError as exc:
        raise RenderError(f"{where}: {path} is not a readable chart: {_line(exc)}") from None
    with chart:
        try:
            # helm_render takes kube_version, which Chart.render does not pass on.
            manifests = json.loads(
                helm._native.call_string(
                    "helm_render", chart._raw(), json.dumps(values), json.dumps(options)
                )
            )
        except helm.HelmValuesError as exc:
            raise RenderError(
                f"{where}: the values fail the chart's values.schema.json: {_line(exc)}"
            ) from None
        except helm.HelmError as exc:
            raise RenderError(f"{where}: the chart fails to render: {_line(exc)}") from None
        # Rendering drops disabled subcharts from the loaded chart, so this is the
        # crds/ of the chart and its enabled subcharts, as an install applies them.
        crds = [] if release.inputs.get("skipCrds") else chart.crds
    rendered = ReleaseRender(
        urn=release.urn, name=name, namespace=namespace, chart=ref, unknown_values=unknowns
    )
    for crd in crds:
        source = str(crd.get("filename") or crd.get("name"))
        rendered.objects.extend(
            Object(body, name, source) for body in _documents(str(crd["data"]), where, source)
        )
    for source in sorted(manifests):
        if source.endswith("NOTES.txt"):
            continue
        for body in _documents(manifests[source], where, source):
            hooks = _hooks(body)
            if TEST_HOOKS & set(hooks):
                rendered.tests_skipped += 1
                continue
            rendered.objects.append(Object(body, name, source, hooks))
    rendered.seconds = time.perf_counter() - started
    return rendered


def _hooks(body: Mapping[str, Any]) -> tuple[str, ...]:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(HOOK_ANNOTATION) if isinstance(annotations, Mapping) else None
    return tuple(h.strip() for h in str(raw).split(",") if h.strip()) if raw else ()


def _documents(text: str, where: str, source: str) -> Iterator[dict[str, Any]]:
    """The objects of one rendered template, split the way Helm splits manifests and read
    as Kubernetes reads them (sigs.k8s.io/yaml, YAML to JSON, in the Helm SDK: several
    times faster than PyYAML on large CRDs)."""
    helm = helm_module()
    for part in _SPLIT.split(text):
        if not part.strip():
            continue
        try:
            body = helm.values_from_yaml(part)
        except helm.HelmError as exc:
            raise RenderError(f"{where}: {source} renders invalid YAML: {_line(exc)}") from None
        if not body:
            continue  # only comments
        if not isinstance(body, dict) or not body.get("kind"):
            raise RenderError(f"{where}: {source} renders something that is not an object")
        yield body


def default_namespaces(result: StackRender) -> None:
    """Set the release namespace on namespaced objects that name none, as Helm does at
    install; CRDs anywhere in the stack say which custom kinds are cluster-scoped."""
    cluster_kinds = set(CLUSTER_SCOPED)
    for obj in result.objects():
        if obj.kind == "CustomResourceDefinition":
            spec = obj.body.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("scope") == "Cluster" and kind:
                cluster_kinds.add(str(kind))
    for release in result.releases:
        for obj in release.objects:
            if obj.kind in cluster_kinds or obj.namespace:
                continue
            metadata = obj.body.setdefault("metadata", {})
            if isinstance(metadata, dict):
                metadata["namespace"] = release.namespace


def own_objects(graph: ResourceGraph) -> list[Object]:
    """The stack's own Kubernetes objects (not releases), as manifests."""
    found: list[Object] = []
    for resource in sorted(graph, key=lambda r: r.urn):
        if not resource.custom or resource.is_provider or resource.package != "kubernetes":
            continue
        if resource.type.startswith(_NOT_OBJECTS):
            continue
        _, api, kind = resource.type.split(":")
        group, _, version = api.rpartition("/")
        body, _ = plain(dict(resource.inputs))
        body = {
            "apiVersion": version if group == "core" else api,
            "kind": kind,
            **{k: v for k, v in body.items() if k not in ("apiVersion", "kind")},
        }
        found.append(Object(body, "", resource.urn))
    return found


def images_of(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, image) for every container image an object runs: any containers list in
    it (pod templates, KServe runtimes, operator CRs) and `spec.image` of operator CRs."""
    if body.get("kind") in SPEC_IMAGE_KINDS:
        image = (body.get("spec") or {}).get("image")
        if isinstance(image, str):
            yield "spec.image", image
    yield from _containers(body, "")


def _containers(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(
                inner, list
            ):
                for i, container in enumerate(inner):
                    if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                        yield f"{here}[{i}] {container.get('name', '?')}", container["image"]
            else:
                yield from _containers(inner, here)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _containers(inner, f"{path}[{i}]")


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


# --- output -------------------------------------------------------------------


def _dump_yaml(obj: Object) -> str:
    head = f"---\n# Source: {obj.source}\n"
    if obj.hooks:
        head += f"# Hook: {','.join(obj.hooks)}\n"
    return head + yaml.dump(obj.body, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)


def _file_header(result: StackRender, title: str) -> str:
    return (
        f"# {title}\n# stack {result.stack}, Kubernetes {result.kube_version}; "
        f"{renderer_note(result.renderer)}\n"
    )


def files(result: StackRender, fmt: str) -> dict[str, str]:
    """File name -> content: one per release, plus the stack's own objects."""
    out: dict[str, str] = {}
    groups: list[tuple[str, str, list[Object], dict[str, Any]]] = [
        ("stack", f"objects of stack {result.stack} itself", result.own, {})
    ]
    for release in result.releases:
        groups.append(
            (
                f"{release.namespace}.{release.name}",
                f"release {release.name} in {release.namespace}: chart {release.chart.label}",
                release.objects,
                {
                    "release": release.name,
                    "namespace": release.namespace,
                    "chart": release.chart.name,
                    "version": release.chart.version,
                },
            )
        )
    for stem, title, objects, meta in groups:
        if fmt == "json":
            data = {
                **meta,
                "stack": result.stack,
                "kubernetesVersion": result.kube_version,
                "renderer": result.renderer,
                "objects": [
                    {"source": o.source, "hooks": list(o.hooks), "object": o.body} for o in objects
                ],
            }
            out[f"{stem}.json"] = json.dumps(data, indent=2) + "\n"
        else:
            out[f"{stem}.yaml"] = _file_header(result, title) + "".join(map(_dump_yaml, objects))
    return out


def stream(result: StackRender, fmt: str) -> str:
    """Every object in one document: a YAML stream, or a JSON list."""
    if fmt == "json":
        return (
            json.dumps(
                [
                    {
                        "release": o.release,
                        "source": o.source,
                        "hooks": list(o.hooks),
                        "object": o.body,
                    }
                    for o in result.objects()
                ],
                indent=2,
            )
            + "\n"
        )
    return _file_header(result, f"every object of stack {result.stack}") + "".join(
        map(_dump_yaml, result.objects())
    )


def summary_text(result: StackRender, written: Iterable[Path] = ()) -> str:
    lines = [
        f"stack {result.stack}: {len(result.objects())} objects ({len(result.own)} of the stack "
        f"itself, {len(result.releases)} releases), Kubernetes {result.kube_version}, "
        f"{result.seconds:.2f}s",
        renderer_note(result.renderer),
        "",
        "releases:",
    ]
    for r in result.releases:
        extra = [f"{r.hooks} hooks"] if r.hooks else []
        if r.tests_skipped:
            extra.append(f"{r.tests_skipped} test hooks skipped")
        if r.unknown_values:
            extra.append(f"{r.unknown_values} values unknown until deploy")
        lines.append(
            f"  {r.namespace}/{r.name:<28} {r.chart.label:<32} {len(r.objects):>4} objects"
            + (f"  ({', '.join(extra)})" if extra else "")
        )
    lines += ["", "objects by kind:"]
    for kind, n in sorted(result.kinds().items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {n:>5}  {kind}")
    images = result.images()
    lines += ["", f"images ({len(images)}):", *(f"  {i}" for i in images)]
    written = list(written)
    if written:
        lines += ["", f"wrote {len(written)} files:", *(f"  {p}" for p in written)]
    return "\n".join(lines) + "\n"
