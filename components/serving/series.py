"""The Kubernetes labels gpuplane's rules and dashboards read through kube-state-metrics.

kube-state-metrics exposes a node's or pod's labels on `kube_node_labels` /
`kube_pod_labels` only for keys in its allowlist, each as `label_<key>` with every
character outside [a-zA-Z0-9_] turned into `_`.
"""

import re
from collections.abc import Sequence

from gpuplane.components.clusters.contract import GpuPool

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
# The label (and value) that marks a spot node, per provisioner: Karpenter (EKS,
# EKS Auto Mode, AKS node auto-provisioning), GKE, AKS node pools.
SPOT_LABELS: dict[str, str] = {
    "karpenter.sh/capacity-type": "spot",
    "cloud.google.com/gke-spot": "true",
    "kubernetes.azure.com/scalesetpriority": "spot",
}
# KServe labels every predictor pod with its InferenceService.
INFERENCE_SERVICE = "serving.kserve.io/inferenceservice"
POD_LABEL_KEYS = (INFERENCE_SERVICE,)

_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def ksm_label(key: str) -> str:
    """`node.kubernetes.io/instance-type` -> `label_node_kubernetes_io_instance_type`."""
    return "label_" + _INVALID.sub("_", key)


def node_label_keys(pools: Sequence[GpuPool]) -> tuple[str, ...]:
    """Node labels kube-state-metrics must expose: type, spot, and each pool's selector."""
    keys = {INSTANCE_TYPE, *SPOT_LABELS}
    for pool in pools:
        keys.update(pool.node_selector)
    return tuple(sorted(keys))


def pool_selector(pool: GpuPool) -> str:
    """A PromQL label matcher list selecting a pool's nodes on kube_node_labels."""
    return ",".join(f'{ksm_label(k)}="{v}"' for k, v in sorted(pool.node_selector.items()))
