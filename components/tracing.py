"""Tracing: an OpenTelemetry Collector that receives every service's spans and keeps a sample, and Tempo,
which stores them in S3 and answers Grafana.

- **Receivers**: OTLP (gRPC 4317, HTTP 4318), Jaeger (gRPC 14250, Thrift HTTP 14268, compact UDP 6831) and
  Zipkin (9411), at ``otel-collector.monitoring``; every service may reach them (components/service.py
  opens its egress and sets ``OTEL_EXPORTER_OTLP_ENDPOINT``).
- **Sampling** at the collector, by trace id (head sampling, ``probabilistic_sampler``):
  ``monitoring.tracing.samplingPercentage`` of the traces, all spans of a kept trace (every collector
  replica hashes the same trace id the same way). prod keeps 10%. Tail sampling (keep every trace with an
  error) needs all spans of a trace at one collector, a load-balancing tier in front: not worth it yet.
- **Storage**: Tempo (single binary, one StatefulSet) writes blocks to its own bucket, encrypted with the
  backups' KMS key (the key the platform already audits and keeps). Tempo deletes blocks after 6 days; the
  bucket's lifecycle removes anything older than 7 days, whatever Tempo did, so traces, which can hold
  personal data in attributes, never outlive a week. Not the backup bucket itself: its Object Lock would
  refuse Tempo's compaction deletes, and replicating traces to the DR region buys nothing.
- Tempo's write-ahead log is on a gp3 volume: a restart does not lose the spans of the last minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addon_network import ANYWHERE, cidr_peers, monitoring_peer, pod_traffic_policy, tcp_ports
from components.config import TracingConfig
from components.context import Account, StackContext
from components.helm import (
    OPENTELEMETRY_COLLECTOR,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    SCRAPE_LABEL,
    TEMPO,
    resources,
)
from components.irsa import ClusterOidc, pod_role
from components.policies import Statement, deny_insecure_transport, key_through_s3_for_bucket, policy_json

TEMPO_RELEASE = "tempo"
TEMPO_SERVICE_ACCOUNT = "tempo"
TEMPO_ROLE = "tempo"
TEMPO_HTTP_PORT = 3200
TEMPO_OTLP_PORT = 4317
COLLECTOR_RELEASE = "otel-collector"
COLLECTOR_METRICS_PORT = 8888
BUCKET_PURPOSE = "traces"
TRACE_BUCKET_TAGS = {"purpose": "traces"}
LIFECYCLE_DAYS = 7
"""Days an object stays in the bucket, whatever Tempo does."""
TEMPO_RETENTION = "144h"
"""Tempo's own block retention: 6 days, so that Tempo deletes (and forgets) a block before the lifecycle
does; a block deleted under Tempo makes its queries fail until the next blocklist poll."""
STORAGE_CLASS = "gp3"
# The collector's receivers: port name -> (port, protocol). The OTLP ones are what OTel SDKs use.
RECEIVER_PORTS: dict[str, tuple[int, str]] = {
    "otlp": (4317, "TCP"),
    "otlp-http": (4318, "TCP"),
    "jaeger-grpc": (14250, "TCP"),
    "jaeger-thrift": (14268, "TCP"),
    "jaeger-compact": (6831, "UDP"),
    "zipkin": (9411, "TCP"),
}
COLLECTOR_LABELS = {
    "app.kubernetes.io/name": "opentelemetry-collector",
    "app.kubernetes.io/instance": COLLECTOR_RELEASE,
}
OTLP_HTTP_ENDPOINT = f"http://{COLLECTOR_RELEASE}.monitoring:{RECEIVER_PORTS['otlp-http'][0]}"
"""Where a service's OpenTelemetry SDK sends spans (OTEL_EXPORTER_OTLP_ENDPOINT), with
OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: SDKs that default to gRPC would otherwise speak gRPC to it."""


def tempo_values(
    *, region: str, bucket: str, role_arn: str, node_selector: dict[str, str], wal_gib: int = 10
) -> dict[str, Any]:
    """The tempo chart's values (every key is checked against the chart's values.yaml by a test)."""
    return {
        "fullnameOverride": TEMPO_RELEASE,
        "tempo": {
            "retention": TEMPO_RETENTION,
            # No usage reports to Grafana Labs from a production cluster.
            "reportingEnabled": False,
            "storage": {
                "trace": {
                    "backend": "s3",
                    # The bucket's default encryption is the KMS key: no key id in Tempo's requests.
                    "s3": {"bucket": bucket, "endpoint": f"s3.{region}.amazonaws.com", "region": region},
                    "wal": {"path": "/var/tempo/wal"},
                }
            },
            # The chart's default receivers stay (its Service template needs the Jaeger ones), but only the
            # collector's OTLP gRPC gets through Tempo's NetworkPolicy.
            "resources": resources("250m", "1Gi", "1"),
            "securityContext": RESTRICTED_CONTAINER,
        },
        "securityContext": {**RESTRICTED_POD, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
        "persistence": {"enabled": True, "storageClassName": STORAGE_CLASS, "size": f"{wal_gib}Gi"},
        "serviceAccount": {
            "name": TEMPO_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            # S3 credentials come from the projected web-identity token; Tempo never calls the API server.
            "automountServiceAccountToken": False,
        },
        "serviceMonitor": {"enabled": True, "additionalLabels": SCRAPE_LABEL},
        "nodeSelector": node_selector,
    }


def collector_config(sampling_percentage: float) -> dict[str, Any]:
    """The collector's whole configuration (the chart's defaults, which log every span, are replaced)."""
    listen = "${env:MY_POD_IP}"
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{listen}:{RECEIVER_PORTS['otlp'][0]}"},
                    "http": {"endpoint": f"{listen}:{RECEIVER_PORTS['otlp-http'][0]}"},
                }
            },
            "jaeger": {
                "protocols": {
                    "grpc": {"endpoint": f"{listen}:{RECEIVER_PORTS['jaeger-grpc'][0]}"},
                    "thrift_http": {"endpoint": f"{listen}:{RECEIVER_PORTS['jaeger-thrift'][0]}"},
                    "thrift_compact": {"endpoint": f"{listen}:{RECEIVER_PORTS['jaeger-compact'][0]}"},
                }
            },
            "zipkin": {"endpoint": f"{listen}:{RECEIVER_PORTS['zipkin'][0]}"},
        },
        "processors": {
            # First: refuse data before the pod runs out of memory (the SDKs retry).
            "memory_limiter": {"check_interval": "5s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "probabilistic_sampler": {"sampling_percentage": sampling_percentage, "hash_seed": 22},
            "batch": {},
        },
        "exporters": {
            "otlp": {
                "endpoint": f"{TEMPO_RELEASE}.monitoring:{TEMPO_OTLP_PORT}",
                # In-cluster, inside the monitoring namespace's network policies; Tempo serves no TLS.
                "tls": {"insecure": True},
                "sending_queue": {"enabled": True},
                "retry_on_failure": {"enabled": True},
            }
        },
        "extensions": {"health_check": {"endpoint": f"{listen}:13133"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "metrics": {
                    "readers": [
                        {"pull": {"exporter": {"prometheus": {"host": listen, "port": COLLECTOR_METRICS_PORT}}}}
                    ]
                }
            },
            "pipelines": {
                "traces": {
                    "receivers": ["otlp", "jaeger", "zipkin"],
                    "processors": ["memory_limiter", "probabilistic_sampler", "batch"],
                    "exporters": ["otlp"],
                }
            },
        },
    }


def collector_values(config: TracingConfig, *, replicas: int, node_selector: dict[str, str]) -> dict[str, Any]:
    """The opentelemetry-collector chart's values."""
    ports: dict[str, Any] = {
        name: {"enabled": True, "containerPort": port, "servicePort": port, "protocol": protocol}
        for name, (port, protocol) in RECEIVER_PORTS.items()
    }
    ports["metrics"] = {"enabled": True, "containerPort": COLLECTOR_METRICS_PORT, "servicePort": COLLECTOR_METRICS_PORT}
    return {
        "fullnameOverride": COLLECTOR_RELEASE,
        "mode": "deployment",
        "replicaCount": replicas,
        # The contrib build: the core one has no Jaeger or Zipkin receiver and no probabilistic sampler.
        "image": {"repository": "otel/opentelemetry-collector-contrib"},
        "alternateConfig": collector_config(config.sampling_percentage),
        "ports": ports,
        "serviceAccount": {"automountServiceAccountToken": False},
        "podSecurityContext": RESTRICTED_POD,
        "securityContext": RESTRICTED_CONTAINER,
        "resources": resources("100m", "256Mi", "500m"),
        "nodeSelector": node_selector,
        "podDisruptionBudget": {"enabled": replicas > 1, "maxUnavailable": 1},
        "serviceMonitor": {"enabled": True, "extraLabels": SCRAPE_LABEL},
    }


def tempo_role_statements(bucket_arn: str, key_arn: str, account: Account, region: str) -> list[Statement]:
    """Tempo reads, writes and deletes (compaction, retention) objects of its bucket, and uses the key only
    through S3 for that bucket."""
    return [
        Statement(sid="ListBucket", actions=["s3:ListBucket"], resources=[bucket_arn]),
        Statement(
            sid="ReadWriteBlocks",
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources=[f"{bucket_arn}/*"],
        ),
        key_through_s3_for_bucket(
            "UseKeyThroughS3ForTraces",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            key_arn=key_arn,
            bucket_arn=bucket_arn,
            account=account,
            region=region,
        ),
    ]


@dataclass
class TracingArgs:
    config: TracingConfig
    context: StackContext
    oidc: ClusterOidc
    kms_key_arn: pulumi.Input[str]
    """The backups' KMS key: the traces bucket's default encryption."""
    node_selector: dict[str, str]
    replicas: int
    """Collector replicas."""
    namespace: pulumi.Resource
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    """The Prometheus Operator CRD chart's objects: the charts' ServiceMonitors wait for them."""
    wait_for: Sequence[pulumi.Resource]
    """The node groups."""


class Tracing(pulumi.ComponentResource):
    """The traces bucket, Tempo and its role, the collector, and their traffic."""

    def __init__(self, name: str, args: TracingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:Tracing", name, None, opts)
        context = args.context
        # Built from the name (known in a first preview), not the bucket's output, so the documents that
        # name it are known and judged before anything exists.
        bucket_arn = context.account.apply(
            lambda a: f"arn:{a.partition}:s3:::{context.naming.bucket_name(BUCKET_PURPOSE, a.id, context.region)}"
        )
        bucket = self._bucket(name, args, bucket_arn)
        self.bucket_name = bucket.bucket
        self.role = pod_role(
            f"{name}-tempo-role",
            purpose=TEMPO_ROLE,
            context=context,
            oidc=args.oidc,
            namespace="monitoring",
            service_account=TEMPO_SERVICE_ACCOUNT,
            statements=pulumi.Output.all(bucket_arn, args.kms_key_arn, context.account).apply(
                lambda v: tempo_role_statements(v[0], v[1], v[2], context.region)
            ),
            parent=self,
        )
        traffic = self._allow_traffic(args)
        after_crds = args.monitoring_crds.apply(lambda crds: [args.namespace, *(crds or [])])
        names = context.account.apply(
            lambda a: (
                a.role_arn(context.iam_role_name(TEMPO_ROLE)),
                context.naming.bucket_name(BUCKET_PURPOSE, a.id, context.region),
            )
        )
        self.tempo = TEMPO.install(
            TEMPO_RELEASE,
            version=args.config.tempo,
            namespace="monitoring",
            values=names.apply(
                lambda n: tempo_values(
                    region=context.region, bucket=n[1], role_arn=n[0], node_selector=args.node_selector
                )
            ),
            parent=self,
            depends_on=after_crds.apply(
                lambda first: [*first, *traffic, *self.role.grants, *args.wait_for, *self._bucket_settings]
            ),
        )
        OPENTELEMETRY_COLLECTOR.install(
            COLLECTOR_RELEASE,
            version=args.config.collector,
            namespace="monitoring",
            values=collector_values(args.config, replicas=args.replicas, node_selector=args.node_selector),
            parent=self,
            depends_on=after_crds.apply(lambda first: [*first, *traffic, *args.wait_for]),
        )
        self.register_outputs({"traces_bucket": self.bucket_name})

    def _bucket(self, name: str, args: TracingArgs, bucket_arn: pulumi.Output[str]) -> aws.s3.Bucket:
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            aws.s3.BucketArgs(
                bucket=context.account.apply(
                    lambda a: context.naming.bucket_name(BUCKET_PURPOSE, a.id, context.region)
                ),
                # Traces are disposable and expire within a week: a teardown need not wait for them, and
                # Tempo's compactor deletes blocks, which Object Lock would refuse.
                force_destroy=True,
                object_lock_enabled=False,
                tags=TRACE_BUCKET_TAGS,
            ),
            opts=child,
        )
        self._bucket_settings: list[pulumi.Resource] = [
            aws.s3.BucketPublicAccessBlock(
                f"{name}-bucket-public-access",
                aws.s3.BucketPublicAccessBlockArgs(
                    bucket=bucket.id,
                    block_public_acls=True,
                    block_public_policy=True,
                    ignore_public_acls=True,
                    restrict_public_buckets=True,
                ),
                opts=child,
            ),
            aws.s3.BucketOwnershipControls(
                f"{name}-bucket-ownership",
                aws.s3.BucketOwnershipControlsArgs(
                    bucket=bucket.id,
                    rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
                ),
                opts=child,
            ),
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{name}-bucket-encryption",
                aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                    bucket=bucket.id,
                    rules=[
                        aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn
                            ),
                            # One data key per bucket, not per object: Tempo writes many small objects.
                            bucket_key_enabled=True,
                        )
                    ],
                ),
                opts=child,
            ),
            aws.s3.BucketLifecycleConfiguration(
                f"{name}-bucket-lifecycle",
                aws.s3.BucketLifecycleConfigurationArgs(
                    bucket=bucket.id,
                    rules=[
                        aws.s3.BucketLifecycleConfigurationRuleArgs(
                            id=f"expire-after-{LIFECYCLE_DAYS}-days",
                            status="Enabled",
                            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=LIFECYCLE_DAYS),
                            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                                days_after_initiation=1
                            ),
                        )
                    ],
                ),
                opts=child,
            ),
            aws.s3.BucketPolicy(
                f"{name}-bucket-policy",
                aws.s3.BucketPolicyArgs(
                    bucket=bucket.id,
                    policy=policy_json(self, bucket_arn.apply(lambda arn: [deny_insecure_transport(arn)])),
                ),
                opts=child,
            ),
        ]
        return bucket

    def _allow_traffic(self, args: TracingArgs) -> list[pulumi.Resource]:
        net = k8s.networking.v1
        opts = pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])

        def pods(labels: dict[str, str]) -> net.NetworkPolicyPeerArgs:
            return net.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels))

        tempo_pods = {"app.kubernetes.io/name": "tempo"}
        every_namespace = net.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs())
        receivers = [
            net.NetworkPolicyPortArgs(protocol=protocol, port=port) for port, protocol in RECEIVER_PORTS.values()
        ]
        policies = {
            # Any pod of the cluster sends spans; Prometheus scrapes the collector; it sends to Tempo only.
            "otel-collector": (
                COLLECTOR_LABELS,
                [
                    net.NetworkPolicyIngressRuleArgs(from_=[every_namespace], ports=receivers),
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[monitoring_peer()], ports=tcp_ports([COLLECTOR_METRICS_PORT])
                    ),
                ],
                [net.NetworkPolicyEgressRuleArgs(to=[pods(tempo_pods)], ports=tcp_ports([TEMPO_OTLP_PORT]))],
            ),
            # The collector writes, Grafana (and Prometheus, for metrics) read; Tempo calls S3 and STS.
            "tempo": (
                tempo_pods,
                [
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[pods(COLLECTOR_LABELS)], ports=tcp_ports([TEMPO_OTLP_PORT])
                    ),
                    net.NetworkPolicyIngressRuleArgs(from_=[monitoring_peer()], ports=tcp_ports([TEMPO_HTTP_PORT])),
                ],
                [net.NetworkPolicyEgressRuleArgs(to=cidr_peers([ANYWHERE]), ports=tcp_ports([443]))],
            ),
        }
        return [
            pod_traffic_policy(policy, namespace="monitoring", pods=labels, ingress=ingress, egress=egress, opts=opts)
            for policy, (labels, ingress, egress) in policies.items()
        ]
