"""Stack rules: the cluster gives workloads a cloud identity."""

from tests.policies.harness import Mutation, messages, remove_resources

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


def test_eks_needs_pod_identity_or_irsa() -> None:
    cluster = (EKS, "eks", {"name": "c"})
    assert "no Pod Identity association or IRSA" in messages("GP-STACK-001", cluster)[0]
    association = (ASSOCIATION, "pia", {"namespace": "models", "serviceAccount": "models"})
    assert messages("GP-STACK-001", cluster, association) == []


def test_gke_needs_a_workload_pool_unless_autopilot() -> None:
    assert "no Workload Identity pool" in messages("GP-STACK-001", (GKE, {"name": "c"}))[0]
    pool = {"workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"}}
    assert messages("GP-STACK-001", (GKE, pool)) == []
    assert messages("GP-STACK-001", (GKE, {"enableAutopilot": True})) == []


def test_aks_needs_oidc_issuer_and_workload_identity() -> None:
    on = {
        "oidcIssuerProfile": {"enabled": True},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
    }
    assert messages("GP-STACK-001", (AKS, on)) == []
    off = {"oidcIssuerProfile": {"enabled": True}}
    assert "no OIDC issuer with workload identity" in messages("GP-STACK-001", (AKS, off))[0]


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-STACK-001": ("aws-dev", remove_resources(ASSOCIATION, lambda r: True)),
}
