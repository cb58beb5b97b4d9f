"""The capacity simulator (simulator/, ./tasks.sh simulate): correct by construction (issue 25, item 5), and its
command line's output and bad-input messages."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from simulator.cli import main
from simulator.config import load_deployment
from simulator.exact import Limits, simulate_exact
from simulator.fast import simulate_fast
from simulator.scaling import Policy
from simulator.service import ServiceModel
from simulator.traffic import SHIPPED_TRACE, Workload, poisson_workload, read_trace

NO_LIMITS = Limits(latency_budget_seconds=10, timeout_seconds=1e9, client_wait_seconds=1e9)


def policy(**changes: object) -> Policy:
    base = Policy(
        instance_type="ml.g5.xlarge",
        hourly_usd=1.0,
        min_instances=1,
        max_instances=1,
        target_value=1e9,
        per_invocation=False,
        scale_out_cooldown=300,
        scale_in_cooldown=900,
        scales_to_zero=False,
        idle_minutes=30,
        start_seconds=525,
        cold_start_seconds=564,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def erlang_c_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue of M/M/c (Erlang C)."""
    load = arrival_rate / service_rate
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    wait_probability = top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)
    return wait_probability / (servers * service_rate - arrival_rate)


def test_fixed_capacity_matches_erlang_c() -> None:
    """Poisson arrivals, exponential service (geometric prompt lengths at 1 ms a token, mean 1 s), one request per
    instance at a time, 4 instances: the mean wait is Erlang C's within 5%."""
    rng = np.random.default_rng(7)
    servers, rate, requests = 4, 3.0, 120_000
    arrivals = np.cumsum(rng.exponential(1 / rate, requests)).astype(np.float64)
    tokens = rng.geometric(1 / 1000, requests).astype(np.int64)
    service = ServiceModel(max_batch=1, prefill_table=np.arange(tokens.max() + 1) * 1e-3, decode_table=np.zeros(2))
    workload = Workload(arrivals, tokens, np.zeros(requests, np.int64), float(arrivals[-1]), "M/M/4")
    summary = simulate_exact(workload, service, policy(min_instances=servers, max_instances=servers), NO_LIMITS)
    measured_wait = summary.mean_s - float(service.prefill(tokens).mean())
    expected = erlang_c_wait(servers, rate, 1 / float(service.prefill(tokens).mean()))
    assert measured_wait == pytest.approx(expected, rel=0.05)


def steady(count: int, spacing: float) -> Workload:
    arrivals = np.arange(count, dtype=np.float64) * spacing
    return Workload(arrivals, np.ones(count, np.int64), np.full(count, 20, np.int64), count * spacing, "steady")


def test_constant_traffic_at_the_target_does_not_scale() -> None:
    """A request every 0.5 s, each 2 s long: 4 in flight on 2 instances, 2 per instance, at a target of 2: neither
    scale-out nor scale-in fires in two hours, on either engine."""
    service = ServiceModel(max_batch=8, prefill_table=np.zeros(2), decode_table=np.full(9, 0.1))
    workload = steady(14_400, 0.5)
    at_target = policy(min_instances=1, max_instances=6, target_value=2, initial_instances=2)
    for simulate in (simulate_exact, simulate_fast):
        summary = simulate(workload, service, at_target, NO_LIMITS)
        assert summary.peak_instances == 2
        assert summary.instance_hours == pytest.approx(2 * workload.duration / 3600, rel=0.01)
        assert summary.timeline.instances and set(summary.timeline.instances) == {2}


def test_constant_traffic_above_the_target_scales_out() -> None:
    """The control for the test above: the same traffic at a target of 1 adds instances."""
    service = ServiceModel(max_batch=8, prefill_table=np.zeros(2), decode_table=np.full(9, 0.1))
    summary = simulate_exact(steady(3_600, 0.5), service, policy(max_instances=6, target_value=1, initial_instances=2), NO_LIMITS)
    assert summary.peak_instances > 2


@pytest.fixture(scope="module")
def mistral() -> tuple[ServiceModel, Policy, float]:
    deployment = load_deployment(["model=mistral"])
    return deployment.service("ml.g5.xlarge", 500, 300), deployment.policy, deployment.model.latency_budget_seconds


def test_more_traffic_never_costs_less(mistral: tuple[ServiceModel, Policy, float]) -> None:
    service, base, budget = mistral
    mix = Workload(np.zeros(1), np.array([500]), np.array([300]), 1.0, "")
    limits = Limits(budget, 60, 600)
    costs = []
    for per_hour in (10, 100, 1_000, 5_000, 20_000):
        rates = np.full(6 * 60, per_hour / 3600)
        workload = poisson_workload(rates, 60, mix, seed=3, label=f"{per_hour}/h")
        costs.append(simulate_fast(workload, service, replace(base, max_instances=40), limits).cost_usd)
    assert costs == sorted(costs)
    assert costs[-1] > costs[0]


def test_a_gap_longer_than_the_idle_time_puts_a_cold_start_on_the_next_request(
    mistral: tuple[ServiceModel, Policy, float],
) -> None:
    service, base, budget = mistral
    to_zero = replace(base, min_instances=0, scales_to_zero=True, idle_minutes=30, initial_instances=1)
    # A client that waits out the whole wake-up: the alarm's minute plus the cold start can exceed llm_client's
    # default 600 s (docs/capacity.md), and this test is about the cold start, not the client giving up.
    limits = Limits(budget, 60, 900)

    def two_requests(gap_minutes: float) -> Workload:
        arrivals = np.array([0.0, gap_minutes * 60 + 17.5])
        return Workload(arrivals, np.array([500, 500]), np.array([300, 300]), gap_minutes * 60 + 600, "two")

    for simulate in (simulate_exact, simulate_fast):
        long_gap = simulate(two_requests(45), service, to_zero, limits)
        assert long_gap.cold_start_requests == 1
        assert long_gap.failed == 0
        assert long_gap.p99_s >= to_zero.cold_start_seconds - 10  # the second request waited out the cold start
        short_gap = simulate(two_requests(20), service, to_zero, limits)
        assert short_gap.cold_start_requests == 0
        assert short_gap.p99_s < 60


def test_invocations_export_replays_its_minutes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The jq @csv form of a get-metric-data export (newest first, quoted, +00:00): 150 requests in 3 minutes."""
    export = tmp_path / "invocations.csv"
    export.write_text(
        '"Timestamp","Invocations"\n"2026-12-01T10:02:00+00:00",30\n"2026-12-01T10:01:00+00:00",0\n'
        '"2026-12-01T10:00:00+00:00",120\n'
    )
    out = tmp_path / "inv.json"
    assert main(["-c", "model=mistral", "--invocations", str(export), "--json", str(out), "--chart", str(tmp_path / "c")]) == 0
    summary = json.loads(out.read_text())
    assert 110 < summary["requests"] < 190
    assert summary["timeline"]["requests_per_second"][0] > summary["timeline"]["requests_per_second"][1]


def test_fast_engine_agrees_with_the_exact_one_on_the_shipped_trace() -> None:
    deployment = load_deployment(["model=mixtral"])
    trace = read_trace(SHIPPED_TRACE)
    service = deployment.service(deployment.policy.instance_type, trace.input_tokens.mean(), trace.output_tokens.mean())
    limits = Limits(deployment.model.latency_budget_seconds, 60, 600)
    exact = simulate_exact(trace, service, deployment.policy, limits)
    fast = simulate_fast(trace, service, deployment.policy, limits)
    assert fast.p90_s == pytest.approx(exact.p90_s, rel=0.05)
    assert fast.instance_hours == pytest.approx(exact.instance_hours, rel=0.02)
    assert fast.requests == exact.requests == trace.requests


def test_cli_prints_the_summary_and_writes_json_and_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    assert main(["-c", "model=mixtral", "--json", str(out), "--chart", str(tmp_path / "timeline")]) == 0
    printed = capsys.readouterr().out
    assert "p90" in printed and "instance-hours" in printed and "Bedrock" in printed and "CC-BY 4.0" in printed
    summary = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    documented = {
        "requests",
        "served",
        "failed",
        "p50_s",
        "p90_s",
        "p99_s",
        "over_budget_share",
        "peak_instances",
        "instance_hours",
        "cost_usd",
    }
    assert documented <= summary.keys()
    assert summary["served"] + summary["failed"] == summary["requests"] == 8819
    assert (tmp_path / "timeline.svg").read_text().lstrip().startswith("<?xml")
    assert "<svg" in (tmp_path / "timeline.html").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(text)
    return path


HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2023-11-16 18:00:01,10,5\n2023-11-16 18:00:00,10,5\n", r"trace\.csv:3: the timestamp .* is earlier.*\n  fix: sort"),
        ("2023-11-16 18:00:01,10,5\nyesterday,10,5\n", r"trace\.csv:3: cannot read the timestamp 'yesterday'"),
        ("2023-11-16 18:00:01,-10,5\n", r"trace\.csv:2: ContextTokens is '-10'"),
        ("2023-11-16 18:00:01,10,2.5\n", r"trace\.csv:2: GeneratedTokens is '2.5'"),
        ("", r"trace\.csv:2: the trace has no rows"),
    ],
)
def test_bad_traces_exit_2_naming_file_line_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    assert main(["--trace", str(write(tmp_path, HEADER + body)), "--chart", str(tmp_path / "c")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "fix:" in error
    assert re.search(message, error)


def test_a_trace_over_the_size_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("simulator.traffic.MAX_ROWS", 2)
    body = "".join(f"2023-11-16 18:00:0{i},10,5\n" for i in range(3))
    assert main(["--trace", str(write(tmp_path, HEADER + body)), "--chart", str(tmp_path / "c")]) == 2
    assert "trace.csv:4: the trace has more than 2 rows" in capsys.readouterr().err


def test_an_slo_that_can_never_be_met_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", "model=mixtral", "--recommend", "--latency-budget", "0.05", "--chart", str(tmp_path / "c")]) == 2
    error = capsys.readouterr().err
    assert "--latency-budget: a p90 of 0.05 s can never be met" in error and "fix: raise the latency budget" in error


def test_recommendation_is_confirmed_by_the_same_simulation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A short slice of the trace keeps the search quick; the printed block is what the confirming run used."""
    trace = tmp_path / "slice.csv"
    trace.write_text("".join(SHIPPED_TRACE.read_text().splitlines(keepends=True)[:1500]))
    out = tmp_path / "rec.json"
    assert (
        main(
            [
                "-c",
                "model=mistral",
                "--trace",
                str(trace),
                "--recommend",
                "--instance-type",
                "ml.g5.xlarge",
                "--json",
                str(out),
                "--chart",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "that this run confirms: p90 <= 5 s" in printed and "  scaling:\n    min_instances:" in printed
    summary = json.loads(out.read_text())
    assert summary["p90_s"] <= summary["latency_budget_s"] and summary["failed"] <= 0.001 * summary["requests"]


def test_a_scheduled_action_sets_the_range_at_its_minute() -> None:
    """`scheduled:` from a model config: at 00:10 on weekdays (Europe/Berlin is UTC+1 in December, so 23:10 UTC the
    day before: Sunday 23:10 does not fire, Monday 23:10 would) the range becomes 3-3; at 00:10 UTC (a Monday in
    UTC) a UTC action fires and three instances are wanted from that minute."""
    from llm_config.operations import ScheduledScaling
    from simulator.schedule import parse_schedules

    actions = [
        ScheduledScaling(name="berlin", cron="10 0 ? * MON-FRI *", timezone="Europe/Berlin", min_instances=5, max_instances=5),
        ScheduledScaling(name="utc", cron="10 0 ? * MON-FRI *", timezone="UTC", min_instances=3, max_instances=3),
    ]
    scheduled = policy(max_instances=6, schedules=tuple(parse_schedules(actions, "test.yaml")))
    service = ServiceModel(max_batch=8, prefill_table=np.zeros(2), decode_table=np.full(9, 0.1))
    summary = simulate_exact(steady(40, 30.0), service, scheduled, NO_LIMITS)  # 20 quiet minutes from Monday 00:00 UTC
    instances = summary.timeline.instances  # minute i's row is written as minute i + 1 begins, after its actions
    assert instances[:9] == [1] * 9
    assert instances[9:] == [3] * (len(instances) - 9)


def test_a_migration_split_sends_each_variant_its_share(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "split.json"
    flags = ["-c", "endpoint=chat", "-c", "model=mistral", "-c", "candidate=mixtral", "-c", "candidate_weight=10"]
    assert main([*flags, "--json", str(out), "--chart", str(tmp_path / "c")]) == 0
    printed = capsys.readouterr().out
    shares = {
        key: int(re.search(rf"Variant {key} \(\d+%, [^)]*\): ([\d,]+) requests", printed)[1].replace(",", ""))  # type: ignore[index]
        for key in ("mistral-7b", "mixtral-8x7b")
    }
    summary = json.loads(out.read_text())
    assert sum(shares.values()) == summary["requests"] == summary["served"] + summary["failed"]
    assert shares["mixtral-8x7b"] == pytest.approx(0.1 * summary["requests"], rel=0.15)
    assert "split mistral-7b 90% + mixtral-8x7b 10%" in printed
