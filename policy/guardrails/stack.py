"""Guardrails: stack (rules are added by the policy-pack issue)."""
