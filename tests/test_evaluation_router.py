"""A router as an evaluation target (issue 23, item 7): each request goes where the policy sends it; the report adds
one row per route (ROUTER@ROUTE) with its share of the answers, its quality and its cost, and --fail-if gates on
them. Against the protocol stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from llm_client.routing_policy import heuristic_policy
from llm_config import load_registry
from tests.test_evaluation import BEDROCK_KEY, Session, evaluate, haiku_prices, results, server, session
from tests.test_llm_client import bedrock_parameter
from tests.test_llm_router import router_parameter

__all__ = ["server", "session"]  # the stand-in fixtures

# The guide's heuristic sends why/how/explain questions to the strong route: two cases each way.
CASES = [
    {"id": "why-1", "prompt": "Why is caching useful?", "expect": {"contains": "You said"}},
    {"id": "why-2", "prompt": "Explain batching briefly.", "expect": {"contains": "bedrock model"}},
    {"id": "note-1", "prompt": "Caching is on.", "expect": {"contains": "You said"}},
    {"id": "note-2", "prompt": "Batching is off.", "expect": {"contains": "bedrock model"}},
]


@pytest.fixture
def router_session(session: Session, tmp_path: Path) -> Session:
    session.ssm.parameters["/llm-endpoints/claude"] = json.dumps(bedrock_parameter("claude"))
    session.ssm.parameters["/llm-endpoints/assistant"] = json.dumps(
        router_parameter("assistant", weak="chat", strong="claude", policy=heuristic_policy())
    )
    (tmp_path / "tests.jsonl").write_text("".join(json.dumps(case) + "\n" for case in CASES))
    return session


def run(session: Session, tmp_path: Path, *extra: str) -> int:
    return evaluate(session, tmp_path, "--target", "assistant", *extra, tests=tmp_path / "tests.jsonl")


def test_the_report_shows_each_routes_share_quality_and_cost(
    router_session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(router_session, tmp_path) == 0
    data = results(tmp_path)
    routes = {r["case"]: r["route"] for r in data["records"]}
    assert routes == {"why-1": "claude", "why-2": "claude", "note-1": "chat", "note-2": "chat"}
    summaries = data["summaries"]
    assert list(summaries) == ["assistant", "assistant@chat", "assistant@claude"]
    chat, claude = summaries["assistant@chat"], summaries["assistant@claude"]
    assert (chat["share"], chat["requests"], chat["quality"]) == (0.5, 2, 0.5)
    assert (claude["share"], claude["requests"], claude["quality"]) == (0.5, 2, 1.0)
    assert summaries["assistant"]["share"] is None and summaries["assistant"]["quality"] == 0.75
    # Each request priced as the route that answered it: Bedrock per token, SageMaker per instance time.
    haiku_in, haiku_out = haiku_prices()
    for r in data["records"]:
        if r["route"] == "claude":
            assert r["cost_usd"] == pytest.approx(r["input_tokens"] / 1000 * haiku_in + r["output_tokens"] / 1000 * haiku_out)
        else:
            assert r["cost_usd"] is not None and r["cost_usd"] > 0
    assert claude["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in data["records"] if r["route"] == "claude"))
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| assistant@claude (50% of answers) |" in report and "| assistant@chat (50% of answers) |" in report
    assert "assistant@claude (50% of answers)" in capsys.readouterr().out
    assert BEDROCK_KEY in load_registry().models  # the price above is that config's


def test_fail_if_gates_on_a_routes_share_and_quality(router_session: Session, tmp_path: Path) -> None:
    assert run(router_session, tmp_path, "--fail-if", "assistant@claude: share > 40%") == 1
    gates = {g["condition"]: g["holds"] for g in results(tmp_path)["gates"]}
    assert gates == {"assistant@claude: share > 40%": True}
    baseline = tmp_path / "baseline.json"
    baseline.write_text((tmp_path / "out" / "results.json").read_text())
    gates_that_pass = ["assistant@chat: quality < baseline - 0.1", "assistant@claude: share < [assistant@chat]"]
    flags = [item for gate in gates_that_pass for item in ("--fail-if", gate)]
    assert run(router_session, tmp_path, "--baseline", str(baseline), *flags) == 0


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ("share > 40%", r"share is a router's route's share of its answers: prefix a route"),
        ("other@claude: share > 40%", r"'other@claude' is not one of this run's --target values"),
        ("assistant@nope: quality < 0.5", r"'assistant@nope' is not one of this run's --target values and their routes"),
        ("assistant@claude: share > 40", r"share is a fraction from 0 to 1"),
    ],
)
def test_bad_route_gates_are_refused_before_any_request(
    router_session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str], gate: str, message: str, server: Any
) -> None:
    server.requests.clear()
    assert run(router_session, tmp_path, "--fail-if", gate) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert server.requests == []


def test_a_baseline_whose_share_is_out_of_range_is_refused(
    router_session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(router_session, tmp_path) == 0
    data = results(tmp_path)
    data["summaries"]["assistant@claude"]["share"] = 1.5
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(data))
    assert run(router_session, tmp_path, "--baseline", str(baseline), "--fail-if", "assistant@claude: share > baseline") == 2
    assert "summaries.assistant@claude.share: Input should be less than or equal to 1" in capsys.readouterr().err
