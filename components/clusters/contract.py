"""What every cluster module hands to the serving stack.

`Cluster` is the Python contract (with the resources the stack must wait for);
`ClusterSpec` is the same contract as plain data, the serving stack's input, so it
also crosses languages (a Pulumi YAML or TypeScript program passes it through).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

GPU_RESOURCE = "nvidia.com/gpu"
MODELS_NAMESPACE = "models"
MODELS_SERVICE_ACCOUNT = "models"
POOL_LABEL = "gpuplane.dev/pool"
"""The node label every pool gpuplane creates carries: its pool's name (`system`,
`platform` or a GPU pool's name)."""

# Tolerates the nvidia.com/gpu NoSchedule taint GPU nodes carry, so only pods that
# ask for a GPU land there.
GPU_TOLERATION: Mapping[str, str] = {
    "key": GPU_RESOURCE,
    "operator": "Exists",
    "effect": "NoSchedule",
}


class PodNetwork(StrEnum):
    """The pod network a cluster runs (the contract's `dataplane`)."""

    AWS_VPC_CNI = "aws-vpc-cni"
    """EKS's VPC CNI, with kube-proxy."""
    GKE_DATAPLANE_V2 = "gke-dataplane-v2"
    """GKE Dataplane V2 (eBPF, no kube-proxy)."""
    AZURE_CILIUM = "azure-cilium"
    """AKS with Azure CNI powered by Cilium (no kube-proxy)."""
    KIND = "kind"
    """kind's kindnet with kube-proxy, and any other standard CNI."""


class GpuSharing(StrEnum):
    """How pods share one physical GPU."""

    NONE = "none"
    """Each pod gets whole GPUs."""
    TIME_SLICING = "time-slicing"
    """The device plugin advertises each GPU several times; pods take turns."""
    MPS = "mps"
    """NVIDIA MPS: concurrent pods with split memory (not offered on AKS)."""


class GpuPoolSpec(TypedDict):
    """One GPU pool, cloud-neutral: the input every cluster component takes."""

    name: str
    """Pool name: 1-12 lowercase letters and digits, starting with a letter."""
    instance_types: NotRequired[Sequence[str]]
    """Machine types (one on GKE and AKS; several let Karpenter choose on EKS). Default:
    none, for pools gpuplane does not create (existing clusters)."""
    accelerator: NotRequired[str]
    """GPU id such as nvidia-l4. Default: implied by the machine type."""
    accelerator_count: NotRequired[int]
    """GPUs per node. Default: implied by the machine type."""
    min_nodes: NotRequired[int]
    """Nodes kept while idle. Default 0: the pool scales to zero."""
    max_nodes: NotRequired[int]
    """Most nodes the pool may grow to. Default 1."""
    spot: NotRequired[bool]
    """Spot/preemptible capacity. Default false."""
    labels: NotRequired[Mapping[str, str]]
    """Extra node labels; on an existing cluster, the labels that select the pool's nodes.
    Default: none."""
    sharing: NotRequired[GpuSharing]
    """How pods share a GPU. Default none."""
    sharing_replicas: NotRequired[int]
    """Pods per physical GPU when shared (2-48); required unless sharing is none."""


class ControlPlanePort(TypedDict):
    """A node port a cluster's control plane may call (a webhook or an aggregated API),
    opened in the firewall between control plane and nodes (EKS, GKE)."""

    port: int
    """The TCP port on the nodes."""
    description: str
    """What listens there (the firewall rule's description)."""


class GpuPlacement(TypedDict):
    """How workloads land on one GPU pool's nodes (the contract's view of a pool)."""

    name: str
    """The pool's name."""
    node_selector: Mapping[str, str]
    """Labels that select the pool's nodes."""
    tolerations: NotRequired[Sequence[Mapping[str, str]]]
    """Tolerations a pod needs there. Default: the nvidia.com/gpu NoSchedule taint."""
    accelerator: NotRequired[str]
    """GPU id such as nvidia-l4. Default: unknown."""
    gpus_per_node: NotRequired[int]
    """GPUs per node. Default: unknown."""
    min_nodes: NotRequired[int]
    """Nodes kept while idle. Default 0."""
    max_nodes: NotRequired[int]
    """Most nodes the pool may grow to. Default: managed outside gpuplane."""
    spot: NotRequired[bool]
    """Spot/preemptible capacity. Default false."""
    sharing: NotRequired[GpuSharing]
    """How pods share a GPU. Default none."""
    sharing_replicas: NotRequired[int]
    """Pods per physical GPU when shared. Default: not shared."""


class ModelIdentity(TypedDict):
    """How the models ServiceAccount gets the cloud identity that reads model storage."""

    service_account_annotations: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Annotations that bind the ServiceAccount to a cloud identity. Default: none."""
    pod_labels: NotRequired[Mapping[str, str]]
    """Labels a model pod needs for the identity to reach it. Default: none."""
    storage_uri_prefix: NotRequired[pulumi.Input[str]]
    """Where models may be read from without static keys (`s3://bucket/`). Default: none."""


class ClusterSpec(TypedDict):
    """What the serving stack needs from a cluster, as plain data."""

    provider: k8s.Provider
    """The explicit Kubernetes provider every resource in the cluster uses."""
    cloud: NotRequired[str]
    """aws, gcp, azure or existing: where gpuplane installed what (Karpenter on EKS).
    Default existing."""
    region: NotRequired[str]
    """The cloud region; its dated price table prices the cost rules. Default: unknown
    (no cost rules)."""
    kubernetes_version: NotRequired[str]
    """The cluster's Kubernetes minor version, `1.NN`; decides which APIs the stack may use.
    Default: unknown, so nothing newer than Kubernetes 1.31 is used."""
    load_balancer: NotRequired[bool]
    """Whether a LoadBalancer Service gets an external address. Default false (kind)."""
    ingress_service: NotRequired[Mapping[str, Any]]
    """Extra Helm values for the ingress gateway's Service (annotations,
    loadBalancerClass) that pick the cloud's load balancer. Default: none."""
    gpu_pools: NotRequired[Sequence[GpuPlacement]]
    """The cluster's GPU pools. Default: none (no GPU runtime is installed)."""
    models_namespace: NotRequired[str]
    """Namespace for InferenceServices. Default `models`."""
    models_service_account: NotRequired[str]
    """ServiceAccount model pods run as. Default `models`."""
    dataplane: NotRequired[PodNetwork]
    """The pod network; decides the Istio CNI settings. Default kind."""
    managed_control_plane: NotRequired[bool]
    """The cloud runs the control plane and hides its components. Default false."""
    metrics_server: NotRequired[bool]
    """Whether the metrics API is served, so HorizontalPodAutoscalers can act.
    Default false."""
    dns: NotRequired[str]
    """The cluster DNS Prometheus scrapes: coredns, or kube-dns (GKE). Default coredns."""
    model_identity: NotRequired[ModelIdentity]
    """Cloud identity of the models ServiceAccount. Default: none (static keys)."""
    gpu_node_os: NotRequired[str]
    """The GPU nodes' image, for host agents that reach the driver (dcgm-exporter):
    al2023, bottlerocket, eks-auto, cos, gke-autopilot, ubuntu or unknown. Default
    unknown."""
    empty_gpu_node_delay: NotRequired[str]
    """How long the node autoscaler keeps an empty GPU node. Default: unknown."""
    control_plane_ports: NotRequired[Sequence[int]]
    """The node ports a firewall between control plane and nodes lets the API server
    reach (EKS security groups, GKE's firewall); the serving stack refuses a cluster that
    leaves its webhook ports closed. Default: unrestricted (AKS, kind)."""


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

    @property
    def placement(self) -> GpuPlacement:
        """This pool as plain data."""
        placement = GpuPlacement(
            name=self.name,
            node_selector=dict(self.node_selector),
            tolerations=[dict(t) for t in self.tolerations],
            min_nodes=self.min_nodes,
            spot=self.spot,
            sharing=GpuSharing(self.sharing),
        )
        if self.max_nodes is not None:
            placement["max_nodes"] = self.max_nodes
        if self.accelerator is not None:
            placement["accelerator"] = self.accelerator
        if self.gpus_per_node is not None:
            placement["gpus_per_node"] = self.gpus_per_node
        if self.sharing_replicas is not None:
            placement["sharing_replicas"] = self.sharing_replicas
        return placement


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
    (node groups, add-ons): pass them as the serving stack's `depends_on`."""
    kubernetes_version: str | None = None
    """Kubernetes minor version `1.NN`; None where unknown."""
    models_namespace: str = MODELS_NAMESPACE
    """Where InferenceServices run; the model identity is bound to this namespace."""
    models_service_account: str = MODELS_SERVICE_ACCOUNT
    """The ServiceAccount the model identity trusts."""
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
    dns: Literal["coredns", "kube-dns"] = "coredns"
    """The cluster DNS Prometheus scrapes (GKE runs kube-dns)."""
    control_plane_ports: Sequence[int] | None = None
    """Node ports the API server may reach through the firewall between control plane and
    nodes; None where nothing stands between them (AKS's konnectivity tunnel, kind)."""

    @property
    def kube_proxy(self) -> bool:
        """Whether kube-proxy runs (and can be scraped)."""
        return KUBE_PROXY[self.dataplane]

    @property
    def ingress_service_type(self) -> str:
        return "LoadBalancer" if self.load_balancer else "NodePort"

    @property
    def spec(self) -> ClusterSpec:
        """This contract as the serving stack's input."""
        spec = ClusterSpec(
            provider=self.provider,
            cloud=self.cloud,
            load_balancer=self.load_balancer,
            ingress_service=dict(self.ingress_service),
            gpu_pools=[pool.placement for pool in self.gpu_pools],
            models_namespace=self.models_namespace,
            models_service_account=self.models_service_account,
        )
        if self.kubernetes_version is not None:
            spec["kubernetes_version"] = self.kubernetes_version
        spec["gpu_node_os"] = self.gpu_node_os
        spec["dataplane"] = PodNetwork(self.dataplane)
        spec["managed_control_plane"] = self.managed_control_plane
        spec["metrics_server"] = self.metrics_server
        spec["dns"] = self.dns
        if self.empty_gpu_node_delay is not None:
            spec["empty_gpu_node_delay"] = self.empty_gpu_node_delay
        if self.control_plane_ports is not None:
            spec["control_plane_ports"] = sorted(self.control_plane_ports)
        identity = self.workload_identity
        if identity is not None:
            model_identity = ModelIdentity(
                service_account_annotations=dict(identity.service_account_annotations),
                pod_labels=dict(identity.pod_labels),
            )
            if identity.storage_uri_prefix is not None:
                model_identity["storage_uri_prefix"] = identity.storage_uri_prefix
            spec["model_identity"] = model_identity
        return spec


def pool_from_placement(placement: GpuPlacement) -> GpuPool:
    """A GpuPlacement (plain data) as the contract's GpuPool."""
    return GpuPool(
        name=placement["name"],
        node_selector=dict(placement["node_selector"]),
        tolerations=tuple(dict(t) for t in placement.get("tolerations", (GPU_TOLERATION,))),
        accelerator=placement.get("accelerator"),
        gpus_per_node=placement.get("gpus_per_node"),
        min_nodes=placement.get("min_nodes", 0),
        max_nodes=placement.get("max_nodes"),
        spot=placement.get("spot", False),
        sharing=GpuSharing(placement.get("sharing", GpuSharing.NONE)).value,
        sharing_replicas=placement.get("sharing_replicas"),
    )


def identity_from_spec(identity: ModelIdentity | None) -> WorkloadIdentity | None:
    """A ModelIdentity (plain data) as the contract's WorkloadIdentity."""
    if identity is None:
        return None
    return WorkloadIdentity(
        service_account_annotations=dict(identity.get("service_account_annotations", {})),
        pod_labels=dict(identity.get("pod_labels", {})),
        storage_uri_prefix=identity.get("storage_uri_prefix"),
    )
