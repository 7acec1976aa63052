"""AKS with GPU node pools that scale to zero, as a `Cluster`.

resource group -> VNet + node subnet (Azure CNI overlay; pods do not take VNet
addresses) [+ NAT gateway] -> cluster identity (Network Contributor on the VNet,
Key Vault Crypto User on the secrets vault) -> AKS (Entra ID + Azure RBAC, local
accounts off, OIDC issuer + workload identity, Cilium network policy, KMS secrets
encryption, authorized API ranges or a private API server, auto-upgrade channels)
-> kube-audit-admin to Log Analytics
-> system pool (CriticalAddonsOnly) + platform pool + GPU capacity: one autoscaled
   pool per GPU pool (`pools`) or node auto-provisioning NodePools (`auto`)
models storage account + container, read by a workload identity federated to
models/models and models/default.
"""

import base64
import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from gpuplane.components import gpus
from gpuplane.components.clusters import karpenter, nvidia
from gpuplane.components.clusters.azure_args import (
    AKS_POOL_NAMES,
    CIDR_DEFAULTS,
    AksClusterArgs,
    AksNodeOsUpgradeChannel,
    AksNodeProvisioning,
    AksOutbound,
    AksSkuTier,
    AksUpgradeChannel,
    aks_cluster_problems,
)
from gpuplane.components.clusters.azure_identity import (
    AzureContext,
    admin_roles,
    federated_credentials,
    identity,
    role_assignment,
    secrets_key,
    short_name,
)
from gpuplane.components.clusters.contract import (
    GPU_RESOURCE,
    GPU_TOLERATION,
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    POOL_LABEL,
    Cluster,
    ClusterSpec,
    GpuPool,
    GpuPoolSpec,
    GpuSharing,
)
from gpuplane.components.clusters.contract import WorkloadIdentity as Identity
from gpuplane.components.clusters.kubeconfig import exec_kubeconfig
from gpuplane.components.extras import missing_extra
from gpuplane.components.naming import type_token
from gpuplane.components.rules import check

try:
    import pulumi_azure_native as azure
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.azure") from None

__all__ = [
    "AksCluster",
    "AksClusterArgs",
    "AksFacts",
    "AksNodeOsUpgradeChannel",
    "AksNodeProvisioning",
    "AksOutbound",
    "AksSkuTier",
    "AksUpgradeChannel",
]

# The AKS first-party application every Entra ID cluster token is issued for.
AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
SYSTEM_POOL, PLATFORM_POOL = AKS_POOL_NAMES
# AKS puts this taint (and label) on every spot node; pods that may run there tolerate it.
SPOT_KEY = "kubernetes.azure.com/scalesetpriority"
SPOT_TOLERATION: Mapping[str, str] = {
    "key": SPOT_KEY,
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}
GPU_TAINT = f"{GPU_RESOURCE}=true:NoSchedule"
AKS_NODE_CLASS = karpenter.NodeClassKind("karpenter.azure.com/v1beta1", "AKSNodeClass")
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
AUDIT_LOGS = ("kube-audit-admin", "guard")
# The cluster autoscaler keeps an empty node this long before removing it.
SCALE_DOWN_UNNEEDED = "5m"


@dataclass(frozen=True, kw_only=True)
class _AksPool:
    """A GPU pool spec resolved for AKS: one VM size and the GPUs it carries."""

    name: str
    vm_size: str
    max_nodes: int
    min_nodes: int = 0
    spot: bool = False
    accelerator: str | None = None
    gpus_per_node: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    sharing: str = "none"
    sharing_replicas: int | None = None


def _aks_pool(spec: GpuPoolSpec) -> _AksPool:
    """The one place a pool spec becomes an AKS pool: the GPU comes from the VM size
    where it implies one (components/gpus.py)."""
    vm_size = spec["instance_types"][0]
    gpu = gpus.implied_gpu("azure", vm_size)
    return _AksPool(
        name=spec["name"],
        vm_size=vm_size,
        min_nodes=spec.get("min_nodes", 0),
        max_nodes=spec.get("max_nodes", 1),
        spot=bool(spec.get("spot", False)),
        accelerator=gpu.accelerator if gpu else spec.get("accelerator"),
        gpus_per_node=gpu.count if gpu else spec.get("accelerator_count"),
        labels=dict(spec.get("labels", {})),
        sharing=GpuSharing(spec.get("sharing", GpuSharing.NONE)).value,
        sharing_replicas=spec.get("sharing_replicas"),
    )


@dataclass(frozen=True)
class _Settings:
    """AksClusterArgs with every default filled in."""

    location: str
    kubernetes_version: str
    admin_group_object_ids: Sequence[pulumi.Input[str]]
    authorized_cidrs: Sequence[pulumi.Input[str]]
    auto: bool
    sku_tier: str
    nat_gateway: bool
    vnet_cidr: str
    pod_cidr: str
    service_cidr: str
    encryption_at_host: bool
    upgrade_channel: str
    node_os_upgrade_channel: str
    system_vm_size: str
    system_nodes: int
    platform_vm_size: str
    platform_min_nodes: int
    platform_max_nodes: int
    gpu_pools: Sequence[_AksPool]
    consolidate_after: str
    models_namespace: str
    models_service_account: str
    protect: bool
    log_retention_days: pulumi.Input[int]
    tags: Mapping[str, pulumi.Input[str]]

    @classmethod
    def of(cls, args: AksClusterArgs) -> "_Settings":
        cidrs = {name: args.get(name, default) for name, default in CIDR_DEFAULTS.items()}
        provisioning = args.get("node_provisioning", AksNodeProvisioning.POOLS)
        outbound = args.get("outbound", AksOutbound.LOAD_BALANCER)
        return cls(
            location=args["location"],
            kubernetes_version=args["kubernetes_version"],
            admin_group_object_ids=list(args["admin_group_object_ids"]),
            authorized_cidrs=list(args.get("authorized_cidrs", ())),
            auto=provisioning == AksNodeProvisioning.AUTO,
            sku_tier=AksSkuTier(args.get("sku_tier", AksSkuTier.FREE)).value,
            nat_gateway=outbound == AksOutbound.NAT_GATEWAY,
            vnet_cidr=cidrs["vnet_cidr"],
            pod_cidr=cidrs["pod_cidr"],
            service_cidr=cidrs["service_cidr"],
            encryption_at_host=bool(args.get("encryption_at_host", True)),
            upgrade_channel=AksUpgradeChannel(
                args.get("upgrade_channel", AksUpgradeChannel.PATCH)
            ).value,
            node_os_upgrade_channel=AksNodeOsUpgradeChannel(
                args.get("node_os_upgrade_channel", AksNodeOsUpgradeChannel.NODE_IMAGE)
            ).value,
            system_vm_size=args.get("system_vm_size", "Standard_D2s_v5"),
            system_nodes=args.get("system_nodes", 1),
            platform_vm_size=args.get("platform_vm_size", "Standard_D4s_v5"),
            platform_min_nodes=args.get("platform_min_nodes", 2),
            platform_max_nodes=args.get("platform_max_nodes", 3),
            gpu_pools=[_aks_pool(p) for p in args.get("gpu_pools", ())],
            consolidate_after=args.get("consolidate_after", "2m"),
            models_namespace=args.get("models_namespace", MODELS_NAMESPACE),
            models_service_account=args.get("models_service_account", MODELS_SERVICE_ACCOUNT),
            protect=bool(args.get("protect", False)),
            log_retention_days=args.get("log_retention_days", 30),
            tags=dict(args.get("tags", {})),
        )


def kubeconfig(cluster_name: str, credentials: pulumi.Output[str]) -> pulumi.Output[str]:
    """A kubeconfig that gets Entra ID tokens from `kubelogin` with the Azure CLI login.

    The server and CA come from AKS's user credentials (`credentials`, base64 YAML);
    their devicecode login is replaced, so CI and laptops use `az login` alike.
    """
    cluster = pulumi.Output.secret(credentials).apply(
        lambda encoded: yaml.safe_load(base64.b64decode(encoded))["clusters"][0]["cluster"]
    )
    return exec_kubeconfig(
        cluster_name,
        server=cluster.apply(lambda c: c["server"]),
        ca_data=cluster.apply(lambda c: c["certificate-authority-data"]),
        exec_config={
            "command": "kubelogin",
            "args": ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP_ID],
        },
    )


def storage_account_name(name: str, subscription_id: str) -> str:
    """A storage account name (3-24 lowercase letters and digits) unique per subscription."""
    digest = hashlib.sha256(f"{subscription_id}/{name}".encode()).hexdigest()[:8]
    return f"{short_name(name, 10, hyphens=False)}models{digest}"


def gpu_pool_contract(pool: _AksPool, auto: bool) -> GpuPool:
    """How pods select this pool: its label, the GPU taint, and the spot taint AKS adds."""
    tolerations = [GPU_TOLERATION]
    if pool.spot and not auto:
        tolerations.append(SPOT_TOLERATION)
    return GpuPool(
        name=pool.name,
        node_selector={POOL_LABEL: pool.name},
        tolerations=tuple(tolerations),
        accelerator=pool.accelerator,
        gpus_per_node=pool.gpus_per_node,
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        spot=pool.spot,
        sharing=pool.sharing,
        sharing_replicas=pool.sharing_replicas,
    )


def node_class_spec(pool: GpuPool, *, encryption_at_host: bool) -> dict[str, Any]:
    """An AKSNodeClass for one GPU pool: Ubuntu (AKS installs the NVIDIA driver)."""
    return {
        "imageFamily": "Ubuntu",
        "osDiskSizeGB": 200,
        "security": {"encryptionAtHost": encryption_at_host},
        "tags": {POOL_LABEL: pool.name},
    }


class AksCluster(pulumi.ComponentResource):
    """An Entra ID-only AKS cluster with GPU capacity that scales to zero, a models
    storage account and the workload identity that reads it; the cluster contract the
    serving stack installs on (`spec`)."""

    provider: k8s.Provider
    """The explicit provider every Kubernetes resource in this cluster must use."""
    spec: ClusterSpec
    """The cluster as ServingStack's `cluster` input."""
    cluster_name: pulumi.Output[str]
    """The AKS cluster's name."""
    resource_group: pulumi.Output[str]
    """The resource group everything is in."""
    fqdn: pulumi.Output[str]
    """The API server's address (the private one for a private cluster)."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer, which workload identities federate to."""
    models_storage_account: pulumi.Output[str]
    """The storage account model pods read through workload identity."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that gets Entra ID tokens from kubelogin (secret)."""

    def __init__(
        self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check("AksCluster", aks_cluster_problems(args))
        super().__init__(type_token("clusters", "AksCluster"), name, None, opts)
        self._build(name, _Settings.of(args))

    def _build(self, name: str, args: _Settings) -> None:
        child = pulumi.ResourceOptions(parent=self)
        auto = args.auto
        tags = {"gpuplane-cluster": name, "managed-by": "gpuplane", **args.tags}
        client = azure.authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        )
        group = azure.resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=name,
            location=args.location,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        ctx = AzureContext(
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            admin_group_object_ids=tuple(args.admin_group_object_ids),
            resource_group=group,
            location=args.location,
            tags=tags,
        )

        # --- network -------------------------------------------------------------
        vnet = azure.network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=f"{name}-vnet",
            resource_group_name=group.name,
            location=args.location,
            address_space={"address_prefixes": [args.vnet_cidr]},
            tags=tags,
            opts=child,
        )
        nat: azure.network.NatGateway | None = None
        # AKS authorizes the load balancer's outbound address itself, not a NAT gateway's.
        node_egress: list[pulumi.Input[str]] = []
        if args.nat_gateway:
            egress_ip = azure.network.PublicIPAddress(
                f"{name}-egress",
                public_ip_address_name=f"{name}-egress",
                resource_group_name=group.name,
                location=args.location,
                sku={"name": "Standard", "tier": "Regional"},
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                tags=tags,
                opts=child,
            )
            node_egress.append(pulumi.Output.concat(egress_ip.ip_address, "/32"))
            nat = azure.network.NatGateway(
                f"{name}-nat",
                nat_gateway_name=f"{name}-nat",
                resource_group_name=group.name,
                location=args.location,
                sku={"name": "Standard"},
                public_ip_addresses=[{"id": egress_ip.id}],
                idle_timeout_in_minutes=4,
                tags=tags,
                opts=child,
            )
        # No subnet NSG: AKS keeps its own NSG on the nodes and opens only the ports of
        # LoadBalancer Services; a subnet NSG would need those rules kept by hand.
        subnet = azure.network.Subnet(
            f"{name}-nodes",
            subnet_name="nodes",
            virtual_network_name=vnet.name,
            resource_group_name=group.name,
            address_prefix=_first_half(args.vnet_cidr),
            nat_gateway={"id": nat.id} if nat is not None else None,
            # Nodes egress through the cluster's load balancer or NAT gateway only.
            default_outbound_access=False,
            opts=child,
        )

        # --- identity, keys, logs ------------------------------------------------
        cluster_identity = identity(f"{name}-cluster", ctx=ctx, parent=self)
        # The cluster joins the node subnet (and attaches the NAT gateway) as itself.
        network_scopes = {"network": vnet.id, **({"nat": nat.id} if nat is not None else {})}
        network_roles = [
            role_assignment(
                f"{name}-cluster-{label}",
                ctx=ctx,
                role="Network Contributor",
                scope=scope,
                principal_id=cluster_identity.principal_id,
                parent=self,
            )
            for label, scope in network_scopes.items()
        ]
        kms = secrets_key(
            name, ctx=ctx, cluster_identity=cluster_identity, protect=args.protect, parent=self
        )
        workspace = azure.operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=f"{name}-logs",
            resource_group_name=group.name,
            location=args.location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.log_retention_days,
            features={"disable_local_auth": True},
            tags=tags,
            opts=child,
        )

        # --- cluster -------------------------------------------------------------
        private = not args.authorized_cidrs
        self.aks = aks = azure.containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=name,
            resource_group_name=group.name,
            location=args.location,
            dns_prefix=name,
            kubernetes_version=args.kubernetes_version,
            sku={"name": "Base", "tier": args.sku_tier},
            identity={"type": "UserAssigned", "user_assigned_identities": [cluster_identity.id]},
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "admin_group_object_ids": list(args.admin_group_object_ids),
                "tenant_id": client.tenant_id,
            },
            disable_local_accounts=True,
            enable_rbac=True,
            oidc_issuer_profile={"enabled": True},
            security_profile={
                "workload_identity": {"enabled": True},
                "azure_key_vault_kms": {
                    "enabled": True,
                    "key_id": kms.key.key_uri_with_version,
                    "key_vault_network_access": "Public",
                },
                "image_cleaner": {"enabled": True, "interval_hours": 48},
            },
            api_server_access_profile=(
                {"enable_private_cluster": True, "private_dns_zone": "system"}
                if private
                # Nodes reach the API server from their egress address: it must be
                # authorized too, or they never join.
                else {"authorized_ip_ranges": [*args.authorized_cidrs, *node_egress]}
            ),
            network_profile={
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "network_dataplane": "cilium",
                "network_policy": "cilium",
                "pod_cidr": args.pod_cidr,
                "service_cidr": args.service_cidr,
                "dns_service_ip": _tenth_address(args.service_cidr),
                "load_balancer_sku": "standard",
                "outbound_type": ("userAssignedNATGateway" if nat is not None else "loadBalancer"),
            },
            auto_upgrade_profile={
                "upgrade_channel": args.upgrade_channel,
                "node_os_upgrade_channel": args.node_os_upgrade_channel,
            },
            auto_scaler_profile=(
                None
                if auto
                else {
                    # Empty GPU nodes go after 5 minutes, not the default 10.
                    "scale_down_unneeded_time": SCALE_DOWN_UNNEEDED,
                    "scale_down_delay_after_add": "5m",
                    "expander": "least-waste",
                }
            ),
            node_provisioning_profile=(
                {"mode": "Auto", "default_node_pools": "None"} if auto else {"mode": "Manual"}
            ),
            agent_pool_profiles=[
                {
                    "name": SYSTEM_POOL,
                    "mode": "System",
                    "vm_size": args.system_vm_size,
                    "count": args.system_nodes,
                    "enable_auto_scaling": False,
                    "os_type": "Linux",
                    "os_sku": "AzureLinux",
                    "type": "VirtualMachineScaleSets",
                    "vnet_subnet_id": subnet.id,
                    "node_taints": ["CriticalAddonsOnly=true:NoSchedule"],
                    "enable_encryption_at_host": args.encryption_at_host,
                    "enable_node_public_ip": False,
                    "upgrade_settings": {"max_surge": "1"},
                }
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[*network_roles, *kms.ready],
            ),
        )
        audit = azure.monitor.DiagnosticSetting(
            f"{name}-audit",
            name="gpuplane-audit",
            resource_uri=aks.id,
            workspace_id=workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[
                {"category": category, "enabled": True}
                for category in (
                    *AUDIT_LOGS,
                    "karpenter-events" if auto else "cluster-autoscaler",
                )
            ],
            opts=child,
        )

        platform = self._pool(
            f"{name}-platform",
            args,
            aks,
            group,
            subnet,
            pool_name=PLATFORM_POOL,
            vm_size=args.platform_vm_size,
            min_nodes=args.platform_min_nodes,
            # Node auto-provisioning allows only fixed-size pools next to it.
            max_nodes=args.platform_min_nodes if auto else args.platform_max_nodes,
            labels={POOL_LABEL: PLATFORM_POOL},
            tags=tags,
        )
        pools = [gpu_pool_contract(p, auto) for p in args.gpu_pools]
        credentials = (
            azure.containerservice.list_managed_cluster_user_credentials_output(
                resource_group_name=group.name,
                resource_name=aks.name,
                format="exec",
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            .kubeconfigs[0]
            .value
        )
        config = kubeconfig(name, credentials)
        provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=config, enable_server_side_apply=True, opts=child
        )
        base: list[pulumi.Resource] = [aks, platform]
        if auto:
            karpenter.gpu_node_pools(
                name,
                pools=pools,
                instance_types={p.name: [p.vm_size] for p in args.gpu_pools},
                labels={p.name: p.labels for p in args.gpu_pools},
                node_class=AKS_NODE_CLASS,
                node_class_spec=lambda pool: node_class_spec(
                    pool, encryption_at_host=args.encryption_at_host
                ),
                consolidate_after=args.consolidate_after,
                provider=provider,
                parent=self,
                depends_on=base,
            )
        else:
            # AKS refuses concurrent operations on one cluster's pools: one at a time.
            gpu_capacity: list[azure.containerservice.AgentPool] = []
            for pool, contract in zip(args.gpu_pools, pools, strict=True):
                previous = gpu_capacity[-1] if gpu_capacity else platform
                gpu_capacity.append(
                    self._pool(
                        f"{name}-gpu-{pool.name}",
                        args,
                        aks,
                        group,
                        subnet,
                        pool_name=pool.name,
                        vm_size=pool.vm_size,
                        min_nodes=pool.min_nodes,
                        max_nodes=pool.max_nodes,
                        labels={
                            **pool.labels,
                            POOL_LABEL: pool.name,
                            **nvidia.node_labels(contract),
                        },
                        tags=tags,
                        gpu=True,
                        spot=pool.spot,
                        after=previous,
                    )
                )
        if pools:
            # AKS installs the NVIDIA driver on GPU nodes, not the device plugin.
            nvidia.device_plugin(
                name,
                pools=pools,
                provider=provider,
                parent=self,
                depends_on=base,
                extra_tolerations=[SPOT_TOLERATION],
            )

        models = self._models(name, args, ctx, aks)
        self.cluster = Cluster(
            name=aks.name,
            cloud="azure",
            kubernetes_version=args.kubernetes_version,
            models_namespace=args.models_namespace,
            models_service_account=args.models_service_account,
            provider=provider,
            kubeconfig=config,
            gpu_pools=tuple(pools),
            load_balancer=True,
            ingress_service=INGRESS_SERVICE,
            dataplane="azure-cilium",
            managed_control_plane=True,
            metrics_server=True,  # AKS runs metrics-server itself
            workload_identity=Identity(
                service_account_annotations={
                    "azure.workload.identity/client-id": models.client_id,
                    "azure.workload.identity/tenant-id": client.tenant_id,
                },
                pod_labels={WORKLOAD_IDENTITY_LABEL: "true"},
                storage_uri_prefix=models.uri_prefix,
            ),
            gpu_node_os="ubuntu",
            # Node auto-provisioning's consolidation, or the autoscaler's unneeded time.
            empty_gpu_node_delay=args.consolidate_after if auto else SCALE_DOWN_UNNEEDED,
            # GPU capacity comes up beside the serving stack: nothing it installs needs a
            # GPU node, and waiting for the pools would add minutes to every deploy.
            ready=(*base, audit, *models.ready),
            facts=AksFacts(
                ctx=ctx,
                issuer=aks.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None),
                tenant_id=client.tenant_id,
                models_account=models.account,
                models_container=models.container,
                protect=args.protect,
            ),
        )
        self.provider = provider
        self.spec = self.cluster.spec
        self.cluster_name = aks.name
        self.resource_group = group.name
        self.fqdn = aks.fqdn if not private else aks.private_fqdn
        self.oidc_issuer = aks.oidc_issuer_profile.apply(lambda p: p and p.issuer_url)
        self.models_storage_account = models.account.name
        self.kubeconfig = config
        self.register_outputs(
            {
                "provider": self.provider,
                "spec": self.spec,
                "clusterName": self.cluster_name,
                "resourceGroup": self.resource_group,
                "fqdn": self.fqdn,
                "oidcIssuer": self.oidc_issuer,
                "modelsStorageAccount": self.models_storage_account,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _pool(
        self,
        resource_name: str,
        args: _Settings,
        aks: azure.containerservice.ManagedCluster,
        group: azure.resources.ResourceGroup,
        subnet: azure.network.Subnet,
        *,
        pool_name: str,
        vm_size: str,
        min_nodes: int,
        max_nodes: int,
        labels: Mapping[str, str],
        tags: Mapping[str, str],
        gpu: bool = False,
        spot: bool = False,
        after: pulumi.Resource | None = None,
    ) -> azure.containerservice.AgentPool:
        """A Linux user pool on the node subnet; autoscaled unless min equals max."""
        node_labels = dict(labels)
        taints = [GPU_TAINT] if gpu else []
        extra: dict[str, Any] = {}
        if spot:
            # AKS adds these itself; declaring them keeps Pulumi from diffing them away.
            node_labels[SPOT_KEY] = "spot"
            taints.append(f"{SPOT_KEY}=spot:NoSchedule")
            extra = {
                "scale_set_priority": "Spot",
                "scale_set_eviction_policy": "Delete",
                "spot_max_price": -1,
            }
        if gpu:
            extra["gpu_profile"] = {"driver": "Install"}
        autoscale = min_nodes != max_nodes
        return azure.containerservice.AgentPool(
            resource_name,
            agent_pool_name=pool_name,
            resource_name_=aks.name,
            resource_group_name=group.name,
            mode="User",
            vm_size=vm_size,
            count=min_nodes,
            enable_auto_scaling=autoscale,
            min_count=min_nodes if autoscale else None,
            max_count=max_nodes if autoscale else None,
            os_type="Linux",
            os_sku="Ubuntu",
            type="VirtualMachineScaleSets",
            vnet_subnet_id=subnet.id,
            node_labels=node_labels,
            node_taints=taints,
            enable_encryption_at_host=args.encryption_at_host,
            enable_node_public_ip=False,
            tags=dict(tags),
            **extra,
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=["count"] if autoscale else [],
                depends_on=[after] if after is not None else [],
            ),
        )

    def _models(
        self,
        name: str,
        args: _Settings,
        ctx: AzureContext,
        aks: azure.containerservice.ManagedCluster,
    ) -> "ModelStore":
        """A private, key-less storage account and a reader identity for KServe."""
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        account = azure.storage.StorageAccount(
            f"{name}-models",
            account_name=ctx.subscription_id.apply(lambda s: storage_account_name(name, s)),
            resource_group_name=ctx.resource_group.name,
            location=ctx.location,
            kind="StorageV2",
            sku={"name": "Standard_LRS"},
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            encryption={
                "key_source": "Microsoft.Storage",
                "require_infrastructure_encryption": True,
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags=dict(ctx.tags),
            opts=stateful,
        )
        container = azure.storage.BlobContainer(
            f"{name}-models",
            container_name="models",
            account_name=account.name,
            resource_group_name=ctx.resource_group.name,
            public_access="None",
            opts=stateful,
        )
        # Shared keys are off: the admin groups upload models with their Entra ID login.
        admin_roles(
            f"{name}-models-admins",
            ctx=ctx,
            role="Storage Blob Data Contributor",
            scope=container.id,
            parent=self,
        )
        reader = identity(f"{name}-models-reader", ctx=ctx, parent=self)
        grant = role_assignment(
            f"{name}-models-reader",
            ctx=ctx,
            role="Storage Blob Data Reader",
            scope=container.id,
            principal_id=reader.principal_id,
            parent=self,
        )
        issuer = aks.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None)
        # InferenceServices run as `default` unless they name `models`: both may read.
        credentials = federated_credentials(
            f"{name}-models",
            ctx=ctx,
            identity=reader,
            issuer=issuer,
            namespace=args.models_namespace,
            service_accounts=[args.models_service_account, "default"],
            parent=self,
        )
        return ModelStore(
            account=account,
            container=container,
            client_id=reader.client_id,
            uri_prefix=pulumi.Output.concat(
                "https://", account.name, ".blob.core.windows.net/", container.name, "/"
            ),
            ready=[grant, *credentials],
        )


@dataclass(frozen=True)
class AksFacts:
    """What jobs build on beside an AKS cluster (Cluster.facts)."""

    ctx: AzureContext
    issuer: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    models_account: azure.storage.StorageAccount
    models_container: azure.storage.BlobContainer
    protect: bool


@dataclass(frozen=True)
class ModelStore:
    """The models container and the identity that reads it."""

    account: azure.storage.StorageAccount
    container: azure.storage.BlobContainer
    client_id: pulumi.Output[str]
    uri_prefix: pulumi.Output[str]
    ready: Sequence[pulumi.Resource]


def _first_half(cidr: str) -> str:
    network = ipaddress.ip_network(cidr)
    return str(next(network.subnets(prefixlen_diff=1)))


def _tenth_address(cidr: str) -> str:
    return str(ipaddress.ip_network(cidr)[10])


# The Azure load balancer probes ports 80 and 443 at the gateway's readiness endpoint
# (status port 15021), so a node counts as up when Istio is ready there, not when
# a TCP port happens to answer; the status port itself gets no public rule.
_PROBE = "service.beta.kubernetes.io/port_{port}_health-probe_{what}"
INGRESS_SERVICE: Mapping[str, Any] = {
    "annotations": {
        **{
            _PROBE.format(port=port, what=what): value
            for port in (80, 443)
            for what, value in (
                ("protocol", "http"),
                ("port", "15021"),
                ("request-path", "/healthz/ready"),
            )
        },
        "service.beta.kubernetes.io/port_15021_no_lb_rule": "true",
    }
}
