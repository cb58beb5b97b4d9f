"""Tool use in a test set: a case offers tools and may expect a call (docs/evaluation.md, "Tool calls").

    - id: price
      prompt: What does an instance at $1.408 an hour cost for 730 hours?
      tools:                               # offered to the model, each as a name, a description and a JSON schema
        - name: multiply
          description: Multiply a by b.
          parameters: {type: object, properties: {a: {type: number}, b: {type: number}}, required: [a, b]}
      expect:
        tool_call:
          name: multiply                   # the tool the model must call first
          arguments: {a: 1.408, b: 730}    # optional: these values (numbers within +-tolerance), other keys free
          arguments_schema: {...}          # optional: or the arguments valid against this JSON schema
          tolerance: 0.001                 # optional, default 0

The request goes to the endpoint with the tools (llm_client's tool path: native, constrained, or Converse tool use
on Bedrock), never streamed (other cases stream unless --no-stream). The check scores 1 when the first call names
the tool and its arguments match, else 0 with why: ``missing`` (no call, or one the agent could not make) or
``wrong`` (another tool, other arguments). The report counts both per target, so two models' tool use compare before
traffic moves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

if TYPE_CHECKING:  # evaluation.expectations imports the test set, which imports this module
    from evaluation.expectations import Check

KIND = "tool_call"
MISSING, WRONG = "missing", "wrong"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolSpec(_Strict):
    name: StrictStr = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: StrictStr = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    def openai(self) -> dict[str, Any]:
        """The tool in the Chat Completions form llm_client takes."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


class ToolCallExpectation(_Strict):
    name: StrictStr
    arguments: dict[str, Any] | None = None
    arguments_schema: dict[str, Any] | None = None
    tolerance: StrictFloat | StrictInt = Field(default=0, ge=0)


def check_case(label: str, tools: Sequence[ToolSpec] | None, expected: ToolCallExpectation | None) -> str | None:
    """What is wrong with a case's tools and tool_call expectation, as ``field: problem: fix``; None if nothing."""
    names = [t.name for t in tools or ()]
    if len(set(names)) != len(names):
        return f"{label}: tools: a tool name appears twice: give each tool its own name"
    for tool in tools or ():
        problem = _schema_problem(tool.parameters)
        if problem:
            return f"{label}: tools.{tool.name}.parameters: not a valid JSON Schema ({problem}): fix the schema"
    if expected is None:
        return None
    if not names:
        return f"{label}: expect.tool_call: the case offers no tools: add 'tools:' with {expected.name!r}"
    if expected.name not in names:
        return f"{label}: expect.tool_call.name: {expected.name!r} is not one of the case's tools ({', '.join(names)})"
    if expected.arguments_schema is not None:
        problem = _schema_problem(expected.arguments_schema)
        if problem:
            return f"{label}: expect.tool_call.arguments_schema: not a valid JSON Schema ({problem}): fix the schema"
    return None


def _schema_problem(schema: Mapping[str, Any]) -> str | None:
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        return str(error.message)
    return None


def check_tool_calls(expected: ToolCallExpectation | None, calls: Sequence[Mapping[str, Any]]) -> list[Check]:
    """The tool_call check of one answer. ``calls``: ``{"name", "arguments", "error"}`` as the record keeps them."""
    from evaluation.expectations import Check

    if expected is None:
        return []
    usable = [c for c in calls if not c.get("error")]
    if not usable:
        why = f"; the model's call could not be made: {calls[0]['error']}" if calls else ""
        return [Check(KIND, 0.0, f"{MISSING}: no call of {expected.name}{why}")]
    call = usable[0]
    if call["name"] != expected.name:
        return [Check(KIND, 0.0, f"{WRONG}: called {call['name']}, expected {expected.name}")]
    arguments = call.get("arguments") or {}
    for key, value in (expected.arguments or {}).items():
        if key not in arguments or not _equal(arguments[key], value, float(expected.tolerance)):
            found = arguments.get(key, "nothing")
            return [Check(KIND, 0.0, f"{WRONG}: {expected.name} argument {key} is {found!r}, expected {value!r}")]
    if expected.arguments_schema is not None:
        validator = jsonschema.validators.validator_for(expected.arguments_schema)(expected.arguments_schema)
        error = next(iter(validator.iter_errors(arguments)), None)
        if error is not None:
            return [Check(KIND, 0.0, f"{WRONG}: {expected.name} arguments do not match the schema: {error.message}")]
    return [Check(KIND, 1.0, f"called {expected.name} with matching arguments")]


def _equal(found: Any, expected: Any, tolerance: float) -> bool:
    numbers = (int, float)
    if isinstance(found, numbers) and isinstance(expected, numbers) and not isinstance(found, bool):
        return math.isfinite(found) and abs(found - expected) <= tolerance
    return bool(found == expected)


def counts(checks_per_record: Sequence[Sequence[Check]]) -> tuple[int, int, int]:
    """(tool-call checks, wrong calls, missing calls) over a target's records."""
    details = [c.detail for checks in checks_per_record for c in checks if c.kind == KIND]
    return len(details), sum(d.startswith(WRONG) for d in details), sum(d.startswith(MISSING) for d in details)


def report_lines(targets: Sequence[tuple[str, Sequence[Sequence[Check]]]]) -> list[str]:
    """The report's "Tool calls" section: per target, the expected calls and how many were wrong or missing."""
    rows = [(label, *counts(checks)) for label, checks in targets]
    if not any(expected for _, expected, _, _ in rows):
        return []
    lines = ["", "## Tool calls", "", "| target | expected calls | wrong | missing |", "|---|---|---|---|"]
    return lines + [f"| {label} | {expected} | {wrong} | {missing} |" for label, expected, wrong, missing in rows]
