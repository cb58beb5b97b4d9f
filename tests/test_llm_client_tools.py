"""Tool calling on every SageMaker model: the parameter's three paths (native, constrained, none), each against the
protocol stand-in speaking the engine's wire format and refusing what the engine refuses, so a wrong path fails."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool

import llm_client
from llm_client import constrained
from llm_client.client import Client
from llm_client.parameter import SageMakerEndpoint, parse_parameter
from local_aws.protocol_standin import StandinEndpoint, StandinServer, StandinVariant, StaticCatalog
from tests.conftest import REPO_ROOT
from tests.test_llm_client import QUESTION, Session, sagemaker_parameter, variant

sys.path.insert(0, str(REPO_ROOT / "examples"))
import agent as example_agent


@tool
def multiply(a: float, b: float) -> float:
    """Multiply a by b."""
    return round(a * b, 6)


@tool
def add(a: float, b: float) -> float:
    """Add a and b."""
    return a + b


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    endpoints = {
        # Mistral 7B v0.3 on LMI started with vLLM's mistral tool-call parser.
        "native": StandinEndpoint("native", (StandinVariant("mistral-7b-v0-3", 1.0, "lmi", "mistral"),)),
        # Mixtral 8x7B v0.1 on LMI: vLLM has no parser for it.
        "constrained": StandinEndpoint("constrained", (StandinVariant("mixtral-8x7b", 1.0, "lmi"),)),
        "split": StandinEndpoint(
            "split",
            (StandinVariant("mistral-7b-v0-3", 9.0, "lmi", "mistral"), StandinVariant("mixtral-8x7b", 1.0, "lmi")),
        ),
    }
    standin = StandinServer(StaticCatalog(endpoints))
    standin.start()
    yield standin
    standin.stop()


def lmi(name: str, tool_calling: Any) -> dict[str, Any]:
    return variant(name, container="djl-lmi", tool_calling=tool_calling)


@pytest.fixture
def session(server: StandinServer) -> Session:
    server.requests.clear()
    fresh = Session(server.url)
    fresh.put("native", sagemaker_parameter(lmi("mistral-7b-v0-3", "native"), name="native"))
    fresh.put("constrained", sagemaker_parameter(lmi("mixtral-8x7b", "constrained"), name="constrained"))
    fresh.put("split", sagemaker_parameter(lmi("mistral-7b-v0-3", "native"), lmi("mixtral-8x7b", "constrained"), name="split"))
    return fresh


def chat(session: Session, name: str, **options: Any) -> Any:
    return llm_client.chat_model(name, client=Client(session=session, sleep=lambda _: None), **options)


def bodies(server: StandinServer) -> list[dict[str, Any]]:
    return [dict(r["body"]) for r in server.requests]


# --- the parameter -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "path"),
    [("native", "native"), ("constrained", "constrained"), ("none", "none"), (True, "native"), (False, "none")],
)
def test_the_parameter_names_each_variants_tool_path_and_still_reads_the_old_boolean(published, path):
    endpoint = parse_parameter("chat", json.dumps(sagemaker_parameter(lmi("m", published))))
    assert endpoint.tool_path == path


def test_a_tool_path_the_client_does_not_know_is_a_schema_error():
    with pytest.raises(
        llm_client.ParameterSchemaError, match="'tool_calling' is 'xml', expected one of native, constrained, none"
    ):
        parse_parameter("chat", json.dumps(sagemaker_parameter(lmi("m", "xml"))))


def test_a_split_takes_the_path_every_variant_accepts(session):
    split = Client(session=session).endpoint("split")
    assert isinstance(split, SageMakerEndpoint)
    assert split.tool_path == "constrained"  # structured output works on the native model too
    assert split.only("mistral-7b-v0-3").tool_path == "native"


# --- native ----------------------------------------------------------------------------------------------------


def test_native_sends_tools_and_maps_the_engines_tool_calls(session, server):
    message = chat(session, "native").bind_tools([multiply]).invoke(QUESTION)
    body = bodies(server)[-1]
    assert body["tools"][0]["function"]["name"] == "multiply" and "response_format" not in body
    assert message.tool_calls[0]["name"] == "multiply" and message.tool_calls[0]["args"] == {"a": 1.408, "b": 730.0}
    assert len(message.tool_calls[0]["id"]) == 9  # vLLM's mistral parser: 9 letters and digits


def test_native_streams_tool_call_chunks(session, server):
    chunks = list(chat(session, "native").bind_tools([multiply]).stream(QUESTION))
    assert any(isinstance(c, AIMessageChunk) and c.tool_call_chunks for c in chunks)
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls[0]["args"] == {"a": 1.408, "b": 730.0}


@pytest.mark.parametrize(
    ("tool_choice", "sent"), [("any", "required"), ("multiply", {"type": "function", "function": {"name": "multiply"}})]
)
def test_native_passes_tool_choice_in_the_chat_completions_form(session, server, tool_choice, sent):
    chat(session, "native").bind_tools([multiply], tool_choice=tool_choice).invoke(QUESTION)
    assert bodies(server)[-1]["tool_choice"] == sent


def test_the_example_agent_calls_its_tool_and_answers_on_a_native_model(session, server):
    answer = example_agent.ask(example_agent.build_agent(chat(session, "native")), QUESTION)
    assert answer == "The tool says: 1027.84"
    tool_turn = bodies(server)[-1]["messages"]
    # The engine got the call id back as the parser made it (the stand-in refuses any other, as Mistral's tokenizer does).
    assert tool_turn[-1]["role"] == "tool" and tool_turn[-1]["tool_call_id"] == tool_turn[-2]["tool_calls"][0]["id"]


# --- constrained -----------------------------------------------------------------------------------------------


def test_constrained_sends_one_schema_of_a_call_or_an_answer_and_maps_the_reply_to_a_tool_call(session, server):
    message = chat(session, "constrained").bind_tools([multiply, add]).invoke(QUESTION)
    body = bodies(server)[-1]
    assert "tools" not in body and "tool_choice" not in body and "guided_json" not in body
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert [a["properties"].get("tool", {}).get("enum") for a in schema["anyOf"]] == [["multiply"], ["add"], None]
    arguments = schema["anyOf"][0]["properties"]["arguments"]  # the tool's own parameters schema
    assert set(arguments["properties"]) == {"a", "b"} and arguments["required"] == ["a", "b"]
    assert [m["role"] for m in body["messages"]] == ["user"]  # the tools explained in the first user turn, no system
    assert "multiply" in body["messages"][0]["content"] and QUESTION in body["messages"][0]["content"]
    assert message.tool_calls[0]["name"] == "multiply" and message.tool_calls[0]["args"] == {"a": 1.408, "b": 730.0}


@pytest.mark.parametrize(("tool_choice", "tools"), [("any", [["multiply"], ["add"]]), ("add", [["add"]])])
def test_constrained_tool_choice_narrows_the_schema(session, server, tool_choice, tools):
    chat(session, "constrained").bind_tools([multiply, add], tool_choice=tool_choice).invoke(QUESTION)
    schema = bodies(server)[-1]["response_format"]["json_schema"]["schema"]
    alternatives = schema.get("anyOf") or [schema]
    assert [a["properties"]["tool"]["enum"] for a in alternatives] == tools  # no answer alternative


def test_constrained_streams_one_chunk_at_the_end(session, server):
    chunks = [c for c in chat(session, "constrained").bind_tools([multiply]).stream(QUESTION) if c.tool_call_chunks or c.text]
    assert len(chunks) == 1 and chunks[0].tool_calls[0]["args"] == {"a": 1.408, "b": 730.0}


def test_the_example_agent_calls_its_tool_and_answers_on_a_constrained_model(session, server):
    model = chat(session, "constrained")
    answer = example_agent.ask(example_agent.build_agent(model), QUESTION)
    assert answer.startswith("The tool says: Result of multiply: 1027.84")
    last = bodies(server)[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user"]  # alternating, as Mistral's template demands
    assert json.loads(last[1]["content"]) == {"tool": "multiply", "arguments": {"a": 1.408, "b": 730.0}}


def test_a_reply_that_is_neither_call_nor_answer_becomes_an_invalid_tool_call(session, server):
    server.script(json.dumps({"choices": [{"message": {"content": '{"tool": "mul'}, "finish_reason": "length"}]}).encode())
    message = chat(session, "constrained").bind_tools([multiply]).invoke(QUESTION)
    assert message.tool_calls == []
    assert "not JSON (cut off at max_tokens: allow more tokens)" in message.invalid_tool_calls[0]["error"]


def test_a_split_between_a_native_and_a_constrained_model_sends_the_constrained_request(session, server):
    chat(session, "split").bind_tools([multiply]).invoke(QUESTION)
    assert "response_format" in bodies(server)[-1] and "tools" not in bodies(server)[-1]


def test_constrained_cannot_call_tools_in_parallel_and_says_what_can(session):
    with pytest.raises(llm_client.UnsupportedError, match=r"mixtral-8x7b.*one call per reply.*mistral-7b-v0-3, or a Bedrock"):
        chat(session, "constrained").bind_tools([multiply], parallel_tool_calls=True)


def test_schema_admits_exactly_a_call_of_a_bound_tool_or_an_answer():
    import jsonschema

    parameters = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}
    tools = [{"type": "function", "function": {"name": "multiply", "parameters": parameters}}]
    validator = jsonschema.Draft202012Validator(constrained.schema(tools))
    assert validator.is_valid({"tool": "multiply", "arguments": {"a": 1, "b": 2}})
    assert validator.is_valid({"answer": "1027.84"})
    assert not validator.is_valid({"tool": "rm", "arguments": {}})
    assert not validator.is_valid({"tool": "multiply", "arguments": {"a": "one", "b": 2}})
    assert not validator.is_valid({"tool": "multiply", "arguments": {"a": 1, "b": 2}, "answer": "x"})


# --- the stand-in refuses the wrong path ------------------------------------------------------------------------


def test_tools_sent_natively_to_a_model_without_a_parser_fail_as_on_vllm(session, server):
    session.put("constrained", sagemaker_parameter(lmi("mixtral-8x7b", "native"), name="constrained"))  # a wrong parameter
    with pytest.raises(llm_client.InvocationError, match='"auto" tool choice requires --enable-auto-tool-choice'):
        chat(session, "constrained").bind_tools([multiply]).invoke(QUESTION)


def test_the_stand_in_refuses_guided_json_which_vllm_now_ignores(session, server):
    client = Client(session=session)
    endpoint = client.endpoint("constrained")
    runtime = client.runtime(endpoint)
    body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "guided_json": {"type": "object"}}
    with pytest.raises(Exception, match=r"guided_json was removed in vLLM 0\.12"):
        runtime.invoke_endpoint(EndpointName="constrained", ContentType="application/json", Body=json.dumps(body))


def test_a_model_without_tool_calling_is_refused_at_bind_with_the_alternative(session):
    session.put("constrained", sagemaker_parameter(lmi("mixtral-8x7b", "none"), name="constrained"))
    with pytest.raises(
        llm_client.UnsupportedError, match=r"endpoint constrained \(mixtral-8x7b\) cannot call tools.*tool_calling"
    ):
        chat(session, "constrained").bind_tools([multiply])
