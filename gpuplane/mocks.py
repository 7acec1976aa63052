"""Deterministic, realistic mock outputs and invoke results for the offline engine.

Every resource gets an id derived from its type and name, and its inputs echoed
back as outputs, plus the computed outputs a real provider would return for the
types listed in `OUTPUTS`. Every invoke the program makes must have an entry in
`INVOKES`: an unknown one is an error, never a silent empty result.
"""

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks


class UnknownInvokeError(RuntimeError):
    """The program called an invoke the offline engine has no mock for."""


def stable_hex(*parts: str, length: int = 8) -> str:
    """A short hex string fixed by its inputs, for ids, ARNs and addresses."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


OutputModel = Callable[[str, Mapping[str, Any]], dict[str, Any]]
InvokeModel = Callable[[Mapping[str, Any]], dict[str, Any]]


def _k8s_metadata(name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Kubernetes objects without metadata.name get one, as Pulumi's auto-naming does."""
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", f"{name}-{stable_hex(name)}")
    return {"metadata": metadata}


# Computed outputs by resource type (or by package prefix ending in ':').
OUTPUTS: dict[str, OutputModel] = {
    "kubernetes:": _k8s_metadata,
}

# Invoke results by token. Add an entry for every invoke a component makes.
INVOKES: dict[str, InvokeModel] = {}


class OfflineMocks(pulumi_mocks.Mocks):
    """Pulumi mocks with deterministic ids and the models above."""

    def __init__(self, disabled_default_providers: tuple[str, ...] = ()) -> None:
        self.disabled = set(disabled_default_providers)
        self.unknown_invokes: list[str] = []
        self.errors: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        model = OUTPUTS.get(args.typ) or OUTPUTS.get(args.typ.split(":")[0] + ":")
        if model is not None:
            state.update(model(args.name, args.inputs))
        if not args.custom:
            return "", state
        return f"{args.name}-{stable_hex(args.typ, args.name)}", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
        package = args.token.split(":")[0]
        if package in self.disabled and not args.provider:
            self.errors.append(
                f"invoke {args.token} uses the default {package} provider, which Pulumi.yaml "
                "disables (pulumi:disable-default-providers): pass the provider"
            )
        model = INVOKES.get(args.token)
        if model is None:
            self.unknown_invokes.append(args.token)
            raise UnknownInvokeError(
                f"invoke {args.token} has no offline mock; add one to gpuplane/mocks.py INVOKES"
            )
        return model(args.args), []
