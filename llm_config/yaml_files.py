"""Reading YAML files into typed config objects, with errors that name file, field and fix.

Every file the app reads (model configs, catalogues, deployment files, the stages file, planner data) comes
through here, so the limits are enforced once: a regular file of at most MAX_FILE_BYTES of UTF-8 text, no YAML
aliases (a few hundred bytes of nested aliases expand to gigabytes), at most MAX_DEPTH levels of nesting, no
duplicate keys (YAML would silently keep the last one), and an unknown key is named together with the nearest known
one. libyaml parses (PyYAML's C binding, about ten times faster than its pure-Python parser); a file libyaml refuses
is parsed again by PyYAML, whose error message names the problem better.
"""

from __future__ import annotations

import difflib
import stat
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from llm_config.errors import ConfigError, bounded, brief

Model = TypeVar("Model", bound=BaseModel)

SCHEMA_DOC = "model_configs/README.md"
MAX_FILE_BYTES = 256 * 1024  # the largest shipped file is a few kB; this bounds the time a parse can take


class _Refused(yaml.MarkedYAMLError):
    """A construct our files do not allow, at a line and column, with its fix."""

    def __init__(self, mark: Any, problem: str, fix: str) -> None:  # PyYAML's Mark, or its C binding's
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


ALIAS_PROBLEM = "YAML aliases (*name) are not allowed in this file"
ALIAS_FIX = "write the value out in full where the alias is"
MAX_DEPTH = 100  # our files are a few levels deep; libyaml's composer recurses in C and would crash far deeper


class _StrictConstruction(yaml.constructor.SafeConstructor):
    """PyYAML's safe construction without duplicate keys, and with a value Python refuses named at its line."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as error:  # a 5000-digit number, a 13th month: Python refuses the value
            raise _Refused(node.start_mark, f"cannot read this value ({error})", "quote it if it is text") from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a complex key is refused by the safe loader itself
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Refused(
                    key_node.start_mark,
                    f"duplicate key {brief(key)} (first at line {seen[key]})",
                    "keep one of the two: YAML would silently use the last",
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _StrictLoader(_StrictConstruction, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader without aliases and without duplicate keys: its messages about malformed
    YAML name the problem better than libyaml's."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _Refused(self.peek_event().start_mark, ALIAS_PROBLEM, ALIAS_FIX)  # type: ignore[no-untyped-call]
        return super().compose_node(parent, index)


class _FastStrictLoader(_StrictConstruction, yaml.CSafeLoader):
    """The same construction on libyaml's parser (PyYAML's C binding), about ten times faster: every synth reads about
    20 files (README.md, Development notes). Aliases and depth are checked on the events first (_check_events)."""


def _check_events(text: str) -> None:
    """Refuse aliases and nesting deeper than MAX_DEPTH, from libyaml's events (its parser does not recurse)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, ALIAS_PROBLEM, ALIAS_FIX)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise RecursionError
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _load(text: str) -> Any:
    """The document in ``text``: libyaml's parser when it reads it, else PyYAML's, whose error names the problem."""
    try:
        _check_events(text)
        return yaml.load(text, Loader=_FastStrictLoader)  # a SafeLoader equivalent
    except _Refused:
        raise
    except yaml.YAMLError:
        return yaml.load(text, Loader=_StrictLoader)  # raises the malformed YAML's error, in PyYAML's words


def read_yaml_mapping(
    path: Path, source: str, *, max_bytes: int = MAX_FILE_BYTES, usual_size: str = "configs are a few kB"
) -> dict[str, Any]:
    """Parse ``path`` as YAML whose top level must be a mapping (``max_bytes``, ``usual_size``: see read_text)."""
    text = read_text(path, source, max_bytes=max_bytes, usual_size=usual_size)
    try:
        data = _load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        if isinstance(error, _Refused):
            raise ConfigError(source, None, f"{problem}{where}", error.fix) from None
        raise ConfigError(
            source, None, f"malformed YAML{where}: {problem}", "fix the YAML syntax (indentation, quotes, colons)"
        ) from None
    except RecursionError:
        raise ConfigError(source, None, "the YAML is nested too deeply", "a config is a few levels deep: flatten it") from None
    if not isinstance(data, dict):
        raise ConfigError(source, None, "the file must hold a YAML mapping (key: value lines)", "write one `key: value` per line")
    return data


def read_text(path: Path, source: str, *, max_bytes: int = MAX_FILE_BYTES, usual_size: str = "configs are a few kB") -> str:
    """The file's text: a regular file (not a device or pipe, which may never end) of at most ``max_bytes`` of UTF-8.

    ``usual_size`` tells the user of a larger file how large such a file usually is (another reader, e.g. the
    evaluation's test sets, allows more than a config's MAX_FILE_BYTES).
    """
    fix = f"check the path: it is relative to the directory you run from ({Path.cwd()})"
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # before open(): opening a FIFO blocks until a writer comes
            raise ConfigError(source, None, "is not a regular file", fix)
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise ConfigError(source, None, f"cannot read the file ({error.strerror or error})", fix) from None
    if len(data) > max_bytes:
        too_large = f"the file is larger than {max_bytes // 1024} KiB"
        raise ConfigError(source, None, too_large, f"is this the right file? {usual_size}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            source,
            None,
            f"is not UTF-8 text (byte 0x{data[error.start]:02x} at line {line})",
            "save the file as UTF-8 (the encoding of every file here)",
        ) from None


def display_path(path: Path) -> str:
    """A path as the user knows it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


def parse_as(model: type[Model], data: Any, source: str, prefix: str = "", schema_doc: str = SCHEMA_DOC) -> Model:
    """Validate ``data`` into ``model``; the first problem becomes a ConfigError pointing at ``schema_doc``.

    An unknown key is reported before anything else: a misspelt key usually also makes the real one "missing".
    """
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _to_config_error(model, error, source, prefix, schema_doc) from None


def unknown_key_fix(key: str, known: Sequence[str], doc: str, spelling: str = "{}") -> str:
    """The fix for an unknown key: the nearest known key when one is close, else the list of known keys.

    ``spelling`` shows a key as the user writes it, e.g. "-c {}" for context keys.
    """
    nearest = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if nearest:
        return f"did you mean {spelling.format(nearest[0])}? ({doc} lists every key)"
    return f"remove it or correct its spelling; known here: {', '.join(known)} ({doc})"


def _to_config_error(model: type[BaseModel], error: ValidationError, source: str, prefix: str, schema_doc: str) -> ConfigError:
    errors = error.errors(include_url=False)
    first: ErrorDetails = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    location = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, location) if part) or None
    kind = first["type"]
    message = first["msg"]
    if kind == "extra_forbidden":
        known = _known_keys(model, first["loc"][:-1])
        return ConfigError(source, field, "unknown key", unknown_key_fix(str(first["loc"][-1]), known, schema_doc))
    if kind == "missing":
        return ConfigError(source, field, "required key is missing", f"add it ({schema_doc} documents it)")
    if kind == "value_error":
        # Our own validators raise ValueError("problem|fix").
        problem, _, fix = message.removeprefix("Value error, ").partition("|")
        return ConfigError(source, field, problem, fix or None)
    if kind == "literal_error":
        return ConfigError(source, field, f"got {brief(first.get('input'))}", message.replace("Input should be", "use"))
    got = brief(first.get("input"))
    return ConfigError(source, field, f"{bounded(message, 300)} (got {got})", f"give a value of the right type ({schema_doc})")


def _known_keys(model: type[BaseModel], parent: Sequence[int | str]) -> list[str]:
    """The field names of the model at ``parent`` (a pydantic error location) inside ``model``."""
    candidates: list[type[BaseModel]] = [model]
    for part in parent:
        following: list[type[BaseModel]] = []
        for candidate in candidates:
            field = candidate.model_fields.get(str(part))
            if field is not None:
                following += _models_in(field.annotation)
            else:  # a dict key or list index: the container's values are models of the same kind
                following.append(candidate)
        candidates = following or candidates
    return sorted({name for candidate in candidates for name in candidate.model_fields})


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation holds (X, X | None, list[X], dict[str, X], Annotated[X, ...])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated, list, tuple, dict):
        for argument in typing.get_args(annotation):
            yield from _models_in(argument)
