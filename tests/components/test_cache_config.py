"""`gpuplane:models.cache`: each refusal names its key; the rules are the component's."""

from typing import Any

import pytest

from gpuplane.components.cache_config import model_cache_settings, node_labels
from gpuplane.components.config import parse_config
from gpuplane.components.rules import ArgsError
from gpuplane.components.serving.cache_settings import AWS_INSTANCE_STORE, NODE_LABEL
from gpuplane.components.serving.stack import serving_stack_problems
from tests.helpers import AWS, AWS_LOCATION, AZURE, AZURE_LOCATION, EXISTING, config_problems

GCP_LOCATION = {"gcp:project": "demo", "gcp:region": "us-central1"}
GCP = {"cloud": "gcp", "cluster": {"endpoint": {"publicAccessCidrs": ["203.0.113.0/24"]}}}
L4 = [{"name": "l4", "instanceTypes": ["g6.xlarge", "g6.2xlarge"]}]


def _cache(*models: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"cache": {"models": list(models), **extra}}


LLAMA = {"name": "llama", "storageUri": "llama3-8b/", "size": "20Gi"}


def _aws(**changes: Any) -> dict[str, Any]:
    return {**AWS, "gpuPools": L4, "models": _cache(LLAMA), **changes}


def test_a_path_in_the_bucket_plans_on_every_pool() -> None:
    cfg = parse_config(_aws(), AWS_LOCATION)
    settings = model_cache_settings(cfg)
    assert settings is not None
    # Karpenter may start either type: the smaller instance store bounds the cache.
    assert settings["pool_disks"] == {"l4": AWS_INSTANCE_STORE["g6.xlarge"]}
    assert node_labels(cfg, cfg.gpu_pools[0]) == dict([NODE_LABEL])


def test_off_means_no_settings_and_no_label() -> None:
    cfg = parse_config(_aws(models=_cache(LLAMA, enabled=False)), AWS_LOCATION)
    assert model_cache_settings(cfg) is None
    assert node_labels(cfg, cfg.gpu_pools[0]) == {}


@pytest.mark.parametrize(
    ("model", "key", "fragment"),
    [
        ({"pools": ["h100"]}, "gpuplane:models.cache.models[0].pools", "'h100' is not a GPU pool"),
        (
            {"storageUri": "s3://someone-else/llama/"},
            "gpuplane:models.cache.models[0].storageUri",
            "outside the models bucket",
        ),
        ({"storageUri": "../x"}, "gpuplane:models.cache.models[0].storageUri", "inside"),
        ({"size": "20 GB"}, "gpuplane:models.cache.models[0].size", "'20 GB'"),
        ({"size": "0Gi"}, "gpuplane:models.cache.models[0].size", "above zero"),
        ({"size": "300Gi"}, "gpuplane:models.cache.models", "exceed the 232Gi"),
        ({"name": "Llama_3"}, "gpuplane:models.cache.models[0].name", "'Llama_3'"),
    ],
)
def test_a_bad_model_is_refused_by_key(model: dict[str, Any], key: str, fragment: str) -> None:
    problems = config_problems(_aws(models=_cache({**LLAMA, **model})), AWS_LOCATION)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{key}: "), problems
    assert fragment in problems[0]


def test_models_too_large_together_name_the_pool_and_its_disk() -> None:
    second = {**LLAMA, "name": "mixtral", "size": "220Gi"}
    [problem] = config_problems(_aws(models=_cache(LLAMA, second)), AWS_LOCATION)
    assert "240.0Gi of models on pool l4" in problem
    assert "g6.xlarge instance store NVMe" in problem


@pytest.mark.parametrize(
    ("raw", "location", "why"),
    [
        (_aws(aws={**AWS["aws"], "computeMode": "auto"}), AWS_LOCATION, "EKS Auto Mode"),
        (_aws(aws={**AWS["aws"], "gpuNodeImage": "bottlerocket"}), AWS_LOCATION, "read-only"),
        (
            {
                **GCP,
                "gcp": {"mode": "autopilot"},
                "gpuPools": [{"name": "l4", "instanceTypes": ["g2-standard-4"]}],
                "models": _cache(LLAMA),
            },
            GCP_LOCATION,
            "GKE Autopilot refuses hostPath",
        ),
    ],
)
def test_a_cloud_mode_that_cannot_host_it_is_refused(
    raw: dict[str, Any], location: dict[str, str], why: str
) -> None:
    problems = config_problems(raw, location)
    [problem] = [p for p in problems if p.startswith("gpuplane:models.cache:")]
    assert why in problem


def test_the_refusal_is_only_for_a_cache_that_was_asked_for() -> None:
    raw = _aws(aws={**AWS["aws"], "computeMode": "auto"}, models=_cache())
    assert model_cache_settings(parse_config(raw, AWS_LOCATION)) is None


def test_an_unknown_disk_needs_its_size_and_gets_it() -> None:
    pools = [{"name": "v100", "instanceTypes": ["p3.2xlarge"]}]
    raw = _aws(gpuPools=pools, aws={**AWS["aws"], "gpuVolumeSize": 150})
    cfg = parse_config(raw, AWS_LOCATION)
    # No instance store on p3.2xlarge: the cache shares the root volume's size.
    assert model_cache_settings(cfg)["pool_disks"] == {"v100": 150}  # type: ignore[index]
    azure = {
        **AZURE,
        "gpuPools": [{"name": "a10", "instanceTypes": ["Standard_NV72ads_A10_v5"]}],
        "models": _cache(LLAMA),
    }
    assert model_cache_settings(parse_config(azure, AZURE_LOCATION))["pool_disks"] == {  # type: ignore[index]
        "a10": 1400
    }


def test_an_existing_cluster_needs_full_uris_the_disk_size_and_the_label() -> None:
    raw = {
        **EXISTING,
        "gpuPools": [{"name": "a10", "labels": {"pool": "a10"}}],
        "models": _cache(LLAMA),
    }
    problems = config_problems(raw)
    assert any(p.startswith("gpuplane:models.cache.nodeDiskSize: required") for p in problems)
    raw["models"] = _cache({**LLAMA, "storageUri": "gs://public/iris"}, nodeDiskSize="50Gi")
    [problem] = config_problems(raw)
    assert problem.startswith("gpuplane:gpuPools[0].labels: must include kserve/localmodel: worker")
    raw["gpuPools"][0]["labels"]["kserve/localmodel"] = "worker"
    assert model_cache_settings(parse_config(raw))["pool_disks"] == {"a10": 50}  # type: ignore[index]
    raw["models"] = _cache(LLAMA, nodeDiskSize="50Gi")
    [problem] = config_problems(raw)
    assert problem.startswith("gpuplane:models.cache.models[0].storageUri: must be a full URI")


def test_no_gpu_pool_no_cache() -> None:
    problems = config_problems({**EXISTING, "models": _cache(LLAMA, nodeDiskSize="5Gi")})
    assert "gpuplane:models.cache: needs at least one GPU pool" in problems[0]


def test_the_component_applies_the_same_rules_under_python_keys() -> None:
    from gpuplane.components.serving.stack import ServingStack

    spec = {
        "provider": None,
        "gpu_pools": [{"name": "l4", "node_selector": {"p": "l4"}}],
        "model_identity": {"storage_uri_prefix": "s3://models/"},
    }
    cache = {
        "models": [{"name": "llama", "storage_uri": "s3://other/llama", "size": "20Gi"}],
        "pool_disks": {"l4": 100, "h100": 100},
    }
    problems = serving_stack_problems({"cluster": spec, "model_cache": cache})  # type: ignore[typeddict-item]
    assert problems == [
        "model_cache.pool_disks: 'h100' is not a GPU pool of the cluster; allowed: l4",
        "model_cache.models[0].storage_uri: 's3://other/llama' is outside the models bucket "
        "gpuplane makes (the only storage the cache's identity reads); give a path inside it "
        "like llama3-8b/",
    ]
    with pytest.raises(ArgsError):
        ServingStack("s", {"cluster": spec, "model_cache": cache})  # type: ignore[typeddict-item]


def test_labelling_the_download_jobs_needs_mutating_admission_policies() -> None:
    spec = {
        "provider": None,
        "kubernetes_version": "1.35",
        "gpu_pools": [{"name": "t4", "node_selector": {"p": "t4"}}],
    }
    cache = {
        "models": [{"name": "m", "storage_uri": "hf://org/m", "size": "2Gi"}],
        "pool_disks": {"t4": 100},
        "job_identity": {"pod_labels": {"azure.workload.identity/use": "true"}},
    }
    [problem] = serving_stack_problems({"cluster": spec, "model_cache": cache})  # type: ignore[typeddict-item]
    assert problem.startswith("model_cache.job_identity.pod_labels: needs Kubernetes 1.36+")
    raw = {
        **AZURE,
        "cluster": {**AZURE["cluster"], "kubernetesVersion": "1.35"},
        "gpuPools": [{"name": "t4", "instanceTypes": ["Standard_NC4as_T4_v3"]}],
        "models": _cache(LLAMA),
    }
    [problem] = config_problems(raw, AZURE_LOCATION)
    assert problem.startswith(
        "gpuplane:models.cache: on AKS needs gpuplane:cluster.kubernetesVersion"
    )
