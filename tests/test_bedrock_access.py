"""What every shipped Bedrock model config deploys, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from llm_config import BedrockModelConfig, ConfigError, ModelRegistry, load_registry
from llm_constructs.bedrock_model_access import invoke_statements
from stacks.app_factory import add_deployment
from tests.conftest import BEDROCK_MODELS, CDK_JSON_CONTEXT, REPO_ROOT, SYNTH_TODAY, client_parameter, only

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


def policy_statements(template: Template) -> list[dict[str, Any]]:
    [policy] = template.find_resources("AWS::IAM::ManagedPolicy").values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


HAIKU_ID = "anthropic.claude-haiku-4-5-20251001-v1:0"


def test_geography_profile_grants_the_profile_and_its_destination_models_only_through_it(synth):
    statements = policy_statements(synth(model="claude-haiku-4-5", region="us-west-2"))
    profile = f"arn:aws:bedrock:us-west-2:ACCOUNT:inference-profile/us.{HAIKU_ID}"
    [through_profile] = [s for s in statements if "Condition" in s]
    [direct] = [s for s in statements if "Condition" not in s]
    assert sorted(direct["Action"]) == sorted(through_profile["Action"]) == INVOKE_ACTIONS
    assert arn_text(direct["Resource"]) == profile
    assert sorted(_as_list(through_profile["Resource"])) == [
        foundation_model_arn(region, HAIKU_ID) for region in ("us-east-1", "us-east-2", "us-west-2")
    ]
    condition = through_profile["Condition"]
    assert list(condition) == ["StringEquals"]
    assert {key: arn_text(value) for key, value in condition["StringEquals"].items()} == {"bedrock:InferenceProfileArn": profile}


def test_global_profile_grants_the_regionless_model_arn_too(tmp_path):
    template = synth_with_scope(tmp_path, "claude-opus-4-6", "global", "eu-west-1")
    statements = policy_statements(template)
    model_id = "anthropic.claude-opus-4-6-v1"
    profile = f"arn:aws:bedrock:eu-west-1:ACCOUNT:inference-profile/global.{model_id}"
    [direct] = [s for s in statements if "Condition" not in s]
    [through_profile] = [s for s in statements if "Condition" in s]
    assert arn_text(direct["Resource"]) == profile
    assert sorted(_as_list(through_profile["Resource"])) == [
        "arn:aws:bedrock:::foundation-model/anthropic.claude-opus-4-6-v1",
        foundation_model_arn("eu-west-1", model_id),
    ]
    assert arn_text(through_profile["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"]) == profile
    for alarm in _alarm_properties(template):
        assert alarm["Dimensions"] == [{"Name": "ModelId", "Value": f"global.{model_id}"}]
    body = json.dumps(only(template, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    assert "input * 0.005 / 1000 + output * 0.025 / 1000" in body  # the global profile's prices, not the geography's


def synth_with_scope(tmp_path: Any, key: str, scope: str, region: str) -> Template:
    """Synthesize ``key`` from a copy of model_configs/ whose inference_profiles.scope is ``scope``."""
    import shutil

    import yaml

    config_dir = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    path = config_dir / f"{key}.yaml"
    data = yaml.safe_load(path.read_text())
    data["inference_profiles"]["scope"] = scope
    path.write_text(yaml.safe_dump(data))
    app = App(context={**CDK_JSON_CONTEXT, "model": key, "region": region}, outdir=str(tmp_path / "cdk.out"))
    return Template.from_stack(add_deployment(app, {}, load_registry(config_dir), today=SYNTH_TODAY))


def test_china_regions_use_their_partition():
    model = BedrockModelConfig.model_validate(
        {**yaml_config("claude-3-haiku"), "lifecycle": {"status": "active", "source": "test", "retrieved": "2026-12-01"}}
    )
    route = model.route("cn-north-1", "test")
    [statement] = invoke_statements(route, partition="aws-cn", account="111122223333")
    assert statement.to_json()["Resource"] == f"arn:aws-cn:bedrock:cn-north-1::foundation-model/{model.model_id}"


def yaml_config(key: str) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "model_configs" / f"{key}.yaml").read_text())
    return data


@pytest.mark.parametrize("key", ["claude-sonnet-4-6", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"])
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2"])
def test_each_region_calls_its_geographys_profile(synth, key, region):
    prefix = {"us-east-1": "us", "us-west-2": "us", "eu-west-1": "eu", "ap-northeast-1": "jp"}[region]
    template = synth(model=key, region=region)
    model_id = yaml_config(key)["model_id"]
    template.has_output("ModelId", {"Value": f"{prefix}.{model_id}"})
    for statement in policy_statements(template):
        resources = [arn_text(r) for r in _as_list(statement["Resource"])]
        assert all(r.startswith("arn:aws:bedrock:") for r in resources)
        assert any(model_id in r for r in resources)


@pytest.mark.parametrize("key", ["claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"])
def test_the_5_5_models_are_called_through_the_au_profile_from_sydney(synth, key):
    model_id = yaml_config(key)["model_id"]
    synth(model=key, region="ap-southeast-2").has_output("ModelId", {"Value": f"au.{model_id}"})


def test_a_region_no_profile_serves_is_refused_naming_the_fix():
    app = App(context={"model": "claude-haiku-4-5", "region": "sa-east-1"})
    with pytest.raises(ConfigError, match=r"no geography inference profile .* can be called from sa-east-1") as caught:
        add_deployment(app, {}, today=SYNTH_TODAY)
    assert caught.value.source == "model_configs/claude-haiku-4-5.yaml"
    assert "inference_profiles.scope: global" in str(caught.value)


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_no_wildcards_anywhere_in_bedrock_grants(synth, key):
    actions, resources = invoke_grants(synth(model=key))
    assert all("*" not in action for action in actions)
    assert all("*" not in resource for resource in resources)


def test_client_role_trusts_the_deploying_account_by_default(synth):
    template = synth(model="claude-sonnet-4-6")
    role = only(template, "AWS::IAM::Role")
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert arn_text(statement["Principal"]["AWS"]) == "arn:aws:iam::ACCOUNT:root"
    [policy_id] = template.find_resources("AWS::IAM::ManagedPolicy")
    assert role["ManagedPolicyArns"] == [{"Ref": policy_id}], "the role gets exactly the invoke policy, nothing AWS-managed"
    assert "Policies" not in role


def test_trusted_principals_from_context_replace_the_default(synth):
    template = synth(model="claude-sonnet-4-6", trusted_principals="arn:aws:iam::111122223333:role/chat-app, 444455556666")
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
        # Profile calls are reported under the profile's id, in the caller's region.
        assert alarm["Dimensions"] == [{"Name": "ModelId", "Value": model.route("us-east-1", "test").invoke_id}]
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
    [latency] = [a for a in _alarm_properties(synth(model="claude-haiku-4-5")) if a["MetricName"] == "InvocationLatency"]
    assert latency["Threshold"] == 2000


def test_alarms_follow_the_profile_of_the_region(synth):
    for alarm in _alarm_properties(synth(model="claude-haiku-4-5", region="eu-west-1")):
        assert alarm["Dimensions"] == [{"Name": "ModelId", "Value": f"eu.{HAIKU_ID}"}]


def test_alarms_notify_the_encrypted_topic(synth):
    template = synth(model="claude-sonnet-4-6")
    [topic_id] = template.find_resources("AWS::SNS::Topic")
    assert only(template, "AWS::SNS::Topic")["KmsMasterKeyId"]
    for alarm in _alarm_properties(template):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_dashboard_is_named_per_endpoint_and_region(synth):
    dashboard = only(synth(model="claude-opus-4-6", endpoint="chat"), "AWS::CloudWatch::Dashboard")
    assert dashboard["DashboardName"] == "llm-chat-us-east-1"
    body = json.dumps(dashboard["DashboardBody"])
    assert "input * 0.0055 / 1000 + output * 0.0275 / 1000" in body  # Opus's geography-profile prices
    assert '\\"value\\":30000' in body  # latency budget line, in ms


def test_budget_filters_bedrock_spend_and_alerts_the_topic(synth, registry):
    model = bedrock_model(registry, "claude-opus-4-6")
    template = synth(model="claude-opus-4-6")
    budget = only(template, "AWS::Budgets::Budget")
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 500, "Unit": "USD"}
    assert budget["Budget"]["TimeUnit"] == "MONTHLY"
    assert budget["Budget"]["CostFilters"] == {"Service": model.budget.cost_filter_services}
    assert "Amazon Bedrock" in model.budget.cost_filter_services
    assert [n["Notification"]["Threshold"] for n in budget["NotificationsWithSubscribers"]] == [50, 80, 100]


def test_client_parameter_names_the_model_id_clients_call(synth):
    template = synth(model="claude-haiku-4-5", endpoint="chat")
    parameter = client_parameter(template, "chat")
    assert parameter["Name"] == "/llm-endpoints/chat"  # the SageMaker stack's name for the same endpoint
    parts = parameter["Value"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "ROLE_ARN" for part in parts)
    assert parts[1] == {"Fn::GetAtt": [next(iter(template.find_resources("AWS::IAM::Role"))), "Arn"]}
    assert json.loads(text) == {
        "schema_version": 2,  # what llm_client reads (tests/test_client_parameter.py)
        "hosting": "bedrock",
        "endpoint_name": "chat",
        "region": "us-east-1",
        "model_key": "claude-haiku-4-5",
        "model_id": f"us.{HAIKU_ID}",
        "foundation_model_id": HAIKU_ID,
        "inference_profile_id": f"us.{HAIKU_ID}",
        "inference_profile_scope": "geography",
        "client_role_arn": "ROLE_ARN",
        "context_length": 200000,
        "latency_budget_seconds": 2,
        # what llm_client refuses before the call (model_configs/claude-haiku-4-5.yaml: capabilities)
        "capabilities": {
            "thinking_types": ["enabled", "disabled"],
            "forced_tool_use": True,
            "refused_anthropic_versions": ["2026-10-21"],
        },
    }


def test_outputs_tell_clients_what_to_call(synth):
    template = synth(model="claude-sonnet-4-6")
    template.has_output("ModelId", {"Value": "us.anthropic.claude-sonnet-4-6"})
    for name in ("InvokePolicyArn", "ClientRoleArn", "ClientParameterName", "AlarmTopicArn", "DashboardName"):
        assert name in template.to_json()["Outputs"]


@pytest.mark.parametrize("key", BEDROCK_MODELS)
def test_each_claude_model_synthesizes_exactly_one_bedrock_stack(key):
    app = App(context={"model": key})
    add_deployment(app, {}, today=SYNTH_TODAY)
    stacks = [child for child in app.node.children if isinstance(child, Stack)]
    assert [stack.stack_name for stack in stacks] == [f"llm-{key}"]
    resources = Template.from_stack(stacks[0]).to_json()["Resources"].values()
    assert not [r for r in resources if r["Type"].startswith("AWS::SageMaker::")]
