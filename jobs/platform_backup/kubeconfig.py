"""Kubernetes objects of the application namespaces, read with the pod's service account, to config/.

A fixed list of kinds, never Secrets (their data stays in Secrets Manager behind the ExternalSecrets, which
are backed up). A kind whose API the cluster does not serve (404) is skipped with a log line. Fields the
API server owns (status, managedFields, resourceVersion, uid, creationTimestamp) are stripped.
"""

import gzip
import hashlib
import json
import logging
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from platform_backup.errors import BackupError, ConfigError
from platform_backup.settings import Clock, env_list, iso, key_timestamp, utc_now
from platform_backup.store import Store

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PAGE_SIZE = 250
STRIPPED_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


@dataclass(frozen=True)
class Kind:
    kind: str
    api: str
    """The API path: `/api/v1` (core) or `/apis/<group>/<version>`."""
    plural: str

    @property
    def api_version(self) -> str:
        return self.api.removeprefix("/apis/").removeprefix("/api/")


KINDS = (
    Kind("ConfigMap", "/api/v1", "configmaps"),
    Kind("Service", "/api/v1", "services"),
    Kind("ServiceAccount", "/api/v1", "serviceaccounts"),
    Kind("PersistentVolumeClaim", "/api/v1", "persistentvolumeclaims"),
    Kind("Deployment", "/apis/apps/v1", "deployments"),
    Kind("StatefulSet", "/apis/apps/v1", "statefulsets"),
    Kind("DaemonSet", "/apis/apps/v1", "daemonsets"),
    Kind("CronJob", "/apis/batch/v1", "cronjobs"),
    Kind("HorizontalPodAutoscaler", "/apis/autoscaling/v2", "horizontalpodautoscalers"),
    Kind("PodDisruptionBudget", "/apis/policy/v1", "poddisruptionbudgets"),
    Kind("NetworkPolicy", "/apis/networking.k8s.io/v1", "networkpolicies"),
    Kind("Ingress", "/apis/networking.k8s.io/v1", "ingresses"),
    Kind("Role", "/apis/rbac.authorization.k8s.io/v1", "roles"),
    Kind("RoleBinding", "/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
    Kind("ExternalSecret", "/apis/external-secrets.io/v1", "externalsecrets"),
    Kind("ServiceMonitor", "/apis/monitoring.coreos.com/v1", "servicemonitors"),
)
assert all(kind.plural != "secrets" for kind in KINDS), "Secrets are never backed up"


class KubernetesApi:
    """A minimal read-only client: GET of JSON lists with the service account's bearer token."""

    def __init__(self, base_url: str, token_file: str, ca_file: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_file = token_file
        self.context = ssl.create_default_context(cafile=ca_file) if base_url.startswith("https:") else None

    @classmethod
    def from_env(cls) -> "KubernetesApi":
        base_url = os.environ.get("KUBERNETES_API_URL", "").strip()
        if not base_url:
            host = os.environ.get("KUBERNETES_SERVICE_HOST", "").strip()
            port = os.environ.get("KUBERNETES_SERVICE_PORT", "443").strip()
            if not host:
                raise ConfigError(
                    "environment variable KUBERNETES_SERVICE_HOST is required and is not set "
                    "(set KUBERNETES_API_URL outside a cluster)"
                )
            base_url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        token_file = os.environ.get("KUBERNETES_TOKEN_FILE", f"{SERVICE_ACCOUNT_DIR}/token")
        ca_file = os.environ.get("KUBERNETES_CA_FILE", f"{SERVICE_ACCOUNT_DIR}/ca.crt")
        return cls(base_url, token_file, ca_file if base_url.startswith("https:") else None)

    def get(self, path: str) -> dict[str, Any] | None:
        """The JSON document at `path`, or None on 404 (an API the cluster does not serve)."""
        try:
            with open(self.token_file) as handle:
                token = handle.read().strip()  # re-read: the kubelet rotates projected tokens
        except OSError as error:
            raise BackupError(f"cannot read the service account token {self.token_file}: {error}") from None
        request = urllib.request.Request(
            self.base_url + path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                document = json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise BackupError(f"Kubernetes API GET {path} failed: HTTP {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise BackupError(f"Kubernetes API GET {path} failed: {error}") from None
        return dict(document)

    def list(self, kind: Kind, namespace: str) -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = urllib.parse.urlencode({"limit": PAGE_SIZE, **({"continue": token} if token else {})})
            path = f"{kind.api}/namespaces/{urllib.parse.quote(namespace)}/{kind.plural}?{query}"
            page = self.get(path)
            if page is None:
                return None
            items.extend(page.get("items") or [])
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items


def clean(kind: Kind, item: dict[str, Any]) -> dict[str, Any]:
    """The object as one would apply it again: kind and apiVersion set, server-owned fields removed."""
    cleaned = {key: value for key, value in item.items() if key != "status"}
    cleaned["apiVersion"] = kind.api_version
    cleaned["kind"] = kind.kind
    metadata = dict(cleaned.get("metadata") or {})
    for field in STRIPPED_METADATA:
        metadata.pop(field, None)
    cleaned["metadata"] = metadata
    return cleaned


def backup(store: Store, api: KubernetesApi, clock: Clock = utc_now) -> dict[str, Any]:
    namespaces = env_list("CONFIG_NAMESPACES")
    if not namespaces:
        raise ConfigError("environment variable CONFIG_NAMESPACES is required and is not set")
    started = clock()
    stamp = key_timestamp(started)
    log.info("backup config: namespaces %s", ", ".join(namespaces))
    objects: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    skipped: set[str] = set()
    for namespace in namespaces:
        for kind in KINDS:
            if kind.kind in skipped:
                continue
            items = api.list(kind, namespace)
            if items is None:
                log.info("skipping %s: the cluster does not serve %s", kind.kind, kind.api)
                skipped.add(kind.kind)
                continue
            objects.extend(clean(kind, item) for item in items)
            counts[kind.kind] = counts.get(kind.kind, 0) + len(items)
            log.info("%s/%s: %d object(s)", namespace, kind.plural, len(items))
    document = {"backed_up_at": iso(started), "namespaces": namespaces, "items": objects}
    body = gzip.compress(json.dumps(document, sort_keys=True).encode(), mtime=0)
    key = f"config/{stamp}.json.gz"
    store.put_bytes(key, body, "application/gzip")
    finished = clock()
    manifest = {
        "kind": "config",
        "key": key,
        "namespaces": namespaces,
        "object_counts": counts,
        "skipped_kinds": sorted(skipped),
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
    }
    store.put_json(f"config/{stamp}.manifest.json", manifest)
    log.info("config: %d object(s), %d bytes to %s", len(objects), len(body), store.url(key))
    return manifest
