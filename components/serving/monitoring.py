"""kube-prometheus-stack with a generated Grafana password, and monitors for the platform.

The Prometheus operator's CRDs come from their own release (prometheus-operator-crds),
installed first, so upgrading that chart upgrades them; kube-prometheus-stack installs
none, and every monitor and rule waits for the CRD release only.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from gpuplane.components.serving.common import custom_resource, namespace, release
from gpuplane.components.serving.ports import OPERATOR_WEBHOOK_PORT

NAMESPACE = "monitoring"
GRAFANA_SECRET = "grafana-admin"
# kube-prometheus-stack waits on CRDs and several controllers on a cold cluster.
TIMEOUT = 900
# The uid kube-prometheus-stack gives its provisioned Prometheus datasource; dashboards
# name their datasource by it.
DATASOURCE_UID = "prometheus"
# Grafana's dashboard sidecar reads ConfigMaps with this label (kube-prometheus-stack's
# default label and value) and puts each in the folder its annotation names.
DASHBOARD_LABEL = ("grafana_dashboard", "1")
FOLDER_ANNOTATION = "grafana_folder"


# kube-prometheus-stack's per-component switches: a Service and ServiceMonitor in
# kube-system plus that component's alert rules.
SCRAPE_ALL: Mapping[str, bool] = {
    "kubeControllerManager": True,
    "kubeScheduler": True,
    "kubeEtcd": True,
    "kubeProxy": True,
    "coreDns": True,
    "kubeDns": False,
}
# The default rule groups that belong to each switch (absent(up{job=...}) alerts).
_RULES = {
    "kubeControllerManager": ("kubeControllerManager",),
    "kubeScheduler": ("kubeSchedulerAlerting", "kubeSchedulerRecording"),
    "kubeEtcd": ("etcd",),
    "kubeProxy": ("kubeProxy",),
}


def control_plane_scrape(*, managed: bool, kube_proxy: bool, dns: str) -> dict[str, bool]:
    """What Prometheus can reach on this cluster, so nothing healthy alerts.

    Managed control planes (EKS, GKE, AKS) hide the controller manager, scheduler and
    etcd. kind's kubeadm binds them, and kube-proxy's metrics, to 127.0.0.1 on the
    node: unreachable, so off too. kube-proxy is scraped only where it runs and
    listens (EKS); GKE Dataplane V2 and AKS Cilium run none. DNS: CoreDNS, or
    kube-dns on GKE.
    """
    return {
        # Hidden (managed) or bound to the node's loopback (kind): never reachable.
        "kubeControllerManager": False,
        "kubeScheduler": False,
        "kubeEtcd": False,
        # kind's kube-proxy serves metrics on 127.0.0.1:10249 only.
        "kubeProxy": kube_proxy and managed,
        "coreDns": dns == "coredns",
        "kubeDns": dns == "kube-dns",
    }


def scrape_values(scrape: Mapping[str, bool]) -> dict[str, Any]:
    """The kube-prometheus-stack values that switch components and their rules."""
    values: dict[str, Any] = {key: {"enabled": on} for key, on in scrape.items()}
    values["defaultRules"] = {
        "rules": {rule: scrape[key] for key, rules in _RULES.items() for rule in rules}
    }
    return values


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
    node_labels: Sequence[str] = ()
    """Node label keys kube-state-metrics exposes on kube_node_labels (pools, prices)."""
    pod_labels: Sequence[str] = ()
    """Pod label keys kube-state-metrics exposes on kube_pod_labels (per-model views)."""
    custom_resource_state: Mapping[str, Any] | None = None
    """kube-state-metrics CustomResourceStateMetrics config; it may list and watch the
    kinds it names."""
    scrape: Mapping[str, bool] = field(default_factory=lambda: dict(SCRAPE_ALL))
    """Which cluster components Prometheus scrapes and alerts on (`control_plane_scrape`)."""
    cert_manager: pulumi.Resource | None = None
    """A ready cert-manager: it issues the operator's webhook certificate, so no
    certificate-generating Job (and its image) is needed."""
    depends_on: tuple[pulumi.Resource, ...] = ()


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager and Grafana, and a monitor per platform component."""

    release: k8s.helm.v3.Release
    crds: k8s.helm.v3.Release
    namespace: k8s.core.v1.Namespace
    grafana_password: pulumi.Output[str]
    monitors: list[k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:Monitoring", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        # node-exporter needs the host network, PID namespace and /proc: privileged.
        self.namespace = ns = namespace(
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
        self.crds = release(
            f"{name}-crds",
            chart="prometheus-operator-crds",
            release_name="prometheus-operator-crds",
            namespace=ns,
            values={},
            **common,
        )
        self.release = release(
            f"{name}-release",
            chart="kube-prometheus-stack",
            release_name="kube-prometheus-stack",
            namespace=ns,
            values={
                "crds": {"enabled": False},
                "grafana": {
                    "enabled": True,
                    "admin": {
                        "existingSecret": GRAFANA_SECRET,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    "sidecar": {
                        "datasources": {"uid": DATASOURCE_UID},
                        "dashboards": {
                            "label": DASHBOARD_LABEL[0],
                            "labelValue": DASHBOARD_LABEL[1],
                            "folderAnnotation": FOLDER_ANNOTATION,
                            "provider": {"foldersFromFilesStructure": True},
                        },
                    },
                },
                "kube-state-metrics": _state_metrics(args),
                **scrape_values(args.scrape),
                "prometheusOperator": {
                    "tls": {"internalPort": OPERATOR_WEBHOOK_PORT},
                    **_operator_values(args),
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
            depends_on=[secret, self.crds, *([args.cert_manager] if args.cert_manager else [])],
            timeout=TIMEOUT,
            **common,
        )
        # Monitors need only the operator's CRDs.
        self.monitors = [
            monitor(f"{name}-{target.name}", target, depends_on=[self.crds], **common)
            for target in args.targets
        ]
        self.register_outputs({"grafanaAdminPassword": self.grafana_password})


def monitor(
    resource_name: str,
    target: Target,
    *,
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """A ServiceMonitor or PodMonitor in the monitoring namespace for one target."""
    endpoints = "endpoints" if target.kind == "ServiceMonitor" else "podMetricsEndpoints"
    return custom_resource(
        resource_name,
        api_version="monitoring.coreos.com/v1",
        kind=target.kind,
        name=target.name,
        namespace=NAMESPACE,
        spec={
            "namespaceSelector": (
                {"matchNames": list(target.namespaces)} if target.namespaces else {"any": True}
            ),
            "selector": dict(target.selector),
            endpoints: [dict(e) for e in target.endpoints],
        },
        parent=parent,
        provider=provider,
        depends_on=depends_on,
    )


def _state_metrics(args: MonitoringArgs) -> dict[str, Any]:
    """kube-state-metrics values: the label allowlist and custom resource metrics."""
    values: dict[str, Any] = {"metricLabelsAllowlist": _allowlist(args)}
    config = args.custom_resource_state
    if config:
        kinds = [r["groupVersionKind"] for r in config["spec"]["resources"]]
        values["customResourceState"] = {"enabled": True, "config": dict(config)}
        values["rbac"] = {
            "extraRules": [
                {
                    "apiGroups": sorted({k["group"] for k in kinds}),
                    "resources": sorted({k["kind"].lower() + "s" for k in kinds}),
                    "verbs": ["list", "watch"],
                }
            ]
        }
    return values


def _allowlist(args: MonitoringArgs) -> list[str]:
    """kube-state-metrics' `--metric-labels-allowlist` entries (empty kinds left out)."""
    kinds = {"nodes": args.node_labels, "pods": args.pod_labels}
    return [f"{kind}=[{','.join(keys)}]" for kind, keys in kinds.items() if keys]


def _operator_values(args: MonitoringArgs) -> dict[str, Any]:
    """The operator's admission webhook certificate from cert-manager, where installed;
    otherwise the chart's certificate Jobs (ghcr.io/jkroepke/kube-webhook-certgen)."""
    if args.cert_manager is None:
        return {}
    return {"admissionWebhooks": {"certManager": {"enabled": True}}}
