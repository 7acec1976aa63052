"""gpuplane: the Pulumi program. Config -> build_platform -> exports."""

import pulumi

from gpuplane.components.config import load_config
from gpuplane.components.platform import build_platform

platform = build_platform(load_config())
for key, value in platform.outputs.items():
    pulumi.export(key, value)
