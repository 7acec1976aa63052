"""GPU capacity through EKS Auto Mode: AWS runs Karpenter, the NVIDIA driver and
device plugin; gpuplane gives it a NodeClass and a NodePool per GPU pool.

Auto Mode's built-in node pools stay off: system pods run on the managed node
group, so its nodes keep the same launch template rules in both modes.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.aws_iam import cluster_access
from gpuplane.components.clusters.aws_network import DISCOVERY_TAG
from gpuplane.components.clusters.contract import GpuPool
from gpuplane.components.clusters.karpenter import NodeClassKind, gpu_node_pools
from gpuplane.components.extras import missing_extra

try:
    import pulumi_aws as aws
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.aws_auto") from None

NODE_CLASS = NodeClassKind("eks.amazonaws.com/v1", "NodeClass")
AUTO_NODE_POLICY = "AmazonEKSAutoNodePolicy"


def node_class_spec(
    *,
    cluster_name: str,
    node_role: pulumi.Input[str],
    volume_gib: int,
    tags: Mapping[str, pulumi.Input[str]],
) -> dict[str, Any]:
    """An Auto Mode NodeClass on the private subnets and the node security group."""
    return {
        "role": node_role,
        "subnetSelectorTerms": [{"tags": {DISCOVERY_TAG: cluster_name}}],
        "securityGroupSelectorTerms": [{"tags": {DISCOVERY_TAG: cluster_name}}],
        # Images and model caches: Auto Mode always encrypts this volume.
        "ephemeralStorage": {"size": f"{volume_gib}Gi", "iops": 3000, "throughput": 600},
        "networkPolicy": "DefaultAllow",
        "tags": dict(tags),
    }


def gpu_capacity(
    name: str,
    *,
    pools: Sequence[GpuPool],
    instance_types: Mapping[str, Sequence[str]],
    labels: Mapping[str, Mapping[str, str]],
    cluster: aws.eks.Cluster,
    cluster_name: str,
    node_role: aws.iam.Role,
    partition: pulumi.Input[str],
    volume_gib: int,
    consolidate_after: str,
    tags: Mapping[str, pulumi.Input[str]],
    provider: k8s.Provider,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> list[k8s.apiextensions.CustomResource]:
    """The node role's access entry (type EC2), then a NodeClass and NodePool per pool."""
    access = cluster_access(
        f"{name}-auto-node",
        cluster_name=cluster.name,
        principal_arn=node_role.arn,
        entry_type="EC2",
        policy=AUTO_NODE_POLICY,
        partition=partition,
        tags=tags,
        parent=parent,
    )
    return gpu_node_pools(
        name,
        pools=pools,
        instance_types=instance_types,
        labels=labels,
        node_class=NODE_CLASS,
        node_class_spec=lambda pool: node_class_spec(
            cluster_name=cluster_name,
            node_role=node_role.name,
            volume_gib=volume_gib,
            tags={**tags, "Name": f"{cluster_name}-gpu-{pool.name}"},
        ),
        consolidate_after=consolidate_after,
        provider=provider,
        parent=parent,
        depends_on=[*depends_on, *access],
    )
