"""The machine types each cloud's dated price table lists, for config validation.

A mistyped machine type (`m6i.lage`) would plan cleanly and fail only when the
cloud refuses it, after the control plane is made; the tables in gpuplane/prices/
(dated, with their source) are the instance catalogue gpuplane knows.
"""

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from gpuplane.components import gpus
from gpuplane.components.messages import closest


@dataclass(frozen=True)
class Catalogue:
    """One cloud's known machine types and where the list comes from."""

    cloud: str
    date: str
    machines: frozenset[str]

    def knows(self, machine: str) -> bool:
        return machine in self.machines

    def near(self, machine: str) -> str | None:
        """The known machine type a typo was probably meant to be."""
        return closest(machine, sorted(self.machines))


def _prices_dir() -> Path:
    import gpuplane

    return Path(gpuplane.__file__).resolve().parent / "prices"


@functools.cache
def catalogue(cloud: str) -> Catalogue:
    """The machine types of `cloud`'s price table (every region) plus the GPU types gpuplane
    knows; empty for a cloud with no table."""
    path = _prices_dir() / f"{cloud}.json"
    machines: set[str] = set(gpus.IMPLIED.get(cloud, {}))
    date = ""
    if path.is_file():
        table = json.loads(path.read_text(encoding="utf-8"))
        date = str(table.get("date", ""))
        for region in table.get("regions", {}).values():
            machines.update(region.get("instances", {}))
    return Catalogue(cloud=cloud, date=date, machines=frozenset(machines))


def unknown_machine(cloud: str, machine: str) -> str | None:
    """Why `machine` is not a machine type of `cloud` gpuplane knows, or None if it is."""
    known = catalogue(cloud)
    if not known.machines or known.knows(machine):
        return None
    near = known.near(machine)
    hint = f"did you mean {near!r}? " if near else ""
    return (
        f"not a machine type of {cloud} in gpuplane's price table (gpuplane/prices/{cloud}.json, "
        f"{known.date}); {hint}add a type you need to that table with its price"
    )
