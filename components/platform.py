"""build_platform: the cluster for the configured cloud, then what runs on it."""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.clusters.contract import Cluster
from components.clusters.existing import ExistingCluster, ExistingClusterArgs, gpu_pool_from_labels
from components.config import ConfigError, PlatformConfig
from components.serving.kserve import MODELS_NAMESPACE
from components.serving.stack import ServingStack, ServingStackArgs
from components.versions import MUTATING_ADMISSION_POLICY_MINOR


@dataclass
class Platform:
    """What `build_platform` made, and the stack outputs it exports."""

    cluster: Cluster
    serving: ServingStack
    outputs: dict[str, Any] = field(default_factory=dict)


def _existing(config: PlatformConfig) -> Cluster:
    existing = config.existing
    assert existing is not None  # guaranteed by config validation
    component = ExistingCluster(
        config.cluster.name,
        ExistingClusterArgs(
            context=existing.context,
            kubeconfig=existing.kubeconfig,
            load_balancer=existing.load_balancer,
            gpu_pools=[
                gpu_pool_from_labels(p.name, p.labels, p.accelerator, p.accelerator_count)
                for p in config.gpu_pools
            ],
        ),
    )
    return component.cluster


_CLUSTERS = {"existing": _existing}


def build_platform(config: PlatformConfig) -> Platform:
    """Create every resource of the stack described by `config`."""
    make_cluster = _CLUSTERS.get(config.cloud)
    if make_cluster is None:
        raise ConfigError(
            [
                f"gpuplane:cloud: {config.cloud!r} is not available in this version yet; "
                f"available: {', '.join(_CLUSTERS)}"
            ]
        )
    cluster = make_cluster(config)
    serving = ServingStack(
        f"{config.cluster.name}-serving",
        ServingStackArgs(
            cluster=cluster,
            settings=config.serving,
            min_replicas_policy=config.kubernetes_minor >= MUTATING_ADMISSION_POLICY_MINOR,
        ),
    )
    outputs: dict[str, Any] = {
        "cloud": config.cloud,
        "environment": config.environment,
        "clusterName": cluster.name,
        "gpuPools": [p.name for p in cluster.gpu_pools],
        "ingressServiceType": cluster.ingress_service_type,
    }
    if config.existing is not None:
        outputs["kubeContext"] = config.existing.context
    if cluster.kubeconfig is not None:
        outputs["kubeconfig"] = pulumi.Output.secret(cluster.kubeconfig)
    outputs["servingDomain"] = serving.domain
    outputs["modelsNamespace"] = MODELS_NAMESPACE
    if serving.monitoring is not None:
        outputs["grafanaAdminPassword"] = serving.monitoring.grafana_password
    return Platform(cluster=cluster, serving=serving, outputs=outputs)
