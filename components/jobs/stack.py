"""JobsStack: KEDA, Kueue, the `training` namespace and one workload per configured job.

    PriorityClasses (serving > training > batch)
    KEDA ----------------------> TriggerAuthentication -> ScaledJob (bucket, queue)
    Kueue -> ResourceFlavors -> ClusterQueue -> LocalQueue `default` in training
    training namespace + ServiceAccount (cloud identity) -> ScaledJob / CronJob (schedule)

Every job runs as the `training` ServiceAccount in `training`, where Kueue admits
it under the ClusterQueue's GPU quota; nothing runs until its trigger fires, so a
GPU pool stays at zero nodes between jobs.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GPU_RESOURCE, Cluster, GpuPool
from gpuplane.components.jobs.cloud import (
    TRAINING_NAMESPACE,
    TRAINING_SERVICE_ACCOUNT,
    JobsCloud,
    Scaler,
)
from gpuplane.components.jobs.keda import Keda, KedaArgs
from gpuplane.components.jobs.kueue import (
    CLUSTER_QUEUE,
    LOCAL_QUEUE,
    QUEUE_LABEL,
    Kueue,
    KueueArgs,
    pool_capacity,
)
from gpuplane.components.jobs.settings import JobConfig, JobQueueConfig
from gpuplane.components.rules import duration_seconds
from gpuplane.components.serving.common import custom_resource, namespace

TRIGGER_AUTHENTICATION = "workload-identity"
# Serving is the global default: every pod that names no class (InferenceServices,
# the platform) outranks jobs, so the scheduler preempts a job before serving waits.
PRIORITY_CLASSES: Mapping[str, tuple[int, bool, str]] = {
    "gpuplane-serving": (100000, True, "Serving and everything else: never queued, first."),
    "gpuplane-training": (1000, False, "Training jobs: queued by Kueue, yield to serving."),
    "gpuplane-batch": (100, False, "Batch jobs: queued by Kueue after training."),
}
POLLING_INTERVAL = 30
# Aggregated APIs the API server calls on nodes (their rendered APIService -> Service ->
# targetPort): KEDA's external metrics and Kueue's visibility API. Their webhooks use 9443,
# which the clusters already open for KServe.
CONTROL_PLANE_PORTS: Mapping[int, str] = {
    6443: "KEDA metrics API server (external.metrics.k8s.io)",
    8082: "Kueue visibility API (visibility.kueue.x-k8s.io)",
}


@dataclass(frozen=True, kw_only=True)
class JobsStackArgs:
    """Arguments of `JobsStack`."""

    cluster: Cluster
    jobs: Sequence[JobConfig] = ()
    queue: JobQueueConfig = field(default_factory=JobQueueConfig)
    """Kueue's quotas and the models prefix (default: each pool's capacity, trained/)."""
    cloud: Callable[[str, pulumi.Resource], JobsCloud] | None = None
    """Builds the cloud side (data bucket, identities, bucket events) under the stack,
    given a name prefix and the parent; None on an existing cluster."""
    monitoring: pulumi.Resource | None = None
    """The Prometheus release, when the serving stack installs one."""


def kafka_scaler(job: JobConfig) -> Scaler | None:
    """A kafka trigger reads consumer lag without credentials (an in-cluster broker)."""
    queue = job.trigger.queue
    if queue is None or queue.type != "kafka":
        return None
    return Scaler(
        type="kafka",
        metadata={
            "bootstrapServers": ",".join(queue.bootstrap_servers),
            "consumerGroup": queue.consumer_group or "",
            "topic": queue.topic or "",
            "lagThreshold": str(queue.messages_per_job),
        },
        authenticated=False,
        queue=queue.topic,
    )


def gpu_quota(pools: Sequence[GpuPool], queue: JobQueueConfig) -> dict[str, int]:
    """GPUs per pool Kueue admits: the configured quota, else what the pool can create."""
    quota: dict[str, int] = {}
    for pool in pools:
        given = queue.gpu_quota.get(pool.name)
        value = given if given is not None else pool_capacity(pool)
        if value is not None:
            quota[pool.name] = value
    return quota


class JobsStack(pulumi.ComponentResource):
    """Event-driven and batch jobs on the cluster's explicit provider."""

    keda: Keda
    kueue: Kueue
    service_account: k8s.core.v1.ServiceAccount
    local_queue: k8s.apiextensions.CustomResource
    workloads: dict[str, pulumi.Resource]

    def __init__(
        self, name: str, args: JobsStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:jobs:JobsStack", name, None, opts)
        cluster = args.cluster
        cloud = args.cloud(name, self) if args.cloud is not None else JobsCloud()
        provider = cluster.provider
        common = {"parent": self, "provider": provider}
        child = pulumi.ResourceOptions(parent=self)
        ready = tuple(cluster.ready)

        priorities = [
            k8s.scheduling.v1.PriorityClass(
                f"{name}-{class_name}",
                metadata={
                    "name": class_name,
                    "labels": {"app.kubernetes.io/managed-by": "gpuplane"},
                },
                value=value,
                global_default=default,
                # Jobs wait for room instead of evicting anything.
                preemption_policy="PreemptLowerPriority" if default else "Never",
                description=description,
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(ready)),
            )
            for class_name, (value, default, description) in PRIORITY_CLASSES.items()
        ]
        self.keda = Keda(
            f"{name}-keda",
            KedaArgs(
                provider=provider,
                identity_values=cloud.keda_identity,
                monitoring=args.monitoring,
                depends_on=ready,
            ),
            opts=child,
        )
        self.kueue = Kueue(
            f"{name}-kueue",
            KueueArgs(
                provider=provider,
                pools=cluster.gpu_pools,
                gpu_quota=gpu_quota(cluster.gpu_pools, args.queue),
                cpu_quota=args.queue.cpu_quota,
                memory_quota_gi=args.queue.memory_quota_gi,
                namespaces=(TRAINING_NAMESPACE,),
                monitoring=args.monitoring,
                depends_on=ready,
            ),
            opts=child,
        )
        # GPU images often run as root: baseline enforced (no privileged, no host
        # access), restricted warned and audited.
        training = namespace(
            f"{name}-training-ns",
            TRAINING_NAMESPACE,
            pod_security="baseline",
            injection=False,  # a sidecar would keep a finished Job's pod running
            depends_on=ready,
            **common,
        )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-training-sa",
            metadata={
                "name": TRAINING_SERVICE_ACCOUNT,
                "namespace": TRAINING_NAMESPACE,
                "annotations": dict(cloud.training_annotations),
                "labels": {"app.kubernetes.io/managed-by": "gpuplane"},
            },
            # Cloud identities arrive through their own projected tokens (Pod Identity,
            # Azure workload identity) or the metadata server (GKE): no API token needed.
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[training]),
        )
        # Jobs take no connections: nothing may reach their pods.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-training-deny-ingress",
            metadata={"name": "default-deny-ingress", "namespace": TRAINING_NAMESPACE},
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[training]),
        )
        self.local_queue = custom_resource(
            f"{name}-local-queue",
            api_version="kueue.x-k8s.io/v1beta2",
            kind="LocalQueue",
            name=LOCAL_QUEUE,
            namespace=TRAINING_NAMESPACE,
            spec={"clusterQueue": CLUSTER_QUEUE},
            depends_on=[training, self.kueue.cluster_queue],
            **common,
        )
        scalers = {job.name: kafka_scaler(job) or cloud.scalers.get(job.name) for job in args.jobs}
        auth = None
        if cloud.pod_identity is not None and any(s and s.authenticated for s in scalers.values()):
            auth = custom_resource(
                f"{name}-trigger-auth",
                api_version="keda.sh/v1alpha1",
                kind="TriggerAuthentication",
                name=TRIGGER_AUTHENTICATION,
                namespace=TRAINING_NAMESPACE,
                spec={"podIdentity": dict(cloud.pod_identity)},
                depends_on=[training, self.keda.release, *cloud.ready],
                **common,
            )
        pools = {p.name: p for p in cluster.gpu_pools}
        after = [self.service_account, self.local_queue, *priorities, *cloud.ready]
        self.workloads = {}
        for job in args.jobs:
            template = _pod_template(job, pools.get(job.pool or ""), cloud, scalers[job.name])
            job_spec = {
                "parallelism": 1,
                "completions": 1,
                "activeDeadlineSeconds": duration_seconds(job.timeout),
                "backoffLimit": job.retries,
                "template": template,
            }
            labels = {QUEUE_LABEL: LOCAL_QUEUE, "gpuplane.dev/job": job.name}
            schedule = job.trigger.schedule
            if schedule is not None:
                self.workloads[job.name] = k8s.batch.v1.CronJob(
                    f"{name}-{job.name}",
                    metadata={"name": job.name, "namespace": TRAINING_NAMESPACE, "labels": labels},
                    spec={
                        "schedule": schedule.cron,
                        "timeZone": schedule.time_zone,
                        # One run at a time; a run missed by more than 10 minutes is skipped.
                        "concurrencyPolicy": "Forbid",
                        "startingDeadlineSeconds": 600,
                        "successfulJobsHistoryLimit": 3,
                        "failedJobsHistoryLimit": 3,
                        "jobTemplate": {"metadata": {"labels": labels}, "spec": job_spec},
                    },
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after),
                )
                continue
            scaler = scalers[job.name]
            assert scaler is not None  # every bucket or queue trigger has a scaler
            trigger: dict[str, Any] = {"type": scaler.type, "metadata": dict(scaler.metadata)}
            if scaler.authenticated:
                assert auth is not None
                trigger["authenticationRef"] = {"name": TRIGGER_AUTHENTICATION}
            self.workloads[job.name] = custom_resource(
                f"{name}-{job.name}",
                api_version="keda.sh/v1alpha1",
                kind="ScaledJob",
                name=job.name,
                namespace=TRAINING_NAMESPACE,
                labels=labels,
                spec={
                    "jobTargetRef": job_spec,
                    "pollingInterval": POLLING_INTERVAL,
                    "minReplicaCount": 0,
                    "maxReplicaCount": job.max_parallelism,
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "triggers": [trigger],
                },
                depends_on=[*after, self.keda.release, *([auth] if auth else [])],
                **common,
            )
        self.register_outputs(
            {"trainingNamespace": TRAINING_NAMESPACE, "jobs": [j.name for j in args.jobs]}
        )


def _pod_template(
    job: JobConfig, pool: GpuPool | None, cloud: JobsCloud, scaler: Scaler | None
) -> dict[str, Any]:
    """The pod every run of `job` starts: on its pool, as the training identity."""
    requests: dict[str, str] = {"cpu": job.cpu, "memory": job.memory}
    limits: dict[str, str] = {"memory": job.memory}
    if pool is not None:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(job.gpu_count)
    env: list[dict[str, Any]] = [{"name": "GPUPLANE_TRIGGER", "value": job.trigger.kind}]
    for key, value in (
        ("GPUPLANE_DATA_URI", cloud.data_uri),
        ("GPUPLANE_MODELS_URI", cloud.models_uri),
        ("GPUPLANE_QUEUE", scaler.queue if scaler is not None else None),
    ):
        if value is not None:
            env.append({"name": key, "value": value})
    env.extend({"name": k, "value": v} for k, v in sorted(job.env.items()))
    container: dict[str, Any] = {
        "name": "job",
        "image": job.image,
        "env": env,
        "resources": {"requests": requests, "limits": limits},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if job.command:
        container["command"] = list(job.command)
    if job.args:
        container["args"] = list(job.args)
    spec: dict[str, Any] = {
        "serviceAccountName": TRAINING_SERVICE_ACCOUNT,
        "restartPolicy": "Never",
        "priorityClassName": f"gpuplane-{job.kind}",
        "securityContext": {
            "seccompProfile": {"type": "RuntimeDefault"},
            **(
                {}
                if job.run_as_root
                else {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000}
            ),
        },
        "containers": [container],
    }
    if pool is not None:
        spec["nodeSelector"] = dict(pool.node_selector)
        spec["tolerations"] = [dict(t) for t in pool.tolerations]
    return {
        "metadata": {
            "labels": {
                QUEUE_LABEL: LOCAL_QUEUE,
                "gpuplane.dev/job": job.name,
                **cloud.training_pod_labels,
            }
        },
        "spec": spec,
    }
