"""The deploy estimate's critical path on a hand-built graph, and the pictures."""

import re
import shutil
import subprocess

import pytest

from gpuplane import pictures
from gpuplane.estimate import DURATIONS, duration, estimate
from gpuplane.graph import Resource, ResourceGraph


def _graph(*entries: tuple[str, str, tuple[str, ...], str | None, bool]) -> ResourceGraph:
    """(name, type, depends on names, parent name, custom) -> a graph."""
    g = ResourceGraph(project="p", stack="s")
    urn = {name: f"urn:pulumi:s::p::{t}::{name}" for name, t, *_ in entries}
    for name, resource_type, deps, parent, custom in entries:
        g.resources[urn[name]] = Resource(
            urn=urn[name],
            type=resource_type,
            name=name,
            custom=custom,
            parent=urn[parent] if parent else None,
            dependencies=tuple(urn[d] for d in deps),
        )
    return g


EKS = "aws:eks/cluster:Cluster"
NODES = "aws:eks/nodeGroup:NodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"
KEY = "aws:kms/key:Key"


def test_critical_path_by_hand() -> None:
    g = _graph(
        ("key", KEY, (), None, True),
        ("eks", EKS, ("key",), None, True),
        ("nodes", NODES, ("eks",), None, True),
        ("istio", RELEASE, ("nodes",), None, True),
        ("bucket", "aws:s3/bucket:Bucket", (), None, True),
    )
    result = estimate(g)
    key, eks, nodes, release, bucket = (
        DURATIONS[t].minutes for t in (KEY, EKS, NODES, RELEASE, "aws:s3/bucket:Bucket")
    )
    assert result.critical_path_minutes == pytest.approx(key + eks + nodes + release)
    assert result.serial_minutes == pytest.approx(key + eks + nodes + release + bucket)
    assert [g.get(u).name for u in result.critical_path] == ["key", "eks", "nodes", "istio"]
    assert result.to_json()["critical_path"] == list(result.critical_path)


def test_waiting_on_a_component_waits_for_all_its_children() -> None:
    g = _graph(
        ("cluster", "gpuplane:clusters:EksCluster", (), None, False),
        ("eks", EKS, (), "cluster", True),
        ("nodes", NODES, ("eks",), "cluster", True),
        ("istio", RELEASE, ("cluster",), None, True),
    )
    result = estimate(g)
    assert [g.get(u).name for u in result.critical_path] == ["eks", "nodes", "istio"]


def test_a_needless_dependency_shows_in_the_estimate() -> None:
    parallel = _graph(
        ("eks", EKS, (), None, True),
        ("gpu", NODES, ("eks",), None, True),
        ("istio", RELEASE, ("eks",), None, True),
    )
    chained = _graph(
        ("eks", EKS, (), None, True),
        ("gpu", NODES, ("eks",), None, True),
        ("istio", RELEASE, ("gpu",), None, True),
    )
    assert estimate(chained).critical_path_minutes - estimate(parallel).critical_path_minutes == (
        pytest.approx(DURATIONS[RELEASE].minutes)
    )


def test_every_modelled_duration_names_its_source() -> None:
    for model in DURATIONS.values():
        assert model.minutes >= 0 and model.source
    assert (
        "REFERENCE.md section 3"
        in duration(Resource(urn="u", type=EKS, name="e", custom=True)).source
    )


@pytest.mark.parametrize("stack", ["aws-dev", "gcp-dev", "azure-dev"])
def test_shipped_stack_estimates(stack_graphs: dict, stack: str) -> None:
    result = estimate(stack_graphs[stack])
    assert 10 < result.critical_path_minutes < result.serial_minutes
    names = [stack_graphs[stack].get(u).type for u in result.critical_path]
    assert any(
        t.endswith(
            ("eks/cluster:Cluster", "container/cluster:Cluster", "containerservice:ManagedCluster")
        )
        for t in names
    )


def _mermaid_ids(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    nodes = set(re.findall(r"^\s+(n\d+)\[", text, re.M))
    edges = re.findall(r"^\s+(n\d+) --> (n\d+)$", text, re.M)
    return nodes, edges


def test_mermaid_is_well_formed(stack_graphs: dict) -> None:
    text = pictures.mermaid(stack_graphs["aws-dev"])
    assert text.startswith("flowchart LR\n")
    assert text.count("subgraph ") == text.count("\n  end")
    nodes, edges = _mermaid_ids(text)
    assert edges and all(a in nodes and b in nodes for a, b in edges)
    # Every label is name<br/>kind, nothing stripped.
    assert '["gpuplane-dev-eks<br/>Cluster"]' in text


def test_dot_is_well_formed(stack_graphs: dict) -> None:
    text = pictures.dot(stack_graphs["gcp-dev"])
    assert text.startswith('digraph "gpuplane-gcp-dev" {') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    assert "subgraph cluster_" in text
    declared = set(re.findall(r"^\s+(n\d+) \[label=", text, re.M))
    edges = re.findall(r"^\s+(n\d+) -> (n\d+);$", text, re.M)
    assert edges and all(a in declared and b in declared for a, b in edges)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_dot_parses_with_graphviz(stack_graphs: dict) -> None:
    result = subprocess.run(
        ["dot", "-Tsvg"],
        input=pictures.dot(stack_graphs["azure-dev"]).encode(),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_png_without_graphviz_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, local_graph: ResourceGraph
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(pictures.GraphvizMissing, match="apt install graphviz"):
        pictures.png(local_graph)


def test_gantt_follows_the_estimate(stack_graphs: dict) -> None:
    graph = stack_graphs["azure-dev"]
    result = estimate(graph)
    text = pictures.gantt(graph, result)
    assert text.startswith("gantt\n") and "dateFormat X" in text
    crit = re.findall(r":crit, (\d+), (\d+)$", text, re.M)
    assert len(crit) == len(result.critical_path)
    assert int(crit[-1][1]) == int(result.critical_path_minutes * 60)


def test_cli_estimate_json_and_graph_formats(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from gpuplane.cli import app

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    runner = CliRunner()
    result = runner.invoke(app, ["estimate", "--stack", "gcp-dev", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"critical_path_minutes", "serial_minutes", "critical_path"}
    assert data["critical_path"][-1].startswith("urn:pulumi:gcp-dev::gpuplane::")
    for fmt, start in (("mermaid", "flowchart LR"), ("dot", "digraph"), ("gantt", "gantt")):
        result = runner.invoke(app, ["graph", "--stack", "local", "--format", fmt])
        assert result.exit_code == 0 and result.output.startswith(start), fmt
    result = runner.invoke(app, ["graph", "--stack", "local", "--format", "png"])
    assert result.exit_code == 2  # binary output needs --output (or Graphviz is missing)
