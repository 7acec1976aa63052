"""An existing cluster (kind), gpuplane's serving stack on it, and a namespace of our own."""

import pulumi
from components.team import team_namespace

from gpuplane.components import ExistingCluster, ServingStack

config = pulumi.Config()
# An Output input: the domain could as well come from another stack or a DNS zone.
domain = pulumi.Output.from_input(config.get("domain") or "models.example.org")

lab = ExistingCluster(
    "lab",
    {
        "context": config.get("context") or "kind-gpuplane",
        "kubernetes_version": "1.36",
        "gpu_pools": [{"name": "l4", "labels": {"gpu": "l4"}, "accelerator": "nvidia-l4"}],
    },
)
serving = ServingStack(
    "lab-serving",
    {
        "cluster": lab.spec,
        "domain": domain,
        "monitoring": {"enabled": False},
        "knative": {"scale_down_delay": "5m", "container_concurrency": 4},
    },
    opts=pulumi.ResourceOptions(depends_on=list(lab.cluster.ready)),
)
team_namespace("lab", provider=lab.provider, team="search")

pulumi.export("domain", serving.domain)
pulumi.export("modelsNamespace", serving.models_namespace)
