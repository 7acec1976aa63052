"""Dashboards and rules read only series the exporters really expose, and parse.

Known names come from the upstream oracle: dcgm-exporter's counter file (through the
list gpuplane configures), Knative's queue-proxy metrics (KServe's evidence quoting
Knative's docs, in OpenTelemetry names, turned into Prometheus names by the
OpenTelemetry-to-Prometheus rules), kube-state-metrics names that kube-prometheus-stack's
rendered rules and dashboards query, and the series gpuplane's own rules record.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane.components.serving import alerts, dcgm
from gpuplane.graph import ResourceGraph
from tests.helpers import release_named
from tests.promtool import RULE, check_rules
from tests.upstream import UPSTREAM, upstream_values

# kube-state-metrics names gpuplane queries that kube-prometheus-stack's rendered
# rules and dashboards do not: each is in kube-state-metrics' metric docs (v2.x,
# docs/metrics/...), not in ../shared/upstream.
KSM_DOCUMENTED = {
    "kube_node_labels": "cluster/node-metrics.md, STABLE (labels by allowlist)",
    "kube_node_created": "cluster/node-metrics.md, STABLE",
    "kube_pod_labels": "workload/pod-metrics.md, STABLE (labels by allowlist)",
    "kube_pod_created": "workload/pod-metrics.md, STABLE",
    "kube_pod_status_ready_time": "workload/pod-metrics.md, EXPERIMENTAL since v2.8.0",
}
# Karpenter's docs (reference/metrics): not in ../shared/upstream either.
KARPENTER_DOCUMENTED = {
    "karpenter_cloudprovider_errors_total": "Counter: controller, method, provider, error"
}
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
_UNITS = {"s": "seconds", "By": "bytes", "ms": "milliseconds"}


def knative_names() -> set[str]:
    """Prometheus names of the queue-proxy metrics documented in the upstream evidence."""
    text = (UPSTREAM / "reference" / "kserve-v0.20.0" / "metrics.md").read_text()
    names = set()
    for name, body in re.findall(r"###\s+`(kn\.[a-z_.]+)`(.*?)(?=###|\Z)", text, re.S):
        kind = re.search(r"\*\*Instrument Type:\*\*\s*(\w+)", body).group(1)
        unit = re.search(r"\*\*Unit.*?\):\*\*\s*(\S+)", body).group(1)
        base = name.replace(".", "_")
        if not unit.startswith("{"):  # annotations in braces are dropped
            base += "_" + _UNITS[unit]
        if "Histogram" in kind:
            names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
        else:
            names.add(base)
    return names


def ksm_rendered_names() -> set[str]:
    rendered = UPSTREAM / "rendered" / "defaults" / "kube-prometheus-stack" / "88.5.3.yaml"
    return set(re.findall(r"\bkube_[a-z_]+", rendered.read_text()))


def _recorded(graph: ResourceGraph) -> set[str]:
    return {
        r["record"]
        for rule in graph.by_type(RULE)
        for g in rule.inputs["spec"]["groups"]
        for r in g["rules"]
        if "record" in r
    }


def known_names(graph: ResourceGraph) -> set[str]:
    state = alerts.isvc_state_metrics()["spec"]["resources"][0]
    custom = {f"{state['metricNamePrefix']}_{m['name']}" for m in state["metrics"]}
    return (
        dcgm.metric_names()
        | knative_names()
        | ksm_rendered_names()
        | set(KSM_DOCUMENTED)
        | set(KARPENTER_DOCUMENTED)
        | custom
        | _recorded(graph)
        | {"up"}
    )


_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][\w:]*", text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group(0).lower() in _KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def test_the_name_extractor_finds_selectors_only() -> None:
    expr = (
        'sum by (node) (rate(a_total{x="y"}[5m]) * on (pod) group_left (z) b:rec) '
        '/ ignoring (q) c > 1e6 and d unless label_replace(e, "f", "$1", "g", "(.+)")'
    )
    assert metric_names(expr) == {"a_total", "b:rec", "c", "d", "e"}


def test_knative_names_follow_the_evidence() -> None:
    assert knative_names() == {
        "kn_serving_queue_depth",
        "kn_serving_invocation_duration_seconds_bucket",
        "kn_serving_invocation_duration_seconds_sum",
        "kn_serving_invocation_duration_seconds_count",
    }


def test_documented_extras_are_not_silently_in_the_rendered_data() -> None:
    """If kube-prometheus-stack starts querying them, drop them from the extras."""
    assert not set(KSM_DOCUMENTED) & ksm_rendered_names()


def _exprs(graph: ResourceGraph) -> list[tuple[str, str]]:
    out = [
        (r.get("alert") or r["record"], r["expr"])
        for rule in graph.by_type(RULE)
        for g in rule.inputs["spec"]["groups"]
        for r in g["rules"]
    ]
    for board in _boards(graph).values():
        for panel in board["panels"]:
            out += [(panel["title"], t["expr"]) for t in panel["targets"]]
        out += [(v["name"], v["query"]["query"]) for v in board["templating"]["list"]]
    return out


def _boards(graph: ResourceGraph) -> dict[str, dict[str, Any]]:
    return {
        key: json.loads(value)
        for cm in graph.by_type(CONFIG_MAP)
        if (cm.get("metadata.labels") or {}).get("grafana_dashboard")
        for key, value in cm.inputs["data"].items()
    }


@pytest.mark.parametrize("stack", ["aws-dev", "gcp-dev", "azure-dev", "local"])
def test_every_queried_metric_is_exposed(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    known = known_names(graph)
    exprs = _exprs(graph)
    assert len(exprs) > (15 if stack == "local" else 60)
    assert metric_names("rate(DCGM_FI_DEV_GPU_UTILL[5m])") - known  # a typo is caught
    for where, expr in exprs:
        query = (
            expr.removeprefix("label_values(").split(",")[0]
            if expr.startswith("label_values(")
            else expr
        )
        unknown = metric_names(query) - known
        assert not unknown, (where, unknown)


def _promql(expr: str) -> str:
    """A panel query with Grafana's variables filled in, as PromQL."""
    for var, value in (("$__rate_interval", "5m"), ("$__range_s", "86400"), ("$__range", "1d")):
        expr = expr.replace(var, value)
    return re.sub(r"\$\w+", ".*", expr)


@pytest.mark.parametrize("stack", ["aws-dev", "local"])
def test_dashboards_are_grafana_json_on_the_provisioned_datasource(
    stack_graphs: dict[str, ResourceGraph], stack: str, tmp_path: Path
) -> None:
    graph = stack_graphs[stack]
    values = release_named(graph, "kube-prometheus-stack").inputs["values"]
    sidecar = values["grafana"]["sidecar"]
    uid = sidecar["datasources"]["uid"]
    # The uid kube-prometheus-stack provisions its Prometheus datasource with.
    assert uid == upstream_values_of_kps()["grafana"]["sidecar"]["datasources"]["uid"]
    configmaps = [
        c
        for c in graph.by_type(CONFIG_MAP)
        if (c.get("metadata.labels") or {}).get("grafana_dashboard")
    ]
    # local: no GPU pools (no fleet) and no price table (no cost) on an existing cluster.
    expected = 3 if stack != "local" else 1
    assert len(configmaps) == expected
    rules = []
    for cm in configmaps:
        labels, annotations = cm.get("metadata.labels"), cm.get("metadata.annotations")
        assert labels[sidecar["dashboards"]["label"]] == sidecar["dashboards"]["labelValue"]
        assert annotations[sidecar["dashboards"]["folderAnnotation"]] == "gpuplane"
        assert sidecar["dashboards"]["provider"]["foldersFromFilesStructure"] is True
        for name, text in cm.inputs["data"].items():
            board = json.loads(text)
            assert name.endswith(".json")
            assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
            ids = [p["id"] for p in board["panels"]]
            assert len(ids) == len(set(ids)), name
            for panel in board["panels"]:
                assert panel["datasource"] == {"type": "prometheus", "uid": uid}
                grid = panel["gridPos"]
                assert grid["x"] + grid["w"] <= 24
                for target in panel["targets"]:
                    assert target["datasource"]["uid"] == uid
                    rules.append(
                        {
                            "record": f"panel:{board['uid'].replace('-', '_')}:{panel['id']}",
                            "expr": _promql(target["expr"]),
                        }
                    )
    result = check_rules([{"name": "panels", "rules": rules}], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def upstream_values_of_kps() -> dict[str, Any]:
    from gpuplane.components.versions import CHARTS

    return upstream_values(CHARTS["kube-prometheus-stack"])


def test_grafana_folder_keys_are_the_sidecars() -> None:
    """The keys gpuplane sets are the grafana chart's own sidecar keys (12.11.1)."""
    values = yaml.safe_load(
        (UPSTREAM / "charts" / "grafana" / "12.11.1" / "values.yaml").read_text()
    )
    dashboards = values["sidecar"]["dashboards"]
    assert "folderAnnotation" in dashboards
    assert "foldersFromFilesStructure" in dashboards["provider"]


def test_cost_dashboard_shows_the_price_table_date(stack_graphs: dict[str, ResourceGraph]) -> None:
    board = _boards(stack_graphs["aws-dev"])["gpuplane-cost.json"]
    panel = next(p for p in board["panels"] if p["title"] == "Price table")
    assert panel["targets"][0]["expr"] == "gpuplane:price_table:info"
    assert "{{date}}" in panel["targets"][0]["legendFormat"]
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for series in (
        "inferenceservice_cost",
        "namespace_gpu_cost",
        "idle_gpu_cost",
        "pool_cost",
        "pool_nodes",
    ):
        assert f"gpuplane:{series}" in exprs


def test_dashboards_can_be_turned_off(plan_mapping: Any) -> None:
    graph = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": {"context": "kind-gpuplane"},
            "gpuplane:serving": {"monitoring": {"dashboards": False}},
        }
    )
    assert _boards(graph) == {}
