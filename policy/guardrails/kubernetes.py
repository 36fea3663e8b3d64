"""Guardrails: Kubernetes objects (Pod Security Standards and more) and Helm releases.

Resource rules over the inputs the pulumi-kubernetes 4.x provider sends (apiVersion,
kind, metadata, spec). Every workload kind is checked through its pod template, on
every container, initContainer and ephemeralContainer, with the pod-level
securityContext as fallback where Kubernetes inherits the field. Helm v3 Releases are
checked where a chart exposes the same settings generically in its values, at
any depth: ``*securityContext`` mappings, ``*image`` values, ``capabilities``,
``seccompProfile``, ``readOnlyRootFilesystem``, ``hostNetwork``/``hostPID``/
``hostIPC`` and ``*env*`` lists of {name, value}. The values are ``values`` and
every ``valueYamlFiles`` entry given as inline content (a StringAsset); files
given by path are not read. A Helm v4 Chart is not judged itself: its rendered objects
are (see ``HELM``).

A missing namespace counts as ``default``. Patch resources (``...Patch``) are not
checked: they carry only the fields they change.

Every rule here takes ``exemptions`` in the stack's policy config: objects (by namespace, and optionally
kind and name) that rule does not judge, each with its reason, for upstream objects that legitimately need
more (guardrails/exemptions.py). Other rules still judge them; no rule is switched off wholesale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pulumi
import yaml
from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from guardrails.base import (
    as_list,
    config_value,
    each,
    is_set,
    is_true,
    known_only,
    number,
    resource_rule,
    stack_rule,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
REPLICA_SET = "kubernetes:apps/v1:ReplicaSet"
REPLICATION_CONTROLLER = "kubernetes:core/v1:ReplicationController"
JOB = "kubernetes:batch/v1:Job"
CRON_JOB = "kubernetes:batch/v1:CronJob"
POD = "kubernetes:core/v1:Pod"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HPA_V1 = "kubernetes:autoscaling/v1:HorizontalPodAutoscaler"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
ENDPOINTS = "kubernetes:core/v1:Endpoints"
ENDPOINT_SLICE = "kubernetes:discovery.k8s.io/v1:EndpointSlice"
POD_TEMPLATE = "kubernetes:core/v1:PodTemplate"
LEASE = "kubernetes:coordination.k8s.io/v1:Lease"

# Where each workload kind keeps its pod spec.
POD_SPEC: dict[str, tuple[str, ...]] = {
    DEPLOYMENT: ("spec", "template", "spec"),
    STATEFUL_SET: ("spec", "template", "spec"),
    DAEMON_SET: ("spec", "template", "spec"),
    REPLICA_SET: ("spec", "template", "spec"),
    REPLICATION_CONTROLLER: ("spec", "template", "spec"),
    JOB: ("spec", "template", "spec"),
    CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec"),
    POD: ("spec",),
}
WORKLOADS = tuple(POD_SPEC)
LONG_RUNNING = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, REPLICATION_CONTROLLER, POD)
# Only the v3 Release: it is a custom resource that reaches the analyzer with its chart, version, namespace
# and values. A v4 Chart (kubernetes:helm.sh/v4:Chart) is a provider-side component: the engine sends it with
# no inputs at all, and the objects it renders arrive as child resources of their own, judged by the workload,
# RBAC and namespace rules like any other. Judging the Chart would report "no version" and "default namespace"
# on every one (tests/policy/test_helm_chart_v4.py).
HELM = (HELM_RELEASE,)
NAMESPACED = (
    *WORKLOADS,
    CONFIG_MAP,
    SECRET,
    SERVICE,
    SERVICE_ACCOUNT,
    PVC,
    INGRESS,
    PDB,
    HPA,
    HPA_V1,
    ROLE,
    ROLE_BINDING,
    NETWORK_POLICY,
    LIMIT_RANGE,
    RESOURCE_QUOTA,
    ENDPOINTS,
    ENDPOINT_SLICE,
    POD_TEMPLATE,
    LEASE,
    *HELM,
)

ALL_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")
RUNNING_CONTAINERS = ("containers", "initContainers")  # ephemeral containers take no resources
_SUFFIX = {"containers": "", "initContainers": " (init)", "ephemeralContainers": " (ephemeral)"}

SECCOMP_ALLOWED = ("RuntimeDefault", "Localhost")
CAPABILITIES_ALLOWED_TO_ADD = ("NET_BIND_SERVICE",)
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
INTERNAL_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-internal"

# --- helpers -------------------------------------------------------------------------


def _dig(value: Any, *path: str) -> Any:
    """The value at a path of nested mappings, or None where the path stops."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pod_spec(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    return _mapping(_dig(props, *POD_SPEC[resource_type]))


def _containers(pod: Mapping[str, Any], fields: Iterable[str] = ALL_CONTAINERS) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, container) for every container of the given kinds, e.g. ("migrate (init)", {...})."""
    found = []
    for field in fields:
        for index, container in enumerate(as_list(pod.get(field))):
            if isinstance(container, Mapping):
                found.append((f"{container.get('name') or f'#{index}'}{_SUFFIX[field]}", container))
    return found


def _context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(container.get("securityContext"))


def _is_false(value: Any) -> bool:
    """Explicitly false (unset is not false)."""
    return value is False or (isinstance(value, str) and value.lower() == "false")


def _walk(value: Any, path: str = "values") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) entry of nested Helm values, depth first."""
    if isinstance(value, Mapping):
        for key in value:
            child = value[key]
            child_path = f"{path}.{key}"
            yield child_path, str(key), child
            yield from _walk(child, child_path)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _inline_values(asset: Any) -> Any:
    """The values of a ``valueYamlFiles`` entry given as inline content; None for a file path or remote asset."""
    if not isinstance(asset, pulumi.StringAsset):
        return None
    try:
        return yaml.safe_load(str(asset.text))
    except yaml.YAMLError:
        return None


def _helm_values(props: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) entry of a release's values: ``values`` and inline ``valueYamlFiles``."""
    yield from _walk(props.get("values"))
    for index, asset in enumerate(as_list(props.get("valueYamlFiles"))):
        yield from _walk(_inline_values(asset), f"valueYamlFiles[{index}]")


def _mappings(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping in nested values (list items included), with its path, depth first."""
    if isinstance(value, Mapping):
        yield path, value
        for key in value:
            yield from _mappings(value[key], f"{path}.{key}")
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for index, item in enumerate(value):
            yield from _mappings(item, f"{path}[{index}]")


def _helm_mappings(props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping in a release's values (``values`` and inline ``valueYamlFiles``), with its path."""
    yield from _mappings(props.get("values"), "values")
    for index, asset in enumerate(as_list(props.get("valueYamlFiles"))):
        yield from _mappings(_inline_values(asset), f"valueYamlFiles[{index}]")


def _helm_security_contexts(props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every securityContext / podSecurityContext / containerSecurityContext mapping in the values."""
    for path, key, value in _helm_values(props):
        if key.lower().endswith("securitycontext") and isinstance(value, Mapping):
            yield path, value


_TAG_KEYS = ("tag", "imagetag", "digest", "imagedigest")


def _helm_images(props: Mapping[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    """Every value under an ``image`` / ``*Image`` key (a mapping or a string), and whether a sibling key
    (``tag``, ``imageTag``, ``<key>Tag``, ``digest``) gives its tag."""
    for path, mapping in _helm_mappings(props):
        siblings = {str(k).lower() for k in mapping}
        for key in mapping:
            name = str(key).lower()
            if not name.endswith("image"):
                continue
            value = mapping[key]
            if isinstance(value, (Mapping, str)):
                tagged_by_sibling = bool(siblings & {*_TAG_KEYS, f"{name}tag", f"{name}digest"})
                yield f"{path}.{key}", value, tagged_by_sibling


def _listing(items: Iterable[str]) -> str:
    return ", ".join(items)


def _image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None (a digest always pins it)."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "untagged"
    if last.rsplit(":", 1)[1] == "latest":
        return "latest"
    return None


# Names of keys or env vars that hold secrets, and the suffixes that only refer to one.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL")
_REFERENCE = re.compile(r"^EXISTING_|_(ARN|NAME|FILE|PATH|DIR|URL|URI|ENDPOINT|REF|ID|TYPE|HEADER|AUDIENCE)$")
_PRIVATE_KEY_FILE = re.compile(r"(\.key|^id_(rsa|dsa|ecdsa|ed25519))$", re.IGNORECASE)
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
_URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"""["']?([A-Za-z_][\w.-]*)["']?\s*[:=][ \t]*["']?([^\s"',}#]*)""")
_PLACEHOLDER = ("${", "$(", "{{", "%(", "<", "/")


def _normalised(name: str) -> str:
    """DB_PASSWORD, dbPassword, db-password and db.password all read DB_PASSWORD."""
    return re.sub(r"[^A-Z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).upper()).strip("_")


def _secret_name(name: str) -> bool:
    normalised = _normalised(name)
    return bool(_SECRET_NAME.search(normalised)) and not _REFERENCE.search(normalised)


def _literal(value: Any) -> bool:
    """A value that could be a secret: not empty, a placeholder, a number, a boolean or a file path."""
    if value is None or isinstance(value, (bool, int, float)):
        return False
    text = str(value).strip().strip("\"'")
    if not text or text.startswith(_PLACEHOLDER) or text.lower() in ("true", "false", "null", "none"):
        return False
    return not re.fullmatch(r"[0-9.]+[a-z]{0,2}", text)


def _secret_in(key: str, value: Any) -> str | None:
    """Why a ConfigMap entry looks like a secret, or None."""
    if _secret_name(key) and _literal(value):
        return "its name says it is a secret"
    if _PRIVATE_KEY_FILE.search(key):
        return "its name is a private key file"
    text = str(value or "")
    if _PEM_PRIVATE_KEY.search(text):
        return "it holds a private key"
    if _AWS_ACCESS_KEY.search(text):
        return "it holds an AWS access key"
    if any(_literal(match.group(1)) for match in _URL_PASSWORD.finditer(text)):
        return "it holds a URL with a password"
    for match in _ASSIGNMENT.finditer(text):
        name = match.group(1).rsplit(".", 1)[-1]
        if _secret_name(name) and _literal(match.group(2)):
            return f"it sets {match.group(1)}"
    return None


def _denies_all(props: Mapping[str, Any]) -> bool:
    """A NetworkPolicy selecting every pod for Ingress and Egress with no rule."""
    spec = _mapping(props.get("spec"))
    selector = _mapping(spec.get("podSelector"))
    types = {str(t) for t in as_list(spec.get("policyTypes"))}
    return (
        not (selector.get("matchLabels") or selector.get("matchExpressions"))
        and {"Ingress", "Egress"} <= types
        and not as_list(spec.get("ingress"))
        and not as_list(spec.get("egress"))
    )


# --- Pod Security Standards ---------------------------------------------------------


@resource_rule(
    name="kubernetes-container-enforce-run-as-non-root",
    exemptions=True,
    description="Every container must run as a non-root user: runAsNonRoot true (container or pod) and no runAsUser 0.",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS restricted",
    remediation=(
        "Set securityContext.runAsNonRoot: true on the pod (or on every container) with a non-zero runAsUser "
        "(e.g. 10001), and build the image with a numeric non-root USER. In Helm values set runAsNonRoot: true."
    ),
)
def _run_as_non_root(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            if _is_false(context.get("runAsNonRoot")):
                yield f"{path} sets runAsNonRoot: false"
        return
    pod = _pod_spec(props, args.resource_type)
    pod_context = _mapping(pod.get("securityContext"))
    pod_value = pod_context.get("runAsNonRoot")
    if _is_false(pod_value):
        yield "the pod sets runAsNonRoot: false"
    not_set, root = [], []
    if number(pod_context.get("runAsUser"), -1) == 0:
        root.append("the pod")
    for label, container in _containers(pod):
        context = _context(container)
        value = context.get("runAsNonRoot")
        if _is_false(value) or (value is None and pod_value is None):
            not_set.append(label)
        if number(context.get("runAsUser"), -1) == 0:
            root.append(label)
    if not_set:
        yield f"runAsNonRoot is not true for {_listing(not_set)}"
    if root:
        yield f"runAsUser is 0 (root) on {_listing(root)}"


@resource_rule(
    name="kubernetes-pod-disallow-privileged",
    exemptions=True,
    description="No container may run privileged.",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.CRITICAL,
    first_preview="decides",
    control="PSS baseline",
    remediation=(
        "Remove securityContext.privileged (or set it to false); grant the one capability the container needs "
        "instead. In Helm values set privileged: false."
    ),
)
def _privileged(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            if is_true(context.get("privileged")):
                yield f"{path} sets privileged: true"
        return
    pod = _pod_spec(props, args.resource_type)
    privileged = [label for label, c in _containers(pod) if is_true(_context(c).get("privileged"))]
    if privileged:
        yield f"privileged containers: {_listing(privileged)}"


@resource_rule(
    name="kubernetes-container-disallow-privilege-escalation",
    exemptions=True,
    description="Every container must set allowPrivilegeEscalation: false.",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS restricted",
    remediation=(
        "Set securityContext.allowPrivilegeEscalation: false on every container and initContainer "
        "(there is no pod-level default). In Helm values set allowPrivilegeEscalation: false."
    ),
)
def _privilege_escalation(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            if is_true(context.get("allowPrivilegeEscalation")):
                yield f"{path} sets allowPrivilegeEscalation: true"
        return
    pod = _pod_spec(props, args.resource_type)
    allowed = [label for label, c in _containers(pod) if not _is_false(_context(c).get("allowPrivilegeEscalation"))]
    if allowed:
        yield f"allowPrivilegeEscalation is not false for {_listing(allowed)}"


@resource_rule(
    name="kubernetes-container-enforce-drop-all-capabilities",
    exemptions=True,
    description="Every container must drop ALL capabilities and add back none but NET_BIND_SERVICE "
    "(in Helm values: no capabilities.add beyond NET_BIND_SERVICE).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.MEDIUM,
    first_preview="decides",
    control="PSS restricted",
    remediation='Set securityContext.capabilities: {drop: ["ALL"]} on every container; add only NET_BIND_SERVICE.',
)
def _capabilities(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        # Charts rarely expose drop; what they do expose must add nothing dangerous.
        for path, key, value in _helm_values(props):
            if key == "capabilities" and isinstance(value, Mapping):
                extra = [str(c) for c in as_list(value.get("add")) if str(c) not in CAPABILITIES_ALLOWED_TO_ADD]
                if extra:
                    yield f"{path}.add adds {', '.join(extra)}"
        return
    pod = _pod_spec(props, args.resource_type)
    not_dropped, added = [], []
    for label, container in _containers(pod):
        capabilities = _mapping(_context(container).get("capabilities"))
        if "ALL" not in [str(c).upper() for c in as_list(capabilities.get("drop"))]:
            not_dropped.append(label)
        extra = [str(c) for c in as_list(capabilities.get("add")) if str(c) not in CAPABILITIES_ALLOWED_TO_ADD]
        if extra:
            added.append(f"{label} ({', '.join(extra)})")
    if not_dropped:
        yield f"capabilities ALL not dropped for {_listing(not_dropped)}"
    if added:
        yield f"capabilities added: {_listing(added)}"


@resource_rule(
    name="kubernetes-pod-enforce-seccomp-runtime-default",
    exemptions=True,
    description=(
        "Every container must run with the RuntimeDefault seccomp profile (or a Localhost one), "
        "set on the pod or the container (in Helm values: no seccompProfile of another type, such as Unconfined)."
    ),
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.MEDIUM,
    first_preview="decides",
    control="PSS restricted",
    remediation="Set securityContext.seccompProfile: {type: RuntimeDefault} on the pod; never Unconfined.",
)
def _seccomp(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, key, value in _helm_values(props):
            if key == "seccompProfile" and isinstance(value, Mapping):
                kind = value.get("type")
                if kind is not None and kind not in SECCOMP_ALLOWED:
                    yield f"{path}.type is {kind}"
        return
    pod = _pod_spec(props, args.resource_type)
    pod_type = _dig(pod, "securityContext", "seccompProfile", "type")
    if pod_type is not None and pod_type not in SECCOMP_ALLOWED:
        yield f"the pod's seccomp profile is {pod_type}"
    unconfined = []
    for label, container in _containers(pod):
        own = _dig(_context(container), "seccompProfile", "type")
        if (own is not None and own not in SECCOMP_ALLOWED) or (own is None and pod_type is None):
            unconfined.append(f"{label} ({own or 'unset'})")
    if unconfined:
        yield f"seccomp profile is not RuntimeDefault for {_listing(unconfined)}"


@resource_rule(
    name="kubernetes-container-enforce-read-only-root-filesystem",
    exemptions=True,
    description="Every container must have a read-only root filesystem "
    "(in Helm values: no readOnlyRootFilesystem false).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.MEDIUM,
    first_preview="decides",
    remediation=(
        "Set securityContext.readOnlyRootFilesystem: true on every container; mount an emptyDir where the "
        "application writes (e.g. /tmp)."
    ),
)
def _read_only_root(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, key, value in _helm_values(props):
            if key == "readOnlyRootFilesystem" and _is_false(value):
                yield f"{path} is false"
        return
    pod = _pod_spec(props, args.resource_type)
    writable = [label for label, c in _containers(pod) if not is_true(_context(c).get("readOnlyRootFilesystem"))]
    if writable:
        yield f"writable root filesystem for {_listing(writable)}"


@resource_rule(
    name="kubernetes-pod-disallow-host-namespaces",
    exemptions=True,
    description="Pods must not share the node's network, PID or IPC namespace "
    "(in Helm values: no hostNetwork, hostPID or hostIPC true).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS baseline",
    remediation="Remove hostNetwork, hostPID and hostIPC from the pod spec (or set them to false).",
)
def _host_namespaces(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, key, value in _helm_values(props):
            if key in HOST_NAMESPACES and is_true(value):
                yield f"{path} is true"
        return
    pod = _pod_spec(props, args.resource_type)
    shared = [field for field in HOST_NAMESPACES if is_true(pod.get(field))]
    if shared:
        yield f"the pod sets {_listing(shared)}"


@resource_rule(
    name="kubernetes-pod-disallow-host-path-volumes",
    exemptions=True,
    description="Pods must not mount hostPath volumes.",
    resource_types=WORKLOADS,
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS baseline",
    remediation="Replace hostPath volumes with emptyDir, a ConfigMap/Secret, or a PersistentVolumeClaim.",
)
def _host_path(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    pod = _pod_spec(props, args.resource_type)
    mounted = [
        f"{volume.get('name')} ({_dig(volume, 'hostPath', 'path')})"
        for volume in as_list(pod.get("volumes"))
        if isinstance(volume, Mapping) and volume.get("hostPath") is not None
    ]
    if mounted:
        yield f"hostPath volumes: {_listing(mounted)}"


@resource_rule(
    name="kubernetes-container-disallow-host-ports",
    exemptions=True,
    description="Containers must not bind host ports.",
    resource_types=WORKLOADS,
    severity=Severity.MEDIUM,
    first_preview="decides",
    control="PSS baseline",
    remediation="Remove ports[].hostPort; expose the container through a Service instead.",
)
def _host_ports(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    pod = _pod_spec(props, args.resource_type)
    bound = []
    for label, container in _containers(pod):
        for port in as_list(container.get("ports")):
            host_port = int(number(_dig(port, "hostPort"), 0))
            if host_port:
                bound.append(f"{label} ({host_port})")
    if bound:
        yield f"host ports bound by {_listing(bound)}"


# --- the rest of the Pod Security Standards ----------------------------------------

# The sysctls PSS baseline allows: namespaced, and isolated from the node and other pods.
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
SELINUX_TYPES = ("container_t", "container_init_t", "container_kvm_t", "container_engine_t")
APPARMOR_ALLOWED = ("RuntimeDefault", "Localhost")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
RESTRICTED_VOLUME_TYPES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)


def _pod_metadata(props: Mapping[str, Any], resource_type: str) -> Mapping[str, Any]:
    """The metadata of the pods a workload makes (its template's; a Pod's own)."""
    return _mapping(_dig(props, *POD_SPEC[resource_type][:-1], "metadata"))


def _unsafe_sysctls(sysctls: Any) -> list[str]:
    return [str(_dig(s, "name")) for s in as_list(sysctls) if _dig(s, "name") not in SAFE_SYSCTLS]


def _selinux_problems(options: Any) -> list[str]:
    """What a seLinuxOptions mapping sets beyond PSS baseline: a type outside the container types, a user, a role."""
    options = _mapping(options)
    problems = []
    kind = options.get("type")
    if kind not in (None, "") and kind not in SELINUX_TYPES:
        problems.append(f"type {kind}")
    problems += [f"{field} {options.get(field)}" for field in ("user", "role") if options.get(field) not in (None, "")]
    return problems


def _apparmor_unconfined(profile: Any) -> str | None:
    """The type of an appArmorProfile other than RuntimeDefault or Localhost (Unconfined), or None."""
    kind = _mapping(profile).get("type")
    return None if kind in (None, "", *APPARMOR_ALLOWED) else str(kind)


def _apparmor_annotation_allowed(value: Any) -> bool:
    """An AppArmor annotation's value PSS baseline allows: unset, runtime/default or localhost/<profile>."""
    text = str(value or "")
    return text in ("", "runtime/default") or text.startswith("localhost/")


@resource_rule(
    name="kubernetes-container-disallow-unmasked-proc-mount",
    exemptions=True,
    description="Containers must keep the default masked /proc: securityContext.procMount unset or Default "
    "(in Helm values: no procMount other than Default).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS baseline (/proc Mount Type)",
    remediation="Remove securityContext.procMount (or set it to Default): Unmasked shows the container the node's "
    "/proc paths that the runtime otherwise masks. In Helm values remove procMount.",
)
def _proc_mount(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            mount = context.get("procMount")
            if mount not in (None, "", "Default"):
                yield f"{path} sets procMount: {mount}"
        return
    pod = _pod_spec(props, args.resource_type)
    unmasked = [
        f"{label} ({mount})"
        for label, container in _containers(pod)
        if (mount := _context(container).get("procMount")) not in (None, "", "Default")
    ]
    if unmasked:
        yield f"procMount is not Default for {_listing(unmasked)}"


@resource_rule(
    name="kubernetes-pod-disallow-unsafe-sysctls",
    exemptions=True,
    description="Pods may set only the safe sysctls of Pod Security Standards baseline "
    f"({', '.join(SAFE_SYSCTLS)}) (in Helm values: no other sysctl in a securityContext).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS baseline (Sysctls)",
    remediation="Remove other sysctls from securityContext.sysctls; a node-wide setting belongs in the node "
    "group's launch template (kubelet or bootstrap configuration), not in a pod.",
)
def _sysctls(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            unsafe = _unsafe_sysctls(context.get("sysctls"))
            if unsafe:
                yield f"{path} sets unsafe sysctls: {_listing(unsafe)}"
        return
    unsafe = _unsafe_sysctls(_dig(_pod_spec(props, args.resource_type), "securityContext", "sysctls"))
    if unsafe:
        yield f"unsafe sysctls: {_listing(unsafe)}"


@resource_rule(
    name="kubernetes-pod-disallow-custom-selinux-options",
    exemptions=True,
    description="SELinux options may only pick a container type (container_t, container_init_t, container_kvm_t, "
    "container_engine_t) and never set a user or role, on the pod or a container (in Helm values too).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS baseline (SELinux)",
    remediation="Remove seLinuxOptions (the runtime's container_t applies), or set only type to one of "
    f"{', '.join(SELINUX_TYPES)}; never set user or role.",
)
def _selinux(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            problems = _selinux_problems(context.get("seLinuxOptions"))
            if problems:
                yield f"{path}.seLinuxOptions sets {_listing(problems)}"
        return
    pod = _pod_spec(props, args.resource_type)
    custom = []
    problems = _selinux_problems(_dig(pod, "securityContext", "seLinuxOptions"))
    if problems:
        custom.append(f"the pod ({_listing(problems)})")
    for label, container in _containers(pod):
        problems = _selinux_problems(_context(container).get("seLinuxOptions"))
        if problems:
            custom.append(f"{label} ({_listing(problems)})")
    if custom:
        yield f"custom SELinux options on {_listing(custom)}"


@resource_rule(
    name="kubernetes-container-disallow-unconfined-apparmor",
    exemptions=True,
    description="No container may run without AppArmor: appArmorProfile.type (pod or container) only RuntimeDefault "
    f"or Localhost, and {APPARMOR_ANNOTATION}<container> annotations only runtime/default or localhost/<profile> "
    "(in Helm values too).",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    control="PSS baseline (AppArmor)",
    remediation="Remove appArmorProfile (the runtime's default profile applies) or set its type to RuntimeDefault "
    f"(or Localhost with a profile loaded on the nodes); remove {APPARMOR_ANNOTATION}* annotations set to "
    "unconfined.",
)
def _apparmor(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, context in _helm_security_contexts(props):
            kind = _apparmor_unconfined(context.get("appArmorProfile"))
            if kind:
                yield f"{path}.appArmorProfile.type is {kind}"
        for path, key, value in _helm_values(props):
            if key.startswith(APPARMOR_ANNOTATION) and not _apparmor_annotation_allowed(value):
                yield f"{path} is {value}"
        return
    pod = _pod_spec(props, args.resource_type)
    unconfined = []
    kind = _apparmor_unconfined(_dig(pod, "securityContext", "appArmorProfile"))
    if kind:
        unconfined.append(f"the pod ({kind})")
    for label, container in _containers(pod):
        kind = _apparmor_unconfined(_context(container).get("appArmorProfile"))
        if kind:
            unconfined.append(f"{label} ({kind})")
    annotations = _mapping(_pod_metadata(props, args.resource_type).get("annotations"))
    for key in annotations:
        if str(key).startswith(APPARMOR_ANNOTATION) and not _apparmor_annotation_allowed(annotations[key]):
            unconfined.append(f"{str(key).removeprefix(APPARMOR_ANNOTATION)} by annotation ({annotations[key]})")
    if unconfined:
        yield f"AppArmor is not RuntimeDefault or Localhost for {_listing(unconfined)}"


@resource_rule(
    name="kubernetes-pod-enforce-restricted-volume-types",
    exemptions=True,
    description="Pods may mount only the volume types of Pod Security Standards restricted "
    f"({', '.join(RESTRICTED_VOLUME_TYPES)}).",
    resource_types=WORKLOADS,
    severity=Severity.MEDIUM,
    first_preview="decides",
    control="PSS restricted (Volume Types)",
    remediation="Mount storage through a PersistentVolumeClaim (or a csi or ephemeral volume) and configuration "
    "through configMap, secret, projected or downwardAPI volumes; not hostPath, nfs or other in-tree sources.",
)
def _volume_types(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    pod = _pod_spec(props, args.resource_type)
    disallowed = []
    for index, volume in enumerate(as_list(pod.get("volumes"))):
        if not isinstance(volume, Mapping):
            continue
        sources = [str(key) for key in volume if key != "name" and volume[key] is not None]
        other = [source for source in sources if source not in RESTRICTED_VOLUME_TYPES]
        if other:
            disallowed.append(f"{volume.get('name') or f'#{index}'} ({_listing(other)})")
    if disallowed:
        yield f"volumes of types outside PSS restricted: {_listing(disallowed)}"


# --- service accounts and RBAC ----------------------------------------------------------

NEEDS_API_ANNOTATION = "platform.io/needs-kubernetes-api"
"""Set to "true" on a workload (or its pod template) whose pods call the Kubernetes API and so need the token."""
WILDCARD_FIELDS = ("apiGroups", "resources", "verbs")
CLUSTER_ADMIN = "cluster-admin"


def _object_name(resource: PolicyResource) -> str:
    """namespace/name of a namespaced object (a missing namespace is default)."""
    metadata = _mapping(resource.props.get("metadata"))
    return f"{metadata.get('namespace') or 'default'}/{metadata.get('name') or resource.name}"


def _needs_api(props: Mapping[str, Any], resource_type: str) -> bool:
    """Whether the workload opts in to the token with the annotation (on itself or its pod template)."""
    for metadata in (_mapping(props.get("metadata")), _pod_metadata(props, resource_type)):
        if is_true(_mapping(metadata.get("annotations")).get(NEEDS_API_ANNOTATION)):
            return True
    return False


@resource_rule(
    name="kubernetes-pod-disallow-default-service-account",
    exemptions=True,
    description="Every workload must run as its own service account: serviceAccountName set and not default.",
    resource_types=WORKLOADS,
    severity=Severity.MEDIUM,
    first_preview="decides",
    control="CIS-EKS 4.1.5",
    remediation="Create a ServiceAccount for the workload (automountServiceAccountToken: false unless it calls the "
    "Kubernetes API; an IRSA role annotation if it calls AWS) and set serviceAccountName on the pod spec.",
)
def _default_service_account(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    pod = _pod_spec(props, args.resource_type)
    # A name not known yet (a ServiceAccount created in the same update) is set; only a known name is compared.
    if not is_set(pod, "serviceAccountName"):
        yield "no serviceAccountName, so the pods run as the namespace's default service account"
    elif pod.get("serviceAccountName") == "default":
        yield "serviceAccountName is default"


@stack_rule(
    name="kubernetes-pod-disable-service-account-token-automount",
    exemptions=True,
    description="Pods must not mount a service account token unless they call the Kubernetes API: "
    "automountServiceAccountToken false on the pod spec, or on its ServiceAccount (when the pod spec leaves it "
    f'unset), unless the workload is annotated {NEEDS_API_ANNOTATION}: "true".',
    resource_types=[*WORKLOADS, SERVICE_ACCOUNT],
    severity=Severity.MEDIUM,
    first_preview="decides",
    control="CIS-EKS 4.1.6",
    remediation="Set automountServiceAccountToken: false on the pod spec or on the workload's ServiceAccount "
    "(declared in the same stack). A workload whose pods call the Kubernetes API opts in with the annotation "
    f'{NEEDS_API_ANNOTATION}: "true" on its metadata or pod template, and gets a ServiceAccount of its own '
    "with a Role that allows only what it calls.",
)
def _token_automount(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    accounts, unknown_account = known_only(
        (r for r in resources if r.resource_type == SERVICE_ACCOUNT),
        lambda account: (_object_name(account), _mapping(account.props).get("automountServiceAccountToken")),
    )
    turned_off = {name for (_, (name, automount)) in accounts if _is_false(automount)}

    def check(workload: PolicyResource) -> Iterable[tuple[str, str | None]]:
        props, kind = workload.props, workload.resource_type
        pod = _pod_spec(props, kind)
        automount = pod.get("automountServiceAccountToken")
        if _is_false(automount) or _needs_api(props, kind):
            return
        label = f"{kind.rsplit(':', 1)[-1]} {_object_name(workload)}"
        if is_true(automount):
            yield f"{label} sets automountServiceAccountToken: true", workload.urn
            return
        namespace = _object_name(workload).split("/", 1)[0]
        account = f"{namespace}/{pod.get('serviceAccountName') or 'default'}"
        if account in turned_off:
            return
        if unknown_account is not None:
            raise unknown_account  # a ServiceAccount that cannot be read yet may turn it off
        yield (
            f"{label} mounts the token of service account {account}: neither sets automountServiceAccountToken: false",
            workload.urn,
        )

    return each((r for r in resources if r.resource_type in WORKLOADS), check)


@resource_rule(
    name="kubernetes-role-disallow-wildcards",
    exemptions=True,
    description="Roles and ClusterRoles must name their API groups, resources and verbs: no * in any rule.",
    resource_types=[ROLE, CLUSTER_ROLE],
    severity=Severity.HIGH,
    first_preview="decides",
    control="CIS-EKS 4.1.3",
    remediation="List the API groups, resources and verbs the subject needs (e.g. apiGroups [apps], resources "
    "[deployments], verbs [get, list, watch]), one rule per group of resources; a wildcard also grants every "
    "resource and verb added to the cluster later.",
)
def _rbac_wildcards(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    for index, rule in enumerate(as_list(props.get("rules"))):
        fields = [field for field in WILDCARD_FIELDS if any("*" in str(v) for v in as_list(_dig(rule, field)))]
        if fields:
            yield f"rules[{index}] has * in {_listing(fields)}"


@resource_rule(
    name="kubernetes-rolebinding-disallow-cluster-admin",
    exemptions=True,
    description="No RoleBinding or ClusterRoleBinding may grant the cluster-admin ClusterRole, except the "
    "platform's own bindings named in config (allowedClusterAdminBindings).",
    resource_types=[ROLE_BINDING, CLUSTER_ROLE_BINDING],
    severity=Severity.CRITICAL,
    first_preview="decides",
    control="CIS-EKS 4.1.1",
    remediation="Bind a ClusterRole (or Role) that grants only what the subjects need; cluster administrators get "
    "their access through EKS access entries, not bindings. A binding the platform itself needs goes into "
    "allowedClusterAdminBindings in the stack's policy config (its name, or namespace/name for a RoleBinding), "
    "with the reason in the commit.",
    config={"allowedClusterAdminBindings": {"type": "array", "items": {"type": "string"}, "default": []}},
)
def _cluster_admin(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    role = _mapping(props.get("roleRef"))
    if role.get("kind") != "ClusterRole" or role.get("name") != CLUSTER_ADMIN:
        return
    metadata = _mapping(props.get("metadata"))
    name = str(metadata.get("name") or args.name)
    allowed = {str(n) for n in config_value(args, "allowedClusterAdminBindings", [])}
    names = {name, args.name}
    if args.resource_type == ROLE_BINDING:
        names.add(f"{metadata.get('namespace') or 'default'}/{name}")
    if not allowed & names:
        yield f"{args.resource_type.rsplit(':', 1)[-1]} {name} grants cluster-admin"


# --- resources and probes (availability) --------------------------------------------


def _missing_resources(pod: Mapping[str, Any], section: str, required: Iterable[str]) -> list[str]:
    missing = []
    for label, container in _containers(pod, RUNNING_CONTAINERS):
        values = _mapping(_dig(container, "resources", section))
        absent = [name for name in required if values.get(name) in (None, "")]
        if absent:
            missing.append(f"{label} ({', '.join(absent)})")
    return missing


@resource_rule(
    name="kubernetes-container-missing-resource-requests",
    exemptions=True,
    description="Every container must request CPU and memory.",
    resource_types=WORKLOADS,
    severity=Severity.MEDIUM,
    first_preview="decides",
    category="availability",
    remediation="Set resources.requests.cpu and resources.requests.memory on every container and initContainer.",
)
def _requests(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    missing = _missing_resources(_pod_spec(props, args.resource_type), "requests", ("cpu", "memory"))
    if missing:
        yield f"no resource requests for {_listing(missing)}"


@resource_rule(
    name="kubernetes-container-missing-resource-limits",
    exemptions=True,
    description="Every container must have CPU and memory limits (the resources in config).",
    resource_types=WORKLOADS,
    severity=Severity.MEDIUM,
    first_preview="decides",
    category="availability",
    remediation="Set resources.limits.cpu and resources.limits.memory on every container and initContainer.",
    config={
        "requiredLimits": {
            "type": "array",
            "items": {"type": "string", "enum": ["cpu", "memory", "ephemeral-storage"]},
            "default": ["cpu", "memory"],
        }
    },
)
def _limits(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    required = [str(r) for r in config_value(args, "requiredLimits", ["cpu", "memory"])]
    missing = _missing_resources(_pod_spec(props, args.resource_type), "limits", required)
    if missing:
        yield f"no resource limits for {_listing(missing)}"


def _long_running(pod: Mapping[str, Any], resource_type: str) -> bool:
    """Controllers always restart their pods; a bare pod runs to completion with restartPolicy Never/OnFailure."""
    return resource_type != POD or pod.get("restartPolicy") in (None, "Always")


def _missing_probe(props: Mapping[str, Any], resource_type: str, probe: str) -> list[str]:
    pod = _pod_spec(props, resource_type)
    if not _long_running(pod, resource_type):
        return []
    return [label for label, c in _containers(pod, ("containers",)) if not isinstance(c.get(probe), Mapping)]


@resource_rule(
    name="kubernetes-container-missing-liveness-probe",
    exemptions=True,
    description="Every container of a long-running workload (not Job/CronJob) must have a liveness probe.",
    resource_types=LONG_RUNNING,
    severity=Severity.MEDIUM,
    first_preview="decides",
    category="availability",
    remediation="Add livenessProbe (httpGet on a health endpoint, or tcpSocket/exec) to every container.",
)
def _liveness(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    missing = _missing_probe(props, args.resource_type, "livenessProbe")
    if missing:
        yield f"no liveness probe on {_listing(missing)}"


@resource_rule(
    name="kubernetes-container-missing-readiness-probe",
    exemptions=True,
    description="Every container of a long-running workload (not Job/CronJob) must have a readiness probe.",
    resource_types=LONG_RUNNING,
    severity=Severity.MEDIUM,
    first_preview="decides",
    category="availability",
    remediation="Add readinessProbe (httpGet on a readiness endpoint, or tcpSocket/exec) to every container.",
)
def _readiness(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    missing = _missing_probe(props, args.resource_type, "readinessProbe")
    if missing:
        yield f"no readiness probe on {_listing(missing)}"


# --- images, namespaces, services, Helm, secrets ------------------------------------


@resource_rule(
    name="kubernetes-container-enforce-pinned-image",
    exemptions=True,
    description="Every image must be pinned: a tag other than latest, or a digest.",
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.MEDIUM,
    first_preview="decides",
    remediation=(
        "Reference images as repository:version (e.g. api:1.4.2) or by digest (@sha256:...). "
        "In Helm values set image.tag to a version or image.digest (or leave tag empty for the chart's "
        "appVersion), and give image strings a tag."
    ),
)
def _pinned_image(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        for path, image, tagged_by_sibling in _helm_images(props):
            if isinstance(image, str):
                problem = _image_problem(image.strip()) if image.strip() else None
                if problem and not (problem == "untagged" and tagged_by_sibling):
                    yield f"{path} is {image}: {problem}"
                continue
            # No tag, or an empty one, means the chart's appVersion: pinned by the chart version.
            if not image.get("digest") and str(image.get("tag") or "").strip().lower() == "latest":
                yield f"{path}.tag is latest"
        return
    pod = _pod_spec(props, args.resource_type)
    unpinned = []
    for label, container in _containers(pod):
        image = container.get("image")
        problem = _image_problem(str(image)) if image else None
        if problem:
            unpinned.append(f"{label} ({image}: {problem})")
    if unpinned:
        yield f"unpinned images: {_listing(unpinned)}"


@resource_rule(
    name="kubernetes-container-enforce-image-digest",
    exemptions=True,
    description=(
        "Images should be referenced by digest (@sha256:...): a tag can be moved to other content, a digest "
        "cannot. Advice, advisory in every stack: upstream charts and teams pin by version tag as a rule, "
        "and a digest per release is a process (a CI step that resolves tags), not a fix in a manifest."
    ),
    resource_types=WORKLOADS,
    severity=Severity.LOW,
    category="advice",
    first_preview="decides",
    remediation="Resolve each tag to its digest when the release is built (e.g. `crane digest <image>:<tag>`) "
    "and reference repository:tag@sha256:<digest> (the tag documents, the digest pins).",
)
def _image_digest(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    pod = _pod_spec(props, args.resource_type)
    by_tag = [
        f"{label} ({image})"
        for label, container in _containers(pod)
        if (image := container.get("image")) and "@sha256:" not in str(image)
    ]
    if by_tag:
        yield f"images not pinned by digest: {_listing(by_tag)}"


@resource_rule(
    name="kubernetes-object-disallow-default-namespace",
    exemptions=True,
    description=(
        "Workloads, configuration, services, network policies, quotas and Helm releases must not live in the "
        "default namespace (a missing namespace means default), except a default-deny NetworkPolicy there."
    ),
    resource_types=NAMESPACED,
    severity=Severity.MEDIUM,
    first_preview="decides",
    remediation="Set metadata.namespace (or the release's namespace) to the application's own namespace, on the "
    "object itself: a default namespace set only on the Kubernetes provider (namespace=...) is not visible to a "
    "policy, so such objects are reported too. A default-deny NetworkPolicy may name the default namespace.",
)
def _default_namespace(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    namespace = props.get("namespace") if args.resource_type in HELM else _dig(props, "metadata", "namespace")
    if args.resource_type == NETWORK_POLICY and namespace == "default" and _denies_all(props):
        return  # locking the default namespace down is the point
    if not namespace:
        yield "no namespace is set, so it goes to the default namespace"
    elif namespace == "default":
        yield "the namespace is default"


@resource_rule(
    name="kubernetes-service-disallow-public-load-balancer",
    exemptions=True,
    description="A Service of type LoadBalancer must be internal (annotated) or explicitly allowed by config.",
    resource_types=[SERVICE],
    severity=Severity.HIGH,
    first_preview="decides",
    remediation=(
        f"Annotate the Service with {SCHEME_ANNOTATION}: internal, or expose it through the shared ingress; "
        "if it really must be public, add its name to allowedLoadBalancerServices in the stack's policy config."
    ),
    config={"allowedLoadBalancerServices": {"type": "array", "items": {"type": "string"}, "default": []}},
)
def _public_load_balancer(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if _dig(props, "spec", "type") != "LoadBalancer":
        return
    annotations = _mapping(_dig(props, "metadata", "annotations"))
    if annotations.get(SCHEME_ANNOTATION) == "internal" or is_true(annotations.get(INTERNAL_ANNOTATION)):
        return
    name = _dig(props, "metadata", "name") or args.name
    namespace = _dig(props, "metadata", "namespace") or "default"
    allowed = {str(n) for n in config_value(args, "allowedLoadBalancerServices", [])}
    if allowed & {name, f"{namespace}/{name}", args.name}:
        return
    yield f"Service {name} is an internet-facing LoadBalancer"


_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


@resource_rule(
    name="kubernetes-helm-release-enforce-pinned-version",
    exemptions=True,
    description="Helm releases must pin the chart to an exact version (not a range, not latest).",
    resource_types=HELM,
    severity=Severity.MEDIUM,
    first_preview="decides",
    remediation='Set version to the exact chart version (e.g. "1.8.1"); upgrade it deliberately.',
)
def _helm_version(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    chart = str(props.get("chart") or "")
    if chart.startswith(("./", "../", "/")) or chart.endswith(".tgz"):
        return  # a local chart or a chart archive is pinned by itself
    version = str(props.get("version") or "").strip()
    if not version:
        yield f"chart {chart} has no version, so the latest is installed"
    elif version.lower() == "latest":
        yield f"chart {chart} is at version latest"
    elif not _EXACT_VERSION.match(version):
        yield f"chart {chart} version {version!r} is a range, not an exact version"


@resource_rule(
    name="kubernetes-configmap-disallow-secret-values",
    exemptions=True,
    description="ConfigMaps must not hold secrets (passwords, tokens, API keys, private keys, credentials in URLs).",
    resource_types=[CONFIG_MAP],
    severity=Severity.HIGH,
    first_preview="decides",
    remediation=(
        "Move the value to a Secret (or AWS Secrets Manager through the External Secrets operator) and "
        "reference it with secretKeyRef or a secret volume; keep only non-secret settings in the ConfigMap."
    ),
)
def _configmap_secrets(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    data = _mapping(props.get("data"))
    for key in data:
        reason = _secret_in(str(key), data[key])
        if reason:
            yield f"key {key} looks like a secret: {reason}"
    binary = _mapping(props.get("binaryData"))
    for key in binary:
        if _secret_name(str(key)) or _PRIVATE_KEY_FILE.search(str(key)):
            yield f"binary key {key} looks like a secret"


@resource_rule(
    name="kubernetes-container-disallow-plain-secret-env",
    exemptions=True,
    description=(
        "Env vars named like secrets (*PASSWORD*, *TOKEN*, *SECRET*, *API_KEY*) must come from a Secret, "
        "not a literal value (in Helm values too: any *env* list of {name, value})."
    ),
    resource_types=[*WORKLOADS, *HELM],
    severity=Severity.HIGH,
    first_preview="decides",
    remediation="Replace env[].value with valueFrom.secretKeyRef (name and key of a Secret); in Helm values, "
    "use the chart's existingSecret setting or an env entry with valueFrom.",
)
def _plain_secret_env(props: Mapping[str, Any], args: ResourceValidationArgs) -> Iterable[str]:
    if args.resource_type in HELM:
        plain = []
        for path, key, value in _helm_values(props):
            if "env" not in key.lower() or isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                continue
            for index, variable in enumerate(value):
                name = str(_dig(variable, "name") or "")
                if _secret_name(name) and _literal(_dig(variable, "value")):
                    plain.append(f"{path}[{index}] {name}")
        if plain:
            yield f"secret env vars with literal values: {_listing(plain)}"
        return
    pod = _pod_spec(props, args.resource_type)
    plain = []
    for label, container in _containers(pod):
        for variable in as_list(container.get("env")):
            name = str(_dig(variable, "name") or "")
            if _secret_name(name) and _literal(_dig(variable, "value")):
                plain.append(f"{label} {name}")
    if plain:
        yield f"secret env vars with literal values: {_listing(plain)}"


# --- disruption budgets (availability) --------------------------------------------------

REPLICATED = (DEPLOYMENT, STATEFUL_SET, REPLICA_SET)


def _count(value: Any) -> str:
    """An int-or-string as written: 2.0 (numbers arrive as floats) reads 2, "50%" reads 50%."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _percent(value: Any) -> float | None:
    """The percentage of an int-or-string like "50%", or None for a count."""
    return number(value[:-1], -1) if isinstance(value, str) and value.endswith("%") else None


def _replicated(workload: PolicyResource) -> tuple[str, str, Mapping[str, Any], float | None]:
    """(namespace, "Kind namespace/name", pod labels, replicas when set) of a Deployment, StatefulSet or ReplicaSet."""
    props = workload.props
    labels = _mapping(_pod_metadata(props, workload.resource_type).get("labels"))
    replicas = _dig(props, "spec", "replicas")
    name = _object_name(workload)
    label = f"{workload.resource_type.rsplit(':', 1)[-1]} {name}"
    return name.split("/", 1)[0], label, labels, None if replicas is None else number(replicas)


@stack_rule(
    name="kubernetes-poddisruptionbudget-disallow-zero-disruptions",
    exemptions=True,
    description="A PodDisruptionBudget must allow at least one eviction, or it blocks every node drain and upgrade: "
    "no maxUnavailable 0 or 0%, no minAvailable 100%, and no minAvailable as large as the replicas of the "
    "Deployment, StatefulSet or ReplicaSet of the stack (in its namespace, replicas set) whose pods it selects.",
    resource_types=[PDB, *REPLICATED],
    severity=Severity.MEDIUM,
    category="availability",
    first_preview="decides",
    remediation="Set maxUnavailable: 1 (or a percentage that rounds to at least one pod), or a minAvailable below "
    "the replica count (e.g. replicas - 1); run at least two replicas of anything that must stay up during a drain.",
)
def _blocking_pdb(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    workloads, unknown_workload = known_only((r for r in resources if r.resource_type in REPLICATED), _replicated)

    def check(pdb: PolicyResource) -> Iterable[tuple[str, str | None]]:
        spec = _mapping(pdb.props.get("spec"))
        label = f"PodDisruptionBudget {_object_name(pdb)}"
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None:
            percent = _percent(max_unavailable)
            if (number(max_unavailable, -1) if percent is None else percent) == 0:
                yield f"{label} has maxUnavailable {_count(max_unavailable)}: no pod may ever be evicted", pdb.urn
            return
        if min_available is None:
            return
        percent = _percent(min_available)
        if percent is not None:
            if percent >= 100:
                yield f"{label} has minAvailable {min_available}: no pod may ever be evicted", pdb.urn
            return
        selector = _mapping(spec.get("selector"))
        match = _mapping(selector.get("matchLabels"))
        if not match or selector.get("matchExpressions"):
            return  # only a plain label selector is matched to workloads
        namespace = _object_name(pdb).split("/", 1)[0]
        selected = [
            (workload, replicas)
            for _, (where, workload, labels, replicas) in workloads
            if where == namespace and all(labels.get(k) == match[k] for k in match)
        ]
        if not selected and unknown_workload is not None:
            raise unknown_workload  # a workload that cannot be read yet may be the one it selects
        for workload, replicas in selected:
            if replicas is not None and number(min_available) >= replicas:
                yield (
                    f"{label} has minAvailable {_count(min_available)}, as many as the replicas of {workload} "
                    f"({_count(replicas)}): no pod may ever be evicted",
                    pdb.urn,
                )
                return

    return each((r for r in resources if r.resource_type == PDB), check)
