"""Guardrails: ECR repositories (tags that cannot move, images scanned, a customer managed key).

A tag the stack deploys by (``backups.jobs.imageTag``) must name one image for good, so what a CronJob
runs cannot change under the stack; every pushed image is scanned for known vulnerabilities; and the
images are encrypted with a key the account controls and can audit (CloudTrail logs its use).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from guardrails.base import as_list, is_set, resource_rule

REPOSITORY = "aws:ecr/repository:Repository"


@resource_rule(
    name="aws-ecr-repository-disallow-mutable-tags",
    description="Every ECR repository must make its tags immutable (imageTagMutability IMMUTABLE): a pushed tag "
    "then names one image for good, and a deployment by tag cannot silently run another image.",
    resource_types=[REPOSITORY],
    severity=Severity.HIGH,
    control="AWS-FSBP ECR.2",
    remediation="Set image_tag_mutability='IMMUTABLE' and push each build under a new tag (a version).",
)
def _immutable_tags(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    mutability = props.get("imageTagMutability")
    if mutability != "IMMUTABLE":
        yield f"imageTagMutability is {mutability or 'MUTABLE (the default)'}: a tag can be pushed over"


@resource_rule(
    name="aws-ecr-repository-missing-scan-on-push",
    description="Every ECR repository must scan each image when it is pushed (imageScanningConfiguration "
    "scanOnPush), so that a known vulnerability shows before the image runs.",
    resource_types=[REPOSITORY],
    severity=Severity.MEDIUM,
    control="AWS-FSBP ECR.1",
    remediation="Set image_scanning_configuration=RepositoryImageScanningConfigurationArgs(scan_on_push=True).",
)
def _scan_on_push(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    scanning = props.get("imageScanningConfiguration") or {}
    if not (isinstance(scanning, Mapping) and scanning.get("scanOnPush") is True):
        yield "images are not scanned on push (imageScanningConfiguration.scanOnPush is not true)"


@resource_rule(
    name="aws-ecr-repository-missing-kms-key",
    description="Every ECR repository must encrypt its images with a customer managed KMS key "
    "(encryptionConfigurations: encryptionType KMS and kmsKey set; a key not created yet counts), not "
    "the default AES256 or the AWS managed aws/ecr key.",
    resource_types=[REPOSITORY],
    severity=Severity.MEDIUM,
    remediation="Set encryption_configurations=[RepositoryEncryptionConfigurationArgs(encryption_type='KMS', "
    "kms_key=<a customer managed key's ARN>)]. The encryption of a repository cannot change: this replaces it.",
)
def _customer_key(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    configurations = [c for c in as_list(props.get("encryptionConfigurations")) if isinstance(c, Mapping)]
    if not configurations or configurations[0].get("encryptionType") != "KMS":
        yield "the repository is encrypted with AES256 (the default), not a KMS key"
    elif not is_set(configurations[0], "kmsKey"):
        yield "the repository is encrypted with the AWS managed key aws/ecr, not a customer managed key"
