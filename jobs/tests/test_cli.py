"""The CLI's contract for failures: one line, no traceback, exit 2 for settings and 1 for the rest."""

import socket
import subprocess
import sys

import pytest
from jobs_testkit import JOBS, Aws
from platform_backup.cli import main


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (["backup", "postgres"], "BACKUP_BUCKET"),
        (["backup", "redis"], "BACKUP_BUCKET"),
        (["verify"], "BACKUP_BUCKET"),
        (["serve-metrics"], "BACKUP_BUCKET"),
        (["restore", "postgres", "--database", "a", "--into", "b"], "BACKUP_BUCKET"),
    ],
)
def test_a_missing_setting_exits_2_naming_the_variable(
    args: list[str], variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(variable, raising=False)

    assert main(args) == 2

    err = capsys.readouterr().err
    assert err == f"platform-backup: error: environment variable {variable} is required and is not set\n"


def test_the_kms_key_is_required_to_write(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUP_KMS_KEY_ARN")

    assert main(["backup", "postgres"]) == 2
    assert "BACKUP_KMS_KEY_ARN" in capsys.readouterr().err


def test_redis_needs_its_replication_group(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REDIS_REPLICATION_GROUP_ID", raising=False)

    assert main(["backup", "redis"]) == 2
    assert "REDIS_REPLICATION_GROUP_ID" in capsys.readouterr().err


def test_an_aws_error_is_one_line_and_exit_1(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BACKUP_BUCKET", "no-such-bucket")
    monkeypatch.setenv("VERIFY_KINDS", "config")

    assert main(["verify"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("platform-backup: error: AWS: ") and "NoSuchBucket" in err
    assert err.count("\n") == 1


def test_python_m_platform_backup_runs_without_a_traceback() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(JOBS), "AWS_REGION": "eu-west-1"}

    result = subprocess.run(
        [sys.executable, "-m", "platform_backup", "backup", "config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr == "platform-backup: error: environment variable BACKUP_BUCKET is required and is not set\n"


def test_a_port_in_use_for_serve_metrics_is_one_line_and_exit_1(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        monkeypatch.setenv("METRICS_PORT", str(taken.getsockname()[1]))

        assert main(["serve-metrics"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("platform-backup: error: OSError: ") and "Address already in use" in err
    assert err.count("\n") == 1
