"""Find the endpoint, call it with retries and a timeout, and turn AWS errors into one clear message.

This is the plain path, on boto3 alone: ``invoke("chat", "Hello")`` and ``stream("chat", "Hello")``. The LangChain
chat model (``llm_client.langchain``) uses the same ``Client`` for the parameter, the retries and the errors.

Defaults, each a keyword argument of ``Client`` (and of ``invoke`` / ``stream`` / ``chat_model``):

- ``ttl_seconds`` (60): how long the parameter is trusted (``parameter.DEFAULT_TTL_SECONDS``).
- ``attempts`` (5): tries per call when throttled or while the model is not ready. Waits grow exponentially with
  full jitter: a random 0..min(20, 2**(n-1)) seconds before try n+1, so many clients do not retry in step.
- ``timeout_seconds``: the read timeout of one try; default twice the endpoint's latency budget (the largest of its
  variants'): an answer that late is a fault, not a slow model. SageMaker's InvokeEndpoint itself stops at 60 s.
- ``deadline_seconds``: the whole call's limit, from sending the request to the reply's last byte (per try; the
  backoff between tries and a cold-start wait are bounded apart). The read timeout alone is per socket read, so a
  reply that trickles in would never end. Default ``DEADLINE_FACTOR`` (10) times the latency budget.
- ``max_tokens`` (512): answer length, never more than the room the endpoint's token limits leave.
- ``cold_start_seconds``: a scale-to-zero endpoint (an inference component, ``scale_to_zero: true`` in its parameter)
  answers "no capacity" while it has no copy running, and a copy takes minutes to start. The client then waits with
  backoff (10, 20, 40, 60, 60 ... s) up to this budget; default: the parameter's ``expected_cold_start_seconds``
  (600 s for the stacks of this repository). The wait does not use up ``attempts`` and is reported apart from the
  latency (``Answer.cold_start_seconds``). A plain variant endpoint never waits like this.
- ``routing_random``: a scale-to-zero endpoint can serve two models as two inference components (a migration), with
  the share of requests each gets in its parameter (``weight``). SageMaker does not split traffic between components,
  so the client draws the component of each request by weight (``random.choices`` on this ``random.Random``; default
  one seeded by the OS), never a weight-0 (drained) one, and builds the request for that component's model. The
  request keeps its component for all its retries and its cold-start wait: each component scales to zero on its own.
  ``variant=`` picks one component instead, by model key or component name.
"""

from __future__ import annotations

import json
import math
import os
import random as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.exceptions as boto_errors
from botocore.config import Config
from botocore.eventstream import ParserError as EventStreamParserError
from botocore.parsers import ResponseParserError
from botocore.utils import validate_region_name

from llm_client import constrained, router, wire
from llm_client.errors import (
    AccessDeniedError,
    CallTimeoutError,
    ColdStartError,
    ConfigurationError,
    EndpointNotFoundError,
    InvocationError,
    LlmClientError,
    MalformedReplyError,
    NoCredentialsError,
    ThrottledError,
    UnsupportedError,
)
from llm_client.model_rules import check_request_fields
from llm_client.parameter import (
    DEFAULT_TTL_SECONDS,
    BedrockModel,
    Endpoint,
    ParameterCache,
    SageMakerEndpoint,
    parameter_name,
)
from llm_client.router import Router

DEFAULT_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 20.0
TIMEOUT_FACTOR = 2.0
DEADLINE_FACTOR = 10.0  # the whole call's deadline, in latency budgets: a long streamed answer, not a stalled one
CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_TOKENS = 512

# botocore's own errors for a reply it cannot parse (an HTML page where Converse's JSON belongs, a broken event-stream
# frame): not ClientError or BotoCoreError, so named here.
UNPARSEABLE = (ResponseParserError, EventStreamParserError)

# "Slow down": retried with backoff.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceQuotaExceededException", "SlowDown"}
)
# "Not ready yet": a serverless or scaled-to-zero model starting, a new instance loading. Retried with backoff.
COLD_START_CODES = frozenset({"ModelNotReadyException", "ServiceUnavailable", "ServiceUnavailableException"})
# An inference component with no copy running answers e.g. ValidationError "Inference Component has no capacity to
# process this request" (the exact code and wording are not in the API reference: match the phrase).
COLD_START_MESSAGES = ("no capacity",)
# An endpoint ("Endpoint X of account Y not found.") or inference component the runtime does not know. The runtime's
# wording for an unknown component is not in the API reference: match the control plane's ("Could not find inference
# component ...") as well.
GONE_MESSAGES = ("not found", "could not find")
# The waits (seconds) before each retry while a scale-to-zero endpoint has no copy; the last repeats.
COLD_START_BACKOFF_SECONDS = (10.0, 20.0, 40.0, 60.0)
ACCESS_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "ExpiredTokenException"})

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One answer of the plain path."""

    text: str
    endpoint: str
    hosting: str
    served_by: str  # the SageMaker variant (scale-to-zero: the inference component) that answered, or the Bedrock model id
    input_tokens: int | None
    output_tokens: int | None
    latency_seconds: float  # of the successful try
    attempts: int
    cold_start_seconds: float = 0.0  # waiting for a scale-to-zero endpoint's first copy; not in latency_seconds
    model_key: str | None = None  # the model that answered (None: a variant SageMaker picked that the parameter lacks)
    route: str | None = None  # called through a router (llm_client.router): the route that answered
    route_reason: str | None = None  # and why: the policy's score, tools, or a failover
    # With tools=: the calls the model made (a call with ``error`` set cannot be made: see wire.ToolCall).
    tool_calls: tuple[wire.ToolCall, ...] = ()


def messages_of(prompt: str | Sequence[Mapping[str, Any]], system: str | None = None) -> list[dict[str, Any]]:
    """Chat messages ``[{"role": ..., "content": ...}]`` from a prompt string or a message list."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    return [{"role": "system", "content": system}, *messages] if system else messages


class Client:
    """Calls endpoints by name in one region. Thread-safe; reuse one per process."""

    def __init__(
        self,
        *,
        region: str | None = None,
        session: Any = None,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        attempts: int = DEFAULT_ATTEMPTS,
        timeout_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.perf_counter,
        log: Callable[[str], None] | None = None,
        cold_start_seconds: float | None = None,
        routing_random: _random.Random | None = None,
        deadline_seconds: float | None = None,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise ConfigurationError(f"attempts={attempts!r}: give a whole number of tries from 1 to 100")
        for option, value in (
            ("ttl_seconds", ttl_seconds),
            ("timeout_seconds", timeout_seconds),
            ("cold_start_seconds", cold_start_seconds),
            ("deadline_seconds", deadline_seconds),
        ):
            check_seconds(option, value, zero=option in ("ttl_seconds", "cold_start_seconds"))
        self.cold_start_seconds = cold_start_seconds
        self.deadline_seconds = deadline_seconds
        # botocore reads AWS_DEFAULT_REGION; other AWS SDKs and Lambda set AWS_REGION: honour both.
        region = region or os.environ.get("AWS_REGION") or None
        self.session = session or boto3.session.Session(region_name=region)
        self.region = region or self.session.region_name
        if not self.region:
            raise ConfigurationError(
                # One message for the library and every command built on it (python -m llm_client, evaluate, the
                # example agent): each names the region --region.
                "no AWS region: pass --region on the command line (region=... in Python), or set AWS_REGION or"
                " AWS_DEFAULT_REGION (or a region in your AWS config)"
            )
        try:
            validate_region_name(self.region)
        except boto_errors.InvalidRegionError:
            raise ConfigurationError(f"{self.region!r} is not an AWS region name (e.g. us-east-1)") from None
        self.cache = ParameterCache(ttl_seconds)
        self.attempts = attempts
        self.timeout_seconds = timeout_seconds
        self.sleep, self.random, self.clock, self.log = sleep, random, clock, log
        self.routing_random = routing_random or _random.Random()
        self._clients: dict[tuple[str, float], Any] = {}
        self._lock = threading.Lock()

    # --- the parameter and the clients --------------------------------------------------------------

    def endpoint(self, name: str) -> Endpoint:
        """What ``/llm-endpoints/NAME`` says now (cached for ``ttl_seconds``)."""
        target = self.target(name)
        if isinstance(target, Router):
            raise UnsupportedError(
                f"{name} is a router (routes {', '.join(target.routes.values())}): call it with invoke(), stream() or "
                "chat_model(), or call one of its routes by name"
            )
        return target

    def target(self, name: str) -> Endpoint | Router:
        """An endpoint, or a router (llm_client.router) whose routes are endpoints."""
        return self.cache.get(self.region, name, lambda: self._read_parameter(name))

    def describe(self, name: str, endpoint: Endpoint) -> None:
        """Use ``endpoint`` for ``name`` instead of its parameter (e.g. built from a model config before any stack
        published one); it never expires."""
        self.cache.put(self.region, name, endpoint)

    def _read_parameter(self, name: str) -> str:
        ssm = self.boto_client("ssm", 10.0)
        try:
            return str(ssm.get_parameter(Name=parameter_name(name))["Parameter"]["Value"])
        except boto_errors.ClientError as error:
            if code_of(error) == "ParameterNotFound":
                raise EndpointNotFoundError(
                    f"no endpoint named {name!r} in {self.region}: SSM parameter {parameter_name(name)} does not "
                    f"exist. Check the name and region, or deploy it (npx cdk deploy -c endpoint={name} -c model=...)"
                ) from None
            raise translate(error, f"reading SSM parameter {parameter_name(name)}") from None
        except boto_errors.BotoCoreError as error:
            raise translate(error, f"reading SSM parameter {parameter_name(name)}") from None

    def timeout_for(self, endpoint: Endpoint) -> float:
        return self.timeout_seconds or TIMEOUT_FACTOR * endpoint.latency_budget_seconds

    def deadline_for(self, endpoint: Endpoint) -> float:
        """Seconds one try may take, from the request to the reply's last byte."""
        return self.deadline_seconds or DEADLINE_FACTOR * endpoint.latency_budget_seconds

    def deadline(self, endpoint: Endpoint) -> wire.Deadline:
        """The deadline of one try at ``endpoint``, starting now."""
        label = f"endpoint {endpoint.name} ({endpoint.hosting}, {endpoint.model_label})"
        return wire.Deadline(self.deadline_for(endpoint), label)

    def boto_client(self, service: str, read_timeout: float) -> Any:
        """One boto3 client per service and timeout. botocore makes one try: ``call`` owns the retries."""
        key = (service, read_timeout)
        with self._lock:
            if key not in self._clients:
                config = Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    read_timeout=read_timeout,
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    user_agent_extra="llm-endpoints-client",
                )
                self._clients[key] = self.session.client(service, region_name=self.region, config=config)
            return self._clients[key]

    def runtime(self, endpoint: Endpoint) -> Any:
        service = "sagemaker-runtime" if isinstance(endpoint, SageMakerEndpoint) else "bedrock-runtime"
        return self.boto_client(service, self.timeout_for(endpoint))

    # --- retries and errors ---------------------------------------------------------------------------

    def call(self, name: str, attempt: Callable[[Endpoint], T], variant: str | None = None) -> tuple[T, int, float]:
        """``attempt(endpoint)`` with retries; returns its result, the tries it took and the last try's seconds."""
        result, tries, seconds, _ = self.call_waiting(name, attempt, variant)
        return result, tries, seconds

    def call_waiting(
        self,
        name: str,
        attempt: Callable[[Endpoint], T],
        variant: str | None = None,
        cold_start_seconds: float | None = None,
    ) -> tuple[T, int, float, float]:
        """As ``call``, and also the seconds spent waiting for a scale-to-zero endpoint's first copy.

        Throttling and not-ready errors are retried with exponential backoff and full jitter, ``attempts`` tries in
        all. A scale-to-zero endpoint's "no capacity" is a cold start instead: waited out with backoff
        (COLD_START_BACKOFF_SECONDS) up to ``cold_start_seconds`` (default: the client's, else the parameter's
        ``expected_cold_start_seconds``), without using up tries. An endpoint or model that the runtime says does not
        exist makes the client re-read the parameter at once: after a redeploy it names the new one, and the call
        goes there.
        """
        check_seconds("cold_start_seconds", cold_start_seconds, zero=True)
        parameter = self.endpoint(name)
        # A scale-to-zero endpoint: the one inference component this request goes to, for every try and the cold start.
        endpoint = self.route(parameter, variant)
        reread = False
        number = 0  # tries that count against attempts
        tries = 0
        waited = 0.0  # cold-start backoff slept so far
        cold_since: float | None = None
        cold_waits = 0
        while True:
            number += 1
            tries += 1
            started = self.clock()
            try:
                result = attempt(endpoint)
                cold = started - cold_since if cold_since is not None else 0.0
                return result, tries, self.clock() - started, max(cold, waited)
            except MalformedReplyError as caught:
                raise malformed(caught, endpoint) from None
            except LlmClientError:
                raise
            except UNPARSEABLE as caught:
                raise malformed(caught, endpoint) from None
            except (boto_errors.ClientError, boto_errors.BotoCoreError) as caught:
                error, kind = caught, classify(caught)
            # Outside the except clause, so an error raised here carries no chained traceback.
            if kind == "gone" and not reread:
                reread = True
                self.cache.forget(self.region, name)
                fresh = self.endpoint(name)
                if fresh != parameter:  # a redeploy: the request goes where the new parameter says, routed afresh
                    parameter, endpoint = fresh, self.route(fresh, variant)
                    continue
            if kind == "cold" and is_no_capacity(error) and isinstance(endpoint, SageMakerEndpoint) and endpoint.scale_to_zero:
                budget = self._cold_start_budget(endpoint, cold_start_seconds)
                if cold_since is None:
                    cold_since = started
                if waited >= budget:
                    raise ColdStartError(
                        f"endpoint {endpoint.name} (scale-to-zero, inference component "
                        f"{endpoint.inference_component_name}) still has no copy running after waiting {waited:g} s "
                        f"(its cold-start budget: {budget:g} s; last answer: {describe(error)}). A copy starts when a "
                        "request finds none and takes several minutes: wait longer with cold_start_seconds= "
                        "(smoke test: --cold-start-seconds), try again in a few minutes, or deploy without "
                        "scale_to_zero if callers cannot wait"
                    )
                step = COLD_START_BACKOFF_SECONDS[min(cold_waits, len(COLD_START_BACKOFF_SECONDS) - 1)]
                delay = min(step, budget - waited)
                if self.log:
                    self.log(
                        f"{name} ({endpoint.inference_component_name}): no copy running (cold start from zero); "
                        f"waiting {delay:g} s ({waited:g} of {budget:g} s waited)"
                    )
                self.sleep(delay)
                waited += delay
                cold_waits += 1
                number -= 1  # a cold start does not use up a try
                continue
            if kind not in ("throttled", "cold") or number >= self.attempts:
                raise self._final(error, kind, endpoint, tries)
            delay = self.random() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (number - 1))
            if self.log:
                self.log(f"{name}: {describe(error)}; retrying in {delay:.1f} s (try {number}/{self.attempts})")
            self.sleep(delay)

    def _cold_start_budget(self, endpoint: SageMakerEndpoint, override: float | None) -> float:
        if override is not None:
            return override
        if self.cold_start_seconds is not None:
            return self.cold_start_seconds
        return endpoint.expected_cold_start_seconds

    def route(self, endpoint: Endpoint, variant: str | None = None) -> Endpoint:
        """What one request calls: ``variant``'s variant or component if given; on a scale-to-zero endpoint, one
        inference component drawn by weight; otherwise the endpoint as it is (SageMaker routes between variants)."""
        if not isinstance(endpoint, SageMakerEndpoint):
            return endpoint
        if variant is not None:
            return endpoint.only(variant)
        return endpoint.choose_component(self.routing_random)

    def _final(self, error: Exception, kind: str, endpoint: Endpoint, tries: int) -> LlmClientError:
        label = f"endpoint {endpoint.name} ({endpoint.hosting}, {endpoint.model_label})"
        if kind == "throttled":
            return ThrottledError(
                f"{label} is still throttled after {tries} tries ({describe(error)}): send fewer requests at once, "
                "raise attempts=, or raise the quota (Bedrock) / the instance count (SageMaker scaling.max_instances)"
            )
        if kind == "cold":
            return ColdStartError(
                f"{label} is not ready after {tries} tries ({describe(error)}): it is starting (a GPU instance takes "
                "5-10 minutes to load a model, e.g. scaling out or up from zero); try again in a few minutes"
            )
        if kind == "timeout":
            return CallTimeoutError(
                f"{label} did not answer within {self.timeout_for(endpoint):g} s (twice its latency budget of "
                f"{endpoint.latency_budget_seconds:g} s): it may be overloaded or starting; pass timeout_seconds= "
                "to wait longer"
            )
        if kind == "gone":
            where = "SageMaker endpoint" if isinstance(endpoint, SageMakerEndpoint) else "Bedrock model"
            target = endpoint.name if isinstance(endpoint, SageMakerEndpoint) else endpoint.model_id
            if isinstance(endpoint, SageMakerEndpoint) and endpoint.scale_to_zero:
                target += f" or its inference component {endpoint.inference_component_name}"
            return EndpointNotFoundError(
                f"{where} {target} does not exist in {self.region} although SSM parameter "
                f"{parameter_name(endpoint.name)} names it ({describe(error)}): the stack may be mid-deploy or "
                "destroyed; check its status with ./tasks.sh or the CloudFormation console"
            )
        return translate(error, f"calling {label}")

    # --- the plain path --------------------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        variant: str | None = None,
        cold_start_seconds: float | None = None,
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Any = None,
        request_fields: Mapping[str, Any] | None = None,
    ) -> Answer:
        """One answer from endpoint ``name``: a prompt string or OpenAI-style messages. ``tools`` (Chat Completions
        form, ``{"type": "function", "function": {name, description, parameters}}``) go the endpoint's tool path;
        ``tool_choice``: None / "auto", "required", "none" or ``{"type": "function", "function": {"name": ...}}``.
        ``request_fields``: Bedrock only, Converse's ``additionalModelRequestFields`` (e.g. ``{"thinking": {"type":
        "adaptive"}}``), checked against what the model accepts before the call."""
        target = self.target(name)
        if isinstance(target, Router):
            options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature}
            options |= {"cold_start_seconds": cold_start_seconds, "request_fields": request_fields}
            options |= {"tools": tools, "tool_choice": tool_choice}
            return router.invoke(self, target, prompt, system=system, **options)
        messages = messages_of(prompt, system)

        def attempt(endpoint: Endpoint) -> tuple[wire.Reply, str, str | None, Endpoint]:
            if isinstance(endpoint, SageMakerEndpoint):
                replied = self._sagemaker_invoke(endpoint, messages, max_tokens, temperature, variant, tools, tool_choice)
                return (*replied, endpoint)
            replied_by = self._bedrock_invoke(endpoint, messages, max_tokens, temperature, tools, tool_choice, request_fields)
            return (*replied_by, endpoint.model_key, endpoint)

        (reply, served_by, model_key, endpoint), tries, seconds, cold = self.call_waiting(
            name, attempt, variant, cold_start_seconds
        )
        return Answer(
            text=reply.text,
            endpoint=name,
            hosting=endpoint.hosting,
            served_by=served_by,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            latency_seconds=seconds,
            attempts=tries,
            cold_start_seconds=cold,
            model_key=model_key,
            tool_calls=tuple(reply.tool_calls),
        )

    def stream(
        self,
        name: str,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        variant: str | None = None,
        cold_start_seconds: float | None = None,
        request_fields: Mapping[str, Any] | None = None,
    ) -> Iterator[str]:
        """The answer's text as it is generated. Retries happen only before the first piece arrives. ``request_fields``:
        as for ``invoke``."""
        target = self.target(name)
        if isinstance(target, Router):
            options = {"max_tokens": max_tokens, "temperature": temperature, "cold_start_seconds": cold_start_seconds}
            yield from router.stream(self, target, prompt, system=system, **options)
            return
        messages = messages_of(prompt, system)

        def attempt(endpoint: Endpoint) -> tuple[Endpoint, Any, wire.Deadline]:
            deadline = self.deadline(endpoint)
            if isinstance(endpoint, SageMakerEndpoint):
                request = sagemaker_request(endpoint, messages, max_tokens=max_tokens, temperature=temperature, stream=True)
                if variant and not endpoint.scale_to_zero:
                    request["TargetVariant"] = variant
                return endpoint, self.runtime(endpoint).invoke_endpoint_with_response_stream(**request)["Body"], deadline
            request = bedrock_request(endpoint, messages, max_tokens, temperature, request_fields)
            return endpoint, self.runtime(endpoint).converse_stream(**request)["stream"], deadline

        (endpoint, events, deadline), _, _, _ = self.call_waiting(name, attempt, variant, cold_start_seconds)
        yield from self.guard(stream_texts(endpoint, events, deadline), endpoint, deadline)

    def guard(self, items: Iterator[T], endpoint: Endpoint, deadline: wire.Deadline | None = None) -> Iterator[T]:
        """``items``, with an error in the middle of a stream turned into an LlmClientError (not retried), and
        ``deadline`` checked after each item."""
        try:
            for item in items:
                yield item
                if deadline:
                    deadline.check()
        except MalformedReplyError as error:
            raise malformed(error, endpoint) from None
        except UNPARSEABLE as error:
            raise malformed(error, endpoint) from None
        except (boto_errors.ClientError, boto_errors.BotoCoreError) as error:
            raise self._final(error, classify(error), endpoint, 1) from None

    def _sagemaker_invoke(
        self,
        endpoint: SageMakerEndpoint,
        messages: list[dict[str, Any]],
        max_tokens: int | None,
        temperature: float | None,
        variant: str | None,
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Any = None,
    ) -> tuple[wire.Reply, str, str | None]:
        """The reply, who served it (the variant, or the inference component) and its model key."""
        request = sagemaker_request(
            endpoint, messages, max_tokens=max_tokens, temperature=temperature, tools=tools, tool_choice=tool_choice
        )
        if variant and not endpoint.scale_to_zero:  # a component endpoint is called by component, never by variant
            request["TargetVariant"] = variant
        deadline = self.deadline(endpoint)
        response = self.runtime(endpoint).invoke_endpoint(**request)
        reply = parse_reply(endpoint, response["Body"], deadline, tools, tool_choice)
        invoked = response.get("InvokedProductionVariant")
        served_by = endpoint.inference_component_name or str(invoked or variant or "")
        return reply, served_by, endpoint.model_of(invoked or variant)

    def _bedrock_invoke(
        self,
        model: BedrockModel,
        messages: list[dict[str, Any]],
        max_tokens: int | None,
        temperature: float | None,
        tools: Sequence[Mapping[str, Any]] = (),
        tool_choice: Any = None,
        fields: Mapping[str, Any] | None = None,
    ) -> tuple[wire.Reply, str]:
        request = bedrock_request(model, messages, max_tokens, temperature, fields)
        if tools and tool_choice != "none":
            request["toolConfig"] = bedrock_tool_config(tools, tool_choice)
        response = self.runtime(model).converse(**request)
        content = ((response.get("output") or {}).get("message") or {}).get("content") or []
        usage = response.get("usage") or {}
        reply = wire.Reply(
            text="".join(block.get("text", "") for block in content),
            tool_calls=[
                wire.tool_call_of(str(use.get("toolUseId") or ""), str(use.get("name") or ""), use.get("input"))
                for use in (block.get("toolUse") for block in content)
                if isinstance(use, dict)
            ],
            input_tokens=usage.get("inputTokens"),
            output_tokens=usage.get("outputTokens"),
            finish_reason=response.get("stopReason"),
        )
        return reply, model.model_id


def bedrock_tool_config(tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> dict[str, Any]:
    """Converse's ``toolConfig`` for Chat Completions tools and tool_choice."""
    config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": t["function"]["name"],
                    "description": t["function"].get("description") or t["function"]["name"],
                    "inputSchema": {"json": t["function"].get("parameters") or {"type": "object", "properties": {}}},
                }
            }
            for t in tools
        ]
    }
    forced = constrained.forced_tool(tool_choice)
    if forced:
        config["toolChoice"] = {"tool": {"name": forced}}
    elif tool_choice == "required":
        config["toolChoice"] = {"any": {}}
    return config


def parse_reply(
    endpoint: SageMakerEndpoint,
    body: Any,
    deadline: wire.Deadline | None = None,
    tools: Sequence[Mapping[str, Any]] = (),
    tool_choice: Any = None,
) -> wire.Reply:
    """The container's answer from InvokeEndpoint's body, read within the size cap and ``deadline``; a constrained
    reply to ``tools`` becomes the tool call or answer it holds."""
    data = wire.read_body(body, deadline)
    if endpoint.api == "text":
        return wire.parse_text_response(wire.loads(data, "a text-generation answer"))
    reply = wire.parse_chat_completion(wire.loads(data, "a Chat Completions object"))
    return constrained.parse(reply, tools) if is_constrained(endpoint, tools, tool_choice) else reply


def payloads(events: Any) -> Iterator[bytes]:
    """The bytes of InvokeEndpointWithResponseStream's PayloadPart events."""
    for event in events:
        part = event.get("PayloadPart") if isinstance(event, dict) else None
        if isinstance(part, dict) and isinstance(part.get("Bytes"), bytes):
            yield part["Bytes"]


def stream_texts(endpoint: Endpoint, events: Any, deadline: wire.Deadline | None = None) -> Iterator[str]:
    """The text pieces of a SageMaker response stream (container chunks) or a ConverseStream."""
    if isinstance(endpoint, SageMakerEndpoint):
        parse = wire.chat_chunk if endpoint.api == "messages" else wire.text_chunk
        for obj in wire.json_lines(payloads(events), deadline):
            text = parse(obj).text
            if text:
                yield text
    else:
        for event in events:
            text = event.get("contentBlockDelta", {}).get("delta", {}).get("text")
            if text:
                yield text


def answer_tokens(endpoint: SageMakerEndpoint, max_tokens: int | None) -> int:
    """``max_tokens`` (default 512), never more than the room the endpoint's token limits leave."""
    check_max_tokens(max_tokens)
    return min(max_tokens or DEFAULT_MAX_TOKENS, endpoint.max_new_tokens)


def check_max_tokens(max_tokens: int | None) -> None:
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ConfigurationError(f"max_tokens={max_tokens!r}: give a whole number of tokens, at least 1")


def check_temperature(temperature: float | None) -> None:
    if temperature is None:
        return
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise ConfigurationError(f"temperature={temperature!r}: give a number from 0 to 2")


def sagemaker_request(
    endpoint: SageMakerEndpoint,
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
    tools: Sequence[Mapping[str, Any]] = (),
    tool_choice: Any = None,
) -> dict[str, Any]:
    """InvokeEndpoint's arguments: the body in the shape every variant's container takes."""
    body = request_body(
        endpoint,
        messages,
        max_tokens=max_tokens,
        stop=endpoint.stop_sequences,
        stream=stream,
        temperature=temperature,
        tools=tools,
        tool_choice=tool_choice,
    )
    request = {
        "EndpointName": endpoint.name,
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": json.dumps(body),
    }
    if endpoint.inference_component_name:  # SageMaker requires it on an endpoint that hosts inference components
        request["InferenceComponentName"] = endpoint.inference_component_name
    return request


def request_body(
    endpoint: SageMakerEndpoint,
    messages: Sequence[Mapping[str, Any]],
    *,
    max_tokens: int | None,
    stop: Sequence[str],
    stream: bool,
    temperature: float | None,
    tools: Sequence[Mapping[str, Any]] = (),
    tool_choice: Any = None,
) -> dict[str, Any]:
    """The container's JSON body. ``tools`` (OpenAI form) go the endpoint's tool path: native as ``tools``, constrained
    as a JSON schema in ``response_format`` (``llm_client.constrained``); an endpoint without tool calling refuses."""
    endpoint.check_one_request_shape()
    check_temperature(temperature)
    tokens = answer_tokens(endpoint, max_tokens)
    if endpoint.api == "text":
        if tools:
            raise tools_unsupported(endpoint)
        return wire.text_request(
            wire.render_prompt(endpoint.prompt_format, messages),
            container=endpoint.container,
            max_new_tokens=tokens,
            stop=stop,
            stream=stream,
            temperature=temperature,
        )
    if tools and endpoint.tool_path == "none":
        raise tools_unsupported(endpoint)
    if is_constrained(endpoint, tools, tool_choice):
        turns = constrained.messages(messages, tools, tool_choice)
        body = wire.messages_request(turns, max_tokens=tokens, stop=stop, stream=stream, temperature=temperature)
        return {**body, "response_format": constrained.response_format(tools, tool_choice)}
    return wire.messages_request(
        messages, max_tokens=tokens, stop=stop, stream=stream, temperature=temperature, tools=tools, tool_choice=tool_choice
    )


def is_constrained(endpoint: Endpoint, tools: Sequence[Mapping[str, Any]], tool_choice: Any) -> bool:
    """Whether a request with these tools takes the constrained path (tool_choice "none": a plain request)."""
    return bool(tools) and endpoint.tool_path == "constrained" and tool_choice != "none"


def tools_unsupported(endpoint: SageMakerEndpoint) -> UnsupportedError:
    """The error for tools sent to an endpoint that a request may reach a variant without tool calling on."""
    unable = [v for v in endpoint.served if not v.can_call_tools]
    split = len(endpoint.served) > 1  # a request may reach any of them
    reasons = "; ".join(
        f"{f'the container of {v.model_key}' if split else 'its container'} "
        f"{'has no Messages API' if v.api == 'text' else 'was deployed without tool calling (tool_calling: none)'}"
        for v in unable
    )
    if split:
        reasons += " (requests are split between its models by weight: call one with variant=...)"
    return UnsupportedError(
        f"endpoint {endpoint.name} ({endpoint.model_label}) cannot call tools: {reasons}. Serve the model from the LMI "
        "container (Messages API; the parameter's tool_calling then says native or constrained), or move the endpoint "
        "to a Bedrock model"
    )


def bedrock_request(
    model: BedrockModel,
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
    temperature: float | None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Converse's arguments for OpenAI-style text messages, with ``fields`` as ``additionalModelRequestFields``.
    Raises UnsupportedError, before any call, for fields the model refuses (model_rules.py)."""
    check_temperature(temperature)
    check_max_tokens(max_tokens)
    check_request_fields(f"{model.name} ({model.model_id})", model.capabilities, fields)
    request: dict[str, Any] = {
        "modelId": model.model_id,
        "messages": [
            {"role": m["role"], "content": [{"text": wire.text_of(m)}]} for m in messages if m["role"] in ("user", "assistant")
        ],
    }
    system = [{"text": wire.text_of(m)} for m in messages if m["role"] == "system"]
    if system:
        request["system"] = system
    inference: dict[str, Any] = {}
    if max_tokens:
        inference["maxTokens"] = max_tokens
    if temperature is not None:
        inference["temperature"] = temperature
    if inference:
        request["inferenceConfig"] = inference
    if fields:
        request["additionalModelRequestFields"] = dict(fields)
    return request


# --- errors ------------------------------------------------------------------------------------------------


def code_of(error: Exception) -> str:
    if isinstance(error, boto_errors.ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def describe(error: Exception) -> str:
    if isinstance(error, boto_errors.ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")
    return str(error)


def malformed(error: Exception, endpoint: Endpoint) -> MalformedReplyError:
    """A reply that is not the container's or the service's format, as one error naming the endpoint."""
    return MalformedReplyError(
        f"endpoint {endpoint.name} ({endpoint.hosting}, {endpoint.model_label}) answered, but not in its container's "
        f"format ({error}): check the endpoint's logs (CloudWatch /aws/sagemaker/Endpoints/{endpoint.name}) and that "
        "the parameter's container and api match what serves it"
    )


def check_seconds(option: str, value: float | None, *, zero: bool = False) -> None:
    """A duration option: None (the default) or a finite number of seconds > 0 (>= 0 where ``zero``), at most a day."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{option}={value!r}: give a finite number of seconds")
    if not (value >= 0 if zero else value > 0) or value > 86_400:
        raise ConfigurationError(f"{option}={value!r}: give seconds {'from 0' if zero else 'above 0'} up to 86400")


def is_no_capacity(error: Exception) -> bool:
    """An inference component with no copy running ("... has no capacity to process this request")."""
    return "no capacity" in describe(error).lower()


def classify(error: Exception) -> str:
    """throttled | cold | timeout | gone | credentials | access | other."""
    if isinstance(error, boto_errors.NoCredentialsError | boto_errors.PartialCredentialsError):
        return "credentials"
    if isinstance(error, boto_errors.ReadTimeoutError):
        return "timeout"
    code, message = code_of(error), describe(error).lower()
    if code in THROTTLING_CODES:
        return "throttled"
    if code in COLD_START_CODES or any(m in message for m in COLD_START_MESSAGES):
        return "cold"
    if code in ACCESS_CODES:
        return "access"
    if code == "ResourceNotFoundException" or (code == "ValidationError" and any(m in message for m in GONE_MESSAGES)):
        return "gone"
    if code == "ValidationException" and "model identifier is invalid" in message:
        return "gone"
    return "other"


def translate(error: Exception, doing: str) -> LlmClientError:
    """Any boto3 error as one LlmClientError whose message says what to do."""
    kind = classify(error)
    if kind == "credentials":
        return NoCredentialsError(
            f"no AWS credentials found ({doing}): configure them as for the AWS CLI (aws configure, aws sso login, "
            "AWS_PROFILE, or the instance's or task's role)"
        )
    if kind == "access":
        return AccessDeniedError(
            f"access denied ({doing}): {describe(error)}. The caller needs ssm:GetParameter on the endpoint's parameter "
            "and sagemaker:InvokeEndpoint on the endpoint, or the Bedrock stack's client role or invoke policy"
        )
    if isinstance(error, boto_errors.EndpointConnectionError):
        return InvocationError(f"cannot reach AWS ({doing}): {error}")
    return InvocationError(f"{doing} failed: {describe(error)}")


# --- module-level shortcuts -----------------------------------------------------------------------------

_DEFAULT_CLIENTS: dict[str | None, Client] = {}
_DEFAULT_LOCK = threading.Lock()


def default_client(region: str | None = None) -> Client:
    """One shared Client per region (so the parameter cache is shared too)."""
    with _DEFAULT_LOCK:
        if region not in _DEFAULT_CLIENTS:
            _DEFAULT_CLIENTS[region] = Client(region=region)
        return _DEFAULT_CLIENTS[region]


def invoke(name: str, prompt: str | Sequence[Mapping[str, Any]], *, region: str | None = None, **options: Any) -> Answer:
    """``Client(region=region).invoke(name, prompt, **options)``, with a shared client."""
    return default_client(region).invoke(name, prompt, **options)


def stream(name: str, prompt: str | Sequence[Mapping[str, Any]], *, region: str | None = None, **options: Any) -> Iterator[str]:
    """``Client(region=region).stream(name, prompt, **options)``, with a shared client."""
    return default_client(region).stream(name, prompt, **options)
