"""Evaluation of tool use: a test-set case offers tools and expects a call (tool name, arguments by value or schema);
two models' tool use side by side, the report counting wrong and missing calls. Runs against the protocol stand-in
(a native model and a constrained one)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluation import cli
from evaluation.testset import EvaluationInputError, load_tests
from evaluation.tool_expectations import ToolCallExpectation, check_tool_calls
from local_aws.protocol_standin import StandinEndpoint, StandinServer, StandinVariant, StaticCatalog
from tests.conftest import REPO_ROOT
from tests.test_llm_client import Session, sagemaker_parameter, variant

NUMBERS = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}
TOOLS = [
    {"name": "multiply", "description": "Multiply a by b.", "parameters": NUMBERS},
    {"name": "add", "description": "Add a and b.", "parameters": NUMBERS},
]
QUESTION = "What does an instance at $1.408 an hour cost for 730 hours?"


def write(tmp_path: Path, *cases: dict[str, Any]) -> Path:
    path = tmp_path / "tests.yaml"
    path.write_text(json.dumps({"cases": list(cases)}))
    return path


def test_the_shipped_tool_example_loads():
    cases = load_tests(REPO_ROOT / "evaluation" / "examples" / "tools.yaml")
    assert [c.expectation_kinds for c in cases] == [("tool_call",), ("contains",)]


def test_a_case_offers_tools_and_expects_a_call(tmp_path):
    expect = {"tool_call": {"name": "multiply", "arguments": {"a": 1.408, "b": 730}, "tolerance": 0.001}}
    (case,) = load_tests(write(tmp_path, {"id": "price", "prompt": QUESTION, "tools": TOOLS, "expect": expect}))
    assert [t["function"]["name"] for t in case.tools] == ["multiply", "add"]
    assert case.tool_call == ToolCallExpectation(name="multiply", arguments={"a": 1.408, "b": 730}, tolerance=0.001)
    assert case.expectation_kinds == ("tool_call",)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ({"expect": {"tool_call": {"name": "multiply"}}}, "expect.tool_call: the case offers no tools: add 'tools:'"),
        ({"tools": TOOLS, "expect": {"tool_call": {"name": "divide"}}}, "'divide' is not one of the case's tools"),
        ({"tools": [TOOLS[0], TOOLS[0]]}, "a tool name appears twice"),
        ({"tools": [{"name": "x", "parameters": {"type": "nothing"}}]}, "tools.x.parameters: not a valid JSON Schema"),
        ({"tools": TOOLS, "expect": {"tool_call": {"name": "add", "argument": {}}}}, r"expect.tool_call.argument"),
    ],
)
def test_bad_tool_cases_name_the_case_field_and_fix(tmp_path, case, message):
    with pytest.raises(EvaluationInputError, match=message):
        load_tests(write(tmp_path, {"id": "c", "prompt": "p", **case}))


@pytest.mark.parametrize(
    ("calls", "score", "detail"),
    [
        ([{"name": "multiply", "arguments": {"a": 1.4080001, "b": 730}}], 1.0, "called multiply"),
        ([{"name": "add", "arguments": {"a": 1, "b": 2}}], 0.0, "wrong: called add, expected multiply"),
        ([{"name": "multiply", "arguments": {"a": 2, "b": 730}}], 0.0, "wrong: multiply argument a is 2, expected 1.408"),
        ([], 0.0, "missing: no call of multiply"),
        ([{"name": "multiply", "arguments": {}, "error": "the arguments are not JSON"}], 0.0, "missing: .*not JSON"),
    ],
)
def test_the_tool_call_check(calls, score, detail):
    expected = ToolCallExpectation(name="multiply", arguments={"a": 1.408, "b": 730}, tolerance=0.001)
    (check,) = check_tool_calls(expected, calls)
    assert check.kind == "tool_call" and check.score == score
    assert re.match(detail, check.detail)


def test_arguments_by_schema():
    expected = ToolCallExpectation(name="multiply", arguments_schema={"type": "object", "required": ["a", "b"]})
    assert check_tool_calls(expected, [{"name": "multiply", "arguments": {"a": 1, "b": 2}}])[0].score == 1.0
    (check,) = check_tool_calls(expected, [{"name": "multiply", "arguments": {"a": 1}}])
    assert check.score == 0.0 and "'b' is a required property" in check.detail


# --- two models' tool use side by side ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    endpoints = {
        "native": StandinEndpoint("native", (StandinVariant("mistral-7b-v0-3", 1.0, "lmi", "mistral"),)),
        "constrained": StandinEndpoint("constrained", (StandinVariant("mixtral-8x7b", 1.0, "lmi"),)),
    }
    standin = StandinServer(StaticCatalog(endpoints))
    standin.start()
    yield standin
    standin.stop()


def test_two_models_tool_use_compared_and_wrong_or_missing_calls_counted(server, tmp_path):
    session = Session(server.url)
    native = variant("mistral-7b-v0-3", container="djl-lmi", tool_calling="native")
    session.put("native", sagemaker_parameter(native, name="native"))
    constrained = variant("mixtral-8x7b", container="djl-lmi", tool_calling="constrained")
    session.put("constrained", sagemaker_parameter(constrained, name="constrained"))
    price = {"tool_call": {"name": "multiply", "arguments": {"a": 1.408, "b": 730}}}
    tests = write(
        tmp_path,
        {"id": "chat", "prompt": "Hello", "tools": TOOLS, "expect": {"tool_call": {"name": "multiply"}}},
        {"id": "price", "prompt": QUESTION, "tools": TOOLS, "expect": price},
        {"id": "sum", "prompt": "What is 2 plus 3?", "tools": TOOLS, "expect": {"tool_call": {"name": "add"}}},
    )
    # Jobs run case by case, each on every target in turn: the first request (native, "chat") gets an answer, no call.
    server.script(json.dumps({"choices": [{"message": {"content": "Hello!"}}]}).encode())
    server.requests.clear()
    argv = ["--tests", str(tests), "--target", "native", "--target", "constrained", "--out", str(tmp_path / "out")]
    assert cli.main([*argv, "--no-progress", "--concurrency", "1"], session=session, sleep=lambda _: None) == 0
    records = json.loads((tmp_path / "out" / "results.json").read_text())["records"]
    calls = {(r["target"], r["case"]): r["tool_calls"] for r in records}
    assert calls[("native", "price")][0]["arguments"] == {"a": 1.408, "b": 730.0}
    assert calls[("constrained", "price")][0]["name"] == "multiply"
    assert {r["checks"][0]["detail"].split(":")[0] for r in records if r["case"] == "sum"} == {"wrong"}  # calls the first
    assert [r["body"].get("response_format") is not None for r in server.requests][:2] == [False, True]  # each its path
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Tool calls" in report
    assert "| native | 3 | 1 | 1 |" in report and "| constrained | 3 | 1 | 0 |" in report
