"""PlatformConfig: the whole stack as one validated model.

Users write camelCase keys under the `gpuplane` namespace of a stack file
(`gpuplane:gpuPools`, ...). `load_config` reads them from Pulumi's runtime
config (or from a plain mapping, for the offline engine), validates them, fills
the defaults that depend on cloud and environment, and raises `ConfigError`,
which names every bad key path, what was given and what is allowed, before any
resource is registered.
"""

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, get_args, get_origin

import pulumi
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from gpuplane.components import versions
from gpuplane.components.cache_config import ModelsConfig, check_model_cache
from gpuplane.components.clusters import aws_args, azure_args, gcp_args
from gpuplane.components.clusters.cidrs import private_ipv4_problem
from gpuplane.components.clusters.contract import GpuPoolSpec, GpuSharing
from gpuplane.components.clusters.endpoint import public_cidr_problem
from gpuplane.components.clusters.pools import (
    NODE_COUNT,
    POOL_NAME,
    POOL_NAME_RULE,
    SHARING_REPLICAS,
    gpu_pool_problems,
    label_problem,
    pools_from_zero,
    system_pool_problems,
)
from gpuplane.components.jobs.settings import JobConfig, JobQueueConfig, check_jobs
from gpuplane.components.messages import closest, did_you_mean, quote
from gpuplane.components.rules import camel_key, duration_seconds
from gpuplane.components.serving.settings import (
    KNATIVE_RELEASE,
    AlertSettings,
    KnativeSettings,
    MonitoringSettings,
    serving_problems,
)

NAMESPACE = "gpuplane"

Cloud = Literal["aws", "gcp", "azure", "existing"]
Environment = Literal["dev", "prod"]
MANAGED_CLOUDS = ("aws", "gcp", "azure")

# Where each cloud's region (and project) comes from: the providers' own keys.
LOCATION_KEYS: dict[str, tuple[str, ...]] = {
    "aws": ("aws:region",),
    "gcp": ("gcp:project", "gcp:region"),
    "azure": ("azure-native:location",),
    "existing": (),
}

DEFAULT_SYSTEM_INSTANCE = {"aws": "m6i.large", "gcp": "e2-standard-4", "azure": "Standard_D4s_v5"}

_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_K8S_VERSION = re.compile(r"^1\.(\d{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ConfigError(pulumi.RunError):
    """A stack's config is invalid. Pulumi prints RunError without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid gpuplane config ({len(problems)} problem(s)):\n{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )


def _check_duration(value: str) -> str:
    duration_seconds(value)
    return value


class EndpointConfig(_Model):
    """How the Kubernetes API server is reached."""

    private_access: StrictBool = True
    """Private endpoint inside the VPC (default on)."""
    public_access: StrictBool = True
    """Public endpoint, restricted to `publicAccessCidrs` (default on, so a laptop or CI
    can install the charts; prod stacks may turn it off)."""
    public_access_cidrs: tuple[str, ...] = ()
    """CIDRs allowed to reach the public endpoint; required when it is on; no /0."""

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        if (problem := public_cidr_problem(cidrs)) is not None:
            raise ValueError(problem)
        return cidrs


_QUOTE_VERSION = (
    "reads as the number {value}: an unquoted 1.30 in YAML is 1.3; quote the version, "
    'kubernetesVersion: "1.30"'
)


class ClusterConfig(_Model):
    """The Kubernetes cluster itself."""

    name: str = "gpuplane"
    """Cluster name and prefix of every child resource; changing it replaces the cluster."""
    kubernetes_version: str = versions.KUBERNETES_DEFAULT
    """Kubernetes minor version, `1.NN`: the one to create, or the one an existing
    cluster runs (it decides which APIs the platform may use)."""
    endpoint: EndpointConfig = EndpointConfig()
    protect: StrictBool | None = None
    """Protect stateful cloud resources from deletion (default: on in prod, off in dev)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if len(value) > 24 or not _NAME.match(value):
            raise ValueError(
                "must be 1-24 characters of lowercase letters, digits and '-', starting "
                "with a letter and not ending with '-' (a name valid on EKS, GKE and AKS "
                "with room for child-resource suffixes)"
            )
        return value

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _version_as_written(cls, value: Any) -> Any:
        """`kubernetesVersion: 1.30` unquoted is the YAML number 1.3: say so."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(_QUOTE_VERSION.format(value=value))
        return value

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if re.fullmatch(r"1\.\d", value):  # what Pulumi passes for an unquoted 1.30
            raise ValueError(_QUOTE_VERSION.format(value=value))
        low, high = versions.KUBERNETES_MIN_MINOR, versions.KUBERNETES_MAX_MINOR
        if not _K8S_VERSION.match(value):
            raise ValueError(
                f"must be a minor version written 1.NN, from 1.{low} to 1.{high} "
                f"(default {versions.KUBERNETES_DEFAULT})"
            )
        problem = versions.kubernetes_range_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class SystemPoolConfig(_Model):
    """The small on-demand pool that runs the platform's controllers."""

    instance_type: str | None = None
    """Machine type (default: m6i.large, e2-standard-4 or Standard_D4s_v5 by cloud)."""
    min_nodes: StrictInt = Field(2, ge=NODE_COUNT[0], le=NODE_COUNT[1])
    max_nodes: StrictInt = Field(3, ge=NODE_COUNT[0], le=NODE_COUNT[1])


class SharingConfig(_Model):
    """How several pods share one GPU."""

    strategy: Literal["none", "time-slicing", "mps"] = "none"
    replicas: StrictInt | None = Field(None, ge=SHARING_REPLICAS[0], le=SHARING_REPLICAS[1])
    """Pods per physical GPU; required unless strategy is none."""


class GpuPoolConfig(_Model):
    """One pool of GPU nodes. It scales to zero unless `minNodes` says otherwise."""

    name: str
    instance_types: tuple[str, ...] = ()
    """Machine types (one on GKE and AKS; several let Karpenter choose on EKS)."""
    accelerator: str | None = None
    """GPU id such as nvidia-l4; required only where the machine type does not imply it
    (GCP N1), otherwise inferred and checked."""
    accelerator_count: StrictInt | None = Field(None, ge=1, le=16)
    min_nodes: StrictInt = Field(0, ge=0, le=1000)
    max_nodes: StrictInt = Field(1, ge=1, le=1000)
    spot: StrictBool | None = None
    """Spot/preemptible capacity (default: on in dev, off in prod)."""
    labels: dict[str, str] = {}
    """Extra node labels; on `existing` clusters, the labels that select the pool's nodes."""
    sharing: SharingConfig = SharingConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not POOL_NAME.match(value):
            raise ValueError(POOL_NAME_RULE)
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            problem = label_problem(key, value)
            if problem is not None:
                raise ValueError(problem)
        return labels


class ExistingConfig(_Model):
    """A cluster gpuplane does not create (kind, k3d, minikube or any other)."""

    context: str = Field(min_length=1)
    """The kubeconfig context to use (required: nothing lands on whatever is current)."""
    kubeconfig: str | None = None
    """Path to, or content of, a kubeconfig (default: $KUBECONFIG or ~/.kube/config)."""
    load_balancer: StrictBool = False
    """Whether a LoadBalancer Service gets an external address (false on kind)."""
    metrics_server: StrictBool = False
    """Whether the cluster serves the metrics API (kind does not; k3d and minikube's
    addon do). Without it istiod and the gateway run fixed replicas, no HPA."""


class KnativeConfig(_Model):
    """Knative autoscaling tuned for GPU serving (../shared/REFERENCE.md section 2)."""

    scale_to_zero: StrictBool = True
    scale_down_delay: str = "10m"
    """Keep an idle revision this long before scaling down (a GPU cold start costs minutes)."""
    scale_to_zero_grace_period: str = "30s"
    progress_deadline: str = "30m"
    """Above the worst cold start: GPU node + image pull + model load."""
    request_timeout: str = "600s"
    container_concurrency: StrictInt = Field(8, ge=0, le=1000)
    """Hard per-pod concurrency; set it to the inference engine's batch capacity."""
    version: str = versions.KNATIVE_SERVING
    """The Knative Serving release the KnativeServing asks for (the pinned one, or the
    previous minor as a stop on the upgrade path)."""
    installed_version: str | None = None
    """The Knative Serving release this stack runs now (stack output
    `knativeServingVersion`); when set, a jump of more than one minor is refused."""

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in versions.KNATIVE_SERVING_INSTALLABLE:
            raise ValueError(
                "must be a Knative Serving release the pinned operator installs: "
                + ", ".join(versions.KNATIVE_SERVING_INSTALLABLE)
            )
        return value

    @field_validator("installed_version")
    @classmethod
    def _installed(cls, value: str | None) -> str | None:
        if value is not None and not KNATIVE_RELEASE.match(value):
            raise ValueError("must be a Knative Serving release written 1.NN.P, like 1.21.3")
        return value

    @field_validator(
        "scale_down_delay", "scale_to_zero_grace_period", "progress_deadline", "request_timeout"
    )
    @classmethod
    def _durations(cls, value: str) -> str:
        return _check_duration(value)

    def settings(self) -> KnativeSettings:
        """These keys as `ServingStack`'s `knative` input."""
        return KnativeSettings(
            scale_to_zero=self.scale_to_zero,
            scale_down_delay=self.scale_down_delay,
            scale_to_zero_grace_period=self.scale_to_zero_grace_period,
            progress_deadline=self.progress_deadline,
            request_timeout=self.request_timeout,
            container_concurrency=self.container_concurrency,
            version=self.version,
            **({"installed_version": self.installed_version} if self.installed_version else {}),
        )


class AlertsConfig(_Model):
    """Alert thresholds (`gpuplane:serving.monitoring.alerts`)."""

    enabled: StrictBool = True
    idle_gpu_node_margin: str = "10m"
    """Beyond the pool's empty-node delay, before an idle GPU node alerts."""
    gpu_pod_pending: str = "15m"
    """A GPU pod pending this long alerts (capacity, quota or a pool at its limit)."""
    not_ready: str = "15m"
    """An InferenceService not Ready this long alerts."""
    cold_start_budget: str | None = None
    """A revision's pod not Ready this long after creation alerts (default: half of
    gpuplane:serving.knative.progressDeadline)."""
    error_ratio: float = Field(0.05, gt=0, le=1)
    """Share of 5xx responses over 10 minutes that alerts."""
    gpu_memory_ratio: float = Field(0.95, gt=0, le=1)
    """Share of a GPU's framebuffer in use that alerts."""

    @field_validator("idle_gpu_node_margin", "gpu_pod_pending", "not_ready", "cold_start_budget")
    @classmethod
    def _durations(cls, value: str | None) -> str | None:
        return None if value is None else _check_duration(value)


class MonitoringConfig(_Model):
    """Prometheus, Grafana and gpuplane's observability (`gpuplane:serving.monitoring`);
    `true` or `false` stand for all defaults or nothing."""

    enabled: StrictBool = True
    dashboards: StrictBool = True
    """gpuplane's Grafana dashboards (GPU fleet, Serving, Cost)."""
    gpu_metrics: StrictBool = True
    """dcgm-exporter on GPU nodes (clusters with GPU pools only)."""
    cost: StrictBool = True
    """Recording rules pricing nodes from gpuplane's dated price table."""
    alerts: AlertsConfig = AlertsConfig()

    def settings(self) -> MonitoringSettings:
        """These keys as `ServingStack`'s `monitoring` input."""
        alerts = self.alerts
        given = AlertSettings(
            enabled=alerts.enabled,
            idle_gpu_node_margin=alerts.idle_gpu_node_margin,
            gpu_pod_pending=alerts.gpu_pod_pending,
            not_ready=alerts.not_ready,
            error_ratio=alerts.error_ratio,
            gpu_memory_ratio=alerts.gpu_memory_ratio,
        )
        if alerts.cold_start_budget is not None:
            given["cold_start_budget"] = alerts.cold_start_budget
        return MonitoringSettings(
            enabled=self.enabled,
            gpu_metrics=self.gpu_metrics,
            dashboards=self.dashboards,
            cost=self.cost,
            alerts=given,
        )


def _monitoring(value: Any) -> Any:
    """`true`/`false` -> the object form."""
    if isinstance(value, bool):
        return {"enabled": value}
    if not isinstance(value, Mapping | MonitoringConfig):
        raise ValueError(
            "must be true, false or an object (enabled, dashboards, gpuMetrics, cost, alerts)"
        )
    return value


class ServingConfig(_Model):
    """The serving stack installed on the cluster."""

    monitoring: Annotated[MonitoringConfig, BeforeValidator(_monitoring)] = MonitoringConfig()
    """kube-prometheus-stack with monitors for Knative, KServe and Istio, GPU metrics,
    dashboards, alerts and cost rules; `false` turns it all off."""
    domain: str | None = None
    """DNS domain for InferenceService URLs (default: Knative's cluster-local domain)."""
    acme_email: str | None = None
    """Enables a Let's Encrypt ClusterIssuer registered to this address."""
    knative: KnativeConfig = KnativeConfig()

    @field_validator("acme_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("must be an email address like ops@example.com")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError("must be a lowercase DNS domain like models.example.com")
        return value


class AwsConfig(_Model):
    """EKS specifics (`gpuplane:aws`); only for gpuplane:cloud aws."""

    admin_role_arns: tuple[str, ...] = ()
    """IAM roles given cluster-admin through access entries (required): include the
    role `pulumi up` runs as, or it cannot install the charts. The creator is not
    made admin implicitly."""
    compute_mode: Literal["karpenter", "auto"] = "karpenter"
    """How GPU nodes are provisioned: Karpenter installed by gpuplane, or EKS Auto Mode."""
    vpc_cidr: str = "10.0.0.0/16"
    """A private (RFC 1918) block from /16 to /18; pods take VPC addresses."""
    zone_count: StrictInt | None = Field(None, ge=aws_args.ZONE_COUNT[0], le=aws_args.ZONE_COUNT[1])
    """Availability zones to spread subnets over (default: 2 in dev, 3 in prod)."""
    nat_gateway_per_zone: StrictBool | None = None
    """One NAT gateway per zone (default in prod) or a single one (default in dev)."""
    gpu_node_image: Literal["al2023", "bottlerocket"] = "al2023"
    """Karpenter GPU node image: EKS-optimized AL2023 NVIDIA or Bottlerocket NVIDIA."""
    gpu_node_image_version: str = Field("latest", pattern=aws_args.IMAGE_VERSION.pattern)
    """The image release to pin (`v20260724` for AL2023, `v1.44.0` for Bottlerocket);
    `latest` follows AWS. Karpenter's docs advise pinning in production."""
    gpu_volume_size: StrictInt = Field(
        200, ge=aws_args.GPU_VOLUME_GIB[0], le=aws_args.GPU_VOLUME_GIB[1]
    )
    """GiB of encrypted gp3 for images and model caches on each GPU node."""
    consolidate_after: str = "2m"
    """How long a GPU node may stay empty before it is terminated."""
    fast_image_pull: StrictBool = True
    """SOCI parallel pull and unpack on GPU nodes (AL2023 `FastImagePull`, Bottlerocket
    `snapshotter = "soci"`): large inference images start sooner."""
    image_cache_snapshot_id: str | None = None
    """Bottlerocket only: an EBS snapshot of a data volume with images already pulled."""

    @field_validator("admin_role_arns")
    @classmethod
    def _arns(cls, arns: tuple[str, ...]) -> tuple[str, ...]:
        for arn in arns:
            if (problem := aws_args.role_arn_problem(arn)) is not None:
                raise ValueError(problem)
        return arns

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc(cls, cidr: str) -> str:
        if (problem := aws_args.vpc_cidr_problem(cidr)) is not None:
            raise ValueError(problem)
        return cidr

    @field_validator("consolidate_after")
    @classmethod
    def _consolidate(cls, value: str) -> str:
        return _check_duration(value)

    @field_validator("image_cache_snapshot_id")
    @classmethod
    def _snapshot(cls, value: str | None) -> str | None:
        if value is not None and (problem := aws_args.snapshot_problem(value)) is not None:
            raise ValueError(problem)
        return value


def _private_ipv4(cidr: str, low: int, high: int) -> str:
    problem = private_ipv4_problem(cidr, low, high)
    if problem is not None:
        raise ValueError(problem)
    return cidr


class GcpConfig(_Model):
    """GKE specifics (`gpuplane:gcp`); only for gpuplane:cloud gcp."""

    mode: Literal["standard", "autopilot"] = "standard"
    """Standard (node pools gpuplane creates) or Autopilot (GKE provisions per pod)."""
    regional: StrictBool | None = None
    """Regional control plane and nodes (default in prod) or one zone (default in dev)."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    subnet_cidr: str = "10.10.0.0/20"
    """Node addresses."""
    pods_cidr: str = "10.16.0.0/14"
    """Secondary range for pods."""
    services_cidr: str = "10.20.0.0/20"
    """Secondary range for Services."""
    master_cidr: str = "172.16.0.16/28"
    """The control plane's /28; the source of its calls to webhooks on nodes."""
    node_auto_provisioning: StrictBool = False
    """Standard only: let GKE create GPU pools too, capped by the pools' GPU totals."""

    @field_validator("subnet_cidr", "services_cidr")
    @classmethod
    def _small(cls, value: str) -> str:
        return _private_ipv4(value, *gcp_args.CIDR_BOUNDS["subnet_cidr"])

    @field_validator("pods_cidr")
    @classmethod
    def _pods(cls, value: str) -> str:
        return _private_ipv4(value, *gcp_args.CIDR_BOUNDS["pods_cidr"])

    @field_validator("master_cidr")
    @classmethod
    def _master(cls, value: str) -> str:
        return _private_ipv4(value, *gcp_args.CIDR_BOUNDS["master_cidr"])


class AzureConfig(_Model):
    """AKS specifics (`gpuplane:azure`); only for gpuplane:cloud azure."""

    admin_group_object_ids: tuple[str, ...] = ()
    """Entra ID group object ids given cluster-admin through Azure RBAC (required):
    include a group of the identity `pulumi up` runs as. Local accounts are off."""
    node_provisioning: Literal["pools", "auto"] = "pools"
    """GPU capacity: one autoscaled AKS node pool per GPU pool (`pools`), or AKS node
    auto-provisioning (`auto`, Karpenter run by AKS) with one NodePool per GPU pool."""
    sku_tier: Literal["Free", "Standard", "Premium"] | None = None
    """Control plane tier (default: Free in dev, Standard with its uptime SLA in prod)."""
    outbound: Literal["loadBalancer", "natGateway"] | None = None
    """Node egress: the cluster load balancer's outbound rules (default in dev: that
    load balancer exists for the ingress gateway anyway) or a NAT gateway on the node
    subnet (default in prod: no SNAT port exhaustion, one stable egress IP)."""
    vnet_cidr: str = "10.240.0.0/16"
    """The VNet; nodes take its first half (Azure CNI overlay: pods do not use it)."""
    pod_cidr: str = "10.244.0.0/16"
    """Overlay range for pods; may not overlap the VNet or Services."""
    service_cidr: str = "10.0.0.0/16"
    """Services; cluster DNS takes its tenth address."""
    encryption_at_host: StrictBool = True
    """Encrypt node temp disks and caches at the host. Needs the subscription feature
    Microsoft.Compute/EncryptionAtHost registered once; turn off only where it cannot be."""
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image", "none"] = "patch"
    """Control plane auto-upgrade: `patch` keeps `kubernetesVersion`'s minor up to date."""
    node_os_upgrade_channel: Literal["NodeImage", "SecurityPatch", "Unmanaged", "None"] = (
        "NodeImage"
    )
    """Node OS updates: new node images weekly (`NodeImage`)."""

    @field_validator("admin_group_object_ids")
    @classmethod
    def _groups(cls, ids: tuple[str, ...]) -> tuple[str, ...]:
        for value in ids:
            if (problem := azure_args.object_id_problem(value)) is not None:
                raise ValueError(problem)
        return ids

    @field_validator("vnet_cidr")
    @classmethod
    def _vnet(cls, value: str) -> str:
        return _private_ipv4(value, *azure_args.CIDR_BOUNDS["vnet_cidr"])

    @field_validator("pod_cidr")
    @classmethod
    def _pods(cls, value: str) -> str:
        return _private_ipv4(value, *azure_args.CIDR_BOUNDS["pod_cidr"])

    @field_validator("service_cidr")
    @classmethod
    def _services(cls, value: str) -> str:
        return _private_ipv4(value, *azure_args.CIDR_BOUNDS["service_cidr"])


class Location(_Model):
    """Region and project, read from the providers' own config keys."""

    region: str | None = None
    project: str | None = None


class PlatformConfig(_Model):
    """The whole stack. Build it with `load_config`, which also fills cloud defaults."""

    cloud: Cloud
    environment: Environment = "dev"
    cluster: ClusterConfig = ClusterConfig()
    system_pool: SystemPoolConfig | None = None
    gpu_pools: tuple[GpuPoolConfig, ...] = ()
    existing: ExistingConfig | None = None
    aws: AwsConfig | None = None
    gcp: GcpConfig | None = None
    azure: AzureConfig | None = None
    serving: ServingConfig = ServingConfig()
    jobs: tuple[JobConfig, ...] = ()
    """Event-driven and batch jobs (components/jobs); none by default."""
    job_queue: JobQueueConfig | None = None
    """Kueue quota and the training identity's models prefix (with jobs only)."""
    models: ModelsConfig = ModelsConfig()
    """The node-local model cache (`gpuplane:models.cache`); off by default."""
    location: Location = Location()

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def kubernetes_minor(self) -> int:
        return int(self.cluster.kubernetes_version.split(".")[1])

    @property
    def jobs_enabled(self) -> bool:
        """KEDA, Kueue and the training identity are installed only when configured."""
        return bool(self.jobs) or self.job_queue is not None

    @property
    def protect(self) -> bool:
        """Whether stateful cloud resources carry `protect`."""
        return self.cluster.protect if self.cluster.protect is not None else self.is_prod


# The keys users may set under `gpuplane:`; everything else is refused.
USER_KEYS = (
    "cloud",
    "environment",
    "cluster",
    "systemPool",
    "gpuPools",
    "existing",
    "aws",
    "gcp",
    "azure",
    "serving",
    "jobs",
    "jobQueue",
    "models",
)
_OBJECT_KEYS = {
    "cluster": dict,
    "systemPool": dict,
    "existing": dict,
    "aws": dict,
    "gcp": dict,
    "azure": dict,
    "serving": dict,
    "jobQueue": dict,
    "models": dict,
}
_LIST_KEYS = {"gpuPools": list, "jobs": list}


def key_path(loc: tuple[Any, ...]) -> str:
    """`("gpuPools", 1, "maxNodes")` -> `gpuplane:gpuPools[1].maxNodes`."""
    out = f"{NAMESPACE}:"
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if i else "") + str(part)
    return out


def _field(model: type[BaseModel], alias: Any) -> Any:
    return next((f for f in model.model_fields.values() if f.alias == alias), None)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model at a key path (list indices skipped), or None."""
    model: type[BaseModel] | None = PlatformConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = _field(model, part) if model is not None else None
        model = _model_of(field.annotation) if field is not None else None
    return model


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The camelCase keys the model accepts at `loc`, for unknown-key messages."""
    model = _model_at(loc)
    if model is None:
        return []
    return [f.alias for name, f in model.model_fields.items() if name != "location"]


def _literal_choices(loc: tuple[Any, ...]) -> list[str]:
    """The allowed values of a Literal field at `loc`, if it is one."""
    model = _model_at(loc[:-1])
    field = _field(model, loc[-1]) if model is not None else None
    if field is None:
        return []
    for annotation in (field.annotation, *get_args(field.annotation)):
        if get_origin(annotation) is Literal:
            return [str(a) for a in get_args(annotation)]
    return []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


# Pydantic's words for a wrong type, as a stack file's author would say them.
_TYPE_WORDS = {
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number",
}


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        return (
            f"{key_path(loc)}: unknown key{hint}; allowed keys here: {', '.join(allowed) or 'none'}"
        )
    if kind == "missing":
        allowed = _literal_choices(loc)
        return f"{key_path(loc)}: required, but not set" + (
            f"; allowed: {', '.join(allowed)}" if allowed else ""
        )
    if kind == "literal_error":
        choices = _literal_choices(loc)
        hint = did_you_mean(str(given), choices) if isinstance(given, str) else ""
        return f"{key_path(loc)}: given {quote(given)}{hint}; allowed: {', '.join(choices)}"
    if kind in _TYPE_WORDS:
        return f"{key_path(loc)}: {_TYPE_WORDS[kind]}, given {quote(given)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key_path(loc)}: {message} (given {quote(given)})"


def _decode_top_level(raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """Pulumi hands object keys to the program as JSON strings: decode them."""
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in USER_KEYS:
            problems.append(f"{NAMESPACE}:{key}: unknown key; allowed keys: {', '.join(USER_KEYS)}")
            continue
        expected = _OBJECT_KEYS.get(key) or _LIST_KEYS.get(key)
        if expected is not None and isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        if expected is not None and not isinstance(value, expected):
            shape = "an object" if expected is dict else "a list"
            problems.append(
                f"{NAMESPACE}:{key}: must be {shape} (write it as YAML in the stack file, "
                f"or with `pulumi config set --path`), given {quote(value)}"
            )
            continue
        data[key] = value
    return data


def _cross_checks(cfg: PlatformConfig) -> list[str]:
    """Rules that span fields; each names the key path it is about."""
    problems: list[str] = []
    fields_set = cfg.model_fields_set
    managed = cfg.cloud in MANAGED_CLOUDS
    endpoint = cfg.cluster.endpoint

    for key in LOCATION_KEYS[cfg.cloud]:
        value = cfg.location.project if key.endswith(":project") else cfg.location.region
        if not value:
            problems.append(f"{key}: required for gpuplane:cloud {cfg.cloud}, but not set")

    # The serving stack's own rules (components/serving/settings.py), named as keys here.
    serving = cfg.serving
    problems.extend(
        serving_problems(
            domain=serving.domain,
            acme_email=serving.acme_email,
            knative=serving.knative.settings(),
            key=camel_key("gpuplane:serving."),
            monitoring=serving.monitoring.settings(),
        )
    )
    problems.extend(_check_monitoring(cfg))
    problems.extend(check_model_cache(cfg))

    if cfg.aws is not None and cfg.cloud != "aws":
        problems.append(f"gpuplane:aws: only for gpuplane:cloud aws, not {cfg.cloud}")
    if cfg.cloud == "aws":
        problems.extend(_check_aws(cfg))
    if cfg.gcp is not None and cfg.cloud != "gcp":
        problems.append(f"gpuplane:gcp: only for gpuplane:cloud gcp, not {cfg.cloud}")
    if cfg.cloud == "gcp":
        problems.extend(_check_gcp(cfg))
    if cfg.jobs_enabled:
        pools = {p.name: p for p in cfg.gpu_pools}
        problems.extend(check_jobs(cfg.cloud, pools, cfg.jobs, cfg.job_queue))

    if cfg.azure is not None and cfg.cloud != "azure":
        problems.append(f"gpuplane:azure: only for gpuplane:cloud azure, not {cfg.cloud}")
    if cfg.cloud == "azure":
        problems.extend(_check_azure(cfg))

    if managed:
        if "existing" in fields_set:
            problems.append(f"gpuplane:existing: only for gpuplane:cloud existing, not {cfg.cloud}")
        if endpoint.public_access and not endpoint.public_access_cidrs:
            problems.append(
                "gpuplane:cluster.endpoint.publicAccessCidrs: required while publicAccess is "
                "true: list the CIDRs allowed to reach the API server (0.0.0.0/0 is refused), "
                "or set publicAccess: false"
            )
        if not endpoint.public_access and endpoint.public_access_cidrs:
            problems.append(
                "gpuplane:cluster.endpoint.publicAccessCidrs: has no effect while publicAccess "
                "is false; remove it or turn publicAccess on"
            )
        if not endpoint.public_access and not endpoint.private_access:
            problems.append(
                "gpuplane:cluster.endpoint: privateAccess and publicAccess are both false, "
                "so nothing could reach the API server; turn one on"
            )
        pool = cfg.system_pool
        if pool is not None:
            problems.extend(
                system_pool_problems(
                    cfg.cloud, pool.instance_type, pool.min_nodes, pool.max_nodes, _system_key
                )
            )
    else:
        if cfg.existing is None:
            problems.append(
                "gpuplane:existing: required for gpuplane:cloud existing: "
                "{context, kubeconfig} of the cluster to use"
            )
        unused = [f"cluster.{k}" for k in ("endpoint", "protect")]
        unused = [k for k in unused if _alias_set(cfg.cluster, k.split(".")[1])]
        if "system_pool" in fields_set:
            unused.append("systemPool")
        for key in unused:
            problems.append(
                f"gpuplane:{key}: has no effect for gpuplane:cloud existing (that cluster is "
                "managed outside gpuplane); remove it"
            )

    # The pool rules every cluster component applies (clusters/pools.py), named as keys here.
    specs = [gpu_pool_spec(p) for p in cfg.gpu_pools]
    problems.extend(gpu_pool_problems(cfg.cloud, specs, pool_key))
    for i, pool in enumerate(cfg.gpu_pools):
        where = f"gpuplane:gpuPools[{i}]"
        if not managed:
            problems.extend(_check_existing_pool(where, pool))
    return problems


def pool_key(path: str) -> str:
    """A GpuPoolSpec key path (`gpu_pools[0].sharing_replicas`) as a stack file names it
    (`gpuplane:gpuPools[0].sharing.replicas`)."""
    path = re.sub(r"\.sharing$", ".sharing.strategy", path)
    path = path.replace(".sharing_replicas", ".sharing.replicas")
    return camel_key("gpuplane:")(path)


def _system_key(path: str) -> str:
    return "gpuplane:systemPool." + camel_key("")(path.removeprefix("system_"))


def cold_start_budget(serving: ServingConfig) -> str:
    """The configured cold-start budget, or half of Knative's progress deadline."""
    budget = serving.monitoring.alerts.cold_start_budget
    return budget or f"{duration_seconds(serving.knative.progress_deadline) // 2}s"


def _check_monitoring(cfg: PlatformConfig) -> list[str]:
    monitoring = cfg.serving.monitoring
    problems = []
    if cfg.cloud not in MANAGED_CLOUDS and _alias_set(monitoring, "cost") and monitoring.cost:
        problems.append(
            "gpuplane:serving.monitoring.cost: needs a cloud price table (aws, gcp, azure); "
            "a cluster gpuplane does not create has none, given true"
        )
    return problems


def _gpu_pools_from_zero(cfg: PlatformConfig, why: str) -> list[str]:
    """Where capacity follows pending pods, a GPU pool keeps no minimum."""
    return pools_from_zero([gpu_pool_spec(p) for p in cfg.gpu_pools], why, pool_key)


# EksClusterArgs keys that a stack file sets elsewhere than under gpuplane:aws.
_AWS_KEYS = {
    "kubernetes_version": "gpuplane:cluster.kubernetesVersion",
    "gpu_volume_gib": "gpuplane:aws.gpuVolumeSize",
    "nat_per_zone": "gpuplane:aws.natGatewayPerZone",
}


def _aws_key(path: str) -> str:
    if path.startswith("gpu_pools"):
        return pool_key(path)
    return _AWS_KEYS.get(path) or camel_key("gpuplane:aws.")(path)


def _check_aws(cfg: PlatformConfig) -> list[str]:
    """EksCluster's own rules (clusters/aws_args.py) on what the stack file sets."""
    aws = cfg.aws or AwsConfig()
    args: dict[str, Any] = {
        "kubernetes_version": cfg.cluster.kubernetes_version,
        "admin_role_arns": list(aws.admin_role_arns),
        "compute_mode": aws.compute_mode,
        "gpu_pools": [gpu_pool_spec(p) for p in cfg.gpu_pools],
    }
    for name, alias in (
        ("gpu_node_image", "gpuNodeImage"),
        ("gpu_node_image_version", "gpuNodeImageVersion"),
        ("image_cache_snapshot_id", "imageCacheSnapshotId"),
    ):
        if _alias_set(aws, alias) and getattr(aws, name) is not None:
            args[name] = getattr(aws, name)
    return aws_args.eks_problems(args, _aws_key)


def _gcp_key(path: str) -> str:
    """A GkeClusterArgs key as the stack file names it."""
    if path.startswith("system_"):
        return "gpuplane:systemPool"
    if path.startswith("gpu_pools"):
        return pool_key(path)
    return camel_key("gpuplane:gcp.")(path)


def _check_gcp(cfg: PlatformConfig) -> list[str]:
    """GkeCluster's own rules (clusters/gcp_args.py) on what the stack file sets."""
    gcp = cfg.gcp or GcpConfig()
    args: dict[str, Any] = {
        "mode": gcp.mode,
        "node_auto_provisioning": gcp.node_auto_provisioning,
        "subnet_cidr": gcp.subnet_cidr,
        "pods_cidr": gcp.pods_cidr,
        "services_cidr": gcp.services_cidr,
        "master_cidr": gcp.master_cidr,
        "gpu_pools": [gpu_pool_spec(p) for p in cfg.gpu_pools],
    }
    if "system_pool" in cfg.model_fields_set:
        args["system_machine_type"] = (cfg.system_pool or SystemPoolConfig()).instance_type
    # One problem per stack-file key (the three system_* keys are one there).
    return list(dict.fromkeys(gcp_args.gke_problems(args, _gcp_key)))


def _azure_key(path: str) -> str:
    """An AksClusterArgs key as the stack file names it."""
    if path.startswith("gpu_pools"):
        return pool_key(path)
    return camel_key("gpuplane:azure.")(path)


def _check_azure(cfg: PlatformConfig) -> list[str]:
    """AksCluster's own rules (clusters/azure_args.py) on what the stack file sets."""
    azure = cfg.azure or AzureConfig()
    args: dict[str, Any] = {
        "vnet_cidr": azure.vnet_cidr,
        "pod_cidr": azure.pod_cidr,
        "service_cidr": azure.service_cidr,
        "admin_group_object_ids": list(azure.admin_group_object_ids),
        "node_provisioning": azure.node_provisioning,
        "gpu_pools": [gpu_pool_spec(p) for p in cfg.gpu_pools],
    }
    return azure_args.aks_problems(args, _azure_key)


def _alias_set(model: BaseModel, alias: str) -> bool:
    fields = type(model).model_fields.items()
    return any(f.alias == alias and n in model.model_fields_set for n, f in fields)


def gpu_pool_spec(pool: GpuPoolConfig) -> GpuPoolSpec:
    """A `gpuPools` entry (after validation, which settles `spot` per environment) as the
    cloud-neutral pool spec every cloud cluster takes."""
    spec = GpuPoolSpec(
        name=pool.name,
        instance_types=list(pool.instance_types),
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        spot=bool(pool.spot),
        labels=dict(pool.labels),
        sharing=GpuSharing(pool.sharing.strategy),
    )
    if pool.accelerator is not None:
        spec["accelerator"] = pool.accelerator
    if pool.accelerator_count is not None:
        spec["accelerator_count"] = pool.accelerator_count
    if pool.sharing.replicas is not None:
        spec["sharing_replicas"] = pool.sharing.replicas
    return spec


def existing_pool_spec(pool: GpuPoolConfig, *, set_only: bool = False) -> GpuPoolSpec:
    """A `gpuPools` entry as ExistingCluster's pool spec (with `set_only`, only the keys the
    stack file sets, so the component's rules see what the user wrote)."""
    written = pool.model_fields_set if set_only else {"name", "labels", "accelerator"}
    spec = GpuPoolSpec(name=pool.name, labels=dict(pool.labels))
    if pool.accelerator is not None:
        spec["accelerator"] = pool.accelerator
    if pool.accelerator_count is not None:
        spec["accelerator_count"] = pool.accelerator_count
    if not set_only:
        return spec
    if "labels" not in written:
        del spec["labels"]
    for field in ("instance_types", "min_nodes", "max_nodes", "spot"):
        if field in written:
            spec[field] = getattr(pool, field)  # type: ignore[literal-required]
    if "sharing" in written:
        spec["sharing"] = GpuSharing(pool.sharing.strategy)
    return spec


def _check_existing_pool(where: str, pool: GpuPoolConfig) -> list[str]:
    from gpuplane.components.clusters.existing import existing_pool_problems

    return existing_pool_problems(existing_pool_spec(pool, set_only=True), camel_key(f"{where}."))


def _with_defaults(cfg: PlatformConfig) -> PlatformConfig:
    """Fill the defaults that depend on cloud and environment."""
    update: dict[str, Any] = {}
    if cfg.cloud in MANAGED_CLOUDS:
        pool = cfg.system_pool or SystemPoolConfig()
        if pool.instance_type is None:
            pool = pool.model_copy(update={"instance_type": DEFAULT_SYSTEM_INSTANCE[cfg.cloud]})
        update["system_pool"] = pool
        if cfg.cloud == "aws":
            aws = cfg.aws or AwsConfig()
            update["aws"] = aws.model_copy(
                update={
                    "zone_count": aws.zone_count or (3 if cfg.is_prod else 2),
                    "nat_gateway_per_zone": (
                        cfg.is_prod
                        if aws.nat_gateway_per_zone is None
                        else aws.nat_gateway_per_zone
                    ),
                }
            )
        if cfg.cloud == "azure":
            azure = cfg.azure or AzureConfig()
            update["azure"] = azure.model_copy(
                update={
                    "sku_tier": azure.sku_tier or ("Standard" if cfg.is_prod else "Free"),
                    "outbound": azure.outbound or ("natGateway" if cfg.is_prod else "loadBalancer"),
                }
            )
        if cfg.cloud == "gcp":
            gcp = cfg.gcp or GcpConfig()
            regional = cfg.is_prod if gcp.regional is None else gcp.regional
            update["gcp"] = gcp.model_copy(update={"regional": regional})
        update["gpu_pools"] = tuple(
            p if p.spot is not None else p.model_copy(update={"spot": not cfg.is_prod})
            for p in cfg.gpu_pools
        )
    return cfg.model_copy(update=update) if update else cfg


def parse_config(
    raw: Mapping[str, Any], location: Mapping[str, str] | None = None
) -> PlatformConfig:
    """Validate the `gpuplane` keys (without the namespace) and provider location keys."""
    problems: list[str] = []
    data = _decode_top_level(raw, problems)
    location = location or {}
    data["location"] = {
        "region": location.get("aws:region")
        or location.get("gcp:region")
        or location.get("azure-native:location"),
        "project": location.get("gcp:project"),
    }
    cfg, broken = _validate(data, problems)
    if cfg is not None:
        # All problems in one round: the cross-field rules run on what parsed, and
        # say nothing about a section that is already reported broken.
        problems.extend(p for p in _cross_checks(cfg) if not _about(p, broken))
    if problems:
        raise ConfigError(problems)
    assert cfg is not None
    return _with_defaults(cfg)


def _validate(
    data: dict[str, Any], problems: list[str]
) -> tuple["PlatformConfig | None", set[str]]:
    """The model from `data`, reporting every schema problem into `problems`.

    When some fields do not parse, the model is built again without the top-level
    sections they are in (unknown keys are simply dropped), so cross-field rules can
    still run; returns that model (None if even that fails) and the broken sections.
    """
    broken: set[str] = set()
    try:
        return PlatformConfig.model_validate(data), broken
    except ValidationError as exc:
        errors = exc.errors()
    problems.extend(_describe(e) for e in errors)
    partial = json.loads(json.dumps(data))  # a deep copy of plain data
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden" and len(loc) > 1:
            _drop(partial, loc)
        elif loc:
            broken.add(str(loc[0]))
    for section in broken:
        partial.pop(section, None)
    if "cloud" in broken:
        return None, broken
    try:
        return PlatformConfig.model_validate(partial), broken
    except ValidationError:
        return None, broken


def _drop(data: Any, loc: tuple[Any, ...]) -> None:
    """Remove the value at `loc` (an unknown key) from nested plain data."""
    for part in loc[:-1]:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(data, dict):
        data.pop(loc[-1], None)


def _about(problem: str, sections: set[str]) -> bool:
    """Whether a problem is about one of the (top-level, camelCase) sections."""
    return any(
        problem.startswith((f"{NAMESPACE}:{s}:", f"{NAMESPACE}:{s}.", f"{NAMESPACE}:{s}["))
        for s in sections
    )


_ALL_LOCATION_KEYS = tuple(k for keys in LOCATION_KEYS.values() for k in keys)


def split_config(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split `ns:key` config into gpuplane keys and the provider location keys."""
    ours: dict[str, Any] = {}
    location: dict[str, str] = {}
    for full_key, value in values.items():
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE:
            ours[key] = value
        elif full_key in _ALL_LOCATION_KEYS:
            location[full_key] = str(value)
    return ours, location


def mistyped_keys(keys: Iterable[str]) -> list[str]:
    """Keys outside gpuplane's namespace that look like a typo of one gpuplane reads
    (`aws:regoin`, `gpuplan:cloud`): Pulumi passes them on silently, so nothing else
    would point at them."""
    problems = []
    for full_key in keys:
        namespace, _, key = full_key.partition(":")
        if namespace == NAMESPACE or full_key in _ALL_LOCATION_KEYS:
            continue
        if closest(namespace, [NAMESPACE]) is not None:
            problems.append(
                f"{full_key}: unknown namespace {namespace!r}; did you mean {NAMESPACE}:{key}?"
            )
            continue
        near = closest(full_key, _ALL_LOCATION_KEYS)
        if near is not None and near.partition(":")[0] == namespace:
            problems.append(f"{full_key}: not a key gpuplane reads; did you mean {near}?")
    return problems


def load_config(values: Mapping[str, Any] | None = None) -> PlatformConfig:
    """The stack's validated config: from `values` (`ns:key` -> value) or Pulumi's runtime."""
    if values is None:
        from pulumi.runtime import config as runtime_config

        values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    ours, location = split_config(values)
    typos = mistyped_keys(values)
    try:
        cfg = parse_config(ours, location)
    except ConfigError as exc:
        raise ConfigError([*typos, *exc.problems]) from None
    if typos:
        raise ConfigError(typos)
    return cfg
