"""Jobs on Azure: the data container, the training identity, KEDA's identity, blob events.

`data` container (in the models storage account: same hardening, no shared keys)
    --Event Grid system topic (managed identity)--> Storage Queue <- KEDA azure-queue
    undeliverable events -> `deadletter` container
training identity (workload identity: training/training): read data, write models
    only under a prefix (ABAC condition), process the trigger queues
KEDA identity (workload identity: keda/keda-operator): read queue length only,
    named by the TriggerAuthentication (`azure-workload`, identityId)
"""

from collections.abc import Sequence

import pulumi
import pulumi_azure_native as azure

from gpuplane.components.clusters.azure import AksFacts
from gpuplane.components.clusters.azure_identity import (
    federated_credentials,
    identity,
    role_assignment,
)
from gpuplane.components.jobs.cloud import (
    KEDA_NAMESPACE,
    KEDA_SERVICE_ACCOUNT,
    TRAINING_NAMESPACE,
    TRAINING_SERVICE_ACCOUNT,
    JobsCloud,
    Scaler,
)
from gpuplane.components.jobs.settings import JobConfig, JobQueueConfig

DATA_CONTAINER = "data"
DEAD_LETTER_CONTAINER = "deadletter"
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def prefix_condition(prefix: str) -> str:
    """ABAC: blob reads, writes and deletes only under `prefix` of the container."""
    actions = " AND ".join(
        f"!(ActionMatches{{'{BLOBS}/{action}'}})"
        for action in ("read", "write", "add/action", "delete")
    )
    return f"(({actions}) OR (@Resource[{BLOBS}:path] StringStartsWith '{prefix}'))"


def azure_jobs(
    name: str,
    *,
    facts: AksFacts,
    jobs: Sequence[JobConfig],
    queue: JobQueueConfig,
    parent: pulumi.Resource,
) -> JobsCloud:
    """The Azure side of jobs, as a `JobsCloud` for the Kubernetes side."""
    ctx = facts.ctx
    account = facts.models_account
    group = ctx.resource_group.name
    stateful = pulumi.ResourceOptions(parent=parent, protect=facts.protect)
    data = azure.storage.BlobContainer(
        f"{name}-data",
        container_name=DATA_CONTAINER,
        account_name=account.name,
        resource_group_name=group,
        public_access="None",
        opts=stateful,
    )
    training = identity(f"{name}-training", ctx=ctx, parent=parent)
    ready: list[pulumi.Resource] = [
        *federated_credentials(
            f"{name}-training",
            ctx=ctx,
            identity=training,
            issuer=facts.issuer,
            namespace=TRAINING_NAMESPACE,
            service_accounts=[TRAINING_SERVICE_ACCOUNT],
            parent=parent,
        ),
        role_assignment(
            f"{name}-training-data",
            ctx=ctx,
            role="Storage Blob Data Reader",
            scope=data.id,
            principal_id=training.principal_id,
            parent=parent,
        ),
        role_assignment(
            f"{name}-training-models",
            ctx=ctx,
            role="Storage Blob Data Contributor",
            scope=facts.models_container.id,
            principal_id=training.principal_id,
            condition=prefix_condition(queue.models_prefix),
            parent=parent,
        ),
    ]
    queues: dict[str, tuple[pulumi.Input[str], pulumi.Input[str], pulumi.Input[str]]] = {}
    bucket_jobs = [j for j in jobs if j.trigger.bucket is not None]
    if bucket_jobs:
        queues.update(_blob_events(name, facts=facts, jobs=bucket_jobs, parent=parent, ready=ready))
    for job in jobs:
        given = job.trigger.queue
        if given is not None and given.type == "azure-queue":
            assert given.account and given.resource_group and given.queue
            scope = pulumi.Output.concat(
                "/subscriptions/",
                ctx.subscription_id,
                f"/resourceGroups/{given.resource_group}/providers/Microsoft.Storage"
                f"/storageAccounts/{given.account}/queueServices/default/queues/{given.queue}",
            )
            queues[job.name] = (scope, given.account, given.queue)
    scalers: dict[str, Scaler] = {}
    keda_values: dict[str, object] = {}
    pod_identity = None
    if queues:
        keda = identity(f"{name}-keda", ctx=ctx, parent=parent)
        ready.extend(
            federated_credentials(
                f"{name}-keda",
                ctx=ctx,
                identity=keda,
                issuer=facts.issuer,
                namespace=KEDA_NAMESPACE,
                service_accounts=[KEDA_SERVICE_ACCOUNT],
                parent=parent,
            )
        )
        for job_name, (scope, account_name, queue_name) in queues.items():
            ready.append(
                role_assignment(
                    f"{name}-{job_name}-keda",
                    ctx=ctx,
                    role="Storage Queue Data Reader",
                    scope=scope,
                    principal_id=keda.principal_id,
                    parent=parent,
                )
            )
            ready.append(
                role_assignment(
                    f"{name}-{job_name}-training",
                    ctx=ctx,
                    role="Storage Queue Data Message Processor",
                    scope=scope,
                    principal_id=training.principal_id,
                    parent=parent,
                )
            )
            per_job = next(
                (
                    j.trigger.queue.messages_per_job
                    for j in jobs
                    if j.name == job_name and j.trigger.queue
                ),
                1,
            )
            scalers[job_name] = Scaler(
                type="azure-queue",
                metadata={
                    "accountName": account_name,
                    "queueName": queue_name,
                    "queueLength": str(per_job),
                },
                queue=queue_name,
            )
        keda_values = {
            "azureWorkload": {
                "enabled": True,
                "clientId": keda.client_id,
                "tenantId": facts.tenant_id,
            }
        }
        pod_identity = {"provider": "azure-workload", "identityId": keda.client_id}
    blob_endpoint = pulumi.Output.concat("https://", account.name, ".blob.core.windows.net/")
    return JobsCloud(
        training_annotations={
            "azure.workload.identity/client-id": training.client_id,
            "azure.workload.identity/tenant-id": facts.tenant_id,
        },
        training_pod_labels={WORKLOAD_IDENTITY_LABEL: "true"},
        keda_identity=keda_values,
        pod_identity=pod_identity,
        scalers=scalers,
        data_uri=pulumi.Output.concat(blob_endpoint, DATA_CONTAINER, "/"),
        models_uri=pulumi.Output.concat(
            blob_endpoint, facts.models_container.name, "/", queue.models_prefix
        ),
        ready=ready,
    )


def _blob_events(
    name: str,
    *,
    facts: AksFacts,
    jobs: Sequence[JobConfig],
    parent: pulumi.Resource,
    ready: list[pulumi.Resource],
) -> dict[str, tuple[pulumi.Input[str], pulumi.Input[str], pulumi.Input[str]]]:
    """One system topic on the account; per job a queue and a filtered subscription."""
    ctx = facts.ctx
    account = facts.models_account
    group = ctx.resource_group.name
    child = pulumi.ResourceOptions(parent=parent)
    dead = azure.storage.BlobContainer(
        f"{name}-deadletter",
        container_name=DEAD_LETTER_CONTAINER,
        account_name=account.name,
        resource_group_name=group,
        public_access="None",
        opts=child,
    )
    # Azure allows one system topic per source: the account's events, delivered with the
    # topic's own identity (the account takes no shared keys).
    topic = azure.eventgrid.SystemTopic(
        f"{name}-blob-events",
        resource_group_name=group,
        location=ctx.location,
        source=account.id,
        topic_type="Microsoft.Storage.StorageAccounts",
        identity={"type": "SystemAssigned"},
        tags=dict(ctx.tags),
        opts=child,
    )
    topic_principal = topic.identity.apply(lambda i: i.principal_id if i else None)
    dead_grant = role_assignment(
        f"{name}-deadletter-writer",
        ctx=ctx,
        role="Storage Blob Data Contributor",
        scope=dead.id,
        principal_id=topic_principal,
        parent=parent,
    )
    ready.append(dead_grant)
    queues: dict[str, tuple[pulumi.Input[str], pulumi.Input[str], pulumi.Input[str]]] = {}
    for job in jobs:
        assert job.trigger.bucket is not None
        created = azure.storage.Queue(
            f"{name}-{job.name}",
            queue_name=job.name,
            account_name=account.name,
            resource_group_name=group,
            opts=child,
        )
        sender = role_assignment(
            f"{name}-{job.name}-events",
            ctx=ctx,
            role="Storage Queue Data Message Sender",
            scope=created.id,
            principal_id=topic_principal,
            parent=parent,
        )
        ready.append(sender)
        ready.append(
            azure.eventgrid.SystemTopicEventSubscription(
                f"{name}-{job.name}",
                event_subscription_name=job.name,
                system_topic_name=topic.name,
                resource_group_name=group,
                event_delivery_schema="EventGridSchema",
                filter={
                    "included_event_types": ["Microsoft.Storage.BlobCreated"],
                    "subject_begins_with": (
                        f"/blobServices/default/containers/{DATA_CONTAINER}/blobs/"
                        f"{job.trigger.bucket.prefix}"
                    ),
                },
                delivery_with_resource_identity={
                    "identity": {"type": "SystemAssigned"},
                    "destination": {
                        "endpoint_type": "StorageQueue",
                        "resource_id": account.id,
                        "queue_name": created.name,
                    },
                },
                dead_letter_with_resource_identity={
                    "identity": {"type": "SystemAssigned"},
                    "dead_letter_destination": {
                        "endpoint_type": "StorageBlob",
                        "resource_id": account.id,
                        "blob_container_name": DEAD_LETTER_CONTAINER,
                    },
                },
                retry_policy={"max_delivery_attempts": 30, "event_time_to_live_in_minutes": 1440},
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[sender, dead_grant]),
            )
        )
        queues[job.name] = (created.id, account.name, created.name)
    return queues
