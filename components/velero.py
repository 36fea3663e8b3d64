"""Velero: the cluster's objects and the application pods' volume data, backed up to the backup bucket's
``velero/`` prefix on a schedule, restorable into this cluster or a new one.

- **Where**: the BackupStorageLocation ``default`` is the backup bucket (components/backup_storage.py),
  prefix ``velero``, encrypted with the bucket's KMS key named by ARN (the bucket's policy refuses any other
  key). The bucket's lifecycle expires ``velero/`` after 30 days (the daily schedule's TTL) and replicates it
  to the DR region in prod, so a backup survives the region.
- **What**: the application namespaces (``workloads.namespaces``), on two schedules (reference/004, the
  backup schedule table): daily at 02:00 UTC kept 30 days, hourly kept 7 days. Volume data goes through the
  node agent (file-system backup with kopia, ``defaultVolumesToFsBackup``), not EBS snapshots: the copy then
  lives in S3, encrypted with our key and replicated, not as snapshots in one region.
- **Who**: an IRSA role for the server and the node agent (one service account), allowed the ``velero/``
  prefix of the bucket and, the usual failure when it is forgotten, the KMS actions on its key, through S3
  for that bucket only.
- **Not run by Pulumi**: the chart's Helm hooks (CRD upgrade and clean-up jobs); the CRDs are the chart's
  own (its crds/), installed with it.
- The node agent reads pod volumes on the node (hostPath ``/var/lib/kubelet/pods`` as root), so Velero has
  its own namespace, ``velero``, at Pod Security ``privileged``; its exemptions and their reasons are in
  policy/config/<stack>.json. The server binds cluster-admin (a restore creates any kind): also exempted,
  with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.addon_network import ANYWHERE, Traffic, allow_traffic
from components.config import VeleroConfig
from components.context import Account, StackContext
from components.helm import NEEDS_API, RESTRICTED_CONTAINER, RESTRICTED_POD, SCRAPE_LABEL, VELERO, resources
from components.irsa import ClusterOidc, pod_role
from components.policies import Condition, Statement, key_through_s3_for_bucket

NAMESPACE = "velero"
RELEASE = "velero"
SERVICE_ACCOUNT = "velero-server"
ROLE = "velero"
PREFIX = "velero"
METRICS_PORT = 8085
NODE_AGENT_METRICS_PORT = 8085
HTTPS = 443
AWS_PLUGIN_IMAGE = "velero/velero-plugin-for-aws:v1.14.2"
"""The AWS object-store plugin for Velero 1.18 (the plugin's 1.14 line)."""
SCHEDULES: dict[str, tuple[str, str]] = {
    # name: (cron, TTL)
    "daily": ("0 2 * * *", "720h"),
    "hourly": ("0 * * * *", "168h"),
}


def values(*, role_arn: str, node_selector: dict[str, str]) -> dict[str, Any]:
    """The chart's values (every key is checked against the chart's values.yaml by a test)."""
    return {
        "initContainers": [
            {
                "name": "velero-plugin-for-aws",
                "image": AWS_PLUGIN_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
                "securityContext": RESTRICTED_CONTAINER,
                "resources": resources("50m", "64Mi", "200m"),
            }
        ],
        "podAnnotations": NEEDS_API,
        "podSecurityContext": {**RESTRICTED_POD, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532},
        "containerSecurityContext": RESTRICTED_CONTAINER,
        "resources": resources("100m", "512Mi", "1"),
        "nodeSelector": node_selector,
        # Helm hooks, which a Pulumi Chart does not run; the chart's crds/ are installed with it.
        "upgradeCRDs": False,
        "cleanUpCRDs": False,
        # The location and the schedules are objects of this component (the location names the key by ARN).
        "configuration": {
            "backupStorageLocation": [],
            "volumeSnapshotLocation": [],
            "uploaderType": "kopia",
            "defaultVolumesToFsBackup": True,
        },
        "backupsEnabled": True,
        "snapshotsEnabled": False,
        "credentials": {"useSecret": False},
        "serviceAccount": {
            "server": {"name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role_arn}}
        },
        "deployNodeAgent": True,
        "nodeAgent": {
            # Root to read every pod's volume files on the node; nothing else of root's power.
            "podSecurityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "resources": resources("100m", "512Mi", "1"),
            # Every node, the tainted compute nodes too: their pods' volumes are backed up as well.
            "tolerations": [{"operator": "Exists"}],
        },
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": True, "autodetect": False, "additionalLabels": SCRAPE_LABEL},
            "nodeAgentPodMonitor": {"enabled": True, "autodetect": False, "additionalLabels": SCRAPE_LABEL},
        },
    }


def role_statements(account: Account, region: str, *, bucket_arn: str, key_arn: str) -> list[Statement]:
    """The ``velero/`` prefix of the backup bucket, and its key through S3 for that bucket."""
    objects = f"{bucket_arn}/{PREFIX}/*"
    return [
        Statement(
            sid="ReadWriteVeleroPrefix",
            actions=[
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            resources=[objects],
        ),
        Statement(
            sid="ListVeleroPrefix",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            conditions=[Condition(test="StringLike", variable="s3:prefix", values=[f"{PREFIX}/*", PREFIX])],
        ),
        key_through_s3_for_bucket(
            "UseBackupKeyThroughS3",
            ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            key_arn=key_arn,
            bucket_arn=bucket_arn,
            account=account,
            region=region,
        ),
    ]


@dataclass
class VeleroArgs:
    config: VeleroConfig
    context: StackContext
    oidc: ClusterOidc
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    application_namespaces: Sequence[str]
    node_selector: dict[str, str]
    namespace: pulumi.Resource
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    wait_for: Sequence[pulumi.Resource]
    """The node groups."""


class Velero(pulumi.ComponentResource):
    """Velero's chart, role, backup location, schedules and traffic."""

    def __init__(self, name: str, args: VeleroArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:backups:Velero", name, None, opts)
        context = args.context
        role = pod_role(
            f"{name}-role",
            purpose=ROLE,
            context=context,
            oidc=args.oidc,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            statements=pulumi.Output.all(context.account, args.bucket_arn, args.kms_key_arn).apply(
                lambda v: role_statements(v[0], context.region, bucket_arn=v[1], key_arn=v[2])
            ),
            parent=self,
        )
        traffic = allow_traffic(
            RELEASE,
            namespace=NAMESPACE,
            traffic=Traffic(
                # The server and the node agent: the API server, STS, S3 and KMS, all HTTPS.
                pods={"app.kubernetes.io/instance": RELEASE},
                from_monitoring=[METRICS_PORT],
                egress={ANYWHERE: [HTTPS]},
            ),
            vpc_cidr="",
            parent=self,
            wait_for=args.namespace,
        )
        after_crds = args.monitoring_crds.apply(lambda crds: [args.namespace, *(crds or [])])
        chart = VELERO.install(
            RELEASE,
            version=args.config.version,
            namespace=NAMESPACE,
            values=context.account.apply(
                lambda a: values(role_arn=a.role_arn(context.iam_role_name(ROLE)), node_selector=args.node_selector)
            ),
            parent=self,
            depends_on=after_crds.apply(lambda first: [*first, traffic, *role.grants, *args.wait_for]),
        )
        # Velero's own kinds: after its CRDs (the chart's objects). The chart's custom objects (its
        # ServiceMonitor and PodMonitor) come back from the SDK as ids, not resources (it has no class for
        # their kinds): only resources can be waited for.
        after_chart = pulumi.ResourceOptions(
            parent=self,
            depends_on=chart.resources.apply(lambda r: [x for x in (r or []) if isinstance(x, pulumi.Resource)]),
        )
        location = k8s.apiextensions.CustomResource(
            f"{name}-location",
            api_version="velero.io/v1",
            kind="BackupStorageLocation",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace=NAMESPACE),
            spec={
                "provider": "aws",
                "default": True,
                "objectStorage": {"bucket": args.bucket_name, "prefix": PREFIX},
                "config": {"region": context.region, "kmsKeyId": args.kms_key_arn},
                "accessMode": "ReadWrite",
            },
            opts=after_chart,
        )
        for schedule, (cron, ttl) in SCHEDULES.items():
            k8s.apiextensions.CustomResource(
                f"{name}-{schedule}",
                api_version="velero.io/v1",
                kind="Schedule",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=schedule, namespace=NAMESPACE),
                spec={
                    "schedule": cron,
                    "useOwnerReferencesInBackup": False,
                    "template": {
                        "includedNamespaces": list(args.application_namespaces),
                        "storageLocation": "default",
                        "ttl": ttl,
                        "defaultVolumesToFsBackup": True,
                    },
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[location]),
            )
        self.register_outputs({})
