"""The cloud side of jobs for a cluster, imported only for that cloud."""

from collections.abc import Callable, Sequence

import pulumi

from gpuplane.components.clusters.contract import Cluster
from gpuplane.components.jobs.cloud import JobsCloud
from gpuplane.components.jobs.settings import JobConfig, JobQueueConfig


def cloud_jobs(
    cluster: Cluster, jobs: Sequence[JobConfig], queue: JobQueueConfig
) -> Callable[[str, pulumi.Resource], JobsCloud] | None:
    """A builder of the data bucket, identities and bucket events; None off the clouds."""
    facts = cluster.facts
    if facts is None:
        return None
    if cluster.cloud == "aws":
        from gpuplane.components.jobs.aws import aws_jobs

        return lambda name, parent: aws_jobs(
            name, facts=facts, jobs=jobs, queue=queue, parent=parent
        )
    if cluster.cloud == "gcp":
        from gpuplane.components.jobs.gcp import gcp_jobs

        return lambda name, parent: gcp_jobs(
            name, facts=facts, jobs=jobs, queue=queue, parent=parent
        )
    if cluster.cloud == "azure":
        from gpuplane.components.jobs.azure import azure_jobs

        return lambda name, parent: azure_jobs(
            name, facts=facts, jobs=jobs, queue=queue, parent=parent
        )
    return None
