"""Mesh rules: STRICT mTLS mesh-wide, never weakened, no allow-all authorization."""

import pytest

from tests.policies.harness import (
    Mutation,
    add_resource,
    messages,
    remove_resources,
    violations,
)

PEER = "kubernetes:security.istio.io/v1:PeerAuthentication"
DR = "kubernetes:networking.istio.io/v1:DestinationRule"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
ISTIOD = ("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istiod", "version": "1.27.9"})


def peer(mode: str, namespace: str = "istio-system", **spec: object) -> tuple[str, dict]:
    return PEER, {
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"mtls": {"mode": mode}, **spec},
    }


def test_weak_peer_authentication_is_refused() -> None:
    assert "sets mTLS mode PERMISSIVE" in messages("GP-MESH-001", peer("PERMISSIVE"))[0]
    assert messages("GP-MESH-001", peer("STRICT")) == []
    port_level = peer("STRICT", portLevelMtls={"8080": {"mode": "DISABLE"}})
    assert "mode DISABLE on port 8080" in messages("GP-MESH-001", port_level)[0]


def test_mesh_wide_strict_peer_authentication_must_exist_with_istio() -> None:
    strict = (PEER, "strict", peer("STRICT")[1])
    assert messages("GP-MESH-002", ISTIOD, strict) == []
    missing = messages("GP-MESH-002", ISTIOD)
    assert missing and "no mesh-wide STRICT PeerAuthentication" in missing[0]
    # Namespace-scoped STRICT is not mesh-wide.
    scoped = (PEER, "scoped", peer("STRICT", namespace="models")[1])
    assert messages("GP-MESH-002", ISTIOD, scoped)
    # No Istio, no mesh: nothing to require.
    assert messages("GP-MESH-002") == []


@pytest.mark.parametrize(
    "istio",
    [
        ("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istiod"}),
        ("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istio/istiod"}),
        ("kubernetes:helm.sh/v4:Chart", "istiod", {"chart": "istiod", "version": "1.27.9"}),
        (
            "kubernetes:helm.sh/v4:Chart",
            "istiod",
            {"chart": "oci://registry.example.com/charts/istiod:1.27.9"},
        ),
    ],
    ids=["release", "repo-prefixed", "chart-v4", "oci-with-version"],
)
def test_istio_is_found_through_any_helm_chart_reference(istio: tuple) -> None:
    found = messages("GP-MESH-002", istio)
    assert found and "no mesh-wide STRICT PeerAuthentication" in found[0]
    assert messages("GP-MESH-002", istio, (PEER, "strict", peer("STRICT")[1])) == []
    not_istio = (istio[0], "other", {"chart": "oci://registry.example.com/charts/istiod-proxy"})
    assert messages("GP-MESH-002", not_istio) == []


def test_explicit_nulls_are_absent_values_not_a_crash() -> None:
    assert messages("GP-MESH-004", (AUTHZ, {"metadata": {"name": "a"}, "spec": None})) == []
    null_action = (AUTHZ, {"metadata": {"name": "a"}, "spec": {"action": None, "rules": [{}]}})
    assert "allows every request" in messages("GP-MESH-004", null_action)[0]
    assert messages("GP-MESH-001", (PEER, {"spec": {"portLevelMtls": {"80": None}}})) == []
    assert messages("GP-MESH-003", (DR, {"spec": {"trafficPolicy": None}})) == []
    # A null spec is no mesh-wide STRICT policy.
    assert messages("GP-MESH-002", ISTIOD, (PEER, {"metadata": None, "spec": None}))


def test_mesh_rules_take_the_unknown_path_not_a_crash() -> None:
    unknown = (
        PEER,
        {
            "metadata": {"name": "default", "namespace": "istio-system"},
            "spec": {"mtls": {"mode": "@unknown"}},
        },
    )
    [found] = violations("GP-MESH-001", unknown)
    assert found.level == "advisory" and "cannot be known during preview" in found.message
    # The mesh-wide stack rule reads the same field: advisory, for the stack.
    [stack] = violations("GP-MESH-002", ISTIOD, (PEER, "p", unknown[1]))
    assert stack.level == "advisory" and "cannot be known during preview" in stack.message
    assert stack.type == "pulumi:pulumi:Stack"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"trafficPolicy": {"tls": {"mode": "DISABLE"}}}, "turns TLS off"),
        (
            {
                "trafficPolicy": {
                    "portLevelSettings": [{"port": {"number": 9000}, "tls": {"mode": "DISABLE"}}]
                }
            },
            "turns TLS off on port 9000",  # not 9000.0: CrossGuard hands numbers as floats
        ),
    ],
)
def test_destination_rule_keeps_tls(bad: dict, fragment: str) -> None:
    rule = (DR, {"metadata": {"name": "d", "namespace": "models"}, "spec": {"host": "x", **bad}})
    assert any(fragment in m for m in messages("GP-MESH-003", rule))
    ok = (
        DR,
        {
            "metadata": {"name": "d"},
            "spec": {"host": "x", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
        },
    )
    assert messages("GP-MESH-003", ok) == []


def test_authorization_policy_allow_all() -> None:
    allow_all = (AUTHZ, {"metadata": {"name": "a"}, "spec": {"rules": [{}]}})
    assert "allows every request" in messages("GP-MESH-004", allow_all)[0]
    narrow = (
        AUTHZ,
        {
            "metadata": {"name": "a"},
            "spec": {"rules": [{"from": [{"source": {"namespaces": ["models"]}}]}]},
        },
    )
    assert messages("GP-MESH-004", narrow) == []
    deny_all = (AUTHZ, {"metadata": {"name": "a"}, "spec": {"action": "DENY", "rules": [{}]}})
    assert messages("GP-MESH-004", deny_all) == []


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    # A namespace's own PERMISSIVE policy: the mesh-wide STRICT one stays (MESH-002 holds).
    "GP-MESH-001": (
        "local",
        add_resource(
            PEER,
            "permissive",
            {
                "metadata": {"name": "legacy", "namespace": "models"},
                "spec": {"mtls": {"mode": "PERMISSIVE"}},
            },
        ),
    ),
    "GP-MESH-002": ("local", remove_resources(PEER, lambda r: True)),
    "GP-MESH-003": (
        "local",
        add_resource(
            DR,
            "plaintext",
            {
                "metadata": {"name": "plain", "namespace": "models"},
                "spec": {
                    "host": "*.models.svc.cluster.local",
                    "trafficPolicy": {"tls": {"mode": "DISABLE"}},
                },
            },
        ),
    ),
    "GP-MESH-004": (
        "local",
        add_resource(
            AUTHZ,
            "allow-all",
            {"metadata": {"name": "all", "namespace": "models"}, "spec": {"rules": [{}]}},
        ),
    ),
}
