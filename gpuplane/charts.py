"""The chart cache: every chart a plan's Helm releases install, pulled once, verified on use.

Layout: `<root>/<chart>/<version>/<chart>-<version>.tgz` plus `digest.json` (the
archive's sha256, where it came from, and the repository index's own digest when it
has one). The root is `--charts DIR`, else `$XDG_CACHE_HOME/gpuplane/charts`, else
`~/.cache/gpuplane/charts`. A cached archive whose bytes no longer match the recorded
digest is refused, never silently used or replaced.

https repositories are read through their `index.yaml` (file:// works too, for a
local repository); OCI registries through the embedded Helm SDK (`helm_python.pull`).
"""

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gpuplane.graph import Resource, ResourceGraph
from gpuplane.loader import InputError

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
DIGEST_FILE = "digest.json"
MAX_BYTES = 64 * 1024 * 1024  # the largest index or archive a pull reads
TIMEOUT = 60.0


class ChartError(InputError):
    """A chart that cannot be pulled or used: one line naming the chart and the fix."""


@dataclass(frozen=True, order=True)
class ChartRef:
    """One pinned chart, as a Release names it: `chart` (a name or oci://...), `version`, repo."""

    name: str
    version: str
    repo: str
    """https://..., file://..., oci://host/path, or "" for a local chart path."""
    reference: str
    """What the Release's `chart` input says."""

    @property
    def is_oci(self) -> bool:
        return self.reference.startswith("oci://") or self.repo.startswith("oci://")

    @property
    def is_local(self) -> bool:
        return not self.repo and not self.is_oci

    @property
    def oci_reference(self) -> str:
        if self.reference.startswith("oci://"):
            return self.reference
        return f"{self.repo.rstrip('/')}/{self.name}"

    @property
    def source(self) -> str:
        """Where it is pulled from: the OCI reference, or the repository and chart name."""
        return self.oci_reference if self.is_oci else f"{self.repo} {self.name}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    @classmethod
    def of(cls, release: Resource) -> "ChartRef":
        """The chart a helm.sh/v3 Release resource installs."""
        reference = str(release.inputs.get("chart") or "")
        version = str(release.inputs.get("version") or "")
        repo = str((release.inputs.get("repositoryOpts") or {}).get("repo") or "")
        if not reference:
            raise ChartError(f"release {release.name}: no chart given")
        name = reference.rstrip("/").rsplit("/", 1)[-1]
        if reference.startswith("oci://"):
            repo = reference.rstrip("/").rsplit("/", 1)[0]
        return cls(name=name, version=version, repo=repo, reference=reference)


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gpuplane" / "charts"


def releases(graph: ResourceGraph) -> list[Resource]:
    """The graph's Helm releases, in URN order."""
    return sorted(graph.by_type(RELEASE_TYPE), key=lambda r: r.urn)


def plan_charts(graphs: Iterable[ResourceGraph]) -> list[ChartRef]:
    """Every distinct repository chart the graphs' releases install (local paths left out)."""
    found = {ChartRef.of(r) for g in graphs for r in releases(g)}
    return sorted(c for c in found if not c.is_local)


def entry_dir(root: Path, chart: ChartRef) -> Path:
    return root / chart.name / chart.version


def archive_path(root: Path, chart: ChartRef) -> Path:
    return entry_dir(root, chart) / f"{chart.name}-{chart.version}.tgz"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True)
class Status:
    chart: ChartRef
    state: str
    """cached, missing or mismatch"""
    path: Path
    digest: str = ""


def status(root: Path, chart: ChartRef) -> Status:
    """Whether a chart is in the cache, with the digest it was recorded with."""
    archive = archive_path(root, chart)
    record = entry_dir(root, chart) / DIGEST_FILE
    if not archive.is_file():
        return Status(chart, "missing", archive)
    try:
        recorded = json.loads(record.read_text())["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        return Status(chart, "mismatch", archive)
    actual = sha256_of(archive)
    return Status(chart, "cached" if actual == recorded else "mismatch", archive, recorded)


def cached_archive(root: Path, chart: ChartRef, pull_hint: str) -> Path:
    """The verified archive of a cached chart; ChartError when missing or altered."""
    found = status(root, chart)
    if found.state == "missing":
        raise ChartError(
            f"chart {chart.label} is not in the chart cache {root}: run `{pull_hint}` "
            "(it needs the network)"
        )
    if found.state == "mismatch":
        raise ChartError(
            f"chart {chart.label}: {found.path} does not match the digest recorded in "
            f"{entry_dir(root, chart) / DIGEST_FILE}; remove {entry_dir(root, chart)} and "
            f"run `{pull_hint}` again"
        )
    return found.path


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ChartError(f"cannot download {url}: {reason}") from None
    if len(data) > MAX_BYTES:
        raise ChartError(f"{url} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data


def _index(repo: str, cache: dict[str, Any]) -> Any:
    if repo not in cache:
        url = f"{repo.rstrip('/')}/index.yaml"
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            cache[repo] = yaml.load(_fetch(url), Loader=loader)
        except yaml.YAMLError as exc:
            raise ChartError(f"{url} is not a Helm repository index: {exc}") from None
    return cache[repo]


def _index_entry(chart: ChartRef, index: Any) -> dict[str, Any]:
    entries = index.get("entries") if isinstance(index, dict) else None
    versions = (entries or {}).get(chart.name) if isinstance(entries, dict) else None
    if not isinstance(versions, list):
        raise ChartError(f"chart {chart.name} is not in the repository {chart.repo}")
    bare = chart.version.removeprefix("v")
    for entry in versions:
        if isinstance(entry, dict) and str(entry.get("version", "")).removeprefix("v") == bare:
            return entry
    raise ChartError(f"chart {chart.name} has no version {chart.version} in {chart.repo}")


def _download_https(chart: ChartRef, indexes: dict[str, Any]) -> tuple[bytes, str, str | None]:
    """(archive bytes, url, the index's digest or None)."""
    entry = _index_entry(chart, _index(chart.repo, indexes))
    urls = entry.get("urls") or []
    if not urls:
        raise ChartError(f"chart {chart.label} in {chart.repo} lists no download url")
    url = urllib.parse.urljoin(chart.repo.rstrip("/") + "/", str(urls[0]))
    data = _fetch(url)
    raw = entry.get("digest")
    expected = None if raw in (None, "") else str(raw).removeprefix("sha256:")
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and expected != actual:
        raise ChartError(
            f"chart {chart.label}: the archive from {url} has digest sha256:{actual}, "
            f"but the repository index says sha256:{expected}"
        )
    return data, url, f"sha256:{expected}" if expected else None


def _download_oci(chart: ChartRef, scratch: Path) -> tuple[bytes, str, str | None]:
    helm = helm_module()
    reference = chart.oci_reference
    try:
        helm.pull(reference, version=chart.version, destination=str(scratch))
    except helm.HelmError as exc:
        raise ChartError(f"cannot pull {reference} {chart.version}: {_first_line(exc)}") from None
    archives = sorted(scratch.glob("*.tgz"))
    if len(archives) != 1:
        raise ChartError(f"pulling {reference} {chart.version} gave no single chart archive")
    return archives[0].read_bytes(), f"{reference}:{chart.version}", None


def _check_archive(chart: ChartRef, data: bytes, source: str) -> None:
    """The bytes are a chart archive of the pinned name and version."""
    helm = helm_module()
    try:
        with helm.Chart.load_archive(data) as loaded:
            name, version = loaded.name, loaded.version
    except helm.HelmError as exc:
        raise ChartError(
            f"chart {chart.label}: {source} is not a chart archive: {_first_line(exc)}"
        ) from None
    if name != chart.name or version.removeprefix("v") != chart.version.removeprefix("v"):
        raise ChartError(f"chart {chart.label}: {source} holds chart {name} {version} instead")


def pull(root: Path, chart: ChartRef, indexes: dict[str, Any] | None = None) -> Status:
    """Download one chart into the cache, or verify the copy already there."""
    found = status(root, chart)
    if found.state == "cached":
        return found
    if found.state == "mismatch":
        raise ChartError(
            f"chart {chart.label}: {found.path} does not match its recorded digest; "
            f"remove {entry_dir(root, chart)} and pull again"
        )
    indexes = {} if indexes is None else indexes
    with tempfile.TemporaryDirectory(prefix="gpuplane-chart-") as scratch:
        if chart.is_oci:
            data, source, index_digest = _download_oci(chart, Path(scratch))
        else:
            data, source, index_digest = _download_https(chart, indexes)
    _check_archive(chart, data, source)
    target = entry_dir(root, chart)
    target.mkdir(parents=True, exist_ok=True)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=target))
    try:
        (staging / archive_path(root, chart).name).write_bytes(data)
        record = {
            "chart": chart.name,
            "version": chart.version,
            "repository": chart.repo,
            "source": source,
            "digest": digest,
            "indexDigest": index_digest,
        }
        (staging / DIGEST_FILE).write_text(json.dumps(record, indent=2) + "\n")
        os.replace(staging / archive_path(root, chart).name, archive_path(root, chart))
        os.replace(staging / DIGEST_FILE, target / DIGEST_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Status(chart, "pulled", archive_path(root, chart), digest)


def helm_module() -> Any:
    """The embedded Helm SDK (the `render` extra), imported only by the commands that use it."""
    try:
        import helm_python
    except ImportError:
        raise ChartError(
            "this command needs the Helm SDK: pip install 'gpuplane[render]' "
            "(PyPI package helm-python-sdk)"
        ) from None
    return helm_python


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:400]
