"""Istio: CRDs, the CNI node agent, istiod, the ingress gateway and mesh-wide STRICT mTLS."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import Dataplane
from gpuplane.components.serving.common import custom_resource, namespace, release
from gpuplane.components.serving.ports import ISTIOD_WEBHOOK_PORT
from gpuplane.components.versions import CHARTS, ISTIO_HUB

NAMESPACE = "istio-system"
# The CNI node agent rewrites every node's pod network setup: it needs host paths
# and NET_ADMIN/SYS_ADMIN, so it runs in the one privileged namespace of the mesh.
CNI_NAMESPACE = "istio-cni"
GATEWAY_RELEASE = "istio-ingressgateway"
WEBHOOK_PORT = ISTIOD_WEBHOOK_PORT
# The gateway chart labels its pods `istio: <release name without "istio-">`;
# Knative's knative-ingress-gateway selects them by this label.
GATEWAY_SELECTOR = {"istio": "ingressgateway"}
ISTIOD_SELECTOR = {"app": "istiod"}

# Istio CNI settings per pod network (the cni chart's values). The chart's
# defaults are the standard CNI paths; each row says what that network needs.
CNI_PLATFORM: Mapping[str, Mapping[str, Any]] = {
    # EKS's VPC CNI: standard paths, chained after aws-node's 10-aws.conflist.
    "aws-vpc-cni": {"cniBinDir": "/opt/cni/bin", "cniConfDir": "/etc/cni/net.d"},
    # GKE keeps CNI binaries in /home/kubernetes/bin, and only kube-system may run
    # system-node-critical pods unless a ResourceQuota allows them (Istio's
    # platform-gke profile sets both).
    "gke-dataplane-v2": {
        "cniBinDir": "/home/kubernetes/bin",
        "cniConfDir": "/etc/cni/net.d",
        "resourceQuotas": {"enabled": True},
    },
    # Azure CNI powered by Cilium: standard paths; AKS runs its Cilium with
    # cni-exclusive off and socket load balancing in the host namespace only,
    # which chaining and sidecar redirection need.
    "azure-cilium": {"cniBinDir": "/opt/cni/bin", "cniConfDir": "/etc/cni/net.d"},
    # kind's kindnet: standard paths.
    "kind": {"cniBinDir": "/opt/cni/bin", "cniConfDir": "/etc/cni/net.d"},
}


def spread(selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Spread replicas across nodes, best effort (a one-node cluster still schedules)."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(selector)},
        }
    ]


@dataclass(frozen=True, kw_only=True)
class IstioArgs:
    """Arguments of `Istio`."""

    provider: k8s.Provider
    ingress_service_type: str = "LoadBalancer"
    """LoadBalancer where the cluster gets a cloud load balancer, NodePort on kind."""
    ingress_service: Mapping[str, Any] = field(default_factory=dict)
    """Extra gateway Service values from the cluster (annotations, loadBalancerClass)."""
    dataplane: Dataplane = "kind"
    """The cluster's pod network: picks the Istio CNI settings (`CNI_PLATFORM`)."""
    metrics_server: bool = False
    """With a metrics API, istiod and the gateway autoscale; without, fixed replicas."""
    high_availability: bool = False
    """Two replicas of istiod and the gateway spread across nodes, with budgets that
    allow one disruption; otherwise one replica and no budget (dev: the cost choice)."""
    gateway_max_replicas: int = 3
    """The gateway HPA's maximum (with a metrics API)."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Cluster resources that must exist first (node groups, CNI)."""


def istiod_values(args: IstioArgs) -> dict[str, Any]:
    """istiod's values: explicit hub and tag, the CNI, and its replica policy."""
    replicas = 2 if args.high_availability else 1
    return {
        "autoscaleEnabled": args.metrics_server,
        "autoscaleMin": replicas,
        "replicaCount": replicas,
        # The chart renders a budget (minAvailable 1) only above one replica.
        "pdb": {"minAvailable": 1},
        "topologySpreadConstraints": spread(ISTIOD_SELECTOR) if args.high_availability else [],
        "cni": {"enabled": True},
        "meshConfig": {
            "enablePrometheusMerge": True,
            "accessLogFile": "/dev/stdout",
            # Model containers start only once their sidecar can carry traffic.
            "defaultConfig": {"holdApplicationUntilProxyStarts": True},
        },
        "global": {
            "istioNamespace": NAMESPACE,
            # Injected proxies and the gateway take their image from these.
            "hub": ISTIO_HUB,
            "tag": CHARTS["istiod"].version,
        },
    }


def gateway_values(args: IstioArgs) -> dict[str, Any]:
    """The ingress gateway's values: Service, replicas and budget."""
    replicas = 2 if args.high_availability else 1
    values: dict[str, Any] = {
        "service": {**args.ingress_service, "type": args.ingress_service_type},
        "autoscaling": {
            "enabled": args.metrics_server,
            "minReplicas": replicas,
            "maxReplicas": max(replicas, args.gateway_max_replicas),
        },
        "replicaCount": replicas,
    }
    if args.high_availability:
        values["podDisruptionBudget"] = {"maxUnavailable": 1}
        values["topologySpreadConstraints"] = spread(GATEWAY_SELECTOR)
    return values


def cni_values(args: IstioArgs) -> dict[str, Any]:
    """The CNI node agent's values for the cluster's pod network."""
    return {
        **CNI_PLATFORM[args.dataplane],
        "global": {"hub": ISTIO_HUB, "tag": CHARTS["istio-cni"].version},
    }


class Istio(pulumi.ComponentResource):
    """The mesh the rest of the serving stack runs in.

    Installed as Helm releases, not rendered charts: istiod patches its own
    webhook's caBundle and failurePolicy, which Pulumi-managed manifests would
    fight over (pulumi-kubernetes#2210, #2215, #2258); a release owns them.
    Sidecars get their traffic redirection from the Istio CNI node agent, so
    injected pods need no NET_ADMIN init container and their namespaces can
    enforce Pod Security `baseline`.
    """

    base: k8s.helm.v3.Release
    cni: k8s.helm.v3.Release
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
        cni_ns = namespace(
            f"{name}-cni-ns",
            CNI_NAMESPACE,
            pod_security="privileged",
            injection=False,
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
        # The node agent must be on a node before an injected pod starts there;
        # its repair controller restarts pods that raced it.
        self.cni = release(
            f"{name}-cni",
            chart="istio-cni",
            release_name="istio-cni",
            namespace=cni_ns,
            values=cni_values(args),
            **common,
        )
        self.istiod = release(
            f"{name}-istiod",
            chart="istiod",
            release_name="istiod",
            namespace=ns,
            values=istiod_values(args),
            depends_on=[self.base, self.cni],
            **common,
        )
        # The gateway's pods are injected from istiod's gateway template: istiod first.
        self.gateway = release(
            f"{name}-gateway",
            chart="istio-gateway",
            release_name=GATEWAY_RELEASE,
            namespace=ns,
            values=gateway_values(args),
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
