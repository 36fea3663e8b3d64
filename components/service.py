"""One application service from the stack config (``workloads.services.<name>``), with everything it needs
to roll out without downtime, scale on load, stay isolated and take traffic over TLS.

Objects, all in the service's namespace and named after it:

- ServiceAccount: an IRSA role only when ``awsPermissions`` is set; the API token mounted only when
  ``kubernetesApi`` is true.
- ExternalSecrets ``<name>-database`` / ``<name>-redis`` from the foundation's ClusterSecretStore: the
  credentials reach the pod as environment variables from Secrets, never as literals.
- Deployment: RollingUpdate with maxUnavailable 0; a preStop pause while the load balancer deregisters the
  pod, then a termination grace for the app's own draining; spread over zones and nodes; the restricted
  Pod Security context with a read-only root and emptyDirs where the app writes.
- Service (ClusterIP), HorizontalPodAutoscaler (autoscaling/v2 with the behaviour from config),
  PodDisruptionBudget, NetworkPolicy, ServiceMonitor and, when configured, an Ingress through the AWS Load
  Balancer Controller (HTTPS only, HTTP redirected, the stack's TLS policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.addon_network import ANYWHERE, MONITORING_NAMESPACE, cidr_peers, monitoring_peer, tcp_ports
from components.config import MAX_SURGE_PERCENT, ServiceConfig
from components.context import StackContext
from components.helm import NEEDS_API, SCRAPE_LABEL, spread
from components.irsa import ClusterOidc, pod_role
from components.load_balancer_controller import INTERNAL_CLASS, INTERNET_FACING_CLASS
from components.policies import Statement
from components.tracing import COLLECTOR_LABELS, OTLP_HTTP_ENDPOINT, RECEIVER_PORTS

HTTP_PORT_NAME = "http"
METRICS_PORT_NAME = "metrics"
SERVICE_PORT = 80
"""The Service's port: clients call http://<name>.<namespace>.svc."""
HTTPS = 443
CREDENTIALS_DIR = "/etc/platform/credentials"
"""Where the credentials' Secrets are mounted (read-only), one directory each: database/, redis/."""
DEREGISTRATION_DELAY_SECONDS = 30
"""How long the load balancer keeps in-flight requests of a deregistered target."""


@dataclass(frozen=True)
class DataTier:
    """Where PostgreSQL and Redis are, and their credentials in Secrets Manager."""

    subnet_cidrs: Sequence[str]
    """The database subnets (both live there)."""
    database_host: pulumi.Input[str]
    database_port: int
    database_secret_arn: pulumi.Input[str]
    """RDS's master user secret: JSON {username, password}."""
    redis_host: pulumi.Input[str]
    redis_port: int
    redis_secret_arn: pulumi.Input[str]
    """The Redis auth secret: JSON {host, readerHost, port, tls, authToken}."""


@dataclass(frozen=True)
class LoadBalancing:
    """What an Ingress needs of the AWS Load Balancer Controller and the network."""

    ssl_policy: str
    """TLS policy of the HTTPS listener (addons.loadBalancerController.sslPolicy)."""
    wait: pulumi.Input[Sequence[pulumi.Resource]]
    """LoadBalancerController.ingress_wait: the Ingress is deleted while the controller still runs."""
    subnet_cidrs: Sequence[str]
    """Where the load balancers live, internal and internet-facing (the public subnets: no pod has an address
    there). Their nodes send the traffic and the health checks to the pods (target type ip)."""


@dataclass
class AppServiceArgs:
    config: ServiceConfig
    context: StackContext
    oidc: ClusterOidc
    data_tier: DataTier
    data_tier_reachable: bool
    """The namespace may reach PostgreSQL and Redis (workloads.dataTierNamespaces)."""
    load_balancing: LoadBalancing
    secret_store: str
    """The ClusterSecretStore's name."""
    namespace: pulumi.Resource
    """The Namespace object: every object waits for it."""
    secret_store_ready: Sequence[pulumi.Resource]
    """The ClusterSecretStore (and so its CRD): the ExternalSecrets wait for it."""
    monitoring_crds: pulumi.Output[Sequence[Any] | None]
    """The Prometheus Operator CRD chart's objects (Chart.resources): the ServiceMonitor waits for them."""


def selector_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def object_labels(name: str) -> dict[str, str]:
    return {**selector_labels(name), "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "platform"}


def hpa_behavior(config: ServiceConfig) -> k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs:
    scaling = config.autoscaling
    assert scaling is not None

    def rules(given: Any) -> k8s.autoscaling.v2.HPAScalingRulesArgs:
        return k8s.autoscaling.v2.HPAScalingRulesArgs(
            stabilization_window_seconds=given.stabilization_window_seconds,
            select_policy=given.select_policy,
            policies=[
                k8s.autoscaling.v2.HPAScalingPolicyArgs(type=p.type, value=p.value, period_seconds=p.period_seconds)
                for p in given.policies
            ],
        )

    return k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
        scale_up=rules(scaling.scale_up), scale_down=rules(scaling.scale_down)
    )


def ingress_annotations(config: ServiceConfig, ssl_policy: str) -> dict[str, str]:
    """The AWS Load Balancer Controller's annotations for the service's Ingress."""
    ingress = config.ingress
    assert ingress is not None
    scheme = "internet-facing" if ingress.internet_facing else "internal"
    readiness = config.probes.readiness
    return {
        # The IngressClass's params pin the same scheme and policy; the annotations make them visible here.
        "alb.ingress.kubernetes.io/scheme": scheme,
        "alb.ingress.kubernetes.io/ssl-policy": ssl_policy,
        "alb.ingress.kubernetes.io/certificate-arn": ingress.certificate_arn,
        "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": HTTPS}]),
        # Port 80 only answers with a redirect to HTTPS.
        "alb.ingress.kubernetes.io/ssl-redirect": str(HTTPS),
        # Pods are targets (no NodePort hop), so readiness gates and draining act per pod.
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/healthcheck-path": readiness.path,
        "alb.ingress.kubernetes.io/target-group-attributes": (
            f"deregistration_delay.timeout_seconds={DEREGISTRATION_DELAY_SECONDS}"
        ),
        # One load balancer per namespace and scheme, shared by its services (each ALB costs by the hour).
        "alb.ingress.kubernetes.io/group.name": f"{config.namespace}-{scheme}",
        # Rules of a group are matched in this order (then by namespace/name): the longer path first, so a
        # service on /api is not shadowed by another's / on the same host.
        "alb.ingress.kubernetes.io/group.order": str(group_order(ingress.path)),
    }


def tracing_env(service: str, env: Mapping[str, str]) -> dict[str, str]:
    """Where an OpenTelemetry SDK sends spans (the collector), and as which service: unless the team's own
    ``env`` says otherwise."""
    wanted = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_HTTP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": service,
    }
    return {name: value for name, value in wanted.items() if name not in env}


def group_order(path: str) -> int:
    """The rule order of a path in its load balancer group (1..1000, lower first): longer paths first."""
    return max(1, 1000 - len(path.rstrip("/")))


class AppService(pulumi.ComponentResource):
    """A service's ServiceAccount, secrets, Deployment, Service, HPA, PDB, NetworkPolicy, monitor and Ingress."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service

    def __init__(self, name: str, args: AppServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:workloads:Service", name, None, opts)
        config = args.config
        self._name = name
        self._args = args
        self._meta = k8s.meta.v1.ObjectMetaArgs(name=name, namespace=config.namespace, labels=object_labels(name))
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[args.namespace])

        account = self._service_account(after_namespace)
        secrets = self._external_secrets(
            pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, *args.secret_store_ready])
        )
        self.deployment = self._deployment(account, secrets)
        self.service = k8s.core.v1.Service(
            name,
            metadata=self._meta,
            spec=k8s.core.v1.ServiceSpecArgs(
                selector=selector_labels(name),
                ports=self._service_ports(),
            ),
            opts=after_namespace,
        )
        if config.autoscaling is not None:
            self._autoscaler()
        self._disruption_budget(after_namespace)
        self._network_policy(after_namespace)
        self._service_monitor(
            pulumi.ResourceOptions(
                parent=self,
                depends_on=args.monitoring_crds.apply(lambda crds: [args.namespace, *(crds or [])]),
            )
        )
        if config.ingress is not None:
            self._ingress()
        self.register_outputs({})

    # --- identity and credentials ---------------------------------------------------------------------

    def _service_account(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.ServiceAccount:
        config, name = self._args.config, self._name
        annotations: dict[str, pulumi.Input[str]] = {}
        if config.aws_permissions:
            role = pod_role(
                f"{name}-role",
                purpose=f"svc-{name}",
                context=self._args.context,
                oidc=self._args.oidc,
                namespace=config.namespace,
                service_account=name,
                statements=[
                    Statement(sid=f"Grant{i}", actions=list(s.actions), resources=list(s.resources))
                    for i, s in enumerate(config.aws_permissions)
                ],
                parent=self,
            )
            annotations["eks.amazonaws.com/role-arn"] = role.role.arn
        return k8s.core.v1.ServiceAccount(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name, namespace=config.namespace, labels=object_labels(name), annotations=annotations or None
            ),
            automount_service_account_token=config.kubernetes_api,
            opts=opts,
        )

    def _credentials(self) -> list[str]:
        """The credentials the service needs: "database", "redis"."""
        config = self._args.config
        return [what for what, wanted in (("database", config.database), ("redis", config.redis)) if wanted]

    def _external_secrets(self, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """One ExternalSecret (and so one Secret) per credential the service needs."""
        config, data = self._args.config, self._args.data_tier
        # Secret key in Kubernetes -> property of the JSON in Secrets Manager.
        sources: dict[str, tuple[pulumi.Input[str], dict[str, str]]] = {
            "database": (data.database_secret_arn, {"username": "username", "password": "password"}),
            "redis": (data.redis_secret_arn, {"auth-token": "authToken"}),
        }
        created: list[pulumi.Resource] = []
        for what in self._credentials():
            secret_arn, keys = sources[what]
            secret_name = f"{self._name}-{what}"
            created.append(
                k8s.apiextensions.CustomResource(
                    secret_name,
                    api_version="external-secrets.io/v1",
                    kind="ExternalSecret",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=secret_name, namespace=config.namespace, labels=object_labels(self._name)
                    ),
                    spec={
                        "secretStoreRef": {"kind": "ClusterSecretStore", "name": self._args.secret_store},
                        # RDS rotates the master password (every 7 days): the Secret follows within 5 minutes,
                        # and the mounted file (CREDENTIALS_DIR) a minute later.
                        "refreshInterval": "5m",
                        # Retain: a secret missing in Secrets Manager for a moment must not delete the
                        # Kubernetes Secret the running pods depend on.
                        "target": {"name": secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                        "data": [
                            {"secretKey": key, "remoteRef": {"key": secret_arn, "property": prop}}
                            for key, prop in keys.items()
                        ],
                    },
                    opts=opts,
                )
            )
        return created

    def _env(self) -> list[k8s.core.v1.EnvVarArgs]:
        config, data = self._args.config, self._args.data_tier
        env = [k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in sorted(config.env.items())]
        env += [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in tracing_env(self._name, config.env).items()]

        def from_secret(variable: str, secret: str, key: str) -> k8s.core.v1.EnvVarArgs:
            return k8s.core.v1.EnvVarArgs(
                name=variable,
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)
                ),
            )

        if config.database:
            env += [
                k8s.core.v1.EnvVarArgs(name="DATABASE_HOST", value=data.database_host),
                k8s.core.v1.EnvVarArgs(name="DATABASE_PORT", value=str(data.database_port)),
                # RDS refuses connections without TLS (rds.force_ssl).
                k8s.core.v1.EnvVarArgs(name="DATABASE_SSLMODE", value="require"),
                from_secret("DATABASE_USERNAME", f"{self._name}-database", "username"),
                from_secret("DATABASE_PASSWORD", f"{self._name}-database", "password"),
                # The file follows a rotation while the pod runs; the variable only at the next start.
                k8s.core.v1.EnvVarArgs(name="DATABASE_PASSWORD_FILE", value=f"{CREDENTIALS_DIR}/database/password"),
            ]
        if config.redis:
            env += [
                k8s.core.v1.EnvVarArgs(name="REDIS_HOST", value=data.redis_host),
                k8s.core.v1.EnvVarArgs(name="REDIS_PORT", value=str(data.redis_port)),
                # In-transit encryption is on: clients must speak TLS.
                k8s.core.v1.EnvVarArgs(name="REDIS_TLS", value="true"),
                from_secret("REDIS_AUTH_TOKEN", f"{self._name}-redis", "auth-token"),
                k8s.core.v1.EnvVarArgs(name="REDIS_AUTH_TOKEN_FILE", value=f"{CREDENTIALS_DIR}/redis/auth-token"),
            ]
        return env

    # --- the pods -------------------------------------------------------------------------------------

    def _probe(self, probe: Any) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=probe.path, port=HTTP_PORT_NAME),
            initial_delay_seconds=probe.initial_delay_seconds,
            period_seconds=probe.period_seconds,
            timeout_seconds=probe.timeout_seconds,
            failure_threshold=probe.failure_threshold,
        )

    def _container_ports(self) -> list[k8s.core.v1.ContainerPortArgs]:
        config = self._args.config
        ports = [k8s.core.v1.ContainerPortArgs(name=HTTP_PORT_NAME, container_port=config.port, protocol="TCP")]
        if config.metrics_port not in (None, config.port):
            ports.append(
                k8s.core.v1.ContainerPortArgs(
                    name=METRICS_PORT_NAME, container_port=config.metrics_port, protocol="TCP"
                )
            )
        return ports

    def _service_ports(self) -> list[k8s.core.v1.ServicePortArgs]:
        config = self._args.config
        ports = [
            k8s.core.v1.ServicePortArgs(
                name=HTTP_PORT_NAME, port=SERVICE_PORT, target_port=HTTP_PORT_NAME, protocol="TCP"
            )
        ]
        if config.metrics_port not in (None, config.port):
            ports.append(
                k8s.core.v1.ServicePortArgs(
                    name=METRICS_PORT_NAME, port=config.metrics_port, target_port=METRICS_PORT_NAME, protocol="TCP"
                )
            )
        return ports

    def _deployment(
        self, account: k8s.core.v1.ServiceAccount, secrets: list[pulumi.Resource]
    ) -> k8s.apps.v1.Deployment:
        config, name = self._args.config, self._name
        startup = config.probes.startup or config.probes.liveness.model_copy(
            update={"failure_threshold": 30, "period_seconds": 10, "initial_delay_seconds": 0}
        )
        volumes = [f"writable-{i}" for i in range(len(config.writable_paths))]
        requests = {k: v for k, v in config.resources.requests.model_dump().items() if v is not None}
        limits = {k: v for k, v in config.resources.limits.model_dump().items() if v is not None}
        container = k8s.core.v1.ContainerArgs(
            name=name,
            image=config.image,
            image_pull_policy="IfNotPresent",
            args=list(config.args) or None,
            ports=self._container_ports(),
            env=self._env(),
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=requests, limits=limits),
            startup_probe=self._probe(startup),
            readiness_probe=self._probe(config.probes.readiness),
            liveness_probe=self._probe(config.probes.liveness),
            # The pod is already out of the Service's endpoints; the pause lets kube-proxy and the load
            # balancer stop sending before SIGTERM. A sleep action: the image needs no shell.
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    sleep=k8s.core.v1.SleepActionArgs(seconds=config.pre_stop_seconds)
                )
            )
            if config.pre_stop_seconds
            else None,
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            volume_mounts=[
                *(
                    k8s.core.v1.VolumeMountArgs(name=volume, mount_path=path)
                    for volume, path in zip(volumes, config.writable_paths, strict=True)
                ),
                *(
                    k8s.core.v1.VolumeMountArgs(
                        name=f"{what}-credentials", mount_path=f"{CREDENTIALS_DIR}/{what}", read_only=True
                    )
                    for what in self._credentials()
                ),
            ],
        )
        pod = k8s.core.v1.PodSpecArgs(
            service_account_name=account.metadata.name,
            automount_service_account_token=config.kubernetes_api,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=config.run_as_user,
                run_as_group=config.run_as_user,
                fs_group=config.run_as_user,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            termination_grace_period_seconds=config.termination_grace_period_seconds,
            topology_spread_constraints=[
                k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=c["maxSkew"],
                    topology_key=c["topologyKey"],
                    when_unsatisfiable=c["whenUnsatisfiable"],
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=c["labelSelector"]["matchLabels"]),
                    match_label_keys=c["matchLabelKeys"],
                    node_taints_policy=c["nodeTaintsPolicy"],
                )
                for c in spread(selector_labels(name))
            ],
            containers=[container],
            volumes=[
                *(
                    k8s.core.v1.VolumeArgs(name=volume, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
                    for volume in volumes
                ),
                *(
                    k8s.core.v1.VolumeArgs(
                        name=f"{what}-credentials",
                        # Readable by the pod's user and group only (fsGroup is the run-as user).
                        secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=f"{name}-{what}", default_mode=0o440),
                    )
                    for what in self._credentials()
                ),
            ],
        )
        return k8s.apps.v1.Deployment(
            name,
            metadata=self._meta,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=config.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(name)),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    # Never below the wanted count: a new pod is ready before an old one goes. A quarter
                    # more at a time (at least one), so large services do not roll one pod at a time.
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge=f"{MAX_SURGE_PERCENT}%"
                    ),
                ),
                min_ready_seconds=10,
                revision_history_limit=5,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=object_labels(name),
                        # Says to the policy pack why the pods mount the token.
                        annotations=dict(NEEDS_API) if config.kubernetes_api else None,
                    ),
                    spec=pod,
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # The pods start only once their credentials' Secrets can exist (the kubelet would retry,
                # but the rollout would wait on it until Pulumi's timeout).
                depends_on=[self._args.namespace, *secrets],
                # With an HPA, the autoscaler owns the count; `pulumi up` must not reset it.
                ignore_changes=["spec.replicas"] if config.autoscaling is not None else None,
            ),
        )

    # --- scaling and disruption -----------------------------------------------------------------------

    def _autoscaler(self) -> None:
        config, name = self._args.config, self._name
        scaling = config.autoscaling
        assert scaling is not None
        metrics = [
            k8s.autoscaling.v2.MetricSpecArgs(
                type="Resource",
                resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                    name=resource,
                    target=k8s.autoscaling.v2.MetricTargetArgs(type="Utilization", average_utilization=target),
                ),
            )
            for resource, target in (("cpu", scaling.cpu_utilization), ("memory", scaling.memory_utilization))
            if target is not None
        ]
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata=self._meta,
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    # The name, not the Deployment's output: the HPA need not wait for the rollout.
                    api_version="apps/v1",
                    kind="Deployment",
                    name=name,
                ),
                min_replicas=scaling.min_replicas,
                max_replicas=scaling.max_replicas,
                metrics=metrics,
                behavior=hpa_behavior(config),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._args.namespace]),
        )

    def _disruption_budget(self, opts: pulumi.ResourceOptions) -> None:
        budget = self._args.config.disruption_budget
        k8s.policy.v1.PodDisruptionBudget(
            self._name,
            metadata=self._meta,
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(self._name)),
                max_unavailable=budget.max_unavailable,
                min_available=budget.min_available,
                # A pod that is not ready yet may be evicted: it serves nothing, and a crash-looping pod
                # must never block a node drain.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=opts,
        )

    # --- traffic --------------------------------------------------------------------------------------

    def _network_policy(self, opts: pulumi.ResourceOptions) -> None:
        """Ingress from the load balancers and Prometheus; egress to the data tier as needed (DNS: the
        namespace's own policy)."""
        config, args = self._args.config, self._args
        net, meta = k8s.networking.v1, k8s.meta.v1
        ingress = []
        if config.ingress is not None:
            ingress.append(
                net.NetworkPolicyIngressRuleArgs(
                    from_=cidr_peers(args.load_balancing.subnet_cidrs), ports=tcp_ports([config.port])
                )
            )
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[monitoring_peer()], ports=tcp_ports([config.metrics_port or config.port])
            )
        )
        egress = []
        data = args.data_tier
        data_ports = [
            port for port, wanted in ((data.database_port, config.database), (data.redis_port, config.redis)) if wanted
        ]
        if data_ports and args.data_tier_reachable:
            egress.append(
                net.NetworkPolicyEgressRuleArgs(to=cidr_peers(data.subnet_cidrs), ports=tcp_ports(data_ports))
            )
        # Spans to the OpenTelemetry Collector (components/tracing.py), on any of its receivers.
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
                        ),
                        pod_selector=meta.LabelSelectorArgs(match_labels=COLLECTOR_LABELS),
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(protocol=proto, port=port) for port, proto in RECEIVER_PORTS.values()],
            )
        )
        if config.aws_permissions or config.kubernetes_api:
            # STS (IRSA) and the AWS APIs the role grants, through the VPC endpoints or the NAT gateways; the
            # API server by the `kubernetes` Service's ClusterIP (outside the VPC's range). HTTPS only.
            egress.append(net.NetworkPolicyEgressRuleArgs(to=cidr_peers([ANYWHERE]), ports=tcp_ports([HTTPS])))
        net.NetworkPolicy(
            self._name,
            metadata=self._meta,
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(self._name)),
                policy_types=["Ingress", "Egress"],
                ingress=ingress,
                egress=egress,
            ),
            opts=opts,
        )

    def _service_monitor(self, opts: pulumi.ResourceOptions) -> None:
        config = self._args.config
        port = METRICS_PORT_NAME if config.metrics_port not in (None, config.port) else HTTP_PORT_NAME
        k8s.apiextensions.CustomResource(
            f"{self._name}-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self._name, namespace=config.namespace, labels={**object_labels(self._name), **SCRAPE_LABEL}
            ),
            spec={
                "selector": {"matchLabels": selector_labels(self._name)},
                "endpoints": [{"port": port, "path": config.metrics_path, "interval": "30s", "scheme": "http"}],
            },
            opts=opts,
        )

    def _ingress(self) -> None:
        config, lb = self._args.config, self._args.load_balancing
        ingress = config.ingress
        assert ingress is not None
        net = k8s.networking.v1
        net.Ingress(
            self._name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self._name,
                namespace=config.namespace,
                labels=object_labels(self._name),
                annotations=ingress_annotations(config, lb.ssl_policy),
            ),
            spec=net.IngressSpecArgs(
                ingress_class_name=INTERNET_FACING_CLASS if ingress.internet_facing else INTERNAL_CLASS,
                rules=[
                    net.IngressRuleArgs(
                        host=ingress.host,
                        http=net.HTTPIngressRuleValueArgs(
                            paths=[
                                net.HTTPIngressPathArgs(
                                    path=ingress.path,
                                    path_type="Prefix",
                                    backend=net.IngressBackendArgs(
                                        service=net.IngressServiceBackendArgs(
                                            # The name, not the Service's output (which waits for ready
                                            # endpoints): the load balancer is built while the pods start.
                                            name=self._name,
                                            port=net.ServiceBackendPortArgs(name=HTTP_PORT_NAME),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            # Deleted while the controller runs, so it removes the load balancer (see ingress_wait).
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=pulumi.Output.from_input(lb.wait).apply(lambda wait: [self._args.namespace, *wait]),
            ),
        )
