"""Shared fixtures: the project, stacks built from mappings, and the offline engine."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpuplane import engine
from gpuplane.graph import ResourceGraph
from gpuplane.stacks import Project, find_project, load_stack, stack_from_mapping

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project() -> Project:
    return find_project(ROOT)


@pytest.fixture(scope="session")
def local_graph(project: Project) -> ResourceGraph:
    return engine.plan(load_stack(project, "local"))


@pytest.fixture(scope="session")
def stack_graphs(project: Project) -> dict[str, ResourceGraph]:
    """Every stack in stacks/, planned once for the session."""
    return {name: engine.plan(load_stack(project, name)) for name in project.stack_names()}


@pytest.fixture
def plan_mapping(project: Project) -> Callable[[dict[str, Any]], ResourceGraph]:
    """Plan a stack whose `config:` section is the given mapping."""

    def run(config: dict[str, Any], name: str = "test") -> ResourceGraph:
        return engine.plan(stack_from_mapping(project, name, config))

    return run
