"""build_platform: the cluster for the configured cloud, then what runs on it."""

from dataclasses import dataclass, field
from typing import Any

import pulumi

from gpuplane.components.cache_config import model_cache_settings, node_labels
from gpuplane.components.clusters.contract import (
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    Cluster,
    GpuPoolSpec,
)
from gpuplane.components.clusters.existing import ExistingCluster, ExistingClusterArgs
from gpuplane.components.config import (
    ConfigError,
    GpuPoolConfig,
    PlatformConfig,
    existing_pool_spec,
    gpu_pool_spec,
)
from gpuplane.components.jobs.clouds import cloud_jobs
from gpuplane.components.jobs.settings import JobQueueConfig
from gpuplane.components.jobs.stack import CONTROL_PLANE_PORTS, JobsStack, JobsStackArgs
from gpuplane.components.serving.cache_identity import ModelCacheIdentity, ModelCacheIdentityArgs
from gpuplane.components.serving.ports import WEBHOOK_PORTS
from gpuplane.components.serving.stack import ServingStack, ServingStackArgs

# A cloud's cluster module (and its SDK, an extra) is imported only when a stack on
# that cloud is built: `local` imports none of them.


@dataclass
class Platform:
    """What `build_platform` made, and the stack outputs it exports."""

    cluster: Cluster
    serving: ServingStack
    jobs: JobsStack | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


def _existing(config: PlatformConfig) -> Cluster:
    existing = config.existing
    assert existing is not None  # guaranteed by config validation
    args = ExistingClusterArgs(
        context=existing.context,
        load_balancer=existing.load_balancer,
        gpu_pools=[existing_pool_spec(p) for p in config.gpu_pools],
        kubernetes_version=config.cluster.kubernetes_version,
        metrics_server=existing.metrics_server,
    )
    if existing.kubeconfig is not None:
        args["kubeconfig"] = existing.kubeconfig
    return ExistingCluster(config.cluster.name, args).cluster


def _aws(config: PlatformConfig) -> Cluster:
    from gpuplane.components.clusters.aws import EksCluster, EksClusterArgs

    aws = config.aws
    system = config.system_pool
    assert aws is not None and system is not None and system.instance_type is not None
    endpoint = config.cluster.endpoint
    args = EksClusterArgs(
        kubernetes_version=config.cluster.kubernetes_version,
        admin_role_arns=list(aws.admin_role_arns),
        public_access_cidrs=list(endpoint.public_access_cidrs) if endpoint.public_access else [],
        private_access=endpoint.private_access,
        compute_mode=aws.compute_mode,
        vpc_cidr=aws.vpc_cidr,
        zone_count=aws.zone_count or 2,
        nat_per_zone=bool(aws.nat_gateway_per_zone),
        system_instance_type=system.instance_type,
        system_min_nodes=system.min_nodes,
        system_max_nodes=system.max_nodes,
        gpu_pools=[_pool_spec(config, p) for p in config.gpu_pools],
        gpu_volume_gib=aws.gpu_volume_size,
        consolidate_after=aws.consolidate_after,
        fast_image_pull=aws.fast_image_pull,
        models_namespace=MODELS_NAMESPACE,
        models_service_account=MODELS_SERVICE_ACCOUNT,
        protect=config.protect,
        log_retention_days=90 if config.is_prod else 30,
        tags={"gpuplane.dev/environment": config.environment},
        control_plane_ports=[
            {"port": port, "description": description}
            for port, description in _control_plane_ports(config).items()
        ],
    )
    if aws.compute_mode == "karpenter":
        # Auto Mode manages the node image: these keys are refused there.
        args["gpu_node_image"] = aws.gpu_node_image
        args["gpu_node_image_version"] = aws.gpu_node_image_version
    if aws.image_cache_snapshot_id is not None:
        args["image_cache_snapshot_id"] = aws.image_cache_snapshot_id
    return EksCluster(config.cluster.name, args).cluster


def _pool_spec(config: PlatformConfig, pool: GpuPoolConfig) -> GpuPoolSpec:
    """The pool's spec, its labels including the model cache agent's where it keeps one."""
    return {**gpu_pool_spec(pool), "labels": node_labels(config, pool)}


def _gcp(config: PlatformConfig) -> Cluster:
    from gpuplane.components.clusters.gcp import GkeCluster, GkeClusterArgs

    gcp = config.gcp
    system = config.system_pool
    assert gcp is not None and system is not None and system.instance_type is not None
    assert config.location.project is not None and config.location.region is not None
    endpoint = config.cluster.endpoint
    args = GkeClusterArgs(
        project=config.location.project,
        region=config.location.region,
        kubernetes_version=config.cluster.kubernetes_version,
        authorized_cidrs=list(endpoint.public_access_cidrs) if endpoint.public_access else [],
        mode=gcp.mode,
        regional=bool(gcp.regional),
        release_channel=gcp.release_channel,
        subnet_cidr=gcp.subnet_cidr,
        pods_cidr=gcp.pods_cidr,
        services_cidr=gcp.services_cidr,
        master_cidr=gcp.master_cidr,
        gpu_pools=[_pool_spec(config, p) for p in config.gpu_pools],
        node_auto_provisioning=gcp.node_auto_provisioning,
        models_namespace=MODELS_NAMESPACE,
        models_service_account=MODELS_SERVICE_ACCOUNT,
        protect=config.protect,
        labels={"gpuplane-environment": config.environment},
        control_plane_ports=[
            {"port": port, "description": description}
            for port, description in _control_plane_ports(config).items()
        ],
    )
    if gcp.mode == "standard":  # Autopilot sizes its own nodes
        args["system_machine_type"] = system.instance_type
        args["system_min_nodes"] = system.min_nodes
        args["system_max_nodes"] = system.max_nodes
    return GkeCluster(config.cluster.name, args).cluster


def _azure(config: PlatformConfig) -> Cluster:
    from gpuplane.components.clusters.azure import AksCluster, AksClusterArgs

    azure = config.azure
    system = config.system_pool
    assert azure is not None and system is not None and system.instance_type is not None
    assert azure.sku_tier is not None and azure.outbound is not None
    assert config.location.region is not None
    endpoint = config.cluster.endpoint
    component = AksCluster(
        config.cluster.name,
        AksClusterArgs(
            location=config.location.region,
            kubernetes_version=config.cluster.kubernetes_version,
            admin_group_object_ids=list(azure.admin_group_object_ids),
            authorized_cidrs=list(endpoint.public_access_cidrs) if endpoint.public_access else [],
            node_provisioning=azure.node_provisioning,
            sku_tier=azure.sku_tier,
            outbound=azure.outbound,
            vnet_cidr=azure.vnet_cidr,
            pod_cidr=azure.pod_cidr,
            service_cidr=azure.service_cidr,
            encryption_at_host=azure.encryption_at_host,
            upgrade_channel=azure.upgrade_channel,
            node_os_upgrade_channel=azure.node_os_upgrade_channel,
            system_nodes=3 if config.is_prod else 1,
            platform_vm_size=system.instance_type,
            platform_min_nodes=system.min_nodes,
            platform_max_nodes=system.max_nodes,
            gpu_pools=[_pool_spec(config, p) for p in config.gpu_pools],
            models_namespace=MODELS_NAMESPACE,
            models_service_account=MODELS_SERVICE_ACCOUNT,
            protect=config.protect,
            log_retention_days=90 if config.is_prod else 30,
            tags={"gpuplane-environment": config.environment},
        ),
    )
    return component.cluster


def _control_plane_ports(config: PlatformConfig) -> dict[int, str]:
    """Node ports the API server calls: the serving stack's webhooks, and the jobs'."""
    return {**WEBHOOK_PORTS, **(CONTROL_PLANE_PORTS if config.jobs_enabled else {})}


_CLUSTERS = {"existing": _existing, "aws": _aws, "gcp": _gcp, "azure": _azure}


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
    settings = config.serving
    spec = cluster.spec
    if config.location.region is not None:
        spec["region"] = config.location.region
    args = ServingStackArgs(
        cluster=spec,
        monitoring=settings.monitoring.settings(),
        knative=settings.knative.settings(),
        high_availability=config.is_prod,
    )
    if settings.domain is not None:
        args["domain"] = settings.domain
    if settings.acme_email is not None:
        args["acme_email"] = settings.acme_email
    ready = list(cluster.ready)
    cache = model_cache_settings(config)
    if cache is not None:
        # The download jobs' read access exists before any model is asked for.
        identity = ModelCacheIdentity(
            f"{config.cluster.name}-model-cache-identity", ModelCacheIdentityArgs(cluster=cluster)
        )
        if identity.job_identity:
            cache["job_identity"] = identity.job_identity
        ready += identity.bindings
        args["model_cache"] = cache
    serving = ServingStack(
        f"{config.cluster.name}-serving",
        args,
        opts=pulumi.ResourceOptions(depends_on=ready),
    )
    outputs: dict[str, Any] = {
        "cloud": config.cloud,
        "environment": config.environment,
        "region": config.location.region,
        "clusterName": cluster.name,
        "gpuPools": [p.name for p in cluster.gpu_pools],
        "ingressServiceType": cluster.ingress_service_type,
    }
    if config.existing is not None:
        outputs["kubeContext"] = config.existing.context
    if cluster.kubeconfig is not None:
        outputs["kubeconfig"] = pulumi.Output.secret(cluster.kubeconfig)
    outputs["servingDomain"] = serving.domain
    # Read it back into serving.knative.installedVersion before the next Knative move.
    outputs["knativeServingVersion"] = config.serving.knative.version
    outputs["modelsNamespace"] = cluster.models_namespace
    identity = cluster.workload_identity
    if identity is not None and identity.storage_uri_prefix is not None:
        outputs["modelStorageUri"] = identity.storage_uri_prefix
    if serving.monitoring is not None:
        outputs["grafanaAdminPassword"] = serving.monitoring.grafana_password
    if serving.observability is not None and serving.observability.missing:
        # What this cluster's observability lacks, and why (GKE Autopilot's DCGM).
        outputs["monitoringGaps"] = serving.observability.missing
    jobs = _jobs(config, cluster, serving) if config.jobs_enabled else None
    if jobs is not None:
        outputs["trainingNamespace"] = "training"
        outputs["jobs"] = [j.name for j in config.jobs]
    return Platform(cluster=cluster, serving=serving, jobs=jobs, outputs=outputs)


def _jobs(config: PlatformConfig, cluster: Cluster, serving: ServingStack) -> JobsStack:
    """KEDA, Kueue, the training identity and the configured jobs."""
    queue = config.job_queue or JobQueueConfig()
    return JobsStack(
        f"{config.cluster.name}-jobs",
        JobsStackArgs(
            cluster=cluster,
            jobs=config.jobs,
            queue=queue,
            cloud=cloud_jobs(cluster, config.jobs, queue),
            monitoring=serving.monitoring.release if serving.monitoring is not None else None,
        ),
    )
