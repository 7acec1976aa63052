"""GkeCluster from Python, as another program uses it: snake_case TypedDict args, Output
values, enums as members or strings, cloud-neutral GPU pool specs, and the rules it
applies (the same functions the YAML config layer runs)."""

from typing import Any

import pulumi
import pytest

from gpuplane.components import ArgsError, GkeCluster, ServingStack
from gpuplane.components.clusters.gcp import GkeMode, GkeReleaseChannel
from gpuplane.engine import run_program
from gpuplane.graph import Resource, ResourceGraph

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BASE: dict[str, Any] = {
    "project": "acme-ml",
    "region": "europe-west4",
    "kubernetes_version": "1.35",
    "authorized_cidrs": ["203.0.113.0/24"],
}


def plan(**args: Any) -> ResourceGraph:
    """Plan a GkeCluster; a callable value is called inside the program (Outputs need its
    event loop)."""

    def program() -> None:
        given = {k: v() if callable(v) else v for k, v in args.items()}
        GkeCluster("ml", {**BASE, **given})  # type: ignore[typeddict-item]

    return run_program(program, project="p", stack="s")


def gpu_pool(graph: ResourceGraph, name: str) -> Resource:
    return graph.named(f"ml-gpu-{name}")


def test_output_values_reach_their_resources() -> None:
    graph = plan(
        labels=lambda: {"team": pulumi.Output.from_input("search")},
        authorized_cidrs=lambda: [pulumi.Output.from_input("198.51.100.0/24")],
    )
    cluster = graph.named("ml-gke")
    blocks = cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert [b["cidrBlock"] for b in blocks] == ["198.51.100.0/24"]
    assert cluster.inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    for resource in (cluster, graph.named("ml-models"), graph.named("ml-secrets")):
        labels = resource.inputs.get("resourceLabels") or resource.inputs["labels"]
        assert labels["team"] == "search", resource.name


def test_no_authorized_cidrs_make_the_endpoint_private() -> None:
    cluster = plan(authorized_cidrs=[]).named("ml-gke")
    assert cluster.inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True


@pytest.mark.parametrize("mode", [GkeMode.AUTOPILOT, "autopilot"])
def test_mode_as_enum_member_or_string(mode: Any) -> None:
    graph = plan(mode=mode, gpu_pools=[{"name": "l4", "instance_types": ["g2-standard-8"]}])
    assert graph.named("ml-gke").inputs["enableAutopilot"] is True
    assert not graph.by_type(NODE_POOL)


@pytest.mark.parametrize("channel", [GkeReleaseChannel.STABLE, "STABLE"])
def test_release_channel_as_enum_member_or_string(channel: Any) -> None:
    cluster = plan(release_channel=channel).named("ml-gke")
    assert cluster.inputs["releaseChannel"] == {"channel": "STABLE"}


def test_a_gpu_pool_spec_becomes_a_node_pool() -> None:
    graph = plan(
        gpu_pools=[
            {
                "name": "l4",
                "instance_types": ["g2-standard-24"],
                "min_nodes": 1,
                "max_nodes": 4,
                "spot": True,
                "labels": {"team": "search"},
                "sharing": "time-slicing",
                "sharing_replicas": 3,
            },
            {"name": "t4", "instance_types": ["n1-standard-8"], "accelerator": "nvidia-tesla-t4"},
        ]
    )
    l4 = gpu_pool(graph, "l4")
    assert l4.inputs["name"] == "gpu-l4"
    assert l4.inputs["autoscaling"]["totalMinNodeCount"] == 1
    assert l4.inputs["autoscaling"]["totalMaxNodeCount"] == 4
    assert l4.inputs["initialNodeCount"] == 1
    config = l4.inputs["nodeConfig"]
    assert config["machineType"] == "g2-standard-24"
    assert config["spot"] is True
    assert config["labels"] == {"team": "search", "gpuplane.dev/pool": "l4"}
    [accelerator] = config["guestAccelerators"]
    # g2-standard-24 carries two L4s: the machine type implies the GPU.
    assert (accelerator["type"], accelerator["count"]) == ("nvidia-l4", 2)
    assert accelerator["gpuSharingConfig"] == {
        "gpuSharingStrategy": "TIME_SHARING",
        "maxSharedClientsPerGpu": 3,
    }
    t4 = gpu_pool(graph, "t4").inputs["nodeConfig"]
    [attached] = t4["guestAccelerators"]
    assert (attached["type"], attached["count"]) == ("nvidia-tesla-t4", 1)
    assert "gpuSharingConfig" not in attached
    assert t4["spot"] is False


def test_the_contract_carries_the_pools_and_the_models_identity() -> None:
    def program() -> None:
        gke = GkeCluster(
            "ml",
            {
                **BASE,  # type: ignore[typeddict-item]
                "models_namespace": "ml",
                "models_service_account": "runner",
                "gpu_pools": [{"name": "l4", "instance_types": ["g2-standard-8"]}],
            },
        )
        ServingStack("ml-serving", {"cluster": gke.spec})

    graph = run_program(program, project="p", stack="s")
    binding = graph.named("ml-models-workload-identity")
    assert binding.inputs["member"] == "serviceAccount:acme-ml.svc.id.goog[ml/runner]"
    account = graph.named("ml-serving-kserve-models-sa")
    assert (account.get("metadata.namespace"), account.get("metadata.name")) == ("ml", "runner")
    runtime = next(r for r in graph if r.type.endswith(":ClusterServingRuntime"))
    assert "gpu-l4" in str(runtime.get("spec.affinity"))


def test_settings_reach_the_cluster_and_its_pools() -> None:
    graph = plan(
        regional=True,
        system_machine_type="e2-standard-8",
        system_min_nodes=1,
        system_max_nodes=5,
        subnet_cidr="10.50.0.0/20",
        master_cidr="172.16.8.0/28",
        protect=True,
        node_auto_provisioning=True,
        gpu_pools=[{"name": "l4", "instance_types": ["g2-standard-8"], "max_nodes": 3}],
        control_plane_ports=[{"port": 6443, "description": "an aggregated API"}],
    )
    cluster = graph.named("ml-gke")
    assert cluster.inputs["location"] == "europe-west4"  # regional: the region itself
    assert cluster.inputs["minMasterVersion"] == "1.35"
    assert cluster.inputs["deletionProtection"] is True and cluster.protect
    assert cluster.inputs["privateClusterConfig"]["masterIpv4CidrBlock"] == "172.16.8.0/28"
    limits = cluster.inputs["clusterAutoscaling"]["resourceLimits"]
    assert {"resourceType": "nvidia-l4", "minimum": 0, "maximum": 3} in limits
    system = graph.named("ml-system")
    assert system.inputs["nodeConfig"]["machineType"] == "e2-standard-8"
    assert system.inputs["autoscaling"] == {"totalMinNodeCount": 1, "totalMaxNodeCount": 5}
    [subnet] = graph.by_type("gcp:compute/subnetwork:Subnetwork")
    assert subnet.inputs["ipCidrRange"] == "10.50.0.0/20"
    firewall = graph.named("ml-webhooks")
    assert firewall.inputs["allows"][0]["ports"] == ["6443"]
    assert firewall.inputs["sourceRanges"] == ["172.16.8.0/28"]
    assert graph.named("ml-models").protect


@pytest.mark.parametrize(
    ("args", "key", "fragment"),
    [
        ({"authorizedCidrs": []}, "authorizedCidrs", "unknown key"),
        (
            {"gpu_pools": [{"name": "l4", "machine_type": "x"}]},
            "gpu_pools[0].machine_type",
            "unknown key",
        ),
        ({"mode": "serverless"}, "mode", "allowed: standard, autopilot"),
        ({"authorized_cidrs": ["0.0.0.0/0"]}, "authorized_cidrs", "whole internet"),
        (
            {"gpu_pools": [{"name": "t4", "instance_types": ["n1-standard-8"]}]},
            "gpu_pools[0].accelerator",
            "required for n1-standard-8",
        ),
        (
            {"gpu_pools": [{"name": "l4", "instance_types": ["g2-standard-8", "g2-standard-12"]}]},
            "gpu_pools[0].instance_types",
            "exactly one machine type",
        ),
        ({"gpu_pools": [{"name": "l4"}]}, "gpu_pools[0].instance_types", "required"),
        (
            {"gpu_pools": [{"name": "l4", "instance_types": ["g2-standard-8"], "min_nodes": 2}]},
            "gpu_pools[0].min_nodes",
            "must be <= max_nodes",
        ),
        ({"system_min_nodes": 4}, "system_min_nodes", "must be <= system_max_nodes"),
        ({"system_max_nodes": 0}, "system_max_nodes", "from 1 to 100"),
        ({"release_channel": "regular"}, "release_channel", "allowed: RAPID"),
        ({"pods_cidr": "10.8.0.0/14"}, "pods_cidr", "overlaps subnet_cidr"),
        # A given range that overlaps a default one is named, not the default.
        ({"subnet_cidr": "10.16.0.0/20"}, "subnet_cidr", "overlaps pods_cidr 10.16.0.0/14"),
        ({"master_cidr": "172.16.0.0/24"}, "master_cidr", "from /28 to /28"),
        ({"services_cidr": "8.8.8.0/24"}, "services_cidr", "private IPv4"),
        (
            {"mode": "autopilot", "system_min_nodes": 1},
            "system_min_nodes",
            "no effect in Autopilot",
        ),
        (
            {"mode": "autopilot", "node_auto_provisioning": True},
            "node_auto_provisioning",
            "only with mode standard",
        ),
        (
            {
                "mode": "autopilot",
                "gpu_pools": [{"name": "l4", "instance_types": ["g2-standard-8"], "min_nodes": 1}],
            },
            "gpu_pools[0].min_nodes",
            "only 0 is allowed",
        ),
    ],
)
def test_bad_args_are_refused_naming_the_key(args: dict, key: str, fragment: str) -> None:
    with pytest.raises(ArgsError) as caught:
        plan(**args)
    matching = [p for p in caught.value.problems if p.startswith(f"{key}:")]
    assert matching and fragment in matching[0], caught.value.problems


def test_required_keys_are_named() -> None:
    with pytest.raises(ArgsError) as caught:
        run_program(lambda: GkeCluster("ml", {"project": "acme-ml"}), project="p", stack="s")  # type: ignore[typeddict-item]
    assert {p.split(":")[0] for p in caught.value.problems} == {"region", "kubernetes_version"}
