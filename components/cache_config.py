"""`gpuplane:models.cache`: which models the GPU pools' nodes keep on local disk.

The keys map onto `ModelCacheSettings` (components/serving/cache_settings.py) and are
checked by the same rules `ServingStack` applies, named as stack-file keys here; this
module adds what only the stack file knows: each pool's machine types, hence its local
disk, and the node image the cloud section picks.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, StrictBool
from pydantic.alias_generators import to_camel

from gpuplane.components.messages import quote
from gpuplane.components.rules import camel_key
from gpuplane.components.serving.cache_settings import (
    GIB,
    NODE_LABEL,
    CachedModel,
    ModelCacheSettings,
    local_disk,
    model_cache_problems,
    quantity_bytes,
)

if TYPE_CHECKING:
    from gpuplane.components.config import GpuPoolConfig, PlatformConfig

KEY = "gpuplane:models.cache"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class CachedModelConfig(_Model):
    """One model the GPU pools' nodes keep on local disk."""

    name: str
    """1-40 lowercase letters, digits and dashes."""
    storage_uri: str
    """A path inside the models bucket (`llama3-8b/`); a full URI on an existing cluster."""
    size: str
    """Its size on disk, a Kubernetes quantity (`20Gi`)."""
    pools: tuple[str, ...] | None = None
    """GPU pools whose nodes keep it (default: every GPU pool)."""


class ModelCacheConfig(_Model):
    """KServe's node-local model cache."""

    enabled: StrictBool = True
    """Turn the cache off while keeping the list."""
    models: tuple[CachedModelConfig, ...] = ()
    """The models to cache; none (the default) installs nothing."""
    node_disk_size: str | None = None
    """Local storage each node of a cached pool gives the cache (`300Gi`); default: what
    the machine type offers (gpuplane's table), required on existing clusters."""


class ModelsConfig(_Model):
    """Model storage beside the serving stack (`gpuplane:models`)."""

    cache: ModelCacheConfig = ModelCacheConfig()


def cache_on(cfg: "PlatformConfig") -> bool:
    cache = cfg.models.cache
    return cache.enabled and bool(cache.models)


def node_os(cfg: "PlatformConfig") -> str:
    """The GPU nodes' image the cloud section picks (the Cluster contract's gpu_node_os)."""
    if cfg.cloud == "aws":
        aws = cfg.aws
        if aws is not None and aws.compute_mode == "auto":
            return "eks-auto"
        return aws.gpu_node_image if aws is not None else "al2023"
    if cfg.cloud == "gcp":
        return "gke-autopilot" if cfg.gcp is not None and cfg.gcp.mode == "autopilot" else "cos"
    if cfg.cloud == "azure":
        return "ubuntu"
    return "unknown"


def cached_pools(cfg: "PlatformConfig") -> list[str]:
    """The GPU pools keeping at least one model, in pool order."""
    if not cache_on(cfg):
        return []
    names = [p.name for p in cfg.gpu_pools]
    wanted: set[str] = set()
    for model in cfg.models.cache.models:
        wanted.update(names if model.pools is None else model.pools)
    return [n for n in names if n in wanted]


def pool_disk(cfg: "PlatformConfig", pool: "GpuPoolConfig") -> tuple[int, str] | None:
    """GiB of local disk a node of `pool` gives the cache, and where that comes from."""
    given = cfg.models.cache.node_disk_size
    if given is not None:
        return quantity_bytes(given) // GIB, f"{KEY}.nodeDiskSize"
    root = cfg.aws.gpu_volume_size if cfg.aws is not None else None
    disks = [local_disk(cfg.cloud, machine, root_gib=root) for machine in pool.instance_types]
    if not disks or any(d is None for d in disks):
        return None
    # Karpenter may pick any of the pool's types: the smallest disk bounds the cache.
    return min((d for d in disks if d is not None), key=lambda d: d[0])


def node_labels(cfg: "PlatformConfig", pool: "GpuPoolConfig") -> dict[str, str]:
    """The pool's node labels, with the label the cache agent selects where it keeps the
    cache (the cluster modules put them on the nodes)."""
    labels = dict(pool.labels)
    if pool.name in cached_pools(cfg):
        labels[NODE_LABEL[0]] = NODE_LABEL[1]
    return labels


def _models(cfg: "PlatformConfig") -> list[CachedModel]:
    models = []
    for model in cfg.models.cache.models:
        item = CachedModel(name=model.name, storage_uri=model.storage_uri, size=model.size)
        if model.pools is not None:
            item["pools"] = list(model.pools)
        models.append(item)
    return models


def model_cache_settings(cfg: "PlatformConfig") -> ModelCacheSettings | None:
    """The serving stack's `model_cache` arg, or None while the cache is off."""
    if not cache_on(cfg):
        return None
    pools = {p.name: p for p in cfg.gpu_pools}
    disks: dict[str, int] = {}
    for name in cached_pools(cfg):
        disk = pool_disk(cfg, pools[name])
        assert disk is not None  # check_model_cache requires it
        disks[name] = disk[0]
    return ModelCacheSettings(models=_models(cfg), pool_disks=disks)


def check_model_cache(cfg: "PlatformConfig") -> list[str]:
    """Every problem of `gpuplane:models.cache`, named by key path."""
    cache = cfg.models.cache
    if not cache_on(cfg):
        return []
    key = camel_key(f"{KEY}.")
    problems: list[str] = []
    if cache.node_disk_size is not None:
        try:
            quantity_bytes(cache.node_disk_size)
        except ValueError as exc:
            return [f"{KEY}.nodeDiskSize: {exc}"]
    where: dict[str, int] = {p.name: i for i, p in enumerate(cfg.gpu_pools)}
    disks: dict[str, int] = {}
    sources: dict[str, str] = {}
    for name in cached_pools(cfg):
        pool = cfg.gpu_pools[where[name]]
        disk = pool_disk(cfg, pool)
        if disk is None:
            problems.append(
                f"{KEY}.nodeDiskSize: required: the local disk of pool {name} "
                f"({', '.join(pool.instance_types) or 'an existing cluster'}) is not in "
                "gpuplane's table (components/serving/cache_settings.py); give the size "
                "each node offers the cache, like 300Gi"
            )
            continue
        disks[name], sources[name] = disk
        if cfg.cloud == "existing" and pool.labels.get(NODE_LABEL[0]) != NODE_LABEL[1]:
            problems.append(
                f"gpuplane:gpuPools[{where[name]}].labels: must include "
                f"{NODE_LABEL[0]}: {NODE_LABEL[1]} to keep the model cache (KServe's agent "
                "selects nodes by it, and gpuplane does not label nodes it does not manage): "
                f"label the pool's nodes and list it here; given {quote(dict(pool.labels))}"
            )
    settings = ModelCacheSettings(models=_models(cfg), pool_disks=_all_pools(cfg, disks))
    if cfg.cloud == "azure" and cfg.kubernetes_minor < 36:
        problems.append(
            f"{KEY}: on AKS needs gpuplane:cluster.kubernetesVersion 1.36+ (a "
            "MutatingAdmissionPolicy labels the download jobs for workload identity); "
            f"given {cfg.cluster.kubernetes_version}"
        )
    problems += model_cache_problems(
        settings,
        node_os=node_os(cfg),
        bucket=cfg.cloud != "existing",
        key=lambda path: key(path).rstrip("."),
        pool_disk_key=lambda pool: sources.get(pool, ""),
    )
    return problems


def _all_pools(cfg: "PlatformConfig", disks: Mapping[str, int]) -> dict[str, Any]:
    """Every GPU pool with its disk: a pool whose disk is unknown (already reported) counts
    as large enough, so it is not reported twice."""
    return {p.name: disks.get(p.name, 2**40) for p in cfg.gpu_pools}
