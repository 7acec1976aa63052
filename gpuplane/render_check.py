"""`gpuplane check --render`: the policy pack and the render-only rules over rendered objects.

Each object a Helm release renders to is checked as if the stack declared it itself:
the pack's Kubernetes and mesh resource rules run over it (through the same CrossGuard
argument path as `gpuplane check`), then the rules in render_rules.py. Every finding
names the object and its release: `istio-system/Deployment/istiod in release istiod`.
The pack's image tag and registry rules (GP-K8S-011, GP-K8S-012) are left to
GP-RND-002 here, which reads every image reference fully qualified, so an image is
reported once.
"""

from gpuplane.check import PackConfig, PolicyRuntimeError, Violation, check
from gpuplane.graph import Resource, ResourceGraph
from gpuplane.policies import kubernetes, mesh
from gpuplane.render import Object, StackRender
from gpuplane.render_rules import RENDER_RULES, Context, run

REPLACED = frozenset({"GP-K8S-011", "GP-K8S-012"})
PACK_RULES = tuple(
    rule
    for rule in (*kubernetes.RULES, *mesh.RULES)
    if not rule.is_stack and rule.id not in REPLACED
)
_REGISTRY_RULE = next(r.name for r in kubernetes.RULES if r.id == "GP-K8S-012")
# Only the objects some pack rule reads go through CrossGuard's argument path (CRDs,
# megabytes of schema, do not).
_PACK_TYPES = frozenset(t for rule in PACK_RULES for t in rule.resource_types)


def object_urn(release_urn: str, obj: Object) -> str:
    return f"{release_urn}${obj.type}::{obj.label}"


def rendered_graph(rendered: StackRender) -> ResourceGraph:
    """The releases' objects the pack's rules read, as resources of a graph, named
    `<object> in release <name>`."""
    graph = ResourceGraph(project=rendered.project, stack=rendered.stack)
    for release in rendered.releases:
        for obj in release.objects:
            if obj.type not in _PACK_TYPES:
                continue
            urn = object_urn(release.urn, obj)
            graph.resources[urn] = Resource(
                urn=urn, type=obj.type, name=obj.where, custom=True, inputs=obj.body
            )
    return graph


def check_rendered(
    rendered: StackRender,
    graph: ResourceGraph,
    config: PackConfig | None = None,
    skip: frozenset[str] | set[str] = frozenset(),
) -> list[Violation]:
    """Findings over the objects the stack's releases render to (rules whose id is in
    `skip` left out)."""
    config = config or PackConfig()
    pack = [rule for rule in PACK_RULES if rule.id not in skip]
    violations = list(check(rendered_graph(rendered), config, pack).violations)
    urns = {id(o): object_urn(r.urn, o) for r in rendered.releases for o in r.objects}
    context = Context(rendered, graph)
    for rule in RENDER_RULES:
        level = config.level(rule)
        if level == "disabled" or rule.id in skip:
            continue
        settings = dict(config.settings.get(rule.name) or {})
        if rule.id == "GP-RND-002" and "allowedRegistries" not in settings:
            # One allow-list for the pack and the rendered images, where the config gives one.
            given = (config.settings.get(_REGISTRY_RULE) or {}).get("allowedRegistries")
            if given is not None:
                settings["allowedRegistries"] = given
        try:
            found = list(run(rule, context, settings))
        except Exception as exc:
            raise PolicyRuntimeError(
                f"policy {rule.name} ({rule.id}) failed on the rendered objects of "
                f"{rendered.stack}: {type(exc).__name__}: {exc}"
            ) from exc
        for message, obj in found:
            violations.append(
                Violation(
                    id=rule.id,
                    policy=rule.name,
                    level=level,
                    severity=rule.severity,
                    urn=urns.get(id(obj), obj.source),
                    type=obj.type,
                    name=obj.where,
                    message=f"[{rule.id}] {message}",
                )
            )
    return violations
