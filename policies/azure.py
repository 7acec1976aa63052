"""Azure: AKS clusters and agent pools, Key Vaults, storage accounts and blob containers,
and the diagnostic settings that ship AKS audit logs.

Agent pools appear twice in an AKS stack: inline in the ManagedCluster's
`agentPoolProfiles` (the system pool) and as AgentPool resources; the node rules
read both.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs

from .cidrs import too_wide
from .rule import Rule, dig, is_anywhere, items

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
VAULT = "azure-native:keyvault:Vault"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
EVENT_SUBSCRIPTIONS = (
    "azure-native:eventgrid:SystemTopicEventSubscription",
    "azure-native:eventgrid:EventSubscription",
)

NETWORK_POLICIES = ("azure", "calico", "cilium")
AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin")
# Category groups that include the audit categories.
AUDIT_GROUPS = ("audit", "alllogs")
STRONG_TLS = ("TLS1_2", "TLS1_3")
_CIS = "CIS AKS Benchmark v1.7.0"


def agent_pools(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, pool) for each inline agentPoolProfiles entry, or the AgentPool itself."""
    if args.resource_type == AGENT_POOL:
        yield "agent pool", args.props
        return
    for i, pool in enumerate(items(args.props.get("agentPoolProfiles"))):
        if isinstance(pool, Mapping):
            yield f"agentPoolProfiles[{i}] {pool.get('name', '?')}", pool


# --- what opens the cluster or its data ------------------------------------------


def _api_server(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    profile = dig(args.props, "apiServerAccessProfile", default={})
    # enablePrivateCluster absent means false: the API server has a public address.
    if dig(profile, "enablePrivateCluster") is True:
        return
    ranges = items(dig(profile, "authorizedIPRanges"))
    if not ranges:
        # No ranges means every address may reach the public API server.
        yield (
            "the public API server admits any address (no apiServerAccessProfile."
            "authorizedIPRanges and not a private cluster)"
        )
    anywhere = [cidr for cidr in ranges if is_anywhere(cidr)]
    for cidr in anywhere:
        yield f"the public API server authorizes {cidr}"
    if not anywhere:
        for wide in too_wide(ranges):
            yield f"the public API server is open too widely: {wide} (authorizedIPRanges)"


def _kms(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means false: etcd is encrypted with platform-managed keys only.
    kms = dig(args.props, "securityProfile", "azureKeyVaultKms", default={})
    if dig(kms, "enabled") is not True:
        yield "Secrets are not encrypted with a Key Vault key (securityProfile.azureKeyVaultKms)"
    # keyId is usually a Key's versioned URI, unknown during preview: that it is
    # given is what matters, so its value is not read.
    elif "keyId" not in list(kms):
        yield "azureKeyVaultKms is enabled but names no keyId"


def _local_accounts(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means false: `az aks get-credentials --admin` hands out a static cluster-admin.
    if args.props.get("disableLocalAccounts") is not True:
        yield "local accounts are enabled (disableLocalAccounts is not true)"


def _entra_rbac(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    props = args.props
    # enableRBAC absent means true; aadProfile absent means no Entra ID integration.
    if props.get("enableRBAC") is False:
        yield "Kubernetes RBAC is off (enableRBAC: false)"
    if dig(props, "aadProfile", "managed") is not True:
        yield "Entra ID integration is off (aadProfile.managed is not true)"
    if dig(props, "aadProfile", "enableAzureRBAC") is not True:
        yield "Azure RBAC for Kubernetes authorization is off (aadProfile.enableAzureRBAC)"


def _network_policy(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means none: every pod can reach every other pod.
    policy = dig(args.props, "networkProfile", "networkPolicy")
    if str(policy).lower() not in NETWORK_POLICIES:
        yield f"NetworkPolicy is not enforced (networkProfile.networkPolicy is {policy or 'unset'})"


def _node_public_ip(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means false.
    for where, pool in agent_pools(args):
        if dig(pool, "enableNodePublicIP") is True:
            yield f"{where} gives each node a public IP (enableNodePublicIP: true)"


def _blob_public_access(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means false (the default interpretation since API version 2023-01-01).
    if args.props.get("allowBlobPublicAccess") is True:
        yield "containers may be made public (allowBlobPublicAccess: true)"


def _secure_transport(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # enableHttpsTrafficOnly absent means true (since API 2019-04-01); minimumTlsVersion
    # absent means TLS1_0.
    if args.props.get("enableHttpsTrafficOnly") is False:
        yield "plain HTTP is accepted (enableHttpsTrafficOnly: false)"
    tls = args.props.get("minimumTlsVersion")
    if tls not in STRONG_TLS:
        yield f"TLS below 1.2 is accepted (minimumTlsVersion is {tls or 'unset, so TLS1_0'})"


def _container_public(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means None (private).
    access = args.props.get("publicAccess")
    if access is not None and access != "None":
        yield f"the container allows anonymous reads (publicAccess: {access})"


def _workload_identity(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Both absent mean off: pods fall back to stored keys or to the kubelet identity,
    # which every pod can fetch from the instance metadata endpoint.
    if dig(args.props, "oidcIssuerProfile", "enabled") is not True:
        yield "the OIDC issuer is off (oidcIssuerProfile.enabled is not true)"
    if dig(args.props, "securityProfile", "workloadIdentity", "enabled") is not True:
        yield "workload identity is off (securityProfile.workloadIdentity.enabled is not true)"


# --- hygiene ----------------------------------------------------------------------


def _encryption_at_host(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means false: temp disks and disk caches on the host are not encrypted.
    for where, pool in agent_pools(args):
        if dig(pool, "enableEncryptionAtHost") is not True:
            yield f"{where} does not encrypt at host (enableEncryptionAtHost is not true)"


def _auto_upgrade(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # upgradeChannel absent means none; nodeOSUpgradeChannel absent means NodeImage.
    profile = dig(args.props, "autoUpgradeProfile", default={})
    channel = dig(profile, "upgradeChannel")
    if channel is None or str(channel).lower() == "none":
        yield f"Kubernetes is never upgraded automatically (upgradeChannel is {channel or 'unset'})"
    node_os = dig(profile, "nodeOSUpgradeChannel")
    if node_os is not None and str(node_os).lower() in ("none", "unmanaged"):
        yield f"node images are not patched by AKS (nodeOSUpgradeChannel is {node_os})"


def _key_vault(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    properties = dig(args.props, "properties", default={})
    # Both absent mean false (access policies; a deleted vault can be purged at once).
    if dig(properties, "enablePurgeProtection") is not True:
        yield "purge protection is off (properties.enablePurgeProtection is not true)"
    if dig(properties, "enableRbacAuthorization") is not True:
        yield "data access uses access policies, not Azure RBAC (enableRbacAuthorization)"


def _shared_key(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent (null) means true: account keys and SAS tokens work.
    if args.props.get("allowSharedKeyAccess") is not False:
        yield "account keys and SAS tokens are accepted (allowSharedKeyAccess is not false)"


def _ships_audit_logs(setting: PolicyResource) -> bool:
    for entry in items(setting.props.get("logs")):
        if not isinstance(entry, Mapping) or entry.get("enabled") is not True:
            continue
        if entry.get("category") in AUDIT_CATEGORIES:
            return True
        if str(entry.get("categoryGroup") or "").lower() in AUDIT_GROUPS:
            return True
    return False


def _arm_id_suffix(cluster: PolicyResource) -> str | None:
    """…/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>,
    lower-cased; None where the name is left to auto-naming."""
    name = cluster.props.get("resourceName")
    group = cluster.props.get("resourceGroupName")
    if not isinstance(name, str) or not isinstance(group, str):
        return None
    return (
        f"/resourcegroups/{group}/providers/microsoft.containerservice/managedclusters/{name}"
    ).lower()


def _audit_diagnostics(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    covered: set[str] = set()  # URNs the resourceUri of an auditing setting comes from
    literal_uris: list[str] = []  # resourceUri strings written out by hand
    for resource in args.resources:
        if resource.resource_type != DIAGNOSTIC_SETTING or not _ships_audit_logs(resource):
            continue
        sources = resource.property_dependencies.get("resourceUri") or []
        if sources:
            # resourceUri is some resource's output (during preview often unknown):
            # follow the dependency instead of reading the value.
            covered.update(source.urn for source in sources)
        else:
            uri = resource.props.get("resourceUri")
            if isinstance(uri, str):
                literal_uris.append(uri.rstrip("/").lower())
    for cluster in args.resources:
        if cluster.resource_type != MANAGED_CLUSTER or cluster.urn in covered:
            continue
        suffix = _arm_id_suffix(cluster) if literal_uris else None
        if suffix and any(uri.endswith(suffix) for uri in literal_uris):
            continue
        yield (
            f"AKS cluster {cluster.name} has no diagnostic setting that ships "
            f"{' or '.join(AUDIT_CATEGORIES)} logs",
            cluster.urn,
        )


_POOLS = (MANAGED_CLUSTER, AGENT_POOL)

# --- queues that start jobs ----------------------------------------------------------


def _event_dead_letter(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    props = args.props
    if not (props.get("deadLetterWithResourceIdentity") or props.get("deadLetterDestination")):
        yield "events that cannot be delivered are dropped (no dead-letter destination)"
    if props.get("destination") and not props.get("deliveryWithResourceIdentity"):
        yield (
            "events are delivered with the destination's keys, not a managed identity "
            "(destination without deliveryWithResourceIdentity)"
        )


RULES = (
    Rule(
        id="GP-AZ-001",
        stack_key="gpuplane:cluster.endpoint.publicAccessCidrs",
        name="aks-api-server-restricted",
        description="The AKS API server is private, or public only to authorized IP ranges "
        "that never include 0.0.0.0/0.",
        severity="critical",
        level="mandatory",
        remediation="Set apiServerAccessProfile.authorizedIPRanges to the admin networks, or "
        "apiServerAccessProfile.enablePrivateCluster: true.",
        anchor=f"{_CIS} 5.4.1, 5.4.2; Checkov CKV_AZURE_6, CKV_AZURE_115",
        resource_types=(MANAGED_CLUSTER,),
        check=_api_server,
    ),
    Rule(
        id="GP-AZ-002",
        name="aks-secrets-kms",
        description="Kubernetes Secrets are encrypted with a customer key in Key Vault (KMS).",
        severity="high",
        level="mandatory",
        remediation="Set securityProfile.azureKeyVaultKms: {enabled: true, keyId: <key "
        "version URL>} and give the cluster identity Key Vault Crypto User on the key.",
        anchor=f"{_CIS} 5.3.1; Azure docs: KMS etcd encryption for AKS",
        resource_types=(MANAGED_CLUSTER,),
        check=_kms,
    ),
    Rule(
        id="GP-AZ-003",
        name="aks-local-accounts-disabled",
        description="AKS local accounts (the static cluster-admin credential) are disabled.",
        severity="high",
        level="mandatory",
        remediation="Set disableLocalAccounts: true (requires Entra ID integration).",
        anchor="Checkov CKV_AZURE_141; Azure docs: Manage local accounts with AKS",
        resource_types=(MANAGED_CLUSTER,),
        check=_local_accounts,
    ),
    Rule(
        id="GP-AZ-004",
        name="aks-entra-azure-rbac",
        description="AKS authenticates with Entra ID and authorizes with Azure RBAC; "
        "Kubernetes RBAC stays on.",
        severity="high",
        level="mandatory",
        remediation="Set aadProfile: {managed: true, enableAzureRBAC: true} and keep "
        "enableRBAC true.",
        anchor=f"{_CIS} 5.5.1, 5.5.2; Checkov CKV_AZURE_5",
        resource_types=(MANAGED_CLUSTER,),
        check=_entra_rbac,
    ),
    Rule(
        id="GP-AZ-005",
        name="aks-network-policy",
        description="AKS enforces NetworkPolicy (Azure, Calico or Cilium).",
        severity="high",
        level="mandatory",
        remediation="Set networkProfile.networkPolicy to cilium (with networkDataplane: "
        "cilium), calico or azure.",
        anchor=f"{_CIS} 5.4.4; Checkov CKV_AZURE_7",
        resource_types=(MANAGED_CLUSTER,),
        check=_network_policy,
    ),
    Rule(
        id="GP-AZ-006",
        name="aks-no-node-public-ip",
        description="AKS nodes get no public IP addresses.",
        severity="high",
        level="mandatory",
        remediation="Remove enableNodePublicIP: true from every agent pool; give egress a NAT "
        "gateway or load balancer.",
        anchor=f"{_CIS} 5.4.3; Checkov CKV_AZURE_143",
        resource_types=_POOLS,
        check=_node_public_ip,
    ),
    Rule(
        id="GP-AZ-007",
        name="azure-storage-no-public-blob-access",
        description="Storage accounts do not allow public (anonymous) blob access.",
        severity="critical",
        level="mandatory",
        remediation="Set allowBlobPublicAccess: false on the storage account.",
        anchor="Checkov CKV_AZURE_190, CKV2_AZURE_47",
        resource_types=(STORAGE_ACCOUNT,),
        check=_blob_public_access,
    ),
    Rule(
        id="GP-AZ-008",
        name="azure-storage-secure-transport",
        description="Storage accounts accept HTTPS only, with TLS 1.2 or later.",
        severity="medium",
        level="mandatory",
        remediation="Set enableHttpsTrafficOnly: true and minimumTlsVersion: TLS1_2.",
        anchor="Checkov CKV_AZURE_3, CKV_AZURE_44",
        resource_types=(STORAGE_ACCOUNT,),
        check=_secure_transport,
    ),
    Rule(
        id="GP-AZ-009",
        name="azure-blob-container-private",
        description="Blob containers allow no anonymous access.",
        severity="critical",
        level="mandatory",
        remediation="Set publicAccess: None on the container (or leave it out).",
        anchor="Checkov CKV_AZURE_34",
        resource_types=(BLOB_CONTAINER,),
        check=_container_public,
    ),
    Rule(
        id="GP-AZ-010",
        name="aks-workload-identity",
        description="AKS runs the OIDC issuer and Entra Workload ID, so pods get their own "
        "identity.",
        severity="high",
        level="mandatory",
        remediation="Set oidcIssuerProfile.enabled: true and "
        "securityProfile.workloadIdentity.enabled: true.",
        anchor="Azure docs: Use Microsoft Entra Workload ID with AKS",
        resource_types=(MANAGED_CLUSTER,),
        check=_workload_identity,
    ),
    Rule(
        id="GP-AZ-011",
        stack_key="gpuplane:azure.encryptionAtHost",
        name="aks-encryption-at-host",
        description="Every AKS agent pool encrypts at host (temp disks and caches too).",
        severity="medium",
        level="advisory",
        remediation="Set enableEncryptionAtHost: true on every agent pool (the subscription "
        "needs the Microsoft.Compute/EncryptionAtHost feature).",
        anchor="Checkov CKV_AZURE_227",
        resource_types=_POOLS,
        check=_encryption_at_host,
    ),
    Rule(
        id="GP-AZ-012",
        stack_key="gpuplane:azure.upgradeChannel",
        name="aks-auto-upgrade",
        description="AKS upgrades Kubernetes patches and node images automatically.",
        severity="low",
        level="advisory",
        remediation="Set autoUpgradeProfile.upgradeChannel: patch (or stable) and "
        "nodeOSUpgradeChannel: NodeImage (or SecurityPatch).",
        anchor="Checkov CKV_AZURE_171; Azure docs: Auto-upgrade node OS images",
        resource_types=(MANAGED_CLUSTER,),
        check=_auto_upgrade,
    ),
    Rule(
        id="GP-AZ-013",
        name="azure-key-vault-purge-protection-rbac",
        description="Key Vaults have purge protection and use Azure RBAC for data access.",
        severity="medium",
        level="advisory",
        remediation="Set properties.enablePurgeProtection: true and "
        "properties.enableRbacAuthorization: true.",
        anchor="Checkov CKV_AZURE_110; Azure docs: Azure RBAC for Key Vault data plane",
        resource_types=(VAULT,),
        check=_key_vault,
    ),
    Rule(
        id="GP-AZ-014",
        name="azure-storage-no-shared-key",
        description="Storage accounts refuse account keys and SAS tokens (Entra ID only).",
        severity="medium",
        level="advisory",
        remediation="Set allowSharedKeyAccess: false (and defaultToOAuthAuthentication: true).",
        anchor="Checkov CKV2_AZURE_40",
        resource_types=(STORAGE_ACCOUNT,),
        check=_shared_key,
    ),
    Rule(
        id="GP-AZ-015",
        name="aks-audit-logs",
        description="Every AKS cluster has a diagnostic setting shipping kube-audit or "
        "kube-audit-admin logs.",
        severity="medium",
        level="advisory",
        remediation="Add a monitor DiagnosticSetting with resourceUri: <cluster id> and a "
        "logs entry {category: kube-audit-admin, enabled: true} to a Log Analytics workspace.",
        anchor="CIS AKS Benchmark v1.7.0 2.1.1",
        resource_types=(MANAGED_CLUSTER, DIAGNOSTIC_SETTING),
        stack_check=_audit_diagnostics,
    ),
    Rule(
        id="GP-AZ-016",
        name="azure-eventgrid-dead-letter",
        description="Event Grid subscriptions dead-letter what they cannot deliver and "
        "deliver with a managed identity.",
        severity="medium",
        level="mandatory",
        remediation="Set deadLetterWithResourceIdentity (a blob container) and deliver "
        "through deliveryWithResourceIdentity with the topic's managed identity.",
        anchor="Azure docs: Event Grid dead letter and retry; delivery with managed identity",
        resource_types=EVENT_SUBSCRIPTIONS,
        check=_event_dead_letter,
    ),
)
