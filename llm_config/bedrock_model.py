"""A Bedrock-hosted model's config file (`hosting: bedrock`), as a typed, validated object.

Every field is documented in model_configs/README.md; this module enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from llm_config._strict import StrictModel
from llm_config.catalogue import PositiveFloat, PositiveInt
from llm_config.errors import ConfigError
from llm_config.model_identity import KEY_PATTERN, ModelIdentity
from llm_config.operations import BudgetAmount

# provider.model-name[:version], e.g. anthropic.claude-3-haiku-20240307-v1:0
BEDROCK_MODEL_ID_PATTERN = r"^[a-z0-9-]+\.[a-z0-9][a-z0-9.\-]*(:[0-9]+)?$"
REGION_NAME_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

RegionName = Annotated[str, Field(pattern=REGION_NAME_PATTERN)]
LatencyStatistic = Literal["p50", "p90", "p95", "p99", "Average", "Maximum"]


class TokenPrices(StrictModel):
    """On-demand prices per 1,000 tokens, with where and when they were read.

    ``input_per_1k_usd``/``output_per_1k_usd``: in-region calls and geography profiles. ``global_*``: calls
    through the global profile (Anthropic's models from Sonnet 4.5 on: about 10% less than a geography's).
    """

    input_per_1k_usd: PositiveFloat
    output_per_1k_usd: PositiveFloat
    global_input_per_1k_usd: PositiveFloat | None = None
    global_output_per_1k_usd: PositiveFloat | None = None
    region: RegionName
    source: str
    retrieved: Annotated[str, Field(pattern=ISO_DATE_PATTERN)]


LifecycleStatus = Literal["active", "legacy", "end-of-life"]
ProfileScope = Literal["geography", "global"]
# Where a profile's id comes from: `<prefix>.<model_id>`, e.g. us.anthropic.claude-haiku-4-5-20251001-v1:0.
GEOGRAPHY_PREFIX_PATTERN = r"^[a-z]{2,8}$"


class LifecycleEntry(StrictModel):
    """One model's Bedrock lifecycle in some regions, as Bedrock's model card or lifecycle page gives it.

    ``status`` is what the page said on the day it was read; the dates decide the state on any other day:
    from ``end_of_life_date`` the model is end of life, from ``legacy_date`` it is legacy.
    """

    status: LifecycleStatus
    legacy_date: date | None = None
    end_of_life_date: date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> LifecycleEntry:
        if self.legacy_date and self.end_of_life_date and self.legacy_date > self.end_of_life_date:
            raise ValueError(
                f"legacy_date {self.legacy_date} is after end_of_life_date {self.end_of_life_date}|swap or correct the dates"
            )
        return self


@dataclass(frozen=True)
class LifecycleState:
    """A model's lifecycle state in one region on one day."""

    status: LifecycleStatus
    end_of_life_date: date | None


class ModelLifecycle(LifecycleEntry):
    """The lifecycle block of a Bedrock config: the usual state, the regions where it differs, the successor."""

    regions: dict[RegionName, LifecycleEntry] = Field(default_factory=dict)
    successor: Annotated[str, Field(pattern=KEY_PATTERN)] | None = None
    source: Annotated[str, Field(min_length=1)]
    retrieved: Annotated[str, Field(pattern=ISO_DATE_PATTERN)]

    @model_validator(mode="after")
    def _retiring_models_name_a_successor(self) -> ModelLifecycle:
        entries = [self, *self.regions.values()]
        if self.successor is None and any(e.status != "active" or e.end_of_life_date for e in entries):
            raise ValueError("a legacy or end-of-life model needs a successor|set lifecycle.successor to a Bedrock model key")
        return self

    def state(self, region: str, today: date) -> LifecycleState:
        """The state in ``region`` on ``today``. A recorded date decides: from ``end_of_life_date`` the model is end
        of life (before it, at most legacy), from ``legacy_date`` legacy. Without dates the recorded status holds."""
        entry: LifecycleEntry = self.regions.get(region, self)
        eol = entry.end_of_life_date
        if eol is not None and today >= eol:
            status: LifecycleStatus = "end-of-life"
        elif eol is None and entry.status == "end-of-life":
            status = "end-of-life"
        elif entry.status != "active" or (entry.legacy_date is not None and today >= entry.legacy_date):
            status = "legacy"
        else:
            status = "active"
        return LifecycleState(status=status, end_of_life_date=eol)


class GeographyProfile(StrictModel):
    """A geography's system-defined inference profile (``<prefix>.<model_id>``).

    ``source_regions``: where the profile may be called from, i.e. where the stack may deploy.
    ``destination_regions``: where Bedrock may route a request; each needs the foundation-model ARN.
    """

    prefix: Annotated[str, Field(pattern=GEOGRAPHY_PREFIX_PATTERN)]
    source_regions: Annotated[list[RegionName], Field(min_length=1)]
    destination_regions: Annotated[list[RegionName], Field(min_length=1)]


class GlobalProfile(StrictModel):
    """The global inference profile (``global.<model_id>``): it routes to any commercial region, which IAM
    grants through the region-less foundation-model ARN. ``source_regions``: where it may be called from."""

    source_regions: Annotated[list[RegionName], Field(min_length=1)]


class InferenceProfiles(StrictModel):
    """How the model is called: through a geography's profile (default) or the global one, never by its bare id.

    ``scope`` picks the profile: ``geography`` keeps requests inside the source region's geography (us, eu, jp,
    ...); ``global`` may route them to any commercial region and costs about 10% less (``prices``).
    """

    scope: ProfileScope = "geography"
    geographies: list[GeographyProfile] = Field(default_factory=list)
    global_profile: GlobalProfile | None = Field(default=None, alias="global")
    source: Annotated[str, Field(min_length=1)]
    retrieved: Annotated[str, Field(pattern=ISO_DATE_PATTERN)]

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _scope_has_profiles(self) -> InferenceProfiles:
        if self.scope == "global" and self.global_profile is None:
            raise ValueError("scope is global but no global profile is listed|add inference_profiles.global.source_regions")
        if self.scope == "geography" and not self.geographies:
            raise ValueError("scope is geography but no geography is listed|add inference_profiles.geographies")
        prefixes = [g.prefix for g in self.geographies]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("a geography prefix is listed twice|keep one entry per prefix")
        regions = [r for g in self.geographies for r in g.source_regions]
        if len(set(regions)) != len(regions):
            raise ValueError("a source region is in two geographies|list each source region under one prefix")
        return self


@dataclass(frozen=True)
class Route:
    """How a client in ``region`` calls the model: the modelId it passes and what IAM must allow.

    ``profile_id`` None: the bare model id in ``region`` (``destination_regions`` = [region]).
    ``regionless_arn``: a global profile, whose foundation-model statement also names the region-less ARN.
    """

    region: str
    model_id: str
    profile_id: str | None
    scope: ProfileScope | None
    destination_regions: tuple[str, ...]

    @property
    def invoke_id(self) -> str:
        """The modelId clients pass to InvokeModel/Converse, and the ModelId dimension of its metrics."""
        return self.profile_id or self.model_id

    @property
    def regionless_arn(self) -> bool:
        return self.scope == "global"

    @property
    def lifecycle_region(self) -> str:
        """Where to ask Bedrock for the model's modelLifecycle: the caller's region when the model is served there,
        else the first destination (a geography profile may serve a source region from elsewhere)."""
        return self.region if self.region in self.destination_regions else self.destination_regions[0]


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


class PlannerFigures(StrictModel):
    """What the planner needs besides prices, kept in the model's own config so one file adds a model.

    ``quality``: the guide's tier (good < high < critical). ``stream_tokens_per_second`` and
    ``first_token_seconds``: typical public-endpoint figures, assumptions to override with measurements.
    """

    quality: Literal["good", "high", "critical"]
    stream_tokens_per_second: PositiveFloat
    first_token_seconds: PositiveFloat
    source: Annotated[str, Field(min_length=1)]


# Used when a config has no `planner` block: the slowest figures of the shipped Claude configs, quality "good",
# so a copied config works in `./tasks.sh plan` without ever looking better than what is known.
DEFAULT_PLANNER_FIGURES = PlannerFigures(
    quality="good",
    stream_tokens_per_second=25,
    first_token_seconds=2.0,
    source="default for configs without a planner block (llm_config/bedrock_model.py): set planner: in the config",
)


ThinkingType = Literal["enabled", "adaptive", "disabled"]


class ModelCapabilities(StrictModel):
    """What the model refuses with a 400 that an agent can send without knowing: published in the client parameter,
    so llm_client refuses such a request before the call, with the way out (model_configs/README.md: capabilities).

    ``thinking_types``: the ``thinking.type`` values the model accepts (Opus 4.7 and later: no ``enabled`` with
    ``budget_tokens``; Opus and Sonnet 5.5: not ``disabled`` either). ``forced_tool_use``: whether ``tool_choice``
    ``any`` or a named tool is accepted (Sonnet and Opus 5.5: no). ``refused_anthropic_versions``: Anthropic API
    versions the model refuses on Bedrock (the ARN-versioned Opus 4.6 and earlier: ``2026-10-21``).
    """

    thinking_types: Annotated[list[ThinkingType], Field(min_length=1)]
    forced_tool_use: bool
    refused_anthropic_versions: list[Annotated[str, Field(pattern=ISO_DATE_PATTERN)]] = Field(default_factory=list)
    source: Annotated[str, Field(min_length=1)]
    retrieved: Annotated[str, Field(pattern=ISO_DATE_PATTERN)]

    @model_validator(mode="after")
    def _no_repeats(self) -> ModelCapabilities:
        if len(set(self.thinking_types)) != len(self.thinking_types):
            raise ValueError("a thinking type is listed twice|list each of enabled, adaptive, disabled once")
        return self

    def published(self) -> dict[str, object]:
        """The parameter's ``capabilities`` object (llm_client/src/llm_client/parameter.py reads it)."""
        return {
            "thinking_types": list(self.thinking_types),
            "forced_tool_use": self.forced_tool_use,
            "refused_anthropic_versions": list(self.refused_anthropic_versions),
        }


class BedrockModelConfig(ModelIdentity):
    """One Bedrock model: `model_configs/<key>.yaml` with `hosting: bedrock`."""

    hosting: Literal["bedrock"]
    model_id: Annotated[str, Field(pattern=BEDROCK_MODEL_ID_PATTERN)]
    context_length: PositiveInt
    latency_budget_seconds: PositiveFloat
    prompt_notes: str | None = None
    capabilities: ModelCapabilities | None = None
    prices: TokenPrices
    lifecycle: ModelLifecycle
    inference_profiles: InferenceProfiles | None = None
    planner: PlannerFigures | None = None
    alarms: BedrockAlarms = Field(default_factory=BedrockAlarms)
    budget: BedrockBudget = Field(default_factory=BedrockBudget)

    @model_validator(mode="after")
    def _global_profile_has_global_prices(self) -> BedrockModelConfig:
        profiles = self.inference_profiles
        if profiles and profiles.scope == "global" and self.prices.global_input_per_1k_usd is None:
            raise ValueError(
                "inference_profiles.scope is global but prices has no global_input_per_1k_usd/global_output_per_1k_usd"
                "|add the global profile's prices (Bedrock pricing page)"
            )
        if (self.prices.global_input_per_1k_usd is None) != (self.prices.global_output_per_1k_usd is None):
            raise ValueError(
                "set both prices.global_input_per_1k_usd and prices.global_output_per_1k_usd, or neither|add the other"
            )
        return self

    @property
    def planner_figures(self) -> PlannerFigures:
        return self.planner or DEFAULT_PLANNER_FIGURES

    @property
    def price_per_1k(self) -> tuple[float, float]:
        """(input, output) USD per 1K tokens for the configured way of calling the model."""
        prices = self.prices
        if self.inference_profiles and self.inference_profiles.scope == "global":
            assert prices.global_input_per_1k_usd is not None and prices.global_output_per_1k_usd is not None
            return prices.global_input_per_1k_usd, prices.global_output_per_1k_usd
        return prices.input_per_1k_usd, prices.output_per_1k_usd

    def route(self, region: str, source: str) -> Route:
        """How a client in ``region`` calls the model. Raises ConfigError when no configured profile serves ``region``."""
        profiles = self.inference_profiles
        if profiles is None:
            return Route(region, self.model_id, None, None, (region,))
        if profiles.scope == "global":
            assert profiles.global_profile is not None
            if region in profiles.global_profile.source_regions:
                return Route(region, self.model_id, f"global.{self.model_id}", "global", (region,))
            callable_from = profiles.global_profile.source_regions
        else:
            for geography in profiles.geographies:
                if region in geography.source_regions:
                    profile_id = f"{geography.prefix}.{self.model_id}"
                    regions = tuple(sorted(set(geography.destination_regions)))
                    return Route(region, self.model_id, profile_id, "geography", regions)
            callable_from = [r for g in profiles.geographies for r in g.source_regions]
        other = "global" if profiles.scope == "geography" else "geography"
        raise ConfigError(
            source,
            "inference_profiles",
            f"no {profiles.scope} inference profile of {self.model_id} can be called from {region}",
            f"deploy to one of {', '.join(sorted(callable_from))}, or set inference_profiles.scope: {other} if that "
            "profile lists the region (docs/bedrock.md: inference profiles)",
        )
