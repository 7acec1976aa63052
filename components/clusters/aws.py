"""EKS with GPU capacity that scales to zero, as a `Cluster` for the serving stack.

Built from pulumi-aws resources directly (pulumi-eks is a remote component the
offline engine cannot run). Creation order follows what each step needs:

    VPC -> KMS key, log group, cluster role -> EKS cluster
        -> access entries, vpc-cni, kube-proxy, pod identity agent
        -> system node group -> CoreDNS, EBS CSI -> default StorageClass
        -> Karpenter (or Auto Mode) GPU node pools, device plugin
    models bucket + reader identity (beside the cluster)
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components import gpus
from gpuplane.components.clusters import aws_auto, aws_karpenter, karpenter, nvidia
from gpuplane.components.clusters.aws_args import (
    EksClusterArgs,
    EksComputeMode,
    EksGpuNodeImage,
    eks_cluster_problems,
)
from gpuplane.components.clusters.aws_iam import (
    NODE_POLICIES,
    cluster_access,
    pod_identity_trust,
    role,
    trust_policy,
)
from gpuplane.components.clusters.aws_models import model_store
from gpuplane.components.clusters.aws_network import DISCOVERY_TAG, network
from gpuplane.components.clusters.contract import (
    MODELS_NAMESPACE,
    MODELS_SERVICE_ACCOUNT,
    POOL_LABEL,
    Cluster,
    ClusterSpec,
    ControlPlanePort,
    GpuPool,
    GpuPoolSpec,
    GpuSharing,
    WorkloadIdentity,
)
from gpuplane.components.clusters.kubeconfig import exec_kubeconfig
from gpuplane.components.extras import missing_extra
from gpuplane.components.naming import type_token
from gpuplane.components.rules import check
from gpuplane.components.serving.ports import WEBHOOK_PORTS
from gpuplane.components.versions import eks_addon_version

try:
    import pulumi_aws as aws
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.aws") from None

LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
__all__ = [
    "ControlPlanePort",
    "EksCluster",
    "EksClusterArgs",
    "EksComputeMode",
    "EksFacts",
    "EksGpuNodeImage",
]

# Ports the control plane reaches on nodes for the cluster itself; the platform's
# webhook ports come in through `control_plane_ports`. Karpenter 1.14 has no webhook.
CLUSTER_PORTS: Mapping[int, str] = {
    10250: "kubelet",
    # The metrics-server add-on's APIService (metrics.k8s.io) targets its pods here
    # (AWS's add-on serves on 10251, not the upstream chart's 10250).
    10251: "metrics-server add-on (metrics.k8s.io)",
}
AUTO_MODE_CLUSTER_POLICIES = (
    "AmazonEKSComputePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
)
SYSTEM_POOL_LABEL = {POOL_LABEL: "system"}
_ARM_FAMILY = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")


@dataclass(frozen=True)
class _EksPool:
    """A GPU pool spec resolved for EKS: its contract pool, and what Karpenter's NodePool
    takes beside it."""

    pool: GpuPool
    instance_types: Sequence[str]
    labels: Mapping[str, str]


def _eks_pool(spec: GpuPoolSpec) -> _EksPool:
    """The one place a pool spec becomes an EKS pool: the GPU comes from the instance
    types where they imply one (components/gpus.py)."""
    types = list(spec.get("instance_types", ()))
    gpu = gpus.implied_gpu("aws", types[0])
    counts = [g.count for t in types if (g := gpus.implied_gpu("aws", t))]
    pool = GpuPool(
        name=spec["name"],
        node_selector={POOL_LABEL: spec["name"]},
        accelerator=gpu.accelerator if gpu else spec.get("accelerator"),
        # The most GPUs any allowed type carries: the pool's GPU limit is max_nodes x this.
        gpus_per_node=max(counts) if counts else None,
        min_nodes=0,
        max_nodes=spec.get("max_nodes", 1),
        spot=bool(spec.get("spot", False)),
        sharing=GpuSharing(spec.get("sharing", GpuSharing.NONE)).value,
        sharing_replicas=spec.get("sharing_replicas"),
    )
    return _EksPool(pool=pool, instance_types=types, labels=dict(spec.get("labels", {})))


@dataclass(frozen=True)
class EksFacts:
    """What jobs build on beside an EKS cluster (Cluster.facts)."""

    eks: aws.eks.Cluster
    cluster_name: str
    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    models_bucket: aws.s3.Bucket
    models_key: aws.kms.Key
    protect: bool
    tags: Mapping[str, pulumi.Input[str]]


def _ami_type(instance_type: str) -> str:
    arch = "ARM_64" if _ARM_FAMILY.match(instance_type) else "x86_64"
    return f"AL2023_{arch}_STANDARD"


def kubeconfig(
    cluster_name: str, endpoint: pulumi.Input[str], ca_data: pulumi.Input[str], region: Any
) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token` (AWS CLI v2)."""
    return exec_kubeconfig(
        cluster_name,
        server=endpoint,
        ca_data=ca_data,
        exec_config={
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--region",
                region,
                "--output",
                "json",
            ],
        },
    )


def _gp3_class(
    resource_name: str,
    name: str,
    provisioner: str,
    opts: pulumi.ResourceOptions,
    default: bool = True,
) -> k8s.storage.v1.StorageClass:
    """An encrypted gp3 StorageClass, bound where the pod lands."""
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata={"name": name, "annotations": annotations},
        provisioner=provisioner,
        parameters={"type": "gp3", "encrypted": "true"},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Delete",
        opts=opts,
    )


class EksCluster(pulumi.ComponentResource):
    """A private-by-default EKS cluster with GPU node pools that scale to zero, a models
    bucket and the Pod Identity that reads it; the cluster contract the serving stack
    installs on (`spec`)."""

    provider: k8s.Provider
    """The explicit provider every Kubernetes resource in this cluster must use."""
    spec: ClusterSpec
    """The cluster as ServingStack's `cluster` input."""
    cluster_name: pulumi.Output[str]
    """The EKS cluster's name."""
    endpoint: pulumi.Output[str]
    """The Kubernetes API server's URL."""
    vpc_id: pulumi.Output[str]
    """The VPC the cluster and its nodes run in."""
    models_bucket: pulumi.Output[str]
    """The S3 bucket model pods read through Pod Identity."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig that authenticates with `aws eks get-token` (secret)."""

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check("EksCluster", eks_cluster_problems(args))
        super().__init__(type_token("clusters", "EksCluster"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        version = args["kubernetes_version"]
        protect = bool(args.get("protect", False))
        public_cidrs = list(args.get("public_access_cidrs", ()))
        image = EksGpuNodeImage(args.get("gpu_node_image", EksGpuNodeImage.AL2023))
        consolidate_after = args.get("consolidate_after", "2m")
        volume_gib = args.get("gpu_volume_gib", 200)
        models_namespace = args.get("models_namespace", MODELS_NAMESPACE)
        models_service_account = args.get("models_service_account", MODELS_SERVICE_ACCOUNT)
        system_instance_type = args.get("system_instance_type", "m6i.large")
        system_min_nodes = args.get("system_min_nodes", 2)
        ports = args.get("control_plane_ports")
        control_plane_ports = (
            {p["port"]: p["description"] for p in ports}
            if ports is not None
            else dict(WEBHOOK_PORTS)
        )
        tags = {"gpuplane.dev/cluster": name, "managed-by": "gpuplane", **args.get("tags", {})}
        invoke = pulumi.InvokeOutputOptions(parent=self)
        ctx = aws_karpenter.AwsContext(
            partition=aws.get_partition_output(opts=invoke).partition,
            region=aws.get_region_output(opts=invoke).region,
            account=aws.get_caller_identity_output(opts=invoke).account_id,
        )
        net = network(
            name,
            cluster_name=name,
            vpc_cidr=args.get("vpc_cidr", "10.0.0.0/16"),
            zone_count=args.get("zone_count", 2),
            nat_per_zone=bool(args.get("nat_per_zone", False)),
            tags=tags,
            parent=self,
        )
        auto = args.get("compute_mode", EksComputeMode.KARPENTER) == EksComputeMode.AUTO

        # --- control plane -------------------------------------------------------
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes secrets in EKS cluster {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.kms.Alias(
            f"{name}-secrets",
            name=f"alias/{name}-eks-secrets",
            target_key_id=secrets_key.key_id,
            opts=child,
        )
        # EKS writes here; created first so logs expire instead of piling up forever.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=args.get("log_retention_days", 30),
            tags=tags,
            opts=child,
        )
        cluster_role, cluster_grants = role(
            f"{name}-cluster",
            trust=trust_policy("eks.amazonaws.com", tag_session=True),
            description=f"EKS control plane of {name}",
            partition=ctx.partition,
            managed=("AmazonEKSClusterPolicy", *(AUTO_MODE_CLUSTER_POLICIES if auto else ())),
            tags=tags,
            parent=self,
        )
        open_ports = {**CLUSTER_PORTS, **control_plane_ports}
        control_plane_sg, node_sg, sg_rules = self._security_groups(
            name, net.vpc.id, tags, open_ports
        )

        node_role, node_grants = role(
            f"{name}-system-node",
            trust=trust_policy("ec2.amazonaws.com"),
            description=f"System node group of EKS cluster {name}",
            partition=ctx.partition,
            managed=NODE_POLICIES,
            tags=tags,
            parent=self,
        )
        auto_node_role = None
        compute_config: dict[str, Any] | None = None
        if auto:
            auto_node_role, auto_grants = role(
                f"{name}-auto-node",
                trust=trust_policy("ec2.amazonaws.com"),
                description=f"EKS Auto Mode GPU nodes of {name}",
                partition=ctx.partition,
                managed=("AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly"),
                tags=tags,
                parent=self,
            )
            node_grants = [*node_grants, *auto_grants]
            # No built-in node pools: system pods run on the managed node group,
            # GPU pods on the NodePools below.
            compute_config = {"enabled": True, "node_pools": []}

        self.eks = cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=name,
            version=version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": [s.id for s in net.private_subnets],
                "security_group_ids": [control_plane_sg.id],
                "endpoint_private_access": bool(args.get("private_access", True)),
                "endpoint_public_access": bool(public_cidrs),
                **({"public_access_cidrs": public_cidrs} if public_cidrs else {}),
            },
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            encryption_config={"provider": {"key_arn": secrets_key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(LOG_TYPES),
            # Standard support only: extended support costs 6x ($0.60/h).
            upgrade_policy={"support_type": "STANDARD"},
            # Managed add-ons below replace the self-managed defaults.
            bootstrap_self_managed_addons=False,
            compute_config=compute_config,
            storage_config={"block_storage": {"enabled": True}} if auto else None,
            kubernetes_network_config={
                "ip_family": "ipv4",
                **({"elastic_load_balancing": {"enabled": True}} if auto else {}),
            },
            deletion_protection=protect,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=protect,
                # Not the NAT routes: the control plane needs no egress from the VPC; the
                # nodes wait for them instead, which saves minutes of a first deploy.
                depends_on=[log_group, *cluster_grants, *sg_rules],
            ),
        )

        access: list[pulumi.Resource] = []
        for i, arn in enumerate(args["admin_role_arns"]):
            access += cluster_access(
                f"{name}-admin-{i}",
                cluster_name=cluster.name,
                principal_arn=arn,
                entry_type="STANDARD",
                policy=ADMIN_POLICY,
                partition=ctx.partition,
                tags=tags,
                parent=self,
            )

        # --- add-ons and system nodes ----------------------------------------------
        def addon(
            addon_name: str,
            after: Sequence[pulumi.Resource],
            configuration: Mapping[str, Any] | None = None,
            **extra: Any,
        ) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}",
                cluster_name=cluster.name,
                addon_name=addon_name,
                addon_version=eks_addon_version(addon_name, version),
                configuration_values=json.dumps(configuration) if configuration else None,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
                **extra,
            )

        # Daemon add-ons first: nodes become Ready only once the CNI runs.
        networking = [
            addon("vpc-cni", [], {"enableNetworkPolicy": "true"}),
            addon("kube-proxy", []),
            addon("eks-pod-identity-agent", []),
        ]
        template = self._system_launch_template(name, node_sg.id, tags)
        node_group = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_group_name_prefix=f"{name}-system-",
            node_role_arn=node_role.arn,
            subnet_ids=[s.id for s in net.private_subnets],
            instance_types=[system_instance_type],
            ami_type=_ami_type(system_instance_type),
            capacity_type="ON_DEMAND",
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            scaling_config={
                "min_size": system_min_nodes,
                "desired_size": system_min_nodes,
                "max_size": args.get("system_max_nodes", 3),
            },
            update_config={"max_unavailable": 1},
            labels=dict(SYSTEM_POOL_LABEL),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Nodes pull images and join through the NAT gateway.
                depends_on=[*node_grants, *networking, *net.egress],
                # Scaled by hand or by an operator after creation; keep their count.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        ebs_role, ebs_grants = role(
            f"{name}-ebs-csi",
            trust=pod_identity_trust(name, "kube-system", ["ebs-csi-controller-sa"]),
            description=f"EBS CSI controller of EKS cluster {name} (Pod Identity)",
            partition=ctx.partition,
            managed=("service-role/AmazonEBSCSIDriverPolicy",),
            tags=tags,
            parent=self,
        )
        coredns = addon("coredns", [node_group])
        # EKS serves no metrics API by default; the HPAs of istiod, the gateway and
        # Knative's activator need one.
        metrics_server = addon("metrics-server", [node_group])
        workloads = [
            coredns,
            metrics_server,
            addon(
                "aws-ebs-csi-driver",
                [node_group, *ebs_grants, networking[2]],
                pod_identity_associations=[
                    {"role_arn": ebs_role.arn, "service_account": "ebs-csi-controller-sa"}
                ],
            ),
        ]

        # --- in-cluster ------------------------------------------------------------
        config = kubeconfig(name, cluster.endpoint, cluster.certificate_authority.data, ctx.region)
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=config,
            enable_server_side_apply=True,
            opts=child,
        )
        base = [node_group, *access, *networking, *workloads]
        sc = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=base)
        _gp3_class(f"{name}-gp3", "gp3-encrypted", "ebs.csi.aws.com", sc)
        if auto:
            # Auto Mode nodes attach volumes through EKS's own driver, not the add-on.
            _gp3_class(
                f"{name}-auto-gp3", "auto-gp3-encrypted", "ebs.csi.eks.amazonaws.com", sc, False
            )

        eks_pools = [_eks_pool(p) for p in args.get("gpu_pools", ())]
        pools = [p.pool for p in eks_pools]
        self.gpu_node_pools: list[k8s.apiextensions.CustomResource] = []
        if pools and auto:
            assert auto_node_role is not None
            self.gpu_node_pools = aws_auto.gpu_capacity(
                name,
                pools=pools,
                instance_types={p.pool.name: p.instance_types for p in eks_pools},
                labels={p.pool.name: p.labels for p in eks_pools},
                cluster=cluster,
                cluster_name=name,
                node_role=auto_node_role,
                partition=ctx.partition,
                volume_gib=volume_gib,
                consolidate_after=consolidate_after,
                tags=tags,
                provider=provider,
                parent=self,
                depends_on=base,
            )
        elif pools:
            self.gpu_node_pools = self._karpenter(
                name, args, ctx, cluster, eks_pools, tags, provider, base
            )

        models = model_store(
            name,
            cluster=cluster,
            cluster_name=name,
            namespace=models_namespace,
            service_accounts=[models_service_account, "default"],
            partition=ctx.partition,
            protect=protect,
            tags=tags,
            parent=self,
        )
        ingress = (
            {
                "loadBalancerClass": "eks.amazonaws.com/nlb",
                "annotations": {
                    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"
                },
            }
            if auto
            else {
                # EKS's cloud controller: a Network Load Balancer rather than a Classic one.
                "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}
            }
        )
        self.cluster = Cluster(
            name=cluster.name,
            cloud="aws",
            kubernetes_version=version,
            models_namespace=models_namespace,
            models_service_account=models_service_account,
            provider=provider,
            kubeconfig=config,
            gpu_pools=tuple(pools),
            load_balancer=True,
            ingress_service=ingress,
            workload_identity=WorkloadIdentity(storage_uri_prefix=models.uri_prefix),
            gpu_node_os="eks-auto" if auto else image.value,
            empty_gpu_node_delay=consolidate_after,
            facts=EksFacts(
                eks=cluster,
                cluster_name=name,
                partition=ctx.partition,
                region=ctx.region,
                models_bucket=models.bucket,
                models_key=models.key,
                protect=protect,
                tags=tags,
            ),
            dataplane="aws-vpc-cni",
            managed_control_plane=True,
            metrics_server=True,
            control_plane_ports=tuple(sorted(open_ports)),
            # Public subnets and routes are in `ready` so the ingress load balancer
            # (in those subnets) is deleted before them.
            # The EBS CSI add-on and the gp3 class are not in `ready`: the serving stack
            # mounts no volumes, so it need not wait for them.
            ready=(
                node_group,
                *access,
                *networking,
                coredns,
                metrics_server,
                *models.ready,
                *net.egress,
                *net.public_subnets,
            ),
        )
        self.provider = provider
        self.spec = self.cluster.spec
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.vpc_id = net.vpc.id
        self.models_bucket = models.bucket.bucket
        self.kubeconfig = pulumi.Output.secret(config)
        self.register_outputs(
            {
                "provider": self.provider,
                "spec": self.spec,
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "vpcId": self.vpc_id,
                "modelsBucket": self.models_bucket,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _security_groups(
        self,
        name: str,
        vpc_id: pulumi.Input[str],
        tags: Mapping[str, pulumi.Input[str]],
        ports: Mapping[int, str],
    ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup, list[pulumi.Resource]]:
        """Control plane and node groups, with only the rules the platform needs."""
        child = pulumi.ResourceOptions(parent=self)
        control_plane = aws.ec2.SecurityGroup(
            f"{name}-control-plane",
            vpc_id=vpc_id,
            description=f"EKS control plane of {name} (extra to the EKS-managed group)",
            tags={**tags, "Name": f"{name}-control-plane"},
            opts=child,
        )
        nodes = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            vpc_id=vpc_id,
            description=f"Nodes of EKS cluster {name}",
            tags={
                **tags,
                "Name": f"{name}-nodes",
                DISCOVERY_TAG: name,
                # The cloud controller opens load balancer traffic on the one group
                # carrying this tag.
                f"kubernetes.io/cluster/{name}": "owned",
            },
            opts=child,
        )
        rules: list[pulumi.Resource] = [
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-nodes-from-nodes",
                security_group_id=nodes.id,
                referenced_security_group_id=nodes.id,
                ip_protocol="-1",
                description="Node and pod traffic within the cluster",
                opts=child,
            ),
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-nodes-egress",
                security_group_id=nodes.id,
                cidr_ipv4="0.0.0.0/0",
                ip_protocol="-1",
                description="Images, AWS APIs and the control plane (through NAT or the VPC)",
                opts=child,
            ),
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-from-nodes",
                security_group_id=control_plane.id,
                referenced_security_group_id=nodes.id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="Kubernetes API from nodes",
                opts=child,
            ),
        ]
        for port, reason in ports.items():
            rules.append(
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-nodes-{port}-from-api",
                    security_group_id=nodes.id,
                    referenced_security_group_id=control_plane.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    description=f"Control plane to {reason}",
                    opts=child,
                )
            )
            rules.append(
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-api-to-nodes-{port}",
                    security_group_id=control_plane.id,
                    referenced_security_group_id=nodes.id,
                    ip_protocol="tcp",
                    from_port=port,
                    to_port=port,
                    description=f"Control plane to {reason}",
                    opts=child,
                )
            )
        return control_plane, nodes, rules

    def _system_launch_template(
        self, name: str, node_sg: pulumi.Input[str], tags: Mapping[str, pulumi.Input[str]]
    ) -> aws.ec2.LaunchTemplate:
        """IMDSv2 only, hop limit 1, encrypted gp3, no key pair, no public address.

        Hop limit 1 keeps pods off instance metadata. Nothing on system nodes needs
        it from a pod: aws-node, kube-proxy and the Pod Identity agent use the host
        network, and the EBS CSI node plugin falls back to the Kubernetes API for
        its metadata; controllers get AWS credentials through Pod Identity.
        """
        return aws.ec2.LaunchTemplate(
            f"{name}-system",
            description=f"System nodes of EKS cluster {name}",
            update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": 50,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            vpc_security_group_ids=[node_sg],
            tag_specifications=[
                {"resource_type": "instance", "tags": {**tags, "Name": f"{name}-system"}},
                {"resource_type": "volume", "tags": {**tags, "Name": f"{name}-system"}},
            ],
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _karpenter(
        self,
        name: str,
        args: EksClusterArgs,
        ctx: aws_karpenter.AwsContext,
        cluster: aws.eks.Cluster,
        eks_pools: Sequence[_EksPool],
        tags: Mapping[str, pulumi.Input[str]],
        provider: k8s.Provider,
        base: Sequence[pulumi.Resource],
    ) -> list[k8s.apiextensions.CustomResource]:
        image = EksGpuNodeImage(args.get("gpu_node_image", EksGpuNodeImage.AL2023))
        aws_side = aws_karpenter.karpenter_aws(
            name, ctx=ctx, cluster=cluster, cluster_name=name, tags=tags, parent=self
        )
        controller = aws_karpenter.karpenter_charts(
            name,
            cluster_name=name,
            queue_name=aws_side.queue.name,
            region=ctx.region,
            provider=provider,
            parent=self,
            depends_on=[*base, *aws_side.ready],
        )
        pools = [p.pool for p in eks_pools]
        node_pools = karpenter.gpu_node_pools(
            name,
            pools=pools,
            instance_types={p.pool.name: p.instance_types for p in eks_pools},
            labels={p.pool.name: p.labels for p in eks_pools},
            node_class=aws_karpenter.EC2_NODE_CLASS,
            node_class_spec=lambda pool: aws_karpenter.node_class_spec(
                pool,
                cluster_name=name,
                node_role=aws_side.node_role.name,
                image=image.value,
                image_version=args.get("gpu_node_image_version", "latest"),
                volume_gib=args.get("gpu_volume_gib", 200),
                snapshot_id=args.get("image_cache_snapshot_id"),
                fast_image_pull=bool(args.get("fast_image_pull", True)),
                tags={**tags, "Name": f"{name}-gpu-{pool.name}"},
            ),
            consolidate_after=args.get("consolidate_after", "2m"),
            provider=provider,
            parent=self,
            depends_on=[controller],
        )
        if image == EksGpuNodeImage.AL2023:
            # Bottlerocket's NVIDIA variant carries its own device plugin.
            nvidia.device_plugin(name, pools=pools, provider=provider, parent=self, depends_on=base)
        return node_pools
