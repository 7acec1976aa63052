"""The one rule on public CIDR sets, shared by the stack config and the policy pack.

A set of CIDRs allowed to reach a public endpoint is refused when, taken together,
it covers more than a /8 of IPv4 or a /32 of IPv6: `[0.0.0.0/1, 128.0.0.0/1]` is
the whole internet although neither block is /0. In prod an endpoint open to more
than a /24 (per family, together) earns an advisory.
"""

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_PUBLIC_PREFIX = {4: 8, 6: 32}
"""The widest a public CIDR set may be, per address family (the union's size)."""
PROD_PUBLIC_PREFIX = {4: 24, 6: 64}
"""Wider than this in prod is an advisory: an office, VPN or CI egress is narrower."""


def networks(cidrs: Iterable[Any]) -> list[Network]:
    """The CIDRs that parse (host bits allowed, as the clouds accept them); others skipped."""
    out: list[Network] = []
    for cidr in cidrs:
        try:
            out.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            continue
    return out


def _addresses(nets: list[Network], version: int) -> int:
    family = [n for n in nets if n.version == version]
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(family))  # type: ignore[arg-type]


def wider_than(cidrs: Iterable[Any], prefix: dict[int, int]) -> list[str]:
    """One phrase per address family whose CIDRs together cover more than `/prefix`
    (`'0.0.0.0/1, 128.0.0.0/1 together cover 2^32 addresses, more than a /8'`)."""
    nets = networks(cidrs)
    problems = []
    for version, bits in ((4, 32), (6, 128)):
        limit = 2 ** (bits - prefix[version])
        total = _addresses(nets, version)
        if total > limit:
            shown = ", ".join(str(n) for n in nets if n.version == version)
            whole = " (the whole internet)" if total == 2**bits else ""
            problems.append(
                f"{shown} {'together cover' if ',' in shown else 'covers'} "
                f"2^{total.bit_length() - 1} addresses{whole}: wider than /{prefix[version]}"
            )
    return problems


def too_wide(cidrs: Iterable[Any]) -> list[str]:
    """What is wrong with a public CIDR set in any environment (empty when fine)."""
    return wider_than(cidrs, MAX_PUBLIC_PREFIX)


def wide_for_prod(cidrs: Iterable[Any]) -> list[str]:
    """What is wide for a prod endpoint: more than a /24 (IPv4) or /64 (IPv6) together."""
    return wider_than(cidrs, PROD_PUBLIC_PREFIX)
