"""Deterministic, realistic mock outputs and invoke results for the offline engine.

Every resource gets an id derived from its type and name, and its inputs echoed
back as outputs, plus the computed outputs a real provider would return for the
types listed in `OUTPUTS`. Every invoke the program makes must have an entry in
`INVOKES`: an unknown one is an error, never a silent empty result.
"""

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks


class UnknownInvokeError(RuntimeError):
    """The program called an invoke the offline engine has no mock for."""


def stable_hex(*parts: str, length: int = 8) -> str:
    """A short hex string fixed by its inputs, for ids, ARNs and addresses."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


OutputModel = Callable[[str, Mapping[str, Any], str], dict[str, Any]]
"""(resource name, inputs, region) -> computed outputs."""
InvokeModel = Callable[[Mapping[str, Any], str], dict[str, Any]]
"""(invoke args, region) -> result, camelCase."""


def _k8s_metadata(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    """Kubernetes objects without metadata.name get one, as Pulumi's auto-naming does."""
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", f"{name}-{stable_hex(name)}")
    return {"metadata": metadata}


ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

# EC2 id prefixes, so ids in the graph read like the real ones.
_EC2_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
}


def _aws_name(name: str, inputs: Mapping[str, Any]) -> str:
    """The physical name: the given one, or Pulumi's auto-name (resource name + suffix)."""
    return str(inputs.get("name") or f"{name}-{stable_hex(name, length=7)}")


def _aws_arn(service: str, resource: str, region: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def _iam_role(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    role = _aws_name(name, inputs)
    return {"name": role, "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}"}


def _iam_policy(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    policy = _aws_name(name, inputs)
    return {"name": policy, "arn": f"arn:aws:iam::{ACCOUNT}:policy/{policy}"}


def _kms_key(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    key_id = f"{stable_hex(name, length=8)}-0000-4000-8000-{stable_hex(name, length=12)}"
    return {"keyId": key_id, "arn": _aws_arn("kms", f"key/{key_id}", region)}


def _eks_cluster(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    cluster = _aws_name(name, inputs)
    host = stable_hex(cluster, length=32).upper()
    vpc_config = dict(inputs.get("vpcConfig") or {})
    vpc_config["clusterSecurityGroupId"] = f"sg-{stable_hex(cluster, 'cluster-sg', length=17)}"
    return {
        "name": cluster,
        "arn": _aws_arn("eks", f"cluster/{cluster}", region),
        "endpoint": f"https://{host}.gr7.{region}.eks.amazonaws.com",
        # base64 of a placeholder, not a certificate
        "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sK"},
        "vpcConfig": vpc_config,
        "identities": [
            {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{host}"}]}
        ],
        "status": "ACTIVE",
    }


def _s3_bucket(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    bucket = str(inputs.get("bucket") or f"{name}-{stable_hex(name, length=7)}")
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}


def _sqs_queue(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    queue = _aws_name(name, inputs)
    return {
        "name": queue,
        "arn": _aws_arn("sqs", queue, region),
        "url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{queue}",
    }


def _aws_generic(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"arn": _aws_arn("mock", name, region)} if "arn" not in inputs else {}


DEFAULT_PROJECT = "gpuplane-offline"
PROJECT_NUMBER = "123456789012"


def _gcp_service_account(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    account = str(inputs.get("accountId") or name)
    project = str(inputs.get("project") or DEFAULT_PROJECT)
    email = f"{account}@{project}.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "name": email}


def _gke_cluster(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    cluster = str(inputs.get("name") or name)
    octets = [int(stable_hex(cluster, str(i), length=2), 16) for i in range(3)]
    return {
        "name": cluster,
        "endpoint": "34.{}.{}.{}".format(*octets),
        "masterAuth": {
            **dict(inputs.get("masterAuth") or {}),
            "clusterCaCertificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sK",
        },
        "selfLink": f"https://container.googleapis.com/v1/projects/p/locations/l/clusters/{cluster}",
    }


def _gcs_bucket(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    bucket = str(inputs.get("name") or f"{name}-{stable_hex(name, length=7)}")
    return {"name": bucket, "url": f"gs://{bucket}"}


def _kms_crypto_key(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"id": f"{inputs.get('keyRing', 'projects/p/locations/l/keyRings/r')}/cryptoKeys/{name}"}


# Computed outputs by resource type (or by package prefix ending in ':').
OUTPUTS: dict[str, OutputModel] = {
    "kubernetes:": _k8s_metadata,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:kms/key:Key": _kms_key,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:": _aws_generic,
    "gcp:serviceaccount/account:Account": _gcp_service_account,
    "gcp:container/cluster:Cluster": _gke_cluster,
    "gcp:storage/bucket:Bucket": _gcs_bucket,
    "gcp:kms/cryptoKey:CryptoKey": _kms_crypto_key,
}


def _availability_zones(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    letters = "abcdef"
    return {
        "names": [f"{region}{c}" for c in letters],
        "zoneIds": [f"{region}-az{i + 1}" for i in range(len(letters))],
        "groupNames": [region] * len(letters),
        "id": region,
    }


# Invoke results by token. Add an entry for every invoke a component makes.
INVOKES: dict[str, InvokeModel] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": lambda _args, _region: {
        "accountId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:role/gpuplane-offline",
        "userId": "AROAOFFLINE",
        "id": ACCOUNT,
    },
    "aws:index/getRegion:getRegion": lambda _args, region: {
        "region": region,
        "name": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": region,
        "id": region,
    },
    "gcp:organizations/getProject:getProject": lambda args, _region: {
        "projectId": args.get("projectId") or DEFAULT_PROJECT,
        "number": PROJECT_NUMBER,
        "name": args.get("projectId") or DEFAULT_PROJECT,
        "id": f"projects/{args.get('projectId') or DEFAULT_PROJECT}",
    },
    "gcp:compute/getZones:getZones": lambda args, region: {
        "names": [f"{args.get('region') or region}-{z}" for z in "abc"],
        "region": args.get("region") or region,
        "project": args.get("project") or DEFAULT_PROJECT,
        "id": args.get("region") or region,
    },
    "aws:index/getPartition:getPartition": lambda _args, _region: {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
        "id": "aws",
    },
}


class OfflineMocks(pulumi_mocks.Mocks):
    """Pulumi mocks with deterministic ids and the models above."""

    def __init__(
        self, disabled_default_providers: tuple[str, ...] = (), region: str = DEFAULT_REGION
    ) -> None:
        self.disabled = set(disabled_default_providers)
        self.region = region
        self.unknown_invokes: list[str] = []
        self.errors: list[str] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        model = OUTPUTS.get(args.typ) or OUTPUTS.get(args.typ.split(":")[0] + ":")
        if model is not None:
            state.update(model(args.name, args.inputs, self.region))
        if not args.custom:
            return "", state
        prefix = _EC2_ID_PREFIX.get(args.typ)
        if prefix is not None:
            return f"{prefix}-{stable_hex(args.typ, args.name, length=17)}", state
        return f"{args.name}-{stable_hex(args.typ, args.name)}", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list]:
        package = args.token.split(":")[0]
        if package in self.disabled and not args.provider:
            self.errors.append(
                f"invoke {args.token} uses the default {package} provider, which Pulumi.yaml "
                "disables (pulumi:disable-default-providers): pass the provider"
            )
        model = INVOKES.get(args.token)
        if model is None:
            self.unknown_invokes.append(args.token)
            raise UnknownInvokeError(
                f"invoke {args.token} has no offline mock; add one to gpuplane/mocks.py INVOKES"
            )
        return model(args.args, self.region), []
