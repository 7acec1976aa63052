"""GCP: GKE clusters and node pools, Cloud Storage buckets, Cloud KMS keys.

Pod-facing node settings are read wherever nodes come from: `NodePool` resources,
node pools declared inline in the cluster (`nodePools`), and the cluster's own
`nodeConfig` (the default node pool; it boots with the cluster even when
`removeDefaultNodePool` deletes it right after). Autopilot clusters
(`enableAutopilot: true`) manage their nodes: Workload Identity, the GKE metadata
server, shielded nodes with secure boot, Dataplane V2, auto-repair and
auto-upgrade are always on there, so those checks pass for them.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

from .cidrs import too_wide
from .rule import Rule, dig, is_anywhere, items, num, string_list

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
PUBSUB_MEMBERS = (
    "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
)
PUBSUB_BINDINGS = (
    "gcp:pubsub/topicIAMBinding:TopicIAMBinding",
    "gcp:pubsub/subscriptionIAMBinding:SubscriptionIAMBinding",
)
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")

# <project number>-compute@developer.gserviceaccount.com, or "default" as gcloud spells it.
DEFAULT_COMPUTE_SA = re.compile(r"^(\d+-compute@developer\.gserviceaccount\.com|default)$", re.I)
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
# loggingConfig.enableComponents when the block is absent (GKE's default).
DEFAULT_LOG_COMPONENTS = ("SYSTEM_COMPONENTS", "WORKLOADS")
_CIS = "CIS GKE Benchmark v1.6.0"


def _autopilot(args: ResourceValidationArgs) -> bool:
    # Absent means false: a Standard cluster.
    return args.resource_type == CLUSTER and args.props.get("enableAutopilot") is True


def node_configs(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, nodeConfig) for every node pool the resource creates; {} where absent.

    A NodePool has its own nodeConfig. A Standard cluster has either inline
    `nodePools` (then no default pool is made) or the default pool (`nodeConfig`).
    Autopilot clusters have none the user configures.
    """
    if args.resource_type == NODE_POOL:
        yield "nodeConfig", dig(args.props, "nodeConfig", default={})
        return
    if args.resource_type != CLUSTER or _autopilot(args):
        return
    inline = items(args.props.get("nodePools"))
    if not inline:
        yield "nodeConfig (default node pool)", dig(args.props, "nodeConfig", default={})
        return
    for i, pool in enumerate(inline):
        if isinstance(pool, Mapping):
            name = pool.get("name", "?")
            yield f"nodePools[{i}] {name} nodeConfig", dig(pool, "nodeConfig", default={})


def _pools(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, pool) for a NodePool itself or each inline pool of a cluster."""
    if args.resource_type == NODE_POOL:
        yield "node pool", args.props
    elif args.resource_type == CLUSTER:
        for i, pool in enumerate(items(args.props.get("nodePools"))):
            if isinstance(pool, Mapping):
                yield f"nodePools[{i}] {pool.get('name', '?')}", pool


def _auto_provisioning(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    """autoProvisioningDefaults where GKE creates nodes itself: Autopilot, or node
    auto-provisioning (clusterAutoscaling.enabled; absent means off)."""
    if args.resource_type != CLUSTER:
        return None
    if _autopilot(args) or dig(args.props, "clusterAutoscaling", "enabled") is True:
        return dig(args.props, "clusterAutoscaling", "autoProvisioningDefaults", default={})
    return None


# --- what opens the cluster -----------------------------------------------------


def _private_nodes(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means false: every node gets an external IP.
    if (
        args.resource_type == CLUSTER
        and dig(args.props, "privateClusterConfig", "enablePrivateNodes") is not True
    ):
        yield "nodes get public IPs (privateClusterConfig.enablePrivateNodes is not true)"
    # A pool may opt out of the cluster's private nodes; absent inherits the cluster.
    for where, pool in _pools(args):
        if dig(pool, "networkConfig", "enablePrivateNodes") is False:
            yield f"{where} gives its nodes public IPs (networkConfig.enablePrivateNodes: false)"


def _control_plane(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    props = args.props
    # enablePrivateEndpoint absent means false (the public endpoint is on); the IP
    # endpoints absent means enabled.
    if dig(props, "privateClusterConfig", "enablePrivateEndpoint") is True:
        return
    if dig(props, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled") is False:
        return
    networks = props.get("masterAuthorizedNetworksConfig")
    if not isinstance(networks, Mapping):
        # Absent block: authorized networks are off and any address reaches the API server.
        yield (
            "the public endpoint is open to any address (masterAuthorizedNetworksConfig is not set)"
        )
        return
    cidrs = [dig(block, "cidrBlock") for block in items(networks.get("cidrBlocks"))]
    anywhere = [cidr for cidr in cidrs if is_anywhere(cidr)]
    for cidr in anywhere:
        yield f"the public endpoint authorizes {cidr}"
    if not anywhere:
        for wide in too_wide(cidrs):
            yield f"the public endpoint is open too widely: {wide} (masterAuthorizedNetworksConfig)"
    # Absent leaves it to GKE; true lets every Compute Engine public IP in.
    if networks.get("gcpPublicCidrsAccessEnabled") is True:
        yield "the public endpoint admits all Google Cloud public IPs (gcpPublicCidrsAccessEnabled)"


def _secrets_encryption(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means DECRYPTED: etcd is only encrypted with Google's own keys.
    encryption = dig(args.props, "databaseEncryption", default={})
    state = dig(encryption, "state")
    if state != "ENCRYPTED":
        yield (
            "Secrets are not encrypted with a Cloud KMS key "
            f"(databaseEncryption.state: {state or 'unset'})"
        )
    # keyName is usually the id of a key made in the same stack, unknown during
    # preview: that it is given is what matters, so its value is not read.
    elif "keyName" not in list(encryption):
        yield "databaseEncryption is ENCRYPTED but names no keyName"


def _workload_identity(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    if _autopilot(args):
        return  # always on in Autopilot
    # Absent means off: pods reach the node's service account through the metadata server.
    if not dig(args.props, "workloadIdentityConfig", "workloadPool"):
        yield "Workload Identity is off (workloadIdentityConfig.workloadPool is not set)"


def _metadata_server(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means GKE_METADATA only if the cluster had Workload Identity when the
    # pool was made, GCE_METADATA otherwise (the node's credentials exposed to every
    # pod); a pool cannot see its cluster here, so the mode must be explicit.
    for where, node_config in node_configs(args):
        mode = dig(node_config, "workloadMetadataConfig", "mode")
        if mode != "GKE_METADATA":
            yield (
                f"{where} exposes the node metadata "
                f"(workloadMetadataConfig.mode is {mode or 'unset'})"
            )


def _node_service_account(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent serviceAccount means the Compute Engine default service account
    # (Editor on the project unless someone removed that grant).
    for where, node_config in node_configs(args):
        account = dig(node_config, "serviceAccount")
        if account is None:
            yield f"{where} runs as the Compute Engine default service account (none given)"
        elif DEFAULT_COMPUTE_SA.match(str(account)):
            yield f"{where} runs as the Compute Engine default service account {account}"
    defaults = _auto_provisioning(args)
    if defaults is not None:
        account = dig(defaults, "serviceAccount")
        if account is None or DEFAULT_COMPUTE_SA.match(str(account)):
            yield (
                "auto-provisioned nodes run as the Compute Engine default service account "
                "(clusterAutoscaling.autoProvisioningDefaults.serviceAccount)"
            )


def _network_policy(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    props = args.props
    # Autopilot always runs Dataplane V2, which enforces NetworkPolicy.
    if _autopilot(args) or props.get("datapathProvider") == "ADVANCED_DATAPATH":
        return
    # datapathProvider absent means LEGACY_DATAPATH, networkPolicy absent means off,
    # and the Calico add-on absent means disabled (the provider's default), in
    # which case enabling networkPolicy does nothing.
    if dig(props, "networkPolicy", "enabled") is not True:
        yield (
            "NetworkPolicy is not enforced (neither datapathProvider: ADVANCED_DATAPATH "
            "nor networkPolicy.enabled)"
        )
    elif dig(props, "addonsConfig", "networkPolicyConfig", "disabled") is not False:
        yield (
            "networkPolicy is enabled but the add-on is off "
            "(addonsConfig.networkPolicyConfig.disabled is not false)"
        )


def _legacy_auth(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Both absent mean off (ABAC false; no client certificate since GKE 1.12).
    if args.props.get("enableLegacyAbac") is True:
        yield "legacy ABAC authorization is on (enableLegacyAbac: true)"
    if dig(args.props, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
        yield "a static client certificate is issued (issueClientCertificate: true)"


def _bucket_public_access(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent means "inherited": only as closed as the organization policy says.
    prevention = args.props.get("publicAccessPrevention")
    if prevention != "enforced":
        yield (
            "public access prevention is not enforced "
            f"(publicAccessPrevention is {prevention or 'unset'})"
        )


def _bucket_uniform_access(
    args: ResourceValidationArgs, config: Mapping[str, Any]
) -> Iterable[str]:
    # Absent means false: per-object ACLs can grant access that IAM does not show.
    if args.props.get("uniformBucketLevelAccess") is not True:
        yield "object ACLs are in use (uniformBucketLevelAccess is not true)"


# --- hygiene ----------------------------------------------------------------------


def _shielded_nodes(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # enableShieldedNodes absent means true; enableSecureBoot absent means false;
    # enableIntegrityMonitoring absent means true.
    if args.resource_type == CLUSTER and args.props.get("enableShieldedNodes") is False:
        yield "shielded nodes are off (enableShieldedNodes: false)"
    for where, node_config in node_configs(args):
        shielded = dig(node_config, "shieldedInstanceConfig", default={})
        if dig(shielded, "enableSecureBoot") is not True:
            yield f"{where} does not enable secure boot (shieldedInstanceConfig.enableSecureBoot)"
        if dig(shielded, "enableIntegrityMonitoring") is False:
            yield f"{where} turns integrity monitoring off"


def _auto_repair_upgrade(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # management.autoRepair and autoUpgrade absent mean true (the provider's default).
    managed = [(where, dig(pool, "management", default={})) for where, pool in _pools(args)]
    defaults = _auto_provisioning(args)
    if defaults is not None and not _autopilot(args):
        managed.append(("auto-provisioned pools", dig(defaults, "management", default={})))
    for where, management in managed:
        for key in ("autoRepair", "autoUpgrade"):
            if dig(management, key) is False:
                yield f"{where} turns {key} off"


def _release_channel(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    channel = dig(args.props, "releaseChannel", "channel")
    # Autopilot clusters are always enrolled (REGULAR when absent). For Standard,
    # absent leaves enrolment to GKE (an existing cluster keeps what it has).
    if channel is None and _autopilot(args):
        return
    if channel not in RELEASE_CHANNELS:
        yield f"no release channel (releaseChannel.channel is {channel or 'unset'})"


def _logging(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # loggingService absent means logging.googleapis.com/kubernetes.
    if args.props.get("loggingService") == "none":
        yield "Cloud Logging is off (loggingService: none)"
        return
    given = dig(args.props, "loggingConfig", "enableComponents")
    components = (
        {str(c) for c in items(given)} if given is not None else set(DEFAULT_LOG_COMPONENTS)
    )
    missing = [c for c in config.get("requiredComponents") or () if c not in components]
    if missing:
        yield f"control plane logs are not collected for {', '.join(missing)}"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")


def _kms_rotation(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Only symmetric keys rotate automatically; purpose absent means ENCRYPT_DECRYPT.
    if args.props.get("purpose", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        return
    limit_days = int(config.get("maxRotationDays") or 90)
    period = args.props.get("rotationPeriod")
    if period is None:
        yield "the key never rotates (rotationPeriod is not set)"
        return
    match = _DURATION.fullmatch(str(period))
    if match is None:
        yield f"rotationPeriod {num(period)!r} is not a duration in seconds"
    elif float(match.group(1)) > limit_days * 86400:
        yield f"the key rotates every {float(match.group(1)) / 86400:g} days, over {limit_days}"


_NODES = (CLUSTER, NODE_POOL)

# --- queues that start jobs ----------------------------------------------------------


def _pubsub_dead_letter(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    # Absent deadLetterPolicy: Pub/Sub redelivers a failing message until it expires.
    if not dig(args.props, "deadLetterPolicy", "deadLetterTopic"):
        yield "a failing message is redelivered until it expires (no deadLetterPolicy)"


def _pubsub_not_public(args: ResourceValidationArgs, config: Mapping[str, Any]) -> Iterable[str]:
    members = [args.props.get("member"), *items(args.props.get("members"))]
    for member in members:
        if member in PUBLIC_MEMBERS:
            yield f"{args.props.get('role')} is granted to {member}"


RULES = (
    Rule(
        id="GP-GCP-001",
        name="gke-private-nodes",
        description="GKE nodes have internal IP addresses only.",
        severity="high",
        level="mandatory",
        remediation="Set privateClusterConfig.enablePrivateNodes: true (with a Cloud NAT for "
        "egress) and do not set networkConfig.enablePrivateNodes: false on a node pool.",
        anchor=f"{_CIS} 5.6.5; Checkov CKV_GCP_64, CKV_GCP_25",
        resource_types=_NODES,
        check=_private_nodes,
    ),
    Rule(
        id="GP-GCP-002",
        stack_key="gpuplane:cluster.endpoint.publicAccessCidrs",
        name="gke-control-plane-restricted",
        description="A public GKE control plane endpoint admits only authorized networks, "
        "never 0.0.0.0/0.",
        severity="critical",
        level="mandatory",
        remediation="Set masterAuthorizedNetworksConfig.cidrBlocks to the admin networks, or "
        "privateClusterConfig.enablePrivateEndpoint: true.",
        anchor=f"{_CIS} 5.6.3, 5.6.4; Checkov CKV_GCP_20, CKV_GCP_18",
        resource_types=(CLUSTER,),
        check=_control_plane,
    ),
    Rule(
        id="GP-GCP-003",
        name="gke-secrets-encryption",
        description="Kubernetes Secrets are encrypted at the application layer with a Cloud "
        "KMS key.",
        severity="high",
        level="mandatory",
        remediation="Set databaseEncryption: {state: ENCRYPTED, keyName: <Cloud KMS key>} and "
        "grant the GKE service agent Encrypter/Decrypter on the key.",
        anchor=f"{_CIS} 5.3.1",
        resource_types=(CLUSTER,),
        check=_secrets_encryption,
    ),
    Rule(
        id="GP-GCP-004",
        name="gke-workload-identity",
        description="Workload Identity is on (pods get their own Google identity, not the node's).",
        severity="high",
        level="mandatory",
        remediation="Set workloadIdentityConfig.workloadPool: <project>.svc.id.goog.",
        anchor=f"{_CIS} 5.2.2",
        resource_types=(CLUSTER,),
        check=_workload_identity,
    ),
    Rule(
        id="GP-GCP-005",
        name="gke-metadata-server",
        description="Nodes run the GKE metadata server (workloadMetadataConfig.mode: "
        "GKE_METADATA), hiding the node's credentials from pods.",
        severity="high",
        level="mandatory",
        remediation="Set nodeConfig.workloadMetadataConfig.mode: GKE_METADATA on every node "
        "pool and on the cluster's nodeConfig.",
        anchor=f"{_CIS} 5.4.1; Checkov CKV_GCP_69",
        resource_types=_NODES,
        check=_metadata_server,
    ),
    Rule(
        id="GP-GCP-006",
        name="gke-no-default-service-account",
        description="Nodes run as a dedicated service account, not the Compute Engine default one.",
        severity="high",
        level="mandatory",
        remediation="Create a least-privilege service account (logging, monitoring, Artifact "
        "Registry reader) and set nodeConfig.serviceAccount to it on every pool.",
        anchor=f"{_CIS} 5.2.1; Checkov CKV2_GCP_1",
        resource_types=_NODES,
        check=_node_service_account,
    ),
    Rule(
        id="GP-GCP-007",
        name="gke-network-policy",
        description="NetworkPolicy is enforced (Dataplane V2, or the Calico network policy "
        "add-on).",
        severity="high",
        level="mandatory",
        remediation="Set datapathProvider: ADVANCED_DATAPATH (only at creation), or "
        "networkPolicy.enabled: true with addonsConfig.networkPolicyConfig.disabled: false.",
        anchor="CIS GKE Benchmark v1.2.0 5.6.7; Checkov CKV_GCP_12",
        resource_types=(CLUSTER,),
        check=_network_policy,
    ),
    Rule(
        id="GP-GCP-008",
        name="gke-no-legacy-auth",
        description="Legacy ABAC is off and no client certificate is issued.",
        severity="high",
        level="mandatory",
        remediation="Set enableLegacyAbac: false and "
        "masterAuth.clientCertificateConfig.issueClientCertificate: false.",
        anchor=f"{_CIS} 5.8.1, 5.8.3; Checkov CKV_GCP_7, CKV_GCP_13",
        resource_types=(CLUSTER,),
        check=_legacy_auth,
    ),
    Rule(
        id="GP-GCP-009",
        name="gcs-public-access-prevention",
        description="Cloud Storage buckets enforce public access prevention.",
        severity="critical",
        level="mandatory",
        remediation="Set publicAccessPrevention: enforced on the bucket.",
        anchor="Checkov CKV_GCP_114, CKV_GCP_28; CIS GCP Foundations 5.1",
        resource_types=(BUCKET,),
        check=_bucket_public_access,
    ),
    Rule(
        id="GP-GCP-010",
        name="gcs-uniform-bucket-level-access",
        description="Cloud Storage buckets use uniform bucket-level access (IAM only, no "
        "object ACLs).",
        severity="high",
        level="mandatory",
        remediation="Set uniformBucketLevelAccess: true on the bucket.",
        anchor="Checkov CKV_GCP_29; CIS GCP Foundations 5.2",
        resource_types=(BUCKET,),
        check=_bucket_uniform_access,
    ),
    Rule(
        id="GP-GCP-011",
        name="gke-shielded-nodes",
        description="Shielded GKE nodes with secure boot and integrity monitoring.",
        severity="medium",
        level="advisory",
        remediation="Keep enableShieldedNodes on and set nodeConfig.shieldedInstanceConfig."
        "enableSecureBoot: true on every pool (GPU drivers installed by GKE are signed).",
        anchor=f"{_CIS} 5.5.5, 5.5.6, 5.5.7; Checkov CKV_GCP_71, CKV_GCP_68, CKV_GCP_72",
        resource_types=_NODES,
        check=_shielded_nodes,
    ),
    Rule(
        id="GP-GCP-012",
        name="gke-node-auto-repair-upgrade",
        description="Node pools keep auto-repair and auto-upgrade on.",
        severity="medium",
        level="advisory",
        remediation="Remove management.autoRepair/autoUpgrade: false from the node pool.",
        anchor=f"{_CIS} 5.5.2, 5.5.3; Checkov CKV_GCP_9, CKV_GCP_10",
        resource_types=_NODES,
        check=_auto_repair_upgrade,
    ),
    Rule(
        id="GP-GCP-013",
        stack_key="gpuplane:gcp.releaseChannel",
        name="gke-release-channel",
        description="The cluster is enrolled in a release channel.",
        severity="low",
        level="advisory",
        remediation="Set releaseChannel.channel to REGULAR or STABLE.",
        anchor=f"{_CIS} 5.5.4; Checkov CKV_GCP_70",
        resource_types=(CLUSTER,),
        check=_release_channel,
    ),
    Rule(
        id="GP-GCP-014",
        name="gke-control-plane-logging",
        description="Cloud Logging collects system component and API server logs.",
        severity="medium",
        level="advisory",
        remediation="Remove loggingService: none and set loggingConfig.enableComponents to "
        "include SYSTEM_COMPONENTS and APISERVER.",
        anchor=f"{_CIS} 5.7.1; Checkov CKV_GCP_1",
        resource_types=(CLUSTER,),
        check=_logging,
        config={
            "requiredComponents": string_list(
                ["SYSTEM_COMPONENTS", "APISERVER"],
                "loggingConfig.enableComponents values that must be on.",
            )
        },
    ),
    Rule(
        id="GP-GCP-015",
        name="gcp-kms-key-rotation",
        description="Symmetric Cloud KMS keys rotate at least every 90 days.",
        severity="low",
        level="advisory",
        remediation="Set rotationPeriod to 7776000s (90 days) or less.",
        anchor="Checkov CKV_GCP_43; CIS GCP Foundations 1.10",
        resource_types=(CRYPTO_KEY,),
        check=_kms_rotation,
        config={
            "maxRotationDays": {
                "type": "integer",
                "default": 90,
                "description": "Longest allowed rotationPeriod, in days.",
            }
        },
    ),
    Rule(
        id="GP-GCP-016",
        name="gcp-pubsub-dead-letter",
        description="Pub/Sub subscriptions have a dead-letter topic.",
        severity="medium",
        level="mandatory",
        remediation="Set deadLetterPolicy.deadLetterTopic (and maxDeliveryAttempts) and let "
        "the Pub/Sub service agent publish to it.",
        anchor="Google Cloud docs: Pub/Sub dead-letter topics",
        resource_types=(SUBSCRIPTION,),
        check=_pubsub_dead_letter,
    ),
    Rule(
        id="GP-GCP-017",
        name="gcp-pubsub-not-public",
        description="Pub/Sub topics and subscriptions grant nothing to allUsers or "
        "allAuthenticatedUsers.",
        severity="high",
        level="mandatory",
        remediation="Grant the role to the service accounts that need it instead.",
        anchor="CIS GCP Foundations 2.0 (no public IAM bindings); Checkov CKV_GCP_99",
        resource_types=(*PUBSUB_MEMBERS, *PUBSUB_BINDINGS),
        check=_pubsub_not_public,
    ),
)
