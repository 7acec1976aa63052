"""gpuplane's PrometheusRule, checked and unit-tested by promtool.

Each alert gets synthetic series that make it fire and series that keep it quiet.
The unit tests run the aws-dev stack's rules (pool `l4`, Karpenter's 2m empty-node
delay, dcgm-exporter installed) with annotations left out: promtool compares
annotations verbatim, and what an alert means is its expression, duration and labels.
"""

import copy
from pathlib import Path
from typing import Any

import pytest

from gpuplane.graph import ResourceGraph
from tests.helpers import k8s_object, release_named
from tests.promtool import RULE, check_rules, rule_groups, unit_test_rules
from tests.upstream import crd_schema, validate_custom_resource

POOL = 'label_gpuplane_dev_pool="l4"'
NODE = f"kube_node_labels{{node='n1',{POOL}}}"


def _alerts(graph: ResourceGraph) -> list[dict[str, Any]]:
    return [r for g in rule_groups(graph) for r in g["rules"] if "alert" in r]


def test_every_stack_ships_rules_promtool_accepts(
    stack_graphs: dict[str, ResourceGraph], tmp_path: Path
) -> None:
    for name, graph in stack_graphs.items():
        for rule in graph.by_type(RULE):
            validate_custom_resource(k8s_object(rule))
            result = check_rules(rule.inputs["spec"]["groups"], tmp_path)
            assert result.returncode == 0, (name, result.stdout, result.stderr)


def test_promtool_refuses_a_broken_rule(
    stack_graphs: dict[str, ResourceGraph], tmp_path: Path
) -> None:
    groups = copy.deepcopy(rule_groups(stack_graphs["aws-dev"]))
    groups[1]["rules"][0]["expr"] += " by"
    assert check_rules(groups, tmp_path).returncode != 0


def test_every_alert_has_a_runbook_line(stack_graphs: dict[str, ResourceGraph]) -> None:
    for graph in stack_graphs.values():
        for alert in _alerts(graph):
            assert alert["annotations"]["runbook"].strip(), alert["alert"]
            assert "\n" not in alert["annotations"]["runbook"]
            assert alert["labels"]["severity"] in ("warning", "critical")


def test_alert_set_follows_what_the_cluster_has(stack_graphs: dict[str, ResourceGraph]) -> None:
    names = {n: {a["alert"] for a in _alerts(g)} for n, g in stack_graphs.items()}
    serving = {"InferenceServiceNotReady", "ColdStartOverBudget", "InferenceServiceErrors"}
    gpu = {"GpuNodeIdle", "GpuPodPending", "GpuDevicePluginDown"}
    dcgm = {"DcgmExporterDown", "GpuXidError", "GpuMemoryNearlyFull"}
    assert names["aws-dev"] == serving | gpu | dcgm | {"NodeProvisioningFailing"}
    assert names["gcp-dev"] == serving | gpu | dcgm
    assert names["azure-dev"] == serving | gpu | dcgm
    # No GPU pools: no per-pool idle alert, no exporter.
    assert names["local"] == serving | {"GpuPodPending"}


def test_the_state_metrics_config_reads_real_inferenceservice_fields(
    local_graph: ResourceGraph,
) -> None:
    """Every path kube-state-metrics reads exists in KServe's InferenceService schema."""
    values = release_named(local_graph, "kube-prometheus-stack").inputs["values"]
    state = values["kube-state-metrics"]["customResourceState"]
    assert state["enabled"] is True
    schema = crd_schema("serving.kserve.io/v1beta1", "InferenceService")
    resource = state["config"]["spec"]["resources"][0]
    assert resource["groupVersionKind"]["kind"] == "InferenceService"
    rules = values["kube-state-metrics"]["rbac"]["extraRules"]
    assert rules == [
        {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices"],
            "verbs": ["list", "watch"],
        }
    ]
    metric = resource["metrics"][0]["each"]["info"]
    conditions = _at(schema, metric["path"])
    assert conditions["type"] == "array"
    for path in metric["labelsFromPath"].values():
        assert _at(conditions["items"], path)["type"] == "string"
    for path in resource["labelsFromPath"].values():
        assert path[0] == "metadata"


def _at(schema: dict[str, Any], path: list[str]) -> dict[str, Any]:
    node = schema
    for key in path:
        node = node["properties"][key]
    return node


# (alert, firing case, quiet case); each case: input series and the eval time.
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "GpuNodeIdle",
        # The node's one GPU pod finished at 10m: idle 14m at 25m, past 2m + 10m.
        {
            "series": {
                NODE: "1x40",
                "kube_pod_container_resource_requests{namespace='m',pod='p',container='c',"
                "node='n1',resource='nvidia_com_gpu'}": "1x40",
                "kube_pod_status_phase{namespace='m',pod='p',phase='Running'}": "1x10 0x30",
            },
            "at": "25m",
            "labels": {"severity": "warning", "pool": "l4", "node": "n1"},
        },
        # Idle for 9m at 20m: within the pool's delay plus margin.
        {
            "series": {
                NODE: "1x40",
                "kube_pod_container_resource_requests{namespace='m',pod='p',container='c',"
                "node='n1',resource='nvidia_com_gpu'}": "1x40",
                "kube_pod_status_phase{namespace='m',pod='p',phase='Running'}": "1x10 0x30",
            },
            "at": "20m",
        },
    ),
    (
        "GpuPodPending",
        {
            "series": {
                "kube_pod_container_resource_requests{namespace='m',pod='p',container='c',"
                "resource='nvidia_com_gpu'}": "1x40",
                "kube_pod_status_phase{namespace='m',pod='p',phase='Pending'}": "1x40",
            },
            "at": "20m",
            "labels": {"severity": "warning", "namespace": "m", "pod": "p"},
        },
        # Started after 10m pending.
        {
            "series": {
                "kube_pod_container_resource_requests{namespace='m',pod='p',container='c',"
                "resource='nvidia_com_gpu'}": "1x40",
                "kube_pod_status_phase{namespace='m',pod='p',phase='Pending'}": "1x10 0x30",
            },
            "at": "20m",
        },
    ),
    (
        "GpuDevicePluginDown",
        {
            "series": {
                NODE: "1x40",
                "kube_node_status_allocatable{node='n1',resource='nvidia_com_gpu'}": "0x40",
            },
            "at": "15m",
            "labels": {"severity": "critical", "node": "n1", "pool": "l4"},
        },
        {
            "series": {
                NODE: "1x40",
                "kube_node_status_allocatable{node='n1',resource='nvidia_com_gpu'}": "1x40",
            },
            "at": "15m",
        },
    ),
    (
        "DcgmExporterDown",
        {
            "series": {NODE: "1x40", "up{job='dcgm-exporter',node='n1'}": "0x40"},
            "at": "15m",
            "labels": {"severity": "warning", "node": "n1", "pool": "l4"},
        },
        {
            "series": {NODE: "1x40", "up{job='dcgm-exporter',node='n1'}": "1x40"},
            "at": "15m",
        },
    ),
    (
        "GpuXidError",
        {
            "series": {"DCGM_FI_DEV_XID_ERRORS{node='n1',gpu='0',modelName='NVIDIA L4'}": "79x5"},
            "at": "1m",
            "labels": {"severity": "critical", "node": "n1", "gpu": "0", "modelName": "NVIDIA L4"},
        },
        {
            "series": {"DCGM_FI_DEV_XID_ERRORS{node='n1',gpu='0',modelName='NVIDIA L4'}": "0x5"},
            "at": "1m",
        },
    ),
    (
        "GpuMemoryNearlyFull",
        {
            "series": {
                "DCGM_FI_DEV_FB_USED{node='n1',gpu='0',modelName='L4',pod='p'}": "23000x30",
                "DCGM_FI_DEV_FB_FREE{node='n1',gpu='0',modelName='L4',pod='p'}": "500x30",
                "DCGM_FI_DEV_FB_RESERVED{node='n1',gpu='0',modelName='L4',pod='p'}": "500x30",
            },
            "at": "15m",
            "labels": {
                "severity": "warning",
                "node": "n1",
                "gpu": "0",
                "modelName": "L4",
                "pod": "p",
            },
        },
        # 90 % used: where vLLM's default preallocation sits.
        {
            "series": {
                "DCGM_FI_DEV_FB_USED{node='n1',gpu='0',modelName='L4',pod='p'}": "21600x30",
                "DCGM_FI_DEV_FB_FREE{node='n1',gpu='0',modelName='L4',pod='p'}": "1900x30",
                "DCGM_FI_DEV_FB_RESERVED{node='n1',gpu='0',modelName='L4',pod='p'}": "500x30",
            },
            "at": "15m",
        },
    ),
    (
        "NodeProvisioningFailing",
        {
            "series": {
                "karpenter_cloudprovider_errors_total{controller='nodeclaim.lifecycle',"
                "method='Create',error='InsufficientCapacityError'}": "0+1x30",
            },
            "at": "20m",
            "labels": {
                "severity": "warning",
                "controller": "nodeclaim.lifecycle",
                "method": "Create",
                "error": "InsufficientCapacityError",
            },
        },
        # Karpenter's documented noise: NodeClaimNotFoundError on terminations.
        {
            "series": {
                "karpenter_cloudprovider_errors_total{controller='nodeclaim.termination',"
                "method='Get',error='NodeClaimNotFoundError'}": "0+1x30",
            },
            "at": "20m",
        },
    ),
    (
        "InferenceServiceNotReady",
        {
            "series": {
                "gpuplane_inferenceservice_condition{namespace='m',name='llm',type='Ready',"
                "status='False'}": "1x30",
            },
            "at": "20m",
            "labels": {
                "severity": "warning",
                "namespace": "m",
                "name": "llm",
                "type": "Ready",
                "status": "False",
            },
        },
        {
            "series": {
                "gpuplane_inferenceservice_condition{namespace='m',name='llm',type='Ready',"
                "status='True'}": "1x30",
                "gpuplane_inferenceservice_condition{namespace='m',name='llm',"
                "type='PredictorReady',status='False'}": "1x30",
            },
            "at": "20m",
        },
    ),
    (
        "ColdStartOverBudget",
        # Created at 0 s, not Ready at 20 min: over the 15 min budget (half of 30m).
        {
            "series": {
                "kube_pod_created{namespace='m',pod='llm-1'}": "0x30",
                "kube_pod_status_ready{namespace='m',pod='llm-1',condition='true'}": "0x30",
                "kube_pod_labels{namespace='m',pod='llm-1',"
                "label_serving_kserve_io_inferenceservice='llm'}": "1x30",
            },
            "at": "20m",
            "labels": {
                "severity": "warning",
                "namespace": "m",
                "pod": "llm-1",
                "inferenceservice": "llm",
            },
        },
        # Still starting at 10 min: within budget.
        {
            "series": {
                "kube_pod_created{namespace='m',pod='llm-1'}": "0x30",
                "kube_pod_status_ready{namespace='m',pod='llm-1',condition='true'}": "0x30",
                "kube_pod_labels{namespace='m',pod='llm-1',"
                "label_serving_kserve_io_inferenceservice='llm'}": "1x30",
            },
            "at": "10m",
        },
    ),
    (
        "InferenceServiceErrors",
        # 10 of 110 requests a minute are 503s: 9 %.
        {
            "series": {
                "kn_serving_invocation_duration_seconds_count{namespace='m',pod='llm-1',"
                "http_response_status_code='200'}": "0+100x30",
                "kn_serving_invocation_duration_seconds_count{namespace='m',pod='llm-1',"
                "http_response_status_code='503'}": "0+10x30",
                "kube_pod_labels{namespace='m',pod='llm-1',"
                "label_serving_kserve_io_inferenceservice='llm'}": "1x30",
            },
            "at": "20m",
            "labels": {"severity": "warning", "namespace": "m", "inferenceservice": "llm"},
        },
        # 1 in 101: below 5 %.
        {
            "series": {
                "kn_serving_invocation_duration_seconds_count{namespace='m',pod='llm-1',"
                "http_response_status_code='200'}": "0+100x30",
                "kn_serving_invocation_duration_seconds_count{namespace='m',pod='llm-1',"
                "http_response_status_code='503'}": "0+1x30",
                "kube_pod_labels{namespace='m',pod='llm-1',"
                "label_serving_kserve_io_inferenceservice='llm'}": "1x30",
            },
            "at": "20m",
        },
    ),
]


def _without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = copy.deepcopy(groups)
    for group in groups:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return groups


def _case(alert: str, case: dict[str, Any], fires: bool) -> dict[str, Any]:
    expected = [{"exp_labels": case["labels"]}] if fires else []
    return {
        "interval": "1m",
        "input_series": [
            {"series": series.replace("'", '"'), "values": values}
            for series, values in case["series"].items()
        ],
        "alert_rule_test": [{"eval_time": case["at"], "alertname": alert, "exp_alerts": expected}],
    }


def test_every_alert_has_a_firing_and_a_quiet_case(stack_graphs: dict[str, ResourceGraph]) -> None:
    assert {a["alert"] for a in _alerts(stack_graphs["aws-dev"])} == {c[0] for c in CASES}


@pytest.mark.parametrize(("alert", "fires", "quiet"), CASES, ids=[c[0] for c in CASES])
def test_alert_fires_and_stays_quiet(
    stack_graphs: dict[str, ResourceGraph],
    tmp_path: Path,
    alert: str,
    fires: dict[str, Any],
    quiet: dict[str, Any],
) -> None:
    groups = _without_annotations(rule_groups(stack_graphs["aws-dev"]))
    tests = [_case(alert, fires, True), _case(alert, quiet, False)]
    result = unit_test_rules(groups, tests, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # And the firing case really is checked: expecting silence there fails.
    wrong = unit_test_rules(groups, [_case(alert, fires, False)], tmp_path)
    assert wrong.returncode != 0, alert


def test_thresholds_reach_the_rules(plan_mapping: Any) -> None:
    graph = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": {"context": "kind-gpuplane"},
            "gpuplane:gpuPools": [{"name": "l4", "labels": {"pool": "l4"}}],
            "gpuplane:serving": {
                "monitoring": {
                    "alerts": {
                        "idleGpuNodeMargin": "5m",
                        "gpuPodPending": "7m",
                        "notReady": "8m",
                        "coldStartBudget": "11m",
                        "errorRatio": 0.2,
                        "gpuMemoryRatio": 0.8,
                    }
                }
            },
        }
    )
    alerts = {a["alert"]: a for a in _alerts(graph)}
    # An existing cluster's autoscaler delay is unknown: 10m is assumed.
    assert alerts["GpuNodeIdle"]["for"] == "15m"
    assert alerts["GpuPodPending"]["for"] == "7m"
    assert alerts["InferenceServiceNotReady"]["for"] == "8m"
    assert "> 660 and" in alerts["ColdStartOverBudget"]["expr"]
    assert alerts["InferenceServiceErrors"]["expr"].endswith("> 0.2")
    assert alerts["GpuMemoryNearlyFull"]["expr"].endswith("> 0.8")


def test_alerts_can_be_turned_off(plan_mapping: Any) -> None:
    graph = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": {"context": "kind-gpuplane"},
            "gpuplane:serving": {"monitoring": {"alerts": {"enabled": False}}},
        }
    )
    assert _alerts(graph) == []
    assert rule_groups(graph)[0]["rules"]  # the recording rules stay


def test_cold_start_budget_defaults_to_half_the_progress_deadline(plan_mapping: Any) -> None:
    graph = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": {"context": "kind-gpuplane"},
            "gpuplane:serving": {"knative": {"progressDeadline": "40m"}},
        }
    )
    cold = next(a for a in _alerts(graph) if a["alert"] == "ColdStartOverBudget")
    assert "> 1200 and" in cold["expr"]
