"""`gpuplane check` and `gpuplane rules` as a user and a CI job run them."""

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpuplane import check as check_module
from gpuplane.check import (
    PackConfig,
    PolicyConfigError,
    PolicyRuntimeError,
    check,
    crossguard_props,
)
from gpuplane.cli import app
from gpuplane.graph import ResourceGraph
from gpuplane.policies.catalogue import RULES
from gpuplane.policies.rule import Rule
from tests.policies.harness import graph_of

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def broken_graph(local_graph: ResourceGraph, tmp_path: Path) -> Path:
    """The local stack's graph with mTLS made PERMISSIVE (mandatory) and a chart unpinned."""
    data = json.loads(local_graph.dumps())
    for resource in data["resources"]:
        if resource["type"] == "kubernetes:security.istio.io/v1:PeerAuthentication":
            resource["inputs"]["spec"]["mtls"]["mode"] = "PERMISSIVE"
        if resource["type"] == "kubernetes:helm.sh/v3:Release":
            resource["inputs"]["skipAwait"] = True  # advisory
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(data))
    return path


def test_json_report_of_a_clean_stack() -> None:
    result = runner.invoke(app, ["check", "--stack", "local", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["violations"] == []
    assert report["summary"]["mandatory"] == 0
    assert report["summary"]["policies"] == len(RULES)
    assert report["summary"]["stack"] == "local"


def test_mandatory_violation_fails_with_exit_1(broken_graph: Path) -> None:
    result = runner.invoke(app, ["check", "--graph", str(broken_graph), "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    mtls = [v for v in report["violations"] if v["id"] == "GP-MESH-001"]
    assert mtls and mtls[0]["level"] == "mandatory"
    assert set(mtls[0]) >= {"id", "policy", "level", "urn", "type", "name", "message"}
    assert mtls[0]["policy"] == "mesh-no-permissive-mtls"
    assert mtls[0]["type"] == "kubernetes:security.istio.io/v1:PeerAuthentication"
    assert any(v["id"] == "GP-HELM-004" and v["level"] == "advisory" for v in report["violations"])


def test_policy_config_changes_levels_and_settings(broken_graph: Path, tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps(
            {
                "mesh-no-permissive-mtls": "advisory",
                "mesh-wide-strict-mtls": {"enforcementLevel": "advisory"},
                "helm-release-waits": "disabled",
            }
        )
    )
    result = runner.invoke(
        app, ["check", "--graph", str(broken_graph), "--policy-config", str(config), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {v["id"] for v in report["violations"]} == {"GP-MESH-001", "GP-MESH-002"}
    assert {v["level"] for v in report["violations"]} == {"advisory"}
    config.write_text(json.dumps({"all": "mandatory"}))
    result = runner.invoke(
        app, ["check", "--graph", str(broken_graph), "--policy-config", str(config)]
    )
    assert result.exit_code == 1
    assert "MANDATORY GP-HELM-004" in result.output


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"no-such-policy": "advisory"}, "no-such-policy: no such policy"),
        (
            {"helm-allowed-repository": {"allowedRepos": []}},
            "allowedRepos: unknown setting; allowed: enforcementLevel, allowedRepositories",
        ),
        ({"all": "blocking"}, "all: 'blocking'; allowed: mandatory, advisory, remediate, disabled"),
        ({"all": {"enforcementLevel": "blocking"}}, "all: 'blocking'"),
        ({"all": {"exemptNamespaces": []}}, "all.exemptNamespaces: unknown setting"),
        (
            {"gcp-kms-key-rotation": {"maxRotationDays": "30"}},
            "maxRotationDays: must be an integer",
        ),
        (
            {"gcp-kms-key-rotation": {"maxRotationDays": 30.5}},
            "maxRotationDays: must be an integer",
        ),
        ({"mesh-wide-strict-mtls": {"rootNamespace": 5}}, "rootNamespace: must be a string"),
        (
            {"helm-allowed-repository": {"allowedRepositories": "https://x"}},
            "must be a list of strings",
        ),
    ],
)
def test_bad_policy_config_exits_2_naming_the_key(
    config: dict, fragment: str, tmp_path: Path
) -> None:
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    result = runner.invoke(app, ["check", "--stack", "local", "--policy-config", str(path)])
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_pulumi_config_forms_all_as_an_object_and_remediate(
    broken_graph: Path, tmp_path: Path
) -> None:
    # Both work with `pulumi preview --policy-pack-config`: so they work offline too.
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps(
            {
                "all": {"enforcementLevel": "advisory"},
                # CrossGuard reports remediate as mandatory for a policy that only validates.
                "mesh-no-permissive-mtls": {"enforcementLevel": "remediate"},
                "gcp-kms-key-rotation": {"maxRotationDays": 30},
            }
        )
    )
    result = runner.invoke(
        app, ["check", "--graph", str(broken_graph), "--policy-config", str(config), "-f", "json"]
    )
    assert result.exit_code == 1, result.output
    levels = {v["id"]: v["level"] for v in json.loads(result.output)["violations"]}
    assert levels["GP-MESH-001"] == "mandatory"
    assert levels["GP-HELM-004"] == "advisory"
    parsed = PackConfig.parse({"all": "remediate"})
    assert {parsed.level(rule) for rule in RULES} == {"mandatory"}


def test_props_reach_rules_as_crossguard_hands_them_over() -> None:
    # Through a protobuf Struct: every number a float, unknowns as the sentinel.
    props = crossguard_props({"port": 22, "nested": [{"n": 1}], "flag": True, "gone": None})
    assert props == {"port": 22.0, "nested": [{"n": 1.0}], "flag": True, "gone": None}
    assert isinstance(props["port"], float) and isinstance(props["nested"][0]["n"], float)


def _crashing_rule(*, stack: bool) -> Rule:
    def boom(args: Any, config: Any) -> Any:
        raise KeyError("surprise")

    kind = {"stack_check": boom} if stack else {"check": boom}
    return Rule(
        id="GP-TEST-001",
        name="test-crashing-rule",
        description="Crashes.",
        severity="low",
        level="advisory",
        remediation="Fix the rule.",
        anchor="a test",
        resource_types=("kubernetes:core/v1:Namespace",),
        **kind,
    )


@pytest.mark.parametrize("stack", [False, True], ids=["resource-rule", "stack-rule"])
def test_a_rule_that_crashes_is_a_policy_error_naming_it(
    stack: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_module, "RULES", (_crashing_rule(stack=stack),))
    graph = graph_of(("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "a"}}))
    with pytest.raises(PolicyRuntimeError) as caught:
        check(graph)
    assert isinstance(caught.value, PolicyConfigError)
    message = str(caught.value)
    assert "test-crashing-rule (GP-TEST-001) failed on" in message
    assert "KeyError" in message and "surprise" in message
    where = "the stack t" if stack else "urn:pulumi:t::gpuplane::kubernetes:core/v1:Namespace::ns"
    assert where in message


def test_a_rule_that_crashes_exits_2_without_a_traceback(
    local_graph: ResourceGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_module, "RULES", (*RULES, _crashing_rule(stack=False)))
    path = tmp_path / "graph.json"
    path.write_text(local_graph.dumps())
    result = runner.invoke(app, ["check", "--graph", str(path)])
    assert result.exit_code == 2
    assert "test-crashing-rule (GP-TEST-001) failed on" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--graph", "missing.json"], "missing.json: cannot read"),
        (["--stack", "local", "--graph", "x.json"], "use one of --stack, --stack-file and --graph"),
        (["--stack", "nope"], "no stack 'nope'"),
    ],
)
def test_bad_input_exits_2(args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["check", *args])
    assert result.exit_code == 2
    assert fragment in result.output


def test_a_file_that_is_not_a_graph_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('{"resources": []}')
    result = runner.invoke(app, ["check", "--graph", str(path)])
    assert result.exit_code == 2
    assert "not a gpuplane graph" in result.output


def test_markdown_is_a_pr_comment(broken_graph: Path) -> None:
    result = runner.invoke(app, ["check", "--graph", str(broken_graph), "--format", "markdown"])
    assert result.exit_code == 1
    assert result.output.startswith("### ❌ gpuplane policy check")
    assert "| mandatory | GP-MESH-001 | `mesh-no-permissive-mtls` | 1 |" in result.output


def test_sarif_points_at_the_stack_file(tmp_path: Path, local_graph: ResourceGraph) -> None:
    result = runner.invoke(app, ["check", "--stack", "local", "--format", "sarif"])
    assert result.exit_code == 0, result.output
    sarif = json.loads(result.output)
    assert sarif["version"] == "2.1.0"
    [run] = sarif["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.id for r in RULES]
    assert run["results"] == []
    # A failing graph: every result names a known rule and a location.
    data = json.loads(local_graph.dumps())
    for resource in data["resources"]:
        if resource["type"] == "kubernetes:security.istio.io/v1:PeerAuthentication":
            resource["inputs"]["spec"]["mtls"]["mode"] = "DISABLE"
    path = tmp_path / "g.json"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["check", "--graph", str(path), "--format", "sarif"])
    [run] = json.loads(result.output)["runs"]
    # DISABLE breaks the PeerAuthentication and leaves the mesh without STRICT mTLS.
    assert sorted(f["ruleId"] for f in run["results"]) == ["GP-MESH-001", "GP-MESH-002"]
    finding = run["results"][0]
    assert finding["ruleId"] == "GP-MESH-001" and finding["level"] == "error"
    rule = run["tool"]["driver"]["rules"][finding["ruleIndex"]]
    assert rule["id"] == "GP-MESH-001"
    location = finding["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == "stacks/Pulumi.local.yaml"


def test_sarif_from_the_stack_file_names_it() -> None:
    # aws-dev's only findings are its placeholders (advisory in dev), at the stack file.
    result = runner.invoke(app, ["check", "--stack", "aws-dev", "--format", "sarif"])
    assert result.exit_code == 0
    [run] = json.loads(result.output)["runs"]
    assert {r["ruleId"] for r in run["results"]} == {"GP-STACK-003"}
    assert {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    } == {"stacks/Pulumi.aws-dev.yaml"}
    assert run["automationDetails"]["id"] == "gpuplane/aws-dev/"


def test_rules_lists_every_rule() -> None:
    result = runner.invoke(app, ["rules", "--format", "json"])
    assert result.exit_code == 0
    listed = json.loads(result.output)
    assert [r["id"] for r in listed] == [r.id for r in RULES]
    for entry in listed:
        assert set(entry) >= {"id", "name", "level", "severity", "resource_types", "anchor"}
    text = runner.invoke(app, ["rules"])
    assert text.exit_code == 0
    assert f"{len(RULES)} rules" in text.output
    assert "GP-MESH-002" in text.output
