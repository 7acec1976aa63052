"""KServe in Knative (serverless) mode, and the defaults InferenceServices inherit."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import (
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    WorkloadIdentity,
)
from gpuplane.components.serving.cache_settings import JOB_NAMESPACE as LOCAL_MODEL_JOB_NAMESPACE
from gpuplane.components.serving.common import namespace, release
from gpuplane.components.serving.ports import KSERVE_WEBHOOK_PORT
from gpuplane.components.versions import KSERVE_RBAC_PROXY_IMAGE

NAMESPACE = "kserve"
LOCAL_GATEWAY_SERVICE = "knative-local-gateway.istio-system.svc.cluster.local"
WEBHOOK_PORT = KSERVE_WEBHOOK_PORT
# kube-rbac-proxy's --v=10 (hard-coded in the chart) logs request headers, bearer
# tokens included: this post-renderer sets --v=0 (postrender/rbac-proxy-quiet).
RBAC_PROXY_POSTRENDER_FILE = Path(__file__).parent / "postrender" / "rbac-proxy-quiet"


def postrender_path(script: Path) -> str:
    """The post-renderer as Helm is handed it. In this repository (a Pulumi.yaml above the
    script), relative to the project root, where `pulumi up` runs the provider, so the
    Release's inputs are the same from every checkout; absolute otherwise (an installed
    library)."""
    script = script.resolve()
    for root in script.parents:
        if (root / "Pulumi.yaml").is_file():
            return str(script.relative_to(root))
    return str(script)


RBAC_PROXY_POSTRENDER = postrender_path(RBAC_PROXY_POSTRENDER_FILE)
# The standard ClusterServingRuntimes the platform does not offer: their images come
# from registries outside the pack's allow-list, or float (vllm/vllm-openai:latest).
# LLMs are served by the Hugging Face runtime, whose GPU image carries vLLM.
DISABLED_RUNTIMES = ("tensorflow", "mlserver", "torchserve", "vllmserver")
# Namespaces whose pods reach InferenceService pods: the ingress gateway, the
# Knative activator and autoscaler, and Prometheus.
PLATFORM_NAMESPACES = ("istio-system", "knative-serving", "monitoring")


@dataclass(frozen=True, kw_only=True)
class KServeArgs:
    """Arguments of `KServe`."""

    provider: k8s.Provider
    domain: str
    """Kept equal to Knative's domain (KServe uses it for path-based URLs)."""
    after: Sequence[pulumi.Resource]
    """What the controller needs first: cert-manager ready and Knative Serving ready."""
    min_replicas_policy: bool = True
    """Default `spec.predictor.minReplicas` to 0 with a MutatingAdmissionPolicy
    (Kubernetes 1.36+); KServe's own default is 1, which never scales to zero."""
    workload_identity: WorkloadIdentity | None = None
    """Cloud identity for the models ServiceAccount, so storage URIs need no keys."""
    models_namespace: str = MODELS_NAMESPACE
    """Namespace for InferenceServices; the cluster's identity trusts this one."""
    models_service_account: str = MODELS_SERVICE_ACCOUNT
    """The ServiceAccount model pods run as; the cluster's identity trusts this one."""
    depends_on: tuple[pulumi.Resource, ...] = ()
    """Cluster resources that must exist first (node groups, CNI)."""
    local_model: bool = False
    """Switch on KServe's node-local model cache (`localModel.enabled` in
    inferenceservice-config): InferenceServices whose storageUri a LocalModelCache holds
    mount the node's copy. The cache itself is `ModelCache`."""


def _local_model_values(enabled: bool) -> dict:
    """The `localmodel` values of kserve-resources (they render inferenceservice-config's
    `localModel`): on, with the download jobs' namespace and TTL said explicitly."""
    if not enabled:
        return {}
    return {
        "localmodel": {
            "enabled": True,
            "jobNamespace": LOCAL_MODEL_JOB_NAMESPACE,
            "jobTTLSecondsAfterFinished": 3600,
        }
    }


class KServe(pulumi.ComponentResource):
    """The KServe CRDs, controller and runtimes, and a `models` namespace ready for use."""

    crds: k8s.helm.v3.Release
    controller: k8s.helm.v3.Release
    runtimes: k8s.helm.v3.Release
    models_namespace: k8s.core.v1.Namespace
    service_account: k8s.core.v1.ServiceAccount

    def __init__(
        self, name: str, args: KServeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:serving:KServe", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            # The model cache's agent (kserve-localmodel-resources v0.20.0) runs here and
            # mounts a hostPath, which only `privileged` admits; warn and audit stay
            # restricted, so everything else in the namespace is still reported.
            pod_security="privileged" if args.local_model else "restricted",
            injection=False,  # the API server calls its webhooks without a sidecar
            depends_on=args.depends_on,
            **common,
        )
        self.crds = release(
            f"{name}-crd",
            chart="kserve-crd",
            release_name="kserve-crd",
            namespace=ns,
            values={},
            **common,
        )
        # Its webhooks take their certificate from cert-manager, and serverless mode
        # needs Knative Serving (kserve#1893, #2597, #3187): both must be ready first.
        self.controller = release(
            f"{name}-controller",
            chart="kserve",
            release_name="kserve",
            namespace=ns,
            values={
                "kserve": {
                    "controller": {
                        "deploymentMode": "Knative",
                        "rbacProxyImage": KSERVE_RBAC_PROXY_IMAGE,
                        "gateway": {
                            "domain": args.domain,
                            "ingressGateway": {
                                "gateway": "knative-serving/knative-ingress-gateway",
                            },
                            "localGateway": {
                                "gateway": "knative-serving/knative-local-gateway",
                                "gatewayService": LOCAL_GATEWAY_SERVICE,
                            },
                        },
                    },
                    **_local_model_values(args.local_model),
                },
            },
            depends_on=[self.crds, *args.after],
            postrender=RBAC_PROXY_POSTRENDER,
            **common,
        )
        # ClusterServingRuntimes pass the controller's fail-closed webhook: controller first.
        self.runtimes = release(
            f"{name}-runtimes",
            chart="kserve-runtime-configs",
            release_name="kserve-runtime-configs",
            namespace=ns,
            values={
                "kserve": {
                    "servingruntime": {
                        "enabled": True,
                        **{runtime: {"disabled": True} for runtime in DISABLED_RUNTIMES},
                    }
                }
            },
            depends_on=[self.controller],
            **common,
        )

        self.models_namespace = namespace(
            f"{name}-models-ns",
            args.models_namespace,
            # The Istio CNI sets up sidecar redirection, so injected pods need no
            # NET_ADMIN init container; restricted is still warned and audited.
            pod_security="baseline",
            injection=True,
            depends_on=args.depends_on,
            **common,
        )
        identity = args.workload_identity or WorkloadIdentity()
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-models-sa",
            metadata={
                "name": args.models_service_account,
                "namespace": args.models_namespace,
                "annotations": dict(identity.service_account_annotations),
                "labels": {"app.kubernetes.io/managed-by": "gpuplane"},
            },
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(depends_on=[self.models_namespace], **common),
        )
        self._network_policies(name, args.models_namespace, common)
        if args.min_replicas_policy:
            self._min_replicas_policy(name, common)
        self.register_outputs({"modelsNamespace": args.models_namespace})

    def _network_policies(self, name: str, models_namespace: str, common: dict) -> None:
        opts = pulumi.ResourceOptions(depends_on=[self.models_namespace], **common)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-models-default-deny",
            metadata={"name": "default-deny-ingress", "namespace": models_namespace},
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
            opts=opts,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-models-allow-platform",
            metadata={"name": "allow-platform-ingress", "namespace": models_namespace},
            spec={
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {}},
                            *(
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {"kubernetes.io/metadata.name": ns}
                                    }
                                }
                                for ns in PLATFORM_NAMESPACES
                            ),
                        ]
                    }
                ],
            },
            opts=opts,
        )

    def _min_replicas_policy(self, name: str, common: dict) -> None:
        # One policy per component: each only where that component is present and
        # says nothing about minReplicas (KServe's reconciler would make it 1).
        for component in ("predictor", "transformer", "explainer"):
            policy_name = f"gpuplane-{component}-min-replicas"
            policy = k8s.admissionregistration.v1.MutatingAdmissionPolicy(
                f"{name}-{component}-min-replicas",
                metadata={"name": policy_name},
                spec={
                    "failurePolicy": "Fail",
                    "reinvocationPolicy": "Never",
                    "matchConstraints": {
                        "resourceRules": [
                            {
                                "apiGroups": ["serving.kserve.io"],
                                "apiVersions": ["v1beta1"],
                                "operations": ["CREATE"],
                                "resources": ["inferenceservices"],
                            }
                        ]
                    },
                    "matchConditions": [
                        {
                            "name": f"{component}-min-replicas-unset",
                            "expression": (
                                f"has(object.spec.{component}) && "
                                f"!has(object.spec.{component}.minReplicas)"
                            ),
                        }
                    ],
                    "mutations": [
                        {
                            "patchType": "ApplyConfiguration",
                            "applyConfiguration": {
                                "expression": (
                                    f"Object{{spec: Object.spec{{{component}: "
                                    f"Object.spec.{component}{{minReplicas: 0}}}}}}"
                                )
                            },
                        }
                    ],
                },
                opts=pulumi.ResourceOptions(depends_on=[self.crds], **common),
            )
            k8s.admissionregistration.v1.MutatingAdmissionPolicyBinding(
                f"{name}-{component}-min-replicas-binding",
                metadata={"name": policy_name},
                spec={"policyName": policy_name},
                opts=pulumi.ResourceOptions(depends_on=[policy], **common),
            )
