"""`gpuplane diff`: two commits of a scratch repository, compared as a PR comment would."""

import json
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gpuplane import diff as diff_module
from gpuplane.cli import app
from gpuplane.cost import HOURS_PER_MONTH
from gpuplane.diff import changed_paths, compare
from gpuplane.graph import Resource, ResourceGraph

ROOT = Path(__file__).resolve().parents[2]
# m6i.large on demand, plus 50 GiB of gp3 at 0.08 per GB-month (the price tables' figures).
IDLE_DELTA = 0.096 + 50 * 0.08 / HOURS_PER_MONTH


def test_changed_paths_name_every_difference() -> None:
    before = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": True}
    after = {"a": 1, "b": {"c": [1, 3], "d": "y"}, "new": 1}
    assert changed_paths(before, after) == ["b.c[1]", "b.d", "gone", "new"]
    assert changed_paths({"l": [1]}, {"l": [1, 2]}) == ["l"]


def test_compare_in_memory() -> None:
    def graph(*resources: tuple[str, dict]) -> ResourceGraph:
        g = ResourceGraph(project="p", stack="s", outputs={"cloud": "existing"})
        for name, inputs in resources:
            urn = f"urn:pulumi:s::p::kubernetes:core/v1:Namespace::{name}"
            g.resources[urn] = Resource(
                urn=urn, type="kubernetes:core/v1:Namespace", name=name, custom=True, inputs=inputs
            )
        return g

    labelled = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    base = graph(("a", labelled), ("b", labelled))
    head = graph(("b", {"metadata": {"labels": {}}}), ("c", labelled))
    diff = compare(base, head, "main")
    assert [x["name"] for x in diff.added] == ["c"]
    assert [x["name"] for x in diff.removed] == ["a"]
    assert diff.changed[0]["paths"] == ["metadata.labels.pod-security.kubernetes.io/enforce"]
    # b lost its Pod Security label: a new (advisory) finding.
    assert [v["id"] for v in diff.violations["new"]] == ["GP-K8S-016"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project at HEAD in a new repository, then a second commit that changes aws-dev."""
    repo = tmp_path_factory.mktemp("scratch")
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive.stdout, check=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "base")
    # The base commit's own code differs: it pins another KServe chart version. The
    # diff must plan the base with that code, not the installed one.
    versions = repo / "components" / "versions.py"
    pinned = versions.read_text()
    versions.write_text(pinned.replace('_KSERVE = "v0.20.0"', '_KSERVE = "v0.19.0"'))
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "old")
    versions.write_text(pinned)
    stack = repo / "stacks" / "Pulumi.aws-dev.yaml"
    config = yaml.safe_load(stack.read_text())
    settings = config["config"]
    settings["gpuplane:systemPool"] = {"minNodes": 3, "maxNodes": 4}  # changed: idle cost
    settings["gpuplane:gpuPools"][0]["maxNodes"] = 4  # changed: peak cost
    settings["gpuplane:gpuPools"].append(  # added: a second GPU pool
        {"name": "a10g", "instanceTypes": ["g5.xlarge"], "maxNodes": 1}
    )
    settings["gpuplane:serving"] = {"monitoring": False}  # removed: the monitoring stack
    stack.write_text(yaml.safe_dump(config))
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "head")
    return repo


def test_diff_of_two_commits(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scratch)
    result = CliRunner().invoke(
        app, ["diff", "--base", "HEAD~1", "--stack", "aws-dev", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    diff = json.loads(result.output)
    added = {(x["type"], x["name"]) for x in diff["added"]}
    assert ("kubernetes:karpenter.sh/v1:NodePool", "gpuplane-dev-nodepool-a10g") in added
    removed = {x["type"] for x in diff["removed"]}
    assert "gpuplane:serving:Monitoring" in removed
    changed = {x["name"]: x["paths"] for x in diff["changed"]}
    # The base's own code ran: its KServe charts were v0.19.0.
    assert "version" in changed["gpuplane-dev-serving-kserve-controller"]
    assert "scalingConfig.desiredSize" in changed["gpuplane-dev-system"]
    assert "spec.limits.nodes" in changed["gpuplane-dev-nodepool-l4"]
    cost = diff["cost"]
    # One more m6i.large with its 50 GiB gp3 root volume idle; at peak a fourth system
    # node, two more L4 nodes and an A10G.
    assert cost["idle_hourly_delta"] == pytest.approx(IDLE_DELTA, abs=1e-4)
    assert cost["peak_hourly_delta"] > 2 * 0.8048
    assert diff["violations"] == {"new": [], "fixed": []}
    assert set(diff["estimate"]) == {
        "critical_path_minutes_base",
        "critical_path_minutes_head",
        "critical_path_minutes_delta",
    }


def test_diff_markdown_is_a_pr_comment(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scratch)
    result = CliRunner().invoke(
        app, ["diff", "--base", "HEAD~1", "--stack", "aws-dev", "-f", "markdown"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("### gpuplane diff: `aws-dev` against `HEAD~1`")
    assert f"idle +{IDLE_DELTA * HOURS_PER_MONTH:.2f} USD/month" in result.output


def test_diff_against_a_missing_ref_exits_2(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scratch)
    result = CliRunner().invoke(app, ["diff", "--base", "no-such-ref", "--stack", "aws-dev"])
    assert result.exit_code == 2
    assert "'no-such-ref' is not a commit" in result.output


def _resource(type_: str, name: str, inputs: dict, **options: object) -> Resource:
    return Resource(
        urn=f"urn:pulumi:s::p::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        inputs=inputs,
        **options,  # type: ignore[arg-type]
    )


def _graph_of(*resources: Resource) -> ResourceGraph:
    graph = ResourceGraph(project="p", stack="s", outputs={"cloud": "existing"})
    graph.resources = {r.urn: r for r in resources}
    return graph


def test_changes_show_old_and_new_values_with_secrets_redacted() -> None:
    bucket = "aws:s3/bucket:Bucket"
    secret = "kubernetes:core/v1:Secret"
    base = _graph_of(
        _resource(bucket, "models", {"bucket": "models-a", "tags": {"team": "ml"}}),
        _resource(secret, "grafana", {"stringData": {"@secret": "[redacted]"}, "type": "Opaque"}),
        _resource("aws:eks/nodeGroup:NodeGroup", "system", {"scalingConfig": {"maxSize": 3}}),
    )
    head = _graph_of(
        _resource(bucket, "models", {"bucket": "models-b", "tags": {"team": "ml"}}),
        _resource(secret, "grafana", {"stringData": {"@secret": "[redacted]"}, "type": "Other"}),
        _resource("aws:eks/nodeGroup:NodeGroup", "system", {"scalingConfig": {"maxSize": 4}}),
    )
    diff = compare(base, head, "main")
    by_name = {c["name"]: c for c in diff.changed}
    assert by_name["models"]["changes"] == [
        {"path": "bucket", "old": "models-a", "new": "models-b"}
    ]
    assert by_name["models"]["replaces"] == ["bucket"]
    assert by_name["system"]["changes"] == [{"path": "scalingConfig.maxSize", "old": 3, "new": 4}]
    assert by_name["system"]["replaces"] == []
    assert by_name["grafana"]["changes"] == [{"path": "type", "old": "Opaque", "new": "Other"}]
    assert [c["name"] for c in diff.replaced] == ["models"]
    text = diff_module.text(diff)
    assert "~ aws:s3/bucket:Bucket models (replaces: bucket)" in text
    assert "bucket: models-a -> models-b" in text
    assert "scalingConfig.maxSize: 3 -> 4" in text
    markdown = diff_module.markdown(diff)
    assert "**replaces**" in markdown and "1 resource(s) replaced" in markdown
    assert "`models-a` → `models-b`" in markdown


def test_a_secret_value_is_never_shown() -> None:
    token = "kubernetes:core/v1:Secret"
    base = _graph_of(_resource(token, "t", {"data": {"@secret": "[redacted]"}, "apiToken": "a1"}))
    head = _graph_of(_resource(token, "t", {"data": {"plain": "leak"}, "apiToken": "b2"}))
    changes = compare(base, head, "main").changed[0]["changes"]
    shown = {c["path"]: (c["old"], c["new"]) for c in changes}
    assert shown["data"] == ("[secret]", "[secret]")
    assert shown["apiToken"] == ("[secret]", "[secret]")
    assert "leak" not in json.dumps(changes) and "b2" not in json.dumps(changes)


def test_replace_on_changes_marks_a_replacement() -> None:
    kind = "kubernetes:apps/v1:Deployment"
    base = _graph_of(_resource(kind, "d", {"spec": {"replicas": 1}}, replace_on_changes=("spec",)))
    head = _graph_of(_resource(kind, "d", {"spec": {"replicas": 2}}, replace_on_changes=("spec",)))
    assert compare(base, head, "main").changed[0]["replaces"] == ["spec.replicas"]


def test_exit_code_says_whether_anything_changes(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(scratch)
    changed = CliRunner().invoke(
        app, ["diff", "--base", "HEAD~1", "--stack", "aws-dev", "--exit-code", "-f", "json"]
    )
    assert changed.exit_code == 1, changed.output
    same = CliRunner().invoke(app, ["diff", "--base", "HEAD", "--stack", "aws-dev", "--exit-code"])
    assert same.exit_code == 0, same.output
    assert "0 added, 0 removed, 0 changed" in same.output


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_diff_removes_its_worktree(scratch: Path, signal_number: int) -> None:
    import subprocess as sp
    import sys
    import time

    def worktrees() -> list[str]:
        listing = sp.run(
            ["git", "worktree", "list", "--porcelain"],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [line for line in listing.splitlines() if line.startswith("worktree ")]

    assert len(worktrees()) == 1
    process = sp.Popen(
        [
            sys.executable,
            "-P",  # gpuplane from the installed package, not the scratch copy in the cwd
            "-c",
            "from gpuplane.cli import main; main()",
            "diff",
            "--base",
            "HEAD~1",
            "--stack",
            "aws-dev",
        ],
        cwd=scratch,
        stdout=sp.PIPE,
        stderr=sp.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while len(worktrees()) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the base worktree never appeared"
        time.sleep(0.2)
    base_tree = Path(worktrees()[1].split(" ", 1)[1])
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert len(worktrees()) == 1
    assert not base_tree.exists()
