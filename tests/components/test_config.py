"""PlatformConfig: every error names its key path; defaults are secure and cheap."""

import json
from typing import Any

import pytest

from gpuplane.components.config import (
    ConfigError,
    MonitoringConfig,
    cold_start_budget,
    load_config,
    parse_config,
)
from tests.helpers import AWS, AWS_LOCATION, AZURE, AZURE_LOCATION, EXISTING, config_problems

GCP = {"cloud": "gcp", "cluster": {"endpoint": {"publicAccessCidrs": ["203.0.113.0/24"]}}}
GCP_LOCATION = {"gcp:project": "demo", "gcp:region": "us-central1"}


def _aws(**changes: Any) -> dict[str, Any]:
    return {**AWS, **changes}


def _pool(**changes: Any) -> dict[str, Any]:
    return {"name": "l4", "instanceTypes": ["g6.xlarge"], **changes}


# (gpuplane keys, location keys, key path the message must name, fragment it must contain)
MALFORMED: list[tuple[dict[str, Any], dict[str, str], str, str]] = [
    ({}, {}, "gpuplane:cloud", "allowed: aws, gcp, azure, existing"),
    ({"cloud": "openstack"}, {}, "gpuplane:cloud", "given 'openstack'"),
    ({**EXISTING, "environment": "staging"}, {}, "gpuplane:environment", "allowed: dev, prod"),
    ({**EXISTING, "colour": "blue"}, {}, "gpuplane:colour", "allowed keys: cloud"),
    (
        {**EXISTING, "cluster": {"nmae": "x"}},
        {},
        "gpuplane:cluster.nmae",
        "allowed keys here: name, kubernetesVersion",
    ),
    ({**EXISTING, "cluster": {"name": "Prod_1"}}, {}, "gpuplane:cluster.name", "lowercase"),
    (_aws(), {}, "aws:region", "required for gpuplane:cloud aws"),
    (
        _aws(cluster={"kubernetesVersion": "1.35.2", "endpoint": AWS["cluster"]["endpoint"]}),
        AWS_LOCATION,
        "gpuplane:cluster.kubernetesVersion",
        "1.NN",
    ),
    (
        _aws(cluster={"endpoint": {"publicAccessCidrs": ["0.0.0.0/0"]}}),
        AWS_LOCATION,
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "whole internet",
    ),
    (
        _aws(cluster={"endpoint": {"publicAccessCidrs": ["::/0"]}}),
        AWS_LOCATION,
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "whole internet",
    ),
    (
        _aws(cluster={"endpoint": {"publicAccessCidrs": ["10.1.2.3/8"]}}),
        AWS_LOCATION,
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "not a CIDR block",
    ),
    (
        {"cloud": "aws"},
        AWS_LOCATION,
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "required while publicAccess is true",
    ),
    (
        _aws(cluster={"endpoint": {"publicAccess": False, "privateAccess": False}}),
        AWS_LOCATION,
        "gpuplane:cluster.endpoint",
        "nothing could reach the API server",
    ),
    (
        _aws(gpuPools=[_pool(maxNodes=0)]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].maxNodes",
        "greater than or equal to 1",
    ),
    (
        _aws(gpuPools=[_pool(), _pool(name="big", minNodes=3, maxNodes=2)]),
        AWS_LOCATION,
        "gpuplane:gpuPools[1].minNodes",
        "must be <= maxNodes",
    ),
    (
        _aws(gpuPools=[_pool(), _pool()]),
        AWS_LOCATION,
        "gpuplane:gpuPools[1].name",
        "names must be unique",
    ),
    (
        _aws(gpuPools=[_pool(name="gpu-pool")]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].name",
        "lowercase letters and digits",
    ),
    (
        _aws(gpuPools=[_pool(name="averyverylongpool")]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].name",
        "1-12",
    ),
    (
        _aws(gpuPools=[_pool(instanceTypes=["m6i.large"])]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].instanceTypes[0]",
        "has no NVIDIA GPU on aws",
    ),
    (
        _aws(gpuPools=[_pool(instanceTypes=[])]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].instanceTypes",
        "at least one GPU machine type",
    ),
    (
        _aws(gpuPools=[_pool(accelerator="nvidia-h100-80gb")]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].accelerator",
        "g6.xlarge carries nvidia-l4",
    ),
    (
        _aws(gpuPools=[_pool(sharing={"strategy": "time-slicing"})]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].sharing.replicas",
        "required when strategy is time-slicing",
    ),
    (
        _aws(gpuPools=[_pool(sharing={"strategy": "fractional", "replicas": 2})]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].sharing.strategy",
        "allowed: none, time-slicing, mps",
    ),
    (
        _aws(gpuPools=[_pool(labels={"kubernetes.io/role": "gpu"})]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].labels",
        "reserved domain kubernetes.io",
    ),
    (
        _aws(gpuPools=[_pool(labels={"node-role.kubernetes.io/gpu": ""})]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].labels",
        "reserved domain kubernetes.io",
    ),
    (
        _aws(gpuPools=[_pool(labels={"team.gpuplane.dev/owner": "ml"})]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].labels",
        "reserved domain gpuplane.dev",
    ),
    (
        _aws(cluster={"endpoint": {"publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}}),
        AWS_LOCATION,
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "wider than /8",
    ),
    (
        _aws(
            cluster={"endpoint": {"publicAccess": False, "publicAccessCidrs": ["203.0.113.0/24"]}}
        ),
        AWS_LOCATION,
        "gpuplane:cluster.endpoint.publicAccessCidrs",
        "has no effect while publicAccess is false",
    ),
    (
        {
            **EXISTING,
            "gpuPools": [{"name": "l4", "labels": {"gpu": "l4"}, "sharing": {"strategy": "none"}}],
        },
        {},
        "gpuplane:gpuPools[0].sharing",
        "has no effect for an existing cluster",
    ),
    (
        {**EXISTING, "serving": {"acmeEmail": "ops@example.com"}},
        {},
        "gpuplane:serving.acmeEmail",
        "needs gpuplane:serving.domain",
    ),
    (
        {**EXISTING, "serving": {"knative": {"progressDeadline": "1s"}}},
        {},
        "gpuplane:serving.knative.progressDeadline",
        "at least 10m",
    ),
    (
        {**EXISTING, "serving": {"knative": {"requestTimeout": "20m"}}},
        {},
        "gpuplane:serving.knative.requestTimeout",
        "at most 600s",
    ),
    (
        {**EXISTING, "serving": {"monitoring": "yes"}},
        {},
        "gpuplane:serving.monitoring",
        "must be true, false or an object",
    ),
    (
        {**EXISTING, "serving": {"monitoring": {"gpuMetrcs": False}}},
        {},
        "gpuplane:serving.monitoring.gpuMetrcs",
        "allowed keys here: enabled, dashboards, gpuMetrics, cost, alerts",
    ),
    (
        {**EXISTING, "serving": {"monitoring": {"alerts": {"errorRatio": 2}}}},
        {},
        "gpuplane:serving.monitoring.alerts.errorRatio",
        "less than or equal to 1",
    ),
    (
        {**EXISTING, "serving": {"monitoring": {"alerts": {"gpuPodPending": "soon"}}}},
        {},
        "gpuplane:serving.monitoring.alerts.gpuPodPending",
        "duration like 30s",
    ),
    (
        {**EXISTING, "serving": {"monitoring": {"alerts": {"coldStartBudget": "40m"}}}},
        {},
        "gpuplane:serving.monitoring.alerts.coldStartBudget",
        "below gpuplane:serving.knative.progressDeadline (30m)",
    ),
    (
        {**EXISTING, "serving": {"monitoring": {"cost": True}}},
        {},
        "gpuplane:serving.monitoring.cost",
        "needs a cloud price table",
    ),
    (
        _aws(gpuPools=[_pool(maxNodes="3")]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].maxNodes",
        "must be a whole number",
    ),
    (
        _aws(gpuPools=[_pool(labels={"team": "not ok!"})]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].labels",
        "not a valid label value",
    ),
    (
        {"cloud": "gcp", **{k: v for k, v in AWS.items() if k != "cloud"}},
        {"gcp:region": "us-central1"},
        "gcp:project",
        "required for gpuplane:cloud gcp",
    ),
    (
        {
            "cloud": "gcp",
            "cluster": AWS["cluster"],
            "gpuPools": [_pool(instanceTypes=["n1-standard-8"])],
        },
        GCP_LOCATION,
        "gpuplane:gpuPools[0].accelerator",
        "required for n1-standard-8",
    ),
    (
        {
            "cloud": "gcp",
            "cluster": AWS["cluster"],
            "gpuPools": [_pool(instanceTypes=["g2-standard-4", "g2-standard-8"])],
        },
        GCP_LOCATION,
        "gpuplane:gpuPools[0].instanceTypes",
        "exactly one machine type",
    ),
    (
        {
            **AZURE,
            "gpuPools": [
                _pool(
                    instanceTypes=["Standard_NC4as_T4_v3"],
                    sharing={"strategy": "mps", "replicas": 2},
                )
            ],
        },
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].sharing.strategy",
        "mps is not offered on AKS",
    ),
    ({"cloud": "existing"}, {}, "gpuplane:existing", "required for gpuplane:cloud existing"),
    ({"cloud": "existing", "existing": {}}, {}, "gpuplane:existing.context", "required"),
    (
        {**EXISTING, "gpuPools": [{"name": "l4"}]},
        {},
        "gpuplane:gpuPools[0].labels",
        "select this pool's GPU nodes",
    ),
    (
        {**EXISTING, "systemPool": {"minNodes": 1}},
        {},
        "gpuplane:systemPool",
        "has no effect for gpuplane:cloud existing",
    ),
    (
        {**EXISTING, "serving": {"knative": {"progressDeadline": "ten minutes"}}},
        {},
        "gpuplane:serving.knative.progressDeadline",
        "duration like 30s",
    ),
    ({**EXISTING, "serving": {"acmeEmail": "ops"}}, {}, "gpuplane:serving.acmeEmail", "email"),
    ({**EXISTING, "gpuPools": {"name": "l4"}}, {}, "gpuplane:gpuPools", "must be a list"),
    (
        {**EXISTING, "serving": '{"monitoring": "sometimes"}'},
        {},
        "gpuplane:serving.monitoring",
        "must be true, false or an object",
    ),
    # gpuplane:aws
    (
        {"cloud": "aws", "cluster": AWS["cluster"]},
        AWS_LOCATION,
        "gpuplane:aws.adminRoleArns",
        "including the role `pulumi up` runs as",
    ),
    (
        _aws(aws={"adminRoleArns": ["arn:aws:iam::123456789012:user/alice"]}),
        AWS_LOCATION,
        "gpuplane:aws.adminRoleArns",
        "not an IAM role ARN",
    ),
    (
        _aws(aws={**AWS["aws"], "computeMode": "fargate"}),
        AWS_LOCATION,
        "gpuplane:aws.computeMode",
        "allowed: karpenter, auto",
    ),
    (
        _aws(aws={**AWS["aws"], "vpcCidr": "100.64.0.0/10"}),
        AWS_LOCATION,
        "gpuplane:aws.vpcCidr",
        "from /16 to /18",
    ),
    (
        _aws(aws={**AWS["aws"], "zoneCount": 1}),
        AWS_LOCATION,
        "gpuplane:aws.zoneCount",
        "greater than or equal to 2",
    ),
    (
        _aws(aws={**AWS["aws"], "consolidateAfter": "soon"}),
        AWS_LOCATION,
        "gpuplane:aws.consolidateAfter",
        "duration like 30s",
    ),
    (
        _aws(aws={**AWS["aws"], "imageCacheSnapshotId": "snap-0123456789abcdef0"}),
        AWS_LOCATION,
        "gpuplane:aws.imageCacheSnapshotId",
        "needs gpuNodeImage bottlerocket",
    ),
    (
        _aws(aws={**AWS["aws"], "computeMode": "auto", "gpuNodeImage": "bottlerocket"}),
        AWS_LOCATION,
        "gpuplane:aws.gpuNodeImage",
        "only with computeMode karpenter",
    ),
    (
        _aws(
            aws={**AWS["aws"], "computeMode": "auto"},
            gpuPools=[_pool(sharing={"strategy": "time-slicing", "replicas": 4})],
        ),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].sharing.strategy",
        "allowed with computeMode auto: none",
    ),
    (
        _aws(gpuPools=[_pool(minNodes=1, maxNodes=2)]),
        AWS_LOCATION,
        "gpuplane:gpuPools[0].minNodes",
        "only 0 is allowed",
    ),
    ({**EXISTING, "aws": AWS["aws"]}, {}, "gpuplane:aws", "only for gpuplane:cloud aws"),
    # gpuplane:gcp
    (
        {**GCP, "gcp": {"podsCidr": "10.10.0.0/16"}},
        GCP_LOCATION,
        "gpuplane:gcp.podsCidr",
        "overlaps subnetCidr",
    ),
    (
        {**GCP, "gcp": {"masterCidr": "172.16.0.0/24"}},
        GCP_LOCATION,
        "gpuplane:gcp.masterCidr",
        "from /28 to /28",
    ),
    (
        {**GCP, "gcp": {"mode": "autopilot"}, "systemPool": {"minNodes": 3}},
        GCP_LOCATION,
        "gpuplane:systemPool",
        "no effect in Autopilot",
    ),
    (
        {**GCP, "gcp": {"mode": "autopilot", "nodeAutoProvisioning": True}},
        GCP_LOCATION,
        "gpuplane:gcp.nodeAutoProvisioning",
        "only with mode standard",
    ),
    (
        {
            **GCP,
            "gcp": {"mode": "autopilot"},
            "gpuPools": [{"name": "l4", "instanceTypes": ["g2-standard-4"], "minNodes": 1}],
        },
        GCP_LOCATION,
        "gpuplane:gpuPools[0].minNodes",
        "only 0 is allowed",
    ),
    (_aws(gcp={"mode": "standard"}), AWS_LOCATION, "gpuplane:gcp", "only for gpuplane:cloud gcp"),
    (
        _aws(cluster={**AWS["cluster"], "kubernetesVersion": "1.31"}),
        AWS_LOCATION,
        "gpuplane:cluster.kubernetesVersion",
        "allowed 1.34 to 1.36: Knative Serving 1.23.0 needs 1.34 or newer (given '1.31')",
    ),
    # gpuplane:azure
    ({**AZURE, "azure": {}}, AZURE_LOCATION, "gpuplane:azure.adminGroupObjectIds", "required"),
    (
        {**AZURE, "azure": {"adminGroupObjectIds": ["platform-admins"]}},
        AZURE_LOCATION,
        "gpuplane:azure.adminGroupObjectIds",
        "not an Entra ID object id",
    ),
    (
        {**AZURE, "azure": {**AZURE["azure"], "nodeProvisioning": "karpenter"}},
        AZURE_LOCATION,
        "gpuplane:azure.nodeProvisioning",
        "allowed: pools, auto",
    ),
    (
        {**AZURE, "azure": {**AZURE["azure"], "outbound": "userDefinedRouting"}},
        AZURE_LOCATION,
        "gpuplane:azure.outbound",
        "allowed: loadBalancer, natGateway",
    ),
    (
        {**AZURE, "azure": {**AZURE["azure"], "podCidr": "10.240.0.0/16"}},
        AZURE_LOCATION,
        "gpuplane:azure.podCidr",
        "overlaps vnetCidr",
    ),
    (
        {**AZURE, "azure": {**AZURE["azure"], "vnetCidr": "52.0.0.0/16"}},
        AZURE_LOCATION,
        "gpuplane:azure.vnetCidr",
        "private IPv4 block",
    ),
    (
        {**AZURE, "gpuPools": [_pool(name="t4-spot", instanceTypes=["Standard_NC4as_T4_v3"])]},
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].name",
        "valid for AKS",
    ),
    (
        {**AZURE, "gpuPools": [_pool(name="system", instanceTypes=["Standard_NC4as_T4_v3"])]},
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].name",
        "taken by gpuplane's AKS pools",
    ),
    (
        {**AZURE, "gpuPools": [_pool(name="platform", instanceTypes=["Standard_NC4as_T4_v3"])]},
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].name",
        "(system, platform)",
    ),
    (
        {
            **AZURE,
            "gpuPools": [
                _pool(
                    instanceTypes=["Standard_NC4as_T4_v3"],
                    labels={"kubernetes.azure.com/scalesetpriority": "spot"},
                )
            ],
        },
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].labels",
        "reserved domain kubernetes.azure.com",
    ),
    (
        {**AZURE, "gpuPools": [_pool(instanceTypes=["Standard_D4s_v5"])]},
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].instanceTypes[0]",
        "no NVIDIA GPU on azure",
    ),
    (
        {
            **AZURE,
            "azure": {**AZURE["azure"], "nodeProvisioning": "auto"},
            "gpuPools": [_pool(instanceTypes=["Standard_NC4as_T4_v3"], minNodes=1)],
        },
        AZURE_LOCATION,
        "gpuplane:gpuPools[0].minNodes",
        "only 0 is allowed",
    ),
    ({**AZURE, "azure": AZURE["azure"]}, {}, "azure-native:location", "required"),
    (_aws(azure=AZURE["azure"]), AWS_LOCATION, "gpuplane:azure", "only for gpuplane:cloud azure"),
]


@pytest.mark.parametrize(("raw", "location", "path", "fragment"), MALFORMED)
def test_malformed_config_names_the_key(
    raw: dict[str, Any], location: dict[str, str], path: str, fragment: str
) -> None:
    problems = config_problems(raw, location)
    matching = [p for p in problems if p.startswith(f"{path}:")]
    assert matching, f"no problem names {path}: {problems}"
    assert any(fragment in p for p in matching), matching


def test_every_problem_is_reported_at_once() -> None:
    problems = config_problems({"environment": "qa", "colour": "blue", "gpuPools": [{"name": "A"}]})
    paths = {p.split(": ")[0] for p in problems}
    assert {"gpuplane:cloud", "gpuplane:environment", "gpuplane:colour"} <= paths
    assert "gpuplane:gpuPools[0].name" in paths


def test_config_error_is_a_clean_run_error() -> None:
    import pulumi

    with pytest.raises(ConfigError) as caught:
        parse_config({"cloud": "mars"})
    assert isinstance(caught.value, pulumi.RunError)  # Pulumi prints it without a traceback
    assert str(caught.value).startswith("invalid gpuplane config (1 problem(s)):")


def test_defaults_are_cheap_in_dev_and_safe_in_prod() -> None:
    dev = parse_config(_aws(gpuPools=[_pool()]), AWS_LOCATION)
    prod = parse_config(_aws(environment="prod", gpuPools=[_pool()]), AWS_LOCATION)
    assert dev.gpu_pools[0].min_nodes == 0
    assert dev.gpu_pools[0].spot is True
    assert prod.gpu_pools[0].spot is False
    assert dev.protect is False and prod.protect is True
    assert dev.cluster.endpoint.private_access is True
    assert dev.system_pool is not None and dev.system_pool.instance_type == "m6i.large"


def test_explicit_spot_and_protect_win_over_environment() -> None:
    cfg = parse_config(
        _aws(
            environment="prod",
            cluster={**AWS["cluster"], "protect": False},
            gpuPools=[_pool(spot=True)],
        ),
        AWS_LOCATION,
    )
    assert cfg.gpu_pools[0].spot is True
    assert cfg.protect is False


def test_system_pool_default_follows_the_cloud() -> None:
    gcp = parse_config({"cloud": "gcp", "cluster": AWS["cluster"]}, GCP_LOCATION)
    azure = parse_config(AZURE, AZURE_LOCATION)
    assert gcp.system_pool is not None and gcp.system_pool.instance_type == "e2-standard-4"
    assert azure.system_pool is not None and azure.system_pool.instance_type == "Standard_D4s_v5"


def test_azure_defaults_follow_the_environment() -> None:
    dev = parse_config(
        {**AZURE, "gpuPools": [_pool(instanceTypes=["Standard_NC4as_T4_v3"])]}, AZURE_LOCATION
    )
    prod = parse_config({**AZURE, "environment": "prod"}, AZURE_LOCATION)
    assert dev.azure is not None and prod.azure is not None
    assert (dev.azure.sku_tier, dev.azure.outbound) == ("Free", "loadBalancer")
    assert (prod.azure.sku_tier, prod.azure.outbound) == ("Standard", "natGateway")
    assert dev.gpu_pools[0].spot is True
    assert dev.azure.node_provisioning == "pools"
    assert dev.azure.encryption_at_host is True


def test_gcp_n1_takes_an_attached_accelerator() -> None:
    cfg = parse_config(
        {
            "cloud": "gcp",
            "cluster": AWS["cluster"],
            "gpuPools": [
                _pool(
                    instanceTypes=["n1-standard-8"],
                    accelerator="nvidia-tesla-t4",
                    acceleratorCount=2,
                )
            ],
        },
        GCP_LOCATION,
    )
    assert cfg.gpu_pools[0].accelerator == "nvidia-tesla-t4"


def test_private_only_endpoint_needs_no_cidrs() -> None:
    cfg = parse_config(
        _aws(environment="prod", cluster={"endpoint": {"publicAccess": False}}), AWS_LOCATION
    )
    assert cfg.cluster.endpoint.public_access is False


def test_load_config_reads_pulumi_wire_strings() -> None:
    """Pulumi passes object keys as JSON strings; load_config decodes them."""
    values = {
        "gpuplane:cloud": "aws",
        "gpuplane:environment": "prod",
        "gpuplane:cluster": json.dumps({"endpoint": {"publicAccessCidrs": ["198.51.100.0/24"]}}),
        "gpuplane:gpuPools": json.dumps([_pool(maxNodes=4)]),
        "gpuplane:aws": json.dumps(AWS["aws"]),
        "aws:region": "eu-west-1",
        "aws:profile": "ignored-by-gpuplane",
    }
    cfg = load_config(values)
    assert cfg.location.region == "eu-west-1"
    assert cfg.gpu_pools[0].max_nodes == 4
    assert cfg.cluster.endpoint.public_access_cidrs == ("198.51.100.0/24",)
    assert cfg.aws is not None and cfg.aws.admin_role_arns == tuple(AWS["aws"]["adminRoleArns"])


def test_existing_selectors_may_use_kubernetes_labels() -> None:
    """On an existing cluster, labels select nodes; kubelet-set labels are fair game."""
    cfg = parse_config(
        {**EXISTING, "gpuPools": [{"name": "l4", "labels": {"kubernetes.io/arch": "amd64"}}]}
    )
    assert cfg.gpu_pools[0].labels == {"kubernetes.io/arch": "amd64"}


def test_existing_cluster_config_is_minimal() -> None:
    cfg = parse_config(EXISTING)
    assert cfg.system_pool is None
    assert cfg.existing is not None and cfg.existing.context == "kind-gpuplane"
    assert cfg.serving.monitoring.enabled is True
    assert cfg.serving.monitoring.alerts.cold_start_budget is None
    assert cold_start_budget(cfg.serving) == "900s"  # half of the 30m progress deadline
    assert parse_config({**EXISTING, "serving": {"monitoring": False}}).serving.monitoring == (
        MonitoringConfig(enabled=False)
    )
    assert cfg.serving.knative.scale_to_zero is True
