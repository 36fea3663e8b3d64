"""The policy gate: the real pack, started as the CLI starts it, over the recorded graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from tests.conftest import Graph, run_preview, stack_graph
from tests.policy.harness import REGISTRY, _client
from tests.test_stack_first_preview import UNKNOWABLE
from tools.engine import Resource, Run, run_program
from tools.policy_gate import (
    AnalyzeStream,
    PolicyError,
    evaluate,
    load_policy_config,
    merge_config,
    running_pack,
)


def test_committed_stacks_pass_the_gate_with_every_policy_evaluated(any_graph: Graph) -> None:
    policy = any_graph.document["policy"]
    assert policy["evaluated"] is True and policy["pack"] == "platform-guardrails"
    evaluated = {p["name"]: p["level"] for p in policy["policies"]}
    assert set(evaluated) == {r.name for r in REGISTRY}
    assert evaluated == {r.name: r.level(any_graph.stack) for r in REGISTRY}
    assert [v for v in policy["violations"] if v["level"] == "mandatory"] == []
    for notice in policy["unknownDuringPreview"]:
        assert notice["level"] == "advisory" and "during preview" in notice["message"]


def test_config_is_merged_in_the_cli_order() -> None:
    client = _client()
    info = client.info()
    rule = next(r for r in REGISTRY if r.config_defaults)
    key, default = next(iter(rule.config_defaults.items()))
    merged = merge_config(info, {})
    assert merged[rule.name][key] == default and merged[rule.name]["enforcementLevel"] == "mandatory"
    merged = merge_config(info, {rule.name: {key: "from-user", "enforcementLevel": "advisory"}})
    assert merged[rule.name][key] == "from-user" and merged[rule.name]["enforcementLevel"] == "advisory"
    assert merge_config(info, {"all": "disabled"})[rule.name]["enforcementLevel"] == "disabled"


def test_config_naming_an_unknown_policy_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown policies: aws-typo-policy"):
        merge_config(_client().info(), {"aws-typo-policy": "mandatory"})


def test_preview_exits_2_on_a_bad_policy_config(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"aws-typo-policy": {"enforcementLevel": "mandatory"}}))
    result = run_preview("--stack", "dev", "--policy-config", str(path))
    assert result.returncode == 2 and "unknown policies: aws-typo-policy" in result.stderr
    assert "Traceback" not in result.stderr


def test_preview_exits_1_on_a_mandatory_violation(tmp_path: Path) -> None:
    # Require one more tag than the stack sets: every taggable resource then violates.
    tags_rule = next(r for r in REGISTRY if "requiredTags" in r.config_defaults)
    config = load_policy_config("prod")
    config[tags_rule.name] = {**config[tags_rule.name], "requiredTags": ["data-classification"]}
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(config))
    result = run_preview("--stack", "prod", "--mode", "update", "--json", "--policy-config", str(path))
    assert result.returncode == 1, result.stderr
    violations = [v for v in json.loads(result.stdout)["policy"]["violations"] if v["level"] == "mandatory"]
    assert violations and {v["policy"] for v in violations} == {tags_rule.name}
    assert all(
        v["level"] == "mandatory" and "data-classification" in v["message"] and v["remediation"] for v in violations
    )
    text = run_preview("--stack", "prod", "--mode", "update", "--policy-config", str(path))
    assert text.returncode == 1 and "mandatory (" in text.stdout and "fix: " in text.stdout


def insecure_program() -> None:
    """A graph with the mistakes the pack exists to stop: public RDS, unencrypted cache,
    open SSH, privileged pod, `latest` image, no flow logs, ..."""
    provider = aws.Provider("aws", region="ca-central-1")
    opts = pulumi.ResourceOptions(provider=provider)
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", opts=opts)  # no flow logs, default SG unmanaged
    aws.ec2.Subnet(
        "private",
        vpc_id=vpc.id,
        cidr_block="10.0.1.0/24",
        map_public_ip_on_launch=True,
        tags={"tier": "private"},
        opts=opts,
    )
    group = aws.ec2.SecurityGroup("ssh", vpc_id=vpc.id, description="open", opts=opts)
    aws.vpc.SecurityGroupIngressRule(
        "ssh-world",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=22,
        to_port=22,
        cidr_ipv4="0.0.0.0/0",
        opts=opts,
    )
    aws.vpc.SecurityGroupIngressRule(
        "postgres-cidr",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=5432,
        to_port=5432,
        cidr_ipv4="10.0.0.0/8",
        opts=opts,
    )
    aws.kms.Key("no-rotation", enable_key_rotation=False, opts=opts)
    aws.cloudwatch.LogGroup("forever", name="/insecure/forever", opts=opts)
    aws.rds.Instance(
        "public-db",
        engine="postgres",
        instance_class="db.t4g.micro",
        allocated_storage=20,
        username="admin",
        password="plain-text-password",
        publicly_accessible=True,
        skip_final_snapshot=True,
        opts=opts,
    )
    aws.elasticache.ReplicationGroup("plain-cache", description="cache", node_type="cache.t4g.micro", opts=opts)
    cluster = k8s.Provider("k8s", kubeconfig="{}")
    k8s.core.v1.Pod(
        "root-pod",
        metadata={"name": "debug"},
        spec={"containers": [{"name": "shell", "image": "busybox:latest", "securityContext": {"privileged": True}}]},
        opts=pulumi.ResourceOptions(provider=cluster),
    )


EXPECTED_INSECURE = {
    "aws-ec2-vpc-missing-flow-logs",
    "aws-ec2-vpc-missing-locked-default-security-group",
    "aws-ec2-subnet-disallow-public-ip-on-launch",
    "aws-ec2-securitygroup-disallow-public-ingress",
    "aws-ec2-securitygroup-disallow-database-port-cidr",
    "aws-kms-key-enable-key-rotation",
    "aws-cloudwatch-loggroup-missing-retention",
    "aws-cloudwatch-loggroup-missing-kms-key",
    "aws-rds-instance-disallow-public-access",
    "aws-rds-instance-enable-storage-encryption",
    "aws-rds-instance-disallow-plain-master-password",
    "aws-rds-instance-disallow-skip-final-snapshot",
    "aws-rds-instance-missing-alarm",
    "aws-elasticache-replicationgroup-enable-encryption-at-rest",
    "aws-elasticache-replicationgroup-enable-encryption-in-transit",
    "aws-elasticache-replicationgroup-enable-auth",
    "aws-stateful-resource-enforce-protect",
    "kubernetes-pod-disallow-privileged",
    "kubernetes-container-enforce-pinned-image",
    "kubernetes-object-disallow-default-namespace",
    "kubernetes-container-enforce-run-as-non-root",
}


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_an_insecure_graph_fails_the_gate_by_name(build: Callable[..., Run], mode: str) -> None:
    run = build(insecure_program, mode=mode, stack="prod")
    with running_pack() as pack:
        result = evaluate(pack.client(), run, load_policy_config("prod"))
    mandatory = {v["policy"] for v in result.mandatory}
    assert mandatory >= EXPECTED_INSECURE, EXPECTED_INSECURE - mandatory
    for violation in result.violations:
        assert violation["urn"] and violation["message"] and violation["remediation"]


def test_dev_reports_availability_rules_as_advisory() -> None:
    dev = load_policy_config("dev")
    availability = [r for r in REGISTRY if r.category != "security"]
    assert availability and all(dev[r.name]["enforcementLevel"] == "advisory" for r in availability)


def test_prod_preview_reports_unknown_values_as_notices_not_violations() -> None:
    policy = stack_graph("prod", "preview").document["policy"]
    # A first preview cannot know ARNs and ids: some checks cannot run, and say so...
    assert policy["unknownDuringPreview"]
    assert all(n["level"] == "advisory" and "during preview" in n["message"] for n in policy["unknownDuringPreview"])
    # ...without ever becoming a violation.
    assert not [v for v in policy["violations"] if "during preview" in v["message"]]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_first_preview_gives_up_only_on_documents_that_cannot_be_known(stack: str) -> None:
    """A pull request's preview of a new stack is judged: presence checks pass on values not known yet, and
    only a rule that must read such a value (its rule-table entry says needs-values) gives up, for that
    resource alone. What is left cannot be known before the resources exist (tests/test_stack_first_preview.py
    says why for each): the IRSA trust policies name the cluster's OIDC provider, External Secrets' policy
    names the secrets and keys AWS names, and the backup bucket's policy names its key's ARN."""
    graph = stack_graph(stack, "preview")
    notices = graph.document["policy"]["unknownDuringPreview"]
    rules = {r.name: r for r in REGISTRY}
    names = {r["urn"]: (r["type"], r["name"]) for r in graph.resources}
    # A stack rule's notice names no resource: the bucket policy's TLS check reads the unknown document.
    stack_notices = {n["policy"] for n in notices if not n["urn"]}
    assert stack_notices <= {"aws-s3-bucket-enforce-tls"}
    assert notices
    assert {names[n["urn"]] for n in notices if n["urn"]} <= UNKNOWABLE, [(n["policy"], n["urn"]) for n in notices]
    assert all(rules[n["policy"]].first_preview == "needs-values" for n in notices)


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_streamed_analyze_gives_what_evaluate_gives(mode: str) -> None:
    """Analyze sent from a background thread as each resource is registered: the same
    violations and notices, in the same order, as the gate over the finished run."""
    config = load_policy_config("prod")
    stream = AnalyzeStream(_client, config, stack="prod", project="platform", mode=mode)
    submitted: list[Resource] = []

    def submit(resource: Resource) -> None:
        submitted.append(resource)
        stream.submit(resource)

    try:
        run = run_program(
            insecure_program,
            project="platform",
            stack="prod",
            mode=mode,
            config={"aws:region": "ca-central-1"},
            on_record=submit,
        )
        streamed = stream.finish(run)
    finally:
        stream.close()
    assert [id(r) for r in submitted] == [id(r) for r in run.resources]  # every resource, as it was recorded
    assert streamed.as_json() == evaluate(_client(), run, config).as_json()
    assert {v["policy"] for v in streamed.mandatory} >= EXPECTED_INSECURE


def test_streamed_analyze_analyzes_what_was_not_submitted(build: Callable[..., Run]) -> None:
    run = build(insecure_program, stack="prod")
    config = load_policy_config("prod")
    stream = AnalyzeStream(_client, config, stack="prod", project="platform", mode="update")
    for resource in run.resources[::2]:  # half of them streamed, the rest left to finish()
        stream.submit(resource)
    try:
        assert stream.finish(run).as_json() == evaluate(_client(), run, config).as_json()
    finally:
        stream.close()


def test_streamed_analyze_raises_the_packs_errors_at_finish_not_during_the_program(build: Callable[..., Run]) -> None:
    stream = AnalyzeStream(_client, {"aws-typo-policy": "mandatory"}, stack="prod", project="platform", mode="update")
    run = build(insecure_program, stack="prod", config={"aws:region": "ca-central-1"})
    for resource in run.resources:
        stream.submit(resource)  # never raises: the error waits for finish()
    with pytest.raises(PolicyError, match="unknown policies: aws-typo-policy"):
        stream.finish(run)
    stream.close()


def test_a_stream_closed_after_a_failed_program_does_not_raise() -> None:
    def broken() -> Any:
        raise PolicyError("the pack did not start")

    stream = AnalyzeStream(broken, {}, stack="prod", project="platform", mode="update")
    stream.close()  # the program failed: nothing to report from the gate
