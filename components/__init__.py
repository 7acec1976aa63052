"""gpuplane's reusable Pulumi components: config, clusters and the serving stack."""
