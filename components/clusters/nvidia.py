"""The NVIDIA device plugin as gpuplane runs it where the cloud does not.

Drivers come from the node image; the plugin (chart 0.20.0) runs on GPU nodes only,
tolerating their taints, with one time-slicing or MPS config per shared pool that a
node selects through its `nvidia.com/device-plugin.config` label.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GPU_RESOURCE, GpuPool
from gpuplane.components.serving.common import namespace, release

NAMESPACE = "nvidia-device-plugin"
# The NVIDIA device plugin chart's own node affinity term; every GPU node carries it.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
# Per-node device plugin config (time-slicing replicas), read by the plugin.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
SHARING_KEYS = {"time-slicing": "timeSlicing", "mps": "mps"}


def device_plugin_values(
    pools: Sequence[GpuPool], extra_tolerations: Sequence[Mapping[str, str]] = ()
) -> dict[str, Any]:
    """NVIDIA device plugin values: GPU nodes only, one sharing config per shared pool."""
    configs = {"default": "version: v1\n"}
    for pool in pools:
        if pool.sharing in SHARING_KEYS:
            configs[pool.name] = (
                "version: v1\n"
                "sharing:\n"
                f"  {SHARING_KEYS[pool.sharing]}:\n"
                "    resources:\n"
                f"    - name: {GPU_RESOURCE}\n"
                f"      replicas: {pool.sharing_replicas}\n"
            )
    return {
        "config": {"map": configs, "default": "default"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": GPU_PRESENT_LABEL, "operator": "In", "values": ["true"]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [
            {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"},
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            *(dict(t) for t in extra_tolerations),
        ],
    }


def node_labels(pool: GpuPool) -> dict[str, str]:
    """The labels a GPU pool's nodes carry for the device plugin."""
    labels = {GPU_PRESENT_LABEL: "true"}
    if pool.sharing in SHARING_KEYS:
        labels[DEVICE_PLUGIN_CONFIG_LABEL] = pool.name
    return labels


def device_plugin(
    name: str,
    *,
    pools: Sequence[GpuPool],
    provider: k8s.Provider,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
    extra_tolerations: Sequence[Mapping[str, str]] = (),
) -> k8s.helm.v3.Release:
    """The device plugin release in its own namespace."""
    ns = namespace(
        f"{name}-device-plugin",
        NAMESPACE,
        # hostPath to the kubelet's device-plugin socket directory.
        pod_security="privileged",
        injection=False,
        parent=parent,
        provider=provider,
        depends_on=depends_on,
    )
    return release(
        f"{name}-device-plugin",
        chart="nvidia-device-plugin",
        release_name="nvidia-device-plugin",
        namespace=ns,
        values=device_plugin_values(pools, extra_tolerations),
        parent=parent,
        provider=provider,
    )
