"""The account bootstrap (bootstrap/), previewed offline with the pack as its admin would run it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_DIR, Graph, run_preview

REPOSITORY = "example-org/platform"
ISSUER = "token.actions.githubusercontent.com"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
BUCKET = "pulumi-state-123456789012-ca-central-1"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

_graphs: dict[str, Graph] = {}


def bootstrap_graph(mode: str) -> Graph:
    if mode not in _graphs:
        result = run_preview("--project-dir", "bootstrap", "--stack", "admin", "--mode", mode, "--json")
        assert result.returncode == 0, result.stderr + result.stdout[-2000:]
        _graphs[mode] = Graph(json.loads(result.stdout))
    return _graphs[mode]


@pytest.fixture
def graph() -> Graph:
    """After `pulumi up`: every ARN known, so every document can be read."""
    return bootstrap_graph("update")


def statements(document: str) -> list[dict[str, Any]]:
    parsed = json.loads(document)
    found = parsed["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role(graph: Graph, role_name: str) -> dict[str, Any]:
    found = [r for r in graph.of_type(ROLE) if r["inputs"].get("name") == role_name]
    assert len(found) == 1, role_name
    return found[0]


def inline_statements(graph: Graph, role_resource: dict[str, Any]) -> list[dict[str, Any]]:
    policies = [p for p in graph.of_type(ROLE_POLICY) if role_resource["urn"] in p["propertyDependencies"]["role"]]
    assert policies, f"{role_resource['name']} has no inline policies"
    return [s for p in policies for s in statements(p["inputs"]["policy"])]


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_the_bootstrap_previews_offline_with_no_mandatory_violation(mode: str) -> None:
    policy = bootstrap_graph(mode).document["policy"]
    mandatory = [v for v in policy["violations"] if v["level"] == "mandatory"]
    assert mandatory == []
    assert len(policy["policies"]) > 100, "the whole pack judged the bootstrap"


@pytest.mark.parametrize(
    ("role_name", "subjects"),
    [
        ("platform-previewer", [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:environment:drift"]),
        ("platform-deployer", [f"repo:{REPOSITORY}:environment:dev", f"repo:{REPOSITORY}:environment:prod"]),
    ],
)
def test_each_role_trusts_only_githubs_tokens_for_sts_with_the_exact_subjects(
    graph: Graph, role_name: str, subjects: list[str]
) -> None:
    (statement,) = statements(role(graph, role_name)["inputs"]["assumeRolePolicy"])
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Principal"] == {"Federated": [PROVIDER_ARN]}
    # StringEquals alone: no pattern operator could widen the subject or the audience.
    assert set(statement["Condition"]) == {"StringEquals"}
    condition = statement["Condition"]["StringEquals"]
    assert as_list(condition[f"{ISSUER}:aud"]) == ["sts.amazonaws.com"]
    assert sorted(as_list(condition[f"{ISSUER}:sub"])) == sorted(subjects)
    assert not any("*" in s or "?" in s for s in as_list(condition[f"{ISSUER}:sub"]))


def test_the_deploy_role_is_trusted_for_no_pull_request_and_no_branch(graph: Graph) -> None:
    (statement,) = statements(role(graph, "platform-deployer")["inputs"]["assumeRolePolicy"])
    subjects = as_list(statement["Condition"]["StringEquals"][f"{ISSUER}:sub"])
    assert all(s.startswith(f"repo:{REPOSITORY}:environment:") for s in subjects)


def test_the_oidc_provider_is_githubs_for_the_sts_audience(graph: Graph) -> None:
    (provider,) = graph.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider["inputs"]["url"] == f"https://{ISSUER}"
    assert provider["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]


def settings_of(graph: Graph, type_: str) -> dict[str, Any]:
    (bucket,) = graph.of_type("aws:s3/bucket:Bucket")
    found = [r for r in graph.of_type(type_) if bucket["urn"] in r["propertyDependencies"].get("bucket", [])]
    assert len(found) == 1, type_
    return dict(found[0]["inputs"])


def test_the_state_bucket_is_versioned_kms_encrypted_with_its_own_key_tls_only_and_never_public(graph: Graph) -> None:
    (bucket,) = graph.of_type("aws:s3/bucket:Bucket")
    assert bucket["inputs"]["bucket"] == BUCKET
    assert bucket["protect"]
    versioning = settings_of(graph, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    encryption = settings_of(
        graph, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption["rules"]
    key = graph.named("state-key", "aws:kms/key:Key")
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key["outputs"]["arn"],
    }
    assert key["inputs"]["enableKeyRotation"] is True
    block = settings_of(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = settings_of(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    (deny,) = statements(settings_of(graph, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert as_list(deny["Action"]) == ["s3:*"]
    assert sorted(as_list(deny["Resource"])) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": ["false"]}}


def test_the_secrets_provider_key_rotates_and_is_protected(graph: Graph) -> None:
    key = graph.named("state-secrets-key", "aws:kms/key:Key")
    assert key["inputs"]["enableKeyRotation"] is True
    assert key["protect"]
    assert graph.outputs["secretsProvider"] == "awskms://alias/pulumi-secrets?region=ca-central-1"


READ_ACTIONS = {"s3:ListBucket", "s3:GetObject", "s3:GetObjectVersion", "kms:Decrypt"}


def test_the_preview_role_reads_and_writes_nothing_of_its_own(graph: Graph) -> None:
    preview = role(graph, "platform-previewer")
    allowed = [s for s in inline_statements(graph, preview) if s["Effect"] == "Allow"]
    assert {a for s in allowed for a in as_list(s["Action"])} <= READ_ACTIONS
    for statement in allowed:
        for resource in as_list(statement["Resource"]):
            if resource.startswith("arn:aws:s3:::"):
                assert resource == f"arn:aws:s3:::{BUCKET}" or resource.startswith(f"arn:aws:s3:::{BUCKET}/.pulumi/")
    attached = [a["inputs"]["policyArn"] for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]


def test_the_preview_role_is_refused_the_data_reads_of_read_only_access(graph: Graph) -> None:
    preview = role(graph, "platform-previewer")
    (deny,) = [s for s in inline_statements(graph, preview) if s["Effect"] == "Deny"]
    assert {"s3:GetObject", "secretsmanager:GetSecretValue", "ssm:GetParameter"} <= set(as_list(deny["Action"]))
    # Only the state's own files are left readable.
    assert all(r.startswith(f"arn:aws:s3:::{BUCKET}/.pulumi/") for r in as_list(deny["NotResource"]))


def test_the_deploy_role_writes_only_the_platform_stacks_state(graph: Graph) -> None:
    deploy = role(graph, "platform-deployer")
    writes = [s for s in inline_statements(graph, deploy) if "s3:PutObject" in as_list(s.get("Action", []))]
    (statement,) = [s for s in writes if any(BUCKET in r for r in as_list(s["Resource"]))]
    allowed = re.compile(
        rf"^arn:aws:s3:::{BUCKET}/\.pulumi/(stacks/platform/(dev|prod)\.json\*"
        r"|(history|backups)/platform/(dev|prod)/\*|locks/organization/platform/(dev|prod)/\*)$"
    )
    assert all(allowed.match(r) for r in as_list(statement["Resource"])), statement["Resource"]


def test_the_deploy_role_has_no_administrator_grant_and_cannot_change_the_ci_identity(graph: Graph) -> None:
    deploy = role(graph, "platform-deployer")
    found = inline_statements(graph, deploy)
    for statement in (s for s in found if s["Effect"] == "Allow"):
        assert "NotAction" not in statement
        assert "*" not in as_list(statement["Action"])
        iam = [a for a in as_list(statement["Action"]) if a.startswith("iam:")]
        if iam and iam != ["iam:CreateServiceLinkedRole"]:
            assert all(
                re.match(r"^arn:aws:iam::123456789012:[a-z-]+/(platform-|oidc\.eks\.)", r)
                for r in as_list(statement["Resource"])
            )
    (guard,) = [s for s in found if s.get("Sid") == "DenyChangingCiIdentity"]
    assert guard["Effect"] == "Deny"
    assert set(as_list(guard["Resource"])) == {
        "arn:aws:iam::123456789012:role/platform-deployer",
        "arn:aws:iam::123456789012:role/platform-previewer",
        PROVIDER_ARN,
    }


def test_the_deploy_roles_inline_policies_fit_iams_size_limit(graph: Graph) -> None:
    deploy = role(graph, "platform-deployer")
    documents = [
        p["inputs"]["policy"] for p in graph.of_type(ROLE_POLICY) if deploy["urn"] in p["propertyDependencies"]["role"]
    ]
    # IAM counts a role's inline policies together, whitespace excluded: 10,240 characters.
    assert sum(len(re.sub(r"\s", "", d)) for d in documents) < 10_240


def test_the_deploy_role_is_the_platforms_deployer_principal(graph: Graph) -> None:
    for stack in ("dev", "prod"):
        stack_file = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
        assert stack_file["config"]["platform:cluster"]["deployerPrincipal"] == graph.outputs["deployRoleArn"]


def test_a_repository_pattern_is_refused(tmp_path: Path) -> None:
    stack_file = yaml.safe_load((PROJECT_DIR / "bootstrap" / "Pulumi.admin.yaml").read_text())
    stack_file["config"]["bootstrap:github"]["repository"] = "example-org/*"
    bad = tmp_path / "Pulumi.admin.yaml"
    bad.write_text(yaml.safe_dump(stack_file))
    result = run_preview("--project-dir", "bootstrap", "--stack", "admin", "--config-file", str(bad))
    assert result.returncode == 2
    assert "bootstrap:github.repository" in result.stderr
    assert "owner/name of a GitHub repository" in result.stderr
