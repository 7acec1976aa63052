"""Azure identities, role assignments and the Key Vault key that encrypts AKS secrets."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi

from gpuplane.components.extras import missing_extra

try:
    import pulumi_azure_native as azure
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.azure_identity") from None

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
ROLES: Mapping[str, str] = {
    "Key Vault Crypto User": "12338af0-0e69-4776-bea7-57ae8d297424",
    "Key Vault Crypto Officer": "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
    "Storage Queue Data Reader": "19e7f393-937e-4f77-808e-94535e297925",
    "Storage Queue Data Message Processor": "8a0f0c08-91a1-4084-bc3d-661d67233fed",
    "Storage Queue Data Message Sender": "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a",
}
# The audience AKS workload identity tokens carry (Entra ID token exchange).
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


def short_name(name: str, length: int, *, hyphens: bool = True) -> str:
    """`name` cut to `length` (and without hyphens if asked), for Azure's short,
    globally unique names that Pulumi auto-names with 8 more characters."""
    if not hyphens:
        name = name.replace("-", "")
    return name[:length].rstrip("-")


@dataclass(frozen=True)
class AzureContext:
    """Where resources go and who creates them."""

    subscription_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    admin_group_object_ids: Sequence[pulumi.Input[str]]
    """Entra ID groups that administer the cluster; whoever runs `pulumi up` is in one."""
    resource_group: azure.resources.ResourceGroup
    location: str
    tags: Mapping[str, pulumi.Input[str]]


def role_assignment(
    name: str,
    *,
    ctx: AzureContext,
    role: str,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    principal_type: Literal["ServicePrincipal", "Group"] = "ServicePrincipal",
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    condition: str | None = None,
) -> azure.authorization.RoleAssignment:
    """One built-in role for one principal on one scope, optionally narrowed by an
    ABAC `condition` (version 2.0)."""
    return azure.authorization.RoleAssignment(
        name,
        principal_id=principal_id,
        # Managed identities are service principals; saying so avoids the replication
        # delay that fails a fresh identity's first assignment.
        principal_type=principal_type,
        role_definition_id=pulumi.Output.concat(
            "/subscriptions/",
            ctx.subscription_id,
            "/providers/Microsoft.Authorization/roleDefinitions/",
            ROLES[role],
        ),
        scope=scope,
        description=f"gpuplane: {role}",
        **({"condition": condition, "condition_version": "2.0"} if condition else {}),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def admin_roles(
    name: str, *, ctx: AzureContext, role: str, scope: pulumi.Input[str], parent: pulumi.Resource
) -> list[azure.authorization.RoleAssignment]:
    """`role` on `scope` for every admin group."""
    return [
        role_assignment(
            f"{name}-{i}",
            ctx=ctx,
            role=role,
            scope=scope,
            principal_id=group,
            principal_type="Group",
            parent=parent,
        )
        for i, group in enumerate(ctx.admin_group_object_ids)
    ]


def identity(
    name: str, *, ctx: AzureContext, parent: pulumi.Resource
) -> azure.managedidentity.UserAssignedIdentity:
    return azure.managedidentity.UserAssignedIdentity(
        name,
        resource_group_name=ctx.resource_group.name,
        location=ctx.location,
        tags=dict(ctx.tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def federated_credentials(
    name: str,
    *,
    ctx: AzureContext,
    identity: azure.managedidentity.UserAssignedIdentity,
    issuer: pulumi.Input[str],
    namespace: str,
    service_accounts: Sequence[str],
    parent: pulumi.Resource,
) -> list[azure.managedidentity.FederatedIdentityCredential]:
    """Let these ServiceAccounts act as `identity`. Written one after another: Entra
    refuses concurrent credential writes on one identity."""
    created: list[azure.managedidentity.FederatedIdentityCredential] = []
    for account in service_accounts:
        created.append(
            azure.managedidentity.FederatedIdentityCredential(
                f"{name}-{account}",
                resource_name_=identity.name,
                resource_group_name=ctx.resource_group.name,
                federated_identity_credential_resource_name=f"{namespace}-{account}",
                issuer=issuer,
                subject=f"system:serviceaccount:{namespace}:{account}",
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=parent, depends_on=created[-1:]),
            )
        )
    return created


@dataclass(frozen=True)
class SecretsKey:
    """The Key Vault key AKS encrypts Kubernetes secrets with, and what must precede its use."""

    vault: azure.keyvault.Vault
    key: azure.keyvault.Key
    ready: Sequence[pulumi.Resource]


def secrets_key(
    name: str,
    *,
    ctx: AzureContext,
    cluster_identity: azure.managedidentity.UserAssignedIdentity,
    protect: bool,
    parent: pulumi.Resource,
) -> SecretsKey:
    """An RBAC Key Vault with purge protection, an RSA key, and Crypto User for the cluster.

    The vault stays reachable from public networks: AKS KMS with a public vault does not
    support the vault firewall, and a private vault needs API server VNet integration.
    Access is by Azure RBAC only.
    """
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect)
    vault = azure.keyvault.Vault(
        # Auto-named (this + 8 random characters, at most 24): purge protection keeps a
        # deleted vault's name taken for 90 days, so a fixed name could not be reused.
        f"{short_name(name, 13)}-kv",
        resource_group_name=ctx.resource_group.name,
        location=ctx.location,
        properties={
            "tenant_id": ctx.tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "enable_rbac_authorization": True,
            "enable_purge_protection": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,
            "public_network_access": "Enabled",
            "network_acls": {"bypass": "AzureServices", "default_action": "Allow"},
        },
        tags=dict(ctx.tags),
        opts=stateful,
    )
    # Creating a key in an RBAC vault is a data-plane write: the admin groups (one holds
    # whoever runs `pulumi up`) may manage keys. Groups, not the caller's object id, whose
    # principal type (user or service principal) Pulumi cannot know.
    officers = admin_roles(
        f"{name}-kv-admins", ctx=ctx, role="Key Vault Crypto Officer", scope=vault.id, parent=parent
    )
    key = azure.keyvault.Key(
        f"{name}-secrets",
        key_name=f"{name}-secrets",
        vault_name=vault.name,
        resource_group_name=ctx.resource_group.name,
        properties={
            "kty": "RSA",
            "key_size": 2048,
            "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            "attributes": {"enabled": True},
        },
        tags=dict(ctx.tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=officers),
    )
    user = role_assignment(
        f"{name}-kv-cluster",
        ctx=ctx,
        role="Key Vault Crypto User",
        scope=vault.id,
        principal_id=cluster_identity.principal_id,
        parent=parent,
    )
    return SecretsKey(vault=vault, key=key, ready=[user, key])
