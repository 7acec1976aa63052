"""`gpuplane estimate --cold-start`: each pool's parts follow the stack's settings."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from gpuplane import estimate
from gpuplane.cli import app
from gpuplane.graph import ResourceGraph
from tests.helpers import stack_file_config

runner = CliRunner()


def _pools(graph: ResourceGraph, gb: float = 15.0) -> dict[str, estimate.PoolColdStart]:
    return {p.pool: p for p in estimate.cold_start(graph, gb).pools}


def test_eks_pool_with_soci_and_without(
    stack_graphs: dict[str, ResourceGraph], plan_mapping: Callable[..., ResourceGraph]
) -> None:
    pool = _pools(stack_graphs["aws-dev"])["l4"]
    assert (pool.cloud, pool.acceleration) == ("aws", "SOCI parallel pull")
    assert pool.pull is estimate.PULL_SOCI and pool.node is estimate.NODE_KARPENTER
    config: dict[str, Any] = stack_file_config("aws-dev")
    config["gpuplane:aws"] = {**config["gpuplane:aws"], "fastImagePull": False}
    plain = _pools(plan_mapping(config))["l4"]
    assert plain.acceleration == "none" and plain.pull is estimate.PULL_DEFAULT
    # The cache's copy overlaps the pull, so the pull and the weights move together.
    assert plain.total - pool.total == pytest.approx(
        estimate.PULL_DEFAULT.minutes
        + plain.weights.minutes
        - estimate.PULL_SOCI.minutes
        - pool.weights.minutes
    )


def test_gke_streaming_and_aks_none(stack_graphs: dict[str, ResourceGraph]) -> None:
    gke = _pools(stack_graphs["gcp-dev"])
    assert gke and all(p.acceleration == "image streaming" for p in gke.values())
    assert all(p.pull is estimate.PULL_STREAMING for p in gke.values())
    aks = _pools(stack_graphs["azure-dev"])
    assert aks and all(p.pull is estimate.PULL_DEFAULT for p in aks.values())
    assert all("not offered on AKS" in p.acceleration for p in aks.values())
    assert _pools(stack_graphs["local"]) == {}


def test_weights_follow_the_model_size(stack_graphs: dict[str, ResourceGraph]) -> None:
    small = _pools(stack_graphs["aws-dev"], 1.0)["l4"]
    big = _pools(stack_graphs["aws-dev"], 30.0)["l4"]
    assert small.weights_bucket.minutes == pytest.approx(1.0 / estimate.BUCKET_GB_PER_S / 60)
    assert big.weights_bucket.minutes == pytest.approx(30.0 / estimate.BUCKET_GB_PER_S / 60)
    # The cache's copy overlaps the image pull: only what outlasts it counts.
    assert small.weights_cache.minutes == 0.0
    assert big.weights_cache.minutes == pytest.approx(big.weights_bucket.minutes - big.pull.minutes)
    # aws-dev keeps the cache on its l4 pool: the total counts the cache, not the bucket.
    assert big.cached
    assert big.total == pytest.approx(
        big.node.minutes + big.pull.minutes + big.weights_cache.minutes + big.load.minutes
    )


def test_the_total_counts_the_bucket_where_the_cache_is_off(
    plan_mapping: Callable[..., ResourceGraph],
) -> None:
    config: dict[str, Any] = stack_file_config("aws-dev")
    config["gpuplane:models"] = {"cache": {**config["gpuplane:models"]["cache"], "enabled": False}}
    pool = _pools(plan_mapping(config), 30.0)["l4"]
    assert not pool.cached
    assert pool.total == pytest.approx(
        pool.node.minutes + pool.pull.minutes + pool.weights_bucket.minutes + pool.load.minutes
    )
    result = runner.invoke(app, ["estimate", "-s", "aws-dev", "--cold-start", "-f", "json"])
    assert json.loads(result.output)["pools"][0]["node_cache"] is True


def test_cli_json_and_bad_size() -> None:
    result = runner.invoke(app, ["estimate", "-s", "gcp-prod", "--cold-start", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model_gb"] == 15.0 and len(data["pools"]) >= 1
    for pool in data["pools"]:
        parts = ("node_from_zero", "image_pull", "weights_from_bucket", "model_load")
        assert pool["total_minutes"] == pytest.approx(
            sum(pool[k]["minutes"] for k in parts), abs=0.05
        )
        assert "REFERENCE.md section 3" in pool["image_pull"]["source"]
    result = runner.invoke(app, ["estimate", "--cold-start", "--model-gb", "0"])
    assert result.exit_code == 2 and "--model-gb" in result.output
