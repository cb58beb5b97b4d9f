"""`./tasks.sh simulate`: replay traffic against what the stack deploys (its instance type, throughput, max batch and
every `scaling:` setting) and report latency, failures, instances and cost, beside Bedrock per token."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from llm_config import ConfigError, ModelRegistry
from llm_config.cli_args import positive_number, whole_number
from simulator.chart import write_chart
from simulator.config import Deployment, load_deployment
from simulator.constants import value
from simulator.exact import Limits
from simulator.recommend import Slo, fitting_instances, search
from simulator.results import Summary, combine
from simulator.run import DEFAULT_BEDROCK, BedrockPrice, bedrock_price, simulate, unloaded_p90, with_bedrock
from simulator.scaling import Policy
from simulator.service import build_service
from simulator.traffic import (
    SHIPPED_TRACE,
    TRACE_CREDIT,
    TrafficError,
    Workload,
    invocations_rates,
    poisson_workload,
    profile_rates,
    read_trace,
)

CAPACITY_DOC = "docs/capacity.md"
CONFIRM_TRIES = 10  # passing settings of the fast search re-run on the chosen engine, cheapest first
DESCRIPTION = """\
Replay traffic against the endpoint that `cdk deploy` with the same -c flags would create: its instance type, the
calibrated throughput model (continuous batching up to the container's max batch, queueing beyond it), SageMaker's
60 s invocation timeout, target tracking on the 10 s concurrency metric with its datapoints and cooldowns, instance
start times, and scale to zero (wake on no capacity, cold start, idle release). Prints p50/p90/p99 latency and time to
first token, the share over the latency budget, failures, peak instances, instance-hours and cost, and the same
requests on Bedrock per token; writes a timeline chart (SVG and HTML). Guide: docs/capacity.md.
"""
EPILOG = """\
Traffic (default: the shipped one-hour Azure code-assistant trace, CC-BY 4.0): --trace FILE (Azure LLM inference
schema: TIMESTAMP,ContextTokens,GeneratedTokens; at most 20,000,000 rows), --profile (the planner's traffic
profile as Poisson arrivals), or --invocations FILE (a CloudWatch per-minute Invocations export; docs/capacity.md
shows the export command). Constants and their sources: simulator/data/constants.yaml. Bad input exits with status 2.

examples: ./tasks.sh simulate -c model=mixtral --json out.json
          ./tasks.sh simulate -c model=mistral -c scale_to_zero=true --rate-scale 0.1 --duration 24 --active-hours 10
          ./tasks.sh simulate -c model=mistral --recommend
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./tasks.sh simulate",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c",
        dest="context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a `cdk deploy` flag: model (default mixtral), deployment=FILE, scale_to_zero, candidate, ...",
    )
    traffic = parser.add_argument_group("traffic")
    source = traffic.add_mutually_exclusive_group()
    source.add_argument(
        "--trace", type=Path, metavar="FILE", help="a CSV in the Azure LLM inference schema (default: the shipped trace)"
    )
    source.add_argument("--profile", action="store_true", help="the planner's traffic profile as Poisson arrivals")
    source.add_argument("--invocations", type=Path, metavar="FILE", help="a CloudWatch per-minute Invocations CSV")
    traffic.add_argument(
        "--requests-per-hour",
        type=positive_number,
        default=1000,
        metavar="N",
        help="--profile: requests per active hour (default: 1000)",
    )
    traffic.add_argument(
        "--active-hours",
        type=positive_number,
        metavar="H",
        help="--profile and --duration: active hours a day from 08:00 (default: 24 for --profile; "
        "a tiled trace runs round the clock)",
    )
    traffic.add_argument(
        "--bursts-per-day", type=int, default=1, metavar="N", help="--profile: separate active periods a day (default: 1)"
    )
    traffic.add_argument(
        "--input-tokens",
        type=int,
        default=500,
        metavar="N",
        help="--profile/--invocations: prompt tokens per request (default: 500, as the planner)",
    )
    traffic.add_argument(
        "--output-tokens",
        type=int,
        default=300,
        metavar="N",
        help="--profile/--invocations: output tokens per request (default: 300, as the planner)",
    )
    traffic.add_argument(
        "--rate-scale",
        type=positive_number,
        default=1.0,
        metavar="X",
        help="multiply the traffic's rate by X, keeping its burst shape (default: 1)",
    )
    traffic.add_argument(
        "--duration",
        type=positive_number,
        metavar="HOURS",
        help="simulate this long: a trace is tiled over it (along --active-hours); default: the "
        "trace's own length, 24 h for --profile",
    )
    traffic.add_argument("--seed", type=int, default=1, help="random seed of Poisson arrivals (default: 1)")
    model = parser.add_argument_group("the model of the endpoint (defaults: simulator/data/constants.yaml)")
    model.add_argument(
        "--start-seconds",
        type=positive_number,
        metavar="S",
        help=f"scale-out: decision to serving (default: {value('scale_out_start_seconds'):g})",
    )
    model.add_argument(
        "--container-caching",
        action="store_true",
        help=f"scale-out takes {value('container_caching_start_seconds'):g} s (container caching)",
    )
    model.add_argument(
        "--cold-start-seconds",
        type=positive_number,
        metavar="S",
        help=f"from zero copies to serving (default: {value('cold_start_seconds'):g})",
    )
    model.add_argument(
        "--timeout-seconds",
        type=positive_number,
        default=value("invocation_timeout_seconds"),
        metavar="S",
        help="requests slower than this fail (default: SageMaker's 60)",
    )
    model.add_argument(
        "--engine",
        choices=("auto", "exact", "fast"),
        default="auto",
        help="exact per-request events, or the fast aggregated engine (default auto: exact up to 200,000 requests)",
    )
    overrides = parser.add_argument_group("try other scaling settings than the config's")
    overrides.add_argument("--target", type=positive_number, metavar="N", help="scaling.target_value")
    overrides.add_argument("--min-instances", type=whole_number(0), metavar="N", help="scaling.min_instances (0: scale to zero)")
    overrides.add_argument("--max-instances", type=whole_number(0), metavar="N", help="scaling.max_instances")
    overrides.add_argument("--idle-minutes", type=whole_number(0), metavar="N", help="scaling.idle_minutes_before_zero")
    overrides.add_argument("--instance-type", metavar="TYPE", help="instance.type")
    slo = parser.add_argument_group("service level (also what --recommend must meet)")
    slo.add_argument(
        "--latency-budget",
        type=positive_number,
        metavar="S",
        help="p90 latency must be within this (default: the model's latency_budget_seconds)",
    )
    slo.add_argument(
        "--max-failed-percent",
        type=float,
        default=0.1,
        metavar="P",
        help="at most this share of requests may fail (default: 0.1)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--recommend",
        action="store_true",
        help="search target, min/max, scale to zero, idle minutes and every fitting instance type; "
        "print the cheapest meeting the service level and its scaling: block",
    )
    output.add_argument(
        "--bedrock",
        default=DEFAULT_BEDROCK,
        metavar="MODEL",
        help=f"price the same requests on this Bedrock model (default: {DEFAULT_BEDROCK})",
    )
    output.add_argument("--json", type=Path, metavar="FILE", help="write the summary as JSON (docs/capacity.md#json)")
    output.add_argument(
        "--chart",
        type=Path,
        default=Path("simulation"),
        metavar="STEM",
        help="write the timeline as STEM.svg and STEM.html (default: simulation)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except (ConfigError, TrafficError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    deployment = load_deployment(args.context)
    workload = build_workload(args)
    if not workload.requests:
        raise TrafficError("traffic", "no requests to simulate", "give traffic with some requests (check --rate-scale)")
    policy = _policy(parser, args, deployment.policy, deployment.registry)
    mean_in, mean_out = float(workload.input_tokens.mean()), float(workload.output_tokens.mean())
    budget = args.latency_budget or deployment.model.latency_budget_seconds
    limits = Limits(budget, args.timeout_seconds, value("client_cold_start_wait_seconds"))
    slo = Slo(budget, args.max_failed_percent / 100)
    price = bedrock_price(deployment.registry, args.bedrock)
    credit = TRACE_CREDIT if args.trace is None and not args.profile and args.invocations is None else ""
    types = [policy.instance_type]
    if args.recommend:
        types = [args.instance_type] if args.instance_type else fitting_instances(deployment.model, deployment)
    if args.recommend or args.latency_budget:
        best_possible = min(unloaded_p90(workload, deployment.service(t, mean_in, mean_out)) for t in types)
        if best_possible > budget:
            raise ConfigError(
                "--latency-budget" if args.latency_budget else f"model_configs/{deployment.model.key}.yaml",
                None if args.latency_budget else "latency_budget_seconds",
                f"a p90 of {budget:g} s can never be met: with every request alone on an instance the p90 is already"
                f" {best_possible:.1f} s on {'the fastest fitting instance' if len(types) > 1 else types[0]}",
                f"raise the latency budget above {best_possible:.1f} s, or use a smaller or faster model",
            )
    if args.recommend:
        summary = None
        for choice in search(deployment, workload, limits, slo, types)[:CONFIRM_TRIES]:
            confirmed = simulate(workload, choice.service, choice.policy, limits, args.engine)
            if slo.met(confirmed):
                policy, summary = choice.policy, with_bedrock(confirmed, workload, price)
                break
        if summary is None:
            raise ConfigError(
                "--recommend",
                None,
                f"no searched setting meets p90 <= {budget:g} s with at most {args.max_failed_percent:g}% failed",
                "raise --latency-budget or --max-failed-percent, or allow more instances (docs/capacity.md#recommend)",
            )
    elif len(deployment.variants) > 1:
        summary = _split(parser, args, deployment, workload, price)
    else:
        service = deployment.service(policy.instance_type, mean_in, mean_out)
        summary = with_bedrock(simulate(workload, service, policy, limits, args.engine), workload, price)
    title = f"{deployment.model.key} on {policy.instance_type}: {workload.label}"
    svg, page = write_chart(args.chart, summary, title, credit)
    print(report(deployment, policy, workload, summary, credit))
    if args.recommend:
        print(
            f"\nRecommendation (the cheapest searched setting that this run confirms: p90 <= {budget:g} s,"
            f" <= {args.max_failed_percent:g}% failed):"
        )
        print(f"  instance.type: {policy.instance_type}")
        print("\n".join("  " + line for line in policy.scaling_block().splitlines()))
        if policy.scales_to_zero:
            print("  (scale to zero: also deploy with -c scale_to_zero=true, or keep min_instances: 0)")
    print(f"\nChart: {svg}, {page}")
    if args.json is not None:
        args.json.write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"JSON: {args.json}")
    return 0


def _policy(parser: argparse.ArgumentParser, args: argparse.Namespace, policy: Policy, registry: ModelRegistry) -> Policy:
    """``policy`` with the command line's overrides."""
    if args.instance_type:
        if args.instance_type not in registry.instances.instances:
            parser.error(
                f"argument --instance-type: unknown {args.instance_type!r}: use one of {', '.join(registry.instances.instances)}"
            )
        policy = replace(
            policy,
            instance_type=args.instance_type,
            hourly_usd=registry.instances.instances[args.instance_type].sagemaker_hourly_usd,
        )
    updates: dict[str, object] = {}
    if args.target is not None:
        updates["target_value"] = args.target
    if args.min_instances is not None:
        updates["min_instances"] = args.min_instances
        updates["scales_to_zero"] = args.min_instances == 0
    if args.max_instances is not None:
        updates["max_instances"] = args.max_instances
    if args.idle_minutes is not None:
        updates["idle_minutes"] = args.idle_minutes
    if args.start_seconds is not None:
        updates["start_seconds"] = args.start_seconds
    elif args.container_caching:
        updates["start_seconds"] = value("container_caching_start_seconds")
    if args.cold_start_seconds is not None:
        updates["cold_start_seconds"] = args.cold_start_seconds
    policy = replace(policy, **updates)  # type: ignore[arg-type]
    if policy.max_instances < max(policy.min_instances, 1):
        parser.error(f"argument --max-instances: {policy.max_instances} is below min_instances ({policy.min_instances}) or 1")
    return policy


def _split(
    parser: argparse.ArgumentParser, args: argparse.Namespace, deployment: Deployment, workload: Workload, price: BedrockPrice
) -> Summary:
    """A migration split: each request goes to a variant at random by weight (SageMaker's variant weights), each
    variant scales on its own; the summary adds them up. Prints one line per variant."""
    pick = np.random.default_rng(args.seed).random(workload.requests) * 100
    parts, low = [], 0.0
    mean_in, mean_out = float(workload.input_tokens.mean()), float(workload.output_tokens.mean())
    for variant in deployment.variants:
        mask = (pick >= low) & (pick < low + variant.weight)
        low += variant.weight
        share = Workload(
            workload.arrivals[mask],
            workload.input_tokens[mask],
            workload.output_tokens[mask],
            workload.duration,
            f"{variant.weight}% of {workload.label}",
            workload.start,
        )
        policy = _policy(parser, args, variant.policy, deployment.registry)
        service = build_service(variant.model, deployment.registry.instances.instances[policy.instance_type], mean_in, mean_out)
        budget = args.latency_budget or variant.model.latency_budget_seconds
        limits = Limits(budget, args.timeout_seconds, value("client_cold_start_wait_seconds"))
        part = simulate(share, service, policy, limits, args.engine)
        parts.append(part)
        print(
            f"Variant {variant.model.key} ({variant.weight}%, {policy.instance_type}): {part.requests:,} requests,"
            f" p90 {part.p90_s:.2f} s, {part.failed:,} failed, peak {part.peak_instances}, ${part.cost_usd:,.2f}"
        )
    return with_bedrock(combine(parts), workload, price)


def build_workload(args: argparse.Namespace) -> Workload:
    hours = args.duration
    if args.profile or args.invocations is not None:
        if args.input_tokens < 0 or args.output_tokens < 0:
            raise TrafficError("--input-tokens/--output-tokens", "token counts must be 0 or more", "give whole numbers >= 0")
        mix = Workload(np.zeros(1), np.array([args.input_tokens]), np.array([args.output_tokens]), 1.0, "")
        if args.profile:
            duration = (hours or 24) * 3600
            rates = profile_rates(args.requests_per_hour, args.active_hours or 24, max(1, args.bursts_per_day), duration)
            label = (
                f"profile {args.requests_per_hour:g} requests/active hour, {args.active_hours or 24:g} active h/day,"
                f" {args.bursts_per_day} burst(s)"
            )
            return poisson_workload(rates * args.rate_scale, 60.0, mix, args.seed, label)
        rates, start = invocations_rates(args.invocations)
        if hours:  # the export's minutes repeated to fill the duration
            rates = np.resize(rates, math.ceil(hours * 60))
        label = f"invocations {args.invocations.name}"
        return poisson_workload(rates * args.rate_scale, 60.0, mix, args.seed, label, start)
    workload = read_trace(args.trace or SHIPPED_TRACE)
    if args.rate_scale != 1.0:
        workload = workload.scaled(args.rate_scale)
    if hours:
        workload = workload.tiled(hours * 3600, args.active_hours)
    return workload


def report(deployment: Deployment, policy: Policy, workload: Workload, summary: Summary, credit: str) -> str:
    unit = "invocations per instance per minute" if policy.per_invocation else "concurrent requests per instance"
    scaling = (
        f"scale to zero (idle {policy.idle_minutes} min), up to {policy.max_instances}"
        if policy.scales_to_zero
        else f"{policy.min_instances}-{policy.max_instances} instances"
    )
    headline = (
        f"Simulated {deployment.model.key} on {policy.instance_type} (${policy.hourly_usd:g}/h): {scaling},"
        f" target {policy.target_value:g} {unit}; {summary.engine} engine"
    )
    if len(deployment.variants) > 1:
        split = " + ".join(f"{v.model.key} {v.weight}%" for v in deployment.variants)
        headline = f"Simulated endpoint {deployment.spec.endpoint_name}, split {split}, each variant scaling on its own (above)"
    lines = [
        headline,
        f"Traffic: {workload.label}: {workload.requests:,} requests over {workload.duration / 3600:.2f} h"
        f" (mean {workload.mean_rate():.2f}/s, busiest 10 s {workload.peak_rate():.1f}/s)",
    ]
    if credit:
        lines.append(f"  data: {credit}")
    lines += [
        f"Latency:  p50 {summary.p50_s:.2f} s, p90 {summary.p90_s:.2f} s, p99 {summary.p99_s:.2f} s"
        f" ({summary.over_budget_share:.1%} over the {summary.latency_budget_s:g} s budget)",
        f"TTFT:     p50 {summary.ttft_p50_s:.2f} s, p90 {summary.ttft_p90_s:.2f} s, p99 {summary.ttft_p99_s:.2f} s",
        f"Failed:   {summary.failed:,} of {summary.requests:,} ({summary.failed_share:.2%}): {summary.failed_timeout:,}"
        f" over the {value('invocation_timeout_seconds'):g} s timeout, {summary.failed_no_capacity:,} no capacity;"
        f" {summary.cold_start_requests:,} waited for a cold start",
        f"Instances: peak {summary.peak_instances}, {summary.instance_hours:.2f} instance-hours, ${summary.cost_usd:,.2f}",
        f"Bedrock:  the same requests on {summary.bedrock_model} per token: ${summary.bedrock_cost_usd:,.2f}",
        f"Guide: {CAPACITY_DOC}",
    ]
    return "\n".join(lines)
