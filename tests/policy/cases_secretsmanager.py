"""Fixtures for the Secrets Manager guardrails (the compliant secret is the cache's AUTH token secret)."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case, Res, StackCase, unknown

SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:ca-central-1:{ACCOUNT}:key/4953cb92-4e5d-eff0-ffae-13a6814c0d52"
SECRET_ARN = f"arn:aws:secretsmanager:ca-central-1:{ACCOUNT}:secret:platform-prod/cache/auth-token-2c0808"
AUTH_TOKEN = {
    "recoveryWindowInDays": 30,
    "kmsKeyId": KEY_ARN,
    "description": "platform-prod cache: endpoint and AUTH token (JSON)",
    "name": "platform-prod/cache/auth-token",
}
_SECRET_URN = f"urn:pulumi:test::platform::{SECRET}::auth-token"
ROTATED = [
    Res(SECRET, "auth-token", {**AUTH_TOKEN, "arn": SECRET_ARN}),
    Res(
        ROTATION,
        "auth-token-rotation",
        {
            "secretId": SECRET_ARN,
            "rotationLambdaArn": f"arn:aws:lambda:ca-central-1:{ACCOUNT}:function:rotate-auth-token",
            "rotationRules": {"automaticallyAfterDays": 30},
        },
        property_dependencies={"secretId": [_SECRET_URN]},
    ),
]


def without_rotation(graph: list[Res]) -> list[Res]:
    return [r for r in graph if r.type != ROTATION]


def first_preview(graph: list[Res]) -> list[Res]:
    """The secret's ARN is not known yet: the rotation names it through its property dependency."""
    return [
        Res(r.type, r.name, {**r.props, "secretId": unknown()}, r.parent, r.property_dependencies)
        if r.type == ROTATION
        else Res(r.type, r.name, {k: v for k, v in r.props.items() if k != "arn"}, r.parent, r.property_dependencies)
        for r in graph
    ]


def second_secret(graph: list[Res]) -> list[Res]:
    return [*graph, Res(SECRET, "api-key", {**AUTH_TOKEN, "name": "platform-prod/api/key"})]


CASES = [
    Case(
        policy="aws-secretsmanager-secret-missing-kms-key",
        type=SECRET,
        compliant=AUTH_TOKEN,
        violating={
            "no-key": {"kmsKeyId": DELETE},
            "aws-managed": {"kmsKeyId": "alias/aws/secretsmanager"},
        },
        expect={
            "no-key": "the secret has no kmsKeyId: it is encrypted with the AWS managed key",
            "aws-managed": "encrypted with the AWS managed key alias/aws/secretsmanager, not a customer managed key",
        },
        unknown=[],
    ),
    Case(
        # A first preview: the cache's key is created with the stack.
        policy="aws-secretsmanager-secret-missing-kms-key",
        type=SECRET,
        compliant={**AUTH_TOKEN, "kmsKeyId": unknown()},
        violating={"empty": {"kmsKeyId": ""}},
        expect={"empty": "the secret has no kmsKeyId"},
        unknown=[],
    ),
    StackCase(
        # Advisory in prod too: the cache AUTH token is rotated by ElastiCache, not by Secrets Manager.
        policy="aws-secretsmanager-secret-enable-rotation",
        compliant=ROTATED,
        violating={
            "no-rotation": without_rotation,
            "first-preview-no-rotation": lambda graph: without_rotation(first_preview(graph)),
            "second-secret": second_secret,
        },
        expect={
            "no-rotation": "secret platform-prod/cache/auth-token has no SecretRotation",
            "first-preview-no-rotation": "secret platform-prod/cache/auth-token has no SecretRotation",
            "second-secret": "secret platform-prod/api/key has no SecretRotation",
        },
    ),
    StackCase(
        policy="aws-secretsmanager-secret-enable-rotation",
        compliant=first_preview(ROTATED),
        violating={"no-rotation": without_rotation},
        expect={"no-rotation": "has no SecretRotation: its value is never rotated by Secrets Manager"},
    ),
]
