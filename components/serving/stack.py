"""ServingStack: Istio, cert-manager, Knative Serving, KServe and Prometheus on a Cluster.

Install order mirrors the real dependencies and no more, so independent parts
install in parallel:

    Istio base -> istiod -> gateway            cert-manager -> ClusterIssuers
              \\-> PeerAuthentication STRICT          |
    Knative Operator -> KnativeServing (Ready) <- istiod
                              \\                     |
                               KServe CRDs -> KServe controller -> runtimes
    prometheus-operator-crds -> kube-prometheus-stack
                             +-> ServiceMonitors / PodMonitors / rules, dcgm-exporter
"""

from dataclasses import dataclass

import pulumi

from gpuplane.components.clusters.contract import Cluster
from gpuplane.components.config import ServingConfig, cold_start_budget
from gpuplane.components.serving import alerts, gpu
from gpuplane.components.serving.cert_manager import CertManager, CertManagerArgs
from gpuplane.components.serving.cost_rules import PriceSheet
from gpuplane.components.serving.istio import Istio, IstioArgs
from gpuplane.components.serving.knative import Knative, KnativeArgs
from gpuplane.components.serving.kserve import MODELS_NAMESPACE, KServe, KServeArgs
from gpuplane.components.serving.monitoring import Monitoring, MonitoringArgs, Target
from gpuplane.components.serving.observability import Observability, ObservabilityArgs
from gpuplane.components.serving.series import POD_LABEL_KEYS, node_label_keys

DEFAULT_DOMAIN = "example.com"


def monitor_targets() -> list[Target]:
    """What Prometheus scrapes beyond Kubernetes itself."""
    knative = [
        Target(
            name=f"knative-{app}",
            kind="ServiceMonitor",
            namespaces=("knative-serving",),
            selector={"matchLabels": {"app": app}},
            endpoints=(
                {
                    "port": "http-metrics",
                    "path": "/metrics",
                    "interval": "30s",
                    "honorLabels": True,
                },
            ),
        )
        # The activator and autoscaler are in the mesh: scraped through istio-mesh.
        for app in ("controller", "webhook")
    ]
    return [
        *knative,
        Target(
            name="kserve-controller",
            kind="ServiceMonitor",
            namespaces=("kserve",),
            selector={"matchLabels": {"control-plane": "kserve-controller-manager"}},
            # kube-rbac-proxy: HTTPS with a self-signed certificate and token auth;
            # Prometheus's ClusterRole already grants GET /metrics.
            endpoints=(
                {
                    "port": "https",
                    "path": "/metrics",
                    "scheme": "https",
                    "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                    "tlsConfig": {"insecureSkipVerify": True},
                },
            ),
        ),
        Target(
            name="istiod",
            kind="ServiceMonitor",
            namespaces=("istio-system",),
            selector={"matchLabels": {"istio": "pilot"}},
            endpoints=({"port": "http-monitoring", "interval": "30s"},),
        ),
        # Istio's own recipe (samples/addons/extras/prometheus-operator.yaml): every
        # sidecar's merged endpoint, Envoy's stats plus the app's, in plain text,
        # which STRICT mTLS leaves reachable for a Prometheus outside the mesh.
        Target(
            name="istio-mesh",
            kind="PodMonitor",
            namespaces=(),  # every namespace
            selector={
                "matchExpressions": [{"key": "istio-prometheus-ignore", "operator": "DoesNotExist"}]
            },
            endpoints=(
                {
                    "path": "/stats/prometheus",
                    "interval": "30s",
                    "relabelings": [
                        {
                            "action": "keep",
                            "sourceLabels": ["__meta_kubernetes_pod_container_name"],
                            "regex": "istio-proxy",
                        },
                        {
                            "action": "keep",
                            "sourceLabels": [
                                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape"
                            ],
                        },
                        {
                            "action": "replace",
                            "sourceLabels": [
                                "__meta_kubernetes_pod_annotation_prometheus_io_port",
                                "__meta_kubernetes_pod_ip",
                            ],
                            "regex": r"(\d+);((([0-9]+?)(\.|$)){4})",
                            "replacement": "$2:$1",
                            "targetLabel": "__address__",
                        },
                    ],
                },
            ),
        ),
        Target(
            name="cert-manager",
            kind="ServiceMonitor",
            namespaces=("cert-manager",),
            selector={"matchLabels": {"app.kubernetes.io/instance": "cert-manager"}},
            endpoints=({"targetPort": "http-metrics", "path": "/metrics", "interval": "60s"},),
        ),
    ]


def _thresholds(settings: ServingConfig) -> alerts.Thresholds:
    """Alert thresholds from `gpuplane:serving.monitoring.alerts`."""
    config = settings.monitoring.alerts
    return alerts.Thresholds(
        idle_gpu_node_margin=config.idle_gpu_node_margin,
        gpu_pod_pending=config.gpu_pod_pending,
        not_ready=config.not_ready,
        cold_start_budget=cold_start_budget(settings),
        error_ratio=config.error_ratio,
        gpu_memory_ratio=config.gpu_memory_ratio,
    )


@dataclass(frozen=True, kw_only=True)
class ServingStackArgs:
    """Arguments of `ServingStack`."""

    cluster: Cluster
    settings: ServingConfig
    min_replicas_policy: bool = True
    """Install the MutatingAdmissionPolicy that defaults minReplicas to 0 (Kubernetes 1.36+)."""
    high_availability: bool = False
    """Prod: two spread replicas of the mesh and Knative data path, budgets allowing one
    disruption. Dev (default): one replica each and no blocking budget, the cost choice."""
    prices: PriceSheet | None = None
    """The cloud region's node prices for the cost recording rules (None: no cost rules)."""


class ServingStack(pulumi.ComponentResource):
    """The serverless inference platform, on the cluster's explicit provider."""

    domain: str
    istio: Istio
    cert_manager: CertManager
    knative: Knative
    kserve: KServe
    monitoring: Monitoring | None
    observability: Observability | None

    def __init__(
        self, name: str, args: ServingStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:ServingStack", name, None, opts)
        cluster, settings = args.cluster, args.settings
        provider = cluster.provider
        child = pulumi.ResourceOptions(parent=self)
        ready = tuple(cluster.ready)
        self.domain = domain = settings.domain or DEFAULT_DOMAIN

        self.istio = Istio(
            f"{name}-istio",
            IstioArgs(
                provider=provider,
                ingress_service_type=cluster.ingress_service_type,
                ingress_service=cluster.ingress_service,
                dataplane=cluster.dataplane,
                metrics_server=cluster.metrics_server,
                high_availability=args.high_availability,
                depends_on=ready,
            ),
            opts=child,
        )
        self.cert_manager = CertManager(
            f"{name}-cert-manager",
            CertManagerArgs(provider=provider, acme_email=settings.acme_email, depends_on=ready),
            opts=child,
        )
        self.knative = Knative(
            f"{name}-knative",
            KnativeArgs(
                provider=provider,
                settings=settings.knative,
                domain=domain,
                after_istio=(self.istio.base, self.istio.istiod),
                high_availability=args.high_availability,
                depends_on=ready,
            ),
            opts=child,
        )
        self.kserve = KServe(
            f"{name}-kserve",
            KServeArgs(
                provider=provider,
                domain=domain,
                after=(self.cert_manager.release, self.knative.serving),
                min_replicas_policy=args.min_replicas_policy,
                workload_identity=cluster.workload_identity,
                depends_on=ready,
            ),
            opts=child,
        )
        if cluster.gpu_pools:
            gpu.gpu_runtime(
                name,
                pools=cluster.gpu_pools,
                pod_labels=(
                    cluster.workload_identity.pod_labels if cluster.workload_identity else {}
                ),
                parent=self,
                provider=provider,
                depends_on=[self.kserve.controller],
            )
        self.monitoring = self.observability = None
        monitoring = settings.monitoring
        if monitoring.enabled:
            self.monitoring = Monitoring(
                f"{name}-monitoring",
                MonitoringArgs(
                    provider=provider,
                    targets=monitor_targets(),
                    node_labels=node_label_keys(cluster.gpu_pools),
                    pod_labels=POD_LABEL_KEYS,
                    custom_resource_state=alerts.isvc_state_metrics(),
                    depends_on=ready,
                ),
                opts=child,
            )
            self.observability = Observability(
                f"{name}-observability",
                ObservabilityArgs(
                    provider=provider,
                    namespace=self.monitoring.namespace,
                    crds=self.monitoring.crds,
                    gpu_metrics=monitoring.gpu_metrics,
                    gpu_pools=cluster.gpu_pools,
                    gpu_node_os=cluster.gpu_node_os,
                    empty_gpu_node_delay=cluster.empty_gpu_node_delay,
                    karpenter=cluster.cloud == "aws" and cluster.gpu_node_os != "eks-auto",
                    thresholds=_thresholds(settings) if monitoring.alerts.enabled else None,
                    prices=args.prices,
                ),
                opts=child,
            )
        self.register_outputs(
            {
                "domain": domain,
                "ingressService": "istio-system/istio-ingressgateway",
                "modelsNamespace": MODELS_NAMESPACE,
            }
        )
