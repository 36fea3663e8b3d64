"""The pack's policies, one module per service.

Kept importable (the pack's ``__main__.py`` only builds the PolicyPack, which
starts a gRPC server and never returns) so that tests and the offline engine
can load the same policies. The rules themselves are the policy-pack issue's
work; this list is what ``__main__.py`` registers.
"""

from __future__ import annotations

from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = []
