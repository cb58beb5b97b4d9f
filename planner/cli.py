"""`python -m planner`: which model, where, at what cost, for my traffic."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from llm_config import ConfigError
from llm_config.cli_args import positive_number, whole_number
from planner.assumptions import QUALITY_TIERS, PlannerData, load_planner_data
from planner.chart import BreakEven, render_svg
from planner.costs import Option, SageMakerOption, TokenOption, Traffic, break_even_requests_per_hour, build_options
from planner.guide import format_findings, guide_findings
from planner.recommend import Asks, Assessment, Recommendation, rank, recommend

DESCRIPTION = """\
Rank every model option (SageMaker instance from model_configs/, Bedrock, OpenAI) for your traffic:
monthly cost always-on, autoscaled and pay-per-token, whether it meets your latency, quality and
budget asks, one recommendation that follows the guide's decision tree, break-even traffic between
SageMaker hosting and pay-per-token APIs, and optionally an SVG chart of cost against traffic.
"""
EPILOG = """\
Every number comes from a file: instance types, counts and hourly prices from model_configs/
(the same files `cdk deploy` uses), pay-per-token prices, throughput and quality tiers from
planner/data/. Change them for your region or discount with --overrides (docs/planner.md).
A month is 730 hours. Bad input exits with status 2.

example: ./tasks.sh plan --requests-per-hour 100 --latency 2 --quality high --budget 500 --chart cost.svg
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./tasks.sh plan", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    traffic = parser.add_argument_group("traffic (one of the two rates is required, except with --guide)")
    rate = traffic.add_mutually_exclusive_group()
    rate.add_argument("--requests-per-hour", type=positive_number, metavar="N", help="average requests per hour")
    rate.add_argument("--requests-per-day", type=positive_number, metavar="N", help="average requests per day (/ 24)")
    traffic.add_argument(
        "--input-tokens", type=whole_number(1), default=500, metavar="N", help="prompt tokens per request (default: 500)"
    )
    traffic.add_argument(
        "--output-tokens", type=whole_number(1), default=300, metavar="N", help="answer tokens per request (default: 300)"
    )
    asks = parser.add_argument_group("asks")
    asks.add_argument(
        "--latency", type=positive_number, metavar="SECONDS", help="answer within this many seconds (default: no ask)"
    )
    asks.add_argument(
        "--streaming",
        action="store_true",
        help="compare --latency with the time to the first token instead of the full answer (default: full answer)",
    )
    asks.add_argument(
        "--quality",
        choices=QUALITY_TIERS,
        default="good",
        help="the guide's quality tier or better: good (internal tools), high (customer-facing),"
        " critical (legal, medical) (default: good)",
    )
    asks.add_argument("--budget", type=positive_number, metavar="USD", help="monthly budget in USD (default: no ask)")
    asks.add_argument("--aws-only", action="store_true", help="leave out the OpenAI API options")
    asks.add_argument(
        "--include-retired",
        action="store_true",
        help="also list Bedrock models past end of life, marked (retired); they are never recommended (default: left out)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--compare",
        nargs="+",
        metavar="MODEL",
        help="models for the break-even figures and the chart (default: the recommendation and the best option of the other"
        " kind of hosting)",
    )
    output.add_argument("--chart", type=Path, metavar="FILE.svg", help="write an SVG chart of monthly cost against traffic")
    output.add_argument(
        "--overrides",
        "--prices",
        type=Path,
        metavar="FILE",
        help="YAML file of price multipliers, replacement prices and throughput (docs/planner.md)",
    )
    output.add_argument("--guide", action="store_true", help="recompute the guide's cost figures and scenarios, with corrections")
    routed = parser.add_argument_group("a routed mix (docs/routing.md)")
    routed.add_argument(
        "--routing-policy",
        type=Path,
        metavar="FILE",
        help="price the strong share a calibrated policy expects (./tasks.sh route calibrate); with --guide, beside the"
        " guide's 80/20",
    )
    routed.add_argument("--weak-model", metavar="KEY", help="the weak route's model (with --routing-policy)")
    routed.add_argument("--strong-model", metavar="KEY", help="the strong route's model (with --routing-policy)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.chart is not None and args.chart.suffix != ".svg":
        parser.error(
            f"argument --chart: the chart is written as SVG, so the file name must end in .svg (got {str(args.chart)!r})"
        )
    try:
        data = load_planner_data(overrides_path=args.overrides)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.routing_policy is not None:
        if not (args.weak_model and args.strong_model):
            parser.error("argument --routing-policy: give the routes' models too: --weak-model KEY --strong-model KEY")
        if args.requests_per_hour is None and args.requests_per_day is None:
            parser.error("argument --routing-policy: give the traffic: --requests-per-hour N or --requests-per-day N")
    if args.guide:
        print(format_findings(guide_findings(data, args.input_tokens, args.output_tokens)))
        return _routed(args, data) if args.routing_policy is not None else 0
    if args.requests_per_hour is None and args.requests_per_day is None:
        parser.error("give the traffic: --requests-per-hour N or --requests-per-day N")
    traffic = Traffic(
        requests_per_hour=args.requests_per_hour or args.requests_per_day / 24,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
    )
    options = [
        o
        for o in build_options(data, traffic, args.include_retired)
        if not (args.aws_only and isinstance(o, TokenOption) and o.provider == "openai")
    ]
    fastest = min(options, key=lambda o: o.first_token_seconds)
    if args.latency is not None and args.latency < fastest.first_token_seconds:
        parser.error(
            f"argument --latency: no option can answer within {args.latency:g} s: the fastest first token is"
            f" {fastest.first_token_seconds:.2g} s ({fastest.display_name})"
        )
    compare_keys = _resolve(parser, data, args.compare) if args.compare else None
    asks = Asks(
        traffic=traffic, quality=args.quality, latency_seconds=args.latency, budget_usd=args.budget, streaming=args.streaming
    )
    ranked = rank(options, asks)
    recommendation = recommend(ranked, asks, data.current)
    compared = _compared(ranked, recommendation, compare_keys, build_options(data, traffic, include_retired=True))
    break_evens = _break_evens(compared)
    if args.chart is not None:
        try:
            args.chart.write_text(render_svg(compared, break_evens, traffic, args.budget), encoding="utf-8")
        except OSError as error:
            print(f"error: --chart {args.chart}: cannot write the file ({error.strerror})", file=sys.stderr)
            return 2
    print(_report(data, asks, ranked, recommendation, compared))
    if args.chart is not None:
        print(f"\nChart: {args.chart}")
    return _routed(args, data) if args.routing_policy is not None else 0


def _routed(args: argparse.Namespace, data: PlannerData) -> int:
    """The routed mix at the calibrated strong share (and, with --guide, at the guide's 20%)."""
    from routing.errors import RoutingInputError
    from routing.pricing import calibrated_share, routed_cost

    traffic = Traffic(args.requests_per_hour or args.requests_per_day / 24, args.input_tokens, args.output_tokens)
    try:
        share = calibrated_share(args.routing_policy)
        mixes = [(f"calibrated ({args.routing_policy})", share)] + ([("guide's 80/20", 0.2)] if args.guide else [])
        lines = [routed_cost(data, traffic, args.weak_model, args.strong_model, s).line(label) for label, s in mixes]
    except RoutingInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\nRouted mix, per month:\n" + "\n".join(f"  {line}" for line in lines))
    return 0


def _resolve(parser: argparse.ArgumentParser, data: PlannerData, names: list[str]) -> list[str]:
    keys = []
    for name in names:
        key = data.registry.aliases.get(name, name)
        if key not in data.registry.models and key not in data.token_prices:
            parser.error(f"argument --compare: unknown model {name!r}: use one of {', '.join(data.known_models())}")
        keys.append(key)
    return list(dict.fromkeys(keys))


def _compared(
    ranked: list[Assessment], recommendation: Recommendation, keys: list[str] | None, every: list[Option]
) -> list[Option]:
    if keys is not None:
        by_key = {o.key: o for o in every}
        return [by_key[key] for key in keys]
    chosen = recommendation.choice.option
    other_kind = [
        a.option
        for a in ranked
        if isinstance(a.option, SageMakerOption) != isinstance(chosen, SageMakerOption)
        and not (isinstance(a.option, TokenOption) and a.option.retired)
    ]
    return [chosen, *other_kind[:1]]


def _break_evens(options: list[Option]) -> list[BreakEven]:
    points = []
    for hosted, api in _pairs(options):
        rate = break_even_requests_per_hour(hosted, api)
        if rate is not None:
            points.append(BreakEven(hosted, api, rate))
    return points


def _pairs(options: list[Option]) -> list[tuple[SageMakerOption, TokenOption]]:
    hosted = [o for o in options if isinstance(o, SageMakerOption)]
    return [(h, api) for h in hosted for api in options if isinstance(api, TokenOption)]


def _report(
    data: PlannerData, asks: Asks, ranked: list[Assessment], recommendation: Recommendation, compared: list[Option]
) -> str:
    traffic = asks.traffic
    latency = "no latency ask"
    if asks.latency_seconds is not None:
        latency = f"{'first token' if asks.streaming else 'full answer'} within {asks.latency_seconds:g} s"
    budget = f"budget ${asks.budget_usd:,.0f}/month" if asks.budget_usd is not None else "no budget ask"
    lines = [
        f"Traffic: {traffic.requests_per_hour:,.4g} requests/hour ({traffic.requests_per_hour * 24:,.0f}/day,"
        f" {traffic.requests_per_month:,.0f}/month), {traffic.input_tokens} in + {traffic.output_tokens} out tokens per request",
        f"Asks: quality {asks.quality} or better, {latency}, {budget}",
        f"Prices: {data.price_basis}; 730 h/month; throughput and quality: planner/data/, Bedrock models' own configs",
        "",
        _table(ranked, traffic, asks.streaming),
        "",
        f"Recommendation: {recommendation.choice.option.display_name} on {recommendation.choice.option.hosting}"
        f" (${recommendation.choice.monthly_usd:,.0f}/month)",
        f"  why: {recommendation.reason}.",
    ]
    lines += ["", "Break-even (autoscaled SageMaker vs pay-per-token, at these tokens per request):"]
    for hosted, api in _pairs(compared):
        rate = break_even_requests_per_hour(hosted, api)
        pair = f"  {hosted.key} on {hosted.instance_type} vs {api.key}:"
        if rate is not None:
            lines.append(f"{pair} {rate:,.0f} requests/hour ({rate * 24:,.0f}/day); below it {api.key} is cheaper")
        elif hosted.serves_request:
            full_load = hosted.hourly_usd / hosted.capacity_per_instance
            lines.append(
                f"{pair} never: even at its scaling target ({hosted.scaling_target}), an instance costs"
                f" ${full_load:.3g} per request, {api.key} ${api.request_usd:.3g}"
            )
        else:
            lines.append(f"{pair} never: {hosted.key} cannot take {asks.traffic.tokens_per_request}-token requests")
    if not _pairs(compared):
        lines.append("  no pair among the compared options (use --compare with a SageMaker model and a pay-per-token model)")
    lines += ["", "The guide's own cost figures, corrected: ./tasks.sh plan --guide"]
    lines += ["Bursty traffic, p90 and the scaling settings to set: ./tasks.sh simulate (docs/capacity.md)"]
    return "\n".join(lines)


def _ceiling(option: Option, streaming: bool) -> str:
    """The physical limit beside the estimate (self-hosted models only: an API's hardware is unknown)."""
    ceiling = option.ceiling_seconds(streaming)
    return "-" if ceiling is None else f"{ceiling:.1f} s"


def _table(ranked: list[Assessment], traffic: Traffic, streaming: bool) -> str:
    header = ("#", "model", "hosting", "quality", "latency", "ceiling", "always-on", "autoscaled", "per-token", "meets asks?")
    rows = [header]
    for number, assessment in enumerate(ranked, start=1):
        option = assessment.option
        always_on = autoscaled = per_token = "-"
        if isinstance(option, SageMakerOption):
            low, high = option.always_on_usd_range  # first pool to dearest fallback pool (docs/instance-pools.md)
            always_on = f"${low:,.0f}" if round(low) == round(high) else f"${low:,.0f}-{high:,.0f}"
            autoscaled = f"${assessment.monthly_usd:,.0f} ({option.instances_at(traffic.requests_per_hour)} inst)"
        else:
            per_token = f"${assessment.monthly_usd:,.2f}" if assessment.monthly_usd < 10 else f"${assessment.monthly_usd:,.0f}"
        verdict = "yes" if assessment.meets_all else "no: " + "; ".join(assessment.misses)
        rows.append(
            (
                str(number),
                option.key,
                option.hosting,
                option.quality,
                f"{assessment.latency_seconds:.1f} s",
                _ceiling(option, streaming),
                always_on,
                autoscaled,
                per_token,
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    right = {0, 4, 5, 6, 7, 8}
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)
