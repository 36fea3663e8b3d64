"""What the Kubernetes provider does with rendered objects before it registers them.

pulumi-kubernetes 4.34 registers a v4 Chart's objects through its YAML v2 machinery
(provider/pkg/provider/yaml/v2/yaml.go: ``Parse``, ``Normalize``, ``Register``, ``register``);
this module does the same, offline:

- ``normalize``: list kinds expanded into their items; ``core/v1`` canonicalized to ``v1``; an
  object without kind, apiVersion or metadata.name is an error; a namespaced object without a
  namespace gets the Chart's namespace, else the provider's default namespace
  (``Normalize`` + ``clients.IsNamespacedKind``: a static table of built-in kinds, then the CRDs
  among the objects, then the provider's CRD cache, then cluster discovery).
- ``resource_name``: ``<prefix>:<namespace>/<name>``, or ``<prefix>:<name>`` for an object
  without a namespace; the prefix is the Chart's resource name unless resourcePrefix is given
  (``register``: ``fmt.Sprintf("%s:%s", opts.ResourcePrefix, resourceName)``; chart.go:
  ``chartArgs.ResourcePrefix = &name``).
- ``type_token``: ``kubernetes:core/v1:<Kind>`` for the core group, ``kubernetes:<apiVersion>:<Kind>``
  otherwise, custom kinds included (sdk/go/kubernetes/yaml/v2/kinds.go, ``RegisterResource``:
  the generated cases and the ``default`` case ``fmt.Sprintf("kubernetes:%s:%s", apiVersion, kind)``).
- ``dependencies``: ``Register`` sorts the objects with sigs.k8s.io/cli-utils
  ``graph.DependencyGraph`` and gives each object ``DependsOn`` its direct dependencies:
  a custom resource depends on the CRD in the same set that defines its group and kind, a
  namespaced object on the Namespace object it lives in, and an object on what its
  ``config.kubernetes.io/depends-on`` annotation names (cli-utils pkg/object/graph/depends.go).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CRD_GROUP = "apiextensions.k8s.io"
DEPENDS_ON = "config.kubernetes.io/depends-on"
SKIP_AWAIT = "pulumi.com/skipAwait"
RESOURCE_POLICY = "helm.sh/resource-policy"

# provider/pkg/kinds/kinds.go, ``Kind.Namespaced``: the provider's static table.
NAMESPACED_KINDS = frozenset(
    {
        "Binding",
        "ConfigMap",
        "ControllerRevision",
        "CronJob",
        "DaemonSet",
        "Deployment",
        "Endpoints",
        "Event",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "Lease",
        "LimitRange",
        "LocalSubjectAccessReview",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "Pod",
        "PodDisruptionBudget",
        "PodTemplate",
        "ReplicaSet",
        "ReplicationController",
        "ResourceQuota",
        "Role",
        "RoleBinding",
        "Secret",
        "Service",
        "ServiceAccount",
        "StatefulSet",
    }
)
CLUSTER_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "StorageClass",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
# Built-in kinds outside that table: the provider asks the cluster's discovery, which for a
# Kubernetes 1.3x cluster answers as below (`kubectl api-resources --namespaced=false`).
DISCOVERY_CLUSTER_KINDS = frozenset(
    {
        "ClusterTrustBundle",
        "DeviceClass",
        "FlowSchema",
        "IngressClass",
        "IPAddress",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "PriorityLevelConfiguration",
        "ResourceSlice",
        "SelfSubjectReview",
        "ServiceCIDR",
        "StorageVersionMigration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "VolumeAttributesClass",
    }
)


class ObjectError(Exception):
    """A rendered object the provider would refuse."""


def group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _builtin_group(group: str) -> bool:
    return group == "" or "." not in group or group.endswith(".k8s.io")


def type_token(api_version: str, kind: str) -> str:
    """The Pulumi type the provider registers an object as."""
    module = "core/v1" if api_version == "v1" else api_version
    return f"kubernetes:{module}:{kind}"


def is_crd(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "CustomResourceDefinition" and str(obj.get("apiVersion", "")).startswith(CRD_GROUP + "/")


def crd_group_kind(obj: dict[str, Any]) -> tuple[str, str] | None:
    spec = obj.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    return (str(group), str(kind)) if group and kind else None


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def expand(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """List kinds (an ``items`` list) replaced by their items, recursively, in order."""
    result: list[dict[str, Any]] = []
    for obj in objects:
        if isinstance(obj.get("items"), list):
            result += expand(item for item in obj["items"] if isinstance(item, dict))
        else:
            result.append(obj)
    return result


def is_namespaced(api_version: str, kind: str, objects: list[dict[str, Any]], known_crds: list[dict[str, Any]]) -> bool:
    """``clients.IsNamespacedKind``: the static table, the CRDs among the objects, the CRDs the
    provider has seen (here: recorded earlier in the run), then discovery."""
    base = kind.removesuffix("Patch")
    group = group_of(api_version)
    if _builtin_group(group):
        if base in NAMESPACED_KINDS:
            return True
        if base in CLUSTER_KINDS:
            return False
    for crd in [*objects, *known_crds]:
        if is_crd(crd) and crd_group_kind(crd) == (group, kind):
            return (crd.get("spec") or {}).get("scope") == "Namespaced"
    if _builtin_group(group):
        return base not in DISCOVERY_CLUSTER_KINDS
    raise ObjectError(
        f"cannot tell whether {api_version}/{kind} is namespaced: no CustomResourceDefinition for it is rendered "
        "by the chart or recorded earlier in the run, and the provider would ask the cluster "
        '("failed to determine if the following GVK is namespaced"). Install its CRDs first (a chart or '
        "resource created before this one)."
    )


def normalize(
    objects: list[dict[str, Any]], default_namespace: str, known_crds: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    objects = expand(objects)
    for obj in objects:
        api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        if not api_version or not kind:
            raise ObjectError(f"Kubernetes resources require a kind and apiVersion: {str(obj)[:100]}")
        if not _meta(obj).get("name"):
            raise ObjectError(f"Kubernetes resources require a .metadata.name: {str(obj)[:100]}")
        if api_version.startswith("core/"):
            obj["apiVersion"] = api_version = api_version.removeprefix("core/")
        if is_namespaced(api_version, kind, objects, known_crds or []) and not _meta(obj).get("namespace"):
            _meta(obj)["namespace"] = default_namespace
    return objects


def resource_name(prefix: str, obj: dict[str, Any]) -> str:
    meta = _meta(obj)
    name = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])
    return f"{prefix}:{name}" if prefix else name


ObjId = tuple[str, str, str, str]  # group, kind, namespace, name (cli-utils ObjMetadata)


def object_id(obj: dict[str, Any]) -> ObjId:
    meta = _meta(obj)
    return group_of(str(obj["apiVersion"])), str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"])


def _depends_on(obj: dict[str, Any]) -> list[ObjId]:
    """The ``config.kubernetes.io/depends-on`` references: ``group/namespaces/ns/kind/name`` or ``group/kind/name``."""
    text = (_meta(obj).get("annotations") or {}).get(DEPENDS_ON)
    refs: list[ObjId] = []
    for ref in str(text or "").split(","):
        parts = ref.strip().split("/")
        if len(parts) == 5 and parts[1] == "namespaces":
            refs.append((parts[0], parts[3], parts[2], parts[4]))
        elif len(parts) == 3:
            refs.append((parts[0], parts[1], "", parts[2]))
        elif ref.strip():
            raise ObjectError(f"invalid {DEPENDS_ON} annotation {text!r} on {object_id(obj)}")
    return refs


def dependencies(objects: list[dict[str, Any]]) -> list[list[int]]:
    """For each object, the indexes of the objects it depends on directly (cli-utils edges)."""
    ids = [object_id(obj) for obj in objects]
    index = {oid: i for i, oid in enumerate(ids)}
    crds = {gk: i for i, obj in enumerate(objects) if is_crd(obj) and (gk := crd_group_kind(obj))}
    namespaces = {ids[i][3]: i for i, obj in enumerate(objects) if ids[i][0] == "" and obj["kind"] == "Namespace"}
    edges: list[list[int]] = []
    for i, obj in enumerate(objects):
        deps: list[int] = []
        group, kind, namespace, _ = ids[i]
        if (group, kind) in crds:
            deps.append(crds[(group, kind)])
        if namespace and namespace in namespaces:
            deps.append(namespaces[namespace])
        for ref in _depends_on(obj):
            if ref not in index:
                raise ObjectError(f"{DEPENDS_ON} of {ids[i]} names {ref}, which the chart does not render")
            deps.append(index[ref])
        edges.append(sorted({d for d in deps if d != i}))
    return edges


def apply_order(edges: list[list[int]]) -> list[int]:
    """Topological order in sets (dependencies first), helm's order within a set; a cycle is an error."""
    done: set[int] = set()
    order: list[int] = []
    remaining = list(range(len(edges)))
    while remaining:
        ready = [i for i in remaining if all(d in done for d in edges[i])]
        if not ready:
            raise ObjectError("the rendered objects' dependencies form a cycle")
        order += ready
        done.update(ready)
        remaining = [i for i in remaining if i not in done]
    return order
