"""Every pinned version and chart source gpuplane installs, in one table.

The platform follows upstream support (../shared/REFERENCE.md section 7), with
evidence in ../shared/upstream/versions.md and reference/. Moving a component to
a new line is a change here plus the matching upstream data; the Kubernetes
minors `cluster.kubernetesVersion` accepts are derived from `SUPPORT`.
"""

from dataclasses import dataclass

# The default is in standard support on EKS, GKE and AKS as of late 2026.
# From 1.36, MutatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1).
KUBERNETES_DEFAULT = "1.36"
MUTATING_ADMISSION_POLICY_MINOR = 36
# The date the support statuses below were last checked against upstream.
SUPPORT_CHECKED = "2026-12-05"


@dataclass(frozen=True)
class Support:
    """Which Kubernetes minors one pinned component supports, and until when.

    `min_minor` / `max_minor` None: upstream sets no bound on that side.
    """

    component: str
    min_minor: int | None
    max_minor: int | None
    eol: str | None
    """Upstream end of life (ISO date), None where upstream publishes none."""
    evidence: str
    """Where in ../shared/upstream the bounds and date come from."""


_ISTIO = "1.30.3"
_KNATIVE_OPERATOR = "v1.23.0"
_KSERVE = "v0.20.0"
_KARPENTER = "1.14.1"

# The Knative Serving release the operator installs (operator v1.23.0 bundles
# Serving 1.20.0-1.23.0 and net-istio 1.23.0 for 1.23).
KNATIVE_SERVING = "1.23.0"
# Serving versions operator v1.23.0 can install: the current line and the one
# before it, the stop on the upgrade path from 1.21 (the operator moves a
# KnativeServing one minor at a time).
KNATIVE_SERVING_INSTALLABLE = ("1.22.1", "1.23.0")

SUPPORT: tuple[Support, ...] = (
    Support(
        f"Istio {_ISTIO}",
        min_minor=32,
        max_minor=36,
        eol="2026-11-30",
        evidence="reference/istio-1.30.3/support.md (endoflife.date; istioctl MinK8SVersion)",
    ),
    Support(
        f"Knative Serving {KNATIVE_SERVING}",
        min_minor=34,
        max_minor=None,
        eol="2027-02-02",
        evidence="reference/knative-1.23.0/evidence.md (knative/community RELEASE-SCHEDULE)",
    ),
    Support(
        f"KServe {_KSERVE}",
        min_minor=None,
        max_minor=None,
        eol=None,
        evidence="versions.md (latest two minors supported; v0.21 only in release candidates)",
    ),
    Support(
        "cert-manager v1.21.1",
        min_minor=22,
        max_minor=None,
        eol=None,
        evidence="charts/cert-manager/v1.21.1/Chart.yaml kubeVersion",
    ),
    Support(
        "kube-prometheus-stack 88.5.3",
        min_minor=25,
        max_minor=None,
        eol=None,
        evidence="charts/kube-prometheus-stack/88.5.3/Chart.yaml kubeVersion",
    ),
)


def _bound(pick: str) -> tuple[int, Support]:
    key = "min_minor" if pick == "min" else "max_minor"
    bounded = [s for s in SUPPORT if getattr(s, key) is not None]
    choose = max if pick == "min" else min
    setter = choose(bounded, key=lambda s: getattr(s, key))
    return getattr(setter, key), setter


# Every pinned component supports exactly the minors in this window.
KUBERNETES_MIN_MINOR, KUBERNETES_MIN_SETTER = _bound("min")
KUBERNETES_MAX_MINOR, KUBERNETES_MAX_SETTER = _bound("max")


def kubernetes_range_problem(version: str) -> str | None:
    """Why `version` (1.NN) is outside what every pinned component supports, or None."""
    minor = int(version.split(".")[1])
    low, high = KUBERNETES_MIN_MINOR, KUBERNETES_MAX_MINOR
    window = f"allowed 1.{low} to 1.{high}"
    if minor < low:
        return f"{window}: {KUBERNETES_MIN_SETTER.component} needs 1.{low} or newer"
    if minor > high:
        return f"{window}: {KUBERNETES_MAX_SETTER.component} supports up to 1.{high}"
    return None


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
_KSERVE_REPO = "oci://ghcr.io/kserve/charts"
_KARPENTER_REPO = "oci://public.ecr.aws/karpenter"

CHARTS: dict[str, Chart] = {
    "istio-base": Chart("base", _ISTIO, _ISTIO_REPO),
    "istiod": Chart("istiod", _ISTIO, _ISTIO_REPO),
    "istio-gateway": Chart("gateway", _ISTIO, _ISTIO_REPO),
    "istio-cni": Chart("cni", _ISTIO, _ISTIO_REPO),
    "cert-manager": Chart("cert-manager", "v1.21.1", "https://charts.jetstack.io"),
    "knative-operator": Chart(
        "knative-operator", _KNATIVE_OPERATOR, "https://knative.github.io/operator"
    ),
    "kserve-crd": Chart("kserve-crd", _KSERVE, _KSERVE_REPO),
    "kserve": Chart("kserve-resources", _KSERVE, _KSERVE_REPO),
    "kserve-runtime-configs": Chart("kserve-runtime-configs", _KSERVE, _KSERVE_REPO),
    # The node-local model cache (components/serving/model_cache.py), with gpuplane:models.cache.
    "kserve-localmodel-crd": Chart("kserve-localmodel-crd", _KSERVE, _KSERVE_REPO),
    "kserve-localmodel-resources": Chart("kserve-localmodel-resources", _KSERVE, _KSERVE_REPO),
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


# Where Istio's images come from (istiod, the CNI node agent, injected proxies
# and the gateway). The 1.30 charts default to registry.istio.io/release (1.31
# moves back to docker.io); gpuplane sets the hub explicitly and the policy
# pack's default allowedRegistries names it.
ISTIO_HUB = "docker.io/istio"
# The metrics proxy beside KServe's controller, pinned here rather than left to the
# chart default (the same image, quay.io/brancz is its upstream registry).
KSERVE_RBAC_PROXY_IMAGE = "quay.io/brancz/kube-rbac-proxy:v0.18.0"

# EKS managed add-ons, pinned. kube-proxy and CoreDNS follow the Kubernetes minor
# (AWS's add-on version tables); the others span several minors. Check with
#   aws eks describe-addon-versions --kubernetes-version 1.36 --addon-name <name>
# and move a minor's row together with the cluster version.
EKS_ADDONS: dict[str, str] = {
    "vpc-cni": "v1.22.4-eksbuild.1",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    "aws-ebs-csi-driver": "v1.63.1-eksbuild.1",
    # EKS's community add-on (AWS builds it from kubernetes-sigs/metrics-server);
    # EKS ships no metrics-server, and the HPAs of istiod and the gateway need it.
    "metrics-server": "v0.8.0-eksbuild.2",
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
