"""The bootstrap's stack config, validated before anything is built.

Keys live under ``bootstrap:`` (``github``, ``platform``, ``roles``, ``tags``)
beside ``aws:region``; every problem is reported at once with its key path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "bootstrap"
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
# GitHub environment names end up in the OIDC subject: no wildcards, nothing IAM would read as a pattern.
ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


class ConfigError(ValueError):
    """Stack config the bootstrap cannot work with; the message lists every problem."""


def _matching(pattern: re.Pattern[str], expected: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"got {value!r}: must be {expected}")
        return value

    return AfterValidator(check)


Repository = Annotated[str, _matching(REPOSITORY, "owner/name of a GitHub repository, without wildcards")]
Region = Annotated[str, _matching(REGION, "an AWS region such as ca-central-1")]
Name = Annotated[str, _matching(NAME, "lowercase letters, digits and hyphens, starting with a letter")]
RoleName = Annotated[str, _matching(ROLE_NAME, "an IAM role name (up to 64 of A-Z a-z 0-9 +=,.@_-)")]
Environment = Annotated[str, _matching(ENVIRONMENT, "a GitHub environment name (letters, digits, . _ -)")]


class Model(BaseModel):
    """camelCase keys, no unknown keys, no coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True
    )


class GitHub(Model):
    repository: Repository
    """owner/name of the repository whose workflows may assume the roles."""
    deploy_environments: dict[str, Environment] = Field(min_length=1)
    """Per platform stack, the GitHub environment whose jobs may assume that stack's deploy role (its
    deployment branch rule: main). Every stack of ``platform.stacks`` needs one."""
    drift_environment: Environment = "drift"
    """GitHub environment of the scheduled drift check (deployment branch rule: main only); the drift role
    trusts it alone."""


class Platform(Model):
    project: Name = "platform"
    """The Pulumi project the roles preview and deploy."""
    stacks: list[Name] = Field(min_length=1)
    """Its stacks: the roles may touch only these stacks' objects in the state bucket."""
    regions: list[Region] = Field(min_length=1)
    """Regions the stacks create resources in; the deploy role acts in these only."""
    name_prefix: Name = "platform"
    """Prefix of the platform's IAM roles and policies and S3 buckets: the deploy role manages IAM and S3 under
    it only."""


class Roles(Model):
    deploy_role_prefix: RoleName = "platform-deployer"
    """Each stack's deploy role is ``<prefix>-<stack>``; that stack names it as
    platform:cluster.deployerPrincipal."""
    preview_role_name: RoleName = "platform-previewer"
    """The read-only role of pull requests' `pulumi preview`."""
    drift_role_name: RoleName = "platform-drift-checker"
    """The read-only role of the drift check: the preview role's reads, and the values of the platform's own
    secrets, which refreshing their versions reads."""


class Tags(Model):
    environment: str = "admin"
    owner: str = Field(min_length=1)
    cost_center: str = Field(min_length=1)


class Settings(Model):
    region: Region
    github: GitHub
    platform: Platform
    roles: Roles = Roles()
    tags: Tags

    @model_validator(mode="after")
    def _one_environment_per_stack(self) -> Settings:
        stacks, environments = set(self.platform.stacks), self.github.deploy_environments
        if set(environments) != stacks:
            raise ValueError(
                f"github.deployEnvironments must name one GitHub environment per platform stack {sorted(stacks)},"
                f" got {sorted(environments)}"
            )
        if len(set(environments.values())) != len(environments):
            raise ValueError("github.deployEnvironments: each stack needs an environment of its own")
        for stack in stacks:
            if not ROLE_NAME.fullmatch(self.deploy_role_name(stack)):
                raise ValueError(f"roles.deployRolePrefix: {self.deploy_role_name(stack)!r} is too long for IAM")
        names = [self.roles.preview_role_name, self.roles.drift_role_name, *map(self.deploy_role_name, stacks)]
        if len(set(names)) != len(names):
            raise ValueError(f"roles: the preview, drift and deploy roles need names of their own, got {sorted(names)}")
        return self

    def deploy_role_name(self, stack: str) -> str:
        """The deploy role of one platform stack."""
        return f"{self.roles.deploy_role_prefix}-{stack}"

    def stack_prefix(self, stack: str) -> str:
        """What the platform's names of one stack start with (``platform-dev-...``, ``platform-dev/...``)."""
        return f"{self.platform.name_prefix}-{stack}"

    @property
    def default_tags(self) -> dict[str, str]:
        """What the pack requires on every taggable resource (policy/guardrails/tags.py)."""
        return {
            "environment": self.tags.environment,
            "project": "platform-bootstrap",
            "owner": self.tags.owner,
            "cost-center": self.tags.cost_center,
            "managed-by": "pulumi",
        }


def _parsed(value: Any) -> Any:
    """Structured config reaches the program as JSON strings; plain strings stay as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_settings(raw: Mapping[str, Any]) -> Settings:
    """Settings from the stack's config map (``namespace:key`` -> value)."""
    prefix = f"{NAMESPACE}:"
    document: dict[str, Any] = {k[len(prefix) :]: _parsed(v) for k, v in raw.items() if k.startswith(prefix)}
    document["region"] = raw.get("aws:region")
    try:
        return Settings.model_validate(document, by_alias=True)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            where = ".".join(str(p) for p in error["loc"])
            if not where:  # a check across keys: its message names them
                problems.append(f"{prefix}{error['msg'].removeprefix('Value error, ')}")
                continue
            key = "aws:region" if where == "region" else f"{prefix}{where}"
            problems.append(f"{key}: {error['msg']}")
        raise ConfigError("invalid bootstrap config:\n  " + "\n  ".join(problems)) from None
