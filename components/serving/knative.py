"""Knative Serving through the Knative Operator, tuned for GPU inference."""

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.rules import duration_seconds
from gpuplane.components.serving.common import custom_resource, namespace, release
from gpuplane.components.serving.istio import GATEWAY_SELECTOR
from gpuplane.components.serving.ports import KNATIVE_WEBHOOK_PORT
from gpuplane.components.serving.settings import (
    MAX_REQUEST_TIMEOUT,
    KnativeSettings,
    knative_settings,
)

OPERATOR_NAMESPACE = "knative-operator"
WEBHOOK_PORT = KNATIVE_WEBHOOK_PORT
NAMESPACE = "knative-serving"
# Only the activator (which proxies to revisions) and the autoscaler (which scrapes
# queue-proxies) must talk to STRICT-mTLS pods: they join the mesh. The API server
# calls the webhooks directly, so they, and the controllers, stay out of it.
OUT_OF_MESH = (
    "controller",
    "webhook",
    "autoscaler-hpa",
    "net-istio-controller",
    "net-istio-webhook",
)
IN_MESH = ("activator", "autoscaler")
# The PodDisruptionBudgets Knative Serving ships (operator bundle 2-serving-core).
KNATIVE_PDBS = ("activator-pdb", "webhook-pdb")
SKIP_TAG_RESOLVING = ("kind.local", "ko.local", "dev.local", "nvcr.io", "index.docker.io")
# Prometheus is outside the mesh: Istio merges these pods' metrics into the
# sidecar's plain-text endpoint (meshConfig.enablePrometheusMerge).
MERGED_METRICS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "9090",
    "prometheus.io/path": "/metrics",
}


@dataclass(frozen=True, kw_only=True)
class KnativeArgs:
    """Arguments of `Knative`."""

    provider: k8s.Provider
    settings: KnativeSettings
    """Autoscaling settings; unset keys take KNATIVE_DEFAULTS."""
    domain: pulumi.Input[str]
    """The domain InferenceService hostnames are made under."""
    after_istio: tuple[pulumi.Resource, ...]
    """Istio's CRDs and validation webhook: the operator creates Istio Gateways."""
    high_availability: bool = False
    """Two replicas of every Knative deployment, budgets allowing one disruption;
    otherwise one replica and budgets that allow any disruption (dev)."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Cluster resources that must exist first (node groups, CNI)."""


def serving_config(settings: KnativeSettings, domain: pulumi.Input[str]) -> dict[str, Any]:
    """KnativeServing `spec.config`: ConfigMap name -> key -> string value.

    Knative's defaults suit short CPU requests; a GPU revision needs scale to
    zero without buying a GPU at deploy time (initial scale 0), minutes of
    scale-down delay, and a progress deadline above the worst cold start
    (../shared/REFERENCE.md section 2).
    """
    full = knative_settings(settings)
    timeout = duration_seconds(full["request_timeout"])
    return {
        "autoscaler": {
            "enable-scale-to-zero": str(full["scale_to_zero"]).lower(),
            "scale-to-zero-grace-period": full["scale_to_zero_grace_period"],
            "scale-down-delay": full["scale_down_delay"],
            "allow-zero-initial-scale": "true",
            "initial-scale": "0",
        },
        "deployment": {
            "progress-deadline": f"{duration_seconds(full['progress_deadline'])}s",
            # Knative's defaults (images side-loaded into kind) plus registries that
            # rate-limit or need auth for digest resolution.
            "registries-skipping-tag-resolving": ",".join(SKIP_TAG_RESOLVING),
        },
        "defaults": {
            "revision-timeout-seconds": str(timeout),
            "max-revision-timeout-seconds": str(max(MAX_REQUEST_TIMEOUT, timeout)),
            "container-concurrency": str(full["container_concurrency"]),
        },
        # The domain is the ConfigMap key: an Output resolves into it.
        "domain": pulumi.Output.from_input(domain).apply(lambda d: {d: ""}),
        # InferenceServices (and gpuplane's GPU runtime) set these on their pods.
        "features": {
            "kubernetes.podspec-nodeselector": "enabled",
            "kubernetes.podspec-tolerations": "enabled",
            "kubernetes.podspec-affinity": "enabled",
        },
        # Knative 1.21 exports no metrics unless asked.
        "observability": {
            "metrics-protocol": "prometheus",
            "request-metrics-protocol": "prometheus",
        },
    }


class Knative(pulumi.ComponentResource):
    """The Knative Operator and a KnativeServing with Istio networking."""

    operator: k8s.helm.v3.Release
    serving: k8s.apiextensions.CustomResource

    def __init__(
        self, name: str, args: KnativeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:Knative", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        replicas = 2 if args.high_availability else 1
        operator_ns = namespace(
            f"{name}-operator-ns",
            OPERATOR_NAMESPACE,
            # The operator chart sets no seccomp profile, which restricted requires.
            pod_security="baseline",
            injection=False,
            depends_on=args.depends_on,
            **common,
        )
        # Ships the KnativeServing CRD as a template: the CR depends on this release.
        self.operator = release(
            f"{name}-operator",
            chart="knative-operator",
            release_name="knative-operator",
            namespace=operator_ns,
            values={},
            **common,
        )
        serving_ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            # The activator and autoscaler join the mesh so STRICT mTLS pods accept
            # them; the Istio CNI sets up their redirection, so baseline suffices.
            pod_security="baseline",
            injection=True,
            depends_on=args.depends_on,
            **common,
        )
        self.serving = custom_resource(
            f"{name}-serving",
            api_version="operator.knative.dev/v1beta1",
            kind="KnativeServing",
            name="knative-serving",
            namespace=NAMESPACE,
            spec={
                "version": knative_settings(args.settings)["version"],
                "high-availability": {"replicas": replicas},
                # Knative ships minAvailable 80%, which at one or two replicas allows
                # no eviction: no node could be drained.
                "podDisruptionBudgets": [
                    {"name": pdb, "minAvailable": replicas - 1} for pdb in KNATIVE_PDBS
                ],
                "ingress": {
                    "istio": {
                        "enabled": True,
                        "knative-ingress-gateway": {"selector": dict(GATEWAY_SELECTOR)},
                        "knative-local-gateway": {"selector": dict(GATEWAY_SELECTOR)},
                    }
                },
                "config": serving_config(args.settings, args.domain),
                "workloads": [
                    *(
                        {"name": w, "annotations": {"sidecar.istio.io/inject": "false"}}
                        for w in OUT_OF_MESH
                    ),
                    *({"name": w, "annotations": dict(MERGED_METRICS)} for w in IN_MESH),
                ],
            },
            depends_on=[self.operator, serving_ns, *args.after_istio],
            wait_for_ready=True,
            **common,
        )
        self.register_outputs(
            {"version": knative_settings(args.settings)["version"], "domain": args.domain}
        )
