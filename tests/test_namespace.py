"""One import namespace: a consumer's own `components` and `policies` packages and
gpuplane's cannot shadow each other (each case is a fresh interpreter)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import gpuplane.components.config, gpuplane.engine, gpuplane.policies.catalogue
from gpuplane.components.serving.stack import ServingStack
import components, policies  # the consumer's own, first on sys.path
print(json.dumps({
    "ours": [gpuplane.components.config.__file__, gpuplane.policies.catalogue.__file__],
    "theirs": [components.MARK, policies.MARK, components.config.MARK],
    "rules": len(gpuplane.policies.catalogue.RULES),
}))
"""


def test_a_consumers_components_and_policies_do_not_shadow_gpuplanes(tmp_path: Path) -> None:
    for package in ("components", "policies"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(f"MARK = 'consumer {package}'\n")
    (tmp_path / "components" / "config.py").write_text("MARK = 'consumer config'\n")
    (tmp_path / "components" / "__init__.py").write_text(
        "MARK = 'consumer components'\nfrom components import config\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,  # `python -c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for path in found["ours"]:
        assert Path(path).resolve().is_relative_to(ROOT), path
    assert found["theirs"] == ["consumer components", "consumer policies", "consumer config"]
    assert found["rules"] > 10


def test_gpuplane_registers_no_top_level_components_or_policies() -> None:
    code = (
        "import sys, gpuplane.components.platform, gpuplane.check\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('components', 'policies')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
