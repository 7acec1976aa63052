"""Renderings of a policy check: text, JSON, a PR comment (markdown) and SARIF 2.1.0."""

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gpuplane.check import CheckResult, Violation
from gpuplane.components.messages import did_you_mean
from gpuplane.loader import InputError, key_line
from gpuplane.policies.catalogue import RULES
from gpuplane.policies.rule import Rule

INFORMATION_URI = "https://github.com/gpuplane/gpuplane"
# A stack-file key a finding's message names: `gpuplane:aws.adminRoleArns`, `gcp:project`.
_KEY_IN_MESSAGE = re.compile(r"\b((?:gpuplane|aws|gcp|azure-native):[A-Za-z][\w.\[\]]*\w)")
_BY_ID = {rule.id: rule for rule in RULES}
_COLOURS = {"MANDATORY": "\033[1;31m", "ADVISORY": "\033[33m", "passed": "\033[32m"}
_RESET = "\033[0m"


def skipped_ids(skipped: Iterable[str]) -> set[str]:
    """The ids of the rules named (by id, any case, or by name; pack and render rules);
    an unknown one is refused, with the nearest id or name."""
    drop: set[str] = set()
    every = _all_rules()
    ids = {rule.id for rule in every}
    names = {rule.name: rule.id for rule in every}
    for given in skipped:
        rule_id = given.upper() if given.upper() in ids else names.get(given)
        if rule_id is None:
            hint = did_you_mean(given, [*ids, *names])
            raise InputError(f"--skip-rule: no rule {given!r}{hint} (see `gpuplane rules`)")
        drop.add(rule_id)
    return drop


def rules_without(skipped: Iterable[str]) -> tuple[Rule, ...]:
    """The pack without the rules named (see skipped_ids)."""
    drop = skipped_ids(skipped)
    return tuple(rule for rule in RULES if rule.id not in drop)


def _rule_of(rule_id: str) -> Rule | None:
    """A pack rule, or a render rule (`check --render`), by id."""
    return _BY_ID.get(rule_id) or next((r for r in _all_rules() if r.id == rule_id), None)


def stack_key(violation: Violation) -> str | None:
    """The stack-file key to change for a finding: the rule's own, or one its message names."""
    rule = _rule_of(violation.id)
    if rule is not None and rule.stack_key:
        return rule.stack_key
    match = _KEY_IN_MESSAGE.search(violation.message)
    return match.group(1) if match else None


def remediation(violation: Violation) -> str:
    """How to fix a finding, phrased as the stack-file key to change where there is one."""
    rule = _rule_of(violation.id)
    how = rule.remediation if rule is not None else ""
    if rule is not None and rule.stack_key:
        return f"change {rule.stack_key} in the stack file (on the resource: {how})"
    key = stack_key(violation)
    if key is not None:  # the finding itself names the key and what to set
        return f"change {key} in the stack file"
    if violation.message.startswith(f"[{violation.id}] cannot be known"):
        return "nothing to change: the value is known only at deploy time"
    return how + (" (no stack-file key sets this: gpuplane's program does)" if how else "")


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}
# GitHub code scanning ranks results by this property (0-10).
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _ordered(result: CheckResult) -> list[Violation]:
    return sorted(result.violations, key=lambda v: (v.level != "mandatory", v.id, v.urn))


def text(result: CheckResult, color: bool = False) -> str:
    """Findings, each with its fix, then a verdict line; ANSI colours when `color`."""

    def paint(word: str, width: int = 0) -> str:
        padded = f"{word:<{width}}"
        return f"{_COLOURS[word]}{padded}{_RESET}" if color and word in _COLOURS else padded

    lines = []
    for v in _ordered(result):
        lines.append(f"{paint(v.level.upper(), 9)} {v.id:<11} {v.type}::{v.name}")
        lines.append(f"          {v.message}")
        lines.append(f"          fix: {remediation(v)}")
    summary = result.summary()
    verdict = paint("passed") if summary["passed"] else paint("FAILED")
    if color and not summary["passed"]:
        verdict = f"{_COLOURS['MANDATORY']}FAILED{_RESET}"
    lines.append(
        f"{result.stack}: {verdict}: {summary['mandatory']} mandatory, "
        f"{summary['advisory']} advisory violation(s); {summary['policies']} policies over "
        f"{summary['resources']} resources"
        + (f" and {result.rendered} rendered objects" if result.rendered is not None else "")
    )
    return "\n".join(lines) + "\n"


def as_json(result: CheckResult) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def markdown(result: CheckResult) -> str:
    """A pull-request comment: verdict, counts by rule, then every finding."""
    summary = result.summary()
    icon = "✅" if summary["passed"] else "❌"
    out = [
        f"### {icon} gpuplane policy check: `{result.stack}`",
        "",
        f"**{summary['mandatory']} mandatory**, {summary['advisory']} advisory violation(s) "
        f"from {summary['policies']} policies over {summary['resources']} resources"
        + (
            f" and {result.rendered} objects the Helm releases render to"
            if result.rendered is not None
            else ""
        )
        + ".",
        "",
    ]
    if not result.violations:
        return "\n".join(out)
    counts = Counter((v.level, v.id, v.policy) for v in result.violations)
    out += ["| level | rule | policy | findings |", "|---|---|---|---|"]
    for (level, rule_id, policy), n in sorted(
        counts.items(), key=lambda kv: (kv[0][0] != "mandatory", kv[0][1])
    ):
        out.append(f"| {level} | {rule_id} | `{policy}` | {n} |")
    out += ["", "<details><summary>Findings</summary>", ""]
    out += ["| level | rule | resource | message | fix |", "|---|---|---|---|---|"]
    for v in _ordered(result):
        out.append(
            f"| {v.level} | {v.id} | `{_cell(v.type)}::{_cell(v.name)}` | {_cell(v.message)} "
            f"| {_cell(remediation(v))} |"
        )
    out += ["", "</details>", ""]
    return "\n".join(out)


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.description},
        "fullDescription": {"text": f"{rule.description} Source: {rule.anchor}."},
        "helpUri": f"{INFORMATION_URI}/blob/main/docs/cli.md#{rule.id.lower()}",
        "help": {
            "text": (
                f"{rule.description} Fix: "
                + (f"change {rule.stack_key} in the stack file; " if rule.stack_key else "")
                + rule.remediation
            ),
            "markdown": (
                f"**{rule.id}** {rule.description}\n\nFix: "
                + (f"change `{rule.stack_key}` in the stack file; " if rule.stack_key else "")
                + rule.remediation
                + f"\n\nSource: {rule.anchor}."
            ),
        },
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.level]},
        "properties": {
            "tags": ["security", rule.family],
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "precision": "high",
        },
    }


def _line(artifact: Path | None, key: str | None) -> int:
    """The line of `key` in the stack file (1 when there is no file, key or such line)."""
    if artifact is None or key is None:
        return 1
    try:
        return key_line(artifact, key)
    except InputError:
        return 1


def sarif(result: CheckResult, artifact: Path | None, version: str = "") -> str:
    """SARIF 2.1.0 for GitHub code scanning; each result points at the line of the
    stack-file key that decides it (line 1 where no key does)."""
    uri = artifact.as_posix() if artifact is not None else f"stacks/Pulumi.{result.stack}.yaml"
    rules = RULES if result.rendered is None else _all_rules()
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = [
        {
            "ruleId": v.id,
            "ruleIndex": index[v.id],
            "level": _SARIF_LEVEL.get(v.level, "note"),
            "message": {"text": f"{v.message} ({v.type}::{v.name}). Fix: {remediation(v)}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": _line(artifact, stack_key(v))},
                    },
                    "logicalLocations": [{"fullyQualifiedName": v.urn, "kind": "resource"}],
                }
            ],
            "partialFingerprints": {"gpuplane/v1": f"{v.id}:{v.urn}"},
        }
        for v in _ordered(result)
    ]
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gpuplane",
                        "version": version or "unknown",
                        "semanticVersion": version or "0.0.0",
                        "informationUri": INFORMATION_URI,
                        "rules": [_sarif_rule(rule) for rule in rules],
                    }
                },
                "automationDetails": {"id": f"gpuplane/{result.stack}/"},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _all_rules() -> tuple[Rule, ...]:
    """The pack's rules, then the rules only `check --render` runs."""
    from gpuplane.render_rules import RENDER_RULES

    return (*RULES, *RENDER_RULES)


def rules_text() -> str:
    lines = [f"{'id':<11} {'level':<9} {'severity':<8} name / resource types / anchor"]
    for rule in RULES:
        lines.append(f"{rule.id:<11} {rule.level:<9} {rule.severity:<8} {rule.name}")
        lines.append(
            f"{'':<30} {', '.join(rule.resource_types[:4])}"
            + (f" (+{len(rule.resource_types) - 4} more)" if len(rule.resource_types) > 4 else "")
        )
        lines.append(f"{'':<30} {rule.anchor}")
    lines.append(f"{len(RULES)} rules")
    return "\n".join(lines) + "\n"


def rules_json() -> str:
    return (
        json.dumps(
            [
                {
                    "id": r.id,
                    "name": r.name,
                    "description": r.description,
                    "level": r.level,
                    "severity": r.severity,
                    "resource_types": list(r.resource_types),
                    "anchor": r.anchor,
                    "remediation": r.remediation,
                    "stack": r.is_stack,
                    "config": {k: v.get("default") for k, v in r.config.items()},
                }
                for r in RULES
            ],
            indent=2,
        )
        + "\n"
    )
