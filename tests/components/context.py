"""A stack context with fixed account facts, for building one component alone."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.context import Account, StackContext
from components.naming import Naming

ACCOUNT_ID = "123456789012"


def fixed_context(
    stack: str = "test",
    region: str = "ca-central-1",
    *,
    tags: Mapping[str, str] | None = None,
    partition: str = "aws",
    dns_suffix: str = "amazonaws.com",
    reverse_dns_prefix: str = "com.amazonaws",
) -> StackContext:
    """The context a Platform builds from the provider's data sources, with the answers given here.

    Call it inside the program (it makes an Output).
    """
    account = Account(ACCOUNT_ID, partition, dns_suffix, reverse_dns_prefix)
    return StackContext(
        naming=Naming("platform", stack),
        region=region,
        account=pulumi.Output.from_input(account),  # type: ignore[arg-type]
        tags=dict(tags or {}),
    )
