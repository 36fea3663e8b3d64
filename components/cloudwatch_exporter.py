"""The data tier's metrics in Prometheus: RDS, ElastiCache and ACM from CloudWatch, through
yet-another-cloudwatch-exporter (YACE) with an IRSA role.

Why CloudWatch and not the postgres and redis exporters:

- Nothing in the cluster needs a database login. The postgres exporter needs a monitoring user with a
  password (another secret to create, rotate and deliver) and a connection on each scrape; the redis
  exporter needs the auth token, the one credential that opens every key. CloudWatch needs an IAM role
  that can read metrics and nothing else.
- It sees what the exporters cannot: RDS replica lag and free storage, ElastiCache evictions and
  replication lag as AWS measures them, and ACM certificates' days to expiry, with the same numbers as
  the CloudWatch alarms (components/alarms.py), which keep paging even when the cluster is down.
- The cost: CloudWatch metrics are 1-5 minutes old (rules allow for it) and GetMetricData is billed per
  metric requested (about 17 metrics every 5 minutes here: cents a month), and per-query statistics
  such as pg_stat_statements are out of reach. A team that needs those adds the postgres exporter for its
  own database, with its own read-only login.

Resources are found by tag (the Resource Groups Tagging API): only this stack's, by the ``project`` and
``environment`` tags every resource carries (components/naming.py); ACM certificates, which the stack does
not create, all of the region's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from components.helm import RESTRICTED_CONTAINER, RESTRICTED_POD, resources
from components.policies import Statement

RELEASE = "cloudwatch-exporter"
SERVICE_ACCOUNT = "cloudwatch-exporter"
ROLE = "cloudwatch-exporter"
PORT = 5000
PERIOD_SECONDS = 300
"""CloudWatch's period for RDS and ElastiCache: their basic metrics are per minute, and a 5-minute period
matches the CloudWatch alarms' (an evictions Sum is per 5 minutes)."""


@dataclass(frozen=True)
class CloudWatchMetric:
    name: str
    """The CloudWatch metric name."""
    statistic: str
    period: int = PERIOD_SECONDS


JOBS: dict[str, tuple[CloudWatchMetric, ...]] = {
    "AWS/RDS": (
        CloudWatchMetric("DatabaseConnections", "Average"),
        CloudWatchMetric("ReplicaLag", "Average"),
        CloudWatchMetric("CPUUtilization", "Average"),
        CloudWatchMetric("FreeStorageSpace", "Average"),
        CloudWatchMetric("FreeableMemory", "Average"),
        CloudWatchMetric("ReadLatency", "Average"),
        CloudWatchMetric("WriteLatency", "Average"),
    ),
    "AWS/ElastiCache": (
        CloudWatchMetric("DatabaseMemoryUsagePercentage", "Average"),
        CloudWatchMetric("Evictions", "Sum"),
        CloudWatchMetric("ReplicationLag", "Average"),
        CloudWatchMetric("EngineCPUUtilization", "Average"),
        CloudWatchMetric("CurrConnections", "Average"),
        CloudWatchMetric("CacheHitRate", "Average"),
    ),
    # ACM publishes DaysToExpiry once a day.
    "AWS/CertificateManager": (CloudWatchMetric("DaysToExpiry", "Minimum", period=86400),),
}


def prom_name(text: str) -> str:
    """YACE's name for a CloudWatch word: non-alphanumerics become _, a lower-to-upper step gets an _,
    all lower case (CPUUtilization -> cpuutilization, DatabaseConnections -> database_connections)."""
    text = re.sub(r"[^a-zA-Z0-9]", "_", text)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()


def metric_name(namespace: str, metric: CloudWatchMetric) -> str:
    """The Prometheus name YACE gives a metric: aws_<namespace>_<metric>_<statistic> (the namespace is
    lower-cased whole first: AWS/ElastiCache -> aws_elasticache)."""
    return f"{prom_name(namespace.lower())}_{prom_name(metric.name)}_{prom_name(metric.statistic)}"


def exported_metrics() -> set[str]:
    """Every metric name the exporter produces from this configuration."""
    return {metric_name(namespace, metric) for namespace, metrics in JOBS.items() for metric in metrics}


UNTAGGED_NAMESPACES = ("AWS/CertificateManager",)
"""Namespaces whose resources the stack does not create: the ingress certificates are issued outside Pulumi
(their ARNs are config), so they lack the stack's tags; every certificate of the region is watched."""


def exporter_config(region: str, project: str, stack: str) -> dict[str, Any]:
    """YACE's configuration: one discovery job per namespace, this stack's resources only (found by the
    ``project`` and ``environment`` tags), and every ACM certificate of the region."""
    own = [
        {"key": "project", "value": f"^{re.escape(project)}$"},
        {"key": "environment", "value": f"^{re.escape(stack)}$"},
    ]
    jobs = []
    for namespace, metrics in JOBS.items():
        job: dict[str, Any] = {"type": namespace, "regions": [region]}
        if namespace not in UNTAGGED_NAMESPACES:
            job["searchTags"] = own
        jobs.append(
            {
                **job,
                "metrics": [
                    {
                        "name": metric.name,
                        "statistics": [metric.statistic],
                        "period": metric.period,
                        # Two periods back: CloudWatch's newest datapoint is often incomplete.
                        "length": 2 * metric.period,
                    }
                    for metric in metrics
                ],
            }
        )
    return {"apiVersion": "v1alpha1", "sts-region": region, "discovery": {"jobs": jobs}}


def values(
    *, region: str, project: str, stack: str, role_arn: str, node_selector: dict[str, str], scrape_label: dict[str, str]
) -> dict[str, Any]:
    """The chart's values (every key is checked against the chart's values.yaml by a test)."""
    return {
        "fullnameOverride": RELEASE,
        "serviceAccount": {
            "create": True,
            "name": SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            # The AWS SDK reads the projected web-identity token, not the API token.
            "automountServiceAccountToken": False,
        },
        "podSecurityContext": RESTRICTED_POD,
        "securityContext": RESTRICTED_CONTAINER,
        "resources": resources("50m", "128Mi", "250m"),
        "nodeSelector": node_selector,
        "testConnection": False,
        "config": yaml.safe_dump(exporter_config(region, project, stack), sort_keys=False),
        "serviceMonitor": {
            "enabled": True,
            "labels": scrape_label,
            # CloudWatch has nothing newer to say more often than once a minute.
            "interval": "60s",
            "timeout": "55s",
        },
    }


def role_statements() -> list[Statement]:
    """Read CloudWatch metrics and find resources by tag: none of these calls accepts a resource ARN."""
    return [
        Statement(
            sid="ReadMetrics",
            actions=["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
            resources=["*"],
        ),
        Statement(sid="FindOwnResources", actions=["tag:GetResources"], resources=["*"]),
    ]
