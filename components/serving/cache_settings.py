"""The node-local model cache's settings as plain data, and the rules they must follow.

Kept apart from the component (no Kubernetes SDK here), so the YAML config layer checks
`gpuplane:models.cache` with the very rules `ModelCache` applies to its args.

Where the cache lives on a node: KServe v0.20.0's agent DaemonSet mounts a fixed
`hostPath: /models` (DirectoryOrCreate). gpuplane moves it, with a post-renderer, onto
the fastest local storage each node image offers and that the image lets pods write:

- EKS AL2023 (Karpenter): Karpenter's `instanceStorePolicy: RAID0` stripes the instance
  store NVMe and nodeadm mounts it at /mnt/k8s-disks/0; types without instance store
  keep the directory on the encrypted gp3 root volume (`gpuplane:aws.gpuVolumeSize`).
- GKE Standard (COS): the root filesystem is read-only; /mnt/stateful_partition is
  writable, and with `ephemeral_storage_local_ssd_config` GKE mounts the local SSDs at
  /mnt/stateful_partition/kube-ephemeral-ssd; machines without local SSD keep the
  directory on the boot disk.
- AKS (Ubuntu): the VM size's temporary (resource) disk is mounted at /mnt.
- An existing cluster: /models, as upstream ships it.

Where no writable host path exists, or pods may not mount one, the cache is refused
with the reason (`REFUSED`).
"""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import NotRequired, TypedDict

from gpuplane.components.clusters.contract import ModelIdentity
from gpuplane.components.messages import quote
from gpuplane.components.rules import KeyName

# The node label the v0.20.0 agent DaemonSet selects (its rendered nodeSelector).
NODE_LABEL = ("kserve/localmodel", "worker")
JOB_NAMESPACE = "kserve-localmodel-jobs"
"""Where KServe runs the download jobs (the chart's `localmodel.jobNamespace`)."""
JOB_SERVICE_ACCOUNT = "default"
"""The v0.20.0 agent creates download jobs without a serviceAccountName."""
UPSTREAM_HOST_PATH = "/models"

# Node image -> the host directory the cache lives in.
HOST_PATHS: Mapping[str, str] = {
    "al2023": "/mnt/k8s-disks/0/models",
    "cos": "/mnt/stateful_partition/kube-ephemeral-ssd/models",
    "ubuntu": "/mnt/kserve-models",
    "unknown": UPSTREAM_HOST_PATH,
}
# Node image -> why the cache cannot live there.
REFUSED: Mapping[str, str] = {
    "eks-auto": (
        "EKS Auto Mode's nodes run a locked-down Bottlerocket with a read-only root and no "
        "user data or instance-store policy to give the cache a writable local directory; "
        "use gpuplane:aws.computeMode karpenter"
    ),
    "bottlerocket": (
        "Bottlerocket's root filesystem is read-only, so the KServe v0.20.0 agent's host "
        "directory cannot be created there; use gpuplane:aws.gpuNodeImage al2023"
    ),
    "gke-autopilot": (
        "GKE Autopilot refuses hostPath volumes and local PersistentVolumes, which the "
        "KServe agent and the cache's volumes need; use gpuplane:gcp.mode standard"
    ),
}

_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_UNITS = {
    None: 1,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
# Schemes KServe's storage initializer downloads from.
SCHEMES = ("s3://", "gs://", "https://", "hf://")
GIB = 2**30


class CachedModel(TypedDict):
    """One model kept on the local disk of a GPU pool's nodes (a LocalModelCache)."""

    name: str
    """1-40 lowercase letters, digits and dashes; names the LocalModelCache, and the folder
    and download job on each node."""
    storage_uri: str
    """Where the model is read from: a path inside the models bucket (`llama3-8b/`) where
    the cluster has one, else a full URI (s3://, gs://, https://, hf://). Match an
    InferenceService's storageUri to it to serve from the cache."""
    size: str
    """The model's size on disk, a Kubernetes quantity (`20Gi`)."""
    pools: NotRequired[Sequence[str]]
    """GPU pools whose nodes keep it. Default: every GPU pool."""


class ModelCacheSettings(TypedDict):
    """The cache as plain data: which models, and the local disk of each GPU pool."""

    models: Sequence[CachedModel]
    """The models to cache."""
    pool_disks: Mapping[str, int]
    """GiB of local storage each node of a pool gives the cache, by pool name; a pool not
    listed keeps no cache."""
    job_identity: NotRequired[ModelIdentity]
    """How the download jobs (the `default` ServiceAccount of kserve-localmodel-jobs) get
    the identity that reads the models bucket: annotations for that ServiceAccount, labels
    for the jobs' pods (set by a MutatingAdmissionPolicy, Kubernetes 1.36+). Default: none
    (the cloud binds the ServiceAccount by name, or the bucket is public)."""


def quantity_bytes(value: str) -> int:
    """`20Gi` -> 21474836480; ValueError naming what is allowed."""
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"must be a size above zero like 20Gi, 500Mi or 1Ti, given {quote(value)}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def absolute_uri(uri: str) -> bool:
    return "://" in uri


def relative_path_problem(path: str) -> str | None:
    """Why `path` is not a path inside a bucket, or None."""
    if not path or path.startswith("/") or ".." in path.split("/") or "\\" in path:
        return f"must be a path inside the models bucket like llama3-8b/, given {quote(path)}"
    return None


def model_cache_problems(
    settings: ModelCacheSettings,
    *,
    node_os: str,
    bucket: bool,
    key: KeyName,
    pool_disk_key: Callable[[str], str] | None = None,
) -> list[str]:
    """What is wrong with the cache `settings`, each problem naming its key through `key`.

    `bucket`: the cluster has a models bucket (its identity's storage_uri_prefix), so a
    model's storage_uri is a path inside it; a full URI would point outside it.
    `pool_disk_key` names where a pool's disk size comes from, for the overflow message.
    """
    if node_os in REFUSED:
        return [f"{key('')}: the node-local model cache cannot run here: {REFUSED[node_os]}"]
    problems: list[str] = []
    disks = settings.get("pool_disks", {})
    models = settings.get("models", ())
    if not disks:
        problems.append(f"{key('')}: needs at least one GPU pool to keep the cache on")
    seen: set[str] = set()
    used: dict[str, int] = {}
    for i, model in enumerate(models):
        where = f"models[{i}]."
        name = model.get("name", "")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(
                f"{key(where + 'name')}: must be 1-40 lowercase letters, digits and dashes, "
                f"starting with a letter, given {quote(name)}"
            )
        elif name in seen:
            problems.append(f"{key(where + 'name')}: {name!r} is cached twice; names are unique")
        seen.add(name)
        uri = model.get("storage_uri", "")
        if bucket and absolute_uri(uri):
            problems.append(
                f"{key(where + 'storage_uri')}: {quote(uri)} is outside the models bucket "
                "gpuplane makes (the only storage the cache's identity reads); give a path "
                "inside it like llama3-8b/"
            )
        elif bucket:
            problem = relative_path_problem(uri)
            if problem:
                problems.append(f"{key(where + 'storage_uri')}: {problem}")
        elif not uri.startswith(SCHEMES) or uri in SCHEMES:
            problems.append(
                f"{key(where + 'storage_uri')}: must be a full URI starting with "
                f"{', '.join(SCHEMES)} (this cluster has no gpuplane models bucket), "
                f"given {quote(uri)}"
            )
        try:
            size = quantity_bytes(model.get("size", ""))
        except ValueError as exc:
            problems.append(f"{key(where + 'size')}: {exc}")
            size = 0
        pools = model.get("pools")
        targets = list(disks) if pools is None else list(pools)
        if pools is not None and not pools:
            problems.append(f"{key(where + 'pools')}: empty; leave it out for every GPU pool")
        for pool in targets:
            if pool not in disks:
                allowed = ", ".join(sorted(disks)) or "none"
                problems.append(
                    f"{key(where + 'pools')}: {quote(pool)} is not a GPU pool; allowed: {allowed}"
                )
                continue
            used[pool] = used.get(pool, 0) + size
    for pool, total in used.items():
        disk = disks[pool]
        if total > disk * GIB:
            source = f" ({pool_disk_key(pool)})" if pool_disk_key else ""
            problems.append(
                f"{key('models')}: {total / GIB:.1f}Gi of models on pool {pool} exceed the "
                f"{disk}Gi of local disk each of its nodes gives the cache{source}; cache "
                "fewer or smaller models there, or pick a larger machine type"
            )
    return problems


# Local storage by machine type, in GiB (vendor instance pages, as of 2026-12; the
# figures the cloud publishes in GB are rounded down to GiB). A type not listed keeps
# the cache on its root or boot volume.
# EC2 instance store NVMe (the RAID0 of all of them).
AWS_INSTANCE_STORE: Mapping[str, int] = {
    "g4dn.xlarge": 116,
    "g4dn.2xlarge": 209,
    "g4dn.4xlarge": 209,
    "g4dn.8xlarge": 838,
    "g4dn.16xlarge": 838,
    "g4dn.12xlarge": 838,
    "g5.xlarge": 232,
    "g5.2xlarge": 419,
    "g5.4xlarge": 558,
    "g5.8xlarge": 838,
    "g5.16xlarge": 1769,
    "g5.12xlarge": 3539,
    "g5.24xlarge": 3539,
    "g5.48xlarge": 7078,
    "g6.xlarge": 232,
    "g6.2xlarge": 419,
    "g6.4xlarge": 558,
    "g6.8xlarge": 838,
    "g6.16xlarge": 1769,
    "g6.12xlarge": 3501,
    "g6.24xlarge": 3501,
    "g6.48xlarge": 7003,
    "g6e.xlarge": 232,
    "g6e.2xlarge": 419,
    "g6e.4xlarge": 558,
    "g6e.8xlarge": 838,
    "g6e.16xlarge": 1769,
    "g6e.12xlarge": 3539,
    "g6e.24xlarge": 3539,
    "g6e.48xlarge": 7078,
    "p4d.24xlarge": 7450,
    "p5.48xlarge": 28311,
}
# GCE local SSD partitions (375 GB each) the machine type bundles.
GCP_LOCAL_SSDS: Mapping[str, int] = {
    "g2-standard-4": 1,
    "g2-standard-8": 1,
    "g2-standard-12": 1,
    "g2-standard-16": 1,
    "g2-standard-32": 1,
    "g2-standard-24": 2,
    "g2-standard-48": 4,
    "g2-standard-96": 8,
    "a2-ultragpu-1g": 1,
    "a2-ultragpu-2g": 2,
    "a2-ultragpu-4g": 4,
    "a2-ultragpu-8g": 8,
    "a3-highgpu-8g": 16,
    "a3-megagpu-8g": 16,
}
GCP_LOCAL_SSD_GIB = 349
# Azure temporary (resource) disk.
AZURE_TEMP_DISK: Mapping[str, int] = {
    "Standard_NC4as_T4_v3": 180,
    "Standard_NC8as_T4_v3": 360,
    "Standard_NC16as_T4_v3": 360,
    "Standard_NC64as_T4_v3": 2880,
    "Standard_NC24ads_A100_v4": 64,
    "Standard_NC48ads_A100_v4": 128,
    "Standard_NC96ads_A100_v4": 256,
    "Standard_NV36ads_A10_v5": 720,
    "Standard_NV72ads_A10_v5": 1400,
}
# Root or boot volume where no local disk is listed: GKE's GPU pools' boot disk.
GCP_BOOT_DISK_GIB = 200


def local_disk(cloud: str, machine: str, *, root_gib: int | None = None) -> tuple[int, str] | None:
    """GiB a node of `machine` gives the cache, and what that storage is; None if unknown."""
    if cloud == "aws":
        if machine in AWS_INSTANCE_STORE:
            return AWS_INSTANCE_STORE[machine], f"{machine} instance store NVMe"
        if root_gib is not None:
            return root_gib, f"the gp3 root volume of {machine} (no instance store listed)"
        return None
    if cloud == "gcp":
        count = GCP_LOCAL_SSDS.get(machine)
        if count:
            return count * GCP_LOCAL_SSD_GIB, f"{count} local SSD of {machine}"
        return GCP_BOOT_DISK_GIB, f"the boot disk of {machine} (no local SSD bundled)"
    if cloud == "azure" and machine in AZURE_TEMP_DISK:
        return AZURE_TEMP_DISK[machine], f"the temporary disk of {machine}"
    return None
