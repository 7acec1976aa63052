"""`gpuplane plan` as a user runs it: output, formats and exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuplane.cli import app
from gpuplane.graph import ResourceGraph

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_plan_shows_the_default_stack_then_every_stack() -> None:
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 0, result.output
    assert "stack local" in result.output
    assert "local-k8s" in result.output
    assert "resources by kind" in result.output
    summary = result.output.split("every stack", 1)[1]
    stacks = sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml")
    )
    for name in stacks:
        assert any(line.startswith(name) for line in summary.splitlines()), name


def test_plan_json_is_the_graph(local_graph: ResourceGraph) -> None:
    result = runner.invoke(app, ["plan", "--stack", "local", "--format", "json"])
    assert result.exit_code == 0
    assert ResourceGraph.loads(result.output).dumps() == local_graph.dumps()


def test_plan_markdown_lists_resources_and_counts(local_graph: ResourceGraph) -> None:
    result = runner.invoke(app, ["plan", "-s", "local", "-f", "markdown"])
    assert result.exit_code == 0
    assert "### gpuplane plan: `local`" in result.output
    assert f"| **total** | **{len(local_graph)}** |" in result.output
    assert "- `local-k8s` (pulumi:providers:kubernetes)" in result.output


def test_config_error_exits_2_with_the_key_and_no_traceback(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.broken.yaml"
    stack.write_text(
        "config:\n"
        "  gpuplane:cloud: existing\n"
        "  gpuplane:existing: {context: kind-gpuplane}\n"
        "  gpuplane:gpuPools:\n"
        "    - {name: l4, labels: {gpu: l4}, maxNodes: 0}\n"
    )
    result = runner.invoke(app, ["plan", "--stack-file", str(stack)])
    assert result.exit_code == 2
    assert "gpuplane:gpuPools[0].maxNodes" in result.output
    assert "Traceback" not in result.output


def test_unknown_stack_and_conflicting_options_exit_2() -> None:
    assert runner.invoke(app, ["plan", "--stack", "nope"]).exit_code == 2
    both = runner.invoke(app, ["plan", "--stack", "local", "--stack-file", "x.yaml"])
    assert both.exit_code == 2
    assert "not both" in both.output


def test_unknown_format_is_refused() -> None:
    result = runner.invoke(app, ["plan", "--format", "yaml"])
    assert result.exit_code == 2


def test_console_script_runs_outside_the_test_process(tmp_path: Path) -> None:
    """The installed `gpuplane` command, as the README runs it."""
    script = Path(sys.executable).with_name("gpuplane")
    assert script.exists(), "install the project: pip install -e '.[dev]'"
    result = subprocess.run(
        [str(script), "plan", "--stack", "local", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "local"


def test_messages_print_key_paths_verbatim(tmp_path: Path) -> None:
    """`gpuplane:cloud:` must not turn into rich's :cloud: emoji."""
    stack = tmp_path / "Pulumi.aws.yaml"
    stack.write_text("config:\n  gpuplane:cloud: openstack\n")
    result = runner.invoke(app, ["plan", "--stack-file", str(stack)])
    assert result.exit_code == 2
    assert "gpuplane:cloud: given 'openstack'; allowed: aws, gcp, azure" in result.output
