"""`gpuplane:jobs` and `gpuplane:jobQueue`: event-driven and batch work beside serving.

Each job names an image, its resources (a GPU pool, or CPU only), and one trigger:
`bucket` (new objects under a prefix of the platform's data bucket), `queue` (an
existing queue: sqs, pubsub, azure-queue or kafka) or `schedule` (a cron
expression). `check_jobs` holds the rules that span the rest of the config
(pools, cloud); each problem names its key path.
"""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic.alias_generators import to_camel

from gpuplane.components import gpus
from gpuplane.components.rules import duration_seconds

# A Kubernetes name that leaves room for KEDA's and the Job controller's suffixes.
_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")
# registry/path:tag or registry/path@sha256:digest (a tag is required; `latest` is not one).
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9]([-a-z0-9._]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)+)"
    r"(?P<ref>(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?)$"
)
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$")
_MEMORY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_PREFIX = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)*$")
_SQS_URL = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/(\d{12})/([\w-]{1,80})$")
_PUBSUB_SUBSCRIPTION = re.compile(r"^projects/([a-z][-a-z0-9]{4,28}[a-z0-9])/subscriptions/(.+)$")
_AZURE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_AZURE_QUEUE = re.compile(r"^[a-z0-9]([a-z0-9]|-(?=[a-z0-9])){2,62}$")
_AZURE_GROUP = re.compile(r"^[-\w.()]{1,90}$")
_KAFKA_SERVER = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")
_CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)

QUEUE_CLOUDS = {"sqs": "aws", "pubsub": "gcp", "azure-queue": "azure", "kafka": None}
TIMEOUT_MAX_SECONDS = 7 * 24 * 3600


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )


def cron_problem(expression: str) -> str | None:
    """Why a 5-field cron expression (or @daily-style alias) is invalid, or None."""
    expression = _CRON_ALIASES.get(expression.strip(), expression)
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"{expression!r} is not a cron expression of 5 fields (minute hour day-of-month "
            "month day-of-week) or an alias like @daily"
        )
    for text, (what, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"{what} step {step!r} must be a positive number"
            if base == "*":
                continue
            for bound in base.split("-", 1):
                value = bound.lower()
                number = (
                    names.index(value) + (1 if what == "month" else 0) if value in names else None
                )
                if number is None and not value.isdigit():
                    return f"{what} {bound!r} is not a number from {low} to {high}"
                number = int(value) if number is None else number
                if not low <= number <= high:
                    return f"{what} {bound!r} is outside {low}-{high}"
    return None


def image_problem(image: str) -> str | None:
    """Why a job image reference is refused, or None (it must carry a tag or digest)."""
    match = _IMAGE.match(image)
    if match is None:
        return (
            f"{image!r} is not an image reference like registry.example.com/team/trainer:1.2.0 "
            "(a registry host, a path and a tag or @sha256 digest)"
        )
    if not match.group("ref"):
        return f"{image!r} has no tag or digest; pin one (registry/path:1.2.0 or @sha256:...)"
    if match.group("ref").startswith(":latest"):
        return f"{image!r} uses the moving tag latest; pin a version or digest"
    return None


class BucketTrigger(_Model):
    """New objects under a prefix of the platform's data bucket start the job."""

    prefix: str = ""
    """Object key prefix such as `uploads/` (default: the whole data bucket)."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not _PREFIX.match(value):
            raise ValueError(
                "must be empty or folder names ending in '/', like uploads/ or raw/images/"
            )
        return value


class QueueTrigger(_Model):
    """Messages on an existing queue start the job (one job per `messagesPerJob`)."""

    type: Literal["sqs", "pubsub", "azure-queue", "kafka"]
    url: str | None = None
    """sqs: the queue URL, https://sqs.<region>.amazonaws.com/<account>/<name>."""
    subscription: str | None = None
    """pubsub: projects/<project>/subscriptions/<name>."""
    account: str | None = None
    """azure-queue: the storage account holding the queue."""
    resource_group: str | None = None
    """azure-queue: the account's resource group (the reader grant's scope)."""
    queue: str | None = None
    """azure-queue: the queue name."""
    bootstrap_servers: tuple[str, ...] = ()
    """kafka: host:port of the brokers (reached from inside the cluster, no credentials)."""
    topic: str | None = None
    """kafka: the topic."""
    consumer_group: str | None = None
    """kafka: the consumer group whose lag counts as pending work."""
    messages_per_job: StrictInt = Field(1, ge=1, le=10000)
    """Pending messages per job KEDA starts (default 1)."""


class ScheduleTrigger(_Model):
    """A cron schedule starts the job (a Kubernetes CronJob; no overlapping runs)."""

    cron: str
    """Five-field cron expression (`0 2 * * *`) or an alias such as @daily."""
    time_zone: str = "Etc/UTC"
    """IANA time zone the schedule is read in (default Etc/UTC)."""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z]+(/[A-Za-z0-9_+-]+){0,2}$", value):
            raise ValueError("must be an IANA time zone like Etc/UTC or Europe/Paris")
        return value


class TriggerConfig(_Model):
    """What starts the job: exactly one of bucket, queue or schedule."""

    bucket: BucketTrigger | None = None
    queue: QueueTrigger | None = None
    schedule: ScheduleTrigger | None = None

    @property
    def kind(self) -> str:
        return next(k for k in ("bucket", "queue", "schedule") if getattr(self, k) is not None)


class JobConfig(_Model):
    """One job and what starts it. It runs in the `training` namespace, admitted by Kueue."""

    name: str
    image: str
    """Image with a tag or digest, from a registry the policy pack allows."""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: dict[str, str] = {}
    pool: str | None = None
    """GPU pool the job runs on (from gpuplane:gpuPools); unset runs on CPU nodes."""
    gpus: StrictInt | None = Field(None, ge=1, le=16)
    """GPUs per job (default 1 on a GPU pool)."""
    cpu: str = "2"
    memory: str = "8Gi"
    max_parallelism: StrictInt = Field(1, ge=1, le=100)
    """At most this many jobs of this kind at once."""
    timeout: str = "2h"
    """A job still running after this is stopped (activeDeadlineSeconds)."""
    retries: StrictInt = Field(1, ge=0, le=10)
    """Pod retries before the job counts as failed (backoffLimit)."""
    run_as_root: StrictBool = False
    """Let the image run as root (default: uid 1000, non-root, as restricted Pod Security
    asks); the training namespace enforces baseline, so root is possible when needed."""
    kind: Literal["training", "batch"] = "training"
    """Priority: training runs before batch; both yield to serving."""
    trigger: TriggerConfig

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _JOB_NAME.match(value):
            raise ValueError(
                "must be 1-32 lowercase letters, digits and '-', starting with a letter"
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        problem = image_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        if not _QUANTITY.match(value):
            raise ValueError("must be a CPU quantity like 2, 0.5 or 500m")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.match(value):
            raise ValueError("must be a memory quantity like 512Mi or 16Gi")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        seconds = duration_seconds(value)
        if not 60 <= seconds <= TIMEOUT_MAX_SECONDS:
            raise ValueError("must be from 1m to 168h")
        return value

    @property
    def gpu_count(self) -> int:
        return (self.gpus or 1) if self.pool is not None else 0


class JobQueueConfig(_Model):
    """Kueue's quota for jobs, and where training may write models."""

    gpu_quota: dict[str, StrictInt] = {}
    """GPUs per pool jobs may use at once (default: each pool's maxNodes x GPUs per node,
    the most the pool can create; more is refused)."""
    cpu_quota: StrictInt = Field(64, ge=1, le=100000)
    """CPU cores all jobs together may request."""
    memory_quota_gi: StrictInt = Field(256, ge=1, le=1000000)
    """GiB of memory all jobs together may request."""
    models_prefix: str = "trained/"
    """The prefix of the models bucket the training identity may write under."""

    @field_validator("models_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or not _PREFIX.match(value):
            raise ValueError("must be folder names ending in '/', like trained/")
        return value


def pool_gpu_capacity(cloud: str, pool: object) -> int | None:
    """The most GPUs (as Kubernetes counts them) a configured pool can create, or None
    where the capacity is managed outside gpuplane."""
    if cloud == "existing":
        return None
    types = getattr(pool, "instance_types", ())
    counts = [g.count for t in types if (g := gpus.implied_gpu(cloud, t))]
    per_node = max(counts) if counts else getattr(pool, "accelerator_count", None) or 1
    sharing = getattr(pool, "sharing", None)
    replicas = sharing.replicas if sharing is not None and sharing.replicas else 1
    return int(getattr(pool, "max_nodes", 0)) * per_node * replicas


def _quantity_cores(value: str) -> float:
    return int(value[:-1]) / 1000 if value.endswith("m") else float(value)


_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_MEMORY_UNITS.update({"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "": 1})


def _quantity_bytes(value: str) -> int:
    number = re.match(r"^\d+", value)
    assert number is not None  # validated by JobConfig
    return int(number.group()) * _MEMORY_UNITS[value[number.end() :]]


def check_jobs(
    cloud: str,
    pools: dict[str, object],
    jobs: tuple[JobConfig, ...],
    queue: JobQueueConfig | None,
) -> list[str]:
    """Rules across jobs, pools and cloud; each problem names its key path."""
    problems: list[str] = []
    queue = queue or JobQueueConfig()
    for name, quota in queue.gpu_quota.items():
        where = f"gpuplane:jobQueue.gpuQuota.{name}"
        if name not in pools:
            problems.append(
                f"{where}: no GPU pool named {name!r}; pools: {', '.join(pools) or 'none'}"
            )
            continue
        capacity = pool_gpu_capacity(cloud, pools[name])
        if quota < 0:
            problems.append(f"{where}: must be 0 or more, given {quota}")
        elif capacity is not None and quota > capacity:
            problems.append(
                f"{where}: {quota} is over what the pool can create (maxNodes x GPUs per node "
                f"= {capacity}); at most {capacity}"
            )
    names: set[str] = set()
    for i, job in enumerate(jobs):
        where = f"gpuplane:jobs[{i}]"
        if job.name in names:
            problems.append(f"{where}.name: {job.name!r} is used by another job; must be unique")
        names.add(job.name)
        problems.extend(_check_trigger(cloud, where, job.trigger))
        if job.pool is None:
            if job.gpus is not None:
                problems.append(f"{where}.gpus: needs a GPU pool; set pool or remove gpus")
            continue
        if job.pool not in pools:
            problems.append(
                f"{where}.pool: no GPU pool named {job.pool!r}; pools: "
                f"{', '.join(pools) or 'none (add gpuplane:gpuPools)'}"
            )
            continue
        quota = queue.gpu_quota.get(job.pool, pool_gpu_capacity(cloud, pools[job.pool]))
        if quota is None:
            problems.append(
                f"{where}.pool: the capacity of {job.pool!r} is managed outside gpuplane; set "
                f"gpuplane:jobQueue.gpuQuota.{job.pool} to the GPUs jobs may use there"
            )
        elif job.gpu_count > quota:
            problems.append(
                f"{where}.gpus: {job.gpu_count} is over the queue's quota for pool {job.pool!r} "
                f"({quota}), so the job could never be admitted"
            )
        if _quantity_cores(job.cpu) > queue.cpu_quota:
            problems.append(
                f"{where}.cpu: {job.cpu} is over gpuplane:jobQueue.cpuQuota {queue.cpu_quota}"
            )
        if _quantity_bytes(job.memory) > queue.memory_quota_gi * 2**30:
            problems.append(
                f"{where}.memory: {job.memory} is over gpuplane:jobQueue.memoryQuotaGi "
                f"{queue.memory_quota_gi}"
            )
    return problems


def _check_trigger(cloud: str, where: str, trigger: TriggerConfig) -> list[str]:
    at = f"{where}.trigger"
    chosen = [k for k in ("bucket", "queue", "schedule") if getattr(trigger, k) is not None]
    if len(chosen) != 1:
        return [
            f"{at}: exactly one of bucket, queue or schedule, given {', '.join(chosen) or 'none'}"
        ]
    if trigger.bucket is not None and cloud == "existing":
        return [
            f"{at}.bucket: bucket events need the cloud's storage and queues; on gpuplane:cloud "
            "existing use queue (kafka) or schedule"
        ]
    queue = trigger.queue
    if queue is None:
        return []
    at = f"{at}.queue"
    home = QUEUE_CLOUDS[queue.type]
    if home is not None and home != cloud:
        allowed = ", ".join(t for t, c in QUEUE_CLOUDS.items() if c in (cloud, None))
        return [
            f"{at}.type: {queue.type} is read with {home}'s workload identity; on gpuplane:cloud "
            f"{cloud} allowed: {allowed}"
        ]
    required = _QUEUE_KEYS[queue.type]
    fields = {
        "url": queue.url,
        "subscription": queue.subscription,
        "account": queue.account,
        "resourceGroup": queue.resource_group,
        "queue": queue.queue,
        "bootstrapServers": queue.bootstrap_servers,
        "topic": queue.topic,
        "consumerGroup": queue.consumer_group,
    }
    problems = [
        f"{at}.{key}: required for type {queue.type}" for key in required if not fields[key]
    ]
    problems.extend(
        f"{at}.{key}: only for type {t}"
        for key, value in fields.items()
        for t in [next(t for t, keys in _QUEUE_KEYS.items() if key in keys)]
        if value and t != queue.type
    )
    checks = {
        "url": (
            _SQS_URL,
            "an SQS queue URL like https://sqs.us-east-1.amazonaws.com/123456789012/q",
        ),
        "subscription": (_PUBSUB_SUBSCRIPTION, "projects/<project>/subscriptions/<name>"),
        "account": (_AZURE_ACCOUNT, "3-24 lowercase letters and digits"),
        "resourceGroup": (_AZURE_GROUP, "an Azure resource group name"),
        "queue": (_AZURE_QUEUE, "3-63 lowercase letters, digits and single hyphens"),
        "topic": (re.compile(r"^[A-Za-z0-9._-]{1,249}$"), "a Kafka topic name"),
        "consumerGroup": (re.compile(r"^[A-Za-z0-9._-]{1,255}$"), "a Kafka consumer group"),
    }
    for key, (pattern, shape) in checks.items():
        value = fields[key]
        if isinstance(value, str) and value and not pattern.match(value):
            problems.append(f"{at}.{key}: must be {shape}, given {value!r}")
    for j, server in enumerate(queue.bootstrap_servers):
        if not _KAFKA_SERVER.match(server):
            problems.append(f"{at}.bootstrapServers[{j}]: must be host:port, given {server!r}")
    return problems


_QUEUE_KEYS = {
    "sqs": ("url",),
    "pubsub": ("subscription",),
    "azure-queue": ("account", "resourceGroup", "queue"),
    "kafka": ("bootstrapServers", "topic", "consumerGroup"),
}
