"""Per stack: resources, and the median time of plan, check and cost over several runs.

    .venv/bin/python benchmarks/run.py [--runs 5] [--stack NAME ...]

Prints a markdown table for the README's performance section. Timings are wall
clock on this machine, in-process (no CLI start-up); nothing here asserts a target.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpuplane import engine  # noqa: E402
from gpuplane.check import check  # noqa: E402
from gpuplane.cost import cost  # noqa: E402
from gpuplane.estimate import estimate  # noqa: E402
from gpuplane.stacks import find_project, load_stack  # noqa: E402


def _median_seconds(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stack", action="append", help="stacks to time (default: all)")
    options = parser.parse_args()
    project = find_project(ROOT)
    names = options.stack or project.stack_names()
    print(f"median of {options.runs} runs, Python {sys.version.split()[0]}\n")
    print("| stack | resources | plan (ms) | check (ms) | cost (ms) | estimate (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        config = load_stack(project, name)
        plan_s, graph = _median_seconds(lambda c=config: engine.plan(c), options.runs)
        check_s, _ = _median_seconds(lambda g=graph: check(g), options.runs)
        cost_s, _ = _median_seconds(lambda g=graph: cost(g), options.runs)
        estimate_s, _ = _median_seconds(lambda g=graph: estimate(g), options.runs)
        print(
            f"| {name} | {len(graph)} | {plan_s * 1000:.0f} | {check_s * 1000:.1f} "
            f"| {cost_s * 1000:.2f} | {estimate_s * 1000:.2f} |"
        )


if __name__ == "__main__":
    main()
