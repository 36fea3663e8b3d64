"""Guardrails: eks (rules are added by the policy-pack issue)."""
