"""Helpers shared by the tests: config builders and expectations."""

from typing import Any

import pytest

from components.config import ConfigError, parse_config


def config_problems(raw: dict[str, Any], location: dict[str, str] | None = None) -> list[str]:
    """The problems ConfigError reports for `gpuplane` keys `raw`; fails if none."""
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, location)
    return caught.value.problems


EXISTING = {"cloud": "existing", "existing": {"context": "kind-gpuplane"}}
AWS_LOCATION = {"aws:region": "us-east-1"}
AWS = {
    "cloud": "aws",
    "cluster": {"endpoint": {"publicAccessCidrs": ["203.0.113.0/24"]}},
    "aws": {"adminRoleArns": ["arn:aws:iam::123456789012:role/platform-admin"]},
}


def depends_on(graph: Any, later: Any, earlier: Any) -> bool:
    """Whether `later` waits for `earlier`, directly or through other resources."""
    seen: set[str] = set()
    stack = list(later.dependencies)
    while stack:
        urn = stack.pop()
        if urn == earlier.urn:
            return True
        if urn in seen or urn not in graph.resources:
            continue
        seen.add(urn)
        stack.extend(graph.get(urn).dependencies)
    return False
