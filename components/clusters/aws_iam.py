"""IAM roles for EKS: policy documents built as JSON, so the graph shows every grant.

Roles for pods are assumed through EKS Pod Identity (`pods.eks.amazonaws.com`):
no OIDC provider to manage, no role ARN annotation on service accounts, and
session tags that scope a role to its cluster, namespace and service account.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from gpuplane.components.extras import missing_extra

try:
    import pulumi_aws as aws
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.aws_iam") from None

POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
# What an EKS node needs. No AmazonSSMManagedInstanceCore: nodes take no shell sessions.
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
)


def trust_policy(service: str, *, tag_session: bool = False) -> str:
    """A role trust policy letting one AWS service principal assume the role."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}
            ],
        }
    )


def pod_identity_trust(cluster_name: str, namespace: str, service_accounts: Sequence[str]) -> str:
    """Trust for EKS Pod Identity, limited by its session tags to one cluster, one
    namespace and the named service accounts."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {
                            "aws:RequestTag/eks-cluster-name": cluster_name,
                            "aws:RequestTag/kubernetes-namespace": namespace,
                            "aws:RequestTag/kubernetes-service-account": list(service_accounts),
                        }
                    },
                }
            ],
        }
    )


def policy_document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """An IAM policy document; statements may hold Outputs (ARNs) anywhere."""
    return pulumi.Output.from_input(list(statements)).apply(
        lambda resolved: json.dumps({"Version": "2012-10-17", "Statement": resolved})
    )


def managed_policy(partition: pulumi.Input[str], policy: str) -> pulumi.Output[str]:
    """The ARN of an AWS-managed policy in the stack's partition."""
    return pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", policy)


def cluster_access(
    name: str,
    *,
    cluster_name: pulumi.Input[str],
    principal_arn: pulumi.Input[str],
    entry_type: str,
    policy: str,
    partition: pulumi.Input[str],
    tags: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """An EKS access entry and, once it exists, a cluster-wide access policy for it."""
    entry = aws.eks.AccessEntry(
        name,
        cluster_name=cluster_name,
        principal_arn=principal_arn,
        type=entry_type,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    association = aws.eks.AccessPolicyAssociation(
        name,
        cluster_name=cluster_name,
        principal_arn=principal_arn,
        policy_arn=pulumi.Output.concat(
            "arn:", partition, f":eks::aws:cluster-access-policy/{policy}"
        ),
        access_scope={"type": "cluster"},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[entry]),
    )
    return [entry, association]


def role(
    name: str,
    *,
    trust: str,
    description: str,
    partition: pulumi.Input[str],
    managed: Sequence[str] = (),
    inline: Mapping[str, pulumi.Input[str]] | None = None,
    tags: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """A role with AWS-managed policies and named inline policies.

    Returns the role and its grants: anything using the role should wait for them.
    """
    child = pulumi.ResourceOptions(parent=parent)
    created = aws.iam.Role(
        name,
        assume_role_policy=trust,
        description=description,
        max_session_duration=3600,
        tags=dict(tags),
        opts=child,
    )
    grants: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy}",
            role=created.name,
            policy_arn=managed_policy(partition, policy),
            opts=child,
        )
        for policy in managed
    ]
    grants.extend(
        aws.iam.RolePolicy(f"{name}-{key}", role=created.name, policy=document, opts=child)
        for key, document in (inline or {}).items()
    )
    return created, grants
