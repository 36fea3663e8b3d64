"""Container logs to CloudWatch Logs: Fluent Bit as a DaemonSet, with an IRSA role, into one log group that
Pulumi creates (customer-managed key, retention from config), never the agent.

- **The log group** is ``/<project>-<stack>/containers`` (``log_group_name``): one per stack (one cluster per
  stack), outside ``/aws/``, which names groups AWS services write to. Its key is its own, and the key's
  policy lets CloudWatch Logs use it for this group only (the encryption context names the group).
- **The role** may only create streams in that group and put events into them. Fluent Bit's
  ``cloudwatch_logs`` output (the C plugin) calls CreateLogStream (an existing stream is success) and
  PutLogEvents, nothing else: no DescribeLogStreams (the retired Go plugin's call), and CreateLogGroup and
  PutRetentionPolicy only with ``auto_create_group``, which is off. No KMS action either: CloudWatch Logs
  encrypts with the key as its own service principal, not as the writer.
- **Every node**: the DaemonSet tolerates every taint (the compute group's ``workload=compute:NoSchedule``
  too) and runs at ``system-node-critical`` priority, so a full node still gets its log agent.
- **What is read**: ``/var/log/containers/*.log`` (the kubelet's links to ``/var/log/pods``), CRI format,
  through two read-only hostPath mounts of just those directories. Positions are kept on the node in
  ``/var/fluent-bit/state`` (a hostPath Fluent Bit writes), so a restarted agent neither loses nor repeats
  lines. The kubernetes filter asks the API server for each pod's name, namespace and container (no labels
  or annotations: they would be paid for on every event) and merges JSON log lines into the event; a pod
  annotated ``fluentbit.io/exclude: "true"`` is not shipped.
- **Streams**: one per pod container, ``<namespace>.<pod>.<container>``; a record the filter could not
  enrich goes to ``without-metadata.<tag>`` (the tag still names pod, namespace and container).
- **Root, on purpose**: the container log files are owned by root with mode 0640, so the agent runs as
  uid 0; otherwise it is locked down (no capabilities, no privilege escalation, read-only root filesystem,
  RuntimeDefault seccomp). The ``monitoring`` namespace is Pod Security ``privileged`` already; the
  policy pack's exemptions (host paths, their volume type, root) and their reasons are in
  policy/config/<stack>.json.
- **Metrics**: Fluent Bit's HTTP server on 2020, scraped through a ServiceMonitor of our own (the chart
  renders its own only when the cluster already reports the Prometheus Operator's API at render time,
  which a first preview cannot know).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addon_network import ANYWHERE, Traffic, allow_traffic
from components.config import LogsConfig
from components.context import Account, StackContext
from components.helm import FLUENT_BIT, NEEDS_API, RESTRICTED_CONTAINER, SCRAPE_LABEL, resources
from components.irsa import ClusterOidc, pod_role
from components.policies import (
    Statement,
    account_administers_key,
    customer_managed_key,
    log_group_arn,
    logs_may_use_key,
    policy_json,
)

RELEASE = "fluent-bit"
"""The Helm release; the chart names its objects after it (DaemonSet, Service, ConfigMap: fluent-bit)."""
SERVICE_ACCOUNT = "fluent-bit"
ROLE = "fluent-bit"
POD_LABELS = {"app.kubernetes.io/name": "fluent-bit", "app.kubernetes.io/instance": RELEASE}
"""The chart's selector labels: the DaemonSet's pods and its Service carry them."""
METRICS_PORT = 2020
"""Fluent Bit's HTTP server: health checks and Prometheus metrics (the chart's port ``http``)."""
METRICS_PATH = "/api/v2/metrics/prometheus"
HTTPS = 443
STATE_DIR = "/var/fluent-bit/state"
"""On the node: the tail input's position database."""
LOG_DIRS = ("/var/log/containers", "/var/log/pods")
"""On the node, mounted read-only: the kubelet's links, and the CRI log files they point to."""
TAIL_PATH = "/var/log/containers/*.log"
TAG_PREFIX = "kube.var.log.containers."
"""The tail input's tag for a file: ``kube.`` and the path with dots (what the kubernetes filter parses)."""
MEMORY_BUFFER_LIMIT = "32MB"
"""How much the tail input holds in memory while CloudWatch Logs is slow; beyond it the input pauses (the
lines wait in the files) instead of the pod growing until it is OOM-killed."""
FLUSH_SECONDS = 5
"""Events reach CloudWatch Logs within about this; fewer, larger PutLogEvents calls than the default 1s."""
RETRY_LIMIT = "no_limits"
"""A failed PutLogEvents is retried (with backoff) until it goes through: during an outage the memory buffer
fills and the tail input pauses, so lines wait in the node's files instead of being dropped (they are lost
only if the kubelet rotates a file away meanwhile). What CloudWatch Logs refuses for good (a record too large,
a stream deleted under the agent) the plugin drops itself, without retrying."""
STREAM_TEMPLATE = "$kubernetes['namespace_name'].$kubernetes['pod_name'].$kubernetes['container_name']"
FALLBACK_STREAM_PREFIX = "without-metadata."
"""Streams of records the kubernetes filter could not enrich: the prefix, then the tag."""
EXCLUDE_ANNOTATION = "fluentbit.io/exclude"
"""A pod annotated with it ("true") is not shipped (the kubernetes filter's K8S-Logging.Exclude)."""


def log_group_name(context: StackContext) -> str:
    """``/<project>-<stack>/containers``: known before the group exists (chart values and the key policy)."""
    return f"/{context.naming.prefix}/containers"


def _section(kind: str, settings: dict[str, Any]) -> str:
    """One section of Fluent Bit's classic configuration."""
    width = max(len(key) for key in settings)
    lines = [f"    {key.ljust(width)} {value}" for key, value in settings.items()]
    return "\n".join([f"[{kind}]", *lines]) + "\n"


def fluent_bit_config(*, region: str, cluster_name: str, log_group_name: str) -> dict[str, str]:
    """The chart's ``config`` texts: service, inputs, filters, outputs (classic mode)."""
    service = _section(
        "SERVICE",
        {
            "Daemon": "Off",
            "Flush": FLUSH_SECONDS,
            "Log_Level": "info",
            "HTTP_Server": "On",
            "HTTP_Listen": "0.0.0.0",
            "HTTP_Port": METRICS_PORT,
            # /api/v2/health (the readiness probe) fails while output errors or retries pile up.
            "Health_Check": "On",
        },
    )
    inputs = _section(
        "INPUT",
        {
            "Name": "tail",
            "Tag": "kube.*",
            "Path": TAIL_PATH,
            # containerd writes CRI lines and splits long ones; the cri parser joins them.
            "multiline.parser": "cri",
            "DB": f"{STATE_DIR}/tail-containers.db",
            "DB.locking": "true",
            "Mem_Buf_Limit": MEMORY_BUFFER_LIMIT,
            "Skip_Long_Lines": "On",
            "Refresh_Interval": 10,
            # A file found with no position yet (a pod that started before the agent on a new node) is read
            # from its start; a known file resumes where the database says.
            "Read_from_Head": "On",
        },
    )
    filters = (
        _section(
            "FILTER",
            {
                "Name": "kubernetes",
                "Match": "kube.*",
                "Kube_Tag_Prefix": TAG_PREFIX,
                "Merge_Log": "On",
                "Keep_Log": "Off",
                "K8S-Logging.Parser": "Off",
                "K8S-Logging.Exclude": "On",
                "Labels": "Off",
                "Annotations": "Off",
                # No cap on the API server's answer: a pod with a large spec would otherwise lose its metadata.
                "Buffer_Size": 0,
            },
        )
        + "\n"
        + _section(
            "FILTER",
            {
                "Name": "modify",
                "Match": "kube.*",
                # Which cluster, for queries across groups and for logs exported out of the group.
                "Add": f"cluster {cluster_name}",
                # The CRI partial-line flag, meaningless once the cri parser has joined the lines.
                "Remove": "_p",
            },
        )
    )
    outputs = _section(
        "OUTPUT",
        {
            "Name": "cloudwatch_logs",
            "Match": "kube.*",
            "region": region,
            "log_group_name": log_group_name,
            "log_stream_template": STREAM_TEMPLATE,
            "log_stream_prefix": FALLBACK_STREAM_PREFIX,
            # The group is Pulumi's; the role may not create one anyway.
            "auto_create_group": "Off",
            "Retry_Limit": RETRY_LIMIT,
        },
    )
    return {"service": service, "inputs": inputs, "filters": filters, "outputs": outputs, "customParsers": ""}


def _host_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The DaemonSet's hostPath volumes and their mounts: the log directories read-only, the state writable."""
    volumes, mounts = [], []
    for directory in LOG_DIRS:
        name = directory.strip("/").replace("/", "-")
        volumes.append({"name": name, "hostPath": {"path": directory, "type": "Directory"}})
        mounts.append({"name": name, "mountPath": directory, "readOnly": True})
    volumes.append({"name": "state", "hostPath": {"path": STATE_DIR, "type": "DirectoryOrCreate"}})
    mounts.append({"name": "state", "mountPath": STATE_DIR})
    return volumes, mounts


def values(config: LogsConfig, *, region: str, cluster_name: str, log_group_name: str, role_arn: str) -> dict[str, Any]:
    """The chart's values (every key is checked against the chart's values.yaml by a test). Nothing of
    ``config`` reaches them today (its version is the Chart's, its retention the group's)."""
    volumes, mounts = _host_volumes()
    return {
        "kind": "DaemonSet",
        "serviceAccount": {
            "create": True,
            "name": SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        # The kubernetes filter reads pods and namespaces (the chart's ClusterRole) with the token.
        "podAnnotations": NEEDS_API,
        # Root: the container log files are root's, mode 0640. Nothing else of root's power is kept.
        "podSecurityContext": {"runAsUser": 0, "runAsGroup": 0, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {**RESTRICTED_CONTAINER, "runAsNonRoot": False, "runAsUser": 0, "privileged": False},
        "tolerations": [{"operator": "Exists"}],
        "priorityClassName": "system-node-critical",
        "resources": resources("50m", "128Mi", "500m"),
        "metricsPort": METRICS_PORT,
        "config": fluent_bit_config(region=region, cluster_name=cluster_name, log_group_name=log_group_name),
        "daemonSetVolumes": volumes,
        "daemonSetVolumeMounts": mounts,
        # Our own ServiceMonitor (see the module docstring); the chart's helm-test pod is not wanted.
        "serviceMonitor": {"enabled": False},
        "testFramework": {"enabled": False},
    }


def role_statements(account: Account, region: str, group_name: str) -> list[Statement]:
    """Create streams in the one group and put events into them: what the cloudwatch_logs output calls."""
    return [
        Statement(
            sid="WriteContainerLogStreams",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            # CreateLogStream is authorized against the group, PutLogEvents against its streams
            # (<group>:log-stream:<name>): the group and everything below it, nothing else.
            resources=[log_group_arn(account, region, group_name), f"{log_group_arn(account, region, group_name)}:*"],
        )
    ]


def key_statements(account: Account, region: str, group_name: str) -> list[Statement]:
    """The account administers the key; CloudWatch Logs may use it for the containers' group only."""
    return [
        account_administers_key(account),
        logs_may_use_key(
            "CloudWatchLogsUseForContainerLogs", account, region, [log_group_arn(account, region, group_name)]
        ),
    ]


@dataclass
class LogShippingArgs:
    config: LogsConfig
    """Chart version and retention (monitoring.logs)."""
    context: StackContext
    oidc: ClusterOidc
    cluster_name: str
    """The EKS cluster's name as a plain string (added to every event)."""
    namespace: str
    """Where Fluent Bit runs (monitoring: Pod Security privileged, default deny, DNS egress)."""
    namespace_resource: pulumi.Resource
    """The Namespace object: every in-cluster object waits for it."""
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    """The Prometheus Operator CRD chart's objects (Chart.resources): the ServiceMonitor waits for them."""
    wait_for: Sequence[pulumi.Resource]
    """The node groups: the pods need somewhere to run."""
    protect: bool = True
    """Pulumi ``protect`` on the log group's key (deleting it makes every stored event unreadable); turn off
    only for non-production (the platform passes monitoring.protect)."""


class LogShipping(pulumi.ComponentResource):
    """The containers' log group and its key, Fluent Bit's role, chart, traffic policy and ServiceMonitor."""

    log_group_name: pulumi.Output[str]
    """The CloudWatch Logs group every container's output goes to."""

    def __init__(self, name: str, args: LogShippingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:LogShipping", name, None, opts)
        context = args.context
        group_name = log_group_name(context)
        log_group = self._log_group(name, args, group_name)
        role = pod_role(
            f"{name}-role",
            purpose=ROLE,
            context=context,
            oidc=args.oidc,
            namespace=args.namespace,
            service_account=SERVICE_ACCOUNT,
            statements=context.account.apply(lambda a: role_statements(a, context.region, group_name)),
            parent=self,
        )
        traffic = allow_traffic(
            RELEASE,
            namespace=args.namespace,
            traffic=Traffic(
                pods=POD_LABELS,
                from_monitoring=[METRICS_PORT],
                # The API server (the `kubernetes` Service's ClusterIP), STS and CloudWatch Logs (their VPC
                # endpoints, or the NAT gateways): HTTPS only.
                egress={ANYWHERE: [HTTPS]},
            ),
            # Nothing in the VPC calls Fluent Bit (no from_vpc port), so the VPC's range is not used.
            vpc_cidr="",
            parent=self,
            wait_for=args.namespace_resource,
        )
        FLUENT_BIT.install(
            RELEASE,
            version=args.config.fluent_bit,
            namespace=args.namespace,
            values=context.account.apply(
                lambda a: values(
                    args.config,
                    region=context.region,
                    cluster_name=args.cluster_name,
                    log_group_name=group_name,
                    role_arn=a.role_arn(context.iam_role_name(ROLE)),
                )
            ),
            parent=self,
            # No pod before its group, role and traffic exist; on destroy the agent goes first.
            depends_on=[args.namespace_resource, traffic, log_group, *role.grants, *args.wait_for],
        )
        self._service_monitor(name, args)
        self.log_group_name = log_group.name
        self.register_outputs({"log_group_name": self.log_group_name})

    def _log_group(self, name: str, args: LogShippingArgs, group_name: str) -> aws.cloudwatch.LogGroup:
        context = args.context
        prefix = context.naming.prefix
        key = customer_managed_key(
            self,
            f"{name}-key",
            alias=f"{prefix}-container-logs",
            description=f"{prefix} CloudWatch Logs: the containers' log group",
            policy=policy_json(self, context.account.apply(lambda a: key_statements(a, context.region, group_name))),
            protect=args.protect,
        )
        return aws.cloudwatch.LogGroup(
            f"{name}-containers",
            aws.cloudwatch.LogGroupArgs(
                name=group_name,
                retention_in_days=args.config.retention_days,
                kms_key_id=key.arn,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _service_monitor(self, name: str, args: LogShippingArgs) -> None:
        k8s.apiextensions.CustomResource(
            f"{name}-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=RELEASE, namespace=args.namespace, labels={**POD_LABELS, **SCRAPE_LABEL}
            ),
            spec={
                # The chart's Service (port `http`, 2020) selects the DaemonSet's pods by the same labels.
                "selector": {"matchLabels": POD_LABELS},
                "endpoints": [{"port": "http", "path": METRICS_PATH, "interval": "30s", "scheme": "http"}],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.monitoring_crds.apply(lambda crds: [args.namespace_resource, *(crds or [])]),
            ),
        )
