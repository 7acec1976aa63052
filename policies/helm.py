"""Helm releases: what runs in the cluster is pinned and comes from known places.

A Release is one resource to a policy: its chart's objects are not visible, so
the chart itself (exact version, repository) is what these rules hold fixed.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from .rule import Rule, dig, string_list

RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES = (RELEASE, CHART_V4)
# An exact SemVer 2 version, with an optional leading v (cert-manager, KServe tag so);
# matched against the whole string (fullmatch: no trailing newline slips through).
EXACT_VERSION = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
)
# The repositories of the charts gpuplane installs (components/versions.py CHARTS).
# Written out, not imported: the pack runs in its own virtualenv, without the
# repository (`pulumi policy publish` ships policies/ alone). A test keeps the two equal.
DEFAULT_REPOSITORIES = [
    "https://charts.jetstack.io",
    "https://istio-release.storage.googleapis.com/charts",
    "https://kedacore.github.io/charts",
    "https://knative.github.io/operator",
    "https://nvidia.github.io/dcgm-exporter/helm-charts",
    "https://nvidia.github.io/k8s-device-plugin",
    "https://prometheus-community.github.io/helm-charts",
    "oci://ghcr.io/kserve/charts",
    "oci://public.ecr.aws/karpenter",
    "oci://registry.k8s.io/kueue/charts",
]


def _repository(props: Mapping[str, Any]) -> str | None:
    """Where the chart comes from: an oci:// chart reference or repositoryOpts.repo."""
    chart = props.get("chart")
    if isinstance(chart, str) and "://" in chart:
        return chart.rsplit("/", 1)[0]
    repo = dig(props, "repositoryOpts", "repo")
    return repo if isinstance(repo, str) else None


def _exact_version(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    version = args.props.get("version")
    chart = args.props.get("chart")
    if not version:
        yield f"chart {chart!r} has no version: Helm installs whatever is newest"
    elif not EXACT_VERSION.fullmatch(str(version)):
        yield f"chart {chart!r} version {version!r} is a range, not an exact version"


def _secure_repository(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    repo = _repository(args.props)
    chart = args.props.get("chart")
    if repo is None:
        yield f"chart {chart!r} names no repository (a local path or a name Helm resolves alone)"
    elif not repo.startswith(("https://", "oci://")):
        yield f"chart {chart!r} comes from {repo!r}: only https:// and oci:// are allowed"


def _allowed_repository(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    repo = _repository(args.props)
    allowed = [str(r).rstrip("/") for r in config.get("allowedRepositories") or ()]
    if repo is not None and repo.rstrip("/") not in allowed:
        yield f"chart {args.props.get('chart')!r} comes from {repo!r}, which is not allowed"


def _waits(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.props.get("skipAwait") is True:
        yield "skips waiting for its resources (skipAwait: true): dependents race its webhooks"


def _no_devel(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if args.props.get("devel") is True:
        yield "allows development versions (devel: true)"


RULES = (
    Rule(
        id="GP-HELM-001",
        name="helm-exact-chart-version",
        description="Helm charts are pinned to an exact version.",
        severity="high",
        level="mandatory",
        remediation="Set version to an exact release (e.g. 1.27.9), never a range or nothing.",
        anchor="Helm docs: chart version constraints; SLSA: pinned dependencies",
        resource_types=HELM_TYPES,
        check=_exact_version,
    ),
    Rule(
        id="GP-HELM-002",
        name="helm-secure-repository",
        description="Helm charts come from an https:// or oci:// repository.",
        severity="high",
        level="mandatory",
        remediation="Set repositoryOpts.repo to the https URL, or use an oci:// chart reference.",
        anchor="Helm docs: chart repositories over TLS; OWASP K8s Top 10 K02 (supply chain)",
        resource_types=HELM_TYPES,
        check=_secure_repository,
    ),
    Rule(
        id="GP-HELM-003",
        name="helm-allowed-repository",
        description="Helm charts come from an allowed repository.",
        severity="high",
        level="mandatory",
        remediation="Use a repository on the allow-list, or add yours to allowedRepositories "
        "in the policy config.",
        anchor="OWASP K8s Top 10 K02 (supply chain vulnerabilities)",
        resource_types=HELM_TYPES,
        check=_allowed_repository,
        config={
            "allowedRepositories": string_list(
                DEFAULT_REPOSITORIES,
                "Repository URLs (https:// or oci:// prefixes) charts may use.",
            )
        },
    ),
    Rule(
        id="GP-HELM-004",
        name="helm-release-waits",
        description="Helm releases wait for their resources to be ready.",
        severity="medium",
        level="advisory",
        remediation="Remove skipAwait, so what depends on the release waits for its webhooks.",
        anchor="gpuplane REFERENCE.md section 1 (cert-manager and KServe webhook races)",
        resource_types=(RELEASE,),
        check=_waits,
    ),
    Rule(
        id="GP-HELM-005",
        name="helm-no-development-versions",
        description="Helm releases do not accept development (pre-release) versions.",
        severity="low",
        level="advisory",
        remediation="Remove devel: true and pin a released version.",
        anchor="Helm docs: helm install --devel",
        resource_types=(RELEASE,),
        check=_no_devel,
    ),
)
