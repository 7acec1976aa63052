"""Read access to the models bucket for the model cache's download jobs, per cloud.

KServe v0.20.0's agent starts the download jobs in `kserve-localmodel-jobs` without a
serviceAccountName, so they run as that namespace's `default` ServiceAccount. It gets
the same read-only access the `models` ServiceAccount has for serving, and nothing
more: EKS Pod Identity (a role reading the bucket and decrypting with its key), GKE
Workload Identity Federation (objectViewer on the bucket for that principal), AKS
workload identity (a federated managed identity with Storage Blob Data Reader on the
container; `job_identity` carries the client id for the ServiceAccount and the label the
webhook needs on the jobs' pods, which `ModelCache` applies).
"""

from typing import Any, TypedDict

import pulumi

from gpuplane.components.clusters.contract import Cluster, ModelIdentity
from gpuplane.components.naming import type_token
from gpuplane.components.serving.cache_settings import JOB_NAMESPACE, JOB_SERVICE_ACCOUNT

# AKS's workload identity webhook mutates only pods with this label.
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"


class ModelCacheIdentityArgs(TypedDict):
    """Arguments of `ModelCacheIdentity`."""

    cluster: Cluster
    """The cluster; its `facts` name the models bucket. On an existing cluster (no facts)
    nothing is made: give the download jobs credentials yourself."""


class ModelCacheIdentity(pulumi.ComponentResource):
    """The download jobs' ServiceAccount, bound to read the models bucket."""

    bindings: list[pulumi.Resource]
    """What must exist before the cache's models are asked for (a download job that fails
    for want of access is not retried until its TTL ends)."""
    job_identity: ModelIdentity
    """What the jobs' ServiceAccount and pods must carry (`ModelCacheSettings.job_identity`)."""

    def __init__(
        self, name: str, args: ModelCacheIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(type_token("serving", "ModelCacheIdentity"), name, None, opts)
        cluster = args["cluster"]
        facts = cluster.facts
        self.bindings = []
        self.job_identity = ModelIdentity()
        if facts is not None and cluster.cloud == "aws":
            self.bindings = _aws(name, facts, self)
        elif facts is not None and cluster.cloud == "gcp":
            self.bindings = _gcp(name, facts, self)
        elif facts is not None and cluster.cloud == "azure":
            self.bindings, self.job_identity = _azure(name, facts, self)
        self.register_outputs({"namespace": JOB_NAMESPACE, "serviceAccount": JOB_SERVICE_ACCOUNT})


def _aws(name: str, facts: Any, parent: pulumi.Resource) -> list[pulumi.Resource]:
    import pulumi_aws as aws

    from gpuplane.components.clusters.aws_iam import pod_identity_trust, policy_document, role

    objects = pulumi.Output.concat(facts.models_bucket.arn, "/*")
    reader, grants = role(
        f"{name}-reader",
        trust=pod_identity_trust(facts.cluster_name, JOB_NAMESPACE, [JOB_SERVICE_ACCOUNT]),
        description=f"Model cache downloads of EKS cluster {facts.cluster_name}: read models",
        partition=facts.partition,
        inline={
            "read-models": policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": facts.models_bucket.arn,
                    },
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": facts.models_key.arn},
                ]
            )
        },
        tags=facts.tags,
        parent=parent,
    )
    association = aws.eks.PodIdentityAssociation(
        f"{name}-jobs",
        cluster_name=facts.eks.name,
        namespace=JOB_NAMESPACE,
        service_account=JOB_SERVICE_ACCOUNT,
        role_arn=reader.arn,
        tags=dict(facts.tags),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=grants),
    )
    return [*grants, association]


def _gcp(name: str, facts: Any, parent: pulumi.Resource) -> list[pulumi.Resource]:
    import pulumi_gcp as gcp

    member = pulumi.Output.concat(
        "principal://iam.googleapis.com/projects/",
        facts.project_number,
        f"/locations/global/workloadIdentityPools/{facts.project}.svc.id.goog"
        f"/subject/ns/{JOB_NAMESPACE}/sa/{JOB_SERVICE_ACCOUNT}",
    )
    return [
        gcp.storage.BucketIAMMember(
            f"{name}-jobs",
            bucket=facts.models_bucket.name,
            role="roles/storage.objectViewer",
            member=member,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    ]


def _azure(name: str, facts: Any, parent: pulumi.Resource) -> tuple[list, ModelIdentity]:
    from gpuplane.components.clusters.azure_identity import (
        federated_credentials,
        identity,
        role_assignment,
    )

    reader = identity(f"{name}-reader", ctx=facts.ctx, parent=parent)
    grant = role_assignment(
        f"{name}-reader",
        ctx=facts.ctx,
        role="Storage Blob Data Reader",
        scope=facts.models_container.id,
        principal_id=reader.principal_id,
        parent=parent,
    )
    credentials = federated_credentials(
        f"{name}-jobs",
        ctx=facts.ctx,
        identity=reader,
        issuer=facts.issuer,
        namespace=JOB_NAMESPACE,
        service_accounts=[JOB_SERVICE_ACCOUNT],
        parent=parent,
    )
    job_identity = ModelIdentity(
        service_account_annotations={
            "azure.workload.identity/client-id": reader.client_id,
            "azure.workload.identity/tenant-id": facts.tenant_id,
        },
        pod_labels={WORKLOAD_IDENTITY_LABEL: "true"},
    )
    return [grant, *credentials], job_identity
