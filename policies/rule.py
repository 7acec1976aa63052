"""A rule: one CrossGuard policy plus what a reviewer needs to know about it.

Every rule reads the literal inputs Pulumi hands a policy (camelCase wire
names). An absent key means the provider's default, which each check spells out.
Values unknown during preview raise inside CrossGuard's props proxy; CrossGuard
(and `gpuplane check`) turn that into an advisory "can't be known" finding.
"""

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

Level = Literal["mandatory", "advisory"]
SeverityName = Literal["low", "medium", "high", "critical"]
ResourceCheck = Callable[[ResourceValidationArgs, Mapping[str, Any]], Iterable[str]]
"""(args, config with defaults) -> one message per problem."""
StackCheck = Callable[[StackValidationArgs, Mapping[str, Any]], Iterable[tuple[str, str | None]]]
"""(args, config with defaults) -> (message, urn or None) per problem."""

_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
_SEVERITIES = {
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One security default, enforced by CrossGuard and by `gpuplane check` alike."""

    id: str
    """Stable id, e.g. GP-AWS-001; never reused."""
    name: str
    """The CrossGuard policy name (kebab-case); the key in a policy config file."""
    description: str
    severity: SeverityName
    level: Level
    """mandatory for what opens the cluster or its data, advisory for hygiene."""
    remediation: str
    anchor: str
    """Where the rule comes from: a CIS id, a Checkov id, a PSS control."""
    resource_types: tuple[str, ...]
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON schema of the rule's settings, each with a `default`."""
    stack_key: str | None = None
    """The stack-file key that decides what this rule checks, where there is one
    (`gpuplane:cluster.endpoint.publicAccessCidrs`); reports name it as the fix."""

    def __post_init__(self) -> None:
        if (self.check is None) == (self.stack_check is None):
            raise ValueError(f"{self.id}: give exactly one of check and stack_check")

    @property
    def family(self) -> str:
        return self.id.split("-")[1].lower()

    @property
    def is_stack(self) -> bool:
        return self.stack_check is not None

    def settings(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """The rule's config: schema defaults overlaid with what the pack config gives."""
        values = {key: schema.get("default") for key, schema in self.config.items()}
        values.update(given or {})
        return values

    def policy(self) -> ResourceValidationPolicy | StackValidationPolicy:
        """The CrossGuard policy object (the one the pack and `gpuplane check` run)."""
        common: dict[str, Any] = {
            "name": self.name,
            "description": f"{self.id}: {self.description}",
            "enforcement_level": _LEVELS[self.level],
            "severity": _SEVERITIES[self.severity],
            "remediation_steps": self.remediation,
            "tags": [self.id, self.family],
        }
        if self.config:
            common["config_schema"] = PolicyConfigSchema(
                properties={k: dict(v) for k, v in self.config.items()}
            )
        if self.stack_check is not None:
            return StackValidationPolicy(validate=self._validate_stack, **common)
        return ResourceValidationPolicy(validate=self._validate_resource, **common)

    def _validate_resource(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in self.resource_types:
            return
        assert self.check is not None
        for message in self.check(args, self.settings(args.get_config())):
            report(f"[{self.id}] {message}")

    def _validate_stack(self, args: StackValidationArgs, report: ReportViolation) -> None:
        assert self.stack_check is not None
        for message, urn in self.stack_check(args, self.settings(args.get_config())):
            report(f"[{self.id}] {message}", urn)


def string_list(default: list[str], description: str) -> dict[str, Any]:
    """The JSON schema of a list-of-strings setting."""
    return {
        "type": "array",
        "items": {"type": "string"},
        "default": default,
        "description": description,
    }


def is_anywhere(cidr: Any) -> bool:
    """0.0.0.0/0 or ::/0, however it is spelled (a prefix of length 0)."""
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def dig(props: Any, *path: str | int, default: Any = None) -> Any:
    """props[a][b]... or `default` where a key is absent or null (the provider's default).

    An explicit null (legal in YAML-sourced manifests) means the same as an absent key.
    """
    value = props
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or key >= len(value):
                return default
        elif not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return default if value is None else value


def items(value: Any) -> list[Any]:
    """A list input as a list (absent, null or not a list at all as empty)."""
    if value is None or isinstance(value, str | bytes | Mapping):
        return []
    try:
        return list(value)
    except TypeError:
        return []


def num(value: Any) -> Any:
    """A number as a person writes it: CrossGuard hands every number over as a float
    (protobuf Struct), so 22.0 prints as 22; anything else is left as it is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
