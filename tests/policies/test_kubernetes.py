"""Kubernetes rules: one violating and one compliant case each, message checked."""

import copy
from typing import Any

import pytest

from tests.policies.harness import (
    Mutation,
    add_resource,
    assert_reports,
    delete_input,
    messages,
    remove_resources,
    set_input,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
RUNTIME = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

SAFE_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "ghcr.io/kserve/app:v1.2.3",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "resources": {"limits": {"memory": "1Gi"}},
}


def deployment(
    container: dict[str, Any] | None = None,
    *,
    namespace: str | None = "apps",
    **pod: Any,
) -> tuple[str, dict[str, Any]]:
    spec = {"containers": [container or copy.deepcopy(SAFE_CONTAINER)], **pod}
    metadata: dict[str, Any] = {"name": "web"}
    if namespace is not None:
        metadata["namespace"] = namespace
    return DEPLOYMENT, {"metadata": metadata, "spec": {"template": {"spec": spec}}}


def container(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SAFE_CONTAINER)
    for key, value in changes.items():
        if key == "security":
            out["securityContext"].update(value)
        else:
            out[key] = value
    return out


def isvc(predictor: dict[str, Any], namespace: str = "models") -> tuple[str, dict[str, Any]]:
    return ISVC, {
        "metadata": {"name": "m", "namespace": namespace},
        "spec": {"predictor": predictor},
    }


def test_safe_deployment_passes_every_workload_rule() -> None:
    for rule in [f"GP-K8S-{n:03d}" for n in range(1, 15)]:
        assert messages(rule, deployment()) == [], rule


@pytest.mark.parametrize(
    ("rule", "bad", "fragment"),
    [
        ("GP-K8S-001", deployment(container(security={"privileged": True})), "runs privileged"),
        ("GP-K8S-002", deployment(hostNetwork=True), "sets hostNetwork: true"),
        ("GP-K8S-002", deployment(hostPID=True), "sets hostPID: true"),
        (
            "GP-K8S-003",
            deployment(volumes=[{"name": "h", "hostPath": {"path": "/var/run"}}]),
            "mounts hostPath '/var/run'",
        ),
        (
            "GP-K8S-004",
            deployment(container(ports=[{"containerPort": 80, "hostPort": 80}])),
            "binds hostPort 80",
        ),
        (
            "GP-K8S-005",
            deployment(container(security={"allowPrivilegeEscalation": True})),
            "does not set allowPrivilegeEscalation: false",
        ),
        (
            "GP-K8S-006",
            deployment(container(security={"runAsNonRoot": False})),
            "may run as root",
        ),
        (
            "GP-K8S-007",
            deployment(container(security={"capabilities": {"add": ["SYS_ADMIN"]}})),
            "does not drop ALL capabilities",
        ),
        (
            "GP-K8S-007",
            deployment(
                container(security={"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}})
            ),
            "adds capabilities NET_ADMIN",
        ),
        (
            "GP-K8S-008",
            deployment(container(security={"seccompProfile": {"type": "Unconfined"}})),
            "seccomp profile Unconfined",
        ),
        ("GP-K8S-009", deployment(container(resources={})), "has no memory limit"),
        (
            "GP-K8S-010",
            deployment(tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]),
            "tolerates the GPU taint but no container has a nvidia.com/gpu limit",
        ),
        (
            "GP-K8S-010",
            deployment(
                container(
                    resources={
                        "requests": {"nvidia.com/gpu": "2"},
                        "limits": {"nvidia.com/gpu": "1", "memory": "1Gi"},
                    }
                )
            ),
            "requests 2 GPU(s) but limits 1",
        ),
        ("GP-K8S-011", deployment(container(image="ghcr.io/kserve/app")), "has no tag"),
        ("GP-K8S-011", deployment(container(image="nginx:latest")), "uses the latest tag"),
        (
            "GP-K8S-012",
            deployment(container(image="evil.example.com/miner:1.0")),
            "is not from an allowed registry",
        ),
        (
            "GP-K8S-013",
            isvc({"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "ftp://x/m"}}),
            "reads its model from 'ftp://x/m'",
        ),
        ("GP-K8S-014", deployment(namespace=None), "runs in the default namespace"),
        ("GP-K8S-014", deployment(namespace="default"), "runs in the default namespace"),
    ],
)
def test_workload_rule_reports_the_problem(
    rule: str, bad: tuple[str, dict[str, Any]], fragment: str
) -> None:
    assert_reports(rule, bad, fragment)


def test_pod_specs_are_found_in_every_workload_kind() -> None:
    pod = {"containers": [container(security={"privileged": True})]}
    template = {"template": {"spec": pod}}
    kinds = {
        "kubernetes:apps/v1:StatefulSet": {"spec": template},
        "kubernetes:apps/v1:DaemonSet": {"spec": template},
        "kubernetes:batch/v1:Job": {"spec": template},
        "kubernetes:batch/v1:CronJob": {"spec": {"jobTemplate": {"spec": template}}},
        "kubernetes:core/v1:Pod": {"spec": pod},
        "kubernetes:serving.knative.dev/v1:Service": {"spec": template},
        RUNTIME: {"spec": pod},
        ISVC: {"spec": {"predictor": pod}},
    }
    for kind, inputs in kinds.items():
        inputs = {"metadata": {"name": "x", "namespace": "apps"}, **inputs}
        assert messages("GP-K8S-001", (kind, inputs)), kind


def test_kserve_model_container_is_checked() -> None:
    model = {"modelFormat": {"name": "huggingface"}, "image": "nginx:latest"}
    assert any(
        "model image 'nginx:latest'" in m for m in messages("GP-K8S-011", isvc({"model": model}))
    )


def test_exempt_namespaces_come_from_config() -> None:
    host = deployment(namespace="monitoring", hostNetwork=True)
    assert messages("GP-K8S-002", host) == []  # a platform namespace by default
    config = {"k8s-no-host-namespaces": {"exemptNamespaces": []}}
    assert messages("GP-K8S-002", host, config=config)


def test_allowed_registries_and_model_prefixes_come_from_config() -> None:
    image = deployment(container(image="registry.example.com/app:1.0"))
    assert messages("GP-K8S-012", image)
    config = {"k8s-allowed-registries": {"allowedRegistries": ["registry.example.com/"]}}
    assert messages("GP-K8S-012", image, config=config) == []
    model = isvc({"model": {"storageUri": "s3://other-bucket/m"}})
    assert messages("GP-K8S-013", model) == []
    config = {"kserve-allowed-model-storage": {"allowedModelPrefixes": ["s3://models/"]}}
    assert messages("GP-K8S-013", model, config=config)


def test_service_account_token_namespace_label_and_cluster_admin() -> None:
    account = "kubernetes:core/v1:ServiceAccount"
    meta = {"metadata": {"name": "a", "namespace": "apps"}}
    assert "mounts its API token" in messages("GP-K8S-015", (account, meta))[0]
    assert messages("GP-K8S-015", (account, {**meta, "automountServiceAccountToken": False})) == []
    assert (
        "no pod-security.kubernetes.io/enforce"
        in messages("GP-K8S-016", (NAMESPACE, {"metadata": {"name": "apps"}}))[0]
    )
    labelled = {
        "metadata": {"name": "apps", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}
    }
    assert messages("GP-K8S-016", (NAMESPACE, labelled)) == []
    binding = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
    bad = {
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:authenticated"}],
    }
    assert (
        "binds cluster-admin to Group system:authenticated"
        in messages("GP-K8S-017", (binding, bad))[0]
    )
    good = {**bad, "subjects": [{"kind": "Group", "name": "platform-admins"}]}
    assert messages("GP-K8S-017", (binding, good)) == []


def test_default_deny_covers_every_workload_namespace() -> None:
    ns = (NAMESPACE, "ns", {"metadata": {"name": "apps"}})
    deny = (
        NETPOL,
        "deny",
        {
            "metadata": {"name": "deny", "namespace": "apps"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        },
    )
    assert messages("GP-K8S-018", ns) == [
        "[GP-K8S-018] namespace apps has no default-deny ingress NetworkPolicy"
    ]
    assert messages("GP-K8S-018", ns, deny) == []
    # A policy that lets traffic in is not a default deny.
    allow = copy.deepcopy(deny)
    allow[2]["spec"]["ingress"] = [{"from": [{"podSelector": {}}]}]
    assert messages("GP-K8S-018", ns, allow)
    # Workloads put namespaces in scope too, and platform namespaces are exempt.
    assert messages("GP-K8S-018", deployment(namespace="shop"))
    assert messages("GP-K8S-018", deployment(namespace="monitoring")) == []


def test_unknown_values_are_advisory_not_a_crash() -> None:
    from tests.policies.harness import violations

    unknown = deployment(container(security={"privileged": "@unknown"}))
    [found] = violations("GP-K8S-001", unknown)
    assert found.level == "advisory"
    assert "cannot be known during preview" in found.message


def _gpu(request: Any, limit: Any) -> tuple[str, dict[str, Any]]:
    resources = {"requests": {"nvidia.com/gpu": request}, "limits": {"memory": "1Gi"}}
    if limit is not None:
        resources["limits"]["nvidia.com/gpu"] = limit
    return deployment(container(resources=resources))


@pytest.mark.parametrize(
    ("request_", "limit"),
    [(1, "1"), ("1", 1), (1, 1.0), ("1", "1"), (2, "2"), ("1000m", 1)],
)
def test_gpu_requests_equal_to_limits_compare_as_quantities(request_: Any, limit: Any) -> None:
    # CrossGuard hands 1 over as 1.0; a quantity written as a string is the same amount.
    assert messages("GP-K8S-010", _gpu(request_, limit)) == []


def test_gpu_request_other_than_limit_prints_whole_numbers() -> None:
    assert messages("GP-K8S-010", _gpu(2, "1")) == [
        "[GP-K8S-010] spec.template.spec containers[0] app requests 2 GPU(s) but limits 1"
    ]
    assert messages("GP-K8S-010", _gpu(1, None)) == [
        "[GP-K8S-010] spec.template.spec containers[0] app requests 1 GPU(s) but limits none"
    ]


def test_numbers_print_as_written_not_as_crossguard_floats() -> None:
    [message] = messages("GP-K8S-004", deployment(container(ports=[{"hostPort": 8080}])))
    assert message.endswith("binds hostPort 8080")


@pytest.mark.parametrize(
    ("pod", "security", "fragment"),
    [
        # Pod Security admission refuses a pod-level false even when containers say true.
        ({"runAsNonRoot": False}, {}, "sets runAsNonRoot: false for the pod"),
        ({"runAsUser": 0}, {}, "runs the pod as root (securityContext.runAsUser: 0)"),
        ({}, {"runAsUser": 0}, "app runs as root (securityContext.runAsUser: 0)"),
    ],
)
def test_run_as_non_root_follows_pod_security_admission(
    pod: dict[str, Any], security: dict[str, Any], fragment: str
) -> None:
    bad = deployment(container(security=security), securityContext=pod)
    assert_reports("GP-K8S-006", bad, fragment)


def test_run_as_non_root_accepts_the_pod_level_setting_and_non_zero_users() -> None:
    inherited = container()
    del inherited["securityContext"]["runAsNonRoot"]
    ok = deployment(inherited, securityContext={"runAsNonRoot": True, "runAsUser": 1000})
    assert messages("GP-K8S-006", ok) == []
    assert messages("GP-K8S-006", deployment(container(security={"runAsUser": 65532}))) == []


def test_drop_all_is_case_sensitive_like_pod_security_admission() -> None:
    lower = deployment(container(security={"capabilities": {"drop": ["all"]}}))
    assert_reports("GP-K8S-007", lower, "does not drop ALL capabilities")


@pytest.mark.parametrize(
    "image",
    ["gcr.io/attacker/evil:1", "quay.io/attacker/evil:1", "public.ecr.aws/attacker/evil:1"],
)
def test_registries_are_narrowed_to_the_platform_orgs(image: str) -> None:
    assert_reports("GP-K8S-012", deployment(container(image=image)), "not from an allowed registry")


@pytest.mark.parametrize(
    "image",
    [
        "gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.21.3",
        "quay.io/prometheus/node-exporter:v1.9.1",
        "public.ecr.aws/karpenter/controller:1.14.1",
        "docker.io/istio/proxyv2:1.27.9",
        "kserve/huggingfaceserver:v0.20.0-gpu",
    ],
)
def test_platform_images_come_from_allowed_registries(image: str) -> None:
    assert messages("GP-K8S-012", deployment(container(image=image))) == []


def test_model_storage_rule_tells_users_to_set_their_own_bucket() -> None:
    from gpuplane.policies.catalogue import by_name

    rule = by_name()["kserve-allowed-model-storage"]
    assert "allowedModelPrefixes" in rule.remediation and "own" in rule.remediation
    assert "allowedModelPrefixes" in rule.description


def _denies(spec: Any, namespace: Any = "apps") -> bool:
    ns = (NAMESPACE, "ns", {"metadata": {"name": "apps"}})
    policy = (NETPOL, "p", {"metadata": {"name": "p", "namespace": namespace}, "spec": spec})
    return messages("GP-K8S-018", ns, policy) == []


def test_default_deny_without_policy_types_defaults_to_ingress() -> None:
    # Kubernetes fills in policyTypes: [Ingress] (plus Egress with egress rules).
    assert _denies({"podSelector": {}})
    assert _denies({"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}]})
    assert not _denies({"podSelector": {}, "policyTypes": ["Egress"]})
    assert not _denies({"podSelector": {}, "ingress": [{}]})
    assert not _denies({"podSelector": {"matchLabels": {"app": "x"}}})


def test_explicit_nulls_are_absent_values_not_a_crash() -> None:
    # K8S-016: labels null is no label.
    null_labels = (NAMESPACE, {"metadata": {"name": "apps", "labels": None}})
    assert "no pod-security.kubernetes.io/enforce" in messages("GP-K8S-016", null_labels)[0]
    # K8S-018: a null spec is the API server's zero spec: podSelector {} and
    # policyTypes [Ingress], a default deny; nulls elsewhere mean absent too.
    assert _denies(None)
    assert _denies({"podSelector": None, "policyTypes": None, "ingress": None})
    assert not _denies(None, namespace=None)  # metadata.namespace null: `default`
    # Workloads with null metadata or specs neither crash nor hide a namespace.
    assert messages("GP-K8S-018", (DEPLOYMENT, {"metadata": None, "spec": None})) == [
        "[GP-K8S-018] namespace default has no default-deny ingress NetworkPolicy"
    ]
    assert messages("GP-K8S-001", (DEPLOYMENT, {"metadata": None, "spec": None})) == []


_RUNTIME_CONTAINER = "spec.containers.0.securityContext"

# rule -> (shipped stack, mutation that breaks exactly that rule)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-K8S-001": ("aws-dev", set_input(RUNTIME, f"{_RUNTIME_CONTAINER}.privileged", True)),
    "GP-K8S-002": ("aws-dev", set_input(RUNTIME, "spec.hostNetwork", True)),
    "GP-K8S-003": (
        "aws-dev",
        set_input(RUNTIME, "spec.volumes", [{"name": "h", "hostPath": {"path": "/"}}]),
    ),
    "GP-K8S-004": (
        "aws-dev",
        set_input(RUNTIME, "spec.containers.0.ports", [{"containerPort": 8080, "hostPort": 8080}]),
    ),
    "GP-K8S-005": (
        "aws-dev",
        set_input(RUNTIME, f"{_RUNTIME_CONTAINER}.allowPrivilegeEscalation", True),
    ),
    "GP-K8S-006": ("aws-dev", delete_input(RUNTIME, f"{_RUNTIME_CONTAINER}.runAsNonRoot")),
    "GP-K8S-007": ("aws-dev", delete_input(RUNTIME, f"{_RUNTIME_CONTAINER}.capabilities")),
    "GP-K8S-008": ("aws-dev", delete_input(RUNTIME, f"{_RUNTIME_CONTAINER}.seccompProfile")),
    "GP-K8S-009": ("aws-dev", delete_input(RUNTIME, "spec.containers.0.resources.limits.memory")),
    "GP-K8S-010": (
        "aws-dev",
        delete_input(RUNTIME, "spec.containers.0.resources.limits.nvidia\\.com/gpu"),
    ),
    "GP-K8S-011": (
        "aws-dev",
        set_input(RUNTIME, "spec.containers.0.image", "kserve/huggingfaceserver"),
    ),
    "GP-K8S-012": (
        "aws-dev",
        set_input(RUNTIME, "spec.containers.0.image", "evil.example.com/miner:1.0"),
    ),
    "GP-K8S-013": (
        "local",
        add_resource(
            ISVC,
            "ftp-model",
            {
                "metadata": {"name": "m", "namespace": "models"},
                # Otherwise a compliant model container, so only the storage rule fires.
                "spec": {
                    "predictor": {
                        "model": {
                            **{k: v for k, v in SAFE_CONTAINER.items() if k != "image"},
                            "modelFormat": {"name": "sklearn"},
                            "storageUri": "ftp://example.com/m",
                        }
                    }
                },
            },
        ),
    ),
    "GP-K8S-014": (
        "local",
        add_resource(
            DEPLOYMENT,
            "in-default",
            {
                "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [SAFE_CONTAINER]}}},
            },
        ),
    ),
    "GP-K8S-015": (
        "local",
        set_input("kubernetes:core/v1:ServiceAccount", "automountServiceAccountToken", True),
    ),
    "GP-K8S-016": (
        "local",
        delete_input(
            NAMESPACE, "metadata.labels.pod-security\\.kubernetes\\.io/enforce", every=True
        ),
    ),
    "GP-K8S-017": (
        "local",
        add_resource(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
            "open",
            {
                "metadata": {"name": "open"},
                "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "Group", "name": "system:unauthenticated"}],
            },
        ),
    ),
    "GP-K8S-018": (
        "local",
        remove_resources(
            NETPOL, lambda r: r["inputs"]["metadata"]["name"] == "default-deny-ingress"
        ),
    ),
}
