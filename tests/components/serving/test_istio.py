"""Istio on every shipped stack: CNI per pod network, explicit image hub, replicas."""

import re
from collections.abc import Callable

import pytest

from gpuplane.components import versions
from gpuplane.components.serving.istio import CNI_PLATFORM
from gpuplane.graph import ResourceGraph
from gpuplane.policies.kubernetes import DEFAULT_REGISTRIES
from tests.helpers import release_named
from tests.upstream import rendered_objects

# What each cloud's cluster runs as its pod network (components/clusters/*.py).
DATAPLANE = {
    "aws": "aws-vpc-cni",
    "gcp": "gke-dataplane-v2",
    "azure": "azure-cilium",
    "existing": "kind",
}
STACKS = ("local", "aws-dev", "aws-prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod")


def _cloud(stack: str) -> str:
    return "existing" if stack == "local" else stack.split("-")[0]


@pytest.mark.parametrize("stack", STACKS)
def test_istio_cni_runs_with_the_settings_of_the_clusters_pod_network(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    cni = release_named(graph, "istio-cni")
    values = cni.inputs["values"]
    expected = CNI_PLATFORM[DATAPLANE[_cloud(stack)]]
    assert {k: values[k] for k in expected} == expected
    # istiod injects the CNI's validation init container instead of istio-init.
    assert release_named(graph, "istiod").inputs["values"]["cni"] == {"enabled": True}
    assert cni.inputs["namespace"] == "istio-cni"


def test_gke_gets_its_cni_binary_directory_and_priority_quota() -> None:
    gke = CNI_PLATFORM["gke-dataplane-v2"]
    assert gke["cniBinDir"] == "/home/kubernetes/bin"
    assert gke["resourceQuotas"] == {"enabled": True}
    # Everywhere else the chart's own default path is right.
    others = {k: v["cniBinDir"] for k, v in CNI_PLATFORM.items() if k != "gke-dataplane-v2"}
    assert set(others.values()) == {"/opt/cni/bin"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_istio_image_comes_from_the_explicit_hub(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    for name in ("istiod", "istio-cni"):
        glob = release_named(graph, name).inputs["values"]["global"]
        assert glob["hub"] == versions.ISTIO_HUB, name
        assert glob["tag"] == versions.CHARTS["istiod"].version, name


def test_the_pack_admits_istios_images_from_the_hub_the_platform_sets() -> None:
    """The 1.30.3 charts default to registry.istio.io/release; with the hub set, only
    the image's registry part changes (rendered/README.md, "Istio 1.30.3 images")."""
    images = set()
    for chart in ("istiod", "cni"):
        for obj in rendered_objects(chart, versions.CHARTS["istiod"].version):
            text = str(obj)
            images.update(re.findall(r"registry\.istio\.io/release/[\w-]+:[\w.]+", text))
    assert images, "no Istio image in the rendered data"
    moved = {i.replace("registry.istio.io/release", versions.ISTIO_HUB) for i in images}
    # The injector's proxy image: hub + /proxyv2 + tag.
    moved.add(f"{versions.ISTIO_HUB}/proxyv2:{versions.CHARTS['istiod'].version}")
    for image in moved:
        assert image.startswith(tuple(DEFAULT_REGISTRIES)), image
    assert not any(i.startswith(tuple(DEFAULT_REGISTRIES)) for i in images - moved), (
        "the chart default registry is admitted too: the explicit hub would not be needed"
    )


def test_an_existing_cluster_with_a_metrics_api_gets_the_hpas(
    plan_mapping: Callable[..., ResourceGraph],
) -> None:
    graph = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": {"context": "k3d-gpuplane", "metricsServer": True},
        }
    )
    assert release_named(graph, "istiod").inputs["values"]["autoscaleEnabled"] is True
    gateway = release_named(graph, "istio-ingressgateway").inputs["values"]
    assert gateway["autoscaling"]["enabled"] is True
