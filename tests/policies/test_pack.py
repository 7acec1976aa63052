"""The pack as a whole: every rule documented, in the pack, and able to fire on a real graph."""

import ast
import copy
import json
import os
import runpy
import shutil
import subprocess
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

import pytest

from gpuplane.check import PackConfig, check
from gpuplane.graph import ResourceGraph
from gpuplane.policies import aws, azure, environment, gcp, helm, kubernetes, mesh, stack
from gpuplane.policies.catalogue import RULES
from gpuplane.policies.rule import Rule
from gpuplane.stacks import find_project
from tests.policies import test_kubernetes
from tests.policies.harness import Mutation, shipped_graph

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = (aws, gcp, azure, kubernetes, helm, mesh, stack, environment)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    **test_kubernetes.MUTATIONS,
}
for module_name in (
    "test_aws",
    "test_gcp",
    "test_azure",
    "test_helm",
    "test_mesh",
    "test_stack",
    "test_jobs_rules",
    "test_environment",
):
    try:
        module = __import__(f"tests.policies.{module_name}", fromlist=["MUTATIONS"])
    except ModuleNotFoundError:
        continue
    MUTATIONS.update(getattr(module, "MUTATIONS", {}))


def test_at_least_45_rules_with_every_field_a_reviewer_needs() -> None:
    assert len(RULES) >= 45
    for rule in RULES:
        assert rule.id.startswith("GP-") and rule.name and rule.description, rule.id
        assert rule.severity in ("low", "medium", "high", "critical")
        assert rule.level in ("mandatory", "advisory")
        assert rule.remediation and rule.anchor and rule.resource_types, rule.id


def _rule_constructions(module: types.ModuleType) -> int:
    """How many times the module's source calls Rule(...)."""
    tree = ast.parse(Path(str(module.__file__)).read_text())
    return sum(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Rule"
        for node in ast.walk(tree)
    )


@pytest.mark.parametrize("module", FAMILIES, ids=[m.__name__ for m in FAMILIES])
def test_every_rule_a_family_module_constructs_is_in_its_rules(module: types.ModuleType) -> None:
    # A Rule(...) left out of the module's RULES tuple would never reach the pack.
    assert _rule_constructions(module) == len(module.RULES)
    assert all(isinstance(rule, Rule) for rule in module.RULES)


def test_catalogue_is_exactly_the_family_rules_in_order() -> None:
    in_tuples = [rule for module in FAMILIES for rule in module.RULES]
    assert list(RULES) == in_tuples
    assert all(a is b for a, b in zip(RULES, in_tuples, strict=True))
    # Every module of the pack that defines rules is one of the families.
    modules = {p.stem for p in (ROOT / "policies").glob("*.py")}
    with_rules = {
        name for name in modules if "Rule(" in (ROOT / "policies" / f"{name}.py").read_text()
    }
    assert with_rules == {m.__name__.rsplit(".", 1)[1] for m in FAMILIES}


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


_PACK_LOADER = """
import json, runpy, sys
sys.path.append({site!r})
import pulumi_policy
captured = {{}}
pulumi_policy.PolicyPack = lambda **kwargs: captured.update(kwargs)
runpy.run_path(".", run_name="__main__")
pack = sys.modules["_gpuplane_policy_pack"]
print(json.dumps({{
    "name": captured["name"],
    "policies": [p.name for p in captured["policies"]],
    "package_path": list(pack.__path__),
    "files": sorted(
        m.__file__ for n, m in sys.modules.items() if n.startswith("_gpuplane_policy_pack.")
    ),
    "outside": sorted(
        n for n in ("components", "policies", "gpuplane", "tests") if n in sys.modules
    ),
}}))
"""


def test_the_pack_loads_from_a_copy_of_its_own_directory_alone(tmp_path: Path) -> None:
    # As Pulumi runs it in the pack's virtualenv (or after `pulumi policy publish`): from
    # the pack's directory, under any name, with no repository on sys.path. `python -S`
    # skips site-packages' .pth files (the editable install that maps the repository);
    # site-packages itself is appended by hand, for pulumi and pulumi_policy.
    pack = tmp_path / "my-pack"
    shutil.copytree(ROOT / "policies", pack, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    site = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    result = subprocess.run(
        [sys.executable, "-S", "-c", _PACK_LOADER.format(site=site)],
        cwd=pack,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["name"] == "gpuplane"
    assert loaded["policies"] == [r.name for r in RULES]
    assert loaded["package_path"] == [str(pack.resolve())]
    assert loaded["files"] and all(f.startswith(str(pack.resolve())) for f in loaded["files"])
    assert loaded["outside"] == []


def test_every_rule_has_a_mutation() -> None:
    assert sorted(MUTATIONS) == sorted(r.id for r in RULES)


# Rules a mutation may break beside its own, because the two read the same thing; any
# other rule firing means the mutation (or a rule) has drifted.
CO_FIRING: dict[str, dict[str, str]] = {
    "GP-GCP-004": {"GP-STACK-001": "both require the cluster's Workload Identity pool"},
    "GP-AZ-010": {"GP-STACK-001": "both require the cluster's workload identity"},
    "GP-K8S-014": {
        "GP-K8S-018": "a workload in `default` puts that namespace, without a default-deny "
        "policy, in scope"
    },
    "GP-GCP-002": {"GP-STACK-004": "an endpoint open to anyone is wider than a prod /24 too"},
    "GP-AWS-001": {"GP-STACK-004": "an endpoint open to anyone is wider than a prod /24 too"},
    "GP-AZ-001": {"GP-STACK-004": "an endpoint open to anyone is wider than a prod /24 too"},
    "GP-HELM-002": {
        "GP-HELM-003": "an http:// repository is never on the allow-list of https/oci URLs"
    },
}


def test_co_firing_allowances_name_known_rules() -> None:
    ids = {r.id for r in RULES}
    for rule_id, extra in CO_FIRING.items():
        assert rule_id in ids and set(extra) <= ids and rule_id not in extra
        assert all(reason for reason in extra.values())


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
    others = {v["id"] for v in report["violations"]} - {rule.id}
    assert others <= set(CO_FIRING.get(rule.id, {})), f"{rule.id}'s mutation also breaks {others}"
    assert all("cannot be known" not in v["message"] for v in fired)
    assert result.exit_code == (1 if rule.level == "mandatory" else 0) or any(
        v["level"] == "mandatory" for v in report["violations"]
    )


@pytest.mark.parametrize("stack_name", sorted(find_project(ROOT).stack_names()))
def test_shipped_stacks_have_no_violation(stack_name: str) -> None:
    # Not even an advisory one (placeholders filled in, as the README says), so any new
    # finding is explained or fixed.
    result = check(ResourceGraph.loads(shipped_graph(stack_name)), PackConfig())
    assert result.violations == [], [(v.id, v.name, v.message) for v in result.violations]
