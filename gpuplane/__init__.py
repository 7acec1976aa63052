"""The `gpuplane` command: the Pulumi program planned, checked and costed offline."""
