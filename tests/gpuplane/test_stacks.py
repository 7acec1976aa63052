"""Stack files become config exactly as Pulumi would pass it to the program."""

import json
from pathlib import Path

import pytest

from gpuplane.stacks import (
    SECRET_PLACEHOLDER,
    Project,
    StackError,
    find_project,
    load_stack,
    stack_from_mapping,
    wire_value,
)


def test_wire_values_match_pulumi() -> None:
    assert wire_value("x") == "x"
    assert wire_value(True) == "true"
    assert wire_value(3) == "3"
    assert json.loads(wire_value({"a": [1, 2]})) == {"a": [1, 2]}


def test_project_level_values_apply_to_every_stack(project: Project) -> None:
    stack = load_stack(project, "local")
    assert json.loads(stack.values["pulumi:disable-default-providers"]) == ["kubernetes"]
    assert stack.disabled_default_providers == ("kubernetes",)
    assert stack.values["gpuplane:cloud"] == "existing"


def test_unnamespaced_keys_belong_to_the_project(project: Project) -> None:
    stack = stack_from_mapping(project, "t", {"cloud": "existing"})
    assert stack.values["gpuplane:cloud"] == "existing"


def test_secure_values_become_placeholders_and_secret_keys(project: Project) -> None:
    stack = stack_from_mapping(
        project,
        "t",
        {"gpuplane:existing": {"context": "c", "kubeconfig": {"secure": "v1:abc"}}},
    )
    assert json.loads(stack.values["gpuplane:existing"])["kubeconfig"] == SECRET_PLACEHOLDER
    assert stack.secret_keys == ("gpuplane:existing",)


def test_missing_stack_names_the_known_ones(project: Project) -> None:
    with pytest.raises(StackError, match=r"stacks here: .*local"):
        load_stack(project, "nope")


def test_stack_file_errors_are_clear(project: Project, tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config: [1, 2\n")
    with pytest.raises(StackError, match="not valid YAML"):
        load_stack(project, path=bad)
    esc = tmp_path / "Pulumi.esc.yaml"
    esc.write_text("environment: [prod-secrets]\nconfig: {}\n")
    with pytest.raises(StackError, match="ESC"):
        load_stack(project, path=esc)


def test_project_is_found_from_a_subdirectory(project: Project) -> None:
    assert find_project(project.root / "components" / "clusters").root == project.root


def test_no_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"no Pulumi\.yaml"):
        find_project(tmp_path)
