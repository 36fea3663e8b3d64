"""External Secrets Operator: Kubernetes Secrets filled from AWS Secrets Manager.

One ClusterSecretStore (``aws-secrets-manager``), usable from the application namespaces and ``backups`` only, reads
with the operator's IRSA role. That role may read exactly the secrets this stack owns (the RDS master
secret, the Redis auth secret) and decrypt them with exactly their keys, and only through Secrets
Manager (kms:ViaService).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import ExternalSecretsConfig
from components.context import Account, StackContext
from components.helm import EXTERNAL_SECRETS, NEEDS_API, RESTRICTED_CONTAINER, RESTRICTED_POD, resources, spread
from components.irsa import ClusterOidc, PodRole, pod_role
from components.policies import Condition, Statement

RELEASE = "external-secrets"
SERVICE_ACCOUNT = "external-secrets"
ROLE = "external-secrets"
STORE = "aws-secrets-manager"
"""The ClusterSecretStore's name: ExternalSecrets name it in spec.secretStoreRef."""
WEBHOOK_PORT = 10250
METRICS_PORT = 8080


def values(config: ExternalSecretsConfig, *, role_arn: str, node_selector: dict[str, str]) -> dict[str, Any]:
    """The chart's values (every key is checked against the chart's values.yaml by a test)."""
    replicas = config.replicas

    def deployment(name: str, count: int) -> dict[str, Any]:
        return {
            "replicaCount": count,
            "podAnnotations": NEEDS_API,
            # The chart leaves the health probes off.
            "livenessProbe": {"enabled": True},
            "podSecurityContext": {"enabled": True, **RESTRICTED_POD},
            "securityContext": {"enabled": True, **RESTRICTED_CONTAINER},
            "resources": resources("50m", "128Mi", "500m"),
            "nodeSelector": node_selector,
            "topologySpreadConstraints": spread({"app.kubernetes.io/name": name}),
            "podDisruptionBudget": {"enabled": count > 1, "minAvailable": 1},
        }

    return {
        **deployment("external-secrets", replicas),
        # Only the leader reconciles when there are several.
        "leaderElect": replicas > 1,
        "readinessProbe": {"enabled": True},
        "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "installCRDs": True,
        "webhook": deployment("external-secrets-webhook", replicas),
        # The certificate controller renews the webhook's certificate (no install hook, no cert-manager).
        "certController": deployment("external-secrets-cert-controller", 1),
    }


def role_statements(
    account: Account, region: str, secret_arns: Sequence[str], key_arns: Sequence[str]
) -> list[Statement]:
    return [
        Statement(
            sid="ReadTheStacksSecrets",
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resources=list(secret_arns),
        ),
        Statement(
            sid="DecryptThemThroughSecretsManager",
            actions=["kms:Decrypt"],
            resources=list(key_arns),
            conditions=[
                Condition(
                    test="StringEquals",
                    variable="kms:ViaService",
                    values=[f"secretsmanager.{region}.{account.dns_suffix}"],
                )
            ],
        ),
    ]


@dataclass
class ExternalSecretsArgs:
    config: ExternalSecretsConfig
    context: StackContext
    oidc: ClusterOidc
    namespace: str
    node_selector: dict[str, str]
    secret_arns: Sequence[pulumi.Input[str]]
    """The secrets the store may read (the RDS master secret, the Redis auth secret)."""
    key_arns: Sequence[pulumi.Input[str]]
    """The keys that encrypt them."""
    secret_store_namespaces: Sequence[str]
    """The namespaces whose ExternalSecrets may use the store (the application namespaces and backups)."""
    wait_for: list[pulumi.Resource]
    """The namespace object and the node groups."""


class ExternalSecrets(pulumi.ComponentResource):
    """The operator's chart, its pod role and the ClusterSecretStore for Secrets Manager."""

    role: PodRole
    store_name: str
    store: pulumi.Resource
    """The ClusterSecretStore: ExternalSecrets wait for it (and are deleted before it and the webhook)."""

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:cluster:ExternalSecrets", name, None, opts)
        context = args.context
        statements = pulumi.Output.all(
            context.account, pulumi.Output.all(*args.secret_arns), pulumi.Output.all(*args.key_arns)
        ).apply(lambda v: role_statements(v[0], context.region, v[1], v[2]))
        self.role = pod_role(
            f"{name}-role",
            purpose=ROLE,
            context=context,
            oidc=args.oidc,
            namespace=args.namespace,
            service_account=SERVICE_ACCOUNT,
            statements=statements,
            parent=self,
        )
        chart_values = context.account.apply(
            lambda a: values(
                args.config, role_arn=a.role_arn(context.iam_role_name(ROLE)), node_selector=args.node_selector
            )
        )
        chart = EXTERNAL_SECRETS.install(
            RELEASE,
            version=args.config.version,
            namespace=args.namespace,
            values=chart_values,
            parent=self,
            # The role, not its policy: the policy names the RDS master secret, known only once the
            # database exists (up to half an hour); the operator retries a sync until it may read.
            depends_on=[*args.wait_for, self.role.role],
        )
        self.store_name = STORE
        self.store = k8s.apiextensions.CustomResource(
            STORE,
            api_version="external-secrets.io/v1",
            kind="ClusterSecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORE),
            spec={
                "provider": {"aws": {"service": "SecretsManager", "region": context.region}},
                # Without auth the operator uses its own service account's IRSA role.
                "conditions": [{"namespaces": list(args.secret_store_namespaces)}],
            },
            # The CRD and the webhook that validates the store (on delete too) come with the chart: the
            # store waits for every object of it, so a destroy deletes the store while the webhook runs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=chart.resources.apply(lambda r: list(r or []))),
        )
        self.register_outputs({})
