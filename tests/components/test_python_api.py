"""The components from Python, as another program uses them: snake_case TypedDict args,
Output values, and the rules each component applies (same rules as the config layer)."""

from typing import Any

import pulumi
import pytest

from gpuplane.components import ArgsError, ExistingCluster, ServingStack
from gpuplane.engine import run_program
from gpuplane.graph import ResourceGraph

MAP = "kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicy"


def plan(build: Any) -> ResourceGraph:
    return run_program(build, project="p", stack="s")


def serving_on(
    cluster_args: dict[str, Any], serving_args: dict[str, Any] | None = None
) -> ResourceGraph:
    def program() -> None:
        lab = ExistingCluster("lab", {"context": "kind-lab", **cluster_args})
        ServingStack("lab-serving", {"cluster": lab.spec, **(serving_args or {})})

    return plan(program)


def test_snake_case_args_and_output_values_reach_the_resources() -> None:
    def program() -> None:
        lab = ExistingCluster("lab", {"context": "kind-lab", "kubernetes_version": "1.36"})
        domain = pulumi.Output.from_input("ml").apply(lambda d: f"{d}.example.org")
        ServingStack(
            "lab-serving",
            {
                "cluster": lab.spec,
                "domain": domain,
                "acme_email": pulumi.Output.from_input("ops@example.org"),
                "knative": {"scale_down_delay": "4m", "request_timeout": "120s"},
            },
        )

    graph = plan(program)
    knative = next(r for r in graph if r.type.endswith(":KnativeServing"))
    config = knative.get("spec.config")
    assert config["domain"] == {"ml.example.org": ""}
    assert config["autoscaler"]["scale-down-delay"] == "4m"
    assert config["defaults"]["revision-timeout-seconds"] == "120"
    controller = next(r for r in graph if r.name == "lab-serving-kserve-controller")
    assert controller.get("values.kserve.controller.gateway.domain") == "ml.example.org"
    issuer = next(r for r in graph if r.name.endswith("cert-manager-acme"))
    assert issuer.get("spec.acme.email") == "ops@example.org"


@pytest.mark.parametrize(
    ("serving_args", "key", "fragment"),
    [
        ({"knative": {"request_timeout": "20m"}}, "knative.request_timeout", "at most 600s"),
        ({"knative": {"progress_deadline": "1m"}}, "knative.progress_deadline", "at least 10m"),
        ({"knative": {"scale_down_delay": "soon"}}, "knative.scale_down_delay", "a duration"),
        ({"acme_email": "ops@example.org"}, "acme_email", "needs domain"),
        ({"knative": {"scaleDownDelay": "5m"}}, "knative.scaleDownDelay", "unknown key"),
        ({"scale_down_delay": "5m"}, "scale_down_delay", "unknown key"),
        ({"min_replicas_policy": True}, "min_replicas_policy", "needs Kubernetes 1.36+"),
        (
            {"knative": {"installed_version": "1.21.3"}},
            "knative.installed_version",
            "skips a minor; the Knative Operator moves Serving one minor at a time: set "
            "knative.version: 1.22.1 and run `pulumi up`, then set installed_version: 1.22.1",
        ),
        ({"knative": {"installed_version": "1.22"}}, "knative.installed_version", "1.NN.P"),
        (
            {"monitoring": {"alerts": {"cold_start_budget": "40m"}}},
            "monitoring.alerts.cold_start_budget",
            "must be below knative.progress_deadline (30m)",
        ),
        (
            {"monitoring": {"alerts": {"not_ready": "later"}}},
            "monitoring.alerts.not_ready",
            "a duration",
        ),
    ],
)
def test_serving_stack_refuses_bad_args_naming_the_key(
    serving_args: dict[str, Any], key: str, fragment: str
) -> None:
    with pytest.raises(ArgsError) as caught:
        serving_on({"kubernetes_version": "1.35"}, serving_args)
    matching = [p for p in caught.value.problems if p.startswith(f"{key}:")]
    assert matching and fragment in matching[0], caught.value.problems


@pytest.mark.parametrize(
    ("pool", "key"),
    [
        ({"name": "l4"}, "gpu_pools[0].labels"),
        ({"name": "l4", "labels": {"gpu": "l4"}, "max_nodes": 3}, "gpu_pools[0].max_nodes"),
        ({"name": "l4", "labels": {"gpu": "l4"}, "nodeSelector": {}}, "gpu_pools[0].nodeSelector"),
    ],
)
def test_existing_cluster_refuses_bad_pools_naming_the_key(pool: dict, key: str) -> None:
    with pytest.raises(ArgsError) as caught:
        serving_on({"gpu_pools": [pool]})
    assert any(p.startswith(f"{key}:") for p in caught.value.problems), caught.value.problems


L4 = {"name": "l4", "labels": {"gpu": "l4"}}


@pytest.mark.parametrize(
    ("pools", "key", "fragment"),
    [
        ([L4, {**L4, "labels": {"gpu": "l4b"}}], "gpu_pools[1].name", "names must be unique"),
        ([{**L4, "name": "L4-pool"}], "gpu_pools[0].name", "lowercase"),
        ([{**L4, "labels": {"gpu/": "l4"}}], "gpu_pools[0].labels", "label key"),
    ],
)
def test_existing_cluster_applies_the_pool_rules_every_cluster_shares(
    pools: list[dict], key: str, fragment: str
) -> None:
    with pytest.raises(ArgsError) as caught:
        serving_on({"gpu_pools": pools})
    matching = [p for p in caught.value.problems if p.startswith(f"{key}:")]
    assert matching and fragment in matching[0], caught.value.problems


@pytest.mark.parametrize(("version", "policies"), [("1.36", 3), ("1.35", 0), (None, 0)])
def test_the_min_replicas_policy_follows_the_clusters_version(
    version: str | None, policies: int
) -> None:
    graph = serving_on({"kubernetes_version": version} if version else {})
    assert len(graph.by_type(MAP)) == policies


def test_the_models_namespace_moves_the_service_account_and_its_policies() -> None:
    graph = serving_on({"models_namespace": "ml", "models_service_account": "runner"})
    account = graph.named("lab-serving-kserve-models-sa")
    assert account.get("metadata.namespace") == "ml"
    assert account.get("metadata.name") == "runner"
    assert graph.named("lab-serving-kserve-models-ns").get("metadata.name") == "ml"
    for policy in graph.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        assert policy.get("metadata.namespace") == "ml"


def test_cluster_readiness_reaches_the_children_not_the_component() -> None:
    def program() -> None:
        lab = ExistingCluster("lab", {"context": "kind-lab"})
        gate = pulumi.CustomResource("test:index:Gate", "gate", {})
        ServingStack(
            "lab-serving", {"cluster": lab.spec}, opts=pulumi.ResourceOptions(depends_on=[gate])
        )

    graph = plan(program)
    gate = graph.named("gate")
    assert graph.named("lab-serving").dependencies == ()
    for name in ("lab-serving-istio-ns", "lab-serving-kserve-ns", "lab-serving-knative-ns"):
        assert gate.urn in graph.named(name).dependencies, name


def _eks_and_serving(**eks_args: Any) -> ResourceGraph:
    from gpuplane.components import EksCluster, EksClusterArgs

    def program() -> None:
        eks = EksCluster(
            "ml",
            EksClusterArgs(
                kubernetes_version="1.36",
                admin_role_arns=["arn:aws:iam::123456789012:role/admin"],
                public_access_cidrs=["203.0.113.0/24"],
                **eks_args,
            ),
        )
        ServingStack(
            "ml-serving",
            {"cluster": eks.cluster.spec},
            opts=pulumi.ResourceOptions(depends_on=list(eks.cluster.ready)),
        )

    return run_program(program, project="p", stack="s", config={"aws:region": "us-east-1"})


def test_an_eks_clusters_models_namespace_reaches_both_identity_and_service_account() -> None:
    graph = _eks_and_serving(models_namespace="ml")
    account = graph.named("ml-serving-kserve-models-sa")
    associations = graph.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    bound = {(a.inputs["namespace"], a.inputs["serviceAccount"]) for a in associations}
    assert (account.get("metadata.namespace"), account.get("metadata.name")) in bound
    assert account.get("metadata.namespace") == "ml"


def test_a_cluster_opens_the_serving_stacks_webhook_ports_by_default() -> None:
    from gpuplane.components.serving.ports import WEBHOOK_PORTS

    graph = _eks_and_serving()
    rules = graph.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    # Node-side rules that admit the control plane's security group.
    opened = {r.inputs["fromPort"] for r in rules if r.name.endswith("-from-api")}
    assert set(WEBHOOK_PORTS) <= opened


def test_the_serving_stack_refuses_a_cluster_whose_firewall_closes_its_webhooks() -> None:
    with pytest.raises(ArgsError) as caught:
        _eks_and_serving(control_plane_ports=[{"port": 15017, "description": "istiod only"}])
    (problem,) = [p for p in caught.value.problems if p.startswith("cluster.control_plane_ports:")]
    # Everything but istiod's port (and the kubelet's 10250, always open on EKS) is named.
    for port in ("8443", "9443"):
        assert port in problem
    assert "15017" not in problem and "10250" not in problem


def test_a_cluster_without_a_firewall_in_front_of_its_nodes_is_not_refused() -> None:
    graph = serving_on({})
    assert graph.named("lab-serving-kserve-models-sa") is not None
