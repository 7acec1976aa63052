"""gpuplane as a Pulumi component package, for programs in any language.

`provider/` (PulumiPlugin.yaml, __main__.py) runs `main()`; Pulumi's component
provider host infers the package schema from the components' Args and output
annotations. From a Pulumi YAML, TypeScript or Go program:

    pulumi package add <path-to-gpuplane>/provider

The published components register `gpuplane:index:<Name>`; the same classes used
from Python keep their own tokens (`gpuplane:serving:ServingStack`), so existing
stacks' URNs do not change (components/naming.py).
"""

from importlib import metadata

import pulumi

from gpuplane.components.clusters.aws import EksCluster
from gpuplane.components.clusters.azure import AksCluster
from gpuplane.components.clusters.existing import ExistingCluster
from gpuplane.components.clusters.gcp import GkeCluster
from gpuplane.components.serving.stack import ServingStack

NAME = "gpuplane"
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    ExistingCluster,
    ServingStack,
    EksCluster,
    GkeCluster,
    AksCluster,
]
"""Published components. EksCluster needs the `aws` extra, GkeCluster the `gcp` extra and
AksCluster the `azure` extra (provider/requirements.txt installs them)."""


def version() -> str:
    try:
        return metadata.version("gpuplane")
    except metadata.PackageNotFoundError:  # a checkout that is not installed
        return "0.0.0"


def schema() -> dict:
    """The package schema Pulumi's analyzer infers from COMPONENTS."""
    from pulumi.provider.experimental.analyzer import Analyzer
    from pulumi.provider.experimental.schema import generate_schema

    result = Analyzer(NAME).analyze(COMPONENTS)
    dependencies = sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}")
    return generate_schema(
        NAME,
        version(),
        None,
        result["component_definitions"],
        result["type_definitions"],
        dependencies,
    ).to_json()


def main() -> None:
    """Serve the components to the Pulumi engine (run by provider/__main__.py)."""
    from pulumi.provider.experimental import component_provider_host

    component_provider_host(COMPONENTS, name=NAME, version=version())
