"""The offline engine: realistic records, loud failures, fresh state on every run."""

import asyncio
import contextlib
import gc
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from gpuplane import engine
from gpuplane.engine import EngineError, run_program
from gpuplane.graph import SECRET, ResourceGraph
from gpuplane.stacks import Project, load_stack
from tests.helpers import EXISTING, kubernetes_objects

STACK_URN = "urn:pulumi:local::gpuplane::pulumi:pulumi:Stack::gpuplane-local"


def test_local_stack_plans_the_existing_cluster(local_graph: ResourceGraph) -> None:
    component = local_graph.named("local")
    provider = local_graph.named("local-k8s")
    assert component.type == "gpuplane:clusters:ExistingCluster"
    assert component.parent == STACK_URN
    assert provider.type == "pulumi:providers:kubernetes"
    assert provider.parent == component.urn
    assert provider.inputs["context"] == "kind-gpuplane"
    assert local_graph.outputs["cloud"] == "existing"
    assert local_graph.outputs["ingressServiceType"] == "NodePort"


def test_urns_are_the_real_engine_urns(local_graph: ResourceGraph) -> None:
    prefix = "urn:pulumi:local::gpuplane::"
    assert local_graph.named("local").urn == f"{prefix}gpuplane:clusters:ExistingCluster::local"
    assert (
        local_graph.named("local-k8s").urn
        == f"{prefix}gpuplane:clusters:ExistingCluster$pulumi:providers:kubernetes::local-k8s"
    )
    namespace = local_graph.named("local-serving-istio-ns")
    assert namespace.urn == (
        f"{prefix}gpuplane:serving:ServingStack$gpuplane:serving:Istio$"
        "kubernetes:core/v1:Namespace::local-serving-istio-ns"
    )


def test_two_plans_are_byte_identical(project: Project) -> None:
    stack = load_stack(project, "local")
    assert engine.plan(stack).dumps() == engine.plan(stack).dumps()


def test_a_second_run_sees_a_fresh_graph(plan_mapping: Any) -> None:
    with_pool = plan_mapping({**_ns(EXISTING), "gpuplane:gpuPools": [_existing_pool()]})
    without = plan_mapping(_ns(EXISTING))
    assert with_pool.outputs["gpuPools"] == ["l4"]
    assert without.outputs["gpuPools"] == []
    runtime = "kubernetes:serving.kserve.io/v1alpha1:ClusterServingRuntime"
    assert len(with_pool.by_type(runtime)) == 1
    assert without.by_type(runtime) == []
    # The GPU runtime, dcgm-exporter, its ServiceMonitor and the GPU fleet dashboard.
    assert len(with_pool) == len(without) + 4


def test_every_kubernetes_resource_has_the_explicit_provider(
    stack_graphs: dict[str, ResourceGraph],
) -> None:
    for graph in stack_graphs.values():
        for resource in kubernetes_objects(graph):
            assert resource.provider in graph.resources, resource.urn
            assert graph.get(resource.provider).type == "pulumi:providers:kubernetes"


def test_outputs_that_grant_access_are_secrets(plan_mapping: Any) -> None:
    kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\n"
    graph = plan_mapping(
        {
            **_ns(EXISTING),
            "gpuplane:existing": {"context": "ci", "kubeconfig": kubeconfig},
        }
    )
    assert graph.outputs["kubeconfig"] == {SECRET: engine.REDACTED}
    assert graph.named("gpuplane-k8s").inputs["kubeconfig"] == {SECRET: engine.REDACTED}
    assert kubeconfig not in graph.dumps()


def test_no_stack_exports_access_in_plain_text(stack_graphs: dict[str, ResourceGraph]) -> None:
    for graph in stack_graphs.values():
        for key, value in graph.outputs.items():
            if any(word in key.lower() for word in ("kubeconfig", "password", "token", "key")):
                assert value == {SECRET: engine.REDACTED}, (graph.stack, key)


def test_unknown_invoke_fails_loudly() -> None:
    def program() -> None:
        pulumi.runtime.invoke("gpuplane:test/nothing:nothing", {})

    with pytest.raises(Exception, match="no offline mock"):
        run_program(program, project="gpuplane", stack="t")


def test_swallowed_unknown_invoke_still_fails_the_run() -> None:
    def program() -> None:
        with contextlib.suppress(Exception):
            pulumi.runtime.invoke("gpuplane:test/nothing:nothing", {})

    with pytest.raises(EngineError, match="gpuplane:test/nothing:nothing"):
        run_program(program, project="gpuplane", stack="t")


def test_default_kubernetes_provider_is_refused() -> None:
    def program() -> None:
        k8s.core.v1.Namespace("stray")

    with pytest.raises(EngineError, match="default kubernetes provider"):
        run_program(program, project="gpuplane", stack="t")


def test_duplicate_names_are_refused() -> None:
    def program() -> None:
        provider = k8s.Provider("p", context="c")
        opts = pulumi.ResourceOptions(provider=provider)
        k8s.core.v1.Namespace("same", opts=opts)
        k8s.core.v1.Namespace("same", opts=opts)

    with pytest.raises(Exception, match=r"[Dd]uplicate"):
        run_program(program, project="gpuplane", stack="t")


def test_dependencies_and_options_are_recorded() -> None:
    def program() -> None:
        provider = k8s.Provider("p", context="c")
        first = k8s.core.v1.Namespace("first", opts=pulumi.ResourceOptions(provider=provider))
        k8s.core.v1.Namespace(
            "second",
            metadata={"labels": {"after": first.metadata.name}},
            opts=pulumi.ResourceOptions(
                provider=provider, protect=True, ignore_changes=["metadata.annotations"]
            ),
        )

    graph = run_program(program, project="gpuplane", stack="t")
    first, second = graph.named("first"), graph.named("second")
    assert first.urn in second.dependencies
    assert second.property_dependencies["metadata"] == (first.urn,)
    assert second.protect is True and first.protect is False
    assert second.ignore_changes == ("metadata.annotations",)
    assert second.inputs["metadata"]["labels"]["after"].startswith("first-")
    assert second.provider == graph.named("p").urn


def test_config_errors_come_before_any_registration(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gpuplane.components.config import ConfigError
    from gpuplane.stacks import stack_from_mapping

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the program ran despite a config error")

    monkeypatch.setattr(engine, "run_program", never)
    stack = stack_from_mapping(project, "bad", {"gpuplane:cloud": "existing"})
    with pytest.raises(ConfigError, match="gpuplane:existing"):
        engine.plan(stack)


def _ns(raw: dict[str, Any]) -> dict[str, Any]:
    return {f"gpuplane:{k}": v for k, v in raw.items()}


def _existing_pool() -> dict[str, Any]:
    return {"name": "l4", "labels": {"nvidia.com/gpu.product": "NVIDIA-L4"}}


def test_invokes_on_a_disabled_default_provider_are_refused() -> None:
    from gpuplane import mocks

    def program() -> None:
        pulumi.runtime.invoke("kubernetes:helm:template", {})

    # Known to the mocks, so only the missing provider is at fault.
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(
            mocks.INVOKES, "kubernetes:helm:template", lambda args, region: {"result": []}
        )
        with pytest.raises(EngineError, match="invoke kubernetes:helm:template uses the default"):
            run_program(program, project="gpuplane", stack="t")


def test_custom_timeouts_and_deleted_with_are_recorded() -> None:
    def program() -> None:
        provider = k8s.Provider("p", context="c")
        ns = k8s.core.v1.Namespace("ns", opts=pulumi.ResourceOptions(provider=provider))
        k8s.core.v1.ConfigMap(
            "cm",
            metadata={"namespace": "x"},
            opts=pulumi.ResourceOptions(
                provider=provider,
                custom_timeouts=pulumi.CustomTimeouts(create="30m"),
                deleted_with=ns,
            ),
        )

    graph = run_program(program, project="gpuplane", stack="t")
    config_map = graph.named("cm")
    assert config_map.custom_timeouts == {"create": "30m"}
    assert config_map.deleted_with == graph.named("ns").urn
    assert graph.named("ns").custom_timeouts == {}


def test_the_programs_own_error_is_kept_behind_a_missing_mock() -> None:
    def program() -> None:
        pulumi.runtime.invoke("gpuplane:test/nothing:nothing", {})

    with pytest.raises(EngineError) as caught:
        run_program(program, project="gpuplane", stack="t")
    assert caught.value.__cause__ is not None


def _open_event_loops() -> set[int]:
    return {
        id(obj)
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.BaseEventLoop) and not obj.is_closed()
    }


def test_a_plan_leaves_no_event_loop_open(project: Project) -> None:
    """The mock monitor's worker threads each make an event loop; the engine closes them
    (open, each holds a socket pair until interpreter shutdown, which then complains)."""
    before = _open_event_loops()
    engine.plan(load_stack(project, "local"))
    assert _open_event_loops() - before == set()
