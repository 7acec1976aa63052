"""`AksClusterArgs` and the rules `AksCluster` applies to them.

No cloud SDK here: the YAML config layer (config.py) reuses these rules under its
own key names without importing pulumi-azure-native.
"""

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from gpuplane.components.clusters.cidrs import range_problems
from gpuplane.components.clusters.contract import GpuPoolSpec, GpuSharing
from gpuplane.components.clusters.endpoint import public_cidr_problem
from gpuplane.components.clusters.pools import (
    NODE_COUNT,
    gpu_pool_problems,
    pools_from_zero,
    system_pool_problems,
)
from gpuplane.components.messages import quote
from gpuplane.components.rules import (
    KeyName,
    choice_problems,
    duration_seconds,
    python_key,
    unknown_keys,
    whole_number_problems,
)

AKS_POOL_NAMES = ("system", "platform")
"""The node pools gpuplane itself creates on AKS: the system pool and the one the
serving stack's controllers run on. A GPU pool may not take these names."""


class AksNodeProvisioning(StrEnum):
    """How AKS GPU capacity is made."""

    POOLS = "pools"
    """One autoscaled AKS node pool per GPU pool, scaling from `min_nodes`."""
    AUTO = "auto"
    """AKS node auto-provisioning (Karpenter run by AKS), one NodePool per GPU pool."""


class AksSkuTier(StrEnum):
    """The AKS control plane tier."""

    FREE = "Free"
    """No uptime SLA."""
    STANDARD = "Standard"
    """The uptime SLA, for production."""
    PREMIUM = "Premium"
    """Standard plus long-term support."""


class AksOutbound(StrEnum):
    """How AKS nodes reach the internet."""

    LOAD_BALANCER = "loadBalancer"
    """The cluster load balancer's outbound rules (it exists for the ingress gateway)."""
    NAT_GATEWAY = "natGateway"
    """A NAT gateway on the node subnet: no SNAT port exhaustion, one stable egress IP."""


class AksUpgradeChannel(StrEnum):
    """How AKS upgrades the control plane."""

    PATCH = "patch"
    """The newest patch of the cluster's minor version."""
    STABLE = "stable"
    """The newest patch of the previous minor version."""
    RAPID = "rapid"
    """The newest patch of the newest minor version."""
    NODE_IMAGE = "node-image"
    """Node images only, not Kubernetes."""
    NONE = "none"
    """No automatic upgrades."""


class AksNodeOsUpgradeChannel(StrEnum):
    """How AKS updates the nodes' operating system."""

    NODE_IMAGE = "NodeImage"
    """A new node image weekly."""
    SECURITY_PATCH = "SecurityPatch"
    """Security patches applied to the running image."""
    UNMANAGED = "Unmanaged"
    """The OS's own unattended upgrades."""
    NONE = "None"
    """No OS updates."""


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
CIDR_BOUNDS: Mapping[str, tuple[int, int]] = {
    "vnet_cidr": (8, 23),
    "pod_cidr": (8, 20),
    "service_cidr": (8, 24),
}
"""The prefix lengths each range may take."""
CIDR_DEFAULTS: Mapping[str, str] = {
    "vnet_cidr": "10.240.0.0/16",
    "pod_cidr": "10.244.0.0/16",
    "service_cidr": "10.0.0.0/16",
}
_WHY_FROM_ZERO = "AKS node auto-provisioning creates GPU nodes for pending pods"
# The platform pool follows the shared system pool rules under its own names.
_PLATFORM_KEYS = {
    "system_instance_type": "platform_vm_size",
    "system_min_nodes": "platform_min_nodes",
    "system_max_nodes": "platform_max_nodes",
}


class AksClusterArgs(TypedDict):
    """Arguments of `AksCluster`. Defaults are the secure, cheap ones."""

    location: str
    """The Azure region (`eastus`)."""
    kubernetes_version: str
    """The Kubernetes version AKS runs, `1.NN`."""
    admin_group_object_ids: Sequence[pulumi.Input[str]]
    """Entra ID groups given cluster-admin through Azure RBAC (local accounts are off):
    include a group of the identity `pulumi up` runs as."""
    authorized_cidrs: NotRequired[Sequence[pulumi.Input[str]]]
    """CIDRs allowed to reach the API server (no /0). Default: none, which makes the API
    server private."""
    node_provisioning: NotRequired[AksNodeProvisioning]
    """How GPU capacity is made. Default pools."""
    sku_tier: NotRequired[AksSkuTier]
    """The control plane tier. Default Free."""
    outbound: NotRequired[AksOutbound]
    """Node egress. Default loadBalancer."""
    vnet_cidr: NotRequired[str]
    """The VNet, a private /8 to /23; nodes take its first half (Azure CNI overlay: pods
    do not use it). Default 10.240.0.0/16."""
    pod_cidr: NotRequired[str]
    """The pods' overlay range, a private /8 to /20. Default 10.244.0.0/16."""
    service_cidr: NotRequired[str]
    """The Services' range, a private /8 to /24; cluster DNS takes its tenth address.
    Default 10.0.0.0/16."""
    encryption_at_host: NotRequired[bool]
    """Encrypt node temp disks and caches at the host (needs the subscription feature
    Microsoft.Compute/EncryptionAtHost). Default true."""
    upgrade_channel: NotRequired[AksUpgradeChannel]
    """Control plane auto-upgrade. Default patch."""
    node_os_upgrade_channel: NotRequired[AksNodeOsUpgradeChannel]
    """Node OS updates. Default NodeImage."""
    system_vm_size: NotRequired[str]
    """VM size of the AKS system pool (kube-system add-ons only, CriticalAddonsOnly
    taint). Default Standard_D2s_v5."""
    system_nodes: NotRequired[int]
    """System pool nodes, 1-100. Default 1."""
    platform_vm_size: NotRequired[str]
    """VM size of the pool the serving stack's controllers run on. Default
    Standard_D4s_v5."""
    platform_min_nodes: NotRequired[int]
    """Least platform nodes, 1-100. Default 2."""
    platform_max_nodes: NotRequired[int]
    """Most platform nodes, 1-100 (with `auto` provisioning the pool stays at its least).
    Default 3."""
    gpu_pools: NotRequired[Sequence[GpuPoolSpec]]
    """GPU pools: one VM size each, not named system or platform, no MPS sharing (AKS
    offers time-slicing); `min_nodes` must stay 0 with `auto` provisioning. Default: none."""
    consolidate_after: NotRequired[str]
    """`auto` provisioning only: how long a GPU node may stay empty before it is removed.
    Default `2m`."""
    models_namespace: NotRequired[str]
    """Namespace for InferenceServices; the models reader identity is federated to it.
    Default `models`."""
    models_service_account: NotRequired[str]
    """ServiceAccount model pods run as (federated to the reader). Default `models`."""
    protect: NotRequired[bool]
    """Protect the resource group, cluster, key vault and models storage from deletion.
    Default false."""
    log_retention_days: NotRequired[pulumi.Input[int]]
    """Days the audit logs are kept in Log Analytics. Default 30."""
    tags: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra tags on every Azure resource. Default: none."""


def object_id_problem(value: object) -> str | None:
    """Why `value` is not an Entra ID object id, or None."""
    if isinstance(value, str) and _GUID.match(value):
        return None
    return f"{quote(value)} is not an Entra ID object id like 00000000-0000-0000-0000-000000000000"


def aks_problems(args: Mapping[str, Any], key: KeyName) -> list[str]:
    """The rules that span AksCluster's inputs (ranges, admins, pools), each naming its
    key through `key`; `args` holds only what the caller sets."""
    ranges = {name: args[name] for name in CIDR_BOUNDS if name in args}
    problems = range_problems(ranges, CIDR_DEFAULTS, CIDR_BOUNDS, key)
    if not args.get("admin_group_object_ids"):
        problems.append(
            f"{key('admin_group_object_ids')}: required: the Entra ID group object id(s) "
            "given cluster-admin, including a group of the identity `pulumi up` runs as "
            "(local accounts are disabled)"
        )
    pools: Sequence[GpuPoolSpec] = args.get("gpu_pools", ())
    for i, pool in enumerate(pools):
        if pool.get("name") in AKS_POOL_NAMES:
            problems.append(
                f"{key(f'gpu_pools[{i}].name')}: {pool['name']!r} is taken by gpuplane's AKS "
                f"pools ({', '.join(AKS_POOL_NAMES)}); choose another"
            )
        if pool.get("sharing") == GpuSharing.MPS:
            problems.append(
                f"{key(f'gpu_pools[{i}].sharing')}: mps is not offered on AKS; allowed there: "
                "none, time-slicing"
            )
    if args.get("node_provisioning") == AksNodeProvisioning.AUTO:
        problems.extend(pools_from_zero(pools, _WHY_FROM_ZERO, key))
    return problems


_ENUMS: Mapping[str, type[StrEnum]] = {
    "node_provisioning": AksNodeProvisioning,
    "sku_tier": AksSkuTier,
    "outbound": AksOutbound,
    "upgrade_channel": AksUpgradeChannel,
    "node_os_upgrade_channel": AksNodeOsUpgradeChannel,
}


def aks_cluster_problems(args: AksClusterArgs) -> list[str]:
    """Every rule AksCluster applies to its args, with Python key paths."""
    problems = unknown_keys(args, AksClusterArgs, python_key)
    for name in ("location", "kubernetes_version"):
        if not args.get(name):
            problems.append(f"{name}: required")
    for i, group in enumerate(args.get("admin_group_object_ids", ())):
        if isinstance(group, str) and (problem := object_id_problem(group)) is not None:
            problems.append(f"admin_group_object_ids[{i}]: {problem}")
    cidrs = [c for c in args.get("authorized_cidrs", ()) if isinstance(c, str)]
    if (problem := public_cidr_problem(cidrs)) is not None:
        problems.append(f"authorized_cidrs: {problem}")
    for name, choices in _ENUMS.items():
        if name in args:
            problems.extend(choice_problems(args[name], choices, name))  # type: ignore[literal-required]
    for name in ("system_nodes", "platform_min_nodes", "platform_max_nodes"):
        problems.extend(whole_number_problems(args, name, NODE_COUNT))
    problems.extend(
        system_pool_problems(
            "azure",
            args.get("platform_vm_size"),
            args.get("platform_min_nodes", 2),
            args.get("platform_max_nodes", 3),
            lambda path: _PLATFORM_KEYS[path],
        )
    )
    if "consolidate_after" in args:
        try:
            duration_seconds(args["consolidate_after"])
        except (ValueError, TypeError) as exc:
            problems.append(f"consolidate_after: {exc}")
    problems.extend(aks_problems(args, python_key))
    problems.extend(gpu_pool_problems("azure", args.get("gpu_pools", ()), python_key))
    return problems
