"""The pull request's preview comment: ``python -m tools.pr_comment --base DIR --head DIR [--pulumi DIR]``.

Each DIR holds ``<stack>.json`` from ``python -m tools.preview --stack <stack> --mode preview --json --estimate``:
``--base`` of the base branch, ``--head`` of the pull request. ``--pulumi`` holds what the real CLI said per stack:
``<stack>.json`` from ``pulumi preview --json`` (its ``changeSummary``) or ``<stack>.txt``, the text the Pulumi
action returns (its ``Resources:`` block, ANSI colours stripped), and ``<stack>.status``, the preview step's outcome
(success, failure, cancelled, skipped), so that a preview that failed or printed nothing is said as such;
``--pulumi-job`` is the real preview job's result (``skipped``: a fork's pull request, which gets no credentials).
Without ``--pulumi``, the change summary is computed offline from base and head alone.

The comment is one markdown document whose first line is ``MARKER``, so that the workflow finds its own comment
and edits it in place. Per stack: the changes, the policy violations by level, the estimated monthly cost and its
change against the base, and the estimated rollout time. The output is sorted and carries no timestamp: the same
previews give the same comment. Values are never shown, only the names of the inputs that changed (the documents
mask secrets as "[secret]" anyway).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.estimate import cost_delta, format_usd

MARKER = "<!-- platform-preview -->"
TITLE = "## Platform preview"
# The headings each stack's section carries, in order (docs/estimates.md shows them; a test keeps both in step).
SECTIONS = ("Changes", "Policy", "Estimated monthly cost", "Estimated rollout time")
LISTED_URNS = 25  # per kind of change; a bigger change is counted, and the rest left to the artifact
FIRST_LINKS = 5

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Preview:
    """One `<stack>.json` of the offline preview, or why there is none."""

    document: JsonDict | None
    problem: str | None

    @staticmethod
    def load(folder: Path, stack: str) -> Preview:
        path = folder / f"{stack}.json"
        if not path.is_file():
            return Preview(None, f"no preview ({path.name} missing)")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return Preview(None, f"the preview failed ({path.name} is not a preview document)")
        if not isinstance(document, dict) or "resources" not in document:
            return Preview(None, f"the preview failed ({path.name} is not a preview document)")
        return Preview(document, None)


@dataclass(frozen=True)
class ChangeSet:
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]  # URN -> names of the inputs that differ
    regenerated: dict[str, list[str]]
    """Chart objects listed in RENDERED_AFRESH that differ only where their chart generates values at render
    time, their chart rendering from the same inputs for the same Kubernetes version in base and head: not
    the pull request's changes."""


CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
CLUSTER_TYPE = "aws:eks/cluster:Cluster"
JsonObject = Mapping[str, Any]


def _without_ca_bundles(inputs: JsonObject) -> JsonObject:
    """A webhook configuration without its webhooks' caBundle."""
    copied: dict[str, Any] = json.loads(json.dumps(inputs))
    for webhook in copied.get("webhooks") or []:
        (webhook.get("clientConfig") or {}).pop("caBundle", None)
    return copied


def _without_data(inputs: JsonObject) -> JsonObject:
    return {k: v for k, v in inputs.items() if k not in ("data", "stringData")}


RENDERED_AFRESH: dict[tuple[str, str, str], Callable[[JsonObject], JsonObject]] = {
    # aws-load-balancer-controller (templates/_helpers.tpl, webhookCerts): when its `lookup` finds no live Secret,
    # genCA and genSignedCert make a new CA and certificate at every render, and the CA goes into both webhook
    # configurations. Offline there is never a live Secret; against the cluster the chart reuses it
    # (keepTLSSecret, tests/test_chart_stability.py).
    ("aws-load-balancer-controller", "Secret", "aws-load-balancer-tls"): _without_data,
    ("aws-load-balancer-controller", "MutatingWebhookConfiguration", "aws-load-balancer-webhook"): _without_ca_bundles,
    (
        "aws-load-balancer-controller",
        "ValidatingWebhookConfiguration",
        "aws-load-balancer-webhook",
    ): _without_ca_bundles,
}
"""(chart, kind, name) of each object a chart renders differently every time from the same inputs, and what
of it stays the same: the object is regenerated, not changed, when that part is equal. Anything else a chart
renders differently counts as a change (tests/test_chart_stability.py fails on any other object that differs
between two renders)."""


def _inputs_that_differ(before: JsonObject, after: JsonObject) -> list[str]:
    old, new = before.get("inputs") or {}, after.get("inputs") or {}
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _kube_versions(document: JsonObject) -> list[Any]:
    return sorted(
        str((r.get("inputs") or {}).get("version")) for r in document["resources"] if r["type"] == CLUSTER_TYPE
    )


def rendered_afresh_key(chart: JsonObject, obj: JsonObject) -> tuple[str, str, str]:
    """The RENDERED_AFRESH key of ``obj``, an object ``chart`` rendered (both as the preview documents have them)."""
    inputs = obj.get("inputs") or {}
    name = (inputs.get("metadata") or {}).get("name")
    return str((chart.get("inputs") or {}).get("chart")), str(inputs.get("kind")), str(name)


def offline_changes(base: JsonObject, head: JsonObject) -> ChangeSet:
    """Resources by URN: only in head, only in base, and in both with different inputs (an object of
    RENDERED_AFRESH whose chart renders from the same inputs, differing only where the chart generates
    values: regenerated, not changed)."""
    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    same_kube_version = _kube_versions(base) == _kube_versions(head)
    unchanged_charts = {
        urn
        for urn in old.keys() & new.keys()
        if new[urn]["type"] == CHART_TYPE and same_kube_version and not _inputs_that_differ(old[urn], new[urn])
    }

    def regenerated_only(urn: str) -> bool:
        parent = new[urn].get("parent")
        if parent not in unchanged_charts or old[urn].get("parent") != parent:
            return False
        stable = RENDERED_AFRESH.get(rendered_afresh_key(new[parent], new[urn]))
        return stable is not None and stable(old[urn]["inputs"]) == stable(new[urn]["inputs"])

    changed: dict[str, list[str]] = {}
    regenerated: dict[str, list[str]] = {}
    for urn in sorted(old.keys() & new.keys()):
        keys = _inputs_that_differ(old[urn], new[urn])
        if keys:
            (regenerated if regenerated_only(urn) else changed)[urn] = keys
    return ChangeSet(sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys()), changed, regenerated)


_RESOURCE_COUNT = re.compile(r"^\s*[-+~±]*\s*(\d+) (to create|to update|to delete|to replace|unchanged)\s*$")
# The last line of the `Resources:` block when more than one kind of change is listed (and the only count
# some outputs keep): "4 changes. 483 unchanged".
_CHANGES_LINE = re.compile(r"^\s*(\d+) changes?\. (\d+) unchanged\s*$")
# Colours and cursor movements of a terminal, which the action's output keeps unless told `color: never`.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _text_summary(text: str) -> dict[str, int] | None:
    counts: dict[str, int] = {}
    total: tuple[int, int] | None = None
    for line in strip_ansi(text).splitlines():
        if match := _RESOURCE_COUNT.match(line):
            counts[match.group(2).removeprefix("to ").replace("unchanged", "same")] = int(match.group(1))
        elif match := _CHANGES_LINE.match(line):
            total = (int(match.group(1)), int(match.group(2)))
    if total is not None:
        counts["same"] = total[1]
        if not counts.keys() - {"same"}:
            counts["change"] = total[0]  # no per-kind lines: the total is all there is
    return dict(sorted(counts.items())) or None


def pulumi_summary(folder: Path, stack: str) -> dict[str, int] | None:
    """`pulumi preview`'s counts per operation: its --json `changeSummary`, else the text's `Resources:` block."""
    as_json = folder / f"{stack}.json"
    if as_json.is_file():
        try:
            summary = json.loads(as_json.read_text(encoding="utf-8")).get("changeSummary")
        except (json.JSONDecodeError, AttributeError):
            return None
        return {str(k): int(v) for k, v in sorted(summary.items())} if isinstance(summary, dict) else None
    as_text = folder / f"{stack}.txt"
    if not as_text.is_file():
        return None
    return _text_summary(as_text.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class RealPreview:
    """What the `pulumi preview` job left for one stack."""

    counts: dict[str, int] | None
    outcome: str | None
    """The preview step's outcome (``<stack>.status``), None when the job recorded none."""
    job: str | None
    """The preview job's result, when the workflow passes it (``skipped`` for a fork's pull request)."""

    @staticmethod
    def load(folder: Path, stack: str, job: str | None) -> RealPreview:
        status = folder / f"{stack}.status"
        outcome = status.read_text(encoding="utf-8").strip() or None if status.is_file() else None
        return RealPreview(pulumi_summary(folder, stack), outcome, job)

    def line(self) -> str:
        failed = self.outcome not in {None, "success"}
        if self.counts is not None:
            counts = "From `pulumi preview`: " + ", ".join(f"{op} {n}" for op, n in self.counts.items()) + "."
            return counts + (f" The preview step's outcome: {self.outcome} (see the run)." if failed else "")
        if self.outcome == "success":
            return "`pulumi preview` succeeded but printed no resource summary (see the run)."
        if self.outcome == "skipped":
            return "`pulumi preview` did not run: a step before it failed (see the run)."
        if self.outcome == "cancelled":
            return "`pulumi preview` was cancelled (see the run)."
        if failed:
            return "`pulumi preview` failed (see the run)."
        if self.job == "skipped":
            return "`pulumi preview` not run (a fork's pull request gets no AWS credentials)."
        return "`pulumi preview` left no result (see the run)."


def _resource(urn: str) -> str:
    """`type::name` of a URN, the part a reviewer recognises."""
    qualified_type, _, name = urn.rpartition("::")
    return f"{qualified_type.rsplit('$', 1)[-1]}::{name}"


def _urn_list(title: str, urns: list[str], detail: Mapping[str, list[str]] | None = None) -> list[str]:
    if not urns:
        return []
    lines = ["", f"<details><summary>{title} ({len(urns)})</summary>", ""]
    for urn in urns[:LISTED_URNS]:
        inputs = f" — inputs: {', '.join(f'`{k}`' for k in detail[urn])}" if detail else ""
        lines.append(f"- `{urn}`{inputs}")
    if len(urns) > LISTED_URNS:
        lines.append(f"- … and {len(urns) - LISTED_URNS} more (the previews are the run's artifacts)")
    lines += ["", "</details>"]
    return lines


def _changes(head: JsonDict, base: JsonDict | None, real: RealPreview | None) -> list[str]:
    lines = [f"#### {SECTIONS[0]}", ""]
    if real is not None:
        lines.append(real.line())
    if base is None:
        if real is None or real.counts is None:
            lines.append("No base preview to compare with: every resource is new to this comparison.")
        return lines
    changes = offline_changes(base, head)
    counts = f"{len(changes.added)} added, {len(changes.removed)} removed, {len(changes.changed)} changed"
    lines.append(f"Offline, base → head: {counts} (of {len(head['resources'])} in head).")
    lines += _urn_list("Added", changes.added)
    lines += _urn_list("Removed", changes.removed)
    lines += _urn_list("Changed", sorted(changes.changed), changes.changed)
    if changes.regenerated:
        lines += [
            "",
            f"Not counted: {len(changes.regenerated)} chart objects that differ only in the webhook certificate their "
            "chart generates at every offline render from unchanged inputs; against the cluster the chart reuses the "
            "live one.",
        ]
        lines += _urn_list("Regenerated offline", sorted(changes.regenerated), changes.regenerated)
    return lines


def _violations(document: Mapping[str, Any], level: str) -> list[JsonDict]:
    return [v for v in document["policy"]["violations"] if v["level"] == level]


def _policy(head: JsonDict, base: JsonDict | None) -> list[str]:
    mandatory, advisory = _violations(head, "mandatory"), _violations(head, "advisory")
    unknown = len(head["policy"].get("unknownDuringPreview") or [])
    lines = [f"#### {SECTIONS[1]}", "", "| level | head | base |", "|---|---:|---:|"]
    for level, found in (("mandatory", mandatory), ("advisory", advisory)):
        was = str(len(_violations(base, level))) if base else "–"
        lines.append(f"| {level} | {len(found)} | {was} |")
    lines += ["", f"Checks that could not run until values are known: {unknown}."]
    if mandatory:
        lines += ["", "Mandatory violations (the gate fails):", ""]
        for v in sorted(mandatory, key=lambda v: (v["policy"], v["urn"])):
            lines.append(f"- `{v['policy']}` on `{_resource(v['urn'])}`")
    return lines


def _cost(head: JsonDict, base: JsonDict | None) -> list[str]:
    lines = [f"#### {SECTIONS[2]}", ""]
    cost = (head.get("estimate") or {}).get("cost")
    if cost is None:
        return [*lines, "No estimate in the head preview (run it with `--estimate`)."]
    total = cost["total"]
    lines.append(
        f"**{format_usd(total['desired'])}** a month at the node groups' desired size, "
        f"{format_usd(total['min'])} at their minimum ({cost['currency']}, {cost['region']}, "
        f"prices of {cost['priceTable']['taken']}, usage-based charges not included)."
    )
    base_cost = ((base or {}).get("estimate") or {}).get("cost")
    if base_cost is None:
        return [*lines, "", "No base estimate to compare with."]
    delta = cost_delta(cost, base_cost)
    change = delta["total"]
    lines += [
        "",
        f"Change against the base: **{format_usd(change['desired'], signed=True)}** at desired, "
        f"{format_usd(change['min'], signed=True)} at min.",
    ]
    if delta["components"]:
        lines += ["", "| component | base (desired) | head (desired) | change (desired) | change (min) |"]
        lines.append("|---|---:|---:|---:|---:|")
        zero = {"min": 0.0, "desired": 0.0}
        for name, diff in delta["components"].items():
            old, new = base_cost["components"].get(name, zero), cost["components"].get(name, zero)
            lines.append(
                f"| {name} | {format_usd(old['desired'])} | {format_usd(new['desired'])} "
                f"| {format_usd(diff['desired'], signed=True)} | {format_usd(diff['min'], signed=True)} |"
            )
    return lines


def _rollout(head: JsonDict, base: JsonDict | None) -> list[str]:
    lines = [f"#### {SECTIONS[3]}", ""]
    path = (head.get("estimate") or {}).get("criticalPath")
    if path is None:
        return [*lines, "No estimate in the head preview (run it with `--estimate`)."]
    base_path = ((base or {}).get("estimate") or {}).get("criticalPath")
    was = f" (base: {base_path['totalMinutes']:g} min)" if base_path else ""
    lines.append(f"Critical path of a first rollout: **{path['totalMinutes']:g} min**{was}.")
    # Providers and in-process resources take no time: the links worth reading are the ones that do.
    timed = [link for link in path["links"] if link["minutes"] > 0]
    shown = " → ".join(f"`{link['name']}` ({link['minutes']:g} min)" for link in timed[:FIRST_LINKS])
    more = f" → … ({len(timed) - FIRST_LINKS} more)" if len(timed) > FIRST_LINKS else ""
    return [*lines, "", f"{shown}{more}"]


def render_comment(
    stacks: list[str], base_dir: Path, head_dir: Path, pulumi_dir: Path | None, pulumi_job: str | None = None
) -> str:
    lines = [MARKER, TITLE]
    for stack in stacks:
        head, base = Preview.load(head_dir, stack), Preview.load(base_dir, stack)
        lines += ["", f"### Stack `{stack}`", ""]
        if head.document is None:
            lines.append(f"Head: {head.problem}. See the offline preview job's log.")
            continue
        if base.document is None:
            lines += [f"Base: {base.problem}; the head is shown alone.", ""]
        real = RealPreview.load(pulumi_dir, stack, pulumi_job) if pulumi_dir else None
        for section in (
            _changes(head.document, base.document, real),
            _policy(head.document, base.document),
            _cost(head.document, base.document),
            _rollout(head.document, base.document),
        ):
            lines += [*section, ""]
        while lines[-1] == "":
            lines.pop()
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pr_comment", description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="<stack>.json previews of the base branch")
    parser.add_argument("--head", type=Path, required=True, help="<stack>.json previews of the pull request")
    parser.add_argument(
        "--pulumi", type=Path, help="`pulumi preview` per stack: <stack>.json (--json) or .txt, and <stack>.status"
    )
    parser.add_argument("--pulumi-job", help="the `pulumi preview` job's result (skipped: a fork's pull request)")
    args = parser.parse_args(argv)
    if not args.head.is_dir():
        print(f"error: --head {args.head} is not a directory", file=sys.stderr)
        return 2
    stacks = sorted({p.stem for d in (args.base, args.head) if d.is_dir() for p in d.glob("*.json")})
    sys.stdout.write(render_comment(stacks, args.base, args.head, args.pulumi, args.pulumi_job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
