"""``--fail-if CONDITION``: a run fails (exit status 1) when a condition holds for a target.

Grammar (whitespace is free; parsed by this module's tokenizer, never eval'd):

    condition := [ TARGET ":" ] METRIC OP expr
    expr      := operand { ("+" | "-" | "*") NUMBER }        (left to right)
    operand   := NUMBER | "budget" | "baseline" | "[" TARGET "]"
    NUMBER    := decimal, optionally followed by a unit: "ms" (x 0.001), "s", "%" (x 0.01)
    OP        := "<" | "<=" | ">" | ">="
    METRIC    := p50 | p90 | p99 | ttft_p50 | ttft_p90 | tokens_per_s | error_rate | throttle_rate | quality | cost_per_1k
               | share

- Without ``TARGET:`` the condition applies to every target; latencies are in seconds, rates are fractions.
- ``budget``: the target's latency budget in seconds (from its endpoint parameter or model config); latency
  metrics only.
- ``baseline``: the same metric of the same target in the ``--baseline`` results file.
- ``[TARGET]``: the same metric of another target of this run, e.g. ``chat/mixtral-8x7b: quality < [chat/mistral-7b] - 0.05``.
- A router's routes are targets too, ``ROUTER@ROUTE`` (the report's rows), e.g. ``assistant@claude: share > 60%``
  or ``assistant@chat: quality < 0.8``; ``share`` (the route's share of the router's answers) needs such a prefix.
- A condition whose figures are missing (no successful request, no quality score, target not in the baseline) holds:
  a gate that cannot be checked does not pass.

Gates that could never fail are refused before any request is sent (exit 2):

- a unit that does not fit the metric: ``ms``/``s`` on a latency only, ``%`` on a rate or quality only;
- a rate or quality (fractions 0-1) against a number outside 0-1, e.g. ``error_rate > 5`` (meant as 5%: write
  ``5%`` or ``0.05``); an added or subtracted step larger than 1 likewise;
- a latency against a plain number above MAX_PLAIN_SECONDS, e.g. ``p90 > 800`` (meant as ms): no request here
  lasts 13 minutes (each try times out at twice the latency budget), so such a number must carry its unit,
  ``800ms`` or ``800s``;
- a target compared with itself (``T: quality < [T]``), or ``[T]`` without a prefix when T is the only target (with
  several targets, an unprefixed condition compares every other target with T).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from evaluation.stats import Summary
from evaluation.targets import ROUTE_SEPARATOR
from evaluation.testset import EvaluationInputError

METRICS = (
    *("p50", "p90", "p99", "ttft_p50", "ttft_p90", "tokens_per_s", "error_rate", "throttle_rate", "quality", "cost_per_1k"),
    "share",
)
LATENCY_METRICS = frozenset({"p50", "p90", "p99", "ttft_p50", "ttft_p90"})
OPERATORS: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
FRACTION_METRICS = frozenset({"error_rate", "throttle_rate", "quality", "share"})
UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "%": 0.01}
UNITS_OF = {"s": LATENCY_METRICS, "ms": LATENCY_METRICS, "%": FRACTION_METRICS}  # "" fits every metric
MAX_PLAIN_SECONDS = 60.0
# "TARGET: rest" where rest starts with a metric; the target itself may contain ':' (endpoint:NAME).
TARGET_PREFIX = re.compile(r"\s*(?P<target>\S.*?)\s*:\s*(?P<rest>(?:" + "|".join(METRICS) + r")\b.*)", re.DOTALL)
TOKEN = re.compile(
    r"\s*(?:(?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?P<unit>ms|s|%)?(?![\w.])|(?P<op><=|>=|<|>)|(?P<arith>[-+*])"
    r"|\[(?P<ref>[^\]\s]+)\]|(?P<word>[A-Za-z_][\w.]*))"
)


@dataclass(frozen=True)
class Operand:
    kind: str  # number | budget | baseline | target
    value: float = 0.0
    target: str = ""


@dataclass(frozen=True)
class Condition:
    text: str
    target: str | None
    metric: str
    op: str
    operand: Operand
    steps: tuple[tuple[str, float], ...]  # ("+", 0.05), ("*", 1.1), ...


@dataclass(frozen=True)
class Verdict:
    condition: str
    target: str
    holds: bool
    detail: str


def parse(text: str) -> Condition:
    def bad(problem: str) -> EvaluationInputError:
        return EvaluationInputError(f'--fail-if {text!r}: {problem} (grammar: docs/evaluation.md, e.g. "p90 > budget")')

    target, body = None, text
    prefixed = TARGET_PREFIX.fullmatch(text)
    if prefixed:
        target, body = prefixed.group("target").strip(), prefixed.group("rest")
    tokens = _tokens(body, bad)
    if len(tokens) < 3:
        raise bad("write METRIC OP VALUE")
    (kind, metric, _), (op_kind, op, _) = tokens[0], tokens[1]
    if kind != "word" or metric not in METRICS:
        raise bad(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    if op_kind != "op":
        raise bad(f"expected a comparison (<, <=, >, >=) after {metric}, got {op!r}")
    operand = _operand(tokens[2], metric, bad)
    steps = []
    rest_tokens = tokens[3:]
    while rest_tokens:
        if len(rest_tokens) < 2 or rest_tokens[0][0] != "arith" or rest_tokens[1][0] != "number":
            raise bad("after the value, only '+ NUMBER', '- NUMBER' or '* NUMBER' may follow")
        step = rest_tokens[0][1]
        steps.append((step, _number(rest_tokens[1], metric, bad, scales=step == "*")))
        rest_tokens = rest_tokens[2:]
    return Condition(text, target, metric, op, operand, tuple(steps))


def _number(
    token: tuple[str, str, str], metric: str, bad: Callable[[str], EvaluationInputError], *, scales: bool = False
) -> float:
    """A number in the metric's units: seconds or a fraction 0-1; a factor (``* 1.1``) has no unit."""
    _, text, unit = token
    if unit and scales:
        raise bad(f"* {text}{unit}: a factor has no unit: write * {text}")
    if unit and metric not in UNITS_OF[unit]:
        raise bad(f"{text}{unit}: {metric} {_unit_advice(metric)}")
    value = float(text) * UNITS[unit]
    if scales:
        return value
    if metric in FRACTION_METRICS and value > 1:
        meant = "at most 100%" if unit else f"{text}% or {value / 100:g}"
        raise bad(f"{text}{unit}: {metric} is a fraction from 0 to 1, so the gate never depends on the run: write {meant}")
    if metric in LATENCY_METRICS and not unit and value > MAX_PLAIN_SECONDS:
        raise bad(f"{text}: a plain latency is in seconds and no request here lasts {value:g} s: write {text}ms or {text}s")
    return value


def _unit_advice(metric: str) -> str:
    if metric in LATENCY_METRICS:
        return "is a latency: use ms or s"
    if metric in FRACTION_METRICS:
        return "is a fraction from 0 to 1: use a plain number or %"
    return "has no unit: write a plain number"


def _tokens(body: str, bad: Callable[[str], EvaluationInputError]) -> list[tuple[str, str, str]]:
    tokens, position = [], 0
    body = body.rstrip()
    for found in TOKEN.finditer(body):
        if found.start() != position or found.end() == position:  # something between two tokens is not one
            break
        kind = next(k for k in ("number", "op", "arith", "ref", "word") if found.group(k) is not None)
        tokens.append((kind, found.group(kind), found.group("unit") or ""))
        position = found.end()
    if position < len(body):
        raise bad(f"cannot read {body[position:].strip()!r}")
    return tokens


def _operand(token: tuple[str, str, str], metric: str, bad: Callable[[str], EvaluationInputError]) -> Operand:
    kind, value, _ = token
    if kind == "number":
        return Operand("number", _number(token, metric, bad))
    if kind == "ref":
        return Operand("target", target=value)
    if kind == "word" and value == "budget":
        if metric not in LATENCY_METRICS:
            raise bad(f"'budget' is a latency budget: compare it with {', '.join(sorted(LATENCY_METRICS))}, not {metric}")
        return Operand("budget")
    if kind == "word" and value == "baseline":
        return Operand("baseline")
    raise bad(f"expected a number, budget, baseline or [TARGET], got {value!r}")


def check_inputs(condition: Condition, targets: Collection[str], has_baseline: bool, routes_known: bool = True) -> None:
    """Before any request: the targets a condition names are this run's, and a baseline is given if it needs one.
    ``targets`` includes the routes' ``ROUTER@ROUTE`` once the targets are resolved (``routes_known``); before, a
    ``ROUTER@...`` name passes if ROUTER is a target."""
    for name in (condition.target, condition.operand.target or None):
        router = name.rpartition(ROUTE_SEPARATOR)[0] if name else ""
        if name is not None and name not in targets and (routes_known or router not in targets):
            known = "--target values and their routes (ROUTER@ROUTE)" if routes_known else "--target values"
            raise EvaluationInputError(f"--fail-if {condition.text!r}: {name!r} is not one of this run's {known}")
    if condition.metric == "share" and ROUTE_SEPARATOR not in (condition.target or ""):
        raise EvaluationInputError(
            f"--fail-if {condition.text!r}: share is a router's route's share of its answers: prefix a route, e.g. "
            f"ROUTER{ROUTE_SEPARATOR}ROUTE: share > 60%"
        )
    other = condition.operand.target
    if other and (condition.target == other or (condition.target is None and set(targets) == {other})):
        raise EvaluationInputError(
            f"--fail-if {condition.text!r}: compares {other} with itself, which can never fail: "
            "compare another --target with it (OTHER: METRIC OP [TARGET])"
        )
    if condition.operand.kind == "baseline" and not has_baseline:
        raise EvaluationInputError(
            f"--fail-if {condition.text!r}: uses 'baseline': give --baseline FILE (a results.json of an earlier run)"
        )


def check(condition: Condition, summaries: Mapping[str, Summary], baseline: Mapping[str, Summary] | None) -> list[Verdict]:
    """One verdict per target the condition applies to."""
    check_inputs(condition, summaries, baseline is not None)
    names = [condition.target] if condition.target else list(summaries)
    verdicts = []
    for name in names:
        if condition.operand.kind == "target" and name == condition.operand.target:
            continue  # a target compared with itself
        verdicts.append(_verdict(condition, name, summaries, baseline))
    return verdicts


def _verdict(
    condition: Condition, name: str, summaries: Mapping[str, Summary], baseline: Mapping[str, Summary] | None
) -> Verdict:
    summary = summaries[name]
    value = summary.metric(condition.metric)
    operand = condition.operand
    reference: float | None
    if operand.kind == "number":
        reference = operand.value
    elif operand.kind == "budget":
        reference = summary.latency_budget_seconds
    elif operand.kind == "target":
        reference = summaries[operand.target].metric(condition.metric)
    else:
        old = (baseline or {}).get(name)
        reference = old.metric(condition.metric) if old else None
    if value is None or reference is None or not math.isfinite(value) or not math.isfinite(reference):
        missing = condition.metric if value is None or not math.isfinite(value) else f"its reference ({operand.kind})"
        return Verdict(condition.text, name, True, f"{name}: no figure for {missing}: the gate cannot pass")
    for step, number in condition.steps:
        reference = reference + number if step == "+" else reference - number if step == "-" else reference * number
    holds = OPERATORS[condition.op](value, reference)
    return Verdict(
        condition.text, name, holds, f"{name}: {condition.metric} {value:.4g} {condition.op} {reference:.4g} is {holds}"
    )
