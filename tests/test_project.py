"""The project files a user and Pulumi read: Pulumi.yaml, pyproject.toml, __main__.py."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_pulumi_yaml_is_a_python_project_with_stacks_dir() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "gpuplane"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert project["runtime"]["options"]["toolchain"] in {"pip", "uv"}
    assert project["stackConfigDir"] == "stacks"


def test_default_kubernetes_provider_is_disabled() -> None:
    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert "kubernetes" in config["pulumi:disable-default-providers"]["value"]


def test_declared_keys_have_descriptions_and_pulumi_types() -> None:
    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    declared = {k: v for k, v in config.items() if k.startswith("gpuplane:")}
    assert {"gpuplane:cloud", "gpuplane:environment"} <= set(declared)
    for key, declaration in declared.items():
        assert declaration["description"], key
        # Pulumi's project schema allows only these types.
        assert declaration["type"] in {"string", "integer", "boolean", "array"}, key


def test_pyproject_declares_the_stack_and_the_command() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = " ".join(data["project"]["dependencies"])
    for package in (
        "pulumi>=",
        "pulumi-kubernetes>=4.32",
        "pulumi-aws",
        "pulumi-gcp",
        "pulumi-azure-native",
        "pulumi-random",
        "pulumi-policy",
        "pydantic",
        "typer",
        "rich",
        "pyyaml",
    ):
        assert package in deps, package
    dev = " ".join(data["project"]["optional-dependencies"]["dev"])
    for package in ("pytest", "ruff", "jsonschema", "kubernetes-validate"):
        assert package in dev, package
    assert data["project"]["scripts"]["gpuplane"] == "gpuplane.cli:main"


def test_main_is_config_then_build_then_exports() -> None:
    code = [
        line
        for line in (ROOT / "__main__.py").read_text().splitlines()
        if line.strip() and not line.startswith(("#", '"""', "import", "from"))
    ]
    assert len(code) <= 4, code
    assert "build_platform(load_config())" in "\n".join(code)


def test_components_keep_pulumi_schema_inference_working() -> None:
    for path in (ROOT / "components").rglob("*.py"):
        assert "from __future__ import annotations" not in path.read_text(), path
