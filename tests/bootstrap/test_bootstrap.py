"""The account bootstrap (bootstrap/), previewed offline with the pack as its admin would run it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_DIR, Graph, run_preview, stack_graph

REPOSITORY = "example-org/platform"
ISSUER = "token.actions.githubusercontent.com"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
BUCKET = "pulumi-state-123456789012-ca-central-1"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
STACKS = ("dev", "prod")
SECRETS_KEY_ALIAS = "pulumi-secrets"

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
        ("platform-previewer", [f"repo:{REPOSITORY}:pull_request"]),
        ("platform-drift-checker", [f"repo:{REPOSITORY}:environment:drift"]),
        ("platform-deployer-dev", [f"repo:{REPOSITORY}:environment:dev"]),
        ("platform-deployer-prod", [f"repo:{REPOSITORY}:environment:prod"]),
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


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_role_is_trusted_for_its_own_environment_alone_no_pull_request_and_no_branch(
    graph: Graph, stack: str
) -> None:
    (statement,) = statements(role(graph, f"platform-deployer-{stack}")["inputs"]["assumeRolePolicy"])
    subjects = as_list(statement["Condition"]["StringEquals"][f"{ISSUER}:sub"])
    assert subjects == [f"repo:{REPOSITORY}:environment:{stack}"]
    assert not [r for r in graph.of_type(ROLE) if r["inputs"]["name"] == "platform-deployer"], "no shared role"


def test_every_role_hands_out_sessions_of_four_hours_at_most(graph: Graph) -> None:
    assert {r["inputs"]["name"]: r["inputs"]["maxSessionDuration"] for r in graph.of_type(ROLE)} == {
        "platform-previewer": 14400,
        "platform-drift-checker": 14400,
        "platform-deployer-dev": 14400,
        "platform-deployer-prod": 14400,
    }


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


@pytest.mark.parametrize("role_name", ["platform-previewer", "platform-drift-checker"])
def test_the_read_only_roles_read_and_write_nothing_of_their_own(graph: Graph, role_name: str) -> None:
    read_only = role(graph, role_name)
    allowed = [s for s in inline_statements(graph, read_only) if s["Effect"] == "Allow"]
    extra = {"secretsmanager:GetSecretValue"} if role_name == "platform-drift-checker" else set()
    assert {a for s in allowed for a in as_list(s["Action"])} <= READ_ACTIONS | extra
    for statement in allowed:
        for resource in as_list(statement["Resource"]):
            if resource.startswith("arn:aws:s3:::"):
                assert resource == f"arn:aws:s3:::{BUCKET}" or resource.startswith(f"arn:aws:s3:::{BUCKET}/.pulumi/")
    attached = [
        a["inputs"]["policyArn"]
        for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if read_only["urn"] in a["propertyDependencies"]["role"]
    ]
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert len(graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")) == 2, "no other role has one"


# ReadOnlyAccess's reads that return data, several through its wildcards (ssm:Get*, lambda:Get*, glue:Get*).
DENIED_DATA_READS = {
    "ssm:GetParameter*",
    "lambda:GetFunction",
    "glue:GetConnection*",
    "ec2:GetLaunchTemplateData",
    "kinesis:GetRecords",
    "secretsmanager:GetSecretValue",
    "s3:GetObject*",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchGetItem",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:GetQueryResults",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "kms:Decrypt",
}


def test_the_preview_role_is_refused_the_data_reads_of_read_only_access(graph: Graph) -> None:
    preview = role(graph, "platform-previewer")
    (deny,) = [s for s in inline_statements(graph, preview) if s["Effect"] == "Deny"]
    actions = set(as_list(deny["Action"]))
    assert actions >= DENIED_DATA_READS
    assert any(a.startswith("athena:GetQueryResults") for a in actions)
    # Only the state's own files and the two bootstrap keys are left out of the deny.
    state_key, secrets_key = (
        graph.named(n, "aws:kms/key:Key")["outputs"]["arn"] for n in ("state-key", "state-secrets-key")
    )
    exceptions = set(as_list(deny["NotResource"]))
    assert {state_key, secrets_key} <= exceptions
    assert all(r.startswith(f"arn:aws:s3:::{BUCKET}/.pulumi/") for r in exceptions - {state_key, secrets_key})
    # ... and what the preview needs is exactly what the deny leaves: the stack files and the secrets key.
    allowed = [s for s in inline_statements(graph, preview) if s["Effect"] == "Allow"]
    (read_state,) = [s for s in allowed if s.get("Sid") == "ReadState"]
    assert set(as_list(read_state["Resource"])) <= exceptions
    (decrypt,) = [s for s in allowed if s.get("Sid") == "DecryptStackSecrets"]
    assert as_list(decrypt["Resource"]) == [secrets_key]
    assert not [a for s in allowed for a in as_list(s["Action"]) if a.startswith("secretsmanager:")]


PLATFORM_SECRETS = sorted(
    f"arn:aws:secretsmanager:{region}:123456789012:secret:platform-{stack}/*"
    for region in ("ca-central-1", "ca-west-1")
    for stack in STACKS
)
THROUGH_SECRETS_MANAGER = ["secretsmanager.ca-central-1.amazonaws.com", "secretsmanager.ca-west-1.amazonaws.com"]


def test_the_drift_role_reads_the_platforms_secret_values_and_no_others(graph: Graph) -> None:
    """A refresh reads an aws:secretsmanager/secretVersion back with GetSecretValue, which Secrets Manager
    decrypts with the secret's key: the drift role may do both for the platform's own secrets (named
    `platform-<stack>/...`, as components/cache.py names the AUTH token's), nothing more."""
    found = inline_statements(graph, role(graph, "platform-drift-checker"))
    by_sid = {s["Sid"]: s for s in found}
    state_key, secrets_key = (
        graph.named(n, "aws:kms/key:Key")["outputs"]["arn"] for n in ("state-key", "state-secrets-key")
    )

    read = by_sid["ReadPlatformSecretValues"]
    assert (read["Effect"], as_list(read["Action"])) == ("Allow", ["secretsmanager:GetSecretValue"])
    assert sorted(as_list(read["Resource"])) == PLATFORM_SECRETS
    deny_others = by_sid["DenyOtherSecretValues"]
    assert (deny_others["Effect"], as_list(deny_others["Action"])) == ("Deny", ["secretsmanager:GetSecretValue"])
    assert sorted(as_list(deny_others["NotResource"])) == PLATFORM_SECRETS

    decrypt = by_sid["DecryptPlatformSecretsThroughSecretsManager"]
    assert (decrypt["Effect"], as_list(decrypt["Action"])) == ("Allow", ["kms:Decrypt"])
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": THROUGH_SECRETS_MANAGER},
        "StringLike": {"kms:EncryptionContext:SecretARN": PLATFORM_SECRETS},
    }
    deny_decrypt = by_sid["DenyDecryptingOutsideSecretsManager"]
    assert (deny_decrypt["Effect"], as_list(deny_decrypt["Action"])) == ("Deny", ["kms:Decrypt"])
    assert deny_decrypt["Condition"] == {"StringNotEquals": {"kms:ViaService": THROUGH_SECRETS_MANAGER}}
    assert sorted(as_list(deny_decrypt["NotResource"])) == sorted([state_key, secrets_key])

    # Every other data read stays refused, as for the preview role; BatchGetSecretValue too.
    deny = by_sid["DenyDataReads"]
    assert set(as_list(deny["Action"])) >= (DENIED_DATA_READS - {"secretsmanager:GetSecretValue", "kms:Decrypt"}) | {
        "secretsmanager:BatchGetSecretValue"
    }
    assert not {"secretsmanager:GetSecretValue", "kms:Decrypt"} & set(as_list(deny["Action"]))


def test_the_platforms_secrets_are_named_as_the_drift_role_expects() -> None:
    """The drift role reads `platform-<stack>/*`: every secret the stacks create must be named so."""
    for stack in STACKS:
        secrets = stack_graph(stack, "preview").of_type("aws:secretsmanager/secret:Secret")
        assert secrets
        for secret in secrets:
            assert secret["inputs"]["name"].startswith(f"platform-{stack}/")


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_role_reads_and_writes_only_its_own_stacks_state(graph: Graph, stack: str) -> None:
    deploy = role(graph, f"platform-deployer-{stack}")
    found = inline_statements(graph, deploy)
    state = [
        r
        for s in found
        if s["Effect"] == "Allow" and any(a.startswith("s3:") for a in as_list(s["Action"]))
        for r in as_list(s["Resource"])
        if r.startswith(f"arn:aws:s3:::{BUCKET}/")
    ]
    assert sorted(state) == sorted(
        f"arn:aws:s3:::{BUCKET}/.pulumi/{p}"
        for p in (
            "meta.yaml",
            f"stacks/platform/{stack}.json*",
            f"history/platform/{stack}/*",
            f"backups/platform/{stack}/*",
            f"locks/organization/platform/{stack}/*",
        )
    )


# The services whose ARNs carry names, and the names one stack's role may reach there.
NAMED = ("iam", "s3", "rds", "elasticache", "eks", "logs", "kms", "sns", "secretsmanager", "ecr", "cloudwatch")
# What stays shared (ARNs of ids, or names the stacks do not choose): docs/delivery.md says so.
SHARED = re.compile(
    r"^arn:aws:(ec2:[a-z0-9-]+:123456789012:\*"
    r"|kms:[a-z0-9-]+:123456789012:key/\*"
    r"|rds:[a-z0-9-]+:123456789012:(og:default|auto-backup):\*"
    r"|secretsmanager:[a-z0-9-]+:123456789012:secret:rds!\*"
    r"|iam::123456789012:oidc-provider/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/\*"
    r"|iam::123456789012:role/aws-service-role/\*)$"
)


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_role_manages_only_its_own_stacks_named_resources(graph: Graph, stack: str) -> None:
    other = next(s for s in STACKS if s != stack)
    bootstrap_keys = {graph.named(n, "aws:kms/key:Key")["outputs"]["arn"] for n in ("state-key", "state-secrets-key")}
    for statement in inline_statements(graph, role(graph, f"platform-deployer-{stack}")):
        if statement["Effect"] != "Allow" or as_list(statement.get("Resource")) == ["*"]:
            continue
        for resource in as_list(statement["Resource"]):
            assert f"platform-{other}" not in resource
            if resource.startswith(f"arn:aws:s3:::{BUCKET}") or resource in bootstrap_keys:
                continue
            service = resource.split(":")[2]
            assert service in NAMED or SHARED.match(resource), resource
            assert SHARED.match(resource) or re.search(rf"[:/*]platform-{stack}[-/]\*", resource), resource


# Actions that take no resource ARN: IAM evaluates them against Resource "*" (CloudWatch Logs delivery, used
# by the cache's log delivery, EKS control-plane logs and RDS log exports; lookups; key creation).
MUST_BE_ALLOWED_ON_ANY_RESOURCE = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "kms:CreateKey",
    "ec2:Describe*",
    "secretsmanager:GetRandomPassword",
    "ecr:GetAuthorizationToken",
}


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_role_may_use_the_actions_that_take_no_resource_on_star_in_its_regions(
    graph: Graph, stack: str
) -> None:
    on_star = [
        s
        for s in inline_statements(graph, role(graph, f"platform-deployer-{stack}"))
        if s["Effect"] == "Allow" and as_list(s["Resource"]) == ["*"]
    ]
    assert {a for s in on_star for a in as_list(s["Action"])} >= MUST_BE_ALLOWED_ON_ANY_RESOURCE
    for statement in on_star:
        regions = statement["Condition"]["StringEquals"]["aws:RequestedRegion"]
        assert sorted(as_list(regions)) == ["ca-central-1", "ca-west-1"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_role_has_no_administrator_grant_and_cannot_change_the_ci_identity(
    graph: Graph, stack: str
) -> None:
    deploy = role(graph, f"platform-deployer-{stack}")
    found = inline_statements(graph, deploy)
    for statement in (s for s in found if s["Effect"] == "Allow"):
        assert "NotAction" not in statement
        assert "*" not in as_list(statement["Action"])
        iam = [a for a in as_list(statement["Action"]) if a.startswith("iam:")]
        if iam and iam != ["iam:CreateServiceLinkedRole"]:
            assert all(
                re.match(rf"^arn:aws:iam::123456789012:[a-z-]+/(platform-{stack}-|oidc\.eks\.)", r)
                for r in as_list(statement["Resource"])
            )
    (guard,) = [s for s in found if s.get("Sid") == "DenyChangingCiIdentity"]
    assert guard["Effect"] == "Deny"
    assert set(as_list(guard["Resource"])) == {
        "arn:aws:iam::123456789012:role/platform-deployer-dev",
        "arn:aws:iam::123456789012:role/platform-deployer-prod",
        "arn:aws:iam::123456789012:role/platform-previewer",
        "arn:aws:iam::123456789012:role/platform-drift-checker",
        PROVIDER_ARN,
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_roles_inline_policies_fit_iams_size_limit(graph: Graph, stack: str) -> None:
    deploy = role(graph, f"platform-deployer-{stack}")
    documents = [
        p["inputs"]["policy"] for p in graph.of_type(ROLE_POLICY) if deploy["urn"] in p["propertyDependencies"]["role"]
    ]
    # IAM counts a role's inline policies together, whitespace excluded: 10,240 characters.
    assert sum(len(re.sub(r"\s", "", d)) for d in documents) < 10_240


def test_the_bootstrap_exports_one_deploy_role_per_stack(graph: Graph) -> None:
    assert graph.outputs["deployRoleArns"] == {
        stack: f"arn:aws:iam::123456789012:role/platform-deployer-{stack}" for stack in STACKS
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_stacks_deployer_principal_is_its_own_deploy_role(graph: Graph, stack: str) -> None:
    cluster = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]["platform:cluster"]
    assert cluster["deployerPrincipal"] == graph.outputs["deployRoleArns"][stack]
    # The preview and drift roles read the cluster (pulumi preview, the drift check), as previewers, not admins.
    assert cluster["previewPrincipals"] == [graph.outputs["previewRoleArn"], graph.outputs["driftRoleArn"]]
    # An admin of its own cluster, and of no other stack's.
    other = next(s for s in STACKS if s != stack)
    assert graph.outputs["deployRoleArns"][stack] in cluster["adminPrincipals"]
    assert graph.outputs["deployRoleArns"][other] not in cluster["adminPrincipals"]


def _preview_with(tmp_path: Path, namespace: str, key: str, value: Any) -> subprocess.CompletedProcess[str]:
    """The bootstrap previewed with one key of its committed stack file changed."""
    stack_file = yaml.safe_load((PROJECT_DIR / "bootstrap" / "Pulumi.admin.yaml").read_text())
    stack_file["config"][namespace][key] = value
    bad = tmp_path / "Pulumi.admin.yaml"
    bad.write_text(yaml.safe_dump(stack_file))
    return run_preview("--project-dir", "bootstrap", "--stack", "admin", "--config-file", str(bad))


def test_a_repository_pattern_is_refused(tmp_path: Path) -> None:
    result = _preview_with(tmp_path, "bootstrap:github", "repository", "example-org/*")
    assert result.returncode == 2
    assert "bootstrap:github.repository" in result.stderr
    assert "owner/name of a GitHub repository" in result.stderr


def test_a_stack_without_its_own_deploy_environment_is_refused(tmp_path: Path) -> None:
    result = _preview_with(tmp_path, "bootstrap:github", "deployEnvironments", {"dev": "dev"})
    assert result.returncode == 2
    assert "deployEnvironments must name one GitHub environment per platform stack" in result.stderr


def test_the_drift_role_cannot_share_the_preview_roles_name(tmp_path: Path) -> None:
    """One role for both would hand pull requests the drift role's secret reads."""
    result = _preview_with(tmp_path, "bootstrap:roles", "driftRoleName", "platform-previewer")
    assert result.returncode == 2
    assert "the preview, drift and deploy roles need names of their own" in result.stderr
    assert "Traceback" not in result.stderr
