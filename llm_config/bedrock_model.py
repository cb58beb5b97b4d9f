"""A Bedrock-hosted model's config file (`hosting: bedrock`), as a typed, validated object.

Every field is documented in model_configs/README.md; this module enforces it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from llm_config._strict import StrictModel
from llm_config.catalogue import PositiveFloat, PositiveInt
from llm_config.errors import ConfigError
from llm_config.model_identity import ModelIdentity
from llm_config.operations import BudgetAmount

# provider.model-name[:version], e.g. anthropic.claude-3-haiku-20240307-v1:0
BEDROCK_MODEL_ID_PATTERN = r"^[a-z0-9-]+\.[a-z0-9][a-z0-9.\-]*(:[0-9]+)?$"
REGION_NAME_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

RegionName = Annotated[str, Field(pattern=REGION_NAME_PATTERN)]
LatencyStatistic = Literal["p50", "p90", "p95", "p99", "Average", "Maximum"]


class TokenPrices(StrictModel):
    """On-demand prices per 1,000 tokens, with where and when they were read."""

    input_per_1k_usd: PositiveFloat
    output_per_1k_usd: PositiveFloat
    region: RegionName
    source: str
    retrieved: Annotated[str, Field(pattern=ISO_DATE_PATTERN)]


class CrossRegionInference(StrictModel):
    """A system-defined (cross-Region) inference profile that routes this model's requests.

    ``source_regions``: where the profile may be called from, i.e. where the stack may deploy.
    ``destination_regions``: where Bedrock may route a request; each needs the foundation-model ARN.
    """

    profile_id: str
    source_regions: Annotated[list[RegionName], Field(min_length=1)]
    destination_regions: Annotated[list[RegionName], Field(min_length=1)]


class BedrockAlarms(StrictModel):
    """Thresholds of the AWS/Bedrock alarms; the defaults are documented in the schema doc."""

    period_seconds: Literal[60, 300, 900, 3600] = 300
    evaluation_periods: PositiveInt = 3
    datapoints_to_alarm: PositiveInt = 2
    latency_statistic: LatencyStatistic = "p90"
    throttles_per_period: PositiveInt = 5
    server_errors_per_period: PositiveInt = 1

    @model_validator(mode="after")
    def _datapoints_within_window(self) -> BedrockAlarms:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"datapoints_to_alarm ({self.datapoints_to_alarm}) exceeds evaluation_periods ({self.evaluation_periods})"
                "|lower alarms.datapoints_to_alarm or raise alarms.evaluation_periods"
            )
        return self


class BedrockBudget(StrictModel):
    """The AWS Budgets cost budget of the stack."""

    amount_usd: BudgetAmount = 100.0
    time_unit: Literal["DAILY", "MONTHLY"] = "MONTHLY"
    # AWS Budgets allows five notifications per budget.
    alert_thresholds_percent: Annotated[list[Annotated[float, Field(gt=0, le=1000)]], Field(min_length=1, max_length=5)] = Field(
        default_factory=lambda: [80.0, 100.0]
    )
    cost_filter_services: Annotated[list[str], Field(min_length=1)] = Field(default_factory=lambda: ["Amazon Bedrock"])


class BedrockModelConfig(ModelIdentity):
    """One Bedrock model: `model_configs/<key>.yaml` with `hosting: bedrock`."""

    hosting: Literal["bedrock"]
    model_id: Annotated[str, Field(pattern=BEDROCK_MODEL_ID_PATTERN)]
    context_length: PositiveInt
    latency_budget_seconds: PositiveFloat
    prices: TokenPrices
    cross_region_inference: CrossRegionInference | None = None
    alarms: BedrockAlarms = Field(default_factory=BedrockAlarms)
    budget: BedrockBudget = Field(default_factory=BedrockBudget)

    @field_validator("cross_region_inference")
    @classmethod
    def _profile_routes_to_this_model(
        cls, profile: CrossRegionInference | None, info: ValidationInfo
    ) -> CrossRegionInference | None:
        model_id = info.data.get("model_id")  # absent when model_id itself failed validation
        if profile and model_id and profile.profile_id.partition(".")[2] != model_id:
            raise ValueError(
                f"profile_id {profile.profile_id!r} does not route to model_id {model_id!r}"
                f"|use the profile named after the model, e.g. us.{model_id}"
            )
        return profile

    @property
    def invoke_id(self) -> str:
        """The modelId clients pass to InvokeModel/Converse, and the ModelId dimension of its metrics."""
        return self.cross_region_inference.profile_id if self.cross_region_inference else self.model_id

    def foundation_model_regions(self, region: str, source: str) -> list[str]:
        """Regions whose foundation-model ARN a client calling from ``region`` needs.

        Raises ConfigError when the model's inference profile cannot be called from ``region``.
        """
        profile = self.cross_region_inference
        if profile is None:
            return [region]
        if region not in profile.source_regions:
            raise ConfigError(
                source,
                "cross_region_inference.source_regions",
                f"inference profile {profile.profile_id} cannot be called from {region}",
                f"deploy to one of {', '.join(profile.source_regions)}, or remove cross_region_inference "
                "to call the model in-region (docs/bedrock.md: cross-Region inference)",
            )
        return sorted(set(profile.destination_regions))
