"""Guardrails: kms (rules are added by the policy-pack issue)."""
