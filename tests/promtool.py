"""promtool (Debian's `prometheus` package) as the oracle for rules: check and unit-test.

Tests that need it skip with one line where it is not installed (.ci/run installs it).
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane.graph import ResourceGraph

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (apt-get install prometheus): rule checks skipped")
    return path


def rule_groups(graph: ResourceGraph, name: str = "gpuplane") -> list[dict[str, Any]]:
    """The groups of one PrometheusRule in a planned graph."""
    found = [r for r in graph.by_type(RULE) if r.get("metadata.name") == name]
    assert len(found) == 1, name
    return found[0].inputs["spec"]["groups"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def check_rules(groups: list[dict[str, Any]], tmp: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    return run(["check", "rules", str(path)], tmp)


def unit_test_rules(
    groups: list[dict[str, Any]], tests: list[dict[str, Any]], tmp: Path
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` over `groups` with these test cases."""
    (tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp / "test.yaml").write_text(yaml.safe_dump(spec))
    return run(["test", "rules", "test.yaml"], tmp)
