"""The `scaling:`, `alarms:` and `budget:` config sections and their context overrides: defaults and bad input."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from aws_cdk import App

from llm_config import ConfigError, SageMakerModelConfig
from llm_config.operations import AlarmSettings, BudgetSettings, ScalingSettings
from llm_config.yaml_files import parse_as
from stacks.app_factory import add_deployment
from tests.conftest import NEUTRAL_ENVIRON, REPO_ROOT
from tests.test_app_cli import run_app

CONFIG_DIR = REPO_ROOT / "model_configs"


def mistral_with(section: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "mistral-7b.yaml").read_text())
    data[section] = {**data.get(section, {}), **changes}
    return data


def parse(data: dict[str, Any]) -> SageMakerModelConfig:
    return parse_as(SageMakerModelConfig, data, "model_configs/mistral-7b.yaml")


def test_defaults_are_the_documented_ones():
    scaling = ScalingSettings(target_value=5.0)
    assert (scaling.min_instances, scaling.max_instances) == (1, 2)
    assert scaling.target_metric == "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    assert (scaling.scale_out_cooldown_seconds, scaling.scale_in_cooldown_seconds) == (300, 900)
    assert scaling.scheduled == []
    alarms = AlarmSettings()
    assert alarms.latency_p90_seconds is None
    assert (alarms.server_errors_per_5_minutes, alarms.client_error_rate_percent) == (5, 10.0)
    assert (alarms.gpu_memory_utilization_percent, alarms.disk_utilization_percent, alarms.idle_hours) == (95.0, 85.0, 6)
    budget = BudgetSettings()
    assert (budget.amount_usd, budget.time_unit, budget.alert_thresholds_percent, budget.scope) == (
        100.0,
        "DAILY",
        [80.0, 100.0],
        "sagemaker",
    )


def test_a_config_without_alarms_and_budget_gets_the_defaults():
    data = mistral_with("scaling")
    del data["alarms"], data["budget"]
    model = parse(data)
    assert model.alarms == AlarmSettings()
    assert model.budget == BudgetSettings()


def test_latency_alarm_defaults_to_the_latency_budget_and_can_be_set():
    assert parse(mistral_with("scaling")).latency_alarm_seconds == 5
    assert parse(mistral_with("alarms", latency_p90_seconds=2.5)).latency_alarm_seconds == 2.5


@pytest.mark.parametrize(
    ("section", "changes", "field", "message"),
    [
        ("scaling", {"min_instances": 3, "max_instances": 2}, "scaling", r"min_instances \(3\) exceeds max_instances \(2\)"),
        ("scaling", {"min_instances": -1}, "scaling.min_instances", "greater than or equal to 0"),
        ("scaling", {"target_value": 0}, "scaling.target_value", "greater than 0"),
        ("scaling", {"target_value": -4}, "scaling.target_value", "greater than 0"),
        ("scaling", {"target_metric": "CPUUtilization"}, "scaling.target_metric", "SageMakerVariantInvocationsPerInstance"),
        ("scaling", {"scale_in_cooldown_seconds": -1}, "scaling.scale_in_cooldown_seconds", "greater than or equal to 0"),
        ("scaling", {"max_instances": 4, "min_instances": 2}, None, r"initial_count \(1\) is outside"),
        ("alarms", {"server_errors_per_5_minutes": 0}, "alarms.server_errors_per_5_minutes", "greater than or equal to 1"),
        ("alarms", {"latency_p90_seconds": -1}, "alarms.latency_p90_seconds", "greater than 0"),
        ("alarms", {"client_error_rate_percent": 0}, "alarms.client_error_rate_percent", "greater than 0"),
        ("alarms", {"gpu_memory_utilization_percent": 400}, "alarms.gpu_memory_utilization_percent", "less than or equal to 100"),
        ("alarms", {"disk_utilization_percent": 0}, "alarms.disk_utilization_percent", "greater than 0"),
        ("alarms", {"idle_hours": 25}, "alarms.idle_hours", "less than or equal to 24"),
        ("alarms", {"emails": ["not-an-address"]}, "alarms.emails.0", "should match pattern"),
        ("alarms", {"latency_p99": 3}, "alarms.latency_p99", "unknown key"),
        ("budget", {"amount_usd": 0}, "budget.amount_usd", "greater than 0"),
        ("budget", {"time_unit": "WEEKLY"}, "budget.time_unit", "DAILY"),
        ("budget", {"alert_thresholds_percent": [50, 60, 70, 80, 90, 100]}, "budget.alert_thresholds_percent", "at most 5"),
        ("budget", {"alert_thresholds_percent": []}, "budget.alert_thresholds_percent", "non-empty list"),
        ("budget", {"alert_thresholds_percent": [0]}, "budget.alert_thresholds_percent.0", "greater than 0"),
        ("budget", {"scope": "team"}, "budget.scope", "sagemaker"),
    ],
)
def test_bad_operations_settings_name_field_and_problem(section, changes, field, message):
    with pytest.raises(ConfigError, match=message) as raised:
        parse(mistral_with(section, **changes))
    assert raised.value.source == "model_configs/mistral-7b.yaml"
    assert raised.value.field == field or (field is None and raised.value.field is None)


def test_scaling_section_is_required():
    data = mistral_with("scaling")
    del data["scaling"]
    with pytest.raises(ConfigError, match="required key is missing") as raised:
        parse(data)
    assert raised.value.field == "scaling"


NIGHT = {"name": "night", "cron": "0 20 ? * MON-FRI *", "timezone": "Europe/Berlin", "min_instances": 1, "max_instances": 1}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({**NIGHT, "cron": "cron(0 20 ? * MON-FRI *)"}, "not a six-field cron expression"),
        ({**NIGHT, "cron": "0 20 * * *"}, "not a six-field cron expression"),
        ({**NIGHT, "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({**NIGHT, "min_instances": 2}, r"min_instances \(2\) exceeds max_instances \(1\)"),
        ({**NIGHT, "name": "night time"}, "should match pattern"),
    ],
)
def test_bad_scheduled_actions_fail(action, message):
    with pytest.raises(ConfigError, match=message):
        parse(mistral_with("scaling", scheduled=[action]))


def test_scheduled_action_names_must_be_unique():
    with pytest.raises(ConfigError, match="scheduled action names repeat: night"):
        parse(mistral_with("scaling", scheduled=[NIGHT, NIGHT]))


def synth_stack(**context: Any) -> None:
    add_deployment(App(context=context), NEUTRAL_ENVIRON)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"budget_usd": "lots"},
            "-c budget_usd: expected a positive number of US dollars per budget period, at most 1,000,000, got 'lots'",
        ),
        ({"budget_usd": "0"}, "expected a positive number"),
        ({"budget_usd": "-5"}, "expected a positive number"),
        ({"budget_usd": "inf"}, "expected a positive number"),
        ({"budget_usd": True}, "expected a positive number"),
        ({"budget_usd": "1e300"}, r"expected a positive number of US dollars per budget period, at most 1,000,000, got '1e300'"),
        ({"budget_usd": "1000000.01"}, "at most 1,000,000"),
        ({"budget_usd": "nan"}, "expected a positive number"),
        ({"budget_usd": "-inf"}, "expected a positive number"),
        ({"model": "mixtral", "budget_usd": "50"}, r"-c budget_usd: the minimum capacity alone costs \$90\.13 per day"),
        ({"alarm_email": "ops@example.com,oops"}, "-c alarm_email: 'oops' is not an e-mail address"),
        ({"alarm_email": ""}, "expected a non-empty text value"),
    ],
)
def test_bad_context_overrides_stop_synth(context, message):
    with pytest.raises(ConfigError, match=message):
        synth_stack(**context)


def test_the_app_reports_a_bad_override_without_a_traceback(tmp_path):
    result = run_app(REPO_ROOT, tmp_path / "cdk.out", model="mixtral", budget_usd="50")
    assert result.returncode == 2, result.stderr
    # mixtral's minimum capacity on its dearest instance pool, ml.g6e.4xlarge ($3.7553/h x 24)
    assert result.stderr.startswith("error: -c budget_usd: the minimum capacity alone costs $90.13 per day")
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))


def test_overrides_apply_to_bedrock_stacks_too(synth):
    template = synth(model="claude-haiku-4-5", alarm_email="ops@example.com", budget_usd="30")
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
    template.has_resource_properties("AWS::Budgets::Budget", {"Budget": {"BudgetLimit": {"Amount": 30, "Unit": "USD"}}})
