"""gpuplane's reusable Pulumi components: config, clusters and the serving stack.

The public API (docs/components.md) imports from here; each name loads its module
on first use, so importing one component pulls in no cloud SDK:

    from gpuplane.components import ExistingCluster, ServingStack
"""

from importlib import import_module
from typing import Any

_PUBLIC = {
    "ServingStack": "serving.stack",
    "ServingStackArgs": "serving.stack",
    "KnativeSettings": "serving.settings",
    "ExistingCluster": "clusters.existing",
    "ExistingClusterArgs": "clusters.existing",
    "Cluster": "clusters.contract",
    "ClusterSpec": "clusters.contract",
    "GpuPoolSpec": "clusters.contract",
    "GpuPlacement": "clusters.contract",
    "GpuSharing": "clusters.contract",
    "ModelIdentity": "clusters.contract",
    "ArgsError": "rules",
    "EksCluster": "clusters.aws",
    "EksClusterArgs": "clusters.aws",
    "EksComputeMode": "clusters.aws",
    "EksGpuNodeImage": "clusters.aws",
    "ControlPlanePort": "clusters.contract",
    "GkeCluster": "clusters.gcp",
    "GkeClusterArgs": "clusters.gcp",
    "GkeMode": "clusters.gcp",
    "GkeReleaseChannel": "clusters.gcp",
    "AksCluster": "clusters.azure",
    "AksClusterArgs": "clusters.azure",
    "AksNodeProvisioning": "clusters.azure",
    "AksSkuTier": "clusters.azure",
    "AksOutbound": "clusters.azure",
    "AksUpgradeChannel": "clusters.azure",
    "AksNodeOsUpgradeChannel": "clusters.azure",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
