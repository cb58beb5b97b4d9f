"""The test-set file: prompts with optional expectations, in YAML or JSON Lines (schema in docs/evaluation.md).

YAML: a mapping with ``cases`` (a list) and optional ``defaults`` (``system``, ``max_tokens``, ``temperature``
applied to every case that does not set its own). JSON Lines: one case object per line, no defaults. A case:

    id: capital                  # optional; default "case-N" (N counts from 1)
    prompt: What is the capital of France?
    system: Answer in one word.  # optional
    max_tokens: 64               # optional; default: llm_client's (512, capped by the endpoint's token limits)
    temperature: 0               # optional; default: the model's
    expect:                      # optional; every kind optional, several may be combined
      contains: Paris            # or a list: all must appear (case-sensitive unless ignore_case: true)
      ignore_case: true
      regex: "\\bParis\\b"        # re.search syntax, matched with a time bound (evaluation/patterns.py)
      number: {value: 1027.84, tolerance: 0.01}   # some number in the answer within +-tolerance (absolute)
      json_schema: {type: object, required: [city]}  # the answer (or its ```json block) is JSON valid against it
      rubric: [Names the capital, Is one sentence]  # items a judge (or you, --rate) scores 1-5
      tool_call: {name: multiply, arguments: {a: 1.408, b: 730}}  # with `tools:` (evaluation/tool_expectations.py)

The file is read as config files are (llm_config/yaml_files.py): a regular UTF-8 file, no YAML aliases, no duplicate
keys (in JSON Lines too), numbers finite; its own limits are MAX_TEST_SET_BYTES and MAX_CASES, and its JSON schemas
are resolved and bounded when it loads (evaluation/schemas.py). Each problem exits 2 with one message.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import regex
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from evaluation import schemas
from evaluation.patterns import compile_pattern
from evaluation.tool_expectations import ToolCallExpectation, ToolSpec, check_case
from llm_config.errors import ConfigError, bounded, brief
from llm_config.yaml_files import read_text, read_yaml_mapping

MAX_CASES = 10_000
# 10,000 cases with 300-character prompts are 3.5 MiB; parsing YAML takes about 2 s per MiB here.
MAX_TEST_SET_BYTES = 4 * 1024 * 1024
TOO_LARGE_FIX = "split a larger test set into several runs"
# All the JSON schemas of one file together, counted before the meta-schema check (about 0.2 s per 1,000 values).
MAX_SCHEMA_NODES_PER_FILE = 20_000


class EvaluationInputError(Exception):
    """Bad input (a test-set file, a flag): the CLI prints it and exits 2, without a traceback."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite(value: float | int | None) -> float | int | None:
    """A number that is a finite float, as the checks use it: not NaN, not infinite (``tolerance: .inf`` would pass
    any answer), not a 400-digit integer."""
    try:
        if value is not None and not math.isfinite(float(value)):
            raise ValueError
    except (OverflowError, ValueError):
        raise ValueError("must be a finite number") from None
    return value


class NumberExpectation(_Strict):
    value: StrictFloat | StrictInt
    tolerance: StrictFloat | StrictInt = Field(default=0, ge=0)

    _finite = field_validator("value", "tolerance")(_finite)


class Expect(_Strict):
    contains: StrictStr | list[StrictStr] | None = None
    ignore_case: StrictBool = False
    regex: StrictStr | None = None
    number: NumberExpectation | None = None
    json_schema: dict[str, Any] | StrictBool | None = None
    rubric: StrictStr | list[StrictStr] | None = None
    tool_call: ToolCallExpectation | None = None


class _Case(_Strict):
    id: StrictStr | None = None
    prompt: StrictStr = Field(min_length=1)
    system: StrictStr | None = None
    max_tokens: StrictInt | None = Field(default=None, gt=0)
    temperature: StrictFloat | StrictInt | None = Field(default=None, ge=0)
    tools: list[ToolSpec] | None = None
    expect: Expect = Field(default_factory=Expect)

    _finite = field_validator("temperature")(_finite)


class _Defaults(_Strict):
    system: StrictStr | None = None
    max_tokens: StrictInt | None = Field(default=None, gt=0)
    temperature: StrictFloat | StrictInt | None = Field(default=None, ge=0)

    _finite = field_validator("temperature")(_finite)


class _File(_Strict):
    defaults: _Defaults = Field(default_factory=_Defaults)
    cases: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    """One prompt of the test set, defaults applied, patterns compiled, schema checked and resolved."""

    id: str
    prompt: str
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    contains: tuple[str, ...] = ()
    ignore_case: bool = False
    regex: Any = None  # a compiled regex.Pattern (evaluation/patterns.py)
    number: tuple[float, float] | None = None  # (value, tolerance)
    json_schema: dict[str, Any] | bool | None = None
    rubric: tuple[str, ...] = ()
    expectation_kinds: tuple[str, ...] = field(default=())
    tools: tuple[dict[str, Any], ...] = ()  # offered to the model (Chat Completions form)
    tool_call: ToolCallExpectation | None = None


def load_tests(path: Path) -> list[Case]:
    """The cases of ``path`` (.yaml/.yml or .jsonl); EvaluationInputError or ConfigError names the file, the case and
    the fix."""
    if not path.is_file():
        raise EvaluationInputError(
            f"--tests {path}: no such file (give a .yaml or .jsonl test set, e.g. evaluation/examples/example.yaml)"
        )
    source = str(path)
    defaults = _Defaults()
    if path.suffix in (".yaml", ".yml"):
        data = read_yaml_mapping(path, source, max_bytes=MAX_TEST_SET_BYTES, usual_size=TOO_LARGE_FIX)
        try:
            parsed = _File.model_validate(data)
        except ValidationError as error:
            raise EvaluationInputError(
                _message(path, None, error, "a mapping with 'cases:' (a list) and optional 'defaults:'")
            ) from None
        defaults, raw = parsed.defaults, parsed.cases
    elif path.suffix == ".jsonl":
        raw = _json_lines(path, read_text(path, source, max_bytes=MAX_TEST_SET_BYTES, usual_size=TOO_LARGE_FIX))
    else:
        raise EvaluationInputError(f"--tests {path}: unknown file type {path.suffix!r}: use .yaml, .yml or .jsonl")
    if len(raw) > MAX_CASES:
        raise EvaluationInputError(f"{path}: {len(raw)} cases; at most {MAX_CASES}: split the file")
    cases: list[Case] = []
    schema_nodes = 0  # of all the file's schemas so far
    for index, item in enumerate(raw, 1):
        case, nodes = _case(path, index, item, defaults, schema_nodes)
        cases.append(case)
        schema_nodes += nodes
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise EvaluationInputError(f"{path}: case id {case.id!r} appears twice: give each case its own id")
        seen.add(case.id)
    return cases


def _json_lines(path: Path, text: str) -> list[Any]:
    """One JSON value per non-blank line; duplicate keys, NaN and Infinity refused as in YAML files."""
    raw = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw.append(json.loads(line, object_pairs_hook=_without_duplicates, parse_constant=_no_constant))
        except _Duplicate as error:
            raise ConfigError(
                str(path),
                None,
                f"line {number}: duplicate key {brief(error.key)}",
                "keep one of the two: JSON would silently use the last",
            ) from None
        except RecursionError:
            raise ConfigError(
                str(path), None, f"line {number}: nested too deeply", "a case is a few levels deep: flatten it"
            ) from None
        except json.JSONDecodeError as error:
            raise EvaluationInputError(
                f"{path}: line {number} is not JSON ({error.msg}): write one case object per line"
            ) from None
        except ValueError as error:  # NaN or Infinity, a 5000-digit number: as YAML files say it
            problem = str(error).split(";")[0]  # without Python's advice to raise its digit limit
            raise ConfigError(
                str(path),
                None,
                f"line {number}: cannot read this value ({bounded(problem, 200)})",
                "write a finite number, or quote it if it is text",
            ) from None
    if not raw:
        raise EvaluationInputError(f"{path}: no cases: write one JSON object per line")
    return raw


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _Duplicate(key)
        mapping[key] = value
    return mapping


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _case(path: Path, index: int, item: Any, defaults: _Defaults, schema_nodes_before: int) -> tuple[Case, int]:
    """The case, and how many values its JSON schema holds (the file's schemas together are capped)."""
    label = f"case {index}"
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        label += f" ({bounded(item['id'], 80)})"
    try:
        case = _Case.model_validate(item)
    except ValidationError as error:
        raise EvaluationInputError(_message(path, label, error, "see the schema in docs/evaluation.md")) from None
    expect = case.expect
    compiled = None
    if expect.regex is not None:
        try:
            compiled = compile_pattern(expect.regex)
        except regex.error as error:
            raise EvaluationInputError(
                f"{path}: {label}: expect.regex: not a valid regular expression ({error}): fix the pattern"
            ) from None
    schema, nodes = None, 0
    if expect.json_schema is not None:
        try:
            nodes = schemas.size(expect.json_schema)
            if schema_nodes_before + nodes > MAX_SCHEMA_NODES_PER_FILE:
                raise schemas.SchemaRefused(
                    "", f"the file's schemas hold more than {MAX_SCHEMA_NODES_PER_FILE:,} values together: simplify them"
                )
            schema = schemas.prepare(expect.json_schema)
        except jsonschema.SchemaError as error:
            raise EvaluationInputError(
                f"{path}: {label}: expect.json_schema: not a valid JSON Schema ({brief(error.message)}): fix the schema"
            ) from None
        except schemas.SchemaRefused as error:
            raise EvaluationInputError(f"{path}: {label}: expect.json_schema: {error}") from None
    contains = (expect.contains,) if isinstance(expect.contains, str) else tuple(expect.contains or ())
    rubric = (expect.rubric,) if isinstance(expect.rubric, str) else tuple(expect.rubric or ())
    if any(not item.strip() for item in rubric):
        raise EvaluationInputError(f"{path}: {label}: expect.rubric: an empty item: write what a good answer does")
    tools_problem = check_case(f"{path}: {label}", case.tools, expect.tool_call)
    if tools_problem:
        raise EvaluationInputError(tools_problem)
    kinds = tuple(
        kind
        for kind, present in (
            ("contains", bool(contains)),
            ("regex", compiled is not None),
            ("number", expect.number is not None),
            ("json_schema", expect.json_schema is not None),
            ("rubric", bool(rubric)),
            ("tool_call", expect.tool_call is not None),
        )
        if present
    )
    temperature = case.temperature if case.temperature is not None else defaults.temperature
    return Case(
        id=case.id or f"case-{index}",
        prompt=case.prompt,
        system=case.system if case.system is not None else defaults.system,
        max_tokens=case.max_tokens or defaults.max_tokens,
        temperature=float(temperature) if temperature is not None else None,
        contains=contains,
        ignore_case=expect.ignore_case,
        regex=compiled,
        number=(float(expect.number.value), float(expect.number.tolerance)) if expect.number else None,
        json_schema=schema,
        rubric=rubric,
        expectation_kinds=kinds,
        tools=tuple(t.openai() for t in case.tools or ()),
        tool_call=expect.tool_call,
    ), nodes


def _message(path: Path, label: str | None, error: ValidationError, fix: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    prefix = f"{path}: {label}: " if label else f"{path}: "
    return f"{prefix}{where}: {first['msg'].removeprefix('Value error, ')}: {fix}"
