"""Guardrails: iam (rules are added by the policy-pack issue)."""
