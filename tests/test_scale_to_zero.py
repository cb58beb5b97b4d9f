"""Scale to zero: an inference component on an endpoint whose instances scale between 0 and max (issue 15)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from llm_config import ConfigError, SageMakerModelConfig, load_registry
from llm_config.deployment import deployment_from_context
from llm_config.operations import EXPECTED_COLD_START_SECONDS
from llm_config.sizing import component_shape
from stacks.app_factory import add_deployment
from tests.conftest import (
    CDK_JSON_CONTEXT,
    NEUTRAL_ENVIRON,
    REPO_ROOT,
    SAGEMAKER_MODELS,
    SYNTH_TODAY,
    cfn_lint,
    only,
    run_app_as_the_cli,
)

QUIET = {"model": "mistral", "endpoint": "quiet", "scale_to_zero": "true"}


def client_parameter(template: Template) -> str:
    """The client parameter's value (the stack also holds the hosting lock parameter)."""
    (value,) = [p["Value"] for p in resources_of(template, "AWS::SSM::Parameter") if p["Name"].startswith("/llm-endpoints/")]
    return str(value)


def resources_of(template: Template, resource_type: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(resource_type).values()]


def test_endpoint_config_has_a_role_and_a_model_less_variant_scaling_to_zero(synth):
    template = synth(**QUIET)
    config = only(template, "AWS::SageMaker::EndpointConfig")
    role_id = next(
        iter(
            template.find_resources(
                "AWS::IAM::Role",
                {
                    "Properties": {
                        "AssumeRolePolicyDocument": Match.object_like(
                            {"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]}
                        )
                    }
                },
            )
        )
    )
    assert config["ExecutionRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    (variant,) = config["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["VariantName"] == "AllTraffic"
    # The model config's instance type and fallbacks, as instance pools (docs/instance-pools.md).
    assert [pool["InstanceType"] for pool in variant["InstancePools"]] == ["ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.4xlarge"]
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 4,
        # Empty instances go 5 minutes after the last copy; no copy is moved to empty one (docs/scale-to-zero.md).
        "ScaleInPolicy": {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 5},
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}


def test_inference_component_takes_accelerators_and_memory_from_the_fit_check(synth, registry):
    template = synth(**QUIET)
    component = only(template, "AWS::SageMaker::InferenceComponent")
    model = registry.models["mistral-7b"]
    shape = component_shape(model, "ml.g5.xlarge", registry.instance_for(model))
    assert component["InferenceComponentName"] == "quiet-mistral-7b"
    assert component["VariantName"] == "AllTraffic"
    assert component["RuntimeConfig"] == {"CopyCount": 1}  # SageMaker refuses 0 copies at creation
    assert component["Specification"]["ComputeResourceRequirements"] == {
        "NumberOfAcceleratorDevicesRequired": shape.accelerators,
        "MinMemoryRequiredInMb": shape.memory_mb,
    }
    assert shape.accelerators == 1 and 10_000 < shape.memory_mb < 17_180  # 14.5 GB of weights, 16 GiB host
    assert "ModelName" in component["Specification"]
    (endpoint_id,) = template.find_resources("AWS::SageMaker::Endpoint")
    assert component["EndpointName"] == {"Fn::GetAtt": [endpoint_id, "EndpointName"]}  # deleted before the endpoint


def test_a_four_gpu_instance_holds_four_copies_of_a_one_gpu_model(registry):
    model = registry.models["mistral-7b"]
    assert isinstance(model, SageMakerModelConfig)
    big = registry.instances.get("ml.g5.12xlarge", "test", "instance.type")
    shape = component_shape(model, "ml.g5.12xlarge", big)
    assert (shape.accelerators, shape.copies_per_instance) == (1, 4)
    assert shape.memory_mb * 4 <= big.host_memory_gb * 1000 * 0.8


def test_scaling_target_tracking_wake_and_idle_policies(synth):
    template = synth(**QUIET)
    target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ResourceId"] == "inference-component/quiet-mistral-7b"
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 4)
    policies = resources_of(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"]
    (tracking_config,) = [p["TargetTrackingScalingPolicyConfiguration"] for p in tracking]
    assert tracking_config["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    }
    assert tracking_config["DisableScaleIn"] is True
    steps = {
        p["StepScalingPolicyConfiguration"]["AdjustmentType"]: p["StepScalingPolicyConfiguration"]["StepAdjustments"]
        for p in policies
        if p["PolicyType"] == "StepScaling"
    }
    assert steps["ChangeInCapacity"] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    assert steps["ExactCapacity"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]


def alarm(template: Template, name: str) -> dict[str, Any]:
    (found,) = [a for a in resources_of(template, "AWS::CloudWatch::Alarm") if a["AlarmName"] == name]
    return found


def watched(alarm_properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics (namespace, name, dimensions) an alarm reads."""
    return [m["MetricStat"]["Metric"] for m in alarm_properties["Metrics"] if "MetricStat" in m]


def test_wake_alarm_watches_no_capacity_failures_of_the_component(synth):
    template = synth(**QUIET)
    wake = alarm(template, "quiet-mistral-7b-wake-from-zero")
    assert watched(wake) == [
        {
            "Namespace": "AWS/SageMaker",
            "MetricName": "NoCapacityInvocationFailures",
            "Dimensions": [{"Name": "InferenceComponentName", "Value": "quiet-mistral-7b"}],
        }
    ]
    assert wake["Threshold"] == 1 and wake["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (policy_id,) = [
        key
        for key, r in template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if r["Properties"].get("StepScalingPolicyConfiguration", {}).get("AdjustmentType") == "ChangeInCapacity"
    ]
    assert wake["AlarmActions"] == [{"Ref": policy_id}]


def test_idle_alarm_fires_after_the_configured_minutes_without_requests(synth):
    template = synth(**QUIET)
    idle = alarm(template, "quiet-mistral-7b-idle-scale-to-zero")
    assert idle["EvaluationPeriods"] == idle["DatapointsToAlarm"] == 30  # the documented default
    assert idle["TreatMissingData"] == "breaching"
    expression = next(m["Expression"] for m in idle["Metrics"] if "Expression" in m)
    assert expression == "FILL(served, 0) + FILL(refused, 0)"


def test_alarms_watch_the_component_and_skip_the_idle_alarm(synth):
    template = synth(**QUIET)
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    names = sorted(a["AlarmName"] for a in alarms)
    assert not [name for name in names if name.endswith("-idle")]
    # Named after the component (which starts with the endpoint's name): a migration's two components share a variant.
    (latency,) = watched(alarm(template, "quiet-mistral-7b-latency-p90"))
    assert latency["Dimensions"] == [{"Name": "InferenceComponentName", "Value": "quiet-mistral-7b"}]
    # The instances are the variant's (every component of the endpoint shares them): named and described so.
    gpu_alarm = alarm(template, "quiet-AllTraffic-gpu-memory")
    (gpu,) = watched(gpu_alarm)
    assert {"Name": "VariantName", "Value": "AllTraffic"} in gpu["Dimensions"]  # instance metrics: per variant
    assert gpu_alarm["AlarmDescription"].startswith("SageMaker endpoint quiet, variant AllTraffic: GPU memory above")
    assert "inference component quiet-mistral-7b" in alarm(template, "quiet-mistral-7b-5xx-errors")["AlarmDescription"]


def test_dashboard_shows_copies_cold_starts_and_cost_including_hours_at_zero(synth):
    body = json.dumps(only(synth(**QUIET), "AWS::CloudWatch::Dashboard")["DashboardBody"])
    assert "Copies and cold starts" in body
    assert "NoCapacityInvocationFailures" in body
    assert "FILL(samples_alltraffic, 0)" in body  # instance count (and so cost) is 0 at zero, not a gap
    assert "* 1.408" in body


def test_budget_covers_the_component_endpoint(synth):
    budget = only(synth(**QUIET), "AWS::Budgets::Budget")["Budget"]
    assert budget["BudgetLimit"] == {"Amount": 100, "Unit": "USD"}
    assert budget["CostFilters"] == {"Service": ["Amazon SageMaker"]}


def test_grant_invoke_covers_the_inference_component(tmp_path):
    from aws_cdk import aws_iam as iam

    app = App(context={**CDK_JSON_CONTEXT, **QUIET}, outdir=str(tmp_path))
    stack = add_deployment(app, NEUTRAL_ENVIRON, today=SYNTH_TODAY)
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    stack.llm_endpoint.grant_invoke(client)  # type: ignore[attr-defined]
    statement = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    resources = json.dumps(statement)
    assert "InferenceComponentArn" in resources and "endpoint/quiet" in resources


def test_client_parameter_names_the_component_and_the_cold_start(synth):
    value = json.loads(client_parameter(synth(**QUIET)))
    assert value["hosting"] == "sagemaker" and value["endpoint_name"] == "quiet"
    assert value["scale_to_zero"] is True
    assert value["inference_component_name"] == "quiet-mistral-7b"
    assert value["expected_cold_start_seconds"] == EXPECTED_COLD_START_SECONDS == 600
    assert value["variants"][0]["model_key"] == "mistral-7b"  # the existing fields stay
    assert value["variants"][0]["variant_name"] == "AllTraffic"  # the variant that exists on this endpoint


def test_variant_endpoint_is_unchanged_without_the_switch(synth):
    template = synth(model="mistral", endpoint="quiet")
    assert not template.find_resources("AWS::SageMaker::InferenceComponent")
    value = json.loads(client_parameter(template))
    assert "inference_component_name" not in value


def test_switching_kind_under_one_name_cannot_delete_the_live_endpoint(synth):
    """Each kind's endpoint has its own logical ID and the same name: a switch must create a second endpoint of
    that name first, which SageMaker refuses, so CloudFormation rolls back before its cleanup deletes anything."""
    variants = synth(model="mistral", endpoint="quiet").find_resources("AWS::SageMaker::Endpoint")
    components = synth(**QUIET).find_resources("AWS::SageMaker::Endpoint")
    assert set(variants).isdisjoint(components)
    assert [r["Properties"]["EndpointName"] for r in {**variants, **components}.values()] == ["quiet", "quiet"]


@pytest.mark.parametrize("key", SAGEMAKER_MODELS)
def test_every_sagemaker_model_scales_to_zero_with_a_clean_template(synth, key):
    """cdk-nag runs in every synth (an error fails it); cfn-lint finds nothing."""
    template = synth(model=key, endpoint="quiet", scale_to_zero="true")
    assert only(template, "AWS::SageMaker::InferenceComponent")["InferenceComponentName"] == f"quiet-{key}"
    matches = cfn_lint(template.to_json())
    assert [str(m) for m in matches] == []


def spec_of(context: dict[str, Any], registry: Any) -> Any:
    return deployment_from_context(context.get, NEUTRAL_ENVIRON, registry)


def test_min_instances_zero_in_a_model_config_turns_it_on(tmp_path):
    config_dir = tmp_path / "model_configs"
    shutil.copytree(REPO_ROOT / "model_configs", config_dir)
    path = config_dir / "mistral-7b.yaml"
    path.write_text(path.read_text().replace("  min_instances: 1 ", "  min_instances: 0 "))
    registry = load_registry(config_dir)
    assert spec_of({"model": "mistral"}, registry).scale_to_zero
    with pytest.raises(ConfigError, match=r"scale_to_zero.*min_instances is 0"):
        spec_of({"model": "mistral", "scale_to_zero": "false"}, registry)


def test_deployment_file_key_turns_it_on(tmp_path, registry):
    path = tmp_path / "quiet.yaml"
    path.write_text("endpoint: quiet\nmodel: mistral\nscale_to_zero: true\n")
    spec = spec_of({"deployment": str(path)}, registry)
    assert spec.scale_to_zero and spec.component_name == "quiet-mistral-7b"
    with pytest.raises(ConfigError, match=r"-c scale_to_zero.*cannot be combined with -c deployment"):
        spec_of({"deployment": str(path), "scale_to_zero": "true"}, registry)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"model": "mistral", "scale_to_zero": "yes"}, r"-c scale_to_zero: expected true or false, got 'yes'"),
        ({"model": "claude-haiku-4-5", "scale_to_zero": "true"}, r"Bedrock model: it already costs nothing while idle"),
        (
            {"model": "mistral", "candidate": "mixtral", "candidate_weight": "10", "scale_to_zero": "true"},
            r"-c candidate: mixtral-8x7b runs on ml.g6e.xlarge .* a scale-to-zero migration keeps the endpoint's instance",
        ),
        ({"model": "mistral", "endpoint": "e" * 60, "scale_to_zero": "true"}, r"longer than SageMaker's 63 characters"),
    ],
)
def test_bad_switches_are_refused_with_one_message(registry, context, message):
    with pytest.raises(ConfigError, match=message):
        spec_of(context, registry)


def test_unknown_key_is_still_refused_and_scale_to_zero_is_known(tmp_path):
    app = App(context={**CDK_JSON_CONTEXT, **QUIET}, outdir=str(tmp_path))
    stack = add_deployment(app, NEUTRAL_ENVIRON, today=SYNTH_TODAY)
    assert stack.stack_name == "llm-quiet"
    bad = App(context={**CDK_JSON_CONTEXT, "model": "mistral", "scale_to_zer": "true"}, outdir=str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="scale_to_zer"):
        add_deployment(bad, NEUTRAL_ENVIRON, today=SYNTH_TODAY)


def test_cli_synth_of_the_done_when_command(tmp_path):
    result = run_app_as_the_cli(REPO_ROOT, tmp_path, **QUIET)
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "llm-quiet.template.json").read_text())
    assert any(r["Type"] == "AWS::SageMaker::InferenceComponent" for r in template["Resources"].values())
    assert "scales to zero" in result.stderr


def test_template_snapshot(synth, snapshot):
    """Reviewed: compare with tests/__snapshots__/test_snapshots/test_template_snapshot[mistral-7b].json."""
    from syrupy.extensions.json import JSONSnapshotExtension

    from tests.test_snapshots import masked

    assert masked(synth(**QUIET).to_json()) == snapshot.use_extension(JSONSnapshotExtension)


def test_cost_line_says_zero_while_idle(registry):
    from planner.deploy_cost import cost_line

    line = cost_line(spec_of(QUIET, registry), registry)
    assert line.startswith(
        "Estimated cost of llm-quiet: $0 while idle, $1.408-2.03/h per ml.g5.xlarge or ml.g5.2xlarge or ml.g5.4xlarge"
        " while a copy runs (scales to zero; $1,028-1,482/month if never idle; SageMaker us-east-1 on-demand)"
        " (the range: cheapest to dearest instance pool, AWS picks by capacity)."
    )


def test_llm_client_still_reads_the_component_endpoints_parameter(synth):
    """Schema 2 plus the scale-to-zero fields: the client parses it (it does not yet pass the component's name)."""
    from llm_client.parameter import parse_parameter

    value = client_parameter(synth(**QUIET))
    endpoint = parse_parameter("/llm-endpoints/quiet", value)
    assert endpoint.name == "quiet"
