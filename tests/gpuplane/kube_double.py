"""A small Kubernetes API double for `gpuplane smoke`: loopback only, bounded, self-stopping.

It serves the few endpoints smoke calls (version, namespace, InferenceService create /
get / delete, pods by label, events, nodes, the ingress gateway Service) and the
model behind the gateway, and replays a scenario: a timeline of what a cluster shows
when an InferenceService comes up (pod created, FailedScheduling, a node provisioned,
image pulls, the storage initializer, the model server, Ready), in the shapes the real
API uses (core/v1 Events with fieldPath, pod conditions and container states).

Time comes from a clock shared with smoke: `FakeClock` runs a cold start of minutes
in well under a second and makes every timestamp exact; `RealClock` is for the tests
that run smoke as a separate process and send it signals.
"""

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

EPOCH = 1_800_000_000.0  # 2027-01-15T08:00:00Z, a whole second
MAX_LIFETIME = 60.0  # real seconds; the server stops itself after this
HOLD_LIMIT = 20.0  # real seconds a held gateway request may wait


class FakeClock:
    """Virtual time: sleep() advances it at once (and yields a little real time so the
    double's threads keep up). `interrupt_at` raises KeyboardInterrupt once, as Ctrl-C."""

    def __init__(self, start: float = EPOCH, interrupt_at: float | None = None) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.interrupt_at = interrupt_at
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self.slept += seconds
            due = self.interrupt_at is not None and self._now >= self.interrupt_at
            if due:
                self.interrupt_at = None
        time.sleep(0.002)
        if due:
            raise KeyboardInterrupt


class RealClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def stamp(t: float) -> str:
    """RFC 3339 at whole seconds, as the API server writes object timestamps."""
    return datetime.fromtimestamp(math.floor(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Scenario:
    """Offsets in seconds from the trigger: the first request through the gateway when the
    model scales from zero, else the InferenceService's creation. None: never happens."""

    name: str
    isvc_ready: float | None = 3.0
    """From creation (initial scale 0: Ready before any pod)."""
    isvc_not_ready_message: str = ""
    from_zero: bool = True
    pod_created: float = 1.0
    failed_scheduling: float | None = 1.0
    nominated: float | None = 2.0
    node_created: float | None = 5.0
    node_ready: float | None = 85.0
    scheduled: float = 86.0
    init_pulling: float | None = 87.0
    init_pulled: float | None = 97.0
    init_started: float | None = 98.0
    init_finished: float | None = 158.0
    main_pulling: float = 159.0
    main_pulled: float | None = 271.0
    main_pull_failed: float | None = None
    main_started: float | None = 272.0
    pod_ready: float | None = 302.0
    response: float | None = 303.0
    pods_gone: float | None = 943.0
    """After the response: scale-down delay 10m + grace 30s + termination."""
    node_gone: float | None = 1003.0
    create_fails: str | None = None
    """`after-storing`: the API stores the object, then the client sees HTTP 500 (a
    proxy, a timeout); `before-storing`: HTTP 500 and nothing stored."""
    delete_lag: int = 1
    """GETs that still find the InferenceService after DELETE (finalizers)."""
    instance_type: str = "g6.xlarge"
    image: str = "kserve/huggingfaceserver:v0.20.0-gpu"


def cold_start_from_zero() -> Scenario:
    return Scenario("cold start from zero")


def warm_node() -> Scenario:
    """A GPU node already up, the image already on it: no node, no pull."""
    return Scenario(
        "warm node",
        failed_scheduling=None,
        nominated=None,
        node_created=None,
        node_ready=None,
        scheduled=1.0,
        init_pulling=None,
        init_pulled=2.0,
        init_started=3.0,
        init_finished=30.0,
        main_pulling=31.0,
        main_pulled=31.0,
        main_started=32.0,
        pod_ready=52.0,
        response=53.0,
    )


def failing_pull() -> Scenario:
    return Scenario(
        "failing pull",
        main_pulled=None,
        main_pull_failed=170.0,
        main_started=None,
        pod_ready=None,
        response=None,
        image="kserve/huggingfaceserver:v0.20.0-gpu-typo",
    )


def never_ready() -> Scenario:
    """minReplicas 1: the pod runs, the model server never passes its readiness probe."""
    return Scenario(
        "never ready",
        isvc_ready=None,
        isvc_not_ready_message=(
            'Revision "m-predictor-00001" failed with message: Container kserve-container '
            "is not ready (readiness probe failed: HTTP probe failed with statuscode: 503)."
        ),
        from_zero=False,
        pod_ready=None,
        response=None,
    )


@dataclass
class Isvc:
    body: dict[str, Any]
    created: float
    deleted_gets: int | None = None


@dataclass
class Double:
    scenario: Scenario
    clock: Any
    namespaces: tuple[str, ...] = ("models", "istio-system")
    calls: list[tuple[str, str]] = field(default_factory=list)
    unexpected: list[tuple[str, str]] = field(default_factory=list)
    isvcs: dict[str, Isvc] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)
    trigger: float | None = None
    port: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the scenario's objects at the current time ----------------------------------

    def _at(self, offset: float | None) -> float | None:
        if offset is None or self.trigger is None:
            return None
        return self.trigger + offset

    def _happened(self, offset: float | None) -> bool:
        t = self._at(offset)
        return t is not None and self.clock.now() >= t

    def isvc_json(self, name: str) -> dict[str, Any]:
        isvc = self.isvcs[name]
        body = json.loads(json.dumps(isvc.body))
        s = self.scenario
        ready_at = None if s.isvc_ready is None else isvc.created + s.isvc_ready
        now = self.clock.now()
        if ready_at is not None and now >= ready_at:
            cond = {"type": "Ready", "status": "True", "lastTransitionTime": stamp(ready_at)}
        else:
            cond = {
                "type": "Ready",
                "status": "False" if s.isvc_not_ready_message else "Unknown",
                "reason": "RevisionFailed" if s.isvc_not_ready_message else "",
                "message": s.isvc_not_ready_message,
                "lastTransitionTime": stamp(isvc.created),
            }
        body["status"] = {"conditions": [cond], "url": f"http://{self.host(name)}"}
        return body

    def host(self, name: str) -> str:
        return f"{name}-models.example.com"

    def pods(self, isvc: str) -> list[dict[str, Any]]:
        s = self.scenario
        if isvc not in self.isvcs or not self._happened(s.pod_created):
            return []
        if self.gone_after_response(s.pods_gone):
            return []
        t = self._at
        pod_name = f"{isvc}-predictor-00001-deployment-7d9f8-x2x4q"
        scheduled = self._happened(s.scheduled)
        conditions = [
            {
                "type": "PodScheduled",
                "status": "True" if scheduled else "False",
                "reason": "" if scheduled else "Unschedulable",
                "lastTransitionTime": stamp(t(s.scheduled) if scheduled else t(s.pod_created)),
            }
        ]
        ready = self._happened(s.pod_ready)
        conditions.append(
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": stamp(t(s.pod_ready) if ready else t(s.pod_created)),
            }
        )
        init: dict[str, Any] = {"name": "storage-initializer", "ready": False}
        if self._happened(s.init_finished):
            init["state"] = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": stamp(t(s.init_started)),
                    "finishedAt": stamp(t(s.init_finished)),
                }
            }
        elif self._happened(s.init_started):
            init["state"] = {"running": {"startedAt": stamp(t(s.init_started))}}
        else:
            init["state"] = {"waiting": {"reason": "PodInitializing"}}
        main: dict[str, Any] = {"name": "kserve-container", "ready": ready, "image": s.image}
        if self._happened(s.main_started):
            main["state"] = {"running": {"startedAt": stamp(t(s.main_started))}}
        elif s.main_pull_failed is not None and self._happened(s.main_pull_failed + 10):
            main["state"] = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{s.image}"',
                }
            }
        elif s.main_pull_failed is not None and self._happened(s.main_pull_failed):
            main["state"] = {"waiting": {"reason": "ErrImagePull", "message": "not found"}}
        else:
            main["state"] = {"waiting": {"reason": "PodInitializing"}}
        pod = {
            "metadata": {
                "name": pod_name,
                "namespace": "models",
                "creationTimestamp": stamp(t(s.pod_created)),
                "labels": {"serving.kserve.io/inferenceservice": isvc, "component": "predictor"},
            },
            "spec": {"nodeName": self.node_name if scheduled else None},
            "status": {
                "phase": "Running" if self._happened(s.init_finished) else "Pending",
                "conditions": conditions,
                "initContainerStatuses": [init],
                "containerStatuses": [main],
            },
        }
        if self.gone_after_response(s.pods_gone - 10 if s.pods_gone else None):
            pod["metadata"]["deletionTimestamp"] = stamp(self.clock.now())
        return [pod]

    def gone_after_response(self, offset: float | None) -> bool:
        s = self.scenario
        if offset is None or s.response is None:
            return False
        return self._happened(s.response + offset)

    @property
    def node_name(self) -> str:
        if self.scenario.node_created is not None:
            return "ip-10-0-12-34.ec2.internal"
        return "ip-10-0-9-9.ec2.internal"

    def node(self, name: str) -> dict[str, Any] | None:
        s = self.scenario
        if name != self.node_name or self.trigger is None:
            return None
        if s.node_created is None:  # a node up long before the test
            created = ready = self.trigger - 86400
        else:
            if not self._happened(s.node_created) or self.gone_after_response(s.node_gone):
                return None
            created, ready = self._at(s.node_created), self._at(s.node_ready)
        conditions = []
        if ready is not None and self.clock.now() >= ready:
            conditions.append(
                {"type": "Ready", "status": "True", "lastTransitionTime": stamp(ready)}
            )
        return {
            "metadata": {
                "name": name,
                "creationTimestamp": stamp(created),
                "labels": {"node.kubernetes.io/instance-type": s.instance_type},
            },
            "status": {"conditions": conditions},
        }

    def events(self) -> list[dict[str, Any]]:
        s = self.scenario
        isvc = next(iter(self.isvcs), None)
        if isvc is None or self.trigger is None:
            return []
        pod = f"{isvc}-predictor-00001-deployment-7d9f8-x2x4q"
        init, main = "spec.initContainers{storage-initializer}", "spec.containers{kserve-container}"
        timeline: list[tuple[float | None, str, str, str | None, str]] = [
            (
                s.failed_scheduling,
                "FailedScheduling",
                "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: 0/2 "
                "nodes are available: 2 No preemption victims found for incoming pod.",
                None,
                "Warning",
            ),
            (
                s.nominated,
                "Nominated",
                "Pod should schedule on: nodeclaim/l4-8kq2m",
                None,
                "Normal",
            ),
            (s.scheduled, "Scheduled", f"Successfully assigned models/{pod}", None, "Normal"),
            (
                s.init_pulling,
                "Pulling",
                'Pulling image "kserve/storage-initializer"',
                init,
                "Normal",
            ),
            (
                s.init_pulled,
                "Pulled",
                'Container image "kserve/storage-initializer:v0.20.0" already present on machine'
                if s.init_pulling is None
                else 'Successfully pulled image "kserve/storage-initializer:v0.20.0" in 10s',
                init,
                "Normal",
            ),
            (s.main_pulling, "Pulling", f'Pulling image "{s.image}"', main, "Normal"),
            (
                s.main_pulled,
                "Pulled",
                f'Successfully pulled image "{s.image}" in 1m52s'
                if s.main_pulled != s.main_pulling
                else f'Container image "{s.image}" already present on machine',
                main,
                "Normal",
            ),
            (
                s.main_pull_failed,
                "Failed",
                f'Failed to pull image "{s.image}": rpc error: code = NotFound desc = '
                f"failed to resolve reference: {s.image}: not found",
                main,
                "Warning",
            ),
        ]
        if s.main_pulling == s.main_pulled:
            timeline = [e for e in timeline if not (e[1] == "Pulling" and e[3] == main)]
        out = []
        for index, (offset, reason, message, path, kind) in enumerate(timeline):
            if offset is None or not self._happened(offset):
                continue
            when = stamp(self._at(offset))
            involved = {"kind": "Pod", "name": pod, "namespace": "models"}
            if path:
                involved["fieldPath"] = path
            out.append(
                {
                    "metadata": {"name": f"{pod}.{index:04x}", "namespace": "models"},
                    "involvedObject": involved,
                    "reason": reason,
                    "message": message,
                    "type": kind,
                    "firstTimestamp": when,
                    "lastTimestamp": when,
                    "count": 1,
                }
            )
        return out

    def service(self) -> dict[str, Any]:
        return {
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
            "spec": {
                "type": "LoadBalancer",
                "ports": [
                    {"name": "status-port", "port": 15021},
                    {"name": "http2", "port": self.port},
                ],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}},
        }


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(
            self._date if self._date is not None else self.server.double.clock.now(), usegmt=True
        )

    _date: float | None = None

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        d = self.server.double
        url = urlsplit(self.path)
        path = url.path.rstrip("/")
        query = parse_qs(url.query)
        host = (self.headers.get("Host") or "").split(":")[0]
        with d.lock:
            d.calls.append((method, path))
        isvc_by_host = {d.host(n): n for n in d.isvcs}
        if host in isvc_by_host:
            self._model(isvc_by_host[host], method, path)
            return
        parts = path.strip("/").split("/")
        base = "apis/serving.kserve.io/v1beta1/namespaces"
        with d.lock:
            if method == "GET" and path == "/version":
                return self._send(200, {"major": "1", "minor": "36", "gitVersion": "v1.36.0"})
            if method == "GET" and parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 4:
                if parts[3] in d.namespaces:
                    return self._send(200, {"metadata": {"name": parts[3]}})
                return self._send(
                    404, _status(404, "NotFound", f'namespaces "{parts[3]}" not found')
                )
            if "/".join(parts[:4]) == base and len(parts) >= 6 and parts[5] == "inferenceservices":
                return self._isvc(method, parts[6] if len(parts) > 6 else None)
            if method == "GET" and parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 5:
                if parts[4] == "pods":
                    selector = query.get("labelSelector", [""])[0]
                    name = selector.split("=", 1)[1] if "=" in selector else ""
                    return self._send(200, {"kind": "PodList", "items": d.pods(name)})
                if parts[4] == "events":
                    return self._send(200, {"kind": "EventList", "items": d.events()})
            if method == "GET" and parts[:3] == ["api", "v1", "nodes"] and len(parts) == 4:
                node = d.node(parts[3])
                if node is None:
                    return self._send(
                        404, _status(404, "NotFound", f'nodes "{parts[3]}" not found')
                    )
                return self._send(200, node)
            if (
                method == "GET"
                and path == "/api/v1/namespaces/istio-system/services/istio-ingressgateway"
            ):
                return self._send(200, d.service())
            d.unexpected.append((method, self.path))
            return self._send(404, _status(404, "NotFound", "the double does not serve this"))

    def _isvc(self, method: str, name: str | None) -> None:
        d = self.server.double
        if method == "POST" and name is None:
            body = self._body()
            d.posted.append(json.loads(json.dumps(body)))
            if d.scenario.create_fails == "before-storing":
                return self._send(500, _status(500, "InternalError", "etcdserver: timeout"))
            name = body["metadata"]["name"]
            if name in d.isvcs:
                return self._send(409, _status(409, "AlreadyExists", f'"{name}" already exists'))
            now = d.clock.now()
            body["metadata"]["creationTimestamp"] = stamp(now)
            body["metadata"]["uid"] = "0f6a4c1e-0000-4000-8000-000000000001"
            d.isvcs[name] = Isvc(body, math.floor(now))
            if not d.scenario.from_zero:
                d.trigger = math.floor(now)
            if d.scenario.create_fails == "after-storing":
                return self._send(500, _status(500, "InternalError", "etcdserver: timeout"))
            return self._send(201, d.isvc_json(name))
        if name is None or name not in d.isvcs:
            return self._send(404, _status(404, "NotFound", f'"{name}" not found'))
        isvc = d.isvcs[name]
        if method == "DELETE":
            isvc.deleted_gets = d.scenario.delete_lag
            return self._send(200, {"kind": "Status", "status": "Success"})
        if isvc.deleted_gets is not None:
            if isvc.deleted_gets <= 0:
                del d.isvcs[name]
                return self._send(404, _status(404, "NotFound", f'"{name}" not found'))
            isvc.deleted_gets -= 1
        return self._send(200, d.isvc_json(name))

    def _model(self, name: str, method: str, path: str) -> None:
        """The model behind the gateway: the activator holds the request until Ready."""
        d = self.server.double
        self._body()
        with d.lock:
            if d.trigger is None:
                d.trigger = math.floor(d.clock.now())
        s = d.scenario
        limit = time.monotonic() + HOLD_LIMIT
        while not d.stopping.is_set() and time.monotonic() < limit:
            if s.response is not None and d._happened(s.response):
                self._date = d._at(s.response)
                return self._send(200, {"predictions": [1, 1], "model": name, "path": path})
            time.sleep(0.001)
        self._send(503, {"error": "no healthy upstream"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: Double


@contextmanager
def serve(scenario: Scenario, clock: Any) -> Iterator[Double]:
    """The double on 127.0.0.1 (an ephemeral port), stopped on exit or after MAX_LIFETIME."""
    double = Double(scenario=scenario, clock=clock)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.double = double
    double.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    timer = threading.Timer(MAX_LIFETIME, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        yield double
    finally:
        double.stopping.set()
        timer.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def kubeconfig(path: Path, port: int) -> Path:
    """A kubeconfig whose one context points at the double."""
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "double", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
                "contexts": [
                    {"name": "double", "context": {"cluster": "double", "user": "tester"}}
                ],
                "current-context": "double",
            }
        )
    )
    return path
