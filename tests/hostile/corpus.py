"""Bad inputs, each with what gpuplane must answer: the exit code and what the one
message must name (the file or the key). Files are generated, so binary and
odd-encoding cases need no binary files in the repository.

`{dir}` in arguments and expectations is the directory the files are written to.
"""

import json
from dataclasses import dataclass, field

GOOD = "config:\n  gpuplane:cloud: existing\n  gpuplane:existing:\n    context: kind-gpuplane\n"
AWS = (
    "config:\n"
    "  aws:region: us-east-1\n"
    "  gpuplane:cloud: aws\n"
    "  gpuplane:cluster:\n"
    "    endpoint:\n"
    "      publicAccessCidrs: [198.51.100.10/32]\n"
    "  gpuplane:aws:\n"
    "    adminRoleArns: [arn:aws:iam::210987654321:role/admin]\n"
)
GCP = (
    "config:\n"
    "  gcp:project: demo-project\n"
    "  gcp:region: us-central1\n"
    "  gpuplane:cloud: gcp\n"
    "  gpuplane:cluster:\n"
    "    endpoint:\n"
    "      publicAccessCidrs: [198.51.100.10/32]\n"
)


_L4 = "  gpuplane:gpuPools:\n    - {name: l4, instanceTypes: [g6.xlarge]}\n"


def _cache(model: str) -> str:
    return f"  gpuplane:models:\n    cache:\n      models:\n        - {model}\n"


def _bomb(levels: int, width: int) -> str:
    """A billion-laughs document: each level repeats the one below `width` times."""
    lines = ["config:", "  gpuplane:cloud: existing", "  gpuplane:existing: {context: k}", "  x:"]
    lines.append("    a0: &a0 [" + ", ".join(['"lol"'] * width) + "]")
    for i in range(1, levels):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _many_aliases(count: int) -> str:
    refs = "\n".join("    - *v" for _ in range(count))
    return f"config:\n  gpuplane:cloud: existing\n  v: &v 1\n  x:\n{refs}\n"


def _graph(resources: list, version: int = 1) -> str:
    return json.dumps({"version": version, "project": "p", "stack": "s", "resources": resources})


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    files: dict[str, bytes | str] = field(default_factory=dict)
    code: int = 2
    names: tuple[str, ...] = ()
    """Fragments the error output must contain: the file, the key, what is wrong."""


def stack(case_id: str, content: bytes | str, *names: str, command: str = "plan") -> Case:
    """A case that plans (or checks) one stack file."""
    return Case(
        case_id,
        (command, "--stack-file", "{dir}/Pulumi.bad.yaml"),
        {"Pulumi.bad.yaml": content},
        2,
        ("Pulumi.bad.yaml", *names),
    )


def graph(case_id: str, content: bytes | str, *names: str, command: str = "check") -> Case:
    return Case(
        case_id, (command, "--graph", "{dir}/graph.json"), {"graph.json": content}, 2, names
    )


def policy(case_id: str, content: bytes | str, *names: str) -> Case:
    return Case(
        case_id,
        ("check", "--stack", "local", "--policy-config", "{dir}/policy.json"),
        {"policy.json": content},
        2,
        ("policy.json", *names),
    )


_CONFIG = GOOD.encode()
CASES: tuple[Case, ...] = (
    # --- encodings ---------------------------------------------------------------------
    stack("binary", bytes(range(256)) * 4, "NUL bytes"),
    stack("utf16-le-bom", GOOD.encode("utf-16"), "UTF-16", "little-endian"),
    stack("utf16-be-bom", b"\xfe\xff" + GOOD.encode("utf-16-be"), "UTF-16", "big-endian"),
    stack("utf32-bom", GOOD.encode("utf-32"), "UTF-32"),
    stack("utf16-no-bom", GOOD.encode("utf-16-le"), "NUL bytes"),
    stack("latin1-comment", _CONFIG + "# café\n".encode("latin-1"), ":5:", "not UTF-8", "Latin-1"),
    stack("cp1252-quote", _CONFIG + b"# \x93quoted\x94\n", "not UTF-8"),
    stack("truncated-utf8", _CONFIG + "# é".encode()[:-1], "not UTF-8"),
    # --- YAML structure ----------------------------------------------------------------
    stack("alias-bomb-9x9", _bomb(9, 9), "aliases expand"),
    stack("alias-bomb-wide", _bomb(4, 60), "YAML aliases"),
    stack("alias-count", _many_aliases(150), "more than 100 YAML aliases"),
    stack("recursive-alias", "config: &c\n  gpuplane:cloud: existing\n  x: *c\n", "contains it"),
    stack("merge-bomb", _bomb(6, 10).replace("  x:\n", "  x: &m\n"), "aliases expand"),
    stack(
        "duplicate-top-key",
        GOOD + "  gpuplane:cloud: aws\n",
        "duplicate key 'gpuplane:cloud'",
        "line 2",
        "line 5",
    ),
    stack(
        "duplicate-nested-key",
        AWS + "    computeMode: auto\n    computeMode: karpenter\n",
        "duplicate key 'computeMode'",
        "line 9",
        "line 10",
    ),
    stack("duplicate-config", "config: {}\nconfig: {}\n", "duplicate key 'config'"),
    stack("unclosed-bracket", "config:\n  gpuplane:cloud: [existing\n", "not valid YAML"),
    stack("tab-indent", "config:\n\tgpuplane:cloud: existing\n", "not valid YAML"),
    stack("deep-nesting", "config:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", "deep"),
    stack("too-large", "# " + "x" * (5 * 1024 * 1024) + "\n", "larger than 4 MiB"),
    stack("document-is-a-list", "- config\n", "must be a mapping"),
    stack("document-is-a-scalar", "just text\n", "must be a mapping"),
    stack("config-is-a-list", "config:\n  - gpuplane:cloud\n", "`config:` must be a mapping"),
    stack("binary-tag", GOOD + "  gpuplane:x: !!binary aGVsbG8=\n", "!!binary"),
    stack("set-tag", GOOD + "  gpuplane:x: !!set {a, b}\n", "gpuplane:x"),
    stack("python-tag", GOOD + "  gpuplane:x: !!python/object:os.system {}\n", "not valid YAML"),
    stack("two-documents", GOOD + "---\n" + GOOD, "not valid YAML"),
    stack("unhashable-key", "config:\n  ? [a, b]\n  : 1\n", "not valid YAML"),
    stack("esc-environment", "environment: [prod]\n" + GOOD, "ESC"),
    Case(
        "stack-file-is-a-directory",
        ("plan", "--stack-file", "{dir}"),
        {},
        2,
        ("{dir}", "directory"),
    ),
    Case("stack-file-missing", ("plan", "--stack-file", "{dir}/nope.yaml"), {}, 2, ("nope.yaml",)),
    # --- config values -----------------------------------------------------------------
    stack("empty-file", "", "gpuplane:cloud", "required"),
    stack("unknown-key", GOOD + "  gpuplane:colour: blue\n", "gpuplane:colour", "unknown key"),
    stack(
        "provider-key-typo",
        AWS.replace("aws:region", "aws:regoin"),
        "aws:regoin",
        "did you mean aws:region",
    ),
    stack(
        "namespace-typo",
        GOOD + "  gpuplan:environment: prod\n",
        "gpuplan:environment",
        "gpuplane:environment",
    ),
    stack("cloud-typo", "config:\n  gpuplane:cloud: awz\n", "gpuplane:cloud", "'aws'"),
    stack(
        "system-instance-typo",
        AWS + "  gpuplane:systemPool: {instanceType: m6i.lage}\n",
        "gpuplane:systemPool.instanceType",
        "m6i.large",
    ),
    stack(
        "system-instance-unknown",
        GCP + "  gpuplane:systemPool: {instanceType: x9-giant-1}\n",
        "gpuplane:systemPool.instanceType",
        "price table",
    ),
    stack(
        "gpu-instance-typo",
        AWS + "  gpuplane:gpuPools:\n    - {name: l4, instanceTypes: [g6.xlarg]}\n",
        "gpuplane:gpuPools[0].instanceTypes[0]",
        "did you mean 'g6.xlarge'",
    ),
    stack(
        "gpu-accelerator-typo",
        GCP
        + "  gpuplane:gpuPools:\n"
        + "    - {name: t4, instanceTypes: [n1-standard-4], accelerator: nvidia-tesla-t5}\n",
        "gpuplane:gpuPools[0].accelerator",
        "nvidia-tesla-t4",
    ),
    stack(
        "version-unquoted",
        GOOD + "  gpuplane:cluster: {kubernetesVersion: 1.30}\n",
        "gpuplane:cluster.kubernetesVersion",
        "quote",
    ),
    stack(
        "cidrs-union-ipv4",
        AWS.replace("[198.51.100.10/32]", "[0.0.0.0/1, 128.0.0.0/1]"),
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "wider than /8",
    ),
    stack(
        "cidrs-wide-ipv6",
        AWS.replace("[198.51.100.10/32]", "['2001::/16']"),
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "wider than /32",
    ),
    stack(
        "cidrs-anywhere",
        AWS.replace("[198.51.100.10/32]", "[0.0.0.0/0]"),
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "whole internet",
    ),
    stack("pools-not-a-list", GOOD + "  gpuplane:gpuPools: l4\n", "gpuplane:gpuPools", "a list"),
    # --- gpuplane:models.cache -------------------------------------------------------------
    stack(
        "cache-outside-bucket",
        AWS + _L4 + _cache("{name: m, storageUri: 's3://elsewhere/m', size: 2Gi}"),
        "gpuplane:models.cache.models[0].storageUri",
        "outside the models bucket",
    ),
    stack(
        "cache-unknown-pool",
        AWS + _L4 + _cache("{name: m, storageUri: m/, size: 2Gi, pools: [h100]}"),
        "gpuplane:models.cache.models[0].pools",
        "'h100' is not a GPU pool",
    ),
    stack(
        "cache-larger-than-disk",
        AWS + _L4 + _cache("{name: m, storageUri: m/, size: 2Ti}"),
        "gpuplane:models.cache.models",
        "exceed the 232Gi",
    ),
    stack(
        "cache-bad-size",
        AWS + _L4 + _cache("{name: m, storageUri: m/, size: lots}"),
        "gpuplane:models.cache.models[0].size",
        "'lots'",
    ),
    stack(
        "cache-on-autopilot",
        GCP
        + "  gpuplane:gcp: {mode: autopilot}\n"
        + "  gpuplane:gpuPools:\n    - {name: l4, instanceTypes: [g2-standard-4]}\n"
        + _cache("{name: m, storageUri: m/, size: 2Gi}"),
        "gpuplane:models.cache:",
        "GKE Autopilot",
    ),
    stack(
        "types-not-a-list",
        AWS + "  gpuplane:gpuPools:\n    - {name: l4, instanceTypes: g6.xlarge}\n",
        "gpuplane:gpuPools[0].instanceTypes",
        "must be a list",
    ),
    stack(
        "long-value-quoted-short",
        "config:\n  gpuplane:cloud: " + "x" * 100_000 + "\n",
        "gpuplane:cloud",
        "(100002 characters)",
    ),
    stack("date-is-a-string", "config:\n  gpuplane:cloud: 2024-01-01\n", "'2024-01-01'"),
    stack(
        "on-is-a-string",
        GOOD + "  gpuplane:environment: on\n",
        "gpuplane:environment",
        "'on'",
    ),
    stack(
        "unknown-key-and-cross-field",
        AWS + "  gpuplane:colour: blue\n  gpuplane:systemPool: {minNodes: 4, maxNodes: 3}\n",
        "gpuplane:colour",
        "gpuplane:systemPool.minNodes",
    ),
    stack("check-bad-stack", GOOD + "  gpuplane:colour: 1\n", "gpuplane:colour", command="check"),
    stack("cost-bad-stack", GOOD + "  gpuplane:colour: 1\n", "gpuplane:colour", command="cost"),
    # --- stack names -------------------------------------------------------------------
    Case("stack-empty-name", ("plan", "--stack", ""), {}, 2, ("--stack", "not a stack name")),
    Case("stack-path-name", ("plan", "--stack", "../../etc/passwd"), {}, 2, ("--stack",)),
    Case("stack-unknown", ("check", "--stack", "nope"), {}, 2, ("no stack 'nope'",)),
    Case("diff-empty-stack", ("diff", "--base", "HEAD", "--stack", ""), {}, 2, ("--stack",)),
    # --- graphs ------------------------------------------------------------------------
    graph("graph-binary", bytes(range(256)), "graph.json", "NUL bytes"),
    graph("graph-utf16", _graph([]).encode("utf-16"), "graph.json", "UTF-16"),
    graph("graph-not-json", "{resources: nope", "graph.json", "not JSON"),
    graph("graph-a-list", "[]", "graph.json", "not a gpuplane graph"),
    graph(
        "graph-duplicate-key",
        '{\n  "version": 1,\n  "version": 1,\n  "resources": []\n}\n',
        "graph.json",
        "duplicate key 'version'",
        "line 2",
    ),
    graph("graph-empty", _graph([]), "graph.json", "no resources"),
    graph("graph-wrong-version", _graph([], version=2), "graph.json", '"version": 1'),
    graph("graph-resource-missing-urn", _graph([{"type": "x"}]), "graph.json", "urn"),
    graph("graph-deep", "[" * 100_000 + "]" * 100_000, "graph.json", "deep"),
    graph("cost-graph-empty", _graph([]), "graph.json", "no resources", command="cost"),
    Case("graph-missing", ("check", "--graph", "{dir}/nope.json"), {}, 2, ("nope.json",)),
    # --- policy config -----------------------------------------------------------------
    policy("policy-latin1", b'{"all": "advisory"} ' + b"\xe9", "not UTF-8"),
    policy("policy-utf16", '{"all": "advisory"}'.encode("utf-16"), "UTF-16"),
    policy("policy-duplicate", '{"all": "advisory", "all": "mandatory"}', "duplicate key 'all'"),
    policy("policy-not-object", "[1]", "JSON object"),
    policy("policy-typo", '{"aws-eks-private-endpont": "advisory"}', "aws-eks-private-endpoint"),
    policy("policy-level", '{"all": "loud"}', "all", "allowed"),
    # --- outputs and options -----------------------------------------------------------
    Case(
        "output-missing-dir",
        ("graph", "--stack", "local", "-o", "{dir}/no/such/dir/g.mmd"),
        {},
        2,
        ("--output", "does not exist"),
    ),
    Case("output-directory", ("graph", "--stack", "local", "-o", "{dir}"), {}, 2, ("directory",)),
    Case(
        "output-unwritable",
        ("graph", "--stack", "local", "-o", "/dev/full"),
        {},
        2,
        ("/dev/full", "cannot write"),
    ),
    Case("format-unknown", ("check", "--format", "yaml"), {}, 2, ("--format",)),
    Case("skip-rule-unknown", ("check", "--skip-rule", "GP-AWS-999"), {}, 2, ("GP-AWS-999",)),
    Case(
        "skip-rule-typo",
        ("check", "--skip-rule", "aws-eks-privat-endpoint"),
        {},
        2,
        ("aws-eks-private-endpoint",),
    ),
    Case("fail-on-unknown", ("check", "--fail-on", "sometimes"), {}, 2, ("--fail-on",)),
    Case("command-unknown", ("deploy",), {}, 2, ("deploy",)),
)
