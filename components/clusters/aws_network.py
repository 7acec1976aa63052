"""The VPC an EKS cluster lives in: private node subnets, public load-balancer subnets.

Zones come from the provider's `getAvailabilityZones`, never a hard-coded list.
Each zone gets a private /19-sized share of the VPC for nodes and pods (the VPC
CNI gives pods VPC addresses) and a small public subnet for load balancers and
NAT. Node subnets route out through NAT (one per zone, or a single one to save
$0.045/h each); S3 traffic goes through a free gateway endpoint instead of NAT,
so model downloads cost no NAT data processing.
"""

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from gpuplane.components.extras import missing_extra

try:
    import pulumi_aws as aws
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.aws_network") from None

# Subnet tags the AWS cloud controller and load balancer controller read, and the
# tag Karpenter (and the EC2NodeClass selector) discovers subnets by.
PUBLIC_SUBNET_TAGS = {"kubernetes.io/role/elb": "1"}
PRIVATE_SUBNET_TAGS = {"kubernetes.io/role/internal-elb": "1"}
DISCOVERY_TAG = "karpenter.sh/discovery"
# Zones where EKS places no control plane (EKS user guide, "Cluster creation"):
# CreateCluster fails if a subnet is there. Zone IDs, since names differ per account.
EKS_UNSUPPORTED_ZONE_IDS = ("use1-az3", "usw1-az2", "cac1-az3")


@dataclass(frozen=True)
class Network:
    """What the cluster needs from its network."""

    vpc: aws.ec2.Vpc
    private_subnets: Sequence[aws.ec2.Subnet]
    public_subnets: Sequence[aws.ec2.Subnet]
    egress: Sequence[pulumi.Resource]
    """Routes and associations that must exist before nodes or load balancers start,
    and be removed only after them (a load balancer's ENIs block subnet deletion)."""


def subnet_cidrs(vpc_cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(private, public) CIDRs: an eighth of the VPC per zone for private subnets,
    and a sixty-fourth per zone for public ones, carved from the last eighth."""
    vpc = ipaddress.ip_network(vpc_cidr)
    eighths = list(vpc.subnets(prefixlen_diff=3))
    if zones > len(eighths) - 1:
        raise ValueError(f"{vpc_cidr} has room for at most {len(eighths) - 1} zones")
    public = list(eighths[-1].subnets(prefixlen_diff=3))
    return [str(n) for n in eighths[:zones]], [str(n) for n in public[:zones]]


def network(
    name: str,
    *,
    cluster_name: str,
    vpc_cidr: str,
    zone_count: int,
    nat_per_zone: bool,
    tags: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> Network:
    """Create the VPC, subnets, gateways and routes, as children of `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    available = aws.get_availability_zones_output(
        state="available",
        exclude_zone_ids=list(EKS_UNSUPPORTED_ZONE_IDS),
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    # Subnets need a zone each at registration time; the zone names themselves are
    # resolved from the invoke, only their number comes from config.
    zones = [available.names.apply(lambda names, i=i: names[i]) for i in range(zone_count)]
    private_cidrs, public_cidrs = subnet_cidrs(vpc_cidr, zone_count)

    vpc = aws.ec2.Vpc(
        f"{name}-vpc",
        cidr_block=vpc_cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={**tags, "Name": f"{cluster_name}"},
        opts=child,
    )
    # The default security group allows all traffic between its members: strip it
    # so nothing can use it by accident (CIS AWS 5.4).
    aws.ec2.DefaultSecurityGroup(
        f"{name}-default-sg",
        vpc_id=vpc.id,
        ingress=[],
        egress=[],
        tags={**tags, "Name": f"{cluster_name}-default-unused"},
        opts=child,
    )
    igw = aws.ec2.InternetGateway(
        f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": cluster_name}, opts=child
    )
    public_rt = aws.ec2.RouteTable(
        f"{name}-public", vpc_id=vpc.id, tags={**tags, "Name": f"{cluster_name}-public"}, opts=child
    )
    public_route = aws.ec2.Route(
        f"{name}-public-default",
        route_table_id=public_rt.id,
        destination_cidr_block="0.0.0.0/0",
        gateway_id=igw.id,
        opts=child,
    )
    egress: list[pulumi.Resource] = [public_route]
    public_subnets: list[aws.ec2.Subnet] = []
    private_subnets: list[aws.ec2.Subnet] = []
    for i, (zone, cidr) in enumerate(zip(zones, public_cidrs, strict=True)):
        subnet = aws.ec2.Subnet(
            f"{name}-public-{i}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            # Load balancers and NAT use their own addresses; nothing here gets one
            # just by starting.
            map_public_ip_on_launch=False,
            tags={**tags, **PUBLIC_SUBNET_TAGS, "Name": f"{cluster_name}-public-{i}"},
            opts=child,
        )
        public_subnets.append(subnet)
        egress.append(
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child
            )
        )

    nat_gateways: list[aws.ec2.NatGateway] = []
    for i in range(zone_count if nat_per_zone else 1):
        eip = aws.ec2.Eip(
            f"{name}-nat-{i}",
            domain="vpc",
            tags={**tags, "Name": f"{cluster_name}-nat-{i}"},
            opts=child,
        )
        nat_gateways.append(
            aws.ec2.NatGateway(
                f"{name}-nat-{i}",
                allocation_id=eip.id,
                subnet_id=public_subnets[i].id,
                tags={**tags, "Name": f"{cluster_name}-nat-{i}"},
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_route]),
            )
        )

    private_tables: list[aws.ec2.RouteTable] = []
    for i, (zone, cidr) in enumerate(zip(zones, private_cidrs, strict=True)):
        subnet = aws.ec2.Subnet(
            f"{name}-private-{i}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,
            tags={
                **tags,
                **PRIVATE_SUBNET_TAGS,
                DISCOVERY_TAG: cluster_name,
                "Name": f"{cluster_name}-private-{i}",
            },
            opts=child,
        )
        private_subnets.append(subnet)
        table = aws.ec2.RouteTable(
            f"{name}-private-{i}",
            vpc_id=vpc.id,
            tags={**tags, "Name": f"{cluster_name}-private-{i}"},
            opts=child,
        )
        private_tables.append(table)
        nat = nat_gateways[i if nat_per_zone else 0]
        egress.append(
            aws.ec2.Route(
                f"{name}-private-{i}-default",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=child,
            )
        )
        egress.append(
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
        )

    region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    egress.append(
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=region.region.apply(lambda r: f"com.amazonaws.{r}.s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_tables],
            tags={**tags, "Name": f"{cluster_name}-s3"},
            opts=child,
        )
    )
    return Network(
        vpc=vpc,
        private_subnets=private_subnets,
        public_subnets=public_subnets,
        egress=egress,
    )
