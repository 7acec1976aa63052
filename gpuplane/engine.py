"""The offline engine: runs the program in-process under Pulumi mocks and records
every registration into a ResourceGraph.

It enforces what the real engine would refuse and mocks cannot see: a default
provider Pulumi.yaml disables, a duplicate URN, an invoke with no mock.
"""

import asyncio
import contextlib
import runpy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_in_stack

from gpuplane.components.config import load_config
from gpuplane.graph import ASSET, RESOURCE_REF, SECRET, UNKNOWN, Resource, ResourceGraph
from gpuplane.mocks import DEFAULT_REGION, OfflineMocks
from gpuplane.stacks import StackConfig

_SIG = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET_SIGS = ("c44067f5952c0a294b673a41bacd8c17", "0def7320c3a5731c473e5ecbe6d01bc7")
_OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[redacted]"


class EngineError(RuntimeError):
    """The program did something the real Pulumi engine would refuse."""


def graph_value(value: Any) -> Any:
    """A wire value as the graph records it: secrets redacted, references by URN."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [graph_value(v) for v in value]
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    if not isinstance(value, dict):
        return value
    sig = value.get(_SIG)
    if sig == _SECRET_SIG:
        return {SECRET: REDACTED}
    if sig == _RESOURCE_SIG:
        return {RESOURCE_REF: value.get("urn")}
    if sig in _ASSET_SIGS:
        return {ASSET: value.get("path") or value.get("uri") or "<inline>"}
    if sig == _OUTPUT_VALUE_SIG:
        if value.get("secret"):
            return {SECRET: REDACTED}
        return graph_value(value["value"]) if "value" in value else UNKNOWN
    return {k: graph_value(v) for k, v in sorted(value.items())}


def _struct(message: Any) -> dict[str, Any]:
    return graph_value(json_format.MessageToDict(message)) if message is not None else {}


def _timeouts(request: Any) -> dict[str, str]:
    if not request.HasField("customTimeouts"):
        return {}
    timeouts = request.customTimeouts
    found = {"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete}
    return {key: value for key, value in found.items() if value}


def _provider_urn(reference: str) -> str | None:
    """`urn:...::name::id` -> `urn:...::name`."""
    return reference.rsplit("::", 1)[0] if reference else None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that keeps the raw registration requests as graph resources."""

    def __init__(
        self,
        mocks: OfflineMocks,
        disabled_default_providers: Iterable[str],
        *,
        project: str,
        stack: str,
    ) -> None:
        super().__init__(mocks)
        self.project, self.stack = project, stack
        self.disabled = set(disabled_default_providers)
        self.recorded: dict[str, Resource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.errors: list[str] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the real engine: a child's type is qualified by its parent's whole
        # qualified type; top-level resources are not qualified by the stack's.
        if parent and "::pulumi:pulumi:Stack::" not in parent:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        urn = response.urn
        if urn in self.recorded:
            self.errors.append(f"duplicate resource URN {urn}: every child name must be unique")
        resource = Resource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            remote=request.remote,
            parent=request.parent or None,
            provider=_provider_urn(request.provider),
            dependencies=tuple(sorted(set(request.dependencies))),
            property_dependencies={
                key: tuple(sorted(set(deps.urns)))
                for key, deps in sorted(request.propertyDependencies.items())
                if deps.urns
            },
            inputs=_struct(request.object),
            protect=request.protect,
            ignore_changes=tuple(request.ignoreChanges),
            delete_before_replace=request.deleteBeforeReplace,
            retain_on_delete=request.retainOnDelete,
            replace_on_changes=tuple(request.replaceOnChanges),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            custom_timeouts=_timeouts(request),
            deleted_with=request.deletedWith or None,
        )
        if (
            resource.custom
            and not resource.is_provider
            and not resource.provider
            and resource.package in self.disabled
        ):
            self.errors.append(
                f"{urn} uses the default {resource.package} provider, which Pulumi.yaml "
                "disables (pulumi:disable-default-providers): pass the cluster's provider"
            )
        self.recorded[urn] = resource
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = _struct(request.outputs)
        return super().RegisterResourceOutputs(request)


Program = Callable[[], None]


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """The SDK walks and converts the whole Python stack at every registration, for the
    source position the real engine shows; the graph records none, so skip the walk
    (about a seventh of an AWS stack's planning)."""
    saved = getattr(runtime_resource, "_get_stack_trace", None)
    if saved is None:  # another SDK version: nothing to skip
        yield
        return
    runtime_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        runtime_resource._get_stack_trace = saved


class _LoopsKept(asyncio.DefaultEventLoopPolicy):
    """The default policy, keeping every loop it makes: the mock monitor's worker
    threads each make one (Pulumi's sync-await) and leave it open."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[asyncio.AbstractEventLoop] = []

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        self.made.append(loop)
        return loop


@contextlib.contextmanager
def _closing_worker_loops() -> Iterator[None]:
    """Close the event loops made meanwhile once the program's threads are done: open,
    they hold a socket pair each until the interpreter's shutdown, where their
    destructors print "Invalid file descriptor"."""
    saved = asyncio.get_event_loop_policy()
    policy = _LoopsKept()
    asyncio.set_event_loop_policy(policy)
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(saved)
        for made in policy.made:
            if not made.is_closed() and not made.is_running():
                made.close()


def run_program(
    program: Program,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str] | None = None,
    secret_keys: Iterable[str] = (),
    disabled_default_providers: Iterable[str] = ("kubernetes",),
) -> ResourceGraph:
    """Run `program` under mocks as stack `stack` and return what it registered."""
    disabled_default_providers = tuple(disabled_default_providers)
    config = dict(config or {})
    region = str(
        config.get("aws:region")
        or config.get("gcp:region")
        or config.get("azure-native:location")
        or DEFAULT_REGION
    )
    mocks = OfflineMocks(disabled_default_providers, region=region)
    monitor = RecordingMonitor(mocks, disabled_default_providers, project=project, stack=stack)
    with _closing_worker_loops():
        return _run(program, mocks, monitor, project, stack, config, secret_keys)


def _run(
    program: Program,
    mocks: OfflineMocks,
    monitor: RecordingMonitor,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: Iterable[str],
) -> ResourceGraph:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        runtime_settings.reset_options(project=project, stack=stack, preview=False)
        runtime_config.set_all_config(config, list(secret_keys))
        pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        # set_mocks registers a bare root stack; run the program in a fresh one, as
        # the Python language host does, so its exports reach the stack outputs.
        runtime_settings.ROOT.set(None)
        with _no_source_positions():
            loop.run_until_complete(run_in_stack(program))
    except Exception as exc:
        if not mocks.unknown_invokes:
            raise
        # The missing mock is the cause to report; keep what the program raised too.
        failure: Exception | None = exc
    else:
        failure = None
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
        runtime_config.set_all_config({}, [])
        runtime_settings.reset_options()
    if mocks.unknown_invokes:
        raise EngineError(
            "invokes with no offline mock: "
            + ", ".join(sorted(set(mocks.unknown_invokes)))
            + " (add them to gpuplane/mocks.py INVOKES)"
        ) from failure
    errors = monitor.errors + mocks.errors
    if errors:
        raise EngineError("; ".join(errors))
    # In URN order, as the graph JSON is: registrations arrive in whatever order the
    # program's outputs resolve, and every reader (check, cost, diff) then sees one order.
    recorded = {urn: monitor.recorded[urn] for urn in sorted(monitor.recorded)}
    return ResourceGraph(
        project=project, stack=stack, resources=recorded, outputs=monitor.stack_outputs
    )


def plan(stack: StackConfig) -> ResourceGraph:
    """Run the project's own __main__.py for a stack, offline.

    The config is validated first, so a ConfigError comes before any registration.
    """
    load_config(stack.values)
    main = stack.project_dir / "__main__.py"
    return run_program(
        lambda: runpy.run_path(str(main), run_name="__main__"),
        project=stack.project,
        stack=stack.name,
        config=stack.values,
        secret_keys=stack.secret_keys,
        disabled_default_providers=stack.disabled_default_providers,
    )
