"""`EksClusterArgs` and the rules `EksCluster` applies to them.

No cloud SDK here: the YAML config layer (config.py) reuses these rules under its
own key names without importing pulumi-aws.
"""

import ipaddress
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi

from gpuplane.components import versions
from gpuplane.components.clusters.contract import ControlPlanePort, GpuPoolSpec, GpuSharing
from gpuplane.components.clusters.endpoint import public_cidr_problem
from gpuplane.components.clusters.pools import (
    NODE_COUNT,
    gpu_pool_problems,
    pools_from_zero,
    system_pool_problems,
)
from gpuplane.components.messages import quote
from gpuplane.components.rules import (
    KeyName,
    choice_problems,
    duration_seconds,
    leaf,
    python_key,
    unknown_keys,
    whole_number_problems,
)


class EksComputeMode(StrEnum):
    """How EKS GPU nodes are provisioned."""

    KARPENTER = "karpenter"
    """Karpenter, installed and run by gpuplane on the system nodes."""
    AUTO = "auto"
    """EKS Auto Mode: AWS runs Karpenter, the NVIDIA driver and its device plugin."""


class EksGpuNodeImage(StrEnum):
    """The image of Karpenter's GPU nodes."""

    AL2023 = "al2023"
    """EKS-optimized Amazon Linux 2023 with the NVIDIA driver."""
    BOTTLEROCKET = "bottlerocket"
    """Bottlerocket's NVIDIA variant (its own device plugin; SOCI and image-cache snapshots)."""


ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SNAPSHOT = re.compile(r"^snap-[0-9a-f]{8,17}$")
IMAGE_VERSION = re.compile(r"^(latest|v?\d[0-9A-Za-z.]*)$")
ZONE_COUNT = (2, 6)
GPU_VOLUME_GIB = (50, 16384)
_WHY_FROM_ZERO = "GPU nodes on EKS are provisioned for pending pods"


class EksClusterArgs(TypedDict):
    """Arguments of `EksCluster`. Defaults are the secure, cheap ones."""

    kubernetes_version: str
    """Kubernetes minor version to create, `1.NN`; one gpuplane pins EKS add-on versions for."""
    admin_role_arns: Sequence[pulumi.Input[str]]
    """IAM roles granted cluster-admin through access entries (nobody else is; the creator
    is not made admin implicitly): include the role `pulumi up` runs as."""
    public_access_cidrs: NotRequired[Sequence[pulumi.Input[str]]]
    """CIDRs allowed to reach the public endpoint (no /0). Default: none, which turns the
    public endpoint off."""
    private_access: NotRequired[bool]
    """Whether the endpoint is reachable from inside the VPC. Default true."""
    compute_mode: NotRequired[EksComputeMode]
    """How GPU nodes are provisioned. Default karpenter."""
    vpc_cidr: NotRequired[str]
    """The VPC's private (RFC 1918) block, /16 to /18; pods take VPC addresses. Default
    10.0.0.0/16."""
    zone_count: NotRequired[int]
    """Availability zones to spread subnets over, 2-6. Default 2."""
    nat_per_zone: NotRequired[bool]
    """One NAT gateway per zone rather than a single one. Default false."""
    system_instance_type: NotRequired[str]
    """Instance type of the on-demand system node group. Default m6i.large."""
    system_min_nodes: NotRequired[int]
    """Least system nodes, 1-100. Default 2."""
    system_max_nodes: NotRequired[int]
    """Most system nodes, 1-100. Default 3."""
    gpu_pools: NotRequired[Sequence[GpuPoolSpec]]
    """GPU pools, each scaling from zero (`min_nodes` must stay 0 on EKS). Default: none."""
    gpu_node_image: NotRequired[EksGpuNodeImage]
    """The image of Karpenter's GPU nodes; only with compute mode karpenter. Default al2023."""
    gpu_node_image_version: NotRequired[str]
    """The image release Karpenter's alias pins (`v20260724`); only with compute mode
    karpenter. Default `latest` (follows AWS)."""
    gpu_volume_gib: NotRequired[int]
    """GiB of encrypted gp3 for images and model caches on each GPU node, 50-16384.
    Default 200."""
    consolidate_after: NotRequired[str]
    """How long a GPU node may stay empty before it is removed. Default `2m`."""
    fast_image_pull: NotRequired[bool]
    """SOCI parallel pull and unpack on Karpenter's GPU nodes. Default true."""
    image_cache_snapshot_id: NotRequired[str]
    """An EBS snapshot of a Bottlerocket data volume with images already pulled; needs
    `gpu_node_image` bottlerocket. Default: none."""
    models_namespace: NotRequired[str]
    """Namespace for InferenceServices; the models bucket's reader identity is bound to
    it. Default `models`."""
    models_service_account: NotRequired[str]
    """ServiceAccount model pods run as (bound to the reader identity). Default `models`."""
    protect: NotRequired[bool]
    """Protect the cluster, its KMS key and the models bucket from deletion. Default false."""
    log_retention_days: NotRequired[pulumi.Input[int]]
    """Days the control plane's logs are kept in CloudWatch. Default 30."""
    tags: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra tags on every AWS resource. Default: none."""
    control_plane_ports: NotRequired[Sequence[ControlPlanePort]]
    """Node ports the control plane calls: webhooks and aggregated APIs (the kubelet's and
    the metrics server's are always open). Default: the serving stack's webhook ports
    (`serving.ports.WEBHOOK_PORTS`); add the jobs' (KEDA's metrics server) when they run."""


def role_arn_problem(arn: str) -> str | None:
    """Why `arn` is not an IAM role ARN, or None."""
    if ROLE_ARN.match(arn):
        return None
    return f"{quote(arn)} is not an IAM role ARN like arn:aws:iam::123456789012:role/admin"


def vpc_cidr_problem(cidr: str) -> str | None:
    """Why `cidr` cannot be the VPC's block, or None."""
    try:
        network = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        return f"not a CIDR block like 10.0.0.0/16 ({str(exc)[:120]})"
    if network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 18:
        return "must be a private IPv4 block from /16 to /18, like 10.0.0.0/16"
    return None


def snapshot_problem(snapshot_id: str) -> str | None:
    """Why `snapshot_id` is not an EBS snapshot id, or None."""
    if SNAPSHOT.match(snapshot_id):
        return None
    return "must be an EBS snapshot id like snap-0123456789abcdef0"


def eks_problems(args: Mapping[str, Any], key: KeyName) -> list[str]:
    """The rules that span EksCluster's inputs (version, admins, compute mode, node image,
    pools), each naming its key through `key`."""
    problems = []
    version = args.get("kubernetes_version")
    if version not in versions.EKS_ADDONS_BY_MINOR:
        problems.append(
            f"{key('kubernetes_version')}: {version} has no pinned EKS add-on versions "
            f"here; allowed on aws: {', '.join(sorted(versions.EKS_ADDONS_BY_MINOR))}"
        )
    if not args.get("admin_role_arns"):
        problems.append(
            f"{key('admin_role_arns')}: required: the IAM role ARN(s) given cluster-admin, "
            "including the role `pulumi up` runs as (the creator is not made admin implicitly)"
        )
    pools: Sequence[GpuPoolSpec] = args.get("gpu_pools", ())
    problems.extend(pools_from_zero(pools, _WHY_FROM_ZERO, key))
    auto = args.get("compute_mode", EksComputeMode.KARPENTER) == EksComputeMode.AUTO
    for i, pool in enumerate(pools):
        if auto and pool.get("sharing", GpuSharing.NONE) != GpuSharing.NONE:
            problems.append(
                f"{key(f'gpu_pools[{i}].sharing')}: EKS Auto Mode runs its own NVIDIA "
                f"device plugin without GPU sharing; allowed with "
                f"{leaf(key, 'compute_mode')} auto: none"
            )
    if auto:
        for name in ("gpu_node_image", "gpu_node_image_version", "image_cache_snapshot_id"):
            if name in args:
                problems.append(
                    f"{key(name)}: EKS Auto Mode manages the node image; only with "
                    f"{leaf(key, 'compute_mode')} karpenter"
                )
    elif (
        "image_cache_snapshot_id" in args
        and args.get("gpu_node_image", EksGpuNodeImage.AL2023) != EksGpuNodeImage.BOTTLEROCKET
    ):
        problems.append(
            f"{key('image_cache_snapshot_id')}: needs {leaf(key, 'gpu_node_image')} "
            "bottlerocket (its data volume holds the container images; AL2023 keeps them on "
            "the root volume)"
        )
    return problems


def eks_cluster_problems(args: EksClusterArgs) -> list[str]:
    """Every rule EksCluster applies to its args, with Python key paths."""
    problems = unknown_keys(args, EksClusterArgs, python_key)
    for name in ("kubernetes_version", "admin_role_arns"):
        if name not in args:
            problems.append(f"{name}: required")
    for i, arn in enumerate(args.get("admin_role_arns", ())):
        if isinstance(arn, str) and (problem := role_arn_problem(arn)) is not None:
            problems.append(f"admin_role_arns[{i}]: {problem}")
    cidrs = [c for c in args.get("public_access_cidrs", ()) if isinstance(c, str)]
    if (problem := public_cidr_problem(cidrs)) is not None:
        problems.append(f"public_access_cidrs: {problem}")
    if not args.get("public_access_cidrs") and args.get("private_access") is False:
        problems.append(
            "private_access: false with no public_access_cidrs, so nothing could reach the "
            "API server; turn one on"
        )
    if "vpc_cidr" in args and (problem := vpc_cidr_problem(args["vpc_cidr"])) is not None:
        problems.append(f"vpc_cidr: {problem}, given {quote(args['vpc_cidr'])}")
    if "compute_mode" in args:
        problems.extend(choice_problems(args["compute_mode"], EksComputeMode, "compute_mode"))
    if "gpu_node_image" in args:
        problems.extend(choice_problems(args["gpu_node_image"], EksGpuNodeImage, "gpu_node_image"))
    version = args.get("gpu_node_image_version")
    if version is not None and not IMAGE_VERSION.match(str(version)):
        problems.append(
            f"gpu_node_image_version: must be latest or a release like v20260724, "
            f"given {quote(version)}"
        )
    problems.extend(whole_number_problems(args, "zone_count", ZONE_COUNT))
    problems.extend(whole_number_problems(args, "gpu_volume_gib", GPU_VOLUME_GIB))
    problems.extend(whole_number_problems(args, "system_min_nodes", NODE_COUNT))
    problems.extend(whole_number_problems(args, "system_max_nodes", NODE_COUNT))
    if "consolidate_after" in args:
        try:
            duration_seconds(args["consolidate_after"])
        except (ValueError, TypeError) as exc:
            problems.append(f"consolidate_after: {exc}")
    snapshot = args.get("image_cache_snapshot_id")
    if snapshot is not None and (problem := snapshot_problem(snapshot)) is not None:
        problems.append(f"image_cache_snapshot_id: {problem}, given {quote(snapshot)}")
    for i, port in enumerate(args.get("control_plane_ports", ())):
        number = port.get("port") if isinstance(port, Mapping) else None
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
            problems.append(
                f"control_plane_ports[{i}].port: must be a TCP port 1-65535, given {quote(number)}"
            )
    problems.extend(
        system_pool_problems(
            "aws",
            args.get("system_instance_type"),
            args.get("system_min_nodes", 2),
            args.get("system_max_nodes", 3),
            python_key,
        )
    )
    problems.extend(eks_problems(args, python_key))
    problems.extend(gpu_pool_problems("aws", args.get("gpu_pools", ()), python_key))
    return problems
