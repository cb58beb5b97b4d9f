"""Score one answer against its case's expectations. Each kind scores 0 or 1; rubric items are scored 1-5 by a judge
(``evaluation.judge``) or by hand (``--rate``) and count as (score - 1) / 4. A request's quality is the mean of its
scores; a case without expectations has no quality (it still measures latency and cost).

Scoring runs after the requests (evaluation/cli.py), never while one is timed. Each check has SCORING_SECONDS
(evaluation/patterns.py); a check that runs out of time or fails (an answer nested too deeply to parse, a bug) scores
0 with the reason in its detail, and the run goes on: the answer was not shown to meet the expectation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluation import schemas
from evaluation.patterns import Deadline, search
from evaluation.testset import Case

# A decimal number as models write them: optional sign, thousands separators, decimals, exponent.
NUMBER = re.compile(r"[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9]+")
JSON_BLOCK = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Check:
    kind: str  # contains | regex | number | json_schema | rubric
    score: float | None  # 0..1; None: not scored (no judge, judge failed)
    detail: str


def check_answer(case: Case, text: str) -> list[Check]:
    """The checks of every kind but rubric (which needs a judge), each scored even when checking it fails."""
    checks = []
    if case.contains:
        checks.append(_guarded("contains", lambda: check_contains(text, case.contains, case.ignore_case)))
    if case.regex is not None:
        checks.append(_guarded("regex", lambda: check_regex(text, case.regex, Deadline())))
    if case.number is not None:
        number = case.number
        checks.append(_guarded("number", lambda: check_number(text, *number)))
    if case.json_schema is not None:
        schema = case.json_schema
        checks.append(_guarded("json_schema", lambda: check_json(text, schema)))
    return checks


def _guarded(kind: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except TimeoutError as error:
        return Check(kind, 0.0, str(error))
    except Exception as error:  # one answer's failure scores that case; the run goes on
        return Check(kind, 0.0, f"could not be checked ({type(error).__name__}: {str(error)[:200]})")


def check_contains(text: str, needles: tuple[str, ...], ignore_case: bool) -> Check:
    haystack = text.lower() if ignore_case else text
    missing = [c for c in needles if (c.lower() if ignore_case else c) not in haystack]
    return Check("contains", 0.0 if missing else 1.0, f"missing {missing}" if missing else "all present")


def check_regex(text: str, pattern: Any, deadline: Deadline) -> Check:
    found = search(pattern, text, deadline)
    return Check("regex", 1.0 if found else 0.0, f"matched {found.group(0)[:200]!r}" if found else "no match")


def numbers_in(text: str) -> list[float]:
    return [float(match.replace(",", "")) for match in NUMBER.findall(text)]


def check_number(text: str, value: float, tolerance: float) -> Check:
    """Passes when any number in the answer is within +-tolerance of value."""
    numbers = numbers_in(text)
    close = [n for n in numbers if abs(n - value) <= tolerance]
    if close:
        return Check("number", 1.0, f"found {close[0]:g} (expected {value:g} +- {tolerance:g})")
    shown = ", ".join(f"{n:g}" for n in numbers[:5]) or "no number"
    return Check("number", 0.0, f"expected {value:g} +- {tolerance:g}, found {shown}")


def check_json(text: str, schema: dict[str, object] | bool, deadline: Deadline | None = None) -> Check:
    """The whole answer, or else its first fenced code block, must parse as JSON and be valid against ``schema``
    (resolved by evaluation/schemas.py when the test set loaded)."""
    deadline = deadline or Deadline()
    candidates = [text.strip()] + [block.strip() for block in JSON_BLOCK.findall(text)]
    for candidate in candidates:
        try:
            document = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        errors = schemas.validate(schema, document, deadline)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
            return Check("json_schema", 0.0, f"invalid at {where}: {errors[0].message[:300]}")
        return Check("json_schema", 1.0, "valid")
    return Check("json_schema", 0.0, "not JSON")


def rubric_score(score_1_to_5: int) -> float:
    return (score_1_to_5 - 1) / 4


def quality_of(checks: list[Check]) -> float | None:
    scored = [c.score for c in checks if c.score is not None]
    return sum(scored) / len(scored) if scored else None
