"""The project on disk: Pulumi.yaml, its stack files, and their config as Pulumi passes it.

Pulumi hands config to the program as strings keyed `namespace:key` (objects and
lists as JSON); `StackConfig.values` holds exactly that, merged the way Pulumi
merges project-level values and defaults with the stack file.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpuplane.loader import InputError, load_yaml

DEFAULT_STACK = "local"
SECRET_PLACEHOLDER = "[secret]"


class StackError(InputError):
    """A project or stack file that cannot be used."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory."""

    root: Path
    name: str
    stack_dir: Path
    config: dict[str, Any]
    """Pulumi.yaml `config:`: keys -> a value, or a declaration with `default`/`value`."""

    def stack_names(self) -> list[str]:
        return sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml")
            for p in self.stack_dir.glob("Pulumi.*.yaml")
        )

    def stack_file(self, name: str) -> Path:
        return self.stack_dir / f"Pulumi.{name}.yaml"


@dataclass(frozen=True)
class StackConfig:
    """One stack's config, as the Pulumi engine would pass it to the program."""

    project: str
    name: str
    project_dir: Path
    path: Path | None
    values: dict[str, str]
    secret_keys: tuple[str, ...] = ()

    @property
    def disabled_default_providers(self) -> tuple[str, ...]:
        raw = self.values.get("pulumi:disable-default-providers")
        return tuple(json.loads(raw)) if raw else ()


def _read_yaml(path: Path) -> Any:
    try:
        return load_yaml(path)
    except InputError as exc:
        raise StackError(str(exc)) from None


def find_project(start: Path | None = None) -> Project:
    """The nearest directory at or above `start` (default: cwd) with a Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        path = directory / "Pulumi.yaml"
        if path.is_file():
            data = _read_yaml(path)
            if not isinstance(data, dict) or "name" not in data:
                raise StackError(f"{path} has no project name")
            stack_dir = directory / str(data.get("stackConfigDir") or ".")
            return Project(
                root=directory,
                name=str(data["name"]),
                stack_dir=stack_dir,
                config=dict(data.get("config") or {}),
            )
    raise StackError(f"no Pulumi.yaml in {here} or any directory above it")


def wire_value(value: Any) -> str:
    """A config value as Pulumi passes it to a program: a string, objects as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def _strip_secure(value: Any) -> tuple[Any, bool]:
    """Replace `{secure: ...}` leaves (undecryptable offline) with a placeholder."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], secret = _strip_secure(v)
            found |= secret
        return out, found
    if isinstance(value, list):
        items = [_strip_secure(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_stack(project: Project, name: str | None = None, path: Path | None = None) -> StackConfig:
    """A stack's config by name (stacks/Pulumi.<name>.yaml) or by file path."""
    if path is None:
        name = name or DEFAULT_STACK
        path = project.stack_file(name)
        if not path.is_file():
            known = ", ".join(project.stack_names()) or "none"
            raise StackError(f"no stack {name!r}: {path} does not exist (stacks here: {known})")
    elif name is None:
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    data = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StackError(f"{path} must be a mapping with a `config:` section")
    if data.get("environment"):
        raise StackError(
            f"{path} imports Pulumi ESC environments, which cannot be resolved offline"
        )
    stack_config = data.get("config") or {}
    if not isinstance(stack_config, dict):
        raise StackError(f"{path}: `config:` must be a mapping of keys to values")
    return stack_from_mapping(project, name, stack_config, path=path)


def stack_from_mapping(
    project: Project, name: str, stack_config: dict[str, Any], path: Path | None = None
) -> StackConfig:
    """A stack whose `config:` section is given as a mapping, merged with Pulumi.yaml."""
    merged: dict[str, Any] = {}
    for key, declared in project.config.items():
        full = _full_key(project.name, key)
        if isinstance(declared, dict) and ("value" in declared or "default" in declared):
            merged[full] = declared.get("value", declared.get("default"))
        elif not isinstance(declared, dict):
            merged[full] = declared
    for key, value in stack_config.items():
        merged[_full_key(project.name, str(key))] = value

    values: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in merged.items():
        plain, secret = _strip_secure(value)
        values[key] = wire_value(plain)
        if secret:
            secrets.append(key)
    return StackConfig(
        project=project.name,
        name=name,
        project_dir=project.root,
        path=path,
        values=values,
        secret_keys=tuple(sorted(secrets)),
    )
