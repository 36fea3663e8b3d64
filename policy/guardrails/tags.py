"""Guardrails: tags (rules are added by the policy-pack issue)."""
