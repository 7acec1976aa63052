"""Istio: mutual TLS everywhere, never switched off, and no allow-all authorization."""

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from .rule import Rule, dig, items, num

PEER_AUTHENTICATION = (
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
)
DESTINATION_RULE = (
    "kubernetes:networking.istio.io/v1:DestinationRule",
    "kubernetes:networking.istio.io/v1beta1:DestinationRule",
    "kubernetes:networking.istio.io/v1alpha3:DestinationRule",
)
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
AUTHORIZATION_POLICY = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
)
WEAK_MODES = ("PERMISSIVE", "DISABLE")
ROOT_NAMESPACE = {
    "rootNamespace": {
        "type": "string",
        "default": "istio-system",
        "description": "Istio's root namespace (meshConfig.rootNamespace).",
    }
}


def _weak_mtls(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    mode = dig(args.props, "spec", "mtls", "mode")
    if mode in WEAK_MODES:
        yield f"sets mTLS mode {mode}: plaintext traffic is accepted"
    port_level = dig(args.props, "spec", "portLevelMtls", default={})
    for port, setting in port_level.items() if isinstance(port_level, Mapping) else []:
        if dig(setting, "mode") in WEAK_MODES:
            yield f"sets mTLS mode {setting['mode']} on port {port}"


def _tls_disabled(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    policy = dig(args.props, "spec", "trafficPolicy", default={})
    if dig(policy, "tls", "mode") == "DISABLE":
        yield "turns TLS off (trafficPolicy.tls.mode: DISABLE)"
    for setting in items(dig(policy, "portLevelSettings")):
        if dig(setting, "tls", "mode") == "DISABLE":
            yield f"turns TLS off on port {num(dig(setting, 'port', 'number'))}"


def _allow_all(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    spec = dig(args.props, "spec", default={})
    action = dig(spec, "action", default="ALLOW")  # absent (or null) means ALLOW
    if action == "ALLOW" and any(rule in ({}, None) for rule in items(spec.get("rules"))):
        yield "has an empty rule under action ALLOW: it allows every request"


def _is_istiod(chart: Any) -> bool:
    """A chart reference naming istiod: `istiod`, `repo/istiod`, `oci://.../istiod:1.27.9`."""
    if not isinstance(chart, str):
        return False
    return chart.rsplit("/", 1)[-1].split(":", 1)[0] == "istiod"


def _mesh_wide_strict(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    root = config.get("rootNamespace") or "istio-system"
    mesh = any(
        r.resource_type in HELM_TYPES and _is_istiod(dig(r.props, "chart")) for r in args.resources
    ) or any(r.resource_type in PEER_AUTHENTICATION for r in args.resources)
    if not mesh:
        return
    for resource in args.resources:
        if resource.resource_type not in PEER_AUTHENTICATION:
            continue
        props = resource.props
        if (
            dig(props, "metadata", "namespace") == root
            and not dig(props, "spec", "selector")
            and dig(props, "spec", "mtls", "mode") == "STRICT"
        ):
            return
    yield (
        f"the stack installs Istio but has no mesh-wide STRICT PeerAuthentication "
        f"(namespace {root}, no selector)",
        None,
    )


_ISTIO = "Istio security best practices"

RULES = (
    Rule(
        id="GP-MESH-001",
        name="mesh-no-permissive-mtls",
        description="No PeerAuthentication accepts plaintext (PERMISSIVE or DISABLE).",
        severity="high",
        level="mandatory",
        remediation="Set spec.mtls.mode: STRICT (and on every portLevelMtls entry).",
        anchor=f"{_ISTIO}: mutual TLS, STRICT mode",
        resource_types=PEER_AUTHENTICATION,
        check=_weak_mtls,
    ),
    Rule(
        id="GP-MESH-002",
        name="mesh-wide-strict-mtls",
        description="A mesh-wide PeerAuthentication in the root namespace requires STRICT mTLS.",
        severity="high",
        level="mandatory",
        remediation="Add PeerAuthentication `default` in istio-system with spec.mtls.mode: STRICT "
        "and no selector.",
        anchor=f"{_ISTIO}: mesh-wide STRICT peer authentication",
        resource_types=(*PEER_AUTHENTICATION, *HELM_TYPES),
        stack_check=_mesh_wide_strict,
        config=ROOT_NAMESPACE,
    ),
    Rule(
        id="GP-MESH-003",
        name="mesh-destination-rule-keeps-tls",
        description="No DestinationRule turns TLS off for traffic in the mesh.",
        severity="high",
        level="mandatory",
        remediation="Remove tls.mode: DISABLE; use ISTIO_MUTUAL (the default under auto mTLS).",
        anchor=f"{_ISTIO}: DestinationRule TLS settings",
        resource_types=DESTINATION_RULE,
        check=_tls_disabled,
    ),
    Rule(
        id="GP-MESH-004",
        name="mesh-authorization-not-allow-all",
        description="No AuthorizationPolicy allows every request through an empty rule.",
        severity="medium",
        level="advisory",
        remediation="List the sources, operations or conditions the policy allows.",
        anchor=f"{_ISTIO}: safer authorization policy patterns",
        resource_types=AUTHORIZATION_POLICY,
        check=_allow_all,
    ),
)
