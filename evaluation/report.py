"""The run's outputs: a side-by-side terminal table, JSON results (which ``--baseline`` reads back), a Markdown
report and a self-contained HTML page whose charts are matplotlib SVG embedded inline (no script, no network).

Target names, case ids, gate conditions, test-set paths and error messages come from the user or a model: in the
Markdown report each is one line of literal text (``inline``), so none can break a table, start a heading or embed
an image or a link. The HTML page renders that Markdown with markdown-it-py (CommonMark; raw HTML, links and images
off, as a second guard) instead of showing it as preformatted text.
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluation import tool_expectations
from evaluation.gate import Verdict
from evaluation.measure import Record
from evaluation.stats import Summary
from evaluation.testset import EvaluationInputError
from llm_config.errors import brief

RESULTS_FORMAT = "llm-endpoints-evaluation/1"
ANSWER_CHARS = 2000  # answers are cut to this many characters in the JSON results
COLUMNS = ("target", "n", "p50 s", "p90 s", "p99 s", "ttft p50", "tok/s", "errors", "quality (95% CI)", "$ / 1k req")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _quality(summary: Summary) -> str:
    if summary.quality is None or summary.quality_ci is None:
        return "-"
    low, high = summary.quality_ci
    return f"{summary.quality:.2f} [{low:.2f}, {high:.2f}] n={summary.quality_n}"


def _cost(summary: Summary) -> str:
    if summary.cost_per_1k is None:
        return "unknown"
    text = f"{summary.cost_per_1k:.4f}"
    return text + (f" ({summary.cost_unknown} unknown)" if summary.cost_unknown else "")


def rows(summaries: Sequence[Summary]) -> list[list[str]]:
    return [
        [
            s.target if s.share is None else f"{s.target} ({s.share:.0%} of answers)",
            str(s.requests),
            _seconds(s.p50),
            _seconds(s.p90),
            _seconds(s.p99),
            _seconds(s.ttft_p50),
            "-" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}",
            f"{s.error_rate:.1%}" + (f" ({s.throttled} throttled)" if s.throttled else ""),
            _quality(s),
            _cost(s),
        ]
        for s in summaries
    ]


def terminal_table(summaries: Sequence[Summary]) -> str:
    table = [list(COLUMNS), *rows(summaries)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def deltas(summaries: Sequence[Summary], baseline: Mapping[str, Summary]) -> list[str]:
    """One line per target that the baseline also has: p90, quality and cost per 1k, then -> now."""
    out = []
    for s in summaries:
        old = baseline.get(s.target)
        if old is None:
            continue
        parts = []
        for name, fmt in (("p90", "{:.3f} s"), ("quality", "{:.2f}"), ("cost_per_1k", "${:.4f}")):
            before, now = (("-" if v is None else fmt.format(v)) for v in (old.metric(name), s.metric(name)))
            parts.append(f"{name} {before} -> {now}")
        out.append(f"{s.target}: " + ", ".join(parts))
    return out


# --- JSON results -----------------------------------------------------------------------------------------


def results_document(
    *,
    tests: str,
    settings: Mapping[str, Any],
    summaries: Sequence[Summary],
    records: Sequence[Record],
    planned: int,
    stopped_by: str | None,
    verdicts: Sequence[Verdict] = (),
) -> dict[str, Any]:
    def record(r: Record) -> dict[str, Any]:
        data = asdict(r)
        data["answer"] = r.answer[:ANSWER_CHARS]
        return data

    return {
        "format": RESULTS_FORMAT,
        "tests": tests,
        "settings": dict(settings),
        "planned_requests": planned,
        "stopped_by": stopped_by,
        "summaries": {s.target: s.as_dict() for s in summaries},
        "gates": [asdict(v) for v in verdicts],
        "records": [record(r) for r in records],
    }


Fraction = Annotated[float, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
Usd = Annotated[float, Field(ge=0)]


class BaselineSummary(BaseModel):
    """A Summary as results.json holds it, checked: finite numbers (JSON's NaN would make every gate on it pass),
    no strings, each in its range. The fields are Summary's (a test keeps them equal)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")

    target: str
    requests: Count
    ok: Count
    errors: Count
    throttled: Count
    p50: Seconds | None
    p90: Seconds | None
    p99: Seconds | None
    ttft_p50: Seconds | None
    ttft_p90: Seconds | None
    tokens_per_s: Annotated[float, Field(ge=0)] | None
    error_rate: Fraction
    error_rate_ci: tuple[Fraction, Fraction]
    throttle_rate: Fraction
    quality: Fraction | None
    quality_ci: tuple[Fraction, Fraction] | None
    quality_n: Count
    cost_usd: Usd
    cost_per_1k: Usd | None
    cost_unknown: Count
    judge_cost_usd: Usd
    latency_budget_seconds: Annotated[float, Field(gt=0)]
    share: Fraction | None = None


class _ResultsFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summaries: dict[str, BaselineSummary]


def load_baseline(path: Path) -> dict[str, Summary]:
    """The per-target summaries of an earlier run's results.json, each figure checked (before any request)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise EvaluationInputError(f"--baseline {path}: no such file (give the results.json of an earlier run)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationInputError(f"--baseline {path}: cannot read it ({error})") from None
    except json.JSONDecodeError as error:
        raise EvaluationInputError(f"--baseline {path}: not JSON ({error.msg})") from None
    except (ValueError, RecursionError) as error:
        raise EvaluationInputError(f"--baseline {path}: not JSON this harness writes ({str(error)[:200]})") from None
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise EvaluationInputError(f"--baseline {path}: not a results file of this harness (format {RESULTS_FORMAT})")
    try:
        parsed = _ResultsFile.model_validate_json(text)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise EvaluationInputError(
            f"--baseline {path}: {where}: {first['msg']} (got {brief(first.get('input'))}): "
            "give a results.json this harness wrote, unedited, or rerun the baseline"
        ) from None
    return {target: Summary(**summary.model_dump()) for target, summary in parsed.summaries.items()}


# --- Markdown -----------------------------------------------------------------------------------------------

# What CommonMark (and GitHub's tables and strikethrough) read inside a line: escapes, code, emphasis, links and
# images, autolinks and raw HTML, entities, table cells.
INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~!])")
# What starts a block at the beginning of a list item: a heading, a quote, a list, a setext underline.
BLOCK_START = re.compile(r"^(?:[#>+=-]|[0-9]+(?=[.)]))")
INLINE_CHARS = 500  # a longer string (an error message) is cut


def inline(text: str) -> str:
    """``text`` as literal Markdown on one line: whitespace runs (newlines too) become one space, specials escaped."""
    line = " ".join(text.split())
    if len(line) > INLINE_CHARS:
        line = line[:INLINE_CHARS] + "..."
    line = INLINE_SPECIAL.sub(r"\\\1", line)
    start = BLOCK_START.match(line)
    if start:  # "# x" -> "\# x"; "1. x" -> "1\. x"
        end = start.end()
        line = line[:end] + "\\" + line[end:] if line[:end].isdigit() else "\\" + line
    return line


def markdown(
    *,
    tests: str,
    summaries: Sequence[Summary],
    records: Sequence[Record],
    planned: int,
    stopped_by: str | None,
    verdicts: Sequence[Verdict],
    baseline: Mapping[str, Summary] | None,
    notes: Sequence[str],
) -> str:
    out = [f"# Evaluation: {inline(', '.join(s.target for s in summaries))}", ""]
    out.append(
        f"Test set {inline(tests)}; {len(records)} of {planned} planned requests measured"
        + (f" (stopped: {stopped_by})." if stopped_by else ".")
    )
    out += [""] + [f"> {inline(note)}" for note in notes] + ([""] if notes else [])
    out += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(inline(cell) for cell in row) + " |" for row in rows(summaries)]
    out += [
        "",
        "Latencies are end to end in seconds (retries included) over successful requests; tok/s is the median of output "
        "tokens / latency; quality is the mean expectation score (0-1); $ / 1k req is the mean cost of a request x 1,000 "
        "(docs/evaluation.md explains each figure and its limits).",
    ]
    if baseline:
        lines = deltas(summaries, baseline)
        out += ["", "## Against the baseline", ""]
        out += [f"- {inline(line)}" for line in lines or ["no target in common with the baseline"]]
    if verdicts:
        out += ["", "## Gates", ""]
        out += [f"- {'FAIL' if v.holds else 'pass'} {inline(v.condition)}: {inline(v.detail)}" for v in verdicts]
    targets = [s.target for s in summaries]
    by_case: dict[str, dict[str, list[float]]] = {}
    for r in records:
        if r.quality is not None:
            by_case.setdefault(r.case, {}).setdefault(r.target, []).append(r.quality)
    if by_case:
        header = "| case | " + " | ".join(inline(t) for t in targets) + " |"
        out += ["", "## Quality per case", "", header, "|" + "---|" * (len(targets) + 1)]
        for case, scores in by_case.items():
            cells = [f"{sum(v) / len(v):.2f}" if (v := scores.get(t)) else "-" for t in targets]
            out.append(f"| {inline(case)} | " + " | ".join(cells) + " |")
    out += tool_expectations.report_lines([(t, [r.checks for r in records if r.target == t]) for t in targets])
    failed = [r for r in records if not r.ok]
    if failed:
        out += ["", "## Errors (first 20)", ""]
        out += [f"- {inline(r.target)} / {inline(r.case)}: {r.error_kind}: {inline(r.error or '')}" for r in failed[:20]]
    return "\n".join(out) + "\n"


# --- HTML ------------------------------------------------------------------------------------------------------


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def latency_chart(summaries: Sequence[Summary], records: Sequence[Record]) -> str:
    targets = [s.target for s in summaries]
    data = [[r.latency_seconds for r in records if r.target == t and r.ok] or [float("nan")] for t in targets]
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "evaluation"}):
        figure, ax = plt.subplots(figsize=(8, 0.7 * len(targets) + 1.5))
        ax.boxplot(data, orientation="horizontal", tick_labels=targets, showfliers=True)
        for row, values in enumerate(data, 1):
            ax.plot(values, [row] * len(values), "o", alpha=0.35, markersize=3, color="tab:blue")
        for row, s in enumerate(summaries, 1):
            ax.plot([s.latency_budget_seconds], [row], marker="|", markersize=18, color="tab:red")
        ax.set_xlabel("end-to-end latency, seconds (red mark: latency budget)")
        ax.set_title("Latency distribution per target")
        return _svg(figure)


def quality_cost_chart(summaries: Sequence[Summary]) -> str | None:
    points = [s for s in summaries if s.quality is not None and s.cost_per_1k is not None and s.quality_ci is not None]
    if not points:
        return None
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "evaluation"}):
        figure, ax = plt.subplots(figsize=(7, 4.5))
        for s in points:
            assert s.quality is not None and s.quality_ci is not None and s.cost_per_1k is not None
            low, high = s.quality_ci
            ax.errorbar([s.cost_per_1k], [s.quality], yerr=[[s.quality - low], [high - s.quality]], fmt="o", capsize=4)
            ax.annotate(s.target, (s.cost_per_1k, s.quality), textcoords="offset points", xytext=(6, 6))
        ax.set_xlabel("cost per 1,000 requests, USD")
        ax.set_ylabel("quality (0-1), 95% CI")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlim(left=0)
        ax.set_title("Quality against cost per target")
        return _svg(figure)


# CommonMark with tables; raw HTML shown as text; links, images and autolinks not rendered (the report has none of its
# own, so one could only come from a string that escaped ``inline``).
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["link", "image", "autolink"])


def markdown_html(report_markdown: str) -> str:
    """The report's Markdown as HTML, each heading a level lower (the page has its own h1)."""
    tokens = MARKDOWN.parse(report_markdown)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return str(MARKDOWN.renderer.render(tokens, MARKDOWN.options, {}))


def html_page(report_markdown: str, summaries: Sequence[Summary], records: Sequence[Record], notes: Sequence[str] = ()) -> str:
    """``notes`` (e.g. that the figures come from the local stand-in) open the page, above every figure."""
    charts = [latency_chart(summaries, records)]
    quality = quality_cost_chart(summaries)
    charts.append(quality if quality else "<p>No quality scores (no expectations scored), so no quality/cost chart.</p>")
    table = "".join(
        "<tr>" + "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in row) + "</tr>"
        for tag, row in [("th", list(COLUMNS))] + [("td", r) for r in rows(summaries)]
    )
    banner = "".join(f"<p class=note role=note><strong>{html.escape(note)}</strong></p>\n" for note in notes)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}"
        "td:first-child,th:first-child{text-align:left}"
        ".note{background:#fff3cd;border:1px solid #e0b000;padding:.6rem 1rem}"
        "svg{max-width:100%;height:auto}"
    )
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Evaluation report</title>"
        f"<style>{style}</style></head><body>\n<h1>Evaluation report</h1>\n{banner}<table>{table}</table>\n"
        + "\n".join(f"<figure>{chart}</figure>" for chart in charts)
        + f"\n<h2>Full report</h2>\n{markdown_html(report_markdown)}</body></html>\n"
    )
