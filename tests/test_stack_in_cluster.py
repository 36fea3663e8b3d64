"""The in-cluster foundation as wired in the committed stacks: namespaces and their guardrails, and the
add-ons' pod roles (exact ARNs, or the documented tag conditions, and one service account each)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.addons import MONITORING_KINDS
from components.namespaces import PLATFORM_NAMESPACES
from tests.conftest import Graph, stack_config, stack_graph

ACCOUNT = "123456789012"
REGION = "ca-central-1"
READ_ONLY = ("Describe", "Get", "List")


def _policy(graph: Graph, name: str) -> list[dict[str, Any]]:
    return json.loads(graph.named(name, "aws:iam/rolePolicy:RolePolicy")["inputs"]["policy"])["Statement"]


def _trusted_service_account(graph: Graph, name: str) -> str:
    trust = json.loads(graph.named(name, "aws:iam/role:Role")["inputs"]["assumeRolePolicy"])["Statement"]
    (statement,) = trust
    (subject,) = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    (account,) = subject
    return account


def _by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}


def _cluster(graph: Graph) -> str:
    return f"platform-{graph.stack}-eks"


# --- namespaces ----------------------------------------------------------------------------------------


def test_every_namespace_has_pod_security_default_deny_and_dns(update_graph: Graph) -> None:
    namespaces = {n["inputs"]["metadata"]["name"]: n for n in update_graph.of_type("kubernetes:core/v1:Namespace")}
    applications = json.loads(stack_config(update_graph.stack)["platform:workloads"])["namespaces"]
    assert set(namespaces) == {p.name for p in PLATFORM_NAMESPACES} | set(applications)
    levels = {p.name: p.level for p in PLATFORM_NAMESPACES} | dict.fromkeys(applications, "restricted")
    for name, namespace in namespaces.items():
        labels = namespace["inputs"]["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == levels[name]
        assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
        assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.35"
        assert namespace["inputs"]["metadata"]["annotations"]["platform.example.com/pod-security-reason"]
    policies = {
        (p["inputs"]["metadata"]["namespace"], p["inputs"]["metadata"]["name"]): p["inputs"]["spec"]
        for p in update_graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    for name in namespaces:
        deny = policies[(name, "default-deny")]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        (dns,) = policies[(name, "allow-dns")]["egress"]
        assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
        assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_only_application_namespaces_get_a_quota_and_container_defaults(update_graph: Graph) -> None:
    applications = json.loads(stack_config(update_graph.stack)["platform:workloads"])["namespaces"]
    quotas = update_graph.of_type("kubernetes:core/v1:ResourceQuota")
    limits = update_graph.of_type("kubernetes:core/v1:LimitRange")
    assert sorted(q["inputs"]["metadata"]["namespace"] for q in quotas) == sorted(applications)
    assert sorted(x["inputs"]["metadata"]["namespace"] for x in limits) == sorted(applications)
    hard = quotas[0]["inputs"]["spec"]["hard"]
    assert hard["services.nodeports"] == "0" and hard["services.loadbalancers"] == "0"
    (item,) = limits[0]["inputs"]["spec"]["limits"]
    assert item["type"] == "Container" and set(item) >= {"default", "defaultRequest", "max"}


def test_the_vpc_cni_enforces_network_policies(update_graph: Graph) -> None:
    cni = update_graph.named("cluster-vpc-cni", "aws:eks/addon:Addon")
    assert json.loads(cni["inputs"]["configurationValues"])["enableNetworkPolicy"] == "true"


# --- pod roles -----------------------------------------------------------------------------------------


def test_the_cluster_autoscaler_resizes_only_this_clusters_groups(update_graph: Graph) -> None:
    cluster = _cluster(update_graph)
    assert _trusted_service_account(update_graph, "cluster-autoscaler-role") == (
        "system:serviceaccount:cluster-addons:cluster-autoscaler"
    )
    statements = _by_sid(_policy(update_graph, "cluster-autoscaler-role"))
    resize = statements["ResizeThisClustersGroups"]
    assert resize["Condition"] == {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": ["owned"]}}
    assert resize["Resource"] == [f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/*"]
    assert statements["ReadThisClustersNodeGroups"]["Resource"] == [
        f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/{cluster}/*/*"
    ]
    discover = statements["DiscoverGroupsAndInstanceTypes"]
    assert discover["Resource"] == ["*"]
    assert all(a.split(":")[1].startswith(READ_ONLY) for a in discover["Action"])


def test_the_load_balancer_controller_writes_only_what_this_cluster_tagged(update_graph: Graph) -> None:
    cluster = _cluster(update_graph)
    assert _trusted_service_account(update_graph, "load-balancer-controller-role") == (
        "system:serviceaccount:cluster-addons:aws-load-balancer-controller"
    )
    for statement in _policy(update_graph, "load-balancer-controller-role"):
        actions = statement["Action"]
        resources = statement["Resource"]
        conditions = json.dumps(statement.get("Condition", {}))
        read_only = all(a.split(":")[1].startswith(READ_ONLY) for a in actions)
        scoped = all(
            r.startswith(f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:")
            or r.startswith(f"arn:aws:ec2:{REGION}:{ACCOUNT}:")
            for r in resources
        )
        tagged_for_us = f'"elbv2.k8s.aws/cluster": ["{cluster}"]' in conditions.replace("aws:ResourceTag/", "").replace(
            "aws:RequestTag/", ""
        )
        # Every statement: read-only, or on this account's and region's ARNs, or for this cluster's tag;
        # or the two the documented policy cannot scope: ELB's service-linked role (by service name), and
        # WAF and Shield (authorized against the ACL or protection too, which carry no cluster tag).
        documented_exceptions = {"ElbServiceLinkedRole", "AttachWafAndShield"}
        assert read_only or scoped or tagged_for_us or statement["Sid"] in documented_exceptions, statement["Sid"]
        deletes = {"elasticloadbalancing:DeleteLoadBalancer", "ec2:DeleteSecurityGroup"}
        if deletes & set(actions):
            assert tagged_for_us, statement["Sid"]
        # Tagging a load balancer (which would let the controller claim one it did not make) only with the
        # cluster's tag conditions.
        on_load_balancers = any(":loadbalancer/" in r for r in resources)
        if on_load_balancers and {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"} & set(actions):
            assert tagged_for_us, statement["Sid"]
    link = _by_sid(_policy(update_graph, "load-balancer-controller-role"))["ElbServiceLinkedRole"]
    assert link["Condition"] == {"StringEquals": {"iam:AWSServiceName": ["elasticloadbalancing.amazonaws.com"]}}


def test_external_secrets_reads_exactly_the_stacks_secrets_with_their_keys(update_graph: Graph) -> None:
    assert _trusted_service_account(update_graph, "external-secrets-role") == (
        "system:serviceaccount:external-secrets:external-secrets"
    )
    statements = _by_sid(_policy(update_graph, "external-secrets-role"))
    (db,) = update_graph.of_type("aws:rds/instance:Instance")
    (cache_secret,) = [
        s for s in update_graph.of_type("aws:secretsmanager/secret:Secret") if s["name"] == "cache-auth-token"
    ]
    keys = {
        k["outputs"]["arn"]
        for k in update_graph.of_type("aws:kms/key:Key")
        if k["name"] in ("database-key", "cache-key")
    }
    assert set(statements["ReadTheStacksSecrets"]["Resource"]) == {
        db["outputs"]["masterUserSecrets"][0]["secretArn"],
        cache_secret["outputs"]["arn"],
    }
    decrypt = statements["DecryptThemThroughSecretsManager"]
    assert set(decrypt["Resource"]) == keys and len(keys) == 2
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": [f"secretsmanager.{REGION}.amazonaws.com"]}}


def test_the_secret_store_serves_only_application_namespaces_and_the_backup_jobs(update_graph: Graph) -> None:
    (store,) = update_graph.of_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    applications = json.loads(stack_config(update_graph.stack)["platform:workloads"])["namespaces"]
    assert store["inputs"]["spec"]["conditions"] == [{"namespaces": [*applications, "backups"]}]
    assert store["inputs"]["spec"]["provider"] == {"aws": {"service": "SecretsManager", "region": REGION}}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_internet_facing_load_balancers_only_where_the_stack_says(stack: str) -> None:
    graph = stack_graph(stack, "update")
    params = {
        p["inputs"]["metadata"]["name"]: p["inputs"]["spec"]
        for p in graph.of_type("kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams")
    }
    assert params["alb"]["scheme"] == "internal"
    allowed = json.loads(stack_config(stack)["platform:addons"])["loadBalancerController"].get(
        "internetFacingNamespaces", []
    )
    if allowed:
        facing = params["alb-internet-facing"]
        assert facing["scheme"] == "internet-facing"
        assert facing["namespaceSelector"]["matchExpressions"][0]["values"] == allowed
    else:
        assert set(params) == {"alb"}
    assert {p["sslPolicy"] for p in params.values()} == {"ELBSecurityPolicy-TLS13-1-2-2021-06"}


# --- charts --------------------------------------------------------------------------------------------

CHARTS = {
    "metrics-server",
    "cluster-autoscaler",
    "aws-load-balancer-controller",
    "external-secrets",
    "prometheus-operator-crds",
    "monitoring",
    "cloudwatch-exporter",
    "tempo",
    "otel-collector",
    "fluent-bit",
    "velero",
}


def test_every_chart_renders_even_in_a_first_preview(any_graph: Graph) -> None:
    """Chart values are built from facts known before anything exists; an unknown value would leave the
    chart empty (the provider's "Preview is incomplete") and unjudged."""
    charts = any_graph.document["summary"]["charts"]
    assert set(charts) == CHARTS and all(count > 0 for count in charts.values()), charts
    assert any_graph.document["notes"] == []
    for chart in any_graph.of_type("kubernetes:helm.sh/v4:Chart"):
        children = [r for r in any_graph.resources if r["parent"] == chart["urn"]]
        assert len(children) == charts[chart["name"]]
        assert all(r["name"].startswith(f"{chart['name']}:") for r in children)


def test_only_the_monitoring_kinds_the_platform_declares_get_crds(any_graph: Graph) -> None:
    """The operator's own kinds (0.35-0.5 MB of schema each) wait for the monitoring stack."""
    crds = [
        r["inputs"]["spec"]["names"]["plural"]
        for r in any_graph.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
        if r["inputs"]["spec"]["group"] == "monitoring.coreos.com"
    ]
    assert sorted(crds) == sorted(MONITORING_KINDS)


def test_the_load_balancer_controller_finds_its_vpc_by_the_vpcs_own_name_tag(update_graph: Graph) -> None:
    (vpc,) = update_graph.of_type("aws:ec2/vpc:Vpc")
    controller = update_graph.named("aws-load-balancer-controller", "kubernetes:helm.sh/v4:Chart")
    values = controller["inputs"]["values"]
    assert values["vpcTags"] == {"Name": vpc["inputs"]["tags"]["Name"]}
    assert values["region"] == REGION and values["clusterName"] == _cluster(update_graph)


def test_preview_out_writes_each_charts_objects(tmp_path: Any) -> None:
    from tests.conftest import run_preview

    result = run_preview("--stack", "prod", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    charts = stack_graph("prod", "preview").document["summary"]["charts"]
    for chart, count in charts.items():
        assert len(list((tmp_path / "manifests" / chart).glob("*.yaml"))) == count, chart
    assert "Charts:" in result.stdout


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def test_every_add_on_pod_is_let_through_by_a_policy_of_its_own(update_graph: Graph) -> None:
    """The selectors of the add-ons' NetworkPolicies match the pods the charts really render (a wrong
    label would leave the pod behind the namespace's default deny, cut off from the API server)."""
    policies = [
        p["inputs"]
        for p in update_graph.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if p["inputs"]["metadata"]["name"] not in ("default-deny", "allow-dns")
    ]
    deployments = [
        d["inputs"]
        for d in update_graph.of_type("kubernetes:apps/v1:Deployment")
        if d["inputs"]["metadata"]["namespace"] in ("cluster-addons", "external-secrets")
    ]
    assert len(deployments) == 6
    for deployment in deployments:
        namespace = deployment["metadata"]["namespace"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        mine = [
            p
            for p in policies
            if p["metadata"]["namespace"] == namespace and _selects(p["spec"]["podSelector"], labels)
        ]
        assert len(mine) == 1, deployment["metadata"]["name"]
        (policy,) = mine
        # Every add-on calls the API server.
        assert any(port["port"] == 443 for rule in policy["spec"]["egress"] for port in rule["ports"]), deployment[
            "metadata"
        ]["name"]
