"""The node ports the API server calls for the serving stack's webhooks.

Each webhook configuration (or APIService) points at a Service whose targetPort is a
container port; the API server reaches that pod port directly, so a firewall between
the control plane and the nodes (EKS security groups, GKE's firewall) must open it.
tests/components/serving/test_rendered.py derives the same set from the rendered charts
and operator manifests, and fails on a missing one.
"""

from collections.abc import Mapping

ISTIOD_WEBHOOK_PORT = 15017
"""istiod's webhooks: Service istiod 443 -> targetPort 15017 (fixed in the chart)."""
KNATIVE_WEBHOOK_PORT = 8443
"""Knative Serving's, net-istio's and the operator's webhooks: Service 443 -> 8443."""
KSERVE_WEBHOOK_PORT = 9443
"""The KServe controller's webhook server: Service 443 -> 9443 (fixed in the chart)."""
CERT_MANAGER_WEBHOOK_PORT = 10250
"""cert-manager's webhook (webhook.securePort; the Service targets it by name)."""
OPERATOR_WEBHOOK_PORT = 10250
"""prometheus-operator's admission webhook (prometheusOperator.tls.internalPort)."""

WEBHOOK_PORTS: Mapping[int, str] = {
    ISTIOD_WEBHOOK_PORT: "istiod sidecar injection and config validation",
    KSERVE_WEBHOOK_PORT: "KServe webhook server",
    KNATIVE_WEBHOOK_PORT: "Knative Serving and net-istio webhooks; Knative operator conversion",
    # Both listen on 10250 in their own pods.
    CERT_MANAGER_WEBHOOK_PORT: "cert-manager webhook; prometheus-operator admission webhook",
}
