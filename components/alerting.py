"""How alerts reach on-call: Alertmanager's routing, receivers and inhibition.

- ``severity="critical"`` goes to PagerDuty (the on-call rotation) and to Slack; ``severity="warning"`` to
  Slack only. Anything else (the chart's ``info`` alerts and its ``Watchdog``/``InfoInhibitor``, severity
  ``none``) goes nowhere: they exist for dashboards and for inhibiting.
- A critical alert silences the warning of the same name for the same object (the rule files pair a
  warning and a critical under one alert name, e.g. SLOErrorBudgetBurn and CertificateExpiry).
- Alerts are grouped by name and object; a group is sent 30 s after its first alert, changes to it every
  5 minutes, and a still-firing critical is repeated every hour (warnings every 12 hours), so a page that
  was missed comes back but a long incident does not flood the channel.

The Slack webhook URL and the PagerDuty routing key are secret stack config (``pulumi config set --secret
platform:monitoringSlackWebhookUrl`` / ``platform:monitoringPagerdutyRoutingKey``). The whole configuration
is rendered into a Kubernetes Secret that Alertmanager reads (never into chart values, which Helm and the
Pulumi state keep in plain text). A stack without a key keeps the receiver with no integration: the
routing stays the same and the alert is visible in Alertmanager's UI, but nobody is notified.
"""

from __future__ import annotations

from typing import Any

CRITICAL_RECEIVER = "oncall-critical"
WARNING_RECEIVER = "oncall-warning"
SILENT_RECEIVER = "silent"
GROUP_BY = ["alertname", "namespace", "service", "resource"]
INHIBIT_EQUAL = ["alertname", "namespace", "service", "pod", "resource", "instance"]
"""Labels that must match for a critical to silence a warning: the alert name and every label the rule
files use to name the object."""
SLACK_CHANNELS = {CRITICAL_RECEIVER: "#alerts-critical", WARNING_RECEIVER: "#alerts"}

_SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }}"
)
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
    "{{ if .Labels.namespace }}namespace: {{ .Labels.namespace }} {{ end }}"
    "{{ if .Labels.service }}service: {{ .Labels.service }} {{ end }}"
    "{{ if .Labels.resource }}resource: {{ .Labels.resource }}{{ end }}\n{{ end }}"
)


def _slack(url: str, channel: str) -> dict[str, Any]:
    return {
        "api_url": url,
        "channel": channel,
        "send_resolved": True,
        "title": _SLACK_TITLE,
        "text": _SLACK_TEXT,
    }


def alertmanager_config(*, slack_webhook_url: str | None, pagerduty_routing_key: str | None) -> dict[str, Any]:
    """Alertmanager's configuration (alertmanager.yaml) with the given secrets; ``None`` leaves that
    integration out."""
    critical: dict[str, Any] = {"name": CRITICAL_RECEIVER}
    warning: dict[str, Any] = {"name": WARNING_RECEIVER}
    if pagerduty_routing_key:
        critical["pagerduty_configs"] = [
            {
                "routing_key": pagerduty_routing_key,
                "send_resolved": True,
                "severity": "critical",
                "description": "{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}",
            }
        ]
    if slack_webhook_url:
        critical["slack_configs"] = [_slack(slack_webhook_url, SLACK_CHANNELS[CRITICAL_RECEIVER])]
        warning["slack_configs"] = [_slack(slack_webhook_url, SLACK_CHANNELS[WARNING_RECEIVER])]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            # Only an alert with no severity ends here: nobody is paged for what no rule classified.
            "receiver": WARNING_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [
                {"receiver": CRITICAL_RECEIVER, "matchers": ['severity="critical"'], "repeat_interval": "1h"},
                {"receiver": WARNING_RECEIVER, "matchers": ['severity="warning"'], "repeat_interval": "12h"},
                {"receiver": SILENT_RECEIVER, "matchers": ['severity=~"info|none"']},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": INHIBIT_EQUAL,
            },
            # The chart's InfoInhibitor: info alerts only show while something worse fires for the namespace.
            {
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": [critical, warning, {"name": SILENT_RECEIVER}],
    }
