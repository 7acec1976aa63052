"""A team namespace that may run InferenceServices, on the cluster's provider."""

import pulumi
import pulumi_kubernetes as k8s


def team_namespace(name: str, *, provider: k8s.Provider, team: str) -> k8s.core.v1.Namespace:
    """A namespace labelled for `team`, on the given cluster."""
    return k8s.core.v1.Namespace(
        f"{name}-{team}",
        metadata={"name": team, "labels": {"team": team}},
        opts=pulumi.ResourceOptions(provider=provider),
    )
