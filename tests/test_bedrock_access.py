"""What every shipped Bedrock model config deploys, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

from llm_config import BedrockModelConfig, ModelRegistry
from stacks.app_factory import add_deployment
from tests.conftest import BEDROCK_MODELS, client_parameter, only

INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def bedrock_model(registry: ModelRegistry, key: str) -> BedrockModelConfig:
    model = registry.resolve(key)
    assert isinstance(model, BedrockModelConfig)
    return model


PSEUDO_PARAMETERS = {"AWS::AccountId": "ACCOUNT", "AWS::Partition": "aws"}


def arn_text(resource: Any) -> str:
    """An ARN as text: the deploying account shows as ACCOUNT, the partition (a Ref in tests) as aws."""
    if isinstance(resource, str):
        return resource
    parts = resource["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else PSEUDO_PARAMETERS[part["Ref"]] for part in parts)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def invoke_grants(template: Template) -> tuple[set[str], set[str]]:
    """(actions, resource ARNs) over every IAM statement in the template."""
    actions: set[str] = set()
    resources: set[str] = set()
    policies = [p["Properties"]["PolicyDocument"] for p in template.find_resources("AWS::IAM::ManagedPolicy").values()]
    policies += [p["Properties"]["PolicyDocument"] for p in template.find_resources("AWS::IAM::Policy").values()]
    for role in template.find_resources("AWS::IAM::Role").values():
        policies += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    for document in policies:
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions.update(_as_list(statement["Action"]))
            resources.update(arn_text(r) for r in _as_list(statement["Resource"]))
    return actions, resources


def foundation_model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


@pytest.mark.parametrize("key", ["claude-3-haiku", "claude-3-sonnet", "claude-3-opus"])
def test_policy_grants_exactly_invoke_on_the_in_region_foundation_model(synth, registry, key):
    model = bedrock_model(registry, key)
    actions, resources = invoke_grants(synth(model=key))
    assert sorted(actions) == INVOKE_ACTIONS
    assert resources == {foundation_model_arn("us-east-1", model.model_id)}


def test_another_region_gets_that_regions_arn(synth):
    actions, resources = invoke_grants(synth(model="claude-3-haiku", region="eu-central-1"))
    assert sorted(actions) == INVOKE_ACTIONS
    assert resources == {"arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}


def test_china_regions_use_their_partition(synth):
    _, resources = invoke_grants(synth(model="claude-3-haiku", region="cn-north-1"))
    assert resources == {"arn:aws-cn:bedrock:cn-north-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}


@pytest.mark.parametrize("region", ["us-east-1", "us-east-2"])
def test_cross_region_profile_grants_profile_and_every_destination_model(synth, region):
    actions, resources = invoke_grants(synth(model="claude-3-5-sonnet", region=region))
    assert sorted(actions) == INVOKE_ACTIONS
    model_id = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    # Called from us-east-2, the profile routes to us-east-1 and us-west-2 only: no us-east-2 model ARN.
    assert resources == {
        f"arn:aws:bedrock:{region}:ACCOUNT:inference-profile/us.{model_id}",
        foundation_model_arn("us-east-1", model_id),
        foundation_model_arn("us-west-2", model_id),
    }


def test_cross_region_template_lints_clean_in_its_region(synth):
    template = json.dumps(synth(model="claude-3-5-sonnet", region="us-east-2").to_json())
    assert [str(m) for m in lint(template, config=ManualArgs(regions=["us-east-2"]))] == []


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_no_wildcards_anywhere_in_bedrock_grants(synth, key):
    actions, resources = invoke_grants(synth(model=key))
    assert all("*" not in action for action in actions)
    assert all("*" not in resource for resource in resources)


def test_client_role_trusts_the_deploying_account_by_default(synth):
    template = synth(model="claude-3-sonnet")
    role = only(template, "AWS::IAM::Role")
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert arn_text(statement["Principal"]["AWS"]) == "arn:aws:iam::ACCOUNT:root"
    [policy_id] = template.find_resources("AWS::IAM::ManagedPolicy")
    assert role["ManagedPolicyArns"] == [{"Ref": policy_id}], "the role gets exactly the invoke policy, nothing AWS-managed"
    assert "Policies" not in role


def test_trusted_principals_from_context_replace_the_default(synth):
    template = synth(model="claude-3-sonnet", trusted_principals="arn:aws:iam::111122223333:role/chat-app, 444455556666")
    statements = only(template, "AWS::IAM::Role")["AssumeRolePolicyDocument"]["Statement"]
    assert {s["Action"] for s in statements} == {"sts:AssumeRole"}
    principals = [arn_text(p) for s in statements for p in _as_list(s["Principal"]["AWS"])]
    assert sorted(principals) == ["arn:aws:iam::111122223333:role/chat-app", "arn:aws:iam::444455556666:root"]


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_alarms_watch_the_invoked_model_id_in_the_right_units(synth, registry, key):
    model = bedrock_model(registry, key)
    alarms = {a["MetricName"]: a for a in _alarm_properties(synth(model=key))}
    assert set(alarms) == {"InvocationLatency", "InvocationThrottles", "InvocationServerErrors"}
    for alarm in alarms.values():
        assert alarm["Namespace"] == "AWS/Bedrock"
        assert alarm["Dimensions"] == [{"Name": "ModelId", "Value": model.invoke_id}]
        assert alarm["TreatMissingData"] == "notBreaching"
        assert len(alarm["AlarmActions"]) == 1 and alarm["AlarmActions"] == alarm["OKActions"]
    latency = alarms["InvocationLatency"]
    assert latency["Unit"] == "Milliseconds"
    assert latency["Threshold"] == model.latency_budget_seconds * 1000
    assert latency["ExtendedStatistic"] == model.alarms.latency_statistic
    assert latency["ComparisonOperator"] == "GreaterThanThreshold"
    assert (latency["DatapointsToAlarm"], latency["EvaluationPeriods"]) == (2, 3)
    assert alarms["InvocationThrottles"]["Threshold"] == model.alarms.throttles_per_period
    assert alarms["InvocationServerErrors"]["Threshold"] == model.alarms.server_errors_per_period
    for name in ("InvocationThrottles", "InvocationServerErrors"):
        assert alarms[name]["Statistic"] == "Sum"
        assert alarms[name]["Period"] == 300
        assert alarms[name]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def _alarm_properties(template: Template) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources("AWS::CloudWatch::Alarm").values()]


def test_haiku_latency_alarm_is_two_seconds_in_milliseconds(synth):
    [latency] = [a for a in _alarm_properties(synth(model="claude-3-haiku")) if a["MetricName"] == "InvocationLatency"]
    assert latency["Threshold"] == 2000


def test_cross_region_alarms_use_the_profile_id(synth):
    for alarm in _alarm_properties(synth(model="claude-3-5-sonnet")):
        assert alarm["Dimensions"] == [{"Name": "ModelId", "Value": "us.anthropic.claude-3-5-sonnet-20240620-v1:0"}]


def test_alarms_notify_the_encrypted_topic(synth):
    template = synth(model="claude-3-sonnet")
    [topic_id] = template.find_resources("AWS::SNS::Topic")
    assert only(template, "AWS::SNS::Topic")["KmsMasterKeyId"]
    for alarm in _alarm_properties(template):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_dashboard_is_named_per_endpoint_and_region(synth):
    dashboard = only(synth(model="claude-3-opus", endpoint="chat"), "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == "llm-chat-us-east-1"
    body = json.dumps(dashboard["DashboardBody"])
    assert "input * 0.015 / 1000 + output * 0.075 / 1000" in body  # the cost estimate uses Opus's prices
    assert '\\"value\\":30000' in body  # latency budget line, in ms


def test_budget_filters_bedrock_spend_and_alerts_the_topic(synth, registry):
    model = bedrock_model(registry, "claude-3-opus")
    template = synth(model="claude-3-opus")
    budget = only(template, "AWS::Budgets::Budget")
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 500, "Unit": "USD"}
    assert budget["Budget"]["TimeUnit"] == "MONTHLY"
    assert budget["Budget"]["CostFilters"] == {"Service": model.budget.cost_filter_services}
    assert "Amazon Bedrock" in model.budget.cost_filter_services
    assert [n["Notification"]["Threshold"] for n in budget["NotificationsWithSubscribers"]] == [50, 80, 100]


def test_client_parameter_names_the_model_id_clients_call(synth):
    template = synth(model="claude-3-5-sonnet", endpoint="chat")
    parameter = client_parameter(template, "chat")
    assert parameter["Name"] == "/llm-endpoints/chat"  # the SageMaker stack's name for the same endpoint
    parts = parameter["Value"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "ROLE_ARN" for part in parts)
    assert parts[1] == {"Fn::GetAtt": [next(iter(template.find_resources("AWS::IAM::Role"))), "Arn"]}
    assert json.loads(text) == {
        "hosting": "bedrock",
        "endpoint_name": "chat",
        "region": "us-east-1",
        "model_key": "claude-3-5-sonnet",
        "model_id": "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "foundation_model_id": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "inference_profile_id": "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "client_role_arn": "ROLE_ARN",
        "context_length": 200000,
        "latency_budget_seconds": 10,
    }


def test_outputs_tell_clients_what_to_call(synth):
    template = synth(model="claude-3-sonnet")
    template.has_output("ModelId", {"Value": "anthropic.claude-3-sonnet-20240229-v1:0"})
    for name in ("InvokePolicyArn", "ClientRoleArn", "ClientParameterName", "AlarmTopicArn", "DashboardName"):
        assert name in template.to_json()["Outputs"]


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_each_claude_model_synthesizes_exactly_one_bedrock_stack(key):
    app = App(context={"model": key})
    add_deployment(app, {})
    stacks = [child for child in app.node.children if isinstance(child, Stack)]
    assert [stack.stack_name for stack in stacks] == [f"llm-{key}"]
    resources = Template.from_stack(stacks[0]).to_json()["Resources"].values()
    assert not [r for r in resources if r["Type"].startswith("AWS::SageMaker::")]
