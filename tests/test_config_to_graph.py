"""Every user-facing config field, followed into the planned graph.

One table per cloud: each stack sets its fields to values no default has, is planned
once, and each row finds the value in the resource it must reach. Replacing any
field with a constant (its default or anything else) fails its row.
"""

import re
from typing import Any

import pytest

from gpuplane.graph import SECRET, ResourceGraph

EXISTING = {
    "gpuplane:cloud": "existing",
    "gpuplane:cluster": {"name": "lab", "kubernetesVersion": "1.35"},
    "gpuplane:existing": {
        "context": "kind-lab",
        "kubeconfig": "/etc/lab/kubeconfig",
        "loadBalancer": True,
    },
    "gpuplane:gpuPools": [{"name": "aten", "labels": {"pool": "a10-nodes"}}],
    "gpuplane:serving": {
        "monitoring": False,
        "domain": "models.example.org",
        "acmeEmail": "ops@example.org",
        "knative": {
            "scaleToZero": False,
            "scaleDownDelay": "7m",
            "scaleToZeroGracePeriod": "45s",
            "progressDeadline": "25m",
            "requestTimeout": "300s",
            "containerConcurrency": 3,
            "version": "1.22.1",
        },
    },
}
CIDR = "198.51.100.0/24"
AWS = {
    "aws:region": "eu-west-1",
    "gpuplane:cloud": "aws",
    "gpuplane:cluster": {
        "name": "tbl",
        "endpoint": {"publicAccessCidrs": [CIDR]},
    },
    "gpuplane:aws": {
        "adminRoleArns": ["arn:aws:iam::210987654321:role/tbl-admin"],
        "vpcCidr": "10.42.0.0/16",
        "gpuNodeImage": "bottlerocket",
        "gpuNodeImageVersion": "v1.44.0",
        "gpuVolumeSize": 321,
        "consolidateAfter": "7m",
        "imageCacheSnapshotId": "snap-0123456789abcdef0",
    },
    "gpuplane:systemPool": {"instanceType": "m6i.xlarge", "minNodes": 3, "maxNodes": 7},
    "gpuplane:gpuPools": [
        {
            "name": "lfour",
            "instanceTypes": ["g6.2xlarge", "g6.4xlarge"],
            "maxNodes": 5,
            "labels": {"team": "vision"},
        }
    ],
}
AZURE = {
    "azure-native:location": "westeurope",
    "gpuplane:cloud": "azure",
    "gpuplane:cluster": {"name": "tbl", "endpoint": {"publicAccessCidrs": [CIDR]}},
    "gpuplane:azure": {
        "adminGroupObjectIds": ["5f0a4c3e-1b2d-4e6f-8a9b-0c1d2e3f4a5b"],
        "skuTier": "Premium",
        "vnetCidr": "10.200.0.0/16",
        "podCidr": "10.201.0.0/16",
        "serviceCidr": "10.202.0.0/16",
        "upgradeChannel": "stable",
        "nodeOsUpgradeChannel": "SecurityPatch",
    },
    "gpuplane:systemPool": {"instanceType": "Standard_D8s_v5", "minNodes": 2, "maxNodes": 6},
    "gpuplane:gpuPools": [
        {
            "name": "tfour",
            "instanceTypes": ["Standard_NC4as_T4_v3"],
            "minNodes": 1,
            "maxNodes": 7,
            "labels": {"team": "vision"},
        }
    ],
    "gpuplane:models": {
        "cache": {
            "nodeDiskSize": "150Gi",
            "models": [{"name": "phi", "storageUri": "phi-3/", "size": "9Gi", "pools": ["tfour"]}],
        }
    },
}
GCP = {
    "gcp:project": "tbl-project",
    "gcp:region": "europe-west4",
    "gpuplane:cloud": "gcp",
    "gpuplane:cluster": {"name": "tbl", "endpoint": {"publicAccessCidrs": [CIDR]}},
    "gpuplane:gcp": {
        "releaseChannel": "STABLE",
        "subnetCidr": "10.50.0.0/20",
        "podsCidr": "10.56.0.0/14",
        "servicesCidr": "10.60.0.0/20",
        "masterCidr": "172.16.0.32/28",
    },
    "gpuplane:systemPool": {"instanceType": "e2-standard-8", "minNodes": 2, "maxNodes": 5},
    "gpuplane:gpuPools": [
        {
            "name": "lfour",
            "instanceTypes": ["g2-standard-8"],
            "minNodes": 1,
            "maxNodes": 6,
            "labels": {"team": "vision"},
        }
    ],
    "gpuplane:models": {
        "cache": {"models": [{"name": "gemma", "storageUri": "gemma-2b/", "size": "6Gi"}]}
    },
}
STACKS = {"existing": EXISTING, "aws": AWS, "azure": AZURE, "gcp": GCP}

AFFINITY = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
# (stack, config key, [Kind:]resource name, input path, value the resource must carry)
TABLE = [
    ("existing", "existing.context", "lab-k8s", "context", "kind-lab"),
    ("existing", "existing.loadBalancer", "lab-serving-istio-gateway",
     "values.service.type", "LoadBalancer"),
    ("existing", "gpuPools[0].labels", "lab-serving-gpu-runtime",
     f"{AFFINITY}.nodeSelectorTerms[0].matchExpressions[0]",
     {"key": "pool", "operator": "In", "values": ["a10-nodes"]}),
    ("existing", "serving.domain", "lab-serving-kserve-controller",
     "values.kserve.controller.gateway.domain", "models.example.org"),
    ("existing", "serving.domain", "lab-serving-knative-serving", "spec.config.domain",
     {"models.example.org": ""}),
    ("existing", "serving.acmeEmail", "lab-serving-cert-manager-acme", "spec.acme.email",
     "ops@example.org"),
    ("existing", "serving.knative.scaleToZero", "lab-serving-knative-serving",
     "spec.config.autoscaler.enable-scale-to-zero", "false"),
    ("existing", "serving.knative.scaleDownDelay", "lab-serving-knative-serving",
     "spec.config.autoscaler.scale-down-delay", "7m"),
    ("existing", "serving.knative.scaleToZeroGracePeriod", "lab-serving-knative-serving",
     "spec.config.autoscaler.scale-to-zero-grace-period", "45s"),
    ("existing", "serving.knative.progressDeadline", "lab-serving-knative-serving",
     "spec.config.deployment.progress-deadline", "1500s"),
    ("existing", "serving.knative.requestTimeout", "lab-serving-knative-serving",
     "spec.config.defaults.revision-timeout-seconds", "300"),
    ("existing", "serving.knative.containerConcurrency", "lab-serving-knative-serving",
     "spec.config.defaults.container-concurrency", "3"),
    ("existing", "serving.knative.version", "lab-serving-knative-serving", "spec.version",
     "1.22.1"),
    ("aws", "aws.vpcCidr", "tbl-vpc", "cidrBlock", "10.42.0.0/16"),
    ("aws", "aws.adminRoleArns", "AccessEntry:tbl-admin-0", "principalArn",
     "arn:aws:iam::210987654321:role/tbl-admin"),
    ("aws", "cluster.endpoint.publicAccessCidrs", "tbl-eks", "vpcConfig.publicAccessCidrs",
     [CIDR]),
    ("aws", "systemPool.instanceType", "NodeGroup:tbl-system", "instanceTypes", ["m6i.xlarge"]),
    ("aws", "systemPool.minNodes", "NodeGroup:tbl-system", "scalingConfig.minSize", 3),
    ("aws", "systemPool.maxNodes", "NodeGroup:tbl-system", "scalingConfig.maxSize", 7),
    ("aws", "aws.gpuNodeImage + gpuNodeImageVersion", "tbl-nodeclass-lfour",
     "spec.amiSelectorTerms[0].alias", "bottlerocket@v1.44.0"),
    ("aws", "aws.gpuVolumeSize", "tbl-nodeclass-lfour",
     "spec.blockDeviceMappings[1].ebs.volumeSize", "321Gi"),
    ("aws", "aws.imageCacheSnapshotId", "tbl-nodeclass-lfour",
     "spec.blockDeviceMappings[1].ebs.snapshotID", "snap-0123456789abcdef0"),
    ("aws", "aws.consolidateAfter", "tbl-nodepool-lfour", "spec.disruption.consolidateAfter",
     "7m"),
    ("aws", "gpuPools[0].instanceTypes", "tbl-nodepool-lfour",
     "spec.template.spec.requirements[0].values", ["g6.2xlarge", "g6.4xlarge"]),
    ("aws", "gpuPools[0].maxNodes", "tbl-nodepool-lfour", "spec.limits.nodes", 5),
    ("aws", "gpuPools[0].labels", "tbl-nodepool-lfour", "spec.template.metadata.labels.team",
     "vision"),
    ("azure", "azure.vnetCidr", "tbl-vnet", "addressSpace.addressPrefixes", ["10.200.0.0/16"]),
    ("azure", "azure.podCidr", "tbl-aks", "networkProfile.podCidr", "10.201.0.0/16"),
    ("azure", "azure.serviceCidr", "tbl-aks", "networkProfile.serviceCidr", "10.202.0.0/16"),
    ("azure", "azure.skuTier", "tbl-aks", "sku.tier", "Premium"),
    ("azure", "azure.upgradeChannel", "tbl-aks", "autoUpgradeProfile.upgradeChannel",
     "stable"),
    ("azure", "azure.nodeOsUpgradeChannel", "tbl-aks",
     "autoUpgradeProfile.nodeOSUpgradeChannel", "SecurityPatch"),
    ("azure", "azure.adminGroupObjectIds", "tbl-aks", "aadProfile.adminGroupObjectIDs",
     ["5f0a4c3e-1b2d-4e6f-8a9b-0c1d2e3f4a5b"]),
    ("azure", "systemPool.instanceType", "tbl-platform", "vmSize", "Standard_D8s_v5"),
    ("azure", "systemPool.minNodes", "tbl-platform", "minCount", 2),
    ("azure", "systemPool.maxNodes", "tbl-platform", "maxCount", 6),
    ("azure", "gpuPools[0].instanceTypes", "tbl-gpu-tfour", "vmSize", "Standard_NC4as_T4_v3"),
    ("azure", "gpuPools[0].minNodes", "tbl-gpu-tfour", "minCount", 1),
    ("azure", "gpuPools[0].maxNodes", "tbl-gpu-tfour", "maxCount", 7),
    ("azure", "gpuPools[0].labels", "tbl-gpu-tfour", "nodeLabels.team", "vision"),
    ("gcp", "gcp.subnetCidr", "Subnetwork:tbl-nodes", "ipCidrRange", "10.50.0.0/20"),
    ("gcp", "gcp.podsCidr", "Subnetwork:tbl-nodes", "secondaryIpRanges[0].ipCidrRange",
     "10.56.0.0/14"),
    ("gcp", "gcp.servicesCidr", "Subnetwork:tbl-nodes", "secondaryIpRanges[1].ipCidrRange",
     "10.60.0.0/20"),
    ("gcp", "gcp.masterCidr", "tbl-gke", "privateClusterConfig.masterIpv4CidrBlock",
     "172.16.0.32/28"),
    ("gcp", "gcp.releaseChannel", "tbl-gke", "releaseChannel.channel", "STABLE"),
    ("gcp", "gcp:region", "Subnetwork:tbl-nodes", "region", "europe-west4"),
    ("gcp", "systemPool.instanceType", "tbl-system", "nodeConfig.machineType", "e2-standard-8"),
    ("gcp", "systemPool.minNodes", "tbl-system", "autoscaling.totalMinNodeCount", 2),
    ("gcp", "systemPool.maxNodes", "tbl-system", "autoscaling.totalMaxNodeCount", 5),
    ("gcp", "gpuPools[0].instanceTypes", "tbl-gpu-lfour", "nodeConfig.machineType",
     "g2-standard-8"),
    ("gcp", "gpuPools[0].minNodes", "tbl-gpu-lfour", "autoscaling.totalMinNodeCount", 1),
    ("gcp", "gpuPools[0].maxNodes", "tbl-gpu-lfour", "autoscaling.totalMaxNodeCount", 6),
    ("gcp", "gpuPools[0].labels", "tbl-gpu-lfour", "nodeConfig.labels.team", "vision"),
    ("gcp", "models.cache.models[0].name", "LocalModelCache:tbl-serving-model-cache-model-gemma",
     "metadata.name", "gemma"),
    ("gcp", "models.cache.models[0].size", "LocalModelCache:tbl-serving-model-cache-model-gemma",
     "spec.modelSize", "6Gi"),
    ("gcp", "models.cache.models (pools default)",
     "LocalModelCache:tbl-serving-model-cache-model-gemma", "spec.nodeGroups", ["lfour"]),
    ("gcp", "models.cache (node label)", "tbl-gpu-lfour", "nodeConfig.labels.kserve/localmodel",
     "worker"),
    ("gcp", "gpuPools[0].instanceTypes (local SSD)",
     "LocalModelNodeGroup:tbl-serving-model-cache-group-lfour", "spec.storageLimit", "349Gi"),
    ("azure", "models.cache.nodeDiskSize",
     "LocalModelNodeGroup:tbl-serving-model-cache-group-tfour", "spec.storageLimit", "150Gi"),
    ("azure", "models.cache.models[0].pools", "LocalModelCache:tbl-serving-model-cache-model-phi",
     "spec.nodeGroups", ["tfour"]),
    ("azure", "models.cache.models[0].size", "LocalModelCache:tbl-serving-model-cache-model-phi",
     "spec.modelSize", "9Gi"),
    ("azure", "models.cache (node label)", "tbl-gpu-tfour", "nodeLabels.kserve/localmodel",
     "worker"),
]  # fmt: skip


@pytest.fixture(scope="module")
def graphs(project: Any) -> dict[str, ResourceGraph]:
    from gpuplane import engine
    from gpuplane.stacks import stack_from_mapping

    return {
        name: engine.plan(stack_from_mapping(project, f"table-{name}", config))
        for name, config in STACKS.items()
    }


def lookup(value: Any, path: str) -> Any:
    """`a.b[0].c` in nested dicts and lists; keys may contain '-' and '/'."""
    for part in path.split("."):
        name, *indexes = re.findall(r"[^\[\]]+", part)
        assert isinstance(value, dict) and name in value, (name, value)
        value = value[name]
        for index in indexes:
            value = value[int(index)]
    return value


@pytest.mark.parametrize(
    ("stack", "key", "resource", "path", "expected"),
    TABLE,
    ids=[f"{row[0]}:{row[1]}->{row[2]}" for row in TABLE],
)
def test_a_config_field_reaches_its_resource(
    graphs: dict[str, ResourceGraph], stack: str, key: str, resource: str, path: str, expected: Any
) -> None:
    kind, _, name = resource.rpartition(":")
    [found] = [
        r for r in graphs[stack] if r.name == name and (not kind or r.type.endswith(f":{kind}"))
    ]
    assert lookup(found.inputs, path) == expected


def test_existing_cluster_fields_that_remove_resources(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["existing"]
    # serving.monitoring false: no Prometheus, Grafana or GPU metrics at all.
    assert not [r for r in graph if "-serving-monitoring" in r.name]
    # cluster.kubernetesVersion 1.35: no 1.36-only MutatingAdmissionPolicy.
    assert not graph.by_type("kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicy")
    # existing.kubeconfig reaches the provider, as a secret.
    assert graph.named("lab-k8s").inputs["kubeconfig"] == {SECRET: "[redacted]"}
    # cluster.name prefixes every resource.
    assert all(r.name.startswith("lab") for r in graph)


@pytest.mark.parametrize("stack", ["gcp", "azure"])
def test_the_cached_path_lands_inside_the_models_bucket(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    [cache] = [r for r in graphs[stack] if r.type.endswith(":LocalModelCache")]
    path = STACKS[stack]["gpuplane:models"]["cache"]["models"][0]["storageUri"]
    uri = graphs[stack].outputs["modelStorageUri"]
    assert cache.inputs["spec"]["sourceModelUri"] == uri + path
