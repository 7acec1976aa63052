"""Rules on a cluster's private address ranges, shared by the GKE and AKS components
and the YAML config layer (`gpuplane:gcp.*Cidr`, `gpuplane:azure.*Cidr`)."""

import ipaddress
from collections.abc import Mapping

from gpuplane.components.rules import KeyName, leaf


def private_ipv4_problem(cidr: object, low: int, high: int) -> str | None:
    """Why `cidr` is not a private IPv4 block from /`low` to /`high`, or None."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=True)
    except ValueError as exc:
        return f"not a CIDR block like 10.0.0.0/20 ({str(exc)[:120]})"
    if network.version != 4 or not network.is_private or not low <= network.prefixlen <= high:
        return f"must be a private IPv4 block from /{low} to /{high}"
    return None


def range_problems(
    given: Mapping[str, object],
    defaults: Mapping[str, str],
    bounds: Mapping[str, tuple[int, int]],
    key: KeyName,
) -> list[str]:
    """Each range the caller gives a private block within its bounds, and no two of all
    the ranges (given or default) overlapping; a problem always names a range the caller
    gave (an overlap by the later of the two)."""
    problems = []
    valid: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}
    for name in bounds:
        cidr = given.get(name, defaults[name])
        problem = private_ipv4_problem(cidr, *bounds[name])
        if problem is None:
            valid[name] = ipaddress.ip_network(str(cidr))
        elif name in given:
            problems.append(f"{key(name)}: {problem}, given {cidr}")
    names = list(valid)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = valid[first], valid[second]
            named = second if second in given else first
            if a.overlaps(b) and (first in given or second in given):
                other = first if named == second else second
                problems.append(
                    f"{key(named)}: {valid[named]} overlaps {leaf(key, other)} "
                    f"{valid[other]}; the ranges must not overlap"
                )
    return problems
