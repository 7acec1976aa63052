"""The node-local model cache on an existing cluster, checked against the upstream oracle."""

import subprocess
from typing import Any

import pytest
import yaml

from gpuplane.components import versions
from gpuplane.components.serving import cache_settings
from gpuplane.components.serving.model_cache import POSTRENDERERS, host_path
from gpuplane.graph import ResourceGraph
from tests.helpers import RELEASE, custom_resource_named, depends_on, k8s_object, release_named
from tests.upstream import (
    UPSTREAM,
    chart_dir,
    releases_missing_upstream,
    rendered_objects,
    require_upstream,
    upstream_values,
    validate_custom_resource,
)

IRIS = "gs://kfserving-examples/models/sklearn/1.0/model"
CACHED = {
    "gpuplane:cloud": "existing",
    "gpuplane:cluster": {"name": "lab", "kubernetesVersion": "1.36"},
    "gpuplane:existing": {"context": "kind-lab"},
    "gpuplane:gpuPools": [
        {"name": "aten", "labels": {"pool": "a10", "kserve/localmodel": "worker"}},
        {"name": "hopper", "labels": {"pool": "h100", "kserve/localmodel": "worker"}},
    ],
    "gpuplane:models": {
        "cache": {
            "nodeDiskSize": "120Gi",
            "models": [
                {"name": "iris", "storageUri": IRIS, "size": "1Gi"},
                {"name": "big", "storageUri": "hf://org/big", "size": "90Gi", "pools": ["hopper"]},
            ],
        }
    },
}


@pytest.fixture(scope="module")
def cached(project: Any) -> ResourceGraph:
    from gpuplane import engine
    from gpuplane.stacks import stack_from_mapping

    return engine.plan(stack_from_mapping(project, "cached", CACHED))


def _localmodel_daemonset() -> dict[str, Any]:
    objects = rendered_objects(
        "kserve-localmodel-resources", versions.CHARTS["kserve-localmodel-resources"].version
    )
    [agent] = [o for o in objects if o["kind"] == "DaemonSet"]
    return agent


def test_the_charts_install_after_kserve_and_their_values_exist_upstream(
    cached: ResourceGraph,
) -> None:
    crd = release_named(cached, "kserve-localmodel-crd")
    resources = release_named(cached, "kserve-localmodel-resources")
    controller = release_named(cached, "kserve")
    assert crd.inputs["chart"] == "oci://ghcr.io/kserve/charts/kserve-localmodel-crd"
    assert resources.inputs["version"] == "v0.20.0"
    # The chart's Certificate uses the Issuer kserve-resources installs.
    assert depends_on(cached, resources, controller)
    assert depends_on(cached, resources, crd)
    assert releases_missing_upstream(cached) == {}


def test_kserve_switches_the_cache_on_in_its_config(cached: ResourceGraph) -> None:
    require_upstream()
    values = release_named(cached, "kserve").inputs["values"]["kserve"]["localmodel"]
    assert values["enabled"] is True
    # The key is the one inferenceservice-config's localModel renders from (off upstream).
    default = upstream_values(versions.CHARTS["kserve"])["kserve"]["localmodel"]
    assert default["enabled"] is False
    assert values["jobNamespace"] == default["jobNamespace"] == cache_settings.JOB_NAMESPACE


def test_kserve_stays_off_without_the_cache(local_graph: ResourceGraph) -> None:
    values = release_named(local_graph, "kserve").inputs["values"]["kserve"]
    assert "localmodel" not in values
    names = {r.inputs["name"] for r in local_graph.by_type(RELEASE)}
    assert not names & {"kserve-localmodel-crd", "kserve-localmodel-resources"}


def test_the_agent_runs_where_the_pools_label_their_nodes(cached: ResourceGraph) -> None:
    require_upstream()
    agent = _localmodel_daemonset()
    # The label gpuplane requires on (or puts on) the pools is what the agent selects.
    assert agent["spec"]["template"]["spec"]["nodeSelector"] == dict([cache_settings.NODE_LABEL])
    values = release_named(cached, "kserve-localmodel-resources").inputs["values"]
    tolerations = values["kserve"]["localmodelnode"]["controller"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_one_node_group_per_cached_pool_and_one_cache_per_model(cached: ResourceGraph) -> None:
    for pool, selector in (("aten", "a10"), ("hopper", "h100")):
        group = k8s_object(custom_resource_named(cached, "LocalModelNodeGroup", pool))
        validate_custom_resource(group)
        spec = group["spec"]
        assert spec["storageLimit"] == "120Gi"
        volume = spec["persistentVolumeSpec"]
        assert volume["capacity"] == {"storage": "120Gi"}
        assert volume["local"] == {"path": "/models"}
        [term] = volume["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert {"key": "pool", "operator": "In", "values": [selector]} in term["matchExpressions"]
        claim = spec["persistentVolumeClaimSpec"]
        assert claim["storageClassName"] == volume["storageClassName"]
    iris = k8s_object(custom_resource_named(cached, "LocalModelCache", "iris"))
    big = k8s_object(custom_resource_named(cached, "LocalModelCache", "big"))
    for cache in (iris, big):
        validate_custom_resource(cache)
    assert iris["spec"] == {
        "sourceModelUri": IRIS,
        "modelSize": "1Gi",
        "nodeGroups": ["aten", "hopper"],
    }
    assert big["spec"]["nodeGroups"] == ["hopper"]
    assert big["spec"]["sourceModelUri"] == "hf://org/big"


def test_the_jobs_namespace_admits_the_download_jobs(cached: ResourceGraph) -> None:
    [ns] = [
        r
        for r in cached.by_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == cache_settings.JOB_NAMESPACE
    ]
    # The storage initializer the jobs run sets no security context: not restricted.
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"


def test_upstream_mounts_a_fixed_host_path() -> None:
    require_upstream()
    [volume] = _localmodel_daemonset()["spec"]["template"]["spec"]["volumes"]
    assert volume["hostPath"] == {
        "path": cache_settings.UPSTREAM_HOST_PATH,
        "type": "DirectoryOrCreate",
    }
    values = (chart_dir(versions.CHARTS["kserve-localmodel-resources"]) / "values.yaml").read_text()
    # v0.20.0 offers no value for it (later charts add localmodelnode.controller.hostPath).
    assert "hostPath" not in yaml.safe_load(values)["kserve"]["localmodelnode"]["controller"]


@pytest.mark.parametrize("node_os", sorted(POSTRENDERERS))
def test_the_post_renderer_moves_only_the_agents_host_path(node_os: str) -> None:
    require_upstream()
    source = (
        UPSTREAM / "rendered" / "defaults" / "kserve-localmodel-resources" / "v0.20.0.yaml"
    ).read_text()
    result = subprocess.run(
        [str(POSTRENDERERS[node_os])], input=source, capture_output=True, text=True, check=True
    )
    before, after = source.splitlines(), result.stdout.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    [agent] = [o for o in objects if o["kind"] == "DaemonSet"]
    [volume] = agent["spec"]["template"]["spec"]["volumes"]
    assert volume["hostPath"]["path"] == host_path(node_os) == cache_settings.HOST_PATHS[node_os]
    assert volume["hostPath"]["path"] != cache_settings.UPSTREAM_HOST_PATH


def _enforced(graph: ResourceGraph, name: str) -> str:
    [ns] = [
        r
        for r in graph.by_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == name
    ]
    return ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]


def test_kserve_admits_the_agents_host_path_only_with_the_cache(
    cached: ResourceGraph, local_graph: ResourceGraph
) -> None:
    require_upstream()
    [volume] = _localmodel_daemonset()["spec"]["template"]["spec"]["volumes"]
    assert "hostPath" in volume  # which baseline and restricted refuse
    assert _localmodel_daemonset()["metadata"]["namespace"] == "kserve"
    assert _enforced(cached, "kserve") == "privileged"
    assert _enforced(local_graph, "kserve") == "restricted"
