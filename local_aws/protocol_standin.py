"""A protocol stand-in for the model runtimes: speaks the wire formats, is NOT a model.

moto's sagemaker-runtime and bedrock-runtime do not speak the real protocols, so the local rehearsal runs this
server on its own 127.0.0.1 port and points the clients' runtime endpoints at it
(``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME``). It answers:

- SageMaker runtime ``InvokeEndpoint`` (POST /endpoints/NAME/invocations) and ``InvokeEndpointWithResponseStream``
  (.../invocations-response-stream, AWS event-stream binary framing of ``PayloadPart`` events), with the serving
  container's JSON: the Messages API (Chat Completions, streamed as server-sent events) and the ``inputs`` API of
  TGI (a list; events) and LMI (an object; JSON lines). Variants are picked by weight, or by TargetVariant. An
  endpoint that hosts inference components answers only calls that name one (InferenceComponentName), as that
  component's model; SageMaker's errors for a call without one, for one on an endpoint without components, and for
  an unknown one.
- Bedrock runtime ``Converse`` and ``ConverseStream`` (POST /model/ID/converse[-stream]).

What it says is made up by rules, not generated: offered tools and a fresh question -> a call of the first tool,
its arguments filled from the question (numbers for number fields, the text for strings); a tool result -> a sentence
that quotes it; otherwise "[protocol stand-in, not a model: WHO] You said: ..." (WHO names the variant or model
that answered: the variant, or the inference component and its model). Unknown endpoints and models get the services'
own errors. Tests queue faults (throttling, not ready) with ``inject`` and hostile replies with ``script``.

Tools reach a container in one of two wire formats, and the stand-in answers each as the real engine would:

- native: ``tools`` in the body, answered with OpenAI-style ``tool_calls`` (streamed as tool-call deltas). TGI takes
  them for any model; vLLM (LMI) only when started with a tool-call parser (``OPTION_ENABLE_AUTO_TOOL_CHOICE`` and
  ``OPTION_TOOL_CALL_PARSER`` in the model's environment). Without one, vLLM refuses ``tools`` under the default
  ``tool_choice`` "auto" (400, its own message); "required" or a named tool it enforces by structured output. With
  the ``mistral`` parser, call ids are 9 letters and digits, and a conversation carrying any other id is refused, as
  Mistral's tokenizer refuses it.
- constrained: ``response_format`` ``{"type": "json_schema", ...}``, answered with content that is valid against the
  sent schema (a call of the first tool it admits on a fresh question; its answer alternative after a tool result).
  A schema that is not one is refused (vLLM cannot compile it). ``guided_json`` and the other ``guided_*`` fields are
  refused too: vLLM 0.12 removed them and now ignores them without a word, so a client that sends one gets no
  constraint at all; refusing it here makes that bug fail a test.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import random
import re
import string
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import jsonschema
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
EVENT_STREAM = "application/vnd.amazon.eventstream"
SIGNING_REGION = re.compile(r"Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/")  # SigV4's credential scope names the region
COMPONENT_HEADER = "x-amzn-sagemaker-inference-component"  # InvokeEndpoint's InferenceComponentName
TARGET_VARIANT_HEADER = "x-amzn-sagemaker-target-variant"
# SageMaker's runtime errors (ValidationError) for a call without a component to an endpoint that hosts components,
# and for a component on an endpoint that hosts none, as users have quoted them.
COMPONENT_REQUIRED = (
    "Inference Component Name header is required for endpoints to which you plan to deploy inference components. "
    "Please include Inference Component Name header or consider using SageMaker models."
)
COMPONENT_NOT_ALLOWED = (
    "Inference Component Name header is not allowed for endpoints to which you dont plan to deploy inference "
    "components. Please remove the Inference Component Name header and try again."
)


@dataclass(frozen=True)
class StandinVariant:
    name: str
    weight: float
    container: str  # "tgi" | "lmi"
    tool_parser: str | None = None  # LMI: vLLM's tool-call parser (OPTION_TOOL_CALL_PARSER), if started with one


@dataclass(frozen=True)
class StandinComponent:
    """An inference component: one model in its container, on one of the endpoint's variants."""

    name: str
    model: str  # the SageMaker model it serves
    container: str  # "tgi" | "lmi"
    variant: str = "AllTraffic"
    tool_parser: str | None = None  # LMI: vLLM's tool-call parser (OPTION_TOOL_CALL_PARSER), if started with one


@dataclass(frozen=True)
class StandinEndpoint:
    name: str
    variants: tuple[StandinVariant, ...]
    components: tuple[StandinComponent, ...] = ()  # set: every call names one (InferenceComponentName)


class Catalog(Protocol):
    """What is deployed: the rehearsal reads moto (``MotoCatalog``), tests use ``StaticCatalog``."""

    def sagemaker_endpoint(self, region: str, name: str) -> StandinEndpoint | None: ...

    def bedrock_model(self, region: str, model_id: str) -> bool: ...


@dataclass
class StaticCatalog:
    endpoints: dict[str, StandinEndpoint] = field(default_factory=dict)
    bedrock_models: set[str] = field(default_factory=set)

    def sagemaker_endpoint(self, region: str, name: str) -> StandinEndpoint | None:
        return self.endpoints.get(name)

    def bedrock_model(self, region: str, model_id: str) -> bool:
        return model_id in self.bedrock_models


def container_of(image: str) -> str:
    return "lmi" if "djl-inference" in image else "tgi"


def tool_parser_of(environment: Mapping[str, str] | None) -> str | None:
    """vLLM's tool-call parser, as LMI starts it from the container's environment."""
    environment = environment or {}
    if environment.get("OPTION_ENABLE_AUTO_TOOL_CHOICE") == "true":
        return environment.get("OPTION_TOOL_CALL_PARSER")
    return None


class MotoCatalog:
    """Reads the local emulator: SageMaker endpoints (variants, weights, images), the inference components on them
    (ListInferenceComponents, DescribeInferenceComponent) and the Bedrock model ids that deployed stacks published in
    their ``/llm-endpoints/*`` parameters."""

    def __init__(self, make_client: Callable[[str, str], Any]) -> None:
        self.make_client = make_client  # (service, region) -> boto3 client of the emulator
        self.lists_components = True  # False once the emulator refused ListInferenceComponents: not asked again

    def sagemaker_endpoint(self, region: str, name: str) -> StandinEndpoint | None:
        sagemaker = self.make_client("sagemaker", region)
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        except Exception:
            return None
        components = self._components(sagemaker, name)
        if components:  # an endpoint that hosts inference components is called by component, never by variant
            return StandinEndpoint(name, (), components)
        models = {v["VariantName"]: v.get("ModelName") for v in config["ProductionVariants"]}
        variants = []
        for live in endpoint.get("ProductionVariants", config["ProductionVariants"]):
            model = models.get(live["VariantName"])
            if model is None:
                continue  # a variant without a model is there for inference components (none yet, or none left)
            container = sagemaker.describe_model(ModelName=model)["PrimaryContainer"]
            weight = live.get("CurrentWeight", live.get("InitialVariantWeight", 1.0))
            parser = tool_parser_of(container.get("Environment"))
            variants.append(StandinVariant(live["VariantName"], float(weight), container_of(container["Image"]), parser))
        return StandinEndpoint(name, tuple(variants))

    def _components(self, sagemaker: Any, endpoint: str) -> tuple[StandinComponent, ...]:
        if not self.lists_components:
            return ()
        pages = sagemaker.get_paginator("list_inference_components").paginate(EndpointNameEquals=endpoint)
        try:
            summaries = [s for page in pages for s in page["InferenceComponents"]]
        except ClientError:
            # An emulator that does not serve inference components (moto's own answers 500, and botocore retries it):
            # no endpoint has any, so do not pay for the question on every request.
            self.lists_components = False
            return ()
        components = []
        for summary in summaries:
            described = sagemaker.describe_inference_component(InferenceComponentName=summary["InferenceComponentName"])
            specification = described["Specification"]
            model = specification.get("ModelName", "")
            # The component's own container (DescribeInferenceComponent reports it as DeployedImage), or else its model's.
            own = specification.get("Container") or {}
            if not (own.get("DeployedImage") or {}).get("SpecifiedImage"):
                own = sagemaker.describe_model(ModelName=model)["PrimaryContainer"]
            image = (own.get("DeployedImage") or {}).get("SpecifiedImage") or own.get("Image", "")
            parser = tool_parser_of(own.get("Environment"))
            name, variant = described["InferenceComponentName"], described.get("VariantName", "AllTraffic")
            components.append(StandinComponent(name, model or name, container_of(image), variant, parser))
        return tuple(components)

    def bedrock_model(self, region: str, model_id: str) -> bool:
        ssm = self.make_client("ssm", region)
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/llm-endpoints"):
            for parameter in page["Parameters"]:
                try:
                    data = json.loads(parameter["Value"])
                except json.JSONDecodeError:
                    continue
                if data.get("hosting") == "bedrock" and model_id in (data.get("model_id"), data.get("foundation_model_id")):
                    return True
        return False


# --- AWS event-stream framing (what botocore's EventStream parser reads) ------------------------------------


def event_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths + CRC), string headers, payload, message CRC."""
    encoded = b"".join(
        struct.pack("B", len(k)) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
        for k, v in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    head = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return head + struct.pack(">I", binascii.crc32(head))


def event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    return event_message({":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload)


# --- the made-up answers ------------------------------------------------------------------------------------


@dataclass
class Made:
    text: str = ""
    tool: tuple[str, str, dict[str, Any]] | None = None  # (id, name, arguments)
    input_tokens: int = 0

    @property
    def output_tokens(self) -> int:
        return len(self.text.split()) + (1 if self.tool else 0)


NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def tool_arguments(schema: Mapping[str, Any], question: str) -> dict[str, Any]:
    numbers = iter(NUMBER.findall(question))
    arguments: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    for name in schema.get("required") or list(properties):
        kind = (properties.get(name) or {}).get("type")
        if kind in ("number", "integer"):
            found = next(numbers, "0")
            arguments[name] = int(float(found)) if kind == "integer" else float(found)
        elif kind == "boolean":
            arguments[name] = True
        else:
            arguments[name] = question
    return arguments


def make_answer(
    who: str,
    question: str,
    tools: Sequence[tuple[str, Mapping[str, Any]]],
    tool_result: str | None,
    words: int,
    call_id: str = "call_standin_1",
) -> Made:
    if tool_result is not None:
        text = f"The tool says: {tool_result}"
    elif tools:
        name, schema = tools[0]
        return Made(tool=(call_id, name, tool_arguments(schema, question)))
    else:
        text = f"[protocol stand-in, not a model: {who}] You said: {question}"
    return Made(text=" ".join(text.split(" ")[: max(words, 1)]))


def pieces(text: str) -> list[str]:
    """The text as streamed tokens: words with their leading space."""
    words = text.split(" ")
    return [words[0], *[" " + w for w in words[1:]]] if text else []


def split_bytes(data: bytes) -> list[bytes]:
    """Two PayloadParts per line, cut mid-JSON: clients must reassemble lines across parts."""
    middle = len(data) // 2
    return [data[:middle], data[middle:]] if middle else [data]


# --- container formats --------------------------------------------------------------------------------------


def openai_tools(body: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(t["function"]["name"], t["function"].get("parameters") or {}) for t in body.get("tools") or []]


def last_turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """(the last user text, the tool result after it, if the conversation ends with one)."""
    question, result = "", None
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
        if message.get("role") == "user":
            question, result = text, None
        elif message.get("role") == "tool":
            result = text
    return question, result


MISTRAL_CALL_ID = re.compile(r"[a-zA-Z0-9]{9}")
# What vLLM answers for tools under tool_choice "auto" when it was started without a tool-call parser.
AUTO_TOOL_CHOICE_REFUSED = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
# Fields vLLM 0.12 removed (structured outputs replaced them) and now ignores without an error.
REMOVED_GUIDED_FIELDS = ("guided_json", "guided_regex", "guided_choice", "guided_grammar", "guided_decoding_backend")


def check_tool_request(body: Mapping[str, Any], container: str, parser: str | None) -> None:
    """Refuse what the container's engine refuses (``Fault``, as the runtime reports a container's 4xx)."""
    removed = [f for f in REMOVED_GUIDED_FIELDS if f in body]
    if removed:
        raise Fault(
            424,
            "ModelError",
            f"Received client error (400) from primary: {', '.join(removed)} was removed in vLLM 0.12 and is ignored "
            "(the stand-in refuses it so the bug shows): send response_format or tool_choice instead",
        )
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        try:
            jsonschema.validators.validator_for(schema)(schema).check_schema(schema)
        except (jsonschema.SchemaError, TypeError, AttributeError) as error:
            raise Fault(424, "ModelError", f"Received client error (400) from primary: invalid JSON schema: {error}") from None
    choice = body.get("tool_choice", "auto")
    if body.get("tools") and container == "lmi" and parser is None and choice == "auto":
        raise Fault(424, "ModelError", f"Received client error (400) from primary: {AUTO_TOOL_CHOICE_REFUSED}")
    if parser == "mistral":
        ids = [c.get("id", "") for m in body.get("messages") or [] for c in m.get("tool_calls") or []]
        ids += [m["tool_call_id"] for m in body.get("messages") or [] if m.get("role") == "tool" and "tool_call_id" in m]
        bad = [i for i in ids if not MISTRAL_CALL_ID.fullmatch(str(i))]
        if bad:
            raise Fault(
                424,
                "ModelError",
                f"Received client error (400) from primary: Tool call id was {bad[0]} but must be a-z, A-Z, 0-9, with a "
                "length of 9.",
            )


def constrained_turn(messages: Sequence[Mapping[str, Any]]) -> tuple[str, str | None]:
    """(the question, the tool result after it) of a conversation in the constrained form: only user and assistant
    turns, an assistant's tool call written as its JSON, and the user turn after a call carrying the tool's result."""
    question: str = ""
    result: str | None = None
    called = False
    for message in messages:
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        if message.get("role") == "assistant":
            try:
                called = "tool" in json.loads(text or "{}")
            except ValueError:
                called = False
        elif message.get("role") == "user":
            if called:
                result, called = text, False
            else:
                question, result = text, None
    return question, result


def constrained_answer(schema: Mapping[str, Any], question: str, tool_result: str | None) -> str:
    """Content valid against a sent schema: a call of the first tool it admits on a fresh question, else an answer."""
    alternatives = schema.get("anyOf") or [schema]
    calls = [a for a in alternatives if "tool" in (a.get("properties") or {})]
    answers = [a for a in alternatives if "answer" in (a.get("properties") or {})]
    if calls and (tool_result is None or not answers):
        call = calls[0]["properties"]
        name = (call["tool"].get("enum") or [call["tool"].get("const")])[0]
        return json.dumps({"tool": name, "arguments": tool_arguments(call["arguments"], question)})
    text = f"The tool says: {tool_result}" if tool_result is not None else f"You said: {question}"
    if answers:
        return json.dumps({"answer": text})
    return json.dumps({})  # a schema the stand-in does not know: the emptiest object


def chat_completion(made: Made, finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": made.text or None}
    if made.tool:
        call_id, name, arguments = made.tool
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        ]
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 0,
        "model": "standin",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": made.input_tokens,
            "completion_tokens": made.output_tokens,
            "total_tokens": made.input_tokens + made.output_tokens,
        },
    }


def chat_chunks(made: Made, finish: str) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0, "model": "standin"}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    for piece in pieces(made.text):
        yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
    if made.tool:
        call_id, name, arguments = made.tool
        encoded = json.dumps(arguments)
        half = len(encoded) // 2
        start = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": encoded[:half]}}
        yield {**base, "choices": [{"index": 0, "delta": {"tool_calls": [start]}, "finish_reason": None}]}
        rest = {"index": 0, "function": {"arguments": encoded[half:]}}
        yield {**base, "choices": [{"index": 0, "delta": {"tool_calls": [rest]}, "finish_reason": None}]}
    usage = {"prompt_tokens": made.input_tokens, "completion_tokens": made.output_tokens}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage}


class Fault(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Scripted:
    """A reply a test sets instead of the made-up one: a 200 with these body parts (a SageMaker stream's as PayloadPart
    events), ``delay_seconds`` apart. Clients must survive what real containers and proxies can send: HTML error pages,
    JSON of the wrong shape, huge bodies, streams that trickle."""

    parts: tuple[bytes, ...]
    delay_seconds: float = 0.0
    content_type: str = "application/json"


# --- the server ---------------------------------------------------------------------------------------------


class StandinServer:
    """The stand-in on 127.0.0.1: ``start()`` returns its URL, ``stop()`` shuts it down."""

    def __init__(self, catalog: Catalog, port: int = 0, seed: int = 0) -> None:
        self.catalog = catalog
        self.requests: list[dict[str, Any]] = []  # what clients sent, for tests: {"path", "headers", "body"}
        self.delay_seconds = 0.0
        self._faults: list[Fault] = []
        self._scripted: list[Scripted] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="protocol-standin", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def inject(self, code: str, *, status: int = 400, message: str = "injected fault", times: int = 1) -> None:
        """Answer the next ``times`` requests with this error instead."""
        with self._lock:
            self._faults.extend(Fault(status, code, message) for _ in range(times))

    def script(self, *parts: bytes, delay_seconds: float = 0.0, content_type: str = "application/json") -> None:
        """Answer the next request with ``parts`` (see ``Scripted``)."""
        with self._lock:
            self._scripted.append(Scripted(parts, delay_seconds, content_type))

    def _next_scripted(self) -> Scripted | None:
        with self._lock:
            return self._scripted.pop(0) if self._scripted else None

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _pick(self, endpoint: StandinEndpoint, target: str | None) -> StandinVariant:
        if target:
            for variant in endpoint.variants:
                if variant.name == target:
                    return variant
            raise Fault(400, "ValidationError", f"Variant {target} not found for endpoint {endpoint.name}.")
        live = [v for v in endpoint.variants if v.weight > 0] or list(endpoint.variants)
        with self._lock:
            return self._random.choices(live, weights=[v.weight or 1 for v in live])[0]

    def handle(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], list[bytes]]:
        """(status, headers, body parts) for one request."""
        payload = json.loads(body or b"{}")
        with self._lock:
            self.requests.append({"path": path, "headers": dict(headers), "body": payload})
        fault = self._next_fault()
        if fault:
            raise fault
        scripted = self._next_scripted()
        if scripted:
            return self._scripted_reply(scripted, path.endswith("-stream"))
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        scope = SIGNING_REGION.search(headers.get("authorization", ""))
        region = scope.group(1) if scope else "us-east-1"
        if len(parts) == 3 and parts[0] == "endpoints" and parts[2] in ("invocations", "invocations-response-stream"):
            return self._sagemaker(region, parts[1], parts[2].endswith("stream"), headers, payload)
        if len(parts) == 3 and parts[0] == "model" and parts[2] in ("converse", "converse-stream"):
            return self._bedrock(region, parts[1], parts[2].endswith("stream"), payload)
        raise Fault(404, "UnknownOperationException", f"the protocol stand-in does not serve {path}")

    def _sagemaker(
        self, region: str, name: str, streaming: bool, headers: Mapping[str, str], body: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], list[bytes]]:
        endpoint = self.catalog.sagemaker_endpoint(region, name)
        if endpoint is None:
            raise Fault(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
        who, container, invoked, parser = self._serving(endpoint, headers)
        if "messages" in body:
            check_tool_request(body, container, parser)
            question, result = last_turn(body["messages"])
            response_format = body.get("response_format") or {}
            call_id = "".join(self._random.choices(string.ascii_letters + string.digits, k=9)) if parser == "mistral" else None
            if response_format.get("type") == "json_schema":
                schema = response_format["json_schema"]["schema"]
                made = Made(text=constrained_answer(schema, *constrained_turn(body["messages"])))
            else:
                tools = openai_tools(body) if body.get("tool_choice") != "none" else []
                made = make_answer(who, question, tools, result, int(body.get("max_tokens") or 512), call_id or "call_standin_1")
            made.input_tokens = len(json.dumps(body["messages"]).split())
            finish = "tool_calls" if made.tool else "stop"
            if streaming:
                lines = [f"data: {json.dumps(c)}\n\n".encode() for c in chat_chunks(made, finish)] + [b"data: [DONE]\n\n"]
            else:
                return 200, self._sagemaker_headers(invoked, streaming), [json.dumps(chat_completion(made, finish)).encode()]
        elif "inputs" in body:
            parameters = body.get("parameters") or {}
            made = make_answer(who, str(body["inputs"]), (), None, int(parameters.get("max_new_tokens") or 512))
            if streaming:
                tokens = [
                    {"token": {"id": i, "text": p, "logprob": 0.0, "special": False}} for i, p in enumerate(pieces(made.text))
                ]
                prefix = b"" if container == "lmi" else b"data:"
                end = b"\n" if container == "lmi" else b"\n\n"
                lines = [prefix + json.dumps(t).encode() + end for t in tokens]
            else:
                generated: dict[str, Any] = {"generated_text": made.text}
                if container == "tgi":
                    generated["details"] = {"finish_reason": "eos_token", "generated_tokens": made.output_tokens}
                answer = [generated] if container == "tgi" else generated
                return 200, self._sagemaker_headers(invoked, streaming), [json.dumps(answer).encode()]
        else:
            raise Fault(424, "ModelError", "Received client error (422) from primary: the body has neither messages nor inputs")
        frames = [event("PayloadPart", part, "application/octet-stream") for line in lines for part in split_bytes(line)]
        return 200, self._sagemaker_headers(invoked, streaming), frames

    def _serving(self, endpoint: StandinEndpoint, headers: Mapping[str, str]) -> tuple[str, str, str, str | None]:
        """(who answers, its container, the variant reported as invoked, its tool-call parser) for one call."""
        component = headers.get(COMPONENT_HEADER)
        if endpoint.components or not endpoint.variants:  # an endpoint for inference components (maybe none left)
            if not component:
                raise Fault(400, "ValidationError", COMPONENT_REQUIRED)
            for c in endpoint.components:
                if c.name == component:
                    who = f"endpoint {endpoint.name} component {c.name} ({c.model}, {c.container})"
                    return who, c.container, c.variant, c.tool_parser
            # The runtime's wording for an unknown component is not documented: the control plane's, as a ValidationError.
            raise Fault(400, "ValidationError", f'Could not find inference component "{component}".')
        if component:
            raise Fault(400, "ValidationError", COMPONENT_NOT_ALLOWED)
        variant = self._pick(endpoint, headers.get(TARGET_VARIANT_HEADER))
        who = f"endpoint {endpoint.name} variant {variant.name} ({variant.container})"
        return who, variant.container, variant.name, variant.tool_parser

    @staticmethod
    def _scripted_reply(scripted: Scripted, streaming: bool) -> tuple[int, dict[str, str], list[bytes]]:
        def parts() -> Iterator[bytes]:
            for part in scripted.parts:
                yield event("PayloadPart", part, "application/octet-stream") if streaming else part
                time.sleep(scripted.delay_seconds)

        headers = {"Content-Type": EVENT_STREAM if streaming else scripted.content_type, "Transfer-Encoding": "chunked"}
        return 200, headers, parts()  # type: ignore[return-value]  # iterated once, as it is sent

    @staticmethod
    def _sagemaker_headers(invoked_variant: str, streaming: bool) -> dict[str, str]:
        if streaming:
            return {
                "Content-Type": EVENT_STREAM,
                "X-Amzn-SageMaker-Content-Type": "application/json",
                "x-Amzn-Invoked-Production-Variant": invoked_variant,
            }
        return {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": invoked_variant}

    def _bedrock(
        self, region: str, model_id: str, streaming: bool, body: Mapping[str, Any]
    ) -> tuple[int, dict[str, str], list[bytes]]:
        if not self.catalog.bedrock_model(region, model_id):
            raise Fault(400, "ValidationException", "The provided model identifier is invalid.")
        question, result = "", None
        for message in body.get("messages") or []:
            for block in message.get("content") or []:
                if message.get("role") == "user" and "text" in block:
                    question, result = block["text"], None
                elif "toolResult" in block:
                    result = "".join(c.get("text", json.dumps(c.get("json"))) for c in block["toolResult"].get("content") or [])
        tools = [
            (t["toolSpec"]["name"], t["toolSpec"]["inputSchema"]["json"])
            for t in (body.get("toolConfig") or {}).get("tools") or []
            if "toolSpec" in t
        ]
        inference = body.get("inferenceConfig") or {}
        made = make_answer(f"bedrock model {model_id}", question, tools, result, int(inference.get("maxTokens") or 512))
        made.input_tokens = len(json.dumps(body.get("messages")).split())
        stop_reason = "tool_use" if made.tool else "end_turn"
        usage = {
            "inputTokens": made.input_tokens,
            "outputTokens": made.output_tokens,
            "totalTokens": made.input_tokens + made.output_tokens,
        }
        if not streaming:
            content: list[dict[str, Any]] = [{"text": made.text}] if made.text else []
            if made.tool:
                call_id, name, arguments = made.tool
                content.append({"toolUse": {"toolUseId": call_id, "name": name, "input": arguments}})
            answer = {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop_reason,
                "usage": usage,
                "metrics": {"latencyMs": 1},
            }
            return 200, {"Content-Type": "application/json"}, [json.dumps(answer).encode()]
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        index = 0
        if made.text:
            events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in pieces(made.text)]
            events.append(("contentBlockStop", {"contentBlockIndex": 0}))
            index = 1
        if made.tool:
            call_id, name, arguments = made.tool
            events += [
                ("contentBlockStart", {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": call_id, "name": name}}}),
                ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": json.dumps(arguments)}}}),
                ("contentBlockStop", {"contentBlockIndex": index}),
            ]
        events += [("messageStop", {"stopReason": stop_reason}), ("metadata", {"usage": usage, "metrics": {"latencyMs": 1}})]
        return 200, {"Content-Type": EVENT_STREAM}, [event(name, json.dumps(data).encode()) for name, data in events]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1, as AWS answers: a stream is sent in chunks, which clients read as they arrive.
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                # A client that closed a kept-alive connection, or gave up on a reply (a deadline, a size cap).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    status, headers, parts = server.handle(
                        urllib.parse.urlsplit(self.path).path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                except Fault as fault:
                    status, parts = fault.status, [json.dumps({"message": fault.message}).encode()]
                    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": fault.code}
                self.send_response(status)
                chunked = headers.pop("Transfer-Encoding", None) == "chunked" or headers.get("Content-Type") == EVENT_STREAM
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("x-amzn-RequestId", "standin")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(sum(len(p) for p in parts)))
                self.end_headers()
                try:
                    for part in parts:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                        self.wfile.flush()
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a deadline, a size cap)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the rehearsal's log has moto's lines

        return Handler
