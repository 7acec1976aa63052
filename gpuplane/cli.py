"""The `gpuplane` command."""

import asyncio
import atexit
import contextlib
import gc
import json
import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

# Light imports only: the policy pack (pulumi_policy, pulumi) loads in the commands that
# check, and the engine (and a cloud's SDK) only when a stack is planned.
from gpuplane import cost, estimate, pictures, report
from gpuplane.graph import GraphFormatError, ResourceGraph
from gpuplane.stacks import DEFAULT_STACK, StackConfig, StackError, find_project, load_stack

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="gpuplane: plan the GPU inference platform offline, with no cloud credentials.",
)
# Wide enough off a terminal (CI logs, pipes) that type names are not cut.
out = Console(soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, emoji=False)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


StackOption = Annotated[
    str | None,
    typer.Option("--stack", "-s", help="Stack name: stacks/Pulumi.<NAME>.yaml."),
]
StackFileOption = Annotated[
    Path | None,
    typer.Option("--stack-file", help="Path to a Pulumi.<stack>.yaml of your own."),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _select(stack: str | None, stack_file: Path | None) -> StackConfig:
    if stack is not None and stack_file is not None:
        raise _fail("use --stack or --stack-file, not both")
    try:
        project = find_project()
        return load_stack(project, name=stack, path=stack_file)
    except StackError as exc:
        raise _fail(str(exc)) from None


def _plan(config: StackConfig) -> tuple[ResourceGraph, float]:
    # The engine (and through the program, a cloud's SDK) loads only when a stack is
    # planned: commands on a saved graph never pay for it.
    from gpuplane import engine
    from gpuplane.components.config import ConfigError
    from gpuplane.components.extras import MissingExtraError

    started = time.perf_counter()
    try:
        graph = engine.plan(config)
    except ConfigError as exc:
        raise _fail(f"stack {config.name}: {exc}") from None
    except MissingExtraError as exc:
        raise _fail(f"stack {config.name}: {exc}") from None
    except engine.EngineError as exc:
        raise _fail(f"stack {config.name}: {exc}", EXIT_FAILED) from None
    return graph, time.perf_counter() - started


def _render(graph: ResourceGraph, fmt: Format) -> None:
    if fmt is Format.json:
        sys.stdout.write(graph.dumps())
    elif fmt is Format.markdown:
        sys.stdout.write(report.markdown(graph))
    else:
        out.print(report.tree(graph))


@app.command()
def plan(
    stack: StackOption = None,
    stack_file: StackFileOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Plan a stack offline and show what `pulumi up` would create.

    With no stack option: the default stack (local) in full, then one summary
    line for every stack in stacks/ (json: the default stack's graph only).
    """
    if stack is not None or stack_file is not None:
        graph, _ = _plan(_select(stack, stack_file))
        _render(graph, fmt)
        return

    try:
        project = find_project()
    except StackError as exc:
        raise _fail(str(exc)) from None
    names = project.stack_names()
    planned: dict[str, tuple[ResourceGraph, float]] = {}
    if DEFAULT_STACK in names:
        planned[DEFAULT_STACK] = _plan(load_stack(project, DEFAULT_STACK))
        _render(planned[DEFAULT_STACK][0], fmt)
    if fmt is Format.json:
        return

    summaries: list[report.Summary] = []
    failed = False
    for name in names:
        try:
            graph, seconds = planned.get(name) or _plan(load_stack(project, name))
            summaries.append(report.Summary.of(graph, seconds))
        except typer.Exit:
            failed = True
            summaries.append(report.Summary(name, "", 0, 0, 0, 0.0, error="see above"))
    if fmt is Format.markdown:
        sys.stdout.write("\n" + report.summaries_markdown(summaries))
    else:
        out.print("\n[bold]every stack[/]")
        for summary in summaries:
            out.print(summary.line(), highlight=False, markup=False)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"


class RulesFormat(StrEnum):
    text = "text"
    json = "json"


GraphOption = Annotated[
    Path | None,
    typer.Option("--graph", help="A graph JSON file (`gpuplane plan --format json`)."),
]


def _load_graph(
    stack: str | None, stack_file: Path | None, graph: Path | None
) -> tuple[ResourceGraph, Path | None]:
    """The graph to work on, and the stack file it came from (if any)."""
    if graph is not None:
        if stack is not None or stack_file is not None:
            raise _fail("use one of --stack, --stack-file and --graph")
        try:
            return ResourceGraph.load(graph), None
        except GraphFormatError as exc:
            raise _fail(f"{graph}: {exc}") from None
    config = _select(stack or DEFAULT_STACK if stack_file is None else None, stack_file)
    planned, _ = _plan(config)
    source = config.path
    if source is not None:
        with contextlib.suppress(ValueError):  # outside the working directory: keep it
            source = source.resolve().relative_to(Path.cwd().resolve())
    return planned, source


@app.command("check")
def check_command(
    stack: StackOption = None,
    stack_file: StackFileOption = None,
    graph: GraphOption = None,
    policy_config: Annotated[
        Path | None,
        typer.Option(
            "--policy-config",
            help="Policy pack config JSON, as `pulumi preview --policy-pack-config` takes it.",
        ),
    ] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = (
        CheckFormat.text
    ),
) -> None:
    """Run the policy pack (policies/) over a stack's offline plan, or a saved graph.

    Exit 0 with no mandatory violation, 1 with any, 2 on bad input.
    """
    from gpuplane import check_report
    from gpuplane.check import PackConfig, PolicyConfigError, check

    try:
        config = PackConfig.load(policy_config)
    except PolicyConfigError as exc:
        raise _fail(str(exc)) from None
    planned, source = _load_graph(stack, stack_file, graph)
    try:
        result = check(planned, config)
    except PolicyConfigError as exc:  # includes a rule that crashed (PolicyRuntimeError)
        raise _fail(str(exc)) from None
    if fmt is CheckFormat.json:
        sys.stdout.write(check_report.as_json(result))
    elif fmt is CheckFormat.markdown:
        sys.stdout.write(check_report.markdown(result))
    elif fmt is CheckFormat.sarif:
        sys.stdout.write(check_report.sarif(result, source))
    else:
        sys.stdout.write(check_report.text(result))
    raise typer.Exit(EXIT_FAILED if result.mandatory else EXIT_OK)


@app.command("rules")
def rules_command(
    fmt: Annotated[RulesFormat, typer.Option("--format", "-f", help="Output format.")] = (
        RulesFormat.text
    ),
) -> None:
    """List every policy of the pack: id, name, level, severity, resource types, anchor."""
    from gpuplane import check_report

    sys.stdout.write(
        check_report.rules_json() if fmt is RulesFormat.json else check_report.rules_text()
    )


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")]


def _emit(
    fmt: ReportFormat, data: Callable[[], Any], md: Callable[[], str], txt: Callable[[], str]
) -> None:
    """Write a report in the chosen format."""
    if fmt is ReportFormat.json:
        sys.stdout.write(json.dumps(data(), indent=2) + "\n")
    elif fmt is ReportFormat.markdown:
        sys.stdout.write(md())
    else:
        sys.stdout.write(txt())


@app.command("cost")
def cost_command(
    stack: StackOption = None,
    stack_file: StackFileOption = None,
    graph: GraphOption = None,
    fmt: ReportFormatOption = ReportFormat.text,
) -> None:
    """Idle and peak cost (per hour and month) from dated price tables, per resource."""
    planned, _ = _load_graph(stack, stack_file, graph)
    try:
        result = cost.cost(planned)
    except cost.PriceError as exc:
        raise _fail(str(exc)) from None
    _emit(fmt, result.to_json, lambda: cost.markdown(result), lambda: cost.text(result))


@app.command("estimate")
def estimate_command(
    stack: StackOption = None,
    stack_file: StackFileOption = None,
    graph: GraphOption = None,
    fmt: ReportFormatOption = ReportFormat.text,
) -> None:
    """Minutes to a working platform from an empty account: the critical path."""
    planned, _ = _load_graph(stack, stack_file, graph)
    result = estimate.estimate(planned)
    _emit(
        fmt,
        result.to_json,
        lambda: estimate.markdown(planned, result),
        lambda: estimate.text(planned, result),
    )


class PictureFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    png = "png"
    gantt = "gantt"


@app.command("graph")
def graph_command(
    stack: StackOption = None,
    stack_file: StackFileOption = None,
    graph: GraphOption = None,
    fmt: Annotated[
        PictureFormat,
        typer.Option("--format", "-f", help="mermaid, dot, png (Graphviz) or gantt (Mermaid)."),
    ] = PictureFormat.mermaid,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """The dependency graph (components as clusters), or a Gantt chart of the deploy."""
    planned, _ = _load_graph(stack, stack_file, graph)
    if fmt is PictureFormat.png:
        try:
            data: bytes | str = pictures.png(planned)
        except pictures.GraphvizMissing as exc:
            raise _fail(str(exc)) from None
        if output is None:
            raise _fail("--format png writes binary data: give --output FILE.png")
    elif fmt is PictureFormat.dot:
        data = pictures.dot(planned)
    elif fmt is PictureFormat.gantt:
        data = pictures.gantt(planned, estimate.estimate(planned))
    else:
        data = pictures.mermaid(planned)
    if output is not None:
        if isinstance(data, bytes):
            output.write_bytes(data)
        else:
            output.write_text(data)
        return
    assert isinstance(data, str)
    sys.stdout.write(data)


@app.command("diff")
def diff_command(
    base: Annotated[str, typer.Option("--base", help="The git ref to compare against.")],
    stack: StackOption = None,
    fmt: ReportFormatOption = ReportFormat.text,
) -> None:
    """Compare a stack planned at --base with the working tree.

    Shows resources added, removed and changed, the cost delta, new and fixed policy
    violations, and the deploy estimate delta.
    """
    from gpuplane import diff

    name = stack or DEFAULT_STACK
    head_config = _select(name, None)
    head, _ = _plan(head_config)
    try:
        base_graph = diff.plan_at_ref(head_config.project_dir, base, name)
    except diff.DiffError as exc:
        raise _fail(str(exc)) from None
    result = diff.compare(base_graph, head, base)
    _emit(fmt, result.to_json, lambda: diff.markdown(result), lambda: diff.text(result))


@app.callback()
def _root() -> None:
    """gpuplane: plan the GPU inference platform offline, with no cloud credentials."""


def _close_stray_event_loops() -> None:
    """Pulumi's sync-await helper leaves event loops behind (one per worker thread that
    awaited); close them before interpreter shutdown, where their destructors would
    print a spurious "Invalid file descriptor" error."""
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.BaseEventLoop) and not obj.is_closed():
            with contextlib.suppress(Exception):
                obj.close()


def main() -> None:
    # A short, bounded process whose objects mostly live until exit (modules, the
    # graph): the cyclic collector's frequent passes over them during imports and
    # planning cost much and free little, so it runs rarely (benchmarks/run.py).
    gc.set_threshold(100_000, 50, 50)
    atexit.register(_close_stray_event_loops)
    app()
