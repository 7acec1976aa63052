"""Building blocks every serving part uses: namespaces and pinned Helm releases."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.versions import CHARTS

PodSecurity = Literal["privileged", "baseline", "restricted"]

# Helm waits this long for a release's resources to be ready (seconds). Explicit,
# because chart defaults (5 min) are too short for CRD-heavy charts on a cold cluster.
DEFAULT_TIMEOUT = 600


def namespace(
    resource_name: str,
    name: str,
    *,
    pod_security: PodSecurity,
    injection: bool | None,
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.core.v1.Namespace:
    """A namespace created explicitly, with Pod Security and sidecar-injection labels.

    Pod Security enforces `pod_security` and always warns and audits at
    `restricted`, so anything looser is visible. `injection` None leaves the
    `istio-injection` label off, so pods opt in one by one (Istio's gateways).
    """
    labels = {
        "app.kubernetes.io/managed-by": "gpuplane",
        "pod-security.kubernetes.io/enforce": pod_security,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    if injection is not None:
        labels["istio-injection"] = "enabled" if injection else "disabled"
    return k8s.core.v1.Namespace(
        resource_name,
        metadata={"name": name, "labels": labels},
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )


def release(
    resource_name: str,
    *,
    chart: str,
    release_name: str,
    namespace: k8s.core.v1.Namespace | str,
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource] = (),
    timeout: int = DEFAULT_TIMEOUT,
    skip_crds: bool = False,
    postrender: str | None = None,
) -> k8s.helm.v3.Release:
    """A Helm release pinned to the exact version in versions.py, waiting for readiness.

    `skip_await` stays off and jobs are awaited, so anything that depends on the
    release starts only once its webhooks and controllers are up. `namespace` is
    a Namespace the release waits for, or the name of one that always exists
    (kube-system). `skip_crds` is for charts whose CRDs come from their own release;
    `postrender` is the path of a Helm post-renderer for what values cannot reach.
    """
    pinned = CHARTS[chart]
    after = [namespace] if isinstance(namespace, k8s.core.v1.Namespace) else []
    namespace_name = namespace if isinstance(namespace, str) else namespace.metadata["name"]
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=pinned.reference,
        version=pinned.version,
        repository_opts=None if pinned.is_oci else {"repo": pinned.repo},
        namespace=namespace_name,
        values=dict(values),
        skip_crds=skip_crds,
        timeout=timeout,
        postrender=postrender,
        wait_for_jobs=True,
        atomic=True,
        cleanup_on_fail=True,
        max_history=5,
        opts=pulumi.ResourceOptions(
            parent=parent, provider=provider, depends_on=[*after, *depends_on]
        ),
    )


def custom_resource(
    resource_name: str,
    *,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    parent: pulumi.Resource,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    wait_for_ready: bool = False,
    labels: Mapping[str, str] | None = None,
) -> k8s.apiextensions.CustomResource:
    """A custom resource created after the releases that ship its CRD and webhooks."""
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"app.kubernetes.io/managed-by": "gpuplane", **(labels or {})},
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    if wait_for_ready:
        # pulumi-kubernetes waits for this condition before dependents start.
        metadata["annotations"] = {"pulumi.com/waitFor": "condition=Ready"}
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=api_version,
        kind=kind,
        metadata=metadata,
        spec=dict(spec),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )
