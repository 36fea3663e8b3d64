"""Guardrails: rds (rules are added by the policy-pack issue)."""
