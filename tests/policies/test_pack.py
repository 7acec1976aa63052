"""The pack as a whole: every rule documented, in the pack, and able to fire on a real graph."""

import copy
import json
import runpy
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from gpuplane import engine
from gpuplane.check import PackConfig, check
from gpuplane.graph import ResourceGraph
from gpuplane.stacks import find_project, load_stack
from policies import aws, azure, gcp, helm, kubernetes, mesh, stack
from policies.catalogue import RULES
from policies.rule import Rule
from tests.policies import test_kubernetes
from tests.policies.harness import Mutation

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = (aws, gcp, azure, kubernetes, helm, mesh, stack)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    **test_kubernetes.MUTATIONS,
}
for module_name in ("test_aws", "test_gcp", "test_azure", "test_helm", "test_mesh", "test_stack"):
    try:
        module = __import__(f"tests.policies.{module_name}", fromlist=["MUTATIONS"])
    except ModuleNotFoundError:
        continue
    MUTATIONS.update(getattr(module, "MUTATIONS", {}))


@cache
def shipped_graph(stack_name: str) -> str:
    project = find_project(ROOT)
    return engine.plan(load_stack(project, stack_name)).dumps()


def test_at_least_45_rules_with_every_field_a_reviewer_needs() -> None:
    assert len(RULES) >= 45
    for rule in RULES:
        assert rule.id.startswith("GP-") and rule.name and rule.description, rule.id
        assert rule.severity in ("low", "medium", "high", "critical")
        assert rule.level in ("mandatory", "advisory")
        assert rule.remediation and rule.anchor and rule.resource_types, rule.id


def test_catalogue_holds_every_rule_the_family_modules_define() -> None:
    defined = [r for module in FAMILIES for r in vars(module).values() if isinstance(r, Rule)]
    in_tuples = [r for module in FAMILIES for r in module.RULES]
    assert set(map(id, defined)) <= set(map(id, in_tuples))
    assert [r.id for r in RULES] == [r.id for r in in_tuples]


def test_the_pack_entry_point_hands_every_rule_to_the_policy_pack(monkeypatch: Any) -> None:
    # Run policies/__main__.py with a stand-in PolicyPack: the real one starts a server.
    captured: dict[str, Any] = {}
    import pulumi_policy

    fake = types.ModuleType("pulumi_policy")
    fake.__dict__.update(pulumi_policy.__dict__)
    fake.PolicyPack = lambda **kwargs: captured.update(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pulumi_policy", fake)
    runpy.run_path(str(ROOT / "policies" / "__main__.py"), run_name="__main__")
    names = [p.name for p in captured["policies"]]
    assert names == [r.name for r in RULES]
    assert captured["name"] == "gpuplane"


def test_every_rule_has_a_mutation() -> None:
    assert sorted(MUTATIONS) == sorted(r.id for r in RULES)


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_mutating_a_shipped_stack_breaks_exactly_that_rule(rule: Rule, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gpuplane.cli import app

    stack_name, mutate = MUTATIONS[rule.id]
    data = json.loads(shipped_graph(stack_name))
    before = {v.id for v in check(ResourceGraph.from_json(copy.deepcopy(data))).violations}
    assert rule.id not in before, f"{stack_name} already breaks {rule.id}"
    mutate(data)
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["check", "--graph", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    fired = [v for v in report["violations"] if v["id"] == rule.id]
    assert fired, f"{rule.id} did not fire on the mutated {stack_name} graph"
    assert all("cannot be known" not in v["message"] for v in fired)
    assert result.exit_code == (1 if rule.level == "mandatory" else 0) or any(
        v["level"] == "mandatory" for v in report["violations"]
    )


@pytest.mark.parametrize("stack_name", sorted(find_project(ROOT).stack_names()))
def test_shipped_stacks_have_no_violation(stack_name: str) -> None:
    # Not even an advisory one: the README says so, so any new finding is explained or fixed.
    result = check(ResourceGraph.loads(shipped_graph(stack_name)), PackConfig())
    assert result.violations == [], [(v.id, v.name, v.message) for v in result.violations]
