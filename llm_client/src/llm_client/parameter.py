"""The endpoint's SSM parameter ``/llm-endpoints/NAME``: its schema, parsed into typed objects, and a TTL cache.

The CDK stacks of this repository write it (stacks/sagemaker_endpoint_stack.py, stacks/bedrock_access_stack.py);
this module is the one reader. Schema version 2, a JSON object:

- every parameter: ``schema_version`` (2), ``hosting`` (``sagemaker`` | ``bedrock``), ``endpoint_name``, ``region``.
- ``sagemaker``: ``variants``, a list of ``{variant_name, model_key, container, api, prompt_format, stop_sequences,
  max_input_tokens, max_total_tokens, latency_budget_seconds, tool_calling}``. ``api`` is ``messages`` when the
  serving container answers the OpenAI-style Chat Completions schema on /invocations (LMI/vLLM and TGI >= 1.4 do),
  ``text`` when it only takes ``{"inputs": PROMPT}`` (the client then applies ``prompt_format``). SageMaker splits
  requests between the variants of a plain endpoint by their weights, server-side. ``tool_calling`` says how the
  variant calls tools: ``native`` (the container parses the model's own tool calls: vLLM with a tool-call parser,
  TGI), ``constrained`` (vLLM without a parser for the model: the client asks for a JSON schema of "a call or an
  answer" through structured outputs, ``llm_client.constrained``) or ``none`` (the text API: no tools). Parameters
  written before the three values existed hold a boolean: ``true`` reads as ``native``, ``false`` as ``none``.
- a scale-to-zero endpoint (models served as inference components) adds ``scale_to_zero: true``,
  ``expected_cold_start_seconds`` and ``inference_component_name``, and each entry of ``variants`` is one inference
  component: it adds ``inference_component_name`` (every runtime call names one: InferenceComponentName, never
  TargetVariant) and ``weight``, the whole percent (0-100) of requests that clients send to that component. SageMaker
  does not split traffic between components, so the client does: it draws the component of each request by weight
  (``SageMakerEndpoint.choose_component``). The weights add up to 100; a weight-0 entry is a drained component about
  to be removed, which gets no requests. Two entries are a migration between two models on one endpoint. The
  top-level ``inference_component_name`` names the entry with the largest weight (the first on a tie), so a client
  that predates the weights calls that one. A parameter written before the weights existed (one entry without
  ``inference_component_name`` and ``weight``) means that entry is the top-level component, at 100%. Without
  ``scale_to_zero`` the endpoint is a plain variant endpoint (parameters written before scale-to-zero existed).
- ``bedrock``: ``model_key``, ``model_id`` (what the client passes as Converse's ``modelId``: the inference profile id
  when the model is called through one, else the foundation model id), ``foundation_model_id``, optional
  ``inference_profile_id``, ``client_role_arn``, ``context_length``, ``latency_budget_seconds``, and optional
  ``capabilities`` (``thinking_types``, ``forced_tool_use``, ``refused_anthropic_versions``): what the model refuses,
  which the client refuses before the call (model_rules.py). Absent in parameters written before it existed: no checks.

Parameters without ``schema_version`` are schema 1 (written before the client existed): they are refused with the fix
(redeploy the stack, which rewrites only the parameter).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from llm_client.errors import ParameterSchemaError, UnsupportedError
from llm_client.model_rules import Capabilities, parse_capabilities
from llm_client.router import Router, parse_router

PARAMETER_PREFIX = "/llm-endpoints"
SCHEMA_VERSION = 2
# How long a read parameter is trusted. Short, so a running agent follows a redeploy (a model swap, a move to
# Bedrock) within a minute without a restart; long enough that a busy agent reads SSM about once a minute, far below
# SSM's GetParameter rate limit. A call that finds the endpoint gone re-reads at once (see client.py).
DEFAULT_TTL_SECONDS = 60.0
# The ranges a number of the parameter must lie in (the stacks write values far inside them). They keep a hostile or
# corrupt value from making a wait endless (NaN or Infinity seconds) or an int() overflow.
MAX_SECONDS = 3600.0  # a latency budget or a cold start longer than an hour is not one a caller waits for
MAX_TOKENS = 10_000_000  # token limits: no model's context comes near

Api = Literal["messages", "text"]
ToolPath = Literal["native", "constrained", "none"]
TOOL_PATHS: tuple[ToolPath, ...] = ("native", "constrained", "none")


def parameter_name(endpoint: str) -> str:
    return f"{PARAMETER_PREFIX}/{endpoint}"


@dataclass(frozen=True)
class Variant:
    """One production variant of a SageMaker endpoint: a model in its serving container."""

    name: str
    model_key: str
    container: str
    api: Api
    prompt_format: str
    stop_sequences: tuple[str, ...]
    max_input_tokens: int
    max_total_tokens: int
    latency_budget_seconds: float
    tool_calling: ToolPath  # a boolean given here is read as the parameter's old form: True native, False none
    # A scale-to-zero endpoint's entry: the inference component that serves this model, and the percent of requests
    # clients send it (0: drained). None on a plain variant endpoint, where SageMaker applies the variants' weights.
    inference_component_name: str | None = None
    weight: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.tool_calling, bool):
            object.__setattr__(self, "tool_calling", "native" if self.tool_calling else "none")

    @property
    def tool_path(self) -> ToolPath:
        """How a request with tools is sent to this variant (``none`` without the Messages API)."""
        return self.tool_calling if self.api == "messages" else "none"

    @property
    def can_call_tools(self) -> bool:
        return self.tool_path != "none"


@dataclass(frozen=True)
class SageMakerEndpoint:
    """A SageMaker real-time endpoint. With several variants SageMaker picks one per request by weight, so every
    request must suit all of them: the properties below are what all variants accept. A scale-to-zero endpoint is
    called one inference component at a time: ``choose_component`` or ``only`` narrows it to the component a request
    goes to, and the properties are then that component's model's."""

    name: str
    region: str
    variants: tuple[Variant, ...]
    hosting: Literal["sagemaker"] = "sagemaker"
    inference_component_name: str | None = None  # set: a scale-to-zero endpoint, called by component
    expected_cold_start_seconds: float = 0.0  # how long a copy takes to start from zero (the parameter's)

    @property
    def scale_to_zero(self) -> bool:
        return self.inference_component_name is not None

    @property
    def served(self) -> tuple[Variant, ...]:
        """The variants or components that get requests (a drained component, weight 0, gets none)."""
        return tuple(v for v in self.variants if v.weight != 0)

    @property
    def api(self) -> Api:
        return "messages" if all(v.api == "messages" for v in self.variants) else "text"

    @property
    def prompt_format(self) -> str:
        return self.variants[0].prompt_format

    @property
    def container(self) -> str:
        return self.variants[0].container

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for v in self.variants for s in v.stop_sequences))

    @property
    def max_new_tokens(self) -> int:
        """The room every variant leaves for the answer: max_total_tokens - max_input_tokens."""
        return min(v.max_total_tokens - v.max_input_tokens for v in self.variants)

    @property
    def latency_budget_seconds(self) -> float:
        return max(v.latency_budget_seconds for v in self.variants)

    @property
    def tool_calling(self) -> bool:
        """Every variant or component a request may reach can take tools."""
        return all(v.can_call_tools for v in self.served)

    @property
    def tool_path(self) -> ToolPath:
        """The path one request with tools takes, so that it suits every variant it may reach: ``none`` if one cannot
        call tools, else ``constrained`` if one has no parser (vLLM's structured outputs work on every model), else
        ``native``."""
        paths = {v.tool_path for v in self.served}
        return "none" if "none" in paths else "constrained" if "constrained" in paths else "native"

    @property
    def model_label(self) -> str:
        return "+".join(v.model_key for v in self.variants)

    def model_of(self, variant_name: str | None) -> str | None:
        """The model key of the variant that answered (the only one of a narrowed endpoint), if known."""
        if len(self.variants) == 1:
            return self.variants[0].model_key
        return next((v.model_key for v in self.variants if v.name == variant_name), None)

    def check_one_request_shape(self) -> None:
        """SageMaker routes each request to a variant by weight: without TargetVariant, one body must suit all."""
        if self.scale_to_zero and len(self.variants) > 1:
            raise UnsupportedError(
                f"endpoint {self.name} serves several inference components ({self.components_label}): a request goes "
                "to one of them, so narrow the endpoint first (choose_component(), or only(NAME))"
            )
        if self.api == "text" and len({(v.prompt_format, v.container) for v in self.variants}) > 1:
            raise UnsupportedError(
                f"endpoint {self.name}: its variants need different prompts ({self.model_label}) and not all serve the "
                "Messages API, so no single request suits the variant SageMaker picks: serve them from a container "
                "with the Messages API (the LMI default), or call one variant at a time (variant=...)"
            )

    @property
    def components_label(self) -> str:
        """``mistral-7b (quiet-mistral-7b, 90%), llama2-7b (quiet-llama2-7b, 10%)``."""
        return ", ".join(f"{v.model_key} ({v.inference_component_name}, {v.weight}%)" for v in self.variants)

    def choose_component(self, rng: random.Random) -> SageMakerEndpoint:
        """The endpoint narrowed to the inference component one request goes to, drawn by weight among the components
        with weight > 0 (``rng.choices``: each request independently, so 90/10 sends about 9 in 10 requests to the
        first). A plain variant endpoint comes back as it is: SageMaker applies its variants' weights."""
        if not self.scale_to_zero or len(self.variants) == 1:
            return self
        served = self.served
        return self._narrowed(rng.choices(served, weights=[v.weight or 0 for v in served])[0])

    def only(self, name: str) -> SageMakerEndpoint:
        """This endpoint restricted to one variant (requests then name it: TargetVariant), or on a scale-to-zero
        endpoint to one inference component, named by its model key or its component name."""
        if self.scale_to_zero:
            for v in self.variants:
                if name in (v.model_key, v.inference_component_name):
                    return self._narrowed(v)
            raise UnsupportedError(
                f"endpoint {self.name} has no inference component or model {name!r}: give a model key or a component "
                f"name (it has: {self.components_label})"
            )
        chosen = tuple(v for v in self.variants if v.name == name)
        if not chosen:
            known = ", ".join(v.name for v in self.variants)
            raise UnsupportedError(f"endpoint {self.name} has no variant {name!r} (it has: {known})")
        return replace(self, variants=chosen)

    def _narrowed(self, component: Variant) -> SageMakerEndpoint:
        return replace(self, variants=(component,), inference_component_name=component.inference_component_name)


@dataclass(frozen=True)
class BedrockModel:
    """A Bedrock model behind an endpoint name."""

    name: str
    region: str
    model_key: str
    model_id: str
    latency_budget_seconds: float
    context_length: int | None = None
    client_role_arn: str | None = None
    hosting: Literal["bedrock"] = "bedrock"
    capabilities: Capabilities | None = None  # None: the parameter says nothing, the client checks nothing

    @property
    def tool_calling(self) -> bool:
        return True  # Converse tool use: every model the stacks ship (Claude 3 and later) supports it

    @property
    def tool_path(self) -> ToolPath:
        return "native"

    @property
    def model_label(self) -> str:
        return self.model_key


Endpoint = SageMakerEndpoint | BedrockModel


def parse_target(name: str, value: str) -> Endpoint | Router:
    """An endpoint, or a router (``hosting: router``, llm_client.router) whose routes are endpoints."""
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):  # parse_parameter says what is wrong
        data = None
    if isinstance(data, dict) and data.get("hosting") == "router" and data.get("schema_version") == SCHEMA_VERSION:
        return parse_router(f"SSM parameter {parameter_name(name)}", name, data)
    return parse_parameter(name, value)


def parse_parameter(name: str, value: str) -> Endpoint:
    """The endpoint a parameter value describes; ParameterSchemaError says what is wrong and how to fix it."""
    where = f"SSM parameter {parameter_name(name)}"
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise ParameterSchemaError(f"{where} does not hold JSON: it is not one the llm-endpoints stacks write") from None
    if not isinstance(data, dict):
        raise ParameterSchemaError(f"{where} does not hold a JSON object: it is not one the llm-endpoints stacks write")
    version = data.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise ParameterSchemaError(
                f"{where} has schema {version}, newer than this client reads ({SCHEMA_VERSION}): "
                "upgrade llm-endpoints-client from the repository that deployed the endpoint"
            )
        raise ParameterSchemaError(
            f"{where} has schema {version} (written by an older version of the stacks); this client reads schema "
            f"{SCHEMA_VERSION}: redeploy the endpoint's stack from the current repository (npx cdk deploy "
            f"-c endpoint={name} ...); the deploy rewrites the parameter and leaves the endpoint as it is"
        )
    fields = _Fields(where, data)
    hosting = fields.text("hosting")
    region = fields.text("region")
    if hosting == "sagemaker":
        variants = data.get("variants")
        if not isinstance(variants, list) or not variants:
            raise ParameterSchemaError(f"{where}: 'variants' must be a non-empty list")
        parsed = tuple(_variant(_Fields(f"{where} variant {i}", v)) for i, v in enumerate(variants))
        if data.get("scale_to_zero") is True:
            top = fields.text("inference_component_name")
            return SageMakerEndpoint(
                name=fields.text("endpoint_name"),
                region=region,
                variants=_components(where, top, variants, parsed),
                inference_component_name=top,
                expected_cold_start_seconds=fields.number("expected_cold_start_seconds"),
            )
        return SageMakerEndpoint(name=fields.text("endpoint_name"), region=region, variants=parsed)
    if hosting == "bedrock":
        # model_id is what Converse takes (the inference profile id when there is one); tolerate parameters that
        # name only the profile or only the foundation model.
        model_id = data.get("model_id") or data.get("inference_profile_id") or data.get("foundation_model_id")
        if not isinstance(model_id, str) or not model_id:
            raise ParameterSchemaError(f"{where}: no 'model_id' (the id to pass to Converse)")
        context_length = data.get("context_length")
        role = data.get("client_role_arn")
        return BedrockModel(
            name=fields.text("endpoint_name"),
            region=region,
            model_key=fields.text("model_key"),
            model_id=model_id,
            latency_budget_seconds=fields.number("latency_budget_seconds"),
            context_length=context_length if isinstance(context_length, int) else None,
            client_role_arn=role if isinstance(role, str) else None,
            capabilities=parse_capabilities(where, data.get("capabilities")),
        )
    raise ParameterSchemaError(
        f"{where}: unknown hosting {hosting!r} (this client knows sagemaker and bedrock): upgrade llm-endpoints-client"
    )


def _variant(fields: _Fields) -> Variant:
    api = fields.text("api")
    if api not in ("messages", "text"):
        raise ParameterSchemaError(f"{fields.where}: 'api' is {api!r}, expected 'messages' or 'text'")
    stops = fields.data.get("stop_sequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise ParameterSchemaError(f"{fields.where}: 'stop_sequences' must be a list of strings")
    max_input, max_total = fields.integer("max_input_tokens"), fields.integer("max_total_tokens")
    if max_total <= max_input:
        raise ParameterSchemaError(
            f"{fields.where}: 'max_total_tokens' ({max_total}) must be above 'max_input_tokens' ({max_input}): the "
            "difference is the room left for the answer. Redeploy the endpoint's stack to rewrite the parameter"
        )
    return Variant(
        name=fields.text("variant_name"),
        model_key=fields.text("model_key"),
        container=fields.text("container"),
        api=api,  # type: ignore[arg-type]  # checked above
        prompt_format=fields.text("prompt_format"),
        stop_sequences=tuple(stops),
        max_input_tokens=max_input,
        max_total_tokens=max_total,
        latency_budget_seconds=fields.number("latency_budget_seconds"),
        tool_calling=_tool_path(fields),
    )


def _tool_path(fields: _Fields) -> ToolPath:
    value = fields.data.get("tool_calling", False)
    if isinstance(value, bool):  # written before the three paths existed
        return "native" if value else "none"
    if value not in TOOL_PATHS:
        raise ParameterSchemaError(
            f"{fields.where}: 'tool_calling' is {value!r}, expected one of {', '.join(TOOL_PATHS)} (or true / false): "
            "redeploy the endpoint's stack to rewrite the parameter, or upgrade llm-endpoints-client"
        )
    return value  # type: ignore[no-any-return]  # one of TOOL_PATHS


def _components(where: str, top: str, entries: list[Any], variants: tuple[Variant, ...]) -> tuple[Variant, ...]:
    """A scale-to-zero endpoint's entries with their inference components and weights, checked."""
    if len(entries) == 1 and not {"inference_component_name", "weight"} & set(entries[0]):
        return (replace(variants[0], inference_component_name=top, weight=100),)  # written before weights existed
    fix = (
        "each entry names its own inference component and the weights are whole percents adding up to 100, as the "
        "llm-endpoints stacks write them (redeploy the endpoint's stack to rewrite the parameter)"
    )
    components = []
    for i, (entry, variant) in enumerate(zip(entries, variants, strict=True)):
        name = _Fields(f"{where} variant {i}", entry).text("inference_component_name")
        weight = entry.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ParameterSchemaError(
                f"{where} variant {i}: 'weight' is {weight!r}, expected a whole percent from 0 to 100 (the share of "
                f"requests its inference component gets; 0: drained): {fix}"
            )
        components.append(replace(variant, inference_component_name=name, weight=weight))
    names = [c.inference_component_name for c in components]
    twice = sorted({n for n in names if n is not None and names.count(n) > 1})
    if twice:
        raise ParameterSchemaError(f"{where}: inference component {', '.join(twice)} is named by more than one entry: {fix}")
    total = sum(c.weight or 0 for c in components)
    if total != 100:
        raise ParameterSchemaError(f"{where}: the entries' weights add up to {total}, not 100: {fix}")
    if top not in names:
        raise ParameterSchemaError(
            f"{where}: the top-level 'inference_component_name' {top!r} is none of the entries' components "
            f"({', '.join(n for n in names if n)}): it must name the entry with the largest weight"
        )
    return tuple(components)


class _Fields:
    def __init__(self, where: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ParameterSchemaError(f"{where} is not a JSON object")
        self.where = where
        self.data: Mapping[str, Any] = data

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise ParameterSchemaError(f"{self.where}: missing or empty '{key}'")
        return value

    def number(self, key: str, limit: float = MAX_SECONDS) -> float:
        """A positive, finite number up to ``limit`` (seconds, by default)."""
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= limit or math.isnan(value):
            raise ParameterSchemaError(f"{self.where}: '{key}' is {value!r}; it must be a positive number up to {limit:g}")
        return float(value)

    def integer(self, key: str) -> int:
        """A positive whole number of tokens up to MAX_TOKENS."""
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TOKENS:
            raise ParameterSchemaError(f"{self.where}: '{key}' is {value!r}; it must be a whole number from 1 to {MAX_TOKENS}")
        return value


class ParameterCache:
    """Parsed parameters by (region, name), each trusted for ``ttl_seconds``. Thread-safe."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Endpoint | Router]] = {}
        self._lock = threading.Lock()

    def get(self, region: str, name: str, read: Callable[[], str]) -> Endpoint | Router:
        key = (region, name)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry and now < entry[0]:
                return entry[1]
        endpoint = parse_target(name, read())
        with self._lock:
            self._entries[key] = (now + self.ttl_seconds, endpoint)
        return endpoint

    def put(self, region: str, name: str, endpoint: Endpoint) -> None:
        """Pin ``name`` to ``endpoint`` (no expiry)."""
        with self._lock:
            self._entries[(region, name)] = (float("inf"), endpoint)

    def forget(self, region: str, name: str) -> None:
        """Re-read ``name`` on next use (a pinned entry stays)."""
        with self._lock:
            entry = self._entries.get((region, name))
            if entry and entry[0] != float("inf"):
                del self._entries[(region, name)]
