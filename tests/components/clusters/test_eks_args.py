"""EksCluster from Python: snake_case TypedDict args, Output values, enums given as
member or string, each field followed into the resource it must reach, and the
rules EksCluster applies (the same functions the YAML config layer reuses)."""

from typing import Any

import pulumi
import pytest

from gpuplane.components import ArgsError, EksCluster, EksClusterArgs
from gpuplane.components.clusters.aws import EksComputeMode, EksGpuNodeImage
from gpuplane.components.clusters.contract import GpuSharing
from gpuplane.engine import run_program
from gpuplane.graph import Resource, ResourceGraph

ADMIN = "arn:aws:iam::123456789012:role/admin"
REQUIRED: dict[str, Any] = {"kubernetes_version": "1.36", "admin_role_arns": [ADMIN]}
CLUSTER = "aws:eks/cluster:Cluster"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def eks(**args: Any) -> ResourceGraph:
    def program() -> None:
        EksCluster("ml", EksClusterArgs(**{**REQUIRED, **args}))  # type: ignore[typeddict-item]

    return run_program(program, project="p", stack="s", config={"aws:region": "us-east-1"})


def refused(**args: Any) -> list[str]:
    with pytest.raises(ArgsError) as caught:
        eks(**args)
    assert "invalid EksCluster args" in str(caught.value)
    return caught.value.problems


def one(graph: ResourceGraph, type_: str) -> Resource:
    (found,) = graph.by_type(type_)
    return found


# Every field set away from its default, in Karpenter mode (Auto Mode below).
KARPENTER_ARGS: dict[str, Any] = {
    "kubernetes_version": "1.35",
    "admin_role_arns": [ADMIN, "arn:aws:iam::123456789012:role/ops"],
    "public_access_cidrs": ["198.51.100.0/24"],
    "private_access": False,
    "compute_mode": "karpenter",
    "vpc_cidr": "10.8.0.0/17",
    "zone_count": 3,
    "nat_per_zone": True,
    "system_instance_type": "m6i.xlarge",
    "system_min_nodes": 3,
    "system_max_nodes": 5,
    "gpu_pools": [
        {
            "name": "l4",
            "instance_types": ["g6.xlarge", "g6.12xlarge"],
            "max_nodes": 4,
            "spot": True,
            "labels": {"team": "search"},
            "sharing": "time-slicing",
            "sharing_replicas": 4,
        }
    ],
    "gpu_node_image": "bottlerocket",
    "gpu_node_image_version": "v1.44.0",
    "gpu_volume_gib": 300,
    "consolidate_after": "7m",
    "fast_image_pull": False,
    "image_cache_snapshot_id": "snap-0123456789abcdef0",
    "models_namespace": "ml",
    "models_service_account": "runner",
    "protect": True,
    "log_retention_days": 14,
    "tags": {"team": "search"},
    "control_plane_ports": [{"port": 9443, "description": "a webhook"}],
}


@pytest.fixture(scope="module")
def karpenter() -> ResourceGraph:
    return eks(**KARPENTER_ARGS)


def _reaches(graph: ResourceGraph) -> dict[str, Any]:
    """Where each field must show up: field -> what the graph holds there."""
    cluster = one(graph, CLUSTER)
    node_group = one(graph, "aws:eks/nodeGroup:NodeGroup")
    [pool] = graph.by_type(NODE_POOL)
    [node_class] = graph.by_type(NODE_CLASS)
    subnets = graph.by_type("aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "private" in s.name]
    opened = {
        r.inputs["fromPort"]: r.inputs["description"]
        for r in graph.by_type(INGRESS_RULE)
        if r.name.endswith("-from-api")
    }
    identities = graph.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    data_volume = node_class.get("spec.blockDeviceMappings")[-1]["ebs"]
    return {
        "kubernetes_version": cluster.inputs["version"],
        "admin_role_arns": sorted(
            e.inputs["principalArn"]
            for e in graph.by_type("aws:eks/accessEntry:AccessEntry")
            if e.name.startswith("ml-admin-")
        ),
        "public_access_cidrs": cluster.get("vpcConfig.publicAccessCidrs"),
        "private_access": cluster.get("vpcConfig.endpointPrivateAccess"),
        "compute_mode": "auto" if cluster.get("computeConfig.enabled") else "karpenter",
        "vpc_cidr": one(graph, "aws:ec2/vpc:Vpc").inputs["cidrBlock"],
        "zone_count": len(private),
        "nat_per_zone": len(graph.by_type("aws:ec2/natGateway:NatGateway")) == len(private),
        "system_instance_type": node_group.inputs["instanceTypes"],
        "system_min_nodes": node_group.get("scalingConfig.minSize"),
        "system_max_nodes": node_group.get("scalingConfig.maxSize"),
        "gpu_pools": (
            pool.get("spec.template.metadata.labels.team"),
            pool.get("spec.limits.nodes"),
            # g6.12xlarge carries 4 L4s: the pool's GPU limit is 4 nodes x 4.
            pool.get("spec.limits")["nvidia.com/gpu"],
            pool.get("spec.template.spec.requirements")[0]["values"],
            pool.get("spec.template.spec.requirements")[1]["values"],
            'device-sharing-strategy = "time-slicing"' in node_class.get("spec.userData"),
            "replicas = 4" in node_class.get("spec.userData"),
        ),
        "gpu_node_image": node_class.get("spec.amiSelectorTerms")[0]["alias"].split("@")[0],
        "gpu_node_image_version": node_class.get("spec.amiSelectorTerms")[0]["alias"],
        "gpu_volume_gib": data_volume["volumeSize"],
        "consolidate_after": pool.get("spec.disruption.consolidateAfter"),
        "fast_image_pull": "soci" in node_class.get("spec.userData"),
        "image_cache_snapshot_id": data_volume.get("snapshotID"),
        "models_namespace": {i.inputs["namespace"] for i in identities if "models" in i.name},
        "models_service_account": {
            i.inputs["serviceAccount"] for i in identities if "models" in i.name
        },
        "protect": (cluster.protect, cluster.inputs["deletionProtection"]),
        "log_retention_days": one(graph, "aws:cloudwatch/logGroup:LogGroup").inputs[
            "retentionInDays"
        ],
        "tags": cluster.inputs["tags"].get("team"),
        "control_plane_ports": opened.get(9443),
    }


EXPECTED = {
    "kubernetes_version": "1.35",
    "admin_role_arns": sorted(KARPENTER_ARGS["admin_role_arns"]),
    "public_access_cidrs": ["198.51.100.0/24"],
    "private_access": False,
    "compute_mode": "karpenter",
    "vpc_cidr": "10.8.0.0/17",
    "zone_count": 3,
    "nat_per_zone": True,
    "system_instance_type": ["m6i.xlarge"],
    "system_min_nodes": 3,
    "system_max_nodes": 5,
    "gpu_pools": ("search", 4, 16, ["g6.xlarge", "g6.12xlarge"], ["spot"], True, True),
    "gpu_node_image": "bottlerocket",
    "gpu_node_image_version": "bottlerocket@v1.44.0",
    "gpu_volume_gib": "300Gi",
    "consolidate_after": "7m",
    "fast_image_pull": False,
    "image_cache_snapshot_id": "snap-0123456789abcdef0",
    "models_namespace": {"ml"},
    "models_service_account": {"runner", "default"},
    "protect": (True, True),
    "log_retention_days": 14,
    "tags": "search",
    "control_plane_ports": "Control plane to a webhook",
}


def test_the_table_covers_every_field() -> None:
    assert set(EXPECTED) == set(EksClusterArgs.__annotations__) == set(KARPENTER_ARGS)


@pytest.mark.parametrize("field", sorted(EXPECTED))
def test_each_field_reaches_its_resource(karpenter: ResourceGraph, field: str) -> None:
    assert _reaches(karpenter)[field] == EXPECTED[field]


def test_defaults_are_the_secure_cheap_ones() -> None:
    graph = eks()
    cluster = one(graph, CLUSTER)
    assert cluster.get("vpcConfig.endpointPublicAccess") is False
    assert cluster.get("vpcConfig.endpointPrivateAccess") is True
    assert len(graph.by_type("aws:ec2/natGateway:NatGateway")) == 1
    assert one(graph, "aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 30
    assert not cluster.protect and cluster.inputs["deletionProtection"] is False
    assert not graph.by_type(NODE_POOL)


def test_output_values_reach_their_resources() -> None:
    def program() -> None:
        role = pulumi.Output.from_input("arn:aws:iam::123456789012:role/late")
        EksCluster(
            "ml",
            {
                "kubernetes_version": "1.36",
                "admin_role_arns": [role],
                "public_access_cidrs": [pulumi.Output.from_input("198.51.100.7/32")],
                "log_retention_days": pulumi.Output.from_input(60),
                "tags": {"cost-center": pulumi.Output.from_input("ml-7")},
            },
        )

    graph = run_program(program, project="p", stack="s", config={"aws:region": "us-east-1"})
    cluster = one(graph, CLUSTER)
    assert one(graph, "aws:eks/accessEntry:AccessEntry").inputs["principalArn"].endswith("/late")
    assert cluster.get("vpcConfig.publicAccessCidrs") == ["198.51.100.7/32"]
    assert one(graph, "aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 60
    assert cluster.inputs["tags"]["cost-center"] == "ml-7"


def test_enums_are_taken_as_member_or_string() -> None:
    pools = [{"name": "l4", "instance_types": ["g6.xlarge"]}]
    by_member = eks(compute_mode=EksComputeMode.AUTO, gpu_pools=pools)
    by_string = eks(compute_mode="auto", gpu_pools=pools)
    assert by_member.dumps() == by_string.dumps()
    assert one(by_member, CLUSTER).get("computeConfig.enabled") is True
    assert by_member.by_type("kubernetes:eks.amazonaws.com/v1:NodeClass")
    image = eks(gpu_node_image=EksGpuNodeImage.BOTTLEROCKET, gpu_pools=pools)
    alias = one(image, NODE_CLASS).get("spec.amiSelectorTerms")[0]["alias"]
    assert alias == "bottlerocket@latest"
    sharing = {**pools[0], "sharing": GpuSharing.TIME_SLICING, "sharing_replicas": 2}
    assert (
        eks(gpu_pools=[sharing]).dumps()
        == eks(gpu_pools=[{**sharing, "sharing": "time-slicing"}]).dumps()
    )


def test_the_component_exposes_the_contract_and_its_outputs() -> None:
    made: dict[str, Any] = {}

    def program() -> None:
        made["eks"] = EksCluster("ml", EksClusterArgs(**REQUIRED))  # type: ignore[typeddict-item]

    run_program(program, project="p", stack="s", config={"aws:region": "us-east-1"})
    component = made["eks"]
    assert component.spec["provider"] is component.provider is component.cluster.provider
    assert component.spec["cloud"] == "aws"
    assert component.spec["models_namespace"] == "models"


@pytest.mark.parametrize(
    ("args", "key", "says"),
    [
        ({"clusterName": "x"}, "clusterName: unknown key", "allowed: admin_role_arns"),
        ({"kubernetes_version": "1.29"}, "kubernetes_version:", "allowed on aws: 1.33"),
        ({"admin_role_arns": []}, "admin_role_arns:", "required"),
        ({"admin_role_arns": ["admin"]}, "admin_role_arns[0]:", "not an IAM role ARN"),
        ({"public_access_cidrs": ["0.0.0.0/0"]}, "public_access_cidrs:", "whole internet"),
        ({"private_access": False}, "private_access:", "nothing could reach"),
        ({"vpc_cidr": "8.8.0.0/16"}, "vpc_cidr:", "private IPv4 block"),
        ({"zone_count": 9}, "zone_count:", "from 2 to 6"),
        ({"compute_mode": "fargate"}, "compute_mode:", "allowed: karpenter, auto"),
        ({"gpu_node_image": "ubuntu"}, "gpu_node_image:", "allowed: al2023, bottlerocket"),
        ({"gpu_node_image_version": "new"}, "gpu_node_image_version:", "v20260724"),
        ({"gpu_volume_gib": 10}, "gpu_volume_gib:", "from 50 to 16384"),
        ({"consolidate_after": "soon"}, "consolidate_after:", "duration"),
        ({"image_cache_snapshot_id": "snap-x"}, "image_cache_snapshot_id:", "snapshot id"),
        ({"system_min_nodes": 4}, "system_min_nodes:", "must be <= system_max_nodes"),
        ({"system_instance_type": "m6z.huge"}, "system_instance_type:", "m6z.huge"),
        (
            {"control_plane_ports": [{"port": 70000, "description": "x"}]},
            "control_plane_ports[0].port:",
            "1-65535",
        ),
        (
            {"compute_mode": "auto", "gpu_node_image": "al2023"},
            "gpu_node_image:",
            "only with compute_mode karpenter",
        ),
        (
            {"image_cache_snapshot_id": "snap-0123456789abcdef0"},
            "image_cache_snapshot_id:",
            "needs gpu_node_image bottlerocket",
        ),
    ],
)
def test_each_rule_refuses_with_the_python_key(args: dict, key: str, says: str) -> None:
    problems = refused(**args)
    assert any(p.startswith(key) and says in p for p in problems), problems


POOL = {"name": "l4", "instance_types": ["g6.xlarge"]}


@pytest.mark.parametrize(
    ("pool", "key", "says"),
    [
        ({"name": "L4!"}, "gpu_pools[0].name:", "1-12 lowercase letters"),
        ({"instance_types": []}, "gpu_pools[0].instance_types:", "at least one"),
        ({"instance_types": ["m6i.large"]}, "gpu_pools[0].instance_types[0]:", "no NVIDIA GPU"),
        ({"accelerator": "nvidia-a10g"}, "gpu_pools[0].accelerator:", "carries nvidia-l4"),
        ({"accelerator_count": 2}, "gpu_pools[0].accelerator_count:", "carries 1 GPU"),
        ({"min_nodes": 1}, "gpu_pools[0].min_nodes:", "provisioned for pending pods"),
        ({"min_nodes": 3, "max_nodes": 2}, "gpu_pools[0].min_nodes:", "must be <= max_nodes"),
        ({"sharing": "mps"}, "gpu_pools[0].sharing_replicas:", "required when sharing is mps"),
        ({"sharing": "mig"}, "gpu_pools[0].sharing:", "allowed: none, time-slicing, mps"),
        ({"sharing_replicas": 2}, "gpu_pools[0].sharing_replicas:", "only with sharing"),
        ({"labels": {"karpenter.sh/x": "y"}}, "gpu_pools[0].labels:", "reserved domain"),
        ({"labels": {"team": "a b"}}, "gpu_pools[0].labels:", "not a valid label value"),
        ({"gpuCount": 1}, "gpu_pools[0].gpuCount: unknown key", "allowed: accelerator"),
    ],
)
def test_each_pool_rule_refuses_with_the_python_key(pool: dict, key: str, says: str) -> None:
    problems = refused(gpu_pools=[{**POOL, **pool}])
    assert any(p.startswith(key) and says in p for p in problems), problems


def test_pool_names_are_unique_and_auto_mode_refuses_sharing() -> None:
    problems = refused(gpu_pools=[POOL, POOL])
    assert any(p.startswith("gpu_pools[1].name:") and "unique" in p for p in problems)
    shared = {**POOL, "sharing": "time-slicing", "sharing_replicas": 2}
    problems = refused(compute_mode="auto", gpu_pools=[shared])
    assert any(p.startswith("gpu_pools[0].sharing:") and "Auto Mode" in p for p in problems)
