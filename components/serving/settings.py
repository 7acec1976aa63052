"""The serving stack's settings as plain data, and the rules they must follow.

Kept apart from the components (no Kubernetes SDK here), so the YAML config layer
checks a stack file with the very rules `ServingStack` applies to its args.
"""

import re
from typing import Any, NotRequired, TypedDict

from gpuplane.components import versions
from gpuplane.components.rules import KeyName, duration_seconds


class KnativeSettings(TypedDict):
    """Knative autoscaling tuned for GPU serving (../shared/REFERENCE.md section 2)."""

    scale_to_zero: NotRequired[bool]
    """Scale idle revisions to zero pods, releasing their GPU nodes. Default true."""
    scale_down_delay: NotRequired[str]
    """Keep an idle revision this long before scaling down (a GPU cold start costs
    minutes). Default `10m`."""
    scale_to_zero_grace_period: NotRequired[str]
    """How long the last pod lingers after the decision to scale to zero. Default `30s`."""
    progress_deadline: NotRequired[str]
    """Above the worst cold start: GPU node + image pull + model load; at least 10m.
    Default `30m`."""
    request_timeout: NotRequired[str]
    """Per-request timeout, at most 600s. Default `600s`."""
    version: NotRequired[str]
    """The Knative Serving release the operator installs (one of
    versions.KNATIVE_SERVING_INSTALLABLE). Default: versions.KNATIVE_SERVING."""
    container_concurrency: NotRequired[int]
    """Hard per-pod concurrency (0-1000, 0 = unlimited); set it to the inference engine's
    batch capacity. Default 8."""
    installed_version: NotRequired[str]
    """The Knative Serving release the cluster runs now, `1.NN.P`; when given, a `version`
    more than one minor away is refused (the operator moves one minor at a time).
    Default: unknown (a new cluster)."""


KNATIVE_DEFAULTS: dict[str, Any] = {
    "scale_to_zero": True,
    "scale_down_delay": "10m",
    "scale_to_zero_grace_period": "30s",
    "progress_deadline": "30m",
    "request_timeout": "600s",
    "container_concurrency": 8,
    "version": versions.KNATIVE_SERVING,
}
MAX_REQUEST_TIMEOUT = 600
MIN_PROGRESS_DEADLINE = 600
KNATIVE_RELEASE = re.compile(r"^1\.(\d{1,2})\.\d{1,2}$")
"""A Knative Serving release as written in settings: `1.NN.P`."""


def knative_settings(settings: KnativeSettings | None) -> dict[str, Any]:
    """`settings` with every default filled in."""
    return {**KNATIVE_DEFAULTS, **(settings or {})}


def knative_problems(settings: KnativeSettings | None, key: KeyName) -> list[str]:
    """What is wrong with `settings`, each problem naming its key through `key`."""
    full = knative_settings(settings)
    problems: list[str] = []
    seconds: dict[str, int] = {}
    for name in ("scale_down_delay", "scale_to_zero_grace_period", "progress_deadline"):
        try:
            seconds[name] = duration_seconds(full[name])
        except ValueError as exc:
            problems.append(f"{key(name)}: {exc}")
    try:
        seconds["request_timeout"] = duration_seconds(full["request_timeout"])
    except ValueError as exc:
        problems.append(f"{key('request_timeout')}: {exc}")
    timeout = seconds.get("request_timeout")
    if timeout is not None and timeout > MAX_REQUEST_TIMEOUT:
        problems.append(
            f"{key('request_timeout')}: at most 600s (Knative's maximum revision timeout "
            f"and the activator's grace period), given {full['request_timeout']}"
        )
    for name in ("request_timeout", "scale_to_zero_grace_period"):
        if seconds.get(name) == 0:
            problems.append(f"{key(name)}: must be above 0s, given {full[name]}")
    deadline = seconds.get("progress_deadline")
    if deadline is not None and deadline < MIN_PROGRESS_DEADLINE:
        problems.append(
            f"{key('progress_deadline')}: at least 10m (Knative's own default), and above "
            "the worst GPU cold start (node + image + model), given "
            f"{full['progress_deadline']}"
        )
    if full["version"] not in versions.KNATIVE_SERVING_INSTALLABLE:
        problems.append(
            f"{key('version')}: {full['version']!r} is not installable here; allowed: "
            + ", ".join(versions.KNATIVE_SERVING_INSTALLABLE)
        )
    concurrency = full["container_concurrency"]
    if not isinstance(concurrency, int) or not 0 <= concurrency <= 1000:
        problems.append(
            f"{key('container_concurrency')}: must be an integer from 0 to 1000, "
            f"given {concurrency!r}"
        )
    problems.extend(knative_upgrade_problems(full, key))
    return problems


def knative_upgrade_problems(full: dict[str, Any], key: KeyName) -> list[str]:
    """The Knative Operator moves a KnativeServing one minor at a time: refuse a jump from
    `installed_version` to `version`."""
    installed = full.get("installed_version")
    if installed is None:
        return []
    match = KNATIVE_RELEASE.match(str(installed))
    if match is None:
        return [
            f"{key('installed_version')}: must be a Knative Serving release written 1.NN.P, "
            f"like 1.21.3, given {installed!r}"
        ]
    target = KNATIVE_RELEASE.match(str(full["version"]))
    if target is None:
        return []  # the version rule reports it
    minor = int(match.group(1))
    if abs(int(target.group(1)) - minor) <= 1:
        return []
    stop = next(
        (v for v in versions.KNATIVE_SERVING_INSTALLABLE if int(v.split(".")[1]) == minor + 1),
        None,
    )
    step = (
        f"set {key('version')}: {stop} and run `pulumi up`, then set "
        f"{key('installed_version').rpartition('.')[2]}: {stop} and remove version"
        if stop
        else "upgrade through each minor with an older gpuplane release first"
    )
    return [
        f"{key('installed_version')}: {installed} -> {full['version']} skips a minor; the "
        f"Knative Operator moves Serving one minor at a time: {step}"
    ]


class AlertSettings(TypedDict):
    """When gpuplane's alerts fire."""

    enabled: NotRequired[bool]
    """gpuplane's alerting rules (recording rules stay either way). Default true."""
    idle_gpu_node_margin: NotRequired[str]
    """Beyond the pool's empty-node delay, before an idle GPU node alerts. Default `10m`."""
    gpu_pod_pending: NotRequired[str]
    """A GPU pod pending this long alerts. Default `15m`."""
    not_ready: NotRequired[str]
    """An InferenceService not Ready this long alerts. Default `15m`."""
    cold_start_budget: NotRequired[str]
    """A revision's pod not Ready this long after creation alerts. Default: half of
    `knative.progress_deadline`."""
    error_ratio: NotRequired[float]
    """Share of 5xx responses over 10 minutes that alerts. Default 0.05."""
    gpu_memory_ratio: NotRequired[float]
    """Share of a GPU's framebuffer in use that alerts. Default 0.95."""


ALERT_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "idle_gpu_node_margin": "10m",
    "gpu_pod_pending": "15m",
    "not_ready": "15m",
    "error_ratio": 0.05,
    "gpu_memory_ratio": 0.95,
}


class MonitoringSettings(TypedDict):
    """Prometheus, Grafana and gpuplane's observability."""

    enabled: NotRequired[bool]
    """kube-prometheus-stack with monitors for Knative, KServe and Istio; false turns all
    monitoring off. Default true."""
    gpu_metrics: NotRequired[bool]
    """dcgm-exporter on GPU nodes (clusters with GPU pools only). Default true."""
    dashboards: NotRequired[bool]
    """gpuplane's Grafana dashboards (GPU fleet, Serving, Cost). Default true."""
    cost: NotRequired[bool]
    """Recording rules pricing nodes from gpuplane's dated price table, for the cluster's
    cloud and `region` (none on an existing cluster). Default true."""
    alerts: NotRequired[AlertSettings]
    """gpuplane's alert thresholds. Default: ALERT_DEFAULTS."""


MONITORING_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "gpu_metrics": True,
    "dashboards": True,
    "cost": True,
}


def monitoring_problems(
    monitoring: MonitoringSettings | None, knative: KnativeSettings | None, key: KeyName
) -> list[str]:
    """What is wrong with the monitoring settings, each naming its key."""
    alerts = (monitoring or {}).get("alerts", {})
    problems = []
    for name in ("idle_gpu_node_margin", "gpu_pod_pending", "not_ready", "cold_start_budget"):
        if name in alerts:
            try:
                duration_seconds(alerts[name])
            except ValueError as exc:
                problems.append(f"{key(f'monitoring.alerts.{name}')}: {exc}")
    budget = alerts.get("cold_start_budget")
    deadline = knative_settings(knative)["progress_deadline"]
    try:
        over = budget is not None and duration_seconds(budget) >= duration_seconds(deadline)
    except ValueError:
        over = False  # reported above, or by the knative rules
    if over:
        problems.append(
            f"{key('monitoring.alerts.cold_start_budget')}: must be below "
            f"{key('knative.progress_deadline')} ({deadline}), which fails the revision "
            f"anyway, given {budget}"
        )
    return problems


def serving_problems(
    *,
    domain: object,
    acme_email: object,
    knative: KnativeSettings | None,
    key: KeyName,
    monitoring: MonitoringSettings | None = None,
) -> list[str]:
    """What is wrong with the serving stack's settings, each naming its key."""
    problems = knative_problems(knative, lambda path: key(f"knative.{path}"))
    problems.extend(monitoring_problems(monitoring, knative, key))
    if acme_email is not None and domain is None:
        problems.append(
            f"{key('acme_email')}: needs {key('domain')}, a domain you own whose DNS points "
            "at the ingress gateway (no certificate can be issued for example.com)"
        )
    return problems
