"""ResourceGraph: every resource a program registered, with its inputs and options.

The JSON form is documented in docs/graph-format.md and is stable: version 1.
"""

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpuplane.loader import InputError, load_json

FORMAT_VERSION = 1
SECRET = "@secret"
RESOURCE_REF = "@resource"
UNKNOWN = "@unknown"
ASSET = "@asset"


class GraphFormatError(InputError):
    """A graph file that is not gpuplane's graph JSON."""


@dataclass(frozen=True)
class Resource:
    """One registered resource."""

    urn: str
    type: str
    name: str
    custom: bool
    remote: bool = False
    parent: str | None = None
    provider: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False
    ignore_changes: tuple[str, ...] = ()
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    replace_on_changes: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    deleted_with: str | None = None

    @property
    def is_component(self) -> bool:
        return not self.custom

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    @property
    def package(self) -> str:
        """`kubernetes` for `kubernetes:apps/v1:Deployment` and `pulumi:providers:kubernetes`."""
        if self.is_provider:
            return self.type.split(":")[2]
        return self.type.split(":")[0]

    def get(self, path: str, default: Any = None) -> Any:
        """An input by dotted path: `metadata.namespace`."""
        value: Any = self.inputs
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "remote": self.remote,
            "parent": self.parent,
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "propertyDependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "inputs": self.inputs,
            "protect": self.protect,
            "ignoreChanges": list(self.ignore_changes),
            "deleteBeforeReplace": self.delete_before_replace,
            "retainOnDelete": self.retain_on_delete,
            "replaceOnChanges": list(self.replace_on_changes),
            "additionalSecretOutputs": list(self.additional_secret_outputs),
            "customTimeouts": dict(self.custom_timeouts),
            "deletedWith": self.deleted_with,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Resource":
        try:
            return cls(
                urn=data["urn"],
                type=data["type"],
                name=data["name"],
                custom=bool(data["custom"]),
                remote=bool(data.get("remote", False)),
                parent=data.get("parent"),
                provider=data.get("provider"),
                dependencies=tuple(data.get("dependencies", ())),
                property_dependencies={
                    k: tuple(v) for k, v in data.get("propertyDependencies", {}).items()
                },
                inputs=dict(data.get("inputs", {})),
                protect=bool(data.get("protect", False)),
                ignore_changes=tuple(data.get("ignoreChanges", ())),
                delete_before_replace=bool(data.get("deleteBeforeReplace", False)),
                retain_on_delete=bool(data.get("retainOnDelete", False)),
                replace_on_changes=tuple(data.get("replaceOnChanges", ())),
                additional_secret_outputs=tuple(data.get("additionalSecretOutputs", ())),
                custom_timeouts=dict(data.get("customTimeouts", {})),
                deleted_with=data.get("deletedWith"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise GraphFormatError(f"resource entry is missing or mistypes {exc}") from None


@dataclass
class ResourceGraph:
    """The resources of one stack, keyed by URN, and the stack's outputs."""

    project: str
    stack: str
    resources: dict[str, Resource] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())

    def __len__(self) -> int:
        return len(self.resources)

    def get(self, urn: str) -> Resource:
        return self.resources[urn]

    def by_type(self, type_: str) -> list[Resource]:
        return [r for r in self if r.type == type_]

    def named(self, name: str) -> Resource:
        """The one resource with this logical name."""
        found = [r for r in self if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources are named {name!r}")
        return found[0]

    def children(self, urn: str | None) -> list[Resource]:
        return [r for r in self if r.parent == urn]

    def roots(self) -> list[Resource]:
        """Resources whose parent is the stack itself (or absent)."""
        return [r for r in self if r.parent is None or r.parent not in self.resources]

    def ancestors(self, urn: str) -> list[Resource]:
        out: list[Resource] = []
        parent = self.resources[urn].parent
        while parent in self.resources:
            out.append(self.resources[parent])
            parent = self.resources[parent].parent
        return out

    def counts_by_type(self) -> Counter[str]:
        return Counter(r.type for r in self)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "project": self.project,
            "stack": self.stack,
            "resources": [self.resources[urn].to_json() for urn in sorted(self.resources)],
            "outputs": {k: self.outputs[k] for k in sorted(self.outputs)},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> "ResourceGraph":
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise GraphFormatError(
                f'not a gpuplane graph: expected an object with "version": {FORMAT_VERSION} '
                "(the output of `gpuplane plan --format json`)"
            )
        if not isinstance(data.get("resources"), list):
            raise GraphFormatError('not a gpuplane graph: "resources" must be a list')
        graph = cls(project=str(data.get("project", "")), stack=str(data.get("stack", "")))
        for entry in data["resources"]:
            if not isinstance(entry, dict):
                raise GraphFormatError("not a gpuplane graph: each resource must be an object")
            resource = Resource.from_json(entry)
            graph.resources[resource.urn] = resource
        graph.outputs = dict(data.get("outputs", {}))
        return graph

    @classmethod
    def loads(cls, text: str) -> "ResourceGraph":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphFormatError(f"not JSON: {exc}") from None
        return cls.from_json(data)

    @classmethod
    def load(cls, path: Path) -> "ResourceGraph":
        """A graph file, read by the one loader (UTF-8, every key once)."""
        data = load_json(path)
        try:
            return cls.from_json(data)
        except GraphFormatError as exc:
            raise GraphFormatError(f"{path}: {exc}") from None
