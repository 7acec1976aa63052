"""`gpuplane smoke`: serve one InferenceService on a live cluster and time its cold start.

The only gpuplane command that talks to a cluster. Through the official `kubernetes`
client (the `smoke` extra; imported here only) it creates an InferenceService, waits
until KServe reports it Ready, sends it a request through the Istio ingress gateway,
and reads back from pod status and Events when each phase of the cold start ended:
pod created, node provisioned (when one was), pod scheduled, image pulls, model
download (KServe's storage initializer), model load, first response. Optionally it
then waits for scale to zero and reports the idle tail (pods gone, node gone). It
always deletes what it created, also on Ctrl-C and SIGTERM.

Times are the cluster's (object timestamps, Events, the gateway's `Date` header),
in whole seconds since the InferenceService was created; the budget is checked
against the cold start measured that way.
"""

import contextlib
import json
import os
import secrets
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

ISVC_GROUP, ISVC_VERSION, ISVC_PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
ISVC_LABEL = "serving.kserve.io/inferenceservice"
GATEWAY_NAMESPACE, GATEWAY_SERVICE = "istio-system", "istio-ingressgateway"
STORAGE_INITIALIZER = "storage-initializer"
MODEL_CONTAINER = "kserve-container"
# Annotations a manifest may carry to say how smoke should call it; `{name}` is the
# InferenceService's name.
REQUEST_PATH_ANNOTATION = "gpuplane.io/smoke-path"
REQUEST_BODY_ANNOTATION = "gpuplane.io/smoke-body"
# Marks the object this run created, so cleanup never deletes anyone else's.
RUN_ANNOTATION = "gpuplane.io/smoke-run"
DEFAULT_REQUEST_PATH = "/v1/models/{name}"
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
CLEANUP_SECONDS = 120.0
API_TIMEOUT = 15.0

EXIT_SERVED, EXIT_NOT_SERVED, EXIT_BAD_INPUT = 0, 1, 2


class SmokeInputError(Exception):
    """Bad input or no cluster: nothing was created (exit 2)."""


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM."""


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# -- the cluster ---------------------------------------------------------------------


class Kube:
    """The few API calls smoke makes, as plain JSON dicts (camelCase, as the API sends)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self.host = api_client.configuration.host
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._version = client.VersionApi(api_client)
        self._exception = client.exceptions.ApiException

    def _call(self, fn: Callable[..., Any], *args: Any, missing_ok: bool = False, **kw: Any) -> Any:
        import urllib3

        try:
            response = fn(*args, _preload_content=False, _request_timeout=API_TIMEOUT, **kw)
        except self._exception as exc:
            if missing_ok and exc.status == 404:
                return None
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ConnectionError(f"cannot reach the cluster at {self.host}: {exc}") from None
        return json.loads(response.data or b"{}")

    def version(self) -> dict[str, Any]:
        return self._call(self._version.get_code)

    def namespace(self, name: str) -> dict[str, Any] | None:
        return self._call(self._core.read_namespace, name, missing_ok=True)

    def create_isvc(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            self._custom.create_namespaced_custom_object,
            ISVC_GROUP,
            ISVC_VERSION,
            namespace,
            ISVC_PLURAL,
            body,
        )

    def get_isvc(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._call(
            self._custom.get_namespaced_custom_object,
            ISVC_GROUP,
            ISVC_VERSION,
            namespace,
            ISVC_PLURAL,
            name,
            missing_ok=True,
        )

    def delete_isvc(self, namespace: str, name: str) -> None:
        self._call(
            self._custom.delete_namespaced_custom_object,
            ISVC_GROUP,
            ISVC_VERSION,
            namespace,
            ISVC_PLURAL,
            name,
            missing_ok=True,
        )

    def pods(self, namespace: str, isvc: str) -> list[dict[str, Any]]:
        data = self._call(
            self._core.list_namespaced_pod, namespace, label_selector=f"{ISVC_LABEL}={isvc}"
        )
        return list(data.get("items") or [])

    def events(self, namespace: str) -> list[dict[str, Any]]:
        return list(self._call(self._core.list_namespaced_event, namespace).get("items") or [])

    def node(self, name: str) -> dict[str, Any] | None:
        return self._call(self._core.read_node, name, missing_ok=True)

    def service(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._call(self._core.read_namespaced_service, name, namespace, missing_ok=True)


def connect(kubeconfig: str | None, context: str | None) -> Kube:
    """A client from a kubeconfig file (default: $KUBECONFIG, ~/.kube/config) and context."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise SmokeInputError(
            "gpuplane smoke needs the kubernetes client: pip install 'gpuplane[smoke]'"
        ) from None
    configuration = client.Configuration()
    # $KUBECONFIG as it is now (the client reads it once, at its own import).
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    except config.ConfigException as exc:
        where = kubeconfig or "the default kubeconfig"
        raise SmokeInputError(f"{where}: {exc}") from None
    except OSError as exc:
        raise SmokeInputError(f"cannot read kubeconfig {kubeconfig}: {exc.strerror}") from None
    configuration.retries = 0  # fail fast when there is no cluster
    return Kube(client.ApiClient(configuration))


# -- what was observed -----------------------------------------------------------------


def parse_time(value: Any) -> float | None:
    """An RFC 3339 timestamp as epoch seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def _ready_at(obj: Mapping[str, Any]) -> float | None:
    cond = _condition(obj, "Ready")
    if cond and cond.get("status") == "True":
        return parse_time(cond.get("lastTransitionTime"))
    return None


def _event_time(event: Mapping[str, Any]) -> float | None:
    for key in ("eventTime", "firstTimestamp", "lastTimestamp"):
        if (t := parse_time(event.get(key))) is not None:
            return t
    return parse_time((event.get("metadata") or {}).get("creationTimestamp"))


def _container_of(event: Mapping[str, Any]) -> str | None:
    """`spec.containers{kserve-container}` -> `kserve-container`."""
    path = str((event.get("involvedObject") or {}).get("fieldPath") or "")
    if "{" in path and path.endswith("}"):
        return path[path.index("{") + 1 : -1]
    return None


def _statuses(pod: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            yield cs.get("name", "?"), cs


@dataclass
class Phase:
    name: str
    start: float | None
    """Seconds since the InferenceService was created."""
    end: float | None
    detail: str = ""
    failed: bool = False

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "seconds": self.seconds,
            "detail": self.detail,
            "failed": self.failed,
        }


def failure(pods: list[dict[str, Any]], events: list[dict[str, Any]]) -> str | None:
    """Why the model cannot come up, read from pod status: a failed pull, a crash loop."""
    for pod in pods:
        for name, cs in _statuses(pod):
            waiting = (cs.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in PULL_FAILURES and reason != "ErrImagePull":
                message = waiting.get("message") or _last_message(events, pod, name, "Failed")
                return f"image pull failed for {name} ({reason}): {message}"
            if reason == "CrashLoopBackOff":
                what = "model download" if name == STORAGE_INITIALIZER else f"container {name}"
                last = (cs.get("lastState") or {}).get("terminated") or {}
                why = last.get("message") or last.get("reason") or waiting.get("message") or ""
                return f"{what} keeps failing (CrashLoopBackOff): {why}".rstrip(": ")
    return None


def _last_message(
    events: list[dict[str, Any]], pod: Mapping[str, Any], container: str, reason: str
) -> str:
    name = (pod.get("metadata") or {}).get("name")
    found = [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("name") == name
        and e.get("reason") == reason
        and _container_of(e) in (container, None)
    ]
    return str(found[-1].get("message", "")) if found else ""


def phases(
    *,
    t0: float,
    pod: Mapping[str, Any] | None,
    events: list[dict[str, Any]],
    node: Mapping[str, Any] | None,
    first_response: float | None,
    isvc_ready: float | None,
) -> list[Phase]:
    """The cold start's phases, from the first model pod, its Events and its node."""

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 3)

    out: list[Phase] = []
    if isvc_ready is not None:
        out.append(Phase("InferenceService Ready", 0.0, rel(isvc_ready), "KServe condition"))
    if pod is None:
        return out
    meta = pod.get("metadata") or {}
    pod_name = meta.get("name")
    created = parse_time(meta.get("creationTimestamp"))
    mine = sorted(
        (e for e in events if (e.get("involvedObject") or {}).get("name") == pod_name),
        key=lambda e: _event_time(e) or 0.0,
    )
    out.append(Phase("pod created", rel(created), rel(created), str(pod_name)))

    scheduled_cond = _condition(pod, "PodScheduled")
    scheduled = (
        parse_time(scheduled_cond.get("lastTransitionTime"))
        if scheduled_cond and scheduled_cond.get("status") == "True"
        else None
    )
    waiting_detail = next(
        (str(e.get("message", "")) for e in mine if e.get("reason") == "FailedScheduling"), ""
    )
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node is not None:
        node_meta = node.get("metadata") or {}
        node_created = parse_time(node_meta.get("creationTimestamp"))
        if node_created is not None and node_created >= t0:
            labels = node_meta.get("labels") or {}
            kind = labels.get("node.kubernetes.io/instance-type", "")
            trigger = next(
                (
                    f"{e.get('reason')}: {e.get('message', '')}"
                    for e in mine
                    if e.get("reason") in ("TriggeredScaleUp", "Nominated")
                ),
                waiting_detail,
            )
            out.append(
                Phase(
                    "node provisioned",
                    rel(created),
                    rel(_ready_at(node) or node_created),
                    f"{node_name} {kind} ({trigger})".replace(" ()", "").strip(),
                )
            )
    if scheduled is not None:
        out.append(Phase("pod scheduled", rel(created), rel(scheduled), str(node_name or "")))

    statuses = dict(_statuses(pod))
    order = [n for n, _ in _statuses(pod)] or [STORAGE_INITIALIZER, MODEL_CONTAINER]
    for container in order:
        if container == "istio-proxy" or container == "istio-init":
            continue
        pulling = next(
            (
                _event_time(e)
                for e in mine
                if e.get("reason") == "Pulling" and _container_of(e) == container
            ),
            None,
        )
        pulled_event = next(
            (e for e in mine if e.get("reason") == "Pulled" and _container_of(e) == container),
            None,
        )
        waiting = ((statuses.get(container) or {}).get("state") or {}).get("waiting") or {}
        if pulled_event is not None:
            end = _event_time(pulled_event)
            message = str(pulled_event.get("message", ""))
            cached = "already present" in message
            out.append(
                Phase(
                    f"image pulled ({container})",
                    rel(end if cached else (pulling or end)),
                    rel(end),
                    "already on the node" if cached else message,
                )
            )
        elif pulling is not None:
            failed = waiting.get("reason") in PULL_FAILURES
            out.append(
                Phase(
                    f"image pull ({container})",
                    rel(pulling),
                    None,
                    str(waiting.get("message") or "still pulling"),
                    failed=failed,
                )
            )
        state = (statuses.get(container) or {}).get("state") or {}
        if container == STORAGE_INITIALIZER:
            done = state.get("terminated") or {}
            if done:
                out.append(
                    Phase(
                        "model downloaded",
                        rel(parse_time(done.get("startedAt"))),
                        rel(parse_time(done.get("finishedAt"))),
                        "from the storage URI (storage initializer)",
                        failed=done.get("exitCode") not in (0, None),
                    )
                )
        elif container == MODEL_CONTAINER:
            running = state.get("running") or {}
            started = parse_time(running.get("startedAt"))
            if started is not None:
                pod_ready = _ready_at(pod)
                out.append(
                    Phase(
                        "model loaded",
                        rel(started),
                        rel(pod_ready),
                        "server start to pod Ready" if pod_ready else "not Ready yet",
                    )
                )
    if first_response is not None:
        out.append(
            Phase(
                "first response",
                rel(_ready_at(pod) or isvc_ready),
                rel(first_response),
                "through the ingress gateway",
            )
        )
    return out


# -- the run -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SmokeOptions:
    manifest: dict[str, Any]
    """The InferenceService to create."""
    namespace: str = "models"
    budget: float = 600.0
    gateway: str | None = None
    """http(s)://host[:port] of the ingress gateway; default: the istio-ingressgateway
    Service's load balancer address."""
    request_path: str | None = None
    request_body: str | None = None
    scale_to_zero: bool = False
    idle_timeout: float = 1800.0
    poll: float = 2.0


@dataclass
class SmokeResult:
    name: str
    namespace: str
    budget: float
    served: bool = False
    cold_start: float | None = None
    status: int | None = None
    phases: list[Phase] = field(default_factory=list)
    failure: str | None = None
    interrupted: bool = False
    idle_tail: dict[str, float | None] | None = None
    cleaned_up: bool = False
    cleanup_detail: str = ""

    @property
    def within_budget(self) -> bool:
        return self.served and self.cold_start is not None and self.cold_start <= self.budget

    @property
    def exit_code(self) -> int:
        return EXIT_SERVED if self.within_budget and self.cleaned_up else EXIT_NOT_SERVED

    def to_json(self) -> dict[str, Any]:
        return {
            "inferenceService": self.name,
            "namespace": self.namespace,
            "served": self.served,
            "withinBudget": self.within_budget,
            "coldStartSeconds": self.cold_start,
            "budgetSeconds": self.budget,
            "status": self.status,
            "phases": [p.to_json() for p in self.phases],
            "failure": self.failure,
            "interrupted": self.interrupted,
            "idleTail": self.idle_tail,
            "cleanedUp": self.cleaned_up,
            "cleanup": self.cleanup_detail,
            "exitCode": self.exit_code,
        }


def _request_of(opts: SmokeOptions, name: str) -> tuple[str, bytes | None]:
    annotations = (opts.manifest.get("metadata") or {}).get("annotations") or {}
    path = opts.request_path or annotations.get(REQUEST_PATH_ANNOTATION) or DEFAULT_REQUEST_PATH
    body = opts.request_body
    if body is None:
        body = annotations.get(REQUEST_BODY_ANNOTATION)
    path = path.replace("{name}", name)
    if not path.startswith("/"):
        raise SmokeInputError(f"request path must start with '/', given {path!r}")
    if body is None:
        return path, None
    body = body.replace("{name}", name)
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        raise SmokeInputError(f"request body is not JSON ({exc.msg}): {body[:80]!r}") from None
    return path, body.encode()


def _gateway(kube: Kube, opts: SmokeOptions) -> str:
    if opts.gateway:
        parts = urlsplit(opts.gateway)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SmokeInputError(f"--gateway: want http(s)://host[:port], given {opts.gateway!r}")
        return opts.gateway.rstrip("/")
    service = kube.service(GATEWAY_NAMESPACE, GATEWAY_SERVICE)
    if service is None:
        raise SmokeInputError(
            f"no Service {GATEWAY_NAMESPACE}/{GATEWAY_SERVICE}: is the platform deployed here?"
        )
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = next((i.get("ip") or i.get("hostname") for i in ingress if i), None)
    if not address:
        raise SmokeInputError(
            "the ingress gateway has no load balancer address (kind: NodePort): run "
            "`kubectl -n istio-system port-forward svc/istio-ingressgateway 8080:80` "
            "and pass --gateway http://localhost:8080"
        )
    ports = (service.get("spec") or {}).get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == "http2"), 80)
    return f"http://{address}:{port}"


class _Requester(threading.Thread):
    """Calls the model until it answers 2xx (the activator holds a request to a model
    at zero until a pod is Ready), or until stopped."""

    def __init__(self, url: str, host: str, body: bytes | None, timeout: float) -> None:
        super().__init__(daemon=True, name="gpuplane-smoke-request")
        self.url, self.host, self.body, self.timeout = url, host, body, timeout
        self.stop = threading.Event()
        self.done = threading.Event()
        self.status: int | None = None
        self.date: float | None = None
        self.error = ""

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self._once():
                    return
                self.stop.wait(2.0)
        finally:
            self.done.set()

    def _once(self) -> bool:
        request = urllib.request.Request(
            self.url,
            data=self.body,
            method="POST" if self.body is not None else "GET",
            headers={"Host": self.host, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                self.status, headers = response.status, response.headers
        except urllib.error.HTTPError as exc:
            self.status, self.error = exc.code, f"HTTP {exc.code}"
            return False
        except (urllib.error.URLError, OSError) as exc:
            self.error = str(getattr(exc, "reason", exc))
            return False
        with contextlib.suppress(TypeError, ValueError):
            self.date = parsedate_to_datetime(headers.get("Date", "")).timestamp()
        return True


class _Smoke:
    def __init__(self, kube: Kube, opts: SmokeOptions, clock: Clock) -> None:
        self.kube, self.opts, self.clock = kube, opts, clock
        meta = opts.manifest.get("metadata") or {}
        self.name = str(meta.get("name"))
        self.ns = opts.namespace
        self.result = SmokeResult(self.name, self.ns, opts.budget)
        self.pods: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.t0 = 0.0
        self.offset = 0.0  # server time minus local time
        self.isvc_ready: float | None = None
        self.node: dict[str, Any] | None = None
        self.created = False
        self.attempted = False
        self.token = secrets.token_hex(6)

    # local clock -> cluster clock
    def server_now(self) -> float:
        return self.clock.now() + self.offset

    def observe(self) -> None:
        for pod in self.kube.pods(self.ns, self.name):
            self.pods[(pod.get("metadata") or {}).get("name", "?")] = pod
        self.events = self.kube.events(self.ns)
        # The first pod's node, kept until Ready (it may be gone after scale to zero).
        node_name = ((self.first_pod() or {}).get("spec") or {}).get("nodeName")
        if node_name and (self.node is None or _ready_at(self.node) is None):
            self.node = self.kube.node(node_name) or self.node

    def first_pod(self) -> dict[str, Any] | None:
        pods = sorted(
            self.pods.values(),
            key=lambda p: parse_time((p.get("metadata") or {}).get("creationTimestamp")) or 0.0,
        )
        return pods[0] if pods else None

    def check_failure(self) -> None:
        why = failure(list(self.pods.values()), self.events)
        if why:
            raise _Failed(why)

    def run(self) -> None:
        opts = self.opts
        path, body = _request_of(opts, self.name)
        gateway = _gateway(self.kube, opts)
        meta = {**opts.manifest["metadata"], "namespace": self.ns}
        meta["annotations"] = {**(meta.get("annotations") or {}), RUN_ANNOTATION: self.token}
        manifest = {**opts.manifest, "metadata": meta}
        before = self.clock.now()
        self.attempted = True  # from here on, cleanup looks for our object
        try:
            created = self.kube.create_isvc(self.ns, manifest)
        except ConnectionError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status == 409:
                raise SmokeInputError(
                    f"InferenceService {self.ns}/{self.name} already exists; smoke only "
                    "deletes what it creates: pick another name"
                ) from None
            if status == 404:
                raise SmokeInputError(
                    "the cluster does not serve serving.kserve.io/v1beta1 InferenceServices "
                    f"in namespace {self.ns}: is KServe installed?"
                ) from None
            if status in (400, 422):
                reason = _api_message(exc)
                raise SmokeInputError(f"the API server refused the manifest: {reason}") from None
            raise _Failed(
                f"creating the InferenceService failed (HTTP {status}): {_api_message(exc)}"
            ) from None
        self.created = True
        server_created = parse_time((created.get("metadata") or {}).get("creationTimestamp"))
        self.t0 = server_created if server_created is not None else before
        self.offset = self.t0 - before
        deadline = before + opts.budget

        # 1. Ready (with initial scale 0 this comes before any pod exists).
        while True:
            isvc = self.kube.get_isvc(self.ns, self.name) or {}
            self.observe()
            self.check_failure()
            self.isvc_ready = _ready_at(isvc)
            if self.isvc_ready is not None:
                break
            if self.clock.now() >= deadline:
                cond = _condition(isvc, "Ready") or {}
                why = cond.get("message") or cond.get("reason") or "no condition yet"
                raise _Failed(f"not Ready within the budget: {why}")
            self.clock.sleep(opts.poll)
        url = str((isvc.get("status") or {}).get("url") or "")
        host = urlsplit(url).netloc or f"{self.name}-{self.ns}.example.com"

        # 2. The first request, watched: it is what brings a model at zero up.
        requester = _Requester(gateway + path, host, body, timeout=max(opts.budget, 1.0))
        requester.start()
        try:
            while not requester.done.is_set():
                self.observe()
                self.check_failure()
                if self.clock.now() >= deadline:
                    why = requester.error or "no answer yet"
                    raise _Failed(f"no response within the budget ({why})")
                self.clock.sleep(opts.poll)
        finally:
            requester.stop.set()
        self.observe()
        self.result.served = True
        self.result.status = requester.status
        answered = requester.date if requester.date is not None else self.server_now()
        self.result.cold_start = round(answered - self.t0, 3)
        self.answered = answered

        # 3. Optionally, the idle tail.
        if opts.scale_to_zero:
            self.idle_tail(answered)

    def idle_tail(self, answered: float) -> None:
        pod = self.first_pod()
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        node = self.kube.node(node_name) if node_name else None
        new_node = bool(
            node
            and (parse_time((node.get("metadata") or {}).get("creationTimestamp")) or 0) >= self.t0
        )
        tail: dict[str, float | None] = {"podsGoneAfter": None, "nodeGoneAfter": None}
        self.result.idle_tail = tail
        stop = self.clock.now() + self.opts.idle_timeout
        while self.clock.now() < stop:
            if tail["podsGoneAfter"] is None and not self.kube.pods(self.ns, self.name):
                tail["podsGoneAfter"] = round(self.server_now() - answered, 3)
            if new_node and tail["nodeGoneAfter"] is None and self.kube.node(node_name) is None:
                tail["nodeGoneAfter"] = round(self.server_now() - answered, 3)
            if tail["podsGoneAfter"] is not None and (not new_node or tail["nodeGoneAfter"]):
                return
            self.clock.sleep(self.opts.poll)

    def finish_phases(self) -> None:
        pod = self.first_pod()
        node = self.node
        if node is None or _ready_at(node) is None:
            node_name = ((pod or {}).get("spec") or {}).get("nodeName")
            with contextlib.suppress(Exception):
                node = (self.kube.node(node_name) if node_name else None) or node
        first = self.t0 + self.result.cold_start if self.result.cold_start is not None else None
        self.result.phases = phases(
            t0=self.t0,
            pod=pod,
            events=self.events,
            node=node,
            first_response=first,
            isvc_ready=self.isvc_ready,
        )

    def cleanup_if_ours(self) -> None:
        """The create call failed or was cut short: delete the object only if this run made
        it (its run annotation), else there is nothing of ours to delete."""
        try:
            found = self.kube.get_isvc(self.ns, self.name)
        except Exception as exc:
            self.result.cleanup_detail = (
                f"could not check for InferenceService {self.ns}/{self.name} ({exc}); "
                f"if `kubectl -n {self.ns} get isvc {self.name}` shows annotation "
                f"{RUN_ANNOTATION}={self.token}, delete it"
            )
            return
        annotations = ((found or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get(RUN_ANNOTATION) == self.token:
            self.cleanup()
            return
        self.result.cleaned_up = True
        self.result.cleanup_detail = "nothing was created"

    def cleanup(self) -> None:
        """Delete the InferenceService and wait (bounded) until the API no longer has it."""
        try:
            self.kube.delete_isvc(self.ns, self.name)
            stop = self.clock.now() + CLEANUP_SECONDS
            while self.kube.get_isvc(self.ns, self.name) is not None:
                if self.clock.now() >= stop:
                    self.result.cleanup_detail = (
                        f"deletion requested, still present after {CLEANUP_SECONDS:.0f}s: "
                        f"check `kubectl -n {self.ns} get isvc {self.name}`"
                    )
                    return
                self.clock.sleep(1.0)
        except Exception as exc:  # report, never raise out of cleanup
            self.result.cleanup_detail = (
                f"could not delete InferenceService {self.ns}/{self.name} ({exc}); delete it "
                f"with `kubectl -n {self.ns} delete isvc {self.name}`"
            )
            return
        self.result.cleaned_up = True
        self.result.cleanup_detail = f"InferenceService {self.ns}/{self.name} deleted"


class _Failed(Exception):
    """The model did not come up; the message says what was seen."""


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    with contextlib.suppress(TypeError, ValueError):
        return str(json.loads(body).get("message", body))
    return str(body or exc)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise in the main thread (where cleanup runs), if we are on it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise _Interrupted(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """While cleaning up, a second Ctrl-C must not leave the resource behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def preflight(kube: Kube, namespace: str) -> None:
    """A reachable cluster with the namespace: else SmokeInputError, nothing created."""
    try:
        kube.version()
        found = kube.namespace(namespace)
    except ConnectionError as exc:
        raise SmokeInputError(str(exc)) from None
    except Exception as exc:
        status = getattr(exc, "status", None)
        raise SmokeInputError(
            f"the cluster at {kube.host} refused the request (HTTP {status}): {_api_message(exc)}"
        ) from None
    if found is None:
        raise SmokeInputError(
            f"namespace {namespace!r} not found on {kube.host}: is the platform deployed here?"
        )


def smoke(kube: Kube, opts: SmokeOptions, clock: Clock | None = None) -> SmokeResult:
    """Create, wait, call, time, (idle,) clean up. Raises SmokeInputError before creating
    anything when the input or the cluster is unusable."""
    clock = clock or RealClock()
    preflight(kube, opts.namespace)
    run = _Smoke(kube, opts, clock)
    with _signals_raise():
        try:
            run.run()
        except (_Interrupted, KeyboardInterrupt) as exc:
            run.result.interrupted = True
            run.result.failure = f"interrupted ({exc or 'SIGINT'})"
        except _Failed as exc:
            run.result.failure = str(exc)
        except ConnectionError as exc:
            if not run.created:
                raise SmokeInputError(str(exc)) from None
            run.result.failure = str(exc)
        finally:
            with _signals_ignored():
                if run.created:
                    run.finish_phases()
                    run.cleanup()
                elif run.attempted:
                    run.cleanup_if_ours()
    return run.result


# -- reports -------------------------------------------------------------------------------


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    value = round(value)
    return f"{value // 60}m{value % 60:02d}s" if value >= 60 else f"{value}s"


def _verdict(result: SmokeResult) -> str:
    if result.within_budget:
        return f"served in {_secs(result.cold_start)} (budget {_secs(result.budget)}): PASS"
    if result.served:
        return f"served in {_secs(result.cold_start)}, over the {_secs(result.budget)} budget: FAIL"
    return f"not served: {result.failure}: FAIL"


def text(result: SmokeResult) -> str:
    lines = [f"gpuplane smoke {result.namespace}/{result.name}: {_verdict(result)}"]
    if result.phases:
        lines.append(f"  {'phase':<36} {'from':>7} {'to':>7} {'takes':>7}  detail")
        for p in result.phases:
            mark = " FAILED" if p.failed else ""
            lines.append(
                f"  {p.name:<36} {_secs(p.start):>7} {_secs(p.end):>7} "
                f"{_secs(p.seconds):>7}  {p.detail}{mark}"
            )
    if result.idle_tail is not None:
        tail = result.idle_tail
        lines.append(
            f"idle tail after the response: pods gone {_secs(tail['podsGoneAfter'])}, "
            f"new node gone {_secs(tail['nodeGoneAfter'])}"
        )
    lines.append(f"cleanup: {result.cleanup_detail}")
    return "\n".join(lines) + "\n"


def markdown(result: SmokeResult) -> str:
    lines = [
        f"### gpuplane smoke: `{result.namespace}/{result.name}`",
        "",
        _verdict(result),
        "",
        "| phase | from | to | takes | detail |",
        "|---|---:|---:|---:|---|",
    ]
    for p in result.phases:
        detail = p.detail.replace("|", "\\|") + (" **failed**" if p.failed else "")
        lines.append(
            f"| {p.name} | {_secs(p.start)} | {_secs(p.end)} | {_secs(p.seconds)} | {detail} |"
        )
    if result.idle_tail is not None:
        tail = result.idle_tail
        lines += [
            "",
            f"Idle tail: pods gone after {_secs(tail['podsGoneAfter'])}, "
            f"new node gone after {_secs(tail['nodeGoneAfter'])}.",
        ]
    lines += ["", f"Cleanup: {result.cleanup_detail}."]
    return "\n".join(lines) + "\n"
