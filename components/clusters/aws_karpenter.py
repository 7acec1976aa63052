"""GPU capacity through Karpenter (1.14): what AWS needs and what the cluster runs.

AWS side, as upstream's getting-started CloudFormation template for v1.14.1
builds it: the node role with an EC2_LINUX access entry, the interruption queue
and the EventBridge rules that feed it, and the controller role (assumed through
EKS Pod Identity) with the same scoped statements.

Cluster side: the karpenter-crd and karpenter charts in kube-system (Karpenter
1.14 has no webhooks) and the EC2NodeClass spec; the NodePools themselves are
built by `components.clusters.karpenter`.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.aws_iam import (
    NODE_POLICIES,
    pod_identity_trust,
    policy_document,
    role,
    trust_policy,
)
from gpuplane.components.clusters.aws_network import DISCOVERY_TAG
from gpuplane.components.clusters.contract import GpuPool
from gpuplane.components.clusters.karpenter import NodeClassKind
from gpuplane.components.extras import missing_extra
from gpuplane.components.serving.common import release

try:
    import pulumi_aws as aws
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.aws_karpenter") from None

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"

# EventBridge detail types Karpenter handles (CloudFormation v1.14.1).
INTERRUPTION_EVENTS: Mapping[str, tuple[str, str]] = {
    "health": ("aws.health", "AWS Health Event"),
    "spot": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state": ("aws.ec2", "EC2 Instance State-change Notification"),
    "reservation": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
}


@dataclass(frozen=True)
class AwsContext:
    """Account facts every ARN needs."""

    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    account: pulumi.Output[str]


def _arn(ctx: AwsContext, service: str, resource: str, *, region: bool, account: bool) -> Any:
    return pulumi.Output.concat(
        "arn:",
        ctx.partition,
        f":{service}:",
        ctx.region if region else "",
        ":",
        ctx.account if account else "",
        ":",
        resource,
    )


def controller_statements(
    ctx: AwsContext,
    *,
    cluster_name: str,
    node_role_arn: pulumi.Input[str],
    queue_arn: pulumi.Input[str],
) -> dict[str, list[dict[str, Any]]]:
    """The controller's grants, grouped as upstream's managed policies are."""
    owned = f"kubernetes.io/cluster/{cluster_name}"

    def ec2(resource: str, *, any_account: bool = True) -> Any:
        account = "*" if any_account else ""
        return pulumi.Output.concat(
            "arn:", ctx.partition, ":ec2:", ctx.region, f":{account}:", resource
        )

    tagged = [
        ec2(r)
        for r in (
            "fleet/*",
            "instance/*",
            "volume/*",
            "network-interface/*",
            "launch-template/*",
            "spot-instances-request/*",
        )
    ]
    request_tags = {
        f"aws:RequestTag/{owned}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster_name,
    }
    profile = _arn(ctx, "iam", "instance-profile/*", region=False, account=True)
    cluster_arn = _arn(ctx, "eks", f"cluster/{cluster_name}", region=True, account=True)
    return {
        "node-lifecycle": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    ec2("image/*", any_account=False),
                    ec2("snapshot/*", any_account=False),
                    ec2("security-group/*"),
                    ec2("subnet/*"),
                    ec2("capacity-reservation/*"),
                    ec2("placement-group/*"),
                ],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": ec2("launch-template/*"),
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": tagged,
                "Condition": {
                    "StringEquals": request_tags,
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": tagged,
                "Condition": {
                    "StringEquals": {
                        **request_tags,
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                    "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": ec2("instance/*"),
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [ec2("instance/*"), ec2("launch-template/*")],
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
        ],
        "iam-integration": [
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": node_role_arn,
                "Condition": {
                    "StringEquals": {
                        "iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]
                    }
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileCreationActions",
                "Effect": "Allow",
                "Action": "iam:CreateInstanceProfile",
                "Resource": profile,
                "Condition": {
                    "StringEquals": {
                        **request_tags,
                        "aws:RequestTag/topology.kubernetes.io/region": ctx.region,
                    },
                    "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileTagActions",
                "Effect": "Allow",
                "Action": "iam:TagInstanceProfile",
                "Resource": profile,
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/{owned}": "owned",
                        "aws:ResourceTag/topology.kubernetes.io/region": ctx.region,
                        **request_tags,
                        "aws:RequestTag/topology.kubernetes.io/region": ctx.region,
                    },
                    "StringLike": {
                        "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                        "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    },
                },
            },
            {
                "Sid": "AllowScopedInstanceProfileActions",
                "Effect": "Allow",
                "Action": [
                    "iam:AddRoleToInstanceProfile",
                    "iam:RemoveRoleFromInstanceProfile",
                    "iam:DeleteInstanceProfile",
                ],
                "Resource": profile,
                "Condition": {
                    "StringEquals": {
                        f"aws:ResourceTag/{owned}": "owned",
                        "aws:ResourceTag/topology.kubernetes.io/region": ctx.region,
                    },
                    "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
                },
            },
        ],
        "eks-integration": [
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": cluster_arn,
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
        ],
        "resource-discovery": [
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeCapacityReservations",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus",
                    "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates",
                    "ec2:DescribePlacementGroups",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeSubnets",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": ctx.region}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": _arn(ctx, "ssm", "parameter/aws/service/*", region=True, account=False),
            },
            {
                "Sid": "AllowPricingReadActions",
                "Effect": "Allow",
                "Action": "pricing:GetProducts",
                "Resource": "*",
            },
            {
                "Sid": "AllowUnscopedInstanceProfileListAction",
                "Effect": "Allow",
                "Action": "iam:ListInstanceProfiles",
                "Resource": "*",
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Action": "iam:GetInstanceProfile",
                "Resource": profile,
            },
        ],
    }


@dataclass(frozen=True)
class KarpenterAws:
    """The AWS resources Karpenter needs, before its chart is installed."""

    node_role: aws.iam.Role
    queue: aws.sqs.Queue
    ready: Sequence[pulumi.Resource]
    """Grants, access entry, pod identity and rules: the chart waits for them."""


def karpenter_aws(
    name: str,
    *,
    ctx: AwsContext,
    cluster: aws.eks.Cluster,
    cluster_name: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> KarpenterAws:
    """Node role, interruption queue and rules, controller role and its Pod Identity."""
    child = pulumi.ResourceOptions(parent=parent)
    node_role, node_grants = role(
        f"{name}-karpenter-node",
        trust=trust_policy("ec2.amazonaws.com"),
        description=f"Nodes Karpenter launches for EKS cluster {cluster_name}",
        partition=ctx.partition,
        managed=NODE_POLICIES,
        tags=tags,
        parent=parent,
    )
    node_access = aws.eks.AccessEntry(
        f"{name}-karpenter-node",
        cluster_name=cluster.name,
        principal_arn=node_role.arn,
        type="EC2_LINUX",
        tags=dict(tags),
        opts=child,
    )
    queue = aws.sqs.Queue(
        f"{name}-karpenter-interruption",
        name=f"{cluster_name}-karpenter",
        message_retention_seconds=300,
        sqs_managed_sse_enabled=True,
        tags=dict(tags),
        opts=child,
    )
    queue_policy = aws.sqs.QueuePolicy(
        f"{name}-karpenter-interruption",
        queue_url=queue.url,
        policy=policy_document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                },
                {
                    "Sid": "DenyHTTP",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue.arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ]
        ),
        opts=child,
    )
    rules: list[pulumi.Resource] = [queue_policy]
    for key, (source, detail_type) in INTERRUPTION_EVENTS.items():
        rule = aws.cloudwatch.EventRule(
            f"{name}-karpenter-{key}",
            description=f"{detail_type} -> Karpenter ({cluster_name})",
            event_pattern=json.dumps({"source": [source], "detail-type": [detail_type]}),
            tags=dict(tags),
            opts=child,
        )
        rules.append(
            aws.cloudwatch.EventTarget(
                f"{name}-karpenter-{key}",
                rule=rule.name,
                target_id="KarpenterInterruptionQueueTarget",
                arn=queue.arn,
                opts=child,
            )
        )
    statements = controller_statements(
        ctx, cluster_name=cluster_name, node_role_arn=node_role.arn, queue_arn=queue.arn
    )
    controller, controller_grants = role(
        f"{name}-karpenter-controller",
        trust=pod_identity_trust(cluster_name, NAMESPACE, [SERVICE_ACCOUNT]),
        description=f"Karpenter controller of EKS cluster {cluster_name} (Pod Identity)",
        partition=ctx.partition,
        inline={group: policy_document(s) for group, s in statements.items()},
        tags=tags,
        parent=parent,
    )
    identity = aws.eks.PodIdentityAssociation(
        f"{name}-karpenter",
        cluster_name=cluster.name,
        namespace=NAMESPACE,
        service_account=SERVICE_ACCOUNT,
        role_arn=controller.arn,
        tags=dict(tags),
        opts=child,
    )
    return KarpenterAws(
        node_role=node_role,
        queue=queue,
        ready=[*node_grants, node_access, *rules, *controller_grants, identity],
    )


def node_class_spec(
    pool: GpuPool,
    *,
    cluster_name: str,
    node_role: pulumi.Input[str],
    image: str,
    image_version: str,
    volume_gib: int,
    snapshot_id: str | None,
    fast_image_pull: bool,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """EC2NodeClass for one GPU pool: NVIDIA image variant, IMDSv2, encrypted gp3."""
    volume: dict[str, Any] = {
        "volumeSize": f"{volume_gib}Gi",
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
        # SOCI parallel pull wants >= 600 MiB/s; gp3 gives 3000 IOPS free.
        "iops": 3000,
        "throughput": 600,
    }
    if image == "bottlerocket":
        # Bottlerocket keeps images on its data volume, which may start from a
        # snapshot with the inference images already pulled.
        data = {**volume, **({"snapshotID": snapshot_id} if snapshot_id else {})}
        devices = [
            {
                "deviceName": "/dev/xvda",
                "rootVolume": True,
                "ebs": {"volumeSize": "4Gi", "volumeType": "gp3", "encrypted": True},
            },
            {"deviceName": "/dev/xvdb", "ebs": data},
        ]
    else:
        devices = [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": volume}]
    spec: dict[str, Any] = {
        # The alias picks the NVIDIA variant for instance types with GPUs.
        "amiSelectorTerms": [{"alias": f"{image}@{image_version}"}],
        "role": node_role,
        "subnetSelectorTerms": [{"tags": {DISCOVERY_TAG: cluster_name}}],
        "securityGroupSelectorTerms": [{"tags": {DISCOVERY_TAG: cluster_name}}],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "associatePublicIPAddress": False,
        "blockDeviceMappings": devices,
        "tags": dict(tags),
    }
    if image == "al2023":
        # The instance store's NVMe (g4dn, g5, g6, g6e, p4d, p5), striped and mounted at
        # /mnt/k8s-disks/0 by nodeadm, holds the kubelet's and containerd's data and the
        # node-local model cache; types without instance store keep the gp3 volume.
        spec["instanceStorePolicy"] = "RAID0"
    user_data = (
        bottlerocket_settings(pool, fast_image_pull)
        if image == "bottlerocket"
        else al2023_node_config(fast_image_pull)
    )
    if user_data:
        spec["userData"] = user_data
    return spec


def bottlerocket_settings(pool: GpuPool, fast_image_pull: bool) -> str:
    """Bottlerocket TOML: SOCI parallel pull (1.44+) and its built-in device plugin's sharing."""
    lines = []
    if fast_image_pull:
        lines += ["[settings.container-runtime]", 'snapshotter = "soci"', ""]
    if pool.sharing != "none":
        lines += [
            "[settings.kubelet-device-plugins.nvidia]",
            f'device-sharing-strategy = "{pool.sharing}"',
            "",
            f"[settings.kubelet-device-plugins.nvidia.{pool.sharing}]",
            f"replicas = {pool.sharing_replicas}",
            # Keep advertising nvidia.com/gpu, which is what model pods request.
            "rename-by-default = false",
            "",
        ]
    return "\n".join(lines)


def al2023_node_config(fast_image_pull: bool) -> str:
    """A nodeadm NodeConfig part Karpenter merges with its own (AMI v20250821+)."""
    if not fast_image_pull:
        return ""
    return (
        "apiVersion: node.eks.aws/v1alpha1\n"
        "kind: NodeConfig\n"
        "spec:\n"
        "  featureGates:\n"
        "    FastImagePull: true\n"
    )


def karpenter_charts(
    name: str,
    *,
    cluster_name: str,
    queue_name: pulumi.Input[str],
    region: pulumi.Input[str],
    provider: k8s.Provider,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.helm.v3.Release:
    """karpenter-crd, then karpenter (CRDs skipped), in kube-system."""
    common: dict[str, Any] = {"parent": parent, "provider": provider, "namespace": NAMESPACE}
    crds = release(
        f"{name}-karpenter-crd",
        chart="karpenter-crd",
        release_name="karpenter-crd",
        values={},
        depends_on=depends_on,
        **common,
    )
    return release(
        f"{name}-karpenter",
        chart="karpenter",
        release_name="karpenter",
        values={
            "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
            "serviceAccount": {"name": SERVICE_ACCOUNT},
            "controller": {
                # Pods cannot reach instance metadata (hop limit 1): name the region.
                "env": [{"name": "AWS_REGION", "value": region}],
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"memory": "1Gi"},
                },
            },
        },
        skip_crds=True,
        depends_on=[crds, *depends_on],
        **common,
    )


EC2_NODE_CLASS = NodeClassKind("karpenter.k8s.aws/v1", "EC2NodeClass")
