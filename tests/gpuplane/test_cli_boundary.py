"""The command's one error boundary: exit codes a CI job can trust, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuplane import cli, engine
from gpuplane.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
COMMAND = [sys.executable, "-c", "from gpuplane.cli import main; main()"]


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _boom(*_: object, **__: object) -> None:
    raise RuntimeError("a bug\nsecond line")


def test_an_internal_error_exits_3_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(engine, "plan", _boom)
    result = runner.invoke(app, ["plan", "--stack", "local"])
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        "error: internal error: RuntimeError: a bug (a bug in gpuplane; GPUPLANE_DEBUG=1 "
        "shows the traceback)"
    ]


def test_gpuplane_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    monkeypatch.setattr(engine, "plan", _boom)
    result = runner.invoke(app, ["plan", "--stack", "local"])
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.output
    assert "_boom" in result.output


def test_version_and_short_help() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"gpuplane {version('gpuplane')}"
    short = runner.invoke(app, ["check", "-h"])
    assert short.exit_code == 0
    for option in ("--soft-fail", "--fail-on", "--skip-rule"):
        assert option in short.output


def test_closed_stdout_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [*COMMAND, "rules"],
        cwd=ROOT,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: standard output is closed")
    assert "Traceback" not in result.stderr


def test_a_reader_that_goes_away_is_not_a_traceback() -> None:
    process = subprocess.Popen(
        [*COMMAND, "rules"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first write, as `| head` can be
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 2
    assert stderr.startswith("error: cannot write to standard output"), stderr
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
