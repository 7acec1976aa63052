"""The rule on who may reach a cluster's public API endpoint, shared by every cloud
cluster component and the YAML config layer (`gpuplane:cluster.endpoint`)."""

import ipaddress
from collections.abc import Sequence

from gpuplane.components.messages import quote
from gpuplane.policies import cidrs as cidr_rule


def public_cidr_problem(cidrs: Sequence[str]) -> str | None:
    """Why a set of CIDRs may not reach a public API endpoint, or None: each must be a
    CIDR block, none the whole internet, and together no wider than the policy pack
    allows."""
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            return f"{quote(cidr)} is not a CIDR block like 203.0.113.0/24 ({str(exc)[:120]})"
        if network.prefixlen == 0:
            return (
                f"{cidr} opens the API server to the whole internet; list the "
                "narrow CIDRs of your office, VPN or CI runners instead"
            )
    # The rule the policy pack applies to the cluster's endpoint, on the whole set.
    for problem in cidr_rule.too_wide(cidrs):
        return f"{problem}; list the narrow CIDRs of your office, VPN or CI runners instead"
    return None
