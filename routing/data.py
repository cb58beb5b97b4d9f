"""Calibration data (per-prompt quality of two routes) and replay prompts, read from the files users have:

- a CSV in RouteLLM's layout: a ``prompt`` column and one column per model, each value a boolean
  (True/False, true/false, 1/0) or a score in [0, 1]; other columns are ignored;
- the evaluation harness's ``results.json`` (``./tasks.sh evaluate``): the quality of each target on each case,
  averaged over repeats; a failed request counts 0, a case a route has no score for is left out; the prompts come
  from the test set the run names;
- for replay: a CSV with a ``prompt`` column (optional ``id``), JSONL with ``prompt`` (optional ``id``), or an
  evaluation test set (.yaml).

Bad input raises RoutingInputError naming the file, the field (row, column) and the fix.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.report import RESULTS_FORMAT
from evaluation.testset import EvaluationInputError, load_tests
from routing.errors import RoutingInputError
from routing.metrics import Floats

__all__ = ["Outcomes", "RoutingInputError", "load_outcomes", "load_prompts"]

csv.field_size_limit(10_000_000)  # prompts with long contexts

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class Outcomes:
    """Per-prompt quality in [0, 1] of the weak and the strong route on the same prompts."""

    source: str
    ids: list[str]
    prompts: list[str]
    weak: Floats
    strong: Floats


def parse_quality(value: str, where: str) -> float:
    text = value.strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # also NaN
        raise RoutingInputError(
            f"{where}: {value!r} is neither a boolean (True/False, 1/0) nor a score in [0, 1]; fix the value or drop the row"
        )
    return number


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with _open_text(path) as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except FileNotFoundError:
        raise RoutingInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error, OSError) as error:
        raise RoutingInputError(f"{path}: not a UTF-8 CSV ({error})") from None


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _need_prompt_column(path: Path, columns: list[str]) -> None:
    if "prompt" not in columns:
        raise RoutingInputError(
            f"{path}: no 'prompt' column (columns: {', '.join(columns) or 'none'}); name the column holding each prompt 'prompt'"
        )


def outcomes_from_csv(path: Path, weak: str, strong: str) -> Outcomes:
    columns, rows = _read_csv(path)
    _need_prompt_column(path, columns)
    for flag, name in (("--weak", weak), ("--strong", strong)):
        if name not in columns:
            models = [c for c in columns if c != "prompt"]
            raise RoutingInputError(
                f"{path}: no column {name!r} for {flag}; give one of the model columns: {', '.join(models) or 'none'}"
            )
    ids, prompts, w, s = [], [], [], []
    for line, row in enumerate(rows, start=2):
        prompt = row.get("prompt") or ""
        if not prompt.strip():
            raise RoutingInputError(f"{path}: row {line}, column 'prompt' is empty; give the prompt or drop the row")
        ids.append(row.get("id") or str(line - 1))
        prompts.append(prompt)
        w.append(parse_quality(row.get(weak) or "", f"{path}: row {line}, column {weak!r}"))
        s.append(parse_quality(row.get(strong) or "", f"{path}: row {line}, column {strong!r}"))
    return Outcomes(str(path), ids, prompts, np.array(w), np.array(s))


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutingInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RoutingInputError(f"{path}: not JSON ({error})") from None


def outcomes_from_results(path: Path, weak: str, strong: str) -> Outcomes:
    data = _json_file(path)
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise RoutingInputError(f"{path}: not a results.json of ./tasks.sh evaluate (format {RESULTS_FORMAT})")
    targets = sorted({str(r.get("target")) for r in data.get("records", []) if isinstance(r, dict)})
    for flag, name in (("--weak", weak), ("--strong", strong)):
        if name not in targets:
            raise RoutingInputError(f"{path}: no target {name!r} for {flag}; the run has: {', '.join(targets) or 'none'}")
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in data["records"]:
        if record.get("target") not in (weak, strong):
            continue
        quality = record.get("quality") if record.get("ok") else 0.0
        if isinstance(quality, int | float) and not isinstance(quality, bool):
            scores[str(record["case"])][str(record["target"])].append(float(quality))
    tests = Path(str(data.get("tests", "")))
    try:
        cases = {case.id: case.prompt for case in load_tests(tests)}
    except EvaluationInputError as error:
        raise RoutingInputError(f"{path}: field 'tests' names a test set that cannot be read: {error}") from None
    ids = [case for case in cases if weak in scores[case] and strong in scores[case]]
    return Outcomes(
        str(path),
        ids,
        [cases[case] for case in ids],
        np.array([float(np.mean(scores[case][weak])) for case in ids]),
        np.array([float(np.mean(scores[case][strong])) for case in ids]),
    )


def load_outcomes(path: Path, weak: str, strong: str) -> Outcomes:
    if weak == strong:
        raise RoutingInputError(f"--weak and --strong are both {weak!r}; name two different routes")
    if path.suffix == ".json":
        return outcomes_from_results(path, weak, strong)
    if path.name.endswith((".csv", ".csv.gz")):
        return outcomes_from_csv(path, weak, strong)
    raise RoutingInputError(f"--from {path}: give a RouteLLM-layout .csv (or .csv.gz) or the results.json of ./tasks.sh evaluate")


def load_prompts(path: Path) -> list[tuple[str, str]]:
    """``(id, prompt)`` pairs in file order, for replay."""
    if path.suffix == ".csv":
        columns, rows = _read_csv(path)
        _need_prompt_column(path, columns)
        return [(row.get("id") or str(n), row.get("prompt") or "") for n, row in enumerate(rows, start=1)]
    if path.suffix in (".yaml", ".yml"):
        try:
            return [(case.id, case.prompt) for case in load_tests(path)]
        except EvaluationInputError as error:
            raise RoutingInputError(str(error)) from None
    if path.suffix == ".jsonl":
        pairs = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise RoutingInputError(f"{path}: no such file") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise RoutingInputError(f"{path}: line {number} is not JSON ({error.msg})") from None
            if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
                raise RoutingInputError(f"{path}: line {number} has no string field 'prompt'; give each line one")
            pairs.append((str(item.get("id", number)), item["prompt"]))
        return pairs
    raise RoutingInputError(f"--prompts {path}: give a .csv with a 'prompt' column, .jsonl with 'prompt', or a .yaml test set")
