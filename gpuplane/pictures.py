"""Dependency pictures of a graph: Mermaid and Graphviz DOT (components as clusters),
PNG through Graphviz's `dot` where it is installed, and a Mermaid Gantt chart of
the estimated deploy."""

import re
import shutil
import subprocess

from gpuplane.estimate import Estimate, waits_for
from gpuplane.graph import Resource, ResourceGraph


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH."""


def _ids(graph: ResourceGraph) -> dict[str, str]:
    return {urn: f"n{i}" for i, urn in enumerate(sorted(graph.resources))}


def _label(resource: Resource) -> str:
    kind = resource.type.rsplit(":", 1)[-1]
    return f"{resource.name}\\n{kind}"


def _mermaid_text(text: str) -> str:
    return re.sub(r'["\[\]{}<>]', "", text)


def _shown(graph: ResourceGraph) -> list[Resource]:
    """Custom resources except providers (every Kubernetes object points at one)."""
    return [r for r in graph if r.custom and not r.is_provider]


def _component(graph: ResourceGraph, resource: Resource) -> Resource | None:
    parent = resource.parent
    while parent in graph.resources:
        owner = graph.get(parent)
        if not owner.custom:
            return owner
        parent = owner.parent
    return None


def _groups(
    graph: ResourceGraph,
) -> tuple[list[tuple[str | None, list[Resource]]], set[str]]:
    """The shown resources grouped by their nearest component, and their URNs."""
    shown = _shown(graph)
    groups: dict[str | None, list[Resource]] = {}
    for resource in shown:
        owner = _component(graph, resource)
        groups.setdefault(owner.urn if owner else None, []).append(resource)
    return sorted(groups.items(), key=lambda kv: kv[0] or ""), {r.urn for r in shown}


def mermaid(graph: ResourceGraph) -> str:
    """`flowchart LR`, one subgraph per component, an arrow from each dependency."""
    ids = _ids(graph)
    groups, keep = _groups(graph)
    lines = ["flowchart LR"]
    for owner_urn, members in groups:
        indent = "  "
        if owner_urn is not None:
            owner = graph.get(owner_urn)
            lines.append(f'  subgraph {ids[owner_urn]}["{_mermaid_text(owner.name)}"]')
            indent = "    "
        for r in members:
            label = f"{_mermaid_text(r.name)}<br/>{_mermaid_text(r.type.rsplit(':', 1)[-1])}"
            lines.append(f'{indent}{ids[r.urn]}["{label}"]')
        if owner_urn is not None:
            lines.append("  end")
    for urn, deps in sorted(waits_for(graph).items()):
        if urn not in keep:
            continue
        for dep in sorted(deps & keep):
            lines.append(f"  {ids[dep]} --> {ids[urn]}")
    return "\n".join(lines) + "\n"


def dot(graph: ResourceGraph) -> str:
    """Graphviz DOT: components as `cluster_` subgraphs, edges from each dependency."""
    ids = _ids(graph)
    groups, keep = _groups(graph)
    lines = [
        f'digraph "{graph.project}-{graph.stack}" {{',
        "  rankdir=LR;",
        '  node [shape=box, fontsize=10, fontname="Helvetica"];',
    ]
    for owner_urn, members in groups:
        indent = "  "
        if owner_urn is not None:
            owner = graph.get(owner_urn)
            lines.append(f"  subgraph cluster_{ids[owner_urn]} {{")
            lines.append(f'    label="{owner.name}";')
            indent = "    "
        for r in members:
            lines.append(f'{indent}{ids[r.urn]} [label="{_label(r)}"];')
        if owner_urn is not None:
            lines.append("  }")
    for urn, deps in sorted(waits_for(graph).items()):
        if urn not in keep:
            continue
        for dep in sorted(deps & keep):
            lines.append(f"  {ids[dep]} -> {ids[urn]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def png(graph: ResourceGraph) -> bytes:
    """The DOT picture rendered by Graphviz."""
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizMissing(
            "PNG needs Graphviz's `dot` on PATH (Debian/Ubuntu: apt install graphviz; "
            "macOS: brew install graphviz); --format dot or mermaid need nothing"
        )
    result = subprocess.run(
        [binary, "-Tpng"], input=dot(graph).encode(), capture_output=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def gantt(graph: ResourceGraph, estimate: Estimate, *, longest: int = 40) -> str:
    """A Mermaid Gantt chart of the estimated deploy: the critical path, then the
    longest other resources, each from when its dependencies are done."""
    on_path = set(estimate.critical_path)
    others = sorted(
        (u for u in estimate.minutes if u not in on_path and estimate.minutes[u] >= 1.0),
        key=lambda u: -estimate.minutes[u],
    )[:longest]
    lines = [
        "gantt",
        f"  title {graph.stack}: about {estimate.critical_path_minutes:.0f} min to a working "
        "platform (estimate)",
        "  dateFormat X",
        "  axisFormat %M:%S",
    ]
    for section, urns in (("critical path", list(estimate.critical_path)), ("alongside", others)):
        if not urns:
            continue
        lines.append(f"  section {section}")
        for urn in urns:
            end = estimate.finish[urn]
            start = end - estimate.minutes[urn]
            name = _mermaid_text(graph.get(urn).name).replace(":", " ")
            tag = "crit, " if section == "critical path" else ""
            lines.append(f"  {name} :{tag}{int(start * 60)}, {int(end * 60)}")
    return "\n".join(lines) + "\n"
