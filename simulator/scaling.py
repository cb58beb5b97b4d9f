"""Application Auto Scaling as the stack deploys it, stepped every metric period (10 s) by either engine.

Target tracking (both endpoint kinds): every 10 s SageMaker emits the high-resolution concurrency metric, the
requests in flight or queued per instance, averaged over the period. ``scale_out_datapoints`` datapoints in a row
above the target fire the scale-out alarm: the desired count becomes ceil(in service x metric / target), when that
is more than the desired count already (a scale-out cooldown only lets a larger one through, which this is).
``scale_in_datapoints`` one-minute datapoints in a row below the target fire scale-in to ceil(in service x metric /
target), at most once per scale-in cooldown. The invocations-per-instance target works the same on one-minute
datapoints. New instances serve ``start_seconds`` after the decision; removed ones stop billing at once.

Scale to zero (inference components, llm_constructs/component_scaling.py): target tracking never scales in
(``disable_scale_in``) and cannot act at zero copies. A minute with a request refused for want of a copy fires the
wake alarm: +1 copy, 5-minute cooldown; it serves after the cold start. ``idle_minutes_before_zero`` minutes without
any request (served or refused) set the copies to 0. One copy per instance (every shipped config).
Constants and their sources: simulator/data/constants.yaml.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from simulator.constants import CONSTANTS, value
from simulator.schedule import Schedule, firing

METRIC_PERIOD = value("metric_period_seconds")
SCALE_OUT_DATAPOINTS = int(value("scale_out_datapoints"))
SCALE_IN_DATAPOINTS = int(value("scale_in_datapoints"))
SCALE_IN_PERIOD = float(CONSTANTS["scale_in_datapoints"]["period_seconds"])
WAKE_PERIOD = value("wake_alarm_period_seconds")
WAKE_COOLDOWN = value("wake_cooldown_seconds")
TICKS_PER_MINUTE = round(60 / METRIC_PERIOD)
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)  # second 0 of traffic without timestamps (a profile): a Monday, 00:00 UTC


@dataclass(frozen=True)
class Policy:
    """Everything `scaling:` (and the simulation's overrides) say, plus the instance and its start times."""

    instance_type: str
    hourly_usd: float
    min_instances: int
    max_instances: int
    target_value: float
    per_invocation: bool  # SageMakerVariantInvocationsPerInstance (per minute) instead of concurrency
    scale_out_cooldown: float
    scale_in_cooldown: float
    scales_to_zero: bool
    idle_minutes: int
    start_seconds: float
    cold_start_seconds: float
    initial_instances: int = 0  # in service at the start (the config's instance.initial_count); at least min
    schedules: tuple[Schedule, ...] = ()  # scaling.scheduled (variant endpoints)

    def scaling_block(self) -> str:
        """The model config's `scaling:` block for this policy (what --recommend prints to paste)."""
        metric = (
            "SageMakerVariantInvocationsPerInstance"
            if self.per_invocation
            else "SageMakerVariantConcurrentRequestsPerModelHighResolution"
        )
        lines = [
            "scaling:",
            f"  min_instances: {self.min_instances}",
            f"  max_instances: {self.max_instances}",
            f"  target_metric: {metric}",
            f"  target_value: {self.target_value:g}",
            f"  scale_out_cooldown_seconds: {self.scale_out_cooldown:g}",
            f"  scale_in_cooldown_seconds: {self.scale_in_cooldown:g}",
        ]
        if self.scales_to_zero:
            lines.append(f"  idle_minutes_before_zero: {self.idle_minutes}")
        return "\n".join(lines)


@dataclass
class Autoscaler:
    """The scalable target's state. Engines call ``promote(now)`` to bring started instances into service and
    ``tick(...)`` at the end of every metric period."""

    policy: Policy
    start: datetime = MONDAY  # the wall-clock time of second 0, for scheduled actions
    in_service: int = 0
    starting: list[float] = field(default_factory=list)  # times at which starting instances serve, sorted
    billed_seconds: float = 0.0
    peak: int = 0
    scale_events: int = 0
    _high: deque[float] = field(default_factory=lambda: deque(maxlen=SCALE_OUT_DATAPOINTS))
    _minute: list[float] = field(default_factory=list)
    _minute_requests: int = 0
    _minute_refused: int = 0
    _low: deque[float] = field(default_factory=lambda: deque(maxlen=SCALE_IN_DATAPOINTS))
    _idle_minutes: int = 0
    _last_scale_in: float = -math.inf
    _last_wake: float = -math.inf
    _ticks: int = 0

    def __post_init__(self) -> None:
        policy = self.policy
        self.in_service = min(policy.max_instances, max(policy.min_instances, policy.initial_instances))
        self.peak = self.in_service
        self.low_bound, self.high_bound = policy.min_instances, policy.max_instances  # scheduled actions change them

    @property
    def desired(self) -> int:
        return self.in_service + len(self.starting)

    def promote(self, now: float) -> int:
        """Instances whose start finished by ``now`` join; returns how many did."""
        if not self.starting or self.starting[0] > now:
            return 0
        ready = bisect.bisect_right(self.starting, now)
        del self.starting[:ready]
        self.in_service += ready
        return ready

    def tick(self, now: float, in_flight: float, requests: int, refused: int) -> int:
        """End of a metric period at ``now``: ``in_flight`` is the period's mean of requests in flight or queued
        across in-service instances, ``requests`` the requests that arrived, ``refused`` those that found no copy
        (scale to zero). Returns the change in desired instances (negative: removed now)."""
        self.billed_seconds += self.desired * METRIC_PERIOD
        self._ticks += 1
        before = self.desired
        policy = self.policy
        self._minute_requests += requests
        self._minute_refused += refused
        metric = None
        if self.in_service > 0:
            metric = in_flight / self.in_service
        if not policy.per_invocation and metric is not None:
            self._high.append(metric)
            self._minute.append(metric)
            if len(self._high) == SCALE_OUT_DATAPOINTS and min(self._high) > policy.target_value:
                self._scale_out(now, metric)
        if self._ticks % TICKS_PER_MINUTE == 0:
            self._end_of_minute(now)
        self.peak = max(self.peak, self.desired)
        return self.desired - before

    def _end_of_minute(self, now: float) -> None:
        policy = self.policy
        action = firing(list(policy.schedules), self.start, now) if policy.schedules else None
        if action is not None:
            self._apply_range(action.min_instances, action.max_instances, now)
        if policy.per_invocation and self.in_service > 0:
            per_instance = self._minute_requests / self.in_service
            self._high.append(per_instance)
            self._minute.append(per_instance)
            if len(self._high) == SCALE_OUT_DATAPOINTS and min(self._high) > policy.target_value:
                self._scale_out(now, per_instance)
        if self._minute:
            self._low.append(sum(self._minute) / len(self._minute))
        elif self.in_service == 0:
            self._low.clear()
        self._minute = []
        if policy.scales_to_zero:
            self._zero_rules(now)
        elif (
            len(self._low) == SCALE_IN_DATAPOINTS
            and max(self._low) < policy.target_value
            and now - self._last_scale_in >= policy.scale_in_cooldown
        ):
            wanted = max(self.low_bound, math.ceil(self.in_service * self._low[-1] / policy.target_value))
            self._remove(self.desired - wanted, now)
        self._minute_requests = self._minute_refused = 0

    def _zero_rules(self, now: float) -> None:
        policy = self.policy
        self._idle_minutes = self._idle_minutes + 1 if self._minute_requests == 0 else 0
        if self.desired > 0 and self._idle_minutes >= policy.idle_minutes:
            self._remove(self.desired, now)
        elif self._minute_refused > 0 and now - self._last_wake >= WAKE_COOLDOWN and self.desired < policy.max_instances:
            self._last_wake = now
            bisect.insort(self.starting, now + (policy.cold_start_seconds if self.in_service == 0 else policy.start_seconds))
            self.scale_events += 1

    def _scale_out(self, now: float, metric: float) -> None:
        policy = self.policy
        wanted = min(self.high_bound, math.ceil(self.in_service * metric / policy.target_value))
        if self.policy.scales_to_zero and self.desired == 0:
            return  # target tracking cannot act at zero copies
        if wanted > self.desired:
            start = policy.start_seconds
            for _ in range(wanted - self.desired):
                bisect.insort(self.starting, now + start)
            self.scale_events += 1
            self._high.clear()

    def _apply_range(self, low: int, high: int, now: float) -> None:
        """A scheduled action: the new range, and the capacity moved into it at once."""
        self.low_bound, self.high_bound = low, high
        for _ in range(low - self.desired):
            bisect.insort(self.starting, now + self.policy.start_seconds)
        if self.desired > high:
            self._remove(self.desired - high, now)
        self.scale_events += 1

    def _remove(self, count: int, now: float) -> None:
        """Remove ``count`` instances, starting ones first (they serve nobody yet)."""
        if count <= 0:
            return
        self._last_scale_in = now
        self.scale_events += 1
        self._low.clear()
        while count and self.starting:
            self.starting.pop()
            count -= 1
        self.in_service -= count
