"""Guardrails: logs (rules are added by the policy-pack issue)."""
