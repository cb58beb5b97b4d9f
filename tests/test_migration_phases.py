"""The guide's migration, Mistral 7B -> Mixtral 8x7B on endpoint `chat`, phase by phase, asserted on the templates.

Every phase must be one plain CloudFormation update: same stack, same endpoint, same logical IDs; a drained
variant (weight 0) has no scalable target; the blue/green DeploymentConfig appears only where the variant names stay.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.conftest import cfn_lint, client_parameter
from tests.test_snapshots import masked

CHAT = {"endpoint": "chat"}
AB = {**CHAT, "model": "mistral", "candidate": "mixtral"}
PHASES: dict[str, dict[str, str]] = {
    "start": {**CHAT, "model": "mistral"},
    "ab": {**AB, "candidate_weight": "10"},
    "shift": {**AB, "candidate_weight": "100"},
    "finish": {**CHAT, "model": "mixtral", "retire": "mistral"},
    "rollback": {**AB, "candidate_weight": "0"},
    "rollback-finish": {**CHAT, "model": "mistral", "retire": "mixtral"},
}
# Variant -> weight in each phase; a variant at 0 is drained (no scaling).
WEIGHTS = {
    "start": {"mistral-7b": 100},
    "ab": {"mistral-7b": 90, "mixtral-8x7b": 10},
    "shift": {"mistral-7b": 0, "mixtral-8x7b": 100},
    "finish": {"mixtral-8x7b": 100},
    "rollback": {"mistral-7b": 100, "mixtral-8x7b": 0},
    "rollback-finish": {"mistral-7b": 100},
}
WITH_GUARDRAILS = {"start", "shift", "rollback"}


@pytest.fixture(scope="module")
def phases(synth) -> dict[str, dict[str, Any]]:
    return {phase: synth(**context).to_json() for phase, context in PHASES.items()}


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def one(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = of_type(template, resource_type).items()
    return logical_id, resource


@pytest.mark.parametrize("phase", PHASES)
def test_every_phase_keeps_the_endpoint_identity(phases, phase):
    template = phases[phase]
    endpoint_id, endpoint = one(template, "AWS::SageMaker::Endpoint")
    config_id, config = one(template, "AWS::SageMaker::EndpointConfig")
    start = phases["start"]
    assert endpoint_id == one(start, "AWS::SageMaker::Endpoint")[0]
    assert config_id == one(start, "AWS::SageMaker::EndpointConfig")[0]
    assert endpoint["Properties"]["EndpointName"] == "chat"
    assert "EndpointConfigName" not in config["Properties"], "a fixed name would collide when CloudFormation replaces it"
    assert endpoint["Properties"]["RetainAllVariantProperties"] is True
    assert endpoint["Properties"]["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DesiredWeight"}]
    assert len(of_type(template, "AWS::SSM::Parameter")) == 2  # the client parameter and the hosting lock
    assert client_parameter(Template.from_json(template), "chat")["Name"] == "/llm-endpoints/chat"


def test_every_phase_synthesizes_one_stack_named_after_the_endpoint():
    from aws_cdk import App

    from stacks.app_factory import add_deployment

    for context in PHASES.values():
        assert add_deployment(App(context=context), {}).stack_name == "llm-chat"


def test_a_variant_keeps_its_logical_ids_in_every_phase(phases):
    """Models, scaling and alarms derive their IDs from the variant name, so no phase replaces another's resources."""
    ids: dict[str, set[str]] = {}
    for template in phases.values():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in (
                "AWS::SageMaker::Model",
                "AWS::CloudWatch::Alarm",
                "AWS::ApplicationAutoScaling::ScalableTarget",
            ):
                props = resource["Properties"]
                name = (
                    props.get("AlarmName") or props.get("ResourceId") or props["PrimaryContainer"]["Environment"]["HF_MODEL_ID"]
                )
                ids.setdefault(f"{resource['Type']}:{name}", set()).add(logical_id)
    assert len(ids) == 2 + 2 + 12  # two models, two scalable targets, six alarms per variant
    assert {key: found for key, found in ids.items() if len(found) > 1} == {}


@pytest.mark.parametrize("phase", PHASES)
def test_weights_and_scaling_of_each_phase(phases, phase):
    template = phases[phase]
    variants = one(template, "AWS::SageMaker::EndpointConfig")[1]["Properties"]["ProductionVariants"]
    assert {v["VariantName"]: v["InitialVariantWeight"] for v in variants} == WEIGHTS[phase]
    scaled = {r["Properties"]["ResourceId"] for r in of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()}
    assert scaled == {f"endpoint/chat/variant/{name}" for name, weight in WEIGHTS[phase].items() if weight > 0}
    assert len(of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy")) == len(scaled)


@pytest.mark.parametrize("phase", PHASES)
def test_guardrails_only_where_the_variant_names_stay(phases, phase):
    template = phases[phase]
    properties = one(template, "AWS::SageMaker::Endpoint")[1]["Properties"]
    if phase not in WITH_GUARDRAILS:
        assert "DeploymentConfig" not in properties
        assert not of_type(template, "AWS::IAM::Policy")
        return
    config = properties["DeploymentConfig"]
    assert config["BlueGreenUpdatePolicy"] == {
        "MaximumExecutionTimeoutInSeconds": 7200,
        "TerminationWaitInSeconds": 600,
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
    }
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    rollback_ids = [alarm["AlarmName"]["Ref"] for alarm in config["AutoRollbackConfiguration"]["Alarms"]]
    expected = {f"chat-{variant}-{what}" for variant in WEIGHTS[phase] for what in ("latency-p90", "5xx-errors")}
    assert {alarms[i]["Properties"]["AlarmName"] for i in rollback_ids} == expected
    [(policy_id, policy)] = of_type(template, "AWS::IAM::Policy").items()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    assert sorted(r["Fn::GetAtt"][0] for r in statement["Resource"]) == sorted(rollback_ids)
    assert policy_id in one(template, "AWS::SageMaker::Endpoint")[1]["DependsOn"]


def test_stack_description_names_the_phase(phases):
    assert phases["ab"]["Description"] == (
        # Both variants on their first instance pool, to both on their dearest fallback (docs/instance-pools.md).
        "LLM endpoint chat, migration phase split: mistral-7b 90%, mixtral-8x7b 10% (~$2,933-4,223/month always-on)"
    )


@pytest.mark.parametrize("phase", PHASES)
def test_phase_template_lints_clean(phases, phase):
    assert [str(m) for m in cfn_lint(phases[phase])] == []


@pytest.mark.parametrize("phase", PHASES)
def test_phase_snapshot(phases, snapshot_json, phase):
    assert masked(phases[phase]) == snapshot_json


@pytest.fixture
def snapshot_json(snapshot):
    from syrupy.extensions.json import JSONSnapshotExtension

    return snapshot.use_extension(JSONSnapshotExtension)


def test_guardrails_from_a_deployment_file_reach_the_template(synth, tmp_path):
    spec = tmp_path / "chat.yaml"
    spec.write_text(
        "endpoint: chat\nmodel: mistral\nguardrails:\n  wait_interval_seconds: 300\n  termination_wait_seconds: 0\n"
        "  maximum_execution_timeout_seconds: 3600\n  rollback_alarms: [5xx-errors]\n"
    )
    template = synth(deployment=str(spec)).to_json()
    config = one(template, "AWS::SageMaker::Endpoint")[1]["Properties"]["DeploymentConfig"]
    assert config["BlueGreenUpdatePolicy"] == {
        "MaximumExecutionTimeoutInSeconds": 3600,
        "TerminationWaitInSeconds": 0,
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300},
    }
    [alarm] = config["AutoRollbackConfiguration"]["Alarms"]
    assert template["Resources"][alarm["AlarmName"]["Ref"]]["Properties"]["AlarmName"] == "chat-mistral-7b-5xx-errors"


# deployments/chat.yaml as the runbook edits it, phase by phase: the tests pin these, never the shipped file,
# which moves to the next phase whenever the team follows docs/migrations.md.
PHASE_FILES = {phase: f"tests/fixtures/deployments/chat-{phase}.yaml" for phase in PHASES}


@pytest.mark.parametrize("phase", PHASES)
def test_each_phase_of_the_deployment_file_is_that_phase(synth, phase):
    from_file = synth(deployment=PHASE_FILES[phase]).to_json()
    assert masked(from_file) == masked(synth(**PHASES[phase], region="us-east-1").to_json())


def test_the_shipped_deployment_file_is_a_phase_of_endpoint_chat(synth, registry):
    """Whatever phase the team has moved it to: it synthesizes the one stack of endpoint chat."""
    from llm_config.deployment import deployment_from_context

    spec = deployment_from_context({"deployment": "deployments/chat.yaml"}.get, {}, registry)
    assert (spec.endpoint_name, spec.stack_name) == ("chat", "llm-chat")
    assert spec.phase in {"serve", "split", "shift", "revert", "retire"}
    synth(deployment="deployments/chat.yaml").has_resource("AWS::SageMaker::Endpoint", {})


def test_guardrails_without_rollback_alarms_fail_early(registry):
    from aws_cdk import App, Environment, Stack

    from llm_config.guardrails import Guardrails
    from llm_constructs import EndpointVariant, SageMakerLlmEndpoint

    model = registry.resolve("mistral")
    variant = EndpointVariant(name=model.key, model=model, instance=registry.instance_for(model), image=registry.image_for(model))
    stack = Stack(App(), "s", env=Environment(region="us-east-1"))
    endpoint = SageMakerLlmEndpoint(stack, "E", endpoint_name="chat", variants=[variant])
    with pytest.raises(ValueError, match="deployment guardrails need at least one rollback alarm"):
        endpoint.add_deployment_guardrails(Guardrails(), [])
