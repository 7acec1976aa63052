"""Environment rules (placeholders, prod hardening) and the pack's parity with the config:
what the stack config refuses about an endpoint's CIDRs, the pack refuses on the resource."""

import json
from typing import Any

import pytest

from gpuplane import engine
from gpuplane.check import check
from gpuplane.components.config import ConfigError, parse_config
from gpuplane.graph import ResourceGraph
from gpuplane.policies.environment import placeholder
from gpuplane.stacks import find_project, load_stack
from tests.helpers import AWS, AWS_LOCATION, AZURE, AZURE_LOCATION, filled_in
from tests.policies.harness import ROOT, Mutation, messages, set_input, shipped_graph

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
PLACEHOLDER_RULES = {"GP-STACK-002", "GP-STACK-003"}

MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-STACK-002": (
        "aws-prod",
        set_input(ACCESS_ENTRY, "principalArn", "arn:aws:iam::123456789012:role/admin"),
    ),
    "GP-STACK-003": (
        "gcp-dev",
        set_input(GKE, "masterAuthorizedNetworksConfig.cidrBlocks.0.cidrBlock", "192.0.2.0/28"),
    ),
    "GP-STACK-004": ("aws-prod", set_input(EKS, "deletionProtection", False)),
}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("198.51.100.10/32", "gpuplane:cluster.endpoint.publicAccessCidrs"),
        ("203.0.113.0/24", "gpuplane:cluster.endpoint.publicAccessCidrs"),
        ("192.0.2.7", "gpuplane:cluster.endpoint.publicAccessCidrs"),
        ("2001:db8:1::/48", "gpuplane:cluster.endpoint.publicAccessCidrs"),
        ("00000000-0000-0000-0000-000000000000", "gpuplane:azure.adminGroupObjectIds"),
        ("my-gpuplane-project", "gcp:project"),
        ("ops@example.com", "gpuplane:serving.acmeEmail"),
        ("models.example.org", "gpuplane:serving.domain"),
    ],
)
def test_placeholders_are_named_with_the_key_that_sets_them(text: str, key: str) -> None:
    found = placeholder(text)
    assert found is not None and found[1] == key


@pytest.mark.parametrize(
    "text",
    ["34.120.7.10/32", "10.0.0.0/16", "example.com", "acme-gpu-platform", "2001:4860::/32"],
)
def test_real_values_are_not_placeholders(text: str) -> None:
    # example.com alone is Knative's own default domain, which the program sets itself.
    assert placeholder(text) is None


def _plan(stack_name: str, fill: bool) -> ResourceGraph:
    config = load_stack(find_project(ROOT), stack_name)
    return engine.plan(filled_in(config) if fill else config)


@pytest.mark.parametrize(
    ("stack_name", "rule_id", "keys"),
    [
        (
            "aws-prod",
            "GP-STACK-002",
            {"gpuplane:aws.adminRoleArns", "gpuplane:cluster.endpoint.publicAccessCidrs"},
        ),
        (
            "azure-dev",
            "GP-STACK-003",
            {"gpuplane:azure.adminGroupObjectIds", "gpuplane:cluster.endpoint.publicAccessCidrs"},
        ),
        (
            "gcp-prod",
            "GP-STACK-002",
            {"gcp:project", "gpuplane:cluster.endpoint.publicAccessCidrs"},
        ),
    ],
)
def test_shipped_placeholders_block_in_prod_and_warn_in_dev(
    stack_name: str, rule_id: str, keys: set[str]
) -> None:
    result = check(_plan(stack_name, fill=False))
    found = [v for v in result.violations if v.id in PLACEHOLDER_RULES]
    assert {v.id for v in found} == {rule_id}
    assert {v.level for v in found} == {"mandatory" if rule_id == "GP-STACK-002" else "advisory"}
    assert {k for v in found for k in keys if k in v.message} == keys
    # Filled in, as a user's copy is, nothing is left to report.
    filled = check(_plan(stack_name, fill=True))
    assert not [v for v in filled.violations if v.id in PLACEHOLDER_RULES]


def test_the_local_stack_has_no_placeholder(local_graph: ResourceGraph) -> None:
    assert not [v for v in check(local_graph).violations if v.id in PLACEHOLDER_RULES]


def test_the_program_s_own_principals_are_not_placeholders() -> None:
    # Offline, Karpenter's node role ARN carries the mocks' account (123456789012): it
    # comes from the role's output, so it is not a value the stack file gave.
    data = json.loads(shipped_graph("aws-dev"))
    node_entries = [
        r
        for r in data["resources"]
        if r["type"] == ACCESS_ENTRY and r["propertyDependencies"].get("principalArn")
    ]
    assert node_entries and all("123456789012" in r["inputs"]["principalArn"] for r in node_entries)
    assert not [
        v for v in check(ResourceGraph.from_json(data)).violations if v.id == "GP-STACK-003"
    ]


# --- prod hardening (advisory) -------------------------------------------------------


def _prod(data: dict[str, Any], mutate: Mutation) -> list[str]:
    mutate(data)
    result = check(ResourceGraph.from_json(data))
    return [v.message for v in result.violations if v.id == "GP-STACK-004"]


@pytest.mark.parametrize(
    ("stack_name", "mutation", "fragment"),
    [
        ("aws-prod", set_input(EKS, "vpcConfig.publicAccessCidrs", ["34.0.0.0/16"]), "/24"),
        (
            "gcp-prod",
            set_input(GKE, "masterAuthorizedNetworksConfig.cidrBlocks.0.cidrBlock", "34.0.0.0/20"),
            "/24",
        ),
        (
            "azure-prod",
            set_input(AKS, "apiServerAccessProfile.authorizedIPRanges", ["34.0.0.0/23"]),
            "/24",
        ),
        ("gcp-prod", set_input(GKE, "deletionProtection", False), "deletion protection"),
        (
            "aws-prod",
            set_input(NODE_CLASS, "spec.amiSelectorTerms.0.alias", "al2023@latest", every=True),
            "gpuplane:aws.gpuNodeImageVersion",
        ),
    ],
)
def test_prod_hardening_advisories(stack_name: str, mutation: Mutation, fragment: str) -> None:
    found = _prod(json.loads(shipped_graph(stack_name)), mutation)
    assert found and any(fragment in m for m in found), found


@pytest.mark.parametrize("cloud_type", [EKS, GKE, AKS])
def test_protect_off_is_an_advisory_in_prod_only(cloud_type: str) -> None:
    stack = {EKS: "aws", GKE: "gcp", AKS: "azure"}[cloud_type]

    def unprotect(data: dict[str, Any]) -> None:
        for resource in data["resources"]:
            if resource["type"] == cloud_type:
                resource["protect"] = False

    prod = _prod(json.loads(shipped_graph(f"{stack}-prod")), unprotect)
    assert any("gpuplane:cluster.protect" in m for m in prod), prod
    # A dev cluster is unprotected by default and that is fine.
    assert _prod(json.loads(shipped_graph(f"{stack}-dev")), lambda data: None) == []


# --- parity: the config's CIDR rule and the pack's ----------------------------------

CIDR_SETS: list[tuple[list[str], bool]] = [
    (["0.0.0.0/0"], True),
    (["::/0"], True),
    (["0.0.0.0/1", "128.0.0.0/1"], True),
    (["10.0.0.0/7"], True),
    (["34.0.0.0/9", "34.128.0.0/9", "35.0.0.0/9"], True),
    (["2001::/31"], True),
    (["34.0.0.0/8"], False),
    (["34.0.0.0/9", "34.128.0.0/9"], False),
    (["2001::/32"], False),
    (["203.0.113.10/32", "198.51.100.0/24"], False),
]
_ENDPOINT_RULES = {
    EKS: ("GP-AWS-001", "vpcConfig.publicAccessCidrs", "aws-dev"),
    AKS: ("GP-AZ-001", "apiServerAccessProfile.authorizedIPRanges", "azure-dev"),
}


@pytest.mark.parametrize(("cidrs", "refused"), CIDR_SETS, ids=[",".join(c) for c, _ in CIDR_SETS])
@pytest.mark.parametrize("cloud_type", [EKS, AKS, GKE])
def test_the_pack_refuses_exactly_the_cidr_sets_the_config_refuses(
    cidrs: list[str], refused: bool, cloud_type: str
) -> None:
    base, location = (AWS, AWS_LOCATION) if cloud_type == EKS else (AZURE, AZURE_LOCATION)
    raw = {**base, "cluster": {"endpoint": {"publicAccessCidrs": cidrs}}}
    try:
        parse_config(raw, location)
        problems: list[str] = []
    except ConfigError as exc:
        problems = exc.problems
    config_refuses = any(
        p.startswith("gpuplane:cluster.endpoint.publicAccessCidrs:") for p in problems
    )
    assert config_refuses == refused
    if cloud_type == GKE:
        rule_id, stack_name = "GP-GCP-002", "gcp-dev"
        mutate = set_input(
            GKE,
            "masterAuthorizedNetworksConfig.cidrBlocks",
            [{"cidrBlock": c, "displayName": f"n{i}"} for i, c in enumerate(cidrs)],
        )
    else:
        rule_id, path, stack_name = _ENDPOINT_RULES[cloud_type]
        mutate = set_input(cloud_type, path, cidrs)
    data = json.loads(shipped_graph(stack_name))
    mutate(data)
    fired = [v for v in check(ResourceGraph.from_json(data)).violations if v.id == rule_id]
    assert bool(fired) == refused, fired


def test_the_single_rule_messages_name_the_union() -> None:
    found = messages(
        "GP-AWS-001",
        (
            EKS,
            {
                "vpcConfig": {
                    "endpointPublicAccess": True,
                    "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"],
                }
            },
        ),
    )
    assert found and "0.0.0.0/1, 128.0.0.0/1" in found[0] and "/8" in found[0]
