"""Turn a recorded run into what people and tools read: text, JSON, DOT."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import graphviz
import yaml

from tools.engine import CHART_TYPE, SECRET_TEXT, UNKNOWN_TEXT, Resource, Run


def _parse_pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def redact(value: Any, secret_paths: list[str]) -> Any:
    """A copy of ``value`` with the value at every secret path (a JSON Pointer;
    "" is the whole value) replaced by "[secret]"."""
    if "" in secret_paths:
        return SECRET_TEXT
    result = _copy(value)
    for path in secret_paths:
        parts = _parse_pointer(path)
        node = result
        for part in parts[:-1]:
            if isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = None
            if node is None:
                break
        if isinstance(node, dict) and parts[-1] in node:
            node[parts[-1]] = SECRET_TEXT
        elif isinstance(node, list) and parts[-1].isdigit() and int(parts[-1]) < len(node):
            node[int(parts[-1])] = SECRET_TEXT
        else:
            # A secret we cannot place is hidden whole rather than shown.
            return SECRET_TEXT
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def resource_json(resource: Resource) -> dict[str, Any]:
    return {
        "urn": resource.urn,
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent,
        "custom": resource.custom,
        "provider": resource.provider,
        "protect": resource.protect,
        "dependencies": resource.dependencies,
        "propertyDependencies": resource.property_dependencies,
        "ignoreChanges": resource.ignore_changes,
        "aliases": resource.aliases,
        "retainOnDelete": resource.retain_on_delete,
        "deleteBeforeReplace": resource.delete_before_replace,
        "inputs": redact(resource.inputs, resource.secret_inputs),
        "outputs": redact(resource.outputs, resource.secret_outputs),
        "secretInputs": resource.secret_inputs,
        "secretOutputs": resource.secret_outputs,
    }


def _charts(run: Run) -> list[Resource]:
    return [r for r in run.resources if r.type == CHART_TYPE]


def _chart_keys(run: Run) -> dict[str, str]:
    """Chart URN -> how summaries name it: its name, or its URN when two charts share a name."""
    charts = _charts(run)
    names = Counter(c.name for c in charts)
    return {c.urn: c.name if names[c.name] == 1 else c.urn for c in charts}


def summary(run: Run) -> dict[str, Any]:
    managed = [r for r in run.resources if r.type != "pulumi:pulumi:Stack"]
    keys = _chart_keys(run)
    return {
        "resources": len(managed),
        "create": len(managed),
        "custom": sum(1 for r in managed if r.custom),
        "components": sum(1 for r in managed if not r.custom),
        "protected": sum(1 for r in managed if r.protect),
        "byType": dict(sorted(Counter(r.type for r in managed).items())),
        "securePlaceholders": run.placeholders,
        "charts": {key: len(run.children(urn)) for urn, key in keys.items()},
    }


def run_json(run: Run, policy: dict[str, Any]) -> dict[str, Any]:
    """The --json document. Other tools build on this shape: keep it stable."""
    return {
        "stack": run.stack,
        "project": run.project,
        "mode": run.mode,
        "resources": [resource_json(r) for r in run.resources],
        "outputs": {k: SECRET_TEXT if k in run.secret_outputs else v for k, v in run.outputs.items()},
        "policy": policy,
        "summary": summary(run),
        "notes": run.notes,
    }


def _show_output(value: Any) -> str:
    if value == UNKNOWN_TEXT:
        return "output<unknown until created>"
    if isinstance(value, list):
        return "[" + ", ".join(_show_output(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)


def run_text(run: Run, policy: dict[str, Any]) -> str:
    """A preview that reads like `pulumi preview`: tree, counts, outputs, policy."""
    lines = [
        f"Previewing {'update' if run.mode == 'update' else 'create'} of {run.project}/{run.stack} "
        f"(offline engine, mode: {run.mode}; no cloud account, no Pulumi CLI)",
        "",
    ]
    if run.placeholders:
        lines += [
            f"note: {len(run.placeholders)} secure config value(s) cannot be decrypted offline and were "
            f"replaced by placeholders: {', '.join(run.placeholders)}",
            "",
        ]
    children: dict[str | None, list[Resource]] = {}
    for resource in run.resources:
        children.setdefault(resource.parent, []).append(resource)
    width = max((len(r.type) for r in run.resources), default=10) + 8
    lines.append(f"     {'Type':<{width}} Name")

    def walk(resource: Resource, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else ("└─ " if last else "├─ ")
        flags = " [protect]" if resource.protect else ""
        label = f"{prefix}{branch}{resource.type}"
        lines.append(f" +   {label:<{width}} {resource.name}{flags}")
        kids = children.get(resource.urn, [])
        extension = "" if depth == 0 else ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, prefix + extension, i == len(kids) - 1, depth + 1)

    for root in children.get(None, []):
        walk(root, "", True, 0)

    info = summary(run)
    lines += [
        "",
        "Resources:",
        f"    + {info['create']} to create ({info['custom']} resources, "
        f"{info['components']} components, {info['protected']} protected)",
        "",
        "By type:",
    ]
    lines += [f"    {count:>4}  {type_}" for type_, count in info["byType"].items()]
    if info["charts"]:
        lines += ["", "Charts:"]
        lines += [f"    {count:>4}  {chart} (rendered objects)" for chart, count in info["charts"].items()]
    if run.notes:
        lines += ["", "Notes:"]
        lines += [f"    {note}" for note in run.notes]
    lines += ["", "Outputs:"]
    for name, value in run.outputs.items():
        shown = "[secret]" if name in run.secret_outputs else _show_output(value)
        lines.append(f"    {name}: {shown}")
    lines += ["", f"Policy ({policy.get('pack')}, {len(policy.get('policies', []))} policies):"]
    if not policy["violations"]:
        lines.append("    no violations")
    for level in ("mandatory", "advisory"):
        found = [v for v in policy["violations"] if v["level"] == level]
        if found:
            lines.append(f"    {level} ({len(found)}):")
        for violation in found:
            lines.append(f"      {violation['policy']}  {violation['urn'] or '(stack)'}")
            lines.append(f"          {violation['message']}")
            lines.append(f"          fix: {violation['remediation']}")
    unknown = policy.get("unknownDuringPreview", [])
    if unknown:
        names = sorted({u["policy"] for u in unknown})
        lines.append(
            f"    {len(unknown)} check(s) of {len(names)} policies could not run: values unknown until created "
            f"(advisory, as `pulumi preview` reports them; run --mode update to see them evaluated)"
        )
    return "\n".join(lines)


def _node_id(urn: str) -> str:
    # A URN's ':' reads as a port in DOT; keep ids to safe characters.
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", urn)


def run_dot(run: Run) -> str:
    """The resource graph: parent edges solid, dependencies dashed."""
    graph = graphviz.Digraph(name=f"{run.project}_{run.stack}", graph_attr={"rankdir": "LR", "fontsize": "10"})
    graph.attr("node", shape="box", fontsize="9", style="rounded")
    for resource in run.resources:
        shape = "box" if resource.custom else "folder"
        graph.node(_node_id(resource.urn), f"{resource.name}\n{resource.type}", shape=shape)
    for resource in run.resources:
        if resource.parent:
            graph.edge(_node_id(resource.parent), _node_id(resource.urn))
        for dep in resource.dependencies:
            if dep != resource.parent:
                graph.edge(_node_id(dep), _node_id(resource.urn), style="dashed", color="gray50")
    return str(graph.source)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _manifest(resource: Resource) -> dict[str, Any] | None:
    body = redact(resource.inputs, resource.secret_inputs)
    if not isinstance(body, dict) or "kind" not in body:
        return None
    ordered = {k: body[k] for k in ("apiVersion", "kind", "metadata") if k in body}
    ordered.update({k: v for k, v in body.items() if k not in ordered})
    return ordered


def kubernetes_manifests(run: Run) -> dict[str, str]:
    """File name -> YAML of every in-cluster object (patches included), as the
    provider would send it; secret values redacted. A Chart's rendered objects go
    under ``<chart name>/<kind>-<name>.yaml``."""
    manifests: dict[str, str] = {}
    charts = {c.urn: _safe(c.name) for c in _charts(run)}
    if len(set(charts.values())) < len(charts):  # two charts with one name: their URNs tell them apart
        charts = {urn: _safe(urn.split("::", 2)[2]) for urn in charts}
    for resource in run.resources:
        if (
            not resource.custom
            or not resource.type.startswith("kubernetes:")
            or resource.type.startswith("kubernetes:helm.sh/")
        ):
            continue
        body = _manifest(resource)
        if body is None:
            continue
        if resource.parent in charts:
            meta = body.get("metadata") or {}
            stem = f"{body['kind'].lower()}-{meta.get('name')}"
            name = f"{charts[resource.parent]}/{_safe(stem)}.yaml"
            if name in manifests:  # the same kind and name in another namespace or API group
                stem = f"{body['kind'].lower()}-{meta.get('namespace') or 'cluster'}-{meta.get('name')}"
                name = f"{charts[resource.parent]}/{_safe(stem)}.yaml"
            n = 2
            while name in manifests:
                name = f"{charts[resource.parent]}/{_safe(stem)}-{n}.yaml"
                n += 1
        else:
            suffix = "-patch" if resource.type.endswith("Patch") else ""
            name = _safe(f"{body['kind'].lower()}-{resource.name}{suffix}.yaml")
        manifests[name] = yaml.safe_dump(body, sort_keys=False)
    return manifests
