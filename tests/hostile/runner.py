"""Runs corpus cases through the `gpuplane` command's entry point, one process for all.

    python -m tests.hostile.runner CASES.json RESULTS.json

Each case gets fresh captured stdout and stderr; its exit code, output, wall time
and growth of the process's peak memory are recorded. The process runs under an
address-space limit, so an input that would take gigabytes fails here instead of
taking the machine down.
"""

import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path

HEADROOM = 1536 * 1024 * 1024
"""Address space allowed above what the process has mapped once gpuplane is imported."""


def _mapped() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def main(cases_path: str, results_path: str) -> None:
    from gpuplane.cli import run

    limit = _mapped() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    results = []
    for case in json.loads(Path(cases_path).read_text()):
        out, err = io.StringIO(), io.StringIO()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run(case["args"])
            except BaseException as exc:
                code = f"escaped: {type(exc).__name__}: {exc}"
        results.append(
            {
                "id": case["id"],
                "code": code,
                "stdout": out.getvalue()[-4000:],
                "stdout_length": len(out.getvalue()),
                "stderr": err.getvalue()[-4000:],
                "stderr_length": len(err.getvalue()),
                "seconds": time.perf_counter() - started,
                "peak_growth_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
            }
        )
    Path(results_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:3])
