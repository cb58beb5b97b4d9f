"""scripts/bedrock_lifecycle.py (the read-only live check) against botocore Stubber clients, and where CI runs it."""

from __future__ import annotations

from datetime import date
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from llm_config.deployment import DeploymentSpec
from llm_config.stages import StageConfig
from scripts import bedrock_lifecycle, ci_stage
from tests.conftest import SYNTH_TODAY

HAIKU_ID = "anthropic.claude-haiku-4-5-20251001-v1:0"


class FakeSession:
    """One stubbed Bedrock control-plane client per region; the test queues responses on ``stubbers[region]``."""

    def __init__(self, *regions: str) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        for region in regions:
            client = boto3.client("bedrock", region_name=region, aws_access_key_id="t", aws_secret_access_key="t")
            self.clients[region] = client
            self.stubbers[region] = Stubber(client)
            self.stubbers[region].activate()

    def client(self, service: str, region_name: str, config: Any = None) -> Any:
        assert service == "bedrock"
        return self.clients[region_name]


def model_details(model_id: str, status: str) -> dict[str, Any]:
    return {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
            "modelId": model_id,
            "providerName": "Anthropic",
            "modelLifecycle": {"status": status},
        }
    }


def run(session: FakeSession, *argv: str, today: date = SYNTH_TODAY) -> int:
    return bedrock_lifecycle.main(list(argv), session=session, today=today)


def test_agreement_passes(capsys):
    session = FakeSession("us-east-1")
    session.stubbers["us-east-1"].add_response(
        "get_foundation_model", model_details(HAIKU_ID, "ACTIVE"), {"modelIdentifier": HAIKU_ID}
    )
    assert run(session, "--region", "us-east-1", "claude-haiku-4-5") == 0
    assert capsys.readouterr().out == "ok   claude-haiku-4-5 in us-east-1: ACTIVE (superseded: move to claude-haiku-5-5)\n"
    session.stubbers["us-east-1"].assert_no_pending_responses()


def test_a_model_bedrock_moved_to_legacy_fails_naming_the_config(capsys):
    session = FakeSession("eu-west-1")
    session.stubbers["eu-west-1"].add_response("get_foundation_model", model_details(HAIKU_ID, "LEGACY"))
    assert run(session, "--region", "eu-west-1", "claude-haiku-4-5") == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: model_configs/claude-haiku-4-5.yaml: lifecycle: Bedrock reports LEGACY for claude-haiku-4-5 in eu-west-1,"
        " the config says active (Bedrock would report ACTIVE)"
    )
    assert "fix: update the lifecycle block" in err


def test_a_retired_model_must_be_gone(capsys):
    session = FakeSession("us-east-1")
    session.stubbers["us-east-1"].add_client_error(
        "get_foundation_model", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    assert run(session, "--region", "us-east-1", "claude-3-haiku") == 0
    assert "ok   claude-3-haiku in us-east-1: NOT FOUND" in capsys.readouterr().out


def test_a_retired_model_still_served_is_a_mismatch(capsys):
    session = FakeSession("us-east-1")
    session.stubbers["us-east-1"].add_response(
        "get_foundation_model", model_details("anthropic.claude-3-haiku-20240307-v1:0", "LEGACY")
    )
    assert run(session, "--region", "us-east-1", "claude-3-haiku") == 1
    assert "Bedrock reports LEGACY for claude-3-haiku in us-east-1, the config says end-of-life" in capsys.readouterr().err


def test_a_source_region_the_profile_serves_from_elsewhere_is_asked_in_a_destination():
    from llm_config.bedrock_model import Route

    route = Route("us-west-1", HAIKU_ID, f"us.{HAIKU_ID}", "geography", ("us-east-1", "us-west-2"))
    assert route.lifecycle_region == "us-east-1"


def test_aws_errors_exit_1_without_a_traceback(capsys):
    session = FakeSession("us-east-1")
    session.stubbers["us-east-1"].add_client_error(
        "get_foundation_model", service_error_code="AccessDeniedException", http_status_code=403
    )
    assert run(session, "--region", "us-east-1", "claude-opus-4-6") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the model lifecycle from Bedrock:") and "AccessDeniedException" in err


def test_unknown_model_is_bad_usage(capsys):
    assert run(FakeSession(), "--region", "us-east-1", "claude-9") == 2
    assert "unknown model 'claude-9'" in capsys.readouterr().err


def test_ci_deploys_check_bedrock_lifecycles_first(registry):
    stage = StageConfig.model_validate({"name": "staging", "account": "222222222222", "region": "eu-west-1"})
    specs = [
        DeploymentSpec(
            endpoint_name="assistant", region="eu-west-1", model=registry.resolve("claude-sonnet-4-6"), source="x.yaml"
        ),
        DeploymentSpec(endpoint_name="chat", region="eu-west-1", model=registry.resolve("mistral-7b"), source="y.yaml"),
    ]
    commands = ci_stage.deploy_commands(stage, specs)
    assert commands[0] == [ci_stage.PYTHON, "scripts/bedrock_lifecycle.py", "--region", "eu-west-1", "claude-sonnet-4-6"]
    assert [c[3] for c in commands[1:] if c[0] != ci_stage.PYTHON] == ["deploy", "deploy"]
    without_bedrock = ci_stage.deploy_commands(stage, specs[1:])
    assert all("bedrock_lifecycle.py" not in " ".join(c) for c in without_bedrock)


@pytest.mark.parametrize("status", ["active", "legacy", "end-of-life"])
def test_every_state_has_an_answer_bedrock_gives(status):
    assert bedrock_lifecycle.EXPECTED[status] in {"ACTIVE", "LEGACY", "NOT FOUND"}


def test_all_checks_every_config_the_current_models_included(capsys, registry):
    session = FakeSession("us-east-1")
    bedrock = [m for m in registry.models.values() if m.hosting == "bedrock"]
    for model in bedrock:  # the retired ones are asked in the region itself, the others where their profile routes
        status = "ACTIVE" if model.lifecycle.state("us-east-1", SYNTH_TODAY).status == "active" else None
        if status:
            session.stubbers["us-east-1"].add_response(
                "get_foundation_model", model_details(model.model_id, status), {"modelIdentifier": model.model_id}
            )
        else:
            session.stubbers["us-east-1"].add_client_error(
                "get_foundation_model", "ResourceNotFoundException", expected_params={"modelIdentifier": model.model_id}
            )
    assert run(session, "--region", "us-east-1", "--all") == 0
    out = capsys.readouterr().out
    for key in ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"):
        assert f"ok   {key} in us-east-1: ACTIVE\n" in out
    assert "ok   claude-opus-4-6 in us-east-1: ACTIVE (superseded: move to claude-opus-5-5)" in out
    assert "ok   claude-3-sonnet in us-east-1: NOT FOUND" in out
    session.stubbers["us-east-1"].assert_no_pending_responses()
