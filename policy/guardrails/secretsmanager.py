"""Guardrails: Secrets Manager (encryption with a customer key, and rotation).

The only secret the platform creates is the cache's AUTH token
(``<stack>/cache/auth-token``). The database master secret is managed, and
rotated, by RDS itself (manage_master_user_password): it is not a resource of
the stack, so no rule here sees it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from guardrails.base import each, is_set, reference, resource_rule, stack_rule
from guardrails.sns import is_aws_managed_key

SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
AWS_MANAGED_KEY = "alias/aws/secretsmanager"


@resource_rule(
    name="aws-secretsmanager-secret-missing-kms-key",
    description="Every secret must be encrypted with a customer managed KMS key: kmsKeyId set (a key not created "
    "yet counts) and not the AWS managed alias/aws/secretsmanager (unset means that key), whose policy lets "
    "every principal of the account with secretsmanager:GetSecretValue decrypt.",
    resource_types=[SECRET],
    severity=Severity.MEDIUM,
    remediation="Set kms_key_id on the aws.secretsmanager.Secret to the ARN of the customer managed key of the "
    "data the secret protects (the cache secret uses the cache's key).",
)
def _secret_key(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if not is_set(props, "kmsKeyId"):
        yield f"the secret has no kmsKeyId: it is encrypted with the AWS managed key {AWS_MANAGED_KEY}"
    elif is_aws_managed_key(props, "kmsKeyId", AWS_MANAGED_KEY):
        yield f"the secret is encrypted with the AWS managed key {AWS_MANAGED_KEY}, not a customer managed key"


def _rotated(secret: PolicyResource, rotations: list[PolicyResource]) -> Iterator[tuple[str, str | None]]:
    arn = secret.props.get("arn")  # an output: absent before the secret exists, then matched by URN
    for rotation in rotations:
        target = reference(rotation, "secretId", [SECRET])
        if secret.urn in target.urns or (arn and str(arn) in target.values):
            return
    name = secret.props.get("name") or secret.name
    yield f"secret {name} has no SecretRotation: its value is never rotated by Secrets Manager", secret.urn


@stack_rule(
    name="aws-secretsmanager-secret-enable-rotation",
    description="Every secret should have an aws:secretsmanager/secretRotation:SecretRotation. Advisory in every "
    "stack, prod included: the one secret the platform creates, the cache AUTH token, has none because "
    "ElastiCache rotates an AUTH token through ModifyReplicationGroup with AuthTokenUpdateStrategy=ROTATE (then "
    "SET), not through a Secrets Manager rotation function, so its finding stays advisory with that reason. The "
    "RDS master secret is managed and rotated by RDS itself and is not a resource of the stack.",
    resource_types=[SECRET, SECRET_ROTATION],
    severity=Severity.MEDIUM,
    category="advice",
    control="AWS-FSBP SecretsManager.1",
    remediation="Add aws.secretsmanager.SecretRotation(secret_id=<secret arn>, rotation_lambda_arn=<rotation "
    "function>, rotation_rules={automatically_after_days: 30}); for the cache AUTH token, rotate with "
    "ModifyReplicationGroup (AuthTokenUpdateStrategy=ROTATE, then SET) and write the new token to the secret.",
)
def _rotation(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    rotations = [r for r in resources if r.resource_type == SECRET_ROTATION]
    secrets = [r for r in resources if r.resource_type == SECRET]
    return each(secrets, lambda secret: _rotated(secret, rotations))
