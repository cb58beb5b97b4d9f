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
      regex: "\\bParis\\b"        # Python re.search
      number: {value: 1027.84, tolerance: 0.01}   # some number in the answer within +-tolerance (absolute)
      json_schema: {type: object, required: [city]}  # the answer (or its ```json block) is JSON valid against it
      rubric: [Names the capital, Is one sentence]  # items a judge (or you, --rate) scores 1-5
      tool_call: {name: multiply, arguments: {a: 1.408, b: 730}}  # with `tools:` (evaluation/tool_expectations.py)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from evaluation.tool_expectations import ToolCallExpectation, ToolSpec, check_case

MAX_CASES = 10_000


class EvaluationInputError(Exception):
    """Bad input (a test-set file, a flag): the CLI prints it and exits 2, without a traceback."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberExpectation(_Strict):
    value: StrictFloat | StrictInt
    tolerance: StrictFloat | StrictInt = Field(default=0, ge=0)


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


class _Defaults(_Strict):
    system: StrictStr | None = None
    max_tokens: StrictInt | None = Field(default=None, gt=0)
    temperature: StrictFloat | StrictInt | None = Field(default=None, ge=0)


class _File(_Strict):
    defaults: _Defaults = Field(default_factory=_Defaults)
    cases: list[dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    """One prompt of the test set, defaults applied, patterns compiled, schema checked."""

    id: str
    prompt: str
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    contains: tuple[str, ...] = ()
    ignore_case: bool = False
    regex: re.Pattern[str] | None = None
    number: tuple[float, float] | None = None  # (value, tolerance)
    json_schema: dict[str, Any] | bool | None = None
    rubric: tuple[str, ...] = ()
    expectation_kinds: tuple[str, ...] = field(default=())
    tools: tuple[dict[str, Any], ...] = ()  # offered to the model (Chat Completions form)
    tool_call: ToolCallExpectation | None = None


def load_tests(path: Path) -> list[Case]:
    """The cases of ``path`` (.yaml/.yml or .jsonl); EvaluationInputError names the file, the case and the fix."""
    if not path.is_file():
        raise EvaluationInputError(
            f"--tests {path}: no such file (give a .yaml or .jsonl test set, e.g. evaluation/examples/example.yaml)"
        )
    text = path.read_text(encoding="utf-8")
    defaults = _Defaults()
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise EvaluationInputError(f"{path}: not valid YAML ({error})") from None
        try:
            parsed = _File.model_validate(data)
        except ValidationError as error:
            raise EvaluationInputError(
                _message(path, None, error, "a mapping with 'cases:' (a list) and optional 'defaults:'")
            ) from None
        defaults, raw = parsed.defaults, parsed.cases
    elif path.suffix == ".jsonl":
        raw = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise EvaluationInputError(
                    f"{path}: line {number} is not JSON ({error.msg}): write one case object per line"
                ) from None
        if not raw:
            raise EvaluationInputError(f"{path}: no cases: write one JSON object per line")
    else:
        raise EvaluationInputError(f"--tests {path}: unknown file type {path.suffix!r}: use .yaml, .yml or .jsonl")
    if len(raw) > MAX_CASES:
        raise EvaluationInputError(f"{path}: {len(raw)} cases; at most {MAX_CASES}: split the file")
    cases = [_case(path, index, item, defaults) for index, item in enumerate(raw, 1)]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise EvaluationInputError(f"{path}: case id {case.id!r} appears twice: give each case its own id")
        seen.add(case.id)
    return cases


def _case(path: Path, index: int, item: Any, defaults: _Defaults) -> Case:
    label = f"case {index}"
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        label += f" ({item['id']})"
    try:
        case = _Case.model_validate(item)
    except ValidationError as error:
        raise EvaluationInputError(_message(path, label, error, "see the schema in docs/evaluation.md")) from None
    expect = case.expect
    regex = None
    if expect.regex is not None:
        try:
            regex = re.compile(expect.regex)
        except re.error as error:
            raise EvaluationInputError(
                f"{path}: {label}: expect.regex: not a valid regular expression ({error}): fix the pattern"
            ) from None
    if expect.json_schema is not None:
        try:
            jsonschema.validators.validator_for(expect.json_schema).check_schema(expect.json_schema)
        except jsonschema.SchemaError as error:
            raise EvaluationInputError(
                f"{path}: {label}: expect.json_schema: not a valid JSON Schema ({error.message}): fix the schema"
            ) from None
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
            ("regex", regex is not None),
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
        regex=regex,
        number=(float(expect.number.value), float(expect.number.tolerance)) if expect.number else None,
        json_schema=expect.json_schema,
        rubric=rubric,
        expectation_kinds=kinds,
        tools=tuple(t.openai() for t in case.tools or ()),
        tool_call=expect.tool_call,
    )


def _message(path: Path, label: str | None, error: ValidationError, fix: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    prefix = f"{path}: {label}: " if label else f"{path}: "
    return f"{prefix}{where}: {first['msg']}: {fix}"
