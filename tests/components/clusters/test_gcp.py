"""GKE on the graph: gcp-dev and gcp-prod as written, and both in Autopilot."""

from collections.abc import Callable
from typing import Any

import pytest

from gpuplane import engine
from gpuplane.graph import ResourceGraph
from gpuplane.stacks import stack_from_mapping
from tests.helpers import (
    RELEASE,
    cluster_provider,
    custom_resource_named,
    depends_on,
    one_of_type,
    release_named,
    stack_file_config,
)
from tests.upstream import (
    chart_for_reference,
    releases_missing_upstream,
    upstream_values,
)

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
FIREWALL = "gcp:compute/firewall:Firewall"
LIVE = ("gcp-dev", "gcp-prod")
AUTOPILOT = ("gcp-dev-autopilot", "gcp-prod-autopilot")
ALL = LIVE + AUTOPILOT


@pytest.fixture(scope="module")
def graphs(stack_graphs: dict[str, ResourceGraph], project: Any) -> dict[str, ResourceGraph]:
    out = {name: stack_graphs[name] for name in LIVE}
    for name in LIVE:
        config = stack_file_config(name)
        config["gpuplane:gcp"] = {**config["gpuplane:gcp"], "mode": "autopilot"}
        config.pop("gpuplane:systemPool", None)
        # Autopilot cannot host the node-local model cache (refused when asked for).
        config.pop("gpuplane:models", None)
        out[f"{name}-autopilot"] = engine.plan(
            stack_from_mapping(project, f"{name}-autopilot", config)
        )
    return out


def _base(stack: str) -> str:
    return stack.removesuffix("-autopilot")


@pytest.mark.parametrize("stack", ALL)
def test_private_nodes_and_authorized_networks_only(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    cluster = one_of_type(graphs[stack], CLUSTER)
    private = cluster.inputs["privateClusterConfig"]
    assert private["enablePrivateNodes"] is True
    assert private["enablePrivateEndpoint"] is False
    networks = cluster.inputs["masterAuthorizedNetworksConfig"]
    expected = stack_file_config(_base(stack))["gpuplane:cluster"]["endpoint"]["publicAccessCidrs"]
    assert [b["cidrBlock"] for b in networks["cidrBlocks"]] == expected
    assert networks["gcpPublicCidrsAccessEnabled"] is False


def test_prod_may_be_private_endpoint_only(plan_mapping: Callable[..., ResourceGraph]) -> None:
    config = stack_file_config("gcp-prod")
    config["gpuplane:cluster"]["endpoint"] = {"privateAccess": True, "publicAccess": False}
    cluster = one_of_type(plan_mapping(config, "gcp-private"), CLUSTER)
    assert cluster.inputs["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"] == []


@pytest.mark.parametrize("stack", ALL)
def test_cluster_security_posture(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    inputs = cluster.inputs
    key = one_of_type(graph, "gcp:kms/cryptoKey:CryptoKey")
    assert inputs["databaseEncryption"]["state"] == "ENCRYPTED"
    assert key.urn in cluster.property_dependencies["databaseEncryption"]
    assert key.inputs["rotationPeriod"] == "7776000s"
    grant = one_of_type(graph, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert grant.inputs["member"].endswith("@container-engine-robot.iam.gserviceaccount.com")
    assert depends_on(graph, cluster, grant)
    assert inputs["enableLegacyAbac"] is False
    assert inputs["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False
    assert set(inputs["loggingConfig"]["enableComponents"]) >= {
        "SYSTEM_COMPONENTS",
        "APISERVER",
        "WORKLOADS",
    }
    assert "SYSTEM_COMPONENTS" in inputs["monitoringConfig"]["enableComponents"]
    channel = (
        stack_file_config(_base(stack)).get("gpuplane:gcp", {}).get("releaseChannel", "REGULAR")
    )
    assert inputs["releaseChannel"] == {"channel": channel}
    assert inputs["minMasterVersion"] == "1.36"


@pytest.mark.parametrize("stack", LIVE)
def test_standard_cluster_removes_default_pool_and_enforces_policy(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    inputs = one_of_type(graphs[stack], CLUSTER).inputs
    assert inputs["removeDefaultNodePool"] is True
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert inputs["workloadIdentityConfig"] == {"workloadPool": "my-gpuplane-project.svc.id.goog"}
    assert inputs["enableShieldedNodes"] is True
    assert "enableAutopilot" not in inputs


@pytest.mark.parametrize("stack", ALL)
def test_nodes_use_a_dedicated_service_account_with_minimal_roles(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    accounts = graph.by_type("gcp:serviceaccount/account:Account")
    node_sa = next(a for a in accounts if a.name.endswith("-nodes"))
    roles = sorted(
        r.inputs["role"]
        for r in graph.by_type("gcp:projects/iAMMember:IAMMember")
        if node_sa.urn in r.property_dependencies["member"]
    )
    assert roles == ["roles/artifactregistry.reader", "roles/container.defaultNodeServiceAccount"]
    for pool in graph.by_type(NODE_POOL):
        assert node_sa.urn in pool.property_dependencies["nodeConfig"]
        assert "compute@developer" not in str(pool.inputs)


@pytest.mark.parametrize("stack", LIVE)
def test_node_pools_are_hardened(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    pools = graph.by_type(NODE_POOL)
    assert {p.inputs["name"] for p in pools} == {"system"} | {
        f"gpu-{p['name']}" for p in stack_file_config(stack)["gpuplane:gpuPools"]
    }
    for pool in pools:
        config = pool.inputs["nodeConfig"]
        assert config["imageType"] == "COS_CONTAINERD"
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert config["shieldedInstanceConfig"] == {
            "enableSecureBoot": True,
            "enableIntegrityMonitoring": True,
        }
        assert config["metadata"]["disable-legacy-endpoints"] == "true"
        assert pool.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


@pytest.mark.parametrize("stack", LIVE)
def test_gpu_pools_scale_from_zero_with_drivers_by_gke(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    expected_accelerator = {"g2-standard-4": ("nvidia-l4", 1), "g2-standard-8": ("nvidia-l4", 1)}
    expected_accelerator["a2-highgpu-1g"] = ("nvidia-tesla-a100", 1)
    for spec in stack_file_config(stack)["gpuplane:gpuPools"]:
        pool = next(
            p for p in graph.by_type(NODE_POOL) if p.inputs["name"] == f"gpu-{spec['name']}"
        )
        autoscaling = pool.inputs["autoscaling"]
        assert autoscaling["totalMinNodeCount"] == spec.get("minNodes", 0) == 0
        assert autoscaling["totalMaxNodeCount"] == spec["maxNodes"]
        config = pool.inputs["nodeConfig"]
        assert config["spot"] is spec["spot"]
        assert config["gcfsConfig"] == {"enabled": True}
        [accelerator] = config["guestAccelerators"]
        assert (accelerator["type"], accelerator["count"]) == expected_accelerator[
            spec["instanceTypes"][0]
        ]
        assert accelerator["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}
        sharing = spec.get("sharing")
        if sharing:
            assert accelerator["gpuSharingConfig"] == {
                "gpuSharingStrategy": "TIME_SHARING",
                "maxSharedClientsPerGpu": sharing["replicas"],
            }
        else:
            assert "gpuSharingConfig" not in accelerator


@pytest.mark.parametrize("stack", ALL)
def test_control_plane_reaches_every_webhook(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    firewall = one_of_type(graph, FIREWALL)
    master = one_of_type(graph, CLUSTER).inputs["privateClusterConfig"]["masterIpv4CidrBlock"]
    assert firewall.inputs["sourceRanges"] == [master]
    assert firewall.inputs["direction"] == "INGRESS"
    [allow] = firewall.inputs["allows"]
    cert_manager = upstream_values(chart_for_reference("cert-manager", "v1.21.1")[1])
    kps = upstream_values(chart_for_reference("kube-prometheus-stack", "88.5.3")[1])
    # istiod 15017, KServe 9443, Knative 8443, plus what the charts' values say.
    expected = {
        15017,
        9443,
        8443,
        cert_manager["webhook"]["securePort"],
        kps["prometheusOperator"]["tls"]["internalPort"],
    }
    assert {int(p) for p in allow["ports"]} == expected
    assert allow["protocol"] == "tcp"


@pytest.mark.parametrize("stack", ALL)
def test_network_has_pod_and_service_ranges_and_nat(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    subnet = one_of_type(graph, "gcp:compute/subnetwork:Subnetwork")
    assert {r["rangeName"] for r in subnet.inputs["secondaryIpRanges"]} == {"pods", "services"}
    assert subnet.inputs["privateIpGoogleAccess"] is True
    nat = one_of_type(graph, "gcp:compute/routerNat:RouterNat")
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    assert (
        one_of_type(graph, "gcp:compute/network:Network").inputs["autoCreateSubnetworks"] is False
    )


@pytest.mark.parametrize(
    ("stack", "location"), [("gcp-dev", "us-central1-a"), ("gcp-prod", "us-central1")]
)
def test_dev_is_zonal_and_prod_regional(
    graphs: dict[str, ResourceGraph], stack: str, location: str
) -> None:
    assert one_of_type(graphs[stack], CLUSTER).inputs["location"] == location


@pytest.mark.parametrize("stack", AUTOPILOT)
def test_autopilot_selects_gpus_by_node_selector(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    assert cluster.inputs["enableAutopilot"] is True
    assert graph.by_type(NODE_POOL) == []
    defaults = cluster.inputs["clusterAutoscaling"]["autoProvisioningDefaults"]
    node_sa = next(
        a for a in graph.by_type("gcp:serviceaccount/account:Account") if a.name.endswith("-nodes")
    )
    assert node_sa.urn in cluster.property_dependencies["clusterAutoscaling"]
    assert defaults["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    runtime = custom_resource_named(graph, "ClusterServingRuntime", "gpuplane-huggingface-gpu")
    terms = runtime.get("spec")["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    keys = [{e["key"]: e["values"] for e in t["matchExpressions"]} for t in terms]
    assert {"cloud.google.com/gke-accelerator": ["nvidia-l4"]} in [
        {k: v for k, v in term.items() if k == "cloud.google.com/gke-accelerator"} for term in keys
    ]
    pools = stack_file_config(_base(stack))["gpuplane:gpuPools"]
    assert len(terms) == len(pools)
    if _base(stack) == "gcp-dev":
        assert keys[0]["cloud.google.com/gke-spot"] == ["true"]


@pytest.mark.parametrize("stack", ALL)
def test_models_bucket_and_workload_identity(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    bucket = one_of_type(graph, "gcp:storage/bucket:Bucket")
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.inputs["versioning"] == {"enabled": True}
    reader = next(
        a
        for a in graph.by_type("gcp:serviceaccount/account:Account")
        if a.name.endswith("-models-reader")
    )
    # The model cache's download jobs have their own grant (test_model_cache_stacks.py).
    grants = [
        g
        for g in graph.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if "-model-cache-identity-" not in g.name
    ]
    assert {g.inputs["role"] for g in grants} == {"roles/storage.objectViewer"}
    [reader_grant] = [g for g in grants if reader.urn in g.property_dependencies.get("member", ())]
    # `default` (what an InferenceService runs as unless told) reads directly.
    [default_grant] = [g for g in grants if g is not reader_grant]
    assert default_grant.inputs["member"].endswith(
        "/workloadIdentityPools/my-gpuplane-project.svc.id.goog/subject/ns/models/sa/default"
    )
    binding = one_of_type(graph, "gcp:serviceaccount/iAMMember:IAMMember")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert binding.inputs["member"] == (
        "serviceAccount:my-gpuplane-project.svc.id.goog[models/models]"
    )
    account = custom_resource_named(graph, "ServiceAccount", "models")
    assert account.get("metadata.annotations")["iam.gke.io/gcp-service-account"].startswith(
        "gpuplane-"
    )
    assert graph.outputs["modelStorageUri"].startswith("gs://")


@pytest.mark.parametrize(("stack", "protected"), [("gcp-dev", False), ("gcp-prod", True)])
def test_prod_protects_cluster_key_and_bucket(
    graphs: dict[str, ResourceGraph], stack: str, protected: bool
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    assert cluster.protect is protected
    assert cluster.inputs["deletionProtection"] is protected
    assert one_of_type(graph, "gcp:kms/cryptoKey:CryptoKey").protect is protected
    assert one_of_type(graph, "gcp:storage/bucket:Bucket").protect is protected


@pytest.mark.parametrize("stack", ALL)
def test_serving_stack_waits_for_the_system_pool_not_gpus(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster_provider(graph)
    istiod = release_named(graph, "istiod")
    for pool in graph.by_type(NODE_POOL):
        # Nothing the serving stack installs needs a GPU node: those pools come up beside it.
        assert depends_on(graph, istiod, pool) is (pool.inputs["name"] == "system")
    assert depends_on(graph, istiod, one_of_type(graph, FIREWALL))
    assert releases_missing_upstream(graph) == {}
    # GKE installs drivers and its own device plugin: no NVIDIA chart here.
    assert "nvidia-device-plugin" not in {r.inputs["name"] for r in graph.by_type(RELEASE)}


def test_node_auto_provisioning_caps_gpus_by_the_pools(
    plan_mapping: Callable[..., ResourceGraph],
) -> None:
    config = stack_file_config("gcp-prod")
    config["gpuplane:gcp"]["nodeAutoProvisioning"] = True
    autoscaling = one_of_type(plan_mapping(config, "gcp-nap"), CLUSTER).inputs["clusterAutoscaling"]
    assert autoscaling["enabled"] is True
    limits = {r["resourceType"]: r["maximum"] for r in autoscaling["resourceLimits"]}
    assert limits["nvidia-l4"] == 4
    assert limits["nvidia-tesla-a100"] == 2
    defaults = autoscaling["autoProvisioningDefaults"]
    assert defaults["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert defaults["shieldedInstanceConfig"]["enableSecureBoot"] is True
