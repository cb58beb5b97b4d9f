"""llm_client against the protocol stand-in on 127.0.0.1: the real SageMaker runtime and Bedrock runtime wire formats
(InvokeEndpoint, InvokeEndpointWithResponseStream's event stream, Converse, ConverseStream), parsed by botocore.

The SSM parameter comes from a fake SSM client (the client only calls GetParameter), so each test writes exactly the
parameter it needs; tests/test_client_parameter.py proves the stacks write what the client reads.
"""

from __future__ import annotations

import collections
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import llm_client
from llm_client import chat
from llm_client.client import Client
from llm_client.parameter import ParameterCache, SageMakerEndpoint, parse_parameter
from local_aws.protocol_standin import StandinComponent, StandinEndpoint, StandinServer, StandinVariant, StaticCatalog
from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "examples"))
import agent as example_agent

REGION = "us-east-1"
PROFILE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
MISTRAL_FORMAT = "<s>[INST] {prompt} [/INST]"
QUESTION = "What is 1.408 times 730?"
UNSTREAMABLE = "us.example.no-stream-v1:0"  # a model id langchain-aws does not know to stream


def variant(name: str = "mistral-7b", **overrides: Any) -> dict[str, Any]:
    """One variant as SageMakerEndpointStack publishes it (schema 2)."""
    return {
        "variant_name": name,
        "model_key": name,
        "hf_model_id": "mistralai/Mistral-7B-Instruct-v0.2",
        "container": "huggingface-llm",
        "api": "messages",
        "tool_calling": True,
        "prompt_format": MISTRAL_FORMAT,
        "stop_sequences": ["[INST]"],
        "max_input_tokens": 6144,
        "max_total_tokens": 8192,
        "latency_budget_seconds": 5,
        **overrides,
    }


def sagemaker_parameter(*variants: dict[str, Any], name: str = "chat") -> dict[str, Any]:
    return {
        "schema_version": 2,
        "hosting": "sagemaker",
        "endpoint_name": name,
        "region": REGION,
        "variants": list(variants) or [variant()],
    }


def bedrock_parameter(name: str = "chat", model_id: str = PROFILE) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "hosting": "bedrock",
        "endpoint_name": name,
        "region": REGION,
        "model_key": "claude-haiku-4-5",
        "model_id": model_id,
        "foundation_model_id": "anthropic.claude-haiku-4-5-20251001-v1:0",
        "inference_profile_id": model_id,
        "client_role_arn": "arn:aws:iam::123456789012:role/client",
        "context_length": 200000,
        "latency_budget_seconds": 10,
    }


class FakeSsm:
    def __init__(self) -> None:
        self.parameters: dict[str, str] = {}
        self.reads = 0

    def get_parameter(self, Name: str) -> dict[str, Any]:
        self.reads += 1
        if Name not in self.parameters:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": ""}}, "GetParameter")
        return {"Parameter": {"Name": Name, "Value": self.parameters[Name]}}


class Session:
    """Real boto3 runtime clients pointed at the stand-in (dummy credentials), a fake SSM."""

    region_name = REGION

    def __init__(self, url: str, credentials: bool = True) -> None:
        self.url = url
        self.ssm = FakeSsm()
        self.credentials = credentials

    def put(self, name: str, value: dict[str, Any]) -> None:
        self.ssm.parameters[f"/llm-endpoints/{name}"] = json.dumps(value)

    def client(self, service: str, region_name: str | None = None, config: Config | None = None) -> Any:
        if service == "ssm":
            return self.ssm
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"} if self.credentials else {}
        session = boto3.session.Session()
        return session.client(service, region_name=region_name, config=config, endpoint_url=self.url, **keys)


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    catalog = StaticCatalog(
        {
            "chat": StandinEndpoint("chat", (StandinVariant("mistral-7b", 1.0, "tgi"),)),
            "lmi": StandinEndpoint("lmi", (StandinVariant("mistral-7b", 1.0, "lmi"),)),
            "split": StandinEndpoint(
                "split", (StandinVariant("mistral-7b", 9.0, "lmi"), StandinVariant("mixtral-8x7b", 1.0, "lmi"))
            ),
            "quiet": StandinEndpoint(  # a scale-to-zero endpoint: its variant has no model, its components have
                "quiet",
                (),
                (
                    StandinComponent("quiet-mistral-7b", "mistral-7b", "tgi"),
                    StandinComponent("quiet-llama2-7b", "llama2-7b", "lmi"),
                ),
            ),
        },
        {PROFILE, UNSTREAMABLE},
    )
    standin = StandinServer(catalog)
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def session(server: StandinServer) -> Session:
    server.requests.clear()
    server.delay_seconds = 0.0
    fresh = Session(server.url)
    fresh.put("chat", sagemaker_parameter())
    fresh.put("assistant", bedrock_parameter("assistant"))
    return fresh


def client(session: Session, **options: Any) -> Client:
    waits: list[float] = []
    made = Client(session=session, sleep=waits.append, random=lambda: 1.0, **options)
    made.waits = waits  # type: ignore[attr-defined]
    return made


def last_body(server: StandinServer) -> dict[str, Any]:
    return dict(server.requests[-1]["body"])


# --- the plain path ------------------------------------------------------------------------------------------


def test_sagemaker_messages_api_with_the_parameters_stop_sequences_and_token_room(session, server):
    answer = client(session).invoke("chat", "Hello", system="Be brief.")

    assert answer.text.startswith("[protocol stand-in, not a model: endpoint chat variant mistral-7b (tgi)]")
    assert (answer.hosting, answer.served_by, answer.attempts) == ("sagemaker", "mistral-7b", 1)
    assert answer.output_tokens == len(answer.text.split())
    assert server.requests[-1]["path"] == "/endpoints/chat/invocations"
    assert last_body(server) == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        "max_tokens": 512,
        "stop": ["[INST]"],
        "stream": False,
    }
    client(session).invoke("chat", "Hello", max_tokens=100_000)
    assert last_body(server)["max_tokens"] == 8192 - 6144  # never more than the endpoint's room for an answer


def test_sagemaker_stream_reassembles_events_split_across_payload_parts(session, server):
    pieces = list(client(session).stream("chat", "Hello"))

    assert len(pieces) > 5
    assert "".join(pieces) == client(session).invoke("chat", "Hello").text
    assert server.requests[-2]["path"] == "/endpoints/chat/invocations-response-stream"
    assert server.requests[-2]["body"]["stream"] is True


@pytest.mark.parametrize(
    ("endpoint", "container", "stop_key"), [("chat", "huggingface-llm", "stop"), ("lmi", "djl-lmi", "stop_sequences")]
)
def test_text_api_applies_the_prompt_format_in_each_containers_shape(session, server, endpoint, container, stop_key):
    session.put(endpoint, sagemaker_parameter(variant(api="text", container=container), name=endpoint))
    made = client(session)

    answer = made.invoke(endpoint, "Hello")
    streamed = "".join(made.stream(endpoint, "Hello"))

    body = server.requests[0]["body"]
    assert body["inputs"] == "<s>[INST] Hello [/INST]"
    assert body["parameters"][stop_key] == ["[INST]"] and body["parameters"]["max_new_tokens"] == 512
    assert answer.text.endswith("You said: <s>[INST] Hello [/INST]") and streamed == answer.text


def test_bedrock_converse_and_converse_stream_call_the_published_model_id(session, server):
    made = client(session)
    answer = made.invoke("assistant", "Hello", max_tokens=64)
    streamed = "".join(made.stream("assistant", "Hello", max_tokens=64))

    assert answer.served_by == PROFILE and answer.hosting == "bedrock"
    assert answer.text == f"[protocol stand-in, not a model: bedrock model {PROFILE}] You said: Hello" == streamed
    assert [r["path"] for r in server.requests] == [
        "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse",
        "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse-stream",
    ]
    assert server.requests[0]["body"]["inferenceConfig"] == {"maxTokens": 64}


def test_a_variant_split_needs_no_client_change(session, server):
    session.put("split", sagemaker_parameter(variant("mistral-7b"), variant("mixtral-8x7b"), name="split"))
    made = client(session)

    served = {made.invoke("split", "Hi").served_by for _ in range(30)}

    assert served == {"mistral-7b", "mixtral-8x7b"}  # SageMaker (here the stand-in) picks by weight
    assert not any("x-amzn-sagemaker-target-variant" in r["headers"] for r in server.requests)
    assert made.invoke("split", "Hi", variant="mixtral-8x7b").served_by == "mixtral-8x7b"
    assert server.requests[-1]["headers"]["x-amzn-sagemaker-target-variant"] == "mixtral-8x7b"


def test_parameter_is_cached_for_its_ttl():
    now = [0.0]
    cache = ParameterCache(ttl_seconds=60, clock=lambda: now[0])
    values = iter([json.dumps(sagemaker_parameter()), json.dumps(bedrock_parameter())])

    def read() -> str:
        return next(values)

    assert cache.get(REGION, "chat", read).hosting == "sagemaker"
    now[0] = 59.9
    assert cache.get(REGION, "chat", read).hosting == "sagemaker"  # not re-read
    now[0] = 60.0
    assert cache.get(REGION, "chat", read).hosting == "bedrock"  # a redeploy reaches the client within the TTL


# --- errors a user meets: one clear message --------------------------------------------------------------------


def test_throttling_is_retried_with_exponential_backoff_and_jitter(session, server):
    made = client(session)
    server.inject("ThrottlingException", status=400, message="Rate exceeded", times=3)

    answer = made.invoke("chat", "Hi")

    assert answer.attempts == 4
    assert made.waits == [1, 2, 4]  # type: ignore[attr-defined]  # random() = 1.0: the top of each jitter range


def test_still_throttled_after_every_try(session, server):
    made = client(session, attempts=3)
    server.inject("ThrottlingException", status=429, message="Too many tokens", times=3)

    with pytest.raises(
        llm_client.ThrottledError,
        match=r"^endpoint assistant \(bedrock, claude-haiku-4-5\) is still "
        r"throttled after 3 tries \(ThrottlingException: Too many tokens\): send fewer requests",
    ):
        made.invoke("assistant", "Hi")
    assert made.waits == [1, 2]  # type: ignore[attr-defined]
    server.inject("ThrottlingException", status=429, message="Too many tokens", times=3)
    with pytest.raises(llm_client.ThrottledError) as raised:
        made.invoke("assistant", "Hi")
    assert no_traceback_chain(raised.value)


def test_jitter_spreads_the_waits():
    draws = iter([0.5, 0.25])
    waits: list[float] = []
    made = Client(session=Session("http://127.0.0.1:9"), sleep=waits.append, random=lambda: next(draws), attempts=3)
    made.session.put("chat", sagemaker_parameter())

    def throttled(_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": ""}}, "InvokeEndpoint")

    with pytest.raises(llm_client.ThrottledError):
        made.call("chat", throttled)
    assert waits == [0.5 * 1, 0.25 * 2]


def test_cold_start(session, server):
    server.inject("ModelNotReadyException", status=429, message="Model is loading", times=5)

    with pytest.raises(
        llm_client.ColdStartError,
        match=r"is not ready after 5 tries \(ModelNotReadyException: Model is "
        r"loading\): it is starting .*try again in a few minutes",
    ):
        client(session).invoke("chat", "Hi")


def test_timeout_comes_from_the_latency_budget(session, server):
    made = client(session)
    assert made.timeout_for(made.endpoint("chat")) == 10  # twice mistral's 5 s budget
    server.delay_seconds = 0.5
    with pytest.raises(llm_client.CallTimeoutError, match=r"did not answer within 0.2 s"):
        client(session, timeout_seconds=0.2).invoke("chat", "Hi")


def test_unknown_endpoint(session):
    with pytest.raises(
        llm_client.EndpointNotFoundError,
        match=r"^no endpoint named 'nope' in us-east-1: SSM parameter "
        r"/llm-endpoints/nope does not exist\. Check the name and region, or deploy it",
    ):
        client(session).invoke("nope", "Hi")


def no_traceback_chain(error: BaseException) -> bool:
    """Printed uncaught, the error shows itself only: no "During handling of the above exception" chain."""
    return error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_a_parameter_naming_an_endpoint_that_is_gone(session):
    session.put("ghost", sagemaker_parameter(name="ghost"))
    with pytest.raises(
        llm_client.EndpointNotFoundError,
        match=r"^SageMaker endpoint ghost does not exist in us-east-1 "
        r"although SSM parameter /llm-endpoints/ghost names it",
    ):
        client(session).invoke("ghost", "Hi")
    session.ssm.parameters.clear()  # the stack was destroyed while the client held the parameter
    made = client(session)
    session.put("ghost", sagemaker_parameter(name="ghost"))
    made.endpoint("ghost")
    session.ssm.parameters.clear()
    with pytest.raises(llm_client.EndpointNotFoundError, match="no endpoint named 'ghost'") as raised:
        made.invoke("ghost", "Hi")
    assert no_traceback_chain(raised.value)


def test_a_parameter_of_an_older_schema(session):
    old = sagemaker_parameter()
    del old["schema_version"]
    session.put("chat", old)
    with pytest.raises(
        llm_client.ParameterSchemaError,
        match=r"^SSM parameter /llm-endpoints/chat has schema 1 \(written "
        r"by an older version of the stacks\).*redeploy the endpoint's stack",
    ):
        client(session).invoke("chat", "Hi")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 3}, "has schema 3, newer than this client reads"),
        ({"hosting": "vertex"}, "unknown hosting 'vertex'"),
        ({"variants": []}, "'variants' must be a non-empty list"),
        ({"variants": [variant(api="grpc")]}, "'api' is 'grpc'"),
    ],
)
def test_bad_parameters_are_refused_clearly(change, message):
    with pytest.raises(llm_client.ParameterSchemaError, match=message):
        parse_parameter("chat", json.dumps({**sagemaker_parameter(), **change}))


def test_variants_that_need_different_prompts_are_called_one_at_a_time(session, server):
    session.put(
        "split",
        sagemaker_parameter(variant(api="text"), variant("mixtral-8x7b", api="text", prompt_format="[{prompt}]"), name="split"),
    )
    made = client(session)

    with pytest.raises(llm_client.UnsupportedError, match=r"^endpoint split: its variants need different prompts"):
        made.invoke("split", "Hi")
    assert made.invoke("split", "Hi", variant="mixtral-8x7b").text.endswith("You said: [Hi]")


def test_no_credentials(server):
    with pytest.raises(
        llm_client.NoCredentialsError,
        match=r"^no AWS credentials found \(reading SSM parameter "
        r"/llm-endpoints/chat\): configure them as for the AWS CLI",
    ):
        Client(region=REGION).invoke("chat", "Hi")  # a real boto3 session: conftest hid every credential
    session = Session(server.url, credentials=False)
    session.put("chat", sagemaker_parameter())
    with pytest.raises(llm_client.NoCredentialsError, match="no AWS credentials found"):
        Client(session=session).invoke("chat", "Hi")


def test_the_command_line_prints_one_line_and_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "llm_client", "chat", "Hi", "--region", REGION],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: no AWS credentials found") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


# --- the LangChain chat model and the example agent ----------------------------------------------------------------


def test_chat_model_on_sagemaker_streams_and_calls_tools(session, server):
    model = llm_client.chat_model("chat", session=session)

    assert model.invoke("Hello").text.endswith("You said: Hello")
    assert "".join(chunk.text for chunk in model.stream("Hello")).endswith("You said: Hello")
    with_tools = model.bind_tools([example_agent.multiply])
    call = with_tools.invoke(QUESTION)
    streamed: Any = None
    for chunk in with_tools.stream(QUESTION):
        streamed = chunk if streamed is None else streamed + chunk

    assert call.tool_calls == [
        {"name": "multiply", "args": {"a": 1.408, "b": 730.0}, "id": "call_standin_1", "type": "tool_call"}
    ]
    assert streamed is not None and streamed.tool_calls == call.tool_calls  # tool-call chunks reassembled
    sent = last_body(server)
    assert sent["tools"][0]["function"]["name"] == "multiply" and sent["stop"] == ["[INST]"] and sent["stream"] is True


def test_the_example_agent_answers_through_a_sagemaker_endpoint_and_through_bedrock(session, server):
    model = llm_client.chat_model("chat", session=session, ttl_seconds=3600)
    agent = example_agent.build_agent(model)

    assert example_agent.ask(agent, QUESTION) == "The tool says: 1027.84"
    assert {r["path"] for r in server.requests} == {"/endpoints/chat/invocations"}
    tool_result = server.requests[-1]["body"]["messages"][-1]
    assert tool_result == {"role": "tool", "tool_call_id": "call_standin_1", "content": "1027.84", "name": "multiply"}

    # The endpoint moves to Bedrock (the parameter now names a model) and the SageMaker endpoint is deleted: the
    # same agent object, with an hour's TTL, follows at once because the runtime says the endpoint is gone.
    session.put("chat", bedrock_parameter())
    server.catalog.endpoints.pop("chat")
    try:
        server.requests.clear()
        assert example_agent.ask(agent, QUESTION) == "The tool says: 1027.84"
    finally:
        server.catalog.endpoints["chat"] = StandinEndpoint("chat", (StandinVariant("mistral-7b", 1.0, "tgi"),))
    assert [r["path"] for r in server.requests][-2:] == [f"/model/{PROFILE.replace(':', '%3A')}/converse"] * 2
    assert server.requests[-1]["body"]["toolConfig"]["tools"][0]["toolSpec"]["name"] == "multiply"


def test_chat_model_retries_throttling_like_the_plain_path(session, server):
    waits: list[float] = []
    model = llm_client.chat_model("assistant", client=Client(session=session, sleep=waits.append, random=lambda: 1.0))
    server.inject("ThrottlingException", status=429, times=2)

    assert model.invoke("Hi").text.endswith("You said: Hi")
    assert waits == [1, 2]


def test_tool_calling_on_a_container_without_the_messages_api_is_refused_clearly(session):
    session.put("chat", sagemaker_parameter(variant(api="text")))
    model = llm_client.chat_model("chat", session=session)

    assert model.invoke("Hi").text.endswith("You said: <s>[INST] Hi [/INST]")  # plain chat still works
    with pytest.raises(
        llm_client.UnsupportedError, match=r"endpoint chat \(mistral-7b\) cannot call tools: its container has no Messages API"
    ):
        example_agent.build_agent(model)


def test_chat_model_fails_early_on_an_unknown_endpoint(session):
    with pytest.raises(llm_client.EndpointNotFoundError, match="no endpoint named 'nope'"):
        llm_client.chat_model("nope", session=session)


def test_example_agent_prints_the_error_and_exits_1(capsys, monkeypatch):
    assert example_agent.main(["--endpoint", "chat"]) == 1
    assert capsys.readouterr().err == (
        "error: no AWS region: pass --region on the command line (region=... in Python), or set AWS_REGION or"
        " AWS_DEFAULT_REGION (or a region in your AWS config)\n"
    )
    monkeypatch.setenv("AWS_REGION", REGION)
    assert example_agent.main(["--endpoint", "chat"]) == 1
    assert capsys.readouterr().err.startswith("error: no AWS credentials found")


def test_chat_model_without_langchain_says_what_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "llm_client.chat")
    monkeypatch.setitem(sys.modules, "langchain_aws", None)  # as if not installed
    with pytest.raises(llm_client.LlmClientError, match=r'pip install "llm-endpoints-client\[langchain\]"'):
        llm_client.chat_model("chat")


def test_the_client_and_the_example_agent_need_nothing_of_the_cdk_app(tmp_path):
    """Import llm_client, its chat model and the example agent with every module of the CDK app made unimportable."""
    script = (
        "import sys\n"
        "for name in ('aws_cdk', 'constructs', 'cdk_nag', 'llm_config', 'llm_constructs', 'stacks', 'local_aws', 'moto'):\n"
        "    sys.modules[name] = None\n"
        f"sys.path.insert(0, {str(REPO_ROOT / 'examples')!r})\n"
        "import llm_client, llm_client.chat, agent\n"
        "print(agent.build_agent.__doc__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "model -> tools -> model" in result.stdout


def test_the_package_declares_its_own_dependencies():
    """llm_client installs without the CDK app: its pyproject names boto3 (and LangChain as an extra) only."""
    import tomllib

    project = tomllib.loads((REPO_ROOT / "llm_client" / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in project["dependencies"]] == ["boto3"]
    assert {d.split(">")[0] for d in project["optional-dependencies"]["langchain"]} == {"langchain-aws", "langchain-core"}
    assert not any(Path(REPO_ROOT / "llm_client" / "src" / "llm_client").glob("**/cdk*"))


def test_the_readmes_print_the_clients_defaults():
    from llm_client.client import BACKOFF_CAP_SECONDS, DEFAULT_ATTEMPTS, DEFAULT_MAX_TOKENS, TIMEOUT_FACTOR

    assert TIMEOUT_FACTOR == 2  # "twice the latency budget"
    root = (REPO_ROOT / "README.md").read_text()
    assert f"after {llm_client.DEFAULT_TTL_SECONDS:g} s" in root and f"up to {DEFAULT_ATTEMPTS} tries" in root
    assert "twice the\nendpoint's latency budget" in root
    package = (REPO_ROOT / "llm_client" / "README.md").read_text()
    assert f"| {llm_client.DEFAULT_TTL_SECONDS:g} s (`ttl_seconds=`)" in package
    assert f"| {DEFAULT_ATTEMPTS} (`attempts=`)" in package and f"min({BACKOFF_CAP_SECONDS:g}, 2^(n-1))" in package
    assert f"| {DEFAULT_MAX_TOKENS} tokens (`max_tokens=`)" in package and "| twice the latency budget" in package


def test_chat_model_async_calls(session):
    import asyncio

    model = llm_client.chat_model("assistant", session=session)

    async def both() -> tuple[str, str]:
        answer = await model.ainvoke("Hi")
        pieces = [chunk.text async for chunk in model.astream("Hi")]
        return answer.text, "".join(pieces)

    answer, streamed = asyncio.run(both())
    assert answer == streamed and answer.endswith("You said: Hi")


def test_a_bedrock_model_that_langchain_aws_will_not_stream_answers_a_stream_in_one_piece(session, server):
    session.put("other", bedrock_parameter("other", model_id=UNSTREAMABLE))
    model = llm_client.chat_model("other", session=session)

    chunks = list(model.stream("Hi"))

    assert len(chunks) == 1 and chunks[0].text.endswith("You said: Hi")
    assert [r["path"] for r in server.requests] == ["/model/us.example.no-stream-v1%3A0/converse"]


def test_a_bad_region_is_refused_before_any_call():
    with pytest.raises(llm_client.ConfigurationError, match=r"^'us-east-1; id' is not an AWS region name \(e\.g\. us-east-1\)$"):
        Client(region="us-east-1; id")


# --- scale-to-zero endpoints (inference components) ----------------------------------------------------------------

COMPONENT = "quiet-mistral-7b"
NO_CAPACITY = "Inference Component has no capacity to process this request. Please retry later."
COMPONENT_HEADER = "x-amzn-sagemaker-inference-component"
VARIANT_HEADER = "x-amzn-sagemaker-target-variant"


def component_parameter() -> dict[str, Any]:
    """What SageMakerEndpointStack publishes with -c scale_to_zero=true."""
    return {
        **sagemaker_parameter(name="quiet"),
        "scale_to_zero": True,
        "inference_component_name": COMPONENT,
        "expected_cold_start_seconds": 600,
    }


class SleepingClock:
    """A clock that the injected sleep moves forward (no real waiting), on top of real time for the requests."""

    def __init__(self) -> None:
        self.slept = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.slept += seconds

    def __call__(self) -> float:
        return time.perf_counter() + self.slept


def test_a_scale_to_zero_endpoint_is_called_by_its_inference_component_on_every_path(session, server):
    session.put("quiet", component_parameter())
    made = client(session)
    endpoint = made.endpoint("quiet")
    assert isinstance(endpoint, SageMakerEndpoint)
    assert endpoint.inference_component_name == COMPONENT and endpoint.expected_cold_start_seconds == 600

    made.invoke("quiet", "Hi")
    made.invoke("quiet", "Hi", variant="mistral-7b")  # selects the component by its model key: never a TargetVariant
    "".join(made.stream("quiet", "Hi", variant="mistral-7b"))
    model = llm_client.chat_model("quiet", client=made)
    model.invoke("Hi")
    "".join(chunk.text for chunk in model.stream("Hi"))
    llm_client.chat_model("quiet", client=made, variant="mistral-7b").invoke("Hi")

    assert len(server.requests) == 6
    for request in server.requests:
        assert request["headers"].get(COMPONENT_HEADER) == COMPONENT
        assert VARIANT_HEADER not in request["headers"]


def test_a_parameter_without_the_scale_to_zero_fields_is_a_variant_endpoint(session, server):
    made = client(session)
    endpoint = made.endpoint("chat")
    assert isinstance(endpoint, SageMakerEndpoint) and endpoint.inference_component_name is None
    made.invoke("chat", "Hi", variant="mistral-7b")
    assert COMPONENT_HEADER not in server.requests[-1]["headers"]
    assert server.requests[-1]["headers"][VARIANT_HEADER] == "mistral-7b"


def test_no_capacity_is_a_cold_start_waited_out_apart_from_the_latency(session, server):
    session.put("quiet", component_parameter())
    clock = SleepingClock()
    made = Client(session=session, sleep=clock.sleep, clock=clock, random=lambda: 1.0, attempts=2)
    server.inject("ValidationError", status=400, message=NO_CAPACITY, times=2)

    answer = made.invoke("quiet", "Hi")

    assert clock.waits == [10, 20]  # the cold-start backoff, not the throttling one; no try used up
    assert answer.attempts == 3
    assert 30 <= answer.cold_start_seconds < 40  # the 30 s slept, plus the failed tries' real time (a loaded machine: seconds)
    assert answer.latency_seconds < 1  # the request alone


def test_a_cold_start_longer_than_its_budget_is_one_clear_error(session, server):
    session.put("quiet", component_parameter())
    clock = SleepingClock()
    made = Client(session=session, sleep=clock.sleep, clock=clock, random=lambda: 1.0)
    server.inject("ValidationError", status=400, message=NO_CAPACITY, times=5)

    with pytest.raises(llm_client.ColdStartError) as raised:
        made.invoke("quiet", "Hi", cold_start_seconds=100)

    assert clock.waits == [10, 20, 40, 30]  # 10, 20, 40, then what is left of the 100 s budget
    message = str(raised.value)
    assert message.startswith(
        f"endpoint quiet (scale-to-zero, inference component {COMPONENT}) still has no copy running after waiting 100 s"
    )
    assert "cold_start_seconds=" in message and "--cold-start-seconds" in message
    assert no_traceback_chain(raised.value)


def test_the_cold_start_budget_defaults_to_the_parameters_expected_cold_start(session, server):
    session.put("quiet", component_parameter())
    clock = SleepingClock()
    made = Client(session=session, sleep=clock.sleep, clock=clock, random=lambda: 1.0)
    server.inject("ValidationError", status=400, message=NO_CAPACITY, times=13)

    with pytest.raises(llm_client.ColdStartError, match="after waiting 600 s"):
        made.invoke("quiet", "Hi")

    assert clock.waits == [10, 20, 40, *[60] * 8, 50]


def test_a_variant_endpoint_does_not_wait_for_a_cold_start_on_no_capacity(session, server):
    made = client(session, attempts=3)
    server.inject("ValidationError", status=400, message=NO_CAPACITY, times=3)

    with pytest.raises(llm_client.ColdStartError, match=r"is not ready after 3 tries"):
        made.invoke("chat", "Hi", cold_start_seconds=600)
    assert made.waits == [1, 2]  # type: ignore[attr-defined]  # the usual jittered backoff, attempts tries


# --- a migration: two inference components on one scale-to-zero endpoint, split by the client ------------------------

CANDIDATE = "quiet-llama2-7b"
LLAMA_FORMAT = "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n{prompt} [/INST]"


def migration_parameter(old_weight: int = 90, candidate_weight: int = 10, **candidate: Any) -> dict[str, Any]:
    """Two inference components, as the stacks publish a migration: mistral-7b (the Messages API, TGI) and llama2-7b
    (the text API with its own prompt format and stop sequence, LMI)."""
    old = {**variant(), "variant_name": "AllTraffic", "inference_component_name": COMPONENT, "weight": old_weight}
    new = {
        **variant("llama2-7b", api="text", container="djl-lmi", prompt_format=LLAMA_FORMAT, stop_sequences=["</s>"]),
        "variant_name": "AllTraffic",
        "max_input_tokens": 3072,
        "max_total_tokens": 4096,
        "latency_budget_seconds": 8,
        "inference_component_name": CANDIDATE,
        "weight": candidate_weight,
        **candidate,
    }
    top = old if old_weight >= candidate_weight else new  # the largest weight, the first on a tie
    return {**component_parameter(), "inference_component_name": top["inference_component_name"], "variants": [old, new]}


class Draws(random.Random):
    """A random source whose draws are given: random.choices picks by them (the first entry of 90/10 below 0.9)."""

    def __init__(self, *draws: float) -> None:
        super().__init__()
        self.draws = list(draws)

    def random(self) -> float:
        return self.draws.pop(0)


def component_of(request: dict[str, Any]) -> str:
    return str(request["headers"][COMPONENT_HEADER])


def test_the_client_splits_requests_between_components_by_weight():
    endpoint = parse_parameter("quiet", json.dumps(migration_parameter(90, 10)))
    made = Client(session=Session("http://127.0.0.1:9"), routing_random=random.Random(15))

    picks = collections.Counter(made.route(endpoint).inference_component_name for _ in range(1000))  # type: ignore[union-attr]

    assert set(picks) == {COMPONENT, CANDIDATE}
    assert picks[COMPONENT] + picks[CANDIDATE] == 1000 and 860 <= picks[COMPONENT] <= 940  # 900 expected; sd 9.5
    exact = Client(session=Session("http://127.0.0.1:9"), routing_random=Draws(0.0, 0.899, 0.9, 0.999))
    assert [exact.route(endpoint).inference_component_name for _ in range(4)] == [  # type: ignore[union-attr]
        COMPONENT,
        COMPONENT,
        CANDIDATE,
        CANDIDATE,
    ]


@pytest.mark.parametrize(("weights", "served"), [((0, 100), {CANDIDATE}), ((100, 0), {COMPONENT})])
def test_a_drained_component_gets_no_request(weights, served):
    endpoint = parse_parameter("quiet", json.dumps(migration_parameter(*weights)))
    made = Client(session=Session("http://127.0.0.1:9"), routing_random=random.Random(0))

    assert {made.route(endpoint).inference_component_name for _ in range(1000)} == served  # type: ignore[union-attr]


def test_each_request_is_built_for_its_components_model(session, server):
    session.put("quiet", migration_parameter(50, 50))
    made = Client(session=session, routing_random=Draws(0.1, 0.9, 0.9))

    old = made.invoke("quiet", "Hello", max_tokens=2000)
    new = made.invoke("quiet", "Hello", max_tokens=2000)
    streamed = "".join(made.stream("quiet", "Hello"))

    assert (old.served_by, old.model_key) == (COMPONENT, "mistral-7b")
    assert old.text.startswith(f"[protocol stand-in, not a model: endpoint quiet component {COMPONENT} (mistral-7b, tgi)]")
    assert (new.served_by, new.model_key) == (CANDIDATE, "llama2-7b")
    assert new.text.startswith(f"[protocol stand-in, not a model: endpoint quiet component {CANDIDATE} (llama2-7b, lmi)]")
    assert streamed == new.text
    first, second, third = (r["body"] for r in server.requests)
    assert [component_of(r) for r in server.requests] == [COMPONENT, CANDIDATE, CANDIDATE]
    assert first["stop"] == ["[INST]"] and first["max_tokens"] == 2000  # mistral: the Messages API, within its room (2048)
    assert second["inputs"] == LLAMA_FORMAT.format(prompt="Hello")  # llama2: its prompt format, LMI's parameters
    assert second["parameters"]["stop_sequences"] == ["</s>"] and second["parameters"]["max_new_tokens"] == 4096 - 3072
    assert third["inputs"] == second["inputs"] and third["stream"] is True
    assert not any(VARIANT_HEADER in r["headers"] for r in server.requests)


def test_retries_and_the_cold_start_stay_on_the_requests_component(session, server):
    session.put("quiet", migration_parameter(90, 10))
    clock = SleepingClock()
    # Were the component drawn again per try, 0.1 would send the retries to the other one.
    made = Client(session=session, sleep=clock.sleep, clock=clock, random=lambda: 1.0, routing_random=Draws(0.95, 0.1, 0.1))
    server.inject("ThrottlingException", status=400, message="Rate exceeded", times=2)
    server.inject("ValidationError", status=400, message=NO_CAPACITY, times=2)

    answer = made.invoke("quiet", "Hi")

    assert [component_of(r) for r in server.requests] == [CANDIDATE] * 5
    assert all("inputs" in r["body"] for r in server.requests)  # every try in llama2's format
    assert (answer.served_by, answer.attempts) == (CANDIDATE, 5) and clock.waits == [1, 2, 10, 20]
    assert 30 <= answer.cold_start_seconds < 40  # the 30 s slept, plus the failed tries' real time (a loaded machine: seconds)
    assert made.invoke("quiet", "Hi").served_by == COMPONENT  # the next request is drawn afresh


def test_a_cold_start_past_its_budget_names_the_component_that_was_waited_for(session, server):
    session.put("quiet", migration_parameter(90, 10))
    clock = SleepingClock()
    made = Client(session=session, sleep=clock.sleep, clock=clock, routing_random=Draws(0.95))
    server.inject("ValidationError", status=400, message=NO_CAPACITY, times=3)

    with pytest.raises(llm_client.ColdStartError, match=f"^endpoint quiet \\(scale-to-zero, inference component {CANDIDATE}\\)"):
        made.invoke("quiet", "Hi", cold_start_seconds=30)
    assert {component_of(r) for r in server.requests} == {CANDIDATE}


def test_variant_selects_one_component_by_model_key_or_component_name(session, server):
    session.put("quiet", migration_parameter(100, 0))
    made = client(session)

    assert made.invoke("quiet", "Hi", variant="llama2-7b").served_by == CANDIDATE  # even a drained one, by name
    assert made.invoke("quiet", "Hi", variant=COMPONENT).model_key == "mistral-7b"
    assert [component_of(r) for r in server.requests] == [CANDIDATE, COMPONENT]
    message = (
        r"^endpoint quiet has no inference component or model 'AllTraffic': give a model key or a component name "
        rf"\(it has: mistral-7b \({COMPONENT}, 100%\), llama2-7b \({CANDIDATE}, 0%\)\)$"
    )
    with pytest.raises(llm_client.UnsupportedError, match=message):
        made.invoke("quiet", "Hi", variant="AllTraffic")
    with pytest.raises(llm_client.UnsupportedError, match=message.replace("AllTraffic", "nope")):
        llm_client.chat_model("quiet", client=made, variant="nope")


def test_the_chat_model_splits_too_and_says_which_component_answered(session, server):
    session.put("quiet", migration_parameter(50, 50))
    made = Client(session=session, routing_random=Draws(0.1, 0.9, 0.9))
    model = llm_client.chat_model("quiet", client=made)

    old = model.invoke("Hello")
    new = model.invoke("Hello")
    chunks = list(model.stream("Hello"))

    assert old.response_metadata["inference_component"] == COMPONENT and old.response_metadata["model_name"] == "mistral-7b"
    assert new.response_metadata["inference_component"] == CANDIDATE and new.response_metadata["model_name"] == "llama2-7b"
    assert chunks[0].response_metadata["inference_component"] == CANDIDATE
    assert "".join(c.text for c in chunks) == new.text
    assert [component_of(r) for r in server.requests] == [COMPONENT, CANDIDATE, CANDIDATE]
    assert "messages" in server.requests[0]["body"] and server.requests[1]["body"]["inputs"] == LLAMA_FORMAT.format(
        prompt="Hello"
    )


def test_tools_need_every_component_with_traffic_to_call_tools(session, server):
    session.put("quiet", migration_parameter(90, 10))
    made = Client(session=session, routing_random=Draws(0.1, 0.1))
    model = llm_client.chat_model("quiet", client=made)

    with pytest.raises(
        llm_client.UnsupportedError,
        match=r"^endpoint quiet \(mistral-7b\+llama2-7b\) cannot call tools: the container of llama2-7b has no Messages "
        r"API \(requests are split between its models by weight: call one with variant=\.\.\.\)",
    ):
        model.bind_tools([example_agent.multiply])
    only_old = llm_client.chat_model("quiet", client=made, variant="mistral-7b").bind_tools([example_agent.multiply])
    assert only_old.invoke(QUESTION).tool_calls[0]["name"] == "multiply"
    session.put("quiet", migration_parameter(100, 0))  # the candidate drained: its requests are over
    drained = llm_client.chat_model("quiet", client=Client(session=session)).bind_tools([example_agent.multiply])
    assert drained.invoke(QUESTION).tool_calls[0]["args"] == {"a": 1.408, "b": 730.0}
    assert {component_of(r) for r in server.requests} == {COMPONENT}


def test_a_component_the_runtime_does_not_know_makes_the_client_reread_the_parameter(session, server):
    session.put("quiet", migration_parameter(0, 100, inference_component_name="quiet-removed"))
    made = client(session)
    made.endpoint("quiet")  # cached: it names a component that is gone
    session.put("quiet", migration_parameter(100, 0))  # the redeploy that removed it

    assert made.invoke("quiet", "Hi").served_by == COMPONENT  # at once, not after the cache's 60 s
    assert [component_of(r) for r in server.requests] == ["quiet-removed", COMPONENT]

    session.put("quiet", migration_parameter(0, 100, inference_component_name="quiet-removed"))  # the parameter is wrong
    with pytest.raises(
        llm_client.EndpointNotFoundError,
        match=r"^SageMaker endpoint quiet or its inference component quiet-removed does not exist in us-east-1 although "
        r'SSM parameter /llm-endpoints/quiet names it \(ValidationError: Could not find inference component "quiet-removed"\.\)',
    ) as raised:
        client(session).invoke("quiet", "Hi")
    assert no_traceback_chain(raised.value)


def test_the_stand_in_refuses_components_as_sagemaker_does(server):
    runtime = Session(server.url).client("sagemaker-runtime", region_name=REGION)
    body = json.dumps({"inputs": "Hi"})

    def error(**call: str) -> str:
        with pytest.raises(ClientError) as raised:
            runtime.invoke_endpoint(ContentType="application/json", Body=body, **call)
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        return str(raised.value.response["Error"]["Message"])

    assert error(EndpointName="quiet").startswith("Inference Component Name header is required for endpoints")
    assert error(EndpointName="chat", InferenceComponentName=COMPONENT).startswith(
        "Inference Component Name header is not allowed for endpoints"
    )
    assert error(EndpointName="quiet", InferenceComponentName="quiet-nope") == 'Could not find inference component "quiet-nope".'
    answered = runtime.invoke_endpoint(
        EndpointName="quiet", InferenceComponentName=CANDIDATE, ContentType="application/json", Body=body
    )
    assert json.loads(answered["Body"].read())["generated_text"].endswith(f"{CANDIDATE} (llama2-7b, lmi)] You said: Hi")


def test_a_parameter_from_before_migrations_is_its_one_component_at_100_percent():
    endpoint = parse_parameter("quiet", json.dumps(component_parameter()))  # one entry, no component, no weight

    assert isinstance(endpoint, SageMakerEndpoint)
    (only,) = endpoint.variants
    assert (only.inference_component_name, only.weight, only.model_key) == (COMPONENT, 100, "mistral-7b")
    assert endpoint.choose_component(Draws()) is endpoint  # nothing to draw


def with_entry(index: int, **change: Any) -> dict[str, Any]:
    parameter = migration_parameter()
    parameter["variants"][index] = {**parameter["variants"][index], **change}
    return parameter


def without(index: int, key: str) -> dict[str, Any]:
    parameter = migration_parameter()
    del parameter["variants"][index][key]
    return parameter


FIX = "each entry names its own inference component and the weights are whole percents adding up to 100"


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        (with_entry(1, weight=101), r"variant 1: 'weight' is 101, expected a whole percent from 0 to 100"),
        (with_entry(1, weight=-5), r"variant 1: 'weight' is -5, expected a whole percent"),
        (with_entry(1, weight=10.5), r"variant 1: 'weight' is 10\.5, expected a whole percent"),
        (with_entry(1, weight="10"), r"variant 1: 'weight' is '10', expected a whole percent"),
        (with_entry(1, weight=True), r"variant 1: 'weight' is True, expected a whole percent"),
        (without(1, "weight"), r"variant 1: 'weight' is None, expected a whole percent"),
        (with_entry(1, weight=20), r": the entries' weights add up to 110, not 100: " + FIX),
        (migration_parameter(0, 0), r": the entries' weights add up to 0, not 100"),
        (without(0, "inference_component_name"), r"variant 0: missing or empty 'inference_component_name'"),
        (with_entry(1, inference_component_name=""), r"variant 1: missing or empty 'inference_component_name'"),
        (
            with_entry(1, inference_component_name=COMPONENT),
            rf": inference component {COMPONENT} is named by more than one entry: {FIX}",
        ),
        (
            {**migration_parameter(), "inference_component_name": "quiet-other"},
            rf"the top-level 'inference_component_name' 'quiet-other' is none of the entries' components "
            rf"\({COMPONENT}, {CANDIDATE}\): it must name the entry with the largest weight$",
        ),
    ],
)
def test_a_migration_parameter_with_bad_components_or_weights_is_one_clear_error(parameter, message):
    with pytest.raises(llm_client.ParameterSchemaError, match=r"^SSM parameter /llm-endpoints/quiet" + ".*" + message):
        parse_parameter("quiet", json.dumps(parameter))


def test_the_chat_model_builds_each_components_model_once_and_keeps_only_a_few(session):
    session.put("quiet", migration_parameter(50, 50))
    made = client(session)
    model = llm_client.chat_model("quiet", client=made)
    endpoint = made.endpoint("quiet")
    assert isinstance(endpoint, SageMakerEndpoint)
    old, new = endpoint.only("mistral-7b"), endpoint.only("llama2-7b")

    first = model.current_model(old)
    assert model.current_model(new) is not first and model.current_model(old) is first  # not rebuilt per request
    for weight in range(1, 10):  # redeploys with new weights: old models are dropped, not kept forever
        parsed = parse_parameter("quiet", json.dumps(migration_parameter(100 - weight, weight)))
        assert isinstance(parsed, SageMakerEndpoint)
        model.current_model(parsed.only("llama2-7b"))
    assert len(model._built) == chat.MODELS_KEPT
