"""Exemptions: an object the stack's policy config exempts from one rule, with its reason, passes that rule only.

The fixtures are what the engine records for a Helm v4 Chart: each rendered object a child of the Chart, with
its namespace set. Configs are fixtures too: policy/config/*.json grant no exemption yet.
"""

from __future__ import annotations

import copy
from typing import Any

import grpc
import jsonschema
import pytest

from tests.policy.cases_kubernetes import DAEMON_SET, DEPLOYMENT, _workload
from tests.policy.harness import REGISTRY, Res, _resource, evaluate_fixture, unknown, violations_of
from tools.engine import Run
from tools.policy_docs import STACKS, render_table
from tools.policy_gate import evaluate, load_policy_config, running_pack

from guardrails.exemptions import SCHEMA, ExemptionError  # isort: skip

CHART = Res("kubernetes:helm.sh/v4:Chart", "node-exporter", {})
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
RELEASE = "kubernetes:helm.sh/v3:Release"
HOST_NAMESPACES = "kubernetes-pod-disallow-host-namespaces"
HOST_PATH = "kubernetes-pod-disallow-host-path-volumes"
WILDCARDS = "kubernetes-role-disallow-wildcards"
TOKEN = "kubernetes-pod-disable-service-account-token-automount"
DEFAULT_DENY = "kubernetes-namespace-missing-default-deny-networkpolicy"
REASON = "node metrics need the host's network and PID namespaces (prometheus-node-exporter)"


def _exemption(**fields: str) -> dict[str, str]:
    return {"reason": REASON, **fields}


def _node_exporter(namespace: str = "monitoring", kind: str = DAEMON_SET, name: str = "node-exporter") -> Res:
    """A rendered workload that shares the node's network and PID namespaces and mounts /proc from the host."""
    props = _workload(kind)
    props["metadata"].update(name=name, namespace=namespace)
    pod = props["spec"]["template"]["spec"]
    pod.update(
        hostNetwork=True, hostPID=True, volumes=[*pod["volumes"], {"name": "proc", "hostPath": {"path": "/proc"}}]
    )
    return Res(kind, f"node-exporter:{namespace}/{name}", props, parent=CHART.urn)


def _judge(objects: list[Res], policy: str, *exemptions: dict[str, Any], stack: str = "prod") -> Any:
    return evaluate_fixture([CHART, *objects], stack, {"exemptions": list(exemptions)}, policy)


def _flagged(result: Any, policy: str) -> list[str]:
    return [v["urn"] for v in violations_of(result, policy)]


# --- what an exemption covers -----------------------------------------------------------------


def test_without_an_exemption_the_upstream_daemonset_violates() -> None:
    exporter = _node_exporter()
    result = _judge([exporter], HOST_NAMESPACES)
    assert _flagged(result, HOST_NAMESPACES) == [exporter.urn]


def test_an_exempted_object_passes_the_exempted_rule_and_is_still_judged_by_the_others() -> None:
    exporter = _node_exporter()
    exemption = _exemption(namespace="monitoring", kind="DaemonSet", name="node-exporter")
    result = _judge([exporter], HOST_NAMESPACES, exemption)
    assert _flagged(result, HOST_NAMESPACES) == []
    assert _flagged(result, HOST_PATH) == [exporter.urn], "host paths are another rule's, not exempted"


def test_an_exemption_under_one_rule_does_not_exempt_the_object_from_another() -> None:
    exporter = _node_exporter()
    result = _judge([exporter], HOST_PATH, _exemption(namespace="monitoring"))
    assert _flagged(result, HOST_PATH) == []
    assert _flagged(result, HOST_NAMESPACES) == [exporter.urn]


def test_an_object_in_another_namespace_is_still_judged() -> None:
    exempted, other = _node_exporter(), _node_exporter(namespace="platform")
    result = _judge([exempted, other], HOST_NAMESPACES, _exemption(namespace="monitoring"))
    assert _flagged(result, HOST_NAMESPACES) == [other.urn]


def test_a_namespace_alone_exempts_every_object_of_the_rule_there() -> None:
    daemon_set, deployment = _node_exporter(), _node_exporter(kind=DEPLOYMENT, name="exporter-proxy")
    result = _judge([daemon_set, deployment], HOST_NAMESPACES, _exemption(namespace="monitoring"))
    assert _flagged(result, HOST_NAMESPACES) == []


def test_kind_narrows_an_exemption() -> None:
    daemon_set, deployment = _node_exporter(), _node_exporter(kind=DEPLOYMENT)
    result = _judge([daemon_set, deployment], HOST_NAMESPACES, _exemption(namespace="monitoring", kind="DaemonSet"))
    assert _flagged(result, HOST_NAMESPACES) == [deployment.urn]


def test_name_narrows_an_exemption() -> None:
    exporter, other = _node_exporter(), _node_exporter(name="other-exporter")
    result = _judge([exporter, other], HOST_NAMESPACES, _exemption(namespace="monitoring", name="node-exporter"))
    assert _flagged(result, HOST_NAMESPACES) == [other.urn]


def test_an_object_without_a_namespace_is_in_default() -> None:
    exporter = _node_exporter()
    del exporter.props["metadata"]["namespace"]
    assert _flagged(_judge([exporter], HOST_NAMESPACES, _exemption(namespace="monitoring")), HOST_NAMESPACES)
    assert not _flagged(_judge([exporter], HOST_NAMESPACES, _exemption(namespace="default")), HOST_NAMESPACES)


def _cluster_role(name: str) -> Res:
    props = {"metadata": {"name": name}, "rules": [{"apiGroups": ["monitoring.coreos.com"], "resources": ["*"]}]}
    return Res(CLUSTER_ROLE, f"operator:{name}", props, parent=CHART.urn)


def test_a_cluster_scoped_object_is_exempted_by_kind_and_name_in_the_namespace_empty() -> None:
    operator, other = _cluster_role("prometheus-operator"), _cluster_role("other")
    exemption = _exemption(namespace="", kind="ClusterRole", name="prometheus-operator")
    result = _judge([operator, other], WILDCARDS, exemption)
    assert _flagged(result, WILDCARDS) == [other.urn]


def test_a_namespace_does_not_exempt_cluster_scoped_objects() -> None:
    operator = _cluster_role("prometheus-operator")
    operator.props["metadata"]["namespace"] = "monitoring"  # a chart may set it; Kubernetes ignores it
    result = _judge([operator], WILDCARDS, _exemption(namespace="monitoring"))
    assert _flagged(result, WILDCARDS) == [operator.urn]


def test_a_helm_release_is_matched_by_its_namespace_and_name() -> None:
    release = Res(
        RELEASE,
        "exporter",
        {"chart": "prometheus-node-exporter", "version": "4.39.0", "namespace": "monitoring", "name": "exporter"},
    )
    release.props["values"] = {"hostNetwork": True}
    flagged = _judge([release], HOST_NAMESPACES, _exemption(namespace="monitoring", kind="Release", name="other"))
    assert _flagged(flagged, HOST_NAMESPACES) == [release.urn]
    passed = _judge([release], HOST_NAMESPACES, _exemption(namespace="monitoring", kind="Release", name="exporter"))
    assert _flagged(passed, HOST_NAMESPACES) == []


# --- stack rules ---------------------------------------------------------------------------------


def _controller(namespace: str, name: str) -> Res:
    """An upstream controller that calls the Kubernetes API, without the platform's opt-in annotation."""
    props = _workload(DEPLOYMENT)
    props["metadata"].update(name=name, namespace=namespace)
    props["spec"]["template"]["spec"]["serviceAccountName"] = name
    return Res(DEPLOYMENT, f"lbc:{namespace}/{name}", props, parent=CHART.urn)


def test_a_stack_rule_skips_the_exempted_object_and_reports_the_others() -> None:
    controller, other = _controller("kube-system", "aws-load-balancer-controller"), _controller("platform", "api")
    exemption = _exemption(namespace="kube-system", kind="Deployment", name="aws-load-balancer-controller")
    result = _judge([controller, other], TOKEN, exemption)
    assert _flagged(result, TOKEN) == [other.urn]


def test_a_namespace_object_counts_as_in_itself() -> None:
    monitoring = Res(NAMESPACE, "monitoring", {"metadata": {"name": "monitoring"}})
    assert _flagged(_judge([monitoring], DEFAULT_DENY), DEFAULT_DENY) == [monitoring.urn]
    assert _flagged(_judge([monitoring], DEFAULT_DENY, _exemption(namespace="monitoring")), DEFAULT_DENY) == []


# --- a first preview ----------------------------------------------------------------------------


def test_an_unknown_namespace_gives_up_on_that_violating_object_alone() -> None:
    unsure, other = _node_exporter(), _node_exporter(namespace="platform", name="other")
    unsure.props["metadata"]["namespace"] = unknown()
    result = _judge([unsure, other], HOST_NAMESPACES, _exemption(namespace="monitoring"))
    assert _flagged(result, HOST_NAMESPACES) == [other.urn]
    assert [u["urn"] for u in result.unknown_during_preview if u["policy"] == HOST_NAMESPACES] == [unsure.urn]


def test_an_unknown_namespace_on_a_compliant_object_is_judged_as_before() -> None:
    compliant = Res(DEPLOYMENT, "api", _workload(DEPLOYMENT))
    compliant.props["metadata"]["namespace"] = unknown()
    result = _judge([compliant], HOST_NAMESPACES, _exemption(namespace="monitoring"))
    assert _flagged(result, HOST_NAMESPACES) == []
    assert [u for u in result.unknown_during_preview if u["policy"] == HOST_NAMESPACES] == []


def test_an_unknown_namespace_in_a_stack_rule_hides_no_other_finding() -> None:
    unsure, other = _controller("kube-system", "aws-load-balancer-controller"), _controller("platform", "api")
    unsure.props["metadata"]["namespace"] = unknown()
    result = _judge([unsure, other], TOKEN, _exemption(namespace="kube-system"))
    assert _flagged(result, TOKEN) == [other.urn]
    assert [u for u in result.unknown_during_preview if u["policy"] == TOKEN]


# --- refused entries ------------------------------------------------------------------------------

INVALID: dict[str, tuple[Any, str]] = {
    "no reason": ({"namespace": "monitoring"}, "reason must say why"),
    "an empty reason": ({"namespace": "monitoring", "reason": ""}, "reason must say why"),
    "a short reason": ({"namespace": "monitoring", "reason": "upstream chart"}, "at least 20 characters"),
    "a blank reason": ({"namespace": "monitoring", "reason": " " * 30}, "reason must say why"),
    "no namespace": ({"kind": "DaemonSet", "reason": REASON}, "namespace is required"),
    "a wildcard namespace": ({"namespace": "*", "reason": REASON}, "namespace must be a namespace's name"),
    "every cluster-scoped object": ({"namespace": "", "kind": "ClusterRole", "reason": REASON}, "needs kind and name"),
    "a lower-case kind": ({"namespace": "monitoring", "kind": "daemonset", "reason": REASON}, "kind must be"),
    "a misspelt key": ({"namespace": "monitoring", "reasons": REASON}, "unknown keys reasons"),
    "not an object": ("monitoring", "must be an object"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_the_pack_refuses_an_invalid_exemption_naming_the_rule_and_the_entry(name: str) -> None:
    entry, problem = INVALID[name]
    valid = _exemption(namespace="monitoring")
    with pytest.raises(ExemptionError) as refused:
        _judge([_node_exporter()], HOST_NAMESPACES, valid, entry)
    message = str(refused.value)
    assert message.startswith(f"policy config of {HOST_NAMESPACES} is refused: exemptions[1] ")
    assert problem in message
    assert "exemptions[0]" not in message, "a valid entry is not blamed"


@pytest.mark.parametrize("name", sorted(INVALID))
def test_the_config_schema_rejects_an_invalid_exemption_as_the_cli_does(name: str) -> None:
    # The Pulumi CLI validates the stack's policy config against each policy's config schema (JSON Schema)
    # before the pack runs: the same entries fail there.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate([INVALID[name][0]])


def test_the_schema_and_the_pack_accept_what_the_docs_show() -> None:
    entries = [
        _exemption(namespace="monitoring"),
        _exemption(namespace="monitoring", kind="DaemonSet", name="node-exporter"),
        _exemption(namespace="", kind="ClusterRole", name="system:prometheus-operator"),
    ]
    jsonschema.Draft7Validator(SCHEMA).validate(entries)
    _judge([_node_exporter()], HOST_NAMESPACES, *entries)


def test_the_pack_refuses_an_invalid_exemption_whatever_the_stack_holds() -> None:
    bucket = Res("aws:s3/bucket:Bucket", "logs", {"bucket": "logs"})
    with pytest.raises(ExemptionError, match=HOST_NAMESPACES):
        evaluate_fixture([bucket], "prod", {"exemptions": [{"namespace": "monitoring"}]}, HOST_NAMESPACES)


def test_the_pack_refuses_an_invalid_exemption_over_the_analyzer_protocol() -> None:
    config = load_policy_config("prod")
    config[HOST_NAMESPACES] = {**config[HOST_NAMESPACES], "exemptions": [{"namespace": "monitoring"}]}
    exporter = _node_exporter()
    run = Run("platform", "prod", "update", [_resource(exporter)], {}, [])
    with running_pack() as pack, pytest.raises(grpc.RpcError) as refused:
        evaluate(pack.client(), run, config)
    details = str(refused.value.details())  # type: ignore[attr-defined]
    assert f"policy config of {HOST_NAMESPACES} is refused: exemptions[0]" in details


# --- the docs -------------------------------------------------------------------------------------


def test_the_docs_show_each_exemption_with_its_rule_stack_and_reason() -> None:
    configs = {stack: load_policy_config(stack) for stack in STACKS}
    committed = sum(len(c.get("exemptions", [])) for config in configs.values() for c in config.values())
    # dev's committed exemptions of this rule are replaced by the one below.
    committed -= len(configs["dev"][HOST_NAMESPACES].get("exemptions", []))
    configs["dev"] = copy.deepcopy(configs["dev"])
    configs["dev"][HOST_NAMESPACES]["exemptions"] = [
        _exemption(namespace="monitoring", kind="DaemonSet", name="node-exporter")
    ]
    table = render_table(configs)
    row = next(line for line in table.splitlines() if line.startswith(f"| `{HOST_NAMESPACES}` |"))
    assert "dev: `monitoring/DaemonSet/node-exporter`" in row
    assert f"| dev | `{HOST_NAMESPACES}` | `monitoring/DaemonSet/node-exporter` | {REASON} |" in table
    assert f"{committed + 1} exemptions." in table and "No exemptions." not in table


def test_the_docs_mark_which_rules_take_exemptions() -> None:
    configs = {stack: load_policy_config(stack) for stack in STACKS}
    table = render_table(configs)
    for rule in REGISTRY:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{rule.name}` |"))
        committed = any(config.get(rule.name, {}).get("exemptions") for config in configs.values())
        if "exemptions" not in rule.config_defaults:
            assert "| - |" in row, row
        elif not committed:
            assert "| none |" in row, row
        else:
            for stack, config in configs.items():
                for entry in config[rule.name]["exemptions"]:
                    where = entry["namespace"] or "(cluster)"
                    target = "/".join(p for p in (where, entry.get("kind"), entry.get("name")) if p)
                    assert f"{stack}: `{target}`" in row, row
