"""gpuplane: the Pulumi program. Config -> build_platform -> exports."""

import pulumi

from components.config import load_config
from components.platform import build_platform

platform = build_platform(load_config())
for key, value in platform.outputs.items():
    pulumi.export(key, value)
