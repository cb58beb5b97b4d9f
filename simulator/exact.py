"""The exact engine: a per-request event simulation. Every request is followed through its prompt's prefill and
every decode step's share (simulator/service.py), on the instance it was sent to, while autoscaling
(simulator/scaling.py) adds and removes instances every 10 s. Exact within the service model; about 10^4-10^5
requests per second of run time, so it is the reference the fast engine is tested against and the engine for traces
of up to a few hundred thousand requests.

Routing: a request goes to the in-service instance with the fewest requests running, if one has a free batch slot;
otherwise it waits in one queue for the fleet, first in first out (SageMaker's least-outstanding-requests routing,
with the containers' queues merged). At zero instances (scale to zero) requests wait for the cold start: the client
retries "no capacity" and fails after its cold-start budget.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from simulator.results import Histogram, Summary, Timeline
from simulator.scaling import METRIC_PERIOD, TICKS_PER_MINUTE, Autoscaler, Policy
from simulator.service import ServiceModel
from simulator.traffic import Workload


@dataclass(frozen=True)
class Limits:
    """What makes a request fail or count as slow."""

    latency_budget_seconds: float
    timeout_seconds: float
    client_wait_seconds: float


@dataclass
class _Instance:
    # Each running request: [prefill seconds left, tokens left, request index].
    running: list[list[float]] = field(default_factory=list)
    draining: bool = False

    def next_phase(self, service: ServiceModel) -> float:
        """Seconds until the next running request finishes its prefill or its last token."""
        n = len(self.running)
        step = float(service.decode_table[min(n, service.max_batch)])
        return min(r[0] * n if r[0] > 0 else r[1] * step for r in self.running)

    def advance(self, seconds: float, service: ServiceModel) -> None:
        n = len(self.running)
        step = float(service.decode_table[min(n, service.max_batch)])
        for r in self.running:
            if r[0] > 0:
                r[0] -= seconds / n
            else:
                r[1] -= seconds / step


EPSILON = 1e-9


def simulate_exact(workload: Workload, service: ServiceModel, policy: Policy, limits: Limits) -> Summary:
    n_requests = workload.requests
    arrivals = workload.arrivals
    prefill = service.prefill(workload.input_tokens)
    outputs = workload.output_tokens.astype(np.float64)
    first_token = np.full(n_requests, np.nan)
    finish = np.full(n_requests, np.nan)
    zero_wait = np.zeros(n_requests)  # seconds a request waited with no instance in service (a cold start)
    lost = np.zeros(n_requests, dtype=bool)  # gave up waiting for a copy
    scaler = Autoscaler(policy, start=workload.start)
    instances = [_Instance() for _ in range(scaler.in_service)]
    queue: deque[int] = deque()
    arrived_at_zero: set[int] = set()
    capacity_since = [0.0]  # when the last instance came into service after none (a list: set in a closure)
    timeline = Timeline()
    minute_in_flight = 0.0
    window_in_flight = 0.0
    window_requests = 0
    now = 0.0
    next_arrival = 0
    next_tick = METRIC_PERIOD
    ticks = 0
    end = workload.duration

    def routable() -> list[_Instance]:
        return [i for i in instances if not i.draining]

    def dispatch(index: int, at: float) -> None:
        candidates = [i for i in routable() if len(i.running) < service.max_batch]
        target = min(candidates, key=lambda i: len(i.running))
        if index in arrived_at_zero:
            zero_wait[index] = capacity_since[0] - arrivals[index]
        target.running.append([float(prefill[index]), float(outputs[index]), float(index)])

    def fill_from_queue(at: float) -> None:
        while queue and any(len(i.running) < service.max_batch for i in routable()):
            dispatch(queue.popleft(), at)

    def sync_instances(at: float) -> None:
        active = routable()
        if not active and scaler.in_service:
            # Capacity is back: clients that have retried "no capacity" for longer than their budget gave up.
            capacity_since[0] = at
            while queue and at - arrivals[queue[0]] > limits.client_wait_seconds:
                lost[queue.popleft()] = True
        if len(active) < scaler.in_service:
            instances.extend(_Instance() for _ in range(scaler.in_service - len(active)))
        for instance in sorted(active, key=lambda i: len(i.running))[: max(0, len(active) - scaler.in_service)]:
            instance.draining = True
        instances[:] = [i for i in instances if not (i.draining and not i.running)]
        fill_from_queue(at)

    while next_arrival < n_requests or queue or any(i.running for i in instances) or now < end:
        t_arrival = arrivals[next_arrival] if next_arrival < n_requests else math.inf
        busy = [i for i in instances if i.running]
        t_phase = now + min((i.next_phase(service) for i in busy), default=math.inf)
        t_ready = min(scaler.starting, default=math.inf)
        t_next = min(t_arrival, t_phase, next_tick, t_ready)
        if t_next == math.inf:
            break
        elapsed = t_next - now
        in_flight = sum(len(i.running) for i in instances) + (len(queue) if scaler.in_service else 0)
        window_in_flight += in_flight * elapsed
        for instance in busy:
            instance.advance(elapsed, service)
        now = t_next
        for instance in busy:
            done = [r for r in instance.running if r[0] <= EPSILON and r[1] <= EPSILON]
            for r in instance.running:
                if r[0] <= EPSILON and np.isnan(first_token[int(r[2])]):
                    r[0] = 0.0
                    first_token[int(r[2])] = now
            for r in done:
                finish[int(r[2])] = now
                instance.running.remove(r)
        if t_next == t_ready:
            scaler.promote(now)
            sync_instances(now)
        while next_arrival < n_requests and arrivals[next_arrival] <= now:
            window_requests += 1
            if scaler.in_service == 0:
                arrived_at_zero.add(next_arrival)
            queue.append(next_arrival)
            next_arrival += 1
        fill_from_queue(now)
        instances[:] = [i for i in instances if not (i.draining and not i.running)]
        if now >= next_tick - EPSILON:
            refused = len(queue) if scaler.in_service == 0 else 0
            scaler.tick(next_tick, window_in_flight / METRIC_PERIOD, window_requests, refused)
            scaler.promote(now)
            sync_instances(now)
            minute_in_flight += window_in_flight
            ticks += 1
            if ticks % TICKS_PER_MINUTE == 0:
                lo, hi = np.searchsorted(arrivals, [next_tick - 60, next_tick])
                timeline.requests_per_second.append(float(hi - lo) / 60)
                timeline.in_flight.append(minute_in_flight / 60)
                timeline.instances.append(scaler.desired)
                minute_in_flight = 0.0
            window_in_flight = 0.0
            window_requests = 0
            next_tick += METRIC_PERIOD

    served_mask = ~lost
    latency = finish - arrivals
    ttft = first_token - arrivals
    own = latency - zero_wait  # the successful call alone: what SageMaker's 60 s timeout applies to
    timed_out = served_mask & (own > limits.timeout_seconds)
    # Each minute's p90: the requests that arrived in it (known only now: the slow ones finish minutes later).
    minute_of = (arrivals // 60).astype(np.int64)
    for minute in range(len(timeline.instances)):
        lo, hi = np.searchsorted(minute_of, [minute, minute + 1])
        arrived = latency[lo:hi][served_mask[lo:hi]]
        timeline.p90_seconds.append(float(np.percentile(arrived, 90)) if arrived.size else math.nan)
    return summarize(
        "exact",
        workload,
        n_requests,
        policy,
        limits,
        Counts(
            failed_timeout=int(timed_out.sum()),
            failed_no_capacity=int(lost.sum()),
            over_budget=int((latency[served_mask] > limits.latency_budget_seconds).sum()),
            cold_starts=int((zero_wait > 0).sum()),
        ),
        exact_quantiles(latency[served_mask]),
        float(latency[served_mask].mean()) if served_mask.any() else 0.0,
        exact_quantiles(ttft[served_mask]),
        scaler,
        timeline,
        (histogram(latency[served_mask]), histogram(ttft[served_mask])),
    )


def histogram(values: np.ndarray) -> Histogram:
    binned = Histogram()
    binned.add(values)
    return binned


def exact_quantiles(values: np.ndarray) -> tuple[float, float, float]:
    if not values.size:
        return (0.0, 0.0, 0.0)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return float(p50), float(p90), float(p99)


@dataclass(frozen=True)
class Counts:
    failed_timeout: int
    failed_no_capacity: int
    over_budget: int  # served requests slower than the budget (failures are counted over budget too)
    cold_starts: int


def summarize(
    engine: str,
    workload: Workload,
    requests: int,
    policy: Policy,
    limits: Limits,
    counts: Counts,
    latency: tuple[float, float, float],
    mean_latency: float,
    ttft: tuple[float, float, float],
    scaler: Autoscaler,
    timeline: Timeline,
    histograms: tuple[Histogram, Histogram],
) -> Summary:
    failed = counts.failed_timeout + counts.failed_no_capacity
    hours = scaler.billed_seconds / 3600
    return Summary(
        engine=engine,
        requests=requests,
        served=requests - failed,
        failed=failed,
        failed_timeout=counts.failed_timeout,
        failed_no_capacity=counts.failed_no_capacity,
        mean_s=mean_latency,
        p50_s=latency[0],
        p90_s=latency[1],
        p99_s=latency[2],
        ttft_p50_s=ttft[0],
        ttft_p90_s=ttft[1],
        ttft_p99_s=ttft[2],
        latency_budget_s=limits.latency_budget_seconds,
        over_budget_share=(counts.over_budget + counts.failed_no_capacity) / requests if requests else 0.0,
        cold_start_requests=counts.cold_starts,
        peak_instances=scaler.peak,
        instance_hours=hours,
        cost_usd=hours * policy.hourly_usd,
        hourly_usd=policy.hourly_usd,
        duration_hours=workload.duration / 3600,
        timeline=timeline,
        latency_histogram=histograms[0],
        ttft_histogram=histograms[1],
    )
