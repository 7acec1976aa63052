"""A cluster gpuplane does not create: kind, k3d, minikube or any other."""

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import (
    GPU_TOLERATION,
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    Cluster,
    ClusterSpec,
    GpuPool,
    GpuPoolSpec,
)
from gpuplane.components.clusters.pools import gpu_pool_problems
from gpuplane.components.naming import type_token
from gpuplane.components.rules import KeyName, check, python_key, unknown_keys

# Pool fields that describe capacity gpuplane creates; an existing cluster's is not.
_CAPACITY_FIELDS = ("instance_types", "min_nodes", "max_nodes", "spot", "sharing")


class ExistingClusterArgs(TypedDict):
    """Arguments of `ExistingCluster`."""

    context: str
    """The kubeconfig context to use; required so nothing lands on the current context."""
    kubeconfig: NotRequired[pulumi.Input[str]]
    """Path to, or content of, a kubeconfig (kept secret). Default: the provider's own
    loading rules ($KUBECONFIG, then ~/.kube/config)."""
    load_balancer: NotRequired[bool]
    """Whether a LoadBalancer Service gets an external address. Default false (kind)."""
    metrics_server: NotRequired[bool]
    """Whether the cluster serves the metrics API. Default false (kind)."""
    gpu_pools: NotRequired[Sequence[GpuPoolSpec]]
    """The cluster's GPU nodes, each selected by the `labels` they already carry.
    Default: none."""
    kubernetes_version: NotRequired[str]
    """The Kubernetes minor version the cluster runs, `1.NN`; decides which APIs the
    serving stack may use. Default: unknown (nothing newer than 1.31 is used)."""
    models_namespace: NotRequired[str]
    """Namespace for InferenceServices. Default `models`."""
    models_service_account: NotRequired[str]
    """ServiceAccount model pods run as. Default `models`."""


def existing_pool_problems(pool: GpuPoolSpec, key: KeyName) -> list[str]:
    """What is wrong with a GPU pool spec on an existing cluster, each naming its key."""
    problems = []
    if not pool.get("labels"):
        problems.append(
            f"{key('labels')}: required for an existing cluster: the node labels that "
            "select this pool's GPU nodes"
        )
    for field in _CAPACITY_FIELDS:
        if field in pool:
            problems.append(
                f"{key(field)}: has no effect for an existing cluster (its capacity is "
                "managed outside gpuplane); remove it"
            )
    return problems


def existing_cluster_problems(args: ExistingClusterArgs) -> list[str]:
    """Every rule ExistingCluster applies to its args, with Python key paths."""
    problems = unknown_keys(args, ExistingClusterArgs, python_key)
    if not args.get("context"):
        problems.append("context: required: the kubeconfig context to use")
    pools = args.get("gpu_pools", ())
    # Names, uniqueness and label syntax: the rules every cluster's pools follow.
    problems.extend(gpu_pool_problems("existing", pools, python_key))
    for i, pool in enumerate(pools):
        problems.extend(existing_pool_problems(pool, lambda k, i=i: f"gpu_pools[{i}].{k}"))
    return problems


class ExistingCluster(pulumi.ComponentResource):
    """An explicit Kubernetes provider for an existing cluster, and the cluster contract
    the serving stack installs on (`spec`)."""

    provider: k8s.Provider
    """The explicit provider every Kubernetes resource in this cluster must use."""
    spec: ClusterSpec
    """The cluster as ServingStack's `cluster` input."""
    context: pulumi.Output[str]
    """The kubeconfig context in use."""
    gpu_pool_names: pulumi.Output[list[str]]
    """The GPU pools' names."""

    def __init__(
        self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check("ExistingCluster", existing_cluster_problems(args))
        super().__init__(type_token("clusters", "ExistingCluster"), name, None, opts)
        given = args.get("kubeconfig")
        kubeconfig = pulumi.Output.secret(given) if given is not None else None
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=args["context"],
            # Server-side apply with conflicts surfaced, not forced.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        pools = [gpu_pool_from_spec(p) for p in args.get("gpu_pools", ())]
        self.cluster = Cluster(
            name=name,
            cloud="existing",
            provider=self.provider,
            kubeconfig=kubeconfig,
            gpu_pools=tuple(pools),
            load_balancer=bool(args.get("load_balancer", False)),
            kubernetes_version=args.get("kubernetes_version"),
            models_namespace=args.get("models_namespace", MODELS_NAMESPACE),
            models_service_account=args.get("models_service_account", MODELS_SERVICE_ACCOUNT),
            metrics_server=bool(args.get("metrics_server", False)),
        )
        self.spec = self.cluster.spec
        self.context = pulumi.Output.from_input(args["context"])
        self.gpu_pool_names = pulumi.Output.from_input([p.name for p in pools])
        self.register_outputs(
            {
                "provider": self.provider,
                "spec": self.spec,
                "context": self.context,
                "gpuPoolNames": self.gpu_pool_names,
            }
        )


def gpu_pool_from_spec(pool: GpuPoolSpec) -> GpuPool:
    """A pool on an existing cluster: its nodes are selected by the labels they carry."""
    return gpu_pool_from_labels(
        pool["name"],
        dict(pool.get("labels", {})),
        pool.get("accelerator"),
        pool.get("accelerator_count"),
    )


def gpu_pool_from_labels(
    name: str, labels: dict[str, str], accelerator: str | None, gpus_per_node: int | None
) -> GpuPool:
    """A pool on an existing cluster: its nodes are selected by the labels they already carry."""
    return GpuPool(
        name=name,
        node_selector=dict(labels),
        tolerations=(GPU_TOLERATION,),
        accelerator=accelerator,
        gpus_per_node=gpus_per_node,
        max_nodes=None,
    )
