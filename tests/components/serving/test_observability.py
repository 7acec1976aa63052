"""GPU metrics on the shipped GPU stacks: dcgm-exporter, its counters and its monitor."""

import csv
import io
from typing import Any

import pytest
import yaml

from gpuplane import engine
from gpuplane.components.serving import dcgm
from gpuplane.components.versions import CHARTS
from gpuplane.graph import ResourceGraph
from gpuplane.stacks import stack_from_mapping
from tests.helpers import (
    RELEASE,
    custom_resource_named,
    depends_on,
    k8s_object,
    release_named,
    stack_file_config,
)
from tests.upstream import (
    UPSTREAM,
    chart_dir,
    releases_missing_upstream,
    validate_custom_resource,
)

GPU_STACKS = ("aws-dev", "aws-prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod")


def _variant(stack: str, section: str, **changes: Any) -> dict[str, Any]:
    config = stack_file_config(stack)
    config[f"gpuplane:{section}"] = {**config.get(f"gpuplane:{section}", {}), **changes}
    # Bottlerocket, Auto Mode and Autopilot cannot host the node-local model cache.
    config.pop("gpuplane:models", None)
    return config


@pytest.fixture(scope="module")
def graphs(stack_graphs: dict[str, ResourceGraph], project: Any) -> dict[str, ResourceGraph]:
    """The shipped stacks, plus Bottlerocket, EKS Auto Mode and GKE Autopilot variants."""
    variants = {
        "aws-dev-bottlerocket": _variant("aws-dev", "aws", gpuNodeImage="bottlerocket"),
        "aws-dev-auto": _variant("aws-dev", "aws", computeMode="auto"),
        "gcp-dev-autopilot": _variant("gcp-dev", "gcp", mode="autopilot"),
    }
    out = dict(stack_graphs)
    for name, config in variants.items():
        out[name] = engine.plan(stack_from_mapping(project, name, config))
    return out


def _dcgm_values(graph: ResourceGraph) -> dict[str, Any]:
    return release_named(graph, "dcgm-exporter").inputs["values"]


def _upstream_counters() -> dict[str, str]:
    """Every field in dcgm-exporter 4.8.2's counter file, enabled or commented out."""
    path = UPSTREAM / "reference" / "dcgm-exporter-4.8.2" / "default-counters.csv"
    fields = {}
    for line in path.read_text().splitlines():
        text = line.lstrip("# ").strip()
        if not text.startswith("DCGM_"):
            continue
        row = next(csv.reader(io.StringIO(text)))
        fields[row[0].strip()] = row[1].strip()
    return fields


def test_configured_counters_are_real_dcgm_fields_with_their_types() -> None:
    upstream = _upstream_counters()
    assert len(upstream) > 40  # the whole file, commented fields included
    for field, kind, _ in dcgm.COUNTERS:
        assert upstream.get(field) == kind, field
    # The memory-full alert needs reserved memory, which the chart's list lacks.
    assert "DCGM_FI_DEV_FB_RESERVED" in dcgm.metric_names()


def test_counter_list_parses_as_dcgm_exporter_reads_it() -> None:
    rows = [
        [c.strip() for c in row]
        for row in csv.reader(io.StringIO(dcgm.counters_csv()))
        if row and not row[0].startswith("#")
    ]
    assert [r[0] for r in rows] == [c[0] for c in dcgm.COUNTERS]
    assert all(len(r) == 3 for r in rows)


@pytest.mark.parametrize("stack", GPU_STACKS)
def test_gpu_stacks_install_dcgm_exporter_on_gpu_nodes_only(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    values = _dcgm_values(graph)
    assert values["customMetrics"] == dcgm.counters_csv()
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    pools = {p["name"] for p in stack_file_config(stack)["gpuplane:gpuPools"]}
    assert len(terms) == len(pools)
    # The GPU runtime selects the same nodes: the exporter runs where GPU pods run.
    runtime = custom_resource_named(graph, "ClusterServingRuntime", "gpuplane-huggingface-gpu")
    runtime_terms = runtime.get("spec.affinity")["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == runtime_terms
    assert values["tolerations"] == runtime.get("spec.tolerations")
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values[
        "tolerations"
    ]
    # Pod attribution: the chart mounts the kubelet's pod-resources socket by default,
    # and nothing here moves it.
    assert "kubeletPath" not in values
    assert values["serviceMonitor"] == {"enabled": False}
    assert releases_missing_upstream(graph) == {}


def test_azure_spot_pools_taint_is_tolerated(graphs: dict[str, ResourceGraph]) -> None:
    tolerations = _dcgm_values(graphs["azure-dev"])["tolerations"]
    assert {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    } in tolerations


def _mounts(values: dict[str, Any]) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in values["extraVolumeMounts"]}


def test_gke_cos_mounts_the_driver_from_the_host(graphs: dict[str, ResourceGraph]) -> None:
    values = _dcgm_values(graphs["gcp-dev"])
    host = {v["name"]: v["hostPath"] for v in values["extraHostVolumes"]}
    assert host == {"nvidia-install-dir-host": "/home/kubernetes/bin/nvidia"}
    assert _mounts(values)["nvidia-install-dir-host"] == "/usr/local/nvidia"
    env = {e["name"]: e["value"] for e in values["extraEnv"]}
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
    assert values["securityContext"]["privileged"] is True


@pytest.mark.parametrize(
    ("stack", "privileged"),
    [
        ("aws-dev", False),  # AL2023: the NVIDIA runtime injects the GPUs by env
        ("azure-dev", False),  # AKS Ubuntu: the same
        ("aws-dev-bottlerocket", True),
        ("aws-dev-auto", True),
    ],
)
def test_driver_access_per_node_image(
    graphs: dict[str, ResourceGraph], stack: str, privileged: bool
) -> None:
    values = _dcgm_values(graphs[stack])
    env = {e["name"]: e["value"] for e in values["extraEnv"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert values["securityContext"].get("privileged", False) is privileged
    assert values["extraHostVolumes"] == []
    # The counter list stays mounted over the chart's default.
    assert _mounts(values)["exporter-metrics-volume"] == "/etc/dcgm-exporter/default-counters.csv"


def test_autopilot_installs_no_exporter_and_says_what_is_missing(
    graphs: dict[str, ResourceGraph],
) -> None:
    graph = graphs["gcp-dev-autopilot"]
    assert "dcgm-exporter" not in {r.inputs["name"] for r in graph.by_type(RELEASE)}
    assert "Autopilot" in graph.outputs["monitoringGaps"][0]
    assert "monitoringGaps" not in graphs["gcp-dev"].outputs


def test_no_gpu_pools_no_exporter(local_graph: ResourceGraph) -> None:
    assert "dcgm-exporter" not in {r.inputs["name"] for r in local_graph.by_type(RELEASE)}
    assert not [r for r in local_graph if r.get("metadata.name") == "dcgm-exporter"]


@pytest.mark.parametrize("stack", GPU_STACKS)
def test_exporter_monitor_keeps_pod_labels_and_adds_the_node(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    monitor = custom_resource_named(graph, "ServiceMonitor", "dcgm-exporter")
    validate_custom_resource(k8s_object(monitor))
    assert depends_on(graph, monitor, release_named(graph, "prometheus-operator-crds"))
    endpoint = monitor.get("spec.endpoints")[0]
    assert endpoint["honorLabels"] is True
    assert endpoint["port"] == "metrics"
    relabel = {r["action"]: r for r in endpoint["relabelings"]}
    assert relabel["replace"]["targetLabel"] == "node"
    assert relabel["labeldrop"]["regex"] == "pod|namespace|container"
    # It selects the chart's Service (rendered defaults: its labels and port name).
    release = release_named(graph, "dcgm-exporter")
    assert monitor.get("spec.namespaceSelector.matchNames") == [release.inputs["namespace"]]
    rendered = (UPSTREAM / "rendered" / "defaults" / "dcgm-exporter" / "4.8.2.yaml").read_text()
    service = rendered.split("kind: Service\n", 1)[1]
    assert "app.kubernetes.io/name: dcgm-exporter" in service
    assert "- name: metrics" in service


def test_gpu_metrics_can_be_turned_off(project: Any) -> None:
    config = _variant("aws-dev", "serving", monitoring={"gpuMetrics": False})
    graph = engine.plan(stack_from_mapping(project, "no-gpu-metrics", config))
    assert "dcgm-exporter" not in {r.inputs["name"] for r in graph.by_type(RELEASE)}
    assert "kube-prometheus-stack" in {r.inputs["name"] for r in graph.by_type(RELEASE)}


def test_prometheus_crds_are_their_own_release(local_graph: ResourceGraph) -> None:
    crds = release_named(local_graph, "prometheus-operator-crds")
    stack = release_named(local_graph, "kube-prometheus-stack")
    assert stack.inputs["values"]["crds"] == {"enabled": False}
    assert depends_on(local_graph, stack, crds)
    # The CRD chart's appVersion is the operator kube-prometheus-stack runs.
    crd_chart = yaml.safe_load(
        (chart_dir(CHARTS["prometheus-operator-crds"]) / "Chart.yaml").read_text()
    )
    stack_chart = yaml.safe_load(
        (chart_dir(CHARTS["kube-prometheus-stack"]) / "Chart.yaml").read_text()
    )
    assert crd_chart["appVersion"] == stack_chart["appVersion"]


@pytest.mark.parametrize("stack", GPU_STACKS)
def test_kube_state_metrics_exposes_the_labels_rules_join_on(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    values = release_named(graphs[stack], "kube-prometheus-stack").inputs["values"]
    allow = values["kube-state-metrics"]["metricLabelsAllowlist"]
    nodes = next(a for a in allow if a.startswith("nodes="))
    pods = next(a for a in allow if a.startswith("pods="))
    keys = set(nodes.removeprefix("nodes=[").removesuffix("]").split(","))
    assert "node.kubernetes.io/instance-type" in keys
    # Every label the GPU pools' nodes are selected by (the runtime's affinity).
    runtime = custom_resource_named(
        graphs[stack], "ClusterServingRuntime", "gpuplane-huggingface-gpu"
    )
    terms = runtime.get("spec.affinity")["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert {e["key"] for t in terms for e in t["matchExpressions"]} <= keys
    assert pods == "pods=[serving.kserve.io/inferenceservice]"


def test_monitoring_objects_validate_against_their_crds_on_every_stack(
    stack_graphs: dict[str, ResourceGraph],
) -> None:
    kinds: set[str] = set()
    for graph in stack_graphs.values():
        for resource in graph:
            if resource.type.startswith("kubernetes:monitoring.coreos.com/"):
                validate_custom_resource(k8s_object(resource))
                kinds.add(resource.type.rsplit(":", 1)[1])
    assert kinds == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def test_karpenter_is_scraped_where_gpuplane_installs_it(
    graphs: dict[str, ResourceGraph],
) -> None:
    monitor = custom_resource_named(graphs["aws-dev"], "ServiceMonitor", "karpenter")
    assert monitor.get("spec.namespaceSelector.matchNames") == [
        release_named(graphs["aws-dev"], "karpenter").inputs["namespace"]
    ]
    # The chart's Service: its labels and metrics port (rendered defaults).
    rendered = (UPSTREAM / "rendered" / "defaults" / "karpenter" / "1.14.1.yaml").read_text()
    service = rendered.split("kind: Service\n", 1)[1].split("---", 1)[0]
    assert "app.kubernetes.io/name: karpenter" in service
    assert f"- name: {monitor.get('spec.endpoints')[0]['port']}" in service
    for name in ("aws-dev-auto", "gcp-dev", "azure-dev"):
        assert not [
            r for r in graphs[name] if r.get("metadata.name") == "karpenter" and "Monitor" in r.type
        ]
