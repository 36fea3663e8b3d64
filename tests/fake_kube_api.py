"""A Kubernetes API server small enough for helm's ``--dry-run=server``: discovery for the kinds a chart
renders, and GET of the Secrets it is given (404 for any other, 403 for all when ``forbid_secrets``).

Enough for a chart's ``lookup`` of a Secret, which is what the Kubernetes provider's server dry-run
render answers from the live cluster; it serves on 127.0.0.1, on a free port, until stopped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class FakeCluster:
    kinds: set[tuple[str, str, bool]]
    """(apiVersion, kind, namespaced) of every kind the API serves."""
    version: str
    """The Kubernetes version the server reports ("1.35"): against a server, helm renders for its version."""
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """The live Secrets, by (namespace, name)."""
    forbid_secrets: bool = False
    """Refuse every Secret read (a principal without `get secrets`)."""
    secret_reads: list[str] = field(default_factory=list)
    """Paths of the Secret reads asked for."""

    def add_secret(self, secret: dict[str, Any]) -> None:
        meta = secret["metadata"]
        self.secrets[(meta["namespace"], meta["name"])] = secret

    def discovery(self, path: str) -> dict[str, Any] | None:
        """The discovery document at ``path``, None when there is none."""
        versions = {api_version for api_version, _, _ in self.kinds}
        if path == "/version":
            major, minor = self.version.split(".")[:2]
            return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for api_version in sorted(v for v in versions if "/" in v):
                group, version = api_version.split("/")
                groups.setdefault(group, []).append(version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in group_versions],
                        "preferredVersion": {
                            "groupVersion": f"{group}/{group_versions[0]}",
                            "version": group_versions[0],
                        },
                    }
                    for group, group_versions in groups.items()
                ],
            }
        api_version = path.removeprefix("/api/").removeprefix("/apis/")
        if path.startswith(("/api/", "/apis/")) and api_version in versions:
            return {
                "kind": "APIResourceList",
                "groupVersion": api_version,
                "resources": [
                    {
                        "name": _plural(kind),
                        "singularName": kind.lower(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["get", "list", "create", "patch"],
                    }
                    for version, kind, namespaced in sorted(self.kinds)
                    if version == api_version
                ],
            }
        return None


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x")):
        return lower + "es"
    return lower + "s"


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            parts = path.strip("/").split("/")
            if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 6 and parts[4] == "secrets":
                cluster.secret_reads.append(path)
                if cluster.forbid_secrets:
                    self._status(403, "Forbidden", f'secrets "{parts[5]}" is forbidden')
                    return
                secret = cluster.secrets.get((parts[3], parts[5]))
                if secret is None:
                    self._status(404, "NotFound", f'secrets "{parts[5]}" not found')
                else:
                    self._send(200, secret)
                return
            document = cluster.discovery(path)
            if document is None:
                self._status(404, "NotFound", "the server could not find the requested resource")
            else:
                self._send(200, document)

        def _status(self, code: int, reason: str, message: str) -> None:
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message}
            self._send(code, {**status, "code": code})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def serving(cluster: FakeCluster, folder: Path) -> Iterator[Path]:
    """Serve ``cluster`` on 127.0.0.1 (a free port); yields a kubeconfig for it, written in ``folder``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cluster))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    kubeconfig = folder / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "users": [{"name": "fake", "user": {}}],
                "current-context": "fake",
            }
        ),
        encoding="utf-8",
    )
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def kinds_of(objects: Iterable[dict[str, Any]], namespaced: Any) -> set[tuple[str, str, bool]]:
    """The discovery entries for ``objects``; ``namespaced(api_version, kind)`` says each kind's scope."""
    return {(o["apiVersion"], o["kind"], bool(namespaced(o["apiVersion"], o["kind"]))) for o in objects}
