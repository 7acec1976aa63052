"""GCP rules: one violating and one compliant case each, message checked."""

import copy
from typing import Any

import pytest

from tests.policies.harness import (
    Mutation,
    assert_reports,
    delete_input,
    edited,
    messages,
    set_input,
    violations,
)

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
GCP_RULES = [f"GP-GCP-{n:03d}" for n in range(1, 18)]

NODE_SA = "nodes@my-project.iam.gserviceaccount.com"
SAFE_NODE_CONFIG: dict[str, Any] = {
    "serviceAccount": NODE_SA,
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
}
SAFE_CLUSTER: dict[str, Any] = {
    "name": "c",
    "location": "us-central1",
    "removeDefaultNodePool": True,
    "initialNodeCount": 1,
    "nodeConfig": SAFE_NODE_CONFIG,
    "privateClusterConfig": {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": False,
        "masterIpv4CidrBlock": "172.16.0.16/28",
    },
    "masterAuthorizedNetworksConfig": {
        "cidrBlocks": [{"cidrBlock": "203.0.113.0/24", "displayName": "office"}],
        "gcpPublicCidrsAccessEnabled": False,
    },
    "databaseEncryption": {
        "state": "ENCRYPTED",
        "keyName": "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k",
    },
    "workloadIdentityConfig": {"workloadPool": "my-project.svc.id.goog"},
    "datapathProvider": "ADVANCED_DATAPATH",
    "enableLegacyAbac": False,
    "enableShieldedNodes": True,
    "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}},
    "releaseChannel": {"channel": "REGULAR"},
    "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"]},
}
SAFE_POOL: dict[str, Any] = {
    "cluster": "c",
    "location": "us-central1",
    "management": {"autoRepair": True, "autoUpgrade": True},
    "nodeConfig": SAFE_NODE_CONFIG,
}
SAFE_BUCKET: dict[str, Any] = {
    "location": "us-central1",
    "publicAccessPrevention": "enforced",
    "uniformBucketLevelAccess": True,
}
SAFE_KEY: dict[str, Any] = {
    "keyRing": "r",
    "purpose": "ENCRYPT_DECRYPT",
    "rotationPeriod": "7776000s",
}
AUTOPILOT: dict[str, Any] = {
    "name": "auto",
    "location": "us-central1",
    "enableAutopilot": True,
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"},
    "clusterAutoscaling": {"autoProvisioningDefaults": {"serviceAccount": NODE_SA}},
    "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "APISERVER"]},
}


def cluster(path: str, value: Any = ...) -> tuple[str, dict[str, Any]]:
    return CLUSTER, edited(SAFE_CLUSTER, path, value)


def pool(path: str, value: Any = ...) -> tuple[str, dict[str, Any]]:
    return NODE_POOL, edited(SAFE_POOL, path, value)


def test_safe_resources_pass_every_gcp_rule() -> None:
    safe = [
        (CLUSTER, SAFE_CLUSTER),
        (NODE_POOL, SAFE_POOL),
        (BUCKET, SAFE_BUCKET),
        (CRYPTO_KEY, SAFE_KEY),
    ]
    for rule in GCP_RULES:
        assert messages(rule, *safe) == [], rule


@pytest.mark.parametrize(
    ("rule", "bad", "fragment"),
    [
        (
            "GP-GCP-001",
            cluster("privateClusterConfig.enablePrivateNodes", False),
            "nodes get public IPs",
        ),
        ("GP-GCP-001", cluster("privateClusterConfig"), "nodes get public IPs"),
        (
            "GP-GCP-001",
            pool("networkConfig", {"enablePrivateNodes": False}),
            "node pool gives its nodes public IPs",
        ),
        (
            "GP-GCP-002",
            cluster(
                "masterAuthorizedNetworksConfig.cidrBlocks",
                [{"cidrBlock": "0.0.0.0/0", "displayName": "all"}],
            ),
            "the public endpoint authorizes 0.0.0.0/0",
        ),
        (
            "GP-GCP-002",
            cluster("masterAuthorizedNetworksConfig"),
            "open to any address (masterAuthorizedNetworksConfig is not set)",
        ),
        (
            "GP-GCP-002",
            cluster("masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled", True),
            "admits all Google Cloud public IPs",
        ),
        (
            "GP-GCP-003",
            cluster("databaseEncryption.state", "DECRYPTED"),
            "databaseEncryption.state: DECRYPTED",
        ),
        ("GP-GCP-003", cluster("databaseEncryption"), "databaseEncryption.state: unset"),
        ("GP-GCP-003", cluster("databaseEncryption.keyName"), "names no keyName"),
        ("GP-GCP-004", cluster("workloadIdentityConfig"), "Workload Identity is off"),
        (
            "GP-GCP-005",
            pool("nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA"),
            "nodeConfig exposes the node metadata (workloadMetadataConfig.mode is GCE_METADATA)",
        ),
        (
            "GP-GCP-005",
            pool("nodeConfig.workloadMetadataConfig"),
            "workloadMetadataConfig.mode is unset",
        ),
        (
            "GP-GCP-005",
            cluster("nodeConfig.workloadMetadataConfig"),
            "nodeConfig (default node pool) exposes the node metadata",
        ),
        (
            "GP-GCP-006",
            pool("nodeConfig.serviceAccount"),
            "runs as the Compute Engine default service account (none given)",
        ),
        (
            "GP-GCP-006",
            pool("nodeConfig"),
            "runs as the Compute Engine default service account (none given)",
        ),
        (
            "GP-GCP-006",
            pool("nodeConfig.serviceAccount", "123456789-compute@developer.gserviceaccount.com"),
            "default service account 123456789-compute@developer.gserviceaccount.com",
        ),
        (
            "GP-GCP-006",
            cluster("nodeConfig"),
            "nodeConfig (default node pool) runs as the Compute Engine default service account",
        ),
        ("GP-GCP-007", cluster("datapathProvider"), "NetworkPolicy is not enforced"),
        (
            "GP-GCP-007",
            cluster("datapathProvider", "LEGACY_DATAPATH"),
            "NetworkPolicy is not enforced",
        ),
        ("GP-GCP-008", cluster("enableLegacyAbac", True), "legacy ABAC authorization is on"),
        (
            "GP-GCP-008",
            cluster("masterAuth.clientCertificateConfig.issueClientCertificate", True),
            "a static client certificate is issued",
        ),
        (
            "GP-GCP-009",
            (BUCKET, edited(SAFE_BUCKET, "publicAccessPrevention", "inherited")),
            "public access prevention is not enforced (publicAccessPrevention is inherited)",
        ),
        (
            "GP-GCP-009",
            (BUCKET, edited(SAFE_BUCKET, "publicAccessPrevention")),
            "publicAccessPrevention is unset",
        ),
        (
            "GP-GCP-010",
            (BUCKET, edited(SAFE_BUCKET, "uniformBucketLevelAccess")),
            "object ACLs are in use",
        ),
        (
            "GP-GCP-011",
            pool("nodeConfig.shieldedInstanceConfig"),
            "does not enable secure boot",
        ),
        (
            "GP-GCP-011",
            pool("nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False),
            "turns integrity monitoring off",
        ),
        (
            "GP-GCP-011",
            cluster("enableShieldedNodes", False),
            "shielded nodes are off",
        ),
        ("GP-GCP-012", pool("management.autoRepair", False), "node pool turns autoRepair off"),
        ("GP-GCP-012", pool("management.autoUpgrade", False), "node pool turns autoUpgrade off"),
        (
            "GP-GCP-013",
            cluster("releaseChannel.channel", "UNSPECIFIED"),
            "no release channel (releaseChannel.channel is UNSPECIFIED)",
        ),
        ("GP-GCP-013", cluster("releaseChannel"), "releaseChannel.channel is unset"),
        ("GP-GCP-014", cluster("loggingService", "none"), "Cloud Logging is off"),
        (
            "GP-GCP-014",
            cluster("loggingConfig.enableComponents", ["SYSTEM_COMPONENTS"]),
            "control plane logs are not collected for APISERVER",
        ),
        # Absent loggingConfig means SYSTEM_COMPONENTS and WORKLOADS only.
        ("GP-GCP-014", cluster("loggingConfig"), "not collected for APISERVER"),
        (
            "GP-GCP-015",
            (CRYPTO_KEY, edited(SAFE_KEY, "rotationPeriod", "31536000s")),
            "rotates every 365 days, over 90",
        ),
        (
            "GP-GCP-015",
            (CRYPTO_KEY, edited(SAFE_KEY, "rotationPeriod")),
            "the key never rotates",
        ),
    ],
)
def test_gcp_rule_reports_the_problem(
    rule: str, bad: tuple[str, dict[str, Any]], fragment: str
) -> None:
    assert_reports(rule, bad, fragment)


def test_public_endpoint_rules_pass_a_private_endpoint() -> None:
    private = edited(SAFE_CLUSTER, "masterAuthorizedNetworksConfig")
    private["privateClusterConfig"]["enablePrivateEndpoint"] = True
    assert messages("GP-GCP-002", (CLUSTER, private)) == []
    no_ip = edited(SAFE_CLUSTER, "masterAuthorizedNetworksConfig")
    no_ip["controlPlaneEndpointsConfig"] = {"ipEndpointsConfig": {"enabled": False}}
    assert messages("GP-GCP-002", (CLUSTER, no_ip)) == []
    # An empty list keeps authorized networks on: only node and Google addresses get in.
    empty = edited(SAFE_CLUSTER, "masterAuthorizedNetworksConfig.cidrBlocks", [])
    assert messages("GP-GCP-002", (CLUSTER, empty)) == []
    ipv6 = edited(
        SAFE_CLUSTER, "masterAuthorizedNetworksConfig.cidrBlocks", [{"cidrBlock": "::/0"}]
    )
    assert "authorizes ::/0" in messages("GP-GCP-002", (CLUSTER, ipv6))[0]


def test_calico_network_policy_needs_the_add_on() -> None:
    calico = edited(SAFE_CLUSTER, "datapathProvider")
    calico["networkPolicy"] = {"enabled": True, "provider": "CALICO"}
    assert "the add-on is off" in messages("GP-GCP-007", (CLUSTER, calico))[0]
    calico["addonsConfig"] = {"networkPolicyConfig": {"disabled": False}}
    assert messages("GP-GCP-007", (CLUSTER, calico)) == []


def test_autopilot_has_node_security_built_in() -> None:
    autopilot = (CLUSTER, AUTOPILOT)
    for rule in GCP_RULES:
        assert messages(rule, autopilot) == [], rule
    # ... but its nodes run as the default compute account unless told otherwise.
    bare = edited(AUTOPILOT, "clusterAutoscaling")
    assert (
        "auto-provisioned nodes run as the Compute Engine default service account"
        in (messages("GP-GCP-006", (CLUSTER, bare))[0])
    )
    # Autopilot does not make the control plane or the secrets safe.
    assert messages("GP-GCP-003", (CLUSTER, edited(AUTOPILOT, "databaseEncryption")))
    public = edited(AUTOPILOT, "privateClusterConfig.enablePrivateEndpoint", False)
    assert messages("GP-GCP-002", (CLUSTER, public))


def test_node_auto_provisioning_defaults_are_checked() -> None:
    nap = copy.deepcopy(SAFE_CLUSTER)
    nap["clusterAutoscaling"] = {"enabled": True, "autoProvisioningDefaults": {}}
    assert messages("GP-GCP-006", (CLUSTER, nap))
    nap["clusterAutoscaling"]["autoProvisioningDefaults"] = {
        "serviceAccount": NODE_SA,
        "management": {"autoRepair": False},
    }
    assert messages("GP-GCP-006", (CLUSTER, nap)) == []
    assert (
        "auto-provisioned pools turns autoRepair off" in (messages("GP-GCP-012", (CLUSTER, nap))[0])
    )


def test_inline_node_pools_replace_the_default_pool() -> None:
    inline = edited(SAFE_CLUSTER, "nodeConfig")
    inline["nodePools"] = [
        {"name": "gpu", "nodeConfig": edited(SAFE_NODE_CONFIG, "serviceAccount")},
        {"name": "cpu", "nodeConfig": SAFE_NODE_CONFIG, "management": {"autoUpgrade": False}},
        {
            "name": "pub",
            "nodeConfig": SAFE_NODE_CONFIG,
            "networkConfig": {"enablePrivateNodes": False},
        },
    ]
    assert messages("GP-GCP-006", (CLUSTER, inline)) == [
        "[GP-GCP-006] nodePools[0] gpu nodeConfig runs as the Compute Engine default "
        "service account (none given)"
    ]
    assert messages("GP-GCP-012", (CLUSTER, inline)) == [
        "[GP-GCP-012] nodePools[1] cpu turns autoUpgrade off"
    ]
    assert messages("GP-GCP-001", (CLUSTER, inline)) == [
        "[GP-GCP-001] nodePools[2] pub gives its nodes public IPs "
        "(networkConfig.enablePrivateNodes: false)"
    ]


def test_absent_defaults_that_are_safe_pass() -> None:
    # autoRepair/autoUpgrade, ABAC, client certificates, integrity monitoring and
    # shielded nodes all default to the safe side.
    assert messages("GP-GCP-012", pool("management")) == []
    assert messages("GP-GCP-008", cluster("enableLegacyAbac")) == []
    assert messages("GP-GCP-008", cluster("masterAuth")) == []
    assert messages("GP-GCP-011", cluster("enableShieldedNodes")) == []
    assert (
        messages("GP-GCP-011", pool("nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring"))
        == []
    )
    # Only symmetric keys rotate; purpose absent means ENCRYPT_DECRYPT.
    signing = edited(SAFE_KEY, "rotationPeriod")
    signing["purpose"] = "ASYMMETRIC_SIGN"
    assert messages("GP-GCP-015", (CRYPTO_KEY, signing)) == []
    assert messages("GP-GCP-015", (CRYPTO_KEY, edited(SAFE_KEY, "purpose"))) == []


def test_rotation_and_logging_limits_come_from_config() -> None:
    key = (CRYPTO_KEY, edited(SAFE_KEY, "rotationPeriod", "2592000s"))  # 30 days
    assert messages("GP-GCP-015", key) == []
    config = {"gcp-kms-key-rotation": {"maxRotationDays": 7}}
    assert "rotates every 30 days, over 7" in messages("GP-GCP-015", key, config=config)[0]
    bad_period = (CRYPTO_KEY, edited(SAFE_KEY, "rotationPeriod", "90d"))
    assert "is not a duration in seconds" in messages("GP-GCP-015", bad_period)[0]
    logs = cluster("loggingConfig.enableComponents", ["SYSTEM_COMPONENTS"])
    assert messages("GP-GCP-014", logs)
    config = {"gke-control-plane-logging": {"requiredComponents": ["SYSTEM_COMPONENTS"]}}
    assert messages("GP-GCP-014", logs, config=config) == []


def test_unknown_values_are_advisory_not_a_crash() -> None:
    [found] = violations("GP-GCP-003", cluster("databaseEncryption.state", "@unknown"))
    assert found.level == "advisory"
    assert "cannot be known during preview" in found.message
    # A node service account made in the same stack is unknown during preview.
    [found] = violations("GP-GCP-006", pool("nodeConfig.serviceAccount", "@unknown"))
    assert found.level == "advisory"
    assert "cannot be known during preview" in found.message


def test_an_unknown_kms_key_name_still_counts_as_given() -> None:
    # The key is usually created in the same stack, so its id is unknown in preview.
    assert messages("GP-GCP-003", cluster("databaseEncryption.keyName", "@unknown")) == []


_NODES_SA = "nodeConfig.serviceAccount"

# rule -> (shipped stack, mutation that breaks exactly that rule)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-GCP-001": ("gcp-dev", set_input(CLUSTER, "privateClusterConfig.enablePrivateNodes", False)),
    "GP-GCP-002": (
        "gcp-prod",
        set_input(
            CLUSTER,
            "masterAuthorizedNetworksConfig.cidrBlocks",
            [{"cidrBlock": "0.0.0.0/0", "displayName": "anywhere"}],
        ),
    ),
    "GP-GCP-003": ("gcp-dev", set_input(CLUSTER, "databaseEncryption.state", "DECRYPTED")),
    "GP-GCP-004": ("gcp-prod", delete_input(CLUSTER, "workloadIdentityConfig")),
    "GP-GCP-005": (
        "gcp-dev",
        set_input(NODE_POOL, "nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA"),
    ),
    "GP-GCP-006": ("gcp-prod", delete_input(NODE_POOL, _NODES_SA)),
    "GP-GCP-007": ("gcp-dev", delete_input(CLUSTER, "datapathProvider")),
    "GP-GCP-008": ("gcp-prod", set_input(CLUSTER, "enableLegacyAbac", True)),
    "GP-GCP-009": ("gcp-dev", set_input(BUCKET, "publicAccessPrevention", "inherited")),
    "GP-GCP-010": ("gcp-prod", set_input(BUCKET, "uniformBucketLevelAccess", False)),
    "GP-GCP-011": (
        "gcp-dev",
        set_input(NODE_POOL, "nodeConfig.shieldedInstanceConfig.enableSecureBoot", False),
    ),
    "GP-GCP-012": ("gcp-prod", set_input(NODE_POOL, "management.autoRepair", False)),
    "GP-GCP-013": ("gcp-dev", set_input(CLUSTER, "releaseChannel.channel", "UNSPECIFIED")),
    "GP-GCP-014": ("gcp-prod", set_input(CLUSTER, "loggingService", "none")),
    "GP-GCP-015": ("gcp-dev", set_input(CRYPTO_KEY, "rotationPeriod", "31536000s")),
}
