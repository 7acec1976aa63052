"""versions.py against the upstream oracle in ../shared/upstream."""

import json
import re

import pytest

from gpuplane.components import versions
from gpuplane.components.config import parse_config
from tests.helpers import EXISTING, config_problems
from tests.upstream import UPSTREAM, require_upstream

EXACT = re.compile(r"^v?\d+\.\d+\.\d+$")


@pytest.mark.parametrize("key", sorted(versions.CHARTS))
def test_every_chart_is_pinned_exactly_from_https_or_oci(key: str) -> None:
    chart = versions.CHARTS[key]
    assert EXACT.match(chart.version), chart
    assert chart.repo.startswith(("https://", "oci://")), chart


@pytest.mark.parametrize("key", sorted(versions.CHARTS))
def test_every_chart_version_is_the_one_upstream_data_describes(key: str) -> None:
    require_upstream()
    chart = versions.CHARTS[key]
    assert (UPSTREAM / "charts" / chart.chart / chart.version / "values.yaml").is_file(), chart
    index = json.loads((UPSTREAM / "charts" / "index.json").read_text())
    published = {(e["chart"], e["published_version"]): e for e in index}
    assert (chart.chart, chart.version) in published, chart
    assert chart.repo in published[chart.chart, chart.version]["publication"], chart


def test_oci_references_name_the_chart() -> None:
    kserve = versions.CHARTS["kserve"]
    assert kserve.reference == "oci://ghcr.io/kserve/charts/kserve-resources"
    assert versions.CHARTS["cert-manager"].reference == "cert-manager"


def _evidence(relative: str) -> str:
    require_upstream()
    return (UPSTREAM / "reference" / relative).read_text()


def test_kubernetes_bounds_follow_the_support_table_and_upstream_evidence() -> None:
    # The table's rows, against the evidence they cite.
    istio = re.search(
        r'releaseCycle: "1\.30"\n.*?eol: (\S+)\n'
        r'\s+supportedKubernetesVersions: "1\.(\d+) - 1\.(\d+)"',
        _evidence("istio-1.30.3/support.md"),
        re.S,
    )
    knative = re.search(
        r"\| 1\.23 +\| \S+ +\| (\S+) +\| 1\.(\d+) ", _evidence("knative-1.23.0/evidence.md")
    )
    assert istio and knative
    rows = {s.component: s for s in versions.SUPPORT}
    istio_row = rows[f"Istio {versions.CHARTS['istiod'].version}"]
    assert (istio_row.eol, istio_row.min_minor, istio_row.max_minor) == (
        istio.group(1),
        int(istio.group(2)),
        int(istio.group(3)),
    )
    knative_row = rows[f"Knative Serving {versions.KNATIVE_SERVING}"]
    assert (knative_row.eol, knative_row.min_minor) == (knative.group(1), int(knative.group(2)))
    # The window is what every row allows, and names who sets each side.
    mins = [s.min_minor for s in versions.SUPPORT if s.min_minor is not None]
    maxes = [s.max_minor for s in versions.SUPPORT if s.max_minor is not None]
    assert (versions.KUBERNETES_MIN_MINOR, versions.KUBERNETES_MAX_MINOR) == (34, 36)
    assert max(mins) == versions.KUBERNETES_MIN_MINOR
    assert min(maxes) == versions.KUBERNETES_MAX_MINOR
    assert versions.KUBERNETES_MIN_SETTER is knative_row
    assert versions.KUBERNETES_MAX_SETTER is istio_row
    default = int(versions.KUBERNETES_DEFAULT.split(".")[1])
    assert versions.KUBERNETES_MIN_MINOR <= default <= versions.KUBERNETES_MAX_MINOR


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.33", "allowed 1.34 to 1.36: Knative Serving 1.23.0 needs 1.34 or newer (given '1.33')"),
        ("1.37", "allowed 1.34 to 1.36: Istio 1.30.3 supports up to 1.36 (given '1.37')"),
    ],
)
def test_kubernetes_outside_the_window_is_refused_naming_the_bound(
    version: str, message: str
) -> None:
    problems = config_problems({**EXISTING, "cluster": {"kubernetesVersion": version}})
    assert problems == [f"gpuplane:cluster.kubernetesVersion: {message}"]


def test_every_minor_in_the_window_is_accepted() -> None:
    low, high = versions.KUBERNETES_MIN_MINOR, versions.KUBERNETES_MAX_MINOR
    for minor in range(low, high + 1):
        cfg = parse_config({**EXISTING, "cluster": {"kubernetesVersion": f"1.{minor}"}})
        assert cfg.kubernetes_minor == minor


def test_the_upgrade_stop_is_bundled_by_the_pinned_operator() -> None:
    """Operator v1.23.0 carries every Serving release gpuplane may ask it for."""
    require_upstream()
    for version in versions.KNATIVE_SERVING_INSTALLABLE:
        bundle = UPSTREAM / "rendered" / "operator-bundles" / "knative-serving" / f"{version}.yaml"
        assert bundle.is_file(), version
    minors = sorted(int(v.split(".")[1]) for v in versions.KNATIVE_SERVING_INSTALLABLE)
    assert minors == [int(versions.KNATIVE_SERVING.split(".")[1]) - 1, minors[-1]]


@pytest.mark.parametrize(
    ("knative", "refused"),
    [
        ({"installedVersion": "1.21.3"}, True),  # 1.21 -> 1.23 skips 1.22
        ({"installedVersion": "1.21.3", "version": "1.22.1"}, False),
        ({"installedVersion": "1.22.1"}, False),
        ({"installedVersion": "1.23.0"}, False),
        ({}, False),  # a new stack: nothing installed to jump from
    ],
)
def test_a_two_minor_knative_jump_is_refused(knative: dict[str, str], refused: bool) -> None:
    raw = {**EXISTING, "serving": {"knative": knative}}
    if refused:
        assert config_problems(raw) == [
            "gpuplane:serving.knative.installedVersion: 1.21.3 -> 1.23.0 skips a minor; the "
            "Knative Operator moves Serving one minor at a time: set "
            "gpuplane:serving.knative.version: 1.22.1 and run `pulumi up`, then set "
            "installedVersion: 1.22.1 and remove version"
        ]
    else:
        assert parse_config(raw).serving.knative.version == knative.get("version", "1.23.0")
