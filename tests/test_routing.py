"""Hybrid routing (routing/, llm_client.routing_policy): the pure-Python scorer and its integrity check, RouteLLM's
figures on known curves, calibration and replay through the CLI on small synthetic data, and bad input (exit 2,
one message naming the file, field and fix)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber

from llm_client.routing_policy import PolicyError, guide_heuristic, heuristic_policy, load_policy, seal
from routing import cli
from routing.data import Outcomes, load_outcomes
from routing.metrics import curve
from routing.policy_file import read_policy_file
from scripts import bench_routing
from tests.conftest import REPO_ROOT

TOPICS_STRONG = ("integral", "eigenvalue", "theorem", "derivative", "matrix")
TOPICS_WEAK = ("capital", "colour", "animal", "river", "city")


def synthetic_rows(n: int = 240, seed: int = 7) -> list[dict[str, str]]:
    """Prompts about maths: only the strong model answers them; other prompts: both answer (some noise)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        hard = i % 2 == 0
        word = rng.choice(TOPICS_STRONG if hard else TOPICS_WEAK)
        prompt = f"Question {i}: tell me about the {word} number {rng.randint(1, 9)} in detail"
        weak_right = (not hard and rng.random() < 0.9) or (hard and rng.random() < 0.1)
        strong_right = rng.random() < 0.95
        rows.append({"prompt": prompt, "weak": str(weak_right), "strong": str(strong_right)})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("calibrated")
    data = write_csv(folder / "results.csv", synthetic_rows())
    code = cli.main(
        ["calibrate", "--from", str(data), "--weak", "weak", "--strong", "strong", "--out", str(folder / "policy.json")]
    )
    assert code == 0
    return folder


# --- the scorer --------------------------------------------------------------------------------------------------


def test_guide_heuristic_is_the_guides_rule() -> None:
    assert guide_heuristic("Why is the sky blue?")
    assert guide_heuristic("Please show me the menu")  # "how" inside "show": the guide matched substrings
    assert not guide_heuristic("What is the capital of France?")
    long_context = "Based on the report " + "word " * 20
    assert guide_heuristic(long_context) and not guide_heuristic("Based on the report, list it")


def test_learned_policy_scores_in_unit_interval_and_routes_what_it_learned(calibrated: Path) -> None:
    policy = load_policy(json.loads((calibrated / "policy.json").read_text())["policy"])
    hard = policy.choose("Question 999: tell me about the eigenvalue number 3 in detail")
    easy = policy.choose("Question 999: tell me about the river number 3 in detail")
    assert hard[0] == "strong" and easy[0] == "weak"
    assert 0.0 <= easy[1] < hard[1] <= 1.0
    assert policy.choose("Question 999: tell me about the eigenvalue number 3 in detail") == hard  # deterministic


def test_tampered_policy_is_refused(calibrated: Path) -> None:
    policy = json.loads((calibrated / "policy.json").read_text())["policy"]
    policy["threshold"] = 0.0  # send everything strong, without recalibrating
    with pytest.raises(PolicyError, match="field 'sha256' does not match"):
        load_policy(policy)
    assert load_policy(seal(policy)).threshold == 0.0  # resealed: accepted


def test_policy_with_wrong_weight_count_is_refused() -> None:
    policy = seal(
        {
            "format": "llm-endpoints-routing-policy/1",
            "kind": "learned",
            "threshold": 0.5,
            "model": {
                "tokenizer": "words-bigrams-crc32/1",
                "buckets": 4,
                "scale": 0.1,
                "weights": "AAA=",
                "bias": 0,
                "length_weight": 0,
            },
        }
    )
    with pytest.raises(PolicyError, match="holds 2 weights, not 'buckets' \\(4\\)"):
        load_policy(policy)


# --- RouteLLM's figures ------------------------------------------------------------------------------------------


def test_figures_of_a_perfect_a_constant_and_an_inverted_router() -> None:
    weak = np.array([1.0, 1.0, 0.0, 0.0])
    strong = np.array([1.0, 1.0, 1.0, 1.0])
    perfect = curve(np.array([0.0, 0.0, 1.0, 0.9]), weak, strong)
    assert perfect.apgr() == pytest.approx(1 - 0.125 * 2)  # two steps up to full quality at share 0.5
    assert perfect.cpt(0.5) == pytest.approx(0.25) and perfect.cpt(0.8) == pytest.approx(0.4)
    constant = curve(np.zeros(4), weak, strong)  # every prompt tied: the straight line a random split gives
    assert constant.apgr() == pytest.approx(0.5) and constant.cpt(0.5) == pytest.approx(0.5)
    inverted = curve(np.array([1.0, 0.9, 0.0, 0.0]), weak, strong)
    assert inverted.apgr() < 0.5
    assert perfect.threshold_for_share(0.5) == pytest.approx(0.9)


# --- calibrate and replay ----------------------------------------------------------------------------------------


def test_calibrate_writes_policy_report_and_cross_validated_figures(calibrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads((calibrated / "policy.json").read_text())
    figures = document["calibration"]["figures"]
    assert figures["learned"]["apgr"] > 0.65 > 0.55 > figures["guide_heuristic"]["apgr"]
    assert figures["strong_share"] < 0.7
    assert figures["quality"] >= 0.95 * figures["strong_quality"] - 0.02  # out-of-fold, at the chosen threshold
    assert (calibrated / "policy-report" / "report.html").read_text().count("APGR") >= 2
    assert (calibrated / "policy-report" / "curve.svg").read_text().lstrip().startswith("<?xml")


def test_calibrate_prices_the_mix_with_the_planner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "r.csv", synthetic_rows())
    args = ["calibrate", "--from", str(data), "--weak", "weak", "--strong", "strong", "--out", str(tmp_path / "p.json")]
    assert cli.main([*args, "--weak-model", "mistral-7b", "--strong-model", "claude-sonnet-4-6"]) == 0
    cost = json.loads((tmp_path / "p.json").read_text())["calibration"]["cost"]
    assert cost["monthly_usd"] > 0 and cost["strong_model"] == "claude-sonnet-4-6"
    assert "monthly cost:" in capsys.readouterr().out


def test_replay_writes_one_line_per_prompt_in_order(calibrated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = tmp_path / "traffic.jsonl"
    prompts.write_text(
        '{"id": "a", "prompt": "tell me about the integral number 2 in detail"}\n'
        '{"prompt": "tell me about the city number 2 in detail"}\n'
    )
    out = tmp_path / "decisions.jsonl"
    assert cli.main(["replay", "--policy", str(calibrated / "policy.json"), "--prompts", str(prompts), "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(d["id"], d["route"]) for d in lines] == [("a", "strong"), ("2", "weak")]
    assert all(0 <= d["score"] <= 1 for d in lines)
    assert "2 prompts: 1 (50.0%) to strong, 1 to weak" in capsys.readouterr().out


def test_heuristic_policy_file_replays(tmp_path: Path) -> None:
    assert cli.main(["heuristic", "--out", str(tmp_path / "h.json")]) == 0
    prompts = write_csv(tmp_path / "p.csv", [{"prompt": "Why?"}, {"prompt": "Hi"}])
    assert (
        cli.main(["replay", "--policy", str(tmp_path / "h.json"), "--prompts", str(prompts), "--out", str(tmp_path / "o.jsonl")])
        == 0
    )
    routes = [json.loads(line)["route"] for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert routes == ["strong", "weak"]
    assert load_policy(heuristic_policy()).kind == "heuristic"


def test_calibrate_from_an_evaluation_results_json(tmp_path: Path) -> None:
    rows = synthetic_rows()
    tests = tmp_path / "tests.jsonl"
    tests.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "prompt": r["prompt"], "expect": {"contains": "x"}}) + "\n" for i, r in enumerate(rows)
        )
    )
    records = [
        {"target": target, "case": f"c{i}", "ok": True, "quality": 1.0 if r[column] == "True" else 0.0}
        for i, r in enumerate(rows)
        for target, column in (("chat/small", "weak"), ("chat/large", "strong"))
    ]
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"format": "llm-endpoints-evaluation/1", "tests": str(tests), "records": records}))
    out = tmp_path / "p.json"
    assert (
        cli.main(["calibrate", "--from", str(results), "--weak", "chat/small", "--strong", "chat/large", "--out", str(out)]) == 0
    )
    document = json.loads(out.read_text())
    assert document["calibration"]["figures"]["cases"] == len(rows)
    assert document["calibration"]["strong"] == "chat/large"


# --- bad input: exit 2, one message ------------------------------------------------------------------------------


def run_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(args) == 2
    return capsys.readouterr().err.strip()


def test_missing_prompt_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "r.csv", [{"question": "q", "weak": "True", "strong": "True"}])
    error = run_error(
        ["calibrate", "--from", str(data), "--weak", "weak", "--strong", "strong", "--out", str(tmp_path / "p.json")], capsys
    )
    assert (
        error
        == f"error: {data}: no 'prompt' column (columns: question, weak, strong); name the column holding each prompt 'prompt'"
    )


def test_value_neither_boolean_nor_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = synthetic_rows()
    rows[3]["strong"] = "1.5"
    data = write_csv(tmp_path / "r.csv", rows)
    error = run_error(
        ["calibrate", "--from", str(data), "--weak", "weak", "--strong", "strong", "--out", str(tmp_path / "p.json")], capsys
    )
    assert error.startswith(f"error: {data}: row 5, column 'strong': '1.5' is neither a boolean")
    assert "fix the value or drop the row" in error


def test_too_few_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "r.csv", synthetic_rows(n=40))
    error = run_error(
        ["calibrate", "--from", str(data), "--weak", "weak", "--strong", "strong", "--out", str(tmp_path / "p.json")], capsys
    )
    assert "40 cases scored by both routes" in error and "evaluate both routes on more of your prompts" in error
    assert not (tmp_path / "p.json").exists()


def test_unknown_route_column_lists_the_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "r.csv", synthetic_rows())
    error = run_error(
        ["calibrate", "--from", str(data), "--weak", "weak", "--strong", "gpt", "--out", str(tmp_path / "p.json")], capsys
    )
    assert error == f"error: {data}: no column 'gpt' for --strong; give one of the model columns: weak, strong"


def test_tampered_and_truncated_policy_files(calibrated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (calibrated / "policy.json").read_text()
    prompts = write_csv(tmp_path / "p.csv", [{"prompt": "hello"}])
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    error = run_error(
        ["replay", "--policy", str(truncated), "--prompts", str(prompts), "--out", str(tmp_path / "o.jsonl")], capsys
    )
    assert error.startswith(f"error: --policy {truncated}: not JSON, e.g. truncated")
    document = json.loads(text)
    document["policy"]["model"]["bias"] += 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    error = run_error(
        ["replay", "--policy", str(tampered), "--prompts", str(prompts), "--out", str(tmp_path / "o.jsonl")], capsys
    )
    assert f"{tampered}: policy: field 'sha256' does not match" in error
    assert "recalibrate it with ./tasks.sh route calibrate" in error


# --- live preflight (SSM stubbed) --------------------------------------------------------------------------------


class FakeSession:
    region_name = "us-east-1"

    def __init__(self, parameters: dict[str, dict[str, Any]]) -> None:
        self.ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        stub = Stubber(self.ssm)
        for name, value in parameters.items():
            if value:
                stub.add_response("get_parameter", {"Parameter": {"Name": name, "Value": json.dumps(value)}}, {"Name": name})
            else:
                stub.add_client_error("get_parameter", "ParameterNotFound", expected_params={"Name": name})
        stub.activate()

    def client(self, service: str, region_name: str) -> Any:
        return self.ssm


def test_check_refuses_a_route_that_does_not_exist_or_is_a_router(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "--weak", "chat", "--strong", "claude", "--region", "us-east-1"]
    ok = FakeSession({"/llm-endpoints/chat": {"hosting": "sagemaker"}, "/llm-endpoints/claude": {"hosting": "bedrock"}})
    assert cli.main(args, session=ok) == 0
    assert "strong: claude (bedrock) exists in us-east-1" in capsys.readouterr().out
    missing = FakeSession({"/llm-endpoints/chat": {"hosting": "sagemaker"}, "/llm-endpoints/claude": {}})
    assert cli.main(args, session=missing) == 2
    assert "--strong claude: no /llm-endpoints/claude in us-east-1: deploy that endpoint" in capsys.readouterr().err
    nested = FakeSession({"/llm-endpoints/chat": {"hosting": "router"}})
    assert cli.main(args, session=nested) == 2
    assert "--weak chat: is itself a router" in capsys.readouterr().err


# --- the README's figures come from the shipped policy ------------------------------------------------------------


def test_readme_routing_table_is_the_shipped_policys_held_out_figures() -> None:
    _, policy, _ = read_policy_file(bench_routing.SHIPPED_POLICY)
    _, held = bench_routing.shipped_split()
    figures = bench_routing.held_out_figures(policy, held)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert bench_routing.readme_table(figures) in readme
    assert f"{figures.sent_strong:.0%} of requests to GPT-4 and kept {figures.quality / held.strong.mean():.1%}" in readme


# --- the planner prices a routed mix ------------------------------------------------------------------------------


def test_plan_prices_the_calibrated_share_beside_the_guides_80_20(capsys: pytest.CaptureFixture[str]) -> None:
    from planner.cli import main as plan

    policy = str(bench_routing.SHIPPED_POLICY)
    args = [
        "--routing-policy",
        policy,
        "--weak-model",
        "mistral-7b",
        "--strong-model",
        "claude-haiku-5-5",
        "--requests-per-day",
        "2400",
    ]
    assert plan(["--guide", *args]) == 0
    out = capsys.readouterr().out
    share = json.loads(bench_routing.SHIPPED_POLICY.read_text())["calibration"]["figures"]["strong_share"]
    assert f"calibrated ({policy}): {share:.0%} to claude-haiku-5-5 (Bedrock)" in out
    assert "guide's 80/20: 20% to claude-haiku-5-5 (Bedrock)" in out
    assert plan([*args[:-4], "--strong-model", "gpt-5", "--requests-per-day", "2400"]) == 2
    assert "--strong-model 'gpt-5': not a model the planner prices" in capsys.readouterr().err


def test_docs_quote_the_held_out_interval_and_the_subject_reference() -> None:
    _, policy, _ = read_policy_file(bench_routing.SHIPPED_POLICY)
    calibration_part, held = bench_routing.shipped_split()
    figures = bench_routing.held_out_figures(policy, held)
    docs = " ".join((REPO_ROOT / "docs" / "routing.md").read_text(encoding="utf-8").split())
    assert bench_routing.docs_sentence(figures, calibration_part, held) in docs


def test_subject_reference_scores_a_prompt_by_its_subjects_gain_on_the_calibration_part() -> None:
    def outcomes(prompts: list[str], weak: list[float], strong: list[float]) -> Outcomes:
        return Outcomes("t", prompts, prompts, np.array(weak), np.array(strong))

    calibration_part = outcomes(["m1", "m2", "h1", "h2"], [0, 0, 1, 1], [1, 1, 1, 1])  # maths gains 1, history 0
    held = outcomes(["m3", "h3", "x"], [0, 0, 0], [1, 1, 1])
    subject_of = {"m1": "maths", "m2": "maths", "m3": "maths", "h1": "history", "h2": "history", "h3": "history"}
    subject_of["x"] = "law"  # not in the calibration part: the overall mean gain
    scores = bench_routing.subject_scores(calibration_part, held, subject_of)
    prior = bench_routing.SUBJECT_PRIOR
    assert scores.tolist() == pytest.approx([(2 + prior * 0.5) / (2 + prior), (prior * 0.5) / (2 + prior), 0.5])


def test_bootstrap_interval_brackets_the_figure_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    strong = (rng.random(400) < 0.8).astype(float)
    weak = strong * (rng.random(400) < 0.8)
    scores = strong - weak + rng.random(400)  # informative: APGR well above 0.5
    spread = bench_routing.bootstrap(scores, weak, strong, rounds=200)
    apgr = curve(scores, weak, strong).apgr()
    assert spread["apgr"][0] <= apgr <= spread["apgr"][1]
    assert spread["share"][0] <= spread["share"][1]
    assert bench_routing.bootstrap(scores, weak, strong, rounds=200)["apgr"].tolist() == spread["apgr"].tolist()


def test_docs_quote_the_figures_of_other_splits_that_the_shipped_policy_records() -> None:
    """The benchmark records them when it writes the shipped policy (10 calibrations: too slow to redo per test run)."""
    _, _, calibration = read_policy_file(bench_routing.SHIPPED_POLICY)
    figures = bench_routing.SplitFigures.from_record(calibration["other_splits"])
    assert len(figures.apgr) == bench_routing.OTHER_SPLITS
    docs = " ".join((REPO_ROOT / "docs" / "routing.md").read_text(encoding="utf-8").split())
    assert figures.sentence() in docs


def test_other_splits_calibrate_and_measure_each_split_deterministically() -> None:
    rng = np.random.default_rng(3)
    topics = ("algebra", "law", "ethics", "physics")
    prompts = [f"q{i} about {topics[i % 4]} {'hard' if i % 3 == 0 else 'easy'} {rng.integers(1000)}" for i in range(400)]
    strong = (rng.random(400) < 0.85).astype(float)
    weak = strong * np.array([0.0 if "hard" in p and rng.random() < 0.7 else 1.0 for p in prompts])  # hard: weak fails
    outcomes = Outcomes("synthetic", prompts, prompts, weak, strong)
    subject_of = {p: p.split()[2] for p in prompts}
    figures = bench_routing.other_splits(outcomes, subject_of, rounds=2)
    assert len(figures.apgr) == len(figures.share) == len(figures.subject_share) == 2
    assert all(a > 0.6 for a in figures.apgr)  # "hard" is in the words: the learned policy finds it
    assert bench_routing.other_splits(outcomes, subject_of, rounds=2).record() == figures.record()
    assert bench_routing.SplitFigures.from_record(figures.record()).sentence() == figures.sentence()


def test_a_salted_split_is_another_split_of_the_same_prompts() -> None:
    outcomes = load_outcomes(bench_routing.DATA, bench_routing.WEAK, bench_routing.STRONG)
    _, shipped_held = bench_routing.split(outcomes, 30)
    calibration_part, held = bench_routing.split(outcomes, 30, salt="1:")
    assert sorted(calibration_part.prompts + held.prompts) == sorted(outcomes.prompts)
    assert set(held.prompts) != set(shipped_held.prompts)
    assert abs(len(held.prompts) - len(shipped_held.prompts)) < 200  # still about 30% held out
