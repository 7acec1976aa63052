"""The existing-cluster module: an explicit provider, pools selected by labels."""

from typing import Any, cast

import pytest

from gpuplane.components.clusters.contract import GPU_RESOURCE, Cluster, GpuPool
from gpuplane.components.clusters.existing import gpu_pool_from_labels
from gpuplane.graph import SECRET


def _stack(**existing: Any) -> dict[str, Any]:
    return {
        "gpuplane:cloud": "existing",
        "gpuplane:cluster": {"name": "lab"},
        "gpuplane:existing": {"context": "lab-admin", **existing},
        "gpuplane:gpuPools": [
            {"name": "a100", "labels": {"nvidia.com/gpu.product": "A100"}, "acceleratorCount": 4}
        ],
    }


def test_provider_pins_the_context_and_keeps_the_kubeconfig_secret(plan_mapping: Any) -> None:
    graph = plan_mapping(_stack(kubeconfig="/etc/lab/kubeconfig", loadBalancer=True))
    provider = graph.named("lab-k8s")
    assert provider.inputs["context"] == "lab-admin"
    assert provider.inputs["kubeconfig"] == {SECRET: "[redacted]"}
    assert provider.parent == graph.named("lab").urn
    assert graph.outputs["ingressServiceType"] == "LoadBalancer"
    assert graph.outputs["gpuPools"] == ["a100"]


def test_without_a_kubeconfig_the_provider_uses_its_loading_rules(plan_mapping: Any) -> None:
    graph = plan_mapping(_stack())
    assert "kubeconfig" not in graph.named("lab-k8s").inputs
    assert "kubeconfig" not in graph.outputs
    assert graph.outputs["ingressServiceType"] == "NodePort"


def test_pools_select_by_their_labels_and_tolerate_the_gpu_taint() -> None:
    pool = gpu_pool_from_labels("a100", {"gpu": "a100"}, "nvidia-a100-80gb", 4)
    assert isinstance(pool, GpuPool)
    assert pool.node_selector == {"gpu": "a100"}
    assert any(t["key"] == GPU_RESOURCE and t["effect"] == "NoSchedule" for t in pool.tolerations)
    assert pool.max_nodes is None  # capacity is managed outside gpuplane


@pytest.mark.parametrize(
    ("load_balancer", "service_type"), [(True, "LoadBalancer"), (False, "NodePort")]
)
def test_cluster_contract_picks_the_ingress_service_type(
    load_balancer: bool, service_type: str
) -> None:
    provider = cast(Any, object())  # never used by the property
    cluster = Cluster(
        name="c", cloud="existing", provider=provider, kubeconfig=None, load_balancer=load_balancer
    )
    assert cluster.ingress_service_type == service_type
