"""Scale to zero from a traffic profile: what an inference component that sleeps while idle costs a month.

An endpoint that scales to zero (docs/scale-to-zero.md) bills its instances from the request that wakes it,
through the cold start, the active hours, and the idle period that ends in the scale-in to zero. So a day with
``bursts_per_day`` separate active periods bills

    active_hours + bursts_per_day x (cold_start + idle_minutes + release_minutes)

instance hours (at most 24), at the instances the busiest hour needs. The idle tail is the component's idle period
(scaling.idle_minutes_before_zero) and then the endpoint's scale-in cooldown, after which IDLE_RELEASE gives the
empty instance back (llm_config.operations.SCALE_IN_COOLDOWN_MINUTES: the template's ScaleInPolicy).
Assumptions (the planner's usual ones: steady traffic within the active hours, on-demand prices): the wake-up
instance bills from the first request of a burst (AWS bills hosting from instance launch), and requests within a
burst are closer together than the idle period (else each gap is another burst).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.operations import EXPECTED_COLD_START_SECONDS, SCALE_IN_COOLDOWN_MINUTES, ScalingSettings
from planner.costs import SageMakerOption, TokenOption

DAYS_PER_MONTH = HOURS_PER_MONTH / 24
DEFAULT_IDLE_MINUTES = ScalingSettings.model_fields["idle_minutes_before_zero"].default


@dataclass(frozen=True)
class TrafficProfile:
    """When requests come: ``active_hours_per_day`` hours with ``requests_per_active_hour`` each, in
    ``bursts_per_day`` separate periods; the endpoint's idle period and the cold start of each wake-up."""

    active_hours_per_day: float
    requests_per_active_hour: float
    bursts_per_day: int = 1
    idle_minutes: float = DEFAULT_IDLE_MINUTES
    cold_start_minutes: float = EXPECTED_COLD_START_SECONDS / 60
    release_minutes: float = SCALE_IN_COOLDOWN_MINUTES  # the empty instance bills until the scale-in policy releases it

    def __post_init__(self) -> None:
        if not 0 < self.active_hours_per_day <= 24 or self.requests_per_active_hour < 0 or self.bursts_per_day < 1:
            raise ValueError("active hours must be in (0, 24], requests >= 0 and bursts >= 1")

    @property
    def requests_per_day(self) -> float:
        return self.active_hours_per_day * self.requests_per_active_hour

    @property
    def overhead_hours_per_day(self) -> float:
        """Billed hours a day that serve nothing: each burst's cold start and idle tail (idle period, then release)."""
        return self.bursts_per_day * (self.cold_start_minutes + self.idle_minutes + self.release_minutes) / 60

    @property
    def billed_hours_per_day(self) -> float:
        return min(24.0, self.active_hours_per_day + self.overhead_hours_per_day)


@dataclass(frozen=True)
class ScaleToZeroCost:
    """One model's scale-to-zero month at a profile, beside always-on and a pay-per-token API."""

    profile: TrafficProfile
    instances: int
    monthly_usd: float
    always_on_usd: float
    api_usd: float
    api_break_even_requests_per_active_hour: float  # above this, scale to zero is cheaper than the API
    always_on_break_even_active_hours: float  # below this, scale to zero is cheaper than always-on

    @property
    def beats_api(self) -> bool:
        return self.monthly_usd < self.api_usd

    @property
    def beats_always_on(self) -> bool:
        return self.monthly_usd < self.always_on_usd


def scale_to_zero_cost(option: SageMakerOption, api: TokenOption, profile: TrafficProfile) -> ScaleToZeroCost:
    """``option`` scaling to zero at ``profile``, against ``option`` always on and ``api``."""
    per_instance = option.capacity_per_instance or math.inf
    instances = max(1, math.ceil(profile.requests_per_active_hour / per_instance))
    monthly = option.hourly_usd * instances * profile.billed_hours_per_day * DAYS_PER_MONTH
    api_monthly = profile.requests_per_day * DAYS_PER_MONTH * api.request_usd
    # Requests per active hour at which the API's bill reaches one instance's scale-to-zero bill.
    break_even = option.hourly_usd * profile.billed_hours_per_day / (profile.active_hours_per_day * api.request_usd)
    return ScaleToZeroCost(
        profile=profile,
        instances=instances,
        monthly_usd=monthly,
        always_on_usd=option.always_on_usd,
        api_usd=api_monthly,
        api_break_even_requests_per_active_hour=break_even,
        always_on_break_even_active_hours=max(0.0, 24 - profile.overhead_hours_per_day),
    )


def recommendation(option: SageMakerOption, api: TokenOption, cost: ScaleToZeroCost) -> str:
    """One sentence: which is cheapest, when scale to zero beats the API, and the cold start that comes with it."""
    profile = cost.profile
    cheapest = min(
        (cost.monthly_usd, f"{option.display_name} scaling to zero"),
        (cost.api_usd, f"{api.display_name} on {api.hosting}"),
        (cost.always_on_usd, f"{option.display_name} always on"),
    )[1]
    return (
        f"{profile.requests_per_day:,.0f} requests/day in {profile.active_hours_per_day:g} active hour(s):"
        f" scale to zero ${cost.monthly_usd:,.2f}/month ({profile.billed_hours_per_day:.2f} billed h/day),"
        f" always on ${cost.always_on_usd:,.2f}, {api.display_name} ${cost.api_usd:,.2f}: {cheapest} is cheapest."
        f" Scale to zero beats {api.display_name} above {cost.api_break_even_requests_per_active_hour:,.0f}"
        f" requests per active hour, and always-on below {cost.always_on_break_even_active_hours:.1f} active hours"
        f" a day; the first request of each burst waits a cold start of ~{profile.cold_start_minutes:g} minutes"
    )
