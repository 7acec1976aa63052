"""The samples in examples/: valid InferenceServices by KServe's own CRD schema, clean by
the policy pack through `gpuplane check --manifest`, and wired to the platform's runtimes."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gpuplane import manifests
from gpuplane.cli import SAMPLES, app
from gpuplane.components.serving.gpu import GPU_RUNTIME
from gpuplane.smoke import REQUEST_BODY_ANNOTATION, REQUEST_PATH_ANNOTATION
from tests.upstream import UPSTREAM, validate_custom_resource

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
# What each cloud's stack output modelStorageUri looks like (trailing slash included).
MODELS_URIS = {
    "aws": "s3://gpuplane-dev-models-1a2b3c/",
    "gcp": "gs://gpuplane-dev-models-1a2b3c/",
    "azure": "https://gpuplanedevmodels.blob.core.windows.net/models/",
    "kind": "gs://kfserving-examples/models",
}
runner = CliRunner()
needs_upstream = pytest.mark.skipif(
    not UPSTREAM.is_dir(), reason="../shared/upstream is absent: no CRD schemas to check against"
)


def _load(sample: str, cloud: str) -> dict:
    objects = manifests.load(EXAMPLES / SAMPLES[sample], {"MODELS_URI": MODELS_URIS[cloud]})
    assert len(objects) == 1
    return objects[0]


def test_every_file_in_examples_is_a_sample() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(SAMPLES.values())


@needs_upstream
@pytest.mark.parametrize("cloud", sorted(MODELS_URIS))
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_samples_fit_the_kserve_crd(sample: str, cloud: str) -> None:
    isvc = _load(sample, cloud)
    validate_custom_resource(isvc)
    uri = isvc["spec"]["predictor"]["model"]["storageUri"]
    assert uri.startswith(MODELS_URIS[cloud].rstrip("/") + "/")
    assert "//" not in uri.split("://", 1)[1]


@needs_upstream
def test_the_crd_oracle_refuses_a_misspelt_sample_field() -> None:
    isvc = _load("llm", "aws")
    isvc["spec"]["predictor"]["model"]["storageURI"] = isvc["spec"]["predictor"]["model"].pop(
        "storageUri"
    )
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate_custom_resource(isvc)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_samples_pass_the_pack(sample: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELS_URI", MODELS_URIS["aws"])
    result = runner.invoke(
        app, ["check", "--manifest", str(EXAMPLES / SAMPLES[sample]), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["violations"] == []
    assert report["summary"]["resources"] == 1


def test_llm_sample_uses_the_platform_gpu_runtime_and_an_openai_path() -> None:
    isvc = _load("llm", "gcp")
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == GPU_RUNTIME
    assert model["modelFormat"]["name"] == "huggingface"  # the runtime's one format
    annotations = isvc["metadata"]["annotations"]
    assert annotations[REQUEST_PATH_ANNOTATION] == "/openai/v1/completions"
    body = json.loads(annotations[REQUEST_BODY_ANNOTATION])
    assert body["model"] == "{name}"  # the runtime serves it as --model_name={{.Name}}


@needs_upstream
def test_sklearn_sample_uses_a_runtime_kserve_ships() -> None:
    values = yaml.safe_load(
        (UPSTREAM / "charts/kserve-runtime-configs/v0.20.0/values.yaml").read_text()
    )
    assert values["kserve"]["servingruntime"]["sklearnserver"]["disabled"] is False
    isvc = _load("sklearn", "kind")
    assert isvc["spec"]["predictor"]["model"]["modelFormat"]["name"] == "sklearn"
    assert "GPU" not in json.dumps(isvc["spec"]).upper().replace("GPUPLANE", "")


def test_check_manifest_finds_a_privileged_model(tmp_path: Path) -> None:
    isvc = _load("sklearn", "kind")
    isvc["spec"]["predictor"]["model"]["securityContext"]["privileged"] = True
    isvc["spec"]["predictor"]["model"]["securityContext"]["allowPrivilegeEscalation"] = True
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(isvc))
    result = runner.invoke(app, ["check", "--manifest", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    ids = {v["id"] for v in report["violations"] if v["level"] == "mandatory"}
    assert "GP-K8S-005" in ids
    assert all(v["name"] == "models/sklearn-iris" for v in report["violations"])


def test_check_manifest_storage_outside_allowed_prefixes(tmp_path: Path) -> None:
    isvc = _load("sklearn", "kind")
    isvc["spec"]["predictor"]["model"]["storageUri"] = "ftp://example.com/model"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(isvc))
    result = runner.invoke(app, ["check", "--manifest", str(path), "--format", "json"])
    report = json.loads(result.output)
    assert any(v["policy"] == "kserve-allowed-model-storage" for v in report["violations"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "document 1 is not a mapping"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "metadata.name missing"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: ${NOPE_UNSET}}\n", "${NOPE_UNSET} not set"),
        ("", "no Kubernetes object"),
    ],
)
def test_check_manifest_bad_input_is_exit_2(
    text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_UNSET", raising=False)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["check", "--manifest", str(path)])
    assert result.exit_code == 2
    assert message in result.output and str(path) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_check_manifest_with_stack_is_refused() -> None:
    result = runner.invoke(app, ["check", "--manifest", "x.yaml", "--stack", "local"])
    assert result.exit_code == 2
    assert "--manifest" in result.output


def test_placeholder_slash_join() -> None:
    text = "a: ${U}/m\nb: ${U}\n"
    assert manifests.expand(text, {"U": "s3://b/"}, "t") == "a: s3://b/m\nb: s3://b/\n"


@pytest.mark.parametrize("stack", ["aws-dev", "gcp-dev", "azure-dev"])
def test_the_cached_sample_reads_what_the_dev_stacks_cache(
    stack: str, stack_graphs: dict[str, Any]
) -> None:
    graph = stack_graphs[stack]
    [cache] = [r for r in graph if r.type.endswith(":LocalModelCache")]
    uri = graph.outputs["modelStorageUri"]
    objects = manifests.load(EXAMPLES / SAMPLES["llm-cached"], {"MODELS_URI": uri})
    model = objects[0]["spec"]["predictor"]["model"]
    # KServe serves from the node's copy only where the URIs are equal, character for character.
    assert model["storageUri"] == cache.inputs["spec"]["sourceModelUri"]
    assert model["runtime"] == GPU_RUNTIME
    assert cache.inputs["spec"]["sourceModelUri"].startswith(uri)
