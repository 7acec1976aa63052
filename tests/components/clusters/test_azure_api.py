"""AksCluster from Python, as another program uses it: snake_case TypedDict args, Output
values, enums as members or strings, cloud-neutral GPU pool specs, and the rules it
applies (the same functions the YAML config layer runs)."""

from typing import Any

import pulumi
import pytest

from gpuplane.components import AksCluster, ArgsError, ServingStack
from gpuplane.components.clusters.azure import (
    AksNodeOsUpgradeChannel,
    AksNodeProvisioning,
    AksOutbound,
    AksSkuTier,
    AksUpgradeChannel,
)
from gpuplane.engine import run_program
from gpuplane.graph import Resource, ResourceGraph

ADMINS = "5f0a4c3e-1b2d-4e6f-8a9b-0c1d2e3f4a5b"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
BASE: dict[str, Any] = {
    "location": "westeurope",
    "kubernetes_version": "1.35",
    "admin_group_object_ids": [ADMINS],
    "authorized_cidrs": ["203.0.113.0/24"],
}
L4 = {"name": "a10", "instance_types": ["Standard_NV36ads_A10_v5"]}


def plan(**args: Any) -> ResourceGraph:
    """Plan an AksCluster; a callable value is called inside the program (Outputs need its
    event loop)."""

    def program() -> None:
        given = {k: v() if callable(v) else v for k, v in args.items()}
        AksCluster("ml", {**BASE, **given})  # type: ignore[typeddict-item]

    return run_program(program, project="p", stack="s")


def aks(graph: ResourceGraph) -> Resource:
    return graph.named("ml-aks")


def test_output_values_reach_their_resources() -> None:
    graph = plan(
        tags=lambda: {"team": pulumi.Output.from_input("search")},
        admin_group_object_ids=lambda: [pulumi.Output.from_input(ADMINS)],
        authorized_cidrs=lambda: [pulumi.Output.from_input("198.51.100.0/24")],
        log_retention_days=lambda: pulumi.Output.from_input(90),
    )
    cluster = aks(graph)
    assert cluster.inputs["aadProfile"]["adminGroupObjectIDs"] == [ADMINS]
    assert cluster.inputs["apiServerAccessProfile"]["authorizedIPRanges"] == ["198.51.100.0/24"]
    assert graph.named("ml-logs").inputs["retentionInDays"] == 90
    for resource in (cluster, graph.named("ml-rg"), graph.named("ml-vnet")):
        assert resource.inputs["tags"]["team"] == "search", resource.name
    admins = graph.named("ml-models-admins-0")
    assert admins.inputs["principalId"] == ADMINS


def test_no_authorized_cidrs_make_the_api_server_private() -> None:
    access = aks(plan(authorized_cidrs=[])).inputs["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True


@pytest.mark.parametrize(
    ("args", "path", "expected"),
    [
        ({"sku_tier": AksSkuTier.STANDARD}, "sku.tier", "Standard"),
        ({"sku_tier": "Premium"}, "sku.tier", "Premium"),
        (
            {"outbound": AksOutbound.NAT_GATEWAY},
            "networkProfile.outboundType",
            "userAssignedNATGateway",
        ),
        ({"outbound": "natGateway"}, "networkProfile.outboundType", "userAssignedNATGateway"),
        (
            {"upgrade_channel": AksUpgradeChannel.STABLE},
            "autoUpgradeProfile.upgradeChannel",
            "stable",
        ),
        ({"upgrade_channel": "none"}, "autoUpgradeProfile.upgradeChannel", "none"),
        (
            {"node_os_upgrade_channel": AksNodeOsUpgradeChannel.SECURITY_PATCH},
            "autoUpgradeProfile.nodeOSUpgradeChannel",
            "SecurityPatch",
        ),
        ({"node_os_upgrade_channel": "None"}, "autoUpgradeProfile.nodeOSUpgradeChannel", "None"),
        ({"node_provisioning": AksNodeProvisioning.AUTO}, "nodeProvisioningProfile.mode", "Auto"),
        ({"node_provisioning": "auto"}, "nodeProvisioningProfile.mode", "Auto"),
        ({"pod_cidr": "172.20.0.0/16"}, "networkProfile.podCidr", "172.20.0.0/16"),
        ({"service_cidr": "172.21.0.0/16"}, "networkProfile.dnsServiceIP", "172.21.0.10"),
        ({"system_vm_size": "Standard_D4s_v5"}, "agentPoolProfiles[0].vmSize", "Standard_D4s_v5"),
        ({"system_nodes": 3}, "agentPoolProfiles[0].count", 3),
        ({"encryption_at_host": False}, "agentPoolProfiles[0].enableEncryptionAtHost", False),
        ({"kubernetes_version": "1.34"}, "kubernetesVersion", "1.34"),
    ],
)
def test_settings_reach_the_cluster(args: dict, path: str, expected: Any) -> None:
    value: Any = aks(plan(**args)).inputs
    for part in path.replace("[0]", ".0").split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    assert value == expected


def test_a_gpu_pool_spec_becomes_an_agent_pool() -> None:
    graph = plan(
        vnet_cidr="10.50.0.0/16",
        platform_vm_size="Standard_D8s_v5",
        platform_min_nodes=1,
        platform_max_nodes=4,
        encryption_at_host=False,
        gpu_pools=[
            {
                **L4,
                "min_nodes": 1,
                "max_nodes": 5,
                "spot": True,
                "labels": {"team": "search"},
                "sharing": "time-slicing",
                "sharing_replicas": 4,
            }
        ],
    )
    pool = graph.named("ml-gpu-a10").inputs
    assert (pool["vmSize"], pool["minCount"], pool["maxCount"]) == (
        "Standard_NV36ads_A10_v5",
        1,
        5,
    )
    assert pool["scaleSetPriority"] == "Spot"
    assert pool["enableEncryptionAtHost"] is False
    assert pool["nodeLabels"]["team"] == "search"
    assert pool["nodeLabels"]["gpuplane.dev/pool"] == "a10"
    platform = graph.named("ml-platform").inputs
    assert (platform["vmSize"], platform["minCount"], platform["maxCount"]) == (
        "Standard_D8s_v5",
        1,
        4,
    )
    assert graph.named("ml-vnet").get("addressSpace.addressPrefixes") == ["10.50.0.0/16"]
    assert graph.named("ml-nodes").inputs["addressPrefix"] == "10.50.0.0/17"
    plugin = next(
        r
        for r in graph
        if r.type.endswith(":Release") and r.inputs["name"] == "nvidia-device-plugin"
    )
    assert "replicas: 4" in plugin.get("values.config.map")["a10"]


def test_auto_provisioning_makes_a_node_pool_per_spec() -> None:
    graph = plan(
        node_provisioning="auto",
        consolidate_after="7m",
        gpu_pools=[{**L4, "max_nodes": 3}],
    )
    [pool] = graph.by_type(NODE_POOL)
    assert pool.get("spec.limits.nodes") == 3
    assert pool.get("spec.disruption.consolidateAfter") == "7m"
    requirements = pool.get("spec.template.spec.requirements")
    assert any("Standard_NV36ads_A10_v5" in r.get("values", []) for r in requirements)


def test_the_contract_carries_the_pools_and_the_models_identity() -> None:
    def program() -> None:
        cluster = AksCluster(
            "ml",
            {
                **BASE,  # type: ignore[typeddict-item]
                "models_namespace": "ml",
                "models_service_account": "runner",
                "gpu_pools": [{**L4, "spot": True}],
            },
        )
        ServingStack("ml-serving", {"cluster": cluster.spec})

    graph = run_program(program, project="p", stack="s")
    subjects = {
        r.inputs["subject"]
        for r in graph
        if r.type.endswith(":FederatedIdentityCredential") and r.name.startswith("ml-models")
    }
    assert subjects == {"system:serviceaccount:ml:runner", "system:serviceaccount:ml:default"}
    account = graph.named("ml-serving-kserve-models-sa")
    assert (account.get("metadata.namespace"), account.get("metadata.name")) == ("ml", "runner")
    runtime = next(r for r in graph if r.type.endswith(":ClusterServingRuntime"))
    # Spot pools carry AKS's spot taint: the runtime tolerates it.
    assert "kubernetes.azure.com/scalesetpriority" in str(runtime.get("spec.tolerations"))


def test_protect_reaches_the_stateful_resources() -> None:
    graph = plan(protect=True)
    for name in ("ml-rg", "ml-aks", "ml-models"):
        assert all(r.protect for r in graph if r.name == name), name


@pytest.mark.parametrize(
    ("args", "key", "fragment"),
    [
        ({"adminGroupObjectIds": []}, "adminGroupObjectIds", "unknown key"),
        ({"admin_group_object_ids": []}, "admin_group_object_ids", "required"),
        ({"admin_group_object_ids": ["admins"]}, "admin_group_object_ids[0]", "Entra ID object id"),
        ({"authorized_cidrs": ["0.0.0.0/0"]}, "authorized_cidrs", "whole internet"),
        ({"sku_tier": "free"}, "sku_tier", "allowed: Free, Standard, Premium"),
        ({"outbound": "nat"}, "outbound", "allowed: loadBalancer, natGateway"),
        ({"node_provisioning": "karpenter"}, "node_provisioning", "allowed: pools, auto"),
        ({"upgrade_channel": "Patch"}, "upgrade_channel", "allowed: patch"),
        ({"node_os_upgrade_channel": "nodeimage"}, "node_os_upgrade_channel", "allowed: NodeImage"),
        ({"pod_cidr": "10.240.0.0/16"}, "pod_cidr", "overlaps vnet_cidr"),
        ({"vnet_cidr": "10.240.0.0/24"}, "vnet_cidr", "from /8 to /23"),
        ({"platform_min_nodes": 5}, "platform_min_nodes", "must be <= platform_max_nodes"),
        ({"system_nodes": 0}, "system_nodes", "from 1 to 100"),
        ({"consolidate_after": "soon"}, "consolidate_after", "a duration"),
        ({"gpu_pools": [{**L4, "name": "system"}]}, "gpu_pools[0].name", "taken by gpuplane's AKS"),
        (
            {"gpu_pools": [{**L4, "sharing": "mps", "sharing_replicas": 2}]},
            "gpu_pools[0].sharing",
            "mps is not offered on AKS",
        ),
        (
            {"node_provisioning": "auto", "gpu_pools": [{**L4, "min_nodes": 1}]},
            "gpu_pools[0].min_nodes",
            "only 0 is allowed",
        ),
        (
            {"gpu_pools": [{"name": "a10", "instance_types": ["Standard_D4s_v5"]}]},
            "gpu_pools[0].instance_types[0]",
            "no NVIDIA GPU",
        ),
        ({"gpu_pools": [{**L4, "vm_size": "x"}]}, "gpu_pools[0].vm_size", "unknown key"),
    ],
)
def test_bad_args_are_refused_naming_the_key(args: dict, key: str, fragment: str) -> None:
    with pytest.raises(ArgsError) as caught:
        plan(**args)
    matching = [p for p in caught.value.problems if p.startswith(f"{key}:")]
    assert matching and fragment in matching[0], caught.value.problems
