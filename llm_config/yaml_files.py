"""Reading YAML files into typed config objects, with errors that name file, field and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llm_config.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)

SCHEMA_DOC = "model_configs/README.md"


def read_yaml_mapping(path: Path, source: str) -> dict[str, Any]:
    """Parse ``path`` as YAML whose top level must be a mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            source,
            None,
            f"cannot read the file ({error.strerror})",
            f"check the path: it is relative to the directory you run from ({Path.cwd()})",
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            source, None, f"malformed YAML{where}: {problem}", "fix the YAML syntax (indentation, quotes, colons)"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(source, None, "the file must hold a YAML mapping (key: value lines)", "write one `key: value` per line")
    return data


def display_path(path: Path) -> str:
    """A path as the user knows it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_as(model: type[Model], data: Any, source: str, prefix: str = "", schema_doc: str = SCHEMA_DOC) -> Model:
    """Validate ``data`` into ``model``; the first problem becomes a ConfigError pointing at ``schema_doc``."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _to_config_error(error, source, prefix, schema_doc) from None


def _to_config_error(error: ValidationError, source: str, prefix: str, schema_doc: str) -> ConfigError:
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, location) if part) or None
    kind = first["type"]
    message = first["msg"]
    if kind == "extra_forbidden":
        return ConfigError(source, field, "unknown key", f"remove it or correct its spelling ({schema_doc} lists every key)")
    if kind == "missing":
        return ConfigError(source, field, "required key is missing", f"add it ({schema_doc} documents it)")
    if kind == "value_error":
        # Our own validators raise ValueError("problem|fix").
        problem, _, fix = message.removeprefix("Value error, ").partition("|")
        return ConfigError(source, field, problem, fix or None)
    if kind == "literal_error":
        return ConfigError(source, field, f"got {first.get('input')!r}", message.replace("Input should be", "use"))
    got = first.get("input")
    return ConfigError(source, field, f"{message} (got {got!r})", f"give a value of the right type ({schema_doc})")
