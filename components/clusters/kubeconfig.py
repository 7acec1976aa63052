"""Kubeconfigs for managed clusters: no static credentials, a CLI plugin mints tokens."""

import json
from collections.abc import Mapping
from typing import Any

import pulumi


def exec_kubeconfig(
    cluster_name: str,
    *,
    server: pulumi.Input[str],
    ca_data: pulumi.Input[str],
    exec_config: Mapping[str, Any],
) -> pulumi.Output[str]:
    """A one-context kubeconfig whose user runs `exec_config` (client.authentication v1beta1).

    `exec_config` holds `command` and `args` and may contain Outputs; the result is secret.
    """

    def render(resolved: list[Any]) -> str:
        url, ca, user_exec = resolved
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": cluster_name,
                        "cluster": {"server": url, "certificate-authority-data": ca},
                    }
                ],
                "contexts": [
                    {
                        "name": cluster_name,
                        "context": {"cluster": cluster_name, "user": cluster_name},
                    }
                ],
                "current-context": cluster_name,
                "users": [
                    {
                        "name": cluster_name,
                        "user": {
                            "exec": {
                                "apiVersion": "client.authentication.k8s.io/v1beta1",
                                "interactiveMode": "Never",
                                **user_exec,
                            }
                        },
                    }
                ],
            }
        )

    resolved = pulumi.Output.all(server, ca_data, pulumi.Output.from_input(dict(exec_config)))
    return pulumi.Output.secret(resolved.apply(render))
