"""Istio: CRDs, istiod, the ingress gateway and mesh-wide STRICT mTLS."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.serving.common import custom_resource, namespace, release

NAMESPACE = "istio-system"
GATEWAY_RELEASE = "istio-ingressgateway"
# The gateway chart labels its pods `istio: <release name without "istio-">`;
# Knative's knative-ingress-gateway selects them by this label.
GATEWAY_SELECTOR = {"istio": "ingressgateway"}


@dataclass(frozen=True, kw_only=True)
class IstioArgs:
    """Arguments of `Istio`."""

    provider: k8s.Provider
    ingress_service_type: str = "LoadBalancer"
    ingress_service: Mapping[str, Any] = field(default_factory=dict)
    """Extra gateway Service values from the cluster (annotations, loadBalancerClass)."""
    """LoadBalancer where the cluster gets a cloud load balancer, NodePort on kind."""
    gateway_replicas: tuple[int, int] = (1, 3)
    """Minimum and maximum ingress gateway replicas (HPA)."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Cluster resources that must exist first (node groups, CNI)."""


class Istio(pulumi.ComponentResource):
    """The mesh the rest of the serving stack runs in.

    Installed as Helm releases, not rendered charts: istiod patches its own
    webhook's caBundle and failurePolicy, which Pulumi-managed manifests would
    fight over (pulumi-kubernetes#2210, #2215, #2258); a release owns them.
    """

    base: k8s.helm.v3.Release
    istiod: k8s.helm.v3.Release
    gateway: k8s.helm.v3.Release
    peer_authentication: k8s.apiextensions.CustomResource

    def __init__(
        self, name: str, args: IstioArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:Istio", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            pod_security="baseline",
            # No label: istiod's injector skips namespaces labelled disabled, and the
            # gateway's pods (image "auto") must be injected from its gateway template.
            injection=None,
            depends_on=args.depends_on,
            **common,
        )
        self.base = release(
            f"{name}-base",
            chart="istio-base",
            release_name="istio-base",
            namespace=ns,
            values={"defaultRevision": "default"},
            **common,
        )
        self.istiod = release(
            f"{name}-istiod",
            chart="istiod",
            release_name="istiod",
            namespace=ns,
            values={
                "autoscaleMin": 1,
                "meshConfig": {
                    "enablePrometheusMerge": True,
                    "accessLogFile": "/dev/stdout",
                    # Model containers start only once their sidecar can carry traffic.
                    "defaultConfig": {"holdApplicationUntilProxyStarts": True},
                },
                "global": {"istioNamespace": NAMESPACE},
            },
            depends_on=[self.base],
            **common,
        )
        low, high = args.gateway_replicas
        # The gateway's pods are injected from istiod's gateway template: istiod first.
        self.gateway = release(
            f"{name}-gateway",
            chart="istio-gateway",
            release_name=GATEWAY_RELEASE,
            namespace=ns,
            values={
                "service": {**args.ingress_service, "type": args.ingress_service_type},
                "autoscaling": {"enabled": True, "minReplicas": low, "maxReplicas": high},
            },
            depends_on=[self.istiod],
            **common,
        )
        # Mesh-wide (root namespace) STRICT mTLS. Created once istiod's validation
        # webhook answers, which it does once the istiod release is ready.
        self.peer_authentication = custom_resource(
            f"{name}-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            name="default",
            namespace=NAMESPACE,
            spec={"mtls": {"mode": "STRICT"}},
            depends_on=[self.base, self.istiod],
            **common,
        )
        self.register_outputs({"gatewayService": GATEWAY_RELEASE, "mtls": "STRICT"})
