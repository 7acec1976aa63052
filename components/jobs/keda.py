"""KEDA: the event-driven autoscaler that starts jobs from zero, pinned and monitored."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.serving.common import custom_resource, namespace, release

NAMESPACE = "keda"
OPERATOR_SERVICE_ACCOUNT = "keda-operator"
# The metrics API server's Service (kedacore/charts keda/templates/metrics-server/service.yaml):
# the API server calls it for external metrics; Prometheus scrapes its `metrics` port.
METRICS_SERVICE = "keda-operator-metrics-apiserver"
METRICS_PORT = "metrics"
MONITORING_NAMESPACE = "monitoring"


@dataclass(frozen=True, kw_only=True)
class KedaArgs:
    """Arguments of `Keda`."""

    provider: k8s.Provider
    identity_values: Mapping[str, Any] = field(default_factory=dict)
    """The chart's `podIdentity` values that give the operator its cloud identity
    (default: none, as on an existing cluster)."""
    monitoring: pulumi.Resource | None = None
    """The Prometheus release; when set, a ServiceMonitor and an alert are added after it."""
    depends_on: tuple[pulumi.Resource, ...] = ()


class Keda(pulumi.ComponentResource):
    """KEDA in its own restricted namespace; ServiceMonitor and alert when monitored."""

    release: k8s.helm.v3.Release
    monitors: list[k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:jobs:Keda", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            pod_security="restricted",
            injection=False,  # the API server calls its webhook and metrics API directly
            depends_on=args.depends_on,
            **common,
        )
        values: dict[str, Any] = {
            "crds": {"install": True},
            "operator": {"replicaCount": 1},
        }
        if args.identity_values:
            values["podIdentity"] = dict(args.identity_values)
        self.release = release(
            f"{name}-release",
            chart="keda",
            release_name="keda",
            namespace=ns,
            values=values,
            **common,
        )
        self.monitors = []
        if args.monitoring is not None:
            after = [self.release, args.monitoring]
            self.monitors.append(
                custom_resource(
                    f"{name}-metrics-server",
                    api_version="monitoring.coreos.com/v1",
                    kind="ServiceMonitor",
                    name="keda-metrics-server",
                    namespace=MONITORING_NAMESPACE,
                    spec={
                        "namespaceSelector": {"matchNames": [NAMESPACE]},
                        "selector": {"matchLabels": {"app": METRICS_SERVICE}},
                        "endpoints": [{"port": METRICS_PORT, "interval": "30s"}],
                    },
                    depends_on=after,
                    **common,
                )
            )
            self.monitors.append(
                custom_resource(
                    f"{name}-alerts",
                    api_version="monitoring.coreos.com/v1",
                    kind="PrometheusRule",
                    name="keda",
                    namespace=MONITORING_NAMESPACE,
                    spec={
                        "groups": [
                            {
                                "name": "keda",
                                "rules": [
                                    {
                                        "alert": "KedaMetricsServerDown",
                                        # The job label is the Service name (prometheus-operator).
                                        "expr": f'absent(up{{job="{METRICS_SERVICE}"}} == 1)',
                                        "for": "5m",
                                        "labels": {"severity": "critical"},
                                        "annotations": {
                                            "summary": "KEDA's metrics API server is down",
                                            "description": (
                                                "No healthy scrape of "
                                                f"{NAMESPACE}/{METRICS_SERVICE} for 5 minutes: "
                                                "queue and bucket triggers cannot start jobs."
                                            ),
                                        },
                                    }
                                ],
                            }
                        ]
                    },
                    depends_on=after,
                    **common,
                )
            )
        self.register_outputs({"namespace": NAMESPACE})
