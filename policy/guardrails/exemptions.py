"""Exemptions of Kubernetes objects from one rule, each with its reason, in the stack's policy config.

Upstream charts sometimes need more than a rule allows (a node exporter shares the node's network and PID
namespaces; a CNI runs privileged). Such an object is exempted from that one rule, never the rule wholesale::

    "kubernetes-pod-disallow-host-namespaces": {
      "enforcementLevel": "mandatory",
      "exemptions": [
        {"namespace": "monitoring", "kind": "DaemonSet", "name": "node-exporter",
         "reason": "node metrics need the host's network and PID namespaces"}
      ]
    }

An entry names a ``namespace`` (required: every object of the rule's kinds there is exempted), and may narrow
it to a ``kind`` (as in the object's ``kind``, e.g. DaemonSet) and a ``name`` (metadata.name). Cluster-scoped
objects (ClusterRole, ClusterRoleBinding, ...) are in the namespace "" and must be named by kind and name,
so "" never exempts every cluster-scoped object; a Namespace object counts as in itself. A missing namespace
on a namespaced object is ``default``, as everywhere in the pack. The ``reason`` says why in at least
20 characters. Other rules still judge an exempted object.

The entries are checked twice: by the JSON schema of the ``exemptions`` property (which the Pulumi CLI
applies to the stack's policy config before the pack runs) and by the pack itself, which refuses a config
with an invalid entry (``ExemptionError``, naming the rule and every bad entry) on the first resource it is
asked about, so the offline gate and any engine that does not apply schemas refuse it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MIN_REASON = 20
KEY = "exemptions"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
# The cluster-scoped kinds the rules can meet: an exemption names them with namespace "", kind and name.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PersistentVolume",
        "PriorityClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    }
)
_NAMESPACE = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"
_KIND = r"^[A-Z][A-Za-z0-9]*$"
_NAME = r"^\S+$"
_REASON = rf"\S.{{{MIN_REASON - 2},}}\S"

SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": 'Objects this rule does not judge, each with its reason: namespace (required; "" for '
    "cluster-scoped objects, which then need kind and name), kind and name (optional), reason (required).",
    "default": [],
    "items": {
        "type": "object",
        "properties": {
            "namespace": {"type": "string", "maxLength": 63, "pattern": _NAMESPACE},
            "kind": {"type": "string", "pattern": _KIND},
            "name": {"type": "string", "maxLength": 253, "pattern": _NAME},
            "reason": {"type": "string", "minLength": MIN_REASON, "pattern": _REASON},
        },
        "required": ["namespace", "reason"],
        "additionalProperties": False,
        "if": {"properties": {"namespace": {"const": ""}}, "required": ["namespace"]},
        "then": {"required": ["kind", "name"]},
    },
}
"""The JSON schema of a rule's ``exemptions`` config property."""


class ExemptionError(ValueError):
    """A rule's exemptions in the policy config are not valid: the pack refuses the config."""


@dataclass(frozen=True)
class Exemption:
    namespace: str
    kind: str | None
    name: str | None
    reason: str

    @property
    def target(self) -> str:
        """What it exempts, as a reader names it: monitoring/DaemonSet/node-exporter, monitoring (all), ..."""
        parts = [self.namespace or "(cluster)", self.kind or "*", self.name or "*"]
        while parts[-1] == "*":
            parts.pop()
        return "/".join(parts) + (" (whole namespace)" if len(parts) == 1 else "")

    def covers(self, namespace: str, kind: str, name: str) -> bool:
        return self.namespace == namespace and self.kind in (None, kind) and self.name in (None, name)


def _problems(entry: Any) -> list[str]:
    """What is wrong with one entry, as a reader can act on it."""
    if not isinstance(entry, Mapping):
        return ["must be an object with namespace and reason"]
    problems = []
    unknown = sorted(set(entry) - {"namespace", "kind", "name", "reason"})
    if unknown:
        problems.append(f"unknown keys {', '.join(unknown)} (allowed: namespace, kind, name, reason)")
    namespace = entry.get("namespace")
    if not isinstance(namespace, str):
        problems.append('namespace is required (a namespace, or "" with kind and name for a cluster-scoped object)')
    elif not re.match(_NAMESPACE, namespace) or len(namespace) > 63:
        problems.append(f"namespace must be a namespace's name, got {namespace!r}")
    elif namespace == "" and not (entry.get("kind") and entry.get("name")):
        problems.append('namespace "" (cluster-scoped objects) needs kind and name')
    kind = entry.get("kind")
    if kind is not None and not (isinstance(kind, str) and re.match(_KIND, kind)):
        problems.append(f"kind must be an object's kind as Kubernetes spells it (e.g. DaemonSet), got {kind!r}")
    name = entry.get("name")
    if name is not None and not (isinstance(name, str) and re.match(_NAME, name) and len(name) <= 253):
        problems.append(f"name must be an object's metadata.name, got {name!r}")
    reason = entry.get("reason")
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        problems.append(f"reason must say why, in at least {MIN_REASON} characters, got {reason!r}")
    return problems


def parse(rule: str, entries: Any) -> tuple[Exemption, ...]:
    """The exemptions of a rule's config, or ``ExemptionError`` naming the rule and every bad entry."""
    if entries is None:
        return ()
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        raise ExemptionError(f"policy config of {rule}: exemptions must be a list, got {entries!r}")
    problems = [
        f"exemptions[{index}] {json.dumps(entry, default=str)}: {problem}"
        for index, entry in enumerate(entries)
        for problem in _problems(entry)
    ]
    if problems:
        raise ExemptionError(f"policy config of {rule} is refused: " + "; ".join(problems))
    return tuple(
        Exemption(str(e["namespace"]), e.get("kind"), e.get("name"), str(e["reason"]).strip()) for e in entries
    )


def identity(resource_type: str, props: Mapping[str, Any], resource_name: str) -> tuple[str, str, str]:
    """(namespace, kind, name) of a Kubernetes object as an exemption matches it.

    The kind is the type token's last part (``kubernetes:apps/v1:DaemonSet``: DaemonSet); a Helm v3 Release
    is a Release in its ``namespace``. A namespace not known yet (a first preview) raises
    ``UnknownValueError``: the rule then gives up on that object alone, as for any value it needs.
    """
    kind = resource_type.rsplit(":", 1)[-1]
    if resource_type == HELM_RELEASE:
        return str(props.get("namespace") or "default"), kind, str(props.get("name") or resource_name)
    metadata = props.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = str(metadata.get("name") or resource_name)
    if resource_type == NAMESPACE_TYPE:
        return name, kind, name
    if kind in CLUSTER_SCOPED_KINDS:
        return "", kind, name
    return str(metadata.get("namespace") or "default"), kind, name


def exempted(
    exemptions: Iterable[Exemption], resource_type: str, props: Mapping[str, Any], resource_name: str
) -> Exemption | None:
    """The exemption that covers an object, or None."""
    namespace, kind, name = identity(resource_type, props, resource_name)
    return next((e for e in exemptions if e.covers(namespace, kind, name)), None)
