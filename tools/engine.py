"""The offline engine: run a Pulumi program under the SDK's mocks and record it.

``run_program`` runs any callable that creates resources (the whole
``__main__.py`` or one component) with a stack's config, in one of two modes:

- ``preview``: as a first ``pulumi preview`` of an empty stack. Ids and every
  computed output are unknown; resources see their inputs echoed back.
- ``update``: as ``pulumi up``. Each resource gets realistic outputs from
  ``tools.fakes`` (ids, ARNs in the provider's region, ``tagsAll``).

Every registration is recorded as the engine would receive it: URN, type,
parent, inputs (camelCase), outputs, dependencies, property dependencies,
provider, protect, ignore changes, aliases and which values are secret.

Conditions that mean a bug under the real engine stop the run: an Output
used as a string, a warning logged by the program or an SDK, a resource or
data source that would fall back to a default provider Pulumi.yaml disables,
and an invoke the engine has no answer for.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.rpc import UNKNOWN
from pulumi.runtime.stack import massage, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tools import fakes, yamlv2
from tools.helm import ChartCacheError, HelmError, render_chart

MODES = ("preview", "update")

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
SIG_KEY = SECRET_SIG  # the special-signature key is the same for every kind
UNKNOWN_TEXT = "[unknown]"
SECRET_TEXT = "[secret]"
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
STACK_TYPE = "pulumi:pulumi:Stack"
CHART_UNKNOWN_NOTE = "Input properties have unknown values. Preview is incomplete."


class EngineError(Exception):
    """The program cannot run as the real engine would run it."""

    def __init__(self, message: str, *, config_error: bool = False) -> None:
        super().__init__(message)
        self.config_error = config_error


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str | None = None
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    aliases: list[Any] = field(default_factory=list)
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    secret_inputs: list[str] = field(default_factory=list)
    """Paths (dotted, [i] for list items) of input values that are secret."""
    secret_outputs: list[str] = field(default_factory=list)
    raw_inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """Inputs as the wire carries them (secret and unknown markers kept): what the policy gate sends."""
    raw_outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    remote: bool = False
    """A provider-side component (a v4 Chart): the engine sends Analyze no inputs for it."""

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]


@dataclass
class Run:
    project: str
    stack: str
    mode: str
    resources: list[Resource]
    outputs: dict[str, Any]
    secret_outputs: list[str]
    placeholders: list[str] = field(default_factory=list)
    invokes: list[tuple[str, Any]] = field(default_factory=list)
    """Data sources called: (token, arguments)."""
    notes: list[str] = field(default_factory=list)
    """What a provider reports without failing the run (a Chart rendered nothing: unknown inputs)."""

    def by_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def get(self, urn: str) -> Resource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children(self, urn: str) -> list[Resource]:
        return [r for r in self.resources if r.parent == urn]


# --- decoding what the SDK sends --------------------------------------------------


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def pointer(*parts: str | int) -> str:
    """A JSON Pointer (RFC 6901): unambiguous for keys with dots, slashes or brackets."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def decode(value: Any, path: str = "", secrets: list[str] | None = None) -> Any:
    """A Struct-as-dict value as plain data; secret paths (JSON Pointers, "" for
    the whole value) go to ``secrets``."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_VALUE:
            if secrets is not None:
                secrets.append(path)
            return decode(value.get("value"), path, secrets)
        if value.get(SIG_KEY) == RESOURCE_SIG:
            return value.get("urn")
        return {k: decode(v, path + pointer(k), secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, path + pointer(i), secrets) for i, v in enumerate(value)]
    if isinstance(value, float):
        return _number(value)
    if value == UNKNOWN:
        return UNKNOWN_TEXT
    return value


def _struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


def _secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_VALUE, "value": value}


def _top_key(path: str) -> str:
    """The top-level property of a JSON Pointer."""
    return path.split("/")[1].replace("~1", "/").replace("~0", "~") if path else ""


def _provider_urn(ref: str) -> str | None:
    return ref.rsplit("::", 1)[0] if ref else None


# --- the recording monitor ---------------------------------------------------------


class _Mocks(pulumi_mocks.Mocks):
    """Answers invokes; resources are answered by the monitor itself."""

    def __init__(self, monitor: RecordingMonitor) -> None:
        self.monitor = monitor

    def call(self, args: pulumi_mocks.MockCallArgs) -> Any:
        # A bare dict means "no check failures" to the MockMonitor.
        return self.monitor.answer_invoke(args)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        raise AssertionError("RecordingMonitor answers resources itself")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(
        self,
        preview: bool,
        default_region: str | None,
        disabled_default_providers: set[str],
        kube_version: str | None = None,
        api_versions: list[str] | None = None,
        *,
        on_record: Callable[[Resource], None] | None = None,
    ) -> None:
        self.preview = preview
        self.on_record = on_record
        self.kube_version = kube_version
        self.api_versions = list(api_versions or [])
        self.notes: list[str] = []
        self.default_region = default_region or "us-east-1"
        self.disabled_default_providers = disabled_default_providers
        self.recorded: list[Resource] = []
        self.by_urn: dict[str, Resource] = {}
        self.problems: list[str] = []
        self.invokes: list[tuple[str, Any]] = []
        super().__init__(_Mocks(self))

    def _default_disabled(self, package: str) -> bool:
        return package in self.disabled_default_providers or "*" in self.disabled_default_providers

    # Providers: the region and default tags their resources get.
    def _provider_settings(self, provider_ref: str) -> tuple[str, dict[str, str]]:
        provider = self.by_urn.get(_provider_urn(provider_ref) or "")
        if provider is None:
            return self.default_region, {}
        region = provider.inputs.get("region") or self.default_region
        default_tags = provider.inputs.get("defaultTags") or {}
        if isinstance(default_tags, str):  # providers receive nested inputs as JSON
            default_tags = json.loads(default_tags)
        return str(region), dict(default_tags.get("tags") or {})

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the real engine: a child's type is qualified by its parent's full
        # qualified type, except under the root Stack. (The SDK's MockMonitor
        # keeps only the last segment, so URNs would differ from `pulumi up`.)
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def answer_invoke(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:
        package = args.token.split(":", 1)[0]
        if not args.provider and self._default_disabled(package):
            self.problems.append(
                f"data source {args.token} has no explicit provider; Pulumi.yaml disables the default "
                f"{package} provider, so `pulumi up` would fail. "
                "Pass opts=InvokeOutputOptions(provider=...) or parent=."
            )
        region, _ = self._provider_settings(args.provider)
        self.invokes.append((args.token, decode(dict(args.args))))
        answer = fakes.fake_invoke(args.token, dict(args.args), region, fakes.FAKE_ACCOUNT)
        if answer is None:
            raise EngineError(
                f"the offline engine has no answer for data source {args.token}; add one to tools/fakes.py:fake_invoke"
            )
        return answer

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        resource = _resource_of(request, self.make_urn(request.parent, request.type, request.name))
        if request.type == CHART_TYPE and request.remote:
            return self._construct_chart(request, resource)
        self._record(resource)
        if resource.type == STACK_TYPE or not resource.custom:
            return resource_pb2.RegisterResourceResponse(urn=resource.urn)
        self._check_explicit_provider(resource, request.provider)
        region, default_tags = self._provider_settings(request.provider)
        region = str(resource.inputs.get("region") or region)  # a resource's own region wins
        if self.preview:
            _plan_outputs(resource, region, default_tags)
            rid = ""  # ids are unknown until the resource exists
        else:
            rid = _create_outputs(resource, region, default_tags)
        return _response(resource, rid)

    def _record(self, resource: Resource) -> None:
        if resource.urn in self.by_urn:
            self.problems.append(f"duplicate resource URN {resource.urn}: two resources of the same type and name")
        self.recorded.append(resource)
        self.by_urn[resource.urn] = resource
        if self.on_record is not None:
            # Recorded as the engine receives it: inputs and options are final from here on.
            self.on_record(resource)

    def _check_explicit_provider(self, resource: Resource, provider_ref: str) -> None:
        if provider_ref or resource.type.startswith("pulumi:providers:"):
            return
        if self._default_disabled(resource.package):
            self.problems.append(
                f"{resource.urn} has no explicit provider; Pulumi.yaml disables the default {resource.package} "
                "provider, so `pulumi up` would fail. Create it with parent= a component that has the provider, "
                "or provider=."
            )

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        resource = self.by_urn.get(request.urn)
        if resource is not None:
            secrets: list[str] = []
            resource.raw_outputs = _struct_to_dict(request.outputs)
            resource.outputs = decode(resource.raw_outputs, secrets=secrets)
            resource.secret_outputs = secrets
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    # --- a v4 Chart: the Kubernetes provider's Construct, offline ----------------------

    def _construct_chart(self, request: Any, chart: Resource) -> Any:
        """Record the Chart and, as pulumi-kubernetes 4.34 does in Construct
        (provider/pkg/provider/helm/v4/chart.go), each object its chart renders as a child."""
        providers = dict(request.providers)
        provider_ref = providers.get("kubernetes") or request.provider
        chart.remote = True
        chart.provider = _provider_urn(provider_ref)
        self._record(chart)
        self._check_explicit_provider(chart, provider_ref)
        if _has_unknown(chart.raw_inputs):
            # chart.go: `if !result.Known { ctx.Log.Warn("Input properties have unknown values.
            # Preview is incomplete.") ... return NewConstructResult(comp) }`: nothing is rendered.
            self.notes.append(f"{chart.urn}: {CHART_UNKNOWN_NOTE}")
            return resource_pb2.RegisterResourceResponse(urn=chart.urn)
        try:
            objects = self._render(request.name, chart, provider_ref)
            edges = yamlv2.dependencies(objects)
            order = yamlv2.apply_order(edges)
        except (ChartCacheError, HelmError, yamlv2.ObjectError) as err:
            self.problems.append(f"{chart.urn}: {err}")
            return resource_pb2.RegisterResourceResponse(urn=chart.urn)

        prefix = chart.inputs.get("resourcePrefix")
        prefix = prefix if isinstance(prefix, str) else request.name  # chart.go: the Chart's name by default
        urns: dict[int, str] = {}
        refs: list[dict[str, Any]] = []
        for i in order:
            child = self._chart_child(chart, objects[i], prefix, [urns[d] for d in edges[i]])
            urns[i] = child.urn
            refs.append({SIG_KEY: RESOURCE_SIG, "urn": child.urn, "id": child.outputs.get("id", "")})
        # ChartState.Resources: `resources`, an array of references to the registered objects.
        chart.raw_outputs = {"resources": refs}
        chart.outputs = {"resources": [ref["urn"] for ref in refs]}
        obj = struct_pb2.Struct()
        obj.update(chart.raw_outputs)
        return resource_pb2.RegisterResourceResponse(urn=chart.urn, object=obj)

    def _render(self, name: str, chart: Resource, provider_ref: str) -> list[dict[str, Any]]:
        args = chart.inputs
        chart_name, version = args.get("chart"), args.get("version")
        if not chart_name:
            raise yamlv2.ObjectError("a Chart needs `chart`")
        if not version:
            raise yamlv2.ObjectError(
                f"chart {chart_name} has no version: the provider would take the repository's newest; "
                "pin `version` (the offline engine renders only cached, pinned versions)"
            )
        if args.get("postRenderer"):
            raise yamlv2.ObjectError(f"chart {chart_name}: postRenderer is not supported by the offline engine")
        provider = self.by_urn.get(_provider_urn(provider_ref) or "")
        provider_namespace = provider.inputs.get("namespace") if provider else None
        # chart.go: helm's namespace is the Chart's; objects without one get the Chart's
        # namespace, else the provider's default namespace ("default" unless configured).
        namespace = str(args.get("namespace") or provider_namespace or "default")
        rendered = render_chart(
            str(chart_name),
            str(version),
            release=str(args.get("name") or name),  # chart.go: `if chartArgs.Name == "" { chartArgs.Name = name }`
            namespace=namespace,
            values=args.get("values") or {},
            kube_version=self._kube_version(chart),
            skip_crds=bool(args.get("skipCrds")),
            api_versions=self.api_versions,
            value_files=[_asset_text(a) for a in args.get("valueYamlFiles") or []],
        )
        known_crds = [r.inputs for r in self.recorded if r.custom and yamlv2.is_crd(r.inputs)]
        objects = yamlv2.normalize(rendered, namespace, known_crds)
        if args.get("skipAwait"):
            # yaml.go register: `SetNestedField(obj.Object, "true", "metadata", "annotations", "pulumi.com/skipAwait")`
            for obj in objects:
                annotations = obj["metadata"].get("annotations") or {}
                obj["metadata"]["annotations"] = {**annotations, yamlv2.SKIP_AWAIT: "true"}
        return objects

    def _kube_version(self, chart: Resource) -> str:
        """The cluster's Kubernetes version: the one EKS cluster's `version`, else run_program's kube_version."""
        clusters = [r for r in self.recorded if r.type == "aws:eks/cluster:Cluster"]
        versions = {str(v) for c in clusters if (v := c.inputs.get("version")) not in (None, UNKNOWN_TEXT)}
        if len(clusters) == 1 and len(versions) == 1:
            return versions.pop()
        if self.kube_version:
            return self.kube_version
        found = f"{len(clusters)} EKS clusters" + (f" (versions {', '.join(sorted(versions))})" if versions else "")
        raise yamlv2.ObjectError(
            f"cannot tell which Kubernetes version to render chart {chart.inputs.get('chart')} for: the run has "
            f"{found}; pass run_program(..., kube_version=...)"
        )

    def _chart_child(self, chart: Resource, obj: dict[str, Any], prefix: str, dependencies: list[str]) -> Resource:
        """One rendered object, registered as yaml/v2 `register` registers it: a child of the Chart."""
        type_ = yamlv2.type_token(obj["apiVersion"], obj["kind"])
        name = yamlv2.resource_name(prefix, obj)
        raw: dict[str, Any] = json.loads(json.dumps(obj, default=str))  # YAML dates and the like as text
        if obj["apiVersion"] == "v1" and obj["kind"] == "Secret":
            # yaml.go register: "Always mark these fields as secret": data and stringData.
            raw = {k: _secret(v) if k in ("data", "stringData") else v for k, v in raw.items()}
        secret_inputs: list[str] = []
        inputs = decode(raw, secrets=secret_inputs)
        policy = ((obj.get("metadata") or {}).get("annotations") or {}).get(yamlv2.RESOURCE_POLICY)
        if policy is not None and policy != "keep":
            # chart.go preregister warns on the Chart and goes on.
            self.notes.append(f'{chart.urn}: Unsupported Helm resource policy "{policy}"')
        child = Resource(
            urn=self.make_urn(chart.urn, type_, name),
            type=type_,
            name=name,
            parent=chart.urn,
            custom=True,
            inputs=inputs,
            dependencies=dependencies,
            provider=chart.provider,
            retain_on_delete=policy == "keep",  # chart.go preregister: helm.sh/resource-policy: keep
            secret_inputs=secret_inputs,
            raw_inputs=raw,
            raw_outputs=raw,
        )
        self._record(child)
        if self.preview:
            _plan_outputs(child, self.default_region, {})
            rid = ""
        else:
            rid = _create_outputs(child, self.default_region, {})
        # The SDK turns the Chart's resource references back into resource objects by
        # asking the engine for their state (pulumi:pulumi:getResource).
        self.resources[child.urn] = pulumi_mocks.MockMonitor.ResourceRegistration(child.urn, rid, child.outputs)
        return child


# --- answering a registration ------------------------------------------------------


def _has_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return bool(value == UNKNOWN)


ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"


def _asset_text(asset: Any) -> str:
    """The text of a values file the program passes as an asset (valueYamlFiles)."""
    if isinstance(asset, dict) and asset.get(SIG_KEY) == ASSET_SIG:
        if "text" in asset:
            return str(asset["text"])
        if "path" in asset:
            return Path(asset["path"]).read_text(encoding="utf-8")
    raise yamlv2.ObjectError(f"valueYamlFiles: only FileAsset and StringAsset are supported offline, got {asset!r}")


def _resource_of(request: Any, urn: str) -> Resource:
    """The registration as the engine receives it; outputs echo the inputs until a mode fills them."""
    raw_inputs = _struct_to_dict(request.object)
    secret_inputs: list[str] = []
    inputs = decode(raw_inputs, secrets=secret_inputs)
    return Resource(
        urn=urn,
        type=request.type,
        name=request.name,
        parent=request.parent or None,
        custom=bool(request.custom),
        inputs=inputs,
        dependencies=list(request.dependencies),
        property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        provider=_provider_urn(request.provider),
        protect=bool(request.protect),
        ignore_changes=list(request.ignoreChanges),
        aliases=[json_format.MessageToDict(a) for a in request.aliases] + list(request.aliasURNs),
        retain_on_delete=bool(request.retainOnDelete),
        delete_before_replace=bool(request.deleteBeforeReplace),
        additional_secret_outputs=list(request.additionalSecretOutputs),
        secret_inputs=secret_inputs,
        raw_inputs=raw_inputs,
        raw_outputs=raw_inputs,
    )


def _secret_keys(secret_inputs: list[str], additional: list[str] | None = None) -> set[str]:
    """Top-level properties the engine keeps secret: each holding a secret input, and each additional secret output."""
    return {_top_key(p) for p in secret_inputs} | set(additional or [])


def _secret_copies(secret_keys: set[str]) -> set[str]:
    """Outputs that copy a secret property and so are secret too."""
    # tagsAll copies the tags; never show a secret tag through it.
    return {"tagsAll"} if "tags" in secret_keys else set()


def _mark_secret(values: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """``values`` as the wire carries them, each of ``keys`` wrapped whole as a secret."""
    return {k: _secret(v) if k in keys else v for k, v in values.items()}


def _plan_outputs(resource: Resource, region: str, default_tags: dict[str, str]) -> None:
    """A first preview: the engine echoes the inputs (secrets and unknowns as
    they are) plus what the provider plans (region, tagsAll); ids and computed
    outputs stay unknown."""
    planned = fakes.planned_outputs(resource.type, resource.inputs, region, default_tags)
    planned.pop("tags", None)
    if UNKNOWN_TEXT in json.dumps(resource.inputs.get("tags") or {}):
        planned.pop("tagsAll", None)  # unknown until the tags are
    # The echoed inputs keep their own secret markers; a planned value is
    # secret only when it copies a secret input.
    copies = _secret_copies(_secret_keys(resource.secret_inputs)) & planned.keys()
    resource.outputs = {**resource.inputs, **planned}
    resource.raw_outputs = {**resource.raw_inputs, **_mark_secret(planned, copies)}
    resource.secret_outputs = resource.secret_inputs + sorted(pointer(k) for k in copies)


def _create_outputs(resource: Resource, region: str, default_tags: dict[str, str]) -> str:
    """``pulumi up``: realistic outputs from ``tools.fakes``; returns the new id."""
    rid, outputs = fakes.fake_resource(
        type_=resource.type,
        urn=resource.urn,
        inputs=resource.inputs,
        region=region,
        account=fakes.FAKE_ACCOUNT,
        default_tags=default_tags,
    )
    # The engine keeps a secret input secret in the outputs (the whole
    # top-level value), and makes the listed additional outputs secret.
    secret = _secret_keys(resource.secret_inputs, resource.additional_secret_outputs)
    secret |= _secret_copies(secret)
    resource.outputs = outputs
    resource.raw_outputs = _mark_secret(outputs, secret)
    resource.secret_outputs = sorted(pointer(k) for k in secret if k in outputs)
    return rid


def _response(resource: Resource, rid: str) -> Any:
    obj = struct_pb2.Struct()
    obj.update(resource.raw_outputs)
    return resource_pb2.RegisterResourceResponse(urn=resource.urn, id=rid, object=obj)


class _CollectingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname.lower()}: {record.getMessage()}")


# --- running -------------------------------------------------------------------------


def _resolve(value: Any) -> tuple[Any, bool, bool]:
    """(value, is_known, is_secret) of an exported value."""
    output = pulumi.Output.from_input(value)
    known = _sync_await(output.is_known())
    secret = _sync_await(output.is_secret())
    resolved = _sync_await(output.future(with_unknowns=True))
    return (resolved if known else UNKNOWN_TEXT), known, secret


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.output.Unknown):
        return UNKNOWN_TEXT
    if isinstance(value, float):
        return _number(value)
    return value


def _where(err: BaseException, project_dir: Path | None) -> str:
    """The innermost frame of the project's own code, for a message without a traceback."""
    frames = traceback.extract_tb(err.__traceback__)
    root = str(project_dir.resolve()) if project_dir else None
    # The program's own frames: not the virtualenv, not this engine.
    own = [
        f
        for f in frames
        if root and f.filename.startswith(root) and "/.venv/" not in f.filename and "/tools/" not in f.filename
    ]
    if not own and not frames:
        return ""
    frame = (own or frames)[-1]
    filename = os.path.relpath(frame.filename, root) if root else frame.filename
    return f" (at {filename}:{frame.lineno} in {frame.name})"


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    mode: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
    project_dir: Path | None = None,
    kube_version: str | None = None,
    api_versions: list[str] | None = None,
    on_record: Callable[[Resource], None] | None = None,
) -> Run:
    """Run ``program`` under the mocks and return what it registered.

    Raises EngineError (``config_error`` set for a config mistake) when the
    program fails or does something that would fail under the real engine.

    ``kube_version`` (e.g. "1.35"): the version a v4 Chart is rendered for when the run
    does not record exactly one EKS cluster; ``api_versions``: API versions the cluster
    would report beyond helm's built-in set (``helm template --api-versions``).

    ``on_record``: called with each resource as soon as it is recorded (from the SDK's
    worker threads, so it must be thread-safe), e.g. ``AnalyzeStream.submit``, which
    sends the resource's Analyze to the policy pack while the program goes on.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    # An Output formatted into a string raises instead of producing text
    # that would reach AWS as "Calling __str__ on an Output[T]...".
    os.environ["PULUMI_ERROR_OUTPUT_STRING"] = "true"

    disabled = config.get("pulumi:disable-default-providers", "[]")
    monitor = RecordingMonitor(
        preview=mode == "preview",
        default_region=config.get("aws:region"),
        disabled_default_providers=set(json.loads(disabled)) if disabled.startswith("[") else set(),
        kube_version=kube_version,
        api_versions=api_versions,
        on_record=on_record,
    )
    handler = _CollectingHandler()
    logger = logging.getLogger(f"platform.offline.{id(monitor)}")
    logger.propagate = False
    logger.addHandler(handler)

    pulumi.runtime.set_all_config(dict(config), list(secret_keys or []))
    pulumi_settings.ROOT.set(None)  # a fresh Stack resource for this run
    pulumi_mocks.set_mocks(
        monitor.mocks,
        project=project,
        stack=stack,
        preview=mode == "preview",
        logger=logger,
        monitor=monitor,
    )
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    root = pulumi_settings.get_root_resource()

    try:
        _sync_await(run_pulumi_func(program))
    except pulumi.RunError as err:
        raise EngineError(str(err), config_error=True) from None
    except EngineError:
        raise
    except Exception as err:  # noqa: BLE001 - any program failure becomes one clear message
        message = str(err).strip() or type(err).__name__
        if "Calling __str__ on an Output" in message:
            message = (
                "an Output was used as a string (f-string, str() or format); under the real engine its "
                "text would be a warning message, not the value. Use Output.concat, Output.format or .apply."
            )
        raise EngineError(f"program error: {message}{_where(err, project_dir)}") from None

    problems = list(monitor.problems) + handler.messages
    if problems:
        raise EngineError("the program would fail or misbehave under the real engine:\n  - " + "\n  - ".join(problems))

    outputs: dict[str, Any] = {}
    secret_outputs: list[str] = []
    # As the SDK registers exports: resources and objects become their outputs.
    exports = massage(getattr(root, "outputs", None) or {}, [])
    for name, value in exports.items():
        resolved, _known, secret = _resolve(value)
        outputs[name] = _plain(resolved)
        if secret:
            secret_outputs.append(name)
    stack_record = next((r for r in monitor.recorded if r.type == STACK_TYPE), None)
    if stack_record is not None:
        # The mocks register the Stack's outputs before the program runs; the
        # real engine records the exports there, where stack policies read them.
        stack_record.outputs = outputs
        stack_record.secret_outputs = [pointer(name) for name in secret_outputs]
        stack_record.raw_outputs = {k: _secret(v) if k in secret_outputs else v for k, v in outputs.items()}
    return Run(
        project=project,
        stack=stack,
        mode=mode,
        resources=monitor.recorded,
        outputs=outputs,
        secret_outputs=secret_outputs,
        invokes=monitor.invokes,
        notes=monitor.notes,
    )
