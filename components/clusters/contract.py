"""What every cluster module hands to the serving stack."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

GPU_RESOURCE = "nvidia.com/gpu"

# Tolerates the nvidia.com/gpu NoSchedule taint GPU nodes carry, so only pods that
# ask for a GPU land there.
GPU_TOLERATION: Mapping[str, str] = {
    "key": GPU_RESOURCE,
    "operator": "Exists",
    "effect": "NoSchedule",
}


@dataclass(frozen=True)
class GpuPool:
    """How workloads select one GPU pool's nodes."""

    name: str
    node_selector: Mapping[str, str]
    tolerations: Sequence[Mapping[str, str]] = (GPU_TOLERATION,)
    accelerator: str | None = None
    gpus_per_node: int | None = None
    min_nodes: int = 0
    max_nodes: int | None = None
    """None where the capacity is managed outside gpuplane."""
    spot: bool = False
    sharing: str = "none"
    """How pods share a GPU: none, time-slicing or mps."""
    sharing_replicas: int | None = None
    """Pods per physical GPU when shared."""


@dataclass(frozen=True)
class WorkloadIdentity:
    """How a ServiceAccount gets the cloud identity that reads model storage."""

    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels a model pod needs for the identity to reach it (AKS's workload identity
    webhook injects only into pods labelled `azure.workload.identity/use`)."""
    storage_uri_prefix: pulumi.Input[str] | None = None
    """e.g. `s3://bucket/`: where models may be read from without static keys."""


# The pod network a cluster runs. It decides the Istio CNI settings and whether
# kube-proxy runs (GKE Dataplane V2 and AKS's Cilium replace it with eBPF).
Dataplane = Literal["aws-vpc-cni", "gke-dataplane-v2", "azure-cilium", "kind"]
KUBE_PROXY: Mapping[str, bool] = {
    "aws-vpc-cni": True,
    "gke-dataplane-v2": False,
    "azure-cilium": False,
    "kind": True,
}


@dataclass(frozen=True)
class Cluster:
    """A Kubernetes cluster, ready for the serving stack."""

    name: pulumi.Input[str]
    cloud: str
    provider: k8s.Provider
    """The explicit provider every Kubernetes resource must use."""
    kubeconfig: pulumi.Output[str] | None
    """Secret; None where the provider loads the user's own kubeconfig."""
    gpu_pools: Sequence[GpuPool] = ()
    load_balancer: bool = False
    """Whether a LoadBalancer Service gets a cloud load balancer (false on kind)."""
    ingress_service: Mapping[str, Any] = field(default_factory=dict)
    """Extra values for the ingress gateway's Service (annotations, loadBalancerClass)
    that pick the cloud's load balancer."""
    workload_identity: WorkloadIdentity | None = None
    ready: Sequence[pulumi.Resource] = ()
    """Resources that must exist before anything is installed in the cluster
    (node groups, add-ons); the serving stack depends on them."""
    gpu_node_os: str = "unknown"
    """The GPU nodes' image, for host agents that reach the driver (dcgm-exporter):
    al2023, bottlerocket, eks-auto, cos, gke-autopilot, ubuntu or unknown."""
    empty_gpu_node_delay: str | None = None
    """How long the node autoscaler keeps an empty GPU node (None: not known here)."""
    facts: Any = None
    """The cloud resources jobs build on beside the cluster (EksFacts, GkeFacts or
    AksFacts from the cloud's module); None on an existing cluster."""
    dataplane: Dataplane = "kind"
    """The pod network (kind's kindnet with kube-proxy for existing clusters)."""
    managed_control_plane: bool = False
    """The cloud runs the control plane and hides its components from Prometheus."""
    metrics_server: bool = False
    """Whether the metrics API is served, so HorizontalPodAutoscalers can act."""

    @property
    def kube_proxy(self) -> bool:
        """Whether kube-proxy runs (and can be scraped)."""
        return KUBE_PROXY[self.dataplane]

    @property
    def ingress_service_type(self) -> str:
        return "LoadBalancer" if self.load_balancer else "NodePort"
