"""The fast engine: the same service model and the same autoscaler as the exact engine (simulator/exact.py), stepped
once a second over the whole fleet, with numpy doing each step's requests at once. A day at 1,000 requests/s
(86.4 million requests) runs in well under a minute in a few hundred MB (scripts/bench_simulate.py).

What it trades for that speed (tests/test_simulator.py keeps it within 5% of the exact engine's p90 and 2% of its
instance-hours on the shipped trace):

- time is in 1 s steps: a request starts at the step it can (at its arrival within that step, else the step's start),
  and its completion frees its batch slot at the start of the step it falls in;
- a request's service time is fixed when it starts, at the batch it will run in: the fleet's requests in flight per
  instance (running and queued, at most max batch), rather than following each decode step as the batch changes;
- the fleet is balanced: every instance holds the same share (least-outstanding-requests routing);
- latency percentiles come from a histogram of 0.5%-wide log bins (simulator/results.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from simulator.exact import Counts, Limits, summarize
from simulator.results import Histogram, Summary, Timeline
from simulator.scaling import METRIC_PERIOD, TICKS_PER_MINUTE, Autoscaler, Policy
from simulator.service import ServiceModel
from simulator.traffic import FloatArray, IntArray, Workload

STEP = 1.0
STEPS_PER_TICK = round(METRIC_PERIOD / STEP)
RING = 1 << 17  # steps of completions ahead (36 h): longer requests finish at the horizon
Chunk = tuple[FloatArray, IntArray, IntArray]


def simulate_fast(workload: Workload, service: ServiceModel, policy: Policy, limits: Limits) -> Summary:
    """The fast engine on an in-memory workload."""
    return simulate_chunks(
        iter([(workload.arrivals, workload.input_tokens, workload.output_tokens)]), workload, service, policy, limits
    )


def simulate_chunks(
    chunks: Iterator[Chunk], workload: Workload, service: ServiceModel, policy: Policy, limits: Limits
) -> Summary:
    """The fast engine on requests given in time-ordered chunks (e.g. an hour of generated traffic at a time), so a
    day of 86.4 M requests never sits in memory at once. ``workload`` gives the duration and request count (its
    arrays may be empty)."""
    batch = service.max_batch
    arrivals, inputs, outputs = np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64)
    head = 0  # first request not yet started (or lost)
    arrived = 0  # first request not yet arrived
    exhausted = False
    scaler = Autoscaler(policy, start=workload.start)
    ring = np.zeros(RING, dtype=np.int64)  # batch slots freed at each step
    # Seconds in service per step, for the concurrency metric (a time average, as SageMaker's): whole steps a
    # request spans (a running count kept by differences) plus the parts of the steps it starts and ends in.
    whole_diff = np.zeros(RING, dtype=np.int64)
    partial = np.zeros(RING)
    whole = 0
    running = 0
    capacity_since = 0.0 if scaler.in_service else math.inf
    latency_hist, ttft_hist = Histogram(), Histogram()
    latency_sum = 0.0
    counts = {"timeout": 0, "lost": 0, "over": 0, "cold": 0, "total": 0}
    timeline = Timeline()
    window_in_flight = 0.0
    window_requests = 0
    minute_latencies: list[FloatArray] = []
    minute_ttft: list[FloatArray] = []
    minute_arrivals = 0
    minute_in_flight = 0.0
    step = 0
    end_steps = math.ceil(workload.duration / STEP)
    while True:
        t0, t1 = step * STEP, (step + 1) * STEP
        while not exhausted and (arrivals.size == 0 or arrivals[-1] < t1):
            chunk = next(chunks, None)
            if chunk is None:
                exhausted = True
                break
            arrivals = np.concatenate([arrivals[head:], chunk[0]])
            inputs = np.concatenate([inputs[head:], chunk[1]])
            outputs = np.concatenate([outputs[head:], chunk[2]])
            arrived -= head
            head = 0
        slot = step % RING
        running -= int(ring[slot])
        ring[slot] = 0
        before = scaler.in_service
        scaler.promote(t0)
        if before == 0 and scaler.in_service > 0:
            capacity_since = t0
        new_arrived = int(np.searchsorted(arrivals, t1, side="left"))
        window_requests += new_arrived - arrived
        minute_arrivals += new_arrived - arrived
        arrived = new_arrived
        k = scaler.in_service
        if k > 0 and head < arrived:
            if capacity_since > 0:  # requests that waited out a cold start longer than the client's budget gave up
                gave_up = int(np.searchsorted(arrivals[head:arrived], capacity_since - limits.client_wait_seconds))
                counts["lost"] += gave_up
                head += gave_up
            start = min(k * batch - running, arrived - head)
            if start > 0:
                index = slice(head, head + start)
                head += start
                queued = arrived - head
                arrival = arrivals[index]
                begins = np.maximum(arrival, t0)
                prefill = service.prefill(inputs[index])
                n = _batch(service, k, running + queued, start, float(prefill.mean()), float(outputs[index].mean()))
                first = begins + n * prefill
                finish = first + outputs[index] * service.decode_table[n]
                latency = finish - arrival
                waited_at_zero = arrival < capacity_since
                own = latency - np.where(waited_at_zero, capacity_since - arrival, 0.0)
                counts["timeout"] += int((own > limits.timeout_seconds).sum())
                counts["over"] += int((latency > limits.latency_budget_seconds).sum())
                counts["cold"] += int(waited_at_zero.sum())
                counts["total"] += start
                latency_sum += float(latency.sum())
                minute_latencies.append(latency)
                minute_ttft.append(first - arrival)
                _spread(begins, np.minimum(finish, (step + RING - 1) * STEP), step, whole_diff, partial)
                done_step = np.minimum(np.rint(finish / STEP).astype(np.int64), step + RING - 1)
                done_step = np.maximum(done_step, step + 1)
                np.add.at(ring, done_step % RING, 1)
                running += start
        queued = arrived - head
        whole += int(whole_diff[slot])
        in_flight = whole + float(partial[slot]) / STEP + (queued if k > 0 else 0)
        whole_diff[slot] = 0
        partial[slot] = 0.0
        window_in_flight += in_flight
        minute_in_flight += in_flight
        step += 1
        if step % STEPS_PER_TICK == 0:
            refused = queued if k == 0 else 0
            scaler.tick(step * STEP, window_in_flight / STEPS_PER_TICK, window_requests, refused)
            if scaler.in_service < k and scaler.in_service == 0:
                capacity_since = math.inf
            window_in_flight, window_requests = 0.0, 0
            if step % (STEPS_PER_TICK * TICKS_PER_MINUTE) == 0:
                latencies = np.concatenate(minute_latencies) if minute_latencies else np.empty(0)
                latency_hist.add(latencies)
                ttft_hist.add(np.concatenate(minute_ttft) if minute_ttft else np.empty(0))
                timeline.requests_per_second.append(minute_arrivals / 60)
                timeline.in_flight.append(minute_in_flight / 60 / STEP)
                timeline.instances.append(scaler.desired)
                timeline.p90_seconds.append(float(np.percentile(latencies, 90)) if latencies.size else math.nan)
                minute_latencies, minute_ttft, minute_arrivals, minute_in_flight = [], [], 0, 0.0
        if step >= end_steps and exhausted and head >= arrivals.size and running == 0:
            break
    if minute_latencies:  # the last, partial minute
        latency_hist.add(np.concatenate(minute_latencies))
        ttft_hist.add(np.concatenate(minute_ttft))
    return summarize(
        "fast",
        workload,
        counts["total"] + counts["lost"],
        policy,
        limits,
        Counts(
            failed_timeout=counts["timeout"],
            failed_no_capacity=counts["lost"],
            over_budget=counts["over"],
            cold_starts=counts["cold"],
        ),
        (latency_hist.quantile(0.5), latency_hist.quantile(0.9), latency_hist.quantile(0.99)),
        latency_sum / max(1, counts["total"]),
        (ttft_hist.quantile(0.5), ttft_hist.quantile(0.9), ttft_hist.quantile(0.99)),
        scaler,
        timeline,
        (latency_hist, ttft_hist),
    )


def _batch(service: ServiceModel, instances: int, others: int, starting: int, prefill: float, output: float) -> int:
    """The batch the requests starting in this step run in, per instance: the requests already in (or queued for) the
    fleet, plus this step's, each of which overlaps the others for its service time out of the step (Little's law:
    a request of 0.5 s starting in a 1 s step is in flight half of it). The service time depends on the batch, so
    iterate to the fixed point (three rounds settle it)."""
    batch = service.max_batch
    n = max(1, min(batch, round((others + starting) / instances)))
    for _ in range(3):
        seconds = n * prefill + output * float(service.decode_table[n])
        overlap = min(1.0, seconds / STEP)
        n = max(1, min(batch, round((others + starting * overlap) / instances)))
    return n


def _spread(begins: FloatArray, finish: FloatArray, step: int, whole_diff: IntArray, partial: FloatArray) -> None:
    """Add each request's time in service, ``begins`` (within ``step``) to ``finish``, to the per-step rings."""
    last = (finish // STEP).astype(np.int64)
    same = last == step
    partial[step % RING] += float((finish[same] - begins[same]).sum() + ((step + 1) * STEP - begins[~same]).sum())
    later = last[~same]
    np.add.at(partial, later % RING, finish[~same] - later * STEP)
    whole_diff[(step + 1) % RING] += later.size
    np.add.at(whole_diff, later % RING, -1)
