"""Jobs on AWS: the data bucket, the training role, KEDA's scaler role and bucket events.

    data bucket (S3, hardened like the models bucket) --EventBridge--> rule
        -> SQS queue (SSE, TLS only, redrive to a dead-letter queue) <- KEDA aws-sqs-queue
    training role (Pod Identity: training/training): read data, write models under a prefix,
        consume the trigger queues
    KEDA operator role (Pod Identity: keda/keda-operator) -> may only assume the scaler role
    scaler role (named by the TriggerAuthentication): GetQueueAttributes on the queues only

KEDA's `aws` pod-identity provider is used with `roleArn`: the cluster has EKS Pod
Identity and no OIDC provider, which the deprecated `aws-eks` provider needs.
"""

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from gpuplane.components.clusters.aws import EksFacts
from gpuplane.components.clusters.aws_iam import pod_identity_trust, policy_document, role
from gpuplane.components.clusters.aws_models import hardened_bucket
from gpuplane.components.jobs.cloud import (
    KEDA_NAMESPACE,
    KEDA_SERVICE_ACCOUNT,
    TRAINING_NAMESPACE,
    TRAINING_SERVICE_ACCOUNT,
    JobsCloud,
    Scaler,
)
from gpuplane.components.jobs.settings import JobConfig, JobQueueConfig
from gpuplane.components.rules import duration_seconds

# SQS's longest visibility timeout (12 h); a message stays hidden while its job runs.
MAX_VISIBILITY = 43200
DEAD_LETTER_RETENTION = 14 * 24 * 3600


def _queue_arn(url: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> of an SQS queue URL (validated in settings)."""
    host, account, queue = url.removeprefix("https://").split("/")
    region = host.split(".")[1]
    partition = "aws-cn" if host.endswith(".cn") else "aws"
    return f"arn:{partition}:sqs:{region}:{account}:{queue}"


def aws_jobs(
    name: str,
    *,
    facts: EksFacts,
    jobs: Sequence[JobConfig],
    queue: JobQueueConfig,
    parent: pulumi.Resource,
) -> JobsCloud:
    """The AWS side of jobs, as a `JobsCloud` for the Kubernetes side."""
    child = pulumi.ResourceOptions(parent=parent)
    tags = dict(facts.tags)
    data_key, data, ready = hardened_bucket(
        f"{name}-data",
        description=f"Training data of EKS cluster {facts.cluster_name}",
        protect=facts.protect,
        tags=tags,
        parent=parent,
    )
    queues: dict[str, aws.sqs.Queue] = {}
    scalers: dict[str, Scaler] = {}
    bucket_jobs = [j for j in jobs if j.trigger.bucket is not None]
    if bucket_jobs:
        # S3 sends every event of the bucket to EventBridge; rules pick the prefixes.
        ready.append(
            aws.s3.BucketNotification(
                f"{name}-data-events", bucket=data.id, eventbridge=True, opts=child
            )
        )
    for job in bucket_jobs:
        assert job.trigger.bucket is not None
        queues[job.name] = created = _bucket_queue(
            f"{name}-{job.name}",
            job=job,
            bucket=data,
            prefix=job.trigger.bucket.prefix,
            tags=tags,
            parent=parent,
            ready=ready,
        )
        scalers[job.name] = Scaler(
            type="aws-sqs-queue",
            metadata={"queueURL": created.url, "awsRegion": facts.region, "queueLength": "1"},
            queue=created.url,
        )
    existing: dict[str, str] = {}
    for job in jobs:
        given = job.trigger.queue
        if given is not None and given.type == "sqs" and given.url is not None:
            existing[job.name] = _queue_arn(given.url)
            region = given.url.removeprefix("https://").split(".")[1]
            scalers[job.name] = Scaler(
                type="aws-sqs-queue",
                metadata={
                    "queueURL": given.url,
                    "awsRegion": region,
                    "queueLength": str(given.messages_per_job),
                },
                queue=given.url,
            )
    queue_arns: list[pulumi.Input[str]] = [q.arn for q in queues.values()]
    queue_arns.extend(existing.values())

    objects = pulumi.Output.concat(facts.models_bucket.arn, "/", queue.models_prefix, "*")
    statements: list[dict[str, object]] = [
        {"Sid": "ListData", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": data.arn},
        {
            "Sid": "ReadData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": pulumi.Output.concat(data.arn, "/*"),
        },
        {
            "Sid": "DecryptData",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": data_key.arn,
        },
        {
            "Sid": "ListModelsPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": facts.models_bucket.arn,
            "Condition": {"StringLike": {"s3:prefix": f"{queue.models_prefix}*"}},
        },
        {
            "Sid": "WriteModelsPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": objects,
        },
        {
            "Sid": "EncryptModels",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": facts.models_key.arn,
        },
    ]
    if queue_arns:
        statements.append(
            {
                "Sid": "ConsumeTriggerQueues",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": queue_arns,
            }
        )
    training, training_grants = role(
        f"{name}-training",
        trust=pod_identity_trust(
            facts.cluster_name, TRAINING_NAMESPACE, [TRAINING_SERVICE_ACCOUNT]
        ),
        description=f"Jobs of EKS cluster {facts.cluster_name}: read data, write models",
        partition=facts.partition,
        inline={"training": policy_document(statements)},
        tags=tags,
        parent=parent,
    )
    ready.extend(training_grants)
    ready.append(
        aws.eks.PodIdentityAssociation(
            f"{name}-training",
            cluster_name=facts.eks.name,
            namespace=TRAINING_NAMESPACE,
            service_account=TRAINING_SERVICE_ACCOUNT,
            role_arn=training.arn,
            tags=tags,
            opts=child,
        )
    )
    pod_identity = None
    if queue_arns:
        pod_identity = {
            "provider": "aws",
            "roleArn": _scaler_identity(name, facts, queue_arns, parent, ready),
        }
    return JobsCloud(
        pod_identity=pod_identity,
        scalers=scalers,
        data_uri=pulumi.Output.concat("s3://", data.bucket, "/"),
        models_uri=pulumi.Output.concat(
            "s3://", facts.models_bucket.bucket, "/", queue.models_prefix
        ),
        ready=ready,
    )


def _scaler_identity(
    name: str,
    facts: EksFacts,
    queue_arns: list[pulumi.Input[str]],
    parent: pulumi.Resource,
    ready: list[pulumi.Resource],
) -> pulumi.Output[str]:
    """KEDA's operator role, allowed only to assume the scaler role that reads queue depth."""
    operator, operator_grants = role(
        f"{name}-keda",
        trust=pod_identity_trust(facts.cluster_name, KEDA_NAMESPACE, [KEDA_SERVICE_ACCOUNT]),
        description=f"KEDA operator of EKS cluster {facts.cluster_name}",
        partition=facts.partition,
        tags=facts.tags,
        parent=parent,
    )
    scaler, scaler_grants = role(
        f"{name}-keda-scaler",
        trust=operator.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}
                    ],
                }
            )
        ),
        description=f"KEDA's scalers of EKS cluster {facts.cluster_name}: queue depth only",
        partition=facts.partition,
        inline={
            "queue-depth": policy_document(
                [{"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": queue_arns}]
            )
        },
        tags=facts.tags,
        parent=parent,
    )
    ready.extend(operator_grants)
    ready.extend(scaler_grants)
    ready.append(
        aws.iam.RolePolicy(
            f"{name}-keda-assume",
            role=operator.name,
            policy=policy_document(
                [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": scaler.arn}]
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    )
    ready.append(
        aws.eks.PodIdentityAssociation(
            f"{name}-keda",
            cluster_name=facts.eks.name,
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_SERVICE_ACCOUNT,
            role_arn=operator.arn,
            tags=dict(facts.tags),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    )
    return scaler.arn


def _bucket_queue(
    name: str,
    *,
    job: JobConfig,
    bucket: aws.s3.Bucket,
    prefix: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    ready: list[pulumi.Resource],
) -> aws.sqs.Queue:
    """S3 Object Created under `prefix` -> EventBridge rule -> SQS, with a dead-letter queue."""
    child = pulumi.ResourceOptions(parent=parent)
    dead = aws.sqs.Queue(
        f"{name}-dlq",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DEAD_LETTER_RETENTION,
        tags=tags,
        opts=child,
    )
    created = aws.sqs.Queue(
        name,
        sqs_managed_sse_enabled=True,
        visibility_timeout_seconds=min(duration_seconds(job.timeout), MAX_VISIBILITY),
        message_retention_seconds=4 * 24 * 3600,
        # A message whose job failed every retry goes to the dead-letter queue.
        redrive_policy=dead.arn.apply(
            lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": job.retries + 1})
        ),
        tags=tags,
        opts=child,
    )
    pattern: dict[str, object] = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket.bucket]}},
    }
    if prefix:
        pattern["detail"] = {
            "bucket": {"name": [bucket.bucket]},
            "object": {"key": [{"prefix": prefix}]},
        }
    rule = aws.cloudwatch.EventRule(
        name,
        description=f"New objects for job {job.name}",
        event_pattern=pulumi.Output.from_input(pattern).apply(json.dumps),
        tags=tags,
        opts=child,
    )
    for target_queue, suffix in ((created, ""), (dead, "-dlq")):
        ready.append(
            aws.sqs.QueuePolicy(
                f"{name}{suffix}",
                queue_url=target_queue.url,
                policy=policy_document(
                    [
                        {
                            "Sid": "EventBridgeFromThisRule",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": target_queue.arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "sqs:*",
                            "Resource": target_queue.arn,
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ]
                ),
                opts=child,
            )
        )
    ready.append(
        aws.cloudwatch.EventTarget(
            name,
            rule=rule.name,
            arn=created.arn,
            # Events EventBridge cannot deliver go to the dead-letter queue too.
            dead_letter_config={"arn": dead.arn},
            retry_policy={"maximum_event_age_in_seconds": 86400, "maximum_retry_attempts": 20},
            opts=child,
        )
    )
    return created
