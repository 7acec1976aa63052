"""The cost recording rules agree with `gpuplane cost`: one price table, both ways.

For each shipped cloud stack, synthetic kube-state-metrics series describe the nodes
`gpuplane cost` prices at peak (each node pool at its maximum, spot where the pool
is spot); promtool evaluates the rules over them, and the dollars per hour must be
the report's, node for node and pool for pool.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from gpuplane import cost
from gpuplane.graph import ResourceGraph
from tests.promtool import rule_groups, unit_test_rules

# How each cloud marks a spot node, and the label its GPU pool's nodes carry (written
# out here, not taken from the program).
SPOT = {
    "aws": ("karpenter_sh_capacity_type", "spot"),
    "gcp": ("cloud_google_com_gke_spot", "true"),
    "azure": ("kubernetes_azure_com_scalesetpriority", "spot"),
}
GPU_POOLS = {
    "aws-dev": ("gpuplane_dev_pool", "l4", "l4"),
    "gcp-dev": ("cloud_google_com_gke_nodepool", "gpu-l4", "l4"),
    "azure-dev": ("gpuplane_dev_pool", "t4", "t4"),
}
_NODES = re.compile(r"^(?:NodePool|node pool|node group)(?: (\S+))?: \d+\.\.(\d+) x (\S+)$")


def _groups(graph: ResourceGraph) -> list[dict[str, Any]]:
    return [*rule_groups(graph), *rule_groups(graph, "gpuplane-cost")]


def _nodes(stack: str, report: cost.CostReport) -> tuple[list[str], float, float]:
    """kube_node_labels series for every node the report prices at peak, the report's
    $/h for them, and its $/h for the GPU pool."""
    label, value, _ = GPU_POOLS[stack]
    series, total, gpu_pool = [], 0.0, 0.0
    for item in report.items:
        match = _NODES.match(item.what)
        if match is None:
            continue
        pool, count, machine = match.group(1), int(match.group(2)), match.group(3)
        is_gpu = pool in (value, f"gpu-{value}")
        for i in range(count):
            labels = {
                "node": f"{machine}-{i}".lower().replace("_", "-"),
                "label_node_kubernetes_io_instance_type": machine,
            }
            if is_gpu:
                labels[f"label_{label}"] = value
            if "spot" in item.note:
                key, marker = SPOT[report.cloud]
                labels[f"label_{key}"] = marker
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            series.append(f"kube_node_labels{{{text}}}")
        total += item.peak_hourly
        gpu_pool += item.peak_hourly if is_gpu else 0.0
    return series, total, gpu_pool


def _micro(expr: str, labels: str, dollars: float) -> dict[str, Any]:
    """Compare in millionths of a dollar: sums in another order differ in the last bit."""
    return {
        "expr": f"round({expr} * 1e6)",
        "eval_time": "10m",
        "exp_samples": [{"labels": labels, "value": round(dollars * 1e6)}],
    }


@pytest.mark.parametrize("stack", sorted(GPU_POOLS))
def test_cost_rules_price_nodes_as_gpuplane_cost_does(
    stack_graphs: dict[str, ResourceGraph], tmp_path: Path, stack: str
) -> None:
    graph = stack_graphs[stack]
    report = cost.cost(graph)
    series, total, gpu_pool = _nodes(stack, report)
    assert len(series) >= 3 and gpu_pool > 0
    pool = GPU_POOLS[stack][2]
    test = {
        "interval": "1m",
        "input_series": [{"series": s, "values": "1x20"} for s in series],
        "promql_expr_test": [
            _micro("gpuplane:cluster_node_cost:dollars_per_hour", "{}", total),
            _micro(
                f'gpuplane:pool_cost:dollars_per_hour{{pool="{pool}"}}',
                f'{{pool="{pool}"}}',
                gpu_pool,
            ),
            {
                "expr": "gpuplane:price_table:info",
                "eval_time": "10m",
                "exp_samples": [
                    {
                        "labels": (
                            f'gpuplane:price_table:info{{cloud="{report.cloud}",'
                            f'date="{report.price_table["date"]}",region="{report.region}",'
                            f'source="{report.price_table["source"]}"}}'
                        ),
                        "value": 1,
                    }
                ],
            },
        ],
    }
    result = unit_test_rules(_groups(graph), [test], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gpu_dollars_go_to_models_namespaces_and_idle(
    stack_graphs: dict[str, ResourceGraph], tmp_path: Path
) -> None:
    """Two spot L4 nodes on gcp-dev (1 GPU each): one runs model `llm`, one is idle."""
    graph = stack_graphs["gcp-dev"]
    price = cost.price_table("gcp")["regions"]["us-central1"]["instances"]["g2-standard-4"]
    spot = price["spot"]
    node = (
        'kube_node_labels{{node="{n}",label_node_kubernetes_io_instance_type="g2-standard-4",'
        'label_cloud_google_com_gke_spot="true",label_cloud_google_com_gke_nodepool="gpu-l4"}}'
    )
    series = {
        node.format(n="a"): "1x20",
        node.format(n="b"): "1x20",
        'kube_node_status_allocatable{node="a",resource="nvidia_com_gpu"}': "1x20",
        'kube_node_status_allocatable{node="b",resource="nvidia_com_gpu"}': "1x20",
        'kube_pod_container_resource_requests{namespace="models",pod="llm-1",container="c",'
        'node="a",resource="nvidia_com_gpu"}': "1x20",
        'kube_pod_status_phase{namespace="models",pod="llm-1",phase="Running"}': "1x20",
        'kube_pod_labels{namespace="models",pod="llm-1",'
        'label_serving_kserve_io_inferenceservice="llm"}': "1x20",
    }

    def sample(expr: str, labels: str, value: float) -> dict[str, Any]:
        return _micro(expr, labels[labels.index("{") :] if "{" in labels else "{}", value)

    test = {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "promql_expr_test": [
            sample(
                "gpuplane:inferenceservice_cost:dollars_per_hour",
                'gpuplane:inferenceservice_cost:dollars_per_hour{inferenceservice="llm",'
                'namespace="models"}',
                spot,
            ),
            sample(
                "gpuplane:namespace_gpu_cost:dollars_per_hour",
                'gpuplane:namespace_gpu_cost:dollars_per_hour{namespace="models"}',
                spot,
            ),
            sample(
                "gpuplane:idle_gpu_cost:dollars_per_hour",
                "gpuplane:idle_gpu_cost:dollars_per_hour",
                spot,
            ),
            sample(
                "gpuplane:pool_idle_gpu_cost:dollars_per_hour",
                'gpuplane:pool_idle_gpu_cost:dollars_per_hour{pool="l4"}',
                spot,
            ),
            sample("gpuplane:pool_nodes:count", 'gpuplane:pool_nodes:count{pool="l4"}', 2),
        ],
    }
    result = unit_test_rules(_groups(graph), [test], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cost_rules_can_be_turned_off_and_need_a_table(plan_mapping: Any) -> None:
    from tests.helpers import stack_file_config

    config = stack_file_config("aws-dev")
    config["gpuplane:serving"] = {"monitoring": {"cost": False}}
    graph = plan_mapping(config)
    with pytest.raises(AssertionError):
        rule_groups(graph, "gpuplane-cost")
    local = plan_mapping({"gpuplane:cloud": "existing", "gpuplane:existing": {"context": "k"}})
    with pytest.raises(AssertionError):
        rule_groups(local, "gpuplane-cost")
