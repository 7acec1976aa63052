"""GKE (Standard or Autopilot) with GPUs that scale to zero, as a `Cluster`.

VPC + subnet (pod and service ranges) -> Cloud Router + NAT (private nodes)
KMS key (GKE's service agent may use it) + node service account (minimal role)
-> GKE cluster (Workload Identity, Dataplane V2, private nodes, secrets
   encrypted, shielded nodes, release channel)
-> system pool + one GPU pool per config entry (Standard; Autopilot has none)
models bucket + reader service account bound to models/models (Workload Identity)
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components import gpus
from gpuplane.components.clusters.contract import (
    GPU_TOLERATION,
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    POOL_LABEL,
    Cluster,
    ClusterSpec,
    ControlPlanePort,
    GpuPool,
    GpuPoolSpec,
    GpuSharing,
    WorkloadIdentity,
)
from gpuplane.components.clusters.gcp_args import (
    CIDR_DEFAULTS,
    GkeClusterArgs,
    GkeMode,
    GkeReleaseChannel,
    gke_cluster_problems,
)
from gpuplane.components.clusters.kubeconfig import exec_kubeconfig
from gpuplane.components.extras import missing_extra
from gpuplane.components.naming import type_token
from gpuplane.components.rules import check
from gpuplane.components.serving.cache_settings import GCP_LOCAL_SSDS
from gpuplane.components.serving.ports import WEBHOOK_PORTS

try:
    import pulumi_gcp as gcp
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.gcp") from None

__all__ = [
    "ControlPlanePort",
    "GkeCluster",
    "GkeClusterArgs",
    "GkeFacts",
    "GkeMode",
    "GkeReleaseChannel",
]

NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
NODEPOOL_LABEL = "cloud.google.com/gke-nodepool"
# Node ports GKE's own firewall rule lets a private cluster's control plane reach.
GKE_CONTROL_PLANE_PORTS = (443, 10250)
_SHARING = {"time-slicing": "TIME_SHARING", "mps": "MPS"}


@dataclass(frozen=True, kw_only=True)
class _GkePool:
    """A GPU pool spec resolved for GKE: one machine type and the GPUs it carries."""

    name: str
    machine_type: str
    accelerator: str
    accelerator_count: int
    max_nodes: int
    min_nodes: int = 0
    spot: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    sharing: str = "none"
    sharing_replicas: int | None = None


def _gke_pool(spec: GpuPoolSpec) -> _GkePool:
    """The one place a pool spec becomes a GKE pool: the GPU comes from the machine type
    where it implies one (components/gpus.py), from `accelerator` on N1."""
    machine = spec["instance_types"][0]
    implied = gpus.implied_gpu("gcp", machine)
    accelerator = implied.accelerator if implied else spec.get("accelerator")
    count = implied.count if implied else spec.get("accelerator_count", 1)
    assert accelerator is not None  # gke_cluster_problems requires it for N1
    return _GkePool(
        name=spec["name"],
        machine_type=machine,
        accelerator=accelerator,
        accelerator_count=count,
        min_nodes=spec.get("min_nodes", 0),
        max_nodes=spec.get("max_nodes", 1),
        spot=bool(spec.get("spot", False)),
        labels=dict(spec.get("labels", {})),
        sharing=GpuSharing(spec.get("sharing", GpuSharing.NONE)).value,
        sharing_replicas=spec.get("sharing_replicas"),
    )


@dataclass(frozen=True)
class _Settings:
    """GkeClusterArgs with every default filled in."""

    project: str
    region: str
    kubernetes_version: str
    authorized_cidrs: Sequence[pulumi.Input[str]]
    autopilot: bool
    regional: bool
    release_channel: str
    subnet_cidr: str
    pods_cidr: str
    services_cidr: str
    master_cidr: str
    system_machine_type: str
    system_min_nodes: int
    system_max_nodes: int
    gpu_pools: Sequence[_GkePool]
    node_auto_provisioning: bool
    models_namespace: str
    models_service_account: str
    protect: bool
    labels: Mapping[str, pulumi.Input[str]]
    control_plane_ports: Mapping[int, str]

    @classmethod
    def of(cls, args: GkeClusterArgs) -> "_Settings":
        ports = args.get("control_plane_ports")
        cidrs = {name: args.get(name, default) for name, default in CIDR_DEFAULTS.items()}
        return cls(
            project=args["project"],
            region=args["region"],
            kubernetes_version=args["kubernetes_version"],
            authorized_cidrs=list(args.get("authorized_cidrs", ())),
            autopilot=args.get("mode", GkeMode.STANDARD) == GkeMode.AUTOPILOT,
            regional=bool(args.get("regional", False)),
            release_channel=GkeReleaseChannel(
                args.get("release_channel", GkeReleaseChannel.REGULAR)
            ).value,
            subnet_cidr=cidrs["subnet_cidr"],
            pods_cidr=cidrs["pods_cidr"],
            services_cidr=cidrs["services_cidr"],
            master_cidr=cidrs["master_cidr"],
            system_machine_type=args.get("system_machine_type", "e2-standard-4"),
            system_min_nodes=args.get("system_min_nodes", 2),
            system_max_nodes=args.get("system_max_nodes", 3),
            gpu_pools=[_gke_pool(p) for p in args.get("gpu_pools", ())],
            node_auto_provisioning=bool(args.get("node_auto_provisioning", False)),
            models_namespace=args.get("models_namespace", MODELS_NAMESPACE),
            models_service_account=args.get("models_service_account", MODELS_SERVICE_ACCOUNT),
            protect=bool(args.get("protect", False)),
            labels=dict(args.get("labels", {})),
            control_plane_ports=(
                {p["port"]: p["description"] for p in ports}
                if ports is not None
                else dict(WEBHOOK_PORTS)
            ),
        )


def kubeconfig(
    cluster_name: str, endpoint: pulumi.Input[str], ca_data: pulumi.Input[str]
) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin."""
    return exec_kubeconfig(
        cluster_name,
        server=pulumi.Output.concat("https://", endpoint),
        ca_data=ca_data,
        exec_config={"command": "gke-gcloud-auth-plugin", "provideClusterInfo": True},
    )


def autopilot_selector(pool: _GkePool) -> dict[str, str]:
    """The node selector that makes Autopilot provision this pool's GPUs for a pod."""
    selector = {
        ACCELERATOR_LABEL: pool.accelerator,
        "cloud.google.com/gke-accelerator-count": str(pool.accelerator_count),
    }
    if pool.spot:
        selector["cloud.google.com/gke-spot"] = "true"
    if pool.sharing == "time-slicing":
        selector["cloud.google.com/gke-gpu-sharing-strategy"] = "time-sharing"
        selector["cloud.google.com/gke-max-shared-clients-per-gpu"] = str(pool.sharing_replicas)
    return selector


class GkeCluster(pulumi.ComponentResource):
    """A private-node GKE cluster (Standard or Autopilot) with GPU node pools that scale to
    zero, a models bucket and the Workload Identity that reads it; the cluster contract
    the serving stack installs on (`spec`)."""

    provider: k8s.Provider
    """The explicit provider every Kubernetes resource in this cluster must use."""
    spec: ClusterSpec
    """The cluster as ServingStack's `cluster` input."""
    cluster_name: pulumi.Output[str]
    """The GKE cluster's name."""
    endpoint: pulumi.Output[str]
    """The Kubernetes API server's address."""
    models_bucket: pulumi.Output[str]
    """The Cloud Storage bucket model pods read through Workload Identity."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin (secret)."""

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check("GkeCluster", gke_cluster_problems(args))
        super().__init__(type_token("clusters", "GkeCluster"), name, None, opts)
        self._build(name, _Settings.of(args))

    def _build(self, name: str, args: _Settings) -> None:
        child = pulumi.ResourceOptions(parent=self)
        project = args.project
        labels = {"gpuplane-cluster": name, "managed-by": "gpuplane", **args.labels}
        autopilot = args.autopilot
        invoke = pulumi.InvokeOutputOptions(parent=self)
        project_number = gcp.organizations.get_project_output(
            project_id=project, opts=invoke
        ).number
        if args.regional:
            location: pulumi.Input[str] = args.region
        else:
            zones = gcp.compute.get_zones_output(
                project=project, region=args.region, status="UP", opts=invoke
            )
            location = zones.names.apply(lambda names: sorted(names)[0])

        # --- network -------------------------------------------------------------
        vpc = gcp.compute.Network(
            f"{name}-vpc",
            project=project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            project=project,
            region=args.region,
            network=vpc.id,
            ip_cidr_range=args.subnet_cidr,
            secondary_ip_ranges=[
                {"range_name": "pods", "ip_cidr_range": args.pods_cidr},
                {"range_name": "services", "ip_cidr_range": args.services_cidr},
            ],
            # Private nodes reach Google APIs (image pulls, GCS) without NAT.
            private_ip_google_access=True,
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router", project=project, region=args.region, network=vpc.id, opts=child
        )
        nat = gcp.compute.RouterNat(
            f"{name}-nat",
            project=project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )

        # --- identities and keys -------------------------------------------------
        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=project,
            account_id=f"{name}-nodes"[:30],
            display_name=f"GKE nodes of {name} (gpuplane)",
            opts=child,
        )
        node_grants = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[-1]}",
                project=project,
                role=role,
                member=node_sa.member,
                opts=child,
            )
            for role in NODE_ROLES
        ]
        ring = gcp.kms.KeyRing(
            f"{name}-keys",
            project=project,
            location=args.region,
            name=f"{name}-keys",
            # Key rings cannot be deleted in Cloud KMS; protect keeps Pulumi honest.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        key = gcp.kms.CryptoKey(
            f"{name}-secrets",
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period="7776000s",  # 90 days
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        gke_agent = pulumi.Output.concat(
            "serviceAccount:service-",
            project_number,
            "@container-engine-robot.iam.gserviceaccount.com",
        )
        key_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=gke_agent,
            opts=child,
        )

        # --- cluster -------------------------------------------------------------
        public = bool(args.authorized_cidrs)
        common: dict[str, Any] = {
            "project": project,
            "name": name,
            "location": location,
            "network": vpc.id,
            "subnetwork": subnet.id,
            "ip_allocation_policy": {
                "cluster_secondary_range_name": "pods",
                "services_secondary_range_name": "services",
            },
            "release_channel": {"channel": args.release_channel},
            "min_master_version": args.kubernetes_version,
            "private_cluster_config": {
                "enable_private_nodes": True,
                "enable_private_endpoint": not public,
                "master_ipv4_cidr_block": args.master_cidr,
            },
            "master_authorized_networks_config": {
                "cidr_blocks": [
                    {"cidr_block": c, "display_name": f"authorized-{i}"}
                    for i, c in enumerate(args.authorized_cidrs)
                ],
                "gcp_public_cidrs_access_enabled": False,
            },
            "database_encryption": {"state": "ENCRYPTED", "key_name": key.id},
            "logging_config": {
                "enable_components": ["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]
            },
            "monitoring_config": {"enable_components": ["SYSTEM_COMPONENTS"]},
            "master_auth": {"client_certificate_config": {"issue_client_certificate": False}},
            "enable_legacy_abac": False,
            "deletion_protection": args.protect,
            "resource_labels": labels,
        }
        if autopilot:
            cluster_args = {
                **common,
                "enable_autopilot": True,
                "cluster_autoscaling": {
                    "auto_provisioning_defaults": {
                        "service_account": node_sa.email,
                        "oauth_scopes": [CLOUD_PLATFORM],
                    }
                },
            }
        else:
            cluster_args = {
                **common,
                "remove_default_node_pool": True,
                "initial_node_count": 1,
                "datapath_provider": "ADVANCED_DATAPATH",  # Dataplane V2: policy enforced
                "workload_identity_config": {"workload_pool": f"{project}.svc.id.goog"},
                "enable_shielded_nodes": True,
                # The throwaway default pool still must not use the default account.
                "node_config": {
                    "service_account": node_sa.email,
                    "oauth_scopes": [CLOUD_PLATFORM],
                    "workload_metadata_config": {"mode": "GKE_METADATA"},
                    "shielded_instance_config": {
                        "enable_secure_boot": True,
                        "enable_integrity_monitoring": True,
                    },
                },
                "cluster_autoscaling": self._autoscaling(args, node_sa.email),
            }
        self.gke = cluster = gcp.container.Cluster(
            f"{name}-gke",
            **cluster_args,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[nat, key_grant, *node_grants],
                # The default pool is removed; its node_config must not force replacement.
                ignore_changes=["nodeConfig"] if not autopilot else [],
            ),
        )
        firewall = gcp.compute.Firewall(
            f"{name}-webhooks",
            project=project,
            network=vpc.id,
            direction="INGRESS",
            description="GKE control plane to the platform's admission webhooks on nodes",
            source_ranges=[args.master_cidr],
            target_service_accounts=[node_sa.email],
            allows=[
                {
                    "protocol": "tcp",
                    "ports": [str(p) for p in sorted(args.control_plane_ports)],
                }
            ],
            opts=child,
        )

        ready: list[pulumi.Resource] = [cluster, firewall, nat]
        if not autopilot:
            ready.append(self._system_pool(name, args, cluster, node_sa.email, labels))
            # GPU pools come up beside the serving stack: nothing it installs needs a GPU
            # node, and waiting for them would add minutes to every deploy.
            for pool in args.gpu_pools:
                self._gpu_pool(name, args, cluster, node_sa.email, labels, pool)
        # Autopilot provisions GPUs for a pod's node selector; Standard pods select
        # the node pool gpuplane made.
        pools = [
            GpuPool(
                name=p.name,
                node_selector=(
                    autopilot_selector(p) if autopilot else {NODEPOOL_LABEL: f"gpu-{p.name}"}
                ),
                tolerations=(GPU_TOLERATION,),
                accelerator=p.accelerator,
                gpus_per_node=p.accelerator_count,
                min_nodes=p.min_nodes,
                max_nodes=p.max_nodes,
                spot=p.spot,
                sharing=p.sharing,
                sharing_replicas=p.sharing_replicas,
            )
            for p in args.gpu_pools
        ]

        models = self._models(name, args, labels, project_number)
        config = kubeconfig(name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate)
        provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=config, enable_server_side_apply=True, opts=child
        )
        self.cluster = Cluster(
            name=cluster.name,
            cloud="gcp",
            kubernetes_version=args.kubernetes_version,
            models_namespace=args.models_namespace,
            models_service_account=args.models_service_account,
            provider=provider,
            kubeconfig=config,
            gpu_pools=tuple(pools),
            load_balancer=True,
            dataplane="gke-dataplane-v2",
            managed_control_plane=True,
            metrics_server=True,  # GKE runs metrics-server itself
            dns="kube-dns",
            # GKE's own rule opens 443 and 10250 to the control plane; ours the rest.
            control_plane_ports=tuple(
                sorted({*GKE_CONTROL_PLANE_PORTS, *args.control_plane_ports})
            ),
            workload_identity=WorkloadIdentity(
                service_account_annotations={"iam.gke.io/gcp-service-account": models.email},
                storage_uri_prefix=models.uri_prefix,
            ),
            ready=(*ready, *models.ready),
            gpu_node_os="gke-autopilot" if autopilot else "cos",
            # GKE's cluster autoscaler: 10 minutes unneeded before an empty node goes.
            empty_gpu_node_delay="10m",
            facts=GkeFacts(
                project=project,
                region=args.region,
                project_number=project_number,
                models_bucket=models.bucket,
                protect=args.protect,
                labels=labels,
            ),
        )
        self.provider = provider
        self.spec = self.cluster.spec
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.models_bucket = models.bucket.name
        self.kubeconfig = config
        self.register_outputs(
            {
                "provider": self.provider,
                "spec": self.spec,
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "modelsBucket": self.models_bucket,
                "kubeconfig": self.kubeconfig,
            }
        )

    @staticmethod
    def _autoscaling(args: _Settings, node_sa: pulumi.Input[str]) -> dict[str, Any]:
        """Scale down quickly; node auto-provisioning only when asked, capped per GPU type."""
        autoscaling: dict[str, Any] = {"autoscaling_profile": "OPTIMIZE_UTILIZATION"}
        if not args.node_auto_provisioning:
            return {**autoscaling, "enabled": False}
        gpu_limits: dict[str, int] = {}
        for pool in args.gpu_pools:
            gpu_limits[pool.accelerator] = gpu_limits.get(pool.accelerator, 0) + (
                pool.max_nodes * pool.accelerator_count
            )
        return {
            **autoscaling,
            "enabled": True,
            "resource_limits": [
                {"resource_type": "cpu", "minimum": 0, "maximum": 256},
                {"resource_type": "memory", "minimum": 0, "maximum": 2048},
                *(
                    {"resource_type": accelerator, "minimum": 0, "maximum": limit}
                    for accelerator, limit in sorted(gpu_limits.items())
                ),
            ],
            "auto_provisioning_defaults": {
                "service_account": node_sa,
                "oauth_scopes": [CLOUD_PLATFORM],
                "management": {"auto_repair": True, "auto_upgrade": True},
                "shielded_instance_config": {
                    "enable_secure_boot": True,
                    "enable_integrity_monitoring": True,
                },
            },
        }

    @staticmethod
    def _node_config(node_sa: pulumi.Input[str], labels: Mapping[str, str]) -> dict[str, Any]:
        return {
            "image_type": "COS_CONTAINERD",
            "service_account": node_sa,
            "oauth_scopes": [CLOUD_PLATFORM],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {
                "enable_secure_boot": True,
                "enable_integrity_monitoring": True,
            },
            "metadata": {"disable-legacy-endpoints": "true"},
            "disk_type": "pd-balanced",
            "resource_labels": dict(labels),
        }

    def _system_pool(
        self,
        name: str,
        args: _Settings,
        cluster: gcp.container.Cluster,
        node_sa: pulumi.Input[str],
        labels: Mapping[str, str],
    ) -> gcp.container.NodePool:
        return gcp.container.NodePool(
            f"{name}-system",
            project=args.project,
            name="system",
            cluster=cluster.id,
            location=cluster.location,
            autoscaling={
                "total_min_node_count": args.system_min_nodes,
                "total_max_node_count": args.system_max_nodes,
            },
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                **self._node_config(node_sa, labels),
                "machine_type": args.system_machine_type,
                "disk_size_gb": 50,
                "labels": {POOL_LABEL: "system"},
            },
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )

    def _gpu_pool(
        self,
        name: str,
        args: _Settings,
        cluster: gcp.container.Cluster,
        node_sa: pulumi.Input[str],
        labels: Mapping[str, str],
        pool: _GkePool,
    ) -> gcp.container.NodePool:
        accelerator: dict[str, Any] = {
            "type": pool.accelerator,
            "count": pool.accelerator_count,
            # GKE installs the driver; its own device plugin runs on GPU nodes.
            "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
        }
        if pool.sharing in _SHARING:
            accelerator["gpu_sharing_config"] = {
                "gpu_sharing_strategy": _SHARING[pool.sharing],
                "max_shared_clients_per_gpu": pool.sharing_replicas,
            }
        return gcp.container.NodePool(
            f"{name}-gpu-{pool.name}",
            project=args.project,
            name=f"gpu-{pool.name}",
            cluster=cluster.id,
            location=cluster.location,
            initial_node_count=pool.min_nodes,
            autoscaling={
                "total_min_node_count": pool.min_nodes,
                "total_max_node_count": pool.max_nodes,
                "location_policy": "ANY",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                **self._node_config(node_sa, labels),
                "machine_type": pool.machine_type,
                "disk_size_gb": 200,
                "spot": pool.spot,
                "guest_accelerators": [accelerator],
                # Image streaming: large inference images start before they are pulled.
                "gcfs_config": {"enabled": True},
                "gvnic": {"enabled": True},
                "labels": {**pool.labels, POOL_LABEL: pool.name},
                **_local_ssd(pool.machine_type),
            },
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )

    def _models(
        self,
        name: str,
        args: _Settings,
        labels: Mapping[str, str],
        project_number: pulumi.Input[str],
    ) -> "ModelStore":
        child = pulumi.ResourceOptions(parent=self)
        bucket = gcp.storage.Bucket(
            f"{name}-models",
            project=args.project,
            location=args.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            force_destroy=not args.protect,
            labels=dict(labels),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        reader = gcp.serviceaccount.Account(
            f"{name}-models-reader",
            project=args.project,
            account_id=f"{name}-models"[:30],
            display_name=f"Reads the models bucket of {name} (gpuplane)",
            opts=child,
        )
        ready: list[pulumi.Resource] = [
            gcp.storage.BucketIAMMember(
                f"{name}-models-reader",
                bucket=bucket.name,
                role="roles/storage.objectViewer",
                member=reader.member,
                opts=child,
            ),
            gcp.serviceaccount.IAMMember(
                f"{name}-models-workload-identity",
                service_account_id=reader.name,
                role="roles/iam.workloadIdentityUser",
                member=(
                    f"serviceAccount:{args.project}.svc.id.goog"
                    f"[{args.models_namespace}/{args.models_service_account}]"
                ),
                opts=child,
            ),
        ]
        # An InferenceService runs as `default` unless it names `models`: that
        # account reads the bucket directly through Workload Identity Federation.
        ready.append(
            gcp.storage.BucketIAMMember(
                f"{name}-models-default",
                bucket=bucket.name,
                role="roles/storage.objectViewer",
                member=pulumi.Output.concat(
                    "principal://iam.googleapis.com/projects/",
                    project_number,
                    f"/locations/global/workloadIdentityPools/{args.project}.svc.id.goog"
                    f"/subject/ns/{args.models_namespace}/sa/default",
                ),
                opts=child,
            )
        )
        return ModelStore(bucket=bucket, email=reader.email, ready=ready)


def _local_ssd(machine_type: str) -> dict[str, Any]:
    """The local SSDs a GPU machine type bundles (G2, A2 Ultra, A3) as the node's ephemeral
    storage, mounted under /mnt/stateful_partition/kube-ephemeral-ssd: images and the
    node-local model cache. Count 0 takes the number the machine type comes with."""
    if machine_type not in GCP_LOCAL_SSDS:
        return {}
    return {"ephemeral_storage_local_ssd_config": {"local_ssd_count": 0}}


@dataclass(frozen=True)
class GkeFacts:
    """What jobs build on beside a GKE cluster (Cluster.facts)."""

    project: str
    region: str
    project_number: pulumi.Output[str]
    models_bucket: gcp.storage.Bucket
    protect: bool
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ModelStore:
    """The models bucket and the Google service account that reads it."""

    bucket: gcp.storage.Bucket
    email: pulumi.Output[str]
    ready: Sequence[pulumi.Resource]

    @property
    def uri_prefix(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("gs://", self.bucket.name, "/")
