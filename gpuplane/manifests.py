"""Kubernetes manifests a user hands to `gpuplane check --manifest` and `gpuplane smoke`.

A manifest file holds one or more YAML documents, each a Kubernetes object. `${NAME}`
placeholders are expanded from the environment first, as `envsubst` does, so the
samples in examples/ can name the stack's models bucket (`${MODELS_URI}`); a
placeholder with no value is an error, never an empty string; a value's trailing
`/` is dropped where the text goes on with one.
"""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpuplane.graph import Resource, ResourceGraph
from gpuplane.loader import InputError, parse_yaml_documents, read_text

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER_SLASH = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}(/?)")


class ManifestError(InputError):
    """A manifest file that cannot be used: names the file and what is wrong."""


def expand(text: str, env: Mapping[str, str], where: str) -> str:
    """`${NAME}` replaced by env[NAME]; every unset name is reported at once."""
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if not env.get(m)})
    if missing:
        names = ", ".join(f"${{{m}}}" for m in missing)
        raise ManifestError(
            f"{where}: {names} not set; export it first (e.g. "
            f'{missing[0]}="$(pulumi stack output modelStorageUri)")'
        )
    # `${MODELS_URI}/x` with MODELS_URI=s3://bucket/ (as the stack output ends) gives
    # s3://bucket/x, not s3://bucket//x.
    return _PLACEHOLDER_SLASH.sub(
        lambda m: env[m.group(1)].rstrip("/") + m.group(2) if m.group(2) else env[m.group(1)],
        text,
    )


def load(path: Path, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every object in a manifest file, placeholders expanded."""
    return parse(expand(read_text(path, "yaml"), env, str(path)), str(path))


def parse(text: str, where: str) -> list[dict[str, Any]]:
    docs = parse_yaml_documents(text, where)
    if not docs:
        raise ManifestError(f"{where}: no Kubernetes object in it")
    for index, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            raise ManifestError(f"{where}: document {index} is not a mapping")
        for key in ("apiVersion", "kind"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise ManifestError(f"{where}: document {index}: {key} missing")
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc, dict) else None
        if not isinstance(name, str) or not name:
            raise ManifestError(f"{where}: document {index}: metadata.name missing")
    return docs


def pulumi_type(obj: Mapping[str, Any]) -> str:
    """The Pulumi type token of a Kubernetes object: `kubernetes:apps/v1:Deployment`,
    `kubernetes:core/v1:Pod` for the core group."""
    api_version = str(obj["apiVersion"])
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{obj['kind']}"


def graph(objects: list[dict[str, Any]], where: str) -> ResourceGraph:
    """The objects as a graph the policy pack can check, one custom resource each."""
    result = ResourceGraph(project="manifest", stack=where)
    for obj in objects:
        type_ = pulumi_type(obj)
        meta = obj.get("metadata") or {}
        name = "/".join(p for p in (meta.get("namespace"), meta["name"]) if p)
        urn = f"urn:pulumi:{where}::manifest::{type_}::{name}"
        if urn in result.resources:
            raise ManifestError(f"{where}: {obj['kind']} {name} appears twice")
        result.resources[urn] = Resource(
            urn=urn, type=type_, name=name, custom=True, inputs=dict(obj)
        )
    return result
