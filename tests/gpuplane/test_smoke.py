"""`gpuplane smoke` against the Kubernetes API double (tests/gpuplane/kube_double.py).

The double replays what a cluster shows during a cold start; every expected time
below is derived from the scenario's own offsets, never from smoke's output.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpuplane import manifests
from gpuplane import smoke as smoke_module
from gpuplane.cli import app
from gpuplane.smoke import SmokeInputError, SmokeOptions, connect, smoke
from tests.gpuplane import kube_double as kd

ROOT = Path(__file__).resolve().parents[2]
ISVC_PATH = "/apis/serving.kserve.io/v1beta1/namespaces/models/inferenceservices"
runner = CliRunner()


def _llm() -> dict[str, Any]:
    return manifests.load(ROOT / "examples" / "llm-gpu.yaml", {"MODELS_URI": "s3://models-x/"})[0]


def _run(
    scenario: kd.Scenario, tmp_path: Path, clock: kd.FakeClock | None = None, **options: Any
) -> tuple[smoke_module.SmokeResult, kd.Double, kd.FakeClock]:
    clock = clock or kd.FakeClock()
    with kd.serve(scenario, clock) as double:
        kube = connect(str(kd.kubeconfig(tmp_path / "kubeconfig", double.port)), None)
        result = smoke(kube, SmokeOptions(manifest=_llm(), **options), clock)
    return result, double, clock


def _phase(result: smoke_module.SmokeResult, name: str) -> smoke_module.Phase:
    found = [p for p in result.phases if p.name == name]
    assert len(found) == 1, [p.name for p in result.phases]
    return found[0]


def _cleaned(double: kd.Double) -> bool:
    return ("DELETE", f"{ISVC_PATH}/qwen-chat") in double.calls and "qwen-chat" not in double.isvcs


def test_cold_start_from_zero_reports_every_phase_at_its_time(tmp_path: Path) -> None:
    s = kd.cold_start_from_zero()
    result, double, _ = _run(s, tmp_path)
    assert result.exit_code == 0 and result.within_budget, result.failure
    # Times are seconds since the InferenceService was created; the scale-up starts when
    # the first request reaches the gateway (r), after the InferenceService is Ready.
    r = double.trigger - kd.EPOCH  # created at the clock's start
    assert _phase(result, "pod created").start == r + s.pod_created
    assert s.isvc_ready <= r <= s.isvc_ready + 2 * 2.0  # within a poll or two of Ready
    assert _phase(result, "InferenceService Ready").end == s.isvc_ready
    node = _phase(result, "node provisioned")
    assert (node.start, node.end) == (r + s.pod_created, r + s.node_ready)
    assert "g6.xlarge" in node.detail and "Nominated" in node.detail
    assert _phase(result, "pod scheduled").end == r + s.scheduled
    init_pull = _phase(result, "image pulled (storage-initializer)")
    assert (init_pull.start, init_pull.end) == (r + s.init_pulling, r + s.init_pulled)
    download = _phase(result, "model downloaded")
    assert (download.start, download.end) == (r + s.init_started, r + s.init_finished)
    pull = _phase(result, "image pulled (kserve-container)")
    assert pull.seconds == s.main_pulled - s.main_pulling == 112
    loaded = _phase(result, "model loaded")
    assert (loaded.start, loaded.end) == (r + s.main_started, r + s.pod_ready)
    assert _phase(result, "first response").end == r + s.response
    assert result.cold_start == r + s.response
    assert result.status == 200
    assert result.idle_tail is None
    assert _cleaned(double)
    assert double.unexpected == []
    # The request went through the gateway to the OpenAI endpoint the sample names.
    assert ("POST", "/openai/v1/completions") in double.calls


def test_warm_node_has_no_node_phase_and_cached_images(tmp_path: Path) -> None:
    s = kd.warm_node()
    result, double, _ = _run(s, tmp_path)
    assert result.exit_code == 0
    names = [p.name for p in result.phases]
    assert "node provisioned" not in names
    pull = _phase(result, "image pulled (kserve-container)")
    assert pull.seconds == 0 and pull.detail == "already on the node"
    r = _phase(result, "pod created").start - s.pod_created
    assert result.cold_start == r + s.response
    assert _cleaned(double)


def test_served_over_budget_exits_1(tmp_path: Path) -> None:
    s = kd.cold_start_from_zero()  # about 5 min to the first response
    result, double, clock = _run(s, tmp_path, budget=240.0)
    assert not result.served
    assert "no response within the budget" in (result.failure or "")
    assert result.exit_code == 1
    assert _cleaned(double)
    assert clock.slept >= 240.0


def test_scale_to_zero_reports_the_idle_tail(tmp_path: Path) -> None:
    s = kd.cold_start_from_zero()
    result, double, _ = _run(s, tmp_path, scale_to_zero=True)
    assert result.exit_code == 0
    tail = result.idle_tail
    assert tail is not None
    # Observed at the next poll (2 s) after the double removes them.
    assert s.pods_gone <= tail["podsGoneAfter"] <= s.pods_gone + 2
    assert s.node_gone <= tail["nodeGoneAfter"] <= s.node_gone + 2
    # The node was seen before it went away: the phase is still reported.
    assert _phase(result, "node provisioned").end is not None
    assert _cleaned(double)


def test_a_failing_pull_stops_early_and_cleans_up(tmp_path: Path) -> None:
    s = kd.failing_pull()
    result, double, clock = _run(s, tmp_path)
    assert result.exit_code == 1 and not result.served
    assert "ImagePullBackOff" in result.failure and s.image in result.failure
    pull = _phase(result, "image pull (kserve-container)")
    assert pull.failed and pull.end is None
    # It stopped at the back-off (trigger + 180 s), not at the 10 min budget.
    assert clock.slept < 600 - 60
    assert _cleaned(double)


def test_a_model_never_ready_fails_at_the_budget_with_the_reason(tmp_path: Path) -> None:
    s = kd.never_ready()
    result, double, clock = _run(s, tmp_path, budget=600.0)
    assert result.exit_code == 1
    assert "not Ready within the budget" in result.failure
    assert "readiness probe failed" in result.failure
    assert 600 <= clock.slept <= 600 + 2 + s.delete_lag * 1.0
    assert _phase(result, "model loaded").end is None
    assert _cleaned(double)


def test_ctrl_c_mid_way_cleans_up(tmp_path: Path) -> None:
    s = kd.cold_start_from_zero()
    clock = kd.FakeClock(interrupt_at=kd.EPOCH + 120)  # while the image is pulling
    result, double, _ = _run(s, tmp_path, clock=clock)
    assert result.interrupted and result.exit_code == 1
    assert not result.served
    assert _cleaned(double)
    # What was seen before the interrupt is still reported.
    assert "pod created" in [p.name for p in result.phases]


@pytest.mark.parametrize("when", ["after-storing", "before-storing"])
def test_a_failed_create_cleans_up_only_what_it_made(tmp_path: Path, when: str) -> None:
    s = kd.cold_start_from_zero()
    s.create_fails = when
    result, double, _ = _run(s, tmp_path)
    assert result.exit_code == 1
    assert "HTTP 500" in result.failure and "etcdserver: timeout" in result.failure
    assert result.cleaned_up
    deletes = [c for c in double.calls if c[0] == "DELETE"]
    if when == "after-storing":  # found by its run annotation, deleted
        assert _cleaned(double)
    else:
        assert deletes == [] and result.cleanup_detail == "nothing was created"


def test_the_created_object_carries_its_run_mark(tmp_path: Path) -> None:
    result, double, _ = _run(kd.warm_node(), tmp_path)
    assert result.exit_code == 0 and len(double.posted) == 1
    annotations = double.posted[0]["metadata"]["annotations"]
    mark = annotations[smoke_module.RUN_ANNOTATION]
    assert len(mark) == 12 and int(mark, 16) >= 0
    # The manifest's own annotations are kept beside it.
    assert annotations[smoke_module.REQUEST_PATH_ANNOTATION] == "/openai/v1/completions"
    assert _cleaned(double)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_no_cluster_is_bad_input(tmp_path: Path) -> None:
    kubeconfig = kd.kubeconfig(tmp_path / "kubeconfig", _free_port())
    kube = connect(str(kubeconfig), None)
    with pytest.raises(SmokeInputError, match="cannot reach the cluster"):
        smoke(kube, SmokeOptions(manifest=_llm()), kd.FakeClock())


def test_missing_namespace_and_existing_name_create_nothing(tmp_path: Path) -> None:
    clock = kd.FakeClock()
    with kd.serve(kd.cold_start_from_zero(), clock) as double:
        kube = connect(str(kd.kubeconfig(tmp_path / "kc", double.port)), None)
        with pytest.raises(SmokeInputError, match="namespace 'serving' not found"):
            smoke(kube, SmokeOptions(manifest=_llm(), namespace="serving"), clock)
        double.isvcs["qwen-chat"] = kd.Isvc({"metadata": {"name": "qwen-chat"}}, kd.EPOCH)
        with pytest.raises(SmokeInputError, match="already exists"):
            smoke(kube, SmokeOptions(manifest=_llm()), clock)
        assert not [c for c in double.calls if c[0] == "DELETE"]
        assert "qwen-chat" in double.isvcs  # someone else's model is left alone


# -- through the CLI -------------------------------------------------------------------


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> kd.FakeClock:
    clock = kd.FakeClock()
    monkeypatch.setattr(smoke_module, "RealClock", lambda: clock)
    return clock


def _cli(args: list[str]) -> Any:
    return runner.invoke(app, ["smoke", *args])


@pytest.mark.usefixtures("fake_time")
def test_cli_json_and_markdown(tmp_path: Path, fake_time: kd.FakeClock) -> None:
    with kd.serve(kd.warm_node(), fake_time) as double:
        kc = str(kd.kubeconfig(tmp_path / "kc", double.port))
        common = ["--kubeconfig", kc, "--models-uri", "s3://models-x/", "--manifest"]
        result = _cli([*common, str(ROOT / "examples" / "llm-gpu.yaml"), "-f", "json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["served"] and report["withinBudget"] and report["cleanedUp"]
        assert report["exitCode"] == 0
        assert {p["name"] for p in report["phases"]} >= {"model downloaded", "first response"}
        result = _cli([*common, str(ROOT / "examples" / "llm-gpu.yaml"), "-f", "markdown"])
        assert result.exit_code == 0, result.output
        assert "| model loaded |" in result.output and "PASS" in result.output


@pytest.mark.usefixtures("fake_time")
def test_cli_sample_gets_a_fresh_name_and_its_request(
    tmp_path: Path, fake_time: kd.FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    with kd.serve(kd.warm_node(), fake_time) as double:
        kc = str(kd.kubeconfig(tmp_path / "kc", double.port))
        result = _cli(["--kubeconfig", kc, "--sample", "sklearn", "--models-uri", "gs://b"])
        assert result.exit_code == 0, result.output
        posted = [p for m, p in double.calls if m == "POST" and p.endswith(":predict")]
        assert len(posted) == 1 and posted[0].startswith("/v1/models/sklearn-iris-")
        created = [p for m, p in double.calls if m == "DELETE"]
        assert created and created[0].rsplit("/", 1)[1].startswith("sklearn-iris-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "ten minutes"], "--budget: must be a duration"),
        (["--budget", "0s"], "--budget: must be above zero"),
        (["--sample", "gpt5"], "--sample: 'gpt5'; allowed: sklearn, llm"),
        (["--sample", "llm"], "${MODELS_URI} not set"),
        (["--kubeconfig", "/nonexistent/kc", "--models-uri", "s3://b"], "/nonexistent/kc"),
        (["--stack", "aws-dev"], "pulumi stack output kubeconfig --show-secrets -s aws-dev"),
        (["--gateway", "localhost:8080", "--models-uri", "s3://b", "--sample", "llm"], "gateway"),
    ],
)
def test_cli_bad_input_is_exit_2_one_line(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("MODELS_URI", raising=False)
    if "--gateway" in args:  # reachable cluster, bad gateway: refused before creating
        clock = kd.FakeClock()
        with kd.serve(kd.warm_node(), clock) as double:
            kc = str(kd.kubeconfig(tmp_path / "kc", double.port))
            result = _cli([*args, "--kubeconfig", kc])
            assert not [c for c in double.calls if c[0] == "POST"]
    else:
        result = _cli(args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.usefixtures("fake_time")
def test_cli_stack_local_uses_its_context(
    tmp_path: Path, fake_time: kd.FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--stack local` takes gpuplane:existing.context (kind-gpuplane) from the stack file."""
    monkeypatch.chdir(ROOT)
    with kd.serve(kd.warm_node(), fake_time) as double:
        path = kd.kubeconfig(tmp_path / "kc", double.port)
        config = json.loads(path.read_text())
        # Two contexts: the current one points nowhere, only the stack's reaches the double.
        config["clusters"].append(
            {"name": "nowhere", "cluster": {"server": f"http://127.0.0.1:{_free_port()}"}}
        )
        config["contexts"] = [
            {"name": "kind-gpuplane", "context": {"cluster": "double", "user": "tester"}},
            {"name": "other", "context": {"cluster": "nowhere", "user": "tester"}},
        ]
        config["current-context"] = "other"
        path.write_text(json.dumps(config))
        monkeypatch.setenv("KUBECONFIG", str(path))
        args = ["--stack", "local", "--sample", "sklearn", "--models-uri", "gs://b"]
        result = _cli(args)
        assert result.exit_code == 0, result.output
        assert [c for c in double.calls if c[0] == "POST"]
        result = _cli([*args, "--context", "other"])  # an explicit context wins
        assert result.exit_code == 2 and "cannot reach the cluster" in result.output


def test_cli_no_cluster_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    kc = str(kd.kubeconfig(tmp_path / "kc", _free_port()))
    result = _cli(["--kubeconfig", kc, "--sample", "sklearn", "--models-uri", "gs://b"])
    assert result.exit_code == 2
    assert "cannot reach the cluster at http://127.0.0.1:" in result.output


# -- signals, in a separate process ---------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_way_deletes_the_inference_service(tmp_path: Path, sig: int) -> None:
    scenario = kd.never_ready()  # it would wait the whole budget
    with kd.serve(scenario, kd.RealClock()) as double:
        kc = str(kd.kubeconfig(tmp_path / "kc", double.port))
        env = {**os.environ, "MODELS_URI": "s3://models-x/"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from gpuplane.cli import main; main()",
                "smoke",
                "--kubeconfig",
                kc,
                "--manifest",
                str(ROOT / "examples" / "llm-gpu.yaml"),
                "--format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while ("POST", ISVC_PATH) not in double.calls and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ("POST", ISVC_PATH) in double.calls, "smoke never created the model"
            time.sleep(0.3)  # mid-way: polling
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 1, err
        report = json.loads(out)
        assert report["interrupted"] is True
        assert signal.Signals(sig).name in report["failure"]
        assert report["cleanedUp"] is True
        assert _cleaned(double)
