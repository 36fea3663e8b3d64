"""Fixtures for the Kubernetes guardrails: every workload kind, ConfigMap, Service and Helm."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from tests.policy.harness import DELETE, Case, Res, StackCase, chain, file_asset, set_path, string_asset, unknown

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
REPLICATION_CONTROLLER = "kubernetes:core/v1:ReplicationController"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
RELEASE = "kubernetes:helm.sh/v3:Release"

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform"
DIGEST = "sha256:" + "3f" * 32
NAMESPACE = "platform"
LABELS = {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "platform"}

# Where each kind keeps its pod spec, as a dotted path for the harness.
POD_PATH = {
    DEPLOYMENT: "spec.template.spec",
    STATEFUL_SET: "spec.template.spec",
    DAEMON_SET: "spec.template.spec",
    REPLICA_SET: "spec.template.spec",
    REPLICATION_CONTROLLER: "spec.template.spec",
    JOB: "spec.template.spec",
    CRON_JOB: "spec.jobTemplate.spec.template.spec",
    POD: "spec",
}
WORKLOADS = list(POD_PATH)
LONG_RUNNING = [DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, REPLICATION_CONTROLLER, POD]
BATCH = (JOB, CRON_JOB)
# The main and init container of each kind's fixture.
NAMES = {kind: ("backup", "wait-for-db") if kind in BATCH else ("api", "migrate") for kind in WORKLOADS}

_SECURE = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def _main_container(kind: str) -> dict[str, Any]:
    name = NAMES[kind][0]
    container: dict[str, Any] = {
        "name": name,
        "image": f"{ECR}/{name}:1.4.2",
        "env": [
            {"name": "DB_HOST", "value": "platform-prod.cluster-c1x2y3.eu-west-1.rds.amazonaws.com"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{name}-db", "key": "password"}}},
            {
                "name": "DB_SECRET_ARN",
                "value": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:platform/db-AbCdEf",
            },
            {"name": "TOKEN_TTL_SECONDS", "value": "3600"},
        ],
        "resources": copy.deepcopy(_RESOURCES),
        "securityContext": copy.deepcopy(_SECURE),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if kind not in BATCH:
        container["ports"] = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}
    return container


def _init_container(kind: str) -> dict[str, Any]:
    name = NAMES[kind][1]
    return {
        "name": name,
        "image": f"{ECR}/{name}@{DIGEST}",
        "env": [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}}],
        "resources": copy.deepcopy(_RESOURCES),
        "securityContext": copy.deepcopy(_SECURE),
    }


def _pod_spec(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": NAMES[kind][0],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [_init_container(kind)],
        "containers": [_main_container(kind)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if kind in BATCH:
        spec["restartPolicy"] = "OnFailure"
    return spec


def _workload(kind: str) -> dict[str, Any]:
    """A compliant object of a workload kind, as the provider receives it."""
    api_version, name = kind.split(":")[1], kind.split(":")[2]
    metadata = {"name": NAMES[kind][0], "namespace": NAMESPACE, "labels": LABELS}
    template = {"metadata": {"labels": LABELS}, "spec": _pod_spec(kind)}
    selector = {"matchLabels": LABELS}
    specs: dict[str, Any] = {
        DEPLOYMENT: {"replicas": 2, "selector": selector, "template": template},
        STATEFUL_SET: {"replicas": 2, "serviceName": "api", "selector": selector, "template": template},
        DAEMON_SET: {"selector": selector, "template": template},
        REPLICA_SET: {"replicas": 2, "selector": selector, "template": template},
        REPLICATION_CONTROLLER: {"replicas": 2, "selector": LABELS, "template": template},
        JOB: {"backoffLimit": 3, "ttlSecondsAfterFinished": 3600, "template": template},
        CRON_JOB: {
            "schedule": "0 3 * * *",
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"backoffLimit": 3, "template": template}},
        },
        POD: template["spec"],
    }
    return {"apiVersion": api_version, "kind": name, "metadata": metadata, "spec": specs[kind]}


def _workload_cases(
    policy: str,
    violating: dict[str, dict[str, Any]],
    expect: dict[str, str] | None = None,
    kinds: list[str] = WORKLOADS,
    config: dict[str, Any] | None = None,
) -> list[Case]:
    """One Case per kind; paths are relative to the pod spec, expectations may use {main} and {init}."""
    cases = []
    for kind in kinds:
        main, init = NAMES[kind]
        cases.append(
            Case(
                policy=policy,
                type=kind,
                compliant=_workload(kind),
                violating={
                    name: {f"{POD_PATH[kind]}.{path}": value for path, value in change.items()}
                    for name, change in violating.items()
                },
                expect={name: text.format(main=main, init=init) for name, text in (expect or {}).items()},
                config=config or {},
            )
        )
    return cases


# --- Helm ----------------------------------------------------------------------------

RELEASE_PROPS: dict[str, Any] = {
    "name": "aws-load-balancer-controller",
    "chart": "aws-load-balancer-controller",
    "version": "1.8.1",
    "namespace": "kube-system",
    "repositoryOpts": {"repo": "https://aws.github.io/eks-charts"},
    "atomic": True,
    "timeout": 600,
    "values": {
        "clusterName": "platform-prod",
        "region": "eu-west-1",
        "vpcId": "vpc-0a1b2c3d4e5f67890",
        "replicaCount": 2,
        "image": {"repository": "public.ecr.aws/eks/aws-load-balancer-controller", "tag": "v2.8.1"},
        "serviceAccount": {
            "create": True,
            "name": "aws-load-balancer-controller",
            "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/platform-prod-alb"},
        },
        "podSecurityContext": {"fsGroup": 65534},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": _RESOURCES,
    },
}

# A v3 Release of a chart from an OCI registry, with values nested in lists. (A v4 Chart is not judged: its
# rendered objects are; see test_helm_chart_v4.py.)
OCI_RELEASE_PROPS: dict[str, Any] = {
    "name": "kube-prometheus-stack",
    "chart": "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack",
    "version": "65.1.1",
    "namespace": "monitoring",
    "values": {
        "grafana": {
            "image": {"repository": "grafana/grafana", "tag": "11.2.2"},
            "securityContext": {"runAsNonRoot": True, "runAsUser": 472, "fsGroup": 472},
            "sidecar": {"image": {"repository": "quay.io/kiwigrid/k8s-sidecar", "tag": "1.27.6"}},
            "extraInitContainers": [
                {
                    "name": "wait-for-db",
                    "image": "public.ecr.aws/docker/library/busybox:1.36",
                    "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
                }
            ],
        },
        "prometheusOperator": {
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "prometheus": {
            "prometheusSpec": {
                "retention": "15d",
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "fsGroup": 2000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            }
        },
    },
}

# --- ConfigMap and Service -----------------------------------------------------------

APP_CONFIG = """server:
  port: 8080
database:
  host: platform-prod.cluster-c1x2y3.eu-west-1.rds.amazonaws.com
  password: ${DB_PASSWORD}
  passwordFile: /run/secrets/db/password
oauth:
  tokenUrl: https://auth.example.com/oauth2/token
  clientSecret: ${OAUTH_CLIENT_SECRET}
  secretName: api-oauth
"""
CONFIG_DATA = {
    "LOG_LEVEL": "info",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:platform/db-AbCdEf",
    "PASSWORD_MIN_LENGTH": "12",
    "DATABASE_URL": "postgres://api@platform-prod.cluster-c1x2y3.eu-west-1.rds.amazonaws.com:5432/api?sslmode=require",
    "application.yaml": APP_CONFIG,
}
CONFIG_MAP_PROPS = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "api-config", "namespace": NAMESPACE, "labels": LABELS},
    "data": CONFIG_DATA,
}
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----\n"

SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"
INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal"


def _service(name: str, service_type: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": LABELS, "annotations": annotations},
        "spec": {
            "type": service_type,
            "selector": LABELS,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


INTERNAL_LB = {SCHEME: "internal", "service.beta.kubernetes.io/aws-load-balancer-type": "external"}

ALLOW_INGRESS_POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "api-from-ingress", "namespace": NAMESPACE},
    "spec": {
        "podSelector": {"matchLabels": LABELS},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}]}],
    },
}
DEFAULT_DENY_IN_DEFAULT = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny", "namespace": "default"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}

# Helm values given as files: inline content is read, a file path is not.
SAFE_VALUES_FILE = """controller:
  hostNetwork: false
  containerSecurityContext:
    readOnlyRootFilesystem: true
    capabilities:
      drop: [ALL]
      add: [NET_BIND_SERVICE]
    seccompProfile:
      type: RuntimeDefault
  extraEnv:
    - name: LOG_LEVEL
      value: info
    - name: API_TOKEN
      valueFrom:
        secretKeyRef: {name: controller-api, key: token}
"""
RELEASE_WITH_FILES: dict[str, Any] = {
    **RELEASE_PROPS,
    "valueYamlFiles": [string_asset(SAFE_VALUES_FILE), file_asset("values/prod.yaml")],
}

# --- cases ---------------------------------------------------------------------------

CASES = [
    # Pod Security Standards, on every workload kind.
    *_workload_cases(
        "kubernetes-container-enforce-run-as-non-root",
        {
            "pod-false": {"securityContext.runAsNonRoot": False},
            "pod-unset": {"securityContext.runAsNonRoot": DELETE},
            "container-false": {"containers.0.securityContext.runAsNonRoot": False},
            "init-uid-0": {"initContainers.0.securityContext.runAsUser": 0},
            "pod-uid-0": {"securityContext.runAsUser": 0},
        },
        expect={
            "pod-false": "the pod sets runAsNonRoot: false",
            "pod-unset": "runAsNonRoot is not true for {main}, {init} (init)",
            "container-false": "runAsNonRoot is not true for {main}",
            "init-uid-0": "runAsUser is 0 (root) on {init} (init)",
            "pod-uid-0": "runAsUser is 0 (root) on the pod",
        },
    ),
    *_workload_cases(
        "kubernetes-pod-disallow-privileged",
        {
            "container": {"containers.0.securityContext.privileged": True},
            "init": {"initContainers.0.securityContext.privileged": True},
        },
        expect={"container": "privileged containers: {main}", "init": "privileged containers: {init} (init)"},
    ),
    *_workload_cases(
        "kubernetes-container-disallow-privilege-escalation",
        {
            "container-unset": {"containers.0.securityContext.allowPrivilegeEscalation": DELETE},
            "init-true": {"initContainers.0.securityContext.allowPrivilegeEscalation": True},
        },
        expect={
            "container-unset": "allowPrivilegeEscalation is not false for {main}",
            "init-true": "allowPrivilegeEscalation is not false for {init} (init)",
        },
    ),
    *_workload_cases(
        "kubernetes-container-enforce-drop-all-capabilities",
        {
            "drop-nothing": {"containers.0.securityContext.capabilities.drop": []},
            "init-no-capabilities": {"initContainers.0.securityContext.capabilities": DELETE},
            "add-net-admin": {"containers.0.securityContext.capabilities.add": ["NET_BIND_SERVICE", "NET_ADMIN"]},
        },
        expect={
            "drop-nothing": "capabilities ALL not dropped for {main}",
            "init-no-capabilities": "capabilities ALL not dropped for {init} (init)",
            "add-net-admin": "capabilities added: {main} (NET_ADMIN)",
        },
    ),
    *_workload_cases(
        "kubernetes-pod-enforce-seccomp-runtime-default",
        {
            "pod-unconfined": {"securityContext.seccompProfile.type": "Unconfined"},
            "pod-unset": {"securityContext.seccompProfile": DELETE},
            "container-unconfined": {"containers.0.securityContext.seccompProfile": {"type": "Unconfined"}},
        },
        expect={
            "pod-unconfined": "the pod's seccomp profile is Unconfined",
            "pod-unset": "not RuntimeDefault for {main} (unset), {init} (init) (unset)",
            "container-unconfined": "not RuntimeDefault for {main} (Unconfined)",
        },
    ),
    *_workload_cases(
        "kubernetes-container-enforce-read-only-root-filesystem",
        {
            "container-false": {"containers.0.securityContext.readOnlyRootFilesystem": False},
            "init-unset": {"initContainers.0.securityContext.readOnlyRootFilesystem": DELETE},
        },
        expect={"container-false": "root filesystem for {main}", "init-unset": "root filesystem for {init} (init)"},
    ),
    *_workload_cases(
        "kubernetes-pod-disallow-host-namespaces",
        {"host-network": {"hostNetwork": True}, "host-pid": {"hostPID": True}, "host-ipc": {"hostIPC": True}},
        expect={"host-network": "sets hostNetwork", "host-pid": "sets hostPID", "host-ipc": "sets hostIPC"},
    ),
    *_workload_cases(
        "kubernetes-pod-disallow-host-path-volumes",
        {"docker-socket": {"volumes.0": {"name": "tmp", "hostPath": {"path": "/var/run/docker.sock"}}}},
        expect={"docker-socket": "hostPath volumes: tmp (/var/run/docker.sock)"},
    ),
    *_workload_cases(
        "kubernetes-container-disallow-host-ports",
        {"init-host-port": {"initContainers.0.ports": [{"containerPort": 9090, "hostPort": 9090}]}},
        expect={"init-host-port": "host ports bound by {init} (init) (9090)"},
    ),
    *_workload_cases(
        "kubernetes-container-disallow-host-ports",
        {"host-port": {"containers.0.ports.0.hostPort": 8080}},
        expect={"host-port": "host ports bound by {main} (8080)"},
        kinds=LONG_RUNNING,
    ),
    # Requests, limits and probes (availability).
    *_workload_cases(
        "kubernetes-container-missing-resource-requests",
        {
            "no-cpu-request": {"containers.0.resources.requests.cpu": DELETE},
            "init-no-requests": {"initContainers.0.resources.requests": DELETE},
        },
        expect={
            "no-cpu-request": "no resource requests for {main} (cpu)",
            "init-no-requests": "no resource requests for {init} (init) (cpu, memory)",
        },
    ),
    *_workload_cases(
        "kubernetes-container-missing-resource-limits",
        {
            "no-memory-limit": {"containers.0.resources.limits.memory": DELETE},
            "init-no-resources": {"initContainers.0.resources": DELETE},
        },
        expect={
            "no-memory-limit": "no resource limits for {main} (memory)",
            "init-no-resources": "no resource limits for {init} (init) (cpu, memory)",
        },
    ),
    *_workload_cases(
        # Configured to require memory limits only: a container without a CPU limit passes.
        "kubernetes-container-missing-resource-limits",
        {"no-memory-limit": {"containers.0.resources.limits": {"cpu": "1"}}},
        expect={"no-memory-limit": "no resource limits for {main} (memory)"},
        kinds=[DEPLOYMENT],
        config={"requiredLimits": ["memory"]},
    ),
    *_workload_cases(
        "kubernetes-container-missing-liveness-probe",
        {"no-liveness": {"containers.0.livenessProbe": DELETE}},
        expect={"no-liveness": "no liveness probe on {main}"},
        kinds=LONG_RUNNING,
    ),
    *_workload_cases(
        "kubernetes-container-missing-readiness-probe",
        {"no-readiness": {"containers.0.readinessProbe": DELETE}},
        expect={"no-readiness": "no readiness probe on {main}"},
        kinds=LONG_RUNNING,
    ),
    Case(
        # A bare pod that runs to completion needs no probes; once it restarts forever it does.
        policy="kubernetes-container-missing-readiness-probe",
        type=POD,
        compliant={**_workload(POD), "spec": _pod_spec(JOB)},
        violating={"restarts-always": {"spec.restartPolicy": "Always"}},
        expect={"restarts-always": "no readiness probe on backup"},
    ),
    # Images.
    Case(
        policy="kubernetes-container-enforce-image-digest",
        type=DEPLOYMENT,
        compliant=set_path(_workload(DEPLOYMENT), "spec.template.spec.containers.0.image", f"{ECR}/api:1.4.2@{DIGEST}"),
        violating={"tag-only": {"spec.template.spec.containers.0.image": f"{ECR}/api:1.4.2"}},
        expect={"tag-only": "images not pinned by digest: "},
    ),
    *_workload_cases(
        "kubernetes-container-enforce-pinned-image",
        {
            "latest": {"containers.0.image": f"{ECR}/api:latest"},
            "untagged": {"containers.0.image": f"{ECR}/api"},
            "registry-port-untagged": {"initContainers.0.image": "registry.internal:5000/migrate"},
        },
        expect={
            "latest": "api:latest: latest",
            "untagged": "/api: untagged",
            "registry-port-untagged": "{init} (init) (registry.internal:5000/migrate: untagged)",
        },
    ),
    Case(
        policy="kubernetes-container-enforce-pinned-image",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={
            "tag-latest": {"values.image.tag": "latest"},
            "string-untagged": {"values.image": "public.ecr.aws/eks/aws-load-balancer-controller"},
            "string-latest": {"values.image": "public.ecr.aws/eks/aws-load-balancer-controller:latest"},
        },
        expect={
            "tag-latest": "values.image.tag is latest",
            "string-untagged": "values.image is public.ecr.aws/eks/aws-load-balancer-controller: untagged",
            "string-latest": "values.image is public.ecr.aws/eks/aws-load-balancer-controller:latest: latest",
        },
    ),
    Case(
        # An empty tag (or none) means the chart's appVersion, pinned by the chart's version; a repository
        # string with the tag in a sibling key is pinned too.
        policy="kubernetes-container-enforce-pinned-image",
        type=RELEASE,
        compliant={
            **RELEASE_PROPS,
            "values": {
                **RELEASE_PROPS["values"],
                "image": {"repository": "public.ecr.aws/eks/aws-load-balancer-controller", "tag": ""},
                "webhook": {"image": "public.ecr.aws/eks/webhook", "imageTag": "v1.2.0"},
                "initImage": {"repository": "public.ecr.aws/docker/library/busybox"},
            },
        },
        violating={
            "sibling-tag-removed": {"values.webhook.imageTag": DELETE},
            "tag-latest": {"values.image.tag": "latest"},
        },
        expect={
            "sibling-tag-removed": "values.webhook.image is public.ecr.aws/eks/webhook: untagged",
            "tag-latest": "values.image.tag is latest",
        },
        unknown=["values.webhook"],
    ),
    Case(
        policy="kubernetes-container-enforce-pinned-image",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={
            "nested-tag-latest": {"values.grafana.sidecar.image.tag": "latest"},
            "string-image-in-list": {"values.grafana.extraInitContainers.0.image": "busybox:latest"},
        },
        expect={
            "nested-tag-latest": "values.grafana.sidecar.image.tag is latest",
            "string-image-in-list": "values.grafana.extraInitContainers[0].image is busybox:latest",
        },
    ),
    # Helm values: the same container settings where the chart exposes them.
    Case(
        policy="kubernetes-pod-disallow-privileged",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={"values-privileged": {"values.securityContext.privileged": True}},
        expect={"values-privileged": "values.securityContext sets privileged: true"},
    ),
    Case(
        policy="kubernetes-container-disallow-privilege-escalation",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={"values-escalation": {"values.securityContext.allowPrivilegeEscalation": True}},
        expect={"values-escalation": "values.securityContext sets allowPrivilegeEscalation: true"},
    ),
    Case(
        policy="kubernetes-container-enforce-run-as-non-root",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={"values-root": {"values.securityContext.runAsNonRoot": False}},
        expect={"values-root": "values.securityContext sets runAsNonRoot: false"},
    ),
    Case(
        policy="kubernetes-pod-disallow-privileged",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={"list-item": {"values.grafana.extraInitContainers.0.securityContext.privileged": True}},
        expect={"list-item": "values.grafana.extraInitContainers[0].securityContext sets privileged: true"},
    ),
    Case(
        policy="kubernetes-container-disallow-privilege-escalation",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={"operator": {"values.prometheusOperator.containerSecurityContext.allowPrivilegeEscalation": "true"}},
        expect={"operator": "values.prometheusOperator.containerSecurityContext sets allowPrivilegeEscalation"},
    ),
    Case(
        policy="kubernetes-container-enforce-run-as-non-root",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={"prometheus": {"values.prometheus.prometheusSpec.securityContext.runAsNonRoot": False}},
        expect={"prometheus": "values.prometheus.prometheusSpec.securityContext sets runAsNonRoot: false"},
    ),
    # Helm values: host namespaces, capabilities, seccomp, read-only root, secret env, anywhere in the values.
    Case(
        policy="kubernetes-pod-disallow-host-namespaces",
        type=RELEASE,
        compliant=RELEASE_WITH_FILES,
        violating={
            "host-network": {"values.hostNetwork": True},
            "nested-host-pid": {"values.daemonset": {"hostPID": "true"}},
            "in-values-file": {
                "valueYamlFiles.0": string_asset(SAFE_VALUES_FILE.replace("hostNetwork: false", "hostNetwork: true"))
            },
        },
        expect={
            "host-network": "values.hostNetwork is true",
            "nested-host-pid": "values.daemonset.hostPID is true",
            "in-values-file": "valueYamlFiles[0].controller.hostNetwork is true",
        },
        unknown=["values", "valueYamlFiles.0"],
    ),
    Case(
        policy="kubernetes-pod-disallow-host-namespaces",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={"host-ipc": {"values.prometheus.prometheusSpec.hostIPC": True}},
        expect={"host-ipc": "values.prometheus.prometheusSpec.hostIPC is true"},
    ),
    Case(
        policy="kubernetes-container-enforce-drop-all-capabilities",
        type=RELEASE,
        compliant=RELEASE_WITH_FILES,
        violating={
            "add-sys-admin": {"values.securityContext.capabilities.add": ["NET_BIND_SERVICE", "SYS_ADMIN"]},
            "in-values-file": {
                "valueYamlFiles.0": string_asset(SAFE_VALUES_FILE.replace("add: [NET_BIND_SERVICE]", "add: [NET_RAW]"))
            },
        },
        expect={
            "add-sys-admin": "values.securityContext.capabilities.add adds SYS_ADMIN",
            "in-values-file": "valueYamlFiles[0].controller.containerSecurityContext.capabilities.add adds NET_RAW",
        },
        unknown=["values.securityContext.capabilities", "valueYamlFiles.0"],
    ),
    Case(
        policy="kubernetes-pod-enforce-seccomp-runtime-default",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={
            "unconfined": {"values.prometheus.prometheusSpec.securityContext.seccompProfile.type": "Unconfined"}
        },
        expect={"unconfined": "values.prometheus.prometheusSpec.securityContext.seccompProfile.type is Unconfined"},
    ),
    Case(
        policy="kubernetes-pod-enforce-seccomp-runtime-default",
        type=RELEASE,
        compliant=RELEASE_WITH_FILES,
        violating={
            "in-values-file": {
                "valueYamlFiles.0": string_asset(SAFE_VALUES_FILE.replace("RuntimeDefault", "Unconfined"))
            }
        },
        expect={
            "in-values-file": "valueYamlFiles[0].controller.containerSecurityContext.seccompProfile.type is Unconfined"
        },
    ),
    Case(
        policy="kubernetes-container-enforce-read-only-root-filesystem",
        type=RELEASE,
        compliant=RELEASE_WITH_FILES,
        violating={
            "writable": {"values.securityContext.readOnlyRootFilesystem": False},
            "in-values-file": {
                "valueYamlFiles.0": string_asset(
                    SAFE_VALUES_FILE.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
                )
            },
        },
        expect={
            "writable": "values.securityContext.readOnlyRootFilesystem is false",
            "in-values-file": "valueYamlFiles[0].controller.containerSecurityContext.readOnlyRootFilesystem is false",
        },
        unknown=["values.securityContext", "valueYamlFiles.0"],
    ),
    Case(
        policy="kubernetes-container-disallow-plain-secret-env",
        type=RELEASE,
        compliant=RELEASE_WITH_FILES,
        violating={
            "env-password": {"values.env": [{"name": "DB_PASSWORD", "value": "hunter2-but-longer"}]},
            "in-values-file": {
                "valueYamlFiles.0": string_asset(
                    SAFE_VALUES_FILE + "  extraEnvVars:\n    - name: SLACK_TOKEN\n      value: xoxb-1234-abcd\n"
                )
            },
        },
        expect={
            "env-password": "secret env vars with literal values: values.env[0] DB_PASSWORD",
            "in-values-file": "valueYamlFiles[0].controller.extraEnvVars[0] SLACK_TOKEN",
        },
        unknown=["values", "valueYamlFiles.0"],
    ),
    Case(
        policy="kubernetes-container-disallow-plain-secret-env",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={
            "init-container-env": {
                "values.grafana.extraInitContainers.0.env": [{"name": "adminPassword", "value": "prom-operator"}]
            }
        },
        expect={"init-container-env": "values.grafana.extraInitContainers[0].env[0] adminPassword"},
    ),
    Case(
        policy="kubernetes-helm-release-enforce-pinned-version",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={
            "no-version": {"version": DELETE},
            "latest": {"version": "latest"},
            "caret": {"version": "^1.8.0"},
            "wildcard": {"version": "1.8.x"},
            "partial": {"version": "1.8"},
        },
        expect={
            "no-version": "chart aws-load-balancer-controller has no version",
            "latest": "is at version latest",
            "caret": "version '^1.8.0' is a range",
            "wildcard": "version '1.8.x' is a range",
            "partial": "version '1.8' is a range",
        },
    ),
    Case(
        policy="kubernetes-helm-release-enforce-pinned-version",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={"range": {"version": ">=65.0.0 <66.0.0"}, "tilde": {"version": "~65.1"}},
        expect={"range": "is a range", "tilde": "is a range"},
    ),
    Case(
        # A chart from the repository's own directory is pinned by the commit.
        policy="kubernetes-helm-release-enforce-pinned-version",
        type=RELEASE,
        compliant={
            **{k: v for k, v in RELEASE_PROPS.items() if k not in ("version", "repositoryOpts")},
            "chart": "./charts/platform-api",
        },
        violating={"from-a-repository": {"chart": "eks/platform-api"}},
        expect={"from-a-repository": "chart eks/platform-api has no version"},
    ),
    # Namespaces.
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=DEPLOYMENT,
        compliant=_workload(DEPLOYMENT),
        violating={"no-namespace": {"metadata.namespace": DELETE}, "default": {"metadata.namespace": "default"}},
        expect={"no-namespace": "no namespace is set", "default": "the namespace is default"},
    ),
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=CRON_JOB,
        compliant=_workload(CRON_JOB),
        violating={"empty-namespace": {"metadata.namespace": ""}},
        expect={"empty-namespace": "no namespace is set"},
    ),
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=CONFIG_MAP,
        compliant=CONFIG_MAP_PROPS,
        violating={"no-namespace": {"metadata.namespace": DELETE}},
        expect={"no-namespace": "no namespace is set, so it goes to the default namespace"},
    ),
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=SERVICE,
        compliant=_service("api", "ClusterIP", {}),
        violating={"default": {"metadata.namespace": "default"}},
        expect={"default": "the namespace is default"},
    ),
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={"no-namespace": {"namespace": DELETE}, "default": {"namespace": "default"}},
        expect={"no-namespace": "no namespace is set", "default": "the namespace is default"},
    ),
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=NETWORK_POLICY,
        compliant=ALLOW_INGRESS_POLICY,
        violating={"no-namespace": {"metadata.namespace": DELETE}},
        expect={"no-namespace": "no namespace is set"},
    ),
    Case(
        # Denying everything in the default namespace is what a platform should do there.
        policy="kubernetes-object-disallow-default-namespace",
        type=NETWORK_POLICY,
        compliant=DEFAULT_DENY_IN_DEFAULT,
        violating={
            "allows-ingress": {"spec.ingress": [{"from": [{"podSelector": {}}]}]},
            "namespace-left-implicit": {"metadata.namespace": DELETE},
        },
        expect={"allows-ingress": "the namespace is default", "namespace-left-implicit": "no namespace is set"},
        unknown=["spec"],
    ),
    Case(
        policy="kubernetes-object-disallow-default-namespace",
        type=RESOURCE_QUOTA,
        compliant={
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "compute", "namespace": NAMESPACE},
            "spec": {"hard": {"requests.cpu": "8", "requests.memory": "16Gi"}},
        },
        violating={"default": {"metadata.namespace": "default"}},
        expect={"default": "the namespace is default"},
    ),
    # Services.
    Case(
        policy="kubernetes-service-disallow-public-load-balancer",
        type=SERVICE,
        compliant=_service("api", "LoadBalancer", INTERNAL_LB),
        violating={
            "internet-facing": {"metadata.annotations": {SCHEME: "internet-facing"}},
            "no-annotations": {"metadata.annotations": DELETE},
        },
        expect={
            "internet-facing": "Service api is an internet-facing LoadBalancer",
            "no-annotations": "Service api is an internet-facing LoadBalancer",
        },
        unknown=["metadata.annotations"],
    ),
    Case(
        policy="kubernetes-service-disallow-public-load-balancer",
        type=SERVICE,
        compliant=_service("api", "LoadBalancer", {INTERNAL: "true"}),
        violating={"legacy-false": {"metadata.annotations": {INTERNAL: "false"}}},
        expect={"legacy-false": "Service api is an internet-facing LoadBalancer"},
    ),
    Case(
        policy="kubernetes-service-disallow-public-load-balancer",
        type=SERVICE,
        compliant=_service("api", "ClusterIP", {}),
        violating={"becomes-load-balancer": {"spec.type": "LoadBalancer"}},
        expect={"becomes-load-balancer": "Service api is an internet-facing LoadBalancer"},
    ),
    Case(
        # Allowed by name in the stack's policy config.
        policy="kubernetes-service-disallow-public-load-balancer",
        type=SERVICE,
        compliant=_service("public-ingress", "LoadBalancer", {}),
        violating={"another-name": {"metadata.name": "admin"}},
        expect={"another-name": "Service admin is an internet-facing"},
        config={"allowedLoadBalancerServices": ["platform/public-ingress"]},
    ),
    # Secrets in ConfigMaps and env.
    Case(
        policy="kubernetes-configmap-disallow-secret-values",
        type=CONFIG_MAP,
        compliant=CONFIG_MAP_PROPS,
        violating={
            "password-key": {"data.DB_PASSWORD": "hunter2-but-longer"},
            "camel-case-api-key": {"data.stripeApiKey": "sk_live_51H8xY2eZvKYlo2C"},
            "url-with-password": {"data.DATABASE_URL": "postgres://api:s3cr3t@db.internal:5432/api"},
            "aws-access-key": {"data.AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"},
            "password-in-file": {
                "data": {**CONFIG_DATA, "application.yaml": APP_CONFIG + "smtp:\n  password: s3cr3t\n"}
            },
            "private-key": {"data": {**CONFIG_DATA, "signing.pem": PEM}},
            "key-file": {"binaryData": {"tls.key": "LS0tLS1CRUdJTg=="}},
        },
        expect={
            "password-key": "key DB_PASSWORD looks like a secret",
            "camel-case-api-key": "key stripeApiKey",
            "url-with-password": "URL with a password",
            "aws-access-key": "AWS access key",
            "password-in-file": "key application.yaml looks like a secret: it sets password",
            "private-key": "key signing.pem looks like a secret: it holds a private key",
            "key-file": "binary key tls.key",
        },
    ),
    *_workload_cases(
        "kubernetes-container-disallow-plain-secret-env",
        {
            "literal-password": {"containers.0.env.1": {"name": "DB_PASSWORD", "value": "hunter2-but-longer"}},
            "init-api-key": {"initContainers.0.env.0": {"name": "datadogApiKey", "value": "0123456789abcdef"}},
        },
        expect={
            "literal-password": "secret env vars with literal values: {main} DB_PASSWORD",
            "init-api-key": "{init} (init) datadogApiKey",
        },
    ),
]

# --- the rest of the Pod Security Standards -------------------------------------------


def _with_pod(kind: str, pod: dict[str, Any]) -> dict[str, Any]:
    """A compliant workload of a kind with pod spec fields (dotted paths from the pod spec) set."""
    props = _workload(kind)
    for path, value in pod.items():
        props = set_path(props, f"{POD_PATH[kind]}.{path}", value)
    return props


APPARMOR = "container.apparmor.security.beta.kubernetes.io"
# Every setting PSS baseline allows, spelled out.
HARDENED_DEPLOYMENT = _with_pod(
    DEPLOYMENT,
    {
        "securityContext.sysctls": [
            {"name": "net.ipv4.tcp_keepalive_time", "value": "600"},
            {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
        ],
        "securityContext.seLinuxOptions": {"type": "container_t", "level": "s0:c123,c456"},
        "securityContext.appArmorProfile": {"type": "RuntimeDefault"},
        "containers.0.securityContext.procMount": "Default",
        "containers.0.securityContext.appArmorProfile": {"type": "Localhost", "localhostProfile": "api"},
        "initContainers.0.securityContext.seLinuxOptions": {"type": "container_init_t"},
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "config", "configMap": {"name": "api-config"}},
            {"name": "db", "secret": {"secretName": "api-db"}},
            {
                "name": "token",
                "projected": {"sources": [{"serviceAccountToken": {"path": "token", "audience": "vault"}}]},
            },
            {"name": "data", "persistentVolumeClaim": {"claimName": "api-data"}},
            {"name": "secrets-store", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True}},
        ],
    },
)
HARDENED_DEPLOYMENT["spec"]["template"]["metadata"]["annotations"] = {
    f"{APPARMOR}/api": "runtime/default",
    f"{APPARMOR}/migrate": "localhost/migrate",
}
HELM_SECURITY = "values.securityContext"

CASES += [
    *_workload_cases(
        "kubernetes-container-disallow-unmasked-proc-mount",
        {
            "container-unmasked": {"containers.0.securityContext.procMount": "Unmasked"},
            "init-unmasked": {"initContainers.0.securityContext.procMount": "Unmasked"},
        },
        expect={
            "container-unmasked": "procMount is not Default for {main} (Unmasked)",
            "init-unmasked": "procMount is not Default for {init} (init) (Unmasked)",
        },
    ),
    Case(
        policy="kubernetes-container-disallow-unmasked-proc-mount",
        type=DEPLOYMENT,
        compliant=HARDENED_DEPLOYMENT,
        violating={
            "default-becomes-unmasked": {"spec.template.spec.containers.0.securityContext.procMount": "Unmasked"}
        },
        expect={"default-becomes-unmasked": "procMount is not Default for api (Unmasked)"},
    ),
    Case(
        policy="kubernetes-container-disallow-unmasked-proc-mount",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={"values-unmasked": {f"{HELM_SECURITY}.procMount": "Unmasked"}},
        expect={"values-unmasked": "values.securityContext sets procMount: Unmasked"},
    ),
    *_workload_cases(
        "kubernetes-pod-disallow-unsafe-sysctls",
        {"somaxconn": {"securityContext.sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}},
        expect={"somaxconn": "unsafe sysctls: net.core.somaxconn"},
    ),
    Case(
        policy="kubernetes-pod-disallow-unsafe-sysctls",
        type=DEPLOYMENT,
        compliant=HARDENED_DEPLOYMENT,
        violating={
            "kernel-msgmax": {"spec.template.spec.securityContext.sysctls.1.name": "kernel.msgmax"},
            "vm-setting": {"spec.template.spec.securityContext.sysctls.0": {"name": "vm.max_map_count", "value": "1"}},
        },
        expect={"kernel-msgmax": "unsafe sysctls: kernel.msgmax", "vm-setting": "unsafe sysctls: vm.max_map_count"},
    ),
    Case(
        policy="kubernetes-pod-disallow-unsafe-sysctls",
        type=RELEASE,
        compliant=OCI_RELEASE_PROPS,
        violating={
            "values-sysctl": {
                "values.prometheus.prometheusSpec.securityContext.sysctls": [
                    {"name": "net.core.somaxconn", "value": "4096"}
                ]
            }
        },
        expect={
            "values-sysctl": "values.prometheus.prometheusSpec.securityContext sets unsafe sysctls: net.core.somaxconn"
        },
    ),
    *_workload_cases(
        "kubernetes-pod-disallow-custom-selinux-options",
        {
            "pod-spc-t": {"securityContext.seLinuxOptions": {"type": "spc_t"}},
            "container-user": {"containers.0.securityContext.seLinuxOptions": {"user": "system_u"}},
        },
        expect={
            "pod-spc-t": "custom SELinux options on the pod (type spc_t)",
            "container-user": "custom SELinux options on {main} (user system_u)",
        },
    ),
    Case(
        policy="kubernetes-pod-disallow-custom-selinux-options",
        type=DEPLOYMENT,
        compliant=HARDENED_DEPLOYMENT,
        violating={
            "pod-type": {"spec.template.spec.securityContext.seLinuxOptions.type": "unconfined_t"},
            "pod-role": {"spec.template.spec.securityContext.seLinuxOptions.role": "sysadm_r"},
            "init-type": {"spec.template.spec.initContainers.0.securityContext.seLinuxOptions.type": "spc_t"},
        },
        expect={
            "pod-type": "custom SELinux options on the pod (type unconfined_t)",
            "pod-role": "custom SELinux options on the pod (role sysadm_r)",
            "init-type": "custom SELinux options on migrate (init) (type spc_t)",
        },
    ),
    Case(
        policy="kubernetes-pod-disallow-custom-selinux-options",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={"values-spc-t": {f"{HELM_SECURITY}.seLinuxOptions": {"type": "spc_t"}}},
        expect={"values-spc-t": "values.securityContext.seLinuxOptions sets type spc_t"},
    ),
    *_workload_cases(
        "kubernetes-container-disallow-unconfined-apparmor",
        {
            "pod-unconfined": {"securityContext.appArmorProfile": {"type": "Unconfined"}},
            "init-unconfined": {"initContainers.0.securityContext.appArmorProfile": {"type": "Unconfined"}},
        },
        expect={
            "pod-unconfined": "AppArmor is not RuntimeDefault or Localhost for the pod (Unconfined)",
            "init-unconfined": "AppArmor is not RuntimeDefault or Localhost for {init} (init) (Unconfined)",
        },
    ),
    Case(
        policy="kubernetes-container-disallow-unconfined-apparmor",
        type=DEPLOYMENT,
        compliant=HARDENED_DEPLOYMENT,
        violating={
            "container-unconfined": {
                "spec.template.spec.containers.0.securityContext.appArmorProfile.type": "Unconfined"
            },
            "annotation-unconfined": {
                "spec.template.metadata.annotations": {
                    **HARDENED_DEPLOYMENT["spec"]["template"]["metadata"]["annotations"],
                    f"{APPARMOR}/api": "unconfined",
                }
            },
        },
        expect={
            "container-unconfined": "for api (Unconfined)",
            "annotation-unconfined": "for api by annotation (unconfined)",
        },
    ),
    Case(
        policy="kubernetes-container-disallow-unconfined-apparmor",
        type=POD,
        compliant=_workload(POD),
        violating={"annotation-unconfined": {"metadata.annotations": {f"{APPARMOR}/api": "unconfined"}}},
        expect={"annotation-unconfined": "for api by annotation (unconfined)"},
    ),
    Case(
        policy="kubernetes-container-disallow-unconfined-apparmor",
        type=RELEASE,
        compliant=RELEASE_PROPS,
        violating={
            "values-profile": {f"{HELM_SECURITY}.appArmorProfile": {"type": "Unconfined"}},
            "values-annotation": {"values.podAnnotations": {f"{APPARMOR}/controller": "unconfined"}},
        },
        expect={
            "values-profile": "values.securityContext.appArmorProfile.type is Unconfined",
            "values-annotation": f"values.podAnnotations.{APPARMOR}/controller is unconfined",
        },
    ),
    *_workload_cases(
        "kubernetes-pod-enforce-restricted-volume-types",
        {"host-path": {"volumes.0": {"name": "tmp", "hostPath": {"path": "/tmp"}}}},
        expect={"host-path": "volumes of types outside PSS restricted: tmp (hostPath)"},
    ),
    Case(
        policy="kubernetes-pod-enforce-restricted-volume-types",
        type=DEPLOYMENT,
        compliant=HARDENED_DEPLOYMENT,
        violating={
            "nfs": {"spec.template.spec.volumes.4": {"name": "data", "nfs": {"server": "10.0.0.5", "path": "/data"}}},
            "ebs-in-tree": {
                "spec.template.spec.volumes.4": {"name": "data", "awsElasticBlockStore": {"volumeID": "vol-1"}}
            },
        },
        expect={"nfs": "data (nfs)", "ebs-in-tree": "data (awsElasticBlockStore)"},
    ),
]

# --- service accounts and RBAC ----------------------------------------------------------

SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
NEEDS_API = "platform.io/needs-kubernetes-api"


def _deployment(name: str, pod: dict[str, Any], annotations: dict[str, str] | None = None) -> Res:
    props = _with_pod(DEPLOYMENT, {"serviceAccountName": name, **pod})
    props["metadata"] = {**props["metadata"], "name": name, **({"annotations": annotations} if annotations else {})}
    return Res(DEPLOYMENT, name, props)


def _account(name: str, automount: bool, namespace: str = NAMESPACE) -> Res:
    metadata = {"name": name, "namespace": namespace, "labels": LABELS}
    return Res(
        SERVICE_ACCOUNT,
        name,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": automount},
    )


# api: its ServiceAccount turns the token off; worker: its pod spec does; operator: calls the API, says so.
TOKEN_GRAPH = [
    _account("api", automount=False),
    _deployment("api", {}),
    _deployment("worker", {"automountServiceAccountToken": False}),
    _deployment("operator", {}, annotations={NEEDS_API: "true"}),
]


def _change(kind: str, name: str, path: str, value: Any) -> Any:
    """A change to the graph: one property of one resource."""

    def change(graph: list[Res]) -> list[Res]:
        return [
            replace(r, props=set_path(r.props, path, value)) if (r.type, r.name) == (kind, name) else r for r in graph
        ]

    return change


def _drop(name: str, kind: str) -> Any:
    return lambda graph: [r for r in graph if not (r.name == name and r.type == kind)]


ROLE_PROPS = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "api-reader", "namespace": NAMESPACE},
    "rules": [
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["api-config"], "verbs": ["get"]},
    ],
}


def _binding(kind: str, name: str, role: str) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": NAMESPACE} if kind == "RoleBinding" else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "Group", "name": "platform-operators", "apiGroup": "rbac.authorization.k8s.io"}],
    }


CASES += [
    *_workload_cases(
        "kubernetes-pod-disallow-default-service-account",
        {"unset": {"serviceAccountName": DELETE}, "default": {"serviceAccountName": "default"}},
        expect={"unset": "no serviceAccountName", "default": "serviceAccountName is default"},
    ),
    StackCase(
        policy="kubernetes-pod-disable-service-account-token-automount",
        compliant=TOKEN_GRAPH,
        violating={
            "account-mounts": _change(SERVICE_ACCOUNT, "api", "automountServiceAccountToken", True),
            "account-not-in-stack": _drop("api", SERVICE_ACCOUNT),
            "account-in-another-namespace": _change(SERVICE_ACCOUNT, "api", "metadata.namespace", "apps"),
            "pod-turns-it-on": _change(DEPLOYMENT, "worker", "spec.template.spec.automountServiceAccountToken", True),
            "opt-in-removed": _change(DEPLOYMENT, "operator", "metadata.annotations", {}),
        },
        expect={
            "account-mounts": "Deployment platform/api mounts the token of service account platform/api",
            "account-not-in-stack": "Deployment platform/api mounts the token of service account platform/api",
            "account-in-another-namespace": "Deployment platform/api mounts the token",
            "pod-turns-it-on": "Deployment platform/worker sets automountServiceAccountToken: true",
            "opt-in-removed": "Deployment platform/operator mounts the token of service account platform/operator",
            "unknown-account": "Deployment platform/worker sets automountServiceAccountToken: true",
            "unknown-pod-setting": "Deployment platform/worker sets automountServiceAccountToken: true",
        },
        unknown={
            # The account may turn api's token off: api is skipped, worker still violates.
            "unknown-account": chain(
                _change(SERVICE_ACCOUNT, "api", "automountServiceAccountToken", unknown()),
                _change(DEPLOYMENT, "worker", "spec.template.spec.automountServiceAccountToken", True),
            ),
            "unknown-pod-setting": chain(
                _change(DEPLOYMENT, "operator", "spec.template.spec.automountServiceAccountToken", unknown()),
                _change(DEPLOYMENT, "operator", "metadata.annotations", {}),
                _change(DEPLOYMENT, "worker", "spec.template.spec.automountServiceAccountToken", True),
            ),
        },
    ),
    StackCase(
        # The opt-in may sit on the pod template too; the pod spec may turn the token on with it.
        policy="kubernetes-pod-disable-service-account-token-automount",
        compliant=_change(DEPLOYMENT, "operator", "spec.template.metadata.annotations", {NEEDS_API: "true"})(
            [_deployment("operator", {"automountServiceAccountToken": True})]
        ),
        violating={
            "no-opt-in": _change(DEPLOYMENT, "operator", "spec.template.metadata.annotations", {NEEDS_API: "false"})
        },
        expect={"no-opt-in": "Deployment platform/operator sets automountServiceAccountToken: true"},
    ),
    Case(
        policy="kubernetes-role-disallow-wildcards",
        type=ROLE,
        compliant=ROLE_PROPS,
        violating={
            "all-verbs": {"rules.0.verbs": ["*"]},
            "all-resources": {"rules.1.resources": ["*"]},
            "all-groups": {"rules.0.apiGroups": ["*"]},
            "all-subresources": {"rules.0.resources": ["deployments", "deployments/*"]},
        },
        expect={
            "all-verbs": "rules[0] has * in verbs",
            "all-resources": "rules[1] has * in resources",
            "all-groups": "rules[0] has * in apiGroups",
            "all-subresources": "rules[0] has * in resources",
        },
    ),
    Case(
        policy="kubernetes-role-disallow-wildcards",
        type=CLUSTER_ROLE,
        compliant={**ROLE_PROPS, "kind": "ClusterRole", "metadata": {"name": "platform-reader"}},
        violating={"everything": {"rules.1": {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}}},
        expect={"everything": "rules[1] has * in apiGroups, resources, verbs"},
    ),
    Case(
        policy="kubernetes-rolebinding-disallow-cluster-admin",
        type=CLUSTER_ROLE_BINDING,
        compliant=_binding("ClusterRoleBinding", "platform-operators-view", "view"),
        violating={"cluster-admin": {"roleRef.name": "cluster-admin"}},
        expect={"cluster-admin": "ClusterRoleBinding platform-operators-view grants cluster-admin"},
    ),
    Case(
        policy="kubernetes-rolebinding-disallow-cluster-admin",
        type=ROLE_BINDING,
        compliant=_binding("RoleBinding", "operators-edit", "edit"),
        violating={"cluster-admin": {"roleRef.name": "cluster-admin"}},
        expect={"cluster-admin": "RoleBinding operators-edit grants cluster-admin"},
    ),
    Case(
        # The platform's own binding, allowed by name in the stack's policy config.
        policy="kubernetes-rolebinding-disallow-cluster-admin",
        type=CLUSTER_ROLE_BINDING,
        compliant=_binding("ClusterRoleBinding", "platform-break-glass", "cluster-admin"),
        violating={"another-name": {"metadata.name": "ci-deployer"}},
        expect={"another-name": "ClusterRoleBinding ci-deployer grants cluster-admin"},
        config={"allowedClusterAdminBindings": ["platform-break-glass"]},
    ),
]

# --- disruption budgets -------------------------------------------------------------------

PDB = "kubernetes:policy/v1:PodDisruptionBudget"
WORKER_LABELS = {"app.kubernetes.io/name": "worker", "app.kubernetes.io/part-of": "platform"}


def _budget(name: str, labels: dict[str, str], **budget: Any) -> Res:
    metadata = {"name": name, "namespace": NAMESPACE}
    spec = {**budget, "selector": {"matchLabels": labels}}
    return Res(
        PDB, name, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata, "spec": spec}
    )


def _worker() -> Res:
    worker = _deployment("worker", {})
    worker.props["spec"]["replicas"] = 3
    worker.props["spec"]["selector"] = {"matchLabels": WORKER_LABELS}
    worker.props["spec"]["template"]["metadata"]["labels"] = WORKER_LABELS
    return worker


# api (2 replicas) may lose one pod; worker (3 replicas) one at a time.
BUDGET_GRAPH = [
    Res(DEPLOYMENT, "api", _workload(DEPLOYMENT)),
    _budget("api", LABELS, minAvailable=1),
    _worker(),
    _budget("worker", WORKER_LABELS, maxUnavailable=1),
]

CASES += [
    StackCase(
        policy="kubernetes-poddisruptionbudget-disallow-zero-disruptions",
        compliant=BUDGET_GRAPH,
        violating={
            "max-unavailable-zero": _change(PDB, "worker", "spec.maxUnavailable", 0),
            "max-unavailable-zero-percent": _change(PDB, "worker", "spec.maxUnavailable", "0%"),
            "min-available-all": _change(PDB, "api", "spec.minAvailable", "100%"),
            "min-available-equals-replicas": _change(PDB, "api", "spec.minAvailable", 2),
            "replicas-drop-to-the-budget": _change(DEPLOYMENT, "api", "spec.replicas", 1),
        },
        expect={
            "max-unavailable-zero": "PodDisruptionBudget platform/worker has maxUnavailable 0: no pod may ever be",
            "max-unavailable-zero-percent": "PodDisruptionBudget platform/worker has maxUnavailable 0%",
            "min-available-all": "PodDisruptionBudget platform/api has minAvailable 100%",
            "min-available-equals-replicas": "minAvailable 2, as many as the replicas of Deployment platform/api (2)",
            "replicas-drop-to-the-budget": "minAvailable 1, as many as the replicas of Deployment platform/api (1)",
            "unknown-replicas": "PodDisruptionBudget platform/worker has maxUnavailable 0",
        },
        unknown={
            # api's replica count cannot be read yet: its budget is not judged; worker's still is.
            "unknown-replicas": chain(
                _change(DEPLOYMENT, "api", "spec.replicas", unknown()),
                _change(PDB, "worker", "spec.maxUnavailable", 0),
            ),
        },
    ),
    StackCase(
        # A budget says nothing about the replicas of a workload in another namespace, or of a workload whose
        # replica count is left to an autoscaler.
        policy="kubernetes-poddisruptionbudget-disallow-zero-disruptions",
        compliant=[
            Res(DEPLOYMENT, "api", set_path(_workload(DEPLOYMENT), "metadata.namespace", "apps")),
            _budget("api", LABELS, minAvailable=2),
            Res(DEPLOYMENT, "worker", set_path(_worker().props, "spec.replicas", DELETE)),
            _budget("worker", WORKER_LABELS, minAvailable=2),
        ],
        violating={
            "deployment-joins-the-budget": _change(DEPLOYMENT, "api", "metadata.namespace", NAMESPACE),
            "replicas-set": _change(DEPLOYMENT, "worker", "spec.replicas", 2),
        },
        expect={
            "deployment-joins-the-budget": "minAvailable 2, as many as the replicas of Deployment platform/api (2)",
            "replicas-set": "minAvailable 2, as many as the replicas of Deployment platform/worker (2)",
        },
    ),
]
