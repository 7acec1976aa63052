"""Which machine types carry NVIDIA GPUs on each cloud, and which GPU.

Config validation uses this to refuse a GPU pool whose machine type has no GPU,
and to infer the accelerator where the machine type implies it. Accelerator
names follow GKE's ids (`nvidia-l4`, `nvidia-tesla-t4`, ...) on every cloud.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    """The GPUs one node of a machine type carries."""

    accelerator: str
    count: int


def _sizes(prefix: str, accelerator: str, counts: dict[str, int]) -> dict[str, Gpu]:
    return {f"{prefix}{size}": Gpu(accelerator, n) for size, n in counts.items()}


_SMALL_1 = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1}

AWS: dict[str, Gpu] = {
    **_sizes("g4dn.", "nvidia-tesla-t4", {**_SMALL_1, "12xlarge": 4, "metal": 8}),
    **_sizes("g5.", "nvidia-a10g", {**_SMALL_1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    **_sizes("g6.", "nvidia-l4", {**_SMALL_1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    **_sizes("gr6.", "nvidia-l4", {"4xlarge": 1, "8xlarge": 1}),
    **_sizes("g6e.", "nvidia-l40s", {**_SMALL_1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    **_sizes("p3.", "nvidia-tesla-v100", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "p3dn.24xlarge": Gpu("nvidia-tesla-v100", 8),
    "p4d.24xlarge": Gpu("nvidia-tesla-a100", 8),
    "p4de.24xlarge": Gpu("nvidia-a100-80gb", 8),
    "p5.4xlarge": Gpu("nvidia-h100-80gb", 1),
    "p5.48xlarge": Gpu("nvidia-h100-80gb", 8),
    "p5e.48xlarge": Gpu("nvidia-h200-141gb", 8),
    "p5en.48xlarge": Gpu("nvidia-h200-141gb", 8),
    "p6-b200.48xlarge": Gpu("nvidia-b200", 8),
}

GCP: dict[str, Gpu] = {
    **_sizes(
        "g2-standard-",
        "nvidia-l4",
        {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1, "24": 2, "48": 4, "96": 8},
    ),
    **_sizes("a2-highgpu-", "nvidia-tesla-a100", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
    "a2-megagpu-16g": Gpu("nvidia-tesla-a100", 16),
    **_sizes("a2-ultragpu-", "nvidia-a100-80gb", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
    **_sizes("a3-highgpu-", "nvidia-h100-80gb", {"1g": 1, "2g": 2, "4g": 4, "8g": 8}),
    "a3-edgegpu-8g": Gpu("nvidia-h100-80gb", 8),
    "a3-megagpu-8g": Gpu("nvidia-h100-mega-80gb", 8),
    "a3-ultragpu-8g": Gpu("nvidia-h200-141gb", 8),
    "a4-highgpu-8g": Gpu("nvidia-b200", 8),
}

AZURE: dict[str, Gpu] = {
    **_sizes(
        "Standard_NC",
        "nvidia-tesla-t4",
        {"4as_T4_v3": 1, "8as_T4_v3": 1, "16as_T4_v3": 1, "64as_T4_v3": 4},
    ),
    **_sizes(
        "Standard_NC",
        "nvidia-a100-80gb",
        {"24ads_A100_v4": 1, "48ads_A100_v4": 2, "96ads_A100_v4": 4},
    ),
    **_sizes("Standard_NC", "nvidia-h100-94gb", {"40ads_H100_v5": 1, "80adis_H100_v5": 2}),
    **_sizes("Standard_NV", "nvidia-a10", {"36ads_A10_v5": 1, "72ads_A10_v5": 2}),
    **_sizes("Standard_NC", "nvidia-tesla-v100", {"6s_v3": 1, "12s_v3": 2, "24s_v3": 4}),
    "Standard_ND96asr_v4": Gpu("nvidia-tesla-a100", 8),
    "Standard_ND96amsr_A100_v4": Gpu("nvidia-a100-80gb", 8),
    "Standard_ND96isr_H100_v5": Gpu("nvidia-h100-80gb", 8),
}

IMPLIED: dict[str, dict[str, Gpu]] = {"aws": AWS, "gcp": GCP, "azure": AZURE}

# GCP N1 machines carry no GPU of their own: one is attached by `accelerator`.
_N1 = re.compile(r"^n1-(standard|highmem|highcpu)-\d+$")
N1_ACCELERATORS: dict[str, tuple[int, ...]] = {
    "nvidia-tesla-t4": (1, 2, 4),
    "nvidia-tesla-p4": (1, 2, 4),
    "nvidia-tesla-p100": (1, 2, 4),
    "nvidia-tesla-v100": (1, 2, 4, 8),
}


def implied_gpu(cloud: str, machine_type: str) -> Gpu | None:
    """The GPU a machine type carries by itself, or None."""
    return IMPLIED.get(cloud, {}).get(machine_type)


def takes_attached_gpu(cloud: str, machine_type: str) -> bool:
    """True for machine types that need `accelerator` to carry a GPU (GCP N1)."""
    return cloud == "gcp" and bool(_N1.match(machine_type))


def families(cloud: str) -> list[str]:
    """A short list of the GPU machine families known on a cloud, for messages."""
    seen: dict[str, None] = {}
    for name in IMPLIED.get(cloud, {}):
        if cloud == "aws":
            family = name.split(".")[0] + ".*"
        elif cloud == "gcp":
            family = "-".join(name.split("-")[:2]) + "-*"
        else:
            family = name
        seen[family] = None
    if cloud == "gcp":
        seen["n1-* with accelerator"] = None
    return list(seen)
