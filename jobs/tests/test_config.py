"""backup config against a fake Kubernetes API on loopback: fixed kinds, never Secrets, 404 skipped."""

import gzip
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jobs_testkit import MONDAY, Aws, fixed_clock
from platform_backup import kubeconfig
from platform_backup.cli import main

TOKEN = "service-account-token"


def configmap(name: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": "1234",
            "resourceVersion": "99",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl"}],
            "labels": {"app": "shop"},
        },
        "data": {"key": "value"},
    }


class FakeApi:
    """Serves a few lists (configmaps in two pages), a Secret that must never be asked for, 404 elsewhere."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.auth: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                fake.auth.add(self.headers.get("Authorization", ""))
                status, body = fake.respond(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def respond(self, path: str) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(parsed.query)
        if parsed.path == "/api/v1/namespaces/shop/secrets":
            return 200, {"items": [{"metadata": {"name": "db"}, "data": {"password": "c2VjcmV0"}}]}
        if parsed.path == "/api/v1/namespaces/shop/configmaps":
            if query.get("continue") == ["page2"]:
                return 200, {"items": [configmap("second")], "metadata": {}}
            return 200, {"items": [configmap("first")], "metadata": {"continue": "page2"}}
        if parsed.path == "/apis/apps/v1/namespaces/shop/deployments":
            item = {"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2}, "status": {"ready": 2}}
            return 200, {"items": [item], "metadata": {}}
        if parsed.path.startswith("/apis/monitoring.coreos.com/"):
            return 404, {"kind": "Status", "code": 404}
        return 200, {"items": [], "metadata": {}}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeApi]:
    fake = FakeApi()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    monkeypatch.setenv("KUBERNETES_API_URL", fake.url)
    monkeypatch.setenv("KUBERNETES_TOKEN_FILE", str(token))
    monkeypatch.setenv("CONFIG_NAMESPACES", "shop")
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_config_backup_writes_the_objects_gzipped_with_a_manifest(aws: Aws, api: FakeApi) -> None:
    manifest = kubeconfig.backup(aws.store, kubeconfig.KubernetesApi.from_env(), fixed_clock(MONDAY))

    body = aws.body("config/20261130T083000Z.json.gz")
    document = json.loads(gzip.decompress(body))
    assert document["namespaces"] == ["shop"]
    by_name = {item["metadata"]["name"]: item for item in document["items"]}
    assert set(by_name) == {"first", "second", "web"}
    assert by_name["first"]["apiVersion"] == "v1" and by_name["first"]["kind"] == "ConfigMap"
    assert by_name["first"]["metadata"] == {"name": "first", "namespace": "shop", "labels": {"app": "shop"}}
    assert by_name["web"]["apiVersion"] == "apps/v1" and "status" not in by_name["web"]
    assert "generation" not in by_name["web"]["metadata"]
    stored = json.loads(aws.body("config/20261130T083000Z.manifest.json"))
    assert stored == manifest
    assert stored["object_counts"]["ConfigMap"] == 2 and stored["object_counts"]["Deployment"] == 1
    assert stored["skipped_kinds"] == ["ServiceMonitor"]
    assert stored["size"] == len(body) and stored["sha256"] == hashlib.sha256(body).hexdigest()
    assert aws.s3.head_object(Bucket=aws.store.bucket, Key="config/20261130T083000Z.json.gz")["SSEKMSKeyId"] == (
        aws.key_arn
    )


def test_config_backup_never_asks_for_secrets_and_uses_the_service_account_token(aws: Aws, api: FakeApi) -> None:
    kubeconfig.backup(aws.store, kubeconfig.KubernetesApi.from_env(), fixed_clock(MONDAY))

    assert not [path for path in api.requests if path.split("?")[0].endswith("/secrets")]
    assert api.auth == {f"Bearer {TOKEN}"}
    assert any(path.startswith("/apis/external-secrets.io/v1/namespaces/shop/externalsecrets") for path in api.requests)
    assert "c2VjcmV0" not in gzip.decompress(aws.body("config/20261130T083000Z.json.gz")).decode()


def test_every_kind_has_one_list_request_per_namespace_and_a_missing_api_is_asked_once(
    aws: Aws, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFIG_NAMESPACES", "shop,other")

    kubeconfig.backup(aws.store, kubeconfig.KubernetesApi.from_env(), fixed_clock(MONDAY))

    monitors = [path for path in api.requests if "servicemonitors" in path]
    assert len(monitors) == 1
    assert len(api.requests) == 2 * (len(kubeconfig.KINDS) - 1) + 1 + 1  # configmaps of shop in two pages


def test_an_api_error_other_than_404_fails_the_backup(
    aws: Aws, api: FakeApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(api, "respond", lambda path: (403, {"kind": "Status", "code": 403}))

    assert main(["backup", "config"]) == 1

    assert "HTTP 403" in capsys.readouterr().err
    assert aws.store.keys("config/") == []


def test_config_backup_needs_the_namespaces(
    aws: Aws, api: FakeApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CONFIG_NAMESPACES")

    assert main(["backup", "config"]) == 2

    assert "CONFIG_NAMESPACES" in capsys.readouterr().err
