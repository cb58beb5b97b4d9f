"""``./tasks.sh route calibrate|replay|check|heuristic``: fit a routing policy on your own results, see what it would do
to traffic before it is deployed (docs/routing.md). Bad input: one message naming the file, field and fix; exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_client.routing_policy import heuristic_policy
from llm_config import ConfigError
from llm_config.cli_args import positive_number, whole_number
from planner.assumptions import load_planner_data
from planner.costs import Traffic
from routing.calibrate import DEFAULT_KEEP_QUALITY, calibrate
from routing.data import RoutingInputError, load_outcomes, load_prompts
from routing.policy_file import read_policy_file, write_policy_file
from routing.preflight import check_routes
from routing.pricing import RoutedCost, routed_cost
from routing.report import summary_lines, write_report

DEFAULT_REQUESTS_PER_DAY = 10_000.0
DESCRIPTION = (
    "Fit a routing policy on your own per-prompt results (calibrate), see what it would do to traffic before it is "
    "deployed (replay), check a router's routes exist (check), or write the guide's keyword rule as a policy "
    "(heuristic). docs/routing.md. Bad input: one message naming the file, field and fix; exit status 2."
)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a share in (0, 1], e.g. 0.95")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="./tasks.sh route", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser(
        "calibrate",
        help="fit a policy on per-prompt results of two routes; write the policy file and a report",
        description="Fit a learned policy on per-prompt results of a weak and a strong route, cross-validated; "
        "write the policy file (review it in git) and a report (cost-quality curve, APGR, CPT, threshold, cost).",
    )
    c.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="FILE",
        help="results.json of ./tasks.sh evaluate, or a CSV in RouteLLM's layout (a 'prompt' column, one "
        "boolean or [0, 1] score column per model); .csv.gz too",
    )
    c.add_argument("--weak", required=True, metavar="NAME", help="the cheaper route: a CSV column or an evaluation target")
    c.add_argument("--strong", required=True, metavar="NAME", help="the stronger route: a CSV column or an evaluation target")
    c.add_argument(
        "--keep-quality",
        type=_fraction,
        default=DEFAULT_KEEP_QUALITY,
        metavar="F",
        help=f"share of the strong route's quality to keep (default {DEFAULT_KEEP_QUALITY})",
    )
    c.add_argument("--out", type=Path, required=True, metavar="POLICY", help="the policy file to write (JSON)")
    c.add_argument("--report", type=Path, metavar="DIR", help="report folder (default: POLICY's name + '-report')")
    c.add_argument(
        "--weak-model", metavar="KEY", help="planner model key of the weak route, to price the mix (e.g. mixtral-8x7b)"
    )
    c.add_argument("--strong-model", metavar="KEY", help="planner model key of the strong route (e.g. claude-sonnet-4-6)")
    c.add_argument(
        "--requests-per-day",
        type=positive_number,
        default=DEFAULT_REQUESTS_PER_DAY,
        metavar="N",
        help=f"traffic to price at (default {DEFAULT_REQUESTS_PER_DAY:,.0f})",
    )
    c.add_argument(
        "--input-tokens", type=whole_number(1), default=500, metavar="N", help="prompt tokens per request (default 500)"
    )
    c.add_argument(
        "--output-tokens", type=whole_number(1), default=300, metavar="N", help="answer tokens per request (default 300)"
    )
    r = sub.add_parser(
        "replay",
        help="score prompts with a policy: which route each would take",
        description="Score prompts with a policy file: one JSON line per prompt, in input order, with id, route and "
        "score (the estimate in [0, 1] that the strong route is needed; at or above the threshold goes strong); "
        "then a summary on stdout.",
    )
    r.add_argument(
        "--policy", type=Path, required=True, metavar="POLICY", help="a policy file (route calibrate, route heuristic)"
    )
    r.add_argument(
        "--prompts",
        type=Path,
        required=True,
        metavar="FILE",
        help="a CSV with a 'prompt' column, JSONL with 'prompt', or an evaluation test set (.yaml/.jsonl)",
    )
    r.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl", help="where to write the decisions")
    k = sub.add_parser("check", help="live preflight: do a router's routes exist? (reads SSM; needs AWS credentials)")
    k.add_argument("--weak", required=True, metavar="ROUTE", help="the weak route's endpoint name")
    k.add_argument("--strong", required=True, metavar="ROUTE", help="the strong route's endpoint name")
    k.add_argument("--router", metavar="NAME", help="the router's name (a route may not be the router itself)")
    k.add_argument("--region", metavar="REGION", help="default: AWS_REGION / AWS_DEFAULT_REGION / your AWS config")
    h = sub.add_parser("heuristic", help="write the guide's keyword rule as a policy file (the baseline)")
    h.add_argument("--weak", default="weak", metavar="NAME", help="label of the weak route (default weak)")
    h.add_argument("--strong", default="strong", metavar="NAME", help="label of the strong route (default strong)")
    h.add_argument("--out", type=Path, required=True, metavar="POLICY", help="the policy file to write")
    h.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="T",
        help="0.5 (default): the guide's rule; 0: everything strong, 2: everything weak (a plain failover pair)",
    )
    return p


def run_calibrate(args: argparse.Namespace) -> int:
    if (args.weak_model is None) != (args.strong_model is None):
        raise RoutingInputError("--weak-model and --strong-model: give both (planner model keys) to price the mix, or neither")
    outcomes = load_outcomes(args.source, args.weak, args.strong)
    cost: RoutedCost | None = None
    traffic = Traffic(args.requests_per_day / 24, args.input_tokens, args.output_tokens)
    data = None
    if args.weak_model:
        try:
            data = load_planner_data()
        except ConfigError as error:
            raise RoutingInputError(str(error)) from None
        routed_cost(data, traffic, args.weak_model, args.strong_model, 0.5)  # refuse unknown keys before fitting
    print(f"calibrating on {len(outcomes.prompts)} cases (5-fold cross-validation; a minute on 2 cores for 5,000)")
    result = calibrate(outcomes, args.keep_quality)
    if data is not None:
        cost = routed_cost(data, traffic, args.weak_model, args.strong_model, result.strong_share)
    calibration = {
        "from": str(args.source),
        "weak": args.weak,
        "strong": args.strong,
        "figures": result.figures(),
    }
    if cost is not None:
        calibration["cost"] = {
            "weak_model": cost.weak.key,
            "strong_model": cost.strong.key,
            "requests_per_day": args.requests_per_day,
            "monthly_usd": round(cost.monthly_usd, 2),
            "all_strong_monthly_usd": round(cost.all_strong_usd, 2),
        }
    write_policy_file(args.out, result.policy, calibration)
    report = args.report or args.out.with_name(args.out.stem + "-report")
    written = write_report(report, result, cost, {"weak": args.weak, "strong": args.strong, "source": str(args.source)})
    for line in summary_lines(result, cost):
        print(line)
    print(f"Wrote {args.out} (review it in git), {', '.join(map(str, written))}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    _, policy, calibration = read_policy_file(args.policy)
    labels = {"weak": str(calibration.get("weak", "weak")), "strong": str(calibration.get("strong", "strong"))}
    prompts = load_prompts(args.prompts)
    strong = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for case_id, prompt in prompts:
            side, score = policy.choose(prompt)
            strong += side == "strong"
            out.write(json.dumps({"id": case_id, "route": labels[side], "score": round(score, 6)}) + "\n")
    total = len(prompts)
    share = strong / total if total else 0.0
    print(
        f"{total} prompts: {strong} ({share:.1%}) to {labels['strong']}, {total - strong} to {labels['weak']} "
        f"(threshold {policy.threshold:g}, {policy.kind} policy)"
    )
    print(f"Wrote {args.out}")
    return 0


def run_heuristic(args: argparse.Namespace) -> int:
    write_policy_file(
        args.out, heuristic_policy(args.threshold), {"weak": args.weak, "strong": args.strong, "from": "the guide's keyword rule"}
    )
    print(f"Wrote {args.out}")
    return 0


def run_check(args: argparse.Namespace, session: Any = None) -> int:
    import boto3

    session = session or boto3.session.Session(region_name=args.region)
    region = args.region or session.region_name
    if not region:
        raise RoutingInputError("--region: no AWS region given or configured; pass --region, e.g. us-east-1")
    ssm = session.client("ssm", region_name=region)
    for line in check_routes(ssm, region, {"weak": args.weak, "strong": args.strong}, args.router):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "check":
            return run_check(args, session)
        return {"calibrate": run_calibrate, "replay": run_replay, "heuristic": run_heuristic}[args.command](args)
    except RoutingInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
