"""``chat_model("chat")``: a LangChain chat model for whatever ``/llm-endpoints/chat`` names now.

The model it returns, ``EndpointChatModel``, holds no fixed backend. On each call it reads the parameter (cached for
``ttl_seconds``) and hands the call to the maintained langchain-aws model for it:

- Bedrock: ``ChatBedrockConverse`` with the parameter's ``model_id`` (an inference profile id where the stack
  configured one): streaming, tool calling, the model's own stop handling.
- SageMaker: ``SageMakerChatModel``, a subclass of langchain-aws's ``ChatSagemakerEndpoint``. It sends the container's
  Messages API (Chat Completions JSON) where every variant serves it, otherwise the model's prompt format, with the
  endpoint's stop sequences and token limit. The subclass adds what ``ChatSagemakerEndpoint`` (langchain-aws 1.9)
  lacks: tool calls and tool results in the messages, ``bind_tools``, and streamed tool-call chunks.

So a model swap behind the endpoint, an A/B variant split or a move from SageMaker to Bedrock reaches a running
agent within ``ttl_seconds`` (at once when the old endpoint is gone), with no change to its code. Retries, the
timeout and the error messages are ``llm_client.client.Client``'s.

A scale-to-zero endpoint that serves two models as two inference components (a migration) is split by the client:
each call (``invoke``, ``stream``, with or without tools) goes to one component drawn by the parameter's weights
(``Client.route``) and is built for that component's model; its retries and cold-start wait stay on it. The
answer's ``response_metadata`` names the ``inference_component`` and the ``model_name`` (the model key).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_aws import ChatBedrockConverse
from langchain_aws.chat_models.sagemaker_endpoint import ChatModelContentHandler, ChatSagemakerEndpoint
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from llm_client import constrained, wire
from llm_client.client import (
    DEFAULT_ATTEMPTS,
    Client,
    is_constrained,
    parse_reply,
    payloads,
    request_body,
    tools_unsupported,
)
from llm_client.errors import LlmClientError, UnsupportedError
from llm_client.model_rules import check_request_fields, check_tool_choice
from llm_client.parameter import DEFAULT_TTL_SECONDS, BedrockModel, Endpoint, SageMakerEndpoint
from llm_client.router import Router

# How many built langchain-aws models an EndpointChatModel keeps: a migration's two components and the whole endpoint,
# with room for one redeploy.
MODELS_KEPT = 4


class ContainerContentHandler(ChatModelContentHandler):
    """Request and response JSON of one SageMaker endpoint's containers (``llm_client.wire``)."""

    content_type = "application/json"
    accepts = "application/json"

    def __init__(self, endpoint: SageMakerEndpoint) -> None:
        self.endpoint = endpoint

    def transform_input(self, prompt: Any, model_kwargs: dict[str, Any]) -> bytes:
        """``prompt``: OpenAI-style messages; ``model_kwargs``: stop, stream, max_tokens, temperature, tools,
        tool_choice (tools go the endpoint's tool path: ``client.request_body``)."""
        endpoint = self.endpoint
        body = request_body(
            endpoint,
            prompt,
            max_tokens=model_kwargs.get("max_tokens"),
            stop=list(dict.fromkeys([*endpoint.stop_sequences, *(model_kwargs.get("stop") or [])])),
            stream=bool(model_kwargs.get("stream")),
            temperature=model_kwargs.get("temperature"),
            tools=model_kwargs.get("tools") or (),
            tool_choice=model_kwargs.get("tool_choice"),
        )
        return json.dumps(body).encode()

    def transform_output(self, output: Any) -> AIMessage:
        return ai_message(parse_reply(self.endpoint, output))


def usage_metadata(input_tokens: int | None, output_tokens: int | None) -> UsageMetadata | None:
    """LangChain's token usage, or None when the container did not report both counts."""
    if input_tokens is None or output_tokens is None:
        return None
    return UsageMetadata(input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens)


def offered_only(reply: wire.Reply, tools: Sequence[Mapping[str, Any]] | None) -> wire.Reply:
    """``reply`` with each call of a tool that was not offered marked as an error (a model can name anything)."""
    names = [str((t.get("function") or {}).get("name")) for t in tools or ()]
    for call in reply.tool_calls:
        if call.error is None and call.name not in names:
            call.error = f"{call.name!r} is not one of the offered tools ({', '.join(names) or 'none'})"
            call.raw_arguments = call.raw_arguments or json.dumps(call.arguments)
    return reply


def ai_message(reply: wire.Reply) -> AIMessage:
    """The reply as LangChain's message. A tool call the agent cannot make (its arguments are not a JSON object, or it
    names a tool that was not offered) is an ``invalid_tool_calls`` entry with the reason: LangGraph's ToolNode never
    runs it, and the agent sees why."""
    return AIMessage(
        content=reply.text,
        tool_calls=[tool_call(name=c.name, args=c.arguments, id=c.id) for c in reply.tool_calls if c.error is None],
        invalid_tool_calls=[
            invalid_tool_call(name=c.name, args=c.raw_arguments, id=c.id, error=c.error)
            for c in reply.tool_calls
            if c.error is not None
        ],
        usage_metadata=usage_metadata(reply.input_tokens, reply.output_tokens),
        response_metadata={"finish_reason": reply.finish_reason, "model_provider": "sagemaker"},
    )


def ai_chunk(delta: wire.Delta) -> AIMessageChunk:
    return AIMessageChunk(
        content=delta.text,
        tool_call_chunks=[tool_call_chunk(name=c.name, args=c.arguments, id=c.id, index=c.index) for c in delta.tool_calls],
        usage_metadata=usage_metadata(delta.input_tokens, delta.output_tokens),
        response_metadata={"finish_reason": delta.finish_reason} if delta.finish_reason else {},
    )


def openai_tool_choice(tool_choice: Any) -> Any:
    """LangChain's tool_choice values in the Chat Completions form."""
    if tool_choice in (None, "auto", "none"):
        return tool_choice
    if tool_choice in ("any", "required", True):
        return "required"
    if isinstance(tool_choice, str):
        return {"type": "function", "function": {"name": tool_choice}}
    return tool_choice


def constrained_delta(deltas: list[wire.Delta], tools: Sequence[Mapping[str, Any]]) -> wire.Delta:
    """A constrained stream as one delta: the JSON is a call or an answer only once it is complete. A reply that is
    neither comes as its text."""
    last = deltas[-1] if deltas else wire.Delta()
    reply = constrained.parse(wire.Reply(text="".join(d.text for d in deltas), finish_reason=last.finish_reason), tools)
    usage = [d for d in deltas if d.input_tokens is not None or d.output_tokens is not None]
    calls = [c for c in reply.tool_calls if c.error is None]
    return wire.Delta(
        text=reply.text if not reply.tool_calls else ("" if calls else reply.tool_calls[0].raw_arguments),
        tool_calls=[wire.ToolCallDelta(i, c.id, c.name, c.raw_arguments) for i, c in enumerate(calls)],
        input_tokens=usage[-1].input_tokens if usage else None,
        output_tokens=usage[-1].output_tokens if usage else None,
        finish_reason="tool_calls" if calls else last.finish_reason,
    )


def check_constrained_options(
    endpoint: SageMakerEndpoint, tools: Sequence[Any], tool_choice: Any, options: Mapping[str, Any]
) -> None:
    """What the constrained path cannot do, refused at bind time with the alternative."""
    alternative = "use a model with native tool calling (mistral-7b-v0-3, or a Bedrock model)"
    if options.get("parallel_tool_calls"):
        raise UnsupportedError(
            f"endpoint {endpoint.name} ({endpoint.model_label}) calls tools through a JSON schema (tool_calling: "
            f"constrained), one call per reply: parallel_tool_calls needs native tool calling: {alternative}"
        )
    forced = openai_tool_choice(tool_choice)
    names = [convert_to_openai_tool(t)["function"]["name"] for t in tools]
    if isinstance(forced, dict) and forced["function"]["name"] not in names:
        raise UnsupportedError(
            f"endpoint {endpoint.name} ({endpoint.model_label}): tool_choice names {forced['function']['name']!r}, "
            f"which is not one of the bound tools ({', '.join(names)})"
        )


class SageMakerChatModel(ChatSagemakerEndpoint):
    """langchain-aws's SageMaker chat model, speaking the endpoint's container API, with tool calling."""

    llm_endpoint: SageMakerEndpoint = Field(exclude=True)
    deadline_seconds: float = 600.0
    """One call's limit, from the request to the reply's last byte (the Client's ``deadline_for`` the endpoint)."""

    def _deadline(self) -> wire.Deadline:
        endpoint = self.llm_endpoint
        return wire.Deadline(self.deadline_seconds, f"endpoint {endpoint.name} (sagemaker, {endpoint.model_label})")

    def _format_messages_request(self, messages: list[BaseMessage], **kwargs: Any) -> dict[str, Any]:
        openai_messages = convert_to_openai_messages(messages, text_format="string")
        request: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "Body": self.content_handler.transform_input(openai_messages, {**(self.model_kwargs or {}), **kwargs}),
            "ContentType": self.content_handler.content_type,
            "Accept": self.content_handler.accepts,
            **(self.endpoint_kwargs or {}),
        }
        if self.inference_component_name:
            request["InferenceComponentName"] = self.inference_component_name
        return request

    def _served_by(self, invoked_variant: str | None) -> dict[str, Any]:
        """Who answered, for the message's response_metadata."""
        served = {"variant": invoked_variant, "model_name": self.llm_endpoint.model_of(invoked_variant)}
        return {**served, "inference_component": self.inference_component_name} if self.inference_component_name else served

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._format_messages_request(messages, stop=stop, stream=False, **kwargs)
        deadline = self._deadline()
        response = self.client.invoke_endpoint(**request)
        tools, tool_choice = kwargs.get("tools") or (), kwargs.get("tool_choice")
        reply = parse_reply(self.llm_endpoint, response["Body"], deadline, tools, tool_choice)
        message = ai_message(offered_only(reply, tools) if tools else reply)
        message.response_metadata.update(self._served_by(response.get("InvokedProductionVariant")))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._format_messages_request(messages, stop=stop, stream=True, **kwargs)
        deadline = self._deadline()
        response = self.client.invoke_endpoint_with_response_stream(**request)
        parse = wire.chat_chunk if self.llm_endpoint.api == "messages" else wire.text_chunk
        deltas: Iterator[wire.Delta] = (parse(obj) for obj in wire.json_lines(payloads(response["Body"]), deadline))
        tools, tool_choice = kwargs.get("tools") or (), kwargs.get("tool_choice")
        if is_constrained(self.llm_endpoint, tools, tool_choice):
            deltas = iter([constrained_delta(list(deltas), tools)])
        served_by: dict[str, Any] | None = self._served_by(response.get("InvokedProductionVariant"))
        for delta in deltas:
            message = ai_chunk(delta)
            if served_by:  # on the first chunk only: LangChain concatenates the strings of chunks it adds up
                message.response_metadata.update(served_by)
                served_by = None
            chunk = ChatGenerationChunk(message=message)
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        endpoint = self.llm_endpoint
        if endpoint.tool_path == "none":
            raise tools_unsupported(endpoint)
        if endpoint.tool_path == "constrained":
            check_constrained_options(endpoint, tools, tool_choice, kwargs)
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=openai_tool_choice(tool_choice), **kwargs)


class EndpointChatModel(BaseChatModel):
    """The chat model ``chat_model()`` returns: follows ``/llm-endpoints/NAME`` to its current backend."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    endpoint_name: str
    """The endpoint's name: the parameter is /llm-endpoints/<endpoint_name>."""
    max_tokens: int | None = None
    """Answer length (default 512 on SageMaker, capped by the endpoint's token limits; the model's default on Bedrock)."""
    temperature: float | None = None
    variant: str | None = None
    """Call only this SageMaker variant (TargetVariant), or on a scale-to-zero endpoint this inference component (its
    model key or component name); default: by weight (SageMaker's between variants, the client's between components)."""
    client: Client = Field(exclude=True)

    # The langchain-aws models built, by what they call: a migration's two components alternate, so keep a few.
    _built: dict[Endpoint, BaseChatModel] = PrivateAttr(default_factory=dict)
    _built_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # async calls run in threads

    @property
    def _llm_type(self) -> str:
        return "llm-endpoints"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"endpoint_name": self.endpoint_name, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def current_model(self, endpoint: Endpoint | None = None) -> BaseChatModel:
        """The langchain-aws model for ``endpoint`` (what one call goes to), default what the parameter says now; built
        once per endpoint (or component) while the parameter names it."""
        endpoint = endpoint or self.client.endpoint(self.endpoint_name)
        with self._built_lock:
            model = self._built.pop(endpoint, None) or self._build(endpoint)
            self._built[endpoint] = model  # the most recent last
            while len(self._built) > MODELS_KEPT:
                del self._built[next(iter(self._built))]
        return model

    def _build(self, endpoint: Endpoint) -> BaseChatModel:
        runtime = self.client.runtime(endpoint)
        if isinstance(endpoint, BedrockModel):
            return ChatBedrockConverse(
                model_id=endpoint.model_id,
                region_name=self.client.region,
                client=runtime,
                bedrock_client=self.client.boto_client("bedrock", 10.0),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
        return SageMakerChatModel(
            endpoint_name=endpoint.name,
            region_name=self.client.region,
            client=runtime,
            content_handler=ContainerContentHandler(endpoint),
            llm_endpoint=endpoint,
            deadline_seconds=self.client.deadline_for(endpoint),
            # A scale-to-zero endpoint is called by its inference component, never by variant.
            inference_component_name=endpoint.inference_component_name,
            endpoint_kwargs={"TargetVariant": self.variant} if self.variant and not endpoint.scale_to_zero else None,
            model_kwargs={k: v for k, v in {"max_tokens": self.max_tokens, "temperature": self.temperature}.items() if v},
        )

    def _streaming_disabled(self, **kwargs: Any) -> bool:
        """As the current backend says: langchain-aws knows which Bedrock models cannot stream (then a stream is
        one chunk from a plain call)."""
        if super()._streaming_disabled(**kwargs):
            return True
        try:
            inner = self.current_model()
        except LlmClientError:
            return False  # the call itself raises it
        disabled = inner.disable_streaming
        return disabled is True or (disabled == "tool_calling" and bool(kwargs.get("tools")))

    def _inner_kwargs(self, inner: BaseChatModel, endpoint: Endpoint, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's options for ``inner``: bound tools become that backend's own tool format. Options the Bedrock model
        refuses (its parameter's ``capabilities``) raise UnsupportedError here, before the call."""
        if isinstance(endpoint, BedrockModel):
            check_chat_options(endpoint, kwargs)
        kwargs = dict(kwargs)
        tools = kwargs.pop("tools", None)
        tool_choice = kwargs.pop("tool_choice", None)
        if not tools:
            return kwargs
        bound = inner.bind_tools(tools, tool_choice=tool_choice)
        return {**kwargs, **getattr(bound, "kwargs", {})}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def attempt(endpoint: Endpoint) -> ChatResult:
            inner = self.current_model(endpoint)
            options = self._inner_kwargs(inner, endpoint, kwargs)
            return inner._generate(messages, stop=stop, run_manager=run_manager, **options)

        result, _, _ = self.client.call(self.endpoint_name, attempt, self.variant)
        return result

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        def attempt(endpoint: Endpoint) -> tuple[ChatGenerationChunk | None, Iterator[ChatGenerationChunk], Endpoint]:
            inner = self.current_model(endpoint)
            options = self._inner_kwargs(inner, endpoint, kwargs)
            chunks = inner._stream(messages, stop=stop, run_manager=run_manager, **options)
            return next(chunks, None), chunks, endpoint  # the first chunk sends the request: retried here

        (first, chunks, endpoint), _, _ = self.client.call(self.endpoint_name, attempt, self.variant)
        if first is not None:
            yield first
        # Bedrock's stream is langchain-aws's: the deadline is checked between its chunks here (SageMaker's inside).
        yield from self.client.guard(chunks, endpoint, self.client.deadline(endpoint))

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Tools in OpenAI form; each call turns them into the current backend's format."""
        endpoint = self.client.endpoint(self.endpoint_name)
        if self.variant is not None and isinstance(endpoint, SageMakerEndpoint):
            endpoint = endpoint.only(self.variant)
        if isinstance(endpoint, BedrockModel):  # fail at bind time too, where the agent is built
            check_chat_options(endpoint, {"tool_choice": tool_choice, **kwargs})
        else:  # what its tool path cannot do fails here, where the agent is built
            self.current_model(endpoint).bind_tools(tools, tool_choice=tool_choice, **kwargs)
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)


def check_chat_options(model: BedrockModel, options: Mapping[str, Any]) -> None:
    """Raise UnsupportedError for a ``tool_choice`` or ``additional_model_request_fields`` (either spelling) that
    ``model`` refuses, as its parameter's ``capabilities`` say (model_rules.py)."""
    label = f"{model.name} ({model.model_id})"
    check_tool_choice(label, model.capabilities, options.get("tool_choice", options.get("toolChoice")))
    fields = options.get("additional_model_request_fields", options.get("additionalModelRequestFields"))
    check_request_fields(label, model.capabilities, fields if isinstance(fields, Mapping) else None)


def chat_model(
    name: str,
    *,
    region: str | None = None,
    session: Any = None,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    attempts: int = DEFAULT_ATTEMPTS,
    timeout_seconds: float | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    variant: str | None = None,
    client: Client | None = None,
    log: Callable[[str], None] | None = None,
) -> EndpointChatModel:
    """A LangChain chat model for endpoint ``name`` (``/llm-endpoints/NAME`` in ``region``; a router: RouterChatModel).

    Reads the parameter once now, so a wrong name, region, missing credentials or an old parameter fail here with
    one clear ``LlmClientError``, not at the agent's first question.
    """
    client = client or Client(
        region=region, session=session, ttl_seconds=ttl_seconds, attempts=attempts, timeout_seconds=timeout_seconds, log=log
    )
    if isinstance(client.target(name), Router):  # a router: its routes' models, chosen per call (llm_client.router_chat)
        from llm_client.router_chat import RouterChatModel

        return RouterChatModel(endpoint_name=name, max_tokens=max_tokens, temperature=temperature, client=client)
    model = EndpointChatModel(endpoint_name=name, max_tokens=max_tokens, temperature=temperature, variant=variant, client=client)
    endpoint = client.endpoint(name)
    if variant is not None and isinstance(endpoint, SageMakerEndpoint):
        endpoint.only(variant)  # raises for an unknown variant
    return model


def describe_model(model: BaseChatModel) -> Mapping[str, Any]:
    """What an EndpointChatModel (or a router's model) calls now (for logs and the example agent)."""
    from llm_client.router_chat import RouterChatModel

    if isinstance(model, RouterChatModel):
        router = model.router()
        routes = ", ".join(f"{side} {route}" for side, route in router.routes.items())
        return {"endpoint": model.endpoint_name, "hosting": "router", "model": f"{router.policy.kind} policy", "calls": routes}
    if not isinstance(model, EndpointChatModel):
        raise LlmClientError("not a chat_model() model")
    endpoint = model.client.endpoint(model.endpoint_name)
    if isinstance(endpoint, BedrockModel):
        target = endpoint.model_id
    elif endpoint.scale_to_zero:
        target = f"{endpoint.name} (inference components: {endpoint.components_label})"
    else:
        target = f"{endpoint.name} ({endpoint.api} API)"
    return {"endpoint": model.endpoint_name, "hosting": endpoint.hosting, "model": endpoint.model_label, "calls": target}
