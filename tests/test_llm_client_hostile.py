"""llm_client fed hostile but possible replies and parameter values: each is one typed LlmClientError (or a documented
repair: an invalid tool call), bounded in time and memory. The replies come over real HTTP from the protocol stand-in
(``StandinServer.script``), parsed by botocore as in production."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import tool

import llm_client
from evaluation import cli
from llm_client import wire
from llm_client.client import Client
from local_aws.protocol_standin import StandinEndpoint, StandinServer, StandinVariant, StaticCatalog
from tests.test_llm_client import Session, sagemaker_parameter, variant

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    standin = StandinServer(StaticCatalog({"chat": StandinEndpoint("chat", (StandinVariant("mistral-7b", 1.0, "lmi"),))}))
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def session(server: StandinServer) -> Session:
    fresh = Session(server.url)
    fresh.put("chat", sagemaker_parameter(variant(container="djl-lmi")))
    return fresh


def client(session: Session, **options: Any) -> Client:
    return Client(session=session, sleep=lambda _: None, **options)


def chat(session: Session, **options: Any) -> Any:
    return llm_client.chat_model("chat", client=client(session, **options))


@tool
def multiply(a: float, b: float) -> float:
    """Multiply a by b."""
    return a * b


def completion(message: dict[str, Any]) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()


# --- replies that are not the container's format -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (HTML, "not a Chat Completions object: it starts '<html>"),
        (b"[1, 2, 3]", "found list"),
        (b'{"choices": "none"}', "choices is a str, not a list"),
        (b'{"choices": [{"message": {"content": 42}}]}', "message content is a int, not text"),
        (b'{"choices": [{"message": {"tool_calls": {"id": 1}}}]}', "tool_calls is a dict, not a list"),
        (b"[" * 5000 + b"]" * 5000, "not a Chat Completions object"),  # too deep for the JSON parser
    ],
)
def test_a_200_reply_that_is_not_the_containers_json_is_one_error_on_every_path(session, server, body, found):
    server.script(body)
    expected = f"endpoint chat .*answered, but not in its container's format.*{found}"
    with pytest.raises(llm_client.MalformedReplyError, match=expected):
        client(session).invoke("chat", "Hello")
    server.script(body)
    with pytest.raises(llm_client.MalformedReplyError, match=found):
        chat(session).invoke("Hello")


@pytest.mark.parametrize(
    "line", [b"data: <html>oops</html>\n\n", b"{not json}\n", b"data: [1, 2]\n\n", b'data: {"choices": 7}\n\n']
)
def test_a_stream_line_that_is_not_a_json_chunk_is_one_error(session, server, line):
    server.script(line)
    with pytest.raises(llm_client.MalformedReplyError, match="not in its container's format"):
        list(client(session).stream("chat", "Hello"))
    server.script(line)
    with pytest.raises(llm_client.MalformedReplyError, match="not in its container's format"):
        list(chat(session).stream("Hello"))


def test_server_sent_event_fields_and_comments_are_not_errors(session, server):
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    data = b"data: " + json.dumps(chunk).encode()
    server.script(b": keep-alive\n\nevent: message\nid: 1\n" + data + b"\n\ndata:\n\ndata: [DONE]\n\n")
    assert list(client(session).stream("chat", "Hello")) == ["Hi"]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [("{'a': 1.408", "the arguments are not JSON"), ("[1.408, 730]", "not a JSON object"), ('"730"', "not a JSON object")],
)
def test_tool_call_arguments_that_are_not_a_json_object_become_an_invalid_tool_call(session, server, arguments, error):
    call = {"id": "call_1", "type": "function", "function": {"name": "multiply", "arguments": arguments}}
    server.script(completion({"role": "assistant", "content": None, "tool_calls": [call]}))
    message = chat(session).bind_tools([multiply]).invoke("What is 1.408 times 730?")
    assert message.tool_calls == []  # LangGraph's ToolNode never runs it
    assert message.invalid_tool_calls[0]["name"] == "multiply"
    assert message.invalid_tool_calls[0]["args"] == arguments
    assert error in message.invalid_tool_calls[0]["error"]


def test_a_tool_call_naming_a_tool_that_was_not_offered_becomes_an_invalid_tool_call(session, server):
    call = {"id": "call_1", "type": "function", "function": {"name": "rm_rf", "arguments": '{"path": "/"}'}}
    server.script(completion({"role": "assistant", "content": None, "tool_calls": [call]}))
    message = chat(session).bind_tools([multiply]).invoke("What is 1.408 times 730?")
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["name"] == "rm_rf"
    assert "not one of the offered tools (multiply)" in message.invalid_tool_calls[0]["error"]


# --- bounded in time and memory ------------------------------------------------------------------------------


def test_a_stream_that_trickles_forever_ends_at_the_whole_call_deadline(session, server):
    # One byte every 20 ms: each socket read succeeds well within the read timeout, so only a deadline ends it.
    trickle = [b"x"] * 1000  # 20 s if read to the end
    for call in (
        lambda: list(client(session, deadline_seconds=0.5).stream("chat", "Hello")),
        lambda: list(chat(session, deadline_seconds=0.5).stream("Hello")),
        lambda: client(session, deadline_seconds=0.5).invoke("chat", "Hello"),
    ):
        server.script(*trickle, delay_seconds=0.02)
        started = time.monotonic()
        with pytest.raises(llm_client.CallTimeoutError, match=r"still sending its reply after 0\.5 s, the whole call's deadline"):
            call()
        assert time.monotonic() - started < 10  # far below the 20 s of the whole trickle


def test_the_whole_call_deadline_defaults_to_ten_latency_budgets(session):
    made = client(session)
    assert made.deadline_for(made.endpoint("chat")) == 10 * 5  # the parameter's latency budget: 5 s


def test_a_body_over_the_cap_is_refused_before_it_fills_memory(session, server):
    megabyte = b" " * 2**20
    server.script(b"{", *[megabyte] * (wire.MAX_BODY_BYTES // 2**20 + 4))
    with pytest.raises(llm_client.MalformedReplyError, match=f"body is over {wire.MAX_BODY_BYTES} bytes"):
        client(session).invoke("chat", "Hello")


def test_a_stream_line_over_the_cap_is_refused(session, server):
    server.script(b"data: {", *[b"x" * 2**18] * 8)  # 2 MiB without a newline
    with pytest.raises(llm_client.MalformedReplyError, match=f"line of the reply stream is over {wire.MAX_LINE_BYTES} bytes"):
        list(client(session).stream("chat", "Hello"))


# --- parameter values ----------------------------------------------------------------------------------------


def test_a_parameter_nested_2000_deep_is_a_schema_error(session):
    session.ssm.parameters["/llm-endpoints/chat"] = "[" * 2000 + "]" * 2000
    with pytest.raises(llm_client.ParameterSchemaError, match="does not hold JSON"):
        client(session).invoke("chat", "Hello")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 0, 1e9])
@pytest.mark.parametrize(
    "field", ["latency_budget_seconds", "max_input_tokens", "max_total_tokens", "expected_cold_start_seconds"]
)
def test_numbers_of_the_parameter_must_be_finite_and_in_range(session, field, value):
    parameter = sagemaker_parameter(variant())
    if field == "expected_cold_start_seconds":
        parameter.update(scale_to_zero=True, inference_component_name="c", expected_cold_start_seconds=value)
        parameter["variants"][0].update(inference_component_name="c", weight=100)
    else:
        parameter["variants"][0][field] = value
    session.ssm.parameters["/llm-endpoints/chat"] = json.dumps(parameter)  # writes NaN and Infinity, as Python can
    with pytest.raises(llm_client.ParameterSchemaError, match=f"'{field}' is .*; it must be a"):
        client(session).invoke("chat", "Hello")


def test_max_total_tokens_below_max_input_tokens_is_a_schema_error(session):
    session.put("chat", sagemaker_parameter(variant(max_input_tokens=8192, max_total_tokens=6144)))
    expected = r"'max_total_tokens' \(6144\) must be above 'max_input_tokens' \(8192\)"
    with pytest.raises(llm_client.ParameterSchemaError, match=expected):
        client(session).invoke("chat", "Hello")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cold_start_seconds": float("nan")}, "cold_start_seconds=nan: give a finite number"),
        ({"cold_start_seconds": float("inf")}, "cold_start_seconds=inf: give a finite number"),
        ({"deadline_seconds": 0}, "deadline_seconds=0: give seconds above 0"),
        ({"timeout_seconds": float("nan")}, "timeout_seconds=nan"),
        ({"attempts": 0}, "attempts=0: give a whole number of tries"),
    ],
)
def test_client_options_must_be_finite_and_in_range(session, options, message):
    with pytest.raises(llm_client.ConfigurationError, match=message):
        client(session, **options)


@pytest.mark.parametrize(("option", "value"), [("max_tokens", float("nan")), ("max_tokens", 0), ("temperature", float("inf"))])
def test_call_options_must_be_in_range(session, option, value):
    with pytest.raises(llm_client.ConfigurationError, match=f"{option}="):
        client(session).invoke("chat", "Hello", **{option: value})


# --- evaluate ------------------------------------------------------------------------------------------------


def test_evaluate_scores_a_hostile_reply_as_an_error_and_still_writes_its_reports(session, server, tmp_path: Path):
    tests = tmp_path / "tests.yaml"
    tests.write_text(json.dumps({"cases": [{"id": "one", "prompt": "Hello"}, {"id": "two", "prompt": "Hi"}]}))
    server.script(HTML)
    argv = ["--tests", str(tests), "--target", "chat", "--out", str(tmp_path / "out"), "--no-progress", "--concurrency", "1"]
    assert cli.main(argv, session=session, sleep=lambda _: None) == 0
    records = json.loads((tmp_path / "out" / "results.json").read_text())["records"]
    kinds = sorted((r["case"], r["ok"], r["error_kind"]) for r in records)
    assert kinds == [("one", False, "error"), ("two", True, None)]
    assert "not in its container's format" in (tmp_path / "out" / "report.md").read_text()


def test_evaluate_ends_a_trickling_stream_at_the_deadline_and_scores_it_as_a_timeout(session, server, tmp_path: Path):
    tests = tmp_path / "tests.yaml"
    tests.write_text(json.dumps({"cases": [{"id": "one", "prompt": "Hello"}]}))
    server.script(*[b"x"] * 1000, delay_seconds=0.02)  # 20 s if read to the end
    argv = ["--tests", str(tests), "--target", "chat", "--out", str(tmp_path / "out"), "--no-progress"]  # streams: the default
    assert cli.main(argv, session=session, sleep=lambda _: None, deadline_seconds=0.5) == 0
    (record,) = json.loads((tmp_path / "out" / "results.json").read_text())["records"]
    assert (record["ok"], record["error_kind"]) == (False, "timeout")
    assert record["latency_seconds"] < 10
