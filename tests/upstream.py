"""The upstream oracle: chart values and CRD schemas read in place from ../shared/upstream.

Nothing here is copied into the repository; tests read it beside the repo.
"""

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane.components.versions import CHARTS, Chart

UPSTREAM = Path(__file__).resolve().parents[1].parent / "shared" / "upstream"

# Istio 1.27 charts keep their real defaults under this key.
_ISTIO_DEFAULTS = "_internal_defaults_do_not_set"

# Values subtrees that are a documented open API rather than chart keys, so any
# key below them is legitimate. Each names where upstream says so.
OPEN_SUBTREES: dict[str, set[tuple[str, ...]]] = {
    # istiod values.yaml: "meshConfig defines runtime configuration ... See
    # https://istio.io/docs/reference/config/istio.mesh.v1alpha1/ for all available options"
    "istiod": {("meshConfig",)},
    # dcgm-exporter's `securityContext` is the exporter container's Kubernetes
    # SecurityContext, rendered as given (rendered/defaults: the DaemonSet's container).
    "dcgm-exporter": {("securityContext",)},
}
# Keys a chart documents only as a commented-out default in values.yaml; each
# entry names the comment line that must be there (checked in test_upstream).
COMMENTED_KEYS: dict[str, dict[tuple[str, ...], str]] = {
    "istio-gateway": {("service", "loadBalancerClass"): '# loadBalancerClass: ""'},
    # The counter list that replaces the chart's default ConfigMap list.
    "dcgm-exporter": {("customMetrics",): "# customMetrics: |"},
}
# Subcharts whose own values a parent chart passes through under the subchart's name
# (kube-prometheus-stack 88.5.3's Chart.yaml dependencies, staged beside it).
SUBCHARTS: dict[str, dict[str, Chart]] = {
    "kube-prometheus-stack": {
        "grafana": Chart("grafana", "12.11.1", ""),
        "kube-state-metrics": Chart("kube-state-metrics", "8.4.0", ""),
    },
}


RENDERED = UPSTREAM / "rendered"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def require_upstream() -> None:
    """Skip (one line) where ../shared/upstream is absent, as in a fresh clone."""
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream oracle absent ({UPSTREAM}): test skipped")


@cache
def _rendered_index() -> tuple[dict[str, Any], ...]:
    require_upstream()
    return tuple(json.loads((RENDERED / "index.json").read_text()))


@cache
def _load_all(paths: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    objects: list[dict[str, Any]] = []
    for path in paths:
        text = (RENDERED / path).read_text()
        objects.extend(o for o in yaml.load_all(text, Loader=_LOADER) if o)
    return tuple(objects)


def rendered_objects(
    chart: str, version: str, variant: str | None = None
) -> tuple[dict[str, Any], ...]:
    """Every object a chart renders with default values (or one named variant), all parts.

    Made by the real Helm engine (../shared/upstream/rendered/README.md).
    """
    paths = tuple(
        e["path"]
        for e in _rendered_index()
        if e["type"] in ("chart-defaults", "chart-variant")
        and e["chart"] == chart
        and e["version"] == version
        and e.get("variant") == variant
    )
    assert paths, f"no rendered data for {chart} {version} {variant or ''}"
    return _load_all(paths)


def operator_bundle(component: str, version: str) -> tuple[dict[str, Any], ...]:
    """The manifests the Knative Operator applies (knative-serving or net-istio)."""
    require_upstream()
    return _load_all((f"operator-bundles/{component}/{version}.yaml",))


def chart_dir(chart: Chart) -> Path:
    return UPSTREAM / "charts" / chart.chart / chart.version


def chart_for_reference(reference: str, version: str) -> tuple[str, Chart]:
    """The versions.py entry a release's chart reference and version belong to."""
    for key, chart in CHARTS.items():
        if chart.reference == reference and chart.version == version:
            return key, chart
    raise KeyError(f"{reference}@{version} is not in components/versions.py")


@cache
def upstream_values(chart: Chart) -> dict[str, Any]:
    return yaml.safe_load((chart_dir(chart) / "values.yaml").read_text()) or {}


def values_schema(chart: Chart) -> dict[str, Any] | None:
    path = chart_dir(chart) / "values.schema.json"
    return json.loads(path.read_text()) if path.is_file() else None


def leaf_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path set in a values tree (dict leaves and non-dict values)."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from leaf_paths(value, (*prefix, str(key)))
    elif prefix:
        yield prefix


def missing_upstream(chart_key: str, chart: Chart, values: dict[str, Any]) -> list[str]:
    """Value paths we set that the chart's upstream values.yaml does not have."""
    upstream = upstream_values(chart)
    roots = [upstream] + ([upstream[_ISTIO_DEFAULTS]] if _ISTIO_DEFAULTS in upstream else [])
    missing = []
    for path in leaf_paths(values):
        if any(path[: len(open_)] == open_ for open_ in OPEN_SUBTREES.get(chart_key, ())):
            continue
        if path in COMMENTED_KEYS.get(chart_key, {}):
            continue
        sub = SUBCHARTS.get(chart_key, {}).get(path[0])
        if sub is not None and _has_path(upstream_values(sub), path[1:]):
            continue
        if not any(_has_path(root, path) for root in roots):
            missing.append(".".join(path))
    return missing


def releases_missing_upstream(graph: Any) -> dict[str, list[str]]:
    """For each Helm release in a graph with values its chart lacks: those value paths."""
    missing = {}
    for resource in graph.by_type("kubernetes:helm.sh/v3:Release"):
        key, chart = chart_for_reference(resource.inputs["chart"], resource.inputs["version"])
        paths = missing_upstream(key, chart, resource.inputs.get("values", {}))
        if paths:
            missing[resource.inputs["name"]] = paths
    return missing


def _has_path(tree: Any, path: tuple[str, ...]) -> bool:
    node = tree
    for key in path:
        if isinstance(node, dict) and not node and key:
            return True  # an empty map upstream is free-form (labels, annotations)
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    path = UPSTREAM / "crds" / group / f"{kind}_{version}.json"
    return json.loads(path.read_text())


def closed(schema: Any) -> Any:
    """A CRD schema where unknown fields fail instead of passing.

    The API server prunes fields a structural schema does not declare, so a
    misspelt field is silently dropped; an oracle must refuse it instead.
    """
    if isinstance(schema, list):
        return [closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate_custom_resource(obj: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `obj` fits its upstream CRD schema."""
    import jsonschema

    schema = closed(crd_schema(obj["apiVersion"], obj["kind"]))
    # Some CRDs (Istio's) leave the object envelope to the API server.
    envelope = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    schema["properties"] = {**envelope, **schema.get("properties", {})}
    jsonschema.Draft7Validator(schema).validate(obj)
