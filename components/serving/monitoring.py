"""kube-prometheus-stack with a generated Grafana password, and monitors for the platform."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from gpuplane.components.serving.common import custom_resource, namespace, release

NAMESPACE = "monitoring"
GRAFANA_SECRET = "grafana-admin"
# kube-prometheus-stack waits on CRDs and several controllers on a cold cluster.
TIMEOUT = 900


@dataclass(frozen=True)
class Target:
    """What one monitor scrapes."""

    name: str
    kind: str  # ServiceMonitor | PodMonitor
    namespaces: Sequence[str]
    selector: Mapping[str, Any]
    endpoints: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Arguments of `Monitoring`."""

    provider: k8s.Provider
    targets: Sequence[Target] = ()
    """Monitors for the other parts; each part declares its own."""
    retention: str = "7d"
    depends_on: tuple[pulumi.Resource, ...] = ()


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager and Grafana, and a monitor per platform component."""

    release: k8s.helm.v3.Release
    grafana_password: pulumi.Output[str]
    monitors: list[k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:Monitoring", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        # node-exporter needs the host network, PID namespace and /proc: privileged.
        ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            pod_security="privileged",
            injection=False,
            depends_on=args.depends_on,
            **common,
        )
        password = random.RandomPassword(
            f"{name}-grafana-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.grafana_password = pulumi.Output.secret(password.result)
        # The password reaches Grafana through a Secret, never through Helm values
        # (which Helm keeps in its release records).
        secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": GRAFANA_SECRET, "namespace": NAMESPACE},
            type="Opaque",
            string_data={"admin-user": "admin", "admin-password": self.grafana_password},
            opts=pulumi.ResourceOptions(depends_on=[ns], **common),
        )
        self.release = release(
            f"{name}-release",
            chart="kube-prometheus-stack",
            release_name="kube-prometheus-stack",
            namespace=ns,
            values={
                "crds": {"enabled": True},
                "grafana": {
                    "enabled": True,
                    "admin": {
                        "existingSecret": GRAFANA_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                },
                "prometheus": {
                    "prometheusSpec": {
                        "retention": args.retention,
                        # Pick up every monitor in the cluster, not only this release's.
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "podMonitorSelectorNilUsesHelmValues": False,
                        "ruleSelectorNilUsesHelmValues": False,
                    }
                },
            },
            depends_on=[secret],
            timeout=TIMEOUT,
            **common,
        )
        # Monitors need only the operator's CRDs, which ship with the release.
        self.monitors = [
            custom_resource(
                f"{name}-{target.name}",
                api_version="monitoring.coreos.com/v1",
                kind=target.kind,
                name=target.name,
                namespace=NAMESPACE,
                spec={
                    "namespaceSelector": (
                        {"matchNames": list(target.namespaces)}
                        if target.namespaces
                        else {"any": True}
                    ),
                    "selector": dict(target.selector),
                    ("endpoints" if target.kind == "ServiceMonitor" else "podMetricsEndpoints"): [
                        dict(e) for e in target.endpoints
                    ],
                },
                depends_on=[self.release],
                **common,
            )
            for target in args.targets
        ]
        self.register_outputs({"grafanaAdminPassword": self.grafana_password})
