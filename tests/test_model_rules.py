"""What the current Claude models refuse, refused by llm_client before the call; and the client, the example agent and
the evaluation harness on those models in the rehearsal's protocol stand-in (Converse on 127.0.0.1).

The parameters are what the stacks publish for the shipped configs (model_configs/claude-*.yaml: capabilities), so a
change to a config's facts shows here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import llm_client
from llm_client.client import Client
from llm_client.errors import ParameterSchemaError, UnsupportedError
from llm_client.model_rules import forces_a_tool
from llm_client.parameter import BedrockModel, parse_parameter
from llm_config import BedrockModelConfig, ModelRegistry
from local_aws.protocol_standin import StandinServer, StaticCatalog
from tests.conftest import REPO_ROOT
from tests.test_evaluation import Session as EvaluationSession
from tests.test_evaluation import evaluate, results
from tests.test_llm_client import QUESTION, Session, bedrock_parameter

sys.path.insert(0, str(REPO_ROOT / "examples"))
import agent as example_agent

REGION = "us-east-1"
CURRENT = ["claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"]


def config(registry: ModelRegistry, key: str) -> BedrockModelConfig:
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    return model


def profile(registry: ModelRegistry, key: str) -> str:
    return config(registry, key).route(REGION, "test").invoke_id  # what the stack publishes for us-east-1


def parameter(registry: ModelRegistry, key: str, name: str) -> dict[str, Any]:
    """The parameter BedrockAccessStack writes for ``key`` in us-east-1 (tests/test_bedrock_access.py checks it)."""
    model = config(registry, key)
    published = bedrock_parameter(name, profile(registry, key))
    published.update(model_key=key, foundation_model_id=model.model_id, context_length=model.context_length)
    if model.capabilities is not None:
        published["capabilities"] = model.capabilities.published()
    return published


@pytest.fixture(scope="module")
def server(registry: ModelRegistry) -> Iterator[StandinServer]:
    profiles = {profile(registry, key) for key in [*CURRENT, "claude-haiku-4-5"]}
    standin = StandinServer(StaticCatalog({}, profiles))
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def session(server: StandinServer, registry: ModelRegistry) -> Session:
    server.requests.clear()
    fresh = Session(server.url)
    for key in [*CURRENT, "claude-haiku-4-5"]:
        fresh.put(key, parameter(registry, key, key))
    return fresh


def client(session: Session) -> Client:
    return Client(session=session, sleep=lambda _: None, random=lambda: 1.0)


# --- the plain path: request_fields --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"])
def test_a_fixed_thinking_budget_is_refused_before_the_call_with_the_way_out(session, server, key):
    budget = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    with pytest.raises(UnsupportedError, match=r"does not accept thinking type 'enabled': use thinking \{'type': 'adaptive'\}"):
        client(session).invoke(key, "Hello", request_fields=budget)
    with pytest.raises(UnsupportedError, match="effort level"):
        list(client(session).stream(key, "Hello", request_fields=budget))
    assert server.requests == [], "refused before any request left the client"


def test_opus_and_sonnet_5_5_cannot_turn_thinking_off_haiku_5_5_can(session, server):
    off = {"thinking": {"type": "disabled"}}
    for key in ("claude-opus-5-5", "claude-sonnet-5-5"):
        with pytest.raises(UnsupportedError, match="it cannot be turned off"):
            client(session).invoke(key, "Hello", request_fields=off)
    answer = client(session).invoke("claude-haiku-5-5", "Hello", request_fields=off)
    assert answer.served_by == "us.anthropic.claude-haiku-5-5"
    assert server.requests[-1]["body"]["additionalModelRequestFields"] == off  # sent as Converse takes it


@pytest.mark.parametrize("key", CURRENT)
def test_adaptive_thinking_and_plain_calls_reach_the_current_models(session, server, key):
    adaptive = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}
    made = client(session)
    answer = made.invoke(key, "Hello", request_fields=adaptive, max_tokens=64)
    streamed = "".join(made.stream(key, "Hello"))
    assert answer.text == streamed and answer.text.endswith("You said: Hello")
    path = f"/model/us.anthropic.{key}"  # the configs' keys are their model ids without "anthropic."
    assert [r["path"] for r in server.requests] == [f"{path}/converse", f"{path}/converse-stream"]
    assert server.requests[0]["body"]["additionalModelRequestFields"] == adaptive
    assert "additionalModelRequestFields" not in server.requests[1]["body"]


def test_the_newest_anthropic_api_version_is_refused_on_the_arn_versioned_models(session, server):
    with pytest.raises(UnsupportedError, match=r"refuses anthropic_version '2026-10-21' on Bedrock.*'bedrock-2023-05-31'"):
        client(session).invoke("claude-haiku-4-5", "Hello", request_fields={"anthropic_version": "2026-10-21"})
    assert server.requests == []
    client(session).invoke("claude-haiku-4-5", "Hello", request_fields={"anthropic_version": "bedrock-2023-05-31"})
    client(session).invoke("claude-opus-5-5", "Hello", request_fields={"anthropic_version": "2026-10-21"})  # 5.5: fine
    assert len(server.requests) == 2


def test_a_parameter_without_capabilities_is_checked_for_nothing(session, server, registry):
    older = parameter(registry, "claude-opus-5-5", "older")
    del older["capabilities"]  # written by a stack from before the capabilities existed
    session.put("older", older)
    client(session).invoke("older", "Hello", request_fields={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert len(server.requests) == 1  # Bedrock decides; the client does not guess


@pytest.mark.parametrize(
    "capabilities",
    [
        {"thinking_types": "adaptive", "forced_tool_use": False},
        {"thinking_types": ["adaptive"], "forced_tool_use": "no"},
        {"thinking_types": ["adaptive"], "forced_tool_use": False, "refused_anthropic_versions": [20261021]},
        ["adaptive"],
    ],
)
def test_a_malformed_capabilities_object_is_refused_clearly(registry, capabilities):
    broken = {**parameter(registry, "claude-opus-5-5", "chat"), "capabilities": capabilities}
    with pytest.raises(ParameterSchemaError, match="SSM parameter /llm-endpoints/chat: 'capabilities' must be an object"):
        parse_parameter("chat", json.dumps(broken))


@pytest.mark.parametrize(
    ("tool_choice", "forces"),
    [
        (None, False),
        ("auto", False),
        ("none", False),
        ({"type": "auto"}, False),
        ({"auto": {}}, False),
        ("any", True),
        ("required", True),
        ("multiply", True),
        (True, True),
        ({"type": "any"}, True),
        ({"type": "tool", "name": "multiply"}, True),
        ({"type": "function", "function": {"name": "multiply"}}, True),
        ({"any": {}}, True),
        ({"tool": {"name": "multiply"}}, True),
    ],
)
def test_which_tool_choices_force_a_tool(tool_choice, forces):
    assert forces_a_tool(tool_choice) is forces


# --- the chat model and the example agent --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["claude-sonnet-5-5", "claude-opus-5-5"])
@pytest.mark.parametrize("tool_choice", ["any", "multiply", {"type": "tool", "name": "multiply"}])
def test_forced_tool_use_is_refused_where_the_agent_binds_its_tools(session, server, key, tool_choice):
    model = llm_client.chat_model(key, session=session)
    with pytest.raises(UnsupportedError, match=r"refuses forced tool use .*leave tool_choice unset \(auto\)"):
        model.bind_tools(example_agent.TOOLS, tool_choice=tool_choice)
    assert server.requests == []


def test_forced_tool_use_still_works_where_the_model_takes_it(session, server):
    model = llm_client.chat_model("claude-haiku-5-5", session=session)
    reply = model.bind_tools(example_agent.TOOLS, tool_choice="any").invoke(QUESTION)
    assert reply.tool_calls and server.requests[-1]["body"]["toolConfig"]["toolChoice"] == {"any": {}}


def test_refused_options_bound_for_a_call_fail_before_it(session, server):
    model = llm_client.chat_model("claude-opus-5-5", session=session)
    budget = model.bind(additional_model_request_fields={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    with pytest.raises(UnsupportedError, match="does not accept thinking type 'enabled'"):
        budget.invoke("Hello")
    assert server.requests == []
    adaptive = model.bind(additional_model_request_fields={"thinking": {"type": "adaptive"}})
    assert adaptive.invoke("Hello").content
    assert server.requests[-1]["body"]["additionalModelRequestFields"] == {"thinking": {"type": "adaptive"}}


@pytest.mark.parametrize("key", CURRENT)
def test_the_example_agent_answers_through_each_current_model(session, server, key):
    agent = example_agent.build_agent(llm_client.chat_model(key, session=session))
    assert example_agent.ask(agent, QUESTION) == "The tool says: 1027.84"
    assert server.requests[-1]["body"]["toolConfig"]["tools"][0]["toolSpec"]["name"] == "multiply"
    assert "toolChoice" not in server.requests[-1]["body"]["toolConfig"]  # auto: what Sonnet and Opus 5.5 accept


def test_the_published_capabilities_reach_the_client(session, registry):
    endpoint = client(session).endpoint("claude-sonnet-5-5")
    assert isinstance(endpoint, BedrockModel) and endpoint.capabilities is not None
    assert endpoint.capabilities.thinking_types == ("adaptive",) and endpoint.capabilities.forced_tool_use is False


# --- the evaluation harness ----------------------------------------------------------------------------------


def test_the_evaluation_harness_compares_the_current_models(server, registry, tmp_path: Path):
    session = EvaluationSession(server.url)
    targets = [arg for key in CURRENT for arg in ("--target", key)]
    assert evaluate(session, tmp_path, *targets) == 0
    records = results(tmp_path)["records"]
    assert {r["target"]: r["served_by"] for r in records} == {key: profile(registry, key) for key in CURRENT}
    assert all(r["ok"] for r in records)
    for r in records:
        price_in, price_out = config(registry, r["target"]).price_per_1k
        assert r["cost_usd"] == pytest.approx(r["input_tokens"] / 1000 * price_in + r["output_tokens"] / 1000 * price_out)
