"""Shared fixtures: the project, stacks built from mappings, and the offline engine."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpuplane import engine
from gpuplane.graph import ResourceGraph
from gpuplane.stacks import Project, find_project, load_stack, stack_from_mapping
from tests.upstream import UPSTREAM

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


def _skip_without_upstream(error: FileNotFoundError) -> None:
    """A test that reads the upstream oracle, on a clone without ../shared beside it
    (a user's machine): skipped with one line, as the README promises; never in CI,
    which has the data."""
    if not UPSTREAM.is_dir() and str(UPSTREAM) in str(error.filename or ""):
        pytest.skip(f"upstream oracle absent ({UPSTREAM}): test skipped")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    try:
        return (yield)
    except FileNotFoundError as error:
        _skip_without_upstream(error)
        raise


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    try:
        return (yield)
    except FileNotFoundError as error:
        _skip_without_upstream(error)
        raise
