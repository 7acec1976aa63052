"""gpuplane's alerting and recording rules: idle GPU dollars, capacity, serving health.

Every alert carries `summary`, `description` and a one-line `runbook` annotation.
Rules read kube-state-metrics (with the node and pod labels its allowlist exposes),
dcgm-exporter's configured counters, Knative's queue-proxy metrics and, where
gpuplane installs Karpenter, Karpenter's own.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gpuplane.components.clusters.contract import GpuPool
from gpuplane.components.config import duration_seconds
from gpuplane.components.serving.series import INFERENCE_SERVICE, ksm_label, pool_selector

GPU = 'resource="nvidia_com_gpu"'
# Recorded series the alerts, dashboards and cost rules share.
GPU_NODE = "gpuplane:gpu_node:info"
NODE_GPU_REQUESTS = "gpuplane:node_gpu_requests:sum"
POD_ISVC = "gpuplane:pod_inferenceservice:info"
# What kube-state-metrics' custom resource config names the InferenceService conditions.
ISVC_CONDITION = "gpuplane_inferenceservice_condition"
# The assumed empty-node delay where the cluster's autoscaler is not gpuplane's.
UNKNOWN_EMPTY_NODE_DELAY = "10m"
_ISVC_LABEL = ksm_label(INFERENCE_SERVICE)


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """When each alert fires (see `gpuplane:serving.monitoring.alerts`)."""

    idle_gpu_node_margin: str = "10m"
    gpu_pod_pending: str = "15m"
    not_ready: str = "15m"
    cold_start_budget: str = "900s"
    error_ratio: float = 0.05
    gpu_memory_ratio: float = 0.95


def duration(seconds: int) -> str:
    """5400 -> `1h30m`, in Prometheus's duration syntax."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"


def _alert(
    name: str,
    expr: str,
    *,
    for_: str | None,
    severity: str,
    summary: str,
    description: str,
    runbook: str,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, **(labels or {})}
    rule["annotations"] = {"summary": summary, "description": description, "runbook": runbook}
    return rule


def recording_rules(pools: Sequence[GpuPool]) -> list[dict[str, Any]]:
    """GPU nodes per pool, GPUs requested per node, and each pod's InferenceService."""
    rules: list[dict[str, Any]] = [
        {
            "record": GPU_NODE,
            "expr": f"max by (node) (kube_node_labels{{{pool_selector(pool)}}})",
            "labels": {"pool": pool.name},
        }
        for pool in pools
    ]
    rules += [
        {
            "record": NODE_GPU_REQUESTS,
            "expr": (
                f"sum by (node) (kube_pod_container_resource_requests{{{GPU}}} "
                "* on (namespace, pod) group_left () max by (namespace, pod) "
                '(kube_pod_status_phase{phase=~"Pending|Running"} == 1))'
            ),
        },
        {
            "record": POD_ISVC,
            "expr": (
                "max by (namespace, pod, inferenceservice) (label_replace("
                f'kube_pod_labels{{{_ISVC_LABEL}!=""}}, "inferenceservice", "$1", '
                f'"{_ISVC_LABEL}", "(.+)"))'
            ),
        },
    ]
    return rules


def gpu_alerts(
    pools: Sequence[GpuPool],
    *,
    thresholds: Thresholds,
    empty_node_delay: str | None,
    dcgm: bool,
    karpenter: bool,
) -> list[dict[str, Any]]:
    """Idle GPU nodes per pool, pending GPU pods, GPU health and provisioning."""
    delay = empty_node_delay or UNKNOWN_EMPTY_NODE_DELAY
    idle_for = duration(duration_seconds(delay) + duration_seconds(thresholds.idle_gpu_node_margin))
    rules = [
        _alert(
            "GpuNodeIdle",
            f'{GPU_NODE}{{pool="{pool.name}"}} unless on (node) ({NODE_GPU_REQUESTS} > 0)',
            for_=idle_for,
            severity="warning",
            labels={"pool": pool.name},
            summary="GPU node {{ $labels.node }} has run no GPU pod for " + idle_for,
            description=(
                f"Pool {pool.name} removes an empty node after {delay}; this one has had no "
                f"GPU pod for {idle_for}, so it is billed for nothing."
            ),
            runbook=(
                "Check the node autoscaler (Karpenter NodePool disruption, cluster autoscaler "
                "scale-down) and pods pinning the node (PDBs, non-GPU pods tolerating the GPU "
                "taint); delete the node if nothing should run there."
            ),
        )
        for pool in pools
    ]
    rules.append(
        _alert(
            "GpuPodPending",
            (
                f"max by (namespace, pod) (kube_pod_container_resource_requests{{{GPU}}}) > 0 "
                'and on (namespace, pod) (kube_pod_status_phase{phase="Pending"} == 1)'
            ),
            for_=thresholds.gpu_pod_pending,
            severity="warning",
            summary="GPU pod {{ $labels.namespace }}/{{ $labels.pod }} pending for "
            + thresholds.gpu_pod_pending,
            description="A pod asking for a GPU has not started: no capacity, quota, or a "
            "pool at its node limit.",
            runbook=(
                "kubectl describe pod: look for FailedScheduling / NotTriggerScaleUp events, "
                "the provisioner's logs, the GPU quota in the region and the pool's maxNodes."
            ),
        )
    )
    if pools:  # the per-node alerts below select the pools' nodes
        rules += node_alerts(thresholds=thresholds, dcgm=dcgm)
    if karpenter:
        rules.append(
            _alert(
                "NodeProvisioningFailing",
                (
                    "sum by (controller, method, error) (increase(karpenter_cloudprovider_"
                    'errors_total{error!="NodeClaimNotFoundError"}[15m])) > 0'
                ),
                for_="5m",
                severity="warning",
                summary="Karpenter's cloud provider calls fail ({{ $labels.error }})",
                description="Karpenter cannot launch nodes: capacity (ICE), quota, IAM or "
                "throttling. GPU pods stay pending meanwhile.",
                runbook="kubectl -n kube-system logs deploy/karpenter; check the NodeClaims' "
                "conditions and the EC2 GPU quota; add instance types to the pool.",
            )
        )
    return rules


def node_alerts(*, thresholds: Thresholds, dcgm: bool) -> list[dict[str, Any]]:
    """GPU pool nodes without a working device plugin or exporter, and GPU health."""
    rules = [
        _alert(
            "GpuDevicePluginDown",
            f"{GPU_NODE} unless on (node) (kube_node_status_allocatable{{{GPU}}} > 0)",
            for_="10m",
            severity="critical",
            summary="GPU node {{ $labels.node }} advertises no nvidia.com/gpu",
            description="The NVIDIA device plugin is not running or not registered on a GPU "
            "node: GPU pods cannot land there while the node is billed.",
            runbook="kubectl -n <device plugin namespace> get pods -o wide | grep <node>; check "
            "the plugin's logs and the driver (nvidia-smi on the node).",
        )
    ]
    if dcgm:
        rules += [
            _alert(
                "DcgmExporterDown",
                f'{GPU_NODE} unless on (node) (up{{job="dcgm-exporter"}} == 1)',
                for_="10m",
                severity="warning",
                summary="No GPU metrics from node {{ $labels.node }}",
                description="dcgm-exporter is not scraped on this GPU node: utilisation, "
                "memory and XID alerts are blind there.",
                runbook="kubectl -n monitoring get pods -l app.kubernetes.io/name=dcgm-exporter "
                "-o wide; check its logs for NVML errors (driver path) and Prometheus targets.",
            ),
            _alert(
                "GpuXidError",
                "max by (node, gpu, modelName) (DCGM_FI_DEV_XID_ERRORS) > 0",
                for_=None,
                severity="critical",
                summary="GPU {{ $labels.gpu }} on {{ $labels.node }} reported XID {{ $value }}",
                description="The driver reported an XID error: the GPU may be unusable "
                "(48, 63, 64, 74, 79, 94, 95 need a reset or a new node).",
                runbook="Look the XID up in NVIDIA's XID catalogue; for hardware XIDs cordon "
                "and drain the node and let the autoscaler replace it.",
            ),
            _alert(
                "GpuMemoryNearlyFull",
                (
                    "max by (node, gpu, modelName, namespace, pod) (DCGM_FI_DEV_FB_USED / "
                    "(DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_RESERVED)) "
                    f"> {thresholds.gpu_memory_ratio}"
                ),
                for_="10m",
                severity="warning",
                summary="GPU {{ $labels.gpu }} on {{ $labels.node }} memory above "
                f"{thresholds.gpu_memory_ratio:.0%}",
                description="The model is close to out-of-memory (engines that preallocate, "
                "such as vLLM at 0.9, sit just below the default threshold).",
                runbook="Lower the engine's memory fraction, max batch or context length, or "
                "move the model to a pool with more GPU memory.",
            ),
        ]
    return rules


def serving_alerts(thresholds: Thresholds) -> list[dict[str, Any]]:
    """InferenceService readiness, cold starts and 5xx."""
    budget = duration_seconds(thresholds.cold_start_budget)

    def per_isvc(selector: str) -> str:
        return (
            "sum by (namespace, inferenceservice) (rate(kn_serving_invocation_duration_seconds"
            f"_count{selector}[10m]) * on (namespace, pod) group_left (inferenceservice) "
            f"{POD_ISVC})"
        )

    errors = '{http_response_status_code=~"5.."}'
    return [
        _alert(
            "InferenceServiceNotReady",
            f'{ISVC_CONDITION}{{type="Ready",status!="True"}} == 1',
            for_=thresholds.not_ready,
            severity="warning",
            summary="InferenceService {{ $labels.namespace }}/{{ $labels.name }} not Ready",
            description="Its Ready condition has not been True for " + thresholds.not_ready + ".",
            runbook="kubectl get isvc -n <ns> <name> -o yaml: read the failing condition; "
            "then the predictor's revision and pods (image, model download, GPU capacity).",
        ),
        _alert(
            "ColdStartOverBudget",
            (
                f"((time() - kube_pod_created) > {budget} and on (namespace, pod) "
                '(kube_pod_status_ready{condition="true"} == 0)) '
                f"* on (namespace, pod) group_left (inferenceservice) {POD_ISVC}"
            ),
            for_=None,
            severity="warning",
            summary="{{ $labels.inferenceservice }} pod {{ $labels.pod }} not Ready "
            f"{duration(budget)} after creation",
            description="A cold start (GPU node, image pull, model load) is over its budget; "
            "Knative fails the revision at its progress deadline.",
            runbook="kubectl describe pod: which step is slow (Pending: node; ContainerCreating: "
            "image; Running not Ready: model load). Cache the model or image, or keep a "
            "replica warm.",
        ),
        _alert(
            "InferenceServiceErrors",
            (f"{per_isvc(errors)} / {per_isvc('')} > {thresholds.error_ratio}"),
            for_="5m",
            severity="warning",
            summary="{{ $labels.namespace }}/{{ $labels.inferenceservice }} answers "
            f"more than {thresholds.error_ratio:.0%} 5xx",
            description="Share of 5xx responses at the queue-proxy over 10 minutes.",
            runbook="Check the predictor's logs (OOM, engine errors) and the queue-proxy's "
            "(timeouts, overload: containerConcurrency vs the engine's batch size).",
        ),
    ]


def rule_groups(
    pools: Sequence[GpuPool],
    *,
    thresholds: Thresholds,
    empty_node_delay: str | None,
    dcgm: bool,
    karpenter: bool,
) -> list[dict[str, Any]]:
    """The `gpuplane` PrometheusRule's groups."""
    return [
        {"name": "gpuplane.records", "rules": recording_rules(pools)},
        {
            "name": "gpuplane.gpu",
            "rules": gpu_alerts(
                pools,
                thresholds=thresholds,
                empty_node_delay=empty_node_delay,
                dcgm=dcgm,
                karpenter=karpenter,
            ),
        },
        {"name": "gpuplane.serving", "rules": serving_alerts(thresholds)},
    ]


def isvc_state_metrics() -> dict[str, Any]:
    """kube-state-metrics custom resource config: each InferenceService condition as
    `gpuplane_inferenceservice_condition{namespace, name, type, status} 1`."""
    return {
        "kind": "CustomResourceStateMetrics",
        "spec": {
            "resources": [
                {
                    "groupVersionKind": {
                        "group": "serving.kserve.io",
                        "version": "v1beta1",
                        "kind": "InferenceService",
                    },
                    "metricNamePrefix": "gpuplane_inferenceservice",
                    "labelsFromPath": {
                        "namespace": ["metadata", "namespace"],
                        "name": ["metadata", "name"],
                    },
                    "metrics": [
                        {
                            "name": "condition",
                            "help": "Each condition of an InferenceService, by type and status.",
                            "each": {
                                "type": "Info",
                                "info": {
                                    "path": ["status", "conditions"],
                                    "labelsFromPath": {"type": ["type"], "status": ["status"]},
                                },
                            },
                        }
                    ],
                }
            ]
        },
    }
