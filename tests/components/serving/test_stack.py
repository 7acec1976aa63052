"""The serving stack on the local stack's graph, checked against the upstream oracle."""

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from gpuplane.components import versions
from gpuplane.components.clusters.contract import GPU_RESOURCE
from gpuplane.graph import SECRET, Resource, ResourceGraph
from tests.helpers import (
    RELEASE,
    custom_resource_named,
    depends_on,
    k8s_object,
    kubernetes_objects,
    release_named,
)
from tests.upstream import (
    COMMENTED_KEYS,
    chart_dir,
    chart_for_reference,
    missing_upstream,
    releases_missing_upstream,
    require_upstream,
    validate_custom_resource,
    values_schema,
)

CORE_PREFIXES = (
    "kubernetes:core/",
    "kubernetes:networking.k8s.io/",
    "kubernetes:admissionregistration.k8s.io/",
)


def test_the_local_stack_installs_every_part(local_graph: ResourceGraph) -> None:
    releases = {r.inputs["name"] for r in local_graph.by_type(RELEASE)}
    assert releases == {
        "istio-base",
        "istio-cni",
        "istiod",
        "istio-ingressgateway",
        "cert-manager",
        "knative-operator",
        "kserve-crd",
        "kserve",
        "kserve-runtime-configs",
        "prometheus-operator-crds",
        "kube-prometheus-stack",
    }
    assert custom_resource_named(local_graph, "KnativeServing", "knative-serving")
    assert custom_resource_named(local_graph, "PeerAuthentication", "default")
    assert custom_resource_named(local_graph, "ClusterIssuer", "gpuplane-selfsigned")


@pytest.mark.parametrize(
    ("later", "earlier"),
    [
        # KServe after cert-manager is ready and after Knative (kserve#1893, #2597, #3187).
        ("kserve", "cert-manager"),
        # The Prometheus operator's webhook certificate comes from cert-manager.
        ("kube-prometheus-stack", "cert-manager"),
        ("kserve", "KnativeServing/knative-serving"),
        ("kserve", "kserve-crd"),
        ("kserve-runtime-configs", "kserve"),
        # CRs after the releases that ship their CRDs (and webhooks).
        ("KnativeServing/knative-serving", "knative-operator"),
        ("KnativeServing/knative-serving", "istiod"),
        ("PeerAuthentication/default", "istio-base"),
        ("PeerAuthentication/default", "istiod"),
        ("ClusterIssuer/gpuplane-selfsigned", "cert-manager"),
        ("ServiceMonitor/istiod", "prometheus-operator-crds"),
        ("PodMonitor/istio-mesh", "prometheus-operator-crds"),
        # The operator's CRDs are their own release, installed first.
        ("kube-prometheus-stack", "prometheus-operator-crds"),
        # The gateway's pods are injected by istiod.
        ("istio-ingressgateway", "istiod"),
        ("istiod", "istio-base"),
    ],
)
def test_install_order_mirrors_real_dependencies(
    local_graph: ResourceGraph, later: str, earlier: str
) -> None:
    assert depends_on(local_graph, _find(local_graph, later), _find(local_graph, earlier))


@pytest.mark.parametrize(
    ("part", "independent_of"),
    [
        ("cert-manager", ("istio-base", "istiod", "knative-operator", "kube-prometheus-stack")),
        ("istio-base", ("cert-manager", "knative-operator", "kube-prometheus-stack")),
        ("knative-operator", ("istio-base", "cert-manager", "kube-prometheus-stack")),
        # It waits for cert-manager only: that issues the operator's webhook certificate.
        ("kube-prometheus-stack", ("istio-base", "knative-operator", "kserve")),
        ("kserve-crd", ("cert-manager", "istiod", "knative-operator")),
    ],
)
def test_independent_parts_install_in_parallel(
    local_graph: ResourceGraph, part: str, independent_of: tuple[str, ...]
) -> None:
    for other in independent_of:
        assert not depends_on(local_graph, _find(local_graph, part), _find(local_graph, other)), (
            other
        )


def _find(graph: ResourceGraph, ref: str) -> Resource:
    if "/" in ref:
        kind, name = ref.split("/")
        return custom_resource_named(graph, kind, name)
    return release_named(graph, ref)


# Which versions.py entry each release must come from, written out independently.
RELEASE_CHARTS = {
    "istio-base": "istio-base",
    "istio-cni": "istio-cni",
    "istiod": "istiod",
    "istio-ingressgateway": "istio-gateway",
    "cert-manager": "cert-manager",
    "knative-operator": "knative-operator",
    "kserve-crd": "kserve-crd",
    "kserve": "kserve",
    "kserve-runtime-configs": "kserve-runtime-configs",
    "kube-prometheus-stack": "kube-prometheus-stack",
    "prometheus-operator-crds": "prometheus-operator-crds",
    "dcgm-exporter": "dcgm-exporter",
    "nvidia-device-plugin": "nvidia-device-plugin",
}


def test_every_release_is_pinned_from_versions_py(local_graph: ResourceGraph) -> None:
    for resource in local_graph.by_type(RELEASE):
        chart = versions.CHARTS[RELEASE_CHARTS[resource.inputs["name"]]]
        assert resource.inputs["chart"] == chart.reference
        assert resource.inputs["version"] == chart.version
        if chart.is_oci:
            assert resource.inputs["chart"].startswith("oci://")
            assert "repositoryOpts" not in resource.inputs
        else:
            assert resource.inputs["repositoryOpts"]["repo"] == chart.repo
            assert chart.repo.startswith("https://")
        # Helm waits for readiness (no skip_await) with an explicit timeout.
        assert not resource.inputs.get("skipAwait", False)
        assert resource.inputs["timeout"] >= 300


def test_every_values_key_exists_upstream(local_graph: ResourceGraph) -> None:
    assert releases_missing_upstream(local_graph) == {}


def test_values_validate_against_upstream_schemas(local_graph: ResourceGraph) -> None:
    require_upstream()
    checked = 0
    for resource in local_graph.by_type(RELEASE):
        _, chart = chart_for_reference(resource.inputs["chart"], resource.inputs["version"])
        schema = values_schema(chart)
        if schema is not None:
            jsonschema.Draft7Validator(schema).validate(resource.inputs.get("values", {}))
            checked += 1
    assert checked >= 2  # istio gateway and cert-manager ship schemas


def test_commented_keys_are_documented_upstream() -> None:
    for key, entries in COMMENTED_KEYS.items():
        text = (chart_dir(versions.CHARTS[key]) / "values.yaml").read_text()
        for comment in entries.values():
            assert comment in text, (key, comment)


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("cert-manager", {"crds": {"enabled": True}}, {"crds": {"enabeld": True}}),
        ("istio-gateway", {"service": {"type": "NodePort"}}, {"service": {"typ": "NodePort"}}),
        (
            "kserve",
            {"kserve": {"controller": {"deploymentMode": "Knative"}}},
            {"kserve": {"mode": 1}},
        ),
    ],
)
def test_values_oracle_catches_a_misspelt_key(
    key: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    chart = versions.CHARTS[key]
    assert missing_upstream(key, chart, good) == []
    assert len(missing_upstream(key, chart, bad)) == 1


def test_every_custom_resource_validates_against_its_crd(local_graph: ResourceGraph) -> None:
    custom = [
        r
        for r in local_graph
        if r.custom
        and r.package == "kubernetes"
        and not r.is_provider
        and r.type != RELEASE
        and not r.type.startswith(CORE_PREFIXES)
    ]
    assert len(custom) >= 9
    for resource in custom:
        validate_custom_resource(k8s_object(resource))


def test_crd_oracle_refuses_unknown_and_mistyped_fields(local_graph: ResourceGraph) -> None:
    serving = k8s_object(custom_resource_named(local_graph, "KnativeServing", "knative-serving"))
    misspelt = copy.deepcopy(serving)
    misspelt["spec"]["ingres"] = misspelt["spec"].pop("ingress")
    with pytest.raises(jsonschema.ValidationError, match="ingres"):
        validate_custom_resource(misspelt)
    mistyped = copy.deepcopy(serving)
    mistyped["spec"]["config"]["defaults"]["container-concurrency"] = 8
    with pytest.raises(jsonschema.ValidationError):
        validate_custom_resource(mistyped)


def test_core_objects_validate_with_kubernetes_validate(local_graph: ResourceGraph) -> None:
    core = [r for r in local_graph if r.type.startswith(CORE_PREFIXES)]
    assert {r.type.split(":")[2] for r in core} >= {
        "Namespace",
        "Secret",
        "ServiceAccount",
        "NetworkPolicy",
        "MutatingAdmissionPolicy",
    }
    for resource in core:
        kubernetes_validate.validate(k8s_object(resource), "1.36", strict=True)


def test_nothing_lands_in_the_default_namespace(local_graph: ResourceGraph) -> None:
    for resource in kubernetes_objects(local_graph):
        if resource.type == RELEASE:
            assert resource.inputs["namespace"] not in ("", "default")
        else:
            assert resource.get("metadata.namespace") != "default", resource.urn


def test_namespaces_carry_pod_security_and_injection_labels(local_graph: ResourceGraph) -> None:
    labels = {
        r.get("metadata.name"): r.get("metadata.labels")
        for r in local_graph.by_type("kubernetes:core/v1:Namespace")
    }
    assert set(labels) == {
        "istio-system",
        "istio-cni",
        "cert-manager",
        "knative-operator",
        "knative-serving",
        "kserve",
        "models",
        "monitoring",
    }
    for name, ns_labels in labels.items():
        assert ns_labels["pod-security.kubernetes.io/warn"] == "restricted", name
        assert ns_labels["pod-security.kubernetes.io/audit"] == "restricted", name
    # istiod injects only where the label is absent or enabled: the gateway needs it.
    assert "istio-injection" not in labels["istio-system"]
    assert labels["knative-serving"]["istio-injection"] == "enabled"
    assert labels["models"]["istio-injection"] == "enabled"
    # Webhook servers the API server calls directly stay out of the mesh.
    assert labels["kserve"]["istio-injection"] == "disabled"
    assert labels["cert-manager"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["kserve"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # With the Istio CNI, injected pods need no NET_ADMIN: sidecar namespaces are
    # baseline, and the CNI node agent's namespace is the mesh's only privileged one.
    enforce = {n: ns["pod-security.kubernetes.io/enforce"] for n, ns in labels.items()}
    assert enforce["models"] == enforce["knative-serving"] == "baseline"
    mesh = {"istio-system", "istio-cni", "knative-serving", "models", "kserve"}
    assert {n for n in mesh if enforce[n] == "privileged"} == {"istio-cni"}


def test_restricted_namespaces_only_get_charts_that_set_seccomp(local_graph: ResourceGraph) -> None:
    """Pod Security `restricted` refuses pods without a seccomp profile."""
    enforce = {
        r.get("metadata.name"): r.get("metadata.labels")["pod-security.kubernetes.io/enforce"]
        for r in local_graph.by_type("kubernetes:core/v1:Namespace")
    }
    for resource in local_graph.by_type(RELEASE):
        if enforce[resource.inputs["namespace"]] != "restricted":
            continue
        _, chart = chart_for_reference(resource.inputs["chart"], resource.inputs["version"])
        defaults = (chart_dir(chart) / "values.yaml").read_text()
        # These two ship only CRDs and ClusterServingRuntimes: no pods.
        runs_no_pods = chart.chart in {"kserve-crd", "kserve-runtime-configs"}
        chart_sets_it = "RuntimeDefault" in defaults or runs_no_pods
        assert chart_sets_it, f"{resource.inputs['name']} sets no seccomp profile"


# Which release ships the CRDs of each API group the platform creates objects of.
CRD_RELEASES = {
    "cert-manager.io": "cert-manager",
    "security.istio.io": "istio-base",
    "networking.istio.io": "istio-base",
    "operator.knative.dev": "knative-operator",
    "serving.kserve.io": "kserve-crd",
    "monitoring.coreos.com": "prometheus-operator-crds",
}


def test_every_custom_resource_waits_for_its_crd(stack_graphs: dict[str, ResourceGraph]) -> None:
    for graph in stack_graphs.values():
        for resource in graph:
            if resource.package != "kubernetes" or resource.is_provider:
                continue
            group = resource.type.split(":")[1].split("/")[0]
            if group in CRD_RELEASES:
                crd_release = release_named(graph, CRD_RELEASES[group])
                assert depends_on(graph, resource, crd_release), resource.urn


def test_strict_mtls_is_mesh_wide(local_graph: ResourceGraph) -> None:
    policy = custom_resource_named(local_graph, "PeerAuthentication", "default")
    assert policy.get("metadata.namespace") == "istio-system"  # the root namespace
    assert "selector" not in policy.inputs["spec"]
    assert policy.get("spec.mtls.mode") == "STRICT"
    modes = {r.get("spec.mtls.mode") for r in local_graph if r.type.endswith(":PeerAuthentication")}
    assert modes == {"STRICT"}


def test_grafana_password_is_a_generated_secret(local_graph: ResourceGraph) -> None:
    password = local_graph.named("local-serving-monitoring-grafana-password")
    assert password.type == "random:index/randomPassword:RandomPassword"
    assert password.inputs["length"] >= 24
    secret = local_graph.named("local-serving-monitoring-grafana-admin")
    # The whole stringData is secret (it holds the generated password).
    assert secret.inputs["stringData"] == {SECRET: "[redacted]"}
    assert password.urn in secret.dependencies
    values = release_named(local_graph, "kube-prometheus-stack").inputs["values"]
    assert values["grafana"]["admin"]["existingSecret"] == secret.get("metadata.name")
    assert "adminPassword" not in values["grafana"]
    assert local_graph.outputs["grafanaAdminPassword"] == {SECRET: "[redacted]"}


def test_knative_is_tuned_for_gpu_serving(local_graph: ResourceGraph) -> None:
    serving = custom_resource_named(local_graph, "KnativeServing", "knative-serving")
    config = serving.get("spec.config")
    assert config["autoscaler"]["enable-scale-to-zero"] == "true"
    assert config["autoscaler"]["allow-zero-initial-scale"] == "true"
    assert config["autoscaler"]["initial-scale"] == "0"
    assert config["autoscaler"]["scale-down-delay"] == "10m"
    # Above Knative's 600 s default and a worst-case GPU cold start.
    assert int(config["deployment"]["progress-deadline"].removesuffix("s")) >= 1200
    assert config["defaults"]["revision-timeout-seconds"] == "600"
    assert int(config["defaults"]["max-revision-timeout-seconds"]) >= 600
    assert config["defaults"]["container-concurrency"] == "8"
    assert config["domain"] == {"example.com": ""}
    assert config["features"]["kubernetes.podspec-tolerations"] == "enabled"
    assert serving.get("spec.ingress.istio.enabled") is True
    assert serving.get("spec.ingress.istio.knative-ingress-gateway.selector") == {
        "istio": "ingressgateway"
    }
    assert serving.get("metadata.annotations")["pulumi.com/waitFor"] == "condition=Ready"


def test_kserve_runs_serverless_behind_the_istio_gateway(local_graph: ResourceGraph) -> None:
    values = release_named(local_graph, "kserve").inputs["values"]["kserve"]["controller"]
    assert values["deploymentMode"] == "Knative"
    assert (
        values["gateway"]["ingressGateway"]["gateway"] == "knative-serving/knative-ingress-gateway"
    )
    assert values["gateway"]["domain"] == "example.com"


@pytest.mark.parametrize("component", ["predictor", "transformer", "explainer"])
def test_inference_services_default_to_scale_to_zero(
    local_graph: ResourceGraph, component: str
) -> None:
    policy = local_graph.named(f"local-serving-kserve-{component}-min-replicas")
    spec = policy.inputs["spec"]
    assert spec["matchConstraints"]["resourceRules"][0]["resources"] == ["inferenceservices"]
    assert spec["matchConditions"][0]["expression"] == (
        f"has(object.spec.{component}) && !has(object.spec.{component}.minReplicas)"
    )
    assert spec["mutations"][0]["applyConfiguration"]["expression"] == (
        f"Object{{spec: Object.spec{{{component}: Object.spec.{component}{{minReplicas: 0}}}}}}"
    )
    binding = local_graph.named(f"local-serving-kserve-{component}-min-replicas-binding")
    assert binding.get("spec.policyName") == policy.get("metadata.name")
    assert depends_on(local_graph, policy, release_named(local_graph, "kserve-crd"))


def test_ingress_gateway_is_nodeport_on_kind(local_graph: ResourceGraph) -> None:
    values = release_named(local_graph, "istio-ingressgateway").inputs["values"]
    assert values["service"]["type"] == "NodePort"


def test_models_namespace_is_default_deny_with_platform_allowed(local_graph: ResourceGraph) -> None:
    deny = local_graph.named("local-serving-kserve-models-default-deny")
    assert deny.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = local_graph.named("local-serving-kserve-models-allow-platform")
    sources = allow.inputs["spec"]["ingress"][0]["from"]
    allowed = {
        s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for s in sources
        if "namespaceSelector" in s
    }
    assert allowed == {"istio-system", "knative-serving", "monitoring"}


def test_monitors_cover_knative_kserve_and_istio(local_graph: ResourceGraph) -> None:
    monitors = {
        r.get("metadata.name")
        for r in local_graph
        if r.type.endswith((":ServiceMonitor", ":PodMonitor"))
    }
    assert {
        "knative-controller",
        "knative-webhook",
        "kserve-controller",
        "istiod",
        "istio-mesh",
    } <= (monitors)
    serving = custom_resource_named(local_graph, "KnativeServing", "knative-serving")
    assert serving.get("spec.config.observability.metrics-protocol") == "prometheus"
    # In-mesh Knative pods are scraped through Istio's merged, plain-text endpoint.
    workloads = {w["name"]: w["annotations"] for w in serving.get("spec.workloads")}
    assert workloads["activator"]["prometheus.io/scrape"] == "true"
    assert workloads["webhook"]["sidecar.istio.io/inject"] == "false"
    assert workloads["autoscaler-hpa"]["sidecar.istio.io/inject"] == "false"
    skipped = serving.get("spec.config.deployment.registries-skipping-tag-resolving").split(",")
    assert {"kind.local", "ko.local", "dev.local"} <= set(skipped)  # Knative's own defaults


def _variant(**overrides: Any) -> dict[str, Any]:
    config = {
        "gpuplane:cloud": "existing",
        "gpuplane:existing": {"context": "kind-gpuplane"},
    }
    config.update({f"gpuplane:{k}": v for k, v in overrides.items()})
    return config


def test_monitoring_can_be_turned_off(plan_mapping: Any) -> None:
    graph = plan_mapping(_variant(serving={"monitoring": False}))
    assert [r for r in graph.by_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack"] == []
    assert not [r for r in graph if r.type.endswith((":ServiceMonitor", ":PodMonitor"))]
    assert "grafanaAdminPassword" not in graph.outputs


def test_acme_issuer_only_with_an_email(plan_mapping: Any, local_graph: ResourceGraph) -> None:
    assert not [r for r in local_graph if r.get("metadata.name") == "gpuplane-letsencrypt"]
    graph = plan_mapping(
        _variant(serving={"acmeEmail": "ops@example.com", "domain": "ml.example.org"})
    )
    acme = custom_resource_named(graph, "ClusterIssuer", "gpuplane-letsencrypt")
    assert acme.get("spec.acme.email") == "ops@example.com"
    assert acme.get("spec.acme.solvers") == [{"http01": {"ingress": {"class": "istio"}}}]
    assert depends_on(graph, acme, release_named(graph, "cert-manager"))
    serving = custom_resource_named(graph, "KnativeServing", "knative-serving")
    assert serving.get("spec.config.domain") == {"ml.example.org": ""}


def test_gpu_pools_get_a_runtime_that_tolerates_and_selects_them(plan_mapping: Any) -> None:
    graph = plan_mapping(
        _variant(gpuPools=[{"name": "l4", "labels": {"nvidia.com/gpu.product": "NVIDIA-L4"}}])
    )
    runtime = custom_resource_named(graph, "ClusterServingRuntime", "gpuplane-huggingface-gpu")
    assert any(t["key"] == GPU_RESOURCE for t in runtime.get("spec.tolerations"))
    terms = runtime.get("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")
    assert terms["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]}
    ]
    assert runtime.get("spec.containers")[0]["resources"]["limits"][GPU_RESOURCE] == "1"
    assert depends_on(graph, runtime, release_named(graph, "kserve"))
    validate_custom_resource(k8s_object(runtime))


def test_load_balancer_clusters_get_a_load_balancer_gateway(plan_mapping: Any) -> None:
    graph = plan_mapping(_variant(existing={"context": "eks", "loadBalancer": True}))
    assert (
        release_named(graph, "istio-ingressgateway").inputs["values"]["service"]["type"]
        == "LoadBalancer"
    )


def test_older_clusters_skip_the_admission_policy(plan_mapping: Any) -> None:
    graph = plan_mapping(_variant(cluster={"kubernetesVersion": "1.35"}))
    assert not [r for r in graph if r.type.endswith(":MutatingAdmissionPolicy")]
