"""Kubernetes objects: Pod specs wherever they hide, namespaces, RBAC, NetworkPolicy.

Pod specs are read from Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
CronJobs, Pods, Knative Services, KServe InferenceService components (predictor,
transformer, explainer) and KServe (Cluster)ServingRuntimes. Objects inside Helm
releases are not visible to a policy (the release is one resource): the Helm
rules pin what those charts are instead.
"""

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from .rule import Rule, dig, items, num, string_list

GPU = "nvidia.com/gpu"
# (type, path to the pod spec) for every object that carries one.
POD_SPECS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:keda.sh/v1alpha1:ScaledJob": ("spec", "jobTargetRef", "template", "spec"),
    "kubernetes:serving.knative.dev/v1:Service": ("spec", "template", "spec"),
    "kubernetes:serving.kserve.io/v1alpha1:ServingRuntime": ("spec",),
    "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime": ("spec",),
}
INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
ISVC_COMPONENTS = ("predictor", "transformer", "explainer")
WORKLOAD_TYPES = (*POD_SPECS, INFERENCE_SERVICE)
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
TRIGGER_AUTHENTICATIONS = (
    "kubernetes:keda.sh/v1alpha1:TriggerAuthentication",
    "kubernetes:keda.sh/v1alpha1:ClusterTriggerAuthentication",
)
# Where a job runs: pods of these never wait in a namespace Kueue may not govern.
JOB_TYPES = (
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:keda.sh/v1alpha1:ScaledJob",
    "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue",
    "kubernetes:kueue.x-k8s.io/v1beta1:LocalQueue",
)
# Workload identities KEDA can use (TriggerAuthentication spec.podIdentity.provider).
WORKLOAD_IDENTITY_PROVIDERS = ("aws", "aws-eks", "gcp", "azure-workload")
# TriggerAuthentication sources that hand KEDA a secret: a Secret, an env variable, a
# file, or a vault reached with its own credentials.
STATIC_SOURCES = (
    "secretTargetRef",
    "env",
    "filePath",
    "configMapTargetRef",
    "hashiCorpVault",
    "azureKeyVault",
    "awsSecretManager",
    "gcpSecretManager",
    "oauth2",
)
CLUSTER_SCOPED = (
    "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime",
    "kubernetes:core/v1:Namespace",
)

# The platform namespaces gpuplane installs charts into, and kube-system: exempt
# from the host-access rules (the node exporter and device plugin need the host)
# and from the default-deny rule (their charts own their traffic).
PLATFORM_NAMESPACES = [
    "kube-system",
    "istio-system",
    "istio-cni",
    "cert-manager",
    "knative-operator",
    "knative-serving",
    "kserve",
    "monitoring",
    "nvidia-device-plugin",
    "keda",
    "kueue-system",
]
EXEMPT = {
    "exemptNamespaces": string_list(PLATFORM_NAMESPACES, "Namespaces the rule does not apply to.")
}
# The organisations whose images the platform runs, never a whole public registry
# (anyone can publish under gcr.io/, quay.io/ or public.ecr.aws/).
DEFAULT_REGISTRIES = [
    "docker.io/kserve/",
    "kserve/",
    "ghcr.io/kserve/",
    "docker.io/istio/",
    "gcr.io/istio-release/",
    "quay.io/jetstack/",
    "gcr.io/knative-releases/",
    "quay.io/prometheus/",
    "quay.io/prometheus-operator/",
    "registry.k8s.io/",
    "nvcr.io/nvidia/",
    "public.ecr.aws/karpenter/",
    "mcr.microsoft.com/",
    # Grafana and its dashboard sidecar (kube-prometheus-stack), and the metrics
    # proxy beside KServe's controller: their projects publish nowhere else.
    "docker.io/grafana/",
    "quay.io/kiwigrid/",
    "quay.io/brancz/",
]
# Only the URL schemes KServe's storage initializer reads: these admit any bucket, so a
# deployment narrows them to its own models bucket through allowedModelPrefixes.
DEFAULT_MODEL_PREFIXES = ["s3://", "gs://", "https://", "pvc://", "hf://", "oci://"]


def namespace_of(args: ResourceValidationArgs) -> str | None:
    """The object's namespace, or None where Pulumi's provider picks (`default`)."""
    return dig(args.props, "metadata", "namespace")


def exempt(args: ResourceValidationArgs, config: Mapping[str, Any]) -> bool:
    return namespace_of(args) in set(config.get("exemptNamespaces") or ())


def pod_specs(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, pod spec) for each pod template the object carries."""
    if args.resource_type == INFERENCE_SERVICE:
        for component in ISVC_COMPONENTS:
            spec = dig(args.props, "spec", component)
            if isinstance(spec, Mapping):
                yield f"spec.{component}", spec
        return
    path = POD_SPECS.get(args.resource_type)
    if path is not None:
        spec = dig(args.props, *path)
        if isinstance(spec, Mapping):
            yield ".".join(path), spec


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, container) for every container, init container and KServe model container."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(items(spec.get(key))):
            if isinstance(container, Mapping):
                yield f"{key}[{i}] {container.get('name', '?')}", container
    model = spec.get("model")
    if isinstance(model, Mapping):
        yield "model", model


def _each_container(
    args: ResourceValidationArgs,
) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    for where, spec in pod_specs(args):
        for name, container in containers(spec):
            yield f"{where} {name}", spec, container


# --- baseline: what opens the node --------------------------------------------


def _privileged(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    for where, _, container in _each_container(args):
        if dig(container, "securityContext", "privileged") is True:
            yield f"{where} runs privileged"


def _host_namespaces(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    for where, spec in pod_specs(args):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key) is True:
                yield f"{where} sets {key}: true"


def _host_path(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    for where, spec in pod_specs(args):
        for volume in items(spec.get("volumes")):
            if isinstance(volume, Mapping) and "hostPath" in volume:
                yield f"{where} mounts hostPath {dig(volume, 'hostPath', 'path')!r}"


def _host_port(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    for where, _, container in _each_container(args):
        for port in items(container.get("ports")):
            if isinstance(port, Mapping) and port.get("hostPort"):
                yield f"{where} binds hostPort {num(port['hostPort'])}"


def _escalation(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means true for a non-privileged container (the kernel's no_new_privs is off).
    if exempt(args, config):
        return
    for where, _, container in _each_container(args):
        if dig(container, "securityContext", "allowPrivilegeEscalation") is not False:
            yield f"{where} does not set allowPrivilegeEscalation: false"


# --- restricted: hygiene -------------------------------------------------------


def _is_root_uid(value: Any) -> bool:
    """runAsUser: 0 (a float 0.0 under CrossGuard; never the boolean False)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def _non_root(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # As Pod Security admission (restricted) checks it: the pod may not set
    # runAsNonRoot: false, each container sets it true or inherits true from the pod,
    # and neither the pod nor a container sets runAsUser: 0.
    if exempt(args, config):
        return
    for where, spec in pod_specs(args):
        pod_level = dig(spec, "securityContext", "runAsNonRoot")
        if pod_level is False:
            yield f"{where} sets runAsNonRoot: false for the pod"
        if _is_root_uid(dig(spec, "securityContext", "runAsUser")):
            yield f"{where} runs the pod as root (securityContext.runAsUser: 0)"
        for name, container in containers(spec):
            own = dig(container, "securityContext", "runAsNonRoot")
            if own is False or (own is None and pod_level is not True):
                yield f"{where} {name} may run as root (runAsNonRoot is not true)"
            if _is_root_uid(dig(container, "securityContext", "runAsUser")):
                yield f"{where} {name} runs as root (securityContext.runAsUser: 0)"


def _drop_all(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    for where, _, container in _each_container(args):
        capabilities = dig(container, "securityContext", "capabilities", default={})
        # Exactly "ALL" and "NET_BIND_SERVICE", case and all, as Pod Security admission compares.
        dropped = {str(c) for c in items(dig(capabilities, "drop"))}
        if "ALL" not in dropped:
            yield f"{where} does not drop ALL capabilities"
        added = {str(c) for c in items(dig(capabilities, "add"))} - {"NET_BIND_SERVICE"}
        if added:
            yield f"{where} adds capabilities {', '.join(sorted(added))}"


def _seccomp(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    allowed = {"RuntimeDefault", "Localhost"}
    for where, spec, container in _each_container(args):
        own = dig(container, "securityContext", "seccompProfile", "type")
        pod_level = dig(spec, "securityContext", "seccompProfile", "type")
        effective = own or pod_level
        if effective not in allowed:
            yield f"{where} has seccomp profile {effective or 'unset (Unconfined)'}"


def _limits(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    for where, _, container in _each_container(args):
        if dig(container, "resources", "limits", "memory") is None:
            yield f"{where} has no memory limit"


_QUANTITY_SUFFIXES = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity(value: Any) -> Decimal | str | None:
    """A Kubernetes quantity as a number, so 1, "1", 1.0 and "1000m" are equal; a
    string that is no quantity stays as it is (compared literally)."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    text = str(value).strip()
    number = text.rstrip("".join({c for suffix in _QUANTITY_SUFFIXES for c in suffix}))
    suffix = text[len(number) :]
    if suffix not in _QUANTITY_SUFFIXES:
        return text
    try:
        return Decimal(number) * _QUANTITY_SUFFIXES[suffix]
    except InvalidOperation:
        return text


def _gpu_limit(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    for where, spec in pod_specs(args):
        gpu_node = any(
            isinstance(t, Mapping) and t.get("key") == GPU for t in items(spec.get("tolerations"))
        )
        asks = False
        for name, container in containers(spec):
            limit = dig(container, "resources", "limits", GPU)
            request = dig(container, "resources", "requests", GPU)
            if request is not None and quantity(request) != quantity(limit):
                shown = "none" if limit is None else num(limit)
                yield f"{where} {name} requests {num(request)} GPU(s) but limits {shown}"
            asks = asks or limit is not None
        if gpu_node and not asks:
            yield f"{where} tolerates the GPU taint but no container has a {GPU} limit"


def _image_tag(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    for where, _, container in _each_container(args):
        image = container.get("image")
        if not isinstance(image, str) or "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        if ":" not in last:
            yield f"{where} image {image!r} has no tag (means latest)"
        elif last.rsplit(":", 1)[1] == "latest":
            yield f"{where} image {image!r} uses the latest tag"


def _registries(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = tuple(config.get("allowedRegistries") or ())
    for where, _, container in _each_container(args):
        image = container.get("image")
        if isinstance(image, str) and not image.startswith(allowed):
            yield f"{where} image {image!r} is not from an allowed registry ({', '.join(allowed)})"


def _model_uris(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    allowed = tuple(config.get("allowedModelPrefixes") or ())
    for component in ISVC_COMPONENTS:
        spec = dig(args.props, "spec", component, default={})
        uris = [
            dig(spec, "model", "storageUri"),
            dig(spec, "storageUri"),
            *(dig(s, "storageUri") for s in items(dig(spec, "model", "storage", default=[]))),
        ]
        for uri in uris:
            if isinstance(uri, str) and not uri.startswith(allowed):
                yield f"spec.{component} reads its model from {uri!r}, not an allowed location"


def _default_namespace(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.resource_type in CLUSTER_SCOPED:
        return
    if namespace_of(args) in (None, "default"):
        yield "runs in the default namespace; give it its own namespace"


def _automount(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if exempt(args, config):
        return
    if args.props.get("automountServiceAccountToken") is not False:
        yield "mounts its API token into every pod (automountServiceAccountToken is not false)"


def _pod_security_label(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    labels = dig(args.props, "metadata", "labels", default={})
    level = labels.get("pod-security.kubernetes.io/enforce")
    if level not in ("privileged", "baseline", "restricted"):
        yield "has no pod-security.kubernetes.io/enforce label (Pod Security admission is off)"


BROAD_SUBJECTS = {
    ("Group", "system:anonymous"),
    ("Group", "system:unauthenticated"),
    ("Group", "system:authenticated"),
    ("Group", "system:serviceaccounts"),
    ("User", "system:anonymous"),
}


def _cluster_admin(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if dig(args.props, "roleRef", "name") != "cluster-admin":
        return
    for subject in items(args.props.get("subjects")):
        if not isinstance(subject, Mapping):
            continue
        kind, name = subject.get("kind"), subject.get("name")
        if (kind, name) in BROAD_SUBJECTS or (kind == "ServiceAccount" and name == "default"):
            yield f"binds cluster-admin to {kind} {name}"


def workload_namespaces(args: StackValidationArgs, exempt_namespaces: set[str]) -> set[str]:
    """Namespaces the stack creates or puts workloads in, minus the exempt ones."""
    found: set[str] = set()
    for resource in args.resources:
        if resource.resource_type == NAMESPACE:
            name = dig(resource.props, "metadata", "name")
        elif resource.resource_type in WORKLOAD_TYPES and resource.resource_type not in (
            CLUSTER_SCOPED
        ):
            name = dig(resource.props, "metadata", "namespace", default="default")
        else:
            continue
        if isinstance(name, str) and name not in exempt_namespaces:
            found.add(name)
    return found


def _default_deny(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    denied: set[str] = set()
    for resource in args.resources:
        if resource.resource_type != NETWORK_POLICY:
            continue
        spec = dig(resource.props, "spec", default={})
        selects_all = not dig(spec, "podSelector", "matchLabels") and not dig(
            spec, "podSelector", "matchExpressions"
        )
        # Absent policyTypes: Kubernetes fills in Ingress, plus Egress with egress rules.
        types = items(spec.get("policyTypes")) or (
            ["Ingress"] + (["Egress"] if items(spec.get("egress")) else [])
        )
        if selects_all and "Ingress" in types and not items(spec.get("ingress")):
            denied.add(str(dig(resource.props, "metadata", "namespace", default="default")))
    exempt_namespaces = set(config.get("exemptNamespaces") or ())
    for name in sorted(workload_namespaces(args, exempt_namespaces) - denied):
        yield (f"namespace {name} has no default-deny ingress NetworkPolicy", None)


def _keda_identity(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    spec = dig(args.props, "spec", default={})
    for source in STATIC_SOURCES:
        if spec.get(source):
            yield f"spec.{source} gives the scaler a static credential"
    provider = dig(spec, "podIdentity", "provider")
    if provider not in WORKLOAD_IDENTITY_PROVIDERS:
        yield (
            f"spec.podIdentity.provider is {provider or 'unset'}; allowed: "
            f"{', '.join(WORKLOAD_IDENTITY_PROVIDERS)}"
        )


def _jobs_not_privileged(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    levels = {
        dig(r.props, "metadata", "name"): (
            dig(r.props, "metadata", "labels", default={}).get(
                "pod-security.kubernetes.io/enforce"
            ),
            r.urn,
        )
        for r in args.resources
        if r.resource_type == NAMESPACE
    }
    seen: set[str] = set()
    for resource in args.resources:
        if resource.resource_type not in JOB_TYPES:
            continue
        name = dig(resource.props, "metadata", "namespace", default="default")
        level, urn = levels.get(name, (None, None))
        if name in seen or level not in (None, "privileged"):
            continue
        seen.add(name)
        if level == "privileged":
            yield (f"jobs run in namespace {name}, which enforces privileged Pod Security", urn)
        elif urn is None and name == "default":
            yield (f"jobs run in namespace {name}, which enforces no Pod Security", None)


_WORKLOADS = tuple(WORKLOAD_TYPES)
_PSS = "Kubernetes Pod Security Standards"

RULES = (
    Rule(
        id="GP-K8S-001",
        name="k8s-no-privileged-containers",
        description="Containers do not run privileged.",
        severity="critical",
        level="mandatory",
        remediation="Remove securityContext.privileged; grant the one capability needed instead.",
        anchor=f"{_PSS}: baseline, Privileged Containers; CIS Kubernetes 5.2.2",
        resource_types=_WORKLOADS,
        check=_privileged,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-002",
        name="k8s-no-host-namespaces",
        description="Pods do not share the node's network, PID or IPC namespace.",
        severity="high",
        level="mandatory",
        remediation="Remove hostNetwork, hostPID and hostIPC from the pod spec.",
        anchor=f"{_PSS}: baseline, Host Namespaces; CIS Kubernetes 5.2.3-5.2.5",
        resource_types=_WORKLOADS,
        check=_host_namespaces,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-003",
        name="k8s-no-host-path",
        description="Pods do not mount directories of the node (hostPath).",
        severity="high",
        level="mandatory",
        remediation="Use a PersistentVolumeClaim, emptyDir or a CSI volume instead of hostPath.",
        anchor=f"{_PSS}: baseline, HostPath Volumes; Checkov CKV_K8S_27",
        resource_types=_WORKLOADS,
        check=_host_path,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-004",
        name="k8s-no-host-ports",
        description="Containers do not bind ports on the node (hostPort).",
        severity="medium",
        level="mandatory",
        remediation="Expose the port through a Service instead of hostPort.",
        anchor=f"{_PSS}: baseline, Host Ports; Checkov CKV_K8S_26",
        resource_types=_WORKLOADS,
        check=_host_port,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-005",
        name="k8s-no-privilege-escalation",
        description="Containers set allowPrivilegeEscalation: false.",
        severity="high",
        level="mandatory",
        remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
        anchor=f"{_PSS}: restricted, Privilege Escalation; CIS Kubernetes 5.2.6",
        resource_types=_WORKLOADS,
        check=_escalation,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-006",
        name="k8s-run-as-non-root",
        description="Containers run as a non-root user.",
        severity="medium",
        level="advisory",
        remediation="Set securityContext.runAsNonRoot: true on the pod or each container, never "
        "false, and never runAsUser: 0.",
        anchor=f"{_PSS}: restricted, Running as Non-root; CIS Kubernetes 5.2.7",
        resource_types=_WORKLOADS,
        check=_non_root,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-007",
        name="k8s-drop-all-capabilities",
        description="Containers drop ALL capabilities and add none but NET_BIND_SERVICE.",
        severity="medium",
        level="advisory",
        remediation="Set securityContext.capabilities.drop: [ALL] and remove other added ones.",
        anchor=f"{_PSS}: restricted, Capabilities; CIS Kubernetes 5.2.9",
        resource_types=_WORKLOADS,
        check=_drop_all,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-008",
        name="k8s-seccomp-runtime-default",
        description="Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
        severity="medium",
        level="advisory",
        remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
        anchor=f"{_PSS}: restricted, Seccomp; CIS Kubernetes 5.7.2",
        resource_types=_WORKLOADS,
        check=_seccomp,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-009",
        name="k8s-memory-limits",
        description="Containers declare a memory limit.",
        severity="low",
        level="advisory",
        remediation="Set resources.limits.memory on every container.",
        anchor="Checkov CKV_K8S_13; Kubescape C-0004",
        resource_types=_WORKLOADS,
        check=_limits,
    ),
    Rule(
        id="GP-K8S-010",
        name="k8s-gpu-pods-limit-gpus",
        description="Pods on GPU nodes limit nvidia.com/gpu, and GPU requests equal limits.",
        severity="medium",
        level="advisory",
        remediation="Set resources.limits['nvidia.com/gpu'] on the container that uses the GPU.",
        anchor="Kubernetes docs: Schedule GPUs (extended resources are limits-only)",
        resource_types=_WORKLOADS,
        check=_gpu_limit,
    ),
    Rule(
        id="GP-K8S-011",
        name="k8s-no-latest-images",
        description="Images name a version tag or digest, never latest or nothing.",
        severity="medium",
        level="advisory",
        remediation="Pin the image to a release tag or, better, a digest.",
        anchor="Checkov CKV_K8S_14; Kubescape C-0075",
        resource_types=_WORKLOADS,
        check=_image_tag,
    ),
    Rule(
        id="GP-K8S-012",
        name="k8s-allowed-registries",
        description="Images come from an allowed registry.",
        severity="high",
        level="advisory",
        remediation="Mirror the image into an allowed registry, or add the registry to "
        "allowedRegistries in the policy config.",
        anchor="Kubescape C-0078; CIS Kubernetes 5.5.1",
        resource_types=_WORKLOADS,
        check=_registries,
        config={
            "allowedRegistries": string_list(DEFAULT_REGISTRIES, "Image prefixes that are allowed.")
        },
    ),
    Rule(
        id="GP-K8S-013",
        name="kserve-allowed-model-storage",
        description="InferenceServices read models from allowed storage locations (by "
        "default any s3, gs, https, pvc, hf or oci location: set allowedModelPrefixes to your "
        "own bucket).",
        severity="high",
        level="advisory",
        remediation="Set allowedModelPrefixes in the policy config to your own models bucket "
        "(e.g. s3://my-models/): the defaults admit any bucket or URL of a storage scheme "
        "KServe reads, so on their own they only catch other schemes (http://, file://). "
        "Then copy each model into that bucket.",
        anchor="gpuplane: model supply chain (KServe storageUri)",
        resource_types=(INFERENCE_SERVICE,),
        check=_model_uris,
        config={
            "allowedModelPrefixes": string_list(
                DEFAULT_MODEL_PREFIXES,
                "storageUri prefixes that are allowed (e.g. s3://my-models/).",
            )
        },
    ),
    Rule(
        id="GP-K8S-014",
        name="k8s-no-default-namespace",
        description="Workloads do not run in the default namespace.",
        severity="low",
        level="advisory",
        remediation="Set metadata.namespace to a namespace of the workload's own.",
        anchor="CIS Kubernetes 5.7.4; Checkov CKV_K8S_21",
        resource_types=_WORKLOADS,
        check=_default_namespace,
    ),
    Rule(
        id="GP-K8S-015",
        name="k8s-service-account-token-not-automounted",
        description="ServiceAccounts do not mount their API token into every pod.",
        severity="low",
        level="advisory",
        remediation="Set automountServiceAccountToken: false; mount a token only where a pod "
        "calls the API.",
        anchor="CIS Kubernetes 5.1.6",
        resource_types=("kubernetes:core/v1:ServiceAccount",),
        check=_automount,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-016",
        name="k8s-namespace-pod-security",
        description="Namespaces enforce a Pod Security Standards level.",
        severity="medium",
        level="advisory",
        remediation="Label the namespace pod-security.kubernetes.io/enforce: restricted "
        "(or baseline where the pods need it).",
        anchor=f"{_PSS}: Pod Security admission; CIS Kubernetes 5.2.1",
        resource_types=(NAMESPACE,),
        check=_pod_security_label,
    ),
    Rule(
        id="GP-K8S-017",
        name="k8s-no-broad-cluster-admin",
        description="cluster-admin is never bound to anonymous, all users, all service "
        "accounts or a default ServiceAccount.",
        severity="critical",
        level="mandatory",
        remediation="Bind cluster-admin to named groups only; give workloads narrow Roles.",
        anchor="CIS Kubernetes 5.1.1; Kubescape C-0035",
        resource_types=(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        ),
        check=_cluster_admin,
    ),
    Rule(
        id="GP-K8S-018",
        name="k8s-namespaces-default-deny",
        description="Every workload namespace has a default-deny ingress NetworkPolicy.",
        severity="high",
        level="mandatory",
        remediation="Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] and no "
        "ingress rules, then allow what must reach the pods.",
        anchor="CIS Kubernetes 5.3.2; Kubescape C-0260",
        resource_types=(NAMESPACE, NETWORK_POLICY, *WORKLOAD_TYPES),
        stack_check=_default_deny,
        config=EXEMPT,
    ),
    Rule(
        id="GP-K8S-019",
        name="k8s-keda-workload-identity",
        description="KEDA scalers authenticate through workload identity, never a static "
        "credential.",
        severity="high",
        level="mandatory",
        remediation="Use spec.podIdentity with provider aws, gcp or azure-workload and "
        "remove secretTargetRef, env and vault sources.",
        anchor="KEDA docs: authentication providers (pod identity)",
        resource_types=TRIGGER_AUTHENTICATIONS,
        check=_keda_identity,
    ),
    Rule(
        id="GP-K8S-020",
        name="k8s-jobs-not-privileged",
        description="Namespaces where jobs run (Jobs, CronJobs, ScaledJobs, Kueue "
        "LocalQueues) do not enforce privileged Pod Security.",
        severity="high",
        level="mandatory",
        remediation="Label the namespace pod-security.kubernetes.io/enforce: baseline (or "
        "restricted) and run jobs without privileges.",
        anchor="Kubernetes Pod Security Standards; CIS Kubernetes 5.2",
        resource_types=(NAMESPACE, *JOB_TYPES),
        stack_check=_jobs_not_privileged,
    ),
)
