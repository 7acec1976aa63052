"""Helm rules: exact versions from https/OCI repositories on the allow-list."""

from typing import Any

import pytest

from gpuplane.components.versions import CHARTS
from gpuplane.policies.helm import DEFAULT_REPOSITORIES
from tests.policies.harness import Mutation, messages, set_input, violations

RELEASE = "kubernetes:helm.sh/v3:Release"


def release(**inputs: Any) -> tuple[str, dict[str, Any]]:
    base = {
        "name": "istiod",
        "chart": "istiod",
        "version": "1.27.9",
        "repositoryOpts": {"repo": "https://istio-release.storage.googleapis.com/charts"},
    }
    return RELEASE, {**base, **inputs}


def test_pinned_release_from_a_known_repository_passes() -> None:
    for rule in ("GP-HELM-001", "GP-HELM-002", "GP-HELM-003", "GP-HELM-004", "GP-HELM-005"):
        assert messages(rule, release()) == [], rule
    oci = release(chart="oci://ghcr.io/kserve/charts/kserve-crd", version="v0.20.0")
    del oci[1]["repositoryOpts"]
    assert messages("GP-HELM-002", oci) == messages("GP-HELM-003", oci) == []


@pytest.mark.parametrize(
    ("rule", "bad", "fragment"),
    [
        ("GP-HELM-001", release(version=None), "has no version"),
        ("GP-HELM-001", release(version="^1.27.0"), "is a range"),
        ("GP-HELM-001", release(version="1.27.x"), "is a range"),
        # The whole string must be a version: a trailing newline is not one.
        ("GP-HELM-001", release(version="1.27.9\n"), "is a range"),
        ("GP-HELM-002", release(repositoryOpts={}), "names no repository"),
        (
            "GP-HELM-002",
            release(repositoryOpts={"repo": "http://charts.example.com"}),
            "only https:// and oci:// are allowed",
        ),
        (
            "GP-HELM-003",
            release(repositoryOpts={"repo": "https://charts.example.com"}),
            "'https://charts.example.com', which is not allowed",
        ),
        ("GP-HELM-004", release(skipAwait=True), "skipAwait: true"),
        ("GP-HELM-005", release(devel=True), "devel: true"),
    ],
)
def test_helm_rule_reports_the_problem(rule: str, bad: Any, fragment: str) -> None:
    found = messages(rule, bad)
    assert any(fragment in m for m in found), found


def test_allowed_repositories_come_from_config() -> None:
    mine = release(repositoryOpts={"repo": "https://charts.example.com/"})
    config = {"helm-allowed-repository": {"allowedRepositories": ["https://charts.example.com"]}}
    assert messages("GP-HELM-003", mine, config=config) == []


def test_default_repositories_are_the_charts_gpuplane_installs() -> None:
    # Written out in policies/helm.py (the pack runs without the repository): kept equal.
    assert sorted(DEFAULT_REPOSITORIES) == sorted({chart.repo for chart in CHARTS.values()})
    assert len(DEFAULT_REPOSITORIES) == len(set(DEFAULT_REPOSITORIES))


def test_helm_rules_take_the_unknown_path_not_a_crash() -> None:
    [found] = violations("GP-HELM-001", release(version="@unknown"))
    assert found.level == "advisory"
    assert "cannot be known during preview" in found.message and "version" in found.message
    # An unknown the rule does not read changes nothing.
    assert violations("GP-HELM-004", release(version="@unknown")) == []


MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-HELM-001": ("local", set_input(RELEASE, "version", ">=1.0.0")),
    "GP-HELM-002": (
        "local",
        set_input(RELEASE, "repositoryOpts.repo", "http://charts.jetstack.io"),
    ),
    "GP-HELM-003": (
        "local",
        set_input(RELEASE, "repositoryOpts.repo", "https://charts.example.com"),
    ),
    "GP-HELM-004": ("local", set_input(RELEASE, "skipAwait", True)),
    "GP-HELM-005": ("local", set_input(RELEASE, "devel", True)),
}
