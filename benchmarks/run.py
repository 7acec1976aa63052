"""Per stack: resources, and the median time of plan, check and cost over several runs;
then the commands a user runs, as whole processes, and the core install's size.

    .venv/bin/python benchmarks/run.py [--runs 5] [--stack NAME ...] [--no-processes]

Prints markdown tables for the README's performance section. In-process timings
leave out start-up; the whole-process ones are what a user waits for, start to
exit (median of --runs). Targets (issue 15) are printed beside the figures;
nothing here asserts them.
"""

import argparse
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

from gpuplane import engine  # noqa: E402
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


def _process_seconds(args: list[str], runs: int) -> float:
    """Median wall time of `gpuplane ARGS`, start to exit (exit 0 or 1 both count)."""

    def run() -> None:
        done = subprocess.run([str(GPUPLANE), *args], cwd=ROOT, capture_output=True, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(f"gpuplane {' '.join(args)} failed: {done.stderr.decode()[-300:]}")

    seconds, _ = _median_seconds(run, runs)
    return seconds


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    """The distributions `dist` needs with no extra selected."""
    names = []
    for requirement in dist.requires or []:
        name, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        names.append(re.split(r"[\s<>=!~\[(]", name.strip(), maxsplit=1)[0])
    return names


def core_install_bytes() -> tuple[int, int]:
    """Bytes on disk and distributions count of `pip install gpuplane` (no extra): the
    dependency closure as installed here, gpuplane itself included."""
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
    total = 0
    for dist in seen.values():
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
    return total, len(seen)


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
        print(f"\nwhole processes, median of {runs} runs, start to exit\n")
        print("| command | wall (s) | target (s) |")
        print("|---|---:|---:|")
        for args, target in commands:
            shown = " ".join("<saved aws-prod graph>" if a == str(saved) else a for a in args)
            seconds = _process_seconds(args, runs)
            print(f"| gpuplane {shown} | {seconds:.2f} | {target:.1f} |")
    size, count = core_install_bytes()
    print(f"\ncore install (gpuplane, no extra): {size / 1e6:.0f} MB in {count} distributions")
    print("(target: under 150 MB; pip and setuptools of the venv itself not counted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stack", action="append", help="stacks to time (default: all)")
    parser.add_argument("--no-processes", action="store_true", help="in-process figures only")
    options = parser.parse_args()
    project = find_project(ROOT)
    names = options.stack or project.stack_names()
    print(f"median of {options.runs} runs, Python {sys.version.split()[0]}\n")
    _in_process(project, names, options.runs)
    if not options.no_processes:
        _processes(options.runs)


if __name__ == "__main__":
    main()
