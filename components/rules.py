"""Rules shared by the components and the YAML config layer: one rule, one place.

A component checks its own args with its rule function and raises `ArgsError`;
the config layer (config.py) runs the same function and reports the problems
under the Pulumi config keys. A rule names keys through `key`, so each caller
gets its own spelling: `knative.request_timeout` from Python,
`gpuplane:serving.knative.requestTimeout` from a stack file.
"""

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

import pulumi

from gpuplane.components.messages import quote

_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")

KeyName = Callable[[str], str]
"""Renders a snake_case key path (`knative.request_timeout`) in the caller's idiom."""


class ArgsError(pulumi.RunError):
    """A component's args break a rule. Pulumi prints a RunError without a traceback."""

    def __init__(self, component: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid {component} args ({len(problems)} problem(s)):\n{lines}")


def python_key(path: str) -> str:
    """The key as a Python caller writes it: `knative.request_timeout`."""
    return path


def leaf(key: KeyName, path: str) -> str:
    """A key's last name as the caller spells it: `max_nodes`, or `maxNodes` in a stack
    file (for messages that name a sibling key)."""
    return key(path).rsplit(".", 1)[-1]


def camel_key(prefix: str) -> KeyName:
    """Keys as a stack file spells them: prefix + camelCase path."""

    def render(path: str) -> str:
        parts = [re.sub(r"_([a-z])", lambda m: m.group(1).upper(), p) for p in path.split(".")]
        return prefix + ".".join(parts)

    return render


def duration_seconds(value: str) -> int:
    """`1h30m` -> 5400."""
    match = _DURATION.match(value)
    if not value or not match:
        raise ValueError(f"must be a duration like 30s, 10m or 1h30m, given {quote(value)}")
    hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def unknown_keys(value: object, args_type: type, key: KeyName, path: str = "") -> list[str]:
    """Keys of `value` (a dict given for the TypedDict `args_type`) that it does not
    declare, and the same for nested TypedDicts it names: a misspelt or camelCase key
    is refused rather than silently ignored."""
    if not isinstance(value, dict):
        return []
    declared = getattr(args_type, "__annotations__", {})
    problems = []
    for name, item in value.items():
        where = f"{path}{name}"
        if name not in declared:
            allowed = ", ".join(sorted(declared))
            problems.append(f"{key(where)}: unknown key; allowed: {allowed}")
            continue
        nested = _typed_dict(declared[name])
        if nested is not None:
            items = item if isinstance(item, list | tuple) else [item]
            for i, entry in enumerate(items):
                index = f"[{i}]" if isinstance(item, list | tuple) else ""
                problems.extend(unknown_keys(entry, nested, key, f"{where}{index}."))
    return problems


def _typed_dict(annotation: object) -> type | None:
    """The TypedDict an annotation names, through NotRequired, Sequence and Input."""
    import typing

    if typing.is_typeddict(annotation):
        return annotation  # type: ignore[return-value]
    for arg in typing.get_args(annotation):
        found = _typed_dict(arg)
        if found is not None:
            return found
    return None


def choice_problems(value: object, choices: type[StrEnum], key: str) -> list[str]:
    """`value` must be one of a StrEnum's values (a member or its string)."""
    if value in [c.value for c in choices]:
        return []
    return [f"{key}: given {quote(value)}; allowed: {', '.join(c.value for c in choices)}"]


def whole_number_problems(args: Mapping[str, Any], name: str, bounds: tuple[int, int]) -> list[str]:
    """`args[name]`, when given, must be a whole number within `bounds`."""
    if name not in args:
        return []
    value, (low, high) = args[name], bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [f"{name}: must be a whole number from {low} to {high}, given {quote(value)}"]
    return []


def check(component: str, problems: list[str]) -> None:
    """Raise ArgsError when there is any problem."""
    if problems:
        raise ArgsError(component, problems)
