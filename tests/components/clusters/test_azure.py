"""AKS on the graph: azure-dev and azure-prod as written, and both with node auto-provisioning."""

import base64
import itertools
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from gpuplane import engine
from gpuplane.components.clusters.azure import AKS_SERVER_APP_ID, storage_account_name
from gpuplane.graph import Resource, ResourceGraph
from gpuplane.mocks import SUBSCRIPTION, _aks_user_credentials
from gpuplane.stacks import stack_from_mapping
from tests.helpers import (
    cluster_provider,
    custom_resource_named,
    depends_on,
    k8s_object,
    one_of_type,
    release_named,
    stack_file_config,
)
from tests.upstream import releases_missing_upstream, validate_custom_resource

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.azure.com/v1beta1:AKSNodeClass"
LIVE = ("azure-dev", "azure-prod")
AUTO = ("azure-dev-auto", "azure-prod-auto")
ALL = LIVE + AUTO
ROLE_IDS = {
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Crypto Officer": "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
}


@pytest.fixture(scope="module")
def graphs(stack_graphs: dict[str, ResourceGraph], project: Any) -> dict[str, ResourceGraph]:
    out = {name: stack_graphs[name] for name in LIVE}
    for name in LIVE:
        config = stack_file_config(name)
        config["gpuplane:azure"] = {**config["gpuplane:azure"], "nodeProvisioning": "auto"}
        out[f"{name}-auto"] = engine.plan(stack_from_mapping(project, f"{name}-auto", config))
    return out


def _base(stack: str) -> str:
    return stack.removesuffix("-auto")


def _pools(stack: str) -> list[dict[str, Any]]:
    return stack_file_config(_base(stack))["gpuplane:gpuPools"]


def _roles(graph: ResourceGraph, role: str) -> list[Resource]:
    return [r for r in graph.by_type(ROLE) if r.inputs["roleDefinitionId"].endswith(ROLE_IDS[role])]


def _identity(graph: ResourceGraph, suffix: str) -> Resource:
    [found] = [r for r in graph.by_type(IDENTITY) if r.name.endswith(suffix)]
    return found


def _agent_pool(graph: ResourceGraph, name: str) -> Resource:
    [found] = [p for p in graph.by_type(AGENT_POOL) if p.inputs["agentPoolName"] == name]
    return found


@pytest.mark.parametrize("stack", ALL)
def test_entra_id_only_access_with_azure_rbac(graphs: dict[str, ResourceGraph], stack: str) -> None:
    inputs = one_of_type(graphs[stack], CLUSTER).inputs
    aad = inputs["aadProfile"]
    assert aad["managed"] is True
    assert aad["enableAzureRBAC"] is True
    expected = stack_file_config(_base(stack))["gpuplane:azure"]["adminGroupObjectIds"]
    assert aad["adminGroupObjectIDs"] == expected
    assert inputs["disableLocalAccounts"] is True
    assert inputs["enableRBAC"] is True
    assert inputs["oidcIssuerProfile"] == {"enabled": True}
    assert inputs["securityProfile"]["workloadIdentity"] == {"enabled": True}


@pytest.mark.parametrize("stack", ALL)
def test_api_server_is_open_only_to_the_configured_ranges(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    access = cluster.inputs["apiServerAccessProfile"]
    expected = stack_file_config(_base(stack))["gpuplane:cluster"]["endpoint"]["publicAccessCidrs"]
    ranges = access["authorizedIPRanges"]
    assert ranges[: len(expected)] == expected
    assert "0.0.0.0/0" not in ranges
    # Behind a NAT gateway, nodes reach the API server from its address: authorized too.
    addresses = graph.by_type("azure-native:network:PublicIPAddress")
    assert len(ranges) == len(expected) + len(addresses)
    for address in addresses:
        assert address.urn in cluster.property_dependencies["apiServerAccessProfile"]
        assert all(r.endswith("/32") for r in ranges[len(expected) :])


def test_public_access_off_makes_a_private_cluster(
    plan_mapping: Callable[..., ResourceGraph],
) -> None:
    config = stack_file_config("azure-prod")
    config["gpuplane:cluster"]["endpoint"] = {"privateAccess": True, "publicAccess": False}
    graph = plan_mapping(config, "azure-private")
    access = one_of_type(graph, CLUSTER).inputs["apiServerAccessProfile"]
    assert access == {"enablePrivateCluster": True, "privateDNSZone": "system"}


@pytest.mark.parametrize("stack", ALL)
def test_secrets_are_encrypted_with_a_key_vault_key(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    vault = one_of_type(graph, "azure-native:keyvault:Vault")
    key = one_of_type(graph, "azure-native:keyvault:Key")
    props = vault.inputs["properties"]
    assert props["enablePurgeProtection"] is True
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert key.inputs["properties"]["kty"] == "RSA"
    assert {"encrypt", "decrypt"} <= set(key.inputs["properties"]["keyOps"])
    kms = cluster.inputs["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True
    # The versioned key URI (AKS KMS needs the version) of this very key.
    vault_host, key_path = kms["keyId"].removeprefix("https://").split("/", 1)
    assert vault_host.endswith(".vault.azure.net")
    segments = key_path.split("/")
    assert segments[:2] == ["keys", key.inputs["keyName"]] and len(segments) == 3 and segments[2]
    assert key.urn in cluster.property_dependencies["securityProfile"]
    # The cluster runs as a user-assigned identity that may use the key, before it exists.
    cluster_identity = _identity(graph, "-cluster")
    assert cluster.inputs["identity"]["type"] == "UserAssigned"
    assert cluster_identity.urn in cluster.property_dependencies["identity"]
    [crypto_user] = _roles(graph, "Key Vault Crypto User")
    assert vault.urn in crypto_user.property_dependencies["scope"]
    assert cluster_identity.urn in crypto_user.property_dependencies["principalId"]
    assert crypto_user.inputs["principalType"] == "ServicePrincipal"
    assert depends_on(graph, cluster, crypto_user)
    # Creating the key is a data-plane write: the admin groups (one holds whoever runs
    # `pulumi up`) may do it, granted as groups before the key is created.
    admins = stack_file_config(_base(stack))["gpuplane:azure"]["adminGroupObjectIds"]
    officers = _roles(graph, "Key Vault Crypto Officer")
    assert sorted(o.inputs["principalId"] for o in officers) == sorted(admins)
    for officer in officers:
        assert officer.inputs["principalType"] == "Group"
        assert vault.urn in officer.property_dependencies["scope"]
        assert depends_on(graph, key, officer)
    for role in graph.by_type(ROLE):
        assert role.inputs["principalType"] in ("ServicePrincipal", "Group")


@pytest.mark.parametrize("stack", ALL)
def test_network_policy_overlay_and_outbound(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    network = one_of_type(graph, CLUSTER).inputs["networkProfile"]
    assert network["networkPlugin"] == "azure"
    assert network["networkPluginMode"] == "overlay"
    assert (network["networkDataplane"], network["networkPolicy"]) == ("cilium", "cilium")
    assert network["dnsServiceIP"] == "10.0.0.10"
    subnet = one_of_type(graph, "azure-native:network:Subnet")
    assert subnet.inputs["addressPrefix"] == "10.240.0.0/17"
    assert subnet.inputs["defaultOutboundAccess"] is False
    # No subnet NSG: AKS manages the node NSG for LoadBalancer Services.
    assert graph.by_type("azure-native:network:NetworkSecurityGroup") == []
    nats = graph.by_type("azure-native:network:NatGateway")
    if _base(stack) == "azure-dev":
        assert network["outboundType"] == "loadBalancer"
        assert nats == []
        assert "natGateway" not in subnet.inputs
    else:
        assert network["outboundType"] == "userAssignedNATGateway"
        [nat] = nats
        assert nat.urn in subnet.property_dependencies["natGateway"]
    # The cluster identity may join the subnet (and the NAT gateway) before AKS is created.
    cluster = one_of_type(graph, CLUSTER)
    network_roles = _roles(graph, "Network Contributor")
    assert len(network_roles) == len(nats) + 1
    for role in network_roles:
        assert depends_on(graph, cluster, role)


@pytest.mark.parametrize(("stack", "tier"), [("azure-dev", "Free"), ("azure-prod", "Standard")])
def test_tier_and_upgrade_channels(graphs: dict[str, ResourceGraph], stack: str, tier: str) -> None:
    inputs = one_of_type(graphs[stack], CLUSTER).inputs
    assert inputs["sku"] == {"name": "Base", "tier": tier}
    assert inputs["autoUpgradeProfile"] == {
        "upgradeChannel": "patch",
        "nodeOSUpgradeChannel": "NodeImage",
    }
    assert inputs["kubernetesVersion"] == "1.36"


@pytest.mark.parametrize("stack", ALL)
def test_audit_logs_go_to_log_analytics(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    setting = one_of_type(graph, "azure-native:monitor:DiagnosticSetting")
    workspace = one_of_type(graph, "azure-native:operationalinsights:Workspace")
    cluster = one_of_type(graph, CLUSTER)
    assert cluster.urn in setting.property_dependencies["resourceUri"]
    assert workspace.urn in setting.property_dependencies["workspaceId"]
    enabled = {log["category"] for log in setting.inputs["logs"] if log["enabled"]}
    assert "kube-audit-admin" in enabled
    assert workspace.inputs["retentionInDays"] == (90 if _base(stack) == "azure-prod" else 30)


@pytest.mark.parametrize("stack", ALL)
def test_system_pool_is_small_tainted_and_hardened(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    inputs = one_of_type(graphs[stack], CLUSTER).inputs
    [system] = inputs["agentPoolProfiles"]
    assert system["mode"] == "System"
    assert system["vmSize"] == "Standard_D2s_v5"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["enableEncryptionAtHost"] is True
    assert system["enableNodePublicIP"] is False
    assert system["count"] == (3 if _base(stack) == "azure-prod" else 1)


@pytest.mark.parametrize("stack", ALL)
def test_every_agent_pool_is_hardened(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    subnet = one_of_type(graph, "azure-native:network:Subnet")
    for pool in graph.by_type(AGENT_POOL):
        assert pool.inputs["mode"] == "User"
        assert pool.inputs["enableEncryptionAtHost"] is True
        assert pool.inputs["enableNodePublicIP"] is False
        assert subnet.urn in pool.property_dependencies["vnetSubnetID"]
    # AKS refuses concurrent pool operations: the pools form one chain, so of any two,
    # one waits for the other.
    pools = graph.by_type(AGENT_POOL)
    for a, b in itertools.combinations(pools, 2):
        assert depends_on(graph, a, b) or depends_on(graph, b, a), (a.name, b.name)
    platform = _agent_pool(graph, "platform")
    system = stack_file_config(_base(stack))["gpuplane:systemPool"]
    assert platform.inputs["vmSize"] == system["instanceType"]
    assert "nodeTaints" not in platform.inputs or platform.inputs["nodeTaints"] == []
    if stack in AUTO:
        # Node auto-provisioning allows only fixed-size pools next to it.
        assert platform.inputs["enableAutoScaling"] is False
        assert platform.inputs["count"] == system["minNodes"]
    else:
        assert platform.inputs["enableAutoScaling"] is True
        assert (platform.inputs["minCount"], platform.inputs["maxCount"]) == (
            system["minNodes"],
            system["maxNodes"],
        )
        assert platform.ignore_changes == ("count",)


@pytest.mark.parametrize("stack", LIVE)
def test_gpu_pools_scale_from_zero_with_drivers_by_aks(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    inputs = one_of_type(graph, CLUSTER).inputs
    assert inputs["nodeProvisioningProfile"] == {"mode": "Manual"}
    for spec in _pools(stack):
        pool = _agent_pool(graph, spec["name"])
        assert pool.inputs["vmSize"] == spec["instanceTypes"][0]
        assert pool.inputs["enableAutoScaling"] is True
        assert pool.inputs["minCount"] == pool.inputs["count"] == 0
        assert pool.inputs["maxCount"] == spec["maxNodes"]
        assert pool.ignore_changes == ("count",)
        assert pool.inputs["gpuProfile"] == {"driver": "Install"}
        assert "nvidia.com/gpu=true:NoSchedule" in pool.inputs["nodeTaints"]
        labels = pool.inputs["nodeLabels"]
        assert labels["gpuplane.dev/pool"] == spec["name"]
        assert labels["nvidia.com/gpu.present"] == "true"
        if spec["spot"]:
            assert pool.inputs["scaleSetPriority"] == "Spot"
            assert pool.inputs["scaleSetEvictionPolicy"] == "Delete"
            assert pool.inputs["spotMaxPrice"] == -1
            # What AKS adds to spot nodes anyway, declared so no update strips it.
            assert (
                "kubernetes.azure.com/scalesetpriority=spot:NoSchedule" in pool.inputs["nodeTaints"]
            )
            assert labels["kubernetes.azure.com/scalesetpriority"] == "spot"
        else:
            assert "scaleSetPriority" not in pool.inputs
        if spec.get("sharing"):
            assert labels["nvidia.com/device-plugin.config"] == spec["name"]
    assert inputs["autoScalerProfile"]["scaleDownUnneededTime"] == "5m"


def test_dev_pool_is_spot_t4(graphs: dict[str, ResourceGraph]) -> None:
    [spec] = _pools("azure-dev")
    assert spec == {
        "name": "t4",
        "instanceTypes": ["Standard_NC4as_T4_v3"],
        "minNodes": 0,
        "maxNodes": 2,
        "spot": True,
    }
    assert _agent_pool(graphs["azure-dev"], "t4").inputs["scaleSetPriority"] == "Spot"


@pytest.mark.parametrize("stack", AUTO)
def test_node_auto_provisioning_makes_gpu_node_pools(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    inputs = one_of_type(graph, CLUSTER).inputs
    assert inputs["nodeProvisioningProfile"] == {"mode": "Auto", "defaultNodePools": "None"}
    assert "autoScalerProfile" not in inputs
    assert {p.inputs["agentPoolName"] for p in graph.by_type(AGENT_POOL)} == {"platform"}
    categories = {
        log["category"]
        for log in one_of_type(graph, "azure-native:monitor:DiagnosticSetting").inputs["logs"]
    }
    assert "karpenter-events" in categories
    pools = {p.get("metadata.name"): p for p in graph.by_type(NODE_POOL)}
    classes = {c.get("metadata.name"): c for c in graph.by_type(NODE_CLASS)}
    assert set(pools) == set(classes) == {f"gpu-{p['name']}" for p in _pools(stack)}
    for spec in _pools(stack):
        pool = pools[f"gpu-{spec['name']}"]
        validate_custom_resource(k8s_object(pool))
        template = pool.get("spec")["template"]
        assert template["spec"]["nodeClassRef"] == {
            "group": "karpenter.azure.com",
            "kind": "AKSNodeClass",
            "name": f"gpu-{spec['name']}",
        }
        requirements = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
        assert requirements["node.kubernetes.io/instance-type"] == spec["instanceTypes"]
        assert requirements["karpenter.sh/capacity-type"] == [
            "spot" if spec["spot"] else "on-demand"
        ]
        assert {"key": "nvidia.com/gpu", "effect": "NoSchedule"} in template["spec"]["taints"]
        assert pool.get("spec")["disruption"]["consolidationPolicy"] == "WhenEmpty"
        node_class = classes[f"gpu-{spec['name']}"].get("spec")
        assert node_class["imageFamily"] == "Ubuntu"
        assert node_class["security"] == {"encryptionAtHost": True}


@pytest.mark.parametrize("stack", ALL)
def test_device_plugin_runs_on_gpu_nodes_and_tolerates_spot(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    values = release_named(graph, "nvidia-device-plugin").inputs["values"]
    [term] = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term["matchExpressions"] == [
        {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}
    ]
    keys = {t["key"] for t in values["tolerations"]}
    assert {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"} <= keys
    shared = [p for p in _pools(stack) if p.get("sharing")]
    for spec in shared:
        config = yaml.safe_load(values["config"]["map"][spec["name"]])
        [resource] = config["sharing"]["timeSlicing"]["resources"]
        assert resource == {"name": "nvidia.com/gpu", "replicas": spec["sharing"]["replicas"]}


CACHE = "-model-cache-identity-"


@pytest.mark.parametrize("stack", ALL)
def test_models_storage_is_private_and_key_less(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    account = one_of_type(graph, "azure-native:storage:StorageAccount")
    inputs = account.inputs
    assert inputs["allowBlobPublicAccess"] is False
    assert inputs["allowSharedKeyAccess"] is False
    assert inputs["minimumTlsVersion"] == "TLS1_2"
    assert inputs["enableHttpsTrafficOnly"] is True
    assert inputs["encryption"]["requireInfrastructureEncryption"] is True
    container = one_of_type(graph, "azure-native:storage:BlobContainer")
    assert container.inputs["publicAccess"] == "None"
    reader = _identity(graph, "-models-reader")
    # Shared keys are off: admins upload with their Entra ID login.
    [upload] = _roles(graph, "Storage Blob Data Contributor")
    assert upload.inputs["principalType"] == "Group"
    assert container.urn in upload.property_dependencies["scope"]
    # The model cache's download jobs have their own reader (test_model_cache_stacks.py).
    [grant] = [g for g in _roles(graph, "Storage Blob Data Reader") if CACHE not in g.name]
    assert container.urn in grant.property_dependencies["scope"]
    assert reader.urn in grant.property_dependencies["principalId"]
    credentials = [
        c
        for c in graph.by_type("azure-native:managedidentity:FederatedIdentityCredential")
        if CACHE not in c.name
    ]
    assert sorted(c.inputs["subject"] for c in credentials) == [
        "system:serviceaccount:models:default",
        "system:serviceaccount:models:models",
    ]
    cluster = one_of_type(graph, CLUSTER)
    for credential in credentials:
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
        assert cluster.urn in credential.property_dependencies["issuer"]
        assert credential.inputs["issuer"].startswith("https://")
    # Entra refuses concurrent credential writes on one identity: one after the other.
    assert any(depends_on(graph, a, b) for a in credentials for b in credentials if a is not b)
    account_sa = custom_resource_named(graph, "ServiceAccount", "models")
    annotations = account_sa.get("metadata.annotations")
    assert set(annotations) == {
        "azure.workload.identity/client-id",
        "azure.workload.identity/tenant-id",
    }
    runtime = custom_resource_named(graph, "ClusterServingRuntime", "gpuplane-huggingface-gpu")
    assert runtime.get("spec")["labels"] == {"azure.workload.identity/use": "true"}
    uri = graph.outputs["modelStorageUri"]
    assert uri.startswith("https://") and uri.endswith(".blob.core.windows.net/models/")


def test_storage_account_names_are_valid_and_stable() -> None:
    name = storage_account_name("gpuplane-production-x", SUBSCRIPTION)
    assert name == storage_account_name("gpuplane-production-x", SUBSCRIPTION)
    assert 3 <= len(name) <= 24 and name.isalnum() and name.islower()
    assert name != storage_account_name("gpuplane-production-x", "another-subscription")


@pytest.mark.parametrize(("stack", "protected"), [("azure-dev", False), ("azure-prod", True)])
def test_prod_protects_cluster_vault_key_and_storage(
    graphs: dict[str, ResourceGraph], stack: str, protected: bool
) -> None:
    graph = graphs[stack]
    for type_ in (
        CLUSTER,
        "azure-native:keyvault:Vault",
        "azure-native:keyvault:Key",
        "azure-native:storage:StorageAccount",
        "azure-native:resources:ResourceGroup",
    ):
        assert one_of_type(graph, type_).protect is protected, type_


@pytest.mark.parametrize("stack", ALL)
def test_serving_stack_waits_for_the_platform_pool_not_gpus(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster_provider(graph)
    istiod = release_named(graph, "istiod")
    assert depends_on(graph, istiod, _agent_pool(graph, "platform"))
    # Nothing the serving stack installs needs a GPU node: the pools come up beside it.
    for spec in _pools(stack) if stack in LIVE else ():
        assert not depends_on(graph, istiod, _agent_pool(graph, spec["name"]))
    assert depends_on(graph, istiod, one_of_type(graph, "azure-native:monitor:DiagnosticSetting"))
    assert releases_missing_upstream(graph) == {}
    assert graph.outputs["cloud"] == "azure"
    assert graph.outputs["ingressServiceType"] == "LoadBalancer"


@pytest.mark.parametrize("stack", LIVE)
def test_load_balancer_probes_the_gateways_readiness(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    values = release_named(graphs[stack], "istio-ingressgateway").inputs["values"]
    annotations = values["service"]["annotations"]
    prefix = "service.beta.kubernetes.io/port_"
    for port in (80, 443):
        assert annotations[f"{prefix}{port}_health-probe_protocol"] == "http"
        assert annotations[f"{prefix}{port}_health-probe_port"] == "15021"
        assert annotations[f"{prefix}{port}_health-probe_request-path"] == "/healthz/ready"
    assert annotations[f"{prefix}15021_no_lb_rule"] == "true"
    assert values["service"]["type"] == "LoadBalancer"


def test_kubeconfig_uses_kubelogin_with_the_azure_cli() -> None:
    from gpuplane.components.clusters.azure import kubeconfig

    encoded = _aks_user_credentials({"resourceName": "demo"}, "eastus")["kubeconfigs"][0]["value"]
    seen: list[str] = []

    def program() -> None:
        kubeconfig("demo", pulumi.Output.from_input(encoded)).apply(seen.append)

    engine.run_program(program, project="gpuplane", stack="t")
    config = json.loads(seen[0])
    source = yaml.safe_load(base64.b64decode(encoded))
    # Server and CA from AKS's credentials; the user is ours, not their devicecode login.
    assert config["clusters"][0]["cluster"] == source["clusters"][0]["cluster"]
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "kubelogin"
    assert user["user"]["exec"]["args"] == [
        "get-token",
        "--login",
        "azurecli",
        "--server-id",
        AKS_SERVER_APP_ID,
    ]
    assert user["user"]["exec"]["interactiveMode"] == "Never"
