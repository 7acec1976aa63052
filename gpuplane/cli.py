"""The `gpuplane` command."""

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from components.config import ConfigError
from gpuplane import engine, report
from gpuplane.graph import ResourceGraph
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
    started = time.perf_counter()
    try:
        graph = engine.plan(config)
    except ConfigError as exc:
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


@app.callback()
def _root() -> None:
    """gpuplane: plan the GPU inference platform offline, with no cloud credentials."""


def main() -> None:
    app()
