"""`gpuplane check`: the policy pack's own CrossGuard policies over an offline graph.

Each resource's inputs reach a policy the way CrossGuard hands them over: through a
protobuf Struct (so every number is a float) and wrapped so that unknown values
raise when read. Each policy runs at the enforcement level the pack config gives it
(`remediate` counts as mandatory, as CrossGuard reports it for validate-only
policies), and a policy that reads an unknown value yields the advisory "can't be
known during preview" finding instead of a result, as `pulumi preview` does.

Where it differs from `pulumi preview --policy-pack policies`: stack rules read the
same raw inputs as resource rules here, while the engine hands AnalyzeStack each
resource's outputs (provider defaults filled in) and resource rules the inputs after
the provider's Check; and component, provider and Stack resources are left out here
but passed to stack rules by the engine. So a stack rule may see other shapes, or
unknowns, under Pulumi.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    _NotApplicableError,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from gpuplane.components.messages import did_you_mean, quote
from gpuplane.graph import ASSET, RESOURCE_REF, SECRET, UNKNOWN, Resource, ResourceGraph
from gpuplane.loader import InputError, load_json
from gpuplane.policies.catalogue import PACK_NAME, RULES
from gpuplane.policies.rule import Rule

LEVELS = ("mandatory", "advisory", "remediate", "disabled")
STACK_TYPE = "pulumi:pulumi:Stack"
# JSON schema types of rule settings, as Python values a config file can give.
_SCHEMA_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (
        isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class PolicyConfigError(InputError):
    """A policy config file that is not what `pulumi preview --policy-pack-config` takes."""


class PolicyRuntimeError(PolicyConfigError):
    """A rule failed on a resource with an unexpected error (a bug in the rule, or an input
    the rule cannot read): names the rule and the resource instead of a traceback."""


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
    rendered: int | None = None
    """Objects the Helm releases render to, when checked with --render."""

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
            **({} if self.rendered is None else {"rendered_objects": self.rendered}),
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
        level = self.levels.get(rule.name) or self.all_level or rule.level
        # CrossGuard downgrades remediate to mandatory for a policy that only validates.
        return "mandatory" if level == "remediate" else level

    def without_stack_rules(self) -> "PackConfig":
        """This config with every stack rule disabled: for objects checked on their own
        (a manifest), where a rule about the whole stack has nothing to judge."""
        off = {rule.name: "disabled" for rule in RULES if rule.is_stack}
        return PackConfig(self.all_level, {**self.levels, **off}, self.settings)

    @classmethod
    def load(cls, path: Path | None) -> "PackConfig":
        if path is None:
            return cls()
        try:
            data = load_json(path)
        except InputError as exc:
            raise PolicyConfigError(str(exc)) from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: Any, where: str = "policy config") -> "PackConfig":
        if not isinstance(data, dict):
            raise PolicyConfigError(f"{where}: must be a JSON object keyed by policy name")
        from gpuplane.render_rules import RENDER_RULES  # `check --render` reads their settings

        known = {rule.name: rule for rule in (*RULES, *RENDER_RULES)}
        all_level: str | None = None
        levels: dict[str, str] = {}
        settings: dict[str, dict[str, Any]] = {}
        problems: list[str] = []
        for key, value in data.items():
            if key == "all":
                # A level, or {"enforcementLevel": level}, as for a single policy.
                if isinstance(value, dict):
                    extra = sorted(set(value) - {"enforcementLevel"})
                    if extra:
                        problems.append(
                            f"all.{extra[0]}: unknown setting; only enforcementLevel applies "
                            "to all policies"
                        )
                    value = value.get("enforcementLevel")
                if value not in LEVELS:
                    problems.append(f"all: {quote(value)}; allowed: {', '.join(LEVELS)}")
                all_level = value
                continue
            rule = known.get(key)
            if rule is None:
                hint = did_you_mean(str(key), known)
                problems.append(f"{key[:80]}: no such policy{hint} (see `gpuplane rules`)")
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
                            f"{key}.enforcementLevel: {quote(given)}; allowed: {', '.join(LEVELS)}"
                        )
                    levels[key] = given
                elif setting not in rule.config:
                    allowed = ", ".join(["enforcementLevel", *rule.config]) or "enforcementLevel"
                    problems.append(f"{key}.{setting}: unknown setting; allowed: {allowed}")
                elif problem := _schema_problem(rule.config[setting], given):
                    problems.append(f"{key}.{setting}: {problem}")
                else:
                    settings.setdefault(key, {})[setting] = given
        if problems:
            raise PolicyConfigError(f"{where}: " + "; ".join(problems))
        return cls(all_level=all_level, levels=levels, settings=settings)


def _schema_problem(schema: Mapping[str, Any], given: Any) -> str | None:
    """What is wrong with a setting's value against its JSON schema (type and item type),
    as the engine's schema validation would refuse it; None when it is fine."""
    kind = schema.get("type")
    if kind == "array" and _item_type(schema) == "string":
        if not (isinstance(given, list) and all(isinstance(g, str) for g in given)):
            return "must be a list of strings"
        return None
    check = _SCHEMA_TYPES.get(str(kind))
    if check is not None and not check(given):
        return f"must be {'an' if kind in ('integer', 'array', 'object') else 'a'} {kind}"
    return None


def _item_type(schema: Mapping[str, Any]) -> Any:
    inner = schema.get("items")
    return inner.get("type") if isinstance(inner, Mapping) else None


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


def crossguard_props(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's inputs exactly as CrossGuard deserializes them: through a protobuf
    Struct (numbers become floats, 22 arrives as 22.0), before the unknown-checking proxy."""
    return _props(_struct(inputs))


def _checked(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if r.custom and not r.is_provider]


def check(
    graph: ResourceGraph,
    config: PackConfig | None = None,
    rules: Iterable[Rule] | None = None,
) -> CheckResult:
    """Every rule (of `rules`: default the whole pack) over every resource and the stack.

    Raises PolicyRuntimeError (a PolicyConfigError) naming the rule and the resource
    when a rule fails with an unexpected error.
    """
    config = config or PackConfig()
    rules = RULES if rules is None else rules
    resources = _checked(graph)
    result = CheckResult(stack=graph.stack, resources=len(resources))
    by_urn = {r.urn: r for r in resources}
    # Each resource's inputs go through the Struct once; every policy gets its own copy.
    structs = {r.urn: _struct(r.inputs) for r in resources}
    # A stack rule's finding with no resource of its own belongs to the stack.
    stack_name = f"{graph.project}-{graph.stack}"
    stack_urn = f"urn:pulumi:{graph.stack}::{graph.project}::{STACK_TYPE}::{stack_name}"
    for rule in rules:
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
            stack_args = StackValidationArgs(_policy_resources(resources, structs), settings)
            try:
                policy.validate(stack_args, lambda m, u=None: record(m, u, None))
            except UnknownValueError as exc:
                record(_unknown(rule, exc), None, None, level="advisory")
            except _NotApplicableError:
                pass  # as CrossGuard: reported as not applicable, never a finding
            except Exception as exc:
                raise _runtime_error(rule, f"the stack {graph.stack}", exc) from exc
            continue
        assert isinstance(policy, ResourceValidationPolicy)
        for resource in resources:
            if resource.type not in rule.resource_types:
                continue
            args = ResourceValidationArgs(
                resource.type,
                unknown_checking_proxy(_props(structs[resource.urn])),
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
            except _NotApplicableError:
                pass
            except Exception as exc:
                raise _runtime_error(rule, resource.urn, exc) from exc
    return result


def _struct(inputs: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(policy_props(dict(inputs)))
    return struct


def _props(struct: struct_pb2.Struct) -> dict[str, Any]:
    """What CrossGuard's Analyze and AnalyzeStack do with a resource's Struct."""
    return deserialize_properties(json_format.MessageToDict(struct))


def _runtime_error(rule: Rule, where: str, exc: Exception) -> PolicyRuntimeError:
    return PolicyRuntimeError(
        f"policy {rule.name} ({rule.id}) failed on {where}: {type(exc).__name__}: {exc}"
    )


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


def _policy_resources(
    resources: list[Resource], structs: Mapping[str, struct_pb2.Struct]
) -> list[PolicyResource]:
    wrapped = {
        r.urn: PolicyResource(
            r.type,
            unknown_checking_proxy(_props(structs[r.urn])),
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


__all__ = [
    "PACK_NAME",
    "CheckResult",
    "PackConfig",
    "PolicyConfigError",
    "PolicyRuntimeError",
    "Violation",
    "check",
    "crossguard_props",
]
