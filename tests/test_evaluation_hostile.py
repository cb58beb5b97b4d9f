"""The evaluation harness against hostile input (issue 26): test sets that would hang, crash or fool a run, gates that
could never fail, and reports that a case id or an answer could inject into. Whole runs use the protocol stand-in of
tests/test_evaluation.py on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from evaluation import cli, expectations, gate, patterns, report, runner, schemas, testset
from evaluation.expectations import check_answer, check_json
from evaluation.judge import JudgeReplyError, parse_reply
from evaluation.measure import Record
from evaluation.patterns import Deadline
from evaluation.stats import Summary
from evaluation.testset import EvaluationInputError, load_tests
from llm_config import ConfigError
from local_aws.protocol_standin import StandinServer
from tests import test_evaluation as base
from tests.conftest import REPO_ROOT
from tests.test_evaluation import Session, case, evaluate, load_tests_from, results

server, session = base.server, base.session  # the stand-in's fixtures, found by name

SLOW = "(a|a)+$"  # Python's re backtracks 2^n times on n a's that are not followed by the end
SLOW_TEXT = "a" * 40 + "!"


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "SCORING_SECONDS", 0.2)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


# --- item 4: $ref in a JSON-schema expectation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#"}, r"at /\$ref: '#' refers to a schema that contains it \(recursion\)"),
        (
            {"properties": {"child": {"$ref": "#"}}},
            r"at /properties/child/\$ref: '#' refers to a schema that contains it",
        ),
        (
            {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
            r"at /\$defs/b/\$ref: '#/\$defs/a' refers to a schema that contains it",
        ),
        ({"$ref": "file:///etc/passwd"}, r"at /\$ref: 'file:///etc/passwd' is not in this schema: nothing is fetched"),
        ({"$ref": "https://example.com/city.json"}, r"at /\$ref: 'https://example.com/city.json' is not in this schema"),
        ({"$ref": "#/$defs/missing"}, r"at /\$ref: '#/\$defs/missing' points at nothing in this schema"),
        ({"$ref": "#city"}, r"at /\$ref: '#city': anchors are not supported"),
        ({"$dynamicRef": "#meta"}, r"at /\$dynamicRef: dynamic references are not supported"),
    ],
)
def test_references_that_cannot_be_resolved_here_are_refused_when_the_file_loads(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(EvaluationInputError, match=r"case 1 \(x\): expect\.json_schema: " + message):
        case(json_schema=schema)


def test_local_references_are_resolved_when_the_file_loads() -> None:
    schema = {
        "$defs": {"city": {"type": "string", "pattern": "^Rome$"}},
        "type": "object",
        "properties": {"city": {"$ref": "#/$defs/city", "minLength": 2}},
        "required": ["city"],
    }
    loaded = case(json_schema=schema)
    assert "$ref" not in json.dumps(loaded.json_schema)  # nothing left to resolve while answers are checked
    assert [c.score for c in check_answer(loaded, '{"city": "Rome"}')] == [1.0]
    assert check_answer(loaded, '{"city": "Paris"}')[0].detail == "invalid at city: 'Paris' does not match '^Rome$'"


def test_references_to_references_cannot_grow_a_schema_without_bound() -> None:
    definitions: dict[str, Any] = {"d0": {"type": "string"}}
    for n in range(1, 40):  # each level refers to the one below twice: 2^39 schemas once written out
        definitions[f"d{n}"] = {"allOf": [{"$ref": f"#/$defs/d{n - 1}"}, {"$ref": f"#/$defs/d{n - 1}"}]}
    with pytest.raises(EvaluationInputError, match=f"more than {schemas.MAX_SCHEMA_NODES:,} values once references"):
        case(json_schema={"$defs": definitions, "$ref": "#/$defs/d39"})


# --- item 4 and 5: an error or a slow pattern while scoring one answer scores that case ------------------------------


def test_a_slow_regex_scores_0_within_the_deadline(short_deadline: None) -> None:
    checks = check_answer(case(regex=SLOW), SLOW_TEXT)
    assert [(c.kind, c.score) for c in checks] == [("regex", 0.0)]
    assert checks[0].detail == "not checked within 0.2 s: simplify the pattern or schema"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": SLOW},
        {"type": "object", "patternProperties": {SLOW: {"type": "integer"}}},
        {"type": "object", "properties": {"ok": {}}, "patternProperties": {SLOW: {}}, "additionalProperties": False},
        {"type": "object", "propertyNames": {"pattern": SLOW}},
    ],
)
def test_a_schemas_slow_patterns_score_0_within_the_deadline(short_deadline: None, schema: dict[str, Any]) -> None:
    answer = json.dumps(SLOW_TEXT) if schema["type"] == "string" else json.dumps({SLOW_TEXT: 1})
    checks = check_answer(case(json_schema=schema), answer)
    assert (checks[0].score, checks[0].detail) == (0.0, "not checked within 0.2 s: simplify the pattern or schema")


def test_a_schema_check_stops_at_the_deadline_between_keywords() -> None:
    ticks = iter(range(100))
    deadline = Deadline(5, clock=lambda: float(next(ticks)))  # a second per keyword
    schema = schemas.prepare({"type": "array", "items": {"type": "integer", "minimum": 0}})
    with pytest.raises(TimeoutError, match="not checked within 5 s"):
        check_json(json.dumps(list(range(50))), schema, deadline)


def test_an_answer_that_cannot_be_parsed_scores_0_and_says_why() -> None:
    deep = "[" * 100_000 + "]" * 100_000  # the JSON parser recurses once per level
    checks = check_answer(case(json_schema={"type": "array"}), deep)
    assert checks[0].score == 0.0 and checks[0].detail.startswith("could not be checked (RecursionError")


def test_patterns_are_refused_when_they_do_not_compile() -> None:
    with pytest.raises(EvaluationInputError, match=r"expect\.json_schema: not a valid JSON Schema \(\"'\(' is not a 'regex'"):
        case(json_schema={"properties": {"a": {"pattern": "("}}})


def test_schemas_have_a_size_cap_each_and_together(tmp_path: Path) -> None:
    big = {"type": "object", "properties": {f"p{n}": {"type": "string"} for n in range(1000)}}  # 2,003 values
    with pytest.raises(
        EvaluationInputError, match=f"case 1 \\(x\\): expect.json_schema: at /: more than {schemas.MAX_SCHEMA_NODES:,}"
    ):
        case(json_schema=big)
    with pytest.raises(EvaluationInputError, match="more than 64 levels deep"):
        case(json_schema=json.loads('{"not": ' * 70 + "{}" + "}" * 70))
    fair = {"type": "object", "properties": {f"p{n}": {"type": "string"} for n in range(900)}}  # 1,803 values
    many = [{"id": f"c{n}", "prompt": "p", "expect": {"json_schema": fair}} for n in range(1, 13)]
    with pytest.raises(EvaluationInputError, match=r"case 12 \(c12\): .* schemas hold more than 20,000 values together"):
        load_tests_from({"cases": many})


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n" for n in range(8)
    )
    path = write(tmp_path, "bomb.yaml", bomb + "cases:\n  - prompt: hi\n    expect: {json_schema: {enum: [*i]}}\n")
    assert len(path.read_bytes()) < 700  # 10^9 values once expanded
    with pytest.raises(ConfigError, match=r"YAML aliases \(\*name\) are not allowed in this file at line 2"):
        load_tests(path)


def test_an_error_while_scoring_one_answer_scores_that_case_and_the_run_goes_on(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = expectations.check_number

    def broken(text: str, value: float, tolerance: float) -> Any:
        if value == 1:
            raise RuntimeError("a bug in a checker")
        return real(text, value, tolerance)

    monkeypatch.setattr(expectations, "check_number", broken)
    tests = write(
        tmp_path,
        "t.jsonl",
        '{"id": "broken", "prompt": "1", "expect": {"number": {"value": 1}}}\n'
        '{"id": "fine", "prompt": "2", "expect": {"number": {"value": 2}}}\n',
    )
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", tests=tests) == 0
    checks = {r["case"]: r["checks"] for r in results(tmp_path)["records"]}
    assert checks["broken"] == [
        {"kind": "number", "score": 0.0, "detail": "could not be checked (RuntimeError: a bug in a checker)"}
    ]
    assert checks["fine"][0]["score"] == 1.0
    assert (tmp_path / "out" / "report.html").is_file()


def test_answers_are_scored_after_the_last_request_not_while_one_is_timed(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished = threading.Event()
    real_run, real_check = runner.run, expectations.check_answer
    scored_while_running: list[str] = []

    def run(*args: Any, **kwargs: Any) -> Any:
        outcome = real_run(*args, **kwargs)
        finished.set()
        return outcome

    def check(case: Any, text: str) -> Any:
        if not finished.is_set():
            scored_while_running.append(case.id)
        return real_check(case, text)

    monkeypatch.setattr(cli, "run", run)
    monkeypatch.setattr(cli, "check_answer", check)
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", "--concurrency", "2") == 0
    assert scored_while_running == []
    assert any(r["checks"] for r in results(tmp_path)["records"])


def test_a_catastrophic_regex_does_not_hold_the_run(session: Session, tmp_path: Path, short_deadline: None) -> None:
    tests = write(tmp_path, "t.jsonl", json.dumps({"id": "slow", "prompt": SLOW_TEXT, "expect": {"regex": SLOW}}) + "\n")
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", tests=tests) == 0
    (only,) = results(tmp_path)["records"]
    assert only["checks"][0]["detail"] == "not checked within 0.2 s: simplify the pattern or schema"


# --- item 7: bad test-set files get the config files' limits and messages ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.yaml", b"cases:\n  - prompt: caf\xe9\n", r"is not UTF-8 text \(byte 0xe9 at line 2\)"),
        ("t.jsonl", b'{"prompt": "caf\xe9"}\n', r"is not UTF-8 text \(byte 0xe9 at line 1\)"),
        ("t.yaml", "cases:\n  - prompt: " + "[" * 5000 + "]" * 5000 + "\n", r"the YAML is nested too deeply"),
        ("t.jsonl", '{"prompt": "x", "id": ' + "[" * 100_000 + "]" * 100_000 + "}\n", r"line 1: nested too deeply"),
        ("t.yaml", "cases:\n  - prompt: hi\n    max_tokens: " + "9" * 5000 + "\n", r"cannot read this value"),
        ("t.jsonl", '{"prompt": "hi", "max_tokens": ' + "9" * 5000 + "}\n", r"line 1: cannot read this value \(Exceeds"),
        ("t.yaml", "cases:\n  - prompt: hi\n    prompt: ho\n", r"duplicate key 'prompt' \(first at line 2\)"),
        ("t.jsonl", '{"prompt": "hi", "prompt": "ho"}\n', r"line 1: duplicate key 'prompt'"),
        (
            "t.yaml",
            "cases:\n  - prompt: hi\n    expect: {number: {value: 1, tolerance: .inf}}\n",
            r"case 1: expect\.number\.tolerance: must be a finite number",
        ),
        ("t.yaml", "cases:\n  - prompt: hi\n    temperature: .inf\n", r"case 1: temperature: must be a finite number"),
        ("t.yaml", "cases:\n  - prompt: hi\n    expect: {number: {value: .nan}}\n", r"number\.value: must be a finite number"),
        (
            "t.yaml",
            "cases:\n  - prompt: hi\n    expect: {number: {value: 1" + "0" * 400 + "}}\n",
            r"case 1: expect\.number\.value: must be a finite number",
        ),
        ("t.jsonl", '{"prompt": "hi", "expect": {"number": {"value": 1, "tolerance": Infinity}}}\n', r"Infinity is not a finite"),
        ("t.yaml", "- prompt: hi\n", r"the file must hold a YAML mapping"),
    ],
)
def test_bad_files_exit_2_with_the_config_files_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | bytes, message: str
) -> None:
    path = write(tmp_path, name, content)
    argv = ["--tests", str(path), "--target", "chat", "--out", str(tmp_path / "out"), "--no-progress"]
    assert cli.main(argv) == 2  # before any AWS call: no session needed
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err
    assert re.search(message, err), err


def test_a_test_set_has_a_size_cap(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "cases: [{prompt: hi}]\n" + "# padding\n" * (testset.MAX_TEST_SET_BYTES // 10))
    with pytest.raises(ConfigError, match=r"the file is larger than 4096 KiB\n  fix: is this the right file\? split a larger"):
        load_tests(path)


@pytest.mark.parametrize("make", ["file", "dir-report"])
def test_an_out_folder_that_cannot_be_written_fails_before_any_request(
    session: Session, server: StandinServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    out = tmp_path / "out"
    if make == "file":
        out.write_text("not a folder")
        expected = f"--out {out}: is a file, not a folder"
    else:
        (out / "report.md").mkdir(parents=True)
        expected = f"--out {out}: report.md there cannot be replaced"
    server.requests.clear()
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b") == 2
    assert expected in capsys.readouterr().err
    assert server.requests == []


# --- item 6: gates that could pass without being checked ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("error_rate > 5", r"5: error_rate is a fraction from 0 to 1, so the gate never depends on the run: write 5% or 0\.05"),
        ("quality < 90", r"quality is a fraction from 0 to 1"),
        ("throttle_rate > 150%", r"150%: throttle_rate is a fraction from 0 to 1, .*: write at most 100%"),
        ("quality < baseline - 5", r"quality is a fraction from 0 to 1"),
        ("p90 > 800", r"800: a plain latency is in seconds and no request here lasts 800 s: write 800ms or 800s"),
        ("p90 > baseline + 100", r"write 100ms or 100s"),
        ("p90 > 5%", r"5%: p90 is a latency: use ms or s"),
        ("error_rate > 5ms", r"error_rate is a fraction from 0 to 1: use a plain number or %"),
        ("tokens_per_s < 5s", r"tokens_per_s has no unit"),
        ("p90 > baseline * 2s", r"\* 2s: a factor has no unit: write \* 2"),
    ],
)
def test_thresholds_that_can_never_fail_given_their_units_are_refused(text: str, message: str) -> None:
    with pytest.raises(EvaluationInputError, match=message):
        gate.parse(text)


@pytest.mark.parametrize(
    "text", ["p90 > 800ms", "p90 > 800s", "p90 > 60", "error_rate > 5%", "quality < 0.9", "p90 > baseline * 1.5"]
)
def test_thresholds_with_their_units_are_read(text: str) -> None:
    gate.parse(text)


@pytest.mark.parametrize(
    ("targets", "condition"),
    [
        (["chat/mistral-7b", "chat/mixtral-8x7b"], "chat/mistral-7b: quality < [chat/mistral-7b] - 0.05"),
        (["chat/mistral-7b"], "quality < [chat/mistral-7b] - 0.05"),  # the only target: nothing else to compare
    ],
)
def test_a_target_compared_with_itself_is_refused_before_any_request(
    session: Session,
    server: StandinServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    targets: list[str],
    condition: str,
) -> None:
    server.requests.clear()
    argv = [arg for target in targets for arg in ("--target", target)]
    assert evaluate(session, tmp_path, *argv, "--fail-if", condition) == 2
    assert "compares chat/mistral-7b with itself, which can never fail" in capsys.readouterr().err
    assert server.requests == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.update(p90=float("nan")), r"p90: Input should be a finite number \(got nan\)"),
        (lambda s: s.update(p90="0.5"), r"p90: Input should be a valid number \(got '0\.5'\)"),
        (lambda s: s.update(quality=float("inf")), r"quality: Input should be a finite number"),
        (lambda s: s.update(error_rate=5.0), r"error_rate: Input should be less than or equal to 1"),
        (lambda s: s.update(cost_per_1k=-1.0), r"cost_per_1k: Input should be greater than or equal to 0"),
        (lambda s: s.pop("quality"), r"quality: Field required"),
    ],
)
def test_baseline_figures_must_be_finite_numbers_in_range(
    session: Session, server: StandinServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, message: str
) -> None:
    baseline = tmp_path / "baseline.json"
    document: dict[str, Any] = {
        "format": report.RESULTS_FORMAT,
        "summaries": {"chat/mistral-7b": base.summary("chat/mistral-7b").as_dict()},
    }
    edit(document["summaries"]["chat/mistral-7b"])
    baseline.write_text(json.dumps(document))  # json writes NaN and Infinity as such
    server.requests.clear()
    code = evaluate(session, tmp_path, "--target", "chat/mistral-7b", "--baseline", str(baseline), "--fail-if", "p90 > baseline")
    err = capsys.readouterr().err
    assert code == 2 and re.search(r"--baseline \S*baseline\.json: summaries\.chat/mistral-7b\." + message, err), err
    assert server.requests == []


def test_a_baseline_holds_every_figure_of_a_summary() -> None:
    assert set(report.BaselineSummary.model_fields) == {f.name for f in dataclasses.fields(Summary)}


def test_a_valid_baseline_reads_back_as_it_was_written(tmp_path: Path) -> None:
    written = base.summary("a", quality=None, quality_ci=None, p90=None)
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"format": report.RESULTS_FORMAT, "summaries": {"a": written.as_dict()}}))
    assert report.load_baseline(path) == {"a": written}


def test_a_figure_that_is_not_finite_does_not_pass_a_gate() -> None:
    verdicts = gate.check(gate.parse("p90 > 1"), {"a": base.summary("a", p90=float("nan"))}, None)
    assert verdicts[0].holds and "no figure for p90" in verdicts[0].detail


# --- item 8 and 9: the reports ------------------------------------------------------------------------------------------

HOSTILE = "x | y\n# Injected heading\n![pixel](https://example.com/p.png) [link](https://example.com) <img src=x> &lt;"


def hostile_report() -> str:
    summaries = [base.summary(HOSTILE), base.summary("chat/mistral-7b")]
    records = [
        Record(HOSTILE, HOSTILE, 0, ok=True, latency_seconds=1.0, quality=1.0),
        Record("chat/mistral-7b", "1. " + HOSTILE, 0, ok=False, latency_seconds=1.0, error_kind="error", error=HOSTILE),
    ]
    verdicts = [gate.Verdict(f"{HOSTILE}: p90 > 1", HOSTILE, True, f"{HOSTILE}: p90 2 > 1 is True")]
    return report.markdown(
        tests=HOSTILE,
        summaries=summaries,
        records=records,
        planned=2,
        stopped_by=None,
        verdicts=verdicts,
        baseline={HOSTILE: base.summary(HOSTILE)},
        notes=[HOSTILE],
    )


def test_report_md_keeps_user_and_model_strings_literal() -> None:
    from markdown_it import MarkdownIt

    text = hostile_report()
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)  # a renderer that allows it all
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not kinds & {"image", "link_open", "html_inline", "html_block"}
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert [h.split(":")[0] for h in headings] == [
        "Evaluation",
        "Against the baseline",
        "Gates",
        "Quality per case",
        "Errors (first 20)",
    ]
    rows, cells = 0, []
    for token in tokens:
        if token.type == "tr_open":
            rows += 1
            cells.append(0)
        elif token.type in ("td_open", "th_open"):
            cells[-1] += 1
    assert rows == 3 + 2  # header and two targets; header and one case
    assert cells == [len(report.COLUMNS)] * 3 + [3, 3]  # no cell split by a |
    assert "Injected heading" in text and "\n# Injected" not in text  # kept, as text


def test_report_html_says_at_the_top_that_figures_come_from_the_local_stand_in(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "use_local_rehearsal", lambda: None)  # the stand-in of this test is the rehearsal's
    tests = write(tmp_path, "t.jsonl", '{"id": "a", "prompt": "Paris", "expect": {"contains": "Paris"}}\n')
    assert evaluate(session, tmp_path, "--local", "--target", "chat/mistral-7b", "--fail-if", "p90 > 60", tests=tests) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    body = page[page.index("<body>") :]
    assert body.index("Local rehearsal: the runtimes are a protocol stand-in") < min(body.index("<table"), body.index("<svg"))
    assert "<pre>" not in page  # the Markdown part is rendered, not shown as source
    report_part = page[page.index("<h2>Full report</h2>") :]
    assert "<h2>Evaluation: chat/mistral-7b</h2>" in report_part and "<h3>Gates</h3>" in report_part
    assert "<table>" in report_part and "<blockquote>" in report_part and "| target |" not in report_part


def test_report_html_renders_no_link_or_image_even_from_raw_markdown() -> None:
    rendered = report.markdown_html("![x](https://example.com/p.png) [y](https://example.com) <https://example.com> <b>z</b>")
    assert "<img" not in rendered and "<a " not in rendered and "<b>" not in rendered


def test_the_docs_limits_come_from_the_code() -> None:
    doc = " ".join((REPO_ROOT / "docs" / "evaluation.md").read_text().split())
    assert f"a regular UTF-8 file of at most {testset.MAX_TEST_SET_BYTES // 2**20} MiB" in doc
    assert f"at most {testset.MAX_CASES:,} cases" in doc
    assert f"A resolved schema may hold {schemas.MAX_SCHEMA_NODES:,} values" in doc
    assert f"and {schemas.MAX_SCHEMA_DEPTH} levels, and a file's schemas {testset.MAX_SCHEMA_NODES_PER_FILE:,} values" in doc
    assert f"each check of an answer has {patterns.SCORING_SECONDS:g} seconds in all" in doc
    assert f"not checked within {patterns.SCORING_SECONDS:g} s: simplify the pattern or schema" in doc
    assert f"a latency against a plain number above {gate.MAX_PLAIN_SECONDS:g} (" in doc
    for refused in ("error_rate > 5", "p90 > 800"):  # the docs' examples of thresholds that could never fail
        assert f"`{refused}`" in doc
        with pytest.raises(EvaluationInputError):
            gate.parse(refused)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ('{"scores": [{"item": 1, "score": 1e999}]}', "score inf is not a whole number 1..5"),
        ('{"scores": [{"item": 1, "score": NaN}]}', "score nan is not a whole number 1..5"),
        ('{"scores": [' + "[" * 100_000 + "]}", r"not JSON this harness reads \(RecursionError\)"),
        ('{"scores": [{"item": 1, "score": 1' + "0" * 5000 + "}]}", r"not JSON this harness reads \(ValueError\)"),
    ],
)
def test_a_judge_reply_that_cannot_be_read_leaves_its_items_unscored(reply: str, message: str) -> None:
    with pytest.raises(JudgeReplyError, match=message):
        parse_reply(reply, 1)
