"""Stack rules: the cluster gives workloads a cloud identity."""

from gpuplane.check import check
from tests.policies.harness import Mutation, graph_of, messages, remove_resources

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
ADDON = "aws:eks/addon:Addon"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
NO_IDENTITY = "no Pod Identity associations with the eks-pod-identity-agent add-on"

CLUSTER = (EKS, "eks", {"name": "c"})
AGENT = (ADDON, "agent", {"clusterName": "c", "addonName": "eks-pod-identity-agent"})
ASSOCIATED = (ASSOCIATION, "pia", {"namespace": "models", "serviceAccount": "models"})


def test_eks_needs_pod_identity_with_its_agent() -> None:
    assert NO_IDENTITY in messages("GP-STACK-001", CLUSTER)[0]
    assert messages("GP-STACK-001", CLUSTER, AGENT, ASSOCIATED) == []
    # Associations do nothing without the agent add-on, nor the add-on without them.
    assert NO_IDENTITY in messages("GP-STACK-001", CLUSTER, ASSOCIATED)[0]
    assert NO_IDENTITY in messages("GP-STACK-001", CLUSTER, AGENT)[0]
    other_addon = (ADDON, "cni", {"clusterName": "c", "addonName": "vpc-cni"})
    assert messages("GP-STACK-001", CLUSTER, other_addon, ASSOCIATED)


def _irsa(url_from_cluster: bool) -> list[str]:
    """The cluster plus an OIDC provider whose url does (or does not) come from it."""
    graph = graph_of(
        CLUSTER, (OIDC, "oidc", {"url": "https://token.actions.githubusercontent.com"})
    )
    eks, provider = graph.resources.values()
    if url_from_cluster:
        provider.inputs["url"] = "@unknown"  # the cluster's issuer, an output
        provider.property_dependencies["url"] = (eks.urn,)
    return [v.message for v in check(graph).violations if v.id == "GP-STACK-001"]


def test_eks_irsa_counts_only_an_oidc_provider_for_the_cluster_issuer() -> None:
    assert _irsa(url_from_cluster=True) == []
    # GitHub's OIDC provider (for CI roles) gives pods nothing.
    found = _irsa(url_from_cluster=False)
    assert found and "nor an IRSA OIDC provider for its issuer" in found[0]


def test_gke_needs_a_workload_pool_unless_autopilot() -> None:
    assert "no Workload Identity pool" in messages("GP-STACK-001", (GKE, {"name": "c"}))[0]
    pool = {"workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"}}
    assert messages("GP-STACK-001", (GKE, pool)) == []
    assert messages("GP-STACK-001", (GKE, {"enableAutopilot": True})) == []
    assert (
        "no Workload Identity pool"
        in messages("GP-STACK-001", (GKE, {"workloadIdentityConfig": None}))[0]
    )


def test_aks_needs_oidc_issuer_and_workload_identity() -> None:
    on = {
        "oidcIssuerProfile": {"enabled": True},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
    }
    assert messages("GP-STACK-001", (AKS, on)) == []
    off = {"oidcIssuerProfile": {"enabled": True}}
    assert "no OIDC issuer with workload identity" in messages("GP-STACK-001", (AKS, off))[0]


def test_an_unknown_value_in_a_stack_rule_is_an_advisory_note() -> None:
    # The agent's addonName unknown during preview: the whole stack rule cannot run.
    agent = (ADDON, "agent", {"clusterName": "c", "addonName": "@unknown"})
    graph = graph_of(CLUSTER, agent, ASSOCIATED)
    [finding] = [v for v in check(graph).violations if v.id == "GP-STACK-001"]
    assert finding.level == "advisory"
    assert finding.type == "pulumi:pulumi:Stack"
    assert "cannot be known during preview" in finding.message
    assert "addonName" in finding.message


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-STACK-001": ("aws-dev", remove_resources(ASSOCIATION, lambda r: True)),
}
