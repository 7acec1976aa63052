"""Jobs on GCP: the data bucket, the training identity, KEDA's identity and bucket events.

    data bucket (GCS, hardened like the models bucket) --notification--> Pub/Sub topic
        -> subscription (dead-letter topic after failed deliveries) <- KEDA gcp-pubsub
    training GSA (Workload Identity: training/training): read data, write models under
        a prefix (IAM condition), consume the trigger subscriptions
    KEDA GSA (Workload Identity: keda/keda-operator): Cloud Monitoring viewer, which is
        how the gcp-pubsub scaler reads a subscription's backlog

KEDA's gcp-pubsub scaler is deprecated upstream (it reads Cloud Monitoring through MQL;
KEDA keeps it while Google supports MQL): it is used with identity-based auth
(`provider: gcp`), never a credentials file.
"""

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from gpuplane.components.clusters.gcp import GkeFacts
from gpuplane.components.jobs.cloud import (
    KEDA_NAMESPACE,
    KEDA_SERVICE_ACCOUNT,
    TRAINING_NAMESPACE,
    TRAINING_SERVICE_ACCOUNT,
    JobsCloud,
    Scaler,
)
from gpuplane.components.jobs.settings import JobConfig, JobQueueConfig

# Pub/Sub's minimum and the retention of unacknowledged messages.
MIN_DELIVERY_ATTEMPTS = 5
RETENTION = "345600s"
ACK_DEADLINE = 600


def account_id(name: str, suffix: str) -> str:
    """A service account id (6-30 characters) for `name`-`suffix`."""
    return f"{name[: 29 - len(suffix)].rstrip('-')}-{suffix}"


def gcp_jobs(
    name: str,
    *,
    facts: GkeFacts,
    jobs: Sequence[JobConfig],
    queue: JobQueueConfig,
    parent: pulumi.Resource,
) -> JobsCloud:
    """The GCP side of jobs, as a `JobsCloud` for the Kubernetes side."""
    child = pulumi.ResourceOptions(parent=parent)
    project = facts.project
    data = gcp.storage.Bucket(
        f"{name}-data",
        project=project,
        location=facts.region,
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
        force_destroy=not facts.protect,
        labels=dict(facts.labels),
        opts=pulumi.ResourceOptions(parent=parent, protect=facts.protect),
    )
    training = _workload_account(
        f"{name}-training",
        project=project,
        account=account_id(name, "training"),
        display=f"Jobs of {name}: read data, write models (gpuplane)",
        namespace=TRAINING_NAMESPACE,
        service_account=TRAINING_SERVICE_ACCOUNT,
        parent=parent,
    )
    ready: list[pulumi.Resource] = [
        training.binding,
        gcp.storage.BucketIAMMember(
            f"{name}-training-data",
            bucket=data.name,
            role="roles/storage.objectViewer",
            member=training.member,
            opts=child,
        ),
    ]
    # Create and read objects under the prefix only; serving keeps objectViewer alone.
    for role, suffix in (
        ("roles/storage.objectCreator", "write"),
        ("roles/storage.objectViewer", "read"),
    ):
        ready.append(
            gcp.storage.BucketIAMMember(
                f"{name}-training-models-{suffix}",
                bucket=facts.models_bucket.name,
                role=role,
                member=training.member,
                condition={
                    "title": f"models-{suffix}-{queue.models_prefix.strip('/')}"[:100],
                    "description": "Only objects under the training prefix",
                    "expression": pulumi.Output.concat(
                        'resource.name.startsWith("projects/_/buckets/',
                        facts.models_bucket.name,
                        f'/objects/{queue.models_prefix}")',
                    ),
                },
                opts=child,
            )
        )
    scalers: dict[str, Scaler] = {}
    subscriptions: dict[str, pulumi.Input[str]] = {}
    for job in jobs:
        if job.trigger.bucket is not None:
            subscription = _bucket_subscription(
                f"{name}-{job.name}",
                job=job,
                facts=facts,
                bucket=data,
                prefix=job.trigger.bucket.prefix,
                parent=parent,
                ready=ready,
            )
            subscriptions[job.name] = subscription.id
        elif job.trigger.queue is not None and job.trigger.queue.type == "pubsub":
            assert job.trigger.queue.subscription is not None
            subscriptions[job.name] = job.trigger.queue.subscription
        else:
            continue
        per_job = job.trigger.queue.messages_per_job if job.trigger.queue else 1
        scalers[job.name] = Scaler(
            type="gcp-pubsub",
            metadata={
                "subscriptionName": subscriptions[job.name],
                "mode": "SubscriptionSize",
                "value": str(per_job),
            },
            queue=subscriptions[job.name],
        )
    for job_name, subscription in subscriptions.items():
        ready.append(
            gcp.pubsub.SubscriptionIAMMember(
                f"{name}-{job_name}-training",
                subscription=subscription,
                role="roles/pubsub.subscriber",
                member=training.member,
                opts=child,
            )
        )
    keda_values: dict[str, object] = {}
    pod_identity = None
    if scalers:
        keda = _workload_account(
            f"{name}-keda",
            project=project,
            account=account_id(name, "keda"),
            display=f"KEDA scalers of {name}: read Pub/Sub backlog metrics (gpuplane)",
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_SERVICE_ACCOUNT,
            parent=parent,
        )
        ready.append(keda.binding)
        ready.append(
            gcp.projects.IAMMember(
                f"{name}-keda-monitoring",
                project=project,
                role="roles/monitoring.viewer",
                member=keda.member,
                opts=child,
            )
        )
        keda_values = {"gcp": {"enabled": True, "gcpIAMServiceAccount": keda.email}}
        pod_identity = {"provider": "gcp"}
    return JobsCloud(
        training_annotations={"iam.gke.io/gcp-service-account": training.email},
        keda_identity=keda_values,
        pod_identity=pod_identity,
        scalers=scalers,
        data_uri=pulumi.Output.concat("gs://", data.name, "/"),
        models_uri=pulumi.Output.concat(
            "gs://", facts.models_bucket.name, "/", queue.models_prefix
        ),
        ready=ready,
    )


class _Identity:
    def __init__(self, account: gcp.serviceaccount.Account, binding: pulumi.Resource) -> None:
        self.email = account.email
        self.member = account.member
        self.binding = binding


def _workload_account(
    name: str,
    *,
    project: str,
    account: str,
    display: str,
    namespace: str,
    service_account: str,
    parent: pulumi.Resource,
) -> _Identity:
    """A Google service account that one Kubernetes ServiceAccount acts as."""
    child = pulumi.ResourceOptions(parent=parent)
    created = gcp.serviceaccount.Account(
        name, project=project, account_id=account, display_name=display, opts=child
    )
    binding = gcp.serviceaccount.IAMMember(
        f"{name}-workload-identity",
        service_account_id=created.name,
        role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{project}.svc.id.goog[{namespace}/{service_account}]",
        opts=child,
    )
    return _Identity(created, binding)


def _bucket_subscription(
    name: str,
    *,
    job: JobConfig,
    facts: GkeFacts,
    bucket: gcp.storage.Bucket,
    prefix: str,
    parent: pulumi.Resource,
    ready: list[pulumi.Resource],
) -> gcp.pubsub.Subscription:
    """OBJECT_FINALIZE under `prefix` -> topic -> subscription with a dead-letter topic."""
    child = pulumi.ResourceOptions(parent=parent)
    project = facts.project
    labels = dict(facts.labels)
    storage_agent = pulumi.Output.concat(
        "serviceAccount:service-",
        facts.project_number,
        "@gs-project-accounts.iam.gserviceaccount.com",
    )
    pubsub_agent = pulumi.Output.concat(
        "serviceAccount:service-", facts.project_number, "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    topic = gcp.pubsub.Topic(name, project=project, labels=labels, opts=child)
    dead = gcp.pubsub.Topic(f"{name}-dead-letter", project=project, labels=labels, opts=child)
    publish = gcp.pubsub.TopicIAMMember(
        f"{name}-storage-publisher",
        project=project,
        topic=topic.name,
        role="roles/pubsub.publisher",
        member=storage_agent,
        opts=child,
    )
    subscription = gcp.pubsub.Subscription(
        name,
        project=project,
        topic=topic.id,
        ack_deadline_seconds=ACK_DEADLINE,
        message_retention_duration=RETENTION,
        expiration_policy={"ttl": ""},  # never expires while idle
        dead_letter_policy={
            "dead_letter_topic": dead.id,
            "max_delivery_attempts": max(MIN_DELIVERY_ATTEMPTS, job.retries + 1),
        },
        retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
        labels=labels,
        opts=child,
    )
    ready.extend(
        [
            publish,
            # Pub/Sub's own agent forwards undeliverable messages to the dead-letter topic.
            gcp.pubsub.TopicIAMMember(
                f"{name}-dead-letter-publisher",
                project=project,
                topic=dead.name,
                role="roles/pubsub.publisher",
                member=pubsub_agent,
                opts=child,
            ),
            gcp.pubsub.SubscriptionIAMMember(
                f"{name}-dead-letter-subscriber",
                project=project,
                subscription=subscription.name,
                role="roles/pubsub.subscriber",
                member=pubsub_agent,
                opts=child,
            ),
            gcp.storage.Notification(
                name,
                bucket=bucket.name,
                payload_format="JSON_API_V1",
                topic=topic.id,
                event_types=["OBJECT_FINALIZE"],
                object_name_prefix=prefix or None,
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[publish]),
            ),
        ]
    )
    return subscription
