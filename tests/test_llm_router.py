"""Routers in llm_client (llm_client.router, llm_client.router_chat) against the protocol stand-in on 127.0.0.1: the
policy picks the route, a route that fails hands over to the other, tools need a route that can call them, a
LangGraph thread keeps its route, and a tampered policy or a looping router is refused."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

import llm_client
from llm_client import chat
from llm_client.routing_policy import heuristic_policy
from local_aws.protocol_standin import StandinServer
from tests.conftest import REPO_ROOT
from tests.test_llm_client import (
    PROFILE,
    QUESTION,
    Session,
    client,
    sagemaker_parameter,
    server,
    session,
    variant,
)

__all__ = ["server", "session"]  # the stand-in fixtures

sys.path.insert(0, str(REPO_ROOT / "examples"))
import agent as example_agent


def router_parameter(name: str = "router", weak: str = "chat", strong: str = "assistant", **overrides: Any) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "hosting": "router",
        "endpoint_name": name,
        "region": "us-east-1",
        "routes": {"weak": weak, "strong": strong},
        "policy": heuristic_policy(),
        **overrides,
    }


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_policy_picks_the_route_and_the_answer_says_which(session: Session) -> None:
    session.put("router", router_parameter())
    made = client(session)
    strong = made.invoke("router", "Why is the sky blue?")
    weak = made.invoke("router", "Hello")
    assert (strong.route, strong.served_by, strong.endpoint) == ("assistant", PROFILE, "router")
    assert strong.route_reason == "policy: score 1.000 >= threshold 0.5"
    assert (weak.route, weak.hosting, weak.served_by) == ("chat", "sagemaker", "mistral-7b")
    assert "stand-in" in weak.text and "".join(made.stream("router", "Hello")) == weak.text


def test_a_route_that_is_gone_fails_over_to_the_other(session: Session) -> None:
    session.put("gone", sagemaker_parameter(name="no-such-endpoint"))
    session.put("router", router_parameter(weak="gone"))
    answer = client(session, attempts=1).invoke("router", "Hello")
    assert answer.route == "assistant"
    assert answer.route_reason == "failover from gone (EndpointNotFoundError)"


def test_a_route_whose_stack_was_destroyed_fails_over_to_the_other(session: Session) -> None:
    """Its parameter is gone with its stack (the rehearsal destroys the weak route's stack to show it)."""
    session.put("router", router_parameter(weak="destroyed"))
    answer = client(session, attempts=1).invoke("router", "Hello")
    assert answer.route == "assistant"
    assert answer.route_reason == "failover from destroyed (EndpointNotFoundError)"


def test_a_policy_sending_everything_one_way_is_a_failover_pair(session: Session) -> None:
    session.put("router", router_parameter(policy=heuristic_policy(threshold=0.0)))
    assert client(session).invoke("router", "Hello").route == "assistant"


def test_tampered_policy_and_loops_are_refused(session: Session) -> None:
    tampered = router_parameter()
    tampered["policy"]["threshold"] = 0.0
    session.put("router", tampered)
    with pytest.raises(llm_client.ParameterSchemaError, match="field 'sha256' does not match"):
        client(session).invoke("router", "Hello")
    session.put("router", router_parameter(weak="router"))
    with pytest.raises(llm_client.ParameterSchemaError, match="route 'weak' is the router itself"):
        client(session).invoke("router", "Hello")
    session.put("router", router_parameter(weak="other"))
    session.put("other", router_parameter(name="other"))
    with pytest.raises(llm_client.ParameterSchemaError, match="route 'other' is itself a router"):
        client(session).invoke("router", "Hello")
    session.put("router", router_parameter())
    with pytest.raises(llm_client.UnsupportedError, match="router is a router"):
        client(session).endpoint("router")


def test_chat_model_is_sticky_per_thread(session: Session) -> None:
    session.put("router", router_parameter())
    model = chat.chat_model("router", client=client(session))
    node: RunnableLambda[str, AIMessage] = RunnableLambda(
        lambda text: model.invoke(text)
    )  # as a LangGraph node calls it: the run's config in context
    first = node.invoke("Why is the sky blue?", config={"configurable": {"thread_id": "t1"}})
    again = node.invoke("Hello", config={"configurable": {"thread_id": "t1"}})
    other = node.invoke("Hello", config={"configurable": {"thread_id": "t2"}})
    assert first.response_metadata["route"] == again.response_metadata["route"] == "assistant"
    assert again.response_metadata["route_reason"] == "sticky: thread t1"
    assert other.response_metadata["route"] == "chat"
    # Without a thread, the history's last AI message names the conversation's route.
    history = [
        HumanMessage("Why?"),
        AIMessage("", response_metadata={"router": "router", "route": "assistant"}),
        HumanMessage("Hi"),
    ]
    assert model.invoke(history).response_metadata["route"] == "assistant"
    assert llm_client.chat.describe_model(model)["hosting"] == "router"


def test_tools_go_to_a_route_that_can_call_them(session: Session) -> None:
    session.put("chat", sagemaker_parameter(variant(tool_calling=False)))
    session.put("router", router_parameter())
    model = chat.chat_model("router", client=client(session)).bind_tools([add])
    reply = model.invoke("Hello")  # the policy says weak, which cannot call tools
    assert reply.response_metadata["route"] == "assistant"
    assert reply.response_metadata["route_reason"].startswith("tools bound and chat cannot call tools")
    session.put("assistant", sagemaker_parameter(variant(tool_calling=False), name="assistant"))
    with pytest.raises(llm_client.UnsupportedError, match="no route can call tools"):
        chat.chat_model("router", client=client(session)).bind_tools([add])


def test_tool_calling_none_is_a_route_that_cannot_call_tools(session: Session) -> None:
    session.put("chat", sagemaker_parameter(variant(tool_calling="none")))
    session.put("lmi", sagemaker_parameter(variant(tool_calling="constrained", container="djl-lmi"), name="lmi"))
    session.put("router", router_parameter(strong="lmi"))
    reply = chat.chat_model("router", client=client(session)).bind_tools([add]).invoke("Hello")
    assert reply.response_metadata["route"] == "lmi"


def test_the_example_agent_runs_unchanged_on_a_router_and_keeps_one_route_through_its_tool_loop(
    session: Session, server: StandinServer
) -> None:
    session.put("router", router_parameter())
    agent = example_agent.build_agent(llm_client.chat_model("router", session=session))
    assert example_agent.ask(agent, QUESTION) == "The tool says: 1027.84"  # the policy: weak (no reasoning word)
    assert [r["path"] for r in server.requests] == ["/endpoints/chat/invocations"] * 2  # model, tool, model: one route
    server.requests.clear()
    assert example_agent.ask(agent, f"Explain: {QUESTION}") == "The tool says: 1027.84"  # strong: Bedrock
    assert {r["path"] for r in server.requests} == {f"/model/{PROFILE.replace(':', '%3A')}/converse"}
