"""Cost and latency arithmetic: every option's monthly cost at a given traffic, and break-even points.

A month is 730 hours (AWS pricing's convention, 24 x 365 / 12). SageMaker bills each instance per
hour whether or not it serves requests; pay-per-token APIs bill input and output tokens per request.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from llm_config import SageMakerModelConfig
from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.operations import ScalingMetric, ScalingSettings
from llm_config.sizing import batch_limit, predict_at_target
from planner.assumptions import PlannerData, Provider, Quality

PROVIDER_LABELS: dict[Provider, str] = {"bedrock": "Bedrock", "openai": "OpenAI API (not AWS)"}
SCALING_TARGET_UNITS: dict[ScalingMetric, str] = {
    "SageMakerVariantConcurrentRequestsPerModelHighResolution": "concurrent requests per instance",
    "SageMakerVariantInvocationsPerInstance": "invocations per instance per minute",
}


@dataclass(frozen=True)
class Traffic:
    """Average load, assumed steady over the month."""

    requests_per_hour: float
    input_tokens: int
    output_tokens: int

    @property
    def requests_per_month(self) -> float:
        return self.requests_per_hour * HOURS_PER_MONTH

    @property
    def tokens_per_request(self) -> int:
        return self.input_tokens + self.output_tokens


def monthly_instance_usd(hourly_usd: float, instances: int) -> float:
    """What ``instances`` SageMaker instances cost when they run all month."""
    return hourly_usd * instances * HOURS_PER_MONTH


def request_usd(input_per_1k_usd: float, output_per_1k_usd: float, traffic: Traffic) -> float:
    """Pay-per-token price of one request."""
    return traffic.input_tokens / 1000 * input_per_1k_usd + traffic.output_tokens / 1000 * output_per_1k_usd


@dataclass(frozen=True)
class Option(ABC):
    """One model on one kind of hosting, with the figures that do not depend on the request rate."""

    key: str
    display_name: str
    quality: Quality
    first_token_seconds: float
    response_seconds: float

    @property
    @abstractmethod
    def hosting(self) -> str: ...

    def ceiling_seconds(self, streaming: bool) -> float | None:
        """The physical limit of the latency (every efficiency 1.0), where the planner knows one."""
        return None

    @abstractmethod
    def monthly_usd_at(self, requests_per_hour: float) -> float: ...


@dataclass(frozen=True)
class SageMakerOption(Option):
    """A self-hosted model on its configured instance type; autoscaling keeps between the config's
    ``scaling.min_instances`` and ``scaling.max_instances`` instances."""

    instance_type: str
    hourly_usd: float  # instance.type's: the pool SageMaker tries first
    initial_count: int
    min_instances: int
    max_instances: int
    concurrent_requests: int  # 0 when one request is longer than the container accepts
    scaling_target: str  # the config's autoscaling target, e.g. "8 concurrent requests per instance"
    capacity_per_instance: float  # requests per hour one instance serves before autoscaling adds another
    ceiling_first_token_seconds: float
    ceiling_response_seconds: float
    speed_source: str  # "throughput model" or the overrides file that replaced it
    dearest_hourly_usd: float = 0.0  # the dearest of instance.type and its fallback pools (docs/instance-pools.md); 0: none

    @property
    def always_on_usd_range(self) -> tuple[float, float]:
        """``always_on_usd`` on the first pool and on the dearest: a fallback serves when the first is sold out."""
        return self.always_on_usd, monthly_instance_usd(max(self.hourly_usd, self.dearest_hourly_usd), self.initial_count)

    def ceiling_seconds(self, streaming: bool) -> float | None:
        return self.ceiling_first_token_seconds if streaming else self.ceiling_response_seconds

    @property
    def hosting(self) -> str:
        return f"SageMaker {self.instance_type}"

    @property
    def serves_request(self) -> bool:
        return self.concurrent_requests > 0

    @property
    def always_on_usd(self) -> float:
        """The configured instance count running all month: what `cdk deploy` starts."""
        return monthly_instance_usd(self.hourly_usd, self.initial_count)

    def instances_at(self, requests_per_hour: float) -> int:
        """Instances needed at this traffic, never fewer than ``min_instances`` (may exceed ``max_instances``:
        the traffic then needs a higher limit in the config)."""
        if not self.serves_request:
            return self.initial_count
        return max(self.min_instances, math.ceil(requests_per_hour / self.capacity_per_instance))

    def monthly_usd_at(self, requests_per_hour: float) -> float:
        return monthly_instance_usd(self.hourly_usd, self.instances_at(requests_per_hour))


@dataclass(frozen=True)
class TokenOption(Option):
    """A hosted API billed per token: no idle cost, no instances."""

    provider: Provider
    request_usd: float
    retired: bool = False  # past end of life on Bedrock: shown only with --include-retired, never recommended
    replaced: str | None = None  # "legacy" or "superseded" on Bedrock: marked, recommended only if nothing current fits

    @property
    def hosting(self) -> str:
        mark = "retired" if self.retired else self.replaced
        return PROVIDER_LABELS[self.provider] + (f" ({mark})" if mark else "")

    def monthly_usd_at(self, requests_per_hour: float) -> float:
        return requests_per_hour * HOURS_PER_MONTH * self.request_usd


def sagemaker_option(data: PlannerData, model: SageMakerModelConfig, traffic: Traffic) -> SageMakerOption:
    """A SageMaker config on its instance. Its speed comes from the throughput model (llm_config/throughput.py)
    at the concurrency its autoscaling target lets in, unless an overrides file gives measured figures."""
    container = model.container
    fits = traffic.input_tokens <= container.max_input_tokens and traffic.tokens_per_request <= container.max_total_tokens
    concurrent = batch_limit(model, traffic.input_tokens, traffic.output_tokens) if fits else 0
    instance = data.registry.instances.instances[model.instance.type]
    prediction, _ = predict_at_target(model, instance, traffic.input_tokens, traffic.output_tokens)
    first_token, response = prediction.estimate.first_token_seconds, prediction.estimate.latency_seconds
    speed_source = "throughput model"
    measured = data.throughput.get(model.key)
    if measured is not None:
        first_token = measured.first_token_seconds
        response = measured.first_token_seconds + traffic.output_tokens / measured.stream_tokens_per_second
        speed_source = measured.source
    scaling = model.scaling
    return SageMakerOption(
        key=model.key,
        display_name=model.display_name,
        quality=data.quality[model.key],
        first_token_seconds=first_token,
        response_seconds=response,
        instance_type=model.instance.type,
        hourly_usd=data.sagemaker_hourly_usd[model.instance.type],
        initial_count=model.instance.initial_count,
        min_instances=model.scaling.min_instances,
        max_instances=model.scaling.max_instances,
        concurrent_requests=concurrent,
        scaling_target=f"{scaling.target_value:g} {SCALING_TARGET_UNITS[scaling.target_metric]}",
        capacity_per_instance=scaling_capacity(scaling, concurrent, response),
        ceiling_first_token_seconds=prediction.ceiling.first_token_seconds,
        ceiling_response_seconds=prediction.ceiling.latency_seconds,
        speed_source=speed_source,
        dearest_hourly_usd=max(data.sagemaker_hourly_usd[name] for name in model.instance.pool_types),
    )


def scaling_capacity(scaling: ScalingSettings, concurrent_requests: int, response_seconds: float) -> float:
    """Requests per hour one instance serves before the config's target tracking adds another.

    Concurrent requests per instance = requests per second x response time (Little's law), so a target
    of N in flight is N x 3600 / response time requests per hour; an invocations target is per minute.
    Neither exceeds what the container runs at once (``concurrent_requests``).
    """
    most = concurrent_requests * 3600 / response_seconds
    if scaling.target_metric == "SageMakerVariantInvocationsPerInstance":
        return min(scaling.target_value * 60, most)
    return min(scaling.target_value, concurrent_requests) * 3600 / response_seconds


def token_option(data: PlannerData, key: str, traffic: Traffic) -> TokenOption:
    price = data.token_prices[key]
    throughput = data.throughput[key]
    return TokenOption(
        key=key,
        display_name=price.display_name,
        quality=data.quality[key],
        first_token_seconds=throughput.first_token_seconds,
        response_seconds=throughput.first_token_seconds + traffic.output_tokens / throughput.stream_tokens_per_second,
        provider=price.provider,
        request_usd=request_usd(price.input_per_1k_usd, price.output_per_1k_usd, traffic),
        retired=price.retired,
        replaced=price.replaced,
    )


def build_options(data: PlannerData, traffic: Traffic, include_retired: bool = False) -> list[Option]:
    """Every model the planner knows: each SageMaker config on its instance, each pay-per-token model; Bedrock
    models past end of life only with ``include_retired``."""
    options: list[Option] = [sagemaker_option(data, model, traffic) for model in data.sagemaker_models()]
    keys = [key for key in data.token_prices if include_retired or not data.is_retired(key)]
    options += [token_option(data, key, traffic) for key in keys]
    return options


def break_even_requests_per_hour(hosted: SageMakerOption, api: TokenOption) -> float | None:
    """The lowest request rate at which SageMaker hosting costs no more than the pay-per-token API.

    At its minimum instance count the SageMaker bill is flat, so the two meet at that bill per hour /
    price per request, provided those instances can still carry that traffic. If they cannot, a fully
    used instance costs more than the tokens it serves and the API stays cheaper at any traffic: None.
    Above the break-even the API can come back cheaper for a while each time autoscaling adds an instance.
    """
    if not hosted.serves_request:
        return None
    rate = hosted.min_instances * hosted.hourly_usd / api.request_usd
    return rate if rate <= hosted.min_instances * hosted.capacity_per_instance else None
