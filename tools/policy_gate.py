"""The policy gate: evaluate the CrossGuard pack over a recorded run, as the CLI does.

The pack runs as the Pulumi CLI starts a Python pack
(``python -u -m pulumi.policy <engineAddr> <packDir>``), prints its port,
and is driven through the public analyzer protocol:

1. ``GetAnalyzerInfo``: the policies, their config schemas, the initial config;
2. ``Configure``: the merged config, lowest first: each policy's schema
   defaults, the pack's initial config, the stack's policy config file
   (``policy/config/<stack>.json``), as the CLI merges them;
3. ``ConfigureStack``;
4. ``Analyze`` for every resource with its inputs;
5. ``AnalyzeStack`` with every resource's outputs, parent and dependencies.

``evaluate`` does all of it over a finished run. ``AnalyzeStream`` does steps 1-4
while the program runs, as the engine does: each resource's Analyze is sent from a
background thread as soon as the resource is registered, so the pack (another
process) analyses while the program goes on; ``finish`` sends AnalyzeStack and
gives the same result as ``evaluate`` would.

``PolicyClient`` also accepts the pack's servicer in-process (same methods),
which the rule tests use.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.engine import RESOURCE_SIG, SIG_KEY, STACK_TYPE, Resource, Run

PACK_DIR = Path(__file__).resolve().parent.parent / "policy"
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
LEVEL_VALUES = {name: value for value, name in LEVELS.items()}
PREVIEW_NOTICE = "during preview"


class PolicyError(Exception):
    """The pack or its config cannot be used."""


@dataclass
class PolicyResult:
    pack: str
    policies: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    unknown_during_preview: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "evaluated": True,
            "pack": self.pack,
            "policies": self.policies,
            "violations": self.violations,
            "unknownDuringPreview": self.unknown_during_preview,
        }

    @property
    def mandatory(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["level"] == "mandatory"]


def load_policy_config(stack: str, path: Path | None = None) -> dict[str, Any]:
    """The stack's policy config file (``policy/config/<stack>.json``)."""
    path = path or PACK_DIR / "config" / f"{stack}.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: no policy config for stack {stack!r}") from None
    except json.JSONDecodeError as err:
        raise PolicyError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise PolicyError(f"{path}: must be an object of policy name to config")
    return config


def merge_config(info: Any, user_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Schema defaults < initial config < user config, with an explicit level for each policy."""
    known = {p.name for p in info.policies}
    unknown = sorted(set(user_config) - known - {"all"})
    if unknown:
        raise PolicyError(f"policy config names unknown policies: {', '.join(unknown)}")
    merged: dict[str, dict[str, Any]] = {}
    for policy in info.policies:
        entry: dict[str, Any] = {"enforcementLevel": LEVELS[policy.enforcementLevel]}
        schema = json_format.MessageToDict(policy.configSchema.properties)
        entry.update({k: v["default"] for k, v in schema.items() if isinstance(v, dict) and "default" in v})
        if policy.name in info.initialConfig:
            initial = info.initialConfig[policy.name]
            entry["enforcementLevel"] = LEVELS[initial.enforcementLevel]
            entry.update(json_format.MessageToDict(initial.properties))
        if "all" in user_config:
            entry["enforcementLevel"] = user_config["all"]
        user = user_config.get(policy.name, {})
        if isinstance(user, str):
            user = {"enforcementLevel": user}
        entry.update(user)
        if entry["enforcementLevel"] not in LEVEL_VALUES:
            raise PolicyError(
                f"{policy.name}: enforcementLevel {entry['enforcementLevel']!r} is not one of {sorted(LEVEL_VALUES)}"
            )
        merged[policy.name] = entry
    return merged


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _without_references(value: Any) -> Any:
    """Resource references as the engine gives them to analyzers, which do not keep
    resources: the referenced resource's id when it has one, else its URN."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == RESOURCE_SIG:
            return value.get("id") or value.get("urn")
        return {k: _without_references(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_references(v) for v in value]
    return value


def _options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect,
        ignoreChanges=resource.ignore_changes,
        deleteBeforeReplace=resource.delete_before_replace,
        additionalSecretOutputs=resource.additional_secret_outputs,
        parent=resource.parent or "",
    )


class PolicyClient:
    """Drives an analyzer: a gRPC stub, or the pack's servicer in-process."""

    def __init__(self, analyzer: Any, in_process: bool = False) -> None:
        self.analyzer = analyzer
        self.in_process = in_process

    def _call(self, method: str, request: Any) -> Any:
        if self.in_process:
            return getattr(self.analyzer, method)(request, None)
        return getattr(self.analyzer, method)(request)

    def info(self) -> Any:
        return self._call("GetAnalyzerInfo", empty_pb2.Empty())

    def configure(self, merged: dict[str, dict[str, Any]]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in merged.items():
            properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(
                    enforcementLevel=LEVEL_VALUES[entry["enforcementLevel"]], properties=_struct(properties)
                )
            )
        self._call("Configure", request)

    def configure_stack(self, run: Run) -> None:
        self.configure_stack_of(run.stack, run.project, run.mode)

    def configure_stack_of(self, stack: str, project: str, mode: str) -> None:
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=stack, project=project, organization="organization", dry_run=mode == "preview"
            ),
        )

    def analyze(self, resource: Resource) -> Any:
        # A remote component (a v4 Chart) reaches the engine through the provider's
        # Construct, which registers it without inputs: Analyze sees it with no properties.
        return self._call(
            "Analyze",
            analyzer_pb2.AnalyzeRequest(
                type=resource.type,
                properties=_struct({} if resource.remote else resource.raw_inputs),
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
            ),
        )

    def analyze_stack(self, resources: list[Resource]) -> Any:
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            item = request.resources.add(
                type=resource.type,
                properties=_struct(_without_references(resource.raw_outputs)),
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
                parent=resource.parent or "",
                dependencies=resource.dependencies,
            )
            for key, urns in resource.property_dependencies.items():
                item.propertyDependencies[key].urns.extend(urns)
        return self._call("AnalyzeStack", request)


class _Evaluation:
    """One evaluation: the pack configured for a stack, then each resource's Analyze response."""

    def __init__(self, client: PolicyClient, user_config: dict[str, Any], stack: str, project: str, mode: str) -> None:
        self.client = client
        self.stack, self.project, self.mode = stack, project, mode
        self.info = client.info()
        self.merged = merge_config(self.info, user_config)
        client.configure(self.merged)
        client.configure_stack_of(stack, project, mode)
        self.responses: dict[int, tuple[Resource, Any]] = {}
        """id(resource) -> (resource, its Analyze response); the resource is kept so that its id stays its own."""

    def analyze(self, resource: Resource) -> None:
        self.responses[id(resource)] = (resource, self.client.analyze(resource))

    def finish(self, run: Run) -> PolicyResult:
        """The responses in the run's order (Analyze now for any resource not analyzed yet), then AnalyzeStack."""
        if (run.stack, run.project, run.mode) != (self.stack, self.project, self.mode):
            raise ValueError(f"the gate was configured for {self.stack}/{self.mode}, not {run.stack}/{run.mode}")
        meta = {p.name: p for p in self.info.policies}
        violations: list[dict[str, Any]] = []
        unknown: list[dict[str, Any]] = []

        def collect(response: Any, urn: str | None) -> None:
            for diagnostic in response.diagnostics:
                # The analyzer's message is the description, a newline, the rule's message.
                message = diagnostic.message
                if message.startswith(diagnostic.description + "\n"):
                    message = message[len(diagnostic.description) + 1 :]
                entry = {
                    "policy": diagnostic.policyName,
                    "level": LEVELS[diagnostic.enforcementLevel],
                    "urn": diagnostic.urn or urn,
                    "message": message,
                    "remediation": meta[diagnostic.policyName].remediation_steps
                    if diagnostic.policyName in meta
                    else "",
                }
                if PREVIEW_NOTICE in message and message.startswith("can't run policy"):
                    unknown.append(entry)
                else:
                    violations.append(entry)

        resources = [r for r in run.resources if r.type != STACK_TYPE]
        for resource in resources:
            streamed = self.responses.get(id(resource))
            if streamed is None or streamed[0] is not resource:
                self.analyze(resource)
            collect(self.responses[id(resource)][1], resource.urn)
        collect(self.client.analyze_stack(resources), None)

        policies = [
            {
                "name": p.name,
                "type": "stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                "level": self.merged[p.name]["enforcementLevel"],
                "severity": analyzer_pb2.PolicySeverity.Name(p.severity).removeprefix("POLICY_SEVERITY_").lower(),
            }
            for p in self.info.policies
        ]
        order = {"mandatory": 0, "advisory": 1}
        violations.sort(key=lambda v: (order.get(v["level"], 2), v["policy"], v["urn"] or ""))
        return PolicyResult(
            pack=self.info.name, policies=policies, violations=violations, unknown_during_preview=unknown
        )


def evaluate(client: PolicyClient, run: Run, user_config: dict[str, Any]) -> PolicyResult:
    """The gate over a finished run: configure, Analyze every resource, AnalyzeStack."""
    return _Evaluation(client, user_config, run.stack, run.project, run.mode).finish(run)


class AnalyzeStream:
    """The gate, streamed: Analyze each resource as the program registers it.

    A background thread connects to the pack (``connect``, e.g. ``PackProcess.client``),
    configures it and sends each submitted resource's Analyze while the program runs;
    ``finish(run)`` waits for it, sends Analyze for anything not submitted, then
    AnalyzeStack, and returns what ``evaluate`` returns for the same run: the responses
    are collected in the run's order, not in the order they were sent. An error of the
    pack or of the config (PolicyError, grpc.RpcError) is raised by ``finish``, after
    the program, as ``evaluate`` raises it; ``close`` stops the thread without raising.
    """

    _DONE = object()

    def __init__(
        self, connect: Callable[[], PolicyClient], user_config: dict[str, Any], *, stack: str, project: str, mode: str
    ) -> None:
        self._connect = connect
        self._settings = (user_config, stack, project, mode)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._evaluation: _Evaluation | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="policy-analyze", daemon=True)
        self._thread.start()

    def submit(self, resource: Resource) -> None:
        """Queue a registered resource's Analyze (thread-safe: the SDK registers from worker threads)."""
        if resource.type != STACK_TYPE:
            self._queue.put(resource)

    def _work(self) -> None:
        try:
            user_config, stack, project, mode = self._settings
            self._evaluation = _Evaluation(self._connect(), user_config, stack, project, mode)
            while (item := self._queue.get()) is not self._DONE:
                if not self._cancelled.is_set():
                    self._evaluation.analyze(item)
        except BaseException as err:  # noqa: BLE001 - handed to finish(), which raises it
            self._error = err

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(self._DONE)
            self._thread.join()

    def finish(self, run: Run) -> PolicyResult:
        self._stop()
        if self._error is not None:
            raise self._error
        assert self._evaluation is not None
        return self._evaluation.finish(run)

    def close(self) -> None:
        """Stop sending (the program failed, or finish ran): queued resources are dropped."""
        self._cancelled.set()
        self._stop()


class PackProcess:
    """The pack as the CLI starts a Python pack; connects on first use.

    Started before the program runs, the pack's own start-up (imports, gRPC
    server) overlaps the program's instead of adding to it.
    """

    def __init__(self, pack_dir: Path = PACK_DIR, python: str = sys.executable) -> None:
        """``python``: the interpreter to run the pack with; the CLI uses the pack's own virtual
        environment (policy/.venv), the offline gate the project's."""
        self.process = subprocess.Popen(
            # The engine address is parsed and unused by Python packs. pulumi.policy runs the pack
            # directory, which puts it first on sys.path (runpy.run_path): no PYTHONPATH needed.
            [python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(pack_dir)],
            cwd=pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        self._channel: grpc.Channel | None = None

    def client(self) -> PolicyClient:
        if self._channel is None:
            assert self.process.stdout is not None
            line = self.process.stdout.readline().strip()
            if not line.isdigit():
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise PolicyError(f"the policy pack did not start: {line or stderr.strip()[-2000:]}")
            self._channel = grpc.insecure_channel(f"127.0.0.1:{line}")
            grpc.channel_ready_future(self._channel).result(timeout=30)
        return PolicyClient(analyzer_pb2_grpc.AnalyzerStub(self._channel))

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def running_pack(pack_dir: Path = PACK_DIR, python: str = sys.executable) -> Iterator[PackProcess]:
    """Start the pack, and stop it whatever happens."""
    pack = PackProcess(pack_dir, python)
    try:
        yield pack
    finally:
        pack.stop()
