"""Per-target figures from the request records, with numpy (percentiles) and scipy (bootstrap, Wilson intervals).

- latency p50/p90/p99: of successful requests, end to end (numpy's default linear interpolation between ranks);
- ttft p50/p90: time to first token of successful streamed requests;
- tokens_per_s: median over successful requests of output tokens / end-to-end latency;
- error_rate: failed / all requests, with a 95% Wilson score interval; throttle_rate likewise for requests that
  failed throttled or needed a throttling retry;
- quality: mean of the requests' quality scores (0..1), 95% bootstrap percentile interval (scipy.stats.bootstrap,
  fixed seed, so a rerun on the same records prints the same interval);
- cost_per_1k: the mean cost of a request x 1,000 (all requests, errors included; judge calls not included);
- share (a router's ``ROUTER@ROUTE`` rows only): the route's answers / the router's answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from evaluation.measure import Record
from evaluation.targets import Target

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 16


@dataclass(frozen=True)
class Summary:
    target: str
    requests: int
    ok: int
    errors: int
    throttled: int
    p50: float | None
    p90: float | None
    p99: float | None
    ttft_p50: float | None
    ttft_p90: float | None
    tokens_per_s: float | None
    error_rate: float
    error_rate_ci: tuple[float, float]
    throttle_rate: float
    quality: float | None
    quality_ci: tuple[float, float] | None
    quality_n: int
    cost_usd: float  # total of the requests' known costs
    cost_per_1k: float | None
    cost_unknown: int  # requests whose cost is not known (e.g. no token usage reported)
    judge_cost_usd: float
    latency_budget_seconds: float
    share: float | None = None  # a router's route (ROUTER@ROUTE): its share of the router's answers

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metric(self, name: str) -> float | None:
        value = getattr(self, name)
        return None if value is None else float(value)


def percentiles(values: Sequence[float], points: Sequence[float]) -> list[float | None]:
    if not values:
        return [None for _ in points]
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), points)]


def wilson(successes: int, total: int) -> tuple[float, float]:
    if total == 0:
        return (0.0, 1.0)
    interval = scipy_stats.binomtest(successes, total).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return (float(interval.low), float(interval.high))


def mean_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """95% bootstrap percentile interval of the mean; a single value or identical values give a zero-width interval."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    if len(data) < 2 or np.all(data == data[0]):
        return (float(data.mean()), float(data.mean()))
    result = scipy_stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def summarize(target: str, records: Sequence[Record], latency_budget_seconds: float) -> Summary:
    ok = [r for r in records if r.ok]
    latencies = [r.latency_seconds for r in ok]
    ttfts = [r.ttft_seconds for r in ok if r.ttft_seconds is not None]
    rates = [rate for r in ok if (rate := r.tokens_per_second) is not None]
    qualities = [r.quality for r in records if r.quality is not None]
    errors = len(records) - len(ok)
    throttled = sum(1 for r in records if r.error_kind == "throttled" or r.throttle_retries)
    costs = [r.cost_usd for r in records if r.cost_usd is not None]
    p50, p90, p99 = percentiles(latencies, (50, 90, 99))
    ttft_p50, ttft_p90 = percentiles(ttfts, (50, 90))
    total = len(records)
    return Summary(
        target=target,
        requests=total,
        ok=len(ok),
        errors=errors,
        throttled=throttled,
        p50=p50,
        p90=p90,
        p99=p99,
        ttft_p50=ttft_p50,
        ttft_p90=ttft_p90,
        tokens_per_s=float(np.median(rates)) if rates else None,
        error_rate=errors / total if total else 0.0,
        error_rate_ci=wilson(errors, total),
        throttle_rate=throttled / total if total else 0.0,
        quality=float(np.mean(qualities)) if qualities else None,
        quality_ci=mean_interval(qualities),
        quality_n=len(qualities),
        cost_usd=float(sum(costs)),
        cost_per_1k=float(np.mean(costs)) * 1000 if costs else None,
        cost_unknown=total - len(costs),
        judge_cost_usd=float(sum(r.judge_cost_usd for r in records)),
        latency_budget_seconds=latency_budget_seconds,
    )


def route_summaries(target: Target, records: Sequence[Record]) -> list[Summary]:
    """A router's routes, one ``ROUTER@ROUTE`` summary each: the requests that route answered, and their share of
    the router's answers (a request no route answered counts in the router's own row, as an error)."""
    answered = [r for r in records if r.ok]
    summaries = []
    for route in target.routes:
        mine = [r for r in answered if r.route == route.endpoint]
        summary = summarize(target.route_label(route.endpoint), mine, route.latency_budget_seconds)
        summaries.append(replace(summary, share=len(mine) / len(answered) if answered else None))
    return summaries
