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
        "pulumi-random",
        "pulumi-policy",
        "pydantic",
        "typer",
        "rich",
        "pyyaml",
    ):
        assert package in deps, package
    # The core install carries no cloud SDK: each is an extra, and `all` is all three.
    extras = data["project"]["optional-dependencies"]
    for extra, package in (("aws", "pulumi-aws"), ("gcp", "pulumi-gcp")):
        assert package not in deps, package
        assert any(d.startswith(package) for d in extras[extra]), extra
    assert "pulumi-azure-native" not in deps
    assert any(d.startswith("pulumi-azure-native") for d in extras["azure"])
    assert extras["all"] == ["gpuplane[aws,gcp,azure]"]
    dev = " ".join(extras["dev"])
    for package in ("gpuplane[all]", "pytest", "ruff", "jsonschema", "kubernetes-validate"):
        assert package in dev, package
    assert data["project"]["scripts"]["gpuplane"] == "gpuplane.cli:main"


def test_pulumi_up_installs_every_cloud_the_stacks_use() -> None:
    """Pulumi's pip toolchain installs requirements.txt; the stacks span all three clouds."""
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e .[all]"]


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
