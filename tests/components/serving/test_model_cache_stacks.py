"""The cache on the shipped stacks: planned where it is on, and possible on every one."""

import copy
from typing import Any

import pytest

from gpuplane.components.serving.cache_settings import HOST_PATHS, NODE_LABEL
from gpuplane.graph import ResourceGraph
from tests.helpers import stack_file_config

DEV_GPU_STACKS = {"aws-dev": "al2023", "gcp-dev": "cos", "azure-dev": "ubuntu"}


@pytest.mark.parametrize(("stack", "node_os"), sorted(DEV_GPU_STACKS.items()))
def test_the_dev_gpu_stacks_cache_the_sample_on_local_disk(
    stack: str, node_os: str, stack_graphs: dict[str, ResourceGraph]
) -> None:
    graph = stack_graphs[stack]
    [group] = [r for r in graph if r.type.endswith(":LocalModelNodeGroup")]
    assert group.inputs["spec"]["persistentVolumeSpec"]["local"]["path"] == HOST_PATHS[node_os]
    [cache] = [r for r in graph if r.type.endswith(":LocalModelCache")]
    assert cache.inputs["metadata"]["name"] == "qwen-chat"
    assert cache.inputs["spec"]["nodeGroups"] == [group.inputs["metadata"]["name"]]


def test_prod_and_local_stacks_leave_it_off(stack_graphs: dict[str, ResourceGraph]) -> None:
    for name, graph in stack_graphs.items():
        if name not in DEV_GPU_STACKS:
            assert not [r for r in graph if r.type.endswith(":LocalModelCache")], name
            assert NODE_LABEL[0] not in str([r.inputs for r in graph]), name


@pytest.mark.parametrize("stack", ["aws-prod", "gcp-prod", "azure-prod"])
def test_every_shipped_gpu_stack_can_host_it(stack: str, plan_mapping: Any) -> None:
    config = copy.deepcopy(stack_file_config(stack))
    config["gpuplane:models"] = {
        "cache": {"models": [{"name": "m", "storageUri": "m/", "size": "10Gi"}]}
    }
    graph = plan_mapping(config)
    groups = [r for r in graph if r.type.endswith(":LocalModelNodeGroup")]
    assert len(groups) == len(config["gpuplane:gpuPools"])


# Where each cloud puts a pool's node labels: (resource name, path to the labels).
POOL_LABELS = {
    "aws-dev": ("gpuplane-dev-nodepool-l4", ("spec", "template", "metadata", "labels")),
    "gcp-dev": ("gpuplane-dev-gpu-l4", ("nodeConfig", "labels")),
    "azure-dev": ("gpuplane-dev-gpu-t4", ("nodeLabels",)),
}


@pytest.mark.parametrize("stack", sorted(POOL_LABELS))
def test_the_pools_nodes_carry_the_label_the_agent_selects(
    stack: str, stack_graphs: dict[str, ResourceGraph]
) -> None:
    name, path = POOL_LABELS[stack]
    [pool] = [r for r in stack_graphs[stack] if r.name == name]
    labels = pool.inputs
    for part in path:
        labels = labels[part]
    assert labels[NODE_LABEL[0]] == NODE_LABEL[1]
