"""LogShipping: Fluent Bit to CloudWatch Logs, the component run alone under the offline engine (the chart
rendered by the real helm from the chart cache), asserted on the recorded inputs."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.config import LogsConfig, NamespaceQuota
from components.helm import NEEDS_API, SCRAPE_LABEL
from components.irsa import ClusterOidc
from components.log_shipping import (
    EXCLUDE_ANNOTATION,
    LOG_DIRS,
    METRICS_PORT,
    STATE_DIR,
    LogShipping,
    LogShippingArgs,
    values,
)
from components.namespaces import Namespaces, NamespacesArgs
from components.naming import default_tags
from tests.chart_cache import chart_defaults, require_charts, unknown_keys
from tests.components.context import ACCOUNT_ID, fixed_context
from tests.conftest import PROJECT_DIR
from tests.policy.harness import _client
from tools.engine import CHART_TYPE, CHART_UNKNOWN_NOTE, Resource, Run, run_program
from tools.policy_gate import evaluate, load_policy_config

REGION = "ca-central-1"
GROUP = "/platform-test/containers"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{GROUP}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-test-fluent-bit-{REGION}"
CLUSTER = "platform-test-eks"
ISSUER = "https://oidc.eks.ca-central-1.amazonaws.com/id/0123456789ABCDEF"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.ca-central-1.amazonaws.com/id/0123456789ABCDEF"
KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
NAMESPACE = "kubernetes:core/v1:Namespace"
# The rules a log agent on every node breaks by its nature (the exemptions in policy/config name them).
AGENT_EXEMPTIONS = {
    "kubernetes-container-enforce-run-as-non-root",
    "kubernetes-pod-disallow-host-path-volumes",
    "kubernetes-pod-enforce-restricted-volume-types",
}


@pytest.fixture(autouse=True)
def _charts() -> None:
    require_charts()


def program(config: LogsConfig | None = None, *, protect: bool = True) -> Callable[[], None]:
    def run() -> None:
        tags = default_tags("platform", "test", "platform-team", "eng", {})
        aws_provider = aws.Provider("aws", region=REGION, default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
        cluster = k8s.Provider("k8s", kubeconfig="{}")
        providers = pulumi.ResourceOptions(providers={"aws": aws_provider, "kubernetes": cluster})
        # The platform's namespaces as the stack has them (monitoring: privileged, default deny, DNS egress).
        namespaces = Namespaces(
            "namespaces",
            NamespacesArgs(application=[], quota=NamespaceQuota(), kubernetes_version="1.35"),
            opts=providers,
        )
        namespace = namespaces.namespaces["monitoring"]
        shipping = LogShipping(
            "log-shipping",
            LogShippingArgs(
                config=config or LogsConfig(),
                context=fixed_context(),
                oidc=ClusterOidc(provider_arn=OIDC_ARN, issuer=ISSUER),
                cluster_name=CLUSTER,
                namespace="monitoring",
                namespace_resource=namespace,
                monitoring_crds=pulumi.Output.from_input([]),
                wait_for=[],
                protect=protect,
            ),
            opts=providers,
        )
        pulumi.export("logGroupName", shipping.log_group_name)

    return run


def build(config: LogsConfig | None = None, *, mode: str = "update", protect: bool = True) -> Run:
    return run_program(
        program(config, protect=protect),
        project="platform",
        stack="test",
        mode=mode,
        config={"aws:region": REGION},
        project_dir=PROJECT_DIR,
        kube_version="1.35",
    )


def one(run: Run, type_: str) -> Resource:
    (found,) = run.by_type(type_)
    return found


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """Fluent Bit's classic configuration as (section, {key: value}) in order."""
    parsed: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            parsed.append((line.strip("[]"), {}))
        else:
            key, _, value = line.partition(" ")
            parsed[-1][1][key] = value.strip()
    return parsed


def fluent_bit_conf(run: Run) -> list[tuple[str, dict[str, str]]]:
    return sections(one(run, CONFIG_MAP).inputs["data"]["fluent-bit.conf"])


def outputs_of(run: Run) -> list[dict[str, str]]:
    return [settings for kind, settings in fluent_bit_conf(run) if kind == "OUTPUT"]


def pod_spec(run: Run) -> dict[str, Any]:
    spec: dict[str, Any] = one(run, DAEMON_SET).inputs["spec"]["template"]["spec"]
    return spec


# --- the chart's values --------------------------------------------------------------------------------


def chart_values() -> dict[str, Any]:
    return values(LogsConfig(), region=REGION, cluster_name=CLUSTER, log_group_name=GROUP, role_arn=ROLE_ARN)


def test_every_values_key_is_one_the_chart_declares() -> None:
    defaults = chart_defaults("fluent-bit", LogsConfig().fluent_bit)
    assert unknown_keys(chart_values(), defaults, set()) == []


def test_a_misspelt_values_key_is_caught_at_the_top_and_nested() -> None:
    defaults = chart_defaults("fluent-bit", LogsConfig().fluent_bit)
    misspelt = copy.deepcopy(chart_values())
    misspelt["serviceAcount"] = misspelt["serviceAccount"]
    misspelt["config"]["output"] = misspelt["config"]["outputs"]
    assert sorted(unknown_keys(misspelt, defaults, set())) == ["config.output", "serviceAcount"]


# --- what the rendered chart ships, and where to ---------------------------------------------------------


def test_the_one_output_is_cloudwatch_logs_into_the_pulumi_group_which_it_never_creates() -> None:
    run = build()
    (output,) = outputs_of(run)
    group = one(run, LOG_GROUP)
    assert output["Name"] == "cloudwatch_logs"
    assert output["log_group_name"] == group.inputs["name"] == GROUP
    assert output["auto_create_group"] == "Off"
    assert output["region"] == REGION
    # No group class, retention or template: nothing that only makes sense when the agent creates groups.
    assert not {"log_group_template", "log_retention_days", "log_group_class"} & set(output)
    assert run.outputs["logGroupName"] == GROUP


def test_a_stream_per_pod_container_with_a_fallback_for_unenriched_records() -> None:
    (output,) = outputs_of(build())
    assert output["log_stream_template"] == (
        "$kubernetes['namespace_name'].$kubernetes['pod_name'].$kubernetes['container_name']"
    )
    # The plugin refuses to start without a prefix or a name as the template's fallback.
    assert output["log_stream_prefix"] and "log_stream_name" not in output


def test_container_logs_are_tailed_as_cri_with_a_position_database_on_the_node() -> None:
    conf = fluent_bit_conf(build())
    (tail,) = [settings for kind, settings in conf if kind == "INPUT"]
    assert tail["Name"] == "tail" and tail["Path"] == "/var/log/containers/*.log"
    assert tail["multiline.parser"] == "cri"
    assert tail["DB"].startswith(f"{STATE_DIR}/")
    assert tail["Mem_Buf_Limit"].endswith("MB")
    (service,) = [settings for kind, settings in conf if kind == "SERVICE"]
    assert service["HTTP_Server"] == "On" and service["HTTP_Port"] == str(METRICS_PORT)


def test_the_kubernetes_filter_merges_json_keeps_no_labels_and_honours_the_exclude_annotation() -> None:
    filters = {settings["Name"]: settings for kind, settings in fluent_bit_conf(build()) if kind == "FILTER"}
    kubernetes = filters["kubernetes"]
    assert kubernetes["Merge_Log"] == "On"
    assert kubernetes["Labels"] == "Off" and kubernetes["Annotations"] == "Off"
    # K8S-Logging.Exclude: a pod annotated fluentbit.io/exclude: "true" is skipped.
    assert kubernetes["K8S-Logging.Exclude"] == "On" and EXCLUDE_ANNOTATION == "fluentbit.io/exclude"
    assert filters["modify"]["Add"] == f"cluster {CLUSTER}"


def test_the_daemonset_runs_on_every_node_reading_logs_read_only() -> None:
    run = build()
    pod = pod_spec(run)
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert "nodeSelector" not in pod and "affinity" not in pod
    volumes = {v["name"]: v for v in pod["volumes"]}
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for directory in LOG_DIRS:
        assert mounts[directory]["readOnly"] is True
        assert volumes[mounts[directory]["name"]]["hostPath"]["path"] == directory
    # The only writable host path is the position database's directory.
    writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
    host_writable = [p for p in writable if "hostPath" in volumes[mounts[p]["name"]]]
    assert host_writable == [STATE_DIR]
    assert container["image"].endswith(":5.1.1")  # the chart's appVersion


def test_the_agent_is_root_for_the_log_files_and_nothing_else() -> None:
    pod = pod_spec(build())
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["runAsUser"] == 0 and pod["securityContext"]["runAsUser"] == 0
    assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("hostNetwork") is False and not pod.get("hostPID")


def test_the_service_account_carries_the_role_and_the_pods_may_call_the_api() -> None:
    run = build()
    account = one(run, SERVICE_ACCOUNT)
    role = one(run, ROLE)
    assert account.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == ROLE_ARN
    assert f"arn:aws:iam::{ACCOUNT_ID}:role/{role.inputs['name']}" == ROLE_ARN
    assert pod_spec(run)["serviceAccountName"] == account.inputs["metadata"]["name"] == "fluent-bit"
    annotations = one(run, DAEMON_SET).inputs["spec"]["template"]["metadata"]["annotations"]
    assert NEEDS_API.items() <= annotations.items()
    # The trust names exactly this service account.
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    (condition,) = [s["Condition"]["StringEquals"] for s in trust]
    assert condition["oidc.eks.ca-central-1.amazonaws.com/id/0123456789ABCDEF:sub"] == [
        "system:serviceaccount:monitoring:fluent-bit"
    ]


def test_the_chart_renders_in_a_first_preview() -> None:
    """Values are plain strings built from names, not other resources' outputs: a first preview shows and judges
    the DaemonSet (the provider renders nothing while a value is unknown)."""
    run = build(mode="preview")
    chart = one(run, CHART_TYPE)
    assert not [note for note in run.notes if note.startswith(chart.urn) and CHART_UNKNOWN_NOTE in note]
    assert one(run, DAEMON_SET).parent == chart.urn
    (output,) = outputs_of(run)
    assert output["log_group_name"] == GROUP


# --- the role, the group and its key -----------------------------------------------------------------------


def test_the_role_may_only_write_streams_of_that_group() -> None:
    document = json.loads(one(build(), ROLE_POLICY).inputs["policy"])
    actions = {a for s in document["Statement"] for a in s["Action"]}
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert "logs:CreateLogGroup" not in actions and not any(a.startswith("kms:") for a in actions)
    # The group (CreateLogStream) and what is below it (its streams, for PutLogEvents): no other group.
    assert resources == {GROUP_ARN, f"{GROUP_ARN}:*"}
    assert {s["Effect"] for s in document["Statement"]} == {"Allow"}


def test_the_group_keeps_the_configured_retention_under_its_own_key() -> None:
    run = build(LogsConfig.model_validate({"retentionDays": 90}))
    group = one(run, LOG_GROUP)
    key = one(run, KEY)
    assert group.inputs["retentionInDays"] == 90
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert one(build(), LOG_GROUP).inputs["retentionInDays"] == LogsConfig().retention_days == 30


def test_the_key_lets_cloudwatch_logs_use_it_for_that_group_only() -> None:
    statements = json.loads(one(build(), KEY).inputs["policy"])["Statement"]
    logs = [s for s in statements if "Service" in s.get("Principal", {})]
    (grant,) = logs
    assert grant["Principal"]["Service"] == [f"logs.{REGION}.amazonaws.com"]
    assert grant["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [GROUP_ARN]}}
    others = [s for s in statements if s is not grant]
    assert [s["Principal"] for s in others] == [{"AWS": [f"arn:aws:iam::{ACCOUNT_ID}:root"]}]


@pytest.mark.parametrize("protect", [True, False])
def test_the_key_is_protected_unless_asked_not_to_be(protect: bool) -> None:
    assert one(build(protect=protect), KEY).protect is protect


# --- traffic, metrics and order -----------------------------------------------------------------------------


def test_the_traffic_policy_selects_the_daemonsets_pods() -> None:
    run = build()
    (traffic,) = [r for r in run.by_type(NETWORK_POLICY) if r.inputs["metadata"]["name"] == "fluent-bit"]
    policy = traffic.inputs["spec"]
    labels = one(run, DAEMON_SET).inputs["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    (egress,) = policy["egress"]
    assert egress == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}


def test_prometheus_scrapes_the_metrics_port_through_the_charts_service() -> None:
    run = build()
    monitor = one(run, SERVICE_MONITOR).inputs
    service = one(run, SERVICE).inputs
    assert SCRAPE_LABEL.items() <= monitor["metadata"]["labels"].items()
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == "monitoring"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["port"] == METRICS_PORT
    assert endpoint["path"] == "/api/v2/metrics/prometheus"


def test_the_agent_waits_for_its_group_role_traffic_and_namespace() -> None:
    run = build()
    chart = one(run, CHART_TYPE)
    namespace = [r for r in run.by_type(NAMESPACE) if r.inputs["metadata"]["name"] == "monitoring"]
    for resource in [one(run, LOG_GROUP), one(run, ROLE_POLICY), *namespace]:
        assert resource.urn in chart.dependencies, resource.type
    (traffic,) = [r for r in run.by_type(NETWORK_POLICY) if r.inputs["metadata"]["name"] == "fluent-bit"]
    assert traffic.urn in chart.dependencies


@pytest.mark.parametrize("mode", ["preview", "update"])
def test_only_the_rules_a_node_log_agent_breaks_by_nature_are_reported(mode: str) -> None:
    result = evaluate(_client(), build(mode=mode), load_policy_config("prod"))
    broken = {(v["policy"], v["urn"].rsplit("::", 1)[-1]) for v in result.mandatory}
    # Each of these needs an exemption (with its reason) in policy/config; nothing else may fail.
    assert broken <= {(rule, "fluent-bit:monitoring/fluent-bit") for rule in AGENT_EXEMPTIONS}
