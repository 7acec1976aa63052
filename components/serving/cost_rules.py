"""Recording rules that price every node from gpuplane's dated price table.

The table is rendered into the rules at plan time: one `gpuplane:instance_price:
dollars_per_hour` series per machine type and capacity (spot falls back to on-demand
where the table has no spot price, as `gpuplane cost` does). Nodes join it through
kube-state-metrics' `node.kubernetes.io/instance-type` label; GPU dollars are split
per GPU and charged to the pods requesting them, and to nobody (idle) otherwise.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpuplane.components.serving.alerts import GPU, GPU_NODE, NODE_GPU_REQUESTS, POD_ISVC
from gpuplane.components.serving.series import INSTANCE_TYPE, SPOT_LABELS, ksm_label

INSTANCE_PRICE = "gpuplane:instance_price:dollars_per_hour"
PRICE_TABLE = "gpuplane:price_table:info"
NODE_PRICE = "gpuplane:node_price:dollars_per_hour"
NODE_GPUS = "gpuplane:node_gpus:count"
NODE_GPU_PRICE = "gpuplane:node_gpu_price:dollars_per_hour"
NODE_IDLE_GPUS = "gpuplane:node_idle_gpus:count"
POD_GPU_COST = "gpuplane:pod_gpu_cost:dollars_per_hour"
ISVC_COST = "gpuplane:inferenceservice_cost:dollars_per_hour"
NAMESPACE_COST = "gpuplane:namespace_gpu_cost:dollars_per_hour"
POOL_COST = "gpuplane:pool_cost:dollars_per_hour"
POOL_NODES = "gpuplane:pool_nodes:count"
POOL_IDLE_COST = "gpuplane:pool_idle_gpu_cost:dollars_per_hour"
IDLE_COST = "gpuplane:idle_gpu_cost:dollars_per_hour"
CLUSTER_COST = "gpuplane:cluster_node_cost:dollars_per_hour"


@dataclass(frozen=True)
class InstancePrice:
    """One machine type's hourly price, on-demand and spot."""

    instance_type: str
    on_demand: float
    spot: float
    """The spot price, or the on-demand price where the table has none (an upper bound)."""


@dataclass(frozen=True, kw_only=True)
class PriceSheet:
    """A cloud region's node prices, from one dated table."""

    cloud: str
    region: str
    date: str
    source: str
    instances: Sequence[InstancePrice]


def _typed(selector: str) -> str:
    """kube_node_labels of the nodes matching `selector`, with an `instance_type` label."""
    label = ksm_label(INSTANCE_TYPE)
    return (
        f"max by (node, instance_type) (label_replace(kube_node_labels{{{selector}}}, "
        f'"instance_type", "$1", "{label}", "(.+)"))'
    )


def _priced(selector: str, capacity: str) -> str:
    return (
        f"{_typed(selector)} * on (instance_type) group_left () "
        f'{INSTANCE_PRICE}{{capacity="{capacity}"}}'
    )


def node_price_expr() -> str:
    """Each node's $/h: spot nodes (any provisioner's marker) at spot, others on-demand."""
    spot = [_priced(f'{ksm_label(k)}="{v}"', "spot") for k, v in sorted(SPOT_LABELS.items())]
    return " or ".join(f"({e})" for e in [*spot, _priced("", "on-demand")])


def price_rules(sheet: PriceSheet) -> list[dict[str, Any]]:
    """The price table as series, and its date."""
    rules: list[dict[str, Any]] = [
        {
            "record": PRICE_TABLE,
            "expr": "vector(1)",
            "labels": {
                "cloud": sheet.cloud,
                "region": sheet.region,
                "date": sheet.date,
                "source": sheet.source,
            },
        }
    ]
    for price in sheet.instances:
        for capacity, value in (("on-demand", price.on_demand), ("spot", price.spot)):
            rules.append(
                {
                    "record": INSTANCE_PRICE,
                    "expr": f"vector({value!r})",
                    "labels": {"instance_type": price.instance_type, "capacity": capacity},
                }
            )
    return rules


def cost_rules() -> list[dict[str, Any]]:
    """Node, pool, model (InferenceService), namespace and idle GPU dollars per hour."""
    requests = (
        f"sum by (namespace, pod, node) (kube_pod_container_resource_requests{{{GPU}}}) "
        "* on (namespace, pod) group_left () max by (namespace, pod) "
        '(kube_pod_status_phase{phase=~"Pending|Running"} == 1)'
    )
    return [
        {"record": NODE_PRICE, "expr": node_price_expr()},
        {"record": CLUSTER_COST, "expr": f"sum({NODE_PRICE})"},
        {
            "record": NODE_GPUS,
            "expr": f"max by (node) (kube_node_status_allocatable{{{GPU}}}) > 0",
        },
        {
            "record": NODE_GPU_PRICE,
            "expr": f"{NODE_PRICE} / on (node) group_left () {NODE_GPUS}",
        },
        {
            "record": NODE_IDLE_GPUS,
            "expr": (
                f"clamp_min({NODE_GPUS} - on (node) ({NODE_GPU_REQUESTS} or {NODE_GPUS} * 0), 0)"
            ),
        },
        {
            "record": POD_GPU_COST,
            "expr": f"({requests}) * on (node) group_left () {NODE_GPU_PRICE}",
        },
        {
            "record": ISVC_COST,
            "expr": (
                f"sum by (namespace, inferenceservice) ({POD_GPU_COST} "
                f"* on (namespace, pod) group_left (inferenceservice) {POD_ISVC})"
            ),
        },
        {"record": NAMESPACE_COST, "expr": f"sum by (namespace) ({POD_GPU_COST})"},
        {
            "record": POOL_COST,
            "expr": f"sum by (pool) ({NODE_PRICE} * on (node) group_left (pool) {GPU_NODE})",
        },
        {"record": POOL_NODES, "expr": f"count by (pool) ({GPU_NODE})"},
        {
            "record": POOL_IDLE_COST,
            "expr": (
                f"sum by (pool) ({NODE_IDLE_GPUS} * on (node) group_left () {NODE_GPU_PRICE} "
                f"* on (node) group_left (pool) {GPU_NODE})"
            ),
        },
        {
            "record": IDLE_COST,
            "expr": f"sum({NODE_IDLE_GPUS} * on (node) group_left () {NODE_GPU_PRICE})",
        },
    ]


def rule_groups(sheet: PriceSheet) -> list[dict[str, Any]]:
    """The `gpuplane-cost` PrometheusRule's groups."""
    return [
        {"name": "gpuplane.prices", "rules": price_rules(sheet)},
        {"name": "gpuplane.cost", "rules": cost_rules()},
    ]
