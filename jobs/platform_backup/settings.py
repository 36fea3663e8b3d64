"""Settings from the environment, and the timestamps every key and manifest uses."""

import os
from collections.abc import Callable
from datetime import UTC, datetime

from platform_backup.errors import ConfigError

Clock = Callable[[], datetime]

KEY_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required and is not set")
    return value


def env_list(name: str) -> list[str]:
    """A comma-separated variable as a list without blanks (unset or empty: an empty list)."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"environment variable {name} must be positive, got {value}")
    return value


def aws_region() -> str:
    """The region from AWS_REGION (EKS sets it with IRSA), else AWS_DEFAULT_REGION."""
    region = os.environ.get("AWS_REGION", "").strip() or os.environ.get("AWS_DEFAULT_REGION", "").strip()
    if not region:
        raise ConfigError("environment variable AWS_REGION is required and is not set")
    return region


def key_timestamp(moment: datetime) -> str:
    """`20261201T083000Z`: sorts as text in time order, which is how the newest backup is found."""
    return moment.astimezone(UTC).strftime(KEY_TIMESTAMP_FORMAT)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
