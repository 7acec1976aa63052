"""GPU scheduling defaults derived from the cluster's GPU pools.

KServe has no global default for predictor tolerations or node selection; a
ClusterServingRuntime's `tolerations` and `affinity` are merged under every
predictor that uses it (the predictor's own settings win). gpuplane ships a GPU
variant of KServe's Hugging Face runtime carrying the pools' scheduling, so an
InferenceService naming it lands on GPU nodes without repeating it.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GPU_RESOURCE, GpuPool
from gpuplane.components.serving.common import custom_resource
from gpuplane.components.versions import CHARTS

GPU_RUNTIME = "gpuplane-huggingface-gpu"


def tolerations(pools: Sequence[GpuPool]) -> list[dict[str, str]]:
    """Every toleration any GPU pool needs, each once."""
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for pool in pools:
        for toleration in pool.tolerations:
            seen.setdefault(tuple(sorted(toleration.items())), dict(toleration))
    return list(seen.values())


def node_affinity(pools: Sequence[GpuPool]) -> dict[str, Any]:
    """Required node affinity matching any GPU pool's nodes (terms are ORed)."""
    terms = [
        {
            "matchExpressions": [
                {"key": key, "operator": "In", "values": [value]}
                for key, value in sorted(pool.node_selector.items())
            ]
        }
        for pool in pools
    ]
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    }


def gpu_runtime(
    name: str,
    *,
    pools: Sequence[GpuPool],
    pod_labels: Mapping[str, str] = {},
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """KServe's Hugging Face server (GPU image) scheduled onto the GPU pools; its pods
    carry `pod_labels` (the runtime's labels reach every predictor pod using it)."""
    tag = CHARTS["kserve"].version
    spec: dict[str, Any] = {
        "annotations": {
            "prometheus.kserve.io/port": "8080",
            "prometheus.kserve.io/path": "/metrics",
        },
        "supportedModelFormats": [{"name": "huggingface", "version": "1", "autoSelect": False}],
        "protocolVersions": ["v2", "v1"],
        "containers": [
            {
                "name": "kserve-container",
                "image": f"kserve/huggingfaceserver:{tag}-gpu",
                "args": ["--model_name={{.Name}}"],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "resources": {
                    "requests": {"cpu": "1", "memory": "8Gi", GPU_RESOURCE: "1"},
                    "limits": {"cpu": "4", "memory": "16Gi", GPU_RESOURCE: "1"},
                },
            }
        ],
        "tolerations": tolerations(pools),
        "affinity": node_affinity(pools),
    }
    if pod_labels:
        spec["labels"] = dict(pod_labels)
    return custom_resource(
        f"{name}-gpu-runtime",
        api_version="serving.kserve.io/v1alpha1",
        kind="ClusterServingRuntime",
        name=GPU_RUNTIME,
        namespace=None,
        spec=spec,
        parent=parent,
        provider=provider,
        depends_on=depends_on,
    )
