"""Every rule of the pack, in one tuple, and the CrossGuard policies built from them."""

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from . import aws, azure, environment, gcp, helm, kubernetes, mesh, stack
from .rule import Rule

RULES: tuple[Rule, ...] = (
    *aws.RULES,
    *gcp.RULES,
    *azure.RULES,
    *kubernetes.RULES,
    *helm.RULES,
    *mesh.RULES,
    *stack.RULES,
    *environment.RULES,
)
PACK_NAME = "gpuplane"


def _unique(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    for attr in ("id", "name"):
        seen: set[str] = set()
        for rule in rules:
            value = getattr(rule, attr)
            if value in seen:
                raise ValueError(f"two rules share the {attr} {value!r}")
            seen.add(value)
    return rules


_unique(RULES)


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """One CrossGuard policy per rule: what policies/__main__.py hands the PolicyPack."""
    return [rule.policy() for rule in RULES]


def by_name() -> dict[str, Rule]:
    return {rule.name: rule for rule in RULES}
