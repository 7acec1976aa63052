"""Properties that span resources: the cluster gives workloads a cloud identity."""

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import StackValidationArgs

from policies.rule import Rule, dig

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
# Evidence on EKS: Pod Identity associations (with the agent add-on) or an IRSA provider.
EKS_IDENTITY = (
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
)


def _workload_identity(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    types = {r.resource_type for r in args.resources}
    for cluster in args.resources:
        props = cluster.props
        if cluster.resource_type == EKS and not types & set(EKS_IDENTITY):
            yield (
                "the EKS cluster has no Pod Identity association or IRSA OIDC provider: pods "
                "would need static keys or the node role",
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
        "provider); GKE: workloadIdentityConfig; AKS: oidcIssuerProfile and "
        "securityProfile.workloadIdentity.",
        anchor="CIS GKE 5.2.2 (Workload Identity); EKS best practices: IAM for pods; AKS docs: "
        "workload identity; REFERENCE.md section 5, Identity",
        resource_types=(EKS, GKE, AKS, *EKS_IDENTITY),
        stack_check=_workload_identity,
    ),
)
