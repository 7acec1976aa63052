"""`GkeClusterArgs` and the rules `GkeCluster` applies to them.

No cloud SDK here: the YAML config layer (config.py) reuses these rules under its
own key names without importing pulumi-gcp.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from gpuplane.components.clusters.cidrs import range_problems
from gpuplane.components.clusters.contract import ControlPlanePort, GpuPoolSpec
from gpuplane.components.clusters.endpoint import public_cidr_problem
from gpuplane.components.clusters.pools import (
    NODE_COUNT,
    gpu_pool_problems,
    pools_from_zero,
    system_pool_problems,
)
from gpuplane.components.rules import (
    KeyName,
    choice_problems,
    leaf,
    python_key,
    unknown_keys,
    whole_number_problems,
)


class GkeMode(StrEnum):
    """Who makes a GKE cluster's nodes."""

    STANDARD = "standard"
    """Node pools gpuplane creates: a system pool and one per GPU pool."""
    AUTOPILOT = "autopilot"
    """GKE provisions nodes per pod, GPUs by node selector; no node pools."""


class GkeReleaseChannel(StrEnum):
    """The GKE release channel that upgrades the control plane and nodes."""

    RAPID = "RAPID"
    """Newest versions first."""
    REGULAR = "REGULAR"
    """Versions after they have been on RAPID for a while."""
    STABLE = "STABLE"
    """Versions after they have been on REGULAR for a while."""


CIDR_BOUNDS: Mapping[str, tuple[int, int]] = {
    "subnet_cidr": (8, 24),
    "pods_cidr": (8, 21),
    "services_cidr": (8, 24),
    "master_cidr": (28, 28),
}
"""The prefix lengths each range may take."""
CIDR_DEFAULTS: Mapping[str, str] = {
    "subnet_cidr": "10.10.0.0/20",
    "pods_cidr": "10.16.0.0/14",
    "services_cidr": "10.20.0.0/20",
    "master_cidr": "172.16.0.16/28",
}
SYSTEM_KEYS = ("system_machine_type", "system_min_nodes", "system_max_nodes")
_WHY_FROM_ZERO = "Autopilot provisions GPU nodes for pending pods"


class GkeClusterArgs(TypedDict):
    """Arguments of `GkeCluster`. Defaults are the secure, cheap ones."""

    project: str
    """The Google Cloud project the cluster and everything beside it live in."""
    region: str
    """The region (`us-central1`); a zonal cluster takes its first zone."""
    kubernetes_version: str
    """The least Kubernetes minor version the control plane runs, `1.NN`."""
    authorized_cidrs: NotRequired[Sequence[pulumi.Input[str]]]
    """CIDRs allowed to reach the public endpoint. Default: none, which makes the
    endpoint private (reachable from the VPC only)."""
    mode: NotRequired[GkeMode]
    """Standard (node pools gpuplane creates) or Autopilot. Default standard."""
    regional: NotRequired[bool]
    """A regional control plane and nodes in every zone, rather than one zone.
    Default false."""
    release_channel: NotRequired[GkeReleaseChannel]
    """The release channel that upgrades the cluster. Default REGULAR."""
    subnet_cidr: NotRequired[str]
    """Node addresses, a private /8 to /24. Default 10.10.0.0/20."""
    pods_cidr: NotRequired[str]
    """The pods' secondary range, a private /8 to /21. Default 10.16.0.0/14."""
    services_cidr: NotRequired[str]
    """The Services' secondary range, a private /8 to /24. Default 10.20.0.0/20."""
    master_cidr: NotRequired[str]
    """The control plane's private /28, the source of its calls to webhooks on nodes.
    Default 172.16.0.16/28."""
    system_machine_type: NotRequired[str]
    """Machine type of the on-demand system pool (Standard only). Default e2-standard-4."""
    system_min_nodes: NotRequired[int]
    """Least system nodes (Standard only). Default 2."""
    system_max_nodes: NotRequired[int]
    """Most system nodes (Standard only). Default 3."""
    gpu_pools: NotRequired[Sequence[GpuPoolSpec]]
    """GPU pools: one machine type each; N1 machines need `accelerator`. Standard makes a
    node pool each, Autopilot a node selector (`min_nodes` must stay 0). Default: none."""
    node_auto_provisioning: NotRequired[bool]
    """Standard only: let GKE create node pools too, its GPUs capped by the pools'
    totals. Default false."""
    models_namespace: NotRequired[str]
    """Namespace for InferenceServices; the models bucket's reader is bound to it.
    Default `models`."""
    models_service_account: NotRequired[str]
    """ServiceAccount model pods run as (bound to the reader). Default `models`."""
    protect: NotRequired[bool]
    """Protect the cluster, its KMS key ring and key and the models bucket from
    deletion. Default false."""
    labels: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra labels on every Google Cloud resource that takes them. Default: none."""
    control_plane_ports: NotRequired[Sequence[ControlPlanePort]]
    """Node ports the control plane calls beyond GKE's own (443, 10250): webhooks and
    aggregated APIs. Default: the serving stack's webhook ports
    (`serving.ports.WEBHOOK_PORTS`); add the jobs' (KEDA's metrics server) when they run."""


def gke_problems(args: Mapping[str, Any], key: KeyName) -> list[str]:
    """The rules that span GkeCluster's inputs (ranges, mode, pools), each naming its key
    through `key`; `args` holds only what the caller sets."""
    ranges = {name: args[name] for name in CIDR_BOUNDS if name in args}
    problems = range_problems(ranges, CIDR_DEFAULTS, CIDR_BOUNDS, key)
    if args.get("mode", GkeMode.STANDARD) != GkeMode.AUTOPILOT:
        return problems
    for name in SYSTEM_KEYS:
        if name in args:
            problems.append(
                f"{key(name)}: has no effect in Autopilot (GKE sizes nodes per pod); remove it"
            )
    if args.get("node_auto_provisioning"):
        mode = leaf(key, "mode")
        problems.append(
            f"{key('node_auto_provisioning')}: Autopilot always provisions nodes; "
            f"only with {mode} standard"
        )
    problems.extend(pools_from_zero(args.get("gpu_pools", ()), _WHY_FROM_ZERO, key))
    return problems


def gke_cluster_problems(args: GkeClusterArgs) -> list[str]:
    """Every rule GkeCluster applies to its args, with Python key paths."""
    problems = unknown_keys(args, GkeClusterArgs, python_key)
    for name in ("project", "region", "kubernetes_version"):
        if not args.get(name):
            problems.append(f"{name}: required")
    cidrs = [c for c in args.get("authorized_cidrs", ()) if isinstance(c, str)]
    if (problem := public_cidr_problem(cidrs)) is not None:
        problems.append(f"authorized_cidrs: {problem}")
    if "mode" in args:
        problems.extend(choice_problems(args["mode"], GkeMode, "mode"))
    if "release_channel" in args:
        problems.extend(
            choice_problems(args["release_channel"], GkeReleaseChannel, "release_channel")
        )
    for name in SYSTEM_KEYS[1:]:
        problems.extend(whole_number_problems(args, name, NODE_COUNT))
    problems.extend(
        system_pool_problems(
            "gcp",
            args.get("system_machine_type"),
            args.get("system_min_nodes", 2),
            args.get("system_max_nodes", 3),
            python_key,
        )
    )
    problems.extend(gke_problems(args, python_key))
    problems.extend(gpu_pool_problems("gcp", args.get("gpu_pools", ()), python_key))
    return problems
