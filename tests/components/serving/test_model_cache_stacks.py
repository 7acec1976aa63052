"""The cache on the shipped stacks: planned where it is on, and possible on every one."""

import copy
import json
from typing import Any

import pytest

from gpuplane.components.serving.cache_settings import HOST_PATHS, NODE_LABEL
from gpuplane.graph import ResourceGraph
from tests.helpers import stack_file_config

DEV_GPU_STACKS = {"aws-dev": "al2023", "gcp-dev": "cos", "azure-dev": "ubuntu"}


@pytest.mark.parametrize(("stack", "node_os"), sorted(DEV_GPU_STACKS.items()))
def test_the_dev_gpu_stacks_cache_the_sample_on_local_disk(
    stack: str, node_os: str, stack_graphs: dict[str, ResourceGraph]
) -> None:
    graph = stack_graphs[stack]
    [group] = [r for r in graph if r.type.endswith(":LocalModelNodeGroup")]
    assert group.inputs["spec"]["persistentVolumeSpec"]["local"]["path"] == HOST_PATHS[node_os]
    [cache] = [r for r in graph if r.type.endswith(":LocalModelCache")]
    assert cache.inputs["metadata"]["name"] == "qwen-chat"
    assert cache.inputs["spec"]["nodeGroups"] == [group.inputs["metadata"]["name"]]


def test_prod_and_local_stacks_leave_it_off(stack_graphs: dict[str, ResourceGraph]) -> None:
    for name, graph in stack_graphs.items():
        if name not in DEV_GPU_STACKS:
            assert not [r for r in graph if r.type.endswith(":LocalModelCache")], name
            assert NODE_LABEL[0] not in str([r.inputs for r in graph]), name


@pytest.mark.parametrize("stack", ["aws-prod", "gcp-prod", "azure-prod"])
def test_every_shipped_gpu_stack_can_host_it(stack: str, plan_mapping: Any) -> None:
    config = copy.deepcopy(stack_file_config(stack))
    config["gpuplane:models"] = {
        "cache": {"models": [{"name": "m", "storageUri": "m/", "size": "10Gi"}]}
    }
    graph = plan_mapping(config)
    groups = [r for r in graph if r.type.endswith(":LocalModelNodeGroup")]
    assert len(groups) == len(config["gpuplane:gpuPools"])


# Where each cloud puts a pool's node labels: (resource name, path to the labels).
POOL_LABELS = {
    "aws-dev": ("gpuplane-dev-nodepool-l4", ("spec", "template", "metadata", "labels")),
    "gcp-dev": ("gpuplane-dev-gpu-l4", ("nodeConfig", "labels")),
    "azure-dev": ("gpuplane-dev-gpu-t4", ("nodeLabels",)),
}


@pytest.mark.parametrize("stack", sorted(POOL_LABELS))
def test_the_pools_nodes_carry_the_label_the_agent_selects(
    stack: str, stack_graphs: dict[str, ResourceGraph]
) -> None:
    name, path = POOL_LABELS[stack]
    [pool] = [r for r in stack_graphs[stack] if r.name == name]
    labels = pool.inputs
    for part in path:
        labels = labels[part]
    assert labels[NODE_LABEL[0]] == NODE_LABEL[1]


# The download jobs' ServiceAccount, bound per cloud to read the models bucket.
JOBS = ("kserve-localmodel-jobs", "default")


def test_eks_binds_the_jobs_to_a_role_that_reads_the_models_bucket(
    stack_graphs: dict[str, ResourceGraph],
) -> None:
    graph = stack_graphs["aws-dev"]
    [association] = [
        r
        for r in graph.by_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if (r.inputs["namespace"], r.inputs["serviceAccount"]) == JOBS
    ]
    [role] = [
        r for r in graph.by_type("aws:iam/role:Role") if r.name.endswith("cache-identity-reader")
    ]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    tags = trust["Statement"][0]["Condition"]["StringEquals"]
    assert tags["aws:RequestTag/kubernetes-namespace"] == JOBS[0]
    assert tags["aws:RequestTag/kubernetes-service-account"] == [JOBS[1]]
    [policy] = [
        r
        for r in graph.by_type("aws:iam/rolePolicy:RolePolicy")
        if r.name == f"{role.name}-read-models"
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert {s["Action"] for s in statements} == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    bucket = graph.outputs["modelStorageUri"].removeprefix("s3://").rstrip("/")
    assert any(str(s["Resource"]).endswith(f":{bucket}/*") for s in statements)
    assert association.inputs["roleArn"]


def test_eks_gpu_nodes_stripe_their_instance_store(stack_graphs: dict[str, ResourceGraph]) -> None:
    [node_class] = [r for r in stack_graphs["aws-dev"] if r.type.endswith(":EC2NodeClass")]
    assert node_class.inputs["spec"]["instanceStorePolicy"] == "RAID0"


def test_gke_lets_the_jobs_principal_read_the_models_bucket(
    stack_graphs: dict[str, ResourceGraph],
) -> None:
    graph = stack_graphs["gcp-dev"]
    members = [
        r
        for r in graph.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if r.inputs["member"].endswith(f"/subject/ns/{JOBS[0]}/sa/{JOBS[1]}")
    ]
    [member] = members
    assert member.inputs["role"] == "roles/storage.objectViewer"
    models = graph.outputs["modelStorageUri"]
    assert models == f"gs://{member.inputs['bucket']}/"


def test_gke_gpu_nodes_use_their_local_ssd(stack_graphs: dict[str, ResourceGraph]) -> None:
    pools = {
        r.inputs["name"]: r.inputs["nodeConfig"]
        for r in stack_graphs["gcp-prod"].by_type("gcp:container/nodePool:NodePool")
    }
    dev = next(
        r.inputs["nodeConfig"]
        for r in stack_graphs["gcp-dev"].by_type("gcp:container/nodePool:NodePool")
        if r.inputs["name"] == "gpu-l4"
    )
    # g2-standard-4 bundles one local SSD; 0 takes the count the machine type comes with.
    assert dev["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 0}
    # a2-highgpu-1g bundles none.
    a100 = next(c for n, c in pools.items() if c["machineType"] == "a2-highgpu-1g")
    assert "ephemeralStorageLocalSsdConfig" not in a100


def test_aks_federates_the_jobs_and_labels_their_pods(
    stack_graphs: dict[str, ResourceGraph],
) -> None:
    graph = stack_graphs["azure-dev"]
    [credential] = [
        r
        for r in graph.by_type("azure-native:managedidentity:FederatedIdentityCredential")
        if r.inputs["subject"] == f"system:serviceaccount:{JOBS[0]}:{JOBS[1]}"
    ]
    reader = credential.inputs["resourceName"]
    [grant] = [
        r
        for r in graph.by_type("azure-native:authorization:RoleAssignment")
        if r.name.endswith("model-cache-identity-reader")
    ]
    # Storage Blob Data Reader, Azure's built-in role id.
    assert grant.inputs["roleDefinitionId"].endswith("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
    [patch] = [r for r in graph if r.type.endswith("core/v1:ServiceAccountPatch")]
    assert (patch.inputs["metadata"]["namespace"], patch.inputs["metadata"]["name"]) == JOBS
    assert "azure.workload.identity/client-id" in patch.inputs["metadata"]["annotations"]
    [policy] = [
        r
        for r in graph.by_type("kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicy")
        if r.inputs["metadata"]["name"] == "gpuplane-localmodel-jobs-labels"
    ]
    expression = policy.inputs["spec"]["mutations"][0]["applyConfiguration"]["expression"]
    assert '"azure.workload.identity/use": "true"' in expression
    assert reader
