"""KServe's models ServiceAccount carries the cluster's workload identity."""

import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import WorkloadIdentity
from gpuplane.components.serving.kserve import MODELS_SERVICE_ACCOUNT, KServe, KServeArgs
from gpuplane.engine import run_program


def test_models_service_account_gets_the_cloud_identity() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", context="eks")
        KServe(
            "kserve",
            KServeArgs(
                provider=provider,
                domain="example.com",
                after=(),
                workload_identity=WorkloadIdentity(
                    service_account_annotations={
                        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/models"
                    },
                ),
            ),
        )

    graph = run_program(program, project="gpuplane", stack="t")
    account = graph.named("kserve-models-sa")
    assert account.get("metadata.name") == MODELS_SERVICE_ACCOUNT
    assert account.get("metadata.namespace") == "models"
    assert account.get("metadata.annotations") == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/models"
    }
    assert account.get("metadata.labels") == {"app.kubernetes.io/managed-by": "gpuplane"}
    assert account.inputs["automountServiceAccountToken"] is False


def test_without_identity_the_account_has_no_cloud_annotations() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", context="kind")
        KServe("kserve", KServeArgs(provider=provider, domain="example.com", after=()))

    graph = run_program(program, project="gpuplane", stack="t")
    assert graph.named("kserve-models-sa").get("metadata.annotations") == {}
