"""Fixtures for the ECR guardrails (the compliant repository is the backup jobs', as BackupJobs builds it)."""

from __future__ import annotations

from tests.policy.harness import DELETE, Case, unknown

REPOSITORY = "aws:ecr/repository:Repository"
KEY_ARN = "arn:aws:kms:ca-central-1:123456789012:key/0b5f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
BACKUP_JOBS = {
    "name": "platform-prod-backup-jobs",
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
}

CASES = [
    Case(
        policy="aws-ecr-repository-disallow-mutable-tags",
        type=REPOSITORY,
        compliant=BACKUP_JOBS,
        violating={"mutable": {"imageTagMutability": "MUTABLE"}, "default": {"imageTagMutability": DELETE}},
        expect={
            "mutable": "imageTagMutability is MUTABLE: a tag can be pushed over",
            "default": "imageTagMutability is MUTABLE (the default)",
        },
    ),
    Case(
        policy="aws-ecr-repository-missing-scan-on-push",
        type=REPOSITORY,
        compliant=BACKUP_JOBS,
        violating={
            "off": {"imageScanningConfiguration": {"scanOnPush": False}},
            "missing": {"imageScanningConfiguration": DELETE},
        },
        expect={"off": "images are not scanned on push", "missing": "images are not scanned on push"},
    ),
    Case(
        policy="aws-ecr-repository-missing-kms-key",
        type=REPOSITORY,
        compliant=BACKUP_JOBS,
        violating={
            "aes256": {"encryptionConfigurations": [{"encryptionType": "AES256"}]},
            "default": {"encryptionConfigurations": DELETE},
            "aws-managed": {"encryptionConfigurations": [{"encryptionType": "KMS"}]},
        },
        expect={
            "aes256": "encrypted with AES256 (the default), not a KMS key",
            "default": "encrypted with AES256 (the default), not a KMS key",
            "aws-managed": "the AWS managed key aws/ecr",
        },
    ),
    Case(
        # A first preview: the repository's key is created with the stack.
        policy="aws-ecr-repository-missing-kms-key",
        type=REPOSITORY,
        compliant={**BACKUP_JOBS, "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": unknown()}]},
        violating={"no-key": {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": ""}]}},
        expect={"no-key": "the AWS managed key aws/ecr"},
        unknown=[],
    ),
]
