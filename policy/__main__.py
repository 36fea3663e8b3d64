"""Entry point the Pulumi CLI runs: `pulumi preview --policy-pack policy`.

Only builds the PolicyPack (which serves the policies over gRPC and never
returns); the policies live in importable modules under rules/.
"""

from pulumi_policy import PolicyPack
from rules import ALL_POLICIES

PolicyPack(
    name="platform-guardrails",
    description="Security, availability and cost guardrails for the platform stack.",
    policies=list(ALL_POLICIES),
)
