"""versions.py against the upstream oracle in ../shared/upstream."""

import json
import re

import pytest

from gpuplane.components import versions
from tests.upstream import UPSTREAM

EXACT = re.compile(r"^v?\d+\.\d+\.\d+$")


@pytest.mark.parametrize("key", sorted(versions.CHARTS))
def test_every_chart_is_pinned_exactly_from_https_or_oci(key: str) -> None:
    chart = versions.CHARTS[key]
    assert EXACT.match(chart.version), chart
    assert chart.repo.startswith(("https://", "oci://")), chart


@pytest.mark.parametrize("key", sorted(versions.CHARTS))
def test_every_chart_version_is_the_one_upstream_data_describes(key: str) -> None:
    chart = versions.CHARTS[key]
    assert (UPSTREAM / "charts" / chart.chart / chart.version / "values.yaml").is_file(), chart
    index = json.loads((UPSTREAM / "charts" / "index.json").read_text())
    published = {entry["chart"]: entry for entry in index}
    assert published[chart.chart]["published_version"] == chart.version
    assert chart.repo in published[chart.chart]["publication"], chart


def test_oci_references_name_the_chart() -> None:
    kserve = versions.CHARTS["kserve"]
    assert kserve.reference == "oci://ghcr.io/kserve/charts/kserve-resources"
    assert versions.CHARTS["cert-manager"].reference == "cert-manager"
