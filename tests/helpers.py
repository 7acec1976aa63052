"""Helpers shared by the tests: config builders and expectations."""

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane.components.config import ConfigError, parse_config
from gpuplane.graph import SECRET, Resource, ResourceGraph
from gpuplane.stacks import StackConfig

RELEASE = "kubernetes:helm.sh/v3:Release"


def config_problems(raw: dict[str, Any], location: dict[str, str] | None = None) -> list[str]:
    """The problems ConfigError reports for `gpuplane` keys `raw`; fails if none."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, location)
    return caught.value.problems


EXISTING = {"cloud": "existing", "existing": {"context": "kind-gpuplane"}}
AWS_LOCATION = {"aws:region": "us-east-1"}
AWS = {
    "cloud": "aws",
    "cluster": {"endpoint": {"publicAccessCidrs": ["203.0.113.0/24"]}},
    "aws": {"adminRoleArns": ["arn:aws:iam::123456789012:role/platform-admin"]},
}
AZURE_LOCATION = {"azure-native:location": "eastus"}
AZURE_ADMIN_GROUP = "5f0a4c3e-1b2d-4e6f-8a9b-0c1d2e3f4a5b"
AZURE = {
    "cloud": "azure",
    "cluster": {"endpoint": {"publicAccessCidrs": ["203.0.113.0/24"]}},
    "azure": {"adminGroupObjectIds": [AZURE_ADMIN_GROUP]},
}


def depends_on(graph: Any, later: Any, earlier: Any) -> bool:
    """Whether `later` waits for `earlier`, directly or through other resources."""
    seen: set[str] = set()
    stack = list(later.dependencies)
    while stack:
        urn = stack.pop()
        if urn == earlier.urn:
            return True
        if urn in seen or urn not in graph.resources:
            continue
        seen.add(urn)
        stack.extend(graph.get(urn).dependencies)
    return False


def release_named(graph: ResourceGraph, release_name: str) -> Resource:
    """The one Helm release with this release name."""
    found = [r for r in graph.by_type(RELEASE) if r.inputs["name"] == release_name]
    assert len(found) == 1, release_name
    return found[0]


def custom_resource_named(graph: ResourceGraph, kind: str, name: str) -> Resource:
    """The one Kubernetes object of this kind and metadata.name."""
    found = [r for r in graph if r.type.endswith(f":{kind}") and r.get("metadata.name") == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def k8s_object(resource: Resource) -> dict[str, Any]:
    """The object as the API server would receive it, secrets as placeholders."""

    def unredact(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            if set(value) == {SECRET}:
                # Secret data maps are redacted whole; validate a stand-in of that shape.
                return (
                    {"redacted": "placeholder"} if key in ("data", "stringData") else "placeholder"
                )
            return {k: unredact(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [unredact(v) for v in value]
        return value

    obj = unredact(copy.deepcopy(resource.inputs))
    group_version, kind = resource.type.split(":")[1], resource.type.split(":")[2]
    obj.setdefault("apiVersion", group_version.removeprefix("core/"))
    obj.setdefault("kind", kind)
    return obj


def cluster_provider(graph: ResourceGraph) -> Resource:
    """The one Kubernetes provider, after checking it holds the kubeconfig as a secret and
    that every Kubernetes object in the graph uses it."""
    [provider] = graph.by_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == {SECRET: "[redacted]"}
    assert graph.outputs["kubeconfig"] == {SECRET: "[redacted]"}
    for resource in kubernetes_objects(graph):
        assert resource.provider is not None and resource.provider.startswith(provider.urn)
    return provider


def one_of_type(graph: ResourceGraph, type_: str) -> Resource:
    """The one resource of this type; fails if there are none or several."""
    found = graph.by_type(type_)
    assert len(found) == 1, type_
    return found[0]


def stack_file_config(name: str) -> dict[str, Any]:
    """The `config:` section of stacks/Pulumi.<name>.yaml, as written."""
    path = Path(__file__).resolve().parents[1] / "stacks" / f"Pulumi.{name}.yaml"
    return yaml.safe_load(path.read_text())["config"]


def kubernetes_objects(graph: ResourceGraph) -> list[Resource]:
    """Every Kubernetes resource the program registered (not the providers)."""
    return [r for r in graph if r.custom and r.package == "kubernetes" and not r.is_provider]


# The placeholders in the shipped stack files, and values of the kind a user puts there.
FILLED_IN = {
    "123456789012": "210987654321",
    "198.51.100.10/32": "34.120.7.10/32",
    "203.0.113.0/24": "34.120.7.0/24",
    "00000000-0000-0000-0000-000000000000": "5f1c1c7e-3d55-4b6f-9d6e-2a1b3c4d5e6f",
    "my-gpuplane-project": "acme-gpu-platform",
}


def filled_in(config: StackConfig) -> StackConfig:
    """A shipped stack with its placeholders replaced, as a user's own copy would be."""
    values = {}
    for key, value in config.values.items():
        for placeholder, own in FILLED_IN.items():
            value = value.replace(placeholder, own)
        values[key] = value
    return dataclasses.replace(config, values=values)
