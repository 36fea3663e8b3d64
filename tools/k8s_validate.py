"""Validate every Kubernetes object the platform deploys, offline.

``validate_objects(objects, kube_version, extra_crds)`` returns one
:class:`ValidationError` per problem, naming the object (kind, namespace/name)
and the problem (a path such as ``spec.template.spec.containers[0].image`` and
a message). ``python -m tools.k8s_validate DIR --kube-version 1.35`` does the
same for every YAML document under DIR (the offline preview's ``--out DIR``
writes ``DIR/manifests/*.yaml``).

Built-in kinds
    Checked against the official schema of the cluster's Kubernetes version as
    shipped by ``kubernetes-validate`` (its "strict" variant: an unknown field
    is an error). The schema files and their lookup are kubernetes-validate's
    (``kubernetes_validate.utils``); the validation loop is ours, with the same
    Draft 2020-12 validator and registry, so that (unlike
    ``kubernetes_validate.utils.validate``) *every* error of an object is
    reported, validators are built once per kind, and the placeholders below
    are understood. A schema file is used only if its
    ``x-kubernetes-group-version-kind`` names exactly the object's group,
    version and kind (so ``kind: Affinity`` is not a kind). These schemas allow
    ``null`` everywhere and carry no enums except apiVersion/kind: an invalid
    enum value (``imagePullPolicy: Sometimes``) is NOT caught, nor is anything
    the API server checks beyond the schema (name formats, immutable fields,
    cross-field rules, admission).

Custom kinds
    Checked against the ``openAPIV3Schema`` of the served version of the
    matching CustomResourceDefinition (group, kind, version), with
    ``jsonschema``'s Draft 4 validator (OpenAPI 3.0 schemas are Draft 4 with
    extensions: boolean ``exclusiveMinimum``/``exclusiveMaximum``), extended
    for Kubernetes structural schemas:

    - unknown fields are errors wherever the API server would prune them: an
      object node (``type: object`` or ``properties``) without
      ``additionalProperties`` and without
      ``x-kubernetes-preserve-unknown-fields: true``;
    - ``x-kubernetes-int-or-string``: an integer or a string;
    - ``x-kubernetes-embedded-resource``: apiVersion, kind and metadata are
      allowed (metadata as any object);
    - ``nullable``, and ``null`` in general: accepted (the API server prunes a
      ``null`` in a non-nullable field rather than rejecting it);
    - the object's own ``metadata`` is checked only as an object; apiVersion
      and kind are checked by the lookup itself.

    Not checked: ``format``, CEL rules (``x-kubernetes-validations``),
    ``x-kubernetes-list-type`` uniqueness, defaults, conversion webhooks.

    CRDs come from, highest precedence first: CustomResourceDefinitions among
    the objects being validated; ``extra_crds``; the CRDs shipped by the cached
    charts (see :func:`chart_crds`: each chart of the chart cache that mentions
    CustomResourceDefinition is rendered with ``helm template --include-crds``;
    the result is cached in ``.tools/crds/`` keyed by the archive's sha256).
    When two cached charts ship the same (group, kind), the first of
    :data:`CRD_CHART_ORDER` wins, then the others by name. The chart cache is
    only read when an object is not a built-in kind and no given CRD defines
    it; a missing cache or helm then raises :class:`ChartCacheError`.

A ``v1 List`` is checked item by item, as kubectl and the Kubernetes provider apply it.

Anything else (an apiVersion/kind with neither a schema in that version nor a
CRD, a CRD version that is not served, a document that is not an object with
apiVersion and kind) is an error: nothing passes unchecked.

Placeholders
    Written manifests show a secret value as ``"[secret]"`` and a value unknown
    offline as ``"[unknown]"``. Such a string stands for a value nobody can see
    here, and redaction may replace a whole subtree (a Secret's ``data`` map
    becomes ``"[secret]"``), so a value that is exactly one of these strings is
    valid against ANY schema: where a string, bytes, an integer (a port that is
    ``"[unknown]"`` until apply), a map or a list is expected. Strings that
    merely contain a placeholder ("arn:aws:iam::[unknown]:role/x") are plain
    strings and are checked as such. The exceptions are apiVersion and kind:
    an object whose kind is a placeholder cannot be identified and is an error.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import jsonschema.exceptions  # type: ignore[import-untyped]
import jsonschema.validators  # type: ignore[import-untyped]
import kubernetes_validate.utils as kv  # type: ignore[import-untyped]
import yaml
from referencing import Registry, Resource

from tools.charts import PROJECT_DIR, ChartCacheError, chart_cache, helm_binary

__all__ = [
    "CRD_CHART_ORDER",
    "PLACEHOLDERS",
    "ChartCacheError",
    "ValidationError",
    "chart_crds",
    "load_yaml_documents",
    "main",
    "supported_kube_versions",
    "validate_objects",
]

SECRET_TEXT = "[secret]"
UNKNOWN_TEXT = "[unknown]"
PLACEHOLDERS = frozenset({SECRET_TEXT, UNKNOWN_TEXT})
"""Exactly what tools.engine writes for secret and unknown values."""

CRD_CACHE_DIR = PROJECT_DIR / ".tools" / "crds"
_CRD_CACHE_FORMAT = 1
"""Bump when the shape of the files in CRD_CACHE_DIR or the rendering changes."""

CRD_CHART_ORDER = ("prometheus-operator-crds", "karpenter-crd", "external-secrets", "velero", "base")
"""Charts whose CRDs win when several cached charts ship the same (group, kind)."""

CRD_RENDER_VALUES: dict[str, dict[str, Any]] = {
    # These charts refuse to render without a cluster name; their CRDs do not depend on it.
    "karpenter": {"settings": {"clusterName": "crd-extraction"}},
    "aws-load-balancer-controller": {"clusterName": "crd-extraction"},
    # external-secrets keeps its CRDs in templates/ behind this value (true by default).
    "external-secrets": {"installCRDs": True},
}
"""Values needed to render a chart's CRDs (chart name -> values)."""

CRD_KIND = ("apiextensions.k8s.io", "CustomResourceDefinition")


@dataclass(frozen=True)
class ValidationError:
    """One problem with one object. ``index`` is the object's position in the input."""

    index: int
    api_version: str
    kind: str
    namespace: str
    name: str
    path: str
    message: str

    @property
    def object(self) -> str:
        """``Kind namespace/name`` (``Kind name`` for an object without namespace)."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '?'} {where or '?'}"

    def __str__(self) -> str:
        return f"{self.object} ({self.api_version or '?'}): {self.path or '(root)'}: {self.message}"


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that reads a bare ``=`` as the string "=" (PyYAML takes it for the YAML 1.1 value tag)."""


def _construct_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:value", _construct_value)


def load_yaml_documents(text: str) -> list[Any]:
    """The non-empty documents of a YAML stream as helm writes it (libyaml when available; ``=`` is a string)."""
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


# --- helpers --------------------------------------------------------------------------------------------------------


def _is_placeholder(value: object) -> bool:
    return isinstance(value, str) and value in PLACEHOLDERS


def _format_path(parts: Iterable[object]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _unknown_fields(schema: Mapping[str, Any], instance: Mapping[str, Any]) -> list[str]:
    known = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    return [key for key in instance if key not in known and not any(re.search(pattern, key) for pattern in patterns)]


def _errors_from(validator: jsonschema.protocols.Validator, instance: Any) -> Iterator[tuple[str, str]]:
    """(path, message) for each error, an unknown field named by its own path."""
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        path = tuple(error.absolute_path)
        unknown = error.validator == "additionalProperties" and error.validator_value is False
        if unknown and isinstance(error.instance, dict):
            for key in _unknown_fields(error.schema, error.instance):
                yield _format_path((*path, key)), "unknown field (not in the schema)"
            continue
        yield _format_path(path), error.message


def _skipping(check: Callable[..., Any], skip: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def keyword(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if skip(instance, schema):
            return
        yield from check(validator, value, instance, schema) or ()

    return keyword


# --- built-in kinds: kubernetes-validate's schemas ------------------------------------------------------------------


def supported_kube_versions() -> list[str]:
    """The Kubernetes versions ("1.35") kubernetes-validate has schemas for."""
    return sorted({kv.major_minor(v) for v in kv.all_versions()}, key=lambda v: tuple(int(p) for p in v.split(".")))


def _schema_dir(kube_version: str) -> tuple[str, str]:
    """(major.minor, the strict schema folder) for "1.35", "v1.35" or "1.35.2"; ValueError if unsupported."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", kube_version.strip())
    supported = supported_kube_versions()
    if not match or f"{match[1]}.{match[2]}" not in supported:
        raise ValueError(
            f"kubernetes-validate has no schemas for Kubernetes {kube_version!r}; supported: {', '.join(supported)}"
        )
    minor = f"{match[1]}.{match[2]}"
    full = next(v for v in kv.all_versions() if kv.major_minor(v) == minor)
    return minor, f"v{full}-local-strict"


_PlaceholderDraft202012 = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {
        name: _skipping(check, lambda instance, _schema: _is_placeholder(instance))
        for name, check in jsonschema.Draft202012Validator.VALIDATORS.items()
    },
)


@cache
def _builtin_registry(schema_dir: str, minor: str) -> Registry:
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", minor)
    return Resource.from_contents(definitions) @ Registry()


@cache
def _builtin_validator(kube_version: str, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """The strict validator of a built-in kind, or None if this version has no such kind."""
    minor, schema_dir = _schema_dir(kube_version)
    # kubernetes-validate's own file naming: rbac.authorization.k8s.io/v1 -> rbac-v1
    short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{short}.json", minor)
    except FileNotFoundError:
        return None
    group, version = _split_api_version(api_version)
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("group") == group and g.get("version") == version and g.get("kind") == kind for g in gvks):
        return None  # a sub-type (Affinity) or a same-named kind of another group
    registry = Resource.from_contents(schema) @ _builtin_registry(schema_dir, minor)
    return _PlaceholderDraft202012(schema, registry=registry)


# --- custom kinds: CRD schemas --------------------------------------------------------------------------------------


def _int_or_string(_validator: Any, value: Any, instance: Any, _schema: Any) -> Iterator[jsonschema.ValidationError]:
    if value and not (isinstance(instance, str) or (isinstance(instance, int) and not isinstance(instance, bool))):
        yield jsonschema.ValidationError(f"{instance!r} is neither an integer nor a string")


def _pruned_or_placeholder(instance: Any, _schema: Any) -> bool:
    return instance is None or _is_placeholder(instance)


_STRUCTURAL_KEYWORDS = {
    name: _skipping(check, _pruned_or_placeholder) for name, check in jsonschema.Draft4Validator.VALIDATORS.items()
}
# With x-kubernetes-int-or-string, the anyOf [integer, string] beside it says the same thing: report it once.
_STRUCTURAL_KEYWORDS["anyOf"] = _skipping(
    jsonschema.Draft4Validator.VALIDATORS["anyOf"],
    lambda instance, schema: _pruned_or_placeholder(instance, schema) or bool(schema.get("x-kubernetes-int-or-string")),
)
_STRUCTURAL_KEYWORDS["x-kubernetes-int-or-string"] = _skipping(_int_or_string, _pruned_or_placeholder)
_StructuralDraft4 = jsonschema.validators.extend(jsonschema.Draft4Validator, _STRUCTURAL_KEYWORDS)

_ANY_OBJECT: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _structural(node: Any) -> Any:
    """A copy of a structural schema in which unknown fields are errors where the API server prunes them.

    Only the structural skeleton (properties, items, additionalProperties) is walked: allOf/anyOf/oneOf/not
    branches hold value validations that need not list every property."""
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if isinstance(node.get("properties"), dict):
        node["properties"] = {key: _structural(value) for key, value in node["properties"].items()}
    if isinstance(node.get("items"), dict):
        node["items"] = _structural(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _structural(node["additionalProperties"])
    if node.get("x-kubernetes-embedded-resource"):
        node["properties"] = {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            **node.get("properties", {}),
            "metadata": _ANY_OBJECT,
        }
    is_object = node.get("type") == "object" or "properties" in node
    if is_object and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        node["additionalProperties"] = False
    return node


def _custom_schema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(dict(openapi))
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = _ANY_OBJECT
    schema.setdefault("type", "object")
    return _structural(schema)  # type: ignore[no-any-return]


def _crd_key(crd: Mapping[str, Any]) -> tuple[str, str] | None:
    spec = crd.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("names"), dict):
        return None
    group, kind = spec.get("group"), spec["names"].get("kind")
    return (group, kind) if isinstance(group, str) and isinstance(kind, str) else None


def _is_crd(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("apiVersion"), str)
        and (_split_api_version(obj["apiVersion"])[0], obj.get("kind")) == CRD_KIND
    )


def _served_versions(crd: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """Served version name -> its openAPIV3Schema (None: the CRD gives no schema)."""
    spec = crd.get("spec") or {}
    legacy = (spec.get("validation") or {}).get("openAPIV3Schema")  # apiextensions.k8s.io/v1beta1
    served: dict[str, Mapping[str, Any] | None] = {}
    for version in spec.get("versions") or []:
        if isinstance(version, dict) and version.get("served", True) and isinstance(version.get("name"), str):
            served[version["name"]] = ((version.get("schema") or {}).get("openAPIV3Schema")) or legacy
    if not served and isinstance(spec.get("version"), str):
        served[spec["version"]] = legacy
    return served


_custom_validators: dict[str, jsonschema.protocols.Validator] = {}


def _custom_validator(openapi: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    key = hashlib.sha256(json.dumps(openapi, sort_keys=True, default=str).encode()).hexdigest()
    validator = _custom_validators.get(key)
    if validator is None:
        validator = _StructuralDraft4(_custom_schema(openapi))
        _custom_validators[key] = validator
    return validator


# --- CRDs shipped by the cached charts ------------------------------------------------------------------------------


def _chart_name(archive: Path) -> str:
    return re.sub(r"-v?\d+\.\d+\.\d+.*$", "", archive.name.removesuffix(".tgz"))


def _mentions_crds(archive: Path) -> bool:
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                if handle is not None and b"CustomResourceDefinition" in handle.read():
                    return True
    return False


def _render_crds(archive: Path, kube_version: str) -> list[dict[str, Any]]:
    name = _chart_name(archive)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as values:
        json.dump(CRD_RENDER_VALUES.get(name, {}), values)
    try:
        result = subprocess.run(
            [
                str(helm_binary()),
                "template",
                "crds",
                str(archive),
                "--include-crds",
                "--namespace",
                "crds",
                "--kube-version",
                f"{kube_version}.0",
                "--values",
                values.name,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        os.unlink(values.name)
    if result.returncode != 0:
        raise ChartCacheError(
            f"helm template --include-crds {archive.name} failed (add the values it needs to "
            f"CRD_RENDER_VALUES in tools/k8s_validate.py): {result.stderr.strip()}"
        )
    return [doc for doc in load_yaml_documents(result.stdout) if _is_crd(doc)]


def _archive_crds(archive: Path, kube_version: str) -> list[dict[str, Any]]:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    values = json.dumps(CRD_RENDER_VALUES.get(_chart_name(archive), {}), sort_keys=True)
    key = hashlib.sha256(f"{_CRD_CACHE_FORMAT} {digest} {kube_version} {values}".encode()).hexdigest()[:24]
    cached = CRD_CACHE_DIR / f"{archive.name.removesuffix('.tgz')}-{key}.json"
    if cached.is_file():
        try:
            data = json.loads(cached.read_text())
            if isinstance(data, list):
                return data
        except ValueError:
            pass  # a torn write: render again
    crds = _render_crds(archive, kube_version) if _mentions_crds(archive) else []
    CRD_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(crds))
    partial.replace(cached)
    return crds


@cache
def _chart_crds(cache: Path, kube_version: str) -> dict[str, list[dict[str, Any]]]:
    archives = sorted(cache.glob("*.tgz"))
    if not archives:
        raise ChartCacheError(f"the chart cache {cache} holds no packaged charts (*.tgz)")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda archive: _archive_crds(archive, kube_version), archives))
    return {archive.name.removesuffix(".tgz"): crds for archive, crds in zip(archives, results, strict=True)}


def chart_crds(kube_version: str = "1.35") -> dict[str, list[dict[str, Any]]]:
    """Chart (``name-version``) -> the CustomResourceDefinitions it renders with ``--include-crds``, for every
    chart in the chart cache (charts without CRDs map to []). Cached on disk by archive sha256 and in-process."""
    minor, _ = _schema_dir(kube_version)
    return _chart_crds(chart_cache().resolve(), minor)


def _chart_rank(chart: str) -> tuple[int, str]:
    name = re.sub(r"-v?\d+\.\d+\.\d+.*$", "", chart)
    return (CRD_CHART_ORDER.index(name) if name in CRD_CHART_ORDER else len(CRD_CHART_ORDER), chart)


@cache
def _cached_crd_index(cache: Path, kube_version: str) -> dict[tuple[str, str], dict[str, Any]]:
    index: dict[tuple[str, str], dict[str, Any]] = {}
    crds = _chart_crds(cache, kube_version)
    for chart in sorted(crds, key=_chart_rank):
        for crd in crds[chart]:
            key = _crd_key(crd)
            if key is not None:
                index.setdefault(key, crd)
    return index


# --- validation -----------------------------------------------------------------------------------------------------


def _is_list(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("apiVersion") == "v1"
        and obj.get("kind") == "List"
        and isinstance(obj.get("items"), list)
    )


def _identity(obj: Any) -> tuple[str, str, str, str]:
    if not isinstance(obj, dict):
        return "", "", "", ""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    return (
        str(obj.get("apiVersion") or ""),
        str(obj.get("kind") or ""),
        str(metadata.get("namespace") or ""),
        str(name),
    )


def validate_objects(
    objects: Iterable[Any], kube_version: str, extra_crds: Iterable[Mapping[str, Any]] = ()
) -> list[ValidationError]:
    """Every problem of every object, in input order (see the module docstring for what is checked).

    ``kube_version`` is the cluster's version ("1.35"; "v1.35.2" works too): ValueError if kubernetes-validate
    has no schemas for it. CustomResourceDefinitions among ``objects`` and in ``extra_crds`` define custom
    kinds (before the chart cache's). Raises ChartCacheError if the chart cache is needed and missing."""
    objects = list(objects)
    minor, _ = _schema_dir(kube_version)
    given: dict[tuple[str, str], Mapping[str, Any]] = {}
    flat = [item for obj in objects for item in (obj["items"] if _is_list(obj) else [obj])]
    for crd in [*(o for o in flat if _is_crd(o)), *extra_crds]:
        key = _crd_key(crd)
        if key is not None:
            given.setdefault(key, crd)

    errors: list[ValidationError] = []
    for index, obj in enumerate(objects):
        if _is_list(obj):
            # kubectl and the Kubernetes provider apply a v1 List item by item.
            extra = sorted(set(obj) - {"apiVersion", "kind", "metadata", "items"})
            errors.extend(
                ValidationError(index, *_identity(obj), key, "unknown field (not in the schema)") for key in extra
            )
            members = obj["items"]
        else:
            members = [obj]
        for member in members:
            identity = _identity(member)
            errors.extend(
                ValidationError(index, *identity, path, message) for path, message in _problems(member, minor, given)
            )
    return errors


def _problems(obj: Any, minor: str, given: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(path, message) for each problem of one object."""
    if not isinstance(obj, dict):
        return [("", f"not a Kubernetes object: a YAML {type(obj).__name__}, not a mapping")]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [("", "not a Kubernetes object: apiVersion and kind must be strings")]
    if _is_placeholder(api_version) or _is_placeholder(kind) or not kind or not api_version:
        return [("", f"cannot identify the object: apiVersion {api_version!r}, kind {kind!r}")]
    group, version = _split_api_version(api_version)

    crd = given.get((group, kind))
    if crd is None and "." in group and _builtin_validator(minor, api_version, kind) is None:
        crd = _cached_crd_index(chart_cache().resolve(), minor).get((group, kind))
    if crd is not None:
        served = _served_versions(crd)
        if version not in served:
            return [
                (
                    "apiVersion",
                    f"version {version!r} of {kind} is not served by its CRD (served: {', '.join(served) or 'none'})",
                )
            ]
        openapi = served[version]
        if openapi is None:
            return []  # the CRD accepts any content in this version
        return list(_errors_from(_custom_validator(openapi), obj))

    validator = _builtin_validator(minor, api_version, kind)
    if validator is None:
        return [
            (
                "",
                f"unknown kind: {api_version} {kind} is neither a built-in kind of Kubernetes {minor} "
                "nor defined by a known CustomResourceDefinition",
            )
        ]
    return list(_errors_from(validator, obj))


# --- command line ---------------------------------------------------------------------------------------------------


def _load_documents(folder: Path) -> tuple[list[tuple[Path, int, Any]], list[str]]:
    documents: list[tuple[Path, int, Any]] = []
    problems: list[str] = []
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for file in files:
        try:
            loaded = load_yaml_documents(file.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: not valid YAML: {exc}".replace("\n", " "))
            continue
        documents.extend((file, number, doc) for number, doc in enumerate(loaded, start=1))
    return documents, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.k8s_validate",
        description="Validate every Kubernetes object in the YAML files under DIR (recursively): built-in kinds "
        "strictly against the official schemas, custom kinds against the CRDs of the chart cache and of DIR.",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="a folder of YAML manifests, e.g. a preview's --out")
    parser.add_argument("--kube-version", required=True, help='the cluster\'s Kubernetes version, e.g. "1.35"')
    args = parser.parse_args(argv)

    if not args.dir.is_dir():
        print(f"error: {args.dir} is not a directory", file=sys.stderr)
        return 2
    try:
        _schema_dir(args.kube_version)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    documents, problems = _load_documents(args.dir)
    if not documents and not problems:
        print(f"error: no YAML documents under {args.dir}", file=sys.stderr)
        return 2
    try:
        errors = validate_objects([doc for _, _, doc in documents], args.kube_version)
    except ChartCacheError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    for problem in problems:
        print(problem)
    for err in errors:
        file, number, _ = documents[err.index]
        print(f"{file} #{number}: {err}")

    members = [item for _, _, doc in documents for item in (doc["items"] if _is_list(doc) else [doc])]
    objects = Counter(_identity(item)[1] or "?" for item in members)
    failed = Counter(err.kind or "?" for err in {(e.index, e.kind, e.namespace, e.name): e for e in errors}.values())
    print()
    width = max(len(kind) for kind in objects)
    for kind in sorted(objects):
        print(f"{kind:<{width}}  {objects[kind]:>4} objects  {failed[kind]:>4} invalid")
    total = len(errors) + len(problems)
    print(f"{len(members)} objects in {len({f for f, _, _ in documents})} files: {total} errors")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
