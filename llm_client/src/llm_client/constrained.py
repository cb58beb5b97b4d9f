"""Tool calling on a model that was never trained for it (``tool_calling: constrained`` in the parameter).

vLLM (the LMI container's engine) parses a model's tool calls only with a tool-call parser made for the model's
format: Mistral 7B v0.3 has one, Mixtral 8x7B v0.1 and Llama 2 have none. What vLLM does for every model is
structured output: a JSON schema in ``response_format`` (``{"type": "json_schema", ...}``) constrains decoding so
the reply is valid against it, token by token. (The old ``guided_json`` field was removed in vLLM 0.12 and is now
ignored without a word, so it is never sent.)

So the client turns the bound tools into one schema that admits exactly two kinds of reply:

- ``{"tool": NAME, "arguments": {...}}``: a call of one bound tool, its arguments valid against that tool's schema;
- ``{"answer": "..."}``: the final answer (left out when ``tool_choice`` forces a call).

and maps the reply back onto OpenAI-style tool calls (LangChain ``tool_calls``), so the agent sees what a native
model would give it. The model learns the tools from a system text that lists them. Because Mistral's and Llama 2's
chat templates know only user and assistant turns (Mistral's refuses a system turn), the conversation is sent as
alternating user / assistant turns: the instructions and any system text lead the first user turn, a past tool call
is the assistant's JSON, and a tool's result is a user turn that quotes it.

Costs: vLLM compiles the schema into a grammar on the first request that uses it (cached afterwards; a new set of
tools compiles again), and a model never trained for tools chooses them less well than one that was: the schema
guarantees the shape, not the judgement. One call per turn (no parallel calls). A streamed reply arrives as one
chunk at its end: the JSON is only a call or an answer once it is complete.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from llm_client import wire

SCHEMA_NAME = "tool_call_or_answer"
CALL_ID_ALPHABET = string.ascii_letters + string.digits


def tool_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(t["function"]["name"]) for t in tools]


def forced_tool(tool_choice: Any) -> str | None:
    """The tool a named ``tool_choice`` (Chat Completions form) forces, if any."""
    if isinstance(tool_choice, Mapping):
        return str((tool_choice.get("function") or {}).get("name") or "") or None
    return None


def schema(tools: Sequence[Mapping[str, Any]], tool_choice: Any = None) -> dict[str, Any]:
    """One JSON schema for a call of one tool (its arguments valid against its parameters) or a final answer.
    ``tool_choice``: None or "auto" (either), "required" (a call of any tool), or a named tool (a call of it)."""
    forced = forced_tool(tool_choice)
    calls = [
        {
            "type": "object",
            "properties": {
                "tool": {"type": "string", "enum": [t["function"]["name"]]},
                "arguments": t["function"].get("parameters") or {"type": "object", "properties": {}},
            },
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
        if forced is None or t["function"]["name"] == forced
    ]
    answer = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    alternatives = calls if tool_choice == "required" or forced else [*calls, answer]
    return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}


def response_format(tools: Sequence[Mapping[str, Any]], tool_choice: Any = None) -> dict[str, Any]:
    """The Chat Completions ``response_format`` that vLLM's structured-output backend enforces."""
    return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "schema": schema(tools, tool_choice), "strict": True}}


def instructions(tools: Sequence[Mapping[str, Any]], tool_choice: Any = None) -> str:
    listed = "\n".join(
        f"- {t['function']['name']}: {t['function'].get('description') or ''} Arguments (JSON schema): "
        f"{json.dumps(t['function'].get('parameters') or {})}"
        for t in tools
    )
    forced = forced_tool(tool_choice)
    if forced:
        how = f'Call the tool {forced}: reply {{"tool": "{forced}", "arguments": {{...}}}}.'
    elif tool_choice == "required":
        how = 'Call one tool: reply {"tool": NAME, "arguments": {...}}.'
    else:
        how = (
            'To call a tool, reply {"tool": NAME, "arguments": {...}}. When you can answer without one (for example '
            'after a tool result), reply {"answer": "your answer"}.'
        )
    return f"You can use these tools:\n{listed}\nReply with one JSON object only. {how}"


def messages(
    conversation: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]], tool_choice: Any = None
) -> list[dict[str, Any]]:
    """The conversation as alternating user / assistant turns that any chat template accepts, tools explained first."""
    system = [instructions(tools, tool_choice), *(wire.text_of(m) for m in conversation if m.get("role") == "system")]
    turns: list[dict[str, Any]] = []
    for message in conversation:
        role = message.get("role")
        if role == "user":
            turns.append({"role": "user", "content": wire.text_of(message)})
        elif role == "assistant":
            calls = message.get("tool_calls") or []
            text = "\n".join(
                json.dumps({"tool": c["function"]["name"], "arguments": _arguments(c["function"].get("arguments"))})
                for c in calls
            ) or json.dumps({"answer": wire.text_of(message)})
            turns.append({"role": "assistant", "content": text})
        elif role == "tool":
            name = message.get("name") or "the tool"
            turns.append({"role": "user", "content": f"Result of {name}: {wire.text_of(message)}"})
    merged: list[dict[str, Any]] = []
    for turn in turns:
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"] += "\n\n" + turn["content"]
        else:
            merged.append(turn)
    if not merged or merged[0]["role"] != "user":
        merged.insert(0, {"role": "user", "content": ""})
    merged[0]["content"] = "\n\n".join([*system, merged[0]["content"]]).strip()
    return merged


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value or {}


def call_id() -> str:
    """A tool-call id of 9 letters and digits: what Mistral's tokenizer and vLLM's Mistral parser use, and valid
    anywhere else."""
    return "".join(secrets.choice(CALL_ID_ALPHABET) for _ in range(9))


def parse(reply: wire.Reply, tools: Sequence[Mapping[str, Any]]) -> wire.Reply:
    """The constrained reply as a tool call or a text answer. A reply that is not what the schema admits (cut off by
    ``max_tokens``, say) becomes an invalid tool call that says why, never a call the agent would run."""
    text = reply.text.strip()
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict) and set(document) == {"answer"} and isinstance(document["answer"], str):
        reply.text = document["answer"]
        return reply
    if isinstance(document, dict) and set(document) == {"tool", "arguments"} and isinstance(document["tool"], str):
        call = wire.tool_call_of(call_id(), document["tool"], json.dumps(document["arguments"]))
        if call.error is None and call.name not in tool_names(tools):
            call.error = f"{call.name!r} is not one of the offered tools ({', '.join(tool_names(tools))})"
        reply.text, reply.tool_calls = "", [call]
        return reply
    reason = "the reply is not JSON" if document is None else "the reply is neither a tool call nor an answer"
    if reply.finish_reason == "length":
        reason += " (cut off at max_tokens: allow more tokens)"
    reply.tool_calls = [wire.ToolCall(call_id(), "", {}, error=f"{reason}: {wire.shown(text)}", raw_arguments=text)]
    reply.text = ""
    return reply
