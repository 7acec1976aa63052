"""The provider SDKs, loaded with postponed annotations (the `gpuplane` command only).

A generated Pulumi provider SDK (pulumi_aws, pulumi_kubernetes, ...) evaluates every
type annotation of its thousands of Args, TypedDicts and resource signatures as each
module loads: about 40% of loading it, for a program that uses a few dozen of its
classes. Pulumi itself reads a type's annotations only when it (de)serialises one of
that type, through `typing.get_type_hints`, which evaluates string annotations in the
module's own namespace: the same types, resolved on demand. So the CLI compiles these
modules as if each began with `from __future__ import annotations`.

The bytecode is cached in its own directory (`$XDG_CACHE_HOME/gpuplane/sdk-bytecode`,
else `~/.cache/...`), keyed by the source's path, modification time and size and by the
interpreter's magic number: the SDK's own `__pycache__` files, which `pulumi up` loads,
are never read or written (so PYTHONDONTWRITEBYTECODE, which is about those, does not
apply). Where that directory cannot be written, nothing changes: compiling the SDK from
source on every run would cost more than it saves.
"""

import __future__

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

SDK_PACKAGES = ("pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes")
_FLAGS = __future__.annotations.compiler_flag


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gpuplane" / "sdk-bytecode" / str(sys.implementation.cache_tag)


def _is_sdk(fullname: str) -> bool:
    return fullname.split(".", 1)[0] in SDK_PACKAGES


class _PostponedLoader(importlib.machinery.SourceFileLoader):
    """A source loader compiling with postponed annotations, its bytecode cached apart."""

    root: Path

    def get_code(self, fullname: str) -> CodeType:
        source_path = self.get_filename(fullname)
        stat = os.stat(source_path)
        key = b"".join(
            (
                importlib.util.MAGIC_NUMBER,
                stat.st_mtime_ns.to_bytes(8, "little"),
                stat.st_size.to_bytes(8, "little"),
            )
        )
        digest = hashlib.sha1(source_path.encode(), usedforsecurity=False).hexdigest()[:16]
        cached = self.root / f"{fullname}-{digest}.pyc"
        with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
            data = cached.read_bytes()
            if data.startswith(key):
                return marshal.loads(memoryview(data)[len(key) :])
        code = compile(
            self.get_data(source_path), source_path, "exec", flags=_FLAGS, dont_inherit=True
        )
        _write_atomic(cached, key + marshal.dumps(code))
        return code


def _write_atomic(path: Path, data: bytes) -> None:
    """Best effort, as Python's own bytecode cache: a reader sees a whole file or none."""
    with contextlib.suppress(OSError):
        fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(scratch, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(scratch)


class _Finder:
    """Finds the SDKs' modules as the path finder does, loading them with the loader above."""

    def __init__(self, root: Path) -> None:
        self.loader_class = type("PostponedLoader", (_PostponedLoader,), {"root": root})

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> Any:
        if not _is_sdk(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = self.loader_class(spec.loader.name, spec.loader.path)
        return spec


def install() -> bool:
    """Load the SDKs imported from now on with postponed annotations; False (and nothing
    changed) when the bytecode cannot be cached or an SDK module is already loaded."""
    if any(_is_sdk(name) and module is not None for name, module in sys.modules.items()):
        return False
    if any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return True
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    if not os.access(root, os.W_OK):
        return False
    sys.meta_path.insert(0, _Finder(root))
    return True
