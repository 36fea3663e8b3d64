"""Workloads: the application services of the stack config (``workloads.services``), each an ``AppService``.

What every service shares is gathered here once: where the data tier is and its secrets, where the load
balancers live, the secret store and the CRDs the services' custom objects need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.config import WorkloadsConfig
from components.context import StackContext
from components.irsa import ClusterOidc
from components.service import AppService, AppServiceArgs, DataTier, LoadBalancing


@dataclass
class WorkloadsArgs:
    config: WorkloadsConfig
    context: StackContext
    oidc: ClusterOidc
    data_tier: DataTier
    load_balancing: LoadBalancing
    secret_store: str
    """The ClusterSecretStore's name."""
    namespaces: Mapping[str, pulumi.Resource]
    """The Namespace objects by name."""
    secret_store_ready: Sequence[pulumi.Resource]
    """The ClusterSecretStore (its CRD and webhook come with it)."""
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    """The Prometheus Operator CRD chart's objects (Chart.resources; ServiceMonitor)."""


class Workloads(pulumi.ComponentResource):
    """Every configured service."""

    services: dict[str, AppService]

    def __init__(self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:workloads:Workloads", name, None, opts)
        config = args.config
        self.services = {}
        for service_name, service in config.services.items():
            self.services[service_name] = AppService(
                service_name,
                AppServiceArgs(
                    config=service,
                    context=args.context,
                    oidc=args.oidc,
                    data_tier=args.data_tier,
                    data_tier_reachable=service.namespace in config.data_namespaces,
                    load_balancing=args.load_balancing,
                    secret_store=args.secret_store,
                    namespace=args.namespaces[service.namespace],
                    secret_store_ready=args.secret_store_ready,
                    monitoring_crds=args.monitoring_crds,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
