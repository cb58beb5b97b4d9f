"""scripts/smoke_test.py on a scale-to-zero endpoint: waits out "no capacity", reports the cold start apart."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scripts import smoke_test
from tests.test_smoke_test import MISTRAL_FORMAT, add_parameter, session, tgi_body  # noqa: F401 (fixture)

COMPONENT_PARAMETER = {
    "hosting": "sagemaker",
    "endpoint_name": "chat",
    "region": "eu-west-1",
    "scale_to_zero": True,
    "inference_component_name": "chat-mistral-7b",
    "expected_cold_start_seconds": 600,
    "variants": [{"variant_name": "AllTraffic", "prompt_format": MISTRAL_FORMAT, "latency_budget_seconds": 5}],
}
# The wording SageMaker uses for a request that found no copy (only "capacity" is relied on).
NO_CAPACITY = "Inference Component has no capacity to process this request."


def expected_component_invoke(prompt_text: str) -> dict[str, Any]:
    body = {"inputs": prompt_text, "parameters": {"max_new_tokens": 64, "return_full_text": False, "details": True}}
    return {
        "EndpointName": "chat",
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": json.dumps(body),
        "InferenceComponentName": "chat-mistral-7b",
    }


class Clock:
    """Fake time: sleeps advance it; each call to the model takes ``call_seconds``."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_parameter_of_a_component_endpoint_targets_the_component():
    (target,) = smoke_test.targets_from_parameter(COMPONENT_PARAMETER, None)
    assert (target.inference_component, target.variant_name, target.cold_start_budget_seconds) == ("chat-mistral-7b", None, 600)
    (shorter,) = smoke_test.targets_from_parameter(COMPONENT_PARAMETER, None, 120)
    assert shorter.cold_start_budget_seconds == 120


def run_component(session: Any, cold_start_seconds: float | None = None) -> tuple[smoke_test.Result, list[float]]:  # noqa: F811
    """run_target on the parameter's one target, with fake time: each sleep advances the clock, calls take none."""
    (target,) = smoke_test.targets_from_parameter(COMPONENT_PARAMETER, None, cold_start_seconds)
    clock = Clock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.sleep(seconds)

    result = smoke_test.run_target(
        target, lambda s: session.clients[s], prompt="Hi", max_new_tokens=64, attempts=3, sleep=sleep, clock=clock, log=print
    )
    return result, waits


def add_no_capacity(session: Any, times: int) -> None:  # noqa: F811
    for _ in range(times):
        session.stubbers["sagemaker-runtime"].add_client_error(
            "invoke_endpoint", service_error_code="ValidationError", service_message=NO_CAPACITY
        )


def test_no_capacity_is_waited_out_with_backoff_and_reported_apart_from_latency(session, capsys):  # noqa: F811
    add_no_capacity(session, 4)
    session.stubbers["sagemaker-runtime"].add_response(
        "invoke_endpoint", {"Body": tgi_body("Hello.", 3)}, expected_component_invoke("<s>[INST] Hi [/INST]")
    )

    result, waits = run_component(session)

    assert waits == [10, 20, 40, 60]  # doubling, capped at 60 s
    assert result.cold_start_seconds == 130 and result.latency_seconds == 0 and result.within_budget
    assert result.summary() == (
        "ok   chat/chat-mistral-7b: 0.00 s (budget 5 s), 3 tokens, 0.0 tokens/s, 1 attempt(s), cold start 130 s"
    )
    assert "no capacity (scaled to zero?): waiting 10 s for a copy (0 s of 600 s)" in capsys.readouterr().out


def test_the_cold_start_budget_ends_the_wait_with_one_message(session):  # noqa: F811
    add_no_capacity(session, 3)  # at 0, 10 and 30 s

    with pytest.raises(smoke_test.SmokeTestError) as raised:
        run_component(session, cold_start_seconds=30)

    assert str(raised.value).startswith(
        "chat/chat-mistral-7b: no copy running after 30 s, the cold-start budget (30 s; --cold-start-seconds)"
    )


def test_cold_start_budget_flag_reaches_the_target(session, monkeypatch):  # noqa: F811
    add_parameter(session, "chat", COMPONENT_PARAMETER)
    seen: list[float | None] = []

    def targets(metadata: dict[str, Any], budget: float | None, cold_start: float | None = None) -> list[Any]:
        seen.append(cold_start)
        return []

    monkeypatch.setattr(smoke_test, "targets_from_parameter", targets)

    assert smoke_test.main(["--endpoint", "chat", "--cold-start-seconds", "240"], session=session) == 0
    assert seen == [240]


def test_a_variant_endpoint_fails_at_once_on_no_capacity():
    target = smoke_test.Target(label="chat/mistral-7b", hosting="sagemaker", endpoint_name="chat", latency_budget_seconds=5)

    class Runtime:
        def invoke_endpoint(self, **_: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ValidationError", "Message": NO_CAPACITY}}, "InvokeEndpoint")

    def no_waiting(seconds: float) -> None:
        pytest.fail(f"a variant endpoint must not wait for capacity ({seconds} s)")

    with pytest.raises(smoke_test.SmokeTestError, match="no capacity"):
        smoke_test.run_target(target, lambda _: Runtime(), prompt="Hi", max_new_tokens=8, attempts=1, sleep=no_waiting)


def test_bad_cold_start_budget_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        smoke_test.parse_args(["--endpoint", "chat", "--cold-start-seconds", "0"])
    assert exit_info.value.code == 2
    assert "--cold-start-seconds must be positive" in capsys.readouterr().err
