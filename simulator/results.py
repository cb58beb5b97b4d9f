"""What a simulation run reports: the summary (also `--json`), and the per-minute timeline the chart draws."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
# Latency histogram: log-spaced bins from 1 ms to 1e5 s, 0.5% wide (the fast engine's percentile resolution).
BIN_WIDTH = np.log(1.005)
BIN_EDGES = np.exp(np.log(1e-3) + BIN_WIDTH * np.arange(int(np.log(1e8) / BIN_WIDTH) + 1))


class Histogram:
    """Latencies in log bins, so a day of 86.4 M requests needs 30 KB, not 700 MB."""

    def __init__(self) -> None:
        self.counts = np.zeros(BIN_EDGES.size + 1, dtype=np.int64)

    def add(self, values: FloatArray) -> None:
        if values.size:
            # The bin by arithmetic (searchsorted's index: values below the first edge go to 0, above the last to -1).
            index = np.floor((np.log(np.maximum(values, 1e-12)) - np.log(1e-3)) / BIN_WIDTH).astype(np.int64) + 1
            self.counts += np.bincount(np.clip(index, 0, self.counts.size - 1), minlength=self.counts.size)

    def quantile(self, q: float) -> float:
        total = int(self.counts.sum())
        if total == 0:
            return 0.0
        index = int(np.searchsorted(np.cumsum(self.counts), q * total))
        index = min(max(index, 1), BIN_EDGES.size - 1)
        return float(np.sqrt(BIN_EDGES[index - 1] * BIN_EDGES[index]))  # the bin's geometric middle

    def share_above(self, limit: float) -> float:
        total = int(self.counts.sum())
        return float(self.counts[np.searchsorted(BIN_EDGES, limit) + 1 :].sum() / total) if total else 0.0


@dataclass
class Timeline:
    """Per minute: requests per second, mean requests in flight (queued included), instances billed, p90 latency."""

    requests_per_second: list[float] = field(default_factory=list)
    in_flight: list[float] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)
    p90_seconds: list[float] = field(default_factory=list)


@dataclass
class Summary:
    """The documented `--json` fields (docs/capacity.md#json). ``served + failed == requests`` always."""

    engine: str
    requests: int
    served: int
    failed: int
    failed_timeout: int
    failed_no_capacity: int
    mean_s: float
    p50_s: float
    p90_s: float
    p99_s: float
    ttft_p50_s: float
    ttft_p90_s: float
    ttft_p99_s: float
    latency_budget_s: float
    over_budget_share: float
    cold_start_requests: int
    peak_instances: int
    instance_hours: float
    cost_usd: float
    hourly_usd: float
    duration_hours: float
    bedrock_model: str = ""
    bedrock_cost_usd: float = 0.0
    timeline: Timeline = field(default_factory=Timeline)
    # The served requests' latencies and times to first token, binned: what a split's variants merge (not in JSON).
    latency_histogram: Histogram = field(default_factory=Histogram, repr=False, compare=False)
    ttft_histogram: Histogram = field(default_factory=Histogram, repr=False, compare=False)

    def __post_init__(self) -> None:
        assert self.served + self.failed == self.requests, "every request is served or failed"

    @property
    def failed_share(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latency_histogram"], data["ttft_histogram"]
        data["failed_share"] = self.failed_share
        # A minute without a finished request has no p90: null, not NaN (which is not JSON).
        data["timeline"]["p90_seconds"] = [None if math.isnan(v) else v for v in self.timeline.p90_seconds]
        return data


def combine(parts: list[Summary]) -> Summary:
    """A migration split's variants as one endpoint: counts, instances and costs add up, percentiles come from the
    merged histograms, and each minute of the timeline adds up (its p90: the slower variant's)."""
    latency, ttft = Histogram(), Histogram()
    for part in parts:
        latency.counts += part.latency_histogram.counts
        ttft.counts += part.ttft_histogram.counts
    requests = sum(p.requests for p in parts)
    served = sum(p.served for p in parts)
    hours = sum(p.instance_hours for p in parts)
    cost = sum(p.cost_usd for p in parts)
    minutes = max(len(p.timeline.instances) for p in parts)

    def column(name: str, merge: Any) -> list[Any]:
        rows = [getattr(p.timeline, name) for p in parts]
        return [merge([r[i] for r in rows if i < len(r)]) for i in range(minutes)]

    return Summary(
        engine="+".join(dict.fromkeys(p.engine for p in parts)),
        requests=requests,
        served=served,
        failed=sum(p.failed for p in parts),
        failed_timeout=sum(p.failed_timeout for p in parts),
        failed_no_capacity=sum(p.failed_no_capacity for p in parts),
        mean_s=sum(p.mean_s * p.served for p in parts) / served if served else 0.0,
        p50_s=latency.quantile(0.5),
        p90_s=latency.quantile(0.9),
        p99_s=latency.quantile(0.99),
        ttft_p50_s=ttft.quantile(0.5),
        ttft_p90_s=ttft.quantile(0.9),
        ttft_p99_s=ttft.quantile(0.99),
        latency_budget_s=min(p.latency_budget_s for p in parts),
        over_budget_share=sum(p.over_budget_share * p.requests for p in parts) / requests if requests else 0.0,
        cold_start_requests=sum(p.cold_start_requests for p in parts),
        peak_instances=sum(p.peak_instances for p in parts),
        instance_hours=hours,
        cost_usd=cost,
        hourly_usd=cost / hours if hours else 0.0,
        duration_hours=max(p.duration_hours for p in parts),
        timeline=Timeline(
            requests_per_second=column("requests_per_second", sum),
            in_flight=column("in_flight", sum),
            instances=column("instances", sum),
            p90_seconds=column("p90_seconds", lambda values: max(values, default=math.nan)),
        ),
        latency_histogram=latency,
        ttft_histogram=ttft,
    )
