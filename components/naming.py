"""Type tokens: stable for Python programs, `gpuplane:index:<Name>` for other languages.

A Python program registers `gpuplane:serving:ServingStack` as it always has, so its
URNs never change. Hosted as a component package (gpuplane/package.py), the same
class registers the token the package's schema publishes, `gpuplane:index:<Name>`,
which is what a Pulumi YAML, TypeScript or Go program asks for.
"""

import sys

PACKAGE = "gpuplane"


def hosted() -> bool:
    """Whether this process is the component package serving another language."""
    host = sys.modules.get("pulumi.provider.experimental.host")
    return bool(host is not None and getattr(host, "is_hosting", False))


def type_token(module: str, name: str) -> str:
    """The type token a component registers."""
    return f"{PACKAGE}:index:{name}" if hosted() else f"{PACKAGE}:{module}:{name}"
