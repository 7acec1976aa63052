"""A cluster gpuplane does not create: kind, k3d, minikube or any other."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GPU_TOLERATION, Cluster, GpuPool


@dataclass(frozen=True, kw_only=True)
class ExistingClusterArgs:
    """Arguments of `ExistingCluster`."""

    context: str
    """The kubeconfig context to use; required so nothing lands on the current context."""
    kubeconfig: pulumi.Input[str] | None = None
    """Path to, or content of, a kubeconfig. Default: the provider's own loading rules
    ($KUBECONFIG, then ~/.kube/config)."""
    gpu_pools: Sequence[GpuPool] = ()
    """The cluster's GPU nodes, selected by their existing labels."""
    load_balancer: bool = False
    """Whether a LoadBalancer Service gets an external address (default false, as on kind)."""
    metrics_server: bool = False
    """Whether the cluster serves the metrics API (default false, as on kind)."""


class ExistingCluster(pulumi.ComponentResource):
    """An explicit Kubernetes provider for an existing cluster, as a `Cluster`."""

    cluster: Cluster

    def __init__(
        self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:clusters:ExistingCluster", name, None, opts)
        kubeconfig = pulumi.Output.secret(args.kubeconfig) if args.kubeconfig is not None else None
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            context=args.context,
            # Server-side apply with conflicts surfaced, not forced.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster = Cluster(
            name=name,
            cloud="existing",
            provider=provider,
            kubeconfig=kubeconfig,
            gpu_pools=tuple(args.gpu_pools),
            load_balancer=args.load_balancer,
            metrics_server=args.metrics_server,
        )
        self.register_outputs(
            {"context": args.context, "gpuPools": [p.name for p in args.gpu_pools]}
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
