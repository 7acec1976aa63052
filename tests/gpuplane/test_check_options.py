"""`gpuplane check` as CI uses it: verdict options, fixes phrased as stack keys, SARIF
pointing at the key's line, colour only on a terminal, a spinner only for slow steps."""

import io
import json
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from gpuplane import check_report, cli
from gpuplane.cli import app
from gpuplane.policies.catalogue import RULES

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _line_of(path: Path, text: str) -> int:
    """The 1-based line where `text` first appears (found by reading the file)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def test_verdict_options_change_only_the_exit_code() -> None:
    # gcp-dev: advisory findings only (its placeholders); aws-prod: mandatory ones.
    assert runner.invoke(app, ["check", "-s", "gcp-dev"]).exit_code == 0
    assert runner.invoke(app, ["check", "-s", "gcp-dev", "--fail-on", "advisory"]).exit_code == 1
    assert runner.invoke(app, ["check", "-s", "aws-prod"]).exit_code == 1
    soft = runner.invoke(app, ["check", "-s", "aws-prod", "--soft-fail"])
    assert soft.exit_code == 0
    assert "MANDATORY GP-STACK-002" in soft.output
    skipped = runner.invoke(
        app, ["check", "-s", "aws-prod", "--skip-rule", "gp-stack-002", "-f", "json"]
    )
    assert skipped.exit_code == 0
    report = json.loads(skipped.output)
    assert not [v for v in report["violations"] if v["id"] == "GP-STACK-002"]
    by_name = runner.invoke(
        app, ["check", "-s", "aws-prod", "--skip-rule", "no-placeholders-in-prod"]
    )
    assert by_name.exit_code == 0


def test_text_and_markdown_say_which_stack_key_to_change() -> None:
    text = runner.invoke(app, ["check", "-s", "aws-prod"]).output
    assert "fix: change gpuplane:aws.adminRoleArns in the stack file" in text
    markdown = runner.invoke(app, ["check", "-s", "aws-prod", "-f", "markdown"]).output
    assert "| fix |" in markdown
    assert "change gpuplane:cluster.endpoint.publicAccessCidrs in the stack file" in markdown


def test_a_rule_s_own_stack_key_is_its_fix(tmp_path: Path) -> None:
    from gpuplane.check import Violation

    violation = Violation(
        id="GP-AWS-001",
        policy="aws-eks-public-endpoint-restricted",
        level="mandatory",
        severity="critical",
        urn="urn:x",
        type="aws:eks/cluster:Cluster",
        name="c",
        message="[GP-AWS-001] public API endpoint is open to 0.0.0.0/0",
    )
    fix = check_report.remediation(violation)
    assert fix.startswith("change gpuplane:cluster.endpoint.publicAccessCidrs in the stack file")


def test_sarif_points_at_the_key_s_line_with_version_and_help() -> None:
    result = runner.invoke(app, ["check", "-s", "aws-prod", "-f", "sarif"])
    document = json.loads(result.output)
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["version"] == version("gpuplane")
    assert len(driver["rules"]) == len(RULES)
    assert all(rule["help"]["text"] and rule["help"]["markdown"] for rule in driver["rules"])
    stack_file = ROOT / "stacks" / "Pulumi.aws-prod.yaml"
    lines = {}
    for entry in run["results"]:
        location = entry["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "stacks/Pulumi.aws-prod.yaml"
        lines[entry["message"]["text"].split(" is a placeholder")[0]] = location["region"][
            "startLine"
        ]
    assert lines["[GP-STACK-002] the example AWS account 123456789012"] == _line_of(
        stack_file, "adminRoleArns:"
    )
    cidr_line = next(v for k, v in lines.items() if "198.51.100.10/32" in k)
    assert cidr_line == _line_of(stack_file, "publicAccessCidrs:")


def test_key_line_follows_nested_keys_and_list_items(tmp_path: Path) -> None:
    from gpuplane.loader import key_line

    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(
        "config:\n"
        "  gpuplane:cloud: aws\n"
        "  gpuplane:gpuPools:\n"
        "    - name: a\n"
        "    - name: b\n"
        "      maxNodes: 3\n"
        "  gcp:project: demo\n"
    )
    assert key_line(path, "gpuplane:gpuPools[1].maxNodes") == 6
    assert key_line(path, "gpuplane:gpuPools[1]") == 5
    assert key_line(path, "gcp:project") == 7
    assert key_line(path, "gpuplane:serving.domain") == 1  # not written: the file's top


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = runner.invoke(app, ["check", "-s", "aws-prod"]).output
    assert "\033[" not in plain
    from gpuplane import engine
    from gpuplane.check import check
    from gpuplane.stacks import find_project, load_stack

    graph = engine.plan(load_stack(find_project(ROOT), "aws-prod"))
    coloured = check_report.text(check(graph), color=True)
    assert "\033[1;31mMANDATORY" in coloured and "\033[1;31mFAILED" in coloured
    monkeypatch.setattr(cli, "_is_tty", lambda stream: True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli._colour(io.StringIO())
    monkeypatch.delenv("NO_COLOR")
    assert cli._colour(io.StringIO())


@pytest.mark.parametrize(("seconds", "shown"), [(0.1, False), (1.6, True)])
def test_the_spinner_shows_only_for_a_step_over_a_second(
    seconds: float, shown: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=80))
    monkeypatch.setattr(cli, "_is_tty", lambda stream: True)
    with cli._step("planning aws-prod"):
        time.sleep(seconds)
    assert ("planning aws-prod" in screen.getvalue()) is shown


def test_no_spinner_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=80))
    with cli._step("planning"):
        time.sleep(1.3)
    assert screen.getvalue() == ""
