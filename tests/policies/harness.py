"""Run single rules on hand-written resources, and mutate shipped graphs, for policy tests."""

import copy
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from gpuplane.check import PackConfig, Violation, check
from gpuplane.graph import Resource, ResourceGraph

ROOT = Path(__file__).resolve().parents[2]
Mutation = Callable[[dict[str, Any]], None]
"""Edits a graph's JSON (the `gpuplane plan --format json` document) in place."""


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:t::gpuplane::{resource_type}::{name}"


def graph_of(
    *resources: tuple[str, Mapping[str, Any]] | tuple[str, str, Mapping[str, Any]],
) -> ResourceGraph:
    """A graph of custom resources: (type, inputs) or (type, name, inputs)."""
    graph = ResourceGraph(project="gpuplane", stack="t")
    for i, entry in enumerate(resources):
        if len(entry) == 2:
            resource_type, inputs = entry  # type: ignore[misc]
            name = f"r{i}"
        else:
            resource_type, name, inputs = entry  # type: ignore[misc]
        urn = _urn(resource_type, name)
        graph.resources[urn] = Resource(
            urn=urn, type=resource_type, name=name, custom=True, inputs=copy.deepcopy(dict(inputs))
        )
    return graph


def violations(
    rule_id: str,
    *resources: tuple[str, Mapping[str, Any]] | tuple[str, str, Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
) -> list[Violation]:
    """What rule `rule_id` reports on a graph of these resources (all other rules ignored)."""
    result = check(graph_of(*resources), PackConfig.parse(dict(config or {})))
    return [v for v in result.violations if v.id == rule_id]


def messages(rule_id: str, *resources: Any, config: Mapping[str, Any] | None = None) -> list[str]:
    return [v.message for v in violations(rule_id, *resources, config=config)]


def assert_reports(rule_id: str, resource: Any, fragment: str) -> None:
    """Rule `rule_id` reports `resource`, every message names the rule, one says `fragment`."""
    found = messages(rule_id, resource)
    assert found, rule_id
    assert all(m.startswith(f"[{rule_id}] ") for m in found)
    assert any(fragment in m for m in found), found


def edited(base: Mapping[str, Any], path: str, value: Any = ...) -> dict[str, Any]:
    """A copy of `base` with the dotted path set to value (or removed when no value)."""
    out = copy.deepcopy(dict(base))
    _edit(out, path, value)
    return out


def _edit(tree: Any, path: str, value: Any = ...) -> None:
    """Set `path` in `tree` to a copy of `value` (creating missing objects on the way),
    or delete it when no value is given."""
    *parents, last = _parts(path)
    node = tree
    for key in parents:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = copy.deepcopy(value)


# --- mutations of a shipped stack's graph JSON ---------------------------------


def _parts(path: str) -> list[Any]:
    """`a.0.b\\.c` -> ["a", 0, "b.c"]: dots split, escaped dots stay, digits index lists."""
    parts = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", path)]
    return [int(p) if p.isdigit() else p for p in parts]


def resources_of(data: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    found = [r for r in data["resources"] if r["type"] == resource_type]
    assert found, f"the graph has no {resource_type}"
    return found


def set_input(resource_type: str, path: str, value: Any, *, every: bool = False) -> Mutation:
    """Set inputs.<path> (dotted; list indices as numbers) on the first (or every)
    resource of the type."""

    def mutate(data: dict[str, Any]) -> None:
        targets = resources_of(data, resource_type)
        for resource in targets if every else targets[:1]:
            _edit(resource["inputs"], path, value)

    return mutate


def delete_input(resource_type: str, path: str, *, every: bool = False) -> Mutation:
    """Remove inputs.<path> (the provider's default then applies)."""

    def mutate(data: dict[str, Any]) -> None:
        targets = resources_of(data, resource_type)
        for resource in targets if every else targets[:1]:
            _edit(resource["inputs"], path)

    return mutate


def add_resource(resource_type: str, name: str, inputs: Mapping[str, Any]) -> Mutation:
    """Add one custom resource to the graph."""

    def mutate(data: dict[str, Any]) -> None:
        data["resources"].append(
            {
                "urn": _urn(resource_type, name),
                "type": resource_type,
                "name": name,
                "custom": True,
                "inputs": copy.deepcopy(dict(inputs)),
            }
        )

    return mutate


def remove_resources(resource_type: str, predicate: Callable[[dict[str, Any]], bool]) -> Mutation:
    """Drop every resource of the type whose JSON entry matches."""

    def mutate(data: dict[str, Any]) -> None:
        before = len(data["resources"])
        data["resources"] = [
            r for r in data["resources"] if not (r["type"] == resource_type and predicate(r))
        ]
        assert len(data["resources"]) < before, f"nothing of {resource_type} was removed"

    return mutate


@cache
def shipped_graph(stack_name: str) -> str:
    """A shipped stack's graph JSON, planned with its placeholders filled in (as a user's
    copy is): test_environment.py checks the placeholders themselves."""
    from gpuplane import engine
    from gpuplane.stacks import find_project, load_stack
    from tests.helpers import filled_in

    return engine.plan(filled_in(load_stack(find_project(ROOT), stack_name))).dumps()
