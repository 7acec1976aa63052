"""KServe's node-local model cache: weights on the GPU nodes' local disk, not the bucket.

The `kserve-localmodel-crd` and `kserve-localmodel-resources` charts, one
LocalModelNodeGroup per GPU pool (a local PersistentVolume on the pool's nodes, on the
host directory of cache_settings.HOST_PATHS) and one LocalModelCache per model. KServe's
own switch (`localModel.enabled` in inferenceservice-config) is set by `KServe`'s
`local_model` arg. An InferenceService whose storageUri equals a cached model's source
URI mounts the node's copy instead of downloading it.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gpuplane.components.clusters.contract import GPU_TOLERATION
from gpuplane.components.naming import type_token
from gpuplane.components.rules import check, python_key, unknown_keys
from gpuplane.components.serving.cache_settings import (
    GIB,
    HOST_PATHS,
    JOB_NAMESPACE,
    JOB_SERVICE_ACCOUNT,
    NODE_LABEL,
    UPSTREAM_HOST_PATH,
    CachedModel,
    ModelCacheSettings,
    absolute_uri,
    model_cache_problems,
)
from gpuplane.components.serving.common import custom_resource, namespace, release
from gpuplane.components.serving.kserve import NAMESPACE as KSERVE_NAMESPACE
from gpuplane.components.serving.kserve import postrender_path

API_VERSION = "serving.kserve.io/v1alpha1"
STORAGE_CLASS = "kserve-localmodel"
"""No such StorageClass exists: the name only pairs the cache's claims with its volumes."""
# One post-renderer per host directory: the v0.20.0 chart hard-codes /models.
POSTRENDER_DIR = Path(__file__).parent / "postrender"
POSTRENDERERS: Mapping[str, Path] = {
    "al2023": POSTRENDER_DIR / "localmodel-al2023",
    "cos": POSTRENDER_DIR / "localmodel-cos",
    "ubuntu": POSTRENDER_DIR / "localmodel-ubuntu",
}


class CachePool(TypedDict):
    """One GPU pool keeping the cache."""

    name: str
    """The pool's name; a LocalModelNodeGroup of the same name is made."""
    node_selector: Mapping[str, str]
    """Labels that select the pool's nodes."""
    disk_gib: int
    """GiB of local storage each node gives the cache."""


class ModelCacheArgs(TypedDict):
    """Arguments of `ModelCache`."""

    provider: k8s.Provider
    """The cluster's explicit provider."""
    pools: Sequence[CachePool]
    """The GPU pools whose nodes keep the cache. Their nodes must carry the label
    `kserve/localmodel: worker` (the agent DaemonSet selects it): the cluster modules put
    it on the pools gpuplane makes."""
    models: Sequence[CachedModel]
    """The models to cache."""
    tolerations: NotRequired[Sequence[Mapping[str, str]]]
    """What the agent needs to run on the pools' nodes. Default: the nvidia.com/gpu taint."""
    storage_uri_prefix: NotRequired[pulumi.Input[str]]
    """The models bucket (`s3://bucket/`): each model's storage_uri is a path inside it.
    Default: none, storage URIs are full URIs."""
    node_os: NotRequired[str]
    """The GPU nodes' image; picks the host directory (cache_settings.HOST_PATHS) or refuses
    (cache_settings.REFUSED). Default unknown: upstream's /models."""
    after: NotRequired[Sequence[pulumi.Resource]]
    """What must be up first: cert-manager (the webhook's certificate) and the KServe
    controller with the cache switched on. Default: nothing."""
    job_service_account_annotations: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Annotations that bind the download jobs' ServiceAccount (the namespace's `default`)
    to a cloud identity; it is patched, not created. Default: none."""
    job_pod_labels: NotRequired[Mapping[str, str]]
    """Labels every download job's pods need for that identity (AKS's webhook), set on
    each Job by a MutatingAdmissionPolicy (Kubernetes 1.36+). Default: none."""


def model_cache_args_problems(args: ModelCacheArgs) -> list[str]:
    """Every rule ModelCache applies to its args, with Python key paths."""
    unknown = unknown_keys(args, ModelCacheArgs, python_key)
    if unknown:
        return unknown
    settings = ModelCacheSettings(
        models=args.get("models", ()),
        pool_disks={p["name"]: p["disk_gib"] for p in args.get("pools", ())},
    )
    return model_cache_problems(
        settings,
        node_os=args.get("node_os", "unknown"),
        bucket="storage_uri_prefix" in args,
        key=lambda path: path.rstrip(".") or "models",
    )


def host_path(node_os: str) -> str:
    """The host directory the cache lives in on nodes of this image."""
    return HOST_PATHS.get(node_os, UPSTREAM_HOST_PATH)


def node_group_spec(pool: CachePool, node_os: str) -> dict:
    """A LocalModelNodeGroup: a local volume on the pool's nodes as large as their disk."""
    capacity = f"{pool['disk_gib']}Gi"
    selector = {**pool["node_selector"], NODE_LABEL[0]: NODE_LABEL[1]}
    return {
        "storageLimit": capacity,
        "persistentVolumeSpec": {
            "accessModes": ["ReadWriteOnce"],
            "volumeMode": "Filesystem",
            "capacity": {"storage": capacity},
            "local": {"path": host_path(node_os)},
            "storageClassName": STORAGE_CLASS,
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": key, "operator": "In", "values": [value]}
                                for key, value in sorted(selector.items())
                            ]
                        }
                    ]
                }
            },
        },
        "persistentVolumeClaimSpec": {
            "accessModes": ["ReadWriteOnce"],
            "volumeMode": "Filesystem",
            "storageClassName": STORAGE_CLASS,
            "resources": {"requests": {"storage": capacity}},
        },
    }


def source_uri(model: CachedModel, prefix: pulumi.Input[str] | None) -> pulumi.Input[str]:
    """The model's full URI: its storage_uri, or that path inside the models bucket."""
    uri = model["storage_uri"]
    if prefix is None or absolute_uri(uri):
        return uri
    return pulumi.Output.concat(prefix, uri)


def cache_spec(model: CachedModel, pools: Sequence[str], prefix: pulumi.Input[str] | None) -> dict:
    """A LocalModelCache: the model, its size and the node groups keeping it."""
    return {
        "sourceModelUri": source_uri(model, prefix),
        "modelSize": model["size"],
        "nodeGroups": list(model.get("pools") or pools),
    }


def agent_values(tolerations: Sequence[Mapping[str, str]]) -> dict:
    """Chart values: the agent tolerates the GPU pools' taints (it selects its nodes by
    the `kserve/localmodel: worker` label, the chart's default)."""
    return {
        "kserve": {
            "localmodelnode": {
                "controller": {"tolerations": [dict(t) for t in tolerations]},
            }
        }
    }


def job_label_policy_spec(labels: Mapping[str, str]) -> dict:
    """A MutatingAdmissionPolicy adding `labels` to the pod template of every Job created
    in the download jobs' namespace (the agent sets none of its own there)."""
    entries = ", ".join(f'"{key}": "{value}"' for key, value in sorted(labels.items()))
    return {
        "failurePolicy": "Fail",
        "reinvocationPolicy": "Never",
        "matchConstraints": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": JOB_NAMESPACE}},
            "resourceRules": [
                {
                    "apiGroups": ["batch"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["jobs"],
                }
            ],
        },
        "mutations": [
            {
                "patchType": "ApplyConfiguration",
                "applyConfiguration": {
                    "expression": (
                        "Object{spec: Object.spec{template: Object.spec.template{metadata: "
                        f"Object.spec.template.metadata{{labels: {{{entries}}}}}}}}}}}"
                    )
                },
            }
        ],
    }


class ModelCache(pulumi.ComponentResource):
    """KServe's local model cache on the GPU pools' nodes."""

    crds: k8s.helm.v3.Release
    release: k8s.helm.v3.Release
    job_namespace: k8s.core.v1.Namespace
    node_groups: dict[str, k8s.apiextensions.CustomResource]
    caches: dict[str, k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: ModelCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check("ModelCache", model_cache_args_problems(args))
        super().__init__(type_token("serving", "ModelCache"), name, None, opts)
        common = {"parent": self, "provider": args["provider"]}
        node_os = args.get("node_os", "unknown")
        after = list(args.get("after", ()))
        self.crds = release(
            f"{name}-crd",
            chart="kserve-localmodel-crd",
            release_name="kserve-localmodel-crd",
            namespace=KSERVE_NAMESPACE,
            values={},
            depends_on=after,
            **common,
        )
        renderer = POSTRENDERERS.get(node_os)
        self.release = release(
            f"{name}-resources",
            chart="kserve-localmodel-resources",
            release_name="kserve-localmodel-resources",
            namespace=KSERVE_NAMESPACE,
            values=agent_values(args.get("tolerations", (GPU_TOLERATION,))),
            depends_on=[self.crds, *after],
            postrender=postrender_path(renderer) if renderer else None,
            **common,
        )
        # Download jobs run here (the chart's jobNamespace); the storage initializer they
        # run sets no security context, so the namespace enforces baseline.
        self.job_namespace = namespace(
            f"{name}-jobs-ns",
            JOB_NAMESPACE,
            pod_security="baseline",
            injection=False,
            **common,
        )
        # The download jobs take no traffic: every ingress is denied there.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-jobs-default-deny",
            metadata={"name": "default-deny-ingress", "namespace": JOB_NAMESPACE},
            spec={"podSelector": {}, "policyTypes": ["Ingress"]},
            opts=pulumi.ResourceOptions(depends_on=[self.job_namespace], **common),
        )
        ready: list[pulumi.Resource] = [self.release, self.job_namespace]
        ready += self._job_identity(name, args, common)
        pools = list(args["pools"])
        self.node_groups = {
            pool["name"]: custom_resource(
                f"{name}-group-{pool['name']}",
                api_version=API_VERSION,
                kind="LocalModelNodeGroup",
                name=pool["name"],
                namespace=None,
                spec=node_group_spec(pool, node_os),
                depends_on=ready,
                **common,
            )
            for pool in pools
        }
        prefix = args.get("storage_uri_prefix")
        pool_names = [p["name"] for p in pools]
        self.caches = {
            model["name"]: custom_resource(
                f"{name}-model-{model['name']}",
                api_version=API_VERSION,
                kind="LocalModelCache",
                name=model["name"],
                namespace=None,
                spec=cache_spec(model, pool_names, prefix),
                depends_on=[*ready, *self.node_groups.values()],
                **common,
            )
            for model in args["models"]
        }
        total = sum(p["disk_gib"] for p in pools) * GIB
        self.register_outputs(
            {
                "nodeGroups": pool_names,
                "models": [m["name"] for m in args["models"]],
                "hostPath": host_path(node_os),
                "diskBytes": total,
            }
        )

    def _job_identity(self, name: str, args: ModelCacheArgs, common: dict) -> list:
        """The download jobs' ServiceAccount annotations and pod labels, where given."""
        made: list[pulumi.Resource] = []
        annotations = args.get("job_service_account_annotations")
        if annotations:
            made.append(
                k8s.core.v1.ServiceAccountPatch(
                    f"{name}-jobs-sa",
                    metadata={
                        "name": JOB_SERVICE_ACCOUNT,
                        "namespace": JOB_NAMESPACE,
                        "annotations": dict(annotations),
                    },
                    opts=pulumi.ResourceOptions(depends_on=[self.job_namespace], **common),
                )
            )
        labels = args.get("job_pod_labels")
        if labels:
            policy_name = "gpuplane-localmodel-jobs-labels"
            policy = k8s.admissionregistration.v1.MutatingAdmissionPolicy(
                f"{name}-jobs-labels",
                metadata={"name": policy_name},
                spec=job_label_policy_spec(labels),
                opts=pulumi.ResourceOptions(**common),
            )
            made.append(policy)
            made.append(
                k8s.admissionregistration.v1.MutatingAdmissionPolicyBinding(
                    f"{name}-jobs-labels-binding",
                    metadata={"name": policy_name},
                    spec={"policyName": policy_name},
                    opts=pulumi.ResourceOptions(depends_on=[policy], **common),
                )
            )
        return made
