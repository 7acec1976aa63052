"""EKS on the graph: aws-dev and aws-prod as written, and variants of them.

What a reviewer would check by hand on an EKS stack: endpoint and encryption,
logs and access, node hardening, network layout, GPU pools that scale to zero,
webhook reachability, model storage lockdown, identity wiring and protection.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from gpuplane.components import versions
from gpuplane.graph import Resource, ResourceGraph
from tests.helpers import (
    RELEASE,
    cluster_provider,
    custom_resource_named,
    depends_on,
    k8s_object,
    one_of_type,
    release_named,
    stack_file_config,
)
from tests.upstream import (
    UPSTREAM,
    chart_for_reference,
    releases_missing_upstream,
    upstream_values,
    validate_custom_resource,
)

CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
LIVE_STACKS = ("aws-dev", "aws-prod")


def _with_aws(name: str, **changes: Any) -> dict[str, Any]:
    config = stack_file_config(name)
    config["gpuplane:aws"] = {**config["gpuplane:aws"], **changes}
    return config


@pytest.fixture(scope="module")
def graphs(stack_graphs: dict[str, ResourceGraph], project: Any) -> dict[str, ResourceGraph]:
    """aws-dev and aws-prod as written, and both in EKS Auto Mode."""
    from gpuplane import engine
    from gpuplane.stacks import stack_from_mapping

    out = {name: stack_graphs[name] for name in LIVE_STACKS}
    for name in LIVE_STACKS:
        config = _with_aws(name, computeMode="auto")
        # Auto Mode manages the node image.
        config["gpuplane:aws"].pop("gpuNodeImageVersion", None)
        # Auto Mode runs its own device plugin, without sharing.
        for pool in config["gpuplane:gpuPools"]:
            pool.pop("sharing", None)
        # Auto Mode cannot host the node-local model cache (refused when asked for).
        config.pop("gpuplane:models", None)
        out[f"{name}-auto"] = engine.plan(stack_from_mapping(project, f"{name}-auto", config))
    return out


ALL = ("aws-dev", "aws-prod", "aws-dev-auto", "aws-prod-auto")
KARPENTER = ("aws-dev", "aws-prod")
AUTO = ("aws-dev-auto", "aws-prod-auto")


def _urn_of(graph: ResourceGraph, type_: str, **inputs: Any) -> Resource:
    found = [r for r in graph.by_type(type_) if all(r.get(k) == v for k, v in inputs.items())]
    assert len(found) == 1, (type_, inputs)
    return found[0]


def _reference(value: Any) -> str:
    assert isinstance(value, dict) and "@resource" in value, value
    return value["@resource"]


def _depends_on_resource(resource: Resource, other: Resource) -> bool:
    return other.urn in resource.dependencies


# --- control plane -------------------------------------------------------------------


@pytest.mark.parametrize("stack", ALL)
def test_endpoint_is_private_with_public_access_only_from_listed_cidrs(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    cluster = one_of_type(graphs[stack], CLUSTER)
    vpc = cluster.inputs["vpcConfig"]
    expected = stack_file_config(stack.removesuffix("-auto"))["gpuplane:cluster"]["endpoint"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == expected["publicAccessCidrs"]
    assert all(not c.endswith("/0") for c in vpc["publicAccessCidrs"])


def test_prod_may_be_private_only(plan_mapping: Callable[..., ResourceGraph]) -> None:
    config = stack_file_config("aws-prod")
    config["gpuplane:cluster"]["endpoint"] = {"privateAccess": True, "publicAccess": False}
    vpc = one_of_type(plan_mapping(config, "aws-private"), CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


@pytest.mark.parametrize("stack", ALL)
def test_secrets_are_envelope_encrypted_with_a_rotating_customer_key(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    encryption = cluster.inputs["encryptionConfig"]
    assert encryption["resources"] == ["secrets"]
    key_arn = encryption["provider"]["keyArn"]
    key = next(r for r in graph.by_type("aws:kms/key:Key") if r.name.endswith("-secrets"))
    assert key.urn in cluster.property_dependencies["encryptionConfig"]
    assert key_arn.startswith("arn:aws:kms:")
    assert key.inputs["enableKeyRotation"] is True


@pytest.mark.parametrize("stack", ALL)
def test_all_five_control_plane_log_types_and_standard_support(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    cluster = one_of_type(graphs[stack], CLUSTER)
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    )
    assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    group = one_of_type(graphs[stack], "aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert group.inputs["retentionInDays"] in (30, 90)
    assert _depends_on_resource(cluster, group)


@pytest.mark.parametrize("stack", ALL)
def test_access_entries_only_for_the_configured_admin_roles(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    assert cluster.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    admins = stack_file_config(stack.removesuffix("-auto"))["gpuplane:aws"]["adminRoleArns"]
    standard = [r for r in graph.by_type(ACCESS_ENTRY) if r.inputs["type"] == "STANDARD"]
    assert sorted(r.inputs["principalArn"] for r in standard) == sorted(admins)
    admin_policies = [
        r
        for r in graph.by_type(POLICY_ASSOCIATION)
        if r.inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    ]
    assert sorted(r.inputs["principalArn"] for r in admin_policies) == sorted(admins)
    assert all(r.inputs["accessScope"] == {"type": "cluster"} for r in admin_policies)


# --- nodes -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ALL)
def test_system_nodes_require_imdsv2_with_hop_limit_one_and_encrypted_disks(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    template = one_of_type(graph, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["metadataOptions"]["httpTokens"] == "required"
    assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    [disk] = template.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true"
    assert disk["ebs"]["volumeType"] == "gp3"
    group = one_of_type(graph, "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["capacityType"] == "ON_DEMAND"
    assert group.inputs["amiType"].startswith("AL2023_")
    assert template.urn in group.property_dependencies["launchTemplate"]
    system = stack_file_config(stack.removesuffix("-auto")).get("gpuplane:systemPool", {})
    assert group.inputs["scalingConfig"]["minSize"] == system.get("minNodes", 2)
    assert group.inputs["scalingConfig"]["desiredSize"] == system.get("minNodes", 2)


@pytest.mark.parametrize("stack", ALL)
def test_no_ssh_no_public_node_addresses_no_shell_agent(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    group = one_of_type(graph, "aws:eks/nodeGroup:NodeGroup")
    assert "remoteAccess" not in group.inputs
    template = one_of_type(graph, "aws:ec2/launchTemplate:LaunchTemplate")
    assert "keyName" not in template.inputs
    for subnet in graph.by_type(SUBNET):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for rule in graph.by_type(INGRESS_RULE):
        assert rule.inputs.get("fromPort") != 22
        assert "cidrIpv4" not in rule.inputs  # ingress only from security groups
    attached = [r.inputs["policyArn"] for r in graph.by_type(ATTACHMENT)]
    assert not [a for a in attached if a.endswith("AmazonSSMManagedInstanceCore")]
    for node_class in [r for r in graph if r.type.endswith(":EC2NodeClass")]:
        assert node_class.get("spec.associatePublicIPAddress") is False
        assert node_class.get("spec.metadataOptions") == {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        }


# --- network ---------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "zones", "nats"), [("aws-dev", 2, 1), ("aws-prod", 3, 3)])
def test_zones_and_nat_gateways(
    graphs: dict[str, ResourceGraph], stack: str, zones: int, nats: int
) -> None:
    graph = graphs[stack]
    private = [s for s in graph.by_type(SUBNET) if "-private-" in s.name]
    public = [s for s in graph.by_type(SUBNET) if "-public-" in s.name]
    assert len(private) == len(public) == zones
    # Zone names come from the getAvailabilityZones invoke (mocked: <region>a, b, c ...).
    assert sorted(s.inputs["availabilityZone"] for s in private) == [
        f"us-east-1{c}" for c in "abc"[:zones]
    ]
    assert len(graph.by_type("aws:ec2/natGateway:NatGateway")) == nats
    for nat in graph.by_type("aws:ec2/natGateway:NatGateway"):
        assert any(_depends_on_resource(nat, s) for s in public)
    routes = [
        r
        for r in graph.by_type("aws:ec2/route:Route")
        if r.name.endswith("-default") and "private" in r.name
    ]
    assert len(routes) == zones
    assert len({json.dumps(r.property_dependencies["natGatewayId"]) for r in routes}) == nats


@pytest.mark.parametrize("stack", ALL)
def test_subnets_are_tagged_for_load_balancers_and_karpenter(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster_name = one_of_type(graph, CLUSTER).inputs["name"]
    for subnet in graph.by_type(SUBNET):
        tags = subnet.inputs["tags"]
        if "-public-" in subnet.name:
            assert tags["kubernetes.io/role/elb"] == "1"
            assert "karpenter.sh/discovery" not in tags
        else:
            assert tags["kubernetes.io/role/internal-elb"] == "1"
            assert tags["karpenter.sh/discovery"] == cluster_name
    # Nodes and the control plane live in private subnets only.
    subnet_refs = one_of_type(graph, CLUSTER).property_dependencies["vpcConfig"]
    private = {s.urn for s in graph.by_type(SUBNET) if "-private-" in s.name}
    public = {s.urn for s in graph.by_type(SUBNET) if "-public-" in s.name}
    assert private <= set(subnet_refs)
    assert not public & set(subnet_refs)


@pytest.mark.parametrize("stack", ALL)
def test_s3_traffic_skips_nat_through_a_gateway_endpoint(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    endpoint = one_of_type(graphs[stack], "aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    tables = [
        r for r in graphs[stack].by_type("aws:ec2/routeTable:RouteTable") if "private" in r.name
    ]
    assert set(endpoint.property_dependencies["routeTableIds"]) == {t.urn for t in tables}


# --- webhooks ------------------------------------------------------------------------


def _webhook_ports_from_upstream() -> set[int]:
    """Ports the charts' own values say their webhooks listen on."""
    cert_manager = upstream_values(chart_for_reference("cert-manager", "v1.21.1")[1])
    kps = upstream_values(chart_for_reference("kube-prometheus-stack", "88.5.3")[1])
    operator = kps["prometheusOperator"]
    return {
        cert_manager["webhook"]["securePort"],
        operator["tls"]["internalPort"],
        operator["admissionWebhooks"]["deployment"]["tls"]["internalPort"],
    }


# istiod's webhook: Service istiod 443 -> 15017. KServe's webhook server: container
# port 9443 (cmd/manager --webhook-port default). Knative Serving, net-istio and the
# operator's conversion webhook: 8443. Karpenter 1.14: no webhooks (dropped in v1.1).
NON_CHART_VALUE_PORTS = {15017, 9443, 8443}


@pytest.mark.parametrize("stack", ALL)
def test_control_plane_reaches_every_webhook_and_nothing_else(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    [control_plane_sg] = [
        u
        for u in cluster.property_dependencies["vpcConfig"]
        if graph.get(u).type == "aws:ec2/securityGroup:SecurityGroup"
    ]
    from_control_plane = {
        r.inputs["fromPort"]
        for r in graph.by_type(INGRESS_RULE)
        if control_plane_sg in r.property_dependencies.get("referencedSecurityGroupId", ())
    }
    # 10251: the metrics-server add-on's APIService (AWS's build serves there).
    expected = _webhook_ports_from_upstream() | NON_CHART_VALUE_PORTS | {10251}
    assert from_control_plane == expected
    for rule in graph.by_type(INGRESS_RULE):
        assert rule.inputs.get("fromPort") == rule.inputs.get("toPort")
    # The control plane's own egress goes only to those ports on nodes.
    egress = [
        r
        for r in graph.by_type(EGRESS_RULE)
        if control_plane_sg in r.property_dependencies.get("securityGroupId", ())
    ]
    assert {r.inputs["fromPort"] for r in egress} == expected


def test_karpenter_has_no_webhook_to_open() -> None:
    values = (UPSTREAM / "charts/karpenter/1.14.1/values.yaml").read_text()
    assert "webhook" not in values.lower()


# --- GPU capacity --------------------------------------------------------------------


def _pools(stack: str) -> dict[str, dict[str, Any]]:
    return {
        p["name"]: p for p in stack_file_config(stack.removesuffix("-auto"))["gpuplane:gpuPools"]
    }


@pytest.mark.parametrize("stack", ALL)
def test_gpu_node_pools_are_tainted_limited_and_emptied(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    pools = _pools(stack)
    node_pools = [r for r in graph if r.type == "kubernetes:karpenter.sh/v1:NodePool"]
    assert {r.get("metadata.name") for r in node_pools} == {f"gpu-{n}" for n in pools}
    aws_config = stack_file_config(stack.removesuffix("-auto"))["gpuplane:aws"]
    for node_pool in node_pools:
        pool = pools[node_pool.get("metadata.name").removeprefix("gpu-")]
        spec = node_pool.inputs["spec"]
        assert spec["template"]["spec"]["taints"] == [
            {"key": "nvidia.com/gpu", "effect": "NoSchedule"}
        ]
        requirements = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
        assert requirements["node.kubernetes.io/instance-type"] == pool["instanceTypes"]
        expected_capacity = "spot" if pool.get("spot", stack.startswith("aws-dev")) else "on-demand"
        assert requirements["karpenter.sh/capacity-type"] == [expected_capacity]
        assert spec["limits"]["nodes"] == pool["maxNodes"]
        # g6.xlarge/g6.2xlarge/g5.xlarge each carry one GPU.
        assert spec["limits"]["nvidia.com/gpu"] == pool["maxNodes"]
        disruption = spec["disruption"]
        assert disruption["consolidationPolicy"] == "WhenEmpty"
        assert disruption["consolidateAfter"] == aws_config.get("consolidateAfter", "2m")
        # A new node image never evicts a serving model.
        assert {"nodes": "0", "reasons": ["Drifted"]} in disruption["budgets"]
        labels = spec["template"]["metadata"]["labels"]
        assert labels["gpuplane.dev/pool"] == pool["name"]
        validate_custom_resource(k8s_object(node_pool))


@pytest.mark.parametrize("stack", KARPENTER)
def test_karpenter_node_classes_validate_and_use_the_nvidia_image(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    node_classes = [r for r in graph if r.type.endswith(":EC2NodeClass")]
    assert len(node_classes) == len(_pools(stack))
    cluster_name = one_of_type(graph, CLUSTER).inputs["name"]
    for node_class in node_classes:
        spec = node_class.inputs["spec"]
        version = stack_file_config(stack)["gpuplane:aws"].get("gpuNodeImageVersion", "latest")
        assert spec["amiSelectorTerms"] == [{"alias": f"al2023@{version}"}]
        assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": cluster_name}}]
        [root] = spec["blockDeviceMappings"]
        assert root["ebs"]["encrypted"] is True
        assert root["ebs"]["volumeSize"] == "200Gi"
        assert "FastImagePull: true" in spec["userData"]
        validate_custom_resource(k8s_object(node_class))


@pytest.mark.parametrize("stack", KARPENTER)
def test_karpenter_is_installed_with_pod_identity_and_its_interruption_queue(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster_name = one_of_type(graph, CLUSTER).inputs["name"]
    crds = release_named(graph, "karpenter-crd")
    controller = release_named(graph, "karpenter")
    assert controller.inputs["namespace"] == crds.inputs["namespace"] == "kube-system"
    assert controller.inputs["skipCrds"] is True
    assert depends_on(graph, controller, crds)
    values = controller.inputs["values"]
    assert values["settings"]["clusterName"] == cluster_name
    queue = one_of_type(graph, "aws:sqs/queue:Queue")
    assert values["settings"]["interruptionQueue"] == queue.inputs["name"]
    # IMDS is out of reach for pods (hop limit 1), so the region comes from env.
    assert values["controller"]["env"] == [{"name": "AWS_REGION", "value": "us-east-1"}]
    assert queue.inputs["sqsManagedSseEnabled"] is True
    identity = _urn_of(graph, POD_IDENTITY, namespace="kube-system", serviceAccount="karpenter")
    [controller_role] = identity.property_dependencies["roleArn"]
    [trust] = json.loads(graph.get(controller_role).inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == [
        "karpenter"
    ]
    assert identity.inputs["serviceAccount"] == values["serviceAccount"]["name"] == "karpenter"
    assert depends_on(graph, controller, identity)
    rules = graph.by_type("aws:cloudwatch/eventRule:EventRule")
    detail_types = {json.loads(r.inputs["eventPattern"])["detail-type"][0] for r in rules}
    assert detail_types == {
        "AWS Health Event",
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "EC2 Capacity Reservation Instance Interruption Warning",
    }
    # Karpenter's nodes join through an EC2_LINUX access entry for the role its
    # node classes name.
    node_entry = _urn_of(graph, ACCESS_ENTRY, type="EC2_LINUX")
    [node_role_urn] = node_entry.property_dependencies["principalArn"]
    for node_class in [r for r in graph if r.type.endswith(":EC2NodeClass")]:
        assert node_role_urn in node_class.property_dependencies["spec"]
    for pool in graph.by_type("kubernetes:karpenter.sh/v1:NodePool"):
        assert depends_on(graph, pool, controller)


@pytest.mark.parametrize("stack", KARPENTER)
def test_device_plugin_runs_only_on_gpu_nodes_and_tolerates_the_taint(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    plugin = release_named(graph, "nvidia-device-plugin")
    values = plugin.inputs["values"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values[
        "tolerations"
    ]
    [term] = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    [expression] = term["matchExpressions"]
    # Every GPU NodePool labels its nodes with what the plugin's affinity selects.
    for pool in graph.by_type("kubernetes:karpenter.sh/v1:NodePool"):
        labels = pool.get("spec")["template"]["metadata"]["labels"]
        assert labels[expression["key"]] in expression["values"]
    # The system node group carries no such label.
    system = one_of_type(graph, "aws:eks/nodeGroup:NodeGroup").inputs["labels"]
    assert expression["key"] not in system


def test_time_slicing_reaches_the_device_plugin_per_pool(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["aws-prod"]
    values = release_named(graph, "nvidia-device-plugin").inputs["values"]
    config = yaml.safe_load(values["config"]["map"]["a10g"])
    assert config["sharing"]["timeSlicing"]["resources"] == [
        {"name": "nvidia.com/gpu", "replicas": 2}
    ]
    assert values["config"]["default"] == "default"
    a10g = custom_resource_named(graph, "NodePool", "gpu-a10g")
    l4 = custom_resource_named(graph, "NodePool", "gpu-l4")
    assert (
        a10g.get("spec")["template"]["metadata"]["labels"]["nvidia.com/device-plugin.config"]
        == "a10g"
    )
    assert "nvidia.com/device-plugin.config" not in l4.get("spec")["template"]["metadata"]["labels"]


@pytest.mark.parametrize("stack", ALL)
def test_chart_values_exist_upstream(graphs: dict[str, ResourceGraph], stack: str) -> None:
    assert releases_missing_upstream(graphs[stack]) == {}


# --- EKS Auto Mode -------------------------------------------------------------------


@pytest.mark.parametrize("stack", AUTO)
def test_auto_mode_turns_on_compute_storage_and_load_balancing(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    assert cluster.inputs["computeConfig"] == {"enabled": True, "nodePools": []}
    assert cluster.inputs["storageConfig"] == {"blockStorage": {"enabled": True}}
    assert cluster.inputs["kubernetesNetworkConfig"]["elasticLoadBalancing"] == {"enabled": True}
    attached = {r.inputs["policyArn"].split("/")[-1] for r in graph.by_type(ATTACHMENT)}
    assert {
        "AmazonEKSComputePolicy",
        "AmazonEKSBlockStoragePolicy",
        "AmazonEKSLoadBalancingPolicy",
        "AmazonEKSNetworkingPolicy",
    } <= attached
    releases = {r.inputs["name"] for r in graph.by_type(RELEASE)}
    assert not releases & {"karpenter", "karpenter-crd", "nvidia-device-plugin"}
    entry = _urn_of(graph, ACCESS_ENTRY, type="EC2")
    association = _urn_of(graph, POLICY_ASSOCIATION, principalArn=entry.inputs["principalArn"])
    assert association.inputs["policyArn"].endswith("/AmazonEKSAutoNodePolicy")
    [node_role_urn] = entry.property_dependencies["principalArn"]
    for pool in graph.by_type("kubernetes:karpenter.sh/v1:NodePool"):
        ref = pool.get("spec")["template"]["spec"]["nodeClassRef"]
        assert ref["group"] == "eks.amazonaws.com" and ref["kind"] == "NodeClass"
        node_class = custom_resource_named(graph, "NodeClass", ref["name"])
        assert node_role_urn in node_class.property_dependencies["spec"]
        assert node_class.get("spec")["ephemeralStorage"]["size"] == "200Gi"
    gateway = release_named(graph, "istio-ingressgateway").inputs["values"]["service"]
    assert gateway["loadBalancerClass"] == "eks.amazonaws.com/nlb"
    assert gateway["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] == (
        "internet-facing"
    )


# --- models and identity ------------------------------------------------------------


@pytest.mark.parametrize("stack", ALL)
def test_models_bucket_is_locked_down(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    block = one_of_type(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True
    encryption = one_of_type(
        graph,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    )
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    versioning = one_of_type(graph, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    ownership = one_of_type(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = json.loads(one_of_type(graph, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    [deny] = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", ALL)
def test_model_pods_read_the_bucket_through_pod_identity(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    bucket = one_of_type(graph, "aws:s3/bucket:Bucket")
    associations = [r for r in graph.by_type(POD_IDENTITY) if r.inputs["namespace"] == "models"]
    # The platform's `models` account, and `default`, which an InferenceService
    # runs as unless it names another.
    assert sorted(a.inputs["serviceAccount"] for a in associations) == ["default", "models"]
    account = custom_resource_named(graph, "ServiceAccount", "models")
    assert account.get("metadata.namespace") == "models"
    [role_urn] = {u for a in associations for u in a.property_dependencies["roleArn"]}
    role = graph.get(role_urn)
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    # Session tags pin the role to this cluster, namespace and those accounts.
    assert statement["Condition"]["StringEquals"] == {
        "aws:RequestTag/eks-cluster-name": one_of_type(graph, CLUSTER).inputs["name"],
        "aws:RequestTag/kubernetes-namespace": "models",
        "aws:RequestTag/kubernetes-service-account": ["models", "default"],
    }
    [inline] = [
        p for p in graph.by_type(ROLE_POLICY) if role_urn in p.property_dependencies["role"]
    ]
    statements = json.loads(inline.inputs["policy"])["Statement"]
    actions = {s["Action"] for s in statements}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    assert not any("Put" in a or "Delete" in a or a.endswith("*") for a in actions)
    assert bucket.urn in inline.property_dependencies["policy"]
    # The stack tells users where to put models: s3://<the bucket>/.
    assert graph.outputs["modelStorageUri"].startswith(f"s3://{bucket.name}-")


def test_every_inline_policy_fits_iams_size_limit(graphs: dict[str, ResourceGraph]) -> None:
    """IAM caps a role's inline policies at 10,240 characters together (no whitespace)."""
    for graph in graphs.values():
        sizes: dict[str, int] = {}
        for policy in graph.by_type(ROLE_POLICY):
            [role_urn] = policy.property_dependencies["role"]
            compact = json.dumps(json.loads(policy.inputs["policy"]), separators=(",", ":"))
            sizes[role_urn] = sizes.get(role_urn, 0) + len(compact)
        assert sizes and max(sizes.values()) < 10240


# --- order, protection, outputs -------------------------------------------------------


@pytest.mark.parametrize("stack", ALL)
def test_install_order_on_eks(graphs: dict[str, ResourceGraph], stack: str) -> None:
    graph = graphs[stack]
    group = one_of_type(graph, "aws:eks/nodeGroup:NodeGroup")
    addons = {r.inputs["addonName"]: r for r in graph.by_type("aws:eks/addon:Addon")}
    assert set(addons) == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
        "metrics-server",
    }
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {
        "enableNetworkPolicy": "true"
    }
    assert all(a.inputs["addonVersion"] for a in addons.values())
    assert depends_on(graph, group, addons["vpc-cni"])
    assert depends_on(graph, addons["coredns"], group)
    istiod = release_named(graph, "istiod")
    assert depends_on(graph, istiod, group)
    # The HPAs of istiod and the gateway need the metrics API before they can act.
    assert depends_on(graph, istiod, addons["metrics-server"])
    assert addons["metrics-server"].inputs["addonVersion"] == versions.EKS_ADDONS["metrics-server"]
    for policy in graph.by_type(POLICY_ASSOCIATION):
        if policy.inputs["policyArn"].endswith("AmazonEKSClusterAdminPolicy"):
            assert depends_on(graph, istiod, policy)
    # KServe still waits for cert-manager on EKS.
    assert depends_on(graph, release_named(graph, "kserve"), release_named(graph, "cert-manager"))


@pytest.mark.parametrize("stack", ALL)
def test_ingress_load_balancer_goes_before_its_subnets(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    """Destroy runs dependents first: the gateway's load balancer must not outlive them."""
    graph = graphs[stack]
    gateway = release_named(graph, "istio-ingressgateway")
    for subnet in graph.by_type(SUBNET):
        assert depends_on(graph, gateway, subnet), subnet.name
    for route in graph.by_type("aws:ec2/route:Route"):
        assert depends_on(graph, gateway, route), route.name


@pytest.mark.parametrize(("stack", "protected"), [("aws-dev", False), ("aws-prod", True)])
def test_prod_protects_cluster_keys_and_models(
    graphs: dict[str, ResourceGraph], stack: str, protected: bool
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, CLUSTER)
    assert cluster.protect is protected
    assert cluster.inputs["deletionProtection"] is protected
    keys = graph.by_type("aws:kms/key:Key")
    assert len(keys) == 2 and all(k.protect is protected for k in keys)
    bucket = one_of_type(graph, "aws:s3/bucket:Bucket")
    assert bucket.protect is protected
    assert bucket.inputs["forceDestroy"] is (not protected)


@pytest.mark.parametrize("stack", ALL)
def test_kubeconfig_is_secret_and_every_kubernetes_resource_uses_the_eks_provider(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    cluster_provider(graphs[stack])


def test_kubeconfig_authenticates_with_the_aws_cli() -> None:
    from gpuplane.components.clusters.aws import kubeconfig
    from gpuplane.engine import run_program

    seen: list[str] = []

    def program() -> None:
        kubeconfig("demo", "https://x.eks.amazonaws.com", "Q0E=", "eu-west-1").apply(seen.append)

    run_program(program, project="gpuplane", stack="t")
    config = json.loads(seen[0])
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "demo",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]
    assert config["clusters"][0]["cluster"]["server"] == "https://x.eks.amazonaws.com"


def test_bottlerocket_gpu_nodes_use_soci_their_own_plugin_and_an_image_cache(
    plan_mapping: Callable[..., ResourceGraph],
) -> None:
    config = _with_aws(
        "aws-dev", gpuNodeImage="bottlerocket", imageCacheSnapshotId="snap-0123456789abcdef0"
    )
    config["gpuplane:gpuPools"][0]["sharing"] = {"strategy": "time-slicing", "replicas": 4}
    config.pop("gpuplane:models")  # Bottlerocket cannot host the node-local model cache
    graph = plan_mapping(config, "aws-bottlerocket")
    node_class = custom_resource_named(graph, "EC2NodeClass", "gpu-l4")
    spec = node_class.inputs["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": "bottlerocket@latest"}]
    data = next(d for d in spec["blockDeviceMappings"] if d["deviceName"] == "/dev/xvdb")
    assert data["ebs"]["snapshotID"] == "snap-0123456789abcdef0"
    assert data["ebs"]["encrypted"] is True
    import tomllib

    settings = tomllib.loads(spec["userData"])["settings"]
    assert settings["container-runtime"]["snapshotter"] == "soci"
    nvidia = settings["kubelet-device-plugins"]["nvidia"]
    assert nvidia["device-sharing-strategy"] == "time-slicing"
    assert nvidia["time-slicing"]["replicas"] == 4
    # Shared GPUs stay advertised as nvidia.com/gpu, which model pods request.
    assert nvidia["time-slicing"]["rename-by-default"] is False
    assert "nvidia-device-plugin" not in {r.inputs["name"] for r in graph.by_type(RELEASE)}
    validate_custom_resource(k8s_object(node_class))


@pytest.mark.parametrize("stack", LIVE_STACKS)
def test_serving_stack_waits_for_nodes_and_dns_not_block_storage(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    istiod = release_named(graph, "istiod")
    addons = {a.inputs["addonName"]: a for a in graph.by_type("aws:eks/addon:Addon")}
    assert depends_on(graph, istiod, one_of_type(graph, "aws:eks/nodeGroup:NodeGroup"))
    assert depends_on(graph, istiod, addons["coredns"])
    assert depends_on(graph, istiod, addons["vpc-cni"])
    # The serving stack mounts no volumes: the EBS CSI add-on comes up beside it.
    assert not depends_on(graph, istiod, addons["aws-ebs-csi-driver"])


@pytest.mark.parametrize("stack", LIVE_STACKS)
def test_nodes_not_the_control_plane_wait_for_nat_egress(
    graphs: dict[str, ResourceGraph], stack: str
) -> None:
    graph = graphs[stack]
    cluster = one_of_type(graph, "aws:eks/cluster:Cluster")
    node_group = one_of_type(graph, "aws:eks/nodeGroup:NodeGroup")
    nat_routes = [r for r in graph.by_type("aws:ec2/route:Route") if "natGatewayId" in r.inputs]
    assert nat_routes
    for route in nat_routes:
        # Nodes pull images and join through NAT; the control plane needs no VPC egress.
        assert route.urn in node_group.dependencies
        assert not depends_on(graph, cluster, route)
