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

from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi

from gpuplane.components.clusters.contract import (
    KUBE_PROXY,
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    ClusterSpec,
    GpuPool,
    PodNetwork,
    WorkloadIdentity,
    identity_from_spec,
    pool_from_placement,
)
from gpuplane.components.naming import type_token
from gpuplane.components.rules import check, duration_seconds, python_key, unknown_keys
from gpuplane.components.serving import alerts, gpu
from gpuplane.components.serving.cache_settings import ModelCacheSettings, model_cache_problems
from gpuplane.components.serving.cert_manager import CertManager, CertManagerArgs
from gpuplane.components.serving.istio import Istio, IstioArgs
from gpuplane.components.serving.knative import Knative, KnativeArgs
from gpuplane.components.serving.kserve import KServe, KServeArgs
from gpuplane.components.serving.model_cache import CachePool, ModelCache, ModelCacheArgs
from gpuplane.components.serving.monitoring import (
    Monitoring,
    MonitoringArgs,
    Target,
    control_plane_scrape,
)
from gpuplane.components.serving.observability import Observability, ObservabilityArgs
from gpuplane.components.serving.ports import WEBHOOK_PORTS
from gpuplane.components.serving.series import POD_LABEL_KEYS, node_label_keys
from gpuplane.components.serving.settings import (
    ALERT_DEFAULTS,
    MONITORING_DEFAULTS,
    KnativeSettings,
    MonitoringSettings,
    knative_settings,
    serving_problems,
)
from gpuplane.components.versions import MUTATING_ADMISSION_POLICY_MINOR
from gpuplane.cost import price_sheet

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


def _thresholds(monitoring: MonitoringSettings, knative: KnativeSettings) -> alerts.Thresholds:
    """Alert thresholds from the `monitoring.alerts` settings (defaults filled in); the
    cold-start budget defaults to half of Knative's progress deadline."""
    given = {**ALERT_DEFAULTS, **monitoring.get("alerts", {})}
    deadline = duration_seconds(knative_settings(knative)["progress_deadline"])
    return alerts.Thresholds(
        idle_gpu_node_margin=given["idle_gpu_node_margin"],
        gpu_pod_pending=given["gpu_pod_pending"],
        not_ready=given["not_ready"],
        cold_start_budget=given.get("cold_start_budget") or f"{deadline // 2}s",
        error_ratio=given["error_ratio"],
        gpu_memory_ratio=given["gpu_memory_ratio"],
    )


class ServingStackArgs(TypedDict):
    """Arguments of `ServingStack`."""

    cluster: ClusterSpec
    """The cluster to install on: `EksCluster(...).cluster.spec`, `ExistingCluster(...).spec`
    or the same fields as plain data. Pass what the cluster must finish first (node
    groups, add-ons: `Cluster.ready`) as `depends_on` in the stack's options."""
    domain: NotRequired[pulumi.Input[str]]
    """DNS domain for InferenceService URLs. Default `example.com` (cluster-local use)."""
    acme_email: NotRequired[pulumi.Input[str]]
    """Enables a Let's Encrypt ClusterIssuer registered to this address; needs `domain`.
    Default: none (self-signed issuer only)."""
    monitoring: NotRequired[MonitoringSettings]
    """Prometheus, Grafana and gpuplane's observability. Default: all on."""
    knative: NotRequired[KnativeSettings]
    """Knative autoscaling tuned for GPU serving. Default: KNATIVE_DEFAULTS."""
    high_availability: NotRequired[bool]
    """Two spread replicas of the mesh and Knative data path, budgets allowing one
    disruption (prod). Default false: one replica each and no blocking budget, the cost
    choice."""
    min_replicas_policy: NotRequired[bool]
    """Default `minReplicas` to 0 with a MutatingAdmissionPolicy. Default: on where the
    cluster's Kubernetes version (1.36+) serves that API, else off; true on an older or
    unknown version is refused."""
    model_cache: NotRequired[ModelCacheSettings]
    """KServe's node-local model cache on the GPU pools named in `pool_disks` (their nodes
    must carry `kserve/localmodel: worker`). Default: none, weights come from the bucket
    on every start."""


def _minor(version: str | None) -> int | None:
    parts = (version or "").split(".")
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def webhook_port_problems(open_ports: Sequence[int] | None) -> list[str]:
    """The stack's webhook ports a cluster's control-plane firewall leaves closed (the API
    server could not call them, and every install and InferenceService would fail)."""
    if open_ports is None:
        return []
    closed = sorted(set(WEBHOOK_PORTS) - set(open_ports))
    if not closed:
        return []
    needed = ", ".join(f"{port} ({WEBHOOK_PORTS[port]})" for port in closed)
    return [
        f"cluster.control_plane_ports: the serving stack's webhooks need {needed}, which "
        "the cluster does not open to its control plane; pass "
        "gpuplane.components.serving.ports.WEBHOOK_PORTS in the cluster's control_plane_ports"
    ]


def serving_stack_problems(args: ServingStackArgs) -> list[str]:
    """Every rule ServingStack applies to its args, with Python key paths."""
    unknown = unknown_keys(args, ServingStackArgs, python_key)
    if unknown or "cluster" not in args:
        return [*unknown, *([] if "cluster" in args else ["cluster: required"])]
    problems = serving_problems(
        domain=args.get("domain"),
        acme_email=args.get("acme_email"),
        knative=args.get("knative"),
        key=python_key,
        monitoring=args.get("monitoring"),
    )
    problems.extend(webhook_port_problems(args["cluster"].get("control_plane_ports")))
    problems.extend(_model_cache_problems(args))
    version = args["cluster"].get("kubernetes_version")
    minor = _minor(version)
    if args.get("min_replicas_policy") and (
        minor is None or minor < MUTATING_ADMISSION_POLICY_MINOR
    ):
        problems.append(
            "min_replicas_policy: needs Kubernetes 1.36+ (MutatingAdmissionPolicy v1); "
            f"the cluster runs {version or 'an unknown version'} (cluster.kubernetes_version)"
        )
    return problems


def _model_cache_problems(args: ServingStackArgs) -> list[str]:
    cache = args.get("model_cache")
    if cache is None:
        return []
    spec = args["cluster"]
    pools = {p["name"] for p in spec.get("gpu_pools", ())}
    problems = [
        f"model_cache.pool_disks: {name!r} is not a GPU pool of the cluster; "
        f"allowed: {', '.join(sorted(pools)) or 'none'}"
        for name in cache.get("pool_disks", {})
        if name not in pools
    ]
    labels = (cache.get("job_identity") or {}).get("pod_labels")
    minor = _minor(spec.get("kubernetes_version"))
    if labels and (minor is None or minor < MUTATING_ADMISSION_POLICY_MINOR):
        problems.append(
            "model_cache.job_identity.pod_labels: needs Kubernetes 1.36+ (a "
            "MutatingAdmissionPolicy labels the download jobs); the cluster runs "
            f"{spec.get('kubernetes_version') or 'an unknown version'}"
        )
    identity = spec.get("model_identity") or {}
    problems += model_cache_problems(
        cache,
        node_os=spec.get("gpu_node_os", "unknown"),
        bucket="storage_uri_prefix" in identity,
        key=lambda path: f"model_cache.{path}".rstrip("."),
    )
    return problems


class ServingStack(pulumi.ComponentResource):
    """The serverless inference platform (Istio, cert-manager, Knative Serving, KServe and
    Prometheus) on the cluster's explicit provider."""

    domain: pulumi.Output[str]
    """The domain InferenceService hostnames are made under."""
    ingress_service: pulumi.Output[str]
    """The ingress gateway's Service, `namespace/name`."""
    models_namespace: pulumi.Output[str]
    """Where InferenceServices run."""

    def __init__(
        self, name: str, args: ServingStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check("ServingStack", serving_stack_problems(args))
        # What the cluster must finish first reaches every child that installs into it;
        # the component itself waits on nothing.
        own = pulumi.ResourceOptions.merge(opts or pulumi.ResourceOptions(), None)
        deps = own.depends_on
        ready = tuple(deps) if isinstance(deps, list | tuple) else (deps,) if deps else ()
        own.depends_on = None
        super().__init__(type_token("serving", "ServingStack"), name, None, own)
        spec = args["cluster"]
        provider = spec["provider"]
        load_balancer = bool(spec.get("load_balancer", False))
        models_namespace = spec.get("models_namespace", MODELS_NAMESPACE)
        identity = identity_from_spec(spec.get("model_identity"))
        pools = [pool_from_placement(p) for p in spec.get("gpu_pools", ())]
        minor = _minor(spec.get("kubernetes_version"))
        min_replicas_policy = args.get(
            "min_replicas_policy",
            minor is not None and minor >= MUTATING_ADMISSION_POLICY_MINOR,
        )
        child = pulumi.ResourceOptions(parent=self)
        domain = args.get("domain", DEFAULT_DOMAIN)
        high_availability = bool(args.get("high_availability", False))

        self._istio = Istio(
            f"{name}-istio",
            IstioArgs(
                provider=provider,
                ingress_service_type="LoadBalancer" if load_balancer else "NodePort",
                ingress_service=spec.get("ingress_service", {}),
                dataplane=str(spec.get("dataplane", PodNetwork.KIND)),
                metrics_server=bool(spec.get("metrics_server", False)),
                high_availability=high_availability,
                depends_on=ready,
            ),
            opts=child,
        )
        self._cert_manager = CertManager(
            f"{name}-cert-manager",
            CertManagerArgs(provider=provider, acme_email=args.get("acme_email"), depends_on=ready),
            opts=child,
        )
        self._knative = Knative(
            f"{name}-knative",
            KnativeArgs(
                provider=provider,
                settings=args.get("knative") or {},
                domain=domain,
                after_istio=(self._istio.base, self._istio.istiod),
                high_availability=high_availability,
                depends_on=ready,
            ),
            opts=child,
        )
        self._kserve = KServe(
            f"{name}-kserve",
            KServeArgs(
                provider=provider,
                domain=domain,
                after=(self._cert_manager.release, self._knative.serving),
                min_replicas_policy=min_replicas_policy,
                workload_identity=identity,
                models_namespace=models_namespace,
                models_service_account=spec.get("models_service_account", MODELS_SERVICE_ACCOUNT),
                depends_on=ready,
                local_model="model_cache" in args,
            ),
            opts=child,
        )
        self.model_cache: ModelCache | None = None
        cache = args.get("model_cache")
        if cache is not None:
            self.model_cache = self._model_cache(name, cache, pools, identity, spec, child)
        if pools:
            gpu.gpu_runtime(
                name,
                pools=pools,
                pod_labels=identity.pod_labels if identity else {},
                parent=self,
                provider=provider,
                depends_on=[self._kserve.controller],
            )
        self.monitoring: Monitoring | None = None
        self.observability: Observability | None = None
        monitoring = {**MONITORING_DEFAULTS, **args.get("monitoring", {})}
        node_os = spec.get("gpu_node_os", "unknown")
        # The cost rules price nodes from the same dated table as `gpuplane cost`.
        prices = (
            price_sheet(spec.get("cloud", "existing"), spec.get("region"))
            if monitoring["cost"]
            else None
        )
        if monitoring["enabled"]:
            self.monitoring = Monitoring(
                f"{name}-monitoring",
                MonitoringArgs(
                    provider=provider,
                    targets=monitor_targets(),
                    node_labels=node_label_keys(pools),
                    pod_labels=POD_LABEL_KEYS,
                    custom_resource_state=alerts.isvc_state_metrics(),
                    scrape=control_plane_scrape(
                        managed=bool(spec.get("managed_control_plane", False)),
                        kube_proxy=KUBE_PROXY[str(spec.get("dataplane", PodNetwork.KIND))],
                        dns=spec.get("dns", "coredns"),
                    ),
                    cert_manager=self.cert_manager.release,
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
                    gpu_metrics=monitoring["gpu_metrics"],
                    gpu_pools=pools,
                    gpu_node_os=node_os,
                    empty_gpu_node_delay=spec.get("empty_gpu_node_delay"),
                    karpenter=spec.get("cloud") == "aws" and node_os != "eks-auto",
                    prices=prices,
                    thresholds=(
                        _thresholds(monitoring, args.get("knative") or {})
                        if monitoring.get("alerts", {}).get("enabled", True)
                        else None
                    ),
                    dashboards=monitoring["dashboards"],
                    container_concurrency=knative_settings(args.get("knative"))[
                        "container_concurrency"
                    ],
                ),
                opts=child,
            )
        self.domain = pulumi.Output.from_input(domain)
        self.ingress_service = pulumi.Output.from_input("istio-system/istio-ingressgateway")
        self.models_namespace = pulumi.Output.from_input(models_namespace)
        self.register_outputs(
            {
                "domain": self.domain,
                "ingressService": self.ingress_service,
                "modelsNamespace": self.models_namespace,
            }
        )

    def _model_cache(
        self,
        name: str,
        cache: ModelCacheSettings,
        pools: list[GpuPool],
        identity: WorkloadIdentity | None,
        spec: ClusterSpec,
        child: pulumi.ResourceOptions,
    ) -> ModelCache:
        disks = cache["pool_disks"]
        cached = [p for p in pools if p.name in disks]
        args = ModelCacheArgs(
            provider=spec["provider"],
            pools=[
                CachePool(name=p.name, node_selector=dict(p.node_selector), disk_gib=disks[p.name])
                for p in cached
            ],
            models=list(cache["models"]),
            tolerations=gpu.tolerations(cached),
            node_os=spec.get("gpu_node_os", "unknown"),
            after=[self._kserve.controller],
        )
        if identity is not None and identity.storage_uri_prefix is not None:
            args["storage_uri_prefix"] = identity.storage_uri_prefix
        jobs = cache.get("job_identity") or {}
        if jobs.get("service_account_annotations"):
            args["job_service_account_annotations"] = dict(jobs["service_account_annotations"])
        if jobs.get("pod_labels"):
            args["job_pod_labels"] = dict(jobs["pod_labels"])
        return ModelCache(f"{name}-model-cache", args, opts=child)

    @property
    def istio(self) -> Istio:
        return self._istio

    @property
    def cert_manager(self) -> CertManager:
        return self._cert_manager

    @property
    def knative(self) -> Knative:
        return self._knative

    @property
    def kserve(self) -> KServe:
        return self._kserve
