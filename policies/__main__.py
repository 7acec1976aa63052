"""The CrossGuard entry point: `pulumi preview --policy-pack policies`.

Pulumi runs this file from the pack's directory in the pack's own virtualenv, with
nothing of the repository on sys.path (and `pulumi policy publish` ships this
directory alone, under whatever name). The rule modules import each other
relatively, so the directory registers itself under a private package name
(`_gpuplane_policy_pack`): the very files `gpuplane check` runs offline as
`gpuplane.policies`, needing nothing outside the directory and clashing with no
`policies` package of the user's.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent


def _register_package(name: str, directory: Path) -> None:
    """Make `directory` importable as package `name` (unless it already is)."""
    loaded = sys.modules.get(name)
    paths = getattr(loaded, "__path__", None) or []
    if any(Path(p).resolve() == directory for p in paths):
        return
    # Another package of that name (not this directory): forget it and its submodules.
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)


PACKAGE = "_gpuplane_policy_pack"
_register_package(PACKAGE, PACK_DIR)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

catalogue = importlib.import_module(f"{PACKAGE}.catalogue")

PolicyPack(
    name=catalogue.PACK_NAME,
    # Each policy carries its own level; this applies only to one that does not.
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=catalogue.policies(),
)
