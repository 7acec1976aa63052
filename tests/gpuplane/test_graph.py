"""The graph's JSON format: documented keys, a faithful round-trip, clear errors."""

import json
from pathlib import Path

import pytest

from gpuplane.graph import GraphFormatError, ResourceGraph

DOCUMENTED_KEYS = {
    "urn",
    "type",
    "name",
    "custom",
    "remote",
    "parent",
    "provider",
    "dependencies",
    "inputs",
    "protect",
    "ignoreChanges",
}


def test_json_has_the_documented_shape(local_graph: ResourceGraph) -> None:
    data = json.loads(local_graph.dumps())
    assert data["version"] == 1
    assert data["project"] == "gpuplane" and data["stack"] == "local"
    assert isinstance(data["outputs"], dict)
    for entry in data["resources"]:
        assert set(entry) >= DOCUMENTED_KEYS
    urns = [entry["urn"] for entry in data["resources"]]
    assert urns == sorted(urns)


def test_json_round_trip_is_exact(local_graph: ResourceGraph, tmp_path: Path) -> None:
    path = tmp_path / "graph.json"
    path.write_text(local_graph.dumps())
    again = ResourceGraph.load(path)
    assert again.dumps() == local_graph.dumps()
    assert again.resources == local_graph.resources


def test_docs_name_every_resource_key(local_graph: ResourceGraph) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "graph-format.md").read_text()
    for key in json.loads(local_graph.dumps())["resources"][0]:
        assert f"`{key}`" in doc, key


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not JSON"),
        ("[]", '"version": 1'),
        ('{"version": 2, "resources": []}', '"version": 1'),
        ('{"version": 1, "resources": {}}', "must be a list"),
        ('{"version": 1, "resources": [{"type": "x"}]}', "missing"),
    ],
)
def test_bad_graph_files_are_refused_clearly(text: str, fragment: str) -> None:
    with pytest.raises(GraphFormatError, match=fragment):
        ResourceGraph.loads(text)


def test_graph_navigation(local_graph: ResourceGraph) -> None:
    provider = local_graph.named("local-k8s")
    assert [r.name for r in local_graph.ancestors(provider.urn)] == ["local"]
    assert sorted(r.name for r in local_graph.roots()) == ["local", "local-serving"]
    assert local_graph.counts_by_type()["pulumi:providers:kubernetes"] == 1
