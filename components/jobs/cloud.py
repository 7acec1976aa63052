"""What a cloud hands the jobs' Kubernetes side: identities, the data bucket, scalers."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

TRAINING_NAMESPACE = "training"
TRAINING_SERVICE_ACCOUNT = "training"
# KEDA's operator, which reads queue lengths for the scalers (kedacore/charts values:
# serviceAccount.operator.name).
KEDA_NAMESPACE = "keda"
KEDA_SERVICE_ACCOUNT = "keda-operator"


@dataclass(frozen=True)
class Scaler:
    """One KEDA trigger: its type, metadata and whether it authenticates."""

    type: str
    metadata: Mapping[str, pulumi.Input[str]]
    authenticated: bool = True
    queue: pulumi.Input[str] | None = None
    """What the job consumes (queue URL, subscription or queue name), given to it as
    GPUPLANE_QUEUE."""


@dataclass(frozen=True)
class JobsCloud:
    """The cloud side of jobs. Empty on an existing cluster (no cloud identity there)."""

    training_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations that give the `training` ServiceAccount its cloud identity."""
    training_pod_labels: Mapping[str, str] = field(default_factory=dict)
    keda_identity: Mapping[str, Any] = field(default_factory=dict)
    """The KEDA chart's `podIdentity` values for the operator's own identity."""
    pod_identity: Mapping[str, pulumi.Input[str]] | None = None
    """`spec.podIdentity` of the TriggerAuthentication scalers use: never a static key."""
    scalers: Mapping[str, Scaler] = field(default_factory=dict)
    """By job name: the scaler of each bucket or cloud-queue trigger."""
    data_uri: pulumi.Input[str] | None = None
    models_uri: pulumi.Input[str] | None = None
    """Where the training identity may write models (the models bucket's prefix)."""
    ready: Sequence[pulumi.Resource] = ()
    """Grants and notifications the jobs wait for."""
