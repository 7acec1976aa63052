"""The `gpuplane` command loads the provider SDKs with postponed annotations
(gpuplane/sdk_import.py): the graphs stay byte for byte those of the SDKs loaded as
usual (this test session), from a cold and from a warm bytecode cache, and a damaged or
unwritable cache changes nothing but the time."""

import os
import subprocess
import sys
from pathlib import Path

from gpuplane.graph import ResourceGraph

ROOT = Path(__file__).resolve().parents[2]
GPUPLANE = Path(sys.executable).with_name("gpuplane")


def _plan_json(stack: str, cache_home: Path) -> str:
    result = subprocess.run(
        [str(GPUPLANE), "plan", "--stack", stack, "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(cache_home), "NO_COLOR": "1"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _cached(cache_home: Path, module: str) -> list[Path]:
    return sorted((cache_home / "gpuplane" / "sdk-bytecode").glob(f"*/{module}-*.pyc"))


def test_aws_graph_is_unchanged_from_a_cold_and_a_warm_cache(
    tmp_path: Path, stack_graphs: dict[str, ResourceGraph]
) -> None:
    expected = stack_graphs["aws-dev"].dumps()
    assert _plan_json("aws-dev", tmp_path) == expected  # cold: compiles and caches
    written = _cached(tmp_path, "pulumi_aws.ec2._inputs")
    assert len(written) == 1
    stamp = written[0].stat().st_mtime_ns
    assert _plan_json("aws-dev", tmp_path) == expected  # warm: read back, not rewritten
    assert written[0].stat().st_mtime_ns == stamp


def test_a_damaged_cache_file_is_compiled_again(
    tmp_path: Path, stack_graphs: dict[str, ResourceGraph]
) -> None:
    expected = stack_graphs["local"].dumps()
    assert _plan_json("local", tmp_path) == expected
    (damaged,) = _cached(tmp_path, "pulumi_kubernetes.core.v1._inputs")
    size = damaged.stat().st_size
    damaged.write_bytes(damaged.read_bytes()[:40])  # the key intact, the code cut short
    assert _plan_json("local", tmp_path) == expected
    assert damaged.stat().st_size == size


def test_an_unwritable_cache_leaves_the_sdks_as_they_are(
    tmp_path: Path, stack_graphs: dict[str, ResourceGraph]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    assert _plan_json("local", blocker) == stack_graphs["local"].dumps()
    probe = subprocess.run(
        [sys.executable, "-c", "from gpuplane import sdk_import; print(sdk_import.install())"],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(blocker)},
        check=True,
    )
    assert probe.stdout.strip() == "False"
