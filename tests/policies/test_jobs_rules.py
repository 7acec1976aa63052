"""Rules for what jobs add (queues, topics, Event Grid, KEDA auth, job namespaces): one
violating and one compliant case each, and a mutation of a shipped stack per rule."""

import dataclasses
import json
from typing import Any

import pytest

from tests.policies.harness import Mutation, add_resource, messages, set_input

SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
TOPIC_MEMBER = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUBSCRIPTION_BINDING = "gcp:pubsub/subscriptionIAMBinding:SubscriptionIAMBinding"
EVENT_SUBSCRIPTION = "azure-native:eventgrid:SystemTopicEventSubscription"
TRIGGER_AUTH = "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"
NAMESPACE = "kubernetes:core/v1:Namespace"
LOCAL_QUEUE = "kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue"
CRON_JOB = "kubernetes:batch/v1:CronJob"

S3_PATTERN = json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"]})
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:q"
URN = "urn:pulumi:t::gpuplane::{}::{}"


def queue_policy(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Send",
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
    }
    if condition:
        statement["Condition"] = condition
    return {"queueUrl": "q", "policy": json.dumps({"Statement": [statement]})}


def event_subscription(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventSubscriptionName": "finetune",
        "deliveryWithResourceIdentity": {
            "identity": {"type": "SystemAssigned"},
            "destination": {"endpointType": "StorageQueue", "queueName": "finetune"},
        },
        "deadLetterWithResourceIdentity": {
            "identity": {"type": "SystemAssigned"},
            "deadLetterDestination": {"endpointType": "StorageBlob", "blobContainerName": "dl"},
        },
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def trigger_auth(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "auth", "namespace": "training"}, "spec": spec}


def namespace(name: str, level: str | None) -> tuple[str, str, dict[str, Any]]:
    labels = {"pod-security.kubernetes.io/enforce": level} if level else {}
    return NAMESPACE, name, {"metadata": {"name": name, "labels": labels}}


def local_queue(ns: str) -> tuple[str, str, dict[str, Any]]:
    return LOCAL_QUEUE, "lq", {"metadata": {"name": "default", "namespace": ns}, "spec": {}}


@pytest.mark.parametrize(
    ("rule", "bad", "good", "fragment"),
    [
        (
            "GP-AWS-017",
            (SQS_QUEUE, {"sqsManagedSseEnabled": False}),
            (SQS_QUEUE, {"sqsManagedSseEnabled": False, "kmsMasterKeyId": "alias/k"}),
            "messages are stored unencrypted",
        ),
        (
            "GP-AWS-018",
            (SQS_POLICY, queue_policy({"AWS": "*"})),
            (
                SQS_POLICY,
                queue_policy("*", {"ArnEquals": {"aws:SourceArn": "arn:aws:events:r"}}),
            ),
            "statement Send lets anyone sqs:SendMessage with no condition",
        ),
        (
            "GP-GCP-016",
            (SUBSCRIPTION, {"topic": "t"}),
            (SUBSCRIPTION, {"topic": "t", "deadLetterPolicy": {"deadLetterTopic": "d"}}),
            "no deadLetterPolicy",
        ),
        (
            "GP-GCP-017",
            (TOPIC_MEMBER, {"topic": "t", "role": "roles/pubsub.publisher", "member": "allUsers"}),
            (
                TOPIC_MEMBER,
                {"topic": "t", "role": "roles/pubsub.publisher", "member": "serviceAccount:a@b"},
            ),
            "roles/pubsub.publisher is granted to allUsers",
        ),
        (
            "GP-AZ-016",
            (EVENT_SUBSCRIPTION, event_subscription(deadLetterWithResourceIdentity=None)),
            (EVENT_SUBSCRIPTION, event_subscription()),
            "no dead-letter destination",
        ),
        (
            "GP-K8S-019",
            (TRIGGER_AUTH, trigger_auth({"secretTargetRef": [{"parameter": "k", "name": "s"}]})),
            (TRIGGER_AUTH, trigger_auth({"podIdentity": {"provider": "azure-workload"}})),
            "spec.secretTargetRef gives the scaler a static credential",
        ),
    ],
)
def test_resource_rules(rule: str, bad: Any, good: Any, fragment: str) -> None:
    found = messages(rule, bad)
    assert found and all(m.startswith(f"[{rule}] ") for m in found)
    assert any(fragment in m for m in found), found
    assert messages(rule, good) == []


def test_public_binding_members_are_refused_too() -> None:
    binding = {"subscription": "s", "role": "roles/pubsub.subscriber", "members": ["allUsers"]}
    assert messages("GP-GCP-017", (SUBSCRIPTION_BINDING, binding)) == [
        "[GP-GCP-017] roles/pubsub.subscriber is granted to allUsers"
    ]


def test_key_delivery_is_refused_even_with_a_dead_letter() -> None:
    keyed = event_subscription(
        deliveryWithResourceIdentity=None, destination={"endpointType": "StorageQueue"}
    )
    [message] = messages("GP-AZ-016", (EVENT_SUBSCRIPTION, keyed))
    assert "not a managed identity" in message


def test_keda_auth_needs_a_workload_identity_provider() -> None:
    assert messages(
        "GP-K8S-019", (TRIGGER_AUTH, trigger_auth({"podIdentity": {"provider": "none"}}))
    )
    assert messages("GP-K8S-019", (TRIGGER_AUTH, trigger_auth({}))) == [
        "[GP-K8S-019] spec.podIdentity.provider is unset; allowed: aws, aws-eks, gcp, "
        "azure-workload"
    ]


def test_jobs_namespace_not_privileged() -> None:
    bad = messages("GP-K8S-020", namespace("training", "privileged"), local_queue("training"))
    assert bad == [
        "[GP-K8S-020] jobs run in namespace training, which enforces privileged Pod Security"
    ]
    assert messages("GP-K8S-020", namespace("training", "baseline"), local_queue("training")) == []
    # A privileged namespace with no jobs is another rule's business.
    assert messages("GP-K8S-020", namespace("monitoring", "privileged")) == []


def _s3_chain(*, dead_letter: bool, redrive: bool) -> list[tuple[str, str, dict[str, Any]]]:
    queue: dict[str, Any] = {"sqsManagedSseEnabled": True}
    if redrive:
        queue["redrivePolicy"] = json.dumps({"deadLetterTargetArn": "arn:dlq"})
    target: dict[str, Any] = {"rule": "r", "arn": QUEUE_ARN}
    if dead_letter:
        target["deadLetterConfig"] = {"arn": "arn:dlq"}
    return [
        (EVENT_RULE, "rule", {"eventPattern": S3_PATTERN}),
        (SQS_QUEUE, "queue", queue),
        (EVENT_TARGET, "target", target),
    ]


def _check_chain(entries: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    from gpuplane.check import PackConfig, check
    from tests.policies.harness import graph_of

    graph = graph_of(*entries)
    target = next(r for r in graph if r.type == EVENT_TARGET)
    graph.resources[target.urn] = dataclasses.replace(
        target,
        property_dependencies={
            "rule": (URN.format(EVENT_RULE, "rule"),),
            "arn": (URN.format(SQS_QUEUE, "queue"),),
        },
    )
    return [v.message for v in check(graph, PackConfig()).violations if v.id == "GP-AWS-019"]


def test_s3_event_queues_have_dead_letters() -> None:
    assert _check_chain(_s3_chain(dead_letter=True, redrive=True)) == []
    found = _check_chain(_s3_chain(dead_letter=False, redrive=False))
    assert any("no deadLetterConfig" in m for m in found), found
    assert any("has no redrivePolicy" in m for m in found), found


def _add_s3_chain(data: dict[str, Any]) -> None:
    for resource_type, name, inputs in _s3_chain(dead_letter=False, redrive=True):
        add_resource(resource_type, name, inputs)(data)
    target = data["resources"][-1]
    target["propertyDependencies"] = {
        "rule": [URN.format(EVENT_RULE, "rule")],
        "arn": [URN.format(SQS_QUEUE, "queue")],
    }


PUBLIC = json.dumps(
    {"Statement": [{"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "sqs:*"}]}
)

# rule -> (shipped stack, mutation that breaks exactly that rule)
MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "GP-AWS-017": ("aws-dev", set_input(SQS_QUEUE, "sqsManagedSseEnabled", False)),
    "GP-AWS-018": ("aws-prod", set_input(SQS_POLICY, "policy", PUBLIC)),
    "GP-AWS-019": ("aws-dev", _add_s3_chain),
    "GP-GCP-016": ("gcp-dev", add_resource(SUBSCRIPTION, "jobs", {"topic": "t"})),
    "GP-GCP-017": (
        "gcp-prod",
        add_resource(
            TOPIC_MEMBER,
            "open",
            {"topic": "t", "role": "roles/pubsub.viewer", "member": "allUsers"},
        ),
    ),
    "GP-AZ-016": (
        "azure-dev",
        add_resource(
            EVENT_SUBSCRIPTION, "jobs", event_subscription(deadLetterWithResourceIdentity=None)
        ),
    ),
    "GP-K8S-019": (
        "gcp-dev",
        add_resource(
            TRIGGER_AUTH,
            "static",
            trigger_auth({"secretTargetRef": [{"parameter": "k", "name": "s"}]}),
        ),
    ),
    "GP-K8S-020": ("aws-dev", add_resource(*local_queue("monitoring"))),
}
