"""Jobs (components/jobs): config rules, the example stacks, upstream schemas, quotas,
and per cloud the chain bucket -> notification -> queue -> ScaledJob -> identity."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpuplane import engine
from gpuplane.components import gpus
from gpuplane.graph import Resource, ResourceGraph
from gpuplane.stacks import Project, load_stack
from tests.helpers import (
    AWS,
    AWS_LOCATION,
    EXISTING,
    config_problems,
    k8s_object,
    kubernetes_objects,
    one_of_type,
    release_named,
)
from tests.upstream import UPSTREAM, releases_missing_upstream, validate_custom_resource

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "jobs"
CLOUDS = ("aws", "gcp", "azure", "local")
SCALED_JOB = "kubernetes:keda.sh/v1alpha1:ScaledJob"
TRIGGER_AUTH = "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"
CLUSTER_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"
FLAVOR = "kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor"
GPU = "nvidia.com/gpu"
PROJECT = "my-gpuplane-project"  # gcp:project in examples/jobs/Pulumi.gcp-jobs.yaml


@pytest.fixture(scope="module")
def graphs(project: Project) -> dict[str, ResourceGraph]:
    return {
        cloud: engine.plan(load_stack(project, path=EXAMPLES / f"Pulumi.{cloud}-jobs.yaml"))
        for cloud in CLOUDS
    }


def example(cloud: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"Pulumi.{cloud}-jobs.yaml").read_text())["config"]


def scaled_job(graph: ResourceGraph, name: str) -> Resource:
    [found] = [r for r in graph.by_type(SCALED_JOB) if r.get("metadata.name") == name]
    return found


def named(graph: ResourceGraph, type_: str, name: str) -> Resource:
    [found] = [r for r in graph.by_type(type_) if r.name == name]
    return found


# --- config ------------------------------------------------------------------


POOL = {"name": "l4", "instanceTypes": ["g6.xlarge"], "maxNodes": 2}


def aws_with(jobs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**AWS, "gpuPools": [POOL], "jobs": jobs, **extra}


def job(**overrides: Any) -> dict[str, Any]:
    base = {
        "name": "ft",
        "image": "nvcr.io/nvidia/pytorch:25.08-py3",
        "pool": "l4",
        "trigger": {"schedule": {"cron": "0 2 * * *"}},
    }
    return {**base, **overrides}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            aws_with([job(pool="a100")]),
            "gpuplane:jobs[0].pool: no GPU pool named 'a100'; pools: l4",
        ),
        (
            aws_with([job()], jobQueue={"gpuQuota": {"l4": 3}}),
            "gpuplane:jobQueue.gpuQuota.l4: 3 is over what the pool can create (maxNodes x GPUs "
            "per node = 2); at most 2",
        ),
        (
            aws_with([job(trigger={"schedule": {"cron": "0 25 * * *"}})]),
            "gpuplane:jobs[0].trigger.schedule.cron: hour '25' is outside 0-23",
        ),
        (
            aws_with([job(image="nvcr.io/nvidia/pytorch")]),
            "gpuplane:jobs[0].image: 'nvcr.io/nvidia/pytorch' has no tag or digest",
        ),
        (
            aws_with([job(image="nvcr.io/nvidia/pytorch:latest")]),
            "uses the moving tag latest",
        ),
        (aws_with([job(gpus=3)]), "gpuplane:jobs[0].gpus: 3 is over the queue's quota for pool"),
        (
            aws_with([job(trigger={"schedule": {"cron": "@daily"}, "bucket": {}})]),
            "gpuplane:jobs[0].trigger: exactly one of bucket, queue or schedule, given bucket, "
            "schedule",
        ),
        (
            aws_with([job(trigger={"queue": {"type": "pubsub", "subscription": "projects/p"}})]),
            "gpuplane:jobs[0].trigger.queue.type: pubsub is read with gcp's workload identity; "
            "on gpuplane:cloud aws allowed: sqs, kafka",
        ),
        (
            aws_with([job(trigger={"queue": {"type": "sqs"}})]),
            "gpuplane:jobs[0].trigger.queue.url: required for type sqs",
        ),
        (aws_with([job(), job()]), "gpuplane:jobs[1].name: 'ft' is used by another job"),
        (
            aws_with([job(pool=None, gpus=1)]),
            "gpuplane:jobs[0].gpus: needs a GPU pool",
        ),
        (
            {**EXISTING, "jobs": [job(pool=None, trigger={"bucket": {"prefix": "in/"}})]},
            "gpuplane:jobs[0].trigger.bucket: bucket events need the cloud's storage",
        ),
        (
            {
                **EXISTING,
                "gpuPools": [{"name": "gpu", "labels": {"nvidia.com/gpu.present": "true"}}],
                "jobs": [job(pool="gpu")],
            },
            "gpuplane:jobs[0].pool: the capacity of 'gpu' is managed outside gpuplane; set "
            "gpuplane:jobQueue.gpuQuota.gpu",
        ),
        (aws_with([job(gpu=1)]), "gpuplane:jobs[0].gpu: unknown key (did you mean 'gpus'?)"),
    ],
)
def test_bad_jobs_config_names_the_key_path(raw: dict[str, Any], expected: str) -> None:
    location = AWS_LOCATION if raw["cloud"] == "aws" else None
    problems = config_problems(raw, location)
    assert any(expected in p for p in problems), problems


def test_shipped_stacks_install_no_jobs(stack_graphs: dict[str, ResourceGraph]) -> None:
    for name, graph in stack_graphs.items():
        releases = {r.inputs["name"] for r in graph.by_type("kubernetes:helm.sh/v3:Release")}
        assert not releases & {"keda", "kueue"}, name
        assert not [r for r in graph if r.type.startswith("gpuplane:jobs:")], name


# --- upstream oracle -----------------------------------------------------------


@pytest.mark.parametrize("cloud", CLOUDS)
def test_jobs_objects_fit_their_upstream_crds(graphs: dict[str, ResourceGraph], cloud: str) -> None:
    if not UPSTREAM.is_dir():
        pytest.skip("../shared/upstream is absent")
    checked = set()
    for resource in kubernetes_objects(graphs[cloud]):
        group = resource.type.split(":")[1].split("/")[0]
        if group in ("keda.sh", "kueue.x-k8s.io", "monitoring.coreos.com"):
            obj = k8s_object(resource)
            if (
                group == "monitoring.coreos.com"
                and not (UPSTREAM / "crds" / group / f"{obj['kind']}_v1.json").is_file()
            ):
                continue
            validate_custom_resource(obj)
            checked.add(obj["kind"])
    assert {"ScaledJob", "ResourceFlavor", "ClusterQueue", "LocalQueue"} <= checked
    assert releases_missing_upstream(graphs[cloud]) == {}


def test_keda_monitor_matches_the_rendered_metrics_service(
    graphs: dict[str, ResourceGraph],
) -> None:
    rendered = UPSTREAM / "rendered" / "defaults" / "keda" / "2.20.2.yaml"
    if not rendered.is_file():
        pytest.skip("../shared/upstream/rendered is absent")
    services = [
        o for o in yaml.safe_load_all(rendered.read_text()) if o and o.get("kind") == "Service"
    ]
    monitor = next(
        r
        for r in graphs["aws"].by_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if r.get("metadata.name") == "keda-metrics-server"
    )
    selector = monitor.get("spec.selector.matchLabels")
    port = monitor.get("spec.endpoints")[0]["port"]
    matching = [
        s for s in services if selector.items() <= (s["metadata"].get("labels") or {}).items()
    ]
    assert len(matching) == 1
    assert port in {p["name"] for p in matching[0]["spec"]["ports"]}
    rule = next(
        r
        for r in graphs["aws"].by_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
        if r.get("metadata.name") == "keda"
    )
    expr = rule.get("spec.groups")[0]["rules"][0]["expr"]
    assert f'job="{matching[0]["metadata"]["name"]}"' in expr


def _rendered_api_ports(chart: str, version: str) -> set[int]:
    """The node ports the API server calls for a chart's APIServices and webhooks."""
    objects = [
        o
        for o in yaml.safe_load_all(
            (UPSTREAM / "rendered" / "defaults" / chart / f"{version}.yaml").read_text()
        )
        if o
    ]
    services = {(o["metadata"]["name"]): o for o in objects if o["kind"] == "Service"}
    refs = [o["spec"]["service"] for o in objects if o["kind"] == "APIService"]
    for o in objects:
        if o["kind"] in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            refs.extend(w["clientConfig"]["service"] for w in o["webhooks"])
    ports = set()
    for ref in refs:
        for port in services[ref["name"]]["spec"]["ports"]:
            if port["port"] == ref.get("port", 443):
                ports.add(int(port["targetPort"]))
    return ports


def test_control_plane_reaches_keda_and_kueue(graphs: dict[str, ResourceGraph]) -> None:
    if not (UPSTREAM / "rendered").is_dir():
        pytest.skip("../shared/upstream/rendered is absent")
    needed = _rendered_api_ports("keda", "2.20.2") | _rendered_api_ports("kueue", "0.19.2")
    assert {6443, 8082} <= needed  # KEDA's external metrics, Kueue's visibility API
    eks = {
        int(r.inputs["fromPort"])
        for r in graphs["aws"].by_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.endswith("-from-api")
    }
    assert needed <= eks
    [firewall] = [
        r for r in graphs["gcp"].by_type("gcp:compute/firewall:Firewall") if "webhooks" in r.name
    ]
    assert needed <= {int(p) for a in firewall.inputs["allows"] for p in a["ports"]}


# --- Kueue ---------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ("aws", "gcp", "azure"))
def test_gpu_quota_is_what_each_pool_can_create(
    graphs: dict[str, ResourceGraph], cloud: str
) -> None:
    config = example(cloud)
    queue = one_of_type(graphs[cloud], CLUSTER_QUEUE)
    [gpu_group] = [g for g in queue.get("spec.resourceGroups") if GPU in g["coveredResources"]]
    quotas = {f["name"]: f["resources"][0]["nominalQuota"] for f in gpu_group["flavors"]}
    for pool in config["gpuplane:gpuPools"]:
        per_node = max(gpus.implied_gpu(cloud, t).count for t in pool["instanceTypes"])
        assert quotas[f"gpu-{pool['name']}"] == pool["maxNodes"] * per_node


def test_existing_cluster_quota_is_the_configured_one(graphs: dict[str, ResourceGraph]) -> None:
    queue = one_of_type(graphs["local"], CLUSTER_QUEUE)
    [gpu_group] = [g for g in queue.get("spec.resourceGroups") if GPU in g["coveredResources"]]
    assert gpu_group["flavors"] == [
        {"name": "gpu-gpu", "resources": [{"name": GPU, "nominalQuota": 1}]}
    ]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_jobs_run_on_their_pool_admitted_by_kueue(
    graphs: dict[str, ResourceGraph], cloud: str
) -> None:
    graph = graphs[cloud]
    config = example(cloud)
    flavors = {r.get("metadata.name"): r.get("spec") for r in graph.by_type(FLAVOR)}
    local = one_of_type(graph, "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue")
    assert local.get("metadata.namespace") == "training"
    for spec_job in config["gpuplane:jobs"]:
        workloads = [
            r
            for r in graph
            if r.type in (SCALED_JOB, "kubernetes:batch/v1:CronJob")
            and r.get("metadata.name") == spec_job["name"]
        ]
        [workload] = workloads
        if workload.type == SCALED_JOB:
            job_spec = workload.get("spec.jobTargetRef")
        else:
            assert workload.get("spec.schedule") == spec_job["trigger"]["schedule"]["cron"]
            job_spec = workload.get("spec.jobTemplate.spec")
        pod = job_spec["template"]["spec"]
        assert pod["serviceAccountName"] == "training"
        assert workload.get("metadata.namespace") == "training"
        assert job_spec["template"]["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == (
            local.get("metadata.name")
        )
        assert pod["priorityClassName"] == f"gpuplane-{spec_job.get('kind', 'training')}"
        pool = spec_job.get("pool")
        if pool is None:
            assert "nodeSelector" not in pod
            continue
        flavor = flavors[f"gpu-{pool}"]
        assert pod["nodeSelector"] == flavor["nodeLabels"]
        for taint in flavor["nodeTaints"]:
            assert any(
                t["key"] == taint["key"] and t["effect"] == taint["effect"]
                for t in pod["tolerations"]
            )
        [container] = pod["containers"]
        assert container["resources"]["limits"][GPU] == str(spec_job.get("gpus", 1))


def test_serving_outranks_jobs_and_is_never_queued(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["aws"]
    classes = {
        r.get("metadata.name"): r.inputs
        for r in graph.by_type("kubernetes:scheduling.k8s.io/v1:PriorityClass")
    }
    assert classes["gpuplane-serving"]["globalDefault"] is True
    assert classes["gpuplane-serving"]["value"] > classes["gpuplane-training"]["value"]
    assert classes["gpuplane-training"]["value"] > classes["gpuplane-batch"]["value"]
    assert classes["gpuplane-batch"]["preemptionPolicy"] == "Never"
    queue = one_of_type(graph, CLUSTER_QUEUE)
    [selector] = queue.get("spec.namespaceSelector.matchExpressions")
    assert selector["values"] == ["training"]
    config = yaml.safe_load(
        release_named(graph, "kueue").inputs["values"]["managerConfig"][
            "controllerManagerConfigYaml"
        ]
    )
    assert config["managedJobsNamespaceSelector"]["matchExpressions"][0]["values"] == ["training"]
    assert config["integrations"]["frameworks"] == ["batch/job"]


# --- per cloud: bucket -> notification -> queue -> ScaledJob -> identity ----------


def _policy(resource: Resource) -> dict[str, Any]:
    return json.loads(resource.inputs["policy"])


def test_aws_chain(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["aws"]
    prefix = next(j for j in example("aws")["gpuplane:jobs"] if j["name"] == "finetune")["trigger"][
        "bucket"
    ]["prefix"]
    rule = named(graph, "aws:cloudwatch/eventRule:EventRule", "gpuplane-dev-jobs-finetune")
    pattern = json.loads(rule.inputs["eventPattern"])
    [data] = [r for r in graph.by_type("aws:s3/bucket:Bucket") if r.name.endswith("-jobs-data")]
    notification = one_of_type(graph, "aws:s3/bucketNotification:BucketNotification")
    assert notification.inputs["eventbridge"] is True
    assert data.urn in notification.property_dependencies["bucket"]
    assert data.urn in rule.property_dependencies["eventPattern"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": prefix}]
    target = named(graph, "aws:cloudwatch/eventTarget:EventTarget", "gpuplane-dev-jobs-finetune")
    [queue_urn] = target.property_dependencies["arn"]
    queue = graph.get(queue_urn)
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert "deadLetterTargetArn" in json.loads(queue.inputs["redrivePolicy"])
    job = scaled_job(graph, "finetune")
    [trigger] = job.get("spec.triggers")
    assert trigger["type"] == "aws-sqs-queue"
    queue_name = target.inputs["arn"].rsplit(":", 1)[1]
    assert trigger["metadata"]["queueURL"].endswith(f"/{queue_name}")
    assert queue_urn in job.property_dependencies["spec"]
    auth = one_of_type(graph, TRIGGER_AUTH)
    assert trigger["authenticationRef"]["name"] == auth.get("metadata.name")
    assert auth.get("spec.podIdentity.provider") == "aws"
    role_arn = auth.get("spec.podIdentity.roleArn")
    # Only the role the TriggerAuthentication names, and the training role, may touch
    # the queue; the scaler only reads its depth.
    readers = {}
    for policy in graph.by_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in _policy(policy)["Statement"]:
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            if target.inputs["arn"] in resources:
                readers[policy.name] = statement["Action"]
    assert readers == {
        "gpuplane-dev-jobs-keda-scaler-queue-depth": "sqs:GetQueueAttributes",
        "gpuplane-dev-jobs-training-training": [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
    }
    scaler_role = named(graph, "aws:iam/role:Role", "gpuplane-dev-jobs-keda-scaler")
    assert role_arn.split("/")[-1].startswith("gpuplane-dev-jobs-keda-scaler")
    keda_role = named(graph, "aws:iam/role:Role", "gpuplane-dev-jobs-keda")
    trust = json.loads(scaler_role.inputs["assumeRolePolicy"])
    assert keda_role.urn in scaler_role.property_dependencies["assumeRolePolicy"]
    assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
    association = named(
        graph, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "gpuplane-dev-jobs-keda"
    )
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        "keda",
        "keda-operator",
    )
    queue_policy = named(graph, "aws:sqs/queuePolicy:QueuePolicy", "gpuplane-dev-jobs-finetune")
    allow = [s for s in _policy(queue_policy)["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allow] == [{"Service": "events.amazonaws.com"}]
    assert rule.urn in queue_policy.property_dependencies["policy"]


def test_aws_training_writes_models_and_serving_cannot(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["aws"]
    prefix = example("aws")["gpuplane:jobQueue"]["modelsPrefix"]
    [models] = [r for r in graph.by_type("aws:s3/bucket:Bucket") if r.name.endswith("-models")]

    def writes(policy: Resource) -> list[str]:
        return [
            r
            for s in _policy(policy)["Statement"]
            if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        ]

    training = named(graph, "aws:iam/rolePolicy:RolePolicy", "gpuplane-dev-jobs-training-training")
    [written] = writes(training)
    assert (
        written.endswith(f"/{prefix}*") and models.urn in training.property_dependencies["policy"]
    )
    assert written.startswith("arn:aws:s3:::")
    reader = named(graph, "aws:iam/rolePolicy:RolePolicy", "gpuplane-dev-models-reader-read-models")
    assert writes(reader) == []


def test_gcp_chain(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["gcp"]
    notification = one_of_type(graph, "gcp:storage/notification:Notification")
    assert notification.inputs["eventTypes"] == ["OBJECT_FINALIZE"]
    assert notification.inputs["objectNamePrefix"] == "uploads/"
    [data] = [
        r for r in graph.by_type("gcp:storage/bucket:Bucket") if r.name.endswith("-jobs-data")
    ]
    assert data.urn in notification.property_dependencies["bucket"]
    assert data.inputs["publicAccessPrevention"] == "enforced"
    [topic_urn] = notification.property_dependencies["topic"]
    subscription = one_of_type(graph, "gcp:pubsub/subscription:Subscription")
    assert subscription.property_dependencies["topic"] == (topic_urn,)
    assert subscription.inputs["deadLetterPolicy"]["maxDeliveryAttempts"] >= 5
    job = scaled_job(graph, "finetune")
    [trigger] = job.get("spec.triggers")
    assert trigger["type"] == "gcp-pubsub"
    assert subscription.urn in job.property_dependencies["spec"]
    auth = one_of_type(graph, TRIGGER_AUTH)
    assert auth.get("spec.podIdentity") == {"provider": "gcp"}
    keda_values = release_named(graph, "keda").inputs["values"]["podIdentity"]["gcp"]
    keda_sa = named(graph, "gcp:serviceaccount/account:Account", "gpuplane-dev-jobs-keda")
    assert keda_values == {
        "enabled": True,
        "gcpIAMServiceAccount": f"{keda_sa.inputs['accountId']}@{PROJECT}.iam.gserviceaccount.com",
    }
    binding = named(
        graph, "gcp:serviceaccount/iAMMember:IAMMember", "gpuplane-dev-jobs-keda-workload-identity"
    )
    assert binding.inputs["member"].endswith("[keda/keda-operator]")
    # Who may consume the subscription: the training identity, and Pub/Sub's own agent
    # (which moves dead letters); nobody else.
    members = {
        r.inputs["member"]
        for r in graph.by_type("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember")
    }
    training = named(graph, "gcp:serviceaccount/account:Account", "gpuplane-dev-jobs-training")
    assert members == {
        f"serviceAccount:{training.inputs['accountId']}@{PROJECT}.iam.gserviceaccount.com",
        "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com",
    }


def test_gcp_training_writes_models_under_its_prefix(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["gcp"]
    roles = {
        r.name: r
        for r in graph.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if "models" in r.name
    }
    write = roles["gpuplane-dev-jobs-training-models-write"]
    assert write.inputs["role"] == "roles/storage.objectCreator"
    assert write.inputs["condition"]["expression"].endswith('/objects/trained/")')
    serving = [r for n, r in roles.items() if "jobs-training" not in n]
    assert serving and {r.inputs["role"] for r in serving} == {"roles/storage.objectViewer"}
    assert all("condition" not in r.inputs for r in serving)


def test_azure_chain(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["azure"]
    subscription = one_of_type(graph, "azure-native:eventgrid:SystemTopicEventSubscription")
    destination = subscription.inputs["deliveryWithResourceIdentity"]["destination"]
    assert subscription.inputs["filter"]["subjectBeginsWith"] == (
        "/blobServices/default/containers/data/blobs/uploads/"
    )
    assert (
        subscription.inputs["deadLetterWithResourceIdentity"]["deadLetterDestination"][
            "blobContainerName"
        ]
        == "deadletter"
    )
    queue = one_of_type(graph, "azure-native:storage:Queue")
    assert destination["queueName"] == queue.inputs["queueName"]
    topic = one_of_type(graph, "azure-native:eventgrid:SystemTopic")
    [account] = [
        r
        for r in graph.by_type("azure-native:storage:StorageAccount")
        if r.name.endswith("-models")
    ]
    assert account.urn in topic.property_dependencies["source"]
    job = scaled_job(graph, "finetune")
    [trigger] = job.get("spec.triggers")
    assert trigger["type"] == "azure-queue"
    assert trigger["metadata"]["queueName"] == queue.inputs["queueName"]
    auth = one_of_type(graph, TRIGGER_AUTH)
    assert auth.get("spec.podIdentity.provider") == "azure-workload"
    keda = named(
        graph, "azure-native:managedidentity:UserAssignedIdentity", "gpuplane-dev-jobs-keda"
    )
    assert keda.urn in auth.property_dependencies["spec"]
    credential = named(
        graph,
        "azure-native:managedidentity:FederatedIdentityCredential",
        "gpuplane-dev-jobs-keda-keda-operator",
    )
    assert credential.inputs["subject"] == "system:serviceaccount:keda:keda-operator"
    on_queue = {
        r.name: r.inputs["description"]
        for r in graph.by_type("azure-native:authorization:RoleAssignment")
        if queue.urn in r.property_dependencies.get("scope", ())
    }
    assert on_queue == {
        "gpuplane-dev-jobs-finetune-events": "gpuplane: Storage Queue Data Message Sender",
        "gpuplane-dev-jobs-finetune-keda": "gpuplane: Storage Queue Data Reader",
        "gpuplane-dev-jobs-finetune-training": "gpuplane: Storage Queue Data Message Processor",
    }


def test_azure_training_writes_models_only_under_its_prefix(
    graphs: dict[str, ResourceGraph],
) -> None:
    graph = graphs["azure"]
    grant = named(
        graph, "azure-native:authorization:RoleAssignment", "gpuplane-dev-jobs-training-models"
    )
    assert grant.inputs["description"] == "gpuplane: Storage Blob Data Contributor"
    assert "StringStartsWith 'trained/'" in grant.inputs["condition"]
    assert grant.inputs["conditionVersion"] == "2.0"
    reader = named(graph, "azure-native:authorization:RoleAssignment", "gpuplane-dev-models-reader")
    assert reader.inputs["description"] == "gpuplane: Storage Blob Data Reader"


def test_kind_runs_schedule_and_kafka_without_credentials(graphs: dict[str, ResourceGraph]) -> None:
    graph = graphs["local"]
    assert graph.by_type(TRIGGER_AUTH) == []
    job = scaled_job(graph, "preprocess")
    [trigger] = job.get("spec.triggers")
    assert trigger["type"] == "kafka" and "authenticationRef" not in trigger
    assert trigger["metadata"]["lagThreshold"] == "10"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_example_stacks_pass_every_policy(graphs: dict[str, ResourceGraph], cloud: str) -> None:
    from gpuplane.check import PackConfig, check

    result = check(graphs[cloud], PackConfig())
    # Their placeholders (example account, CIDRs, group id) are the dev advisory
    # GP-STACK-003 by design; nothing else may fire.
    found = [v for v in result.violations if v.id not in ("GP-STACK-002", "GP-STACK-003")]
    assert found == [], [(v.id, v.message) for v in found]


EXPECTED_USAGE_BILLED = {
    "aws": {"aws:s3/bucket:Bucket": 1, "aws:sqs/queue:Queue": 2},
    "gcp": {"gcp:storage/bucket:Bucket": 1, "gcp:pubsub/topic:Topic": 2},
    "azure": {"azure-native:storage:Queue": 1, "azure-native:eventgrid:SystemTopic": 1},
}


@pytest.mark.parametrize("cloud", ("aws", "gcp", "azure"))
def test_jobs_cost_nothing_beyond_their_pools_and_list_what_bills_by_use(
    graphs: dict[str, ResourceGraph], stack_graphs: dict[str, ResourceGraph], cloud: str
) -> None:
    from gpuplane.cost import cost

    with_jobs, without = cost(graphs[cloud]), cost(stack_graphs[f"{cloud}-dev"])
    jobs_items = [i for i in with_jobs.items if "gpuplane:jobs:JobsStack" in i.urn]
    rest = [i for i in with_jobs.items if i not in jobs_items]
    # The same cluster and pools: the GPU peak of jobs is the pools' peak, counted once.
    assert sum(i.peak_hourly for i in rest) == pytest.approx(without.peak_hourly)
    assert sum(i.idle_hourly for i in rest) == pytest.approx(without.idle_hourly)
    priced = {i.type for i in jobs_items if i.peak_hourly}
    assert priced <= {"aws:kms/key:Key"}  # the data bucket's own key, on AWS
    names = {i.name for i in jobs_items if i.type.endswith(("ScaledJob", "CronJob"))}
    assert names == {"gpuplane-dev-jobs-finetune", "gpuplane-dev-jobs-nightly-inference"}
    listed: dict[str, int] = {}
    for entry in with_jobs.unpriced:
        if "gpuplane:jobs:JobsStack" in entry.urn:
            listed[entry.type] = listed.get(entry.type, 0) + 1
    for type_, count in EXPECTED_USAGE_BILLED[cloud].items():
        assert listed.get(type_) == count, (type_, listed)


def test_every_job_setting_reaches_its_resource(plan_mapping: Any) -> None:
    graph = plan_mapping(
        {
            "gpuplane:cloud": "existing",
            "gpuplane:existing": {"context": "kind-x"},
            "gpuplane:gpuPools": [
                {"name": "gpu", "labels": {"example.com/gpu": "yes"}, "acceleratorCount": 2}
            ],
            "gpuplane:jobs": [
                {
                    "name": "tune",
                    "image": "nvcr.io/nvidia/pytorch:25.08-py3",
                    "command": ["python", "-m", "tune"],
                    "args": ["--epochs", "3"],
                    "env": {"EPOCHS": "3"},
                    "pool": "gpu",
                    "gpus": 2,
                    "cpu": "3",
                    "memory": "12Gi",
                    "maxParallelism": 4,
                    "timeout": "1h30m",
                    "retries": 3,
                    "runAsRoot": True,
                    "trigger": {
                        "queue": {
                            "type": "kafka",
                            "bootstrapServers": ["a:9092", "b:9092"],
                            "topic": "t",
                            "consumerGroup": "g",
                        }
                    },
                },
                {
                    "name": "nightly",
                    "image": "nvcr.io/nvidia/pytorch:25.08-py3",
                    "kind": "batch",
                    "trigger": {"schedule": {"cron": "30 1 * * 1-5", "timeZone": "Europe/Paris"}},
                },
            ],
            "gpuplane:jobQueue": {"gpuQuota": {"gpu": 6}, "cpuQuota": 20, "memoryQuotaGi": 80},
        }
    )
    tune = scaled_job(graph, "tune")
    assert tune.get("spec.maxReplicaCount") == 4
    job_spec = tune.get("spec.jobTargetRef")
    assert (job_spec["activeDeadlineSeconds"], job_spec["backoffLimit"]) == (5400, 3)
    pod = job_spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "tune"] and container["args"] == [
        "--epochs",
        "3",
    ]
    assert {"name": "EPOCHS", "value": "3"} in container["env"]
    assert container["resources"] == {
        "requests": {"cpu": "3", "memory": "12Gi", GPU: "2"},
        "limits": {"memory": "12Gi", GPU: "2"},
    }
    assert "runAsNonRoot" not in pod["securityContext"]
    assert pod["nodeSelector"] == {"example.com/gpu": "yes"}
    [trigger] = tune.get("spec.triggers")
    assert trigger["metadata"] == {
        "bootstrapServers": "a:9092,b:9092",
        "consumerGroup": "g",
        "topic": "t",
        "lagThreshold": "1",
    }
    nightly = one_of_type(graph, "kubernetes:batch/v1:CronJob")
    assert (nightly.get("spec.schedule"), nightly.get("spec.timeZone")) == (
        "30 1 * * 1-5",
        "Europe/Paris",
    )
    nightly_pod = nightly.get("spec.jobTemplate.spec.template.spec")
    assert nightly_pod["priorityClassName"] == "gpuplane-batch"
    assert nightly_pod["securityContext"]["runAsNonRoot"] is True
    groups = one_of_type(graph, CLUSTER_QUEUE).get("spec.resourceGroups")
    assert groups[0]["flavors"][0]["resources"] == [
        {"name": "cpu", "nominalQuota": 20},
        {"name": "memory", "nominalQuota": "80Gi"},
    ]
    assert groups[1]["flavors"][0]["resources"] == [{"name": GPU, "nominalQuota": 6}]


def test_an_existing_sqs_queue_and_the_models_prefix_reach_aws(plan_mapping: Any) -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/210987654321/uploads"
    graph = plan_mapping(
        {
            **{f"gpuplane:{k}": v for k, v in AWS.items()},
            **AWS_LOCATION,
            "gpuplane:gpuPools": [POOL],
            "gpuplane:jobs": [
                job(trigger={"queue": {"type": "sqs", "url": url, "messagesPerJob": 5}})
            ],
            "gpuplane:jobQueue": {"modelsPrefix": "runs/finetune/"},
        }
    )
    [trigger] = scaled_job(graph, "ft").get("spec.triggers")
    assert trigger["metadata"] == {"queueURL": url, "awsRegion": "eu-west-1", "queueLength": "5"}
    arn = "arn:aws:sqs:eu-west-1:210987654321:uploads"
    depth = named(graph, "aws:iam/rolePolicy:RolePolicy", "gpuplane-jobs-keda-scaler-queue-depth")
    assert _policy(depth)["Statement"][0]["Resource"] == [arn]
    training = _policy(
        named(graph, "aws:iam/rolePolicy:RolePolicy", "gpuplane-jobs-training-training")
    )
    by_sid = {s["Sid"]: s for s in training["Statement"]}
    assert by_sid["ConsumeTriggerQueues"]["Resource"] == [arn]
    assert by_sid["WriteModelsPrefix"]["Resource"].endswith("/runs/finetune/*")
    assert by_sid["ListModelsPrefix"]["Condition"] == {
        "StringLike": {"s3:prefix": "runs/finetune/*"}
    }
    env = scaled_job(graph, "ft").get("spec.jobTargetRef.template.spec.containers")[0]["env"]
    assert {"name": "GPUPLANE_QUEUE", "value": url} in env
    models_uri = next(e["value"] for e in env if e["name"] == "GPUPLANE_MODELS_URI")
    assert models_uri.startswith("s3://") and models_uri.endswith("/runs/finetune/")
