"""Ranking the options against a user's asks, and one recommendation that follows the guide's decision tree."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from planner.assumptions import QUALITY_TIERS, Quality
from planner.costs import Option, SageMakerOption, TokenOption, Traffic

LOW_TRAFFIC_REQUESTS_PER_HOUR = 100  # the guide's "Low traffic (<100 req/hour)?"
FAST_RESPONSE_SECONDS = 2.0  # the guide's "Need fast responses (<2s)?": an ask of 2 s or less


@dataclass(frozen=True)
class Asks:
    """What the user needs. latency_seconds/budget_usd None: no ask."""

    traffic: Traffic
    quality: Quality
    latency_seconds: float | None
    budget_usd: float | None
    streaming: bool


@dataclass(frozen=True)
class Assessment:
    """One option at the user's traffic, against the user's asks."""

    option: Option
    monthly_usd: float
    latency_seconds: float
    misses: tuple[str, ...]

    @property
    def meets_all(self) -> bool:
        return not self.misses


def assess(option: Option, asks: Asks) -> Assessment:
    latency = option.first_token_seconds if asks.streaming else option.response_seconds
    monthly = option.monthly_usd_at(asks.traffic.requests_per_hour)
    misses = []
    if isinstance(option, SageMakerOption) and not option.serves_request:
        misses.append(f"request of {asks.traffic.tokens_per_request} tokens exceeds the container's limits")
    elif isinstance(option, SageMakerOption) and option.instances_at(asks.traffic.requests_per_hour) > option.max_instances:
        needed = option.instances_at(asks.traffic.requests_per_hour)
        misses.append(f"needs {needed} instances, config's scaling.max_instances is {option.max_instances}")
    if QUALITY_TIERS.index(option.quality) < QUALITY_TIERS.index(asks.quality):
        misses.append(f"quality {option.quality} < {asks.quality}")
    if asks.latency_seconds is not None and latency > asks.latency_seconds:
        misses.append(f"latency {latency:.1f} s > {asks.latency_seconds:g} s")
    if asks.budget_usd is not None and monthly > asks.budget_usd:
        misses.append(f"${monthly:,.0f}/month > ${asks.budget_usd:,.0f} budget")
    return Assessment(option=option, monthly_usd=monthly, latency_seconds=latency, misses=tuple(misses))


def rank(options: list[Option], asks: Asks) -> list[Assessment]:
    """Options that meet every ask first, then by how many asks they miss; cheapest first within each."""
    return sorted((assess(o, asks) for o in options), key=lambda a: (len(a.misses), a.monthly_usd, a.option.key))


@dataclass(frozen=True)
class TreeStep:
    """Where the guide's decision tree ends for these asks, and the models it names there."""

    question: str
    candidates: tuple[str, ...]


def guide_tree(asks: Asks) -> TreeStep:
    """The guide's decision tree, walked top to bottom.

    The planner has no "complex reasoning" input: that branch is reached through --quality critical,
    which the tree's "highest quality" question answers first. "Cost is the primary concern" is
    --quality good (the guide's "good enough" tier).
    """
    if asks.traffic.requests_per_hour < LOW_TRAFFIC_REQUESTS_PER_HOUR:
        return TreeStep("low traffic (<100 req/hour): use a hosted API", ("claude-3-sonnet", "gpt-3.5-turbo"))
    if asks.quality == "critical":
        return TreeStep("highest quality needed: GPT-4 or Claude Opus", ("gpt-4", "claude-3-opus"))
    if asks.latency_seconds is not None and asks.latency_seconds <= FAST_RESPONSE_SECONDS:
        return TreeStep("fast responses (<2 s): Mistral 7B on SageMaker ml.g5.xlarge", ("mistral-7b",))
    if asks.quality == "good":
        return TreeStep("cost is the primary concern: LLaMA 2 7B or Claude Haiku", ("llama2-7b", "claude-3-haiku"))
    return TreeStep("no special needs: Mistral 7B (best balance)", ("mistral-7b",))


@dataclass(frozen=True)
class Recommendation:
    choice: Assessment
    reason: str


def is_replaced(option: Option) -> bool:
    """A Bedrock model in its legacy window or superseded by a newer generation (retired ones are left out before)."""
    return isinstance(option, TokenOption) and option.replaced is not None


def recommend(ranked: list[Assessment], asks: Asks, current: Callable[[str], str] = str) -> Recommendation:
    """The guide's pick when it meets every ask, else the cheapest option that does, else the closest miss.

    Retired models are never recommended, and current ones are preferred: a model the guide's tree names that
    Bedrock has retired, or that is legacy or superseded, counts as today's successor (``current`` maps a key to
    it); a legacy or superseded model is the pick only when no current option meets every ask.
    """
    ranked = [a for a in ranked if not (isinstance(a.option, TokenOption) and a.option.retired)]
    step = guide_tree(asks)
    replaced = {current(key): key for key in step.candidates if current(key) != key}
    if replaced:
        names = ", ".join(f"{old} -> {new}" for new, old in replaced.items())
        step = TreeStep(f"{step.question} (replaced on Bedrock today: {names})", tuple(current(k) for k in step.candidates))
    named = [a for a in ranked if a.option.key in step.candidates]
    tree_picks = [a for a in named if a.meets_all]
    # The cheapest that meets every ask, else the closest miss (fewest misses): a current model before a replaced one.
    closest = [a for a in ranked if len(a.misses) == len(ranked[0].misses)]
    best = next((a for a in closest if not is_replaced(a.option)), closest[0])
    if tree_picks:
        choice = tree_picks[0]
        reason = f"the guide's tree: {step.question}; {_describe(choice)} meets every ask"
        if best.option.key != choice.option.key and best.meets_all:
            reason += f" (cheapest that does: {_describe(best)})"
        return Recommendation(choice, reason)
    why_not = "; ".join(f"{a.option.display_name} misses {', '.join(a.misses)}" for a in named) or "none of them is compared"
    reason = f"the guide's tree says {step.question}, but {why_not}"
    if best.meets_all:
        return Recommendation(best, f"{reason}. The cheapest option that meets every ask is {_describe(best)}")
    return Recommendation(
        best,
        f"{reason}. No option meets every ask; the closest is {_describe(best)}, which misses {', '.join(best.misses)}"
        f"{_latency_hint(best, asks)}",
    )


def _describe(assessment: Assessment) -> str:
    option = assessment.option
    return f"{option.display_name} on {option.hosting} at ${assessment.monthly_usd:,.0f}/month"


def _latency_hint(assessment: Assessment, asks: Asks) -> str:
    option = assessment.option
    if asks.latency_seconds is None or asks.streaming or assessment.latency_seconds <= asks.latency_seconds:
        return ""
    if option.first_token_seconds <= asks.latency_seconds:
        speed = asks.traffic.output_tokens / (option.response_seconds - option.first_token_seconds)
        room = math.floor(round((asks.latency_seconds - option.first_token_seconds) * speed, 6))
        return f" (it streams its first token in {option.first_token_seconds:g} s: try --streaming, or --output-tokens {room})"
    return ""
