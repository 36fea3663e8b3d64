"""Guardrails: s3 (rules are added by the policy-pack issue)."""
