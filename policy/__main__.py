"""Entry point the Pulumi CLI runs:
`pulumi preview --policy-pack policy --policy-pack-config policy/config/prod.json`.

Only builds the PolicyPack (which serves the policies over gRPC and never
returns); the policies live in importable modules under guardrails/.
"""

import struct_decoding
from guardrails import ALL_POLICIES, REGISTRY
from pulumi_policy import EnforcementLevel, PolicyPack

struct_decoding.install()

PolicyPack(
    name="platform-guardrails",
    description="Security, availability and cost guardrails for the platform stack (AWS and Kubernetes).",
    policies=list(ALL_POLICIES),
    enforcement_level=EnforcementLevel.MANDATORY,
    # The protocol has no "unset" level (a missing one reads as advisory), so
    # every policy gets an explicit one; the per-stack config files lower the
    # availability and cost rules to advisory in dev.
    initial_config={
        rule.name: {"enforcementLevel": EnforcementLevel.MANDATORY, **rule.config_defaults} for rule in REGISTRY
    },
)
