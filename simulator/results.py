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

    def __post_init__(self) -> None:
        assert self.served + self.failed == self.requests, "every request is served or failed"

    @property
    def failed_share(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed_share"] = self.failed_share
        # A minute without a finished request has no p90: null, not NaN (which is not JSON).
        data["timeline"]["p90_seconds"] = [None if math.isnan(v) else v for v in self.timeline.p90_seconds]
        return data
