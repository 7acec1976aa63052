"""Cost arithmetic on small hand-built graphs, checked by hand against the price table."""

import json

import pytest

from gpuplane.components import gpus
from gpuplane.cost import HOURS_PER_MONTH, cost, price_table
from gpuplane.graph import Resource, ResourceGraph


def graph(cloud: str, region: str, *resources: tuple[str, str, dict]) -> ResourceGraph:
    g = ResourceGraph(project="gpuplane", stack="t", outputs={"cloud": cloud, "region": region})
    for resource_type, name, inputs in resources:
        urn = f"urn:pulumi:t::gpuplane::{resource_type}::{name}"
        g.resources[urn] = Resource(
            urn=urn, type=resource_type, name=name, custom=True, inputs=inputs
        )
    return g


NODE_GROUP = {
    "instanceTypes": ["m6i.large"],
    "capacityType": "ON_DEMAND",
    "scalingConfig": {"minSize": 2, "desiredSize": 2, "maxSize": 3},
}
GPU_POOL = {
    "metadata": {"name": "gpu-l4"},
    "spec": {
        "limits": {"nodes": 2},
        "template": {
            "spec": {
                "requirements": [
                    {
                        "key": "node.kubernetes.io/instance-type",
                        "operator": "In",
                        "values": ["g6.xlarge", "g6.2xlarge"],
                    },
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
                ]
            }
        },
    },
}


def test_eks_idle_and_peak_by_hand() -> None:
    report = cost(
        graph(
            "aws",
            "us-east-1",
            ("aws:eks/cluster:Cluster", "eks", {}),
            ("aws:ec2/natGateway:NatGateway", "nat", {}),
            ("aws:eks/nodeGroup:NodeGroup", "system", NODE_GROUP),
            ("kubernetes:karpenter.sh/v1:NodePool", "gpu", GPU_POOL),
        )
    )
    # EKS 0.10 + NAT 0.045 + 2 x m6i.large 0.096 idle; 3 system nodes and 2 x the
    # dearest allowed GPU type (g6.2xlarge 0.9776, spot unknown: on-demand) at peak.
    assert report.idle_hourly == pytest.approx(0.10 + 0.045 + 2 * 0.096)
    assert report.peak_hourly == pytest.approx(0.10 + 0.045 + 3 * 0.096 + 2 * 0.9776)
    data = report.to_json()
    assert data["currency"] == "USD"
    assert data["idle_monthly"] == pytest.approx(round((0.10 + 0.045 + 0.192) * HOURS_PER_MONTH, 2))
    assert data["price_table"]["date"] == price_table("aws")["date"]
    assert data["price_table"]["source"].startswith("aws/karpenter-provider-aws")
    gpu = next(i for i in report.items if i.name == "gpu")
    assert gpu.idle_hourly == 0 and "upper bound" in gpu.note
    assert report.unpriced == []


def test_unknown_machine_and_region_are_unpriced_not_guessed() -> None:
    odd = {**NODE_GROUP, "instanceTypes": ["m99.large"]}
    report = cost(graph("aws", "us-east-1", ("aws:eks/nodeGroup:NodeGroup", "odd", odd)))
    assert report.items == []
    [entry] = report.unpriced
    assert "m99.large has no price for us-east-1" in entry.reason
    elsewhere = cost(
        graph(
            "aws",
            "eu-north-1",
            ("aws:eks/nodeGroup:NodeGroup", "sys", NODE_GROUP),
            ("aws:ec2/natGateway:NatGateway", "nat", {}),
            ("aws:eks/cluster:Cluster", "eks", {}),
        )
    )
    # The table's service fees are us-east-1's: nothing is priced in another region.
    assert elsewhere.items == []
    [entry] = elsewhere.unpriced
    assert "region eu-north-1: the aws price table covers only us-east-1" in entry.reason


def test_graphs_without_cloud_and_region_outputs_are_still_priced(stack_graphs: dict) -> None:
    # Graphs planned before the stacks exported cloud and region (e.g. a diff's base).
    current = stack_graphs["azure-dev"]
    older = ResourceGraph(
        project=current.project, stack=current.stack, resources=dict(current.resources), outputs={}
    )
    assert cost(older).to_json()["idle_hourly"] == cost(current).to_json()["idle_hourly"] > 0


def test_gke_spot_pool_uses_the_spot_price() -> None:
    table = price_table("gcp")["regions"]["us-central1"]["instances"]["g2-standard-4"]
    pool = {
        "name": "gpu-l4",
        "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 2},
        "nodeConfig": {"machineType": "g2-standard-4", "spot": True},
    }
    report = cost(graph("gcp", "us-central1", ("gcp:container/nodePool:NodePool", "l4", pool)))
    [item] = report.items
    assert item.idle_hourly == 0
    assert item.peak_hourly == pytest.approx(2 * table["spot"])
    assert item.note == "spot"


def test_aks_tiers_and_pools() -> None:
    cluster = {
        "sku": {"name": "Base", "tier": "Standard"},
        "agentPoolProfiles": [{"name": "system", "vmSize": "Standard_D2s_v5", "count": 3}],
    }
    pool = {
        "agentPoolName": "t4",
        "vmSize": "Standard_NC4as_T4_v3",
        "enableAutoScaling": True,
        "minCount": 0,
        "maxCount": 2,
        "count": 0,
    }
    report = cost(
        graph(
            "azure",
            "eastus",
            ("azure-native:containerservice:ManagedCluster", "aks", cluster),
            ("azure-native:containerservice:AgentPool", "t4", pool),
        )
    )
    prices = price_table("azure")["regions"]["eastus"]["instances"]
    d2 = prices["Standard_D2s_v5"]["on_demand"]
    t4 = prices["Standard_NC4as_T4_v3"]["on_demand"]
    # Standard tier, three system nodes and the outbound IP of AKS's load balancer
    # (outboundType defaults to loadBalancer) idle; two T4 nodes more at peak.
    ip = price_table("azure")["services"]["public_ip_standard_static"]["hourly"]
    assert report.idle_hourly == pytest.approx(0.10 + 3 * d2 + ip)
    assert report.peak_hourly == pytest.approx(0.10 + 3 * d2 + ip + 2 * t4)
    disks = [u.reason for u in report.unpriced]
    assert "node pool t4: OS disks (managed disk tiers are not in the table)" in disks


def test_existing_clusters_cost_nothing_here(local_graph: ResourceGraph) -> None:
    report = cost(local_graph)
    assert report.idle_hourly == report.peak_hourly == 0
    assert "not created by gpuplane" in report.price_table["source"]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_price_tables_carry_date_and_source(cloud: str) -> None:
    table = price_table(cloud)
    assert table["currency"] == "USD" and table["date"] and table["source"]
    for service in table["services"].values():
        assert service["source"] and service["date"]
    for region in table["regions"].values():
        for prices in region["instances"].values():
            assert prices["on_demand"] > 0


@pytest.mark.parametrize(
    # Under $330 a month with no model running (gcp-dev includes the GKE fee its free-tier
    # credit covers).
    ("stack", "idle_below"),
    [("aws-dev", 0.45), ("gcp-dev", 0.45), ("azure-dev", 0.45)],
)
def test_dev_stacks_are_cheap_at_idle(stack_graphs: dict, stack: str, idle_below: float) -> None:
    report = cost(stack_graphs[stack])
    assert 0 < report.idle_hourly < idle_below
    # GPUs cost nothing idle: every GPU pool starts from zero.
    machines = [i.what.rsplit(" x ", 1)[-1] for i in report.items if " x " in i.what]
    gpu_items = [
        i
        for i, machine in zip([i for i in report.items if " x " in i.what], machines, strict=True)
        if gpus.implied_gpu(report.cloud, machine) is not None
    ]
    assert gpu_items
    assert all(i.idle_hourly == 0 and i.peak_hourly > 0 for i in gpu_items)
    assert report.peak_hourly > report.idle_hourly


def test_cli_cost_json(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from typer.testing import CliRunner

    from gpuplane.cli import app

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = CliRunner().invoke(app, ["cost", "--stack", "aws-dev", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {
        "currency",
        "idle_hourly",
        "peak_hourly",
        "idle_monthly",
        "peak_monthly",
        "price_table",
        "items",
        "unpriced",
    }
    assert data["idle_monthly"] == pytest.approx(data["idle_hourly"] * HOURS_PER_MONTH, abs=0.05)


def test_a_resource_type_with_no_price_rule_is_listed_not_counted_as_free(
    stack_graphs: dict[str, ResourceGraph],
) -> None:
    from gpuplane.cost import NO_IDLE_FEE, PRICED

    assert not PRICED & NO_IDLE_FEE
    base = stack_graphs["aws-dev"]
    assert not [u for u in cost(base).unpriced if "no price rule" in u.reason]
    endpoint = Resource(
        urn="urn:pulumi:aws-dev::gpuplane::aws:sagemaker/endpoint:Endpoint::inference",
        type="aws:sagemaker/endpoint:Endpoint",
        name="inference",
        custom=True,
    )
    extended = ResourceGraph(
        project=base.project,
        stack=base.stack,
        resources={**base.resources, endpoint.urn: endpoint},
        outputs=base.outputs,
    )
    listed = [u for u in cost(extended).unpriced if u.type == endpoint.type]
    assert [u.name for u in listed] == ["inference"]
    assert cost(extended).idle_hourly == cost(base).idle_hourly
    # A graph of nothing but unknown types is no cloud's: still listed, never "$0, fine".
    alone = ResourceGraph(project="p", stack="s", resources={endpoint.urn: endpoint})
    assert endpoint.type in [u.type for u in cost(alone).unpriced]
