"""Request and response JSON of the serving containers behind a SageMaker endpoint.

- ``messages``: the OpenAI-style Chat Completions schema, which the LMI (vLLM) container and TGI >= 1.4 accept on
  SageMaker's /invocations when the body has ``messages``. Streaming answers are ``chat.completion.chunk`` objects,
  as server-sent events (``data: {...}``) or JSON lines, split across SageMaker PayloadParts at arbitrary bytes.
- ``text``: ``{"inputs": PROMPT, "parameters": {...}}``; TGI answers ``[{"generated_text": ...}]``, LMI
  ``{"generated_text": ...}``; streamed tokens are ``{"token": {"text": ...}}`` (TGI as events, LMI as JSON lines).
  Stop sequences are ``parameters.stop`` in TGI and ``parameters.stop_sequences`` in LMI.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LMI_CONTAINER = "djl-lmi"  # the container name the stacks publish for the LMI (djl-inference) images


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    """One complete answer."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None


@dataclass
class ToolCallDelta:
    index: int
    id: str | None
    name: str | None
    arguments: str  # a fragment of the JSON arguments


@dataclass
class Delta:
    """One streamed piece of an answer."""

    text: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None


def messages_request(
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int,
    stop: Sequence[str] = (),
    stream: bool = False,
    temperature: float | None = None,
    tools: Sequence[Mapping[str, Any]] = (),
    tool_choice: Any = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": list(messages), "max_tokens": max_tokens, "stream": stream}
    if stop:
        body["stop"] = list(stop)
    if temperature is not None:
        body["temperature"] = temperature
    if tools:
        body["tools"] = list(tools)
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    return body


def text_request(
    prompt: str,
    *,
    container: str,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    stream: bool = False,
    temperature: float | None = None,
) -> dict[str, Any]:
    parameters: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if container != LMI_CONTAINER:
        parameters["return_full_text"] = False  # TGI; LMI never returns the prompt
        parameters["details"] = True  # TGI counts the generated tokens
    if stop:
        parameters["stop_sequences" if container == LMI_CONTAINER else "stop"] = list(stop)
    if temperature is not None and temperature > 0:
        parameters.update(temperature=temperature, do_sample=True)
    return {"inputs": prompt, "parameters": parameters, "stream": stream}


def render_prompt(prompt_format: str, messages: Sequence[Mapping[str, Any]]) -> str:
    """The model's own prompt format around the conversation (for containers without the Messages API).

    A single user turn goes into ``{prompt}`` as it is, after any system text; a longer conversation is written out
    as ``User:`` / ``Assistant:`` lines, the last user turn last.
    """
    system = "\n\n".join(text_of(m) for m in messages if m.get("role") == "system")
    turns = [m for m in messages if m.get("role") in ("user", "assistant")]
    if len(turns) == 1 and turns[0].get("role") == "user":
        body = text_of(turns[0])
    else:
        body = "\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {text_of(m)}" for m in turns)
    return prompt_format.replace("{prompt}", f"{system}\n\n{body}" if system else body)


def text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def parse_chat_completion(body: Mapping[str, Any]) -> Reply:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    usage = body.get("usage") or {}
    return Reply(
        text=message.get("content") or "",
        tool_calls=[_tool_call(call) for call in message.get("tool_calls") or []],
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        finish_reason=choice.get("finish_reason"),
    )


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = call.get("function") or {}
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):  # OpenAI and vLLM send a JSON string; TGI 2.x sent an object
        arguments = json.loads(arguments) if arguments.strip() else {}
    return ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""), arguments=dict(arguments))


def parse_text_response(body: Any) -> Reply:
    first = body[0] if isinstance(body, list) and body else body
    if not isinstance(first, dict):
        return Reply(text="")
    details = first.get("details") or {}
    return Reply(text=first.get("generated_text") or "", output_tokens=details.get("generated_tokens"))


def chat_chunk(obj: Mapping[str, Any]) -> Delta:
    usage = obj.get("usage") or {}
    choices = obj.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    return Delta(
        text=delta.get("content") or "",
        tool_calls=[
            ToolCallDelta(
                index=int(call.get("index", 0)),
                id=call.get("id"),
                name=(call.get("function") or {}).get("name"),
                arguments=_arguments_fragment((call.get("function") or {}).get("arguments")),
            )
            for call in delta.get("tool_calls") or []
        ],
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        finish_reason=choices[0].get("finish_reason"),
    )


def _arguments_fragment(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def text_chunk(obj: Mapping[str, Any]) -> Delta:
    token = obj.get("token") or {}
    if token.get("special"):
        return Delta()
    details = obj.get("details") or {}
    return Delta(text=token.get("text") or "", output_tokens=details.get("generated_tokens"))


def json_lines(parts: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """JSON objects from a byte stream split at arbitrary points: JSON lines or server-sent events (``data: ...``)."""
    buffer = b""
    for part in parts:
        buffer += part
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            obj = _json_line(line)
            if obj is not None:
                yield obj
    obj = _json_line(buffer)
    if obj is not None:
        yield obj


def _json_line(line: bytes) -> dict[str, Any] | None:
    text = line.strip()
    if text.startswith(b"data:"):
        text = text[5:].strip()
    if not text or text == b"[DONE]" or not text.startswith(b"{"):
        return None  # blank separator lines, the end marker, SSE comments and event names
    value = json.loads(text)
    return value if isinstance(value, dict) else None
