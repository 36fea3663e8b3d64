"""Guardrails: kubernetes (rules are added by the policy-pack issue)."""
