"""The render-only rules and `check --render`: on real chart output (the upstream oracle,
../shared/upstream/rendered/, made by the same engine) and on gpuplane's test chart."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane import engine
from gpuplane.charts import ChartRef
from gpuplane.check import PackConfig
from gpuplane.graph import Resource, ResourceGraph
from gpuplane.render import Object, ReleaseRender, StackRender, images_of
from gpuplane.render_check import check_rendered
from gpuplane.render_rules import (
    Context,
    baseline_problems,
    normalise_image,
    restricted_problems,
)
from gpuplane.stacks import find_project, load_stack
from tests.upstream import UPSTREAM

ROOT = Path(__file__).resolve().parents[2]
RENDERED = UPSTREAM / "rendered" / "defaults"
needs_oracle = pytest.mark.skipif(
    not RENDERED.is_dir(), reason=f"upstream rendered charts absent: {RENDERED} (../shared)"
)


def oracle_objects(chart: str, version: str) -> Iterator[dict[str, Any]]:
    for path in sorted((RENDERED / chart).glob(f"{version}*.yaml")):
        for body in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if isinstance(body, dict):
                yield body


def release_of(chart: str, version: str, namespace: str, name: str | None = None) -> ReleaseRender:
    name = name or chart
    ref = ChartRef(name=chart, version=version, repo="https://example.invalid", reference=chart)
    urn = f"urn:pulumi:t::gpuplane::kubernetes:helm.sh/v3:Release::{name}"
    release = ReleaseRender(urn=urn, name=name, namespace=namespace, chart=ref)
    release.objects = [Object(body, name, "oracle") for body in oracle_objects(chart, version)]
    return release


def stack_of(graph: ResourceGraph, *releases: ReleaseRender) -> StackRender:
    from gpuplane.render import own_objects

    return StackRender(
        project="gpuplane",
        stack=graph.stack,
        kube_version="v1.36.0",
        renderer="oracle",
        releases=list(releases),
        own=own_objects(graph),
    )


def findings(rendered: StackRender, graph: ResourceGraph, rule: str) -> list[Any]:
    return [v for v in check_rendered(rendered, graph) if v.id == rule]


@pytest.fixture(scope="module")
def plans() -> dict[str, ResourceGraph]:
    project = find_project(ROOT)
    return {s: engine.plan(load_stack(project, s)) for s in ("local", "aws-prod", "gcp-prod")}


def without(graph: ResourceGraph, name: str) -> ResourceGraph:
    copy = ResourceGraph(graph.project, graph.stack, dict(graph.resources), dict(graph.outputs))
    del copy.resources[graph.named(name).urn]
    return copy


# --- on real chart output ---------------------------------------------------------


@needs_oracle
def test_istiod_pdb_blocks_drains_at_one_replica(plans: dict[str, ResourceGraph]) -> None:
    old = stack_of(plans["local"], release_of("istiod", "1.27.9", "istio-system"))
    (finding,) = findings(old, plans["local"], "GP-RND-003")
    assert finding.name == "istio-system/PodDisruptionBudget/istiod in release istiod"
    assert "minAvailable 1" in finding.message and "1 replica(s)" in finding.message
    # 1.30.3 renders no PDB with its defaults (it needs autoscaleMin > 1).
    new = stack_of(plans["local"], release_of("istiod", "1.30.3", "istio-system"))
    assert findings(new, plans["local"], "GP-RND-003") == []


@needs_oracle
def test_grafana_images_from_docker_io_and_quay_io(plans: dict[str, ResourceGraph]) -> None:
    release = release_of("kube-prometheus-stack", "88.5.3", "monitoring")
    rendered = stack_of(plans["local"], release)
    # The chart's Grafana images come from docker.io and quay.io: under an allow-list
    # without those projects (the pack's list before gpuplane admitted them) they are
    # reported, object and release named.
    narrow = ["quay.io/prometheus/", "quay.io/prometheus-operator/", "registry.k8s.io/"]
    config = PackConfig.parse({"render-allowed-images": {"allowedRegistries": narrow}})
    found = [v for v in check_rendered(rendered, plans["local"], config) if v.id == "GP-RND-002"]
    messages = " ".join(v.message for v in found)
    assert "docker.io/grafana/grafana:13.2.0" in messages
    assert "quay.io/kiwigrid/k8s-sidecar:2.10.1" in messages
    grafana = "monitoring/Deployment/kube-prometheus-stack-grafana in release kube-prometheus-stack"
    assert grafana in {v.name for v in found}
    # Images from the list are not reported: quay.io/prometheus/ is allowed.
    assert "quay.io/prometheus/prometheus" not in messages
    # Every image the oracle names outside the list is reported, and only those.
    outside = {
        normalise_image(image)
        for body in oracle_objects("kube-prometheus-stack", "88.5.3")
        for _, image in images_of(body)
        if not normalise_image(image).startswith(tuple(narrow))
    }
    assert {i for i in outside if i in messages} == outside
    # The pack's default list admits the projects the platform runs (README: each
    # registry's reason), so the same render has no finding for them.
    default = " ".join(v.message for v in findings(rendered, plans["local"], "GP-RND-002"))
    assert "grafana/grafana:13.2.0, not" not in default
    assert "kiwigrid/k8s-sidecar:2.10.1, not" not in default


@needs_oracle
def test_istiod_webhook_port_against_the_eks_security_groups(
    plans: dict[str, ResourceGraph],
) -> None:
    graph = plans["aws-prod"]
    rendered = stack_of(graph, release_of("istiod", "1.27.9", "istio-system"))
    assert findings(rendered, graph, "GP-RND-005") == []
    closed = without(graph, "gpuplane-prod-nodes-15017-from-api")
    found = findings(
        stack_of(closed, release_of("istiod", "1.27.9", "istio-system")), closed, "GP-RND-005"
    )
    assert found
    assert all("pod port 15017" in v.message for v in found)
    assert "ValidatingWebhookConfiguration/istio-validator-istio-system in release istiod" in {
        v.name for v in found
    }


@needs_oracle
def test_keda_metrics_api_port_is_closed_on_eks_and_gke(plans: dict[str, ResourceGraph]) -> None:
    # keda's external metrics APIService lands on pod port 6443, which neither plan opens.
    for stack in ("aws-prod", "gcp-prod"):
        graph = plans[stack]
        rendered = stack_of(graph, release_of("keda", "2.20.2", "keda"))
        ports = {
            v.message.split("pod port ")[1].split(",")[0]
            for v in findings(rendered, graph, "GP-RND-005")
        }
        assert "6443" in ports, stack
        assert "9443" not in ports, stack  # the admission webhook port is open on both


@needs_oracle
def test_hpa_without_metrics_server(plans: dict[str, ResourceGraph]) -> None:
    # istiod's HPA scales on CPU (metrics.k8s.io): kind serves none, GKE does, and EKS
    # does with the metrics-server add-on the plan installs (and not without it).
    no_addon = without(plans["aws-prod"], "gpuplane-prod-metrics-server")
    for graph, expected in (
        (plans["local"], 1),
        (plans["gcp-prod"], 0),
        (plans["aws-prod"], 0),
        (no_addon, 1),
    ):
        rendered = stack_of(graph, release_of("istiod", "1.27.9", "istio-system"))
        assert len(findings(rendered, graph, "GP-RND-004")) == expected, graph.stack
    # keda serves external.metrics.k8s.io: an HPA on External metrics is then served.
    keda = release_of("keda", "2.20.2", "keda")
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "queue", "namespace": "keda"},
        "spec": {"metrics": [{"type": "External"}]},
    }
    keda.objects.append(Object(hpa, "keda", "test"))
    rendered = stack_of(plans["gcp-prod"], keda)
    assert findings(rendered, plans["gcp-prod"], "GP-RND-004") == []
    keda.objects = [o for o in keda.objects if o.kind != "APIService"]
    assert len(findings(rendered, plans["gcp-prod"], "GP-RND-004")) == 1


@needs_oracle
def test_pod_security_of_the_plans_namespaces(plans: dict[str, ResourceGraph]) -> None:
    graph = plans["local"]
    # cert-manager's defaults meet `restricted`, the level gpuplane gives its namespace.
    cert_manager = release_of("cert-manager", "v1.21.1", "cert-manager")
    assert findings(stack_of(graph, cert_manager), graph, "GP-RND-001") == []
    # The device plugin's privileged pods would be refused in a restricted namespace.
    plugin = release_of("nvidia-device-plugin", "0.20.0", "cert-manager")
    for obj in plugin.objects:
        obj.body.get("metadata", {})["namespace"] = "cert-manager"
    privileged = {
        o.label
        for o in plugin.objects
        for c in (o.body.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []))
        if (c.get("securityContext") or {}).get("privileged")
    }
    assert privileged
    found = findings(stack_of(graph, plugin), graph, "GP-RND-001")
    flagged = {v.name.split(" in release")[0] for v in found if "privileged" in v.message}
    assert privileged <= flagged


# --- the rules' own logic --------------------------------------------------------------


def test_pod_security_levels() -> None:
    good = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "a",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
            }
        ],
    }
    assert restricted_problems(good) == []
    chown = json.loads(json.dumps(good))
    chown["containers"][0]["securityContext"]["capabilities"]["add"] = ["CHOWN"]
    assert baseline_problems(chown) == []
    assert restricted_problems(chown) == ["container a: adds capabilities CHOWN"]
    host = {**good, "hostNetwork": True, "volumes": [{"name": "dev", "hostPath": {"path": "/"}}]}
    assert baseline_problems(host) == ["hostNetwork: true", "hostPath volume dev"]
    admin = json.loads(json.dumps(good))
    admin["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    assert baseline_problems(admin) == ["container a: adds capabilities SYS_ADMIN"]


def test_image_names_are_fully_qualified() -> None:
    assert normalise_image("nginx:1.27") == "docker.io/library/nginx:1.27"
    assert normalise_image("grafana/grafana:13") == "docker.io/grafana/grafana:13"
    assert normalise_image("quay.io/a/b:1") == "quay.io/a/b:1"
    assert normalise_image("localhost:5000/a:1") == "localhost:5000/a:1"


def _graph_with(*resources: Resource) -> ResourceGraph:
    return ResourceGraph("gpuplane", "t", {r.urn: r for r in resources})


def _pdb_stack(spec: dict[str, Any], replicas: int) -> StackRender:
    labels = {"app": "x"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "n"},
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}},
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "x", "namespace": "n"},
        "spec": {"selector": {"matchLabels": labels}, **spec},
    }
    ref = ChartRef("x", "1", "https://example.invalid", "x")
    release = ReleaseRender(urn="urn:x", name="x", namespace="n", chart=ref)
    release.objects = [Object(deployment, "x", "t"), Object(pdb, "x", "t")]
    return StackRender("gpuplane", "t", "v1.36.0", "test", [release])


@pytest.mark.parametrize(
    ("spec", "replicas", "blocked"),
    [
        ({"minAvailable": 1}, 1, True),
        ({"minAvailable": 1}, 2, False),
        ({"minAvailable": "50%"}, 1, True),  # 50% of 1 rounds up to 1
        ({"minAvailable": "50%"}, 3, False),
        ({"maxUnavailable": 0}, 5, True),
        ({"maxUnavailable": "10%"}, 3, False),  # rounds up to 1
        ({"minAvailable": "100%"}, 4, True),
    ],
)
def test_disruption_budget_arithmetic(spec: dict[str, Any], replicas: int, blocked: bool) -> None:
    rendered = _pdb_stack(spec, replicas)
    found = findings(rendered, _graph_with(), "GP-RND-003")
    assert bool(found) is blocked


def test_every_finding_names_the_object_and_release() -> None:
    rendered = _pdb_stack({"minAvailable": 1}, 1)
    (finding,) = findings(rendered, _graph_with(), "GP-RND-003")
    assert finding.name == "n/PodDisruptionBudget/x in release x"
    assert finding.type == "kubernetes:policy/v1:PodDisruptionBudget"
    context = Context(rendered, _graph_with())
    assert len(context.chart_objects()) == 2
