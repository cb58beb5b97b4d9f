"""A routed mix priced by the planner: the weak route's option at (1 - strong share) of the traffic plus the strong
route's at the strong share. A SageMaker route is priced as its instances (hourly, at least its minimum count,
whatever share it gets); a token-priced route (Bedrock) per request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from planner.assumptions import PlannerData
from planner.costs import Option, Traffic, build_options
from routing.errors import RoutingInputError
from routing.policy_file import read_policy_file


@dataclass(frozen=True)
class RoutedCost:
    weak: Option
    strong: Option
    strong_share: float
    traffic: Traffic

    @property
    def weak_usd(self) -> float:
        return self.weak.monthly_usd_at(self.traffic.requests_per_hour * (1 - self.strong_share))

    @property
    def strong_usd(self) -> float:
        return self.strong.monthly_usd_at(self.traffic.requests_per_hour * self.strong_share)

    @property
    def monthly_usd(self) -> float:
        return self.weak_usd + self.strong_usd

    @property
    def all_strong_usd(self) -> float:
        return self.strong.monthly_usd_at(self.traffic.requests_per_hour)

    def line(self, label: str) -> str:
        return (
            f"{label}: {self.strong_share:.0%} to {self.strong.key} ({self.strong.hosting}) ${self.strong_usd:,.0f} + "
            f"{1 - self.strong_share:.0%} to {self.weak.key} ({self.weak.hosting}) ${self.weak_usd:,.0f} = "
            f"${self.monthly_usd:,.0f}/month (all to {self.strong.key}: ${self.all_strong_usd:,.0f})"
        )


def option(data: PlannerData, traffic: Traffic, key: str, flag: str) -> Option:
    options = {o.key: o for o in build_options(data, traffic, include_retired=True)}
    try:
        return options[key]
    except KeyError:
        raise RoutingInputError(
            f"{flag} {key!r}: not a model the planner prices; give one of: {', '.join(sorted(options))}"
        ) from None


def routed_cost(data: PlannerData, traffic: Traffic, weak: str, strong: str, strong_share: float) -> RoutedCost:
    return RoutedCost(
        weak=option(data, traffic, weak, "--weak-model"),
        strong=option(data, traffic, strong, "--strong-model"),
        strong_share=strong_share,
        traffic=traffic,
    )


def calibrated_share(path: Path) -> float:
    """The expected strong share a policy file's calibration recorded (out-of-fold, at its threshold)."""
    _, _, calibration = read_policy_file(path, flag="--routing-policy")
    share = calibration.get("figures", {}).get("strong_share") if isinstance(calibration.get("figures"), dict) else None
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        raise RoutingInputError(
            f"--routing-policy {path}: field 'calibration.figures.strong_share' is missing (not a calibrated policy); "
            "write one with ./tasks.sh route calibrate"
        )
    return float(share)
