"""Speed of the capacity simulator's fast engine (issue 25, item 6): one simulated day at 1,000 requests/s
(86.4 million requests) on one core, printing run time and peak memory. Not a timed test: figures to read.

    .venv/bin/python scripts/bench_simulate.py [--rate 1000] [--hours 24]

Traffic: Poisson arrivals at --rate, prompt and output tokens drawn from the shipped Azure code trace's mix,
generated an hour at a time (so the requests never sit in memory at once); mistral-7b on ml.g5.xlarge with its
configured target and up to 2,000 instances, starting at the count the rate needs.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.config import load_deployment
from simulator.exact import Limits
from simulator.fast import Chunk, simulate_chunks
from simulator.recommend import full_throughput
from simulator.traffic import SHIPPED_TRACE, Workload, read_trace


def hourly_chunks(rate: float, hours: int, mix: Workload, seed: int) -> Iterator[Chunk]:
    rng = np.random.default_rng(seed)
    for hour in range(hours):
        counts = rng.poisson(rate, 3600)
        total = int(counts.sum())
        arrivals = np.repeat(np.arange(3600, dtype=np.float64) + hour * 3600, counts) + rng.random(total)
        arrivals.sort()
        picks = rng.integers(0, mix.requests, total)
        yield arrivals, mix.input_tokens[picks], mix.output_tokens[picks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (default: 1000)")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours (default: 24)")
    args = parser.parse_args()
    mix = read_trace(SHIPPED_TRACE)
    deployment = load_deployment(["model=mistral"])
    service = deployment.service("ml.g5.xlarge", float(mix.input_tokens.mean()), float(mix.output_tokens.mean()))
    needed = math.ceil(args.rate / full_throughput(mix, service))
    # The floor at what the rate needs: the configured target alone would scale in below it (docs/capacity.md).
    policy = replace(deployment.policy, min_instances=needed, max_instances=2 * needed, initial_instances=needed)
    limits = Limits(deployment.model.latency_budget_seconds, 60, 600)
    expected = int(args.rate * args.hours * 3600)
    shell = Workload(np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), args.hours * 3600.0, "bench")
    started = time.process_time()
    wall = time.perf_counter()
    summary = simulate_chunks(hourly_chunks(args.rate, args.hours, mix, seed=1), shell, service, policy, limits)
    cpu = time.process_time() - started
    elapsed = time.perf_counter() - wall
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"fast engine: {args.hours} h at {args.rate:g} requests/s, ~{expected / 1e6:.1f} M requests"
        f" (simulated {summary.requests:,})"
    )
    print(
        f"  CPU time {cpu:.1f} s (wall {elapsed:.1f} s; goal <= 60 s on one core),"
        f" peak memory {peak_mb:,.0f} MB (goal <= 2,048 MB)"
    )
    print(
        f"  result: p90 {summary.p90_s:.2f} s, failed {summary.failed_share:.3%}, peak {summary.peak_instances} instances,"
        f" {summary.instance_hours:,.0f} instance-hours, ${summary.cost_usd:,.0f}"
    )


if __name__ == "__main__":
    main()
