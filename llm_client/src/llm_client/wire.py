"""Request and response JSON of the serving containers behind a SageMaker endpoint.

- ``messages``: the OpenAI-style Chat Completions schema, which the LMI (vLLM) container and TGI >= 1.4 accept on
  SageMaker's /invocations when the body has ``messages``. Streaming answers are ``chat.completion.chunk`` objects,
  as server-sent events (``data: {...}``) or JSON lines, split across SageMaker PayloadParts at arbitrary bytes.
- ``text``: ``{"inputs": PROMPT, "parameters": {...}}``; TGI answers ``[{"generated_text": ...}]``, LMI
  ``{"generated_text": ...}``; streamed tokens are ``{"token": {"text": ...}}`` (TGI as events, LMI as JSON lines).
  Stop sequences are ``parameters.stop`` in TGI and ``parameters.stop_sequences`` in LMI.

Every reply is read as hostile: a body over ``MAX_BODY_BYTES`` or a stream line over ``MAX_LINE_BYTES`` is refused
before it fills memory, reading stops at the call's ``Deadline`` even while bytes keep trickling in, and anything that
is not the container's JSON (an HTML page, an array where an object belongs, a number where text belongs, nesting
too deep to parse) is one ``MalformedReplyError``. Tool-call arguments that are not a JSON object are not an error:
the call keeps its raw text and an ``error`` (LangChain's ``invalid_tool_calls``), so the agent sees no malformed call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_client.errors import CallTimeoutError, MalformedReplyError

LMI_CONTAINER = "djl-lmi"  # the container name the stacks publish for the LMI (djl-inference) images
# Size caps on what a reply may make the client hold. A 512-token answer is a few KB of JSON and a streamed chunk
# well under 1 KB, so these are 1,000 times what a working container sends, and small enough for any process.
MAX_BODY_BYTES = 16 * 2**20
MAX_LINE_BYTES = 2**20
READ_CHUNK_BYTES = 2**16
SHOWN_CHARACTERS = 80  # of a bad reply, in the error message


class Deadline:
    """The whole call's time limit. The read timeout is per socket read, so a reply that trickles a byte at a time
    never trips it: reading checks this after every piece instead, and stops with ``CallTimeoutError``."""

    def __init__(self, seconds: float, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.what, self._clock = seconds, what, clock
        self._end = clock() + seconds

    def check(self) -> None:
        if self._clock() > self._end:
            raise CallTimeoutError(
                f"{self.what} was still sending its reply after {self.seconds:g} s, the whole call's deadline: "
                "pass deadline_seconds= to allow longer answers"
            )


def shown(data: bytes | str) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return repr(text[:SHOWN_CHARACTERS] + ("..." if len(text) > SHOWN_CHARACTERS else ""))


def read_body(body: Any, deadline: Deadline | None = None, limit: int | None = None) -> bytes:
    """A response body (botocore's StreamingBody, a file, or bytes), at most ``limit`` bytes (default MAX_BODY_BYTES),
    read before ``deadline``."""
    limit = limit or MAX_BODY_BYTES
    if isinstance(body, bytes | bytearray | str):
        data = body.encode() if isinstance(body, str) else bytes(body)
        if len(data) > limit:
            raise MalformedReplyError(f"the reply's body is over {limit} bytes, more than any answer needs")
        return data
    # urllib3's read1 returns what has arrived, so a trickling body reaches the deadline check; read(n) waits for n.
    raw = getattr(body, "_raw_stream", None)
    read = getattr(raw, "read1", None) or body.read
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = read(READ_CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise MalformedReplyError(f"the reply's body is over {limit} bytes, more than any answer needs")
        chunks.append(chunk)
        if deadline:
            deadline.check()


def loads(data: bytes | str, what: str) -> Any:
    """JSON, or MalformedReplyError naming ``what`` was expected (RecursionError: nesting too deep for the parser)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedReplyError(f"the reply is not {what}: it starts {shown(data)}") from None


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedReplyError(f"the reply is not {what}: found {type(value).__name__} {shown(json.dumps(value))}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedReplyError(f"the reply's {what} is a {type(value).__name__}, not a list")
    return value


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedReplyError(f"the reply's {what} is a {type(value).__name__}, not text")
    return value


def _informative(value: Any) -> Mapping[str, Any]:
    """Usage or details: an object, or nothing where the container sent none or nonsense."""
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    """A token count, or None where the container sent none or nonsense (usage is informative, not the answer)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else None


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # Set when the call cannot be made as it is (arguments not a JSON object, a tool that was not offered): the agent
    # gets it as an invalid tool call with this reason, never as a call. ``raw_arguments`` is what the model wrote.
    error: str | None = None
    raw_arguments: str = ""


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


def parse_chat_completion(body: Any) -> Reply:
    what = "a Chat Completions object"
    body = _object(body, what)
    choices = _list(body.get("choices"), "choices")
    choice = _object(choices[0] if choices else {}, "a Chat Completions choice")
    message = _object(choice.get("message") or {}, "a Chat Completions message")
    usage = _informative(body.get("usage"))
    return Reply(
        text=_text(message.get("content"), "message content"),
        tool_calls=[_tool_call(_object(call, "a tool call")) for call in _list(message.get("tool_calls"), "tool_calls")],
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        finish_reason=choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None,
    )


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = _object(call.get("function") or {}, "a tool call's function")
    name = _text(function.get("name"), "tool name")
    return tool_call_of(str(call.get("id") or ""), name, function.get("arguments"))


def tool_call_of(call_id: str, name: str, arguments: Any) -> ToolCall:
    """A tool call from its arguments as sent: a JSON string (OpenAI, vLLM), an object (TGI 2.x) or nothing."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return ToolCall(id=call_id, name=name, arguments={})
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            return ToolCall(call_id, name, {}, error=f"the arguments are not JSON: {shown(raw)}", raw_arguments=raw)
    if not isinstance(arguments, dict):
        return ToolCall(call_id, name, {}, error=f"the arguments are not a JSON object: {shown(raw)}", raw_arguments=raw)
    if not name:
        return ToolCall(call_id, name, arguments, error="the call names no tool", raw_arguments=raw)
    return ToolCall(id=call_id, name=name, arguments=arguments, raw_arguments=raw)


def parse_text_response(body: Any) -> Reply:
    what = 'a text-generation answer ({"generated_text": ...}, or a list of one)'
    first = _object(body[0] if isinstance(body, list) and body else body, what)
    details = _informative(first.get("details"))
    return Reply(text=_text(first.get("generated_text"), "generated_text"), output_tokens=_count(details.get("generated_tokens")))


def chat_chunk(obj: Mapping[str, Any]) -> Delta:
    usage = _informative(obj.get("usage"))
    choices = _list(obj.get("choices"), "choices") or [{}]
    choice = _object(choices[0], "a chat.completion.chunk choice")
    delta = _object(choice.get("delta") or {}, "a chat.completion.chunk delta")
    calls = [_object(call, "a tool-call delta") for call in _list(delta.get("tool_calls"), "tool_calls")]
    return Delta(
        text=_text(delta.get("content"), "delta content"),
        tool_calls=[_tool_call_delta(call) for call in calls],
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        finish_reason=choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None,
    )


def _tool_call_delta(call: Mapping[str, Any]) -> ToolCallDelta:
    function = _object(call.get("function") or {}, "a tool-call delta's function")
    index = call.get("index", 0)
    return ToolCallDelta(
        index=index if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 128 else 0,
        id=call.get("id") if isinstance(call.get("id"), str) else None,
        name=function.get("name") if isinstance(function.get("name"), str) else None,
        arguments=_arguments_fragment(function.get("arguments")),
    )


def _arguments_fragment(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def text_chunk(obj: Mapping[str, Any]) -> Delta:
    token = _object(obj.get("token") or {}, "a streamed token")
    if token.get("special"):
        return Delta()
    details = _informative(obj.get("details"))
    return Delta(text=_text(token.get("text"), "token text"), output_tokens=_count(details.get("generated_tokens")))


def json_lines(parts: Iterable[bytes], deadline: Deadline | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """JSON objects from a byte stream split at arbitrary points: JSON lines or server-sent events (``data: ...``).

    A line over ``limit`` bytes, or one that is neither JSON nor a server-sent-event field, is a MalformedReplyError;
    ``deadline`` is checked after every part, so a stream that trickles forever ends."""
    limit = limit or MAX_LINE_BYTES
    buffer = b""
    for part in parts:
        buffer += part
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > limit:
            raise MalformedReplyError(f"a line of the reply stream is over {limit} bytes, more than any chunk needs")
        for line in lines:
            obj = _json_line(line)
            if obj is not None:
                yield obj
        if deadline:
            deadline.check()
    obj = _json_line(buffer)
    if obj is not None:
        yield obj


# Server-sent-event lines that carry no data (the event name, its id, a reconnect delay) and comments (": ...").
SSE_FIELDS = (b"event:", b"id:", b"retry:", b":")


def _json_line(line: bytes) -> dict[str, Any] | None:
    text = line.strip()
    if not text or text.startswith(SSE_FIELDS):
        return None
    if text.startswith(b"data:"):
        text = text[5:].strip()
        if not text or text == b"[DONE]":  # an empty event, the end marker
            return None
    value = loads(text, "a stream of JSON chunks")
    if not isinstance(value, dict):
        raise MalformedReplyError(f"a line of the reply stream is not a JSON object: {shown(text)}")
    return value
