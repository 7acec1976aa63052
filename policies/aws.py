"""AWS: the EKS control plane, its nodes (launch templates, managed node groups,
Karpenter EC2NodeClasses), the VPC around them, the models bucket and KMS keys.

Types are pulumi-aws 7 tokens (and the Karpenter CRD the platform creates through
the Kubernetes provider). Every check reads the literal inputs; where a key is
absent the check applies the default that the provider, the AWS API or Karpenter
documents for it, and says which in a comment. Whether every bucket has a public
access block or every node group a launch template of its own is a question
about the whole stack, not one resource, and is left to the stack rules.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from .cidrs import too_wide
from .rule import Rule, dig, is_anywhere, items, num, string_list

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
PUBLIC_ACCESS_BLOCKS = (
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
)
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
KMS_KEY = "aws:kms/key:Key"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"

DEFAULT_LOG_TYPES = ["audit", "authenticator"]
PUBLIC_CANNED_ACLS = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def is_true(value: Any) -> bool:
    """True or "true": pulumi-aws types some launch template booleans as strings."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _is_bool_true(value: Any) -> bool:
    return value is True


def _one(value: Any) -> Mapping[str, Any] | None:
    """A max-one nested block: an object in pulumi-aws 7, a one-item list before it."""
    if isinstance(value, Mapping):
        return value
    first = dig(value, 0)
    return first if isinstance(first, Mapping) else None


# --- the control plane -----------------------------------------------------------


def _public_endpoint(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    vpc = dig(args.props, "vpcConfig", default={})
    # pulumi-aws: endpointPublicAccess defaults to true, and EKS fills an absent (or
    # empty) publicAccessCidrs with ["0.0.0.0/0"]: absent keys mean a world-open API.
    if dig(vpc, "endpointPublicAccess", default=True) is False:
        return
    cidrs = items(dig(vpc, "publicAccessCidrs"))
    if not cidrs:
        yield "public API endpoint is open to 0.0.0.0/0 (publicAccessCidrs unset: EKS's default)"
        return
    anywhere = [cidr for cidr in cidrs if is_anywhere(cidr)]
    for cidr in anywhere:
        yield f"public API endpoint is open to {cidr} (vpcConfig.publicAccessCidrs)"
    if not anywhere:
        for wide in too_wide(cidrs):
            yield f"public API endpoint is open too widely: {wide} (vpcConfig.publicAccessCidrs)"


def _private_endpoint(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # pulumi-aws: endpointPrivateAccess defaults to false.
    private = dig(args.props, "vpcConfig", "endpointPrivateAccess")
    if private is not True:
        shown = "unset (default false)" if private is None else repr(private)
        yield (
            f"private API endpoint is off (vpcConfig.endpointPrivateAccess is {shown}); "
            "nodes reach the API over the public endpoint"
        )


def _secrets_encryption(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent: EKS encrypts etcd with an AWS-owned key only; no customer key, no key policy.
    block = _one(args.props.get("encryptionConfig"))
    if block is None:
        yield "Kubernetes secrets are not encrypted with a customer KMS key (no encryptionConfig)"
        return
    resources = [str(r) for r in items(block.get("resources"))]
    if "secrets" not in resources:
        yield f"encryptionConfig does not cover secrets (resources: {resources})"
    key = dig(block, "provider", "keyArn")
    if not key:
        yield "encryptionConfig names no KMS key (provider.keyArn is empty)"


def _control_plane_logs(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent: no control plane log type is sent to CloudWatch.
    enabled = {str(t) for t in items(args.props.get("enabledClusterLogTypes"))}
    required = [str(t) for t in config.get("requiredLogTypes") or ()]
    missing = [t for t in required if t not in enabled]
    if missing:
        yield f"control plane logs {', '.join(missing)} are off (enabledClusterLogTypes)"


def _access_entries(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent: the EKS API (which pulumi-aws calls) defaults authenticationMode to CONFIG_MAP.
    mode = dig(args.props, "accessConfig", "authenticationMode")
    if mode != "API":
        shown = "unset (EKS's default CONFIG_MAP)" if mode is None else repr(mode)
        yield (
            f"authenticationMode is {shown}: the aws-auth ConfigMap still grants access; "
            "use access entries only (API)"
        )


def _creator_admin(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent (the whole accessConfig or the key): pulumi-aws and EKS default it to true.
    bootstrap = dig(args.props, "accessConfig", "bootstrapClusterCreatorAdminPermissions")
    if bootstrap is not False:
        shown = "unset (default true)" if bootstrap is None else repr(bootstrap)
        yield (
            "the identity that runs `pulumi up` becomes a hidden cluster admin "
            f"(accessConfig.bootstrapClusterCreatorAdminPermissions is {shown})"
        )


def _support_type(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent: the EKS API defaults upgradePolicy.supportType to EXTENDED.
    support = dig(args.props, "upgradePolicy", "supportType")
    if support != "STANDARD":
        shown = "unset (EKS's default EXTENDED)" if support is None else repr(support)
        yield (
            f"upgradePolicy.supportType is {shown}: the cluster can sit on an old Kubernetes "
            "version in paid extended support instead of being upgraded"
        )


# --- nodes ------------------------------------------------------------------------


def _imds_launch_template(options: Mapping[str, Any]) -> Iterator[str]:
    # pulumi-aws documents httpEndpoint "enabled", httpTokens "optional" and a hop limit
    # of 1 when absent; but an AMI registered with ImdsSupport v2.0 (AL2023, the EKS
    # default) turns an unset hop limit into 2, so the template must pin both.
    if options.get("httpEndpoint", "enabled") == "disabled":
        return
    tokens = options.get("httpTokens")
    if tokens != "required":
        shown = "unset (default optional)" if tokens is None else repr(tokens)
        yield f"allows IMDSv1 (metadataOptions.httpTokens is {shown})"
    hops = options.get("httpPutResponseHopLimit")
    if hops is None:
        yield (
            "does not pin the IMDS hop limit to 1 (metadataOptions.httpPutResponseHopLimit "
            "unset: 2 on AMIs registered with ImdsSupport v2.0, such as AL2023)"
        )
    elif _int(hops) != 1:
        yield f"lets pods reach IMDS (metadataOptions.httpPutResponseHopLimit is {num(hops)})"


def _imds_node_class(options: Mapping[str, Any]) -> Iterator[str]:
    # Karpenter's CRD defaults: httpEndpoint enabled, httpTokens required, hop limit 1
    # (the whole block and each key); so only a value written out can be wrong.
    if options.get("httpEndpoint", "enabled") == "disabled":
        return
    tokens = options.get("httpTokens", "required")
    if tokens != "required":
        yield f"allows IMDSv1 (spec.metadataOptions.httpTokens is {tokens!r})"
    hops = options.get("httpPutResponseHopLimit", 1)
    if _int(hops) != 1:
        yield f"lets pods reach IMDS (spec.metadataOptions.httpPutResponseHopLimit is {num(hops)})"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _imds(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.resource_type == LAUNCH_TEMPLATE:
        yield from _imds_launch_template(_one(args.props.get("metadataOptions")) or {})
    elif args.resource_type == NODE_CLASS:
        yield from _imds_node_class(dig(args.props, "spec", "metadataOptions") or {})
    elif args.resource_type == NODE_GROUP and args.props.get("launchTemplate") is None:
        yield (
            "has no launch template, so IMDSv2 and hop limit 1 are not pinned (the AMI's "
            "defaults apply: hop limit 2 on AL2023)"
        )


def _ssh(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.resource_type == NODE_GROUP:
        remote = _one(args.props.get("remoteAccess")) or {}
        key = remote.get("ec2SshKey")
        if not key:
            return
        sources = [str(s) for s in items(remote.get("sourceSecurityGroupIds"))]
        if sources:
            yield f"allows SSH with key pair {key!r} from security groups {', '.join(sources)}"
        else:
            # pulumi-aws: ec2SshKey without sourceSecurityGroupIds opens port 22 to 0.0.0.0/0.
            yield f"allows SSH with key pair {key!r} from anywhere (no sourceSecurityGroupIds)"
    elif args.resource_type == LAUNCH_TEMPLATE:
        key = args.props.get("keyName")
        if key:
            yield f"puts key pair {key!r} on every node (keyName): SSH access to nodes"


def _ebs_encrypted(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.resource_type == LAUNCH_TEMPLATE:
        mappings = items(args.props.get("blockDeviceMappings"))
        if not mappings:
            # The root volume is then the AMI's: public AMI snapshots are unencrypted, and
            # EBS encryption by default is an account setting a policy cannot see.
            yield "has no blockDeviceMappings, so the root volume is the AMI's, unencrypted"
        encrypted = is_true  # a string in pulumi-aws launch templates
    else:
        # Karpenter: absent blockDeviceMappings get its default root volume, encrypted.
        mappings = items(dig(args.props, "spec", "blockDeviceMappings"))
        encrypted = _is_bool_true  # a boolean in the CRD
    for i, mapping in enumerate(mappings):
        ebs = dig(mapping, "ebs")
        if not isinstance(ebs, Mapping):
            continue  # instance store or noDevice: not an EBS volume
        # Absent ebs.encrypted: EC2's default, unencrypted (unless the snapshot is).
        value = ebs.get("encrypted")
        if not encrypted(value):
            device = dig(mapping, "deviceName", default="?")
            shown = "unset" if value is None else repr(value)
            yield (
                f"volume {device} (blockDeviceMappings[{i}]) is not encrypted "
                f"(ebs.encrypted is {shown})"
            )


def _public_ips(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    props = args.props
    if args.resource_type == LAUNCH_TEMPLATE:
        # Absent: the subnet's mapPublicIpOnLaunch decides (checked on the subnet).
        for i, nic in enumerate(items(props.get("networkInterfaces"))):
            if is_true(dig(nic, "associatePublicIpAddress")):
                yield f"networkInterfaces[{i}] gives nodes a public IP (associatePublicIpAddress)"
    elif args.resource_type == NODE_CLASS:
        # Absent: the subnet decides, as for launch templates.
        if is_true(dig(props, "spec", "associatePublicIPAddress")):
            yield "gives nodes a public IP (spec.associatePublicIPAddress is true)"
    elif is_true(props.get("mapPublicIpOnLaunch")):  # a subnet; pulumi-aws defaults it to false
        cidr = props.get("cidrBlock", "?")
        yield f"subnet {cidr} gives every instance a public IP (mapPublicIpOnLaunch is true)"


# --- network ----------------------------------------------------------------------


def _ports(protocol: Any, low: Any, high: Any) -> str:
    protocol, low, high = num(protocol), num(low), num(high)
    if str(protocol).lower() in ("-1", "all"):
        return "all traffic"
    if low is None:
        return f"protocol {protocol}"
    if low == high or high is None:
        return f"{protocol} port {low}"
    return f"{protocol} ports {low}-{high}"


def _open_ingress(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    props = args.props
    if args.resource_type == INGRESS_RULE:
        reach = _ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))
        for key in ("cidrIpv4", "cidrIpv6"):
            if is_anywhere(props.get(key)):
                yield f"lets {props[key]} in on {reach} ({key})"
        return
    if args.resource_type == SECURITY_GROUP_RULE:
        if props.get("type") != "ingress":
            return
        rules: list[tuple[str, Any]] = [("", props)]
    else:  # inline ingress blocks of a (default) security group
        rules = [(f"ingress[{i}] ", r) for i, r in enumerate(items(props.get("ingress")))]
    for where, rule in rules:
        if not isinstance(rule, Mapping):
            continue
        reach = _ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
        for key in ("cidrBlocks", "ipv6CidrBlocks"):
            for cidr in items(rule.get(key)):
                if is_anywhere(cidr):
                    yield f"{where}lets {cidr} in on {reach} ({key})"


# --- data: the models bucket and KMS keys -------------------------------------------


def _public_access_block(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # pulumi-aws: each of the four flags defaults to false.
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if args.props.get(flag) is not True]
    if off:
        yield f"does not block public access: {', '.join(off)} not true (default false)"


def _public_acl(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent acl: private (pulumi-aws's default).
    acl = args.props.get("acl")
    if acl in PUBLIC_CANNED_ACLS:
        yield f"grants public access with the canned ACL {acl!r}"
    if args.resource_type == BUCKET:
        grants = [(g, dig(g, "uri")) for g in items(args.props.get("grants"))]
    else:
        grants = [
            (g, dig(g, "grantee", "uri"))
            for g in items(dig(args.props, "accessControlPolicy", "grants"))
        ]
    for grant, uri in grants:
        if uri in PUBLIC_GRANTEES:
            permission = dig(grant, "permission") or ", ".join(
                str(p) for p in items(dig(grant, "permissions"))
            )
            yield f"grants {permission or 'access'} to {uri.rsplit('/', 1)[-1]}"


def _bucket_kms(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.resource_type == BUCKET:
        # The inline block (deprecated); absent, a separate resource may configure it.
        block = _one(args.props.get("serverSideEncryptionConfiguration"))
        if block is None:
            return
        rules = [r for r in [_one(block.get("rule"))] if r is not None]
    else:
        rules = items(args.props.get("rules"))
    if not rules:
        # S3 then encrypts with S3-managed keys (SSE-S3): no key policy, no audit trail.
        yield "sets no default encryption rule, so S3-managed keys (SSE-S3) apply"
    for rule in rules:
        default = dig(rule, "applyServerSideEncryptionByDefault", default={})
        algorithm = dig(default, "sseAlgorithm")
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            yield f"encrypts with {algorithm!r}, not a customer KMS key (sseAlgorithm)"
        elif not dig(default, "kmsMasterKeyId"):
            yield f"encrypts with {algorithm} but the AWS managed key aws/s3 (no kmsMasterKeyId)"


def _key_rotation(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Only symmetric encryption keys rotate; keySpec (or the deprecated
    # customerMasterKeySpec) defaults to SYMMETRIC_DEFAULT.
    spec = args.props.get("keySpec") or args.props.get("customerMasterKeySpec")
    if (spec or "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return
    # pulumi-aws: enableKeyRotation defaults to false.
    rotation = args.props.get("enableKeyRotation")
    if rotation is not True:
        shown = "unset (default false)" if rotation is None else repr(rotation)
        yield f"does not rotate its key material (enableKeyRotation is {shown})"


_CIS = "CIS Amazon EKS Benchmark"

# --- queues that start jobs ----------------------------------------------------------


def _document(value: Any) -> dict[str, Any]:
    """An IAM-style policy document given as JSON text or as a mapping."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _sqs_encrypted(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent sqsManagedSseEnabled: new queues get SSE-SQS by default (AWS, 2022); only an
    # explicit false without a KMS key leaves messages unencrypted at rest.
    props = args.props
    if props.get("sqsManagedSseEnabled") is False and not props.get("kmsMasterKeyId"):
        yield "messages are stored unencrypted (sqsManagedSseEnabled: false and no kmsMasterKeyId)"


def _sqs_not_public(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    for statement in items(_document(args.props.get("policy")).get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        aws_principal = principal.get("AWS") if isinstance(principal, Mapping) else None
        anyone = principal == "*" or aws_principal == "*" or "*" in items(aws_principal)
        if anyone and not statement.get("Condition"):
            yield (
                f"statement {statement.get('Sid') or '?'} lets anyone "
                f"{statement.get('Action')} with no condition"
            )


def _is_s3_rule(resource: Any) -> bool:
    pattern = _document(dig(resource.props, "eventPattern"))
    return "aws.s3" in items(pattern.get("source"))


def _event_queue_dead_letters(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    for target in args.resources:
        if target.resource_type != EVENT_TARGET:
            continue
        rules = target.property_dependencies.get("rule") or ()
        if not any(r.resource_type == EVENT_RULE and _is_s3_rule(r) for r in rules):
            continue
        if not dig(target.props, "deadLetterConfig", "arn"):
            yield (
                "S3 events that cannot be delivered are dropped (no deadLetterConfig)",
                target.urn,
            )
        for queue in target.property_dependencies.get("arn") or ():
            if queue.resource_type == SQS_QUEUE and not dig(queue.props, "redrivePolicy"):
                yield (
                    "the queue S3 events feed has no redrivePolicy: a message whose job "
                    "fails every time is received forever",
                    queue.urn,
                )


RULES = (
    Rule(
        id="GP-AWS-001",
        stack_key="gpuplane:cluster.endpoint.publicAccessCidrs",
        name="aws-eks-public-endpoint-restricted",
        description="The EKS public API endpoint is off or limited to named CIDRs, never "
        "0.0.0.0/0 or ::/0.",
        severity="critical",
        level="mandatory",
        remediation="Set vpcConfig.publicAccessCidrs to the networks that administer the "
        "cluster, or vpcConfig.endpointPublicAccess: false.",
        anchor=f"{_CIS} 5.4.1; Checkov CKV_AWS_38",
        resource_types=(CLUSTER,),
        check=_public_endpoint,
    ),
    Rule(
        id="GP-AWS-002",
        stack_key="gpuplane:cluster.endpoint.privateAccess",
        name="aws-eks-private-endpoint",
        description="The EKS private API endpoint is on, so nodes reach the API inside the VPC.",
        severity="medium",
        level="mandatory",
        remediation="Set vpcConfig.endpointPrivateAccess: true.",
        anchor=f"{_CIS} 5.4.2",
        resource_types=(CLUSTER,),
        check=_private_endpoint,
    ),
    Rule(
        id="GP-AWS-003",
        name="aws-eks-secrets-encryption",
        description="Kubernetes secrets are envelope-encrypted with a customer KMS key.",
        severity="high",
        level="mandatory",
        remediation="Set encryptionConfig: {resources: [secrets], provider: {keyArn: <KMS key "
        "ARN>}} with a key of the stack's own.",
        anchor=f"{_CIS} 5.3.1; Checkov CKV_AWS_58",
        resource_types=(CLUSTER,),
        check=_secrets_encryption,
    ),
    Rule(
        id="GP-AWS-004",
        name="aws-eks-control-plane-logging",
        description="The EKS audit and authenticator logs (or the configured types) are on.",
        severity="medium",
        level="advisory",
        remediation="Add audit and authenticator (at least) to enabledClusterLogTypes.",
        anchor=f"{_CIS} 2.1.1; Checkov CKV_AWS_37",
        resource_types=(CLUSTER,),
        check=_control_plane_logs,
        config={
            "requiredLogTypes": string_list(
                DEFAULT_LOG_TYPES, "Control plane log types that must be enabled."
            )
        },
    ),
    Rule(
        id="GP-AWS-005",
        name="aws-eks-access-entries-only",
        description="Cluster access is managed with EKS access entries only (authentication "
        "mode API), not the aws-auth ConfigMap.",
        severity="medium",
        level="advisory",
        remediation="Set accessConfig.authenticationMode: API and grant access with "
        "aws.eks.AccessEntry and AccessPolicyAssociation.",
        anchor=f"{_CIS} 4.1.7; AWS docs: EKS access entries",
        resource_types=(CLUSTER,),
        check=_access_entries,
    ),
    Rule(
        id="GP-AWS-006",
        name="aws-eks-no-implicit-creator-admin",
        description="The identity that creates the cluster is not made a cluster admin behind "
        "the stack's back.",
        severity="high",
        level="mandatory",
        remediation="Set accessConfig.bootstrapClusterCreatorAdminPermissions: false and give "
        "admins an explicit access entry.",
        anchor=f"{_CIS} 4.1.7; AWS docs: EKS access entries (cluster creator)",
        resource_types=(CLUSTER,),
        check=_creator_admin,
    ),
    Rule(
        id="GP-AWS-007",
        name="aws-nodes-imdsv2-hop-limit-1",
        description="Nodes require IMDSv2 with a hop limit of 1, so pods cannot take the "
        "node's IAM credentials.",
        severity="high",
        level="mandatory",
        remediation="Set metadataOptions {httpTokens: required, httpPutResponseHopLimit: 1} on "
        "launch templates and EC2NodeClasses, and give every node group a launch template.",
        anchor="Checkov CKV_AWS_79, CKV_AWS_341; EKS Best Practices: restrict access to the "
        "instance profile assigned to the worker node",
        resource_types=(LAUNCH_TEMPLATE, NODE_CLASS, NODE_GROUP),
        check=_imds,
    ),
    Rule(
        id="GP-AWS-008",
        name="aws-nodes-no-ssh",
        description="Nodes carry no SSH key pair and node groups open no SSH remote access.",
        severity="high",
        level="mandatory",
        remediation="Remove remoteAccess from node groups and keyName from launch templates; "
        "use SSM Session Manager to reach a node.",
        anchor="Checkov CKV_AWS_100",
        resource_types=(NODE_GROUP, LAUNCH_TEMPLATE),
        check=_ssh,
    ),
    Rule(
        id="GP-AWS-009",
        name="aws-nodes-encrypted-volumes",
        description="Node EBS volumes are encrypted.",
        severity="high",
        level="mandatory",
        remediation="Give launch templates a root blockDeviceMapping with ebs.encrypted: "
        "'true', and EC2NodeClass volumes ebs.encrypted: true.",
        anchor="Checkov CKV_AWS_8 (the same control for launch configurations); AWS docs: "
        "Amazon EBS encryption",
        resource_types=(LAUNCH_TEMPLATE, NODE_CLASS),
        check=_ebs_encrypted,
    ),
    Rule(
        id="GP-AWS-010",
        name="aws-nodes-no-public-ip",
        description="Nodes get no public IP: not from launch templates, EC2NodeClasses or "
        "subnets that map one on launch.",
        severity="high",
        level="mandatory",
        remediation="Remove associatePublicIpAddress / associatePublicIPAddress and set "
        "mapPublicIpOnLaunch: false; reach the internet through NAT.",
        anchor=f"{_CIS} 5.4.3; Checkov CKV_AWS_88, CKV_AWS_130",
        resource_types=(LAUNCH_TEMPLATE, NODE_CLASS, SUBNET),
        check=_public_ips,
    ),
    Rule(
        id="GP-AWS-011",
        name="aws-s3-public-access-blocked",
        description="S3 public access blocks turn on all four settings.",
        severity="critical",
        level="mandatory",
        remediation="Set blockPublicAcls, blockPublicPolicy, ignorePublicAcls and "
        "restrictPublicBuckets to true.",
        anchor="Checkov CKV_AWS_53, CKV_AWS_54, CKV_AWS_55, CKV_AWS_56",
        resource_types=PUBLIC_ACCESS_BLOCKS,
        check=_public_access_block,
    ),
    Rule(
        id="GP-AWS-012",
        name="aws-s3-no-public-acl",
        description="Buckets grant nothing to all users or all authenticated AWS users by ACL.",
        severity="critical",
        level="mandatory",
        remediation="Use the private ACL (or none: set BucketOwnerEnforced ownership) and "
        "grant access through IAM.",
        anchor="Checkov CKV_AWS_20, CKV_AWS_57",
        resource_types=(BUCKET, *BUCKET_ACLS),
        check=_public_acl,
    ),
    Rule(
        id="GP-AWS-013",
        name="aws-s3-kms-encryption",
        description="Buckets encrypt by default with a customer KMS key.",
        severity="low",
        level="advisory",
        remediation="Set rules[].applyServerSideEncryptionByDefault {sseAlgorithm: aws:kms, "
        "kmsMasterKeyId: <key ARN>} (and bucketKeyEnabled: true).",
        anchor="Checkov CKV_AWS_145",
        resource_types=(BUCKET, *BUCKET_SSE),
        check=_bucket_kms,
    ),
    Rule(
        id="GP-AWS-014",
        name="aws-kms-key-rotation",
        description="Symmetric KMS keys rotate their key material.",
        severity="low",
        level="advisory",
        remediation="Set enableKeyRotation: true.",
        anchor="Checkov CKV_AWS_7",
        resource_types=(KMS_KEY,),
        check=_key_rotation,
    ),
    Rule(
        id="GP-AWS-015",
        name="aws-no-ingress-from-anywhere",
        description="Security groups let nothing in from 0.0.0.0/0 or ::/0.",
        severity="high",
        level="mandatory",
        remediation="Allow the source security group or the CIDRs that need the port; expose "
        "services through a load balancer the platform owns.",
        anchor="Checkov CKV_AWS_24, CKV_AWS_25, CKV_AWS_277",
        resource_types=(INGRESS_RULE, SECURITY_GROUP_RULE, SECURITY_GROUP, DEFAULT_SECURITY_GROUP),
        check=_open_ingress,
    ),
    Rule(
        id="GP-AWS-016",
        name="aws-eks-standard-support",
        description="EKS clusters use the STANDARD upgrade policy, not extended support.",
        severity="low",
        level="advisory",
        remediation="Set upgradePolicy.supportType: STANDARD and upgrade within standard support.",
        anchor="AWS docs: EKS cluster upgrade policy (extended support)",
        resource_types=(CLUSTER,),
        check=_support_type,
    ),
    Rule(
        id="GP-AWS-017",
        name="aws-sqs-encrypted",
        description="SQS queues keep messages encrypted at rest.",
        severity="medium",
        level="mandatory",
        remediation="Remove sqsManagedSseEnabled: false, or set kmsMasterKeyId.",
        anchor="AWS Foundational Security Best Practices SQS.1",
        resource_types=(SQS_QUEUE,),
        check=_sqs_encrypted,
    ),
    Rule(
        id="GP-AWS-018",
        name="aws-sqs-not-public",
        description="SQS queue policies grant nothing to anyone without a condition.",
        severity="high",
        level="mandatory",
        remediation="Name the principal (a service or role) or add a condition such as "
        "aws:SourceArn to every Allow statement.",
        anchor="AWS Security Hub SQS.3 (queue policies should not allow public access)",
        resource_types=(SQS_POLICY,),
        check=_sqs_not_public,
    ),
    Rule(
        id="GP-AWS-019",
        name="aws-event-queues-dead-letter",
        description="Queues fed by S3 events have a dead-letter queue, and so do their "
        "EventBridge targets.",
        severity="medium",
        level="mandatory",
        remediation="Give the EventBridge target a deadLetterConfig and the queue a "
        "redrivePolicy to a dead-letter queue.",
        anchor="AWS docs: EventBridge dead-letter queues; SQS dead-letter queues",
        resource_types=(EVENT_RULE, EVENT_TARGET, SQS_QUEUE),
        stack_check=_event_queue_dead_letters,
    ),
)
