"""``./tasks.sh evaluate`` / ``python -m evaluation``: compare targets on a test set (docs/evaluation.md).

Exit status: 0 done (and every --fail-if gate passed); 1 a --fail-if condition holds; 2 bad input (one message, no
traceback); 130 interrupted with Ctrl-C (what was measured is still reported and written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation import gate
from evaluation.expectations import check_answer, quality_of
from evaluation.judge import Judge, load_template, rate_by_hand
from evaluation.measure import Record, RetryLog, measure
from evaluation.report import deltas, html_page, load_baseline, markdown, results_document, terminal_table
from evaluation.runner import run
from evaluation.stats import Summary, route_summaries, summarize
from evaluation.targets import Target, resolve_target, resolve_targets
from evaluation.testset import Case, EvaluationInputError, load_tests
from evaluation.tool_expectations import check_tool_calls
from llm_client import Client, LlmClientError
from llm_config import ConfigError, load_registry

DEFAULT_CONCURRENCY = 4
DEFAULT_OUT = Path("evaluation-results")
OUTPUT_FILES = ("results.json", "report.md", "report.html")
EXIT_GATE, EXIT_INPUT, EXIT_INTERRUPTED = 1, 2, 130
STANDIN_NOTE = (
    "Local rehearsal: the runtimes are a protocol stand-in, not a model. Its latencies, tokens and answers are made up "
    "by rules: they test the harness and the wiring, not a model's speed or quality."
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="./tasks.sh evaluate",
        description="Call each --target on every case of --tests through llm_client; report latency, tokens/s, errors, "
        "quality and cost side by side, and write results.json, report.md and report.html (docs/evaluation.md).",
        epilog="exit status: 0 done and every --fail-if gate passed; 1 a --fail-if condition holds; 2 bad input; "
        "130 interrupted (Ctrl-C; what was measured is still written)",
    )
    p.add_argument(
        "--tests", type=Path, required=True, metavar="FILE", help="test set, .yaml or .jsonl (schema: docs/evaluation.md)"
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="T",
        help="repeatable: an endpoint NAME, NAME/VARIANT (one SageMaker variant: TargetVariant), or a Bedrock model config key",
    )
    p.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / your AWS config)")
    p.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help=f"requests in flight at once (default {DEFAULT_CONCURRENCY})"
    )
    p.add_argument("--repeat", type=int, default=1, help="send each case to each target this many times (default 1)")
    p.add_argument("--max-requests", type=int, metavar="N", help="request budget: stop after N requests (default: no limit)")
    p.add_argument(
        "--max-cost", type=float, metavar="USD", help="cost cap: send no more once the measured cost reaches USD (default: none)"
    )
    p.add_argument("--no-stream", dest="stream", action="store_false", help="call without streaming (no time to first token)")
    p.add_argument(
        "--judge",
        metavar="T",
        help="score rubric items with this model, e.g. claude-haiku-4-5 (prompt: evaluation/judge_prompt.md)",
    )
    p.add_argument("--rate", action="store_true", help="after the run, rate rubric items 1-5 by hand (the guide's manual rating)")
    p.add_argument("--baseline", type=Path, metavar="FILE", help="results.json of an earlier run, to compare with and gate on")
    p.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="CONDITION",
        help='repeatable, e.g. "p90 > budget", "quality < baseline - 0.05"',
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"folder for results.json, report.md, report.html (default {DEFAULT_OUT}/)"
    )
    p.add_argument("--role-arn", help="assume this role first (CI: the stage's smoke-test role); default: your credentials")
    p.add_argument(
        "--local",
        action="store_true",
        help="call the local rehearsal (./tasks.sh deploy-local): AWS at moto, the runtimes at its stand-in",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None, **client_options: Any) -> int:
    """``client_options`` go to ``llm_client.Client`` (tests pass a session and a sleep)."""
    args = parser().parse_args(argv)
    try:
        return evaluate(args, **client_options)
    except KeyboardInterrupt:
        print("Interrupted before any request was measured.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (EvaluationInputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except LlmClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT


def use_local_rehearsal() -> None:
    """This process becomes a client app of the running rehearsal, as ``./tasks.sh run-local`` makes one."""
    from local_aws import rehearsal

    state = rehearsal.read_state()
    if state is None or not state.standin_port or not rehearsal.is_up(state.emulator):
        raise EvaluationInputError("--local: no local rehearsal is running: ./tasks.sh deploy-local first (docs/local-deploy.md)")
    local = rehearsal.client_environment(state.emulator)
    for name in [n for n in os.environ if n.startswith("AWS_") and n not in local]:
        del os.environ[name]  # e.g. AWS_PROFILE: nothing of a real account applies
    os.environ.update({name: value for name, value in local.items() if name.startswith("AWS_") or name.lower() == "no_proxy"})


def assumed_session(role_arn: str, region: str | None) -> Any:
    """A boto3 session with ``role_arn``'s temporary credentials (an hour: a long evaluation outlasts 15 minutes)."""
    import boto3
    import botocore.exceptions

    try:
        credentials = boto3.client("sts", region_name=region).assume_role(
            RoleArn=role_arn, RoleSessionName="llm-evaluation", DurationSeconds=3600
        )["Credentials"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as error:
        raise EvaluationInputError(f"--role-arn {role_arn}: cannot assume it ({error})") from None
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def check_numbers(args: argparse.Namespace) -> None:
    for flag, value, minimum in (
        ("--concurrency", args.concurrency, 1),
        ("--repeat", args.repeat, 1),
        ("--max-requests", args.max_requests, 1),
    ):
        if value is not None and value < minimum:
            raise EvaluationInputError(f"{flag} {value}: must be at least {minimum}")
    if args.max_cost is not None and args.max_cost <= 0:
        raise EvaluationInputError(f"--max-cost {args.max_cost}: must be a positive amount of USD")
    if args.judge and args.rate:
        raise EvaluationInputError("--judge and --rate both score rubric items: choose one")


def check_out(out: Path) -> None:
    """--out is a folder this process can write into, checked before any request is sent, not after the last."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        problem = "is a file, not a folder" if out.is_file() else f"cannot write there ({error.strerror or error})"
        raise EvaluationInputError(f"--out {out}: {problem}: give a folder you can write to") from None
    for name in OUTPUT_FILES:
        path = out / name
        if path.exists() and (not path.is_file() or not os.access(path, os.W_OK)):
            raise EvaluationInputError(f"--out {out}: {name} there cannot be replaced: remove it or give another folder")


def evaluate(args: argparse.Namespace, **client_options: Any) -> int:
    check_numbers(args)
    check_out(args.out)
    cases = load_tests(args.tests)
    conditions = [gate.parse(text) for text in args.fail_if]  # bad gates fail before any request is sent
    baseline = load_baseline(args.baseline) if args.baseline else None
    for condition in conditions:
        gate.check_inputs(condition, args.target, baseline is not None, routes_known=False)
    if args.local:
        use_local_rehearsal()
    if args.role_arn:
        client_options["session"] = assumed_session(args.role_arn, args.region)
    retry_log = RetryLog()
    client = Client(region=args.region, log=retry_log, **client_options)
    registry = load_registry()
    targets = resolve_targets(args.target, client, registry)
    labels = [label for t in targets for label in (t.label, *(t.route_label(r.endpoint) for r in t.routes))]
    for condition in conditions:  # now that the routers' routes are known (reading parameters sends no request)
        gate.check_inputs(condition, labels, baseline is not None)
    judge = Judge(client, resolve_target(args.judge, client, registry), load_template()) if args.judge else None
    by_label = {t.label: t for t in targets}

    def work(job: tuple[Target, Case, int]) -> Record:
        target, case, repeat = job
        record = measure(client, retry_log, target, case, repeat, stream=args.stream)
        if record.ok and case.rubric and judge is not None:  # a request of its own: waits, never holds the others
            record.checks, record.judge_cost_usd = judge.score(case.prompt, record.answer, case.rubric)
        return record

    jobs = [(t, c, n) for c in cases for n in range(args.repeat) for t in targets]
    outcome = run(
        jobs,
        work,
        concurrency=args.concurrency,
        max_requests=args.max_requests,
        max_cost_usd=args.max_cost,
        progress=args.progress,
    )
    records = outcome.records
    by_id = {c.id: c for c in cases}
    stopped_by = outcome.stopped_by
    if not score(records, by_id):
        stopped_by = "interrupted"
    if args.rate and stopped_by != "interrupted":
        rate(records, by_id)
    order = {(t.label, c.id, n): i for i, (t, c, n) in enumerate(jobs)}
    records.sort(key=lambda r: (list(by_label).index(r.target), order[(r.target, r.case, r.repeat)]))
    summaries = []
    for t in targets:
        mine = [r for r in records if r.target == t.label]
        summaries += [summarize(t.label, mine, t.latency_budget_seconds), *route_summaries(t, mine)]
    by_target = {s.target: s for s in summaries}
    verdicts = [v for condition in conditions for v in gate.check(condition, by_target, baseline)]
    notes = [STANDIN_NOTE] if args.local else []
    if stopped_by:
        notes.append(f"Stopped early ({stopped_by}): {len(records)} of {len(jobs)} requests measured.")
    write_outputs(args, summaries, records, outcome.planned, stopped_by, verdicts, baseline, notes)
    if stopped_by == "interrupted":
        print("Interrupted: the requests measured so far are reported above and written.", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_GATE if any(v.holds for v in verdicts) else 0


def score(records: list[Record], cases: dict[str, Case]) -> bool:
    """Check each answer against its case, after every request was measured: a slow pattern or schema holds the
    interpreter, which would book its time to the requests in flight. False when Ctrl-C stopped the scoring (the
    answers not scored keep no quality)."""
    try:
        for record in records:
            if record.ok:
                case = cases[record.case]
                answer_checks = check_answer(case, record.answer) + check_tool_calls(case.tool_call, record.tool_calls)
                record.checks = answer_checks + record.checks  # then the judge's
                record.quality = quality_of(record.checks)
    except KeyboardInterrupt:
        return False
    return True


def rate(records: list[Record], cases: dict[str, Case]) -> None:
    try:
        for record in records:
            case = cases[record.case]
            if record.ok and case.rubric:
                record.checks += rate_by_hand(case.prompt, record.answer, case.rubric)
                record.quality = quality_of(record.checks)
    except (KeyboardInterrupt, EOFError):
        print("\nRating stopped; the items not rated stay unscored.", file=sys.stderr)


def write_outputs(
    args: argparse.Namespace,
    summaries: list[Summary],
    records: list[Record],
    planned: int,
    stopped_by: str | None,
    verdicts: list[gate.Verdict],
    baseline: dict[str, Summary] | None,
    notes: list[str],
) -> None:
    tests = str(args.tests)
    settings = {
        "targets": list(args.target),
        "concurrency": args.concurrency,
        "repeat": args.repeat,
        "stream": args.stream,
        "max_requests": args.max_requests,
        "max_cost_usd": args.max_cost,
        "judge": args.judge,
        "local": args.local,
    }
    report = markdown(
        tests=tests,
        summaries=summaries,
        records=records,
        planned=planned,
        stopped_by=stopped_by,
        verdicts=verdicts,
        baseline=baseline,
        notes=notes,
    )
    document = results_document(
        tests=tests,
        settings=settings,
        summaries=summaries,
        records=records,
        planned=planned,
        stopped_by=stopped_by,
        verdicts=verdicts,
    )
    (args.out / "results.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(report, encoding="utf-8")
    (args.out / "report.html").write_text(html_page(report, summaries, records, notes), encoding="utf-8")
    for note in notes:
        print(note)
    print(terminal_table(summaries))
    for line in deltas(summaries, baseline or {}):
        print(f"vs baseline  {line}")
    for verdict in verdicts:
        print(f"{'FAIL' if verdict.holds else 'pass'}  --fail-if {verdict.condition!r}: {verdict.detail}")
    print(f"Wrote {args.out / 'results.json'}, {args.out / 'report.md'}, {args.out / 'report.html'}")
