"""Cloud SDKs are extras: which commands import them, and the line a missing one gives.

Each case runs the real command in a fresh interpreter and reads `sys.modules` at
exit, so nothing imported by the test session itself can hide or fake an import.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gpuplane.graph import ResourceGraph

ROOT = Path(__file__).resolve().parents[2]
CLOUD_SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")

# Runs `gpuplane ARGS...`; at exit writes the cloud SDKs it imported to REPORT. With
# HIDE set, those modules cannot be imported at all (as when the extra is missing).
PROBE = f"""
import atexit, json, sys
report, hide, *args = sys.argv[1:]
for name in filter(None, hide.split(",")):
    sys.modules[name] = None  # import raises ModuleNotFoundError, as when not installed
clouds = {CLOUD_SDKS!r}
def write():
    loaded = sorted({{m.split(".")[0] for m in sys.modules
                     if m.split(".")[0] in clouds and sys.modules[m] is not None}})
    with open(report, "w") as out:
        json.dump(loaded, out)
atexit.register(write)
sys.argv = ["gpuplane", *args]
from gpuplane.cli import main
main()
"""


def gpuplane(
    tmp_path: Path, *args: str, hide: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    report = tmp_path / "loaded.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), ",".join(hide), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, json.loads(report.read_text())


@pytest.fixture(scope="module")
def saved_aws_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved graph of an AWS stack (the graph names AWS types; reading it needs no SDK)."""
    path = tmp_path_factory.mktemp("graph") / "aws-prod.json"
    result = subprocess.run(
        [sys.executable, "-c", PROBE_PLAN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    path.write_text(result.stdout)
    assert any(r.type.startswith("aws:") for r in ResourceGraph.load(path).resources.values())
    return path


PROBE_PLAN = (
    "import sys; sys.argv = ['gpuplane', 'plan', '--stack', 'aws-prod', '--format', 'json']; "
    "from gpuplane.cli import main; main()"
)


def test_planning_local_imports_no_cloud_sdk(tmp_path: Path) -> None:
    result, loaded = gpuplane(tmp_path, "plan", "--stack", "local")
    assert result.returncode == 0, result.stderr
    assert "local-k8s" in result.stdout
    assert loaded == []


def test_planning_an_aws_stack_imports_the_aws_sdk_only(tmp_path: Path) -> None:
    result, loaded = gpuplane(tmp_path, "plan", "--stack", "aws-prod")
    assert result.returncode == 0, result.stderr
    assert loaded == ["pulumi_aws"]


@pytest.mark.parametrize(
    "command",
    [
        ("check",),
        ("cost",),
        ("estimate",),
        ("graph", "--format", "mermaid"),
    ],
)
def test_commands_on_a_saved_graph_import_no_cloud_sdk(
    tmp_path: Path, saved_aws_graph: Path, command: tuple[str, ...]
) -> None:
    result, loaded = gpuplane(tmp_path, *command, "--graph", str(saved_aws_graph))
    assert result.returncode in (0, 1), result.stderr  # check: 1 = a mandatory violation
    assert result.stdout.strip()
    assert loaded == []


def test_a_saved_graph_is_checked_with_every_cloud_sdk_missing(
    tmp_path: Path, saved_aws_graph: Path
) -> None:
    result, _ = gpuplane(tmp_path, "check", "--graph", str(saved_aws_graph), hide=CLOUD_SDKS)
    assert result.returncode in (0, 1), result.stderr
    assert "aws-" in result.stdout  # AWS rules ran over the AWS resources


@pytest.mark.parametrize(
    ("stack", "sdk", "extra"),
    [
        ("aws-dev", "pulumi_aws", "aws"),
        ("gcp-dev", "pulumi_gcp", "gcp"),
        ("azure-dev", "pulumi_azure_native", "azure"),
    ],
)
def test_planning_a_cloud_stack_without_its_sdk_names_the_extra(
    tmp_path: Path, stack: str, sdk: str, extra: str
) -> None:
    result, _ = gpuplane(tmp_path, "plan", "--stack", stack, hide=(sdk,))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"pip install 'gpuplane[{extra}]'" in lines[0]
    assert sdk.replace("_", "-") in lines[0]
    assert "Traceback" not in result.stderr


def test_local_plans_with_every_cloud_sdk_missing(tmp_path: Path) -> None:
    result, _ = gpuplane(tmp_path, "plan", "--stack", "local", hide=CLOUD_SDKS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("gpuplane.components.clusters.aws", "aws"),
        ("gpuplane.components.clusters.gcp", "gcp"),
        ("gpuplane.components.clusters.azure", "azure"),
    ],
)
def test_importing_a_cloud_module_without_its_sdk_says_which_extra(module: str, extra: str) -> None:
    code = (
        "import sys\n"
        f"for m in {CLOUD_SDKS!r}: sys.modules[m] = None\n"
        "from gpuplane.components.extras import MissingExtraError\n"
        "try:\n"
        f"    import {module}\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"pip install 'gpuplane[{extra}]'" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 1
