"""GPU and serving observability: dcgm-exporter on GPU nodes, gpuplane's alerting,
recording and cost rules, its Grafana dashboards, and a monitor for the Karpenter
gpuplane installs.

Everything here waits for the Prometheus operator's CRD release only, so it installs
beside kube-prometheus-stack rather than after it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GpuPool
from gpuplane.components.serving import alerts, cost_rules, dashboards, dcgm
from gpuplane.components.serving.common import custom_resource, release
from gpuplane.components.serving.cost_rules import PriceSheet
from gpuplane.components.serving.monitoring import (
    DASHBOARD_LABEL,
    FOLDER_ANNOTATION,
    NAMESPACE,
    Target,
    monitor,
)

# Where gpuplane installs Karpenter (EKS, computeMode karpenter), and its metrics port
# (the chart's Service).
KARPENTER = Target(
    name="karpenter",
    kind="ServiceMonitor",
    namespaces=("kube-system",),
    selector={"matchLabels": {"app.kubernetes.io/name": "karpenter"}},
    endpoints=({"port": "http-metrics", "interval": "30s"},),
)

DEFAULT_THRESHOLDS = alerts.Thresholds()


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs:
    """Arguments of `Observability`."""

    provider: k8s.Provider
    namespace: k8s.core.v1.Namespace
    """The monitoring namespace (Pod Security privileged: dcgm-exporter reads host paths)."""
    crds: pulumi.Resource
    """The Prometheus operator CRD release every monitor and rule waits for."""
    gpu_metrics: bool = True
    """Install dcgm-exporter where the cluster has GPU pools and allows it."""
    gpu_pools: Sequence[GpuPool] = ()
    """GPU pools; without any, no GPU metrics are installed."""
    gpu_node_os: str = "unknown"
    """The GPU node image (see `Cluster.gpu_node_os`); picks the driver paths."""
    empty_gpu_node_delay: str | None = None
    """How long the autoscaler keeps an empty GPU node (None: assume 10m)."""
    karpenter: bool = False
    """Whether gpuplane installed Karpenter (kube-system): scrape it, alert on it."""
    thresholds: alerts.Thresholds | None = DEFAULT_THRESHOLDS
    """Alert thresholds; None leaves the alerts out (recording rules stay)."""
    prices: PriceSheet | None = None
    """Node prices for the cost rules; None leaves them out."""
    dashboards: bool = True
    """Install the GPU fleet, Serving and (with prices) Cost dashboards."""
    container_concurrency: int = 8
    """The platform's default containerConcurrency, drawn on the Serving dashboard."""


class Observability(pulumi.ComponentResource):
    """GPU metrics for gpuplane's dashboards, alerts and cost rules."""

    dcgm_exporter: k8s.helm.v3.Release | None
    rules: k8s.apiextensions.CustomResource
    cost_rules: k8s.apiextensions.CustomResource | None
    dashboards: list[k8s.core.v1.ConfigMap]
    missing: list[str]
    """What this cluster cannot have, and why (Autopilot's DCGM)."""

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:Observability", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        self.dcgm_exporter = None
        self.missing = []
        gpu_metrics = args.gpu_metrics and bool(args.gpu_pools)
        if gpu_metrics and args.gpu_node_os in dcgm.UNSUPPORTED:
            self.missing.append(dcgm.UNSUPPORTED[args.gpu_node_os])
        elif gpu_metrics:
            self.dcgm_exporter = release(
                f"{name}-dcgm-exporter",
                chart="dcgm-exporter",
                release_name=dcgm.RELEASE,
                namespace=args.namespace,
                values=dcgm.values(args.gpu_pools, args.gpu_node_os),
                **common,
            )
            monitor(
                f"{name}-dcgm-exporter-monitor",
                dcgm.target(NAMESPACE),
                depends_on=[args.crds],
                **common,
            )
        if args.karpenter:
            monitor(f"{name}-karpenter-monitor", KARPENTER, depends_on=[args.crds], **common)
        groups = [{"name": "gpuplane.records", "rules": alerts.recording_rules(args.gpu_pools)}]
        if args.thresholds is not None:
            groups = alerts.rule_groups(
                args.gpu_pools,
                thresholds=args.thresholds,
                empty_node_delay=args.empty_gpu_node_delay,
                dcgm=self.dcgm_exporter is not None,
                karpenter=args.karpenter,
            )
        self.rules = custom_resource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            name="gpuplane",
            namespace=NAMESPACE,
            spec={"groups": groups},
            depends_on=[args.crds],
            **common,
        )
        self.cost_rules = None
        if args.prices is not None:
            self.cost_rules = custom_resource(
                f"{name}-cost-rules",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                name="gpuplane-cost",
                namespace=NAMESPACE,
                spec={"groups": cost_rules.rule_groups(args.prices)},
                depends_on=[args.crds],
                **common,
            )
        boards = (
            dashboards.dashboards(
                container_concurrency=args.container_concurrency,
                gpu_pools=bool(args.gpu_pools),
                cost_rules=args.prices is not None,
            )
            if args.dashboards
            else {}
        )
        # The sidecar loads ConfigMaps only: they need no CRD, just the namespace.
        self.dashboards = [
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{file.removesuffix('.json')}",
                metadata={
                    "name": file.removesuffix(".json"),
                    "namespace": NAMESPACE,
                    "labels": {
                        "app.kubernetes.io/managed-by": "gpuplane",
                        DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1],
                    },
                    "annotations": {FOLDER_ANNOTATION: dashboards.FOLDER},
                },
                data={file: dashboards.config_map_data(board)},
                opts=pulumi.ResourceOptions(depends_on=[args.namespace], **common),
            )
            for file, board in boards.items()
        ]
        self.register_outputs({"missing": self.missing})
