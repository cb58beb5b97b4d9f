"""Score one answer against its case's expectations. Each kind scores 0 or 1; rubric items are scored 1-5 by a judge
(``evaluation.judge``) or by hand (``--rate``) and count as (score - 1) / 4. A request's quality is the mean of its
scores; a case without expectations has no quality (it still measures latency and cost)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import jsonschema

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
    """The checks of every kind but rubric (which needs a judge)."""
    checks = []
    if case.contains:
        haystack = text.lower() if case.ignore_case else text
        missing = [c for c in case.contains if (c.lower() if case.ignore_case else c) not in haystack]
        checks.append(Check("contains", 0.0 if missing else 1.0, f"missing {missing}" if missing else "all present"))
    if case.regex is not None:
        found = case.regex.search(text)
        checks.append(Check("regex", 1.0 if found else 0.0, f"matched {found.group(0)!r}" if found else "no match"))
    if case.number is not None:
        checks.append(check_number(text, *case.number))
    if case.json_schema is not None:
        checks.append(check_json(text, case.json_schema))
    return checks


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


def check_json(text: str, schema: dict[str, object] | bool) -> Check:
    """The whole answer, or else its first fenced code block, must parse as JSON and be valid against ``schema``."""
    candidates = [text.strip()] + [block.strip() for block in JSON_BLOCK.findall(text)]
    for candidate in candidates:
        try:
            document = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(document), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
            return Check("json_schema", 0.0, f"invalid at {where}: {errors[0].message}")
        return Check("json_schema", 1.0, "valid")
    return Check("json_schema", 0.0, "not JSON")


def rubric_score(score_1_to_5: int) -> float:
    return (score_1_to_5 - 1) / 4


def quality_of(checks: list[Check]) -> float | None:
    scored = [c.score for c in checks if c.score is not None]
    return sum(scored) / len(scored) if scored else None
