"""Deterministic, realistic mock outputs and invoke results for the offline engine.

Every resource gets an id derived from its type and name, and its inputs echoed
back as outputs, plus the computed outputs a real provider would return for the
types listed in `OUTPUTS`. Every invoke the program makes must have an entry in
`INVOKES`: an unknown one is an error, never a silent empty result.
"""

import base64
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


SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
TENANT = "00000000-0000-4000-8000-000000000002"
DEPLOYER = "00000000-0000-4000-8000-000000000003"

# azure-native type -> (ARM provider/type path, the input that holds the resource's name,
# the input naming its parent resource, the parent's ARM type) for the types gpuplane uses.
_AZURE_TYPES: dict[str, tuple[str, str, str | None, str | None]] = {
    "network:VirtualNetwork": (
        "Microsoft.Network/virtualNetworks",
        "virtualNetworkName",
        None,
        None,
    ),
    "network:Subnet": (
        "Microsoft.Network/virtualNetworks",
        "subnetName",
        "virtualNetworkName",
        "subnets",
    ),
    "network:NatGateway": ("Microsoft.Network/natGateways", "natGatewayName", None, None),
    "network:PublicIPAddress": (
        "Microsoft.Network/publicIPAddresses",
        "publicIpAddressName",
        None,
        None,
    ),
    "managedidentity:UserAssignedIdentity": (
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "resourceName",
        None,
        None,
    ),
    "managedidentity:FederatedIdentityCredential": (
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "federatedIdentityCredentialResourceName",
        "resourceName",
        "federatedIdentityCredentials",
    ),
    "keyvault:Vault": ("Microsoft.KeyVault/vaults", "vaultName", None, None),
    "keyvault:Key": ("Microsoft.KeyVault/vaults", "keyName", "vaultName", "keys"),
    "operationalinsights:Workspace": (
        "Microsoft.OperationalInsights/workspaces",
        "workspaceName",
        None,
        None,
    ),
    "containerservice:ManagedCluster": (
        "Microsoft.ContainerService/managedClusters",
        "resourceName",
        None,
        None,
    ),
    "containerservice:AgentPool": (
        "Microsoft.ContainerService/managedClusters",
        "agentPoolName",
        "resourceName",
        "agentPools",
    ),
    "storage:StorageAccount": ("Microsoft.Storage/storageAccounts", "accountName", None, None),
    "storage:BlobContainer": (
        "Microsoft.Storage/storageAccounts",
        "containerName",
        "accountName",
        "blobServices/default/containers",
    ),
    "storage:Queue": (
        "Microsoft.Storage/storageAccounts",
        "queueName",
        "accountName",
        "queueServices/default/queues",
    ),
    "eventgrid:SystemTopic": ("Microsoft.EventGrid/systemTopics", "systemTopicName", None, None),
}


def azure_autoname(name: str) -> str:
    """azure-native's auto-name: the resource name and 8 more characters."""
    return f"{name}{stable_hex(name, length=8)}"


def azure_id(typ: str, name: str, inputs: Mapping[str, Any]) -> str:
    """The ARM id a resource of `typ` gets (auto-named when no name is given)."""
    group = str(inputs.get("resourceGroupName") or "")
    short = typ.removeprefix("azure-native:")
    if short == "resources:ResourceGroup":
        group = str(inputs.get("resourceGroupName") or azure_autoname(name))
        return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}"
    prefix = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers"
    if short == "authorization:RoleAssignment":
        guid = f"{stable_hex(name)}-0000-4000-8000-{stable_hex(name, 'ra', length=12)}"
        return f"{inputs.get('scope')}/providers/Microsoft.Authorization/roleAssignments/{guid}"
    if short == "monitor:DiagnosticSetting":
        setting = inputs.get("name") or azure_autoname(name)
        return (
            f"{inputs.get('resourceUri')}/providers/Microsoft.Insights/diagnosticSettings/{setting}"
        )
    known = _AZURE_TYPES.get(short)
    if known is None:
        module, kind = short.split(":")
        return f"{prefix}/Microsoft.{module}/{kind[0].lower()}{kind[1:]}s/{azure_autoname(name)}"
    path, name_key, parent_key, child = known
    own = str(inputs.get(name_key) or azure_autoname(name))
    if parent_key is None:
        return f"{prefix}/{path}/{own}"
    return f"{prefix}/{path}/{inputs.get(parent_key)}/{child}/{own}"


def _azure_resource(typ: str) -> OutputModel:
    def model(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
        arm_id = azure_id(typ, name, inputs)
        outputs: dict[str, Any] = {"id": arm_id, "name": arm_id.rsplit("/", 1)[-1]}
        return outputs | _AZURE_OUTPUTS.get(typ, lambda *_: {})(arm_id, inputs, region)

    return model


def _guid(*parts: str) -> str:
    return f"{stable_hex(*parts)}-0000-4000-8000-{stable_hex(*parts, 'guid', length=12)}"


def _managed_identity(arm_id: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    return {"principalId": _guid(arm_id, "p"), "clientId": _guid(arm_id, "c"), "tenantId": TENANT}


def _aks(arm_id: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    cluster = arm_id.rsplit("/", 1)[-1]
    host = f"{inputs.get('dnsPrefix') or cluster}-{stable_hex(arm_id)}"
    identity = dict(inputs.get("identity") or {})
    # The SDK takes a list of identity ids; ARM answers with a map keyed by them.
    identity["userAssignedIdentities"] = {
        uami: {"principalId": _guid(uami, "p"), "clientId": _guid(uami, "c")}
        for uami in identity.get("userAssignedIdentities") or ()
    }
    return {
        "identity": identity,
        "fqdn": f"{host}.hcp.{region}.azmk8s.io",
        "privateFQDN": f"{host}.privatelink.{region}.azmk8s.io",
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{region}.oic.prod-aks.azure.com/{TENANT}/{_guid(arm_id)}/",
        },
    }


def _system_identity(arm_id: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A system-assigned identity, as ARM answers for a resource that asked for one."""
    identity = dict(inputs.get("identity") or {})
    if identity.get("type") == "SystemAssigned":
        identity.update({"principalId": _guid(arm_id, "p"), "tenantId": TENANT})
    return {"identity": identity}


def _key(arm_id: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    parts = arm_id.split("/")
    vault, key = parts[-3], parts[-1]
    uri = f"https://{vault}.vault.azure.net/keys/{key}"
    return {"keyUri": uri, "keyUriWithVersion": f"{uri}/{stable_hex(arm_id, length=32)}"}


def _public_ip(arm_id: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    # 20.0.0.0/8 is one of Azure's public ranges; the last octets follow the id.
    octets = [int(stable_hex(arm_id, str(i), length=2), 16) for i in range(3)]
    return {"ipAddress": "20.{}.{}.{}".format(*octets)}


_AZURE_OUTPUTS: dict[str, Callable[[str, Mapping[str, Any], str], dict[str, Any]]] = {
    "azure-native:network:PublicIPAddress": _public_ip,
    "azure-native:managedidentity:UserAssignedIdentity": _managed_identity,
    "azure-native:containerservice:ManagedCluster": _aks,
    "azure-native:keyvault:Key": _key,
    "azure-native:eventgrid:SystemTopic": _system_identity,
}


def _aks_user_credentials(args: Mapping[str, Any], region: str) -> dict[str, Any]:
    cluster = args.get("resourceName")
    kubeconfig = (
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster}\n  cluster:\n"
        f"    server: https://{cluster}.hcp.{region}.azmk8s.io:443\n"
        "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sK\n"
    )
    return {
        "kubeconfigs": [
            {"name": "clusterUser", "value": base64.b64encode(kubeconfig.encode()).decode()}
        ]
    }


def _gcp_generic(name: str, inputs: Mapping[str, Any], region: str) -> dict[str, Any]:
    """GCP resources are auto-named like Pulumi does (resource name + 7 hex) when unnamed."""
    return {} if inputs.get("name") else {"name": f"{name}-{stable_hex(name, length=7)}"}


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
    "gcp:": _gcp_generic,
    **{
        f"azure-native:{typ}": _azure_resource(f"azure-native:{typ}")
        for typ in (*_AZURE_TYPES, "resources:ResourceGroup")
    },
    "azure-native:": lambda name, inputs, region: {},
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
    "azure-native:authorization:getClientConfig": lambda _args, _region: {
        "clientId": DEPLOYER,
        "objectId": DEPLOYER,
        "subscriptionId": SUBSCRIPTION,
        "tenantId": TENANT,
    },
    "azure-native:containerservice:listManagedClusterUserCredentials": _aks_user_credentials,
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
        if args.typ.startswith("azure-native:"):
            return azure_id(args.typ, args.name, args.inputs), state
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
