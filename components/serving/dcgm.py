"""dcgm-exporter on GPU nodes: the counters gpuplane's dashboards and alerts read, and how
the exporter reaches the NVIDIA driver on each cloud's GPU node image.

Pod attribution comes from the kubelet's pod-resources socket (the chart mounts
/var/lib/kubelet/pod-resources): a GPU in use carries the `pod`, `namespace` and
`container` of the pod it is allocated to.
"""

from collections.abc import Sequence
from typing import Any

from gpuplane.components.clusters.contract import GpuPool
from gpuplane.components.serving import gpu
from gpuplane.components.serving.monitoring import Target

RELEASE = "dcgm-exporter"
PORT_NAME = "metrics"

# (DCGM field, Prometheus type, help). The chart's own list lacks FB_RESERVED (the
# memory-full alert needs used + free + reserved) and the driver version label.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Rows remapped for uncorrectable."),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Rows remapped for correctable."),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed."),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor pipe is active."),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "Ratio of cycles device memory is active."),
    ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version"),
)

# Node images where the exporter must run privileged to see the GPUs: GKE's COS
# (the driver lives in /home/kubernetes/bin/nvidia, injected only into GPU-requesting
# pods) and Bottlerocket, EKS Auto Mode's base (its NVIDIA runtime honours
# NVIDIA_VISIBLE_DEVICES only for privileged containers).
_PRIVILEGED = ("cos", "bottlerocket", "eks-auto")
# Where the exporter cannot run at all, and what the cloud offers instead.
UNSUPPORTED: dict[str, str] = {
    "gke-autopilot": (
        "GKE Autopilot refuses privileged pods and host paths, so dcgm-exporter cannot run; "
        "GKE's managed DCGM metrics (monitoringConfig DCGM) go to Cloud Monitoring, not to "
        "this Prometheus: the GPU fleet dashboard's utilisation, memory, power and XID "
        "panels stay empty, allocation, idle and cost panels work"
    ),
}
# The driver on COS, as GKE installs it on every GPU node.
_COS_DRIVER = "/home/kubernetes/bin/nvidia"


def counters_csv() -> str:
    """The counter list in dcgm-exporter's CSV format (replaces the chart's list)."""
    lines = ["# DCGM FIELD, Prometheus metric type, help message"]
    lines += [f"{field}, {kind}, {text}" for field, kind, text in COUNTERS]
    return "\n".join(lines) + "\n"


def metric_names() -> set[str]:
    """The Prometheus metric names the configured counters produce."""
    return {field for field, kind, _ in COUNTERS if kind != "label"}


def values(pools: Sequence[GpuPool], node_os: str) -> dict[str, Any]:
    """Chart values: GPU nodes only, their taints tolerated, the driver reachable."""
    env = [
        {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"},
        {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "compute,utility"},
    ]
    mounts: list[dict[str, Any]] = [
        # The chart's counter list mount, kept (this list replaces the chart default).
        {
            "name": "exporter-metrics-volume",
            "mountPath": "/etc/dcgm-exporter/default-counters.csv",
            "subPath": "default-counters.csv",
        }
    ]
    host_volumes: list[dict[str, Any]] = []
    security: dict[str, Any] = {
        "runAsNonRoot": False,
        "runAsUser": 0,
        "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]},
        "allowPrivilegeEscalation": False,
    }
    if node_os in _PRIVILEGED:
        security = {"privileged": True, "runAsNonRoot": False, "runAsUser": 0}
    if node_os == "cos":
        host_volumes.append({"name": "nvidia-install-dir-host", "hostPath": _COS_DRIVER})
        mounts.append({"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia"})
        env.append({"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"})
    return {
        "customMetrics": counters_csv(),
        # gpuplane's own ServiceMonitor (honoured pod labels, node label) replaces it.
        "serviceMonitor": {"enabled": False},
        "affinity": gpu.node_affinity(pools),
        "tolerations": gpu.tolerations(pools),
        "securityContext": security,
        "extraEnv": env,
        "extraHostVolumes": host_volumes,
        "extraVolumeMounts": mounts,
    }


def target(namespace: str) -> Target:
    """The exporter's ServiceMonitor target.

    honorLabels keeps the exporter's `pod`/`namespace`/`container` (the pod a GPU is
    allocated to); the exporter pod's own target labels are dropped so an idle GPU
    carries none, and every series gets the `node` it runs on.
    """
    return Target(
        name=RELEASE,
        kind="ServiceMonitor",
        namespaces=(namespace,),
        selector={"matchLabels": {"app.kubernetes.io/name": "dcgm-exporter"}},
        endpoints=(
            {
                "port": PORT_NAME,
                "interval": "15s",
                "honorLabels": True,
                "relabelings": [
                    {
                        "action": "replace",
                        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                        "targetLabel": "node",
                    },
                    {"action": "labeldrop", "regex": "pod|namespace|container"},
                ],
            },
        ),
    )
