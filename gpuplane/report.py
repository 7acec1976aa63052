"""Renderings of a ResourceGraph for people: a tree, markdown, one-line summaries."""

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.tree import Tree

from gpuplane.graph import Resource, ResourceGraph


@dataclass(frozen=True)
class Summary:
    """One stack's plan in a line."""

    stack: str
    cloud: str
    resources: int
    components: int
    custom: int
    seconds: float
    error: str | None = None

    @classmethod
    def of(cls, graph: ResourceGraph, seconds: float) -> "Summary":
        components = sum(1 for r in graph if r.is_component)
        return cls(
            stack=graph.stack,
            cloud=str(graph.outputs.get("cloud", "?")),
            resources=len(graph),
            components=components,
            custom=len(graph) - components,
            seconds=seconds,
        )

    def line(self) -> str:
        if self.error is not None:
            return f"{self.stack:<12} error: {self.error}"
        return (
            f"{self.stack:<12} {self.cloud:<9} {self.resources:>4} resources "
            f"({self.components} components, {self.custom} custom)  {self.seconds:.2f}s"
        )


def _label(resource: Resource) -> str:
    if resource.is_component:
        return f"[bold cyan]{resource.name}[/]  [dim]{resource.type}[/]"
    extra = " [yellow]protected[/]" if resource.protect else ""
    return f"[bold]{resource.name}[/]  [dim]{resource.type}[/]{extra}"


def _sorted(resources: list[Resource]) -> list[Resource]:
    # Components first, then by type and name, so the tree reads the same every time.
    return sorted(resources, key=lambda r: (r.custom, r.type, r.name))


def tree(graph: ResourceGraph) -> RenderableType:
    """The graph as a tree grouped by component, then counts by kind."""
    root = Tree(f"[bold]stack {graph.stack}[/] (project {graph.project})")

    def add(node: Tree, resource: Resource) -> None:
        branch = node.add(_label(resource))
        for child in _sorted(graph.children(resource.urn)):
            add(branch, child)

    for resource in _sorted(graph.roots()):
        add(root, resource)

    counts = Table(title="resources by kind", title_justify="left", show_edge=False)
    counts.add_column("type")
    counts.add_column("count", justify="right")
    for type_, count in sorted(graph.counts_by_type().items()):
        counts.add_row(type_, str(count))
    counts.add_row("[bold]total[/]", f"[bold]{len(graph)}[/]")
    return Group(root, "", counts)


def markdown(graph: ResourceGraph) -> str:
    """The graph as a markdown nested list and a count table, for a PR comment."""
    lines = [f"### gpuplane plan: `{graph.stack}`", ""]

    def add(resource: Resource, depth: int) -> None:
        lines.append(f"{'  ' * depth}- `{resource.name}` ({resource.type})")
        for child in _sorted(graph.children(resource.urn)):
            add(child, depth + 1)

    for resource in _sorted(graph.roots()):
        add(resource, 0)
    lines += ["", "| type | count |", "|---|---:|"]
    for type_, count in sorted(graph.counts_by_type().items()):
        lines.append(f"| `{type_}` | {count} |")
    lines.append(f"| **total** | **{len(graph)}** |")
    return "\n".join(lines) + "\n"


def summaries_markdown(summaries: list[Summary]) -> str:
    lines = ["| stack | cloud | resources | components | custom |", "|---|---|---:|---:|---:|"]
    for s in summaries:
        if s.error is not None:
            lines.append(f"| {s.stack} | error: {s.error} | | | |")
        else:
            lines.append(f"| {s.stack} | {s.cloud} | {s.resources} | {s.components} | {s.custom} |")
    return "\n".join(lines) + "\n"
