"""Azure rules: one violating and one compliant case each, message checked."""

import copy
import dataclasses
from typing import Any

import pytest

from gpuplane.check import check
from tests.policies.harness import (
    Mutation,
    assert_reports,
    delete_input,
    edited,
    graph_of,
    messages,
    set_input,
    violations,
)

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
VAULT = "azure-native:keyvault:Vault"
STORAGE = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
AZ_RULES = [f"GP-AZ-{n:03d}" for n in range(1, 17)]

ARM_ID = (
    "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.ContainerService/managedClusters/aks"
)
SAFE_POOL: dict[str, Any] = {
    "name": "system",
    "mode": "System",
    "vmSize": "Standard_D2s_v5",
    "enableEncryptionAtHost": True,
    "enableNodePublicIP": False,
}
SAFE_CLUSTER: dict[str, Any] = {
    "resourceName": "aks",
    "resourceGroupName": "rg",
    "aadProfile": {"managed": True, "enableAzureRBAC": True},
    "agentPoolProfiles": [SAFE_POOL],
    "apiServerAccessProfile": {"authorizedIPRanges": ["203.0.113.0/24"]},
    "autoUpgradeProfile": {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"},
    "disableLocalAccounts": True,
    "enableRBAC": True,
    "networkProfile": {"networkPlugin": "azure", "networkPolicy": "cilium"},
    "oidcIssuerProfile": {"enabled": True},
    "securityProfile": {
        "azureKeyVaultKms": {
            "enabled": True,
            "keyId": "https://kv.vault.azure.net/keys/secrets/0123456789abcdef",
        },
        "workloadIdentity": {"enabled": True},
    },
}
SAFE_AGENT_POOL: dict[str, Any] = {
    "agentPoolName": "gpu",
    "resourceName": "aks",
    "resourceGroupName": "rg",
    "enableEncryptionAtHost": True,
    "enableNodePublicIP": False,
}
SAFE_VAULT: dict[str, Any] = {
    "resourceGroupName": "rg",
    "properties": {
        "enablePurgeProtection": True,
        "enableRbacAuthorization": True,
        "tenantId": "t",
        "sku": {"family": "A", "name": "standard"},
    },
}
SAFE_STORAGE: dict[str, Any] = {
    "resourceGroupName": "rg",
    "allowBlobPublicAccess": False,
    "allowSharedKeyAccess": False,
    "enableHttpsTrafficOnly": True,
    "minimumTlsVersion": "TLS1_2",
}
SAFE_CONTAINER: dict[str, Any] = {"accountName": "models", "publicAccess": "None"}
SAFE_DIAGNOSTICS: dict[str, Any] = {
    "resourceUri": ARM_ID,
    "logs": [{"category": "kube-audit-admin", "enabled": True}],
}
SAFE = [
    (CLUSTER, "aks", SAFE_CLUSTER),
    (AGENT_POOL, "gpu", SAFE_AGENT_POOL),
    (VAULT, "kv", SAFE_VAULT),
    (STORAGE, "sa", SAFE_STORAGE),
    (CONTAINER, "c", SAFE_CONTAINER),
    (DIAGNOSTICS, "audit", SAFE_DIAGNOSTICS),
]


def cluster(path: str, value: Any = ...) -> tuple[str, dict[str, Any]]:
    return CLUSTER, edited(SAFE_CLUSTER, path, value)


def storage(path: str, value: Any = ...) -> tuple[str, dict[str, Any]]:
    return STORAGE, edited(SAFE_STORAGE, path, value)


def test_safe_resources_pass_every_azure_rule() -> None:
    for rule in AZ_RULES:
        assert messages(rule, *SAFE) == [], rule


@pytest.mark.parametrize(
    ("rule", "bad", "fragment"),
    [
        (
            "GP-AZ-001",
            cluster("apiServerAccessProfile.authorizedIPRanges", ["0.0.0.0/0"]),
            "the public API server authorizes 0.0.0.0/0",
        ),
        (
            "GP-AZ-001",
            cluster("apiServerAccessProfile"),
            "the public API server admits any address",
        ),
        (
            "GP-AZ-001",
            cluster("apiServerAccessProfile.authorizedIPRanges", []),
            "the public API server admits any address",
        ),
        (
            "GP-AZ-002",
            cluster("securityProfile.azureKeyVaultKms"),
            "Secrets are not encrypted with a Key Vault key",
        ),
        (
            "GP-AZ-002",
            cluster("securityProfile.azureKeyVaultKms.keyId"),
            "azureKeyVaultKms is enabled but names no keyId",
        ),
        ("GP-AZ-003", cluster("disableLocalAccounts"), "local accounts are enabled"),
        ("GP-AZ-003", cluster("disableLocalAccounts", False), "local accounts are enabled"),
        ("GP-AZ-004", cluster("aadProfile"), "Entra ID integration is off"),
        (
            "GP-AZ-004",
            cluster("aadProfile.enableAzureRBAC", False),
            "Azure RBAC for Kubernetes authorization is off",
        ),
        ("GP-AZ-004", cluster("enableRBAC", False), "Kubernetes RBAC is off"),
        (
            "GP-AZ-005",
            cluster("networkProfile.networkPolicy"),
            "NetworkPolicy is not enforced (networkProfile.networkPolicy is unset)",
        ),
        (
            "GP-AZ-005",
            cluster("networkProfile.networkPolicy", "none"),
            "networkProfile.networkPolicy is none",
        ),
        (
            "GP-AZ-006",
            cluster("agentPoolProfiles.0.enableNodePublicIP", True),
            "agentPoolProfiles[0] system gives each node a public IP",
        ),
        (
            "GP-AZ-006",
            (AGENT_POOL, edited(SAFE_AGENT_POOL, "enableNodePublicIP", True)),
            "agent pool gives each node a public IP",
        ),
        (
            "GP-AZ-007",
            storage("allowBlobPublicAccess", True),
            "containers may be made public",
        ),
        ("GP-AZ-008", storage("enableHttpsTrafficOnly", False), "plain HTTP is accepted"),
        (
            "GP-AZ-008",
            storage("minimumTlsVersion", "TLS1_1"),
            "TLS below 1.2 is accepted (minimumTlsVersion is TLS1_1)",
        ),
        (
            "GP-AZ-008",
            storage("minimumTlsVersion"),
            "minimumTlsVersion is unset, so TLS1_0",
        ),
        (
            "GP-AZ-009",
            (CONTAINER, edited(SAFE_CONTAINER, "publicAccess", "Blob")),
            "the container allows anonymous reads (publicAccess: Blob)",
        ),
        (
            "GP-AZ-009",
            (CONTAINER, edited(SAFE_CONTAINER, "publicAccess", "Container")),
            "publicAccess: Container",
        ),
        ("GP-AZ-010", cluster("oidcIssuerProfile"), "the OIDC issuer is off"),
        (
            "GP-AZ-010",
            cluster("securityProfile.workloadIdentity.enabled", False),
            "workload identity is off",
        ),
        (
            "GP-AZ-011",
            cluster("agentPoolProfiles.0.enableEncryptionAtHost"),
            "agentPoolProfiles[0] system does not encrypt at host",
        ),
        (
            "GP-AZ-011",
            (AGENT_POOL, edited(SAFE_AGENT_POOL, "enableEncryptionAtHost", False)),
            "agent pool does not encrypt at host",
        ),
        (
            "GP-AZ-012",
            cluster("autoUpgradeProfile"),
            "Kubernetes is never upgraded automatically (upgradeChannel is unset)",
        ),
        (
            "GP-AZ-012",
            cluster("autoUpgradeProfile.upgradeChannel", "none"),
            "upgradeChannel is none",
        ),
        (
            "GP-AZ-012",
            cluster("autoUpgradeProfile.nodeOSUpgradeChannel", "Unmanaged"),
            "node images are not patched by AKS (nodeOSUpgradeChannel is Unmanaged)",
        ),
        (
            "GP-AZ-012",
            cluster("autoUpgradeProfile.nodeOSUpgradeChannel", "None"),
            "nodeOSUpgradeChannel is None",
        ),
        (
            "GP-AZ-013",
            (VAULT, edited(SAFE_VAULT, "properties.enablePurgeProtection")),
            "purge protection is off",
        ),
        (
            "GP-AZ-013",
            (VAULT, edited(SAFE_VAULT, "properties.enableRbacAuthorization", False)),
            "data access uses access policies, not Azure RBAC",
        ),
        (
            "GP-AZ-014",
            storage("allowSharedKeyAccess"),
            "account keys and SAS tokens are accepted",
        ),
        (
            "GP-AZ-014",
            storage("allowSharedKeyAccess", True),
            "account keys and SAS tokens are accepted",
        ),
    ],
)
def test_azure_rule_reports_the_problem(
    rule: str, bad: tuple[str, dict[str, Any]], fragment: str
) -> None:
    assert_reports(rule, bad, fragment)


def test_private_cluster_needs_no_authorized_ranges() -> None:
    private = cluster("apiServerAccessProfile", {"enablePrivateCluster": True})
    assert messages("GP-AZ-001", private) == []
    ipv6 = cluster("apiServerAccessProfile.authorizedIPRanges", ["203.0.113.0/24", "::/0"])
    assert messages("GP-AZ-001", ipv6) == ["[GP-AZ-001] the public API server authorizes ::/0"]


def test_absent_defaults_that_are_safe_pass() -> None:
    # Node public IPs default off, blob public access off, HTTPS only on, and the
    # node OS channel defaults to NodeImage; a container's publicAccess to None.
    assert messages("GP-AZ-006", cluster("agentPoolProfiles.0.enableNodePublicIP")) == []
    assert messages("GP-AZ-007", storage("allowBlobPublicAccess")) == []
    assert messages("GP-AZ-008", storage("enableHttpsTrafficOnly")) == []
    assert messages("GP-AZ-008", storage("minimumTlsVersion", "TLS1_3")) == []
    assert messages("GP-AZ-012", cluster("autoUpgradeProfile.nodeOSUpgradeChannel")) == []
    assert messages("GP-AZ-009", (CONTAINER, {"accountName": "models"})) == []
    assert messages("GP-AZ-004", cluster("enableRBAC")) == []
    for policy in ("azure", "calico"):
        assert messages("GP-AZ-005", cluster("networkProfile.networkPolicy", policy)) == []


def test_every_agent_pool_is_checked() -> None:
    two = copy.deepcopy(SAFE_CLUSTER)
    two["agentPoolProfiles"].append({**SAFE_POOL, "name": "user", "enableNodePublicIP": True})
    assert messages("GP-AZ-006", (CLUSTER, two)) == [
        "[GP-AZ-006] agentPoolProfiles[1] user gives each node a public IP "
        "(enableNodePublicIP: true)"
    ]


def _without(name: str) -> list[Any]:
    return [entry for entry in SAFE if entry[1] != name]


def test_every_cluster_needs_an_audit_diagnostic_setting() -> None:
    assert messages("GP-AZ-015", *_without("audit")) == [
        "[GP-AZ-015] AKS cluster aks has no diagnostic setting that ships "
        "kube-audit or kube-audit-admin logs"
    ]
    [found] = violations("GP-AZ-015", *_without("audit"))
    assert found.name == "aks" and found.type == CLUSTER and found.level == "advisory"
    # A setting without the audit categories, a disabled one, or one for another
    # resource does not count.
    for logs, uri in [
        ([{"category": "guard", "enabled": True}], ARM_ID),
        ([{"category": "kube-audit", "enabled": False}], ARM_ID),
        ([{"category": "kube-audit", "enabled": True}], ARM_ID.replace("/aks", "/other")),
    ]:
        other = (DIAGNOSTICS, "audit", {"resourceUri": uri, "logs": logs})
        assert messages("GP-AZ-015", *_without("audit"), other), (logs, uri)
    # kube-audit, and the audit / allLogs category groups, do count (ARM ids are
    # case-insensitive).
    for entry in [
        {"category": "kube-audit", "enabled": True},
        {"categoryGroup": "audit", "enabled": True},
        {"categoryGroup": "allLogs", "enabled": True},
    ]:
        setting = (DIAGNOSTICS, "audit", {"resourceUri": ARM_ID.lower(), "logs": [entry]})
        assert messages("GP-AZ-015", *_without("audit"), setting) == [], entry
    # No ManagedCluster, nothing to report.
    assert messages("GP-AZ-015", (STORAGE, "sa", SAFE_STORAGE)) == []


def test_audit_setting_is_matched_through_its_resource_uri_dependency() -> None:
    # During preview resourceUri is the cluster's unknown id: the rule follows the
    # property dependency and never reads the value.
    setting = edited(SAFE_DIAGNOSTICS, "resourceUri", "@unknown")
    auto_named = edited(SAFE_CLUSTER, "resourceName")
    graph = graph_of((CLUSTER, "aks", auto_named), (DIAGNOSTICS, "audit", setting))
    cluster_urn = next(r.urn for r in graph if r.type == CLUSTER)
    diag = next(r for r in graph if r.type == DIAGNOSTICS)
    graph.resources[diag.urn] = dataclasses.replace(
        diag, property_dependencies={"resourceUri": (cluster_urn,)}
    )
    assert [v for v in check(graph).violations if v.id == "GP-AZ-015"] == []
    # The same setting pointing at something else leaves the cluster uncovered.
    graph.resources[diag.urn] = dataclasses.replace(
        diag, property_dependencies={"resourceUri": (diag.urn,)}
    )
    [found] = [v for v in check(graph).violations if v.id == "GP-AZ-015"]
    assert found.urn == cluster_urn and "no diagnostic setting" in found.message


def test_unknown_values_are_advisory_not_a_crash() -> None:
    [found] = violations("GP-AZ-003", cluster("disableLocalAccounts", "@unknown"))
    assert found.level == "advisory"
    assert "cannot be known during preview" in found.message


def test_an_unknown_kms_key_id_still_counts_as_given() -> None:
    # keyId is the versioned URI of a Key made in the same stack: unknown in preview.
    unknown = cluster("securityProfile.azureKeyVaultKms.keyId", "@unknown")
    assert messages("GP-AZ-002", unknown) == []


# rule -> (shipped stack, mutation that breaks exactly that rule)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-AZ-001": (
        "azure-dev",
        set_input(CLUSTER, "apiServerAccessProfile.authorizedIPRanges", ["0.0.0.0/0"]),
    ),
    "GP-AZ-002": (
        "azure-prod",
        set_input(CLUSTER, "securityProfile.azureKeyVaultKms.enabled", False),
    ),
    "GP-AZ-003": ("azure-dev", set_input(CLUSTER, "disableLocalAccounts", False)),
    "GP-AZ-004": ("azure-prod", set_input(CLUSTER, "aadProfile.enableAzureRBAC", False)),
    "GP-AZ-005": ("azure-dev", delete_input(CLUSTER, "networkProfile.networkPolicy")),
    "GP-AZ-006": ("azure-prod", set_input(AGENT_POOL, "enableNodePublicIP", True)),
    "GP-AZ-007": ("azure-dev", set_input(STORAGE, "allowBlobPublicAccess", True)),
    "GP-AZ-008": ("azure-prod", set_input(STORAGE, "minimumTlsVersion", "TLS1_0")),
    "GP-AZ-009": ("azure-dev", set_input(CONTAINER, "publicAccess", "Blob")),
    "GP-AZ-010": ("azure-prod", delete_input(CLUSTER, "securityProfile.workloadIdentity")),
    "GP-AZ-011": (
        "azure-dev",
        set_input(CLUSTER, "agentPoolProfiles.0.enableEncryptionAtHost", False),
    ),
    "GP-AZ-012": ("azure-prod", set_input(CLUSTER, "autoUpgradeProfile.upgradeChannel", "none")),
    "GP-AZ-013": ("azure-dev", delete_input(VAULT, "properties.enablePurgeProtection")),
    "GP-AZ-014": ("azure-prod", delete_input(STORAGE, "allowSharedKeyAccess")),
    "GP-AZ-015": (
        "azure-dev",
        set_input(DIAGNOSTICS, "logs", [{"category": "guard", "enabled": True}]),
    ),
}
