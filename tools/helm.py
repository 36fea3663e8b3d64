"""Render a Helm chart from the chart cache as the Kubernetes provider renders a v4 Chart.

pulumi-kubernetes 4.34 (provider/pkg/provider/helm/v4/chart.go, ``Construct``) renders a
``kubernetes:helm.sh/v4:Chart`` with the Helm library as ``helm template`` would:

- ``cmd.IncludeCRDs = !chartArgs.SkipCrds``: the chart's ``crds/`` are rendered unless skipCrds;
- ``cmd.DisableHooks = true`` and only ``release.Manifest`` is parsed: hook resources (tests
  included) are never registered. (The SDK's ``includeHooks`` only matters when the provider
  renders YAML to a directory instead of applying, pulumi/pulumi-kubernetes#4426.)
- ``cmd.ReleaseName = chartArgs.Name``, defaulting to the Chart's resource name;
- ``cmd.Namespace = chartArgs.Namespace``; an empty namespace becomes Helm's settings
  namespace (provider/pkg/helm/tool.go, ``runInstall``: ``client.Namespace = settings.Namespace()``);
- ``setKubeVersionAndAPIVersions``: the Kubernetes version and the API versions come from the
  cluster's discovery. Offline the caller passes the version (``--kube-version``) and any API
  versions beyond Helm's built-in set (``--api-versions``).
- ``DryRunOption = "server"`` lets templates call ``lookup`` against the cluster; offline
  ``helm template`` answers every lookup with nothing, as a client-only render does. Given a
  ``kubeconfig``, the render asks that cluster instead (``--dry-run=server``,
  ``--disable-openapi-validation``). Unlike the provider's client-only render, the helm CLI then also
  takes the Kubernetes version from the server and gets each rendered object from it (its ownership
  check, which ``--take-ownership`` makes pass for objects Pulumi applied).

The chart comes from the chart cache (``tools.charts.chart_archive``), never from the network.
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tools.charts import ChartCacheError, chart_archive, helm_binary

__all__ = ["ChartCacheError", "HelmError", "render_chart"]


class HelmError(Exception):
    """helm could not render the chart: the message carries helm's own error."""


_renders: dict[tuple[str, ...], list[dict[str, Any]]] = {}


# libyaml's parser when PyYAML has it: about 10x faster on a chart's output (the large CRDs);
# the safe constructor and the resolvers below are the same Python code either way.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ManifestLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML as the provider's decoder reads it into JSON-like objects (sigs.k8s.io/yaml):
    timestamps stay text, and the YAML 1.1 "=" value key is plain text, not a tag."""


_ManifestLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def render_chart(
    chart: str,
    version: str,
    release: str,
    namespace: str,
    *,
    values: dict[str, Any] | None,
    kube_version: str,
    skip_crds: bool = False,
    api_versions: list[str] | None = None,
    value_files: list[str] | None = None,
    kubeconfig: Path | None = None,
) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders (hooks excluded), in helm's order.

    ``value_files`` are YAML texts applied before ``values`` (the provider merges
    valueYamlFiles first, then values). ``kubeconfig``: the cluster the chart's ``lookup``
    calls ask (the render is then never cached); without it every lookup finds nothing.
    Raises ChartCacheError when the chart or helm is missing, HelmError when helm fails.
    """
    archive = chart_archive(chart, version)
    helm = helm_binary()
    args = [
        "template",
        release,
        str(archive),
        "--namespace",
        namespace,
        "--kube-version",
        kube_version,
        "--no-hooks",
    ]
    if not skip_crds:
        args.append("--include-crds")
    for api_version in api_versions or []:
        args += ["--api-versions", api_version]
    texts = [*(value_files or []), json.dumps(values or {}, sort_keys=True)]
    key = (str(archive), *args, *texts)
    if kubeconfig is None and key in _renders:
        return copy.deepcopy(_renders[key])
    if kubeconfig is not None:
        # The provider's render is also ClientOnly, which skips helm's check that live objects carry helm's
        # ownership annotations (objects applied by Pulumi do not); the CLI's server dry run skips it only
        # when told to take ownership (nothing is written either way).
        args += [
            "--dry-run=server",
            "--disable-openapi-validation",
            "--take-ownership",
            "--kubeconfig",
            str(kubeconfig),
        ]

    with tempfile.TemporaryDirectory(prefix="chart-values-") as folder:
        files = []
        for i, text in enumerate(texts):
            path = Path(folder) / f"values-{i}.yaml"
            path.write_text(text, encoding="utf-8")
            files += ["--values", str(path)]
        try:
            result = subprocess.run(
                [str(helm), *args, *files], capture_output=True, text=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise HelmError(f"helm template of {chart} {version} could not run: {err}") from None
    if result.returncode != 0:
        raise HelmError(f"helm template of {chart} {version} failed: {result.stderr.strip()}")
    try:
        # As the provider's yaml/v2 Parse: every document, empty ones skipped.
        documents = yaml.load_all(result.stdout, Loader=_ManifestLoader)  # a (C)SafeLoader subclass
        objects = [doc for doc in documents if doc]
    except yaml.YAMLError as err:
        raise HelmError(f"helm template of {chart} {version} rendered invalid YAML: {err}") from None
    bad = [o for o in objects if not isinstance(o, dict)]
    if bad:
        raise HelmError(f"helm template of {chart} {version} rendered a document that is not an object: {bad[0]!r}")
    if kubeconfig is None:
        _renders[key] = objects
    return copy.deepcopy(objects)
