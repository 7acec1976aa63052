"""Per stack: resources, and the median time of plan, check and cost over several runs;
then the commands a user runs, as whole processes, and the core install's size.

    .venv/bin/python benchmarks/run.py [--runs 5] [--stack NAME ...] [--no-processes]

Prints markdown tables for the performance section of docs/cost.md. In-process
timings leave out start-up; the whole-process ones are what a user waits for, start to
exit (median of --runs, after one untimed run, so the SDK bytecode cache the command
keeps is warm; the first run after an install is timed once on its own). Wall time
depends on what else the machine runs: the load average is printed before and after,
and the CPU time (user + system) beside the wall time. Targets (issue 15) are printed
beside the figures; nothing here asserts them.

Then `gpuplane render` and `gpuplane check --render` of the stack with the most Helm
releases, as whole processes from a warm chart cache (target: seconds, not minutes).
With the real charts not cached (offline), the same releases are rendered from
gpuplane's test chart (tests/charts/gpudemo) stood in for each, and the line says so;
and the parsing and rules over the upstream renders of its charts, at real sizes.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpuplane import charts, engine  # noqa: E402
from gpuplane.check import check  # noqa: E402
from gpuplane.cost import cost  # noqa: E402
from gpuplane.estimate import estimate  # noqa: E402
from gpuplane.stacks import find_project, load_stack  # noqa: E402

GPUPLANE = Path(sys.executable).with_name("gpuplane")


def _median_seconds(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _in_process(project: Any, names: list[str], runs: int) -> None:
    print("| stack | resources | plan (ms) | check (ms) | cost (ms) | estimate (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        config = load_stack(project, name)
        plan_s, graph = _median_seconds(lambda c=config: engine.plan(c), runs)
        check_s, _ = _median_seconds(lambda g=graph: check(g), runs)
        cost_s, _ = _median_seconds(lambda g=graph: cost(g), runs)
        estimate_s, _ = _median_seconds(lambda g=graph: estimate(g), runs)
        print(
            f"| {name} | {len(graph)} | {plan_s * 1000:.0f} | {check_s * 1000:.1f} "
            f"| {cost_s * 1000:.2f} | {estimate_s * 1000:.2f} |"
        )


def _process_seconds(
    args: list[str], runs: int, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of `gpuplane ARGS`, start to exit
    (exit 0 or 1 both count)."""
    walls, cpus = [], []
    for _ in range(runs):
        before = os.times()
        started = time.perf_counter()
        done = subprocess.run(
            [str(GPUPLANE), *args], cwd=ROOT, capture_output=True, check=False, env=env
        )
        walls.append(time.perf_counter() - started)
        after = os.times()
        cpus.append(
            (after.children_user + after.children_system)
            - (before.children_user + before.children_system)
        )
        if done.returncode not in (0, 1):
            raise SystemExit(f"gpuplane {' '.join(args)} failed: {done.stderr.decode()[-300:]}")
    return statistics.median(walls), statistics.median(cpus)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    """The distributions `dist` needs with no extra selected."""
    names = []
    for requirement in dist.requires or []:
        name, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        names.append(re.split(r"[\s<>=!~\[(]", name.strip(), maxsplit=1)[0])
    return names


def core_install_bytes() -> dict[str, int]:
    """Bytes on disk of each distribution `pip install gpuplane` (no extra) installs: the
    dependency closure as installed here (with the bytecode pip compiles), gpuplane
    itself included."""
    seen: dict[str, metadata.Distribution] = {}
    todo = ["gpuplane"]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker-excluded requirement (another Python or platform)
        seen[name] = dist
        todo.extend(_requirement_names(dist))
    sizes = {}
    for name, dist in seen.items():
        files = (Path(str(dist.locate_file(file))) for file in dist.files or [])
        sizes[name] = sum(path.stat().st_size for path in files if path.is_file())
    return sizes


def _processes(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "aws-prod.json"
        with saved.open("w") as out:
            subprocess.run(
                [str(GPUPLANE), "plan", "--stack", "aws-prod", "--format", "json"],
                cwd=ROOT,
                stdout=out,
                check=True,
            )
        commands = [
            (["check", "--stack", "aws-prod"], 1.4),
            (["plan", "--stack", "local"], 1.0),
            (["check", "--graph", str(saved)], 1.0),
            (["cost", "--graph", str(saved)], 1.0),
        ]
        print(f"\nwhole processes, median of {runs} runs, start to exit")
        print(f"load average before: {_load()}\n")
        print("| command | wall (s) | CPU (s) | target, wall (s) |")
        print("|---|---:|---:|---:|")
        for args, target in commands:
            shown = " ".join("<saved aws-prod graph>" if a == str(saved) else a for a in args)
            _process_seconds(args, 1)  # untimed: the SDK bytecode cache is warm
            wall, cpu = _process_seconds(args, runs)
            print(f"| gpuplane {shown} | {wall:.2f} | {cpu:.2f} | {target:.1f} |")
        with tempfile.TemporaryDirectory() as cold:
            wall, cpu = _process_seconds(
                ["check", "--stack", "aws-prod"], 1, env={**os.environ, "XDG_CACHE_HOME": cold}
            )
        print(
            f"| gpuplane check --stack aws-prod, first run after install (cold SDK "
            f"bytecode cache, once) | {wall:.2f} | {cpu:.2f} | |"
        )
        print(f"\nload average after: {_load()}")
    sizes = core_install_bytes()
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:6]
    print(
        f"\ncore install (gpuplane, no extra): {sum(sizes.values()) / 1e6:.1f} MB in "
        f"{len(sizes)} distributions (target: under 150 MB; the venv's own pip not counted)"
    )
    print("largest: " + ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in largest))


def _stand_in(graph: Any, scratch: Path) -> tuple[Path, Path]:
    """A graph whose releases all install the test chart, and a warm cache holding it."""
    import helm_python

    repo = scratch / "repo"
    repo.mkdir()
    helm_python.package(ROOT / "tests" / "charts" / "gpudemo", destination=repo)
    helm_python.repo_index_generate(repo, base_url=repo.as_uri())
    data = json.loads(graph.dumps())
    for resource in data["resources"]:
        if resource["type"] == charts.RELEASE_TYPE:
            inputs = resource["inputs"]
            inputs.update(chart="gpudemo", version="0.3.0", repositoryOpts={"repo": repo.as_uri()})
            inputs["values"] = {}
    path = scratch / "graph.json"
    path.write_text(json.dumps(data))
    cache = scratch / "cache"
    subprocess.run(
        [
            str(GPUPLANE),
            "charts",
            "pull",
            "--graph",
            str(path),
            "--charts",
            str(cache),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return path, cache


def render_timing(project: Any, runs: int) -> None:
    graphs = {name: engine.plan(load_stack(project, name)) for name in project.stack_names()}
    name, graph = max(graphs.items(), key=lambda kv: len(charts.releases(kv[1])))
    releases = len(charts.releases(graph))
    root = charts.default_root()
    wanted = charts.plan_charts([graph])
    warm = all(charts.status(root, c).state == "cached" for c in wanted)
    with tempfile.TemporaryDirectory(prefix="gpuplane-bench-") as tmp:
        scratch = Path(tmp)
        if warm:
            target = ["--stack", name]
            what = f"stack {name}, its {releases} releases from the real charts in {root}"
        else:
            path, cache = _stand_in(graph, scratch)
            target = ["--graph", str(path), "--charts", str(cache)]
            what = (
                f"stack {name}'s {releases} releases, each rendering the test chart "
                "(the real charts are not cached: `gpuplane charts pull --all` needs the network)"
            )
        out = scratch / "out"
        render_s, _ = _process_seconds(["render", *target, "--output", str(out)], runs)
        check_s, _ = _process_seconds(["check", *target, "--render", "--format", "json"], runs)
        plain = ["check", *target[:2], "--format", "json"]
        check_plain_s = _process_seconds(plain, runs)[0] if not warm else None
        objects = sum(
            len([d for d in f.read_text().split("\n---\n") if d.strip()]) - 1
            for f in out.glob("*.yaml")
            if f.name != "stack.yaml"
        )
    print(f"\nrender, whole processes, median of {runs} runs, warm cache: {what}\n")
    print("| command | seconds |")
    print("|---|---:|")
    print(f"| gpuplane render --output DIR ({objects} release objects) | {render_s:.2f} |")
    print(f"| gpuplane check --render | {check_s:.2f} |")
    if check_plain_s is not None:
        print(f"| gpuplane check (no render, same graph) | {check_plain_s:.2f} |")
    oracle_timing(graph, runs)


def oracle_timing(graph: Any, runs: int) -> None:
    """The parsing and the rules at real chart sizes: the upstream default renders of the
    stack's charts (../shared/upstream/rendered, made by the same engine), read as the
    renderer reads Helm's output and checked, in-process."""
    from gpuplane.render import Object, ReleaseRender, StackRender, _documents, own_objects
    from gpuplane.render_check import check_rendered

    rendered_dir = ROOT.parent / "shared" / "upstream" / "rendered" / "defaults"
    if not rendered_dir.is_dir():
        print(f"\n(no {rendered_dir}: the rules at real chart sizes are not timed)")
        return
    texts = []
    for release in charts.releases(graph):
        ref = charts.ChartRef.of(release)
        files = sorted((rendered_dir / ref.name).glob(f"{ref.version}*.yaml"))
        texts.append((release, ref, "".join(f.read_text() for f in files)))

    def parse_and_check() -> int:
        stack = StackRender(graph.project, graph.stack, "v1.36.0", "oracle", own=own_objects(graph))
        for release, ref, text in texts:
            item = ReleaseRender(release.urn, ref.name, str(release.inputs.get("namespace")), ref)
            docs = _documents(text, ref.label, "oracle")
            item.objects = [Object(d, ref.name, "oracle") for d in docs]
            stack.releases.append(item)
        check_rendered(stack, graph)
        return sum(len(r.objects) for r in stack.releases)

    seconds, objects = _median_seconds(parse_and_check, runs)
    found = sum(1 for _, _, text in texts if text)
    print(
        f"\nparse + every rule over the upstream default renders of {found} of its "
        f"{len(texts)} charts ({objects} objects, {sum(len(t) for *_, t in texts) // 1024} KiB): "
        f"{seconds:.2f} s (in-process, median of {runs})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stack", action="append", help="stacks to time (default: all)")
    parser.add_argument("--no-processes", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--no-render", dest="render", action="store_false", help="skip the render timings"
    )
    options = parser.parse_args()
    project = find_project(ROOT)
    names = options.stack or project.stack_names()
    print(f"median of {options.runs} runs, Python {sys.version.split()[0]}\n")
    _in_process(project, names, options.runs)
    if not options.no_processes:
        _processes(options.runs)
    if options.render:
        render_timing(project, min(options.runs, 3))


if __name__ == "__main__":
    main()
