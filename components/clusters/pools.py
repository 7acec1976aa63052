"""Rules on GPU pool specs that every cloud cluster component applies (one rule, one place).

A cluster component runs them on its `gpu_pools` with Python key paths
(`gpu_pools[0].instance_types`); the YAML config layer (config.py) runs the same
functions on `gpuplane:gpuPools` with its own key names.
"""

import re
from collections.abc import Sequence

from gpuplane.components import gpus, machines
from gpuplane.components.clusters.contract import GpuPoolSpec, GpuSharing
from gpuplane.components.messages import did_you_mean, quote
from gpuplane.components.rules import KeyName, leaf

POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
POOL_NAME_RULE = (
    "must be 1-12 lowercase letters and digits, starting with a letter "
    "(the rule that is valid for AKS, GKE and EKS pools alike)"
)
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}$")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?$")
# Label domains a pool may not put on nodes: gpuplane's own, the kubelet's
# (NodeRestriction refuses kubernetes.io and k8s.io self-labels) and Karpenter's.
RESERVED_LABEL_DOMAINS = (
    "gpuplane.dev",
    "kubernetes.io",
    "k8s.io",
    "karpenter.sh",
    "karpenter.k8s.aws",
    "kubernetes.azure.com",
    "karpenter.azure.com",
)
NODE_COUNT = (1, 100)
"""The least and the most nodes of a system node pool."""
SHARING_REPLICAS = (2, 48)
"""Pods per physical GPU when shared: the least and the most."""


def reserved_label_domain(key: str) -> str | None:
    """The reserved domain a label key falls under, or None."""
    if "/" not in key:
        return None
    domain = key.split("/")[0]
    for reserved in RESERVED_LABEL_DOMAINS:
        if domain == reserved or domain.endswith("." + reserved):
            return reserved
    return None


def label_problem(key: str, value: str) -> str | None:
    """Why a node label is not a valid Kubernetes label, or None."""
    if not _LABEL_KEY.match(key):
        return f"label key {quote(key)} is not a valid Kubernetes label key"
    if not _LABEL_VALUE.match(value):
        return f"label value {quote(value)} for {quote(key)} is not a valid label value"
    return None


def gpu_pool_problems(cloud: str, pools: Sequence[GpuPoolSpec], key: KeyName) -> list[str]:
    """What is wrong with a cluster's GPU pool specs on `cloud` (aws, gcp, azure or
    existing), each naming its key (`gpu_pools[0].max_nodes` through `key`)."""
    problems: list[str] = []
    names: set[str] = set()
    for i, pool in enumerate(pools):
        at = f"gpu_pools[{i}]."
        name = pool.get("name")
        if not isinstance(name, str) or not POOL_NAME.match(name):
            problems.append(f"{key(at + 'name')}: {POOL_NAME_RULE} (given {quote(name)})")
        elif name in names:
            problems.append(
                f"{key(at + 'name')}: {name!r} is used by another pool; names must be unique"
            )
        names.add(str(name))
        low, high = pool.get("min_nodes", 0), pool.get("max_nodes", 1)
        if low > high:
            problems.append(
                f"{key(at + 'min_nodes')}: {low} is above {leaf(key, at + 'max_nodes')} "
                f"{high}; {leaf(key, at + 'min_nodes')} must be <= {leaf(key, at + 'max_nodes')}"
            )
        problems.extend(_sharing_problems(pool, at, key))
        for label, value in pool.get("labels", {}).items():
            problem = label_problem(label, value)
            if problem is not None:
                problems.append(f"{key(at + 'labels')}: {problem}")
        if cloud != "existing":
            problems.extend(machine_type_problems(cloud, pool, at, key))
            for label in pool.get("labels", {}):
                reserved = reserved_label_domain(label)
                if reserved is not None:
                    problems.append(
                        f"{key(at + 'labels')}: {quote(label)} is under the reserved domain "
                        f"{reserved} (gpuplane, the kubelet, Karpenter or AKS sets those); use "
                        "your own prefix"
                    )
    return problems


def _sharing_problems(pool: GpuPoolSpec, at: str, key: KeyName) -> list[str]:
    given = pool.get("sharing", GpuSharing.NONE)
    if given not in [s.value for s in GpuSharing]:
        allowed = ", ".join(s.value for s in GpuSharing)
        return [f"{key(at + 'sharing')}: given {quote(given)}; allowed: {allowed}"]
    strategy = GpuSharing(given)
    replicas = pool.get("sharing_replicas")
    strategy_name = leaf(key, at + "sharing")
    if strategy != GpuSharing.NONE and replicas is None:
        return [f"{key(at + 'sharing_replicas')}: required when {strategy_name} is {strategy}"]
    if strategy == GpuSharing.NONE and replicas is not None:
        return [f"{key(at + 'sharing_replicas')}: only with {strategy_name} time-slicing or mps"]
    low, high = SHARING_REPLICAS
    if replicas is not None and not low <= replicas <= high:
        return [f"{key(at + 'sharing_replicas')}: must be {low}-{high}, given {replicas}"]
    return []


def machine_type_problems(cloud: str, pool: GpuPoolSpec, at: str, key: KeyName) -> list[str]:
    """A pool's machine types: known on `cloud`, carrying (or taking) an NVIDIA GPU that
    agrees with `accelerator` and `accelerator_count`."""
    types = list(pool.get("instance_types", ()))
    if not types:
        return [f"{key(at + 'instance_types')}: required: at least one GPU machine type"]
    problems = []
    if cloud in ("gcp", "azure") and len(types) > 1:
        problems.append(
            f"{key(at + 'instance_types')}: a {'GKE' if cloud == 'gcp' else 'AKS'} node pool "
            f"takes exactly one machine type, given {len(types)}; make one pool each"
        )
    accelerator = pool.get("accelerator")
    count = pool.get("accelerator_count")
    for j, machine in enumerate(types):
        where = key(f"{at}instance_types[{j}]")
        gpu = gpus.implied_gpu(cloud, machine)
        if gpu is not None:
            if accelerator is not None and accelerator != gpu.accelerator:
                problems.append(
                    f"{key(at + 'accelerator')}: {machine} carries {gpu.accelerator}, given "
                    f"{quote(accelerator)}; leave it unset or set {gpu.accelerator}"
                )
            if count is not None and count != gpu.count:
                problems.append(
                    f"{key(at + 'accelerator_count')}: {machine} carries {gpu.count} GPU(s), "
                    f"given {count}; leave it unset or set {gpu.count}"
                )
        elif gpus.takes_attached_gpu(cloud, machine):
            allowed = ", ".join(gpus.N1_ACCELERATORS)
            if accelerator is None:
                problems.append(
                    f"{key(at + 'accelerator')}: required for {machine} (N1 machines carry no "
                    f"GPU of their own); allowed: {allowed}"
                )
            elif accelerator not in gpus.N1_ACCELERATORS:
                hint = did_you_mean(accelerator, gpus.N1_ACCELERATORS)
                problems.append(
                    f"{key(at + 'accelerator')}: {quote(accelerator)} cannot be attached to "
                    f"{machine}{hint}; allowed: {allowed}"
                )
            else:
                counts = gpus.N1_ACCELERATORS[accelerator]
                if (count or 1) not in counts:
                    problems.append(
                        f"{key(at + 'accelerator_count')}: {accelerator} attaches in counts of "
                        f"{', '.join(map(str, counts))}, given {count}"
                    )
        elif (unknown := machines.unknown_machine(cloud, machine)) is not None:
            near = machines.catalogue(cloud).near(machine)
            if near is None or gpus.implied_gpu(cloud, near) is None:
                unknown += f"; GPU machine types there: {', '.join(gpus.families(cloud))}"
            problems.append(f"{where}: {quote(machine)} is {unknown}")
        else:
            problems.append(
                f"{where}: {quote(machine)} has no NVIDIA GPU on {cloud}; GPU machine types "
                f"gpuplane knows there: {', '.join(gpus.families(cloud))}"
            )
    return problems


def pools_from_zero(pools: Sequence[GpuPoolSpec], why: str, key: KeyName) -> list[str]:
    """Where capacity follows pending pods, a GPU pool keeps no minimum."""
    return [
        f"{key(f'gpu_pools[{i}].min_nodes')}: {why} and keep no minimum, so only 0 is "
        f"allowed, given {pool['min_nodes']}; keep a model warm with minReplicas on its "
        "InferenceService instead"
        for i, pool in enumerate(pools)
        if pool.get("min_nodes")
    ]


def system_pool_problems(
    cloud: str, instance_type: str | None, min_nodes: int, max_nodes: int, key: KeyName
) -> list[str]:
    """The system node group: a known instance type and min <= max (`key` names
    `system_instance_type`, `system_min_nodes` and `system_max_nodes`)."""
    problems = []
    if min_nodes > max_nodes:
        low, high = leaf(key, "system_min_nodes"), leaf(key, "system_max_nodes")
        problems.append(
            f"{key('system_min_nodes')}: {min_nodes} is above {high} {max_nodes}; "
            f"{low} must be <= {high}"
        )
    if instance_type is not None:
        unknown = machines.unknown_machine(cloud, instance_type)
        if unknown is not None:
            problems.append(f"{key('system_instance_type')}: {quote(instance_type)} is {unknown}")
    return problems
