"""GPU capacity as Karpenter NodePools (karpenter.sh/v1), on any cloud's node class.

One node class and one NodePool per GPU pool: GPU-tainted, limited to the pool's
nodes and GPUs, and emptied nodes removed after a short delay. EKS (Karpenter or
Auto Mode) and AKS node auto-provisioning differ only in the node class.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters import nvidia
from gpuplane.components.clusters.contract import GPU_RESOURCE, POOL_LABEL, GpuPool
from gpuplane.components.serving.common import custom_resource

__all__ = ["POOL_LABEL", "node_pool_spec"]


def node_pool_spec(
    pool: GpuPool,
    *,
    instance_types: Sequence[str],
    node_class_ref: Mapping[str, str],
    consolidate_after: str,
    extra_labels: Mapping[str, str],
) -> dict[str, Any]:
    """A NodePool for one GPU pool: tainted, limited, emptied and removed quickly."""
    capacity = "spot" if pool.spot else "on-demand"
    limits: dict[str, Any] = {"nodes": pool.max_nodes}
    if pool.gpus_per_node:
        limits[GPU_RESOURCE] = pool.gpus_per_node * (pool.max_nodes or 0)
    return {
        "template": {
            "metadata": {"labels": {**pool.node_selector, **extra_labels}},
            "spec": {
                "nodeClassRef": dict(node_class_ref),
                "taints": [{"key": GPU_RESOURCE, "effect": "NoSchedule"}],
                "requirements": [
                    {
                        "key": "node.kubernetes.io/instance-type",
                        "operator": "In",
                        "values": list(instance_types),
                    },
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
                "expireAfter": "720h",
            },
        },
        "disruption": {
            # Only empty nodes go: a running model is never repacked to save a node.
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": consolidate_after,
            # A new image never evicts a serving model: drifted nodes are replaced
            # when they empty out, which scale to zero makes frequent.
            "budgets": [{"nodes": "0", "reasons": ["Drifted"]}, {"nodes": "100%"}],
        },
        "limits": limits,
    }


@dataclass(frozen=True)
class NodeClassKind:
    """Which node class API a NodePool refers to (Karpenter's, or EKS Auto Mode's)."""

    api_version: str
    kind: str

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0]


def gpu_node_pools(
    name: str,
    *,
    pools: Sequence[GpuPool],
    instance_types: Mapping[str, Sequence[str]],
    labels: Mapping[str, Mapping[str, str]],
    node_class: NodeClassKind,
    node_class_spec: Callable[[GpuPool], Mapping[str, Any]],
    consolidate_after: str,
    provider: k8s.Provider,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> list[k8s.apiextensions.CustomResource]:
    """A node class and a karpenter.sh/v1 NodePool per GPU pool, both named gpu-<pool>."""
    created = []
    for pool in pools:
        object_name = f"gpu-{pool.name}"
        node_class_resource = custom_resource(
            f"{name}-nodeclass-{pool.name}",
            api_version=node_class.api_version,
            kind=node_class.kind,
            name=object_name,
            namespace=None,
            spec=node_class_spec(pool),
            parent=parent,
            provider=provider,
            depends_on=depends_on,
        )
        node_labels = {**labels.get(pool.name, {}), **nvidia.node_labels(pool)}
        created.append(
            custom_resource(
                f"{name}-nodepool-{pool.name}",
                api_version="karpenter.sh/v1",
                kind="NodePool",
                name=object_name,
                namespace=None,
                spec=node_pool_spec(
                    pool,
                    instance_types=instance_types[pool.name],
                    node_class_ref={
                        "group": node_class.group,
                        "kind": node_class.kind,
                        "name": object_name,
                    },
                    consolidate_after=consolidate_after,
                    extra_labels=node_labels,
                ),
                parent=parent,
                provider=provider,
                depends_on=[node_class_resource],
            )
        )
    return created
