"""The LangChain chat model of a router (``chat_model(ROUTER)``): each call goes to the route the policy picks for the
last user message, through that route's own ``EndpointChatModel`` (llm_client.chat), with the router's rules
(llm_client.router): tools need a route that can call them, and a route that still fails after its retries hands over
to the other one. ``response_metadata`` carries ``route`` and ``route_reason``.

Sticky per conversation: switching models between a tool call and its result breaks formats, so a conversation keeps
the route that answered it first. The conversation is the LangGraph thread (``configurable.thread_id`` of the run's
config); without one, the route named in the history's last AI message. Only a failover moves a conversation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.runnables.config import ensure_config
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr

from llm_client import router as routing
from llm_client.chat import EndpointChatModel
from llm_client.errors import UnsupportedError
from llm_client.router import Router

THREADS_KEPT = 10_000  # conversations whose route is remembered (least recently used forgotten first)


class RouterChatModel(EndpointChatModel):
    """Follows ``/llm-endpoints/NAME`` of a router (``endpoint_name``) to the route of each call. A subclass of
    EndpointChatModel so that code typed for ``chat_model()``'s result keeps working; it calls no endpoint itself."""

    _routes: dict[str, EndpointChatModel] = PrivateAttr(default_factory=dict)
    _threads: OrderedDict[str, str] = PrivateAttr(default_factory=OrderedDict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llm-endpoints-router"

    def router(self) -> Router:
        target = self.client.target(self.endpoint_name)
        if not isinstance(target, Router):
            raise UnsupportedError(f"{self.endpoint_name} is no longer a router: build the chat model again (chat_model())")
        return target

    def _streaming_disabled(self, **kwargs: Any) -> bool:
        return BaseChatModel._streaming_disabled(self, **kwargs)  # each route's model decides for itself

    def route_model(self, route: str) -> EndpointChatModel:
        with self._lock:
            if route not in self._routes:
                self._routes[route] = EndpointChatModel(
                    endpoint_name=route, max_tokens=self.max_tokens, temperature=self.temperature, client=self.client
                )
            return self._routes[route]

    def plan(
        self, router: Router, messages: Sequence[BaseMessage], run_manager: CallbackManagerForLLMRun | None = None
    ) -> tuple[str | None, list[tuple[str, str]]]:
        """The conversation's key and the routes to try, in order."""
        # Inside a LangGraph node the run's config is the context's; LangGraph also copies thread_id to the metadata.
        configurable = ensure_config().get("configurable") or {}
        metadata = run_manager.metadata if run_manager is not None else {}
        thread = configurable.get("thread_id", metadata.get("thread_id"))
        key = str(thread) if thread is not None else None
        remembered = None
        if key is not None:
            with self._lock:
                remembered = self._threads.get(key)
        if remembered is None:  # no thread: the route that answered this conversation before
            for message in reversed(messages):
                if isinstance(message, AIMessage) and message.response_metadata.get("router") == router.name:
                    remembered = message.response_metadata.get("route")
                    break
        routes = list(router.routes.values())
        if remembered in routes:
            other = next(r for r in routes if r != remembered)
            why = f"sticky: thread {key}" if key is not None else "sticky: this conversation's route"
            return key, [(str(remembered), why), (other, f"failover from {remembered}")]
        return key, router.plan(routing.prompt_text(messages))

    def remember(self, key: str | None, route: str) -> None:
        if key is None:
            return
        with self._lock:
            self._threads[key] = route
            self._threads.move_to_end(key)
            while len(self._threads) > THREADS_KEPT:
                self._threads.popitem(last=False)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        router = self.router()
        key, plan = self.plan(router, messages, run_manager)

        def call(route: str) -> ChatResult:
            return self.route_model(route)._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

        result, route, reason = routing.run(self.client, router, plan, call, needs_tools=bool(kwargs.get("tools")))
        self.remember(key, route)
        for generation in result.generations:
            generation.message.response_metadata.update({"router": router.name, "route": route, "route_reason": reason})
        return ChatResult(
            generations=[ChatGeneration(message=g.message) for g in result.generations], llm_output=result.llm_output
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        router = self.router()
        key, plan = self.plan(router, messages, run_manager)

        def opened(route: str) -> tuple[ChatGenerationChunk | None, Iterator[ChatGenerationChunk]]:
            chunks = self.route_model(route)._stream(messages, stop=stop, run_manager=run_manager, **kwargs)
            return next(chunks, None), chunks

        (first, chunks), route, reason = routing.run(self.client, router, plan, opened, needs_tools=bool(kwargs.get("tools")))
        self.remember(key, route)
        metadata = {"router": router.name, "route": route, "route_reason": reason}
        if first is not None:
            first.message.response_metadata.update(metadata)
            yield first
        yield from chunks

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Tools in OpenAI form; each call goes to a route that can call them (fails here if none can)."""
        router = self.router()
        if not any(routing.can_call_tools(self.client, route) for route in router.routes.values()):
            raise UnsupportedError(
                f"router {router.name}: no route can call tools ({', '.join(router.routes.values())}); "
                "route to an endpoint deployed with tool calling, or a Bedrock model"
            )
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)
