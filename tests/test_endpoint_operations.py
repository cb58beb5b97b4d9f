"""Scaling, alarms, dashboard, topic and budget of every SageMaker endpoint, asserted on the template (units!)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cfnlint
import pytest
from aws_cdk import App, Environment, Validations
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from llm_config import ModelRegistry
from llm_config.deployment import REGION_PATTERN
from llm_config.guardrails import ROLLBACK_ALARM_WINDOW_SECONDS
from llm_config.operations import AlarmSettings, BudgetSettings, ScalingSettings, ScheduledScaling
from llm_constructs import EndpointVariant
from llm_constructs.cost_budget import REGIONS_WITHOUT_CLOUDFORMATION_BUDGETS
from stacks.app_factory import add_deployment
from stacks.sagemaker_endpoint_stack import SageMakerEndpointStack
from tests.conftest import CDK_JSON_CONTEXT, NEUTRAL_ENVIRON, REPO_ROOT, SAGEMAKER_MODELS, cfn_lint, only
from tests.test_sagemaker_endpoint import sagemaker_model

ALARM_SUFFIXES = {"latency-p90", "5xx-errors", "4xx-rate", "gpu-memory", "disk", "idle"}
SLR = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: dict(resource) for logical_id, resource in template.find_resources(resource_type).items()}


def alarms_by_suffix(template: Template, endpoint: str, variant: str) -> dict[str, dict[str, Any]]:
    prefix = f"{endpoint}-{variant}-"
    return {
        r["Properties"]["AlarmName"].removeprefix(prefix): r["Properties"]
        for r in resources(template, "AWS::CloudWatch::Alarm").values()
        if r["Properties"]["AlarmName"].startswith(prefix)
    }


def stat(alarm: dict[str, Any], metric_name: str) -> dict[str, Any]:
    """The MetricStat of ``metric_name`` inside an alarm's Metrics list."""
    for query in alarm["Metrics"]:
        if "MetricStat" in query and query["MetricStat"]["Metric"]["MetricName"] == metric_name:
            result: dict[str, Any] = query["MetricStat"]
            return result
    raise AssertionError(f"no {metric_name} in {alarm['AlarmName']}")


def period_stat(alarm: dict[str, Any], metric_name: str) -> tuple[int, str]:
    metric_stat = stat(alarm, metric_name)
    return metric_stat["Period"], metric_stat["Stat"]


def expression(alarm: dict[str, Any]) -> str:
    [text] = [query["Expression"] for query in alarm["Metrics"] if "Expression" in query]
    assert isinstance(text, str)
    return text


def dashboard_body(template: Template) -> dict[str, Any]:
    """The dashboard JSON, with CloudFormation references replaced by placeholders."""
    body = only(template, "AWS::CloudWatch::Dashboard")["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(part if isinstance(part, str) else "REF" for part in parts)
    result: dict[str, Any] = json.loads(text)
    return result


@pytest.mark.parametrize("key", SAGEMAKER_MODELS)
def test_variant_scales_between_the_configured_bounds_after_the_endpoint_exists(synth, registry, key):
    model = sagemaker_model(registry, key)
    template = synth(model=key)
    [(target_id, target)] = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").items()
    properties = target["Properties"]
    assert properties["ResourceId"] == f"endpoint/{key}/variant/{key}"
    assert properties["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert properties["ServiceNamespace"] == "sagemaker"
    assert (properties["MinCapacity"], properties["MaxCapacity"]) == (model.scaling.min_instances, model.scaling.max_instances)
    assert SLR in json.dumps(properties["RoleARN"]), "the service-linked role, not an empty role CDK made up"
    [endpoint_id] = resources(template, "AWS::SageMaker::Endpoint")
    assert endpoint_id in target["DependsOn"], "the variant must exist before it can be registered"
    [role_id] = resources(template, "AWS::IAM::Role")
    assert role_id.startswith("LlmEndpointExecutionRole"), "no extra (empty) role for scaling"

    policy = only(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["ScalingTargetId"] == {"Ref": target_id}
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"},
        "TargetValue": model.scaling.target_value,
        "ScaleOutCooldown": 300,
        "ScaleInCooldown": 900,
    }


@pytest.mark.parametrize("key", SAGEMAKER_MODELS)
def test_six_alarms_per_variant_all_notify_the_topic(synth, key):
    template = synth(model=key)
    [topic_id] = resources(template, "AWS::SNS::Topic")
    alarms = alarms_by_suffix(template, key, key)
    assert set(alarms) == ALARM_SUFFIXES
    assert len(resources(template, "AWS::CloudWatch::Alarm")) == 6
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
        assert "docs/operations.md#" in alarm["AlarmDescription"]
        for query in alarm["Metrics"]:
            if "MetricStat" in query:
                dimensions = query["MetricStat"]["Metric"]["Dimensions"]
                assert dimensions == [{"Name": "EndpointName", "Value": key}, {"Name": "VariantName", "Value": key}]


@pytest.mark.parametrize(
    ("key", "microseconds"), [("mistral-7b", 5_000_000), ("mixtral-8x7b", 10_000_000), ("llama2-70b", 30_000_000)]
)
def test_latency_alarm_is_p90_model_latency_in_microseconds(synth, key, microseconds):
    alarm = alarms_by_suffix(synth(model=key), key, key)["latency-p90"]
    assert alarm["Threshold"] == microseconds
    assert period_stat(alarm, "ModelLatency") == (60, "p90")
    assert stat(alarm, "ModelLatency")["Metric"]["Namespace"] == "AWS/SageMaker"
    assert (alarm["ComparisonOperator"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == ("GreaterThanThreshold", 5, 3)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_error_alarms(synth):
    alarms = alarms_by_suffix(synth(model="mistral"), "mistral-7b", "mistral-7b")
    server = alarms["5xx-errors"]
    assert period_stat(server, "Invocation5XXErrors") == (300, "Sum")
    assert (server["Threshold"], server["ComparisonOperator"]) == (5, "GreaterThanOrEqualToThreshold")
    assert server["TreatMissingData"] == "notBreaching"

    client = alarms["4xx-rate"]
    assert expression(client) == "100 * FILL(errors_mistral_7b, 0) / invocations_mistral_7b"
    assert stat(client, "Invocation4XXErrors")["Stat"] == stat(client, "Invocations")["Stat"] == "Sum"
    assert (client["Threshold"], client["EvaluationPeriods"], client["DatapointsToAlarm"]) == (10, 3, 3)
    assert client["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(("key", "gpus"), [("mistral-7b", 1), ("mixtral-8x7b", 4)])
def test_gpu_memory_is_normalised_by_the_gpu_count(synth, four_gpu_synth, key, gpus):
    template = four_gpu_synth(model=key) if gpus > 1 else synth(model=key)
    alarm = alarms_by_suffix(template, key, key)["gpu-memory"]
    gpu_stat = stat(alarm, "GPUMemoryUtilization")
    assert gpu_stat["Metric"]["Namespace"] == "/aws/sagemaker/Endpoints"
    assert (gpu_stat["Stat"], gpu_stat["Period"]) == ("Maximum", 60)
    assert expression(alarm).endswith(f" / {gpus}")
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (95, 15, 15)
    assert alarm["TreatMissingData"] == "notBreaching"
    # vLLM holds container.gpu_memory_utilization (90%) from start-up: the alarm says what crossing 95% means.
    assert (
        "beyond what the engine reserves at start-up, so memory outside its reservation is growing" in alarm["AlarmDescription"]
    )


def test_disk_alarm_watches_the_fullest_instance(synth):
    alarm = alarms_by_suffix(synth(model="mixtral"), "mixtral-8x7b", "mixtral-8x7b")["disk"]
    disk = stat(alarm, "DiskUtilization")
    assert (disk["Metric"]["Namespace"], disk["Stat"], disk["Period"]) == ("/aws/sagemaker/Endpoints", "Maximum", 300)
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        85,
        "GreaterThanThreshold",
        "notBreaching",
    )


def test_idle_alarm_fires_after_hours_without_invocations(synth):
    alarm = alarms_by_suffix(synth(model="mixtral"), "mixtral-8x7b", "mixtral-8x7b")["idle"]
    assert period_stat(alarm, "Invocations") == (3600, "Sum")
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (6, 6)
    assert alarm["TreatMissingData"] == "breaching", "no data point in an hour means no invocations"


@pytest.mark.parametrize("key", SAGEMAKER_MODELS)
def test_budget_alerts_the_topic_at_the_configured_amount(synth, registry, key):
    model = sagemaker_model(registry, key)
    template = synth(model=key)
    [topic_id] = resources(template, "AWS::SNS::Topic")
    budget = only(template, "AWS::Budgets::Budget")
    assert budget["Budget"]["BudgetLimit"] == {"Amount": model.budget.amount_usd, "Unit": "USD"}
    assert budget["Budget"]["TimeUnit"] == "DAILY"
    assert budget["Budget"]["BudgetName"] == f"llm-{key}-us-east-1"
    assert budget["Budget"]["CostFilters"] == {"Service": ["Amazon SageMaker"]}
    notifications = budget["NotificationsWithSubscribers"]
    assert [n["Notification"]["Threshold"] for n in notifications] == [80, 100]
    assert all(n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}] for n in notifications)


def test_guide_default_budget_is_100_usd_a_day(synth):
    assert only(synth(model="mistral"), "AWS::Budgets::Budget")["Budget"]["BudgetLimit"]["Amount"] == 100


def test_context_overrides_budget_and_adds_emails(synth):
    template = synth(model="mixtral", budget_usd="400", alarm_email="ops@example.com, oncall@example.com")
    assert only(template, "AWS::Budgets::Budget")["Budget"]["BudgetLimit"]["Amount"] == 400
    emails = sorted(s["Properties"]["Endpoint"] for s in resources(template, "AWS::SNS::Subscription").values())
    assert emails == ["oncall@example.com", "ops@example.com"]
    template.all_resources_properties("AWS::SNS::Subscription", {"Protocol": "email", "TopicArn": Match.any_value()})


def test_no_email_subscription_by_default(synth):
    assert resources(synth(model="mixtral"), "AWS::SNS::Subscription") == {}


def test_endpoint_resources_carry_the_cost_allocation_tag(synth):
    endpoint = only(synth(model="mixtral", endpoint="chat"), "AWS::SageMaker::Endpoint")
    assert {"Key": "llm-endpoint", "Value": "chat"} in endpoint["Tags"]


def test_dashboard_shows_every_required_graph_in_labelled_units(synth):
    template = synth(model="mixtral")
    assert only(template, "AWS::CloudWatch::Dashboard")["DashboardName"] == "llm-mixtral-8x7b-us-east-1"
    widgets = dashboard_body(template)["widgets"]
    graphs = {w["properties"]["title"]: w["properties"] for w in widgets if w["type"] == "metric"}
    assert set(graphs) == {
        "Invocations per minute",
        "Model latency p50 / p90 / p99",
        "Errors per minute",
        "GPU utilization",
        "GPU memory (fullest instance)",
        "Disk (fullest instance)",
        "Instances in service",
        "Estimated cost (on-demand)",
    }
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == 6

    def expressions(title: str) -> list[str]:
        return [m[0]["expression"] for m in graphs[title]["metrics"] if isinstance(m[0], dict) and "expression" in m[0]]

    latency = graphs["Model latency p50 / p90 / p99"]
    assert latency["yAxis"]["left"]["label"] == "milliseconds"
    assert expressions("Model latency p50 / p90 / p99") == [f"latency_{p}_mixtral_8x7b / 1000" for p in ("p50", "p90", "p99")]
    assert latency["annotations"]["horizontal"] == [{"value": 10_000, "label": "mixtral-8x7b alarm", "yAxis": "left"}]
    assert expressions("GPU utilization") == ["gpuutilization_mixtral_8x7b / 1"]  # one L40S
    assert expressions("GPU memory (fullest instance)") == ["gpumemoryutilization_mixtral_8x7b / 1"]
    assert graphs["GPU memory (fullest instance)"]["yAxis"]["left"]["max"] == 100
    assert expressions("Instances in service") == ["samples_mixtral_8x7b / (PERIOD(samples_mixtral_8x7b) / 60)"]
    assert "instances_mixtral_8x7b * 2.61" in expressions("Estimated cost (on-demand)")
    assert graphs["Estimated cost (on-demand)"]["yAxis"]["left"]["label"] == "USD per hour"


def test_outputs_name_the_topic_and_dashboard(synth):
    template = synth(model="mixtral")
    template.has_output("AlarmTopicArn", {"Value": {"Ref": Match.string_like_regexp("AlarmTopic")}})
    template.has_output("DashboardName", {"Value": "llm-mixtral-8x7b-us-east-1"})


def two_variant_stack(registry: ModelRegistry, **model_updates: Any) -> SageMakerEndpointStack:
    """The blue/green shape a later migration uses: two models behind one endpoint."""
    variants = []
    for key, weight in (("mistral-7b", 9.0), ("mixtral-8x7b", 1.0)):
        model = sagemaker_model(registry, key).model_copy(update=model_updates)
        variants.append(
            EndpointVariant(
                name=key,
                model=model,
                instance=registry.instance_for(model),
                image=registry.image_for(model),
                initial_weight=weight,
            )
        )
    app = App(context=CDK_JSON_CONTEXT)  # cdk.json's feature flags, as the CLI passes them
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))  # as in the real app: findings fail synth
    return SageMakerEndpointStack(
        app,
        "llm-chat",
        endpoint_name="chat",
        variants=variants,
        budget=BudgetSettings(amount_usd=300, scope="endpoint"),
        env=Environment(region="eu-west-1"),
    )


def test_every_variant_gets_its_own_scaling_and_alarms_with_ids_from_its_name(registry):
    stack = two_variant_stack(registry)
    template = Template.from_stack(stack)
    targets = sorted(
        r["Properties"]["ResourceId"] for r in resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    )
    assert targets == ["endpoint/chat/variant/mistral-7b", "endpoint/chat/variant/mixtral-8x7b"]
    assert len(resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")) == 2
    assert set(alarms_by_suffix(template, "chat", "mistral-7b")) == ALARM_SUFFIXES
    assert set(alarms_by_suffix(template, "chat", "mixtral-8x7b")) == ALARM_SUFFIXES
    gpu_mixtral = alarms_by_suffix(template, "chat", "mixtral-8x7b")["gpu-memory"]
    assert expression(gpu_mixtral).endswith(" / 1")  # each variant divides by its own instance's GPU count
    assert expression(alarms_by_suffix(template, "chat", "mistral-7b")["gpu-memory"]).endswith(" / 1")
    assert set(stack.scaling) == set(stack.alarms) == {"mistral-7b", "mixtral-8x7b"}
    assert stack.scaling["mixtral-8x7b"].node.path == "llm-chat/Scalingmixtral-8x7b"
    assert stack.alarms["mixtral-8x7b"].latency.node.path == "llm-chat/Alarmsmixtral-8x7b/LatencyP90"
    cost = next(g for g in dashboard_body(template)["widgets"] if g["properties"].get("title") == "Estimated cost (on-demand)")
    assert cost["properties"]["stacked"] is True
    labels = [m[0]["label"] for m in cost["properties"]["metrics"] if isinstance(m[0], dict) and m[0].get("visible", True)]
    assert labels == ["mistral-7b USD/hour", "mixtral-8x7b USD/hour"]


def test_endpoint_scope_filters_the_budget_by_the_cost_allocation_tag(registry):
    budget = only(Template.from_stack(two_variant_stack(registry)), "AWS::Budgets::Budget")["Budget"]
    assert budget["CostFilters"] == {"TagKeyValue": ["user:llm-endpoint$chat"]}
    assert budget["BudgetName"] == "llm-chat-eu-west-1"


def test_scheduled_actions_and_invocations_metric(registry):
    scaling = ScalingSettings(
        min_instances=1,
        max_instances=3,
        target_metric="SageMakerVariantInvocationsPerInstance",
        target_value=60.0,
        scheduled=[
            ScheduledScaling(name="night", cron="0 20 ? * MON-FRI *", timezone="Europe/Berlin", min_instances=1, max_instances=1),
            ScheduledScaling(
                name="morning", cron="0 7 ? * MON-FRI *", timezone="Europe/Berlin", min_instances=1, max_instances=3
            ),
        ],
    )
    template = Template.from_stack(two_variant_stack(registry, scaling=scaling))
    target = next(iter(resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()))["Properties"]
    assert target["ScheduledActions"] == [
        {
            "ScheduledActionName": "night",
            "Schedule": "cron(0 20 ? * MON-FRI *)",
            "Timezone": "Europe/Berlin",
            "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1},
        },
        {
            "ScheduledActionName": "morning",
            "Schedule": "cron(0 7 ? * MON-FRI *)",
            "Timezone": "Europe/Berlin",
            "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 3},
        },
    ]
    policy = next(iter(resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()))["Properties"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert tracking["TargetValue"] == 60


def test_two_variant_and_scheduled_templates_lint_clean(registry):
    scheduled = sagemaker_model(registry, "mistral-7b").scaling.model_copy(
        update={"scheduled": [ScheduledScaling(name="night", cron="0 20 ? * MON-FRI *", min_instances=1, max_instances=1)]}
    )
    for stack in (two_variant_stack(registry), two_variant_stack(registry, scaling=scheduled)):
        template = json.dumps(Template.from_stack(stack).to_json())
        assert [str(m) for m in cfn_lint(template, "eu-west-1")] == []


def test_metrics_of_an_unknown_variant_fail_early(registry):
    stack = two_variant_stack(registry)
    with pytest.raises(ValueError, match="endpoint chat has no variant 'blue'"):
        stack.llm_endpoint.metrics("blue")


def test_grant_invoke_is_limited_to_the_endpoint(registry):
    from aws_cdk import aws_iam as iam

    stack = two_variant_stack(registry)
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    stack.llm_endpoint.grant_invoke(client)
    policy = only(Template.from_stack(stack), "AWS::IAM::Policy")
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    assert "endpoint/chat" in json.dumps(statement["Resource"])


def github_anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alarm_links_to_a_section_of_the_operations_guide(synth):
    guide = (REPO_ROOT / "docs" / "operations.md").read_text()
    anchors = {github_anchor(line.lstrip("#")) for line in guide.splitlines() if line.startswith("#")}
    for alarm in resources(synth(model="mixtral"), "AWS::CloudWatch::Alarm").values():
        anchor = alarm["Properties"]["AlarmDescription"].rpartition("docs/operations.md#")[2]
        assert anchor in anchors, f"{alarm['Properties']['AlarmName']} links to a missing section #{anchor}"


@pytest.mark.parametrize(
    ("section", "settings"), [("scaling", ScalingSettings), ("alarms", AlarmSettings), ("budget", BudgetSettings)]
)
def test_every_operations_field_is_documented_in_the_schema_doc(section, settings):
    schema_doc = (REPO_ROOT / "model_configs" / "README.md").read_text()
    for field in settings.model_fields:
        assert f"`{section}.{field}`" in schema_doc


def test_regions_without_cloudformation_budgets_match_cfn_lint():
    providers = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    without = {
        path.stem
        for path in providers.glob("*.json")
        if REGION_PATTERN.match(path.stem) and "AWS::Budgets::Budget" not in json.loads(path.read_text())
    }
    assert without == REGIONS_WITHOUT_CLOUDFORMATION_BUDGETS


@pytest.mark.parametrize(("model", "alarms"), [("mistral", 6), ("claude-haiku-4-5", 3)])
def test_a_region_without_cloudformation_budgets_gets_a_warning_instead_of_a_failed_synth(model, alarms):
    stack = add_deployment(App(context={**CDK_JSON_CONTEXT, "model": model, "region": "eu-north-1"}), NEUTRAL_ENVIRON)
    template = Template.from_stack(stack)
    assert resources(template, "AWS::Budgets::Budget") == {}
    assert len(resources(template, "AWS::CloudWatch::Alarm")) == alarms
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("No cost budget: CloudFormation in eu-north-1"))


def test_rollback_alarm_windows_match_what_the_alarms_need(synth):
    """The guardrails check assumes each alarm's window; the alarms must really need no more data than that."""
    alarms = {
        props["AlarmName"].removeprefix("mistral-7b-mistral-7b-"): props
        for props in (r["Properties"] for r in resources(synth(model="mistral"), "AWS::CloudWatch::Alarm").values())
    }
    for name, window in ROLLBACK_ALARM_WINDOW_SECONDS.items():
        alarm = alarms[name]
        period = next(m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m)
        assert alarm["DatapointsToAlarm"] * period == window, name
