"""Guardrails: required tags on every taggable AWS resource.

A resource's inputs carry only its own ``tags``; the provider's default tags
appear only in the ``tagsAll`` output. So this is a stack rule over outputs:
every ``aws:*`` resource whose outputs have ``tagsAll`` (that is, every
taggable one) must carry each required tag there, with a non-empty value.
Resources without ``tagsAll`` in their outputs (not taggable, or outputs not
known yet) are skipped; so is, alone, a resource whose tags are unknown during
preview (``each``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from guardrails.base import config_value, each, stack_rule

REQUIRED_TAGS = ["environment", "project", "owner", "cost-center", "managed-by"]


@stack_rule(
    name="aws-tags-resource-missing-required-tags",
    description="Every taggable AWS resource must carry the required tags (requiredTags) in tagsAll, "
    "its own tags merged with the provider's default tags.",
    resource_types=["aws:*"],
    severity=Severity.MEDIUM,
    category="cost",
    remediation="Give the AWS provider default_tags with every required tag (the Platform component does, from "
    "the stack's tags config), or add the missing tag to the resource's tags.",
    config={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": REQUIRED_TAGS,
            "description": "Tag keys every taggable AWS resource must carry (in tagsAll).",
        }
    },
)
def _required_tags(resources: list[PolicyResource], args: StackValidationArgs) -> Iterable[tuple[str, str | None]]:
    required = [str(t) for t in config_value(args, "requiredTags", REQUIRED_TAGS)]

    def check(resource: PolicyResource) -> Iterable[tuple[str, str | None]]:
        if "tagsAll" not in resource.props:
            return
        tags = resource.props.get("tagsAll") or {}
        present = {str(k) for k, v in tags.items() if v} if isinstance(tags, Mapping) else set()
        missing = [t for t in required if t not in present]
        if missing:
            yield f"{resource.resource_type} {resource.name} lacks required tags: {', '.join(missing)}", resource.urn

    return each((r for r in resources if r.resource_type.startswith("aws:")), check)
