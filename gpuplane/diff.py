"""`gpuplane diff`: a stack planned at a git ref and in the working tree, compared.

The base is planned in a temporary git worktree by that ref's own code (a
subprocess whose import path is the worktree), so the comparison is the change
a pull request makes: resources added, removed and changed (with the input paths
that changed), the idle and peak cost delta, policy violations it introduces or
fixes (the working tree's pack judges both), and the deploy estimate delta.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpuplane.check import Violation, check
from gpuplane.cost import cost
from gpuplane.estimate import estimate
from gpuplane.graph import SECRET, ResourceGraph


class DiffError(RuntimeError):
    """The base ref cannot be planned (not a ref, not a gpuplane project, plan failed)."""


_PLAN = "import sys; from gpuplane.cli import main; sys.argv = ['gpuplane', *sys.argv[1:]]; main()"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the diff is so its worktree is removed on the way out."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While a worktree exists, SIGTERM unwinds like Ctrl-C (SIGINT): `finally` blocks run
    and the worktree is removed, instead of the process dying with it left behind."""

    def raise_terminated(signum: int, frame: Any) -> None:
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def plan_at_ref(project_dir: Path, ref: str, stack: str) -> ResourceGraph | None:
    """The stack's graph at `ref`, or None if the stack does not exist there.

    The base is planned in a temporary git worktree, removed however the diff ends:
    normally, on an error, on Ctrl-C (SIGINT) or on SIGTERM.
    """
    with _terminate_as_interrupt():
        return _plan_at_ref(project_dir, ref, stack)


def _plan_at_ref(project_dir: Path, ref: str, stack: str) -> ResourceGraph | None:
    root = _git(project_dir, "rev-parse", "--show-toplevel").strip()
    commit = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    if not commit:
        raise DiffError(f"{ref!r} is not a commit in this repository")
    prefix = Path(project_dir).resolve().relative_to(Path(root).resolve())
    with tempfile.TemporaryDirectory(prefix="gpuplane-diff-") as tmp:
        tree = Path(tmp) / "base"
        try:
            # Made whole or not at all: a signal waits until git has finished adding it.
            with _signals_held():
                _git(project_dir, "worktree", "add", "--detach", "--quiet", str(tree), commit)
            base_project = tree / prefix
            if not (base_project / "stacks" / f"Pulumi.{stack}.yaml").is_file():
                return None
            env = {**os.environ, "PYTHONPATH": str(base_project)}
            result = subprocess.run(
                [sys.executable, "-c", _PLAN, "plan", "--stack", stack, "--format", "json"],
                cwd=base_project,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise DiffError(
                    f"planning {stack} at {ref} failed:\n{result.stderr.strip()[-2000:]}"
                )
            return ResourceGraph.loads(result.stdout)
        finally:
            # Not interruptible itself: a second signal must not leave the worktree behind.
            with _signals_held():
                with contextlib.suppress(DiffError):  # never added: nothing to remove
                    _git(project_dir, "worktree", "remove", "--force", str(tree))
                _git(project_dir, "worktree", "prune")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0 and args[:2] != ("rev-parse", "--verify"):
        raise DiffError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


SECRET_SHOWN = "[secret]"
# Input keys that are a resource's physical name: a change creates a new resource and
# deletes the old one (EKS and GKE clusters, buckets, AKS and Azure names, node groups,
# Kubernetes objects' metadata.name and namespace).
REPLACING_KEYS = (
    "name",
    "bucket",
    "clusterName",
    "nodeGroupName",
    "resourceName",
    "resourceGroupName",
    "accountName",
    "vaultName",
    "containerName",
    "keyName",
    "location",
    "region",
    "metadata.name",
    "metadata.namespace",
)
_SECRET_WORDS = ("password", "secret", "token", "kubeconfig", "privatekey", "credential")


def _shown(value: Any, path: str) -> Any:
    """A value as the diff shows it: secrets redacted, long values cut."""
    if _is_secret(value) or any(w in path.lower().replace("_", "") for w in _SECRET_WORDS):
        return SECRET_SHOWN
    if isinstance(value, str | int | float | bool) or value is None:
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    if isinstance(text, str) and len(text) > 80:
        return text[:77] + "..."
    return text


def _is_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return SECRET in value or any(_is_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secret(v) for v in value)
    return False


def changes(before: Any, after: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Each changed input as {path, old, new} (absent as None), secrets redacted."""
    out: list[dict[str, Any]] = []
    if (
        isinstance(before, dict)
        and isinstance(after, dict)
        and not (SECRET in before or SECRET in after)
    ):
        for key in sorted(set(before) | set(after)):
            path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(changes(before.get(key), after.get(key), path))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            out.extend(changes(a, b, f"{prefix}[{i}]"))
        return out
    if before == after:
        return []
    path = prefix or "(value)"
    if _is_secret(before) or _is_secret(after):  # a secret on either side: neither shown
        return [{"path": path, "old": SECRET_SHOWN, "new": SECRET_SHOWN}]
    return [{"path": path, "old": _shown(before, path), "new": _shown(after, path)}]


def replaces(resource: Any, paths: list[str]) -> list[str]:
    """The changed paths that replace the resource: its physical name, its location, or
    what its replaceOnChanges option lists."""
    triggers = (*REPLACING_KEYS, *resource.replace_on_changes)
    return [
        path
        for path in paths
        if any(path == t or path.startswith((f"{t}.", f"{t}[")) for t in triggers)
    ]


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between two input trees."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in before or key not in after:
                out.append(path)
            else:
                out.extend(changed_paths(before[key], after[key], path))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            out.extend(changed_paths(a, b, f"{prefix}[{i}]"))
        return out
    return [] if before == after else [prefix or "(value)"]


@dataclass
class Diff:
    stack: str
    base_ref: str
    added: list[dict[str, str]] = field(default_factory=list)
    removed: list[dict[str, str]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    cost: dict[str, float] = field(default_factory=dict)
    violations: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    estimate: dict[str, float] = field(default_factory=dict)

    @property
    def any_change(self) -> bool:
        """Whether the stack's resources change at all (what `--exit-code` reports)."""
        return bool(self.added or self.removed or self.changed)

    @property
    def replaced(self) -> list[dict[str, Any]]:
        return [c for c in self.changed if c.get("replaces")]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "base": self.base_ref,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "cost": self.cost,
            "violations": self.violations,
            "estimate": self.estimate,
        }


_OPTIONS = (
    "dependencies",
    "protect",
    "ignore_changes",
    "delete_before_replace",
    "retain_on_delete",
    "replace_on_changes",
    "parent",
    "provider",
)


def _brief(resource: Any) -> dict[str, str]:
    return {"urn": resource.urn, "type": resource.type, "name": resource.name}


def compare(
    base: ResourceGraph | None,
    head: ResourceGraph,
    base_ref: str,
    violations: Callable[[ResourceGraph], list[Violation]] | None = None,
) -> Diff:
    """What changes from `base` (None: the stack is new) to `head`."""
    base = base or ResourceGraph(project=head.project, stack=head.stack)
    diff = Diff(stack=head.stack, base_ref=base_ref)
    for urn in sorted(set(head.resources) - set(base.resources)):
        diff.added.append(_brief(head.get(urn)))
    for urn in sorted(set(base.resources) - set(head.resources)):
        diff.removed.append(_brief(base.get(urn)))
    for urn in sorted(set(base.resources) & set(head.resources)):
        old_r, new_r = base.get(urn), head.get(urn)
        paths = changed_paths(old_r.inputs, new_r.inputs)
        values = changes(old_r.inputs, new_r.inputs)
        # Options change what the engine does too (ordering, protection, deletion).
        for option in _OPTIONS:
            if getattr(old_r, option) != getattr(new_r, option):
                paths.append(f"({option})")
                values.append(
                    {
                        "path": f"({option})",
                        "old": _shown(getattr(old_r, option), option),
                        "new": _shown(getattr(new_r, option), option),
                    }
                )
        if paths:
            entry = {**_brief(head.get(urn)), "paths": paths, "changes": values}
            entry["replaces"] = replaces(new_r, paths) if new_r.custom else []
            diff.changed.append(entry)

    before, after = (cost(base) if base.resources else None), cost(head)
    for key in ("idle_hourly", "peak_hourly", "idle_monthly", "peak_monthly"):
        old = float(before.to_json()[key]) if before else 0.0
        new = float(after.to_json()[key])
        diff.cost[f"{key}_base"] = round(old, 4)
        diff.cost[f"{key}_head"] = round(new, 4)
        diff.cost[f"{key}_delta"] = round(new - old, 4)
    # What the delta cannot show: items neither table prices.
    diff.cost["unpriced_base"] = len(before.unpriced) if before else 0
    diff.cost["unpriced_head"] = len(after.unpriced)

    def keyed(graph: ResourceGraph) -> dict[tuple[str, str, str], dict[str, str]]:
        if not graph.resources:
            return {}
        return {
            (v.id, v.urn, v.message): {
                "id": v.id,
                "level": v.level,
                "urn": v.urn,
                "message": v.message,
            }
            for v in (violations(graph) if violations else check(graph).violations)
        }

    old_v, new_v = keyed(base), keyed(head)
    diff.violations = {
        "new": [new_v[k] for k in sorted(set(new_v) - set(old_v))],
        "fixed": [old_v[k] for k in sorted(set(old_v) - set(new_v))],
    }
    old_e = estimate(base).critical_path_minutes if base.resources else 0.0
    new_e = estimate(head).critical_path_minutes
    diff.estimate = {
        "critical_path_minutes_base": round(old_e, 1),
        "critical_path_minutes_head": round(new_e, 1),
        "critical_path_minutes_delta": round(new_e - old_e, 1),
    }
    return diff


def _value(value: Any) -> str:
    return "(absent)" if value is None else str(value).replace("|", "/").replace("\n", " ")


def _money(value: float) -> str:
    return f"{'+' if value > 0 else ''}{value:,.2f}"


def markdown(diff: Diff) -> str:
    c, e, v = diff.cost, diff.estimate, diff.violations
    lines = [
        f"### gpuplane diff: `{diff.stack}` against `{diff.base_ref}`",
        "",
        f"**{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed**"
        f" · idle {_money(c['idle_monthly_delta'])} USD/month"
        f" (now {c['idle_monthly_head']:,.2f}) · peak {_money(c['peak_monthly_delta'])} USD/month"
        f" · deploy {e['critical_path_minutes_delta']:+.1f} min"
        f" (now about {e['critical_path_minutes_head']:.0f})"
        f" · {len(v['new'])} new, {len(v['fixed'])} fixed policy violation(s)",
        "",
    ]
    if c["unpriced_head"] != c["unpriced_base"]:
        lines += [
            f"Unpriced items: {c['unpriced_base']} -> {c['unpriced_head']} "
            "(`gpuplane cost` lists them): the cost delta leaves them out.",
            "",
        ]
    if diff.replaced:
        lines += [
            f"⚠️ **{len(diff.replaced)} resource(s) replaced** (a new one is created and the "
            "old one deleted): "
            + ", ".join(
                f"`{c['name']}` ({', '.join(c['replaces'][:3])})" for c in diff.replaced[:10]
            ),
            "",
        ]
    if v["new"]:
        lines += ["| new violation | level | resource | message |", "|---|---|---|---|"]
        lines += [
            f"| {x['id']} | {x['level']} | `{x['urn'].rsplit('::', 1)[-1]}` | "
            f"{x['message'].replace('|', '/')} |"
            for x in v["new"]
        ]
        lines.append("")
    sections = (("added", diff.added), ("removed", diff.removed), ("changed", diff.changed))
    for title, entries in sections:
        if not entries:
            continue
        lines += [f"<details><summary>{title} ({len(entries)})</summary>", ""]
        for entry in entries:
            mark = " **replaces**" if entry.get("replaces") else ""
            lines.append(f"- `{entry['type']}` **{entry['name']}**{mark}")
            for change in entry.get("changes", [])[:8]:
                lines.append(
                    f"  - `{change['path']}`: `{_value(change['old'])}` → `{_value(change['new'])}`"
                )
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def text(diff: Diff) -> str:
    c, e, v = diff.cost, diff.estimate, diff.violations
    lines = [f"{diff.stack} against {diff.base_ref}:"]
    lines += [f"  + {x['type']} {x['name']}" for x in diff.added]
    lines += [f"  - {x['type']} {x['name']}" for x in diff.removed]
    for x in diff.changed:
        mark = f" (replaces: {', '.join(x['replaces'])})" if x.get("replaces") else ""
        lines.append(f"  ~ {x['type']} {x['name']}{mark}")
        lines += [
            f"      {c['path']}: {_value(c['old'])} -> {_value(c['new'])}"
            for c in x.get("changes", [])
        ]
    lines.append(
        f"resources: {len(diff.added)} added, {len(diff.removed)} removed, "
        f"{len(diff.changed)} changed ({len(diff.replaced)} replaced)"
    )
    lines.append(
        f"cost: idle {_money(c['idle_hourly_delta'])}/h ({_money(c['idle_monthly_delta'])}/month),"
        f" peak {_money(c['peak_hourly_delta'])}/h ({_money(c['peak_monthly_delta'])}/month) USD"
    )
    lines.append(f"unpriced items: {c['unpriced_base']} -> {c['unpriced_head']}")
    lines.append(
        f"estimate: {e['critical_path_minutes_base']:.1f} -> "
        f"{e['critical_path_minutes_head']:.1f} min"
    )
    lines.append(f"policy: {len(v['new'])} new, {len(v['fixed'])} fixed violation(s)")
    lines += [f"  new {x['level']} {x['id']}: {x['message']}" for x in v["new"]]
    lines += [f"  fixed {x['id']}: {x['message']}" for x in v["fixed"]]
    return "\n".join(lines) + "\n"


def as_json(diff: Diff) -> str:
    return json.dumps(diff.to_json(), indent=2, sort_keys=True) + "\n"
