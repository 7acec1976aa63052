"""AWS rules: one violating and one compliant case each, message checked, and the
provider defaults that apply where a key is absent."""

import copy
from typing import Any

import pytest

from tests.policies.harness import (
    Mutation,
    add_resource,
    assert_reports,
    delete_input,
    messages,
    set_input,
    violations,
)

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
KMS_KEY = "aws:kms/key:Key"

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11d28e00-0000-4000-8000-11d28e008c08"

# Inputs as the shipped aws-dev stack registers them (the secure shape).
SAFE: dict[str, dict[str, Any]] = {
    CLUSTER: {
        "name": "gpuplane-dev",
        "accessConfig": {
            "authenticationMode": "API",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "encryptionConfig": {"provider": {"keyArn": KEY_ARN}, "resources": ["secrets"]},
        "upgradePolicy": {"supportType": "STANDARD"},
        "vpcConfig": {
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["203.0.113.0/24"],
            "subnetIds": ["subnet-1", "subnet-2"],
        },
    },
    LAUNCH_TEMPLATE: {
        "blockDeviceMappings": [
            {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeSize": 50}}
        ],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
    },
    NODE_CLASS: {
        "metadata": {"name": "gpu-l4"},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "associatePublicIPAddress": False,
            "blockDeviceMappings": [
                {"deviceName": "/dev/xvda", "ebs": {"encrypted": True, "volumeSize": "200Gi"}}
            ],
            "metadataOptions": {"httpPutResponseHopLimit": 1, "httpTokens": "required"},
        },
    },
    NODE_GROUP: {
        "clusterName": "gpuplane-dev",
        "launchTemplate": {"id": "lt-1", "version": "1"},
        "subnetIds": ["subnet-1"],
    },
    SUBNET: {"cidrBlock": "10.0.0.0/19", "mapPublicIpOnLaunch": False},
    INGRESS_RULE: {
        "fromPort": 443,
        "toPort": 443,
        "ipProtocol": "tcp",
        "referencedSecurityGroupId": "sg-nodes",
        "securityGroupId": "sg-api",
    },
    BUCKET: {"forceDestroy": False},
    PUBLIC_ACCESS_BLOCK: {
        "bucket": "models",
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    },
    SSE: {
        "bucket": "models",
        "rules": [
            {
                "applyServerSideEncryptionByDefault": {
                    "kmsMasterKeyId": KEY_ARN,
                    "sseAlgorithm": "aws:kms",
                },
                "bucketKeyEnabled": True,
            }
        ],
    },
    KMS_KEY: {"deletionWindowInDays": 30, "enableKeyRotation": True},
}


_DELETE = object()


def _set(inputs: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = inputs
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


def safe(resource_type: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    """The safe inputs of the type with `a__b=value` changes (`_DELETE` removes a key)."""
    inputs = copy.deepcopy(SAFE[resource_type])
    for path, value in changes.items():
        _set(inputs, path.replace("__", "."), value)
    return resource_type, inputs


def bare(resource_type: str, **inputs: Any) -> tuple[str, dict[str, Any]]:
    """Only the given inputs: everything else is left to the provider's default."""
    return resource_type, inputs


RULE_IDS = [f"GP-AWS-{n:03d}" for n in range(1, 20)]


def test_the_safe_shapes_pass_every_aws_rule() -> None:
    for rule in RULE_IDS:
        for resource_type in SAFE:
            assert messages(rule, safe(resource_type)) == [], (rule, resource_type)


@pytest.mark.parametrize(
    ("rule", "bad", "fragment"),
    [
        # 001: the public endpoint, including the provider's defaults.
        (
            "GP-AWS-001",
            safe(CLUSTER, vpcConfig__publicAccessCidrs=["10.0.0.0/8", "0.0.0.0/0"]),
            "public API endpoint is open to 0.0.0.0/0 (vpcConfig.publicAccessCidrs)",
        ),
        ("GP-AWS-001", safe(CLUSTER, vpcConfig__publicAccessCidrs=["::/0"]), "open to ::/0"),
        (
            "GP-AWS-001",
            safe(CLUSTER, vpcConfig__publicAccessCidrs=_DELETE),
            "open to 0.0.0.0/0 (publicAccessCidrs unset: EKS's default)",
        ),
        ("GP-AWS-001", bare(CLUSTER, name="c"), "publicAccessCidrs unset"),
        # 002: the private endpoint (default off).
        (
            "GP-AWS-002",
            safe(CLUSTER, vpcConfig__endpointPrivateAccess=False),
            "private API endpoint is off (vpcConfig.endpointPrivateAccess is False)",
        ),
        ("GP-AWS-002", bare(CLUSTER, name="c"), "endpointPrivateAccess is unset (default false)"),
        # 003: secrets encryption.
        (
            "GP-AWS-003",
            safe(CLUSTER, encryptionConfig=_DELETE),
            "not encrypted with a customer KMS key (no encryptionConfig)",
        ),
        (
            "GP-AWS-003",
            safe(CLUSTER, encryptionConfig__resources=[]),
            "encryptionConfig does not cover secrets (resources: [])",
        ),
        (
            "GP-AWS-003",
            safe(CLUSTER, encryptionConfig__provider__keyArn=""),
            "names no KMS key",
        ),
        # 004: control plane logs.
        (
            "GP-AWS-004",
            safe(CLUSTER, enabledClusterLogTypes=["api", "audit"]),
            "control plane logs authenticator are off",
        ),
        ("GP-AWS-004", bare(CLUSTER, name="c"), "control plane logs audit, authenticator are off"),
        # 005 and 006: access entries and the cluster creator.
        (
            "GP-AWS-005",
            safe(CLUSTER, accessConfig__authenticationMode="API_AND_CONFIG_MAP"),
            "authenticationMode is 'API_AND_CONFIG_MAP'",
        ),
        ("GP-AWS-005", bare(CLUSTER, name="c"), "unset (EKS's default CONFIG_MAP)"),
        (
            "GP-AWS-006",
            safe(CLUSTER, accessConfig__bootstrapClusterCreatorAdminPermissions=True),
            "bootstrapClusterCreatorAdminPermissions is True",
        ),
        (
            "GP-AWS-006",
            safe(CLUSTER, accessConfig__bootstrapClusterCreatorAdminPermissions=_DELETE),
            "hidden cluster admin (accessConfig.bootstrapClusterCreatorAdminPermissions is unset",
        ),
        # 007: IMDS on launch templates, node classes and node groups.
        (
            "GP-AWS-007",
            safe(LAUNCH_TEMPLATE, metadataOptions__httpTokens="optional"),
            "allows IMDSv1 (metadataOptions.httpTokens is 'optional')",
        ),
        (
            "GP-AWS-007",
            safe(LAUNCH_TEMPLATE, metadataOptions__httpPutResponseHopLimit=2),
            "lets pods reach IMDS (metadataOptions.httpPutResponseHopLimit is 2)",
        ),
        (
            "GP-AWS-007",
            bare(LAUNCH_TEMPLATE, blockDeviceMappings=[]),
            "allows IMDSv1 (metadataOptions.httpTokens is unset (default optional))",
        ),
        (
            "GP-AWS-007",
            bare(LAUNCH_TEMPLATE, metadataOptions={"httpTokens": "required"}),
            "does not pin the IMDS hop limit to 1",
        ),
        (
            "GP-AWS-007",
            safe(NODE_CLASS, spec__metadataOptions__httpTokens="optional"),
            "allows IMDSv1 (spec.metadataOptions.httpTokens is 'optional')",
        ),
        (
            "GP-AWS-007",
            safe(NODE_CLASS, spec__metadataOptions__httpPutResponseHopLimit=2),
            "spec.metadataOptions.httpPutResponseHopLimit is 2",
        ),
        (
            "GP-AWS-007",
            safe(NODE_GROUP, launchTemplate=_DELETE),
            "has no launch template, so IMDSv2 and hop limit 1 are not pinned",
        ),
        # 008: SSH.
        (
            "GP-AWS-008",
            safe(NODE_GROUP, remoteAccess={"ec2SshKey": "ops"}),
            "allows SSH with key pair 'ops' from anywhere (no sourceSecurityGroupIds)",
        ),
        (
            "GP-AWS-008",
            safe(NODE_GROUP, remoteAccess={"ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-b"]}),
            "allows SSH with key pair 'ops' from security groups sg-b",
        ),
        (
            "GP-AWS-008",
            safe(LAUNCH_TEMPLATE, keyName="ops"),
            "puts key pair 'ops' on every node (keyName)",
        ),
        # 009: EBS encryption (a string in launch templates, a bool in EC2NodeClass).
        (
            "GP-AWS-009",
            safe(LAUNCH_TEMPLATE, blockDeviceMappings__0__ebs__encrypted="false"),
            "volume /dev/xvda (blockDeviceMappings[0]) is not encrypted (ebs.encrypted is 'false')",
        ),
        (
            "GP-AWS-009",
            safe(LAUNCH_TEMPLATE, blockDeviceMappings__0__ebs__encrypted=_DELETE),
            "is not encrypted (ebs.encrypted is unset)",
        ),
        (
            "GP-AWS-009",
            safe(LAUNCH_TEMPLATE, blockDeviceMappings=_DELETE),
            "has no blockDeviceMappings, so the root volume is the AMI's, unencrypted",
        ),
        (
            "GP-AWS-009",
            safe(NODE_CLASS, spec__blockDeviceMappings__0__ebs__encrypted=False),
            "volume /dev/xvda (blockDeviceMappings[0]) is not encrypted (ebs.encrypted is False)",
        ),
        # 010: public IPs.
        (
            "GP-AWS-010",
            safe(
                LAUNCH_TEMPLATE,
                networkInterfaces=[{"associatePublicIpAddress": "true", "deviceIndex": 0}],
            ),
            "networkInterfaces[0] gives nodes a public IP",
        ),
        (
            "GP-AWS-010",
            safe(NODE_CLASS, spec__associatePublicIPAddress=True),
            "gives nodes a public IP (spec.associatePublicIPAddress is true)",
        ),
        (
            "GP-AWS-010",
            safe(SUBNET, mapPublicIpOnLaunch=True),
            "subnet 10.0.0.0/19 gives every instance a public IP",
        ),
        # 011: public access blocks (each flag defaults to false).
        (
            "GP-AWS-011",
            safe(PUBLIC_ACCESS_BLOCK, restrictPublicBuckets=False),
            "does not block public access: restrictPublicBuckets not true",
        ),
        (
            "GP-AWS-011",
            bare(PUBLIC_ACCESS_BLOCK, bucket="b", blockPublicAcls=True),
            "blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets not true (default false)",
        ),
        # 012: public ACLs.
        (
            "GP-AWS-012",
            safe(BUCKET, acl="public-read"),
            "grants public access with the canned ACL 'public-read'",
        ),
        (
            "GP-AWS-012",
            bare(
                BUCKET_ACL,
                bucket="b",
                accessControlPolicy={
                    "owner": {"id": "o"},
                    "grants": [
                        {
                            "grantee": {
                                "type": "Group",
                                "uri": "http://acs.amazonaws.com/groups/global/AllUsers",
                            },
                            "permission": "READ",
                        }
                    ],
                },
            ),
            "grants READ to AllUsers",
        ),
        # 013: bucket default encryption with a customer key.
        (
            "GP-AWS-013",
            safe(SSE, rules__0__applyServerSideEncryptionByDefault={"sseAlgorithm": "AES256"}),
            "encrypts with 'AES256', not a customer KMS key",
        ),
        (
            "GP-AWS-013",
            safe(SSE, rules__0__applyServerSideEncryptionByDefault__kmsMasterKeyId=_DELETE),
            "the AWS managed key aws/s3 (no kmsMasterKeyId)",
        ),
        (
            "GP-AWS-013",
            safe(
                BUCKET,
                serverSideEncryptionConfiguration={
                    "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
                },
            ),
            "encrypts with 'AES256'",
        ),
        # 014: key rotation (default off).
        (
            "GP-AWS-014",
            safe(KMS_KEY, enableKeyRotation=False),
            "does not rotate its key material (enableKeyRotation is False)",
        ),
        ("GP-AWS-014", bare(KMS_KEY), "enableKeyRotation is unset (default false)"),
        # 015: ingress from anywhere, in each security group rule shape.
        (
            "GP-AWS-015",
            bare(INGRESS_RULE, cidrIpv4="0.0.0.0/0", ipProtocol="tcp", fromPort=22, toPort=22),
            "lets 0.0.0.0/0 in on tcp port 22 (cidrIpv4)",
        ),
        (
            "GP-AWS-015",
            bare(INGRESS_RULE, cidrIpv6="::/0", ipProtocol="-1"),
            "lets ::/0 in on all traffic (cidrIpv6)",
        ),
        (
            "GP-AWS-015",
            bare(
                SECURITY_GROUP_RULE,
                type="ingress",
                protocol="tcp",
                fromPort=0,
                toPort=65535,
                cidrBlocks=["0.0.0.0/0"],
            ),
            "lets 0.0.0.0/0 in on tcp ports 0-65535 (cidrBlocks)",
        ),
        (
            "GP-AWS-015",
            bare(
                SECURITY_GROUP,
                ingress=[
                    {
                        "protocol": "tcp",
                        "fromPort": 443,
                        "toPort": 443,
                        "ipv6CidrBlocks": ["::/0"],
                    }
                ],
            ),
            "ingress[0] lets ::/0 in on tcp port 443 (ipv6CidrBlocks)",
        ),
        # 016: support type (EKS defaults to EXTENDED).
        (
            "GP-AWS-016",
            safe(CLUSTER, upgradePolicy__supportType="EXTENDED"),
            "upgradePolicy.supportType is 'EXTENDED'",
        ),
        ("GP-AWS-016", bare(CLUSTER, name="c"), "unset (EKS's default EXTENDED)"),
    ],
)
def test_rule_reports_the_problem(
    rule: str, bad: tuple[str, dict[str, Any]], fragment: str
) -> None:
    assert_reports(rule, bad, fragment)


@pytest.mark.parametrize(
    ("rule", "good"),
    [
        ("GP-AWS-001", safe(CLUSTER, vpcConfig__endpointPublicAccess=False)),
        # A closed public endpoint needs no CIDRs, whatever the default list is.
        (
            "GP-AWS-001",
            safe(
                CLUSTER, vpcConfig__endpointPublicAccess=False, vpcConfig__publicAccessCidrs=_DELETE
            ),
        ),
        ("GP-AWS-001", safe(CLUSTER, vpcConfig__publicAccessCidrs=["198.51.100.10/32"])),
        ("GP-AWS-002", safe(CLUSTER)),
        ("GP-AWS-003", safe(CLUSTER)),
        ("GP-AWS-004", safe(CLUSTER, enabledClusterLogTypes=["authenticator", "audit"])),
        ("GP-AWS-005", safe(CLUSTER)),
        ("GP-AWS-006", safe(CLUSTER)),
        # IMDS switched off entirely has nothing to protect.
        ("GP-AWS-007", bare(LAUNCH_TEMPLATE, metadataOptions={"httpEndpoint": "disabled"})),
        # Karpenter's CRD defaults are required tokens and hop limit 1.
        ("GP-AWS-007", safe(NODE_CLASS, spec__metadataOptions=_DELETE)),
        ("GP-AWS-007", safe(NODE_GROUP)),
        ("GP-AWS-008", safe(NODE_GROUP, remoteAccess={})),
        ("GP-AWS-008", safe(LAUNCH_TEMPLATE)),
        ("GP-AWS-009", safe(LAUNCH_TEMPLATE, blockDeviceMappings__0__ebs__encrypted=True)),
        # Karpenter's default root volume is encrypted.
        ("GP-AWS-009", safe(NODE_CLASS, spec__blockDeviceMappings=_DELETE)),
        # Instance store mappings are not EBS volumes.
        (
            "GP-AWS-009",
            safe(
                LAUNCH_TEMPLATE,
                blockDeviceMappings=[
                    *SAFE[LAUNCH_TEMPLATE]["blockDeviceMappings"],
                    {"deviceName": "/dev/sdb", "virtualName": "ephemeral0"},
                ],
            ),
        ),
        (
            "GP-AWS-010",
            safe(LAUNCH_TEMPLATE, networkInterfaces=[{"associatePublicIpAddress": "false"}]),
        ),
        ("GP-AWS-010", safe(NODE_CLASS, spec__associatePublicIPAddress=_DELETE)),
        ("GP-AWS-010", bare(SUBNET, cidrBlock="10.0.224.0/22")),
        ("GP-AWS-011", safe(PUBLIC_ACCESS_BLOCK)),
        ("GP-AWS-012", safe(BUCKET, acl="private")),
        ("GP-AWS-013", safe(SSE)),
        ("GP-AWS-013", safe(BUCKET)),  # no inline block: the separate resource is checked
        ("GP-AWS-014", safe(KMS_KEY)),
        # Asymmetric keys cannot rotate; the rule does not ask them to.
        ("GP-AWS-014", bare(KMS_KEY, keySpec="RSA_2048", keyUsage="SIGN_VERIFY")),
        ("GP-AWS-015", safe(INGRESS_RULE)),
        ("GP-AWS-015", bare(INGRESS_RULE, cidrIpv4="10.0.0.0/16", ipProtocol="-1")),
        # Egress to anywhere is how nodes reach images and AWS APIs.
        (
            "GP-AWS-015",
            bare(SECURITY_GROUP_RULE, type="egress", protocol="-1", cidrBlocks=["0.0.0.0/0"]),
        ),
        ("GP-AWS-015", bare(SECURITY_GROUP, ingress=[], egress=[])),
        ("GP-AWS-016", safe(CLUSTER)),
    ],
)
def test_rule_passes_the_compliant_shape(rule: str, good: tuple[str, dict[str, Any]]) -> None:
    assert messages(rule, good) == []


def test_required_log_types_come_from_config() -> None:
    cluster = safe(CLUSTER, enabledClusterLogTypes=["audit", "authenticator"])
    assert messages("GP-AWS-004", cluster) == []
    config = {"aws-eks-control-plane-logging": {"requiredLogTypes": ["audit", "api"]}}
    assert messages("GP-AWS-004", cluster, config=config) == [
        "[GP-AWS-004] control plane logs api are off (enabledClusterLogTypes)"
    ]


def test_open_cidrs_are_found_however_spelled() -> None:
    for cidr in ("0.0.0.0/0", " 0.0.0.0/0", "::/0", "0::0/0"):
        assert messages("GP-AWS-001", safe(CLUSTER, vpcConfig__publicAccessCidrs=[cidr])), cidr
    # Wider than /8 is refused as the config refuses it (0.0.0.0/1 is half the internet);
    # a /8 itself passes, and what is not a CIDR is the cloud's to refuse.
    assert messages("GP-AWS-001", safe(CLUSTER, vpcConfig__publicAccessCidrs=["0.0.0.0/1"]))
    for cidr in ("10.0.0.0/8", "not-a-cidr"):
        assert messages("GP-AWS-001", safe(CLUSTER, vpcConfig__publicAccessCidrs=[cidr])) == []


def test_unknown_values_are_advisory_not_a_crash() -> None:
    unknown = safe(CLUSTER, vpcConfig__publicAccessCidrs=["@unknown"])
    [found] = violations("GP-AWS-001", unknown)
    assert found.level == "advisory"
    assert "cannot be known during preview" in found.message


def test_mandatory_and_advisory_levels() -> None:
    from gpuplane.policies.aws import RULES

    levels = {rule.id: rule.level for rule in RULES}
    assert [r.id for r in RULES] == RULE_IDS
    advisory = {"GP-AWS-004", "GP-AWS-005", "GP-AWS-013", "GP-AWS-014", "GP-AWS-016"}
    assert {i for i, level in levels.items() if level == "advisory"} == advisory
    assert all(r.name.startswith("aws-") for r in RULES)


# rule -> (shipped stack, mutation that breaks exactly that rule)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-AWS-001": ("aws-dev", set_input(CLUSTER, "vpcConfig.publicAccessCidrs", ["0.0.0.0/0"])),
    "GP-AWS-002": ("aws-prod", set_input(CLUSTER, "vpcConfig.endpointPrivateAccess", False)),
    "GP-AWS-003": ("aws-dev", delete_input(CLUSTER, "encryptionConfig")),
    "GP-AWS-004": ("aws-prod", set_input(CLUSTER, "enabledClusterLogTypes", ["api"])),
    "GP-AWS-005": (
        "aws-dev",
        set_input(CLUSTER, "accessConfig.authenticationMode", "API_AND_CONFIG_MAP"),
    ),
    "GP-AWS-006": (
        "aws-prod",
        delete_input(CLUSTER, "accessConfig.bootstrapClusterCreatorAdminPermissions"),
    ),
    "GP-AWS-007": (
        "aws-dev",
        set_input(NODE_CLASS, "spec.metadataOptions.httpPutResponseHopLimit", 2),
    ),
    "GP-AWS-008": ("aws-dev", set_input(NODE_GROUP, "remoteAccess", {"ec2SshKey": "ops"})),
    "GP-AWS-009": (
        "aws-prod",
        set_input(LAUNCH_TEMPLATE, "blockDeviceMappings.0.ebs.encrypted", "false"),
    ),
    "GP-AWS-010": ("aws-dev", set_input(NODE_CLASS, "spec.associatePublicIPAddress", True)),
    "GP-AWS-011": ("aws-prod", set_input(PUBLIC_ACCESS_BLOCK, "restrictPublicBuckets", False)),
    "GP-AWS-012": ("aws-dev", set_input(BUCKET, "acl", "public-read")),
    "GP-AWS-013": (
        "aws-prod",
        set_input(SSE, "rules.0.applyServerSideEncryptionByDefault", {"sseAlgorithm": "AES256"}),
    ),
    "GP-AWS-014": ("aws-dev", set_input(KMS_KEY, "enableKeyRotation", False, every=True)),
    "GP-AWS-015": (
        "aws-prod",
        add_resource(
            INGRESS_RULE,
            "ssh-from-anywhere",
            {
                "cidrIpv4": "0.0.0.0/0",
                "fromPort": 22,
                "ipProtocol": "tcp",
                "securityGroupId": "sg-nodes",
                "toPort": 22,
            },
        ),
    ),
    "GP-AWS-016": ("aws-dev", delete_input(CLUSTER, "upgradePolicy")),
}
