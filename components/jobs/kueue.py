"""Kueue: one ClusterQueue whose GPU quota is what each pool can create, and the
`training` namespace's LocalQueue that every job there is admitted through."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GPU_RESOURCE, GpuPool
from gpuplane.components.serving.common import custom_resource, namespace, release

NAMESPACE = "kueue-system"
API_VERSION = "kueue.x-k8s.io/v1beta2"
CLUSTER_QUEUE = "gpuplane"
# A LocalQueue named `default` takes every Job in its namespace that names no queue
# (Kueue's LocalQueueDefaulting), so plain `kubectl create job` is queued too.
LOCAL_QUEUE = "default"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
CPU_FLAVOR = "default"
# Kueue manages only batch Jobs, and only in the namespaces gpuplane names: serving
# (Knative, KServe) is never queued.
MANAGER_CONFIG = """apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
health:
  healthProbeBindAddress: :8081
metrics:
  bindAddress: :8443
webhook:
  port: 9443
leaderElection:
  leaderElect: true
  resourceName: c1f6bfd2.kueue.x-k8s.io
manageJobsWithoutQueueName: true
managedJobsNamespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values: [{namespaces}]
integrations:
  frameworks:
    - batch/job
"""


def flavor_name(pool: GpuPool) -> str:
    return f"gpu-{pool.name}"


def pool_capacity(pool: GpuPool) -> int | None:
    """GPUs (as the device plugin advertises them) the pool can create at most."""
    if pool.max_nodes is None or pool.gpus_per_node is None:
        return None
    return pool.max_nodes * pool.gpus_per_node * (pool.sharing_replicas or 1)


def taints_of(pool: GpuPool) -> list[dict[str, str]]:
    """The taints the pool's nodes carry, as its tolerations describe them."""
    return [
        {
            k: v
            for k, v in {
                "key": t.get("key"),
                "value": t.get("value"),
                "effect": t["effect"],
            }.items()
            if v
        }
        for t in pool.tolerations
        if t.get("effect")
    ]


@dataclass(frozen=True, kw_only=True)
class KueueArgs:
    """Arguments of `Kueue`."""

    provider: k8s.Provider
    pools: Sequence[GpuPool]
    gpu_quota: Mapping[str, int]
    """GPUs per pool name; pools absent here get no GPU flavor."""
    cpu_quota: int
    memory_quota_gi: int
    namespaces: Sequence[str]
    """Namespaces whose Jobs Kueue manages (and the ClusterQueue admits)."""
    monitoring: pulumi.Resource | None = None
    """The Prometheus release; when set, the chart's ServiceMonitor is enabled after it."""
    depends_on: tuple[pulumi.Resource, ...] = ()


class Kueue(pulumi.ComponentResource):
    """Kueue, a ResourceFlavor per GPU pool and one ClusterQueue."""

    release: k8s.helm.v3.Release
    flavors: list[k8s.apiextensions.CustomResource]
    cluster_queue: k8s.apiextensions.CustomResource

    def __init__(
        self, name: str, args: KueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gpuplane:jobs:Kueue", name, None, opts)
        common = {"parent": self, "provider": args.provider}
        ns = namespace(
            f"{name}-ns",
            NAMESPACE,
            pod_security="restricted",
            injection=False,
            depends_on=args.depends_on,
            **common,
        )
        self.release = release(
            f"{name}-release",
            chart="kueue",
            release_name="kueue",
            namespace=ns,
            values={
                "enablePrometheus": args.monitoring is not None,
                "managerConfig": {
                    "controllerManagerConfigYaml": MANAGER_CONFIG.format(
                        namespaces=", ".join(args.namespaces)
                    )
                },
            },
            depends_on=[args.monitoring] if args.monitoring is not None else [],
            **common,
        )
        after = [self.release]
        pools = [p for p in args.pools if p.name in args.gpu_quota]
        self.flavors = [
            custom_resource(
                f"{name}-flavor-cpu",
                api_version=API_VERSION,
                kind="ResourceFlavor",
                name=CPU_FLAVOR,
                namespace=None,
                spec={},
                depends_on=after,
                **common,
            )
        ]
        for pool in pools:
            self.flavors.append(
                custom_resource(
                    f"{name}-flavor-{pool.name}",
                    api_version=API_VERSION,
                    kind="ResourceFlavor",
                    name=flavor_name(pool),
                    namespace=None,
                    spec={
                        "nodeLabels": dict(pool.node_selector),
                        "nodeTaints": taints_of(pool),
                    },
                    depends_on=after,
                    **common,
                )
            )
        groups: list[dict[str, object]] = [
            {
                "coveredResources": ["cpu", "memory"],
                "flavors": [
                    {
                        "name": CPU_FLAVOR,
                        "resources": [
                            {"name": "cpu", "nominalQuota": args.cpu_quota},
                            {"name": "memory", "nominalQuota": f"{args.memory_quota_gi}Gi"},
                        ],
                    }
                ],
            }
        ]
        if pools:
            groups.append(
                {
                    "coveredResources": [GPU_RESOURCE],
                    "flavors": [
                        {
                            "name": flavor_name(p),
                            "resources": [
                                {"name": GPU_RESOURCE, "nominalQuota": args.gpu_quota[p.name]}
                            ],
                        }
                        for p in pools
                    ],
                }
            )
        self.cluster_queue = custom_resource(
            f"{name}-cluster-queue",
            api_version=API_VERSION,
            kind="ClusterQueue",
            name=CLUSTER_QUEUE,
            namespace=None,
            spec={
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": list(args.namespaces),
                        }
                    ]
                },
                "queueingStrategy": "BestEffortFIFO",
                "preemption": {"withinClusterQueue": "LowerPriority"},
                "resourceGroups": groups,
            },
            depends_on=[*after, *self.flavors],
            **common,
        )
        self.register_outputs({"clusterQueue": CLUSTER_QUEUE})
