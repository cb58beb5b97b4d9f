"""scripts/protect_stacks.py (termination protection after a pipeline deploy) against botocore Stubber clients."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from scripts import protect_stacks


class FakeSession:
    """A stubbed CloudFormation client; the test queues its responses on ``stubber``."""

    def __init__(self) -> None:
        self.cloudformation = boto3.client(
            "cloudformation", region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        self.stubber = Stubber(self.cloudformation)
        self.stubber.activate()

    def client(self, service: str, region_name: str, config: Any = None) -> Any:
        assert (service, region_name) == ("cloudformation", "eu-west-1")
        return self.cloudformation


def expect(session: FakeSession, stack: str, protected_after: bool) -> None:
    session.stubber.add_response(
        "update_termination_protection",
        {"StackId": f"arn:aws:cloudformation:eu-west-1:222222222222:stack/{stack}/1"},
        {"EnableTerminationProtection": True, "StackName": stack},
    )
    described = {
        "StackName": stack,
        "CreationTime": "2026-12-07T00:00:00Z",
        "StackStatus": "UPDATE_COMPLETE",
        "EnableTerminationProtection": protected_after,
    }
    session.stubber.add_response("describe_stacks", {"Stacks": [described]}, {"StackName": stack})


def test_every_stack_is_protected_then_read_back(capsys):
    session = FakeSession()
    expect(session, "llm-chat", True)
    expect(session, "llm-Support-Bot", True)
    assert protect_stacks.main(["--region", "eu-west-1", "llm-chat", "llm-Support-Bot"], session=session) == 0
    assert (
        capsys.readouterr().out == "ok   llm-chat: termination protection on\nok   llm-Support-Bot: termination protection on\n"
    )
    session.stubber.assert_no_pending_responses()


def test_a_stack_left_unprotected_fails_the_step(capsys):
    session = FakeSession()
    expect(session, "llm-chat", False)
    assert protect_stacks.main(["--region", "eu-west-1", "llm-chat"], session=session) == 1
    assert "FAIL llm-chat: termination protection still off" in capsys.readouterr().err


def test_an_aws_error_fails_the_step_with_one_line(capsys):
    session = FakeSession()
    session.stubber.add_client_error(
        "update_termination_protection", "AccessDenied", "not authorized to perform: cloudformation:UpdateTerminationProtection"
    )
    assert protect_stacks.main(["--region", "eu-west-1", "llm-other"], session=session) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot turn on termination protection: An error occurred (AccessDenied)")
    assert "Traceback" not in err
