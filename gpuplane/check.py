"""`gpuplane check`: the policy pack's own CrossGuard policies over an offline graph.

Each resource's inputs are wrapped the way CrossGuard wraps them (unknown values
raise when read), each policy runs at the enforcement level the pack config gives
it, and a policy that reads an unknown value yields the advisory "can't be known
during preview" finding instead of a result, as `pulumi preview` does.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pulumi_policy import (
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from gpuplane.graph import ASSET, RESOURCE_REF, SECRET, UNKNOWN, Resource, ResourceGraph
from policies.catalogue import PACK_NAME, RULES
from policies.rule import Rule

LEVELS = ("mandatory", "advisory", "disabled")
STACK_TYPE = "pulumi:pulumi:Stack"


class PolicyConfigError(ValueError):
    """A policy config file that is not what `pulumi preview --policy-pack-config` takes."""


@dataclass(frozen=True)
class Violation:
    id: str
    policy: str
    level: str
    severity: str
    urn: str
    type: str
    name: str
    message: str


@dataclass
class CheckResult:
    stack: str
    resources: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    def summary(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": self.resources,
            "policies": len(RULES),
            "mandatory": len(self.mandatory),
            "advisory": len(self.advisory),
            "passed": not self.mandatory,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "violations": [asdict(v) for v in self.violations],
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class PackConfig:
    """What a policy config file says: a level for all or some policies, and settings."""

    all_level: str | None = None
    levels: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def level(self, rule: Rule) -> str:
        return self.levels.get(rule.name) or self.all_level or rule.level

    @classmethod
    def load(cls, path: Path | None) -> "PackConfig":
        if path is None:
            return cls()
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise PolicyConfigError(f"cannot read {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise PolicyConfigError(f"{path} is not JSON: {exc}") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: Any, where: str = "policy config") -> "PackConfig":
        if not isinstance(data, dict):
            raise PolicyConfigError(f"{where}: must be a JSON object keyed by policy name")
        known = {rule.name: rule for rule in RULES}
        all_level: str | None = None
        levels: dict[str, str] = {}
        settings: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        for key, value in data.items():
            if key == "all":
                if value not in LEVELS:
                    problems.append(f"all: {value!r}; allowed: {', '.join(LEVELS)}")
                all_level = value
                continue
            rule = known.get(key)
            if rule is None:
                problems.append(f"{key}: no such policy (see `gpuplane rules`)")
                continue
            if isinstance(value, str):
                value = {"enforcementLevel": value}
            if not isinstance(value, dict):
                problems.append(f"{key}: must be a level or an object")
                continue
            for setting, given in value.items():
                if setting == "enforcementLevel":
                    if given not in LEVELS:
                        problems.append(
                            f"{key}.enforcementLevel: {given!r}; allowed: {', '.join(LEVELS)}"
                        )
                    levels[key] = given
                elif setting not in rule.config:
                    allowed = ", ".join(["enforcementLevel", *rule.config]) or "enforcementLevel"
                    problems.append(f"{key}.{setting}: unknown setting; allowed: {allowed}")
                elif rule.config[setting].get("type") == "array" and not (
                    isinstance(given, list) and all(isinstance(g, str) for g in given)
                ):
                    problems.append(f"{key}.{setting}: must be a list of strings")
                else:
                    settings.setdefault(key, {})[setting] = given
        if problems:
            raise PolicyConfigError(f"{where}: " + "; ".join(problems))
        return cls(all_level=all_level, levels=levels, settings=settings)


def policy_props(value: Any) -> Any:
    """Graph inputs as CrossGuard sees them: unknowns as its sentinel, refs as URNs."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == SECRET:
                return inner
            if key == RESOURCE_REF:
                return inner
            if key == ASSET:
                return inner
        return {k: policy_props(v) for k, v in value.items()}
    if isinstance(value, list):
        return [policy_props(v) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    return value


def _checked(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.custom and not r.is_provider]


def check(graph: ResourceGraph, config: PackConfig | None = None) -> CheckResult:
    """Every rule over every resource (and the stack) of `graph`."""
    config = config or PackConfig()
    resources = _checked(graph)
    result = CheckResult(stack=graph.stack, resources=len(resources))
    by_urn = {r.urn: r for r in resources}
    # A stack rule's finding with no resource of its own belongs to the stack.
    stack_name = f"{graph.project}-{graph.stack}"
    stack_urn = f"urn:pulumi:{graph.stack}::{graph.project}::{STACK_TYPE}::{stack_name}"
    for rule in RULES:
        level = config.level(rule)
        if level == "disabled":
            continue
        policy = rule.policy()
        settings = config.settings.get(rule.name)

        def record(
            message: str,
            urn: str | None,
            target: Resource | None,
            *,
            rule: Rule = rule,
            level: str = level,
        ) -> None:
            target = by_urn.get(urn or "") or target
            result.violations.append(
                Violation(
                    id=rule.id,
                    policy=rule.name,
                    level=level,
                    severity=rule.severity,
                    urn=target.urn if target else (urn or stack_urn),
                    type=target.type if target else STACK_TYPE,
                    name=target.name if target else stack_name,
                    message=message,
                )
            )

        if isinstance(policy, StackValidationPolicy):
            stack_args = StackValidationArgs(_policy_resources(resources), settings)
            try:
                policy.validate(stack_args, lambda m, u=None: record(m, u, None))
            except UnknownValueError as exc:
                record(_unknown(rule, exc), None, None, level="advisory")
            continue
        assert isinstance(policy, ResourceValidationPolicy)
        for resource in resources:
            if resource.type not in rule.resource_types:
                continue
            args = ResourceValidationArgs(
                resource.type,
                unknown_checking_proxy(policy_props(resource.inputs)),
                resource.urn,
                resource.name,
                _options(resource),
                None,
                settings,
            )
            try:
                policy.validate(args, lambda m, u=None, r=resource: record(m, u, r))
            except UnknownValueError as exc:
                # As CrossGuard does: the policy cannot run; an advisory note, never a block.
                record(_unknown(rule, exc), None, resource, level="advisory")
    return result


def _unknown(rule: Rule, exc: UnknownValueError) -> str:
    return f"[{rule.id}] cannot be known during preview, so not checked: {exc.message}"


def _options(resource: Resource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=resource.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(resource.additional_secret_outputs),
        parent=resource.parent,
    )


def _policy_resources(resources: list[Resource]) -> list[PolicyResource]:
    wrapped = {
        r.urn: PolicyResource(
            r.type,
            unknown_checking_proxy(policy_props(r.inputs)),
            r.urn,
            r.name,
            _options(r),
            None,
            None,
            [],
            {},
        )
        for r in resources
    }
    for r in resources:
        policy_resource = wrapped[r.urn]
        policy_resource.parent = wrapped.get(r.parent or "")
        policy_resource.dependencies.extend(wrapped[d] for d in r.dependencies if d in wrapped)
        for key, urns in r.property_dependencies.items():
            policy_resource.property_dependencies[key] = [wrapped[u] for u in urns if u in wrapped]
    return list(wrapped.values())


__all__ = ["PACK_NAME", "CheckResult", "PackConfig", "PolicyConfigError", "Violation", "check"]
