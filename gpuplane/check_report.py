"""Renderings of a policy check: text, JSON, a PR comment (markdown) and SARIF 2.1.0."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

from gpuplane.check import CheckResult, Violation
from gpuplane.policies.catalogue import RULES
from gpuplane.policies.rule import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}
# GitHub code scanning ranks results by this property (0-10).
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def _ordered(result: CheckResult) -> list[Violation]:
    return sorted(result.violations, key=lambda v: (v.level != "mandatory", v.id, v.urn))


def text(result: CheckResult) -> str:
    lines = []
    for v in _ordered(result):
        lines.append(f"{v.level.upper():<9} {v.id:<11} {v.type}::{v.name}")
        lines.append(f"          {v.message}")
    summary = result.summary()
    verdict = "passed" if summary["passed"] else "FAILED"
    lines.append(
        f"{result.stack}: {verdict}: {summary['mandatory']} mandatory, "
        f"{summary['advisory']} advisory violation(s); {summary['policies']} policies over "
        f"{summary['resources']} resources"
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
        f"from {summary['policies']} policies over {summary['resources']} resources.",
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
    out += ["| level | rule | resource | message |", "|---|---|---|---|"]
    for v in _ordered(result):
        out.append(
            f"| {v.level} | {v.id} | `{_cell(v.type)}::{_cell(v.name)}` | {_cell(v.message)} |"
        )
    out += ["", "</details>", ""]
    return "\n".join(out)


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.description},
        "fullDescription": {"text": f"{rule.description} Source: {rule.anchor}."},
        "help": {"text": rule.remediation},
        "defaultConfiguration": {"level": _SARIF_LEVEL[rule.level]},
        "properties": {
            "tags": ["security", rule.family],
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "precision": "high",
        },
    }


def sarif(result: CheckResult, artifact: Path | None) -> str:
    """SARIF 2.1.0 for GitHub code scanning; results point at the stack file."""
    uri = artifact.as_posix() if artifact is not None else f"stacks/Pulumi.{result.stack}.yaml"
    index = {rule.id: i for i, rule in enumerate(RULES)}
    results = [
        {
            "ruleId": v.id,
            "ruleIndex": index[v.id],
            "level": _SARIF_LEVEL.get(v.level, "note"),
            "message": {"text": f"{v.message} ({v.type}::{v.name})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": 1},
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
                        "informationUri": "https://github.com/gpuplane/gpuplane",
                        "rules": [_sarif_rule(rule) for rule in RULES],
                    }
                },
                "automationDetails": {"id": f"gpuplane/{result.stack}/"},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


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
