"""Rules only rendering makes possible: they read the objects the Helm releases install.

CrossGuard sees a Helm release as one resource and cannot render it, so these run in
`gpuplane check --render` only (never in the policy pack). Each reads a StackRender
(every object the stack installs) and the plan's graph (namespaces, the cluster, its
firewall) and yields (message, object) per problem.
"""

import ipaddress
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gpuplane.graph import ResourceGraph
from gpuplane.policies.kubernetes import DEFAULT_REGISTRIES
from gpuplane.policies.rule import Rule, dig, items, string_list
from gpuplane.render import UNKNOWN_VALUE, Object, StackRender, images_of

PSA_LABEL = "pod-security.kubernetes.io/enforce"
PSA_LEVELS = ("privileged", "baseline", "restricted")
# Where each kind keeps its pod template.
POD_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet")
# Pod Security Standards (Kubernetes 1.36), baseline and restricted.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "name",
    }
)
# The API group an HPA metric type is served from.
METRIC_APIS = {
    "Resource": "metrics.k8s.io",
    "ContainerResource": "metrics.k8s.io",
    "Pods": "custom.metrics.k8s.io",
    "Object": "custom.metrics.k8s.io",
    "External": "external.metrics.k8s.io",
}


@dataclass(frozen=True)
class Context:
    """What every render rule reads."""

    rendered: StackRender
    graph: ResourceGraph

    def objects(self) -> list[Object]:
        return self.rendered.objects()

    def chart_objects(self) -> list[Object]:
        return [o for r in self.rendered.releases for o in r.objects]


Finding = tuple[str, Object]


# --- GP-RND-001: Pod Security admission --------------------------------------------


def namespace_levels(ctx: Context) -> dict[str, str]:
    """Each namespace the stack creates, with its Pod Security `enforce` level (no label:
    privileged, the admission controller's default)."""
    levels: dict[str, str] = {}
    for obj in ctx.objects():
        if obj.kind == "Namespace" and obj.name:
            labels = dig(obj.body, "metadata", "labels", default={})
            level = labels.get(PSA_LABEL) if isinstance(labels, Mapping) else None
            levels[obj.name] = level if level in PSA_LEVELS else "privileged"
    return levels


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in items(spec.get(key)):
            if isinstance(container, Mapping):
                yield (
                    f"{key[:-1] if key.endswith('s') else key} {container.get('name', '?')}",
                    (container),
                )


def baseline_problems(spec: Mapping[str, Any]) -> list[str]:
    """What keeps a pod spec out of the Pod Security `baseline` level."""
    found = [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    pod_sc = dig(spec, "securityContext", default={})
    for volume in items(spec.get("volumes")):
        if isinstance(volume, Mapping) and "hostPath" in volume:
            found.append(f"hostPath volume {volume.get('name')}")
    if dig(pod_sc, "seccompProfile", "type") == "Unconfined":
        found.append("pod seccompProfile Unconfined")
    if dig(pod_sc, "appArmorProfile", "type") == "Unconfined":
        found.append("pod appArmorProfile Unconfined")
    found += _selinux(dig(pod_sc, "seLinuxOptions", default={}), "pod")
    for sysctl in items(pod_sc.get("sysctls")):
        if isinstance(sysctl, Mapping) and sysctl.get("name") not in SAFE_SYSCTLS:
            found.append(f"sysctl {sysctl.get('name')}")
    if dig(pod_sc, "windowsOptions", "hostProcess"):
        found.append("windows hostProcess")
    for where, container in _containers(spec):
        sc = dig(container, "securityContext", default={})
        if sc.get("privileged"):
            found.append(f"{where}: privileged")
        added = set(map(str, items(dig(sc, "capabilities", "add")))) - BASELINE_CAPABILITIES
        if added:
            found.append(f"{where}: adds capabilities {', '.join(sorted(added))}")
        for port in items(container.get("ports")):
            if isinstance(port, Mapping) and port.get("hostPort"):
                found.append(f"{where}: hostPort {port['hostPort']}")
        if dig(sc, "seccompProfile", "type") == "Unconfined":
            found.append(f"{where}: seccompProfile Unconfined")
        if dig(sc, "appArmorProfile", "type") == "Unconfined":
            found.append(f"{where}: appArmorProfile Unconfined")
        if sc.get("procMount") not in (None, "Default"):
            found.append(f"{where}: procMount {sc['procMount']}")
        if dig(sc, "windowsOptions", "hostProcess"):
            found.append(f"{where}: windows hostProcess")
        found += _selinux(dig(sc, "seLinuxOptions", default={}), where)
    return found


def _selinux(options: Any, where: str) -> list[str]:
    if not isinstance(options, Mapping):
        return []
    found = []
    if options.get("type", "") not in SELINUX_TYPES:
        found.append(f"{where}: seLinuxOptions.type {options['type']}")
    found += [f"{where}: seLinuxOptions.{key} set" for key in ("user", "role") if options.get(key)]
    return found


def restricted_problems(spec: Mapping[str, Any]) -> list[str]:
    """What keeps a pod spec out of `restricted` (on top of baseline's)."""
    found = baseline_problems(spec)
    pod_sc = dig(spec, "securityContext", default={})
    for volume in items(spec.get("volumes")):
        if isinstance(volume, Mapping):
            kinds = set(volume) - RESTRICTED_VOLUMES
            if kinds and "hostPath" not in kinds:
                found.append(f"volume {volume.get('name')} of type {', '.join(sorted(kinds))}")
    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_seccomp = dig(pod_sc, "seccompProfile", "type")
    if pod_sc.get("runAsUser") == 0:
        found.append("pod runAsUser 0")
    for where, container in _containers(spec):
        sc = dig(container, "securityContext", default={})
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation is not false")
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            found.append(f"{where}: runAsNonRoot is not true")
        if sc.get("runAsUser") == 0:
            found.append(f"{where}: runAsUser 0")
        seccomp = dig(sc, "seccompProfile", "type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{where}: seccompProfile is not RuntimeDefault or Localhost")
        drops = {str(c).upper() for c in items(dig(sc, "capabilities", "drop"))}
        if "ALL" not in drops:
            found.append(f"{where}: does not drop ALL capabilities")
        # Baseline reports the others; restricted allows only NET_BIND_SERVICE.
        added = set(map(str, items(dig(sc, "capabilities", "add")))) & BASELINE_CAPABILITIES
        added.discard("NET_BIND_SERVICE")
        if added:
            found.append(f"{where}: adds capabilities {', '.join(sorted(added))}")
    return found


def pod_spec(obj: Object) -> Mapping[str, Any] | None:
    path = POD_TEMPLATES.get(obj.kind)
    if path is None or not obj.api_version.startswith(("apps/", "batch/", "v1")):
        return None
    spec = dig(obj.body, *path)
    return spec if isinstance(spec, Mapping) else None


def pod_security(ctx: Context, settings: Mapping[str, Any]) -> Iterator[Finding]:
    levels = namespace_levels(ctx)
    for obj in ctx.chart_objects():
        spec = pod_spec(obj)
        level = levels.get(obj.namespace or "")
        if spec is None or level in (None, "privileged"):
            continue
        problems = restricted_problems(spec) if level == "restricted" else baseline_problems(spec)
        if problems:
            shown = "; ".join(problems[:6]) + (
                f"; and {len(problems) - 6} more" if len(problems) > 6 else ""
            )
            yield (
                f"its pods are refused by namespace {obj.namespace}'s Pod Security level "
                f"{level!r}: {shown}",
                obj,
            )


# --- GP-RND-002: images --------------------------------------------------------------


def normalise_image(image: str) -> str:
    """The fully qualified reference a container runtime pulls: `nginx:1` is
    docker.io/library/nginx:1, `grafana/grafana:13` is docker.io/grafana/grafana:13."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


def _normalise_prefix(prefix: str) -> str:
    first, _, rest = prefix.partition("/")
    if not rest and not prefix.endswith("/"):
        return prefix
    if "." in first or ":" in first or first == "localhost":
        return prefix
    return f"docker.io/{prefix}"


def images(ctx: Context, settings: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = tuple(_normalise_prefix(p) for p in settings.get("allowedRegistries") or ())
    for obj in ctx.chart_objects():
        for where, image in images_of(obj.body):
            if UNKNOWN_VALUE in image:
                continue
            full = normalise_image(image)
            if not full.startswith(allowed):
                yield (
                    f"{where} runs {full}, not from an allowed registry "
                    f"({', '.join(settings.get('allowedRegistries') or ())})",
                    obj,
                )
            if "@sha256:" in full:
                continue
            last = full.rsplit("/", 1)[-1]
            if ":" not in last:
                yield f"{where} image {image} has no tag (means latest)", obj
            elif last.rsplit(":", 1)[1] == "latest":
                yield f"{where} image {image} uses the latest tag", obj


# --- GP-RND-003: PodDisruptionBudgets ------------------------------------------------


def selects(selector: Any, labels: Any) -> bool:
    """A label selector (matchLabels and matchExpressions) against a label set."""
    if not isinstance(selector, Mapping) or not isinstance(labels, Mapping):
        return False
    match = selector.get("matchLabels") or {}
    expressions = items(selector.get("matchExpressions"))
    if not match and not expressions:
        return False  # an empty PDB selector selects nothing (policy/v1 selects all: rare)
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expression in expressions:
        key, op = expression.get("key"), expression.get("operator")
        values = set(items(expression.get("values")))
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels.get(key) in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _scaled(value: Any, total: int) -> int | None:
    """An int-or-percent of `total`, rounded up as the disruption controller does."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.endswith("%"):
        try:
            return math.ceil(float(text[:-1]) * total / 100)
        except ValueError:
            return None
    try:
        return int(text)
    except ValueError:
        return None


def replica_floor(obj: Object, objects: list[Object]) -> int | None:
    """The replicas a workload runs at rest: its HPA's minReplicas, else spec.replicas (1)."""
    for hpa in objects:
        if hpa.kind != "HorizontalPodAutoscaler" or hpa.namespace != obj.namespace:
            continue
        target = dig(hpa.body, "spec", "scaleTargetRef", default={})
        if target.get("kind") == obj.kind and target.get("name") == obj.name:
            floor = dig(hpa.body, "spec", "minReplicas", default=1)
            return floor if isinstance(floor, int) else None
    replicas = dig(obj.body, "spec", "replicas", default=1)
    return replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None


def disruption_budgets(ctx: Context, settings: Mapping[str, Any]) -> Iterator[Finding]:
    objects = ctx.objects()
    workloads = [o for o in objects if o.kind in SCALABLE]
    for pdb in ctx.chart_objects():
        if pdb.kind != "PodDisruptionBudget":
            continue
        selector = dig(pdb.body, "spec", "selector")
        matched = [
            w
            for w in workloads
            if w.namespace == pdb.namespace
            and selects(selector, dig(w.body, "spec", "template", "metadata", "labels"))
        ]
        floors = [replica_floor(w, objects) for w in matched]
        if not matched or None in floors:
            continue
        total = sum(f for f in floors if f is not None)
        spec = dig(pdb.body, "spec", default={})
        if "minAvailable" in spec:
            needed = _scaled(spec["minAvailable"], total)
            allowed = None if needed is None else total - needed
            rule = f"minAvailable {spec['minAvailable']}"
        elif "maxUnavailable" in spec:
            allowed = _scaled(spec["maxUnavailable"], total)
            rule = f"maxUnavailable {spec['maxUnavailable']}"
        else:
            continue
        if allowed is not None and allowed <= 0:
            names = ", ".join(w.label for w in matched)
            yield (
                f"allows no disruption ({rule}) at the {total} replica(s) {names} runs at: "
                "every node drain (upgrade, Karpenter consolidation, scale-down) blocks on it",
                pdb,
            )


# --- GP-RND-004: HPA metrics sources --------------------------------------------------


def served_metric_apis(ctx: Context) -> set[str]:
    """Metrics API groups the cluster serves: GKE and AKS run metrics-server; an EKS
    metrics-server add-on or any APIService in the stack adds its group."""
    served: set[str] = set()
    for resource in ctx.graph:
        if resource.type in (
            "gcp:container/cluster:Cluster",
            "azure-native:containerservice:ManagedCluster",
        ):
            served.add("metrics.k8s.io")
        if resource.type == "aws:eks/addon:Addon" and resource.inputs.get("addonName") == (
            "metrics-server"
        ):
            served.add("metrics.k8s.io")
    for obj in ctx.objects():
        if obj.kind == "APIService":
            group = dig(obj.body, "spec", "group")
            if isinstance(group, str):
                served.add(group)
    return served


def hpa_metrics(ctx: Context, settings: Mapping[str, Any]) -> Iterator[Finding]:
    served = served_metric_apis(ctx)
    for hpa in ctx.chart_objects():
        if hpa.kind != "HorizontalPodAutoscaler":
            continue
        metrics = items(dig(hpa.body, "spec", "metrics"))
        # autoscaling/v1 and a v2 HPA with no metrics scale on CPU (metrics.k8s.io).
        kinds = [m.get("type") for m in metrics if isinstance(m, Mapping)] or ["Resource"]
        missing = sorted({METRIC_APIS[k] for k in kinds if k in METRIC_APIS} - served)
        if missing:
            yield (
                f"scales on {', '.join(sorted(set(map(str, kinds))))} metrics from "
                f"{', '.join(missing)}, which nothing in the stack serves on this cluster: "
                "it never scales (install metrics-server or an adapter, or drop the HPA)",
                hpa,
            )


# --- GP-RND-005: webhooks through the control-plane firewall --------------------------


@dataclass(frozen=True)
class Firewall:
    """The node ports the control plane may reach, and how the plan says so."""

    where: str
    ranges: tuple[tuple[int, int], ...]

    def opens(self, port: int) -> bool:
        return any(low <= port <= high for low, high in self.ranges)

    def describe(self) -> str:
        shown = sorted({str(a) if a == b else f"{a}-{b}" for a, b in self.ranges})
        return f"{self.where} open {', '.join(shown) or 'nothing'}"


def _port_range(low: Any, high: Any, protocol: Any) -> tuple[int, int] | None:
    if str(protocol) in ("-1", "all"):
        return (0, 65535)
    if str(protocol).lower() not in ("tcp", "6"):
        return None
    try:
        return (int(low), int(high if high is not None else low))
    except (TypeError, ValueError):
        return None


def eks_firewall(graph: ResourceGraph) -> Firewall | None:
    clusters = graph.by_type("aws:eks/cluster:Cluster")
    if not clusters:
        return None
    control = {
        str(g) for c in clusters for g in items(dig(c.inputs, "vpcConfig", "securityGroupIds"))
    }
    ranges: list[tuple[int, int]] = []
    for rule in graph.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        if str(rule.inputs.get("referencedSecurityGroupId")) in control:
            found = _port_range(
                rule.inputs.get("fromPort"),
                rule.inputs.get("toPort"),
                rule.inputs.get("ipProtocol"),
            )
            ranges += [found] if found else []
    for rule in graph.by_type("aws:ec2/securityGroupRule:SecurityGroupRule"):
        if rule.inputs.get("type") == "ingress" and (
            str(rule.inputs.get("sourceSecurityGroupId")) in control
        ):
            found = _port_range(
                rule.inputs.get("fromPort"), rule.inputs.get("toPort"), rule.inputs.get("protocol")
            )
            ranges += [found] if found else []
    return Firewall(
        "the EKS node security group rules from the cluster security group", tuple(ranges)
    )


def gke_firewall(graph: ResourceGraph) -> Firewall | None:
    for cluster in graph.by_type("gcp:container/cluster:Cluster"):
        private = dig(cluster.inputs, "privateClusterConfig", default={})
        cidr = private.get("masterIpv4CidrBlock")
        if not private.get("enablePrivateNodes") or not isinstance(cidr, str):
            return None
        master = ipaddress.ip_network(cidr, strict=False)
        # GKE's own rule opens the kubelet and 443 from the control plane.
        ranges: list[tuple[int, int]] = [(443, 443), (10250, 10250)]
        for rule in graph.by_type("gcp:compute/firewall:Firewall"):
            if rule.inputs.get("direction", "INGRESS") != "INGRESS":
                continue
            sources = [str(s) for s in items(rule.inputs.get("sourceRanges"))]
            if not any(_covers(s, master) for s in sources):
                continue
            for allow in items(rule.inputs.get("allows")):
                protocol = str(allow.get("protocol", "")).lower()
                ports = items(allow.get("ports")) or (["0-65535"] if protocol else [])
                for port in ports:
                    low, _, high = str(port).partition("-")
                    found = _port_range(low, high or low, "tcp" if protocol == "tcp" else protocol)
                    ranges += [found] if found else []
        return Firewall(f"the GKE firewall rules from the control plane ({cidr})", tuple(ranges))
    return None


def _covers(source: str, master: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return master.subnet_of(ipaddress.ip_network(source, strict=False))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def webhook_calls(obj: Object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(what, service reference) for every call the API server makes to a Service."""
    if obj.kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
        for hook in items(obj.body.get("webhooks")):
            service = dig(hook, "clientConfig", "service")
            if isinstance(service, Mapping):
                yield f"webhook {hook.get('name')}", service
    elif obj.kind == "APIService":
        service = dig(obj.body, "spec", "service")
        if isinstance(service, Mapping):
            yield f"API {dig(obj.body, 'spec', 'group')}", service
    elif obj.kind == "CustomResourceDefinition":
        service = dig(obj.body, "spec", "conversion", "webhook", "clientConfig", "service")
        if isinstance(service, Mapping):
            yield "conversion webhook", service


def pod_port(ctx: Context, reference: Mapping[str, Any]) -> tuple[int, str] | None:
    """The pod port a Service reference lands on, and the Service's label."""
    namespace, name = reference.get("namespace"), reference.get("name")
    port = reference.get("port", 443)
    objects = ctx.objects()
    service = next(
        (o for o in objects if o.kind == "Service" and o.namespace == namespace and o.name == name),
        None,
    )
    if service is None:
        return None
    entry = next(
        (p for p in items(dig(service.body, "spec", "ports")) if p.get("port") == port), None
    )
    if entry is None:
        return None
    target = entry.get("targetPort", port)
    if isinstance(target, int):
        return target, service.label
    selector = dig(service.body, "spec", "selector", default={})
    for obj in objects:
        spec = pod_spec(obj)
        labels = dig(obj.body, *POD_TEMPLATES.get(obj.kind, ())[:-1], "metadata", "labels")
        if spec is None or obj.namespace != namespace:
            continue
        if not selects({"matchLabels": selector}, labels):
            continue
        for _, container in _containers(spec):
            for p in items(container.get("ports")):
                if p.get("name") == target and isinstance(p.get("containerPort"), int):
                    return p["containerPort"], service.label
    return None


def webhook_firewall(ctx: Context, settings: Mapping[str, Any]) -> Iterator[Finding]:
    firewall = eks_firewall(ctx.graph) or gke_firewall(ctx.graph)
    if firewall is None:
        return
    for obj in ctx.chart_objects():
        for what, reference in webhook_calls(obj):
            found = pod_port(ctx, reference)
            if found is None:
                continue
            port, service = found
            if not firewall.opens(port):
                yield (
                    f"{what} calls {service} on pod port {port}, which the control plane "
                    f"cannot reach: {firewall.describe()}",
                    obj,
                )


_PSS = "Kubernetes Pod Security Standards"
RENDER_RULES: tuple[Rule, ...] = (
    Rule(
        id="GP-RND-001",
        name="render-pod-security-admission",
        description="Every pod a chart installs is admitted by its namespace's Pod Security "
        "enforce level.",
        severity="high",
        level="mandatory",
        remediation="Set the chart's securityContext values to meet the level, or give the "
        "namespace the level its pods need (baseline, privileged) and say why.",
        anchor=f"{_PSS}; Pod Security admission",
        resource_types=(),
        stack_check=pod_security,  # type: ignore[arg-type]
    ),
    Rule(
        id="GP-RND-002",
        name="render-allowed-images",
        description="Every image a chart runs comes from an allowed registry, with an "
        "explicit tag or digest.",
        severity="medium",
        level="advisory",
        remediation="Point the chart's image values at an allowed registry (or a mirror), "
        "with a pinned tag or digest; or add the organisation to allowedRegistries.",
        anchor="CIS Kubernetes 5.5.1; Kubescape C-0078; NSA/CISA hardening guide",
        resource_types=(),
        stack_check=images,  # type: ignore[arg-type]
        config={
            "allowedRegistries": string_list(
                DEFAULT_REGISTRIES,
                "Image prefixes allowed; a bare organisation (kserve/) means docker.io/kserve/.",
            )
        },
    ),
    Rule(
        id="GP-RND-003",
        name="render-pdb-allows-disruption",
        description="No PodDisruptionBudget allows zero disruptions at the replica count "
        "the platform runs.",
        severity="medium",
        level="advisory",
        remediation="Run two or more replicas (or an HPA floor of two) under a minAvailable: 1 "
        "budget, or use maxUnavailable: 1.",
        anchor="Kubernetes docs: Specifying a Disruption Budget; EKS best practices",
        resource_types=(),
        stack_check=disruption_budgets,  # type: ignore[arg-type]
    ),
    Rule(
        id="GP-RND-004",
        name="render-hpa-metrics-source",
        description="Every HorizontalPodAutoscaler scales on a metrics API the cluster serves.",
        severity="medium",
        level="advisory",
        remediation="Install metrics-server (EKS add-on or chart) or the adapter that serves "
        "the metric, or disable the chart's autoscaling.",
        anchor="Kubernetes docs: Horizontal Pod Autoscaling, support for metrics APIs",
        resource_types=(),
        stack_check=hpa_metrics,  # type: ignore[arg-type]
    ),
    Rule(
        id="GP-RND-005",
        name="render-webhook-reachable",
        description="Every admission, conversion and API-service webhook a chart installs "
        "listens on a port the control-plane firewall opens to the nodes.",
        severity="high",
        level="mandatory",
        remediation="Open the pod port from the control plane: an EKS node security group "
        "rule from the cluster security group, or a GKE firewall rule from the master CIDR.",
        anchor="EKS and GKE docs: control plane to node webhook ports",
        resource_types=(),
        stack_check=webhook_firewall,  # type: ignore[arg-type]
    ),
)


def run(
    rule: Rule, ctx: Context, settings: Mapping[str, Any] | None
) -> Iterable[tuple[str, Object]]:
    """A render rule's findings with its settings (defaults overlaid)."""
    assert rule.stack_check is not None
    return rule.stack_check(ctx, rule.settings(settings))  # type: ignore[arg-type]
