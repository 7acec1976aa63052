"""Every pinned version and chart source gpuplane installs, in one table.

The chart matrix follows ../shared/upstream/versions.md (anchored on what KServe
v0.20.0's own install scripts test). Moving a component to a new line is a
one-line change here plus the matching upstream data.
"""

from dataclasses import dataclass

# Kubernetes minor versions. The default is in standard support on EKS, GKE and
# AKS as of late 2026; the floor refuses lines past their extended support.
# From 1.36, MutatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1).
KUBERNETES_DEFAULT = "1.36"
KUBERNETES_MIN_MINOR = 31
KUBERNETES_MAX_MINOR = 37
MUTATING_ADMISSION_POLICY_MINOR = 36


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to an exact version, from an https or OCI repository."""

    chart: str
    version: str
    repo: str

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")

    @property
    def reference(self) -> str:
        """The chart reference Helm takes: `oci://.../chart` or the bare name."""
        return f"{self.repo}/{self.chart}" if self.is_oci else self.chart


_ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts"
_ISTIO = "1.27.9"
_KSERVE_REPO = "oci://ghcr.io/kserve/charts"
_KSERVE = "v0.20.0"
_KARPENTER_REPO = "oci://public.ecr.aws/karpenter"
_KARPENTER = "1.14.1"

CHARTS: dict[str, Chart] = {
    "istio-base": Chart("base", _ISTIO, _ISTIO_REPO),
    "istiod": Chart("istiod", _ISTIO, _ISTIO_REPO),
    "istio-gateway": Chart("gateway", _ISTIO, _ISTIO_REPO),
    "cert-manager": Chart("cert-manager", "v1.21.1", "https://charts.jetstack.io"),
    "knative-operator": Chart("knative-operator", "v1.21.4", "https://knative.github.io/operator"),
    "kserve-crd": Chart("kserve-crd", _KSERVE, _KSERVE_REPO),
    "kserve": Chart("kserve-resources", _KSERVE, _KSERVE_REPO),
    "kserve-runtime-configs": Chart("kserve-runtime-configs", _KSERVE, _KSERVE_REPO),
    # The Prometheus operator's CRDs (operator v0.93.1), upgraded with their own chart.
    "prometheus-operator-crds": Chart(
        "prometheus-operator-crds", "31.0.1", "https://prometheus-community.github.io/helm-charts"
    ),
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"
    ),
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin"
    ),
    "dcgm-exporter": Chart(
        "dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts"
    ),
    "karpenter-crd": Chart("karpenter-crd", _KARPENTER, _KARPENTER_REPO),
    "karpenter": Chart("karpenter", _KARPENTER, _KARPENTER_REPO),
    # Jobs (components/jobs): installed only when gpuplane:jobs or gpuplane:jobQueue is set.
    "keda": Chart("keda", "2.20.2", "https://kedacore.github.io/charts"),
    "kueue": Chart("kueue", "0.19.2", "oci://registry.k8s.io/kueue/charts"),
}

# The Knative Serving release the operator installs (operator v1.21.4 bundles 1.21.0-1.21.3).
KNATIVE_SERVING = "1.21.3"

# EKS managed add-ons, pinned. kube-proxy and CoreDNS follow the Kubernetes minor
# (AWS's add-on version tables); the others span several minors. Check with
#   aws eks describe-addon-versions --kubernetes-version 1.36 --addon-name <name>
# and move a minor's row together with the cluster version.
EKS_ADDONS: dict[str, str] = {
    "vpc-cni": "v1.22.4-eksbuild.1",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    "aws-ebs-csi-driver": "v1.63.1-eksbuild.1",
}
EKS_ADDONS_BY_MINOR: dict[str, dict[str, str]] = {
    "1.36": {"kube-proxy": "v1.36.0-eksbuild.14", "coredns": "v1.14.3-eksbuild.3"},
    "1.35": {"kube-proxy": "v1.35.3-eksbuild.13", "coredns": "v1.14.3-eksbuild.3"},
    "1.34": {"kube-proxy": "v1.34.6-eksbuild.13", "coredns": "v1.13.2-eksbuild.11"},
    "1.33": {"kube-proxy": "v1.33.10-eksbuild.13", "coredns": "v1.12.4-eksbuild.18"},
}


def eks_addon_version(addon: str, kubernetes_version: str) -> str:
    """The pinned version of an EKS add-on for a cluster's Kubernetes minor."""
    return EKS_ADDONS_BY_MINOR[kubernetes_version].get(addon) or EKS_ADDONS[addon]
