"""scripts/smoke_test.py against botocore Stubber clients: no AWS, no credentials, no network.

The smoke test calls through llm_client, so these stubs also pin the client's requests: the Messages API body for a
container that has one, TGI's ``inputs`` body with the prompt format for one that has not, Converse for Bedrock."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from llm_client import Client, ThrottledError
from scripts import smoke_test
from tests.conftest import REPO_ROOT

REGION = "eu-west-1"
MISTRAL_FORMAT = "<s>[INST] {prompt} [/INST]"
LLAMA_FORMAT = "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n{prompt} [/INST]"


def sagemaker_parameter(*variants: tuple[str, str, float], api: str = "text") -> dict[str, Any]:
    """The JSON SageMakerEndpointStack publishes (schema 2)."""
    return {
        "schema_version": 2,
        "hosting": "sagemaker",
        "endpoint_name": "chat",
        "region": REGION,
        "variants": [
            {
                "variant_name": name,
                "model_key": name,
                "container": "huggingface-llm",
                "api": api,
                "tool_calling": api == "messages",
                "prompt_format": fmt,
                "stop_sequences": [],
                "latency_budget_seconds": budget,
                "max_input_tokens": 6144,
                "max_total_tokens": 8192,
            }
            for name, fmt, budget in variants
        ],
    }


BEDROCK_PARAMETER = {
    "schema_version": 2,
    "hosting": "bedrock",
    "model_key": "claude-3-sonnet",
    "endpoint_name": "assistant",
    "region": REGION,
    "model_id": "anthropic.claude-3-sonnet-20240229-v1:0",
    "latency_budget_seconds": 10,
}


class FakeSession:
    """Hands out one stubbed client per service; the test queues responses on the stubbers."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.region_name = REGION
        for service in ("sts", "ssm", "sagemaker-runtime", "bedrock-runtime"):
            client = boto3.client(service, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        assert config is smoke_test.BOTO_CONFIG or config.retries == {"total_max_attempts": 1, "mode": "standard"}
        return self.clients[service]

    def verify(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def session():
    fake = FakeSession()
    yield fake
    fake.verify()


def add_parameter(session: FakeSession, name: str, value: dict[str, Any]) -> None:
    session.stubbers["ssm"].add_response(
        "get_parameter",
        {"Parameter": {"Name": f"/llm-endpoints/{name}", "Type": "String", "Value": json.dumps(value)}},
        {"Name": f"/llm-endpoints/{name}"},
    )


def tgi_body(text: str, tokens: int) -> StreamingBody:
    data = json.dumps([{"generated_text": text, "details": {"finish_reason": "length", "generated_tokens": tokens}}]).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def converse_response(text: str, output_tokens: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": output_tokens, "totalTokens": 10 + output_tokens},
        "metrics": {"latencyMs": 300},
    }


def expected_invoke(prompt_text: str, variant: str | None, max_new_tokens: int = 64) -> dict[str, Any]:
    """TGI's text request: the prompt in the model's format."""
    parameters = {"max_new_tokens": max_new_tokens, "return_full_text": False, "details": True}
    body = {"inputs": prompt_text, "parameters": parameters, "stream": False}
    params = {"EndpointName": "chat", "ContentType": "application/json", "Accept": "application/json", "Body": json.dumps(body)}
    if variant:
        params["TargetVariant"] = variant
    return params


def chat_body(text: str, tokens: int) -> StreamingBody:
    """A Chat Completions answer (LMI/vLLM and TGI's Messages API)."""
    answer = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": tokens, "total_tokens": 9 + tokens},
    }
    data = json.dumps(answer).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def expected_messages_invoke(
    prompt: str, variant: str | None, stop: list[str] | None = None, endpoint: str = "chat"
) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}], "max_tokens": 64, "stream": False}
    if stop:
        body["stop"] = stop
    params = {"EndpointName": endpoint, "ContentType": "application/json", "Accept": "application/json", "Body": json.dumps(body)}
    if variant:
        params["TargetVariant"] = variant
    return params


def test_a_container_with_the_messages_api_gets_chat_messages_not_a_formatted_prompt(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5), api="messages"))
    response = {"Body": chat_body("Hello there.", 4), "InvokedProductionVariant": "mistral-7b"}
    session.stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint", response, expected_messages_invoke("Say hi", "mistral-7b")
    )

    assert smoke_test.main(["--endpoint", "chat", "--prompt", "Say hi"], session=session) == 0
    assert "ok   chat/mistral-7b" in capsys.readouterr().out


def add_invoke(session: FakeSession, prompt_text: str, variant: str | None, text: str = "Hello there.", tokens: int = 3) -> None:
    response = {"Body": tgi_body(text, tokens), "ContentType": "application/json"}
    session.stubbers["sagemaker-runtime"].add_response("invoke_endpoint", response, expected_invoke(prompt_text, variant))


def add_throttle(session: FakeSession, service: str, method: str, code: str = "ThrottlingException") -> None:
    stubber = session.stubbers[service]
    stubber.add_client_error(method, service_error_code=code, service_message="Rate exceeded", http_status_code=429)


def test_each_variant_is_invoked_with_its_own_prompt_format(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5), ("llama2-7b", LLAMA_FORMAT, 6)))
    add_invoke(session, "<s>[INST] Say hi [/INST]", "mistral-7b", tokens=12)
    add_invoke(session, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nSay hi [/INST]", "llama2-7b", tokens=20)

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Say hi"], session=session)

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert [line.split(":")[0] for line in out] == ["ok   chat/mistral-7b", "ok   chat/llama2-7b"]
    assert "12 tokens" in out[0] and "(budget 5 s)" in out[0] and "tokens/s" in out[0]
    assert "20 tokens" in out[1] and "(budget 6 s)" in out[1]


def test_bedrock_parameter_uses_converse_with_the_published_model_id(session, capsys):
    add_parameter(session, "assistant", BEDROCK_PARAMETER)
    session.stubbers["bedrock-runtime"].add_response(
        "converse",
        converse_response("SageMaker hosts models.", 5),
        {
            "modelId": "anthropic.claude-3-sonnet-20240229-v1:0",
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "inferenceConfig": {"maxTokens": 32},
        },
    )

    status = smoke_test.main(["--endpoint", "assistant", "--prompt", "Hi", "--max-new-tokens", "32"], session=session)

    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("ok   assistant (anthropic.claude-3-sonnet-20240229-v1:0):")
    assert "5 tokens" in out and "(budget 10 s)" in out


def test_model_flag_reads_the_config_and_defaults_the_endpoint_to_the_model_key(session, capsys, registry):
    mistral = registry.resolve("mistral")
    assert registry.image_for(mistral).chat_api == "messages"  # the container's Messages API: the chat template applies
    session.stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint",
        {"Body": chat_body("Hi!", 2)},
        expected_messages_invoke("Hello", None, stop=mistral.stop_sequences, endpoint="mistral-7b"),
    )

    status = smoke_test.main(["--model", "mistral", "--prompt", "Hello"], session=session)

    assert status == 0
    assert f"(budget {mistral.latency_budget_seconds:g} s)" in capsys.readouterr().out


def test_model_flag_for_bedrock_calls_converse_with_the_configured_id(session, capsys, registry):
    haiku = registry.resolve("claude-haiku-4-5")
    profile_id = haiku.route(session.region_name, "test").invoke_id
    assert profile_id.endswith(".anthropic.claude-haiku-4-5-20251001-v1:0")
    session.stubbers["bedrock-runtime"].add_response(
        "converse",
        converse_response("Hello.", 2),
        {
            "modelId": profile_id,
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "inferenceConfig": {"maxTokens": 64},
        },
    )

    assert smoke_test.main(["--model", "claude-haiku-4-5", "--prompt", "Hi"], session=session) == 0
    assert capsys.readouterr().out.startswith(f"ok   claude-haiku-4-5 ({profile_id}): ")


def test_throttling_is_retried_with_exponential_backoff(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    for code in ("ThrottlingException", "ThrottlingException", "ServiceUnavailable"):
        add_throttle(session, "sagemaker-runtime", "invoke_endpoint", code)
    add_invoke(session, "<s>[INST] Hi [/INST]", "mistral-7b")
    waits: list[float] = []

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Hi"], session=session, sleep=waits.append, jitter=lambda: 1.0)

    assert status == 0
    assert waits == [1, 2, 4]  # llm_client's backoff: random 0..2**n s each, here the top of each range
    assert "4 attempt(s)" in capsys.readouterr().out


def test_throttling_gives_up_after_the_attempt_limit(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    for _ in range(3):
        add_throttle(session, "sagemaker-runtime", "invoke_endpoint")
    waits: list[float] = []

    status = smoke_test.main(
        ["--endpoint", "chat", "--prompt", "Hi", "--attempts", "3"], session=session, sleep=waits.append, jitter=lambda: 0.5
    )

    assert status == 1
    assert waits == [0.5, 1]
    assert (
        "FAIL chat/mistral-7b: endpoint chat (sagemaker, mistral-7b) is still throttled after 3 tries "
        "(ThrottlingException: Rate exceeded)"
    ) in capsys.readouterr().err


def test_backoff_is_capped(session):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    waits: list[float] = []
    client = Client(session=session, attempts=8, sleep=waits.append, random=lambda: 1.0)

    def throttled(_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "InvokeEndpoint")

    with pytest.raises(ThrottledError, match="still throttled after 8 tries"):
        client.call("chat", throttled)
    assert waits == [1, 2, 4, 8, 16, 20, 20]


def test_a_model_error_fails_at_once_without_retrying(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    session.stubbers["sagemaker-runtime"].add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received client error (422) from primary: Input validation error",
        http_status_code=424,
    )

    status = smoke_test.main(["--endpoint", "chat"], session=session, sleep=lambda _: pytest.fail("must not retry"))

    assert status == 1
    assert (
        "FAIL chat/mistral-7b: calling endpoint chat (sagemaker, mistral-7b) failed: ModelError: Received client error (422)"
        in (capsys.readouterr().err)
    )


def test_one_failing_variant_fails_the_run_but_the_others_are_still_tested(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5), ("mixtral-8x7b", MISTRAL_FORMAT, 8)))
    session.stubbers["sagemaker-runtime"].add_client_error("invoke_endpoint", service_error_code="ValidationError")
    add_invoke(session, "<s>[INST] Hi [/INST]", "mixtral-8x7b")

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Hi"], session=session)

    captured = capsys.readouterr()
    assert status == 1
    assert "FAIL chat/mistral-7b: calling endpoint chat (sagemaker, mistral-7b) failed: ValidationError" in captured.err
    assert "ok   chat/mixtral-8x7b" in captured.out


def test_latency_over_the_budget_fails(session):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    add_invoke(session, "<s>[INST] Hi [/INST]", "mistral-7b", text="slow answer", tokens=13)
    target = smoke_test.Target(label="chat/mistral-7b", endpoint="chat", latency_budget_seconds=5, variant_name="mistral-7b")
    ticks = iter([100.0, 106.5])  # the call takes 6.5 s

    result = smoke_test.run_target(Client(session=session, clock=lambda: next(ticks)), target, prompt="Hi", max_new_tokens=64)
    assert result.latency_seconds == pytest.approx(6.5)
    assert result.tokens_per_second == pytest.approx(2.0)
    assert not result.within_budget
    assert result.summary().startswith("FAIL chat/mistral-7b: 6.50 s (budget 5 s), 13 tokens, 2.0 tokens/s")


def test_latency_over_a_budget_given_on_the_command_line_exits_1(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    add_invoke(session, "<s>[INST] Hi [/INST]", "mistral-7b")

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Hi", "--budget-seconds", "1e-9"], session=session)

    captured = capsys.readouterr()
    assert status == 1
    assert captured.out.startswith("FAIL chat/mistral-7b")
    assert "error: chat/mistral-7b is over its latency budget" in captured.err


def test_an_empty_answer_fails(session, capsys):
    add_parameter(session, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    add_invoke(session, "<s>[INST] Hi [/INST]", "mistral-7b", text="  ", tokens=0)

    assert smoke_test.main(["--endpoint", "chat", "--prompt", "Hi"], session=session) == 1
    assert "chat/mistral-7b: the model answered with no text" in capsys.readouterr().err


def test_a_missing_parameter_says_what_to_check(session, capsys):
    session.stubbers["ssm"].add_client_error(
        "get_parameter", service_error_code="ParameterNotFound", service_message="", http_status_code=400
    )

    assert smoke_test.main(["--endpoint", "nope"], session=session) == 1
    assert capsys.readouterr().err == (
        "error: no endpoint named 'nope' in eu-west-1: SSM parameter /llm-endpoints/nope does not exist. "
        "Check the name and region, or deploy it (npx cdk deploy -c endpoint=nope -c model=...)\n"
    )


ROLE_ARN = "arn:aws:iam::222222222222:role/llm-smoke-test-staging"


def test_role_arn_is_assumed_and_its_credentials_make_the_calls(session, capsys, monkeypatch):
    session.stubbers["sts"].add_response(
        "assume_role",
        {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLEEXAMPLE12",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": "2026-01-01T00:00:00Z",
            }
        },
        {"RoleArn": ROLE_ARN, "RoleSessionName": "llm-smoke-test", "DurationSeconds": 900},
    )
    assumed = FakeSession()
    add_parameter(assumed, "chat", sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5)))
    add_invoke(assumed, "<s>[INST] Hi [/INST]", "mistral-7b")
    made: list[dict[str, Any]] = []

    def new_session(**kwargs: Any) -> FakeSession:
        made.append(kwargs)
        return assumed

    monkeypatch.setattr(boto3.session, "Session", new_session)

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Hi", "--role-arn", ROLE_ARN], session=session)

    assert status == 0, capsys.readouterr().err
    assert made == [
        {
            "aws_access_key_id": "ASIAEXAMPLEEXAMPLE12",
            "aws_secret_access_key": "secret",
            "aws_session_token": "token",
            "region_name": REGION,
        }
    ]
    assumed.verify()


def test_a_role_that_cannot_be_assumed_fails_clearly(session, capsys):
    session.stubbers["sts"].add_client_error("assume_role", service_error_code="AccessDenied", service_message="not allowed")

    assert smoke_test.main(["--endpoint", "chat", "--role-arn", ROLE_ARN], session=session) == 1
    assert capsys.readouterr().err == f"error: cannot assume {ROLE_ARN}: AccessDenied: not allowed\n"


def test_unknown_model_is_a_usage_error(session, capsys):
    assert smoke_test.main(["--model", "gpt-5"], session=session) == 2
    assert "error: --model: unknown model 'gpt-5'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give --endpoint NAME"),
        (["--endpoint", "chat", "--attempts", "0"], "must be positive"),
        (["--endpoint", "chat", "--budget-seconds", "-1"], "must be positive"),
    ],
)
def test_bad_usage_exits_2(argv, message):
    result = subprocess.run(
        [sys.executable, "scripts/smoke_test.py", *argv], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    "payload",
    [
        {"generated_text": "Hi!", "details": {"finish_reason": "length", "generated_tokens": 2}},  # LMI: one object
        [{"generated_text": "Hi!", "details": {"finish_reason": "length", "generated_tokens": 2}}],  # TGI: a list
    ],
)
def test_both_container_families_answers_are_read(payload):
    from llm_client import wire

    reply = wire.parse_text_response(payload)
    assert (reply.text, reply.output_tokens) == ("Hi!", 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoint", "chat", "--region", "us-east-1"], "error: no AWS credentials found (reading SSM parameter"),
        (["--model", "mistral", "--region", "us-east-1"], "error: no AWS credentials found (calling endpoint mistral-7b"),
        (["--endpoint", "chat", "--region", "us-east-1; id"], "error: 'us-east-1; id' is not an AWS region name"),
    ],
)
def test_no_credentials_or_a_bad_region_is_one_message(capsys, argv, message):
    """The suite's environment has no credentials (conftest): the real botocore chain finds none."""
    assert smoke_test.main(argv, sleep=lambda seconds: None) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.endswith(f"  fix: {smoke_test.AWS_SETUP_FIX}\n")
    assert "Traceback" not in err and len(err.splitlines()) == 2


# --- scale-to-zero endpoints ----------------------------------------------------------------------------------------

NO_CAPACITY = "Inference Component has no capacity to process this request. Please retry later."


def component_parameter() -> dict[str, Any]:
    """What SageMakerEndpointStack publishes with -c scale_to_zero=true (one variant, served as a component)."""
    return {
        **sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5), api="messages"),
        "scale_to_zero": True,
        "inference_component_name": "chat-mistral-7b",
        "expected_cold_start_seconds": 600,
    }


def add_no_capacity(session: FakeSession, times: int) -> None:
    for _ in range(times):
        session.stubbers["sagemaker-runtime"].add_client_error(
            "invoke_endpoint", service_error_code="ValidationError", service_message=NO_CAPACITY, http_status_code=400
        )


def test_a_scale_to_zero_endpoint_waits_out_its_cold_start_and_reports_it_apart_from_the_latency(session, capsys):
    add_parameter(session, "chat", component_parameter())
    add_no_capacity(session, 2)
    request = {**expected_messages_invoke("Hi", None), "InferenceComponentName": "chat-mistral-7b"}  # no TargetVariant
    session.stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint", {"Body": chat_body("Hello there.", 4), "InvokedProductionVariant": "AllTraffic"}, request
    )
    waits: list[float] = []

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Hi"], session=session, sleep=waits.append, jitter=lambda: 1.0)

    out = capsys.readouterr().out
    assert status == 0  # 30 s of cold start, yet within the 5 s latency budget: the budget is the request's
    assert waits == [10, 20]
    assert "ok   chat (chat-mistral-7b): " in out and "(budget 5 s)" in out and "3 attempt(s)" in out
    assert "\n     cold start: 30.0 s waiting for a copy (scale-to-zero; not part of the latency above or its budget)" in out
    assert "chat (chat-mistral-7b): no copy running (cold start from zero); waiting 10 s (0 of 600 s waited)" in out


def test_a_cold_start_over_its_budget_fails_with_one_message_and_no_traceback(session, capsys):
    add_parameter(session, "chat", component_parameter())
    add_no_capacity(session, 3)
    waits: list[float] = []

    status = smoke_test.main(
        ["--endpoint", "chat", "--prompt", "Hi", "--cold-start-seconds", "25"], session=session, sleep=waits.append
    )

    err = capsys.readouterr().err
    assert status == 1
    assert waits == [10, 15]
    assert err.startswith(
        "FAIL chat (chat-mistral-7b): endpoint chat (scale-to-zero, inference component chat-mistral-7b) still has no "
        "copy running after waiting 25 s (its cold-start budget: 25 s; last answer: ValidationError: Inference "
        "Component has no capacity"
    )
    assert "--cold-start-seconds" in err and "Traceback" not in err and err.count("\n") == 1


def test_the_help_documents_the_cold_start_budget():
    help_text = subprocess.run(
        [sys.executable, "scripts/smoke_test.py", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--cold-start-seconds" in help_text and "expected_cold_start_seconds" in help_text


def migration_parameter(mistral_weight: int, llama_weight: int) -> dict[str, Any]:
    """A migration on one scale-to-zero endpoint: two inference components, each with its model and its weight."""
    old = sagemaker_parameter(("mistral-7b", MISTRAL_FORMAT, 5), api="messages")["variants"][0]
    candidate = sagemaker_parameter(("llama2-7b", LLAMA_FORMAT, 8))["variants"][0]  # the text API, its own prompt
    return {
        **component_parameter(),
        "inference_component_name": "chat-mistral-7b" if mistral_weight >= llama_weight else "chat-llama2-7b",
        "variants": [
            {**old, "variant_name": "AllTraffic", "inference_component_name": "chat-mistral-7b", "weight": mistral_weight},
            {**candidate, "variant_name": "AllTraffic", "inference_component_name": "chat-llama2-7b", "weight": llama_weight},
        ],
    }


def test_each_component_of_a_migration_is_smoke_tested_in_its_own_models_format_with_its_own_cold_start(session, capsys):
    add_parameter(session, "chat", migration_parameter(90, 10))
    runtime = session.stubbers["sagemaker-runtime"]
    old_request = {**expected_messages_invoke("Hi", None), "InferenceComponentName": "chat-mistral-7b"}
    runtime.add_response(
        "invoke_endpoint", {"Body": chat_body("Hello there.", 4), "InvokedProductionVariant": "AllTraffic"}, old_request
    )
    add_no_capacity(session, 1)  # the candidate is at zero: its own cold start
    candidate_request = {
        **expected_invoke(LLAMA_FORMAT.format(prompt="Hi"), None),
        "InferenceComponentName": "chat-llama2-7b",
    }
    runtime.add_response(
        "invoke_endpoint", {"Body": tgi_body("Hello.", 3), "InvokedProductionVariant": "AllTraffic"}, candidate_request
    )
    waits: list[float] = []

    status = smoke_test.main(["--endpoint", "chat", "--prompt", "Hi"], session=session, sleep=waits.append, jitter=lambda: 1.0)

    out = capsys.readouterr().out.splitlines()
    assert status == 0 and waits == [10]
    results = [line for line in out if line.startswith(("ok", "     cold start"))]
    assert [line.split(":")[0] for line in results] == [
        "ok   chat (chat-mistral-7b)",
        "     cold start",
        "ok   chat (chat-llama2-7b)",
        "     cold start",
    ]
    assert "(budget 5 s)" in results[0] and "(budget 8 s)" in results[2]  # each model's own budget
    assert results[1].startswith("     cold start: 0.0 s") and results[3].startswith("     cold start: 10.0 s")


def test_a_drained_component_is_skipped_and_said_so(session, capsys):
    add_parameter(session, "chat", migration_parameter(0, 100))
    request = {**expected_invoke(LLAMA_FORMAT.format(prompt="Hi"), None), "InferenceComponentName": "chat-llama2-7b"}
    session.stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint", {"Body": tgi_body("Hello.", 3), "InvokedProductionVariant": "AllTraffic"}, request
    )

    assert smoke_test.main(["--endpoint", "chat", "--prompt", "Hi"], session=session) == 0

    out = capsys.readouterr().out
    assert out.startswith(
        "skip chat (chat-mistral-7b): weight 0, drained (gets no traffic; about to be removed)\nok   chat (chat-llama2-7b): "
    )


# --- a router: its parameter read back (what CI runs after a router deploys) ------------------------------------------


def router_parameter(**changes: Any) -> dict[str, Any]:
    from llm_client.routing_policy import heuristic_policy

    value = {
        "schema_version": 2,
        "hosting": "router",
        "endpoint_name": "assistant",
        "region": REGION,
        "routes": {"weak": "chat", "strong": "claude"},
        "policy": heuristic_policy(),
    }
    return {**value, **changes}


def router_check(session: FakeSession, sha256: str, routes: str = "chat,claude") -> int:
    argv = ["--router", "assistant", "--routes", routes, "--policy-sha256", sha256, "--region", REGION]
    return smoke_test.main(argv, session=session)


def test_a_router_is_read_back_as_agents_read_it_and_matches_its_file(session, capsys):
    parameter = router_parameter()
    add_parameter(session, "assistant", parameter)
    assert router_check(session, parameter["policy"]["sha256"]) == 0  # one GetParameter, no invoke (the stubs verify)
    out = capsys.readouterr().out
    assert "ok   router assistant: routes chat (weak), claude (strong); heuristic policy sha256" in out


@pytest.mark.parametrize(
    ("parameter", "sha256", "routes", "message"),
    [
        (router_parameter(), "0" * 64, "chat,claude", "router assistant: deployed policy sha256 "),
        (router_parameter(), None, "chat,other", "deployed routes chat (weak), claude (strong); expected chat, other"),
        (BEDROCK_PARAMETER, "0" * 64, "chat,claude", "/llm-endpoints/assistant is a bedrock endpoint, not a router"),
    ],
    ids=["other-policy", "other-routes", "not-a-router"],
)
def test_a_router_that_differs_from_its_file_fails(session, capsys, parameter, sha256, routes, message):
    add_parameter(session, "assistant", parameter)
    assert router_check(session, sha256 or parameter["policy"]["sha256"], routes) == 1
    assert message in capsys.readouterr().err


def test_a_tampered_router_policy_fails_the_clients_integrity_check(session, capsys):
    parameter = router_parameter()
    claimed = parameter["policy"]["sha256"]
    parameter["policy"] = {**parameter["policy"], "threshold": 0.0}  # edited after sealing
    add_parameter(session, "assistant", parameter)
    assert router_check(session, claimed) == 1
    assert "field 'sha256' does not match the policy's content" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--router", "a", "--routes", "x,y"], "--router needs --routes WEAK,STRONG and --policy-sha256 HEX"),
        (["--router", "a", "--routes", "x", "--policy-sha256", "h"], "--router needs --routes WEAK,STRONG"),
        (["--router", "a", "--endpoint", "chat"], "--router cannot be combined with --endpoint or --model"),
    ],
)
def test_bad_router_usage_exits_2(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        smoke_test.main(argv)
    assert caught.value.code == 2 and message in capsys.readouterr().err
