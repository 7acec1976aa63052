"""Properties that span resources: the cluster gives workloads a cloud identity."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs

from .rule import Rule, dig

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
EKS_ADDON = "aws:eks/addon:Addon"
POD_IDENTITY_ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"


def _eks_identity(resources: Sequence[PolicyResource]) -> bool:
    """Pod Identity (associations plus the agent add-on that serves them) or IRSA (an
    OIDC provider whose url is the EKS cluster's issuer: another provider, such as
    GitHub's token.actions.githubusercontent.com, gives pods nothing)."""
    types = {r.resource_type for r in resources}
    agent = any(
        r.resource_type == EKS_ADDON and dig(r.props, "addonName") == POD_IDENTITY_AGENT
        for r in resources
    )
    if POD_IDENTITY_ASSOCIATION in types and agent:
        return True
    return any(
        r.resource_type == OIDC_PROVIDER
        and any(d.resource_type == EKS for d in r.property_dependencies.get("url") or ())
        for r in resources
    )


def _workload_identity(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    eks_identity: bool | None = None  # computed once, on the first EKS cluster
    for cluster in args.resources:
        props = cluster.props
        if cluster.resource_type == EKS:
            if eks_identity is None:
                eks_identity = _eks_identity(args.resources)
            if not eks_identity:
                yield (
                    "the EKS cluster has no Pod Identity associations with the "
                    f"{POD_IDENTITY_AGENT} add-on, nor an IRSA OIDC provider for its issuer: "
                    "pods would need static keys or the node role",
                    cluster.urn,
                )
        elif (
            cluster.resource_type == GKE
            and dig(props, "enableAutopilot") is not True
            and not dig(props, "workloadIdentityConfig", "workloadPool")
        ):
            yield ("the GKE cluster has no Workload Identity pool", cluster.urn)
        elif cluster.resource_type == AKS and not (
            dig(props, "securityProfile", "workloadIdentity", "enabled") is True
            and dig(props, "oidcIssuerProfile", "enabled") is True
        ):
            yield ("the AKS cluster has no OIDC issuer with workload identity", cluster.urn)


RULES = (
    Rule(
        id="GP-STACK-001",
        name="cluster-workload-identity",
        description="The cluster gives workloads a cloud identity without static keys "
        "(EKS Pod Identity or IRSA, GKE Workload Identity, AKS workload identity).",
        severity="high",
        level="mandatory",
        remediation="EKS: the eks-pod-identity-agent add-on and associations (or an IRSA OIDC "
        "provider whose url is the cluster's identity.oidcs[0].issuer); GKE: "
        "workloadIdentityConfig; AKS: oidcIssuerProfile and securityProfile.workloadIdentity.",
        anchor="CIS GKE 5.2.2 (Workload Identity); EKS best practices: IAM for pods; AKS docs: "
        "workload identity; REFERENCE.md section 5, Identity",
        resource_types=(EKS, GKE, AKS, EKS_ADDON, POD_IDENTITY_ASSOCIATION, OIDC_PROVIDER),
        stack_check=_workload_identity,
    ),
)
