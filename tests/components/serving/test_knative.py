"""Knative Serving: the version asked for, and budgets that let nodes drain."""

from collections.abc import Callable
from typing import Any

from gpuplane.graph import ResourceGraph
from tests.helpers import EXISTING, custom_resource_named


def _serving(graph: ResourceGraph) -> dict[str, Any]:
    return custom_resource_named(graph, "KnativeServing", "knative-serving").inputs["spec"]


def test_the_configured_serving_version_reaches_the_knative_serving(
    plan_mapping: Callable[..., ResourceGraph],
) -> None:
    stop = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": EXISTING["existing"],
            "gpuplane:serving": {"knative": {"installedVersion": "1.21.3", "version": "1.22.1"}},
        }
    )
    assert _serving(stop)["version"] == "1.22.1"


def test_the_pinned_serving_version_is_the_default(local_graph: ResourceGraph) -> None:
    assert _serving(local_graph)["version"] == "1.23.0"
