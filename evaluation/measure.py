"""One request to one target through llm_client, timed: end-to-end latency (retries included), time to first token
when streaming, tokens, errors and throttles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evaluation.expectations import Check
from evaluation.targets import Target
from evaluation.testset import Case
from llm_client import (
    CallTimeoutError,
    Client,
    ColdStartError,
    Endpoint,
    LlmClientError,
    SageMakerEndpoint,
    ThrottledError,
    wire,
)
from llm_client.client import THROTTLING_CODES, bedrock_request, messages_of, payloads, sagemaker_request


@dataclass
class Record:
    """One request of one case to one target: what the JSON results hold per request."""

    target: str
    case: str
    repeat: int
    ok: bool
    latency_seconds: float  # end to end, retries and backoff included
    ttft_seconds: float | None = None  # streaming: until the first text arrived
    output_tokens: int | None = None
    input_tokens: int | None = None
    tokens_estimated: bool = False  # the runtime reported no usage: output tokens = streamed pieces
    served_by: str = ""
    route: str | None = None  # a router's target: the route that answered
    retries: int = 0  # tries after the first (throttled or not ready), each after a backoff
    throttle_retries: int = 0
    error_kind: str | None = None  # throttled | cold | timeout | error
    error: str | None = None
    cost_usd: float | None = None
    judge_cost_usd: float = 0.0
    answer: str = ""
    checks: list[Check] = field(default_factory=list)
    quality: float | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments", "error"} of each call

    @property
    def tokens_per_second(self) -> float | None:
        if not self.ok or not self.output_tokens or self.latency_seconds <= 0:
            return None
        return self.output_tokens / self.latency_seconds


class RetryLog:
    """llm_client's ``log`` callback, counted per thread: each line is one retry of the request running there."""

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        self._local.retries = 0
        self._local.throttles = 0

    def __call__(self, message: str) -> None:
        self._local.retries = getattr(self._local, "retries", 0) + 1
        if any(code in message for code in THROTTLING_CODES):
            self._local.throttles = getattr(self._local, "throttles", 0) + 1

    def counts(self) -> tuple[int, int]:
        return getattr(self._local, "retries", 0), getattr(self._local, "throttles", 0)


def measure(
    client: Client,
    retry_log: RetryLog,
    target: Target,
    case: Case,
    repeat: int,
    *,
    stream: bool,
    clock: Callable[[], float] = time.perf_counter,
) -> Record:
    retry_log.reset()
    started = clock()
    record = Record(target.label, case.id, repeat, ok=False, latency_seconds=0.0)
    try:
        # A case with tools is never streamed (docs/evaluation.md); a router is measured without streaming: its
        # failover is the client's.
        if stream and not case.tools and not target.routes:
            _streamed(client, target, case, record, started, clock)
        else:
            answer = client.invoke(
                target.endpoint,
                case.prompt,
                system=case.system,
                max_tokens=case.max_tokens,
                temperature=case.temperature,
                variant=target.variant,
                tools=case.tools,
            )
            record.answer, record.served_by, record.route = answer.text, answer.served_by, answer.route
            record.tool_calls = [{"name": c.name, "arguments": c.arguments, "error": c.error} for c in answer.tool_calls]
            record.input_tokens, record.output_tokens = answer.input_tokens, answer.output_tokens
        record.ok = True
    except LlmClientError as error:
        record.error_kind = error_kind(error)
        record.error = str(error)
    record.latency_seconds = clock() - started
    record.retries, record.throttle_retries = retry_log.counts()
    if record.ok:
        record.cost_usd = target.cost(
            served_by=record.served_by,
            latency_seconds=record.latency_seconds,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            route=record.route,
        )
    elif target.hosting == "bedrock":
        record.cost_usd = 0.0  # a refused Bedrock request is not billed
    else:
        record.cost_usd = target.cost(
            served_by=target.variant, latency_seconds=record.latency_seconds, input_tokens=None, output_tokens=None
        )
    return record


def error_kind(error: LlmClientError) -> str:
    if isinstance(error, ThrottledError):
        return "throttled"
    if isinstance(error, ColdStartError):
        return "cold"
    if isinstance(error, CallTimeoutError):
        return "timeout"
    return "error"


def _streamed(client: Client, target: Target, case: Case, record: Record, started: float, clock: Callable[[], float]) -> None:
    """As ``Client.stream``, but keeps the usage the stream reports (the last chunk or Converse's metadata event)."""
    messages = messages_of(case.prompt, case.system)
    deadlines: dict[str, wire.Deadline] = {}

    def attempt(endpoint: Endpoint) -> tuple[Endpoint, Any, str]:
        deadlines[endpoint.name] = client.deadline(endpoint)  # the whole call's: a stream that trickles ends
        if isinstance(endpoint, SageMakerEndpoint):
            request = sagemaker_request(endpoint, messages, max_tokens=case.max_tokens, temperature=case.temperature, stream=True)
            if target.variant and not endpoint.scale_to_zero:  # a component endpoint is called by component only
                request["TargetVariant"] = target.variant
            response = client.runtime(endpoint).invoke_endpoint_with_response_stream(**request)
            invoked = str(response.get("InvokedProductionVariant") or target.variant or "")
            return endpoint, response["Body"], endpoint.inference_component_name or invoked
        request = bedrock_request(endpoint, messages, case.max_tokens, case.temperature)
        return endpoint, client.runtime(endpoint).converse_stream(**request)["stream"], endpoint.model_id

    (endpoint, events, served_by), _, _ = client.call(target.endpoint, attempt, target.variant)
    record.served_by = served_by
    pieces: list[str] = []
    deadline = deadlines[endpoint.name]
    for delta in client.guard(_deltas(endpoint, events, deadline), endpoint, deadline):
        if delta.text:
            if record.ttft_seconds is None:
                record.ttft_seconds = clock() - started
            pieces.append(delta.text)
        record.input_tokens = delta.input_tokens if delta.input_tokens is not None else record.input_tokens
        record.output_tokens = delta.output_tokens if delta.output_tokens is not None else record.output_tokens
    record.answer = "".join(pieces)
    if record.output_tokens is None:
        record.output_tokens, record.tokens_estimated = len(pieces), True


def _deltas(endpoint: Endpoint, events: Any, deadline: wire.Deadline) -> Iterator[wire.Delta]:
    if isinstance(endpoint, SageMakerEndpoint):
        parse = wire.chat_chunk if endpoint.api == "messages" else wire.text_chunk
        for obj in wire.json_lines(payloads(events), deadline):
            yield parse(obj)
        return
    for event in events:
        if "contentBlockDelta" in event:
            yield wire.Delta(text=event["contentBlockDelta"].get("delta", {}).get("text") or "")
        elif "metadata" in event:
            usage = event["metadata"].get("usage", {})
            yield wire.Delta(input_tokens=usage.get("inputTokens"), output_tokens=usage.get("outputTokens"))
