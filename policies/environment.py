"""Rules that depend on the stack's environment: placeholders left in, prod hardening.

The environment is read from the cluster the program creates: its
`gpuplane.dev/environment` tag (EKS) or `gpuplane-environment` tag or label (AKS,
GKE). A stack with no such cluster (an existing cluster) counts as dev.

Placeholders are the values the shipped stack files and the docs use as examples:
AWS's documentation account ids, the TEST-NET address blocks (RFC 5737, RFC 3849),
the all-zero object id, `my-gpuplane-project` and example.com addresses. One left
in a stack blocks in prod (GP-STACK-002, mandatory) and warns in dev (GP-STACK-003).
"""

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from .cidrs import wide_for_prod
from .rule import Rule, dig, items

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
CLUSTERS = (EKS, GKE, AKS)

EXAMPLE_ACCOUNTS = ("123456789012", "111122223333", "444455556666")
"""AWS account ids that AWS's documentation (and gpuplane's stack files) use."""
TEST_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
EXAMPLE_PROJECTS = ("my-gpuplane-project", "my-project", "my-project-id")
_EXAMPLE_DOMAIN = r"example\.(?:com|org|net)"
_EXAMPLE_EMAIL = re.compile(rf"^[^@\s]+@(?:[a-z0-9-]+\.)*{_EXAMPLE_DOMAIN}$")
_EXAMPLE_SUBDOMAIN = re.compile(rf"^(?:[a-z0-9-]+\.)+{_EXAMPLE_DOMAIN}$")
_ACCOUNT = re.compile(r"(?<!\d)(\d{12})(?!\d)")


def environment(resources: Sequence[PolicyResource]) -> str:
    """`prod` when a cluster the stack creates is tagged prod, else `dev`."""
    for resource in resources:
        if resource.resource_type not in CLUSTERS:
            continue
        try:
            props = resource.props
            labels = dig(props, "tags") or dig(props, "resourceLabels") or {}
            value = dig(labels, "gpuplane.dev/environment") or dig(labels, "gpuplane-environment")
        except UnknownValueError:
            continue
        if value == "prod":
            return "prod"
    return "dev"


def _strings(value: Any) -> Iterator[str]:
    """Every string in a props tree, skipping values unknown during preview."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in list(value.keys()):
            try:
                inner = value[key]
            except UnknownValueError:
                continue
            yield from _strings(inner)
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for i in range(len(value)):
            try:
                inner = value[i]
            except UnknownValueError:
                continue
            yield from _strings(inner)


def placeholder(text: str) -> tuple[str, str] | None:
    """(what it is, the stack-file key that sets it) for a placeholder value, or None.

    Account ids are looked for only in the principals a stack names (`principal`);
    elsewhere an ARN carries the account the program runs in (offline: the mocks').
    """
    if text.lower() == ZERO_GUID:
        return "the all-zero object id", "gpuplane:azure.adminGroupObjectIds"
    if text in EXAMPLE_PROJECTS:
        return f"the example project {text}", "gcp:project"
    if _EXAMPLE_EMAIL.match(text):
        return f"the example address {text}", "gpuplane:serving.acmeEmail"
    if _EXAMPLE_SUBDOMAIN.match(text):
        return f"the example domain {text}", "gpuplane:serving.domain"
    if "/" in text or ":" in text or text.count(".") == 3:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            return None
        for test_net in TEST_NETS:
            if network.version == test_net.version and network.subnet_of(test_net):  # type: ignore[arg-type]
                return (
                    f"{text}, in the documentation-only block {test_net}",
                    "gpuplane:cluster.endpoint.publicAccessCidrs",
                )
    return None


def example_account(principal: str) -> tuple[str, str] | None:
    """The placeholder finding for an IAM principal ARN in an example account, or None."""
    for account in _ACCOUNT.findall(principal):
        if account in EXAMPLE_ACCOUNTS:
            return f"the example AWS account {account}", "gpuplane:aws.adminRoleArns"
    return None


def _found(resource: PolicyResource) -> Iterator[tuple[str, str]]:
    for text in _strings(resource.props):
        found = placeholder(text)
        if found is not None:
            yield found
    # A principal the stack file names is a literal; the program's own roles (Karpenter's
    # node role) come from another resource's output, in the account it runs in.
    if resource.resource_type == ACCESS_ENTRY and not resource.property_dependencies.get(
        "principalArn"
    ):
        try:
            principal = str(dig(resource.props, "principalArn", default=""))
        except UnknownValueError:
            return
        found = example_account(principal)
        if found is not None:
            yield found


def _placeholders(resources: Sequence[PolicyResource]) -> Iterable[tuple[str, str | None]]:
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        for found in _found(resource):
            if found is None or found in seen:
                continue
            seen.add(found)
            what, key = found
            yield (
                f"{what} is a placeholder from the shipped examples: set {key} in the stack "
                "file to your own value",
                resource.urn,
            )


def _placeholders_in(env: str) -> Any:
    def check(
        args: StackValidationArgs, config: Mapping[str, Any]
    ) -> Iterable[tuple[str, str | None]]:
        if environment(args.resources) == env:
            yield from _placeholders(args.resources)

    return check


def _public_cidrs(resource: PolicyResource) -> list[Any] | None:
    """The CIDRs a cluster's public endpoint admits, None when it has no public endpoint."""
    props = resource.props
    if resource.resource_type == EKS:
        if dig(props, "vpcConfig", "endpointPublicAccess", default=True) is False:
            return None
        return items(dig(props, "vpcConfig", "publicAccessCidrs"))
    if resource.resource_type == GKE:
        if dig(props, "privateClusterConfig", "enablePrivateEndpoint") is True:
            return None
        blocks = items(dig(props, "masterAuthorizedNetworksConfig", "cidrBlocks"))
        return [dig(block, "cidrBlock") for block in blocks]
    if dig(props, "apiServerAccessProfile", "enablePrivateCluster") is True:
        return None
    return items(dig(props, "apiServerAccessProfile", "authorizedIPRanges"))


def _prod_hardening(
    args: StackValidationArgs, config: Mapping[str, Any]
) -> Iterable[tuple[str, str | None]]:
    if environment(args.resources) != "prod":
        return
    for resource in args.resources:
        kind = resource.resource_type
        if kind in CLUSTERS:
            cidrs = _public_cidrs(resource)
            for wide in wide_for_prod(cidrs or []):
                yield (
                    f"the public API endpoint admits {wide}; in prod list the /32s of your CI "
                    "runners and VPN (gpuplane:cluster.endpoint.publicAccessCidrs), or turn "
                    "publicAccess off",
                    resource.urn,
                )
            if not resource.opts.protect:
                yield (
                    "the cluster is not protected from `pulumi destroy` (protect is off); set "
                    "gpuplane:cluster.protect: true",
                    resource.urn,
                )
            if kind in (EKS, GKE) and dig(resource.props, "deletionProtection") is not True:
                yield (
                    "the cluster has no deletion protection (deletionProtection is off); set "
                    "gpuplane:cluster.protect: true",
                    resource.urn,
                )
        elif kind == EC2_NODE_CLASS:
            for term in items(dig(resource.props, "spec", "amiSelectorTerms")):
                alias = str(dig(term, "alias", default=""))
                if alias.endswith("@latest"):
                    yield (
                        f"GPU nodes follow the newest AMI ({alias}): a new image reaches prod "
                        "untested; pin a release with gpuplane:aws.gpuNodeImageVersion",
                        resource.urn,
                    )


_EXAMPLES = (
    "AWS example accounts (123456789012), TEST-NET CIDRs (192.0.2.0/24, 198.51.100.0/24, "
    "203.0.113.0/24, 2001:db8::/32), the all-zero object id, my-gpuplane-project, "
    "example.com addresses"
)
_WATCHED = (EKS, GKE, AKS, EC2_NODE_CLASS, ACCESS_ENTRY)

RULES = (
    Rule(
        id="GP-STACK-002",
        name="no-placeholders-in-prod",
        description=f"A prod stack carries no placeholder value from the examples ({_EXAMPLES}).",
        severity="high",
        level="mandatory",
        remediation="Replace each placeholder in the stack file with your own value (the "
        "finding names the key).",
        anchor="gpuplane: the shipped stack files' placeholders",
        resource_types=_WATCHED,
        stack_check=_placeholders_in("prod"),
    ),
    Rule(
        id="GP-STACK-003",
        name="no-placeholders",
        description=f"A dev stack carries no placeholder value from the examples ({_EXAMPLES}).",
        severity="low",
        level="advisory",
        remediation="Replace each placeholder in the stack file with your own value (the "
        "finding names the key).",
        anchor="gpuplane: the shipped stack files' placeholders",
        resource_types=_WATCHED,
        stack_check=_placeholders_in("dev"),
    ),
    Rule(
        id="GP-STACK-004",
        name="prod-hardening",
        description="A prod cluster's public endpoint admits no more than a /24 (a /64 for "
        "IPv6), the cluster is protected and has deletion protection, and GPU node images "
        "are pinned.",
        severity="medium",
        level="advisory",
        remediation="Narrow gpuplane:cluster.endpoint.publicAccessCidrs, set "
        "gpuplane:cluster.protect: true, pin gpuplane:aws.gpuNodeImageVersion.",
        anchor="EKS best practices (cluster endpoint access); Karpenter docs: pin AMIs in "
        "production; Pulumi docs: protect",
        resource_types=_WATCHED,
        stack_check=_prod_hardening,
    ),
)
