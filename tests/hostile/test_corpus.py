"""A corpus of bad inputs (tests/hostile/corpus.py): each exits 2 with a message that
names the file or key, never a traceback, in bounded time and memory."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.corpus import CASES, Case

ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = 30.0
"""Per case, on a loaded CI machine; the bad input is refused long before."""
MAX_PEAK_GROWTH_KB = 300 * 1024
"""Growth of the process's peak memory per case (an alias bomb took 4 GB)."""
MAX_ERROR_CHARS = 4000
"""An error report stays short (an alias bomb once made 142 MB of it)."""


def _expand(value: str, directory: Path) -> str:
    return value.replace("{dir}", str(directory))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every case, run once through `gpuplane.cli.run` in one memory-limited process."""
    base = tmp_path_factory.mktemp("corpus")
    cases = []
    for case in CASES:
        directory = base / case.id
        directory.mkdir()
        for name, content in case.files.items():
            path = directory / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        cases.append({"id": case.id, "args": [_expand(a, directory) for a in case.args]})
        case_dirs[case.id] = directory
    cases_path, results_path = base / "cases.json", base / "results.json"
    cases_path.write_text(json.dumps(cases))
    subprocess.run(
        [sys.executable, "-m", "tests.hostile.runner", str(cases_path), str(results_path)],
        cwd=ROOT,
        check=True,
        timeout=MAX_SECONDS * len(CASES),
    )
    return {r["id"]: r for r in json.loads(results_path.read_text())}


case_dirs: dict[str, Path] = {}


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_in_one_clear_message(
    case: Case, results: dict[str, dict[str, Any]]
) -> None:
    result = results[case.id]
    output = result["stdout"] + result["stderr"]
    assert result["code"] == case.code, output
    assert "Traceback" not in output
    assert "internal error" not in output
    for fragment in case.names:
        assert _expand(fragment, case_dirs[case.id]) in output, (fragment, output)
    assert result["stderr_length"] < MAX_ERROR_CHARS, result["stderr_length"]
    assert result["seconds"] < MAX_SECONDS
    assert result["peak_growth_kb"] < MAX_PEAK_GROWTH_KB
