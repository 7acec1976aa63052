"""The chart cache and the renderer, on gpuplane's own test charts (tests/charts/).

A chart repository is built in a temporary directory (packaged archives plus an
index.yaml) and read through file:// URLs, the way an https repository is read.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gpuplane import charts, render
from gpuplane.cli import app
from gpuplane.graph import ResourceGraph

helm = pytest.importorskip("helm_python", reason="the render extra (helm-python-sdk) is absent")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "tests" / "charts" / "gpudemo"
RELEASE = "kubernetes:helm.sh/v3:Release"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A Helm repository directory: gpudemo-0.3.0.tgz and its index.yaml."""
    directory = tmp_path / "repo"
    directory.mkdir()
    helm.package(CHART, destination=directory)
    helm.repo_index_generate(directory, base_url=directory.as_uri())
    return directory


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def release(repo: Path, values: dict[str, Any] | None = None, **inputs: Any) -> dict[str, Any]:
    return {
        "urn": "urn:pulumi:demo::gpuplane::kubernetes:helm.sh/v3:Release::demo-release",
        "type": RELEASE,
        "name": "demo-release",
        "custom": True,
        "inputs": {
            "chart": "gpudemo",
            "version": "0.3.0",
            "repositoryOpts": {"repo": repo.as_uri()},
            "name": "demo",
            "namespace": "demo",
            "values": values or {},
            **inputs,
        },
    }


def graph_of(*resources: dict[str, Any]) -> ResourceGraph:
    return ResourceGraph.from_json(
        {"version": 1, "project": "gpuplane", "stack": "demo", "resources": list(resources)}
    )


@pytest.fixture
def write_graph(tmp_path: Path) -> Callable[..., Path]:
    def write(*resources: dict[str, Any]) -> Path:
        path = tmp_path / "graph.json"
        path.write_text(json.dumps(graph_of(*resources).to_json()))
        return path

    return write


def pulled(repo: Path, cache: Path) -> charts.Status:
    return charts.pull(cache, charts.ChartRef.of(graph_of(release(repo)).named("demo-release")))


def rendered(
    repo: Path, cache: Path, values: dict[str, Any] | None = None, *extra: dict[str, Any], **inputs
) -> render.StackRender:
    graph = graph_of(release(repo, values, **inputs), *extra)
    if charts.status(cache, charts.ChartRef.of(graph.named("demo-release"))).state != "cached":
        pulled(repo, cache)
    return render.render_stack(graph, charts_root=cache, pull_hint="pull it")


def by_label(result: render.StackRender) -> dict[str, render.Object]:
    return {o.label: o for o in result.objects()}


# --- the cache ------------------------------------------------------------------


def test_pull_records_the_index_digest_and_reuses_the_archive(repo: Path, cache: Path) -> None:
    first = pulled(repo, cache)
    archive = repo / "gpudemo-0.3.0.tgz"
    assert first.state == "pulled"
    assert first.path == cache / "gpudemo" / "0.3.0" / "gpudemo-0.3.0.tgz"
    assert first.path.read_bytes() == archive.read_bytes()
    index = yaml.safe_load((repo / "index.yaml").read_text())
    recorded = json.loads((first.path.parent / "digest.json").read_text())
    assert recorded["digest"] == f"sha256:{index['entries']['gpudemo'][0]['digest']}"
    assert recorded["digest"] == charts.sha256_of(archive)
    # The repository may vanish: the second pull verifies the cached copy only.
    archive.unlink()
    assert pulled(repo, cache).state == "cached"


def test_pull_refuses_an_archive_that_does_not_match_the_index(repo: Path, cache: Path) -> None:
    index = (repo / "index.yaml").read_text()
    real = yaml.safe_load(index)["entries"]["gpudemo"][0]["digest"]
    (repo / "index.yaml").write_text(index.replace(real, "ab" * 32))
    with pytest.raises(charts.ChartError, match="repository index says sha256:abab"):
        pulled(repo, cache)
    assert not (cache / "gpudemo" / "0.3.0" / "gpudemo-0.3.0.tgz").exists()


def test_pull_names_a_version_the_repository_lacks(repo: Path, cache: Path) -> None:
    graph = graph_of(release(repo, version="9.9.9"))
    with pytest.raises(charts.ChartError, match=r"gpudemo has no version 9\.9\.9"):
        charts.pull(cache, charts.ChartRef.of(graph.named("demo-release")))


def test_oci_and_https_references() -> None:
    oci = charts.ChartRef.of(
        graph_of(
            {
                **release(Path("/x")),
                "inputs": {"chart": "oci://ghcr.io/kserve/charts/kserve-crd", "version": "v0.20.0"},
            }
        ).named("demo-release")
    )
    assert (oci.name, oci.repo, oci.is_oci) == ("kserve-crd", "oci://ghcr.io/kserve/charts", True)
    assert oci.oci_reference == "oci://ghcr.io/kserve/charts/kserve-crd"


def test_charts_cli_pull_list_and_a_tampered_archive(
    repo: Path, cache: Path, write_graph: Callable[..., Path]
) -> None:
    graph = write_graph(release(repo))
    listed = runner.invoke(app, ["charts", "list", "--graph", str(graph), "--charts", str(cache)])
    assert listed.exit_code == 1
    assert "missing  gpudemo 0.3.0" in listed.output
    pull = runner.invoke(app, ["charts", "pull", "--graph", str(graph), "--charts", str(cache)])
    assert pull.exit_code == 0, pull.output
    listed = runner.invoke(app, ["charts", "list", "--graph", str(graph), "--charts", str(cache)])
    assert listed.exit_code == 0 and "cached   gpudemo 0.3.0" in listed.output
    archive = cache / "gpudemo" / "0.3.0" / "gpudemo-0.3.0.tgz"
    archive.write_bytes(archive.read_bytes() + b"\0")
    result = runner.invoke(app, ["render", "--graph", str(graph), "--charts", str(cache)])
    assert result.exit_code == 2
    assert "does not match the digest recorded" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_chart_is_one_line_naming_the_pull_command(
    repo: Path, cache: Path, write_graph: Callable[..., Path]
) -> None:
    graph = write_graph(release(repo))
    result = runner.invoke(app, ["render", "--graph", str(graph), "--charts", str(cache)])
    assert result.exit_code == 2
    line = " ".join(result.stderr.split())
    assert "chart gpudemo 0.3.0 is not in the chart cache" in line
    assert f"gpuplane charts pull --graph {graph} --charts {cache}" in line
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_corrupt_archive_is_one_line(
    repo: Path, cache: Path, write_graph: Callable[..., Path]
) -> None:
    status = pulled(repo, cache)
    status.path.write_bytes(b"not a gzip archive")
    record = status.path.parent / "digest.json"
    data = json.loads(record.read_text())
    data["digest"] = charts.sha256_of(status.path)  # recorded as is: the bytes are bad
    record.write_text(json.dumps(data))
    graph = write_graph(release(repo))
    result = runner.invoke(app, ["render", "--graph", str(graph), "--charts", str(cache)])
    assert result.exit_code == 2
    assert "release demo (chart gpudemo 0.3.0)" in result.stderr
    assert "is not a readable chart" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_pull_refuses_something_that_is_not_a_chart(repo: Path, cache: Path) -> None:
    archive = repo / "gpudemo-0.3.0.tgz"
    archive.write_bytes(b"garbage")
    index = (repo / "index.yaml").read_text()
    real = yaml.safe_load(index)["entries"]["gpudemo"][0]["digest"]
    (repo / "index.yaml").write_text(index.replace(real, charts.sha256_of(archive)[7:]))
    with pytest.raises(charts.ChartError, match="is not a chart archive"):
        pulled(repo, cache)


# --- the renderer ----------------------------------------------------------------


def test_values_name_namespace_reach_the_objects(repo: Path, cache: Path) -> None:
    result = rendered(repo, cache, {"replicas": 3, "image": {"tag": {"@secret": "2.0.1"}}})
    objects = by_label(result)
    deployment = objects["demo/Deployment/demo-gpudemo"].body
    assert deployment["spec"]["replicas"] == 3
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/gpudemo/server:2.0.1"
    assert "ghcr.io/gpudemo/server:2.0.1" in result.images()
    # The release namespace reaches templates and is set on namespaced objects.
    capabilities = objects["demo/ConfigMap/demo-gpudemo-capabilities"].body
    assert capabilities["data"]["releaseNamespace"] == "demo"
    webhook = objects["ValidatingWebhookConfiguration/demo-gpudemo"].body
    assert webhook["webhooks"][0]["clientConfig"]["service"]["namespace"] == "demo"
    assert "metadata" in webhook and "namespace" not in webhook["metadata"]
    # A kind a CRD of the chart declares cluster-scoped stays without a namespace.
    assert "ClusterWidget/demo-gpudemo" in objects
    assert "demo/Widget/demo-gpudemo" in objects


def test_namespace_follows_the_release(repo: Path, cache: Path) -> None:
    result = rendered(repo, cache, namespace="serving")
    assert "serving/Deployment/demo-gpudemo" in by_label(result)


def test_kube_version_is_the_clusters(repo: Path, cache: Path) -> None:
    eks = {
        "urn": "urn:pulumi:demo::gpuplane::aws:eks/cluster:Cluster::eks",
        "type": "aws:eks/cluster:Cluster",
        "name": "eks",
        "custom": True,
        "inputs": {"version": "1.33"},
    }
    old = rendered(repo, cache, None, eks)
    assert old.kube_version == "v1.33.0"
    data = by_label(old)["demo/ConfigMap/demo-gpudemo-capabilities"].body["data"]
    assert data == {
        "kubeVersion": "v1.33.0",
        "admissionPolicies": "v1beta1",
        "releaseNamespace": "demo",
    }
    new = rendered(repo, cache)
    from gpuplane.components.versions import KUBERNETES_DEFAULT

    assert new.kube_version == f"v{KUBERNETES_DEFAULT}.0"
    data = by_label(new)["demo/ConfigMap/demo-gpudemo-capabilities"].body["data"]
    assert data["admissionPolicies"] == "v1"


def test_crds_of_enabled_subcharts_only(repo: Path, cache: Path) -> None:
    def crds(result: render.StackRender) -> set[str]:
        return {o.name for o in result.objects() if o.kind == "CustomResourceDefinition"}

    default = rendered(repo, cache)
    assert crds(default) == {
        "widgets.gpudemo.example.com",
        "clusterwidgets.gpudemo.example.com",
        "gadgets.sidecar.example.com",
    }
    assert "demo/DaemonSet/demo-sidecar" in by_label(default)
    assert "demo/ConfigMap/demo-extras" not in by_label(default)
    flipped = rendered(repo, cache, {"sidecar": {"enabled": False}, "extras": {"enabled": True}})
    assert crds(flipped) == {
        "widgets.gpudemo.example.com",
        "clusterwidgets.gpudemo.example.com",
        "gizmos.extras.example.com",
    }
    assert "demo/DaemonSet/demo-sidecar" not in by_label(flipped)
    assert "demo/ConfigMap/demo-extras" in by_label(flipped)
    assert crds(rendered(repo, cache, skipCrds=True)) == set()


def test_hooks_are_kept_and_recorded_test_hooks_dropped(repo: Path, cache: Path) -> None:
    result = rendered(repo, cache)
    (only,) = result.releases
    job = by_label(result)["demo/Job/demo-gpudemo-migrate"]
    assert job.hooks == ("pre-install", "pre-upgrade")
    assert only.hooks == 1
    assert only.tests_skipped == 1
    assert not any(o.name == "demo-gpudemo-test" for o in result.objects())
    assert not any(o.source.endswith("NOTES.txt") for o in result.objects())


def test_schema_and_template_failures_are_render_errors(repo: Path, cache: Path) -> None:
    with pytest.raises(render.RenderError, match=r"values.schema.json.*/replicas"):
        rendered(repo, cache, {"replicas": "two"})
    with pytest.raises(render.RenderError, match=r"fails to render.*the fail value is set"):
        rendered(repo, cache, {"fail": True})


def test_unknown_values_render_as_a_marker(repo: Path, cache: Path) -> None:
    result = rendered(repo, cache, {"image": {"tag": "@unknown"}})
    assert result.releases[0].unknown_values == 1
    assert f"ghcr.io/gpudemo/server:{render.UNKNOWN_VALUE}" in result.images()


def test_render_cli_files_and_summary(
    repo: Path, cache: Path, tmp_path: Path, write_graph: Callable[..., Path]
) -> None:
    pulled(repo, cache)
    namespace = {
        "urn": "urn:pulumi:demo::gpuplane::kubernetes:core/v1:Namespace::ns",
        "type": "kubernetes:core/v1:Namespace",
        "name": "ns",
        "custom": True,
        "inputs": {"metadata": {"name": "demo"}},
    }
    graph = write_graph(release(repo, {"replicas": 2}), namespace)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["render", "--graph", str(graph), "--charts", str(cache), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["demo.demo.yaml", "stack.yaml"]
    docs = [d for d in yaml.safe_load_all((out / "demo.demo.yaml").read_text()) if d]
    assert sum(d["kind"] == "Deployment" for d in docs) == 1
    assert len(docs) == len(rendered(repo, cache, {"replicas": 2}).releases[0].objects)
    (own,) = [d for d in yaml.safe_load_all((out / "stack.yaml").read_text()) if d]
    assert own == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    assert "Helm v4" in result.output and "Helm v3 SDK" in result.output
    assert "1  Deployment" in result.output
    assert "ghcr.io/gpudemo/server:1.2.3" in result.output
    as_json = runner.invoke(
        app, ["render", "--graph", str(graph), "--charts", str(cache), "--format", "json"]
    )
    assert as_json.exit_code == 0
    objects = json.loads(as_json.stdout)
    assert {o["release"] for o in objects} == {"", "demo"}


def test_check_render_names_release_and_object_in_every_format(
    repo: Path, cache: Path, write_graph: Callable[..., Path]
) -> None:
    pulled(repo, cache)
    namespace = {
        "urn": "urn:pulumi:demo::gpuplane::kubernetes:core/v1:Namespace::ns",
        "type": "kubernetes:core/v1:Namespace",
        "name": "ns",
        "custom": True,
        "inputs": {
            "metadata": {
                "name": "demo",
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            }
        },
    }
    graph = write_graph(release(repo), namespace)
    base = ["check", "--graph", str(graph)]
    plain = runner.invoke(app, [*base, "--format", "json"])
    assert not any(v["id"].startswith("GP-RND") for v in json.loads(plain.stdout)["violations"])
    args = [*base, "--render", "--charts", str(cache)]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    # 3 CRDs (gpudemo's 2, the sidecar's 1) and 10 templated objects (the test Pod dropped).
    assert report["summary"]["rendered_objects"] == 13
    named = {(v["id"], v["name"]) for v in report["violations"]}
    # The sidecar DaemonSet uses hostNetwork: refused by the restricted namespace, and
    # the pack's own host-namespace rule sees it too, through the rendered object.
    assert ("GP-RND-001", "demo/DaemonSet/demo-sidecar in release demo") in named
    assert ("GP-K8S-002", "demo/DaemonSet/demo-sidecar in release demo") in named
    assert ("GP-RND-003", "demo/PodDisruptionBudget/demo-gpudemo in release demo") in named
    assert ("GP-RND-004", "demo/HorizontalPodAutoscaler/demo-gpudemo in release demo") in named
    # Two replicas at rest (an HPA floor of 2) under minAvailable 1: drains can proceed.
    graph = write_graph(release(repo, {"hpa": {"minReplicas": 2}}), namespace)
    relaxed = runner.invoke(
        app, ["check", "--graph", str(graph), "--render", "--charts", str(cache), "-f", "json"]
    )
    assert "GP-RND-003" not in {v["id"] for v in json.loads(relaxed.stdout)["violations"]}
    sarif = json.loads(runner.invoke(app, [*args, "--format", "sarif"]).stdout)
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"GP-RND-001", "GP-RND-005"} <= rules
    results = sarif["runs"][0]["results"]
    assert any(
        r["ruleId"] == "GP-RND-001"
        and "demo/DaemonSet/demo-sidecar in release demo" in r["message"]["text"]
        for r in results
    )
    markdown = runner.invoke(app, [*args, "--format", "markdown"]).stdout
    assert "13 objects the Helm releases render to" in markdown
    # The release's schema failure through check --render: exit 2, one line.
    graph = write_graph(release(repo, {"replicas": "two"}), namespace)
    bad = runner.invoke(app, ["check", "--graph", str(graph), "--render", "--charts", str(cache)])
    assert bad.exit_code == 2
    assert "values.schema.json" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


PROBE = """
import atexit, sys
report, hide, *args = sys.argv[1:]
if hide:
    sys.modules["helm_python"] = None  # as when the render extra is not installed
atexit.register(lambda: open(report, "w").write(str("helm_python" in sys.modules
                                                    and sys.modules["helm_python"] is not None)))
sys.argv = ["gpuplane", *args]
from gpuplane.cli import main
main()
"""


def _probe(tmp_path: Path, *args: str, hide: bool = False) -> tuple[Any, bool]:
    import subprocess
    import sys

    report = tmp_path / "helm-loaded"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), "1" if hide else "", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, report.read_text() == "True"


def test_only_the_rendering_commands_import_the_helm_sdk(
    repo: Path, cache: Path, tmp_path: Path, write_graph: Callable[..., Path]
) -> None:
    graph = str(write_graph(release(repo)))
    result, loaded = _probe(tmp_path, "check", "--graph", graph)
    assert result.returncode == 1, result.stderr  # the file:// repository is refused
    assert not loaded
    pulled(repo, cache)
    result, loaded = _probe(tmp_path, "render", "--graph", graph, "--charts", str(cache))
    assert result.returncode == 0, result.stderr
    assert loaded
    # Without the extra: one line naming it, exit 2.
    result, _ = _probe(tmp_path, "render", "--graph", graph, "--charts", str(cache), hide=True)
    assert result.returncode == 2
    assert "pip install 'gpuplane[render]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_diff_counts_rendered_findings_new_and_fixed(repo: Path, cache: Path) -> None:
    """What `diff --render` hands diff.compare: the rendered findings of each side."""
    from gpuplane import diff
    from gpuplane.check import check
    from gpuplane.render_check import check_rendered

    pulled(repo, cache)
    base = graph_of(release(repo, {"hpa": {"minReplicas": 2}}))
    head = graph_of(release(repo))  # back to one replica at rest: the PDB blocks drains

    def violations(graph: ResourceGraph) -> list[Any]:
        rendered = render.render_stack(graph, charts_root=cache, pull_hint="pull")
        return check(graph).violations + check_rendered(rendered, graph)

    result = diff.compare(base, head, "base", violations)
    assert [v["id"] for v in result.violations["new"]] == ["GP-RND-003"]
    urn = result.violations["new"][0]["urn"]
    assert urn.startswith(base.named("demo-release").urn)  # the release, then the object
    assert urn.endswith("::demo/PodDisruptionBudget/demo-gpudemo")
    assert result.violations["fixed"] == []
    back = diff.compare(head, base, "head", violations)
    assert [v["id"] for v in back.violations["fixed"]] == ["GP-RND-003"]
    # Without the renderer, the same change shows no policy difference.
    assert diff.compare(base, head, "base").violations == {"new": [], "fixed": []}
