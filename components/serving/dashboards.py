"""gpuplane's Grafana dashboards: GPU fleet, Serving (per InferenceService), Cost.

Each is a ConfigMap Grafana's dashboard sidecar loads (kube-prometheus-stack's
`grafana_dashboard: "1"` label) into the `gpuplane` folder (the sidecar's folder
annotation), every panel on the provisioned Prometheus datasource by uid.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpuplane.components.serving.alerts import GPU, GPU_NODE, NODE_GPU_REQUESTS, POD_ISVC
from gpuplane.components.serving.cost_rules import (
    IDLE_COST,
    ISVC_COST,
    NAMESPACE_COST,
    POOL_COST,
    POOL_IDLE_COST,
    POOL_NODES,
    PRICE_TABLE,
)
from gpuplane.components.serving.monitoring import DATASOURCE_UID

FOLDER = "gpuplane"
# Grafana's dashboard JSON model version the panels are written for (Grafana 11-13).
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}


@dataclass(frozen=True)
class Query:
    """One PromQL target and its legend."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """One panel: a title, its queries, how to show them."""

    title: str
    queries: Sequence[Query]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    width: int = 12


def _panel(panel_id: int, panel: Panel, x: int, y: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": 8},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": q.expr,
                "legendFormat": q.legend or "__auto",
                "range": True,
            }
            for i, q in enumerate(panel.queries)
        ],
    }
    if panel.kind == "stat":
        out["options"] = {"textMode": "value_and_name", "reduceOptions": {"calcs": ["lastNotNull"]}}
    return out


def _variable(name: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
    }


def dashboard(
    uid: str, title: str, panels: Sequence[Panel], variables: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """A dashboard JSON model: panels laid out two to a row."""
    laid: list[dict[str, Any]] = []
    x = y = 0
    for i, panel in enumerate(panels, start=1):
        if x + panel.width > 24:
            x, y = 0, y + 8
        laid.append(_panel(i, panel, x, y))
        x += panel.width
    return {
        "uid": uid,
        "title": title,
        "tags": ["gpuplane"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "timezone": "browser",
        "templating": {"list": [_variable(n, q) for n, q in variables]},
        "annotations": {"list": []},
        "panels": laid,
    }


def _pool(expr: str) -> str:
    """Keep a per-node series to the chosen pools, with a `pool` label."""
    return f'{expr} * on (node) group_left (pool) {GPU_NODE}{{pool=~"$pool"}}'


PER_GPU = "{{node}} gpu {{gpu}}"
"""The legend of a per-GPU series."""


def _per_gpu(metric: str) -> str:
    return f'{metric} * on (node) group_left (pool) {GPU_NODE}{{pool=~"$pool"}}'


def fleet() -> dict[str, Any]:
    """GPU fleet: per pool and node."""
    allocatable = f"max by (node) (kube_node_status_allocatable{{{GPU}}})"
    memory = (
        "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE + "
        "DCGM_FI_DEV_FB_RESERVED)"
    )
    panels = [
        Panel(
            "GPUs allocatable vs requested, per pool",
            [
                Query(f"sum by (pool) ({_pool(allocatable)})", "{{pool}} allocatable"),
                Query(f"sum by (pool) ({_pool(NODE_GPU_REQUESTS)})", "{{pool}} requested"),
            ],
        ),
        Panel(
            "GPU nodes up, and those running no GPU pod (the idle tail)",
            [
                Query(f'count by (pool) ({GPU_NODE}{{pool=~"$pool"}})', "{{pool}} up"),
                Query(
                    f'count by (pool) ({GPU_NODE}{{pool=~"$pool"}} unless on (node) '
                    f"({NODE_GPU_REQUESTS} > 0))",
                    "{{pool}} idle",
                ),
            ],
        ),
        Panel(
            "GPU node age",
            [Query(f"{_pool('(time() - max by (node) (kube_node_created))')}", "{{node}}")],
            unit="s",
        ),
        *(
            Panel(title, [Query(_per_gpu(metric), legend)], unit=unit)
            for title, metric, legend, unit in (
                ("GPU utilisation", "DCGM_FI_DEV_GPU_UTIL", PER_GPU, "percent"),
                ("Tensor core activity", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", PER_GPU, "percentunit"),
                ("GPU memory used", f"({memory})", f"{PER_GPU} {{{{pod}}}}", "percentunit"),
                ("GPU temperature", "DCGM_FI_DEV_GPU_TEMP", PER_GPU, "celsius"),
                ("GPU power", "DCGM_FI_DEV_POWER_USAGE", PER_GPU, "watt"),
            )
        ),
        Panel(
            "XID errors (last XID per GPU; 0 is none)",
            [Query(_per_gpu("DCGM_FI_DEV_XID_ERRORS"), PER_GPU)],
            width=24,
        ),
    ]
    return dashboard(
        "gpuplane-gpu-fleet",
        "gpuplane / GPU fleet",
        panels,
        [("pool", f"label_values({GPU_NODE}, pool)")],
    )


def _isvc(expr: str) -> str:
    """Attribute a per-pod series to the chosen InferenceServices."""
    return (
        f"{expr} * on (namespace, pod) group_left (inferenceservice) "
        f'{POD_ISVC}{{namespace=~"$namespace",inferenceservice=~"$inferenceservice"}}'
    )


def serving(container_concurrency: int) -> dict[str, Any]:
    """Serving, per InferenceService."""
    duration = "kn_serving_invocation_duration_seconds"
    rate = "$__rate_interval"

    def quantile(q: str) -> Query:
        return Query(
            f"histogram_quantile({q}, sum by (inferenceservice, le) "
            f"({_isvc(f'rate({duration}_bucket[{rate}])')}))",
            f"{{{{inferenceservice}}}} p{q[2:] or '100'}",
        )

    ready = 'kube_pod_status_ready{condition="true"} == 1'
    panels = [
        Panel(
            "Requests per second",
            [
                Query(
                    f"sum by (inferenceservice) ({_isvc(f'rate({duration}_count[{rate}])')})",
                    "{{inferenceservice}}",
                )
            ],
            unit="reqps",
        ),
        Panel(
            "Latency p50 / p95 / p99 (queue-proxy)",
            [quantile("0.5"), quantile("0.95"), quantile("0.99")],
            unit="s",
        ),
        Panel(
            "5xx share",
            [
                Query(
                    "sum by (inferenceservice) ("
                    + _isvc(f'rate({duration}_count{{http_response_status_code=~"5.."}}[{rate}])')
                    + ") / sum by (inferenceservice) ("
                    + _isvc(f"rate({duration}_count[{rate}])")
                    + ")",
                    "{{inferenceservice}}",
                )
            ],
            unit="percentunit",
        ),
        Panel(
            "Concurrency per ready pod vs containerConcurrency",
            [
                Query(
                    f"sum by (inferenceservice) ({_isvc(f'rate({duration}_sum[{rate}])')}) / "
                    f"count by (inferenceservice) ({_isvc(f'({ready})')})",
                    "{{inferenceservice}} in flight per pod",
                ),
                Query(f"vector({container_concurrency})", "containerConcurrency (platform)"),
            ],
            description="In-flight requests per ready pod (request seconds per second), "
            "against the platform's default hard limit.",
        ),
        Panel(
            "Replicas: pods and ready pods (scale from and to zero)",
            [
                Query(
                    f"count by (inferenceservice) ({_isvc('kube_pod_created')})",
                    "{{inferenceservice}} pods",
                ),
                Query(
                    f"count by (inferenceservice) ({_isvc(f'({ready})')})",
                    "{{inferenceservice}} ready",
                ),
            ],
        ),
        Panel(
            "Queue-proxy queue depth",
            [
                Query(
                    f"sum by (inferenceservice) ({_isvc('kn_serving_queue_depth')})",
                    "{{inferenceservice}}",
                )
            ],
            description="Requests queued in the pods' queue-proxies. The activator's "
            "buffer during a cold start is not shown: no upstream evidence of its metric.",
        ),
        Panel(
            "Cold starts: time from pod creation to Ready",
            [
                Query(
                    f"max by (inferenceservice, pod) "
                    f"({_isvc('(kube_pod_status_ready_time - kube_pod_created)')})",
                    "{{inferenceservice}} {{pod}}",
                )
            ],
            unit="s",
            description="One line per pod that became Ready: node provisioning, image pull "
            "and model load together.",
        ),
        Panel(
            "Pods starting (not Ready yet), and for how long",
            [
                Query(
                    f"max by (inferenceservice, pod) ({_isvc('(time() - kube_pod_created)')} "
                    f'and on (namespace, pod) (kube_pod_status_ready{{condition="true"}} == 0))',
                    "{{inferenceservice}} {{pod}}",
                )
            ],
            unit="s",
        ),
    ]
    return dashboard(
        "gpuplane-serving",
        "gpuplane / Serving",
        panels,
        [
            ("namespace", f"label_values({POD_ISVC}, namespace)"),
            ("inferenceservice", f"label_values({POD_ISVC}, inferenceservice)"),
        ],
    )


def cost() -> dict[str, Any]:
    """Cost: dollars per pool, model, namespace, and idle GPUs."""
    hours = "$__range_s / 3600"
    panels = [
        Panel(
            "Price table",
            [Query(PRICE_TABLE, "{{date}}: {{cloud}} {{region}}")],
            kind="stat",
            description="The dated table the prices come from (gpuplane/prices, as "
            "`gpuplane cost` uses).",
            width=8,
        ),
        Panel(
            "Idle GPUs, $/h now",
            [Query(IDLE_COST, "idle")],
            unit="currencyUSD",
            kind="stat",
            width=8,
        ),
        Panel(
            "Idle GPU dollars in range",
            [Query(f"avg_over_time({IDLE_COST}[$__range]) * {hours}", "idle")],
            unit="currencyUSD",
            kind="stat",
            width=8,
        ),
        Panel("$/h per GPU pool", [Query(POOL_COST, "{{pool}}")], unit="currencyUSD"),
        Panel("Idle GPU $/h per pool", [Query(POOL_IDLE_COST, "{{pool}}")], unit="currencyUSD"),
        Panel(
            "GPU node-hours in range, per pool",
            [Query(f"avg_over_time({POOL_NODES}[$__range]) * {hours}", "{{pool}}")],
            kind="bargauge",
            unit="h",
        ),
        Panel(
            "GPU dollars in range, per pool",
            [Query(f"avg_over_time({POOL_COST}[$__range]) * {hours}", "{{pool}}")],
            kind="bargauge",
            unit="currencyUSD",
        ),
        Panel(
            "$/h per model (InferenceService)",
            [Query(ISVC_COST, "{{namespace}}/{{inferenceservice}}")],
            unit="currencyUSD",
        ),
        Panel(
            "Dollars in range, per model",
            [
                Query(
                    f"sum by (namespace, inferenceservice) "
                    f"(avg_over_time({ISVC_COST}[$__range])) * {hours}",
                    "{{namespace}}/{{inferenceservice}}",
                )
            ],
            kind="bargauge",
            unit="currencyUSD",
        ),
        Panel(
            "GPU $/h per namespace", [Query(NAMESPACE_COST, "{{namespace}}")], unit="currencyUSD"
        ),
    ]
    return dashboard("gpuplane-cost", "gpuplane / Cost", panels)


def dashboards(
    *, container_concurrency: int, gpu_pools: bool, cost_rules: bool
) -> dict[str, dict[str, Any]]:
    """File name -> dashboard: GPU fleet where there are GPU pools, Cost where the cost
    rules exist, Serving always."""
    out = {"gpuplane-serving.json": serving(container_concurrency)}
    if gpu_pools:
        out["gpuplane-gpu-fleet.json"] = fleet()
    if cost_rules:
        out["gpuplane-cost.json"] = cost()
    return out


def config_map_data(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=1, sort_keys=True)
