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

``PolicyClient`` also accepts the pack's servicer in-process (same methods),
which the rule tests use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tools.engine import RESOURCE_SIG, SIG_KEY, Resource, Run

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
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=run.stack, project=run.project, organization="organization", dry_run=run.mode == "preview"
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


def evaluate(client: PolicyClient, run: Run, user_config: dict[str, Any]) -> PolicyResult:
    info = client.info()
    merged = merge_config(info, user_config)
    client.configure(merged)
    client.configure_stack(run)
    meta = {p.name: p for p in info.policies}

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
                "remediation": meta[diagnostic.policyName].remediation_steps if diagnostic.policyName in meta else "",
            }
            if PREVIEW_NOTICE in message and message.startswith("can't run policy"):
                unknown.append(entry)
            else:
                violations.append(entry)

    resources = [r for r in run.resources if r.type != "pulumi:pulumi:Stack"]
    for resource in resources:
        collect(client.analyze(resource), resource.urn)
    collect(client.analyze_stack(resources), None)

    policies = [
        {
            "name": p.name,
            "type": "stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
            "level": merged[p.name]["enforcementLevel"],
            "severity": analyzer_pb2.PolicySeverity.Name(p.severity).removeprefix("POLICY_SEVERITY_").lower(),
        }
        for p in info.policies
    ]
    order = {"mandatory": 0, "advisory": 1}
    violations.sort(key=lambda v: (order.get(v["level"], 2), v["policy"], v["urn"] or ""))
    return PolicyResult(pack=info.name, policies=policies, violations=violations, unknown_during_preview=unknown)


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
