#!/usr/bin/env python3
"""An example LangGraph agent with one tool, whose LLM is whatever the endpoint's SSM parameter names.

    ./tasks.sh deploy-local claude-haiku-5-5     # the local rehearsal: a Bedrock endpoint in a local AWS emulator
    ./tasks.sh run-local python examples/agent.py --endpoint claude-haiku-5-5 "What is 1.408 times 730?"
    ./tasks.sh deploy-local mixtral-8x7b && ./tasks.sh run-local python examples/agent.py --endpoint mixtral-8x7b
    # against AWS: your credentials and region, the endpoint you deployed
    python examples/agent.py --endpoint chat --region us-east-1 "What is 1.408 times 730?"

The agent's code names only the endpoint. ``llm_client.chat_model`` reads ``/llm-endpoints/NAME`` and calls the
SageMaker endpoint (any of its variants) or the Bedrock model behind it; after a redeploy (a model swap, an A/B
split, a move to Bedrock) the same code calls the new one. Its tool works on every model: natively where the engine
parses the model's tool calls (Claude, mistral-7b-v0-3), else constrained by a JSON schema (mistral-7b,
mixtral-8x7b, Llama 2); see the README, "Tools on every model". In the local rehearsal the runtimes are a protocol
stand-in, not a model: it calls the first tool with numbers from the question, then quotes the tool's result.

Exit status: 0 answered, 1 the endpoint could not be called (one line on stderr says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

import llm_client

SYSTEM = "You are a cost assistant. Use the multiply tool for arithmetic and answer in one sentence."


@tool
def multiply(a: float, b: float) -> float:
    """Multiply a by b, e.g. an hourly price by a number of hours."""
    return round(a * b, 6)


TOOLS = [multiply]


def build_agent(model: BaseChatModel) -> Any:
    """model -> tools -> model ... until the model answers without a tool call."""
    llm = model.bind_tools(TOOLS)

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [llm.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model)
    graph.add_node("tools", ToolNode(TOOLS))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile()


def ask(agent: Any, question: str) -> str:
    result = agent.invoke({"messages": [HumanMessage(question)]})
    return str(result["messages"][-1].text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="?", default="What does an instance at $1.408 an hour cost for 730 hours?")
    parser.add_argument(
        "--endpoint", default=os.environ.get("LLM_ENDPOINT", "chat"), help="endpoint name (default: $LLM_ENDPOINT or chat)"
    )
    parser.add_argument("--region", help="AWS region (default: AWS_REGION or your AWS config)")
    args = parser.parse_args(argv)
    try:
        agent = build_agent(llm_client.chat_model(args.endpoint, region=args.region))
        print(ask(agent, args.question))
    except llm_client.LlmClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
