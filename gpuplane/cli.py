"""The `gpuplane` command."""

import contextlib
import errno
import gc
import importlib.metadata
import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

# Light imports only: the policy pack (pulumi_policy, pulumi) loads in the commands that
# check, the engine (and a cloud's SDK) only when a stack is planned, and the cost and
# estimate models (tens of ms) in the commands that show them.
from gpuplane import report, sdk_import
from gpuplane.graph import GraphFormatError, ResourceGraph
from gpuplane.loader import InputError
from gpuplane.stacks import DEFAULT_STACK, StackConfig, StackError, find_project, load_stack


class _Guarded(typer.core.TyperGroup):
    """The one error boundary, around every command (present and future): input errors
    exit 2 with their one line, anything unexpected exits 3 with one line; the traceback
    only with GPUPLANE_DEBUG=1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _is_bad_input(exc):
                _debug_traceback()
                _error(str(exc))
                raise typer.Exit(EXIT_BAD_INPUT) from None
            if _stdout_broken(exc):
                _silence_stdout()
                _error(_STDOUT_GONE)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            _debug_traceback()
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            _error(
                f"internal error: {type(exc).__name__}: {first} (a bug in gpuplane; "
                f"{DEBUG_ENV}=1 shows the traceback)"
            )
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    cls=_Guarded,
    add_completion=False,
    no_args_is_help=True,
    help="gpuplane: plan the GPU inference platform offline, with no cloud credentials.",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError):
        return False


# Wide enough off a terminal (CI logs, pipes) that type names are not cut.
out = Console(soft_wrap=True, emoji=False, width=None if _is_tty(sys.stdout) else 160)
err = Console(stderr=True, soft_wrap=True, emoji=False)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
DEBUG_ENV = "GPUPLANE_DEBUG"
# Failures that are the input's fault exit 2 with their one-line message; anything
# else that escapes a command is a bug in gpuplane: exit 3. Input errors of modules
# the command loads only when needed are looked up in sys.modules (no heavy import).
_LAZY_BAD_INPUT = (
    ("gpuplane.cost", "PriceError"),
    ("gpuplane.components.config", "ConfigError"),
    ("gpuplane.components.extras", "MissingExtraError"),
    ("gpuplane.diff", "DiffError"),
)


def _is_bad_input(exc: BaseException) -> bool:
    """Whether a failure is the input's fault (exit 2) rather than gpuplane's (exit 3)."""
    if isinstance(exc, InputError | StackError | GraphFormatError):
        return True
    for module, name in _LAZY_BAD_INPUT:
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type) and isinstance(exc, kind):
            return True
    return False


_STDOUT_GONE = "cannot write to standard output (closed, or the reader went away)"
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


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


def _check_stack_name(stack: str | None) -> None:
    """`--stack ''` or a path is refused, never read as the default stack or a file."""
    if stack is not None and not _STACK_NAME.match(stack):
        raise _fail(
            f"--stack: {stack!r} is not a stack name (letters, digits, '-', '_' and '.'; "
            "the NAME of stacks/Pulumi.NAME.yaml); for a file of your own use --stack-file"
        )


def _select(stack: str | None, stack_file: Path | None) -> StackConfig:
    if stack is not None and stack_file is not None:
        raise _fail("use --stack or --stack-file, not both")
    _check_stack_name(stack)
    try:
        project = find_project()
        return load_stack(project, name=stack, path=stack_file)
    except StackError as exc:
        raise _fail(str(exc)) from None


@contextlib.contextmanager
def _step(what: str) -> Any:
    """A spinner on stderr for a step that takes over a second, on a terminal only."""
    if not _is_tty(sys.stderr):
        yield
        return
    status = err.status(what, spinner="dots")
    lock = threading.Lock()
    state = {"started": False, "done": False}

    def start() -> None:
        with lock:
            if not state["done"]:
                status.start()
                state["started"] = True

    timer = threading.Timer(1.0, start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["started"]:
                status.stop()


def _plan(config: StackConfig) -> tuple[ResourceGraph, float]:
    # The engine (and through the program, a cloud's SDK) loads only when a stack is
    # planned: commands on a saved graph never pay for it.
    from gpuplane import engine
    from gpuplane.components.config import ConfigError
    from gpuplane.components.extras import MissingExtraError

    started = time.perf_counter()
    where = config.path or f"stack {config.name}"
    try:
        with _step(f"planning {config.name}"):
            graph = engine.plan(config)
    except ConfigError as exc:
        raise _fail(f"{where}: {exc}") from None
    except MissingExtraError as exc:
        raise _fail(f"{where}: {exc}") from None
    except engine.EngineError as exc:
        raise _fail(f"stack {config.name}: {exc}", EXIT_INTERNAL) from None
    return graph, time.perf_counter() - started


def _render(graph: ResourceGraph, fmt: Format) -> None:
    if fmt is Format.json:
        sys.stdout.write(graph.dumps())
    elif fmt is Format.markdown:
        sys.stdout.write(report.markdown(graph))
    else:
        out.print(report.tree(graph))


PLACEHOLDER_RULES = ("GP-STACK-002", "GP-STACK-003")


def _warn_placeholders(graph: ResourceGraph) -> None:
    """Placeholders left in a stack, one line each on stderr. Plan is no gate (its exit
    code stays 0); `gpuplane check` blocks on them in prod."""
    from gpuplane.check import check
    from gpuplane.policies.catalogue import RULES

    rules = [rule for rule in RULES if rule.id in PLACEHOLDER_RULES]
    for violation in check(graph, rules=rules).violations:
        blocks = " (blocks `gpuplane check`)" if violation.level == "mandatory" else ""
        err.print(
            f"[yellow]warning:[/] {escape(graph.stack)}: {escape(violation.message)}{blocks}",
            highlight=False,
        )


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
        _warn_placeholders(graph)
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
            _warn_placeholders(graph)
        except StackError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            failed = True
            summaries.append(report.Summary(name, "", 0, 0, 0, 0.0, error="see above"))
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


ChartsOption = Annotated[
    Path | None,
    typer.Option(
        "--charts",
        help="The chart cache directory (default: $XDG_CACHE_HOME/gpuplane/charts).",
    ),
]

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
        loaded = ResourceGraph.load(graph)
        if not any(r.custom for r in loaded):
            raise _fail(
                f"{graph}: the graph has no resources to check; give the output of "
                "`gpuplane plan --format json` for a stack"
            )
        return loaded, None
    config = _select(stack or DEFAULT_STACK if stack_file is None else None, stack_file)
    planned, _ = _plan(config)
    source = config.path
    if source is not None:
        with contextlib.suppress(ValueError):  # outside the working directory: keep it
            source = source.resolve().relative_to(Path.cwd().resolve())
    return planned, source


class FailOn(StrEnum):
    mandatory = "mandatory"
    advisory = "advisory"


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
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="Kubernetes YAML of your own (InferenceServices, ...): the pack's resource "
            "rules over its objects; ${VAR} placeholders come from the environment.",
        ),
    ] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = (
        CheckFormat.text
    ),
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on", help="Exit 1 on mandatory violations only, or on advisory ones too."
        ),
    ] = FailOn.mandatory,
    soft_fail: Annotated[
        bool, typer.Option("--soft-fail", help="Report violations but always exit 0 for them.")
    ] = False,
    skip_rule: Annotated[
        list[str] | None,
        typer.Option(
            "--skip-rule", help="Leave out a rule, by id or name (repeat the option for more)."
        ),
    ] = None,
    render: Annotated[
        bool,
        typer.Option(
            "--render",
            help="Also check every object the Helm releases render to (needs the charts: "
            "`gpuplane charts pull`), with the render-only rules.",
        ),
    ] = False,
    charts: ChartsOption = None,
) -> None:
    """Run the policy pack (policies/) over a stack's offline plan, a saved graph, or a
    manifest file.

    With --render, the releases are rendered by the Helm engine and their objects checked
    too (CrossGuard cannot do this: it sees a release as one resource).
    Exit 0 with no mandatory violation, 1 with any (--fail-on advisory: with any
    violation; --soft-fail: never), 2 on bad input, 3 on an internal error.
    """
    from gpuplane import check_report
    from gpuplane.check import PackConfig, check

    config = PackConfig.load(policy_config)
    rules = check_report.rules_without(skip_rule) if skip_rule else None
    if manifest is not None:
        if stack is not None or stack_file is not None or graph is not None:
            raise _fail("use one of --stack, --stack-file, --graph and --manifest")
        planned, source = _manifest_graph(manifest), manifest
        config = config.without_stack_rules()
    else:
        planned, source = _load_graph(stack, stack_file, graph)
    with _step("checking"):
        result = check(planned, config, rules=rules)
    if render:
        from gpuplane import render_check

        rendered = _render_stack(planned, charts, graph)
        with _step("checking the rendered objects"):
            skip = check_report.skipped_ids(skip_rule or ())
            result.violations += render_check.check_rendered(rendered, planned, config, skip)
        result.rendered = sum(len(r.objects) for r in rendered.releases)
    if fmt is CheckFormat.json:
        sys.stdout.write(check_report.as_json(result))
    elif fmt is CheckFormat.markdown:
        sys.stdout.write(check_report.markdown(result))
    elif fmt is CheckFormat.sarif:
        sys.stdout.write(check_report.sarif(result, source, version=_version()))
    else:
        sys.stdout.write(check_report.text(result, color=_colour(sys.stdout)))
    failing = result.violations if fail_on is FailOn.advisory else result.mandatory
    raise typer.Exit(EXIT_FAILED if failing and not soft_fail else EXIT_OK)


def _colour(stream: Any) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return _is_tty(stream) and not os.environ.get("NO_COLOR")


def _manifest_graph(path: Path) -> ResourceGraph:
    import os

    from gpuplane import manifests

    try:
        return manifests.graph(manifests.load(path, os.environ), str(path))
    except manifests.ManifestError as exc:
        raise _fail(str(exc)) from None


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
    from gpuplane import cost

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
    cold: Annotated[
        bool,
        typer.Option(
            "--cold-start",
            help="Instead: the modelled first request after idle, per GPU pool.",
        ),
    ] = False,
    model_gb: Annotated[
        float, typer.Option("--model-gb", help="Model weights in GB, for --cold-start.")
    ] = 15.0,
) -> None:
    """Minutes to a working platform from an empty account: the critical path.

    With --cold-start: minutes from a request to a model at zero to its answer, per GPU
    pool (node from zero, image pull with and without the pool's acceleration, weights
    from the bucket or the node cache, model load).
    """
    from gpuplane import estimate

    planned, _ = _load_graph(stack, stack_file, graph)
    if cold:
        try:
            modelled = estimate.cold_start(planned, model_gb)
        except ValueError as exc:
            raise _fail(f"--model-gb: {exc}") from None
        _emit(
            fmt,
            modelled.to_json,
            lambda: estimate.cold_start_markdown(modelled),
            lambda: estimate.cold_start_text(modelled),
        )
        return
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
    from gpuplane import pictures
    from gpuplane.estimate import estimate

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
        data = pictures.gantt(planned, estimate(planned))
    else:
        data = pictures.mermaid(planned)
    if output is not None:
        _write_file(output, data)
        return
    assert isinstance(data, str)
    sys.stdout.write(data)


def _write_file(path: Path, data: bytes | str) -> None:
    """Write an output file, or exit 2 naming it (missing directory, a directory, no right)."""
    if path.is_dir():
        raise _fail(f"--output {path}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise _fail(f"--output {path}: the directory {path.parent} does not exist")
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"--output {path}: cannot write: {exc.strerror or exc}") from None


@app.command("diff")
def diff_command(
    base: Annotated[str, typer.Option("--base", help="The git ref to compare against.")],
    stack: StackOption = None,
    fmt: ReportFormatOption = ReportFormat.text,
    exit_code: Annotated[
        bool,
        typer.Option("--exit-code", help="Exit 1 when any resource changes, 0 when none does."),
    ] = False,
    render: Annotated[
        bool,
        typer.Option("--render", help="Policy violations include the releases' rendered objects."),
    ] = False,
    charts: ChartsOption = None,
) -> None:
    """Compare a stack planned at --base with the working tree.

    Shows resources added, removed and changed (each input old -> new, secrets
    redacted, a replaces mark where a change recreates a resource), the cost delta,
    new and fixed policy violations, and the deploy estimate delta.
    """
    from gpuplane import diff

    _check_stack_name(stack)
    name = stack or DEFAULT_STACK
    head_config = _select(name, None)
    head, _ = _plan(head_config)
    try:
        base_graph = diff.plan_at_ref(head_config.project_dir, base, name)
    except diff.DiffError as exc:
        raise _fail(str(exc)) from None
    violations = None
    if render:
        from gpuplane import render_check
        from gpuplane.check import PolicyConfigError, Violation, check

        def violations(graph: ResourceGraph) -> list[Violation]:
            rendered = _render_stack(graph, charts)
            try:
                found = check(graph).violations
                return found + render_check.check_rendered(rendered, graph)
            except PolicyConfigError as exc:
                raise _fail(str(exc)) from None

    result = diff.compare(base_graph, head, base, violations)
    _emit(fmt, result.to_json, lambda: diff.markdown(result), lambda: diff.text(result))
    if exit_code and result.any_change:
        raise typer.Exit(EXIT_FAILED)


def _version() -> str:
    try:
        return importlib.metadata.version("gpuplane")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gpuplane {_version()}\n")
        raise typer.Exit(EXIT_OK)


SAMPLES = {
    "sklearn": "sklearn-iris.yaml",
    "llm": "llm-gpu.yaml",
    "llm-cached": "llm-cached.yaml",
}


def _smoke_target(
    sample: str | None, manifest: Path | None, models_uri: str | None
) -> dict[str, Any]:
    """The InferenceService smoke creates: a sample from examples/ or the user's file."""
    import os
    import secrets

    from gpuplane import manifests

    if sample is not None and manifest is not None:
        raise _fail("use --sample or --manifest, not both")
    env = dict(os.environ)
    if models_uri:
        env["MODELS_URI"] = models_uri.rstrip("/")
    if manifest is None:
        choice = sample or "sklearn"
        if choice not in SAMPLES:
            raise _fail(f"--sample: {choice!r}; allowed: {', '.join(SAMPLES)}")
        try:
            path = find_project().root / "examples" / SAMPLES[choice]
        except StackError as exc:
            raise _fail(str(exc)) from None
    else:
        path = manifest
    try:
        objects = manifests.load(path, env)
    except manifests.ManifestError as exc:
        raise _fail(str(exc)) from None
    isvcs = [o for o in objects if o.get("kind") == "InferenceService"]
    if len(isvcs) != 1 or not str(isvcs[0].get("apiVersion", "")).startswith("serving.kserve.io/"):
        raise _fail(
            f"{path}: want exactly one serving.kserve.io InferenceService, found {len(isvcs)}"
        )
    isvc = isvcs[0]
    if manifest is None:  # a fresh name per run, so a sample never collides with a model
        meta = dict(isvc["metadata"])
        meta["name"] = f"{meta['name']}-{secrets.token_hex(3)}"
        isvc = {**isvc, "metadata": meta}
    return isvc


def _stack_context(stack: str | None) -> tuple[str | None, str | None]:
    """(kubeconfig, context) a stack names: `existing` stacks only."""
    if stack is None:
        return None, None
    config = _select(stack, None)
    cloud = config.values.get("gpuplane:cloud")
    if cloud != "existing":
        raise _fail(
            f"stack {stack} is on {cloud}: its kubeconfig is a stack output; run "
            f"`pulumi stack output kubeconfig --show-secrets -s {stack} > kubeconfig` "
            "and pass --kubeconfig kubeconfig"
        )
    try:
        existing = json.loads(config.values.get("gpuplane:existing", "{}"))
    except json.JSONDecodeError:
        existing = {}
    kubeconfig = existing.get("kubeconfig")
    if isinstance(kubeconfig, str) and "\n" in kubeconfig:
        kubeconfig = None  # content, not a path: use the default kubeconfig file
    return kubeconfig, existing.get("context")


@app.command("smoke")
def smoke_command(
    stack: Annotated[
        str | None,
        typer.Option("--stack", "-s", help="An `existing` stack: use its kubeconfig and context."),
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option("--kubeconfig", help="Kubeconfig file (default $KUBECONFIG, ~/.kube/config)."),
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="Kubeconfig context.")] = None,
    sample: Annotated[
        str | None,
        typer.Option("--sample", help=f"A sample from examples/: {', '.join(SAMPLES)}."),
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Your own InferenceService YAML.")
    ] = None,
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "models",
    models_uri: Annotated[
        str | None,
        typer.Option(
            "--models-uri", help="Sets ${MODELS_URI}: `pulumi stack output modelStorageUri`."
        ),
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option("--gateway", help="Ingress gateway URL (default: its load balancer address)."),
    ] = None,
    request_path: Annotated[
        str | None, typer.Option("--request-path", help="Path to call; {name} is the model.")
    ] = None,
    request_body: Annotated[
        str | None, typer.Option("--request-body", help="JSON body to POST (default: GET).")
    ] = None,
    budget: Annotated[str, typer.Option("--budget", help="Cold start allowed: 10m, 90s.")] = "10m",
    scale_to_zero: Annotated[
        bool, typer.Option("--scale-to-zero", help="Then wait for scale to zero (idle tail).")
    ] = False,
    idle_timeout: Annotated[
        str, typer.Option("--idle-timeout", help="How long to wait for scale to zero.")
    ] = "30m",
    fmt: ReportFormatOption = ReportFormat.text,
) -> None:
    """Serve one InferenceService on a live cluster and time its cold start, then delete it.

    Exit 0 when it answered within --budget, 1 when not (or interrupted), 2 on bad
    input or no reachable cluster. The only command that talks to a cluster.
    """
    gc.enable()  # minutes of polling a cluster: the collector's time is nothing here
    from gpuplane import smoke as smoke_module
    from gpuplane.components.config import duration_seconds

    seconds = {}
    for option, value in (("--budget", budget), ("--idle-timeout", idle_timeout)):
        try:
            seconds[option] = duration_seconds(value)
        except ValueError as exc:
            raise _fail(f"{option}: {exc}") from None
        if seconds[option] <= 0:
            raise _fail(f"{option}: must be above zero, given {value!r}")
    stack_kubeconfig, stack_ctx = _stack_context(stack)
    isvc = _smoke_target(sample, manifest, models_uri)
    options = smoke_module.SmokeOptions(
        manifest=isvc,
        namespace=namespace,
        budget=float(seconds["--budget"]),
        gateway=gateway,
        request_path=request_path,
        request_body=request_body,
        scale_to_zero=scale_to_zero,
        idle_timeout=float(seconds["--idle-timeout"]),
    )
    try:
        kube = smoke_module.connect(kubeconfig or stack_kubeconfig, context or stack_ctx)
        result = smoke_module.smoke(kube, options)
    except smoke_module.SmokeInputError as exc:
        raise _fail(str(exc)) from None
    _emit(
        fmt,
        result.to_json,
        lambda: smoke_module.markdown(result),
        lambda: smoke_module.text(result),
    )
    raise typer.Exit(result.exit_code)


charts_app = typer.Typer(
    no_args_is_help=True, help="The chart cache: pull the plan's pinned Helm charts, list them."
)
app.add_typer(charts_app, name="charts")


def _project_dir() -> Path | None:
    """Where a release's local chart path is read from: the project, if there is one."""
    try:
        return find_project().root
    except StackError:
        return None


def _charts_root(charts: Path | None) -> Path:
    from gpuplane import charts as charts_mod

    return charts if charts is not None else charts_mod.default_root()


def _pull_hint(stack: str, charts: Path | None, graph: Path | None = None) -> str:
    where = f" --charts {charts}" if charts is not None else ""
    what = f"--graph {graph}" if graph is not None else f"--stack {stack}"
    return f"gpuplane charts pull {what}{where}"


def _stack_graphs(stack: str | None, every: bool, graph: Path | None) -> list[ResourceGraph]:
    if every and (stack is not None or graph is not None):
        raise _fail("use one of --stack, --graph and --all")
    if not every:
        return [_load_graph(stack, None, graph)[0]]
    try:
        project = find_project()
    except StackError as exc:
        raise _fail(str(exc)) from None
    return [_plan(load_stack(project, name))[0] for name in project.stack_names()]


@charts_app.command("pull")
def charts_pull(
    stack: StackOption = None,
    every: Annotated[bool, typer.Option("--all", help="Every stack in stacks/.")] = False,
    graph: GraphOption = None,
    charts: ChartsOption = None,
) -> None:
    """Download every chart the stack's releases pin (https and OCI) into the cache.

    A chart already cached is verified against its recorded digest, not downloaded.
    """
    from gpuplane import charts as charts_mod

    root = _charts_root(charts)
    wanted = charts_mod.plan_charts(_stack_graphs(stack, every, graph))
    indexes: dict[str, Any] = {}
    for chart in wanted:
        try:
            done = charts_mod.pull(root, chart, indexes)
        except charts_mod.ChartError as exc:
            raise _fail(str(exc)) from None
        out.print(
            f"{done.state:<7} {chart.label:<36} {done.digest}  {chart.source}",
            highlight=False,
            markup=False,
        )
    out.print(f"{len(wanted)} charts in {root}", highlight=False, markup=False)


@charts_app.command("list")
def charts_list(
    stack: StackOption = None,
    every: Annotated[bool, typer.Option("--all", help="Every stack in stacks/.")] = False,
    graph: GraphOption = None,
    charts: ChartsOption = None,
) -> None:
    """What the chart cache holds of the stack's pinned charts, and what is missing.

    Exit 0 when every chart is cached and matches its digest, 1 otherwise.
    """
    from gpuplane import charts as charts_mod

    root = _charts_root(charts)
    wanted = charts_mod.plan_charts(_stack_graphs(stack, every, graph))
    states = [charts_mod.status(root, chart) for chart in wanted]
    for found in states:
        out.print(
            f"{found.state:<8} {found.chart.label:<36} {found.digest or '-':<72} "
            f"{found.chart.source}",
            highlight=False,
            markup=False,
        )
    bad = [s for s in states if s.state != "cached"]
    out.print(
        f"{len(states) - len(bad)} of {len(states)} charts cached in {root}"
        + ("; `gpuplane charts pull` fetches the rest" if bad else ""),
        highlight=False,
        markup=False,
    )
    if bad:
        raise typer.Exit(EXIT_FAILED)


class RenderFormat(StrEnum):
    yaml = "yaml"
    json = "json"


def _render_stack(planned: ResourceGraph, charts: Path | None, graph: Path | None = None) -> Any:
    """The stack's render (a render.StackRender); a missing or broken chart exits 2."""
    from gpuplane import charts as charts_mod
    from gpuplane import render as render_mod

    try:
        return render_mod.render_stack(
            planned,
            charts_root=_charts_root(charts),
            pull_hint=_pull_hint(planned.stack, charts, graph),
            project_dir=_project_dir(),
        )
    except (charts_mod.ChartError, render_mod.RenderError) as exc:
        raise _fail(f"stack {planned.stack}: {exc}") from None


@app.command("render")
def render_command(
    stack: StackOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write one file per release (and the stack's own) here."
        ),
    ] = None,
    fmt: Annotated[
        RenderFormat, typer.Option("--format", "-f", help="yaml or json.")
    ] = RenderFormat.yaml,
    graph: GraphOption = None,
    charts: ChartsOption = None,
) -> None:
    """Every object the stack installs: its own, and each Helm release rendered offline.

    `helm template` for the whole platform, from the chart cache (`gpuplane charts pull`).
    With --output: one file per release and a summary (kinds, images) on stdout; without:
    every object on stdout and the summary on stderr.
    """
    from gpuplane import render as render_mod

    planned, _ = _load_graph(stack, None, graph)
    result = _render_stack(planned, charts, graph)
    if output is None:
        sys.stdout.write(render_mod.stream(result, fmt.value))
        sys.stderr.write(render_mod.summary_text(result))
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in render_mod.files(result, fmt.value).items():
            (output / name).write_text(text, encoding="utf-8")
            written.append(output / name)
    except OSError as exc:
        raise _fail(f"--output {output}: {exc.strerror}") from None
    sys.stdout.write(render_mod.summary_text(result, written))


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """gpuplane: plan the GPU inference platform offline, with no cloud credentials.

    Exit codes: 0 ok, 1 a mandatory policy violation (check), 2 bad input, 3 internal error.
    """


def _error(message: str) -> None:
    """One line on stderr, plain (safe whatever the message holds)."""
    with contextlib.suppress(Exception):
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()


def _debug_traceback() -> None:
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        traceback.print_exc()


def _stdout_broken(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.EBADF)


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit flush cannot fail."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def run(argv: list[str] | None = None) -> int:
    """The command with its one error boundary; returns the exit code.

    0 ok; 1 only for a policy verdict (a mandatory violation, or `--fail-on advisory`)
    and `diff --exit-code`; 2 bad input (one line naming the file or key); 3 an internal
    error (one line; GPUPLANE_DEBUG=1 prints the traceback); 130 interrupted.
    """
    if sys.stdout is None:
        _error("standard output is closed; gpuplane writes its report there (use a file or pipe)")
        return EXIT_BAD_INPUT
    try:
        result = app(args=argv, prog_name="gpuplane", standalone_mode=False)
        sys.stdout.flush()
        return result if isinstance(result, int) else EXIT_OK
    except typer.TyperException as exc:  # usage: an unknown option, a bad value
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            _error(exc.format_message())
        return EXIT_BAD_INPUT
    except (typer.Abort, KeyboardInterrupt):
        _error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if _stdout_broken(exc):
            _silence_stdout()
            _error(_STDOUT_GONE)
            return EXIT_BAD_INPUT
        # Outside any command (option parsing, the version callback): still one line.
        _debug_traceback()
        _error(f"internal error: {type(exc).__name__}: {str(exc)[:200]}")
        return EXIT_INTERNAL


def main() -> None:
    # A short, bounded process whose objects mostly live until exit (modules, the
    # graph): the cyclic collector's passes over them during imports and planning cost
    # much and free little, so it is off (benchmarks/run.py; `smoke`, which waits on a
    # cluster for minutes, turns it back on). Memory stays bounded: planning every
    # stack in one process peaks at about 400 MB either way.
    gc.disable()
    # The provider SDKs load with postponed annotations (cached bytecode of their own).
    sdk_import.install()
    sys.exit(run())
