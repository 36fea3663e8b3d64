"""`pulumi destroy` of a stack does not strand what Kubernetes made in AWS.

The engine deletes a resource only after everything that depends on it (its dependencies and property
dependencies) and every child of it. This test takes the recorded graph of the dev stack plus one Ingress
made the way the platform tells workloads to (``depends_on=addons.load_balancer_controller.ingress_wait``),
and checks the order a destroy must follow: the Ingress first (the provider waits until the controller has
deleted its ALB, target groups and security groups and removed its finalizer), then the controller, then
the node groups, the security groups, the network path and the VPC.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from tests.chart_cache import require_charts
from tests.conftest import PROJECT_DIR, stack_config
from tools.engine import Resource, Run

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _program() -> None:
    runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")


def _deleted_before(run: Run) -> Callable[[Resource, Resource], bool]:
    """``first`` is deleted before ``then`` when ``then`` is reachable from it through dependencies or
    parents (a resource goes before what it depends on, a child before its parent)."""
    edges: dict[str, set[str]] = {}
    for r in run.resources:
        targets = set(r.dependencies) | {u for urns in r.property_dependencies.values() for u in urns}
        if r.parent:
            targets.add(r.parent)
        if r.provider:
            targets.add(r.provider)
        edges[r.urn] = targets

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    cache: dict[str, set[str]] = {}

    def before(first: Resource, then: Resource) -> bool:
        if first.urn not in cache:
            cache[first.urn] = reachable(first.urn)
        return then.urn in cache[first.urn]

    return before


def _one(run: Run, type_: str, predicate: Callable[[Resource], Any] = lambda r: True) -> list[Resource]:
    found = [r for r in run.resources if r.type == type_ and predicate(r)]
    assert found, type_
    return found


def test_a_destroy_deletes_ingresses_then_the_controller_then_nodes_and_network(build: Any) -> None:
    require_charts()
    # The committed dev stack: its demo service has an Ingress (components/service.py).
    run = build(_program, stack="dev", config=stack_config("dev"))
    before = _deleted_before(run)
    (ingress,) = _one(run, "kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.name == "podinfo"
    (controller,) = _one(run, DEPLOYMENT, lambda r: r.name.startswith("aws-load-balancer-controller:"))
    webhooks = _one(run, "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration")
    node_groups = _one(run, "aws:eks/nodeGroup:NodeGroup")
    security_groups = _one(run, "aws:ec2/securityGroup:SecurityGroup")
    network_path = [
        *_one(run, "aws:ec2/internetGateway:InternetGateway"),
        *_one(run, "aws:ec2/natGateway:NatGateway"),
        *_one(run, "aws:ec2/subnet:Subnet", lambda r: r.inputs["tags"]["tier"] == "public"),
        *_one(run, "aws:ec2/route:Route", lambda r: r.inputs.get("destinationCidrBlock") == "0.0.0.0/0"),
    ]
    (vpc,) = _one(run, "aws:ec2/vpc:Vpc")

    # 1. The Ingress goes while the controller (and its webhooks) still run to delete its load balancer.
    assert before(ingress, controller)
    assert all(before(ingress, webhook) for webhook in webhooks)
    # 2. The controller goes while the nodes it runs on, the path it reaches AWS by and the subnets and
    #    internet gateway its load balancers used still exist.
    assert all(before(controller, group) for group in node_groups)
    assert all(before(controller, part) for part in network_path)
    # 3. Then the node groups, the security groups (the controller added rules to the nodes' group) and
    #    finally the VPC.
    (node_sg,) = [sg for sg in security_groups if sg.name == "cluster-node-sg"]
    assert before(controller, node_sg)
    assert all(before(group, vpc) for group in node_groups)
    # The controller's own NetworkPolicy stays until the controller is gone (it still calls the ELB API).
    (lbc_policy,) = _one(
        run,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        lambda r: r.inputs["metadata"]["name"] == "aws-load-balancer-controller",
    )
    assert before(controller, lbc_policy)
    # The secret store goes while External Secrets' webhook (which validates deletes too) still runs.
    (store,) = _one(run, "kubernetes:external-secrets.io/v1:ClusterSecretStore")
    (eso_webhook,) = _one(
        run, DEPLOYMENT, lambda r: r.name == "external-secrets:external-secrets/external-secrets-webhook"
    )
    assert before(store, eso_webhook)
    assert all(before(part, vpc) for part in network_path)
    assert all(before(sg, vpc) for sg in security_groups)


def test_without_the_wait_an_ingress_is_not_ordered_before_the_controller(build: Any) -> None:
    """The order comes from ingress_wait: an Ingress without it could be deleted after the controller,
    and its ALB would be stranded (the finalizer never removed, the destroy stuck)."""
    require_charts()

    def program() -> None:
        main = runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        k8s.networking.v1.Ingress(
            "web",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="web", namespace="apps"),
            spec=k8s.networking.v1.IngressSpecArgs(ingress_class_name="alb"),
            opts=pulumi.ResourceOptions(provider=main["platform"].cluster.provider),
        )

    run = build(program, stack="dev", config=stack_config("dev"))
    before = _deleted_before(run)
    (ingress,) = _one(run, "kubernetes:networking.k8s.io/v1:Ingress", lambda r: r.name == "web")
    (controller,) = _one(run, DEPLOYMENT, lambda r: r.name.startswith("aws-load-balancer-controller:"))
    assert not before(ingress, controller)
