"""gpuplane as a component package: the schema Pulumi's analyzer infers, declared vs
registered outputs, and the examples (Pulumi YAML and Python) planned offline."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi.provider.experimental import host
from pulumi.provider.experimental.component import ComponentProvider

from gpuplane import package
from gpuplane.engine import run_program
from gpuplane.graph import ResourceGraph

ROOT = Path(__file__).resolve().parents[1]
INDEX = "gpuplane:index:"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return package.schema()


def test_the_package_publishes_serving_stack_and_the_clusters(schema: dict) -> None:
    assert schema["name"] == "gpuplane"
    assert sorted(schema["resources"]) == [
        f"{INDEX}AksCluster",
        f"{INDEX}EksCluster",
        f"{INDEX}ExistingCluster",
        f"{INDEX}GkeCluster",
        f"{INDEX}ServingStack",
    ]
    for resource in schema["resources"].values():
        assert resource["isComponent"] is True
        assert resource["description"]


def test_every_property_is_typed_and_described(schema: dict) -> None:
    def props(entry: dict) -> dict:
        return {**entry.get("inputProperties", {}), **entry.get("properties", {})}

    entries = [*schema["resources"].values(), *schema["types"].values()]
    for entry in entries:
        for name, prop in props(entry).items():
            assert prop.get("description"), name
            assert "type" in prop or "$ref" in prop, name


def test_inputs_carry_their_types_plainness_and_requirements(schema: dict) -> None:
    stack = schema["resources"][f"{INDEX}ServingStack"]
    inputs = stack["inputProperties"]
    assert stack["requiredInputs"] == ["cluster"]
    # Values that only flow into resources take Outputs (not plain); the rest decide
    # what is created and must be known.
    assert inputs["domain"] == {**inputs["domain"], "type": "string"}
    assert "plain" not in inputs["domain"] and "plain" not in inputs["acmeEmail"]
    assert inputs["monitoring"]["$ref"] == f"#/types/{INDEX}MonitoringSettings"
    monitoring = schema["types"][f"{INDEX}MonitoringSettings"]["properties"]
    assert monitoring["enabled"]["type"] == "boolean" and monitoring["enabled"]["plain"] is True
    assert inputs["cluster"]["$ref"] == f"#/types/{INDEX}ClusterSpec"
    assert inputs["knative"]["$ref"] == f"#/types/{INDEX}KnativeSettings"
    knative = schema["types"][f"{INDEX}KnativeSettings"]["properties"]
    assert knative["containerConcurrency"]["type"] == "integer"
    assert knative["scaleToZero"]["type"] == "boolean"
    assert "Default `10m`" in knative["scaleDownDelay"]["description"]
    cluster = schema["types"][f"{INDEX}ClusterSpec"]
    assert cluster["required"] == ["provider"]
    assert re.fullmatch(
        r"/kubernetes/v[\d.]+/schema\.json#/resources/pulumi:providers:kubernetes",
        cluster["properties"]["provider"]["$ref"],
    )
    existing = schema["resources"][f"{INDEX}ExistingCluster"]
    assert existing["requiredInputs"] == ["context"]
    assert "plain" not in existing["inputProperties"]["kubeconfig"]


def test_closed_sets_are_enums(schema: dict) -> None:
    sharing = schema["types"][f"{INDEX}GpuSharing"]
    assert sharing["type"] == "string"
    assert [v["value"] for v in sharing["enum"]] == ["none", "time-slicing", "mps"]
    assert all(v.get("description") for v in sharing["enum"])
    pool = schema["types"][f"{INDEX}GpuPoolSpec"]["properties"]
    assert pool["sharing"]["$ref"] == f"#/types/{INDEX}GpuSharing"


def test_declared_outputs_are_the_registered_outputs(
    schema: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: dict[str, set[str]] = {}
    original = pulumi.ComponentResource.register_outputs

    def record(self: pulumi.ComponentResource, outputs: Any) -> None:
        registered[type(self).__name__] = set(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", record)

    def program() -> None:
        from gpuplane.components import (
            AksCluster,
            EksCluster,
            ExistingCluster,
            GkeCluster,
            ServingStack,
        )

        lab = ExistingCluster("lab", {"context": "kind-lab"})
        ServingStack("lab-serving", {"cluster": lab.spec})
        EksCluster("ml", {"kubernetes_version": "1.36", "admin_role_arns": [ADMIN]})
        GkeCluster(
            "gke", {"project": "acme", "region": "us-central1", "kubernetes_version": "1.35"}
        )
        AksCluster(
            "aks",
            {"location": "eastus", "kubernetes_version": "1.35", "admin_group_object_ids": [GROUP]},
        )

    run_program(program, project="p", stack="s", config={"aws:region": "us-east-1"})
    for token, resource in schema["resources"].items():
        name = token.removeprefix(INDEX)
        assert registered[name] == set(resource["properties"]), name


ADMIN = "arn:aws:iam::123456789012:role/admin"


def test_eks_cluster_schema_enums_inputs_and_requirements(schema: dict) -> None:
    from gpuplane.components.clusters.aws import EksClusterArgs, EksComputeMode, EksGpuNodeImage

    eks = schema["resources"][f"{INDEX}EksCluster"]
    inputs = eks["inputProperties"]
    # Required vs optional follows the TypedDict.
    assert eks["requiredInputs"] == ["adminRoleArns", "kubernetesVersion"]
    assert len(inputs) == len(EksClusterArgs.__annotations__)
    # Closed sets are enums with their values and described members.
    for enum, prop in ((EksComputeMode, "computeMode"), (EksGpuNodeImage, "gpuNodeImage")):
        assert inputs[prop]["$ref"] == f"#/types/{INDEX}{enum.__name__}"
        published = schema["types"][f"{INDEX}{enum.__name__}"]
        assert [v["value"] for v in published["enum"]] == [m.value for m in enum]
        assert all(v["description"] for v in published["enum"])
    # Values that only flow into resources take Outputs; the ones the component
    # branches on or checks are plain.
    assert "plain" not in inputs["logRetentionDays"]
    assert "plain" not in inputs["adminRoleArns"]["items"]
    assert "plain" not in inputs["publicAccessCidrs"]["items"]
    assert "plain" not in inputs["tags"]["additionalProperties"]
    for plain in ("kubernetesVersion", "vpcCidr", "zoneCount", "computeMode", "gpuPools"):
        assert inputs[plain]["plain"] is True, plain
    assert inputs["gpuPools"]["items"]["$ref"] == f"#/types/{INDEX}GpuPoolSpec"
    port = schema["types"][f"{INDEX}ControlPlanePort"]
    assert port["required"] == ["description", "port"]
    assert port["properties"]["port"]["type"] == "integer"
    # Descriptions come from the docstrings, defaults included.
    assert "Default 30" in inputs["logRetentionDays"]["description"]
    assert "Default karpenter" in inputs["computeMode"]["description"]
    assert eks["properties"]["kubeconfig"]["type"] == "string"
    assert eks["properties"]["spec"]["$ref"] == f"#/types/{INDEX}ClusterSpec"


def test_gke_cluster_schema_enums_inputs_and_requirements(schema: dict) -> None:
    from gpuplane.components.clusters.gcp import GkeClusterArgs, GkeMode, GkeReleaseChannel

    gke = schema["resources"][f"{INDEX}GkeCluster"]
    inputs = gke["inputProperties"]
    assert gke["requiredInputs"] == ["kubernetesVersion", "project", "region"]
    assert len(inputs) == len(GkeClusterArgs.__annotations__)
    for enum, prop in ((GkeMode, "mode"), (GkeReleaseChannel, "releaseChannel")):
        assert inputs[prop]["$ref"] == f"#/types/{INDEX}{enum.__name__}"
        published = schema["types"][f"{INDEX}{enum.__name__}"]
        assert [v["value"] for v in published["enum"]] == [m.value for m in enum]
        assert all(v["description"] for v in published["enum"])
    assert "plain" not in inputs["authorizedCidrs"]["items"]
    assert "plain" not in inputs["labels"]["additionalProperties"]
    for plain in ("project", "podsCidr", "systemMinNodes", "mode", "gpuPools"):
        assert inputs[plain]["plain"] is True, plain
    assert inputs["gpuPools"]["items"]["$ref"] == f"#/types/{INDEX}GpuPoolSpec"
    assert inputs["controlPlanePorts"]["items"]["$ref"] == f"#/types/{INDEX}ControlPlanePort"
    assert "Default REGULAR" in inputs["releaseChannel"]["description"]
    assert "Default 10.16.0.0/14" in inputs["podsCidr"]["description"]
    assert gke["properties"]["kubeconfig"]["type"] == "string"
    assert gke["properties"]["spec"]["$ref"] == f"#/types/{INDEX}ClusterSpec"


GROUP = "5f0a4c3e-1b2d-4e6f-8a9b-0c1d2e3f4a5b"


def test_aks_cluster_schema_enums_inputs_and_requirements(schema: dict) -> None:
    from gpuplane.components.clusters import azure

    aks = schema["resources"][f"{INDEX}AksCluster"]
    inputs = aks["inputProperties"]
    assert aks["requiredInputs"] == ["adminGroupObjectIds", "kubernetesVersion", "location"]
    assert len(inputs) == len(azure.AksClusterArgs.__annotations__)
    for enum, prop in (
        (azure.AksNodeProvisioning, "nodeProvisioning"),
        (azure.AksSkuTier, "skuTier"),
        (azure.AksOutbound, "outbound"),
        (azure.AksUpgradeChannel, "upgradeChannel"),
        (azure.AksNodeOsUpgradeChannel, "nodeOsUpgradeChannel"),
    ):
        assert inputs[prop]["$ref"] == f"#/types/{INDEX}{enum.__name__}"
        published = schema["types"][f"{INDEX}{enum.__name__}"]
        assert [v["value"] for v in published["enum"]] == [m.value for m in enum]
        assert all(v["description"] for v in published["enum"])
    assert "plain" not in inputs["adminGroupObjectIds"]["items"]
    assert "plain" not in inputs["authorizedCidrs"]["items"]
    assert "plain" not in inputs["logRetentionDays"]
    assert "plain" not in inputs["tags"]["additionalProperties"]
    for plain in ("location", "vnetCidr", "platformMinNodes", "skuTier", "gpuPools"):
        assert inputs[plain]["plain"] is True, plain
    assert inputs["gpuPools"]["items"]["$ref"] == f"#/types/{INDEX}GpuPoolSpec"
    assert "Default Free" in inputs["skuTier"]["description"]
    assert "Default 10.240.0.0/16" in inputs["vnetCidr"]["description"]
    assert aks["properties"]["kubeconfig"]["type"] == "string"
    assert aks["properties"]["spec"]["$ref"] == f"#/types/{INDEX}ClusterSpec"


def test_aks_cluster_plans_from_the_packages_camel_case_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(host, "is_hosting", True)
    provider = ComponentProvider(package.COMPONENTS, package.NAME)
    props = {
        "location": "westeurope",
        "kubernetesVersion": "1.35",
        "adminGroupObjectIds": [GROUP],
        "skuTier": "Standard",
        "outbound": "natGateway",
        "logRetentionDays": 90,
        "gpuPools": [{"name": "a10", "instanceTypes": ["Standard_NV36ads_A10_v5"], "maxNodes": 2}],
    }

    def program() -> None:
        from gpuplane.components import AksCluster

        args = provider.map_inputs(props, provider._component_defs["AksCluster"])
        AksCluster("ml", args)

    graph = run_program(program, project="p", stack="s")
    [cluster] = graph.by_type("azure-native:containerservice:ManagedCluster")
    assert cluster.get("sku.tier") == "Standard"
    assert cluster.get("networkProfile.outboundType") == "userAssignedNATGateway"
    assert cluster.get("aadProfile.adminGroupObjectIDs") == [GROUP]
    [logs] = graph.by_type("azure-native:operationalinsights:Workspace")
    assert logs.inputs["retentionInDays"] == 90
    pool = next(r for r in graph if r.name == "ml-gpu-a10")
    assert pool.inputs["maxCount"] == 2
    assert graph.by_type(f"{INDEX}AksCluster")


def test_gke_cluster_plans_from_the_packages_camel_case_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(host, "is_hosting", True)
    provider = ComponentProvider(package.COMPONENTS, package.NAME)
    props = {
        "project": "acme-ml",
        "region": "us-central1",
        "kubernetesVersion": "1.35",
        "mode": "autopilot",
        "releaseChannel": "STABLE",
        "authorizedCidrs": ["198.51.100.0/24"],
        "gpuPools": [{"name": "l4", "instanceTypes": ["g2-standard-8"], "spot": True}],
    }

    def program() -> None:
        from gpuplane.components import GkeCluster

        args = provider.map_inputs(props, provider._component_defs["GkeCluster"])
        GkeCluster("ml", args)

    graph = run_program(program, project="p", stack="s")
    [cluster] = graph.by_type("gcp:container/cluster:Cluster")
    assert cluster.inputs["enableAutopilot"] is True
    assert cluster.inputs["releaseChannel"] == {"channel": "STABLE"}
    blocks = cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert [b["cidrBlock"] for b in blocks] == ["198.51.100.0/24"]
    assert graph.by_type(f"{INDEX}GkeCluster")


def test_eks_cluster_plans_from_the_packages_camel_case_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a Pulumi YAML or TypeScript program calls it: camelCase properties, enum
    strings, nested pool specs, mapped by the component provider."""
    monkeypatch.setattr(host, "is_hosting", True)
    provider = ComponentProvider(package.COMPONENTS, package.NAME)
    props = {
        "kubernetesVersion": "1.36",
        "adminRoleArns": [ADMIN],
        "publicAccessCidrs": ["198.51.100.0/24"],
        "computeMode": "auto",
        "logRetentionDays": 90,
        "gpuPools": [{"name": "l4", "instanceTypes": ["g6.xlarge"], "maxNodes": 3}],
    }

    def program() -> None:
        from gpuplane.components import EksCluster

        args = provider.map_inputs(props, provider._component_defs["EksCluster"])
        EksCluster("ml", args)

    graph = run_program(program, project="p", stack="s", config={"aws:region": "us-east-1"})
    [cluster] = graph.by_type("aws:eks/cluster:Cluster")
    assert cluster.get("computeConfig.enabled") is True
    assert cluster.get("vpcConfig.publicAccessCidrs") == ["198.51.100.0/24"]
    [logs] = graph.by_type("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["retentionInDays"] == 90
    [pool] = graph.by_type("kubernetes:karpenter.sh/v1:NodePool")
    assert pool.get("spec.limits.nodes") == 3
    # Hosted, the component registers the token the package publishes.
    assert graph.by_type(f"{INDEX}EksCluster")


def test_the_provider_installs_the_cloud_extras_its_components_import() -> None:
    """provider/requirements.txt is the plugin's virtualenv: every cloud SDK the
    published components import must come from an extra it installs."""
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, gpuplane.package\n"
            "from gpuplane.components.extras import EXTRAS\n"
            "print(' '.join(e for m, e in EXTRAS.items() if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    needed = set(imported.stdout.split())
    assert {"aws", "gcp", "azure"} <= needed  # the three cloud clusters are published
    [editable] = [
        line
        for line in (ROOT / "provider" / "requirements.txt").read_text().splitlines()
        if line.startswith("-e")
    ]
    extras = re.search(r"\[([\w,]+)\]", editable)
    installed = set(extras.group(1).split(",")) if extras else set()
    assert needed <= installed or "all" in installed, (needed, installed)


def _yaml_value(value: Any, resources: dict[str, Any]) -> Any:
    """A Pulumi YAML property value, with `${name}` and `${name.prop}` resolved."""
    if isinstance(value, str) and (ref := re.fullmatch(r"\$\{([\w-]+)(?:\.(\w+))?\}", value)):
        target = resources[ref.group(1)]
        if ref.group(2) is None:
            return target
        return getattr(target, re.sub(r"(?<!^)([A-Z])", r"_\1", ref.group(2)).lower())
    if isinstance(value, dict):
        return {k: _yaml_value(v, resources) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_value(v, resources) for v in value]
    return value


def plan_yaml_program(path: Path, monkeypatch: pytest.MonkeyPatch) -> ResourceGraph:
    """Plan a Pulumi YAML program offline: its gpuplane resources go through the
    component provider's own input mapping (camelCase -> Args), as when hosted."""
    document = yaml.safe_load(path.read_text())
    monkeypatch.setattr(host, "is_hosting", True)  # the tokens the package publishes
    provider = ComponentProvider(package.COMPONENTS, package.NAME)
    classes = {c.__name__: c for c in package.COMPONENTS}

    def program() -> None:
        made: dict[str, Any] = {}
        for name, resource in document["resources"].items():
            props = _yaml_value(resource.get("properties", {}), made)
            kind = resource["type"]
            if kind == "pulumi:providers:kubernetes":
                made[name] = k8s.Provider(name, **{"context": props["context"]})
                continue
            component = kind.removeprefix("gpuplane:")
            args = provider.map_inputs(props, provider._component_defs[component])
            made[name] = classes[component](name, args)
        for key, value in document.get("outputs", {}).items():
            pulumi.export(key, _yaml_value(value, made))

    return run_program(
        program,
        project=document["name"],
        stack="dev",
        config={"pulumi:disable-default-providers": '["kubernetes"]'},
    )


def test_the_yaml_example_plans_with_the_component_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = plan_yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", monkeypatch)
    [stack] = graph.by_type(f"{INDEX}ServingStack")
    assert stack.name == "serving"
    knative = next(r for r in graph if r.type.endswith(":KnativeServing"))
    config = knative.get("spec.config")
    assert config["autoscaler"]["scale-down-delay"] == "15m"
    assert config["defaults"]["container-concurrency"] == "2"
    assert config["domain"] == {"models.example.org": ""}
    runtime = next(r for r in graph if r.type.endswith(":ClusterServingRuntime"))
    terms = runtime.get("spec.affinity.nodeAffinity")
    assert "gpu" in json.dumps(terms) and "l4" in json.dumps(terms)
    assert not [r for r in graph if r.type.endswith(":Prometheus") or "monitoring" in r.name]
    assert graph.outputs["domain"] == "models.example.org"
    # The child URNs of the published component are qualified by its published token.
    children = [r for r in graph if r.parent == stack.urn]
    assert children and all(f"{INDEX}ServingStack$" in r.urn for r in children)


# The Python example, run as its own program from its own directory: its `components`
# package comes first on sys.path, every cloud SDK is made unimportable (a core install).
PYTHON_EXAMPLE = """
import json, runpy, sys
for sdk in ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native"):
    sys.modules[sdk] = None
sys.path.insert(0, ".")
from gpuplane.engine import run_program
graph = run_program(
    lambda: runpy.run_path("__main__.py", run_name="__main__"),
    project="serving-on-kind",
    stack="dev",
    config={"pulumi:disable-default-providers": '["kubernetes"]'},
)
print(graph.dumps())
"""


def test_the_python_example_plans_with_the_core_install_only() -> None:
    directory = ROOT / "examples" / "python"
    requirements = (directory / "requirements.txt").read_text()
    assert "[" not in requirements  # the core: no cloud extra
    result = subprocess.run(
        [sys.executable, "-c", PYTHON_EXAMPLE],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    graph = ResourceGraph.loads(result.stdout)
    assert graph.named("lab-search").get("metadata.labels") == {"team": "search"}
    assert graph.named("lab-k8s").inputs["context"] == "kind-gpuplane"
    knative = next(r for r in graph if r.type.endswith(":KnativeServing"))
    assert knative.get("spec.config")["autoscaler"]["scale-down-delay"] == "5m"
    assert knative.get("spec.config")["domain"] == {"models.example.org": ""}
    assert graph.outputs == {"domain": "models.example.org", "modelsNamespace": "models"}
    # Python programs keep gpuplane's own type tokens (today's URNs).
    assert graph.by_type("gpuplane:serving:ServingStack")
    assert graph.by_type("gpuplane:clusters:ExistingCluster")
