"""A Helm v4 Chart gets no verdict of its own: the engine sends it with no inputs, and its rendered objects are judged.

Under the real engine a ``kubernetes:helm.sh/v4:Chart`` is a provider-side component: the program's inputs
(chart, version, namespace, values) go to the provider's Construct, and the analyzer sees the Chart with empty
properties, then every object it rendered as a child resource. A rule that judged the Chart would report "no
version" or "default namespace" on every one, and a rule that read its values would say it "can't run".
"""

from __future__ import annotations

import pytest

from tests.policy.cases_kubernetes import _workload
from tests.policy.harness import REGISTRY, Res, evaluate_fixture, violations_of
from tools.policy_gate import PolicyResult

CHART = "kubernetes:helm.sh/v4:Chart"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POLICIES = sorted(rule.name for rule in REGISTRY)


def _chart_alone(stack: str) -> PolicyResult:
    # What the engine sends for the Chart: its type and name, no properties.
    return evaluate_fixture([Res(CHART, "monitoring", {})], stack, {}, POLICIES[0])


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("policy", POLICIES)
def test_no_policy_judges_a_v4_chart(policy: str, stack: str) -> None:
    result = _chart_alone(stack)
    assert violations_of(result, policy) == []
    assert [u for u in result.unknown_during_preview if u["policy"] == policy] == []


def test_the_objects_a_chart_renders_are_still_judged() -> None:
    chart = Res(CHART, "monitoring", {})
    rendered = _workload(DEPLOYMENT)
    del rendered["metadata"]["namespace"]
    child = Res(DEPLOYMENT, "monitoring:platform/api", rendered, parent=chart.urn)
    result = evaluate_fixture([chart, child], "prod", {}, POLICIES[0])
    found = violations_of(result, "kubernetes-object-disallow-default-namespace")
    assert [v["urn"] for v in found] == [child.urn]
