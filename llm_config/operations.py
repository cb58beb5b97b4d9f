"""The operations sections of a model config: `scaling:`, `alarms:` and `budget:`.

Every field and default is documented in model_configs/README.md; why each alarm exists and how to tune it
in docs/operations.md. Validators raise ValueError("problem|fix"), which the loader turns into a ConfigError.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import Field, field_validator, model_validator

from llm_config._strict import StrictModel
from llm_config.catalogue import HOURS_PER_MONTH, PositiveFloat, PositiveInt
from llm_config.errors import ConfigError

# Application Auto Scaling's predefined metrics for a SageMaker endpoint variant. A scale-to-zero endpoint
# (min_instances 0, or -c scale_to_zero=true) scales copies of an inference component instead, always on
# COMPONENT_SCALING_METRIC: concurrent requests per copy.
ScalingMetric = Literal["SageMakerVariantConcurrentRequestsPerModelHighResolution", "SageMakerVariantInvocationsPerInstance"]
# What Application Auto Scaling scales: a variant's instance count, named by endpoint and variant.
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# What Application Auto Scaling scales on a scale-to-zero endpoint: an inference component's copy count.
COMPONENT_SCALABLE_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
COMPONENT_SCALING_METRIC = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
# Time from a request at zero copies to the first answer. AWS's scale-to-zero docs speak of about 5 minutes;
# a 2026 run on ml.g5.xlarge took 9.4 minutes to the first HTTP 200 (issue 15). Clients get the larger figure
# in the endpoint's parameter so that they wait long enough; read 2026-12-01.
EXPECTED_COLD_START_SECONDS = 600
# How a scale-to-zero endpoint gives back an instance that no longer holds a copy (ManagedInstanceScaling
# ScaleInPolicy; docs/scale-to-zero.md#idle-release). IDLE_RELEASE releases instances without copies and never
# moves a live copy: CONSOLIDATION would restart copies on other instances to empty one, and an LLM copy takes
# minutes to load. The cooldown is SageMaker's minimum (5-1440, default 20): the component's idle alarm has already
# waited scaling.idle_minutes_before_zero without a request, so every further minute bills an empty GPU instance.
SCALE_IN_STRATEGY = "IDLE_RELEASE"
SCALE_IN_COOLDOWN_MINUTES = 5
Percent = Annotated[float, Field(gt=0, le=100)]
# A budget's amount per period, config or -c budget_usd: a bound that catches a slipped exponent (1e300, 25000000).
MAX_BUDGET_USD = 1_000_000
BudgetAmount = Annotated[float, Field(gt=0, le=MAX_BUDGET_USD)]
Seconds = Annotated[int, Field(ge=0, le=3600)]
EMAIL_PATTERN = r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$"
# Application Auto Scaling's cron: minutes hours day-of-month month day-of-week year.
CRON_FIELDS = 6
HOURS_PER_PERIOD = {"DAILY": 24, "MONTHLY": HOURS_PER_MONTH}
PERIOD_NOUN = {"DAILY": "day", "MONTHLY": "month"}


class ScheduledScaling(StrictModel):
    """A recurring change of the variant's capacity range, e.g. fewer instances at night."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]
    cron: str
    timezone: str = "UTC"
    min_instances: PositiveInt
    max_instances: PositiveInt

    @field_validator("cron")
    @classmethod
    def _six_cron_fields(cls, cron: str) -> str:
        if len(cron.split()) != CRON_FIELDS or cron.startswith("cron("):
            raise ValueError(
                f"{cron!r} is not a six-field cron expression"
                "|write the fields without cron(...): minutes hours day-of-month month day-of-week year, "
                'e.g. "0 20 ? * MON-FRI *" (20:00 on weekdays)'
            )
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        zones = available_timezones()  # empty when the machine has no time zone database: then AWS checks it
        if zones and timezone not in zones:
            raise ValueError(f"unknown time zone {timezone!r}|use an IANA name such as UTC or Europe/Berlin")
        return timezone

    @model_validator(mode="after")
    def _range_ordered(self) -> ScheduledScaling:
        _check_range(self.min_instances, self.max_instances)
        return self


class ScalingSettings(StrictModel):
    """Application Auto Scaling of each variant's instance count (`sagemaker:variant:DesiredInstanceCount`), or of an
    inference component's copies on a scale-to-zero endpoint (`min_instances: 0`)."""

    min_instances: Annotated[int, Field(ge=0)] = 1  # 0: scale to zero (inference components)
    max_instances: PositiveInt = 2
    target_metric: ScalingMetric = "SageMakerVariantConcurrentRequestsPerModelHighResolution"
    target_value: PositiveFloat
    scale_out_cooldown_seconds: Seconds = 300
    scale_in_cooldown_seconds: Seconds = 900
    scheduled: list[ScheduledScaling] = Field(default_factory=list)
    # Scale to zero only: minutes without a request before the last copy goes (docs/scale-to-zero.md).
    idle_minutes_before_zero: Annotated[int, Field(ge=5, le=1440)] = 30

    @property
    def scales_to_zero(self) -> bool:
        return self.min_instances == 0

    @property
    def instance_range(self) -> tuple[int, int]:
        """Every instance count the variant may run at: the configured range widened by the scheduled ones."""
        return (
            min([self.min_instances, *(action.min_instances for action in self.scheduled)]),
            max([self.max_instances, *(action.max_instances for action in self.scheduled)]),
        )

    @model_validator(mode="after")
    def _range_ordered(self) -> ScalingSettings:
        _check_range(self.min_instances, self.max_instances)
        names = [action.name for action in self.scheduled]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"scheduled action names repeat: {', '.join(duplicates)}|give each scheduled action its own name")
        return self


class AlarmSettings(StrictModel):
    """Thresholds of the CloudWatch alarms every variant gets (docs/operations.md explains each)."""

    latency_p90_seconds: PositiveFloat | None = None  # None: the model's latency_budget_seconds
    server_errors_per_5_minutes: PositiveInt = 5
    client_error_rate_percent: Percent = 10.0
    gpu_memory_utilization_percent: Percent = 95.0
    disk_utilization_percent: Percent = 85.0
    idle_hours: Annotated[int, Field(ge=1, le=24)] = 6
    emails: list[Annotated[str, Field(pattern=EMAIL_PATTERN)]] = Field(default_factory=list)


class BudgetSettings(StrictModel):
    """The stack's AWS Budgets cost budget; alerts go to the alarm topic (and so to its e-mails)."""

    amount_usd: BudgetAmount = 100.0  # the guide: "alert if daily cost > $100"
    time_unit: Literal["DAILY", "MONTHLY"] = "DAILY"
    # AWS Budgets allows five notifications per budget.
    alert_thresholds_percent: Annotated[list[Annotated[float, Field(gt=0, le=1000)]], Field(max_length=5)] = Field(
        default_factory=lambda: [80.0, 100.0]
    )
    scope: Literal["sagemaker", "endpoint", "account"] = "sagemaker"

    @field_validator("alert_thresholds_percent")
    @classmethod
    def _some_thresholds(cls, thresholds: list[float]) -> list[float]:
        if not thresholds or len(set(thresholds)) != len(thresholds):
            raise ValueError("alert thresholds must be a non-empty list of distinct percentages|e.g. [80, 100]")
        return thresholds

    def with_amount(self, amount_usd: float | None) -> BudgetSettings:
        """This budget with ``amount_usd`` (e.g. from `-c budget_usd`) instead of its own, when given."""
        return self.model_copy(update={"amount_usd": amount_usd}) if amount_usd else self


def scalable_resource_id(endpoint_name: str, variant_name: str) -> str:
    """A variant's Application Auto Scaling resource id."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def component_resource_id(component_name: str) -> str:
    """An inference component's Application Auto Scaling resource id."""
    return f"inference-component/{component_name}"


def _check_range(min_instances: int, max_instances: int) -> None:
    if min_instances > max_instances:
        raise ValueError(
            f"min_instances ({min_instances}) exceeds max_instances ({max_instances})|raise max_instances or lower min_instances"
        )


def parse_emails(text: str, source: str) -> list[str]:
    """Split a comma-separated `-c alarm_email=a@x.com,b@y.com` into checked addresses."""
    emails = [part.strip() for part in text.split(",") if part.strip()]
    for email in emails:
        if not re.fullmatch(EMAIL_PATTERN, email):
            raise ConfigError(
                source, None, f"{email!r} is not an e-mail address", "pass -c alarm_email=you@example.com[,other@...]"
            )
    return emails


def check_budget_covers_floor(
    budget: BudgetSettings, floor_hourly_usd: float, source: str, field: str | None, pools: str = ""
) -> None:
    """Refuse a budget that the always-on minimum capacity alone exceeds: it would alert every period. With instance
    pools the caller prices the floor on the dearest pool (``pools`` says so): a fallback may serve for weeks."""
    floor_usd = floor_hourly_usd * HOURS_PER_PERIOD[budget.time_unit]
    if floor_usd >= budget.amount_usd:
        raise ConfigError(
            source,
            field,
            f"the minimum capacity alone costs ${floor_usd:,.2f} per {PERIOD_NOUN[budget.time_unit]}"
            f" (${floor_hourly_usd:g}/h{pools}), so a ${budget.amount_usd:,.2f} {budget.time_unit} budget would alert"
            " every period",
            f"raise the budget above ${floor_usd:,.0f} or lower scaling.min_instances",
        )
