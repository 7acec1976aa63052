"""Every shipped stack against what its charts really render (../shared/upstream/rendered).

The rendered data is each chart with its DEFAULT values. Where the platform's values
change what matters here, the test applies that change explicitly (see `_after_values`)
and says which value does it; everything else is taken as rendered.
"""

import asyncio
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from gpuplane.components import versions
from gpuplane.components.serving.knative import serving_config
from gpuplane.components.serving.kserve import RBAC_PROXY_POSTRENDER, RBAC_PROXY_POSTRENDER_FILE
from gpuplane.graph import Resource, ResourceGraph
from gpuplane.policies.kubernetes import DEFAULT_REGISTRIES
from tests.helpers import RELEASE, release_named
from tests.upstream import chart_for_reference, operator_bundle, rendered_objects, upstream_values

STACKS = ("local", "aws-dev", "aws-prod", "gcp-dev", "gcp-prod", "azure-dev", "azure-prod")


def _images(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from _images(value)
    elif isinstance(tree, list | tuple):
        for value in tree:
            yield from _images(value)


def _chart(release: Resource) -> tuple[str, str]:
    key, chart = chart_for_reference(release.inputs["chart"], release.inputs["version"])
    return key, chart.chart


def _rendered(release: Resource) -> tuple[dict[str, Any], ...]:
    key, chart = _chart(release)
    version = release.inputs["version"]
    if key == "kserve-runtime-configs":
        # Renders nothing with defaults; the variant sets servingruntime.enabled as we do.
        assert release.inputs["values"]["kserve"]["servingruntime"]["enabled"] is True
        return rendered_objects(chart, version, "servingruntime-enabled")
    return rendered_objects(chart, version)


def _replaced(obj: dict[str, Any], old: str, new: str) -> Any:
    return yaml.safe_load(yaml.safe_dump(obj).replace(old, new))


def _after_values(release: Resource, objects: tuple[dict[str, Any], ...]) -> list[Any]:
    """The rendered objects with the platform's image-relevant values applied."""
    key, _ = _chart(release)
    values = release.inputs["values"]
    out: list[Any] = list(objects)
    if key in ("istiod", "istio-cni"):
        # global.hub replaces the stamped registry.istio.io/release in every image.
        hub = values["global"]["hub"]
        return [_replaced(o, "registry.istio.io/release", hub) for o in out]
    if key == "kube-prometheus-stack":
        cert_manager = values["prometheusOperator"]["admissionWebhooks"]["certManager"]["enabled"]
        if cert_manager:
            # certManager.enabled: cert-manager issues the webhook certificate; the
            # chart renders no certificate Jobs (kube-webhook-certgen).
            jobs = [o for o in out if o["kind"] == "Job"]
            assert {o["metadata"]["name"] for o in jobs} == {
                "kube-prometheus-stack-admission-create",
                "kube-prometheus-stack-admission-patch",
            }
            out = [o for o in out if o["kind"] != "Job"]
    if key == "kserve":
        # controller.rbacProxyImage replaces the chart's kube-rbac-proxy image.
        default = upstream_values(versions.CHARTS["kserve"])["kserve"]["controller"]
        pinned = values["kserve"]["controller"]["rbacProxyImage"]
        return [_replaced(o, default["rbacProxyImage"], pinned) for o in out]
    if key == "kserve-runtime-configs":
        # servingruntime.<name>.disabled drops that runtime: found by its image.
        runtimes = upstream_values(versions.CHARTS[key])["kserve"]["servingruntime"]
        chosen = values["kserve"]["servingruntime"]
        dropped = {
            f"{runtimes[name]['image']}:{runtimes[name]['tag']}"
            for name, setting in chosen.items()
            if isinstance(setting, dict) and setting.get("disabled")
        }
        kept = [o for o in out if not set(_images(o)) & dropped]
        assert len(out) - len(kept) == len(dropped), "a disabled runtime matched no object"
        return kept
    return out


def _admitted(image: str) -> bool:
    if image == "auto":  # the gateway's pod: the injector fills in istiod's proxy image
        return True
    last = image.rsplit("/", 1)[-1]
    tagged = "@sha256:" in image or (":" in last and not last.endswith(":latest"))
    return tagged and image.startswith(tuple(DEFAULT_REGISTRIES))


@pytest.mark.parametrize("stack", STACKS)
def test_every_image_of_every_release_is_tagged_and_admitted(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    refused: dict[str, set[str]] = {}
    for release in graph.by_type(RELEASE):
        images = set(_images(_after_values(release, _rendered(release))))
        bad = {i for i in images if not _admitted(i)}
        if bad:
            refused[release.inputs["name"]] = bad
    # What the Knative Operator applies for the KnativeServing's version.
    version = versions.KNATIVE_SERVING
    bundle = [*operator_bundle("knative-serving", version), *operator_bundle("net-istio", version)]
    bad = {i for i in _images(bundle) if not _admitted(i)}
    if bad:
        refused["knative-serving"] = bad
    assert refused == {}


def test_without_the_platforms_values_the_charts_would_be_refused() -> None:
    """The check above can fail: the defaults carry the images issue #13 found."""
    defaults = {
        *_images(rendered_objects("kube-prometheus-stack", "88.5.3")),
        *_images(rendered_objects("kserve-runtime-configs", "v0.20.0", "servingruntime-enabled")),
        *_images(rendered_objects("istiod", "1.30.3")),
    }
    refused = {i for i in defaults if not _admitted(i)}
    assert {"ghcr.io/jkroepke/kube-webhook-certgen:1.8.7", "vllm/vllm-openai:latest"} <= refused
    assert "registry.istio.io/release/pilot:1.30.3" in refused


def test_kube_rbac_proxy_runs_at_a_verbosity_that_logs_no_headers(
    local_graph: ResourceGraph,
) -> None:
    kserve = release_named(local_graph, "kserve")
    assert kserve.inputs["postrender"] == RBAC_PROXY_POSTRENDER
    objects = rendered_objects("kserve-resources", versions.CHARTS["kserve"].version)
    manifest = yaml.safe_dump_all(list(objects), sort_keys=False)
    result = subprocess.run(
        [str(RBAC_PROXY_POSTRENDER_FILE)],
        input=manifest,
        capture_output=True,
        text=True,
        check=True,
    )
    after = list(yaml.safe_load_all(result.stdout))
    proxies = [
        c
        for o in after
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
        if c["name"] == "kube-rbac-proxy"
    ]
    assert proxies and all("--v=0" in c["args"] for c in proxies)
    assert "--v=10" not in result.stdout
    # Nothing else changes.
    assert len(after) == len(objects)
    assert yaml.safe_dump_all(after, sort_keys=False).replace("--v=0", "--v=10") == manifest


# --- quiet when healthy ---------------------------------------------------------

# kube-prometheus-stack's switch for each kube-system Service it renders (by jobLabel),
# and the default rule keys alerting on that job.
SWITCHES = {
    "kube-controller-manager": ("kubeControllerManager", ("kubeControllerManager",)),
    "kube-scheduler": ("kubeScheduler", ("kubeSchedulerAlerting", "kubeSchedulerRecording")),
    "kube-etcd": ("kubeEtcd", ("etcd",)),
    "kube-proxy": ("kubeProxy", ("kubeProxy",)),
    "coredns": ("coreDns", ()),
}
# What each stack's cluster lets Prometheus reach (README "Quiet when healthy").
REACHABLE = {
    # kind: kubeadm binds the control plane and kube-proxy's metrics to 127.0.0.1.
    "local": {"coredns"},
    # EKS hides the control plane; its kube-proxy add-on runs.
    "aws": {"kube-proxy", "coredns"},
    # GKE hides the control plane, Dataplane V2 has no kube-proxy, DNS is kube-dns.
    "gcp": set(),
    # AKS hides the control plane; Cilium replaces kube-proxy.
    "azure": {"coredns"},
}


def _kps_objects() -> tuple[dict[str, Any], ...]:
    return rendered_objects(
        "kube-prometheus-stack", versions.CHARTS["kube-prometheus-stack"].version
    )


def test_every_control_plane_service_the_chart_renders_has_a_switch() -> None:
    jobs = {
        o["metadata"]["labels"]["jobLabel"]
        for o in _kps_objects()
        if o["kind"] == "Service" and o["metadata"]["namespace"] == "kube-system"
    }
    assert jobs == set(SWITCHES)
    # And the always-firing alerts the issue names depend on those jobs.
    absent = {
        rule["alert"]: rule["expr"]
        for o in _kps_objects()
        if o["kind"] == "PrometheusRule"
        for group in o["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule and "absent(up{job=" in rule["expr"]
    }
    assert absent["KubeControllerManagerDown"] == 'absent(up{job="kube-controller-manager"})'
    assert 'job="kube-proxy"' in absent["KubeProxyDown"]


@pytest.mark.parametrize("stack", STACKS)
def test_no_scrape_target_or_alert_for_what_the_cluster_hides(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    values = release_named(stack_graphs[stack], "kube-prometheus-stack").inputs["values"]
    reachable = REACHABLE["local" if stack == "local" else stack.split("-")[0]]
    for job, (switch, rules) in SWITCHES.items():
        on = job in reachable
        assert values[switch]["enabled"] is on, (job, switch)
        for rule in rules:
            assert values["defaultRules"]["rules"][rule] is on, (job, rule)
    # GKE's DNS is kube-dns: scraped through the chart's kubeDns switch instead.
    assert values["kubeDns"]["enabled"] is stack.startswith("gcp")


# --- monitors select what exists --------------------------------------------------


def _services_and_pods(graph: ResourceGraph) -> list[dict[str, Any]]:
    """Services and pod templates of every release (in the release's namespace) and of
    what the Knative Operator applies (knative-serving)."""
    found = []
    for release in graph.by_type(RELEASE):
        for obj in _rendered(release):
            if obj["kind"] in ("Service", "Deployment", "DaemonSet", "StatefulSet"):
                found.append({**obj, "namespace": release.inputs["namespace"]})
    version = versions.KNATIVE_SERVING
    for obj in (
        *operator_bundle("knative-serving", version),
        *operator_bundle("net-istio", version),
    ):
        if obj["kind"] in ("Service", "Deployment"):
            found.append({**obj, "namespace": "knative-serving"})
    return found


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        if expr["operator"] == "DoesNotExist" and present:
            return False
        if expr["operator"] == "Exists" and not present:
            return False
    return True


def _container_ports(obj: dict[str, Any]) -> set[str]:
    spec = obj["spec"]["template"]["spec"]
    return {p.get("name") for c in spec["containers"] for p in c.get("ports", [])}


@pytest.mark.parametrize("stack", STACKS)
def test_every_monitor_selects_a_service_that_exists_on_a_port_it_has(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    objects = _services_and_pods(graph)
    monitors = [r for r in graph if r.type.endswith((":ServiceMonitor", ":PodMonitor"))]
    assert monitors
    for monitor in monitors:
        spec = monitor.inputs["spec"]
        names = spec["namespaceSelector"].get("matchNames")
        in_scope = [o for o in objects if names is None or o["namespace"] in names]
        if monitor.type.endswith(":PodMonitor"):
            pods = [
                o
                for o in in_scope
                if o["kind"] != "Service"
                and _matches(spec["selector"], o["spec"]["template"]["metadata"].get("labels", {}))
            ]
            assert pods, monitor.get("metadata.name")
            continue
        services = [
            o
            for o in in_scope
            if o["kind"] == "Service"
            and _matches(spec["selector"], o["metadata"].get("labels", {}))
        ]
        assert services, f"{monitor.get('metadata.name')}: no Service matches in {names}"
        for endpoint in spec["endpoints"]:
            if "port" in endpoint:
                ports = {p.get("name") for s in services for p in s["spec"]["ports"]}
                assert endpoint["port"] in ports, (monitor.get("metadata.name"), ports)
            else:
                # targetPort: a Service's targetPort or a selected pod's container port.
                targets = {p.get("targetPort") for s in services for p in s["spec"]["ports"]}
                pods = [
                    o
                    for o in in_scope
                    if o["kind"] != "Service"
                    and any(
                        _matches(
                            {"matchLabels": s["spec"]["selector"]},
                            o["spec"]["template"]["metadata"].get("labels", {}),
                        )
                        for s in services
                    )
                ]
                named = targets | {n for p in pods for n in _container_ports(p)}
                assert endpoint["targetPort"] in named, monitor.get("metadata.name")


# --- drain-safe and autoscalers that can act --------------------------------------


def _allowed_disruptions(pdb_spec: dict[str, Any], replicas: int) -> int:
    if "maxUnavailable" in pdb_spec:
        value = pdb_spec["maxUnavailable"]
        if isinstance(value, str):
            return int(replicas * int(value.rstrip("%")) / 100)  # rounds down
        return int(value)
    value = pdb_spec["minAvailable"]
    # A percentage rounds up.
    needed = -(-replicas * int(value.rstrip("%")) // 100) if isinstance(value, str) else value
    return replicas - int(needed)


def _budgets(graph: ResourceGraph) -> list[tuple[str, dict[str, Any], int]]:
    """(name, PDB spec, replicas the platform runs) for every budget any release or the
    Knative Operator renders, with the platform's replica and budget values applied."""
    out = []
    for release in graph.by_type(RELEASE):
        key, _ = _chart(release)
        values = release.inputs["values"]
        if key == "istiod":
            # The 1.30 chart renders its budget (pdb.*) only above one replica.
            replicas = (
                values["autoscaleMin"] if values["autoscaleEnabled"] else values["replicaCount"]
            )
            if replicas > 1:
                out.append(("istiod", dict(values["pdb"]), replicas))
            continue
        if key == "istio-gateway":
            budget = values.get("podDisruptionBudget")
            if budget:
                replicas = (
                    values["autoscaling"]["minReplicas"]
                    if values["autoscaling"]["enabled"]
                    else values["replicaCount"]
                )
                out.append(("istio-ingressgateway", dict(budget), replicas))
            continue
        for obj in _rendered(release):
            if obj["kind"] == "PodDisruptionBudget":
                replicas = values.get("replicas", 2) if key == "karpenter" else 1
                out.append((obj["metadata"]["name"], obj["spec"], replicas))
    serving = next(r for r in graph if r.type.endswith(":KnativeServing")).inputs["spec"]
    overrides = {p["name"]: p for p in serving.get("podDisruptionBudgets", [])}
    replicas = serving.get("high-availability", {}).get("replicas", 1)
    for obj in operator_bundle("knative-serving", serving["version"]):
        if obj["kind"] == "PodDisruptionBudget":
            name = obj["metadata"]["name"]
            spec = {
                **obj["spec"],
                **{k: v for k, v in overrides.get(name, {}).items() if k != "name"},
            }
            out.append((name, spec, replicas))
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_budget_allows_a_disruption_at_the_replicas_the_platform_runs(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    budgets = _budgets(stack_graphs[stack])
    names = {name for name, _, _ in budgets}
    assert {"activator-pdb", "webhook-pdb"} <= names
    if stack.endswith("-prod"):
        # Prod runs the mesh with two spread replicas and a budget each.
        assert {"istiod", "istio-ingressgateway"} <= names
    else:
        # Dev runs one replica each: no budget at all (the cost choice).
        assert not {"istiod", "istio-ingressgateway"} & names
    blocked = {
        name: (spec, replicas)
        for name, spec, replicas in budgets
        if _allowed_disruptions(spec, replicas) < 1 and replicas > 1
    }
    # One replica: a budget must not require it to stay (minAvailable 0 or none).
    single = {
        name: spec
        for name, spec, replicas in budgets
        if replicas == 1 and _allowed_disruptions(spec, replicas) < 1
    }
    assert blocked == {} and single == {}


def test_knatives_own_budget_would_block_a_drain() -> None:
    """Why the override exists: 80% of one or two replicas allows no eviction."""
    pdbs = [
        o
        for o in operator_bundle("knative-serving", "1.23.0")
        if o["kind"] == "PodDisruptionBudget"
    ]
    assert pdbs and all(_allowed_disruptions(p["spec"], 2) == 0 for p in pdbs)


@pytest.mark.parametrize("stack", STACKS)
def test_istiod_and_the_gateway_autoscale_only_where_a_metrics_api_feeds_them(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    # EKS gets the metrics-server add-on; GKE and AKS run their own; kind has none.
    metrics_api = stack != "local"
    if stack.startswith("aws"):
        addons = {r.inputs["addonName"] for r in graph.by_type("aws:eks/addon:Addon")}
        assert "metrics-server" in addons
    istiod = release_named(graph, "istiod").inputs["values"]
    gateway = release_named(graph, "istio-ingressgateway").inputs["values"]
    assert istiod["autoscaleEnabled"] is metrics_api
    assert gateway["autoscaling"]["enabled"] is metrics_api
    # Without an HPA the chart's replica count holds instead.
    replicas = 2 if stack.endswith("-prod") else 1
    assert istiod["replicaCount"] == gateway["replicaCount"] == replicas


# --- control-plane ports, derived from the webhook configurations --------------------


def _webhook_calls(objects: list[dict[str, Any]]) -> set[tuple[str, str, int]]:
    """(namespace, Service, port) of every admission webhook, APIService and CRD
    conversion webhook the objects declare."""
    calls = set()
    for obj in objects:
        kind, refs = obj["kind"], []
        if kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            refs = [w["clientConfig"].get("service") for w in obj.get("webhooks", [])]
        elif kind == "APIService":
            refs = [obj["spec"].get("service")]
        elif kind == "CustomResourceDefinition":
            webhook = obj["spec"].get("conversion", {}).get("webhook", {})
            refs = [webhook.get("clientConfig", {}).get("service")]
        calls.update((r["namespace"], r["name"], int(r.get("port", 443))) for r in refs if r)
    return calls


def _webhook_node_ports(graph: ResourceGraph) -> dict[int, str]:
    """The pod ports the API server calls, from the rendered charts (in each release's
    namespace) and the Knative Operator's manifests: webhook -> Service -> targetPort
    -> container port."""
    objects: list[dict[str, Any]] = []
    for release in graph.by_type(RELEASE):
        namespace = release.inputs["namespace"]
        for obj in _rendered(release):
            meta = {**obj["metadata"]}
            if "namespace" in meta:
                meta["namespace"] = namespace
            objects.append({**obj, "metadata": meta})
    serving = next(r for r in graph if r.type.endswith(":KnativeServing")).inputs["spec"]
    for name in ("knative-serving", "net-istio"):
        objects.extend(operator_bundle(name, serving["version"]))
    services = {
        (o["metadata"].get("namespace"), o["metadata"]["name"]): o
        for o in objects
        if o["kind"] == "Service"
    }
    workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet", "StatefulSet")]
    ports: dict[int, str] = {}
    for namespace, name, port in sorted(_webhook_calls(objects)):
        service = services[namespace, name]
        for entry in service["spec"]["ports"]:
            if entry["port"] != port:
                continue
            target = entry.get("targetPort", port)
            if isinstance(target, int):
                ports[target] = f"{namespace}/{name}"
                continue
            for workload in workloads:
                template = workload["spec"]["template"]
                if workload["metadata"].get("namespace") == namespace and _matches(
                    {"matchLabels": service["spec"]["selector"]},
                    template["metadata"].get("labels", {}),
                ):
                    for container in template["spec"]["containers"]:
                        for p in container.get("ports", []):
                            if p.get("name") == target:
                                ports[p["containerPort"]] = f"{namespace}/{name}"
    return ports


def _opened(graph: ResourceGraph, stack: str) -> set[int]:
    if stack.startswith("gcp"):
        firewalls = graph.by_type("gcp:compute/firewall:Firewall")
        return {int(p) for f in firewalls for a in f.inputs["allows"] for p in a["ports"]}
    rules = graph.by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    return {r.inputs["fromPort"] for r in rules if r.inputs.get("fromPort") is not None}


@pytest.mark.parametrize("stack", ("aws-dev", "aws-prod", "gcp-dev", "gcp-prod"))
def test_the_control_plane_reaches_every_webhook_port(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    derived = _webhook_node_ports(graph)
    # istiod, KServe, Knative, cert-manager / prometheus-operator, as rendered.
    assert {15017, 9443, 8443, 10250} <= set(derived)
    missing = {port: why for port, why in derived.items() if port not in _opened(graph, stack)}
    assert missing == {}


def test_a_closed_webhook_port_is_caught(stack_graphs: dict[str, ResourceGraph]) -> None:
    graph = stack_graphs["gcp-dev"]
    derived = _webhook_node_ports(graph)
    opened = _opened(graph, "gcp-dev") - {15017}
    assert {p for p in derived if p not in opened} == {15017}


def _knative_config() -> dict[str, Any]:
    """The KnativeServing `spec.config` the platform sets (Pulumi's Output needs a loop)."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    return serving_config({}, "example.com")


def _config_maps(version: str) -> dict[str, dict[str, Any]]:
    bundle = operator_bundle("knative-serving", version)
    return {o["metadata"]["name"]: o for o in bundle if o["kind"] == "ConfigMap"}


def test_every_knative_setting_is_a_key_of_its_config_map_in_the_pinned_release() -> None:
    """Knative documents each key, with its default, in the ConfigMap's `_example`."""
    config_maps = _config_maps(versions.KNATIVE_SERVING)
    for name, settings in _knative_config().items():
        assert f"config-{name}" in config_maps, name
        if name == "domain":  # keys are the domains themselves
            continue
        example = config_maps[f"config-{name}"]["data"]["_example"]
        for key in settings:
            assert re.search(rf"^{re.escape(key)}:", example, re.M), (name, key)


def test_metrics_protocol_is_one_knative_accepts() -> None:
    example = _config_maps(versions.KNATIVE_SERVING)["config-observability"]["data"]["_example"]
    supported = re.findall(r"'([\w/]+)'", example[example.index("It supports") :].splitlines()[0])
    observability = _knative_config()["observability"]
    assert "prometheus" in supported and observability["metrics-protocol"] in supported


# --- Pod Security: each namespace's enforce level admits what lands there -----------

_BASELINE_CAPS = {
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
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _pod_security_problems(template: dict[str, Any], level: str) -> list[str]:
    """What Pod Security Admission's `level` refuses in a pod template (the checks of
    the Pod Security Standards that charts can trip)."""
    if level == "privileged":
        return []
    spec, meta = template["spec"], template.get("metadata", {})
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    problems = []
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            problems.append(host)
    if any("hostPath" in v for v in spec.get("volumes", [])):
        problems.append("hostPath volume")
    for key, value in meta.get("annotations", {}).items():
        if (
            key.startswith("container.apparmor.security.beta.kubernetes.io/")
            and value == "unconfined"
        ):
            problems.append(f"AppArmor unconfined ({key})")
    pod_sc = spec.get("securityContext", {})
    for c in containers:
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        added = set(sc.get("capabilities", {}).get("add", []))
        if added - _BASELINE_CAPS:
            problems.append(f"{name}: adds {sorted(added - _BASELINE_CAPS)}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append(f"{name}: hostPort")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp == "Unconfined":
            problems.append(f"{name}: seccomp Unconfined")
        if level != "restricted":
            continue
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation not false")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser 0")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: no seccomp profile")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{name}: does not drop ALL")
        if added - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities")
    if level == "restricted":
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            if kinds - _RESTRICTED_VOLUMES:
                problems.append(f"volume {volume['name']}: {sorted(kinds)}")
    return problems


def _name(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return meta.get("name") or meta.get("generateName", "?")


def _pod_templates(objects: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        kind = obj["kind"]
        if kind in ("Deployment", "DaemonSet", "StatefulSet", "Job"):
            yield f"{kind}/{_name(obj)}", obj["spec"]["template"]
        elif kind == "Pod":
            yield f"Pod/{_name(obj)}", obj


@pytest.mark.parametrize("stack", STACKS)
def test_each_namespace_enforces_a_level_its_pods_pass(
    stack_graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = stack_graphs[stack]
    enforce = {
        r.get("metadata.name"): r.get("metadata.labels")["pod-security.kubernetes.io/enforce"]
        for r in graph.by_type("kubernetes:core/v1:Namespace")
    }
    landing: list[tuple[str, str, dict[str, Any]]] = []
    for release in graph.by_type(RELEASE):
        objects = _after_values(release, _rendered(release))
        for where, template in _pod_templates(objects):
            landing.append((release.inputs["namespace"], where, template))
    serving = next(r for r in graph if r.type.endswith(":KnativeServing")).inputs["spec"]
    for name in ("knative-serving", "net-istio"):
        for where, template in _pod_templates(operator_bundle(name, serving["version"])):
            landing.append(("knative-serving", where, template))
    refused = {
        f"{namespace} ({enforce[namespace]}): {where}": problems
        for namespace, where, template in landing
        if namespace in enforce
        and (problems := _pod_security_problems(template, enforce[namespace]))
    }
    assert refused == {}
    # The check bites: the CNI agent would be refused anywhere but privileged.
    cni = next(t for n, w, t in landing if w == "DaemonSet/istio-cni-node")
    assert _pod_security_problems(cni, "baseline")
