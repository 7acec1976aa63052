"""cert-manager with its CRDs, a self-signed ClusterIssuer and, with an email, ACME."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.serving.common import custom_resource, namespace, release
from gpuplane.components.serving.ports import CERT_MANAGER_WEBHOOK_PORT

NAMESPACE = "cert-manager"
WEBHOOK_PORT = CERT_MANAGER_WEBHOOK_PORT
SELF_SIGNED_ISSUER = "gpuplane-selfsigned"
ACME_ISSUER = "gpuplane-letsencrypt"
LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


@dataclass(frozen=True, kw_only=True)
class CertManagerArgs:
    """Arguments of `CertManager`."""

    provider: k8s.Provider
    acme_email: str | None = None
    """Adds a Let's Encrypt ClusterIssuer (HTTP-01 through the Istio ingress) when set."""
    acme_server: str = LETSENCRYPT
    """ACME directory; point it at Let's Encrypt staging while testing."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Cluster resources that must exist first (node groups, CNI)."""


class CertManager(pulumi.ComponentResource):
    """cert-manager, ready before anything that needs a certificate or its webhook."""

    release: k8s.helm.v3.Release
    issuers: list[k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:CertManager", name, None, opts)
        ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            pod_security="restricted",
            injection=False,
            depends_on=args.depends_on,
            parent=self,
            provider=args.provider,
        )
        # The release waits for the webhook (startupapicheck job included), so issuers
        # created after it never hit "webhook not ready" (cert-manager#2908).
        self.release = release(
            f"{name}-release",
            chart="cert-manager",
            release_name="cert-manager",
            namespace=ns,
            values={
                "crds": {"enabled": True, "keep": True},
                "replicaCount": 1,
                "podDisruptionBudget": {"enabled": False},
                "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
                "startupapicheck": {"enabled": True},
                "webhook": {"securePort": WEBHOOK_PORT},
            },
            parent=self,
            provider=args.provider,
        )
        issuer_opts = {"parent": self, "provider": args.provider, "depends_on": [self.release]}
        self.issuers = [
            custom_resource(
                f"{name}-selfsigned",
                api_version="cert-manager.io/v1",
                kind="ClusterIssuer",
                name=SELF_SIGNED_ISSUER,
                namespace=None,
                spec={"selfSigned": {}},
                **issuer_opts,
            )
        ]
        if args.acme_email is not None:
            self.issuers.append(
                custom_resource(
                    f"{name}-acme",
                    api_version="cert-manager.io/v1",
                    kind="ClusterIssuer",
                    name=ACME_ISSUER,
                    namespace=None,
                    spec={
                        "acme": {
                            "email": args.acme_email,
                            "server": args.acme_server,
                            "privateKeySecretRef": {"name": f"{ACME_ISSUER}-account"},
                            # The class annotation Istio's ingress controller watches (no
                            # IngressClass object is needed for it).
                            "solvers": [{"http01": {"ingress": {"class": "istio"}}}],
                        }
                    },
                    **issuer_opts,
                )
            )
        self.register_outputs(
            {"issuers": [SELF_SIGNED_ISSUER, *([ACME_ISSUER] if args.acme_email else [])]}
        )
