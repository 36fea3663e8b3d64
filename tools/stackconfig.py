"""Read a stack's config the way the Pulumi CLI hands it to the program.

Project-level values from ``Pulumi.yaml`` come first, then the stack file.
Top-level values reach the program as strings (objects and lists as JSON),
as with the real CLI. ``secure:`` values cannot be decrypted without the
stack's key, so they become obvious placeholders and their keys are marked
secret, as the CLI marks them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KEY = re.compile(r"^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$")
PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


class StackFileError(Exception):
    """A stack or project file that cannot be read as Pulumi config."""


@dataclass
class StackConfig:
    project: str
    values: dict[str, str]
    secret_keys: list[str]
    placeholders: list[str] = field(default_factory=list)
    """Keys whose secure value was replaced by a placeholder."""


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise StackFileError(f"{path}: is a directory, not a stack file") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise StackFileError(f"{path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StackFileError(f"{path}:{where} not valid YAML: {getattr(err, 'problem', err)}") from None


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _replace_secure(value: Any, key: str, found: list[str], path: str = "") -> Any:
    if _is_secure(value):
        found.append(f"{key}{path}")
        return f"offline-placeholder-for-{key}{path}"
    if isinstance(value, dict):
        return {k: _replace_secure(v, key, found, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, key, found, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _as_config_string(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"

    def unsupported(item: Any) -> Any:
        # YAML turns unquoted dates and times into objects Pulumi config has no type for.
        raise StackFileError(
            f"{key}: value {item!s} is a YAML {type(item).__name__}, which Pulumi config cannot hold; quote it"
        )

    return json.dumps(value, default=unsupported)


def load_stack_config(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfig:
    project_file = project_dir / "Pulumi.yaml"
    project_doc = _read_yaml(project_file)
    if not isinstance(project_doc, dict) or not isinstance(project_doc.get("name"), str):
        raise StackFileError(f"{project_file}: must be a mapping with a 'name'")
    project = project_doc["name"]

    merged: dict[str, Any] = {}
    for key, decl in (project_doc.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(decl, dict) and ("value" in decl or "default" in decl):
            merged[full] = decl.get("value", decl.get("default"))
        elif not isinstance(decl, dict):
            merged[full] = decl  # shorthand `key: value`

    stack_file = config_file or project_dir / f"Pulumi.{stack}.yaml"
    stack_doc = _read_yaml(stack_file)
    if stack_doc is None:
        stack_doc = {}
    if not isinstance(stack_doc, dict):
        raise StackFileError(f"{stack_file}: must be a mapping with a 'config:' section")
    unknown = sorted(set(stack_doc) - {"config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"})
    if unknown:
        raise StackFileError(f"{stack_file}: unknown top-level key(s) {unknown}; stack settings go under 'config:'")
    config = stack_doc.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{stack_file}: 'config' must be a mapping of namespace:key to value")
    for key, value in config.items():
        if not isinstance(key, str) or not (KEY.match(key) or PLAIN_KEY.match(key)):
            raise StackFileError(
                f"{stack_file}: config key {key!r} must look like namespace:key, e.g. platform:network"
            )
        # As the CLI does, a key without a namespace belongs to the project.
        merged[key if ":" in key else f"{project}:{key}"] = value

    placeholders: list[str] = []
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in merged.items():
        found: list[str] = []
        replaced = _replace_secure(value, key, found)
        if found:
            secret_keys.append(key)
            placeholders += found
        values[key] = _as_config_string(key, replaced)
    return StackConfig(project=project, values=values, secret_keys=secret_keys, placeholders=placeholders)
