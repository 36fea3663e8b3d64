"""The chart cache and helm for tests: present, or a skip with the reason (a failure under CI=true)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.charts import ChartCacheError, chart_archive, helm_binary


def require_charts() -> None:
    """Skip (fail under CI) when the chart cache or helm is missing."""
    try:
        helm_binary()
        chart_archive("metrics-server", "3.13.1")
    except ChartCacheError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the chart cache and helm: {err}")
        pytest.skip(f"charts cannot be rendered here: {err}")


def chart_defaults(chart: str, version: str) -> dict[str, Any]:
    """The chart's own values.yaml, with each bundled subchart's values.yaml under the subchart's key (what
    Helm passes to the subchart: its own defaults, overridden by the parent's)."""
    archive: Path = chart_archive(chart, version)
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{chart}/values.yaml")
        assert member is not None, f"{archive} has no values.yaml"
        defaults: dict[str, Any] = yaml.safe_load(member) or {}
        for info in tar.getmembers():
            parts = info.name.split("/")
            if len(parts) == 4 and parts[1] == "charts" and parts[3] == "values.yaml":
                sub = tar.extractfile(info)
                assert sub is not None
                defaults[parts[2]] = _merged(yaml.safe_load(sub) or {}, defaults.get(parts[2]) or {})
        return defaults


def chart_texts(chart: str, version: str) -> dict[str, str]:
    """Every values.yaml and template of the chart (subcharts included), by path in the archive."""
    with tarfile.open(chart_archive(chart, version)) as tar:
        texts = {}
        for info in tar.getmembers():
            if info.isfile() and (info.name.endswith("values.yaml") or "/templates/" in info.name):
                member = tar.extractfile(info)
                assert member is not None
                texts[info.name] = member.read().decode("utf-8", "replace")
        return texts


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def unknown_keys(values: Any, defaults: Any, verbatim: set[str], path: str = "") -> list[str]:
    """Paths of ``values`` keys the chart does not declare.

    A key is declared when the chart's defaults have it. Below a mapping the chart leaves empty (``{}``)
    or unset (``null``), and below a path in ``verbatim`` (values the chart writes into the object as
    they are, e.g. a securityContext, or a free-form flag map such as extraArgs), any key is allowed.
    """
    if not isinstance(values, dict) or path.lstrip(".") in verbatim:
        return []
    if not isinstance(defaults, dict) or not defaults:
        return []
    found = []
    for key, value in values.items():
        here = f"{path}.{key}"
        if key not in defaults:
            found.append(here.lstrip("."))
        else:
            found += unknown_keys(value, defaults[key], verbatim, here)
    return found
