"""`gpuplane check` reports what CrossGuard itself reports.

The pack is loaded as Pulumi loads it (policies/__main__.py, with a stand-in
PolicyPack: the real one starts a gRPC server), and its policies are driven
through pulumi_policy's own analyzer servicer, the object that answers Pulumi's
engine: Configure with the config the engine builds (schema defaults and policy
levels), Analyze once per resource with its inputs as a protobuf Struct, and
AnalyzeStack once. Its findings must be `gpuplane check`'s findings, one for one.
"""

import json
import re
import runpy
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi_policy.policy import _PolicyAnalyzerServicer

from gpuplane.check import STACK_TYPE, check, policy_props
from gpuplane.graph import Resource, ResourceGraph
from tests.policies import (
    test_aws,
    test_azure,
    test_gcp,
    test_helm,
    test_kubernetes,
    test_mesh,
    test_stack,
)
from tests.policies.harness import Mutation, graph_of
from tests.policies.test_pack import shipped_graph

ROOT = Path(__file__).resolve().parents[2]
_LEVELS = {pb.ADVISORY: "advisory", pb.MANDATORY: "mandatory"}
_LEVEL_CODES = {"advisory": pb.ADVISORY, "mandatory": pb.MANDATORY, "disabled": pb.DISABLED}

# At least one mutation per family, the stack rules, and every rule whose message
# carries a number (CrossGuard hands numbers over as floats).
CASES: dict[str, tuple[str, Mutation]] = {
    rule_id: module.MUTATIONS[rule_id]
    for module, rule_ids in (
        (test_aws, ("GP-AWS-001", "GP-AWS-007")),
        (test_gcp, ("GP-GCP-003", "GP-GCP-015")),
        (test_azure, ("GP-AZ-003", "GP-AZ-009")),
        (test_kubernetes, ("GP-K8S-004", "GP-K8S-010", "GP-K8S-013", "GP-K8S-018")),
        (test_helm, ("GP-HELM-001", "GP-HELM-003")),
        (test_mesh, ("GP-MESH-002", "GP-MESH-003")),
        (test_stack, ("GP-STACK-001",)),
    )
    for rule_id in rule_ids
}


@cache
def _pack() -> dict[str, Any]:
    """What policies/__main__.py hands the PolicyPack."""
    captured: dict[str, Any] = {}
    fake = types.ModuleType("pulumi_policy")
    fake.__dict__.update(pulumi_policy.__dict__)
    fake.PolicyPack = lambda **kwargs: captured.update(kwargs)  # type: ignore[attr-defined]
    real = sys.modules["pulumi_policy"]
    sys.modules["pulumi_policy"] = fake
    try:
        runpy.run_path(str(ROOT / "policies" / "__main__.py"), run_name="__main__")
    finally:
        sys.modules["pulumi_policy"] = real
    return captured


def _servicer() -> _PolicyAnalyzerServicer:
    pack = _pack()
    servicer = _PolicyAnalyzerServicer(
        pack["name"], "0.1.0", pack["policies"], pack["enforcement_level"]
    )
    # The config the engine builds for a run without --policy-pack-config: each
    # policy's own level and its schema's defaults.
    request = pb.ConfigureAnalyzerRequest()
    for policy in pack["policies"]:
        config = pb.PolicyConfig(enforcementLevel=_LEVEL_CODES[policy.enforcement_level.value])
        schema = policy.config_schema.properties if policy.config_schema else {}
        config.properties.update({k: v["default"] for k, v in schema.items() if "default" in v})
        request.policyConfig[policy.name].CopyFrom(config)
    servicer.Configure(request, None)
    return servicer


def _struct(resource: Resource) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(policy_props(resource.inputs))
    return struct


def _finding(policy: str, urn: str, level: int, message: str) -> tuple[str, str, str, str]:
    # CrossGuard's message is the description, a newline, then what the rule said.
    # A policy that read an unknown says so in its own words: compare only that it did.
    said = message.split("\n", 1)[1] if "\n" in message else message
    if "during preview" in said:
        said = "<unknown>"
    return policy, urn, _LEVELS[level], said


def crossguard(graph: ResourceGraph) -> set[tuple[str, str, str, str]]:
    """(policy, urn, level, message) for every diagnostic the servicer returns."""
    servicer = _servicer()
    resources = [r for r in graph if r.custom and not r.is_provider]
    stack_urn = f"urn:pulumi:{graph.stack}::{graph.project}::{STACK_TYPE}::"
    stack_urn += f"{graph.project}-{graph.stack}"
    found = set()
    for r in resources:
        request = pb.AnalyzeRequest(type=r.type, properties=_struct(r), urn=r.urn, name=r.name)
        for d in servicer.Analyze(request, None).diagnostics:
            found.add(_finding(d.policyName, d.urn or r.urn, d.enforcementLevel, d.message))
    stack = pb.AnalyzeStackRequest()
    for r in resources:
        entry = pb.AnalyzerResource(
            type=r.type,
            properties=_struct(r),
            urn=r.urn,
            name=r.name,
            parent=r.parent or "",
            dependencies=list(r.dependencies),
        )
        for key, urns in r.property_dependencies.items():
            entry.propertyDependencies[key].urns.extend(urns)
        stack.resources.append(entry)
    for d in servicer.AnalyzeStack(stack, None).diagnostics:
        found.add(_finding(d.policyName, d.urn or stack_urn, d.enforcementLevel, d.message))
    return found


def offline(graph: ResourceGraph) -> set[tuple[str, str, str, str]]:
    return {
        (v.policy, v.urn, v.level, "<unknown>" if "during preview" in v.message else v.message)
        for v in check(graph).violations
    }


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_check_matches_crossguard_on_a_mutated_shipped_graph(rule_id: str) -> None:
    stack_name, mutate = CASES[rule_id]
    data = json.loads(shipped_graph(stack_name))
    mutate(data)
    graph = ResourceGraph.from_json(data)
    expected = crossguard(graph)
    assert any(f[3].startswith(f"[{rule_id}] ") for f in expected), expected
    assert offline(graph) == expected
    # Numbers read as people write them, not as the floats CrossGuard hands over.
    assert not [f for f in expected if re.search(r"(?<![\d.])\d+\.0(?![\d.])", f[3])]


def test_check_matches_crossguard_on_numbers_nulls_and_unknowns() -> None:
    deployment = "kubernetes:apps/v1:Deployment"
    gpu = {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": "1", "memory": "1Gi"}}
    graph = graph_of(
        # GPU request 1 and limit "1": equal, under CrossGuard's 1.0 as well.
        (
            deployment,
            "gpu",
            {
                "metadata": {"name": "gpu", "namespace": "models"},
                "spec": {"template": {"spec": {"containers": [{"name": "a", "resources": gpu}]}}},
            },
        ),
        (
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "ssh",
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"},
        ),
        ("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "models", "labels": None}}),
        (
            "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "deny",
            {"metadata": {"name": "deny", "namespace": "models"}, "spec": {"podSelector": {}}},
        ),
        ("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istiod", "version": "@unknown"}),
        ("aws:eks/cluster:Cluster", "eks", {"name": "c"}),
        ("aws:eks/addon:Addon", "agent", {"addonName": "@unknown"}),
    )
    expected = crossguard(graph)
    assert offline(graph) == expected
    assert {f[0] for f in expected} >= {
        "aws-no-ingress-from-anywhere",  # tcp port 22, not 22.0
        "k8s-namespace-pod-security",  # labels: null
        "helm-exact-chart-version",  # unknown version: advisory
        "cluster-workload-identity",  # unknown addonName: advisory, for the stack
    }
    assert not any(f[0] == "k8s-gpu-pods-limit-gpus" for f in expected)
    assert not any(f[0] == "k8s-namespaces-default-deny" for f in expected)
