"""Rubric scores from an LLM judge (a Bedrock model, called through llm_client), or from you (``--rate``).

The judge's prompt is ``evaluation/judge_prompt.md``: the question, the answer and the numbered rubric items are
filled in, the judge replies with JSON ``{"scores": [{"item": 1, "score": 1-5, "reason": ...}]}``. A reply that is
not that (no JSON, a missing item, a score outside 1-5) leaves the items unscored and says why: a judge's mistake
never becomes a quality score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.expectations import Check, rubric_score
from evaluation.targets import Target
from llm_client import Client, LlmClientError

PROMPT_FILE = Path(__file__).with_name("judge_prompt.md")
JUDGE_MAX_TOKENS = 1024
OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class JudgeReplyError(ValueError):
    """The judge's reply is not the JSON the prompt asks for."""


@dataclass(frozen=True)
class Judge:
    client: Client
    target: Target  # a Bedrock model config key, resolved like any --target
    template: str

    def score(self, question: str, answer: str, rubric: tuple[str, ...]) -> tuple[list[Check], float]:
        """One check per rubric item, and what the judge's call cost."""
        prompt = render(self.template, question, answer, rubric)
        try:
            reply = self.client.invoke(self.target.endpoint, prompt, max_tokens=JUDGE_MAX_TOKENS, temperature=0.0)
        except LlmClientError as error:
            return unscored(rubric, f"judge call failed: {error}"), 0.0
        cost = (
            self.target.cost(
                served_by=None,
                latency_seconds=reply.latency_seconds,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
            )
            or 0.0
        )
        try:
            scores = parse_reply(reply.text, len(rubric))
        except JudgeReplyError as error:
            return unscored(rubric, f"judge reply unusable: {error}"), cost
        except Exception as error:  # a bug on one reply leaves its items unscored; the run goes on
            return unscored(rubric, f"judge reply not read ({type(error).__name__}: {str(error)[:200]})"), cost
        return [
            Check("rubric", rubric_score(score), f"{item} -> {score}/5: {reason}")
            for item, (score, reason) in zip(rubric, scores, strict=True)
        ], cost


def load_template(path: Path = PROMPT_FILE) -> str:
    template = path.read_text(encoding="utf-8")
    for field in ("{{question}}", "{{answer}}", "{{rubric}}"):
        if field not in template:
            raise ValueError(f"{path}: the judge prompt must contain {field}")
    return template


def render(template: str, question: str, answer: str, rubric: tuple[str, ...]) -> str:
    items = "\n".join(f"{number}. {item}" for number, item in enumerate(rubric, 1))
    # One pass, so text inside the answer that looks like a placeholder is not filled in.
    values = {"question": question, "answer": answer, "rubric": items}
    return re.sub(r"\{\{(question|answer|rubric)\}\}", lambda m: values[m.group(1)], template)


def parse_reply(text: str, items: int) -> list[tuple[int, str]]:
    """(score, reason) per rubric item, in order."""
    match = OBJECT.search(text)
    if not match:
        raise JudgeReplyError("no JSON object in the reply")
    try:
        data: Any = json.loads(match.group(0))
    except json.JSONDecodeError as error:
        raise JudgeReplyError(f"not valid JSON ({error.msg})") from None
    except (ValueError, RecursionError) as error:  # a 5000-digit number, nesting deeper than Python recurses
        raise JudgeReplyError(f"not JSON this harness reads ({type(error).__name__})") from None
    scores = data.get("scores") if isinstance(data, dict) else None
    if not isinstance(scores, list):
        raise JudgeReplyError("no 'scores' list")
    by_item: dict[int, tuple[int, str]] = {}
    for position, entry in enumerate(scores, 1):
        if not isinstance(entry, dict):
            raise JudgeReplyError(f"score entry {position} is not an object")
        item = entry.get("item", position)
        score = entry.get("score")
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= items:
            raise JudgeReplyError(f"score entry {position}: item {item!r} is not 1..{items}")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 1 <= score <= 5 or score != int(score):
            raise JudgeReplyError(f"item {item}: score {score!r} is not a whole number 1..5")
        by_item[item] = (int(score), str(entry.get("reason", "")))
    missing = [i for i in range(1, items + 1) if i not in by_item]
    if missing:
        raise JudgeReplyError(f"no score for item(s) {missing}")
    return [by_item[i] for i in range(1, items + 1)]


def unscored(rubric: tuple[str, ...], why: str) -> list[Check]:
    return [Check("rubric", None, f"{item}: {why}") for item in rubric]


def rate_by_hand(
    question: str,
    answer: str,
    rubric: tuple[str, ...],
    ask: Callable[[str], str] | None = None,
    show: Callable[[str], None] | None = None,
) -> list[Check]:
    """The guide's ``input("Rate answer 1-5")``, per rubric item; Enter skips an item (unscored)."""
    ask, show = ask or input, show or print
    show(f"\n--- question ---\n{question}\n--- answer ---\n{answer}")
    checks = []
    for item in rubric:
        while True:
            reply = ask(f"Rate 1-5 (Enter skips): {item} > ").strip()
            if not reply:
                checks.append(Check("rubric", None, f"{item}: skipped"))
                break
            if reply in {"1", "2", "3", "4", "5"}:
                checks.append(Check("rubric", rubric_score(int(reply)), f"{item} -> {reply}/5 (by hand)"))
                break
            show("Type a whole number 1-5, or Enter to skip.")
    return checks
