"""Guardrails: elasticache (rules are added by the policy-pack issue)."""
