"""Every config key and secret is documented in docs/configuration.md."""

from __future__ import annotations

import pytest

from components.config import (
    AREAS,
    SECRET_KEYS,
    AlarmThresholds,
    Autoscaling,
    BackupJobsConfig,
    CrdChartConfig,
    DisruptionBudget,
    IamStatement,
    IngressConfig,
    NodeGroupConfig,
    Probe,
    Probes,
    ScalingPolicy,
    ScalingRules,
    ServiceConfig,
    ServiceResources,
    SubnetCidrs,
    Taint,
)
from tests.conftest import PROJECT_DIR

DOC = (PROJECT_DIR / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("area", AREAS)
def test_every_area_and_key_is_documented(area: str) -> None:
    assert f"## `platform:{area}`" in DOC
    for field in AREAS[area].model_fields.values():
        assert f"`{field.alias}`" in DOC, f"platform:{area}.{field.alias} is not in docs/configuration.md"


@pytest.mark.parametrize(
    "model",
    [
        NodeGroupConfig,
        Taint,
        SubnetCidrs,
        AlarmThresholds,
        ServiceConfig,
        ServiceResources,
        Autoscaling,
        ScalingRules,
        ScalingPolicy,
        Probes,
        Probe,
        IngressConfig,
        DisruptionBudget,
        IamStatement,
        CrdChartConfig,
        BackupJobsConfig,
    ],
)
def test_nested_keys_are_documented(model: type) -> None:
    for field in model.model_fields.values():  # type: ignore[attr-defined]
        assert field.alias in DOC, f"{model.__name__}.{field.alias} is not in docs/configuration.md"


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_every_secret_is_documented(key: str) -> None:
    assert f"`platform:{key}`" in DOC
