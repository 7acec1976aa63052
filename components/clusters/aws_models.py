"""Model storage on S3, read by InferenceServices through EKS Pod Identity.

The bucket is private (every public-access block on, owner-enforced objects),
versioned, encrypted with its own customer key, and refuses non-TLS requests.
The `models` ServiceAccount and the namespace's `default` one (which an
InferenceService runs as unless it names another) get a read-only role through
Pod Identity, so the storage initializer's boto3 finds credentials with no
static keys.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from gpuplane.components.clusters.aws_iam import pod_identity_trust, policy_document, role
from gpuplane.components.extras import missing_extra

try:
    import pulumi_aws as aws
except ModuleNotFoundError as exc:
    raise missing_extra(exc, "gpuplane.components.clusters.aws_models") from None


@dataclass(frozen=True)
class ModelStore:
    """The bucket and the grant that lets model pods read it."""

    bucket: aws.s3.Bucket
    key: aws.kms.Key
    ready: list[pulumi.Resource]

    @property
    def uri_prefix(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("s3://", self.bucket.bucket, "/")


def hardened_bucket(
    name: str,
    *,
    description: str,
    protect: bool,
    tags: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> tuple[aws.kms.Key, aws.s3.Bucket, list[pulumi.Resource]]:
    """A private, versioned bucket encrypted with its own rotating key, TLS only.

    Returns the key, the bucket and the settings anything using it should wait for.
    """
    child = pulumi.ResourceOptions(parent=parent)
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect)
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        tags=dict(tags),
        opts=stateful,
    )
    bucket = aws.s3.Bucket(
        name,
        # Protected stacks keep their objects on `pulumi destroy`.
        force_destroy=not protect,
        tags=dict(tags),
        opts=stateful,
    )
    ready: list[pulumi.Resource] = [
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        ),
        aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        ),
        aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        ),
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        ),
    ]
    objects = pulumi.Output.concat(bucket.arn, "/*")
    ready.append(
        aws.s3.BucketPolicy(
            name,
            bucket=bucket.id,
            policy=policy_document(
                [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket.arn, objects],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ]
            ),
            # S3 refuses a policy while the public-access block is being changed.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[ready[0]]),
        )
    )
    return key, bucket, ready


def model_store(
    name: str,
    *,
    cluster: aws.eks.Cluster,
    cluster_name: str,
    namespace: str,
    service_accounts: Sequence[str],
    partition: pulumi.Input[str],
    protect: bool,
    tags: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> ModelStore:
    """Create the models bucket and the reader identity for `namespace/service_account`."""
    key, bucket, ready = hardened_bucket(
        f"{name}-models",
        description=f"Model artifacts of EKS cluster {cluster_name}",
        protect=protect,
        tags=tags,
        parent=parent,
    )
    child = pulumi.ResourceOptions(parent=parent)
    objects = pulumi.Output.concat(bucket.arn, "/*")
    reader, grants = role(
        f"{name}-models-reader",
        trust=pod_identity_trust(cluster_name, namespace, service_accounts),
        description=f"Read-only access to the models bucket of EKS cluster {cluster_name}",
        partition=partition,
        inline={
            "read-models": policy_document(
                [
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket.arn},
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key.arn},
                ]
            )
        },
        tags=tags,
        parent=parent,
    )
    associations = [
        aws.eks.PodIdentityAssociation(
            f"{name}-models-{account}",
            cluster_name=cluster.name,
            namespace=namespace,
            service_account=account,
            role_arn=reader.arn,
            tags=dict(tags),
            opts=child,
        )
        for account in service_accounts
    ]
    return ModelStore(bucket=bucket, key=key, ready=[*ready, *grants, *associations])
