"""The evaluation harness (evaluation/): statistics on known latencies, each expectation kind, the judge's parsing,
the gate's grammar and exit codes, cost sums, load control, and whole runs against the protocol stand-in on
127.0.0.1 (SageMaker variants through TargetVariant, a Bedrock model config key through Converse)."""

from __future__ import annotations

import _thread
import json
import re
import shlex
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from evaluation import cli, gate, runner
from evaluation.ci import SHIFT_GATES
from evaluation.expectations import check_answer, check_json, check_number, quality_of
from evaluation.judge import JUDGE_MAX_TOKENS, JudgeReplyError, load_template, parse_reply, rate_by_hand, render
from evaluation.measure import Record
from evaluation.report import ANSWER_CHARS
from evaluation.runner import run
from evaluation.stats import Summary, mean_interval, summarize, wilson
from evaluation.targets import SageMakerPrice, TokenPrice, sagemaker_price
from evaluation.testset import Case, EvaluationInputError, load_tests
from llm_config import load_registry
from llm_config.bedrock_model import BedrockModelConfig
from llm_config.deployment import DeploymentSpec
from llm_config.sagemaker_model import SageMakerModelConfig
from llm_config.stages import StageConfig
from local_aws.protocol_standin import StandinComponent, StandinEndpoint, StandinServer, StandinVariant, StaticCatalog
from scripts import ci_stage
from tests.conftest import REPO_ROOT
from tests.test_llm_client import FakeSsm, migration_parameter, sagemaker_parameter, variant

EXAMPLE = REPO_ROOT / "evaluation" / "examples" / "example.yaml"
BEDROCK_KEY = "claude-haiku-4-5"
BEDROCK_PROFILE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # what its config routes us-east-1 to
REGION = "us-east-1"


def record(latency: float, *, ok: bool = True, quality: float | None = None, **fields: Any) -> Record:
    return Record("t", "c", 0, ok=ok, latency_seconds=latency, quality=quality, **fields)


# --- statistics on known latencies -------------------------------------------------------------------------


def test_percentiles_rates_and_intervals_on_known_values() -> None:
    records = [record(float(s), output_tokens=10 * s) for s in range(1, 11)]  # 1..10 s, 10 tokens/s each
    records += [record(30.0, ok=False, error_kind="throttled"), record(0.5, ok=False, error_kind="error")]
    summary = summarize("t", records, latency_budget_seconds=5)
    assert (summary.p50, summary.p90, summary.p99) == pytest.approx((5.5, 9.1, 9.91))  # failed requests excluded
    assert summary.tokens_per_s == pytest.approx(10.0)
    assert (summary.requests, summary.ok, summary.errors, summary.throttled) == (12, 10, 2, 1)
    assert summary.error_rate == pytest.approx(2 / 12)
    low, high = summary.error_rate_ci
    assert low < 2 / 12 < high and high < 0.5  # Wilson: asymmetric, never below 0
    assert wilson(0, 10)[0] == 0.0 and wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-3)
    assert summary.quality is None and summary.quality_ci is None


def test_quality_interval_is_a_seeded_bootstrap_of_the_mean() -> None:
    scores = [1.0, 0.0, 1.0, 1.0, 0.5, 1.0, 0.0, 1.0]
    summary = summarize("t", [record(1.0, quality=q) for q in scores], 5)
    assert summary.quality == pytest.approx(0.6875)
    assert summary.quality_ci is not None
    low, high = summary.quality_ci
    assert 0.2 < low < 0.6875 < high <= 1.0
    assert mean_interval(scores) == summary.quality_ci  # the same records give the same interval
    assert mean_interval([0.5, 0.5]) == (0.5, 0.5) and mean_interval([]) is None


# --- expectations --------------------------------------------------------------------------------------------


def case(**expect: Any) -> Case:
    loaded = load_tests_from({"cases": [{"id": "x", "prompt": "p", "expect": expect}]})
    return loaded[0]


def load_tests_from(data: dict[str, Any]) -> list[Case]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tests.yaml"
        path.write_text(json.dumps(data))  # JSON is YAML
        return load_tests(path)


@pytest.mark.parametrize(
    ("expect", "answer", "score"),
    [
        ({"contains": "Paris"}, "It is Paris.", 1.0),
        ({"contains": "Paris"}, "it is paris", 0.0),
        ({"contains": ["paris", "france"], "ignore_case": True}, "Paris, France", 1.0),
        ({"regex": r"(?i)\bhello\b"}, "Hello, Ada", 1.0),
        ({"regex": r"^\d+$"}, "42 apples", 0.0),
        ({"number": {"value": 1027.84, "tolerance": 0.01}}, "That is $1,027.84 a month.", 1.0),
        ({"number": {"value": 1027.84, "tolerance": 0.01}}, "About 1028 dollars.", 0.0),
        ({"json_schema": {"type": "object", "required": ["city"]}}, '{"city": "Rome"}', 1.0),
        ({"json_schema": {"type": "object", "required": ["city"]}}, 'Sure:\n```json\n{"city": "Rome"}\n```', 1.0),
        ({"json_schema": {"type": "object", "required": ["city"]}}, '{"town": "Rome"}', 0.0),
        ({"json_schema": {"type": "object"}}, "Rome", 0.0),
    ],
)
def test_each_expectation_kind(expect: dict[str, Any], answer: str, score: float) -> None:
    checks = check_answer(case(**expect), answer)
    assert [c.score for c in checks] == [score]


def test_details_say_why_and_quality_is_the_mean_of_scored_checks() -> None:
    assert check_number("1.408 times 730", 1027.84, 0.01).detail == "expected 1027.84 +- 0.01, found 1.408, 730"
    assert check_json('{"town": 1}', {"required": ["city"]}).detail == "invalid at (root): 'city' is a required property"
    checks = check_answer(case(contains="a", regex="b", number={"value": 3}), "a 3")
    assert [c.kind for c in checks] == ["contains", "regex", "number"]
    assert quality_of(checks) == pytest.approx(2 / 3)
    assert quality_of([]) is None


# --- the test-set file ------------------------------------------------------------------------------------------


def test_the_example_set_exercises_every_kind_and_loads_as_yaml_and_jsonl() -> None:
    cases = load_tests(EXAMPLE)
    kinds = {kind for c in cases for kind in c.expectation_kinds}
    assert kinds == {"contains", "regex", "number", "json_schema", "rubric"}
    assert any(not c.expectation_kinds for c in cases)  # a case may only measure
    assert all(c.max_tokens == 256 and c.temperature == 0.0 for c in cases)  # defaults applied
    jsonl = load_tests(EXAMPLE.with_suffix(".jsonl"))
    assert [c.id for c in jsonl] == ["capital-contains", "hosting-cost-number"] and jsonl[1].max_tokens == 128


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("cases: []", ".yaml", r"cases: List should have at least 1 item"),
        ("cases:\n  - prompt: hi\n    expect: {regex: '('}", ".yaml", r"case 1: expect.regex: not a valid regular expression"),
        (
            "cases:\n  - prompt: hi\n    expect: {json_schema: {type: 5}}",
            ".yaml",
            r"case 1: expect.json_schema: not a valid",
        ),
        ("cases:\n  - id: a\n    prompt: hi\n    expect: {contain: x}", ".yaml", r"case 1 \(a\): expect.contain: Extra inputs"),
        ("cases:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}", ".yaml", r"case id 'a' appears twice"),
        ('{"prompt": "hi"}\n{"prompt": ', ".jsonl", r"line 2 is not JSON"),
        ("cases: [{prompt: hi}]", ".txt", r"unknown file type '.txt'"),
    ],
)
def test_bad_test_sets_get_one_message_naming_file_case_and_field(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"tests{suffix}"
    path.write_text(content)
    with pytest.raises(EvaluationInputError, match=message) as raised:
        load_tests(path)
    assert str(path) in str(raised.value)


# --- the judge ----------------------------------------------------------------------------------------------------


def test_judge_prompt_lives_in_the_repository_and_is_filled_in_one_pass() -> None:
    template = load_template()
    prompt = render(template, "Q?", "the answer mentions {{rubric}}", ("First", "Second"))
    assert "<question>\nQ?\n</question>" in prompt and "1. First\n2. Second" in prompt
    assert "the answer mentions {{rubric}}" in prompt  # text inside the answer is not a placeholder


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ('{"scores": [{"item": 1, "score": 4, "reason": "ok"}, {"item": 2, "score": 2}]}', [(4, "ok"), (2, "")]),
        ('Here:\n```json\n{"scores": [{"item": 2, "score": 5}, {"item": 1, "score": 1.0}]}\n```', [(1, ""), (5, "")]),
    ],
)
def test_judge_replies_are_parsed(reply: str, parsed: list[tuple[int, str]]) -> None:
    assert parse_reply(reply, 2) == parsed


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("I think it is good.", "no JSON object"),
        ('{"scores": [{"item": 1, "score": 4}]}', r"no score for item\(s\) \[2\]"),
        ('{"scores": [{"item": 1, "score": 6}, {"item": 2, "score": 3}]}', "score 6 is not a whole number 1..5"),
        ('{"scores": [{"item": 1, "score": 3.5}, {"item": 2, "score": 3}]}', "score 3.5 is not"),
        ('{"scores": [{"item": 3, "score": 3}]}', "item 3 is not 1..2"),
        ('{"score": 3}', "no 'scores' list"),
    ],
)
def test_unusable_judge_replies_are_refused(reply: str, message: str) -> None:
    with pytest.raises(JudgeReplyError, match=message):
        parse_reply(reply, 2)


def test_rating_by_hand_asks_per_item_and_enter_skips() -> None:
    answers = iter(["9", "4", ""])
    shown: list[str] = []
    checks = rate_by_hand("Q", "A", ("one", "two"), ask=lambda _: next(answers), show=shown.append)
    assert [c.score for c in checks] == [0.75, None]
    assert "Type a whole number 1-5, or Enter to skip." in shown


# --- the gate --------------------------------------------------------------------------------------------------------


def summary(target: str, **values: Any) -> Summary:
    base: dict[str, Any] = dict(
        target=target, requests=10, ok=10, errors=0, throttled=0, p50=1.0, p90=2.0, p99=3.0, ttft_p50=0.2, ttft_p90=0.3,
        tokens_per_s=50.0, error_rate=0.0, error_rate_ci=(0.0, 0.3), throttle_rate=0.0, quality=0.8, quality_ci=(0.7, 0.9),
        quality_n=10, cost_usd=0.01, cost_per_1k=1.0, cost_unknown=0, judge_cost_usd=0.0, latency_budget_seconds=5.0,
    )  # fmt: skip
    return Summary(**{**base, **values})


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("p90 > budget", [False, True]),
        ("p90 > 2500ms", [False, True]),
        ("quality < baseline - 0.05", [False, True]),  # a: 0.8 vs 0.8-0.05; b: 0.6 vs 0.7-0.05
        ("error_rate > 5%", [False, True]),
        ("b: cost_per_1k > [a] * 1.5", [True]),
        ("quality<[a]-0.1", [True]),  # only b: a is not compared with itself
        ("b: ttft_p50 >= 0.2s", [False]),  # b has no ttft: a gate that cannot be checked holds... see below
    ],
)
def test_gate_conditions(text: str, holds: list[bool]) -> None:
    summaries = {
        "a": summary("a"),
        "b": summary("b", p90=6.0, quality=0.6, error_rate=0.1, cost_per_1k=2.0, ttft_p50=0.1),
    }
    baseline = {"a": summary("a"), "b": summary("b", quality=0.7)}
    assert [v.holds for v in gate.check(gate.parse(text), summaries, baseline)] == holds


def test_a_gate_without_figures_does_not_pass() -> None:
    verdicts = gate.check(gate.parse("p90 > 1"), {"a": summary("a", p90=None)}, None)
    assert verdicts[0].holds and "no figure for p90" in verdicts[0].detail


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latency > 1", "unknown metric 'latency'"),
        ("p90 = 1", "cannot read '= 1'"),
        ("quality > budget", "'budget' is a latency budget"),
        ("p90 > budget + x", "only '\\+ NUMBER'"),
        ("p90 >", "write METRIC OP VALUE"),
        ("p90 > __import__('os')", "cannot read"),
    ],
)
def test_bad_gates_are_refused_with_the_grammar(text: str, message: str) -> None:
    with pytest.raises(EvaluationInputError, match=message):
        gate.parse(text)


def test_a_target_prefix_may_contain_a_colon() -> None:
    condition = gate.parse("endpoint:chat: p99 <= 3s")
    assert (condition.target, condition.metric, condition.op, condition.operand.value) == ("endpoint:chat", "p99", "<=", 3.0)


# --- cost --------------------------------------------------------------------------------------------------------------


def haiku_prices() -> tuple[float, float]:
    config = load_registry().models[BEDROCK_KEY]
    assert isinstance(config, BedrockModelConfig)
    return config.price_per_1k


def test_cost_of_a_request_from_the_configs_prices() -> None:
    price = TokenPrice(*haiku_prices())
    assert price.cost(1000, 200) == pytest.approx(0.0011 + 0.2 * 0.0055)  # the geography profile's price
    assert price.cost(None, 200) is None
    mistral = SageMakerPrice(1.408, "ml.g5.xlarge", slots=8)  # mistral-7b: ml.g5.xlarge, scaling.target_value 8
    assert mistral.cost(3.6) == pytest.approx(1.408 / 3600 * 3.6 / 8)


# --- load control ------------------------------------------------------------------------------------------------------


def test_request_budget_and_cost_cap_stop_sending() -> None:
    def work(n: int) -> Record:
        return record(0.01, cost_usd=0.25)

    outcome = run(list(range(20)), work, concurrency=2, max_requests=5, progress=False)
    assert (len(outcome.records), outcome.planned, outcome.stopped_by) == (5, 5, "request budget")
    capped = run(list(range(20)), work, concurrency=1, max_cost_usd=1.0, progress=False)
    assert (len(capped.records), capped.stopped_by) == (4, "cost cap")  # 4 x $0.25 reaches the cap


def test_ctrl_c_keeps_what_was_measured() -> None:
    # interrupt_main() does nothing where SIGINT is ignored, as in a process started in the background by a shell
    # without job control: give this test the handler an interactive Python has, and put the inherited one back.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)

    def work(n: int) -> Record:
        if n == 3:
            _thread.interrupt_main()  # what Ctrl-C does to the main thread
            time.sleep(0.5)
        return record(0.01)

    try:
        outcome = run(list(range(50)), work, concurrency=1, progress=False)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert outcome.stopped_by == "interrupted"
    assert 3 <= len(outcome.records) < 50


# --- whole runs against the stand-in ----------------------------------------------------------------------------------


class Session:
    """Real boto3 runtime clients at the stand-in; SSM is a fake; bedrock-runtime may be a botocore Stubber's client."""

    region_name = REGION

    def __init__(self, url: str) -> None:
        self.url = url
        self.ssm = FakeSsm()
        self.stubbed: dict[str, Any] = {}

    def client(self, service: str, region_name: str | None = None, config: Config | None = None) -> Any:
        if service == "ssm":
            return self.ssm
        if service in self.stubbed:
            return self.stubbed[service]
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.session.Session().client(service, region_name=REGION, config=config, endpoint_url=self.url, **keys)


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    split = (StandinVariant("mistral-7b", 9.0, "lmi"), StandinVariant("mixtral-8x7b", 1.0, "lmi"))
    components = (
        StandinComponent("quiet-mistral-7b", "mistral-7b", "tgi"),
        StandinComponent("quiet-llama2-7b", "llama2-7b", "lmi"),
    )
    endpoints = {"chat": StandinEndpoint("chat", split), "quiet": StandinEndpoint("quiet", (), components)}
    standin = StandinServer(StaticCatalog(endpoints, {BEDROCK_PROFILE}))
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture
def session(server: StandinServer) -> Session:
    server.delay_seconds = 0.0
    fresh = Session(server.url)
    parameter = sagemaker_parameter(variant("mistral-7b", container="djl-lmi"), variant("mixtral-8x7b", container="djl-lmi"))
    fresh.ssm.parameters["/llm-endpoints/chat"] = json.dumps(parameter)
    return fresh


def evaluate(session: Session, tmp_path: Path, *extra: str, tests: Path = EXAMPLE) -> int:
    argv = ["--tests", str(tests), "--out", str(tmp_path / "out"), "--no-progress", *extra]
    return cli.main(argv, session=session, sleep=lambda _: None)


def results(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "out" / "results.json").read_text()))


def test_variants_and_a_bedrock_model_side_by_side(session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = ["--target", "chat/mistral-7b", "--target", "chat/mixtral-8x7b", "--target", BEDROCK_KEY]
    assert evaluate(session, tmp_path, *targets, "--concurrency", "3") == 0
    printed = capsys.readouterr().out
    table = printed[printed.index("target") :]
    assert re.search(r"^chat/mistral-7b\s+7\s", table, re.MULTILINE) and BEDROCK_KEY in table
    data = results(tmp_path)
    records = data["records"]
    assert len(records) == 21 and all(r["ok"] for r in records)
    served = {r["target"]: r["served_by"] for r in records}
    assert served == {"chat/mistral-7b": "mistral-7b", "chat/mixtral-8x7b": "mixtral-8x7b", BEDROCK_KEY: BEDROCK_PROFILE}
    assert all(r["ttft_seconds"] is not None and r["output_tokens"] > 0 and not r["tokens_estimated"] for r in records)
    # The stand-in echoes the prompt: "contains Paris" passes, the number and the JSON do not; rubric is unscored.
    by_case = {r["case"]: r for r in records if r["target"] == BEDROCK_KEY}
    assert [c["score"] for c in by_case["capital-contains"]["checks"]] == [1.0]
    assert [c["score"] for c in by_case["hosting-cost-number"]["checks"]] == [0.0]
    assert by_case["explain-rubric"]["quality"] is None and by_case["no-expectations"]["quality"] is None
    # Cost sums: Bedrock from tokens, SageMaker from instance time at the scaling target.
    haiku_in, haiku_out = haiku_prices()
    for r in records:
        if r["target"] == BEDROCK_KEY:
            assert r["cost_usd"] == pytest.approx(r["input_tokens"] / 1000 * haiku_in + r["output_tokens"] / 1000 * haiku_out)
        else:  # the variant's instance price and scaling.target_value (mistral-7b: ml.g5.xlarge, $1.408/h, 8)
            price = sagemaker_price(r["served_by"], load_registry(), "test")
            assert r["cost_usd"] == pytest.approx(price.hourly_usd / 3600 * r["latency_seconds"] / price.slots)
    summaries = data["summaries"]
    bedrock = summaries[BEDROCK_KEY]
    costs = [r["cost_usd"] for r in records if r["target"] == BEDROCK_KEY]
    assert bedrock["cost_usd"] == pytest.approx(sum(costs)) and bedrock["cost_per_1k"] == pytest.approx(sum(costs) / 7 * 1000)
    # All report formats, the HTML self-contained.
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| chat/mixtral-8x7b |" in report and "## Quality per case" in report
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<svg") == 2 and "<script" not in page and "<link" not in page  # nothing to fetch: works offline
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert len(page.encode()) < 400_000


@pytest.mark.parametrize("stream", [True, False])
def test_a_migrations_components_are_evaluated_by_name_and_priced_as_their_models(
    session: Session, server: StandinServer, tmp_path: Path, stream: bool
) -> None:
    session.ssm.parameters["/llm-endpoints/quiet"] = json.dumps(migration_parameter(50, 50))
    server.requests.clear()
    targets = ["--target", "quiet/mistral-7b", "--target", "quiet/llama2-7b", "--target", "quiet"]
    assert evaluate(session, tmp_path, *targets, "--concurrency", "1", *([] if stream else ["--no-stream"])) == 0

    records = results(tmp_path)["records"]
    assert all(r["ok"] for r in records)
    served = {(r["target"], r["served_by"]) for r in records}
    assert {s for t, s in served if t == "quiet/mistral-7b"} == {"quiet-mistral-7b"}
    assert {s for t, s in served if t == "quiet/llama2-7b"} == {"quiet-llama2-7b"}
    assert {s for t, s in served if t == "quiet"} <= {"quiet-mistral-7b", "quiet-llama2-7b"}  # split by the client
    for r in records:  # each request priced as the instance time of the model that served it
        price = sagemaker_price(r["served_by"].removeprefix("quiet-"), load_registry(), "test")
        assert r["cost_usd"] == pytest.approx(price.hourly_usd / 3600 * r["latency_seconds"] / price.slots)
    assert not any("x-amzn-sagemaker-target-variant" in r["headers"] for r in server.requests)  # components only


def test_throttles_are_retried_counted_and_reported(session: Session, server: StandinServer, tmp_path: Path) -> None:
    server.inject("ThrottlingException", status=400, message="Rate exceeded", times=2)
    jsonl = EXAMPLE.with_suffix(".jsonl")
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", "--concurrency", "1", "--no-stream", tests=jsonl) == 0
    first = results(tmp_path)["records"][0]
    assert (first["ok"], first["retries"], first["throttle_retries"], first["ttft_seconds"]) == (True, 2, 2, None)
    assert results(tmp_path)["summaries"]["chat/mistral-7b"]["throttled"] == 1


def test_gate_exit_codes(session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = EXAMPLE.with_suffix(".jsonl")
    target = ["--target", "chat/mistral-7b"]
    assert evaluate(session, tmp_path, *target, "--fail-if", "p90 > budget", "--fail-if", "error_rate > 0", tests=jsonl) == 0
    baseline = tmp_path / "baseline.json"
    baseline.write_text((tmp_path / "out" / "results.json").read_text())
    assert (
        evaluate(session, tmp_path, *target, "--baseline", str(baseline), "--fail-if", "quality < baseline - 0.05", tests=jsonl)
        == 0
    )
    assert "vs baseline  chat/mistral-7b: p90" in capsys.readouterr().out
    assert evaluate(session, tmp_path, *target, "--fail-if", "quality < 0.9", tests=jsonl) == 1  # 1 of 2 cases passes
    assert "FAIL  --fail-if 'quality < 0.9': chat/mistral-7b: quality 0.5 < 0.9 is True" in capsys.readouterr().out
    assert results(tmp_path)["gates"][0]["holds"] is True
    assert evaluate(session, tmp_path, *target, "--fail-if", "p90 >> 1", tests=jsonl) == 2
    assert "error: --fail-if 'p90 >> 1'" in capsys.readouterr().err
    assert evaluate(session, tmp_path, *target, "--fail-if", "quality < baseline", tests=jsonl) == 2
    assert "give --baseline FILE" in capsys.readouterr().err


def test_the_judge_scores_rubric_items_through_bedrock(session: Session, tmp_path: Path) -> None:
    bedrock = boto3.client("bedrock-runtime", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(bedrock)
    scores = {"scores": [{"item": 1, "score": 5, "reason": "says both run"}, {"item": 2, "score": 3}, {"item": 3, "score": 1}]}
    stubber.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": json.dumps(scores)}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1000, "outputTokens": 100, "totalTokens": 1100},
            "metrics": {"latencyMs": 5},
        },
        {"modelId": BEDROCK_PROFILE, "messages": ANY, "inferenceConfig": {"maxTokens": 1024, "temperature": 0.0}},
    )
    stubber.activate()
    session.stubbed["bedrock-runtime"] = bedrock
    tests = tmp_path / "rubric.yaml"
    tests.write_text(
        "cases:\n  - id: bg\n    prompt: Explain blue/green.\n    expect:\n      rubric: [Both run, Quick rollback, Short]\n"
    )
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", "--judge", BEDROCK_KEY, tests=tests) == 0
    stubber.assert_no_pending_responses()
    only = results(tmp_path)["records"][0]
    assert [c["score"] for c in only["checks"]] == [1.0, 0.5, 0.0] and only["quality"] == pytest.approx(0.5)
    haiku_in, haiku_out = haiku_prices()
    assert only["judge_cost_usd"] == pytest.approx(haiku_in + 0.1 * haiku_out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "nope"], "--target 'nope': no endpoint named 'nope'"),
        (["--target", "chat/llama"], "endpoint chat has no variant 'llama'"),
        (["--target", "chat/mistral-7b", "--target", "chat/mistral-7b"], "the same target is given twice"),
        (["--target", "chat", "--concurrency", "0"], "--concurrency 0: must be at least 1"),
        (["--target", "chat", "--baseline", "missing.json"], "--baseline missing.json: no such file"),
        (["--target", "chat", "--fail-if", "chat/x: p90 > 1"], "'chat/x' is not one of this run's --target values"),
    ],
)
def test_bad_input_exits_2_with_one_message(
    session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert evaluate(session, tmp_path, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_local_without_a_rehearsal_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from local_aws import rehearsal

    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    assert cli.main(["--tests", str(EXAMPLE), "--target", "chat", "--local", "--out", str(tmp_path)]) == 2
    assert "no local rehearsal is running: ./tasks.sh deploy-local first" in capsys.readouterr().err


# --- the optional CI gate before a shift ---------------------------------------------------------------------------------


def chat_spec(weight: int) -> DeploymentSpec:
    registry = load_registry()
    model, candidate = registry.resolve("mistral"), registry.resolve("mixtral")
    assert isinstance(model, SageMakerModelConfig) and isinstance(candidate, SageMakerModelConfig)
    return DeploymentSpec("chat", "eu-west-1", model, source="chat.yaml", candidate=candidate, candidate_weight=weight)


def test_github_deploys_evaluate_both_variants_before_a_shift_when_the_stage_has_a_test_set() -> None:
    stage = StageConfig.model_validate(
        {"name": "staging", "account": "222222222222", "region": "eu-west-1", "evaluation_tests": "tests.yaml"}
    )
    shift, split = chat_spec(100), chat_spec(10)
    commands = [shlex.join(c) for c in ci_stage.deploy_commands(stage, [shift])]
    assert commands[0].startswith(".venv/bin/python -m migration check --deployment chat.yaml")  # the live preflight first
    assert commands[1] == (
        ".venv/bin/python -m evaluation --tests tests.yaml --target chat/mistral-7b --target chat/mixtral-8x7b"
        " --region eu-west-1 --no-stream --no-progress --out evaluation-results/chat --fail-if 'p90 > budget'"
        " --fail-if 'error_rate > 1%' --fail-if 'chat/mixtral-8x7b: quality < [chat/mistral-7b] - 0.05'"
    )
    assert "deploy -c deployment=chat.yaml" in commands[2]
    for condition in SHIFT_GATES:  # every shipped gate is in the grammar
        gate.parse(condition.format(model="a", candidate="b"))
    assert all("evaluation" not in " ".join(c) for c in ci_stage.deploy_commands(stage, [split]))  # only before a shift
    no_tests = StageConfig.model_validate({"name": "staging", "account": "222222222222", "region": "eu-west-1"})
    assert all("evaluation" not in " ".join(c) for c in ci_stage.deploy_commands(no_tests, [shift]))  # optional
    with pytest.raises(ValueError, match="is not a path inside the repository"):
        StageConfig.model_validate({"name": "s", "account": "222222222222", "region": "eu-west-1", "evaluation_tests": "../x"})


def test_the_pipeline_offers_the_same_gate_before_a_shift(tmp_path: Path, registry: Any) -> None:
    """(Without evaluation_tests the pipeline is unchanged: tests/test_pipeline.py's snapshot.)"""
    from aws_cdk.assertions import Template

    from tests.test_pipeline import CHAT, STAGES, build, make_repo

    staging = {"name": "staging", "account": "222222222222", "region": "eu-west-1", "evaluation_tests": "t.yaml"}
    stages = {**STAGES, "stages": [staging]}
    root = make_repo(tmp_path / "repo", stages=stages, chat={**CHAT, "candidate_weight": 100})
    _, stack = build(root, registry, tmp_path / "out")
    synthesized = Template.from_stack(stack)
    (codepipeline,) = synthesized.find_resources("AWS::CodePipeline::Pipeline").values()
    actions = next(s for s in codepipeline["Properties"]["Stages"] if s["Name"] == "Staging")["Actions"]
    order = [(a["Name"], a["RunOrder"]) for a in actions]
    assert order[0] == ("EvaluateBeforeShift", 1) and all(n > 1 for name, n in order if name.endswith(".Prepare"))
    specs = [p["Properties"]["Source"]["BuildSpec"] for p in synthesized.find_resources("AWS::CodeBuild::Project").values()]
    (spec,) = [s for s in specs if "-m evaluation" in s]
    assert "--role-arn arn:aws:iam::222222222222:role/llm-smoke-test-staging" in spec
    assert "--target chat/mistral-7b --target chat/mixtral-8x7b" in spec and "--no-stream" in spec


def test_the_docs_cost_examples_come_from_the_configs(registry: Any) -> None:
    doc = (REPO_ROOT / "docs" / "evaluation.md").read_text()
    mistral, mixtral = (sagemaker_price(key, registry, "doc") for key in ("mistral-7b", "mixtral-8x7b"))
    assert f"{mistral.instance_type} (${mistral.hourly_usd}/h, {mistral.slots:g} slots)" in doc
    assert f"a 2-second answer costs ${mistral.cost(2.0):.7f}, ${mistral.cost(2.0) * 1000:.3f} per 1,000" in doc
    mixtral_line = f"{mixtral.instance_type} (${mixtral.hourly_usd}/h, {mixtral.slots:g} slots): ${mixtral.cost(2.0) * 1000:.2f}"
    assert f"{mixtral_line} per 1,000" in doc
    haiku = TokenPrice(*haiku_prices())
    assert f"${haiku.input_per_1k_usd} / ${haiku.output_per_1k_usd} per 1K tokens" in doc
    assert f"cost ${haiku.cost(500, 200):.5f}, so ${haiku.cost(500, 200) * 1000:.2f} per 1,000" in doc  # type: ignore[operator]
    assert f"`--concurrency N` (default {cli.DEFAULT_CONCURRENCY})" in doc and "`--out DIR`" in doc
    assert f"up to {JUDGE_MAX_TOKENS:,} tokens" in doc and f"first {ANSWER_CHARS:,} characters" in doc
    for condition in re.findall(r'--fail-if "([^"]+)"', doc):  # every documented gate is in the grammar
        gate.parse(condition)


def test_ctrl_c_exits_130_after_writing_what_was_measured(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_run = runner.run

    def interrupted(jobs: Any, work: Any, **options: Any) -> Any:
        outcome = real_run(jobs[:2], work, **options)
        outcome.stopped_by = "interrupted"
        return outcome

    monkeypatch.setattr(cli, "run", interrupted)
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", "--fail-if", "p90 > 100s") == 130
    data = results(tmp_path)
    assert (len(data["records"]), data["stopped_by"]) == (2, "interrupted")
    assert "Stopped early (interrupted): 2 of 7 requests measured." in (tmp_path / "out" / "report.md").read_text()
    assert "Interrupted: the requests measured so far" in capsys.readouterr().err


def test_rate_by_hand_after_the_run(session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tests = tmp_path / "rubric.jsonl"
    tests.write_text('{"id": "a", "prompt": "Explain.", "expect": {"rubric": ["Clear", "Short"], "contains": "Explain"}}\n')
    answers = iter(["5", ""])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert evaluate(session, tmp_path, "--target", "chat/mistral-7b", "--rate", tests=tests) == 0
    only = results(tmp_path)["records"][0]
    assert [c["score"] for c in only["checks"]] == [1.0, 1.0, None] and only["quality"] == 1.0
