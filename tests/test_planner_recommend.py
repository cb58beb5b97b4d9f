"""Ranking against the asks, and the recommendation that follows the guide's decision tree."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from planner.assumptions import Quality, load_planner_data
from planner.costs import TokenOption, Traffic, build_options
from planner.recommend import Asks, guide_tree, rank, recommend
from tests.conftest import SYNTH_TODAY


@pytest.fixture(scope="module")
def data(registry):
    return load_planner_data(registry, today=SYNTH_TODAY)


def asks(
    rate: float = 100, quality: Quality = "high", latency: float | None = 2, budget: float | None = 500, streaming: bool = False
) -> Asks:
    traffic = Traffic(requests_per_hour=rate, input_tokens=500, output_tokens=300)
    return Asks(traffic=traffic, quality=quality, latency_seconds=latency, budget_usd=budget, streaming=streaming)


def plan(data, the_asks: Asks):
    ranked = rank(build_options(data, the_asks.traffic), the_asks)
    return ranked, recommend(ranked, the_asks, data.current)


@pytest.mark.parametrize(
    ("the_asks", "candidates"),
    [
        (asks(rate=99), ("claude-3-sonnet", "gpt-3.5-turbo")),
        (asks(quality="critical"), ("gpt-4", "claude-3-opus")),
        (asks(latency=2), ("mistral-7b",)),
        (asks(quality="good", latency=5), ("llama2-7b", "claude-3-haiku")),
        (asks(latency=5), ("mistral-7b",)),
    ],
)
def test_guide_tree(the_asks, candidates):
    assert guide_tree(the_asks).candidates == candidates


def test_the_issue_question_full_answers(data):
    # 100 req/hour, answers under 2 s, high quality, $500/month: with 300 output tokens nothing answers in 2 s.
    ranked, recommendation = plan(data, asks())
    assert not any(a.meets_all for a in ranked)
    assert recommendation.choice.option.key == "gpt-3.5-turbo"  # misses only latency (0.4 + 300/80 = 4.15 s), $51.10
    assert recommendation.choice.monthly_usd == pytest.approx(51.10)  # 73,000 x $0.0007
    assert "Mistral 7B Instruct v0.2 misses latency 10.8 s > 2 s, $1,028/month > $500 budget" in recommendation.reason
    assert "try --streaming, or --output-tokens 128" in recommendation.reason  # (2 - 0.4) s x 80 tokens/s


def test_the_issue_question_streaming(data):
    ranked, recommendation = plan(data, asks(streaming=True))
    assert ranked[0].meets_all
    assert recommendation.choice.option.key == "gpt-3.5-turbo"
    assert recommendation.reason.startswith("the guide's tree says fast responses (<2 s): Mistral 7B on SageMaker ml.g5.xlarge")
    assert "The cheapest option that meets every ask is GPT-3.5 Turbo" in recommendation.reason


def test_the_tree_pick_wins_when_it_meets_every_ask(data):
    _, recommendation = plan(data, asks(rate=1000, latency=12, budget=2000))
    assert recommendation.choice.option.key == "mistral-7b"  # 1 x ml.g5.xlarge carries 1,000 req/hour: $1,027.84
    assert recommendation.reason.startswith("the guide's tree: no special needs: Mistral 7B (best balance)")
    assert recommendation.reason.endswith("(cheapest that does: GPT-3.5 Turbo on OpenAI API (not AWS) at $511/month)")


def test_the_tree_pick_names_a_cheaper_option(data):
    _, recommendation = plan(data, asks(rate=1000, quality="critical", latency=None, budget=None))
    # The tree names Claude Opus; Claude 3 Opus is retired, so today's Opus: 0.5 x 0.0044 + 0.3 x 0.022 = $0.0088/request,
    # cheaper than GPT-4's $0.033.
    assert recommendation.choice.option.key == "claude-opus-5-5"
    assert "replaced on Bedrock today: claude-3-opus -> claude-opus-5-5" in recommendation.reason
    assert recommendation.choice.monthly_usd == pytest.approx(730_000 * 0.0088)


def test_ranking_puts_options_that_meet_every_ask_first_then_cheapest(data):
    ranked, _ = plan(data, asks(rate=1000, quality="good", latency=None, budget=None))
    meeting = [a for a in ranked if a.meets_all]
    assert ranked[: len(meeting)] == meeting
    costs = [a.monthly_usd for a in meeting]
    assert costs == sorted(costs)
    # Llama 2 70B at 1,000 req/h: ceil(1,000 / (2 x 3600 / 17.8 s)) = 3 instances, beyond its config's max of 2.
    assert ranked[-1].option.key == "llama2-70b"
    assert ranked[-1].misses == ("needs 3 instances, config's scaling.max_instances is 2",)
    # 730,000 x (0.5 x 0.00011 + 0.3 x 0.00055 = $0.00022) = $160.60, below GPT-3.5 Turbo's $511
    assert ranked[0].option.key == "claude-haiku-5-5"
    assert ranked[0].monthly_usd == pytest.approx(160.6)


def test_retired_models_are_left_out_unless_asked_and_never_recommended(data):
    the_asks = asks(rate=50, quality="good", latency=None, budget=None)
    keys = {o.key for o in build_options(data, the_asks.traffic)}
    assert "claude-haiku-4-5" in keys and not keys & {"claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5-sonnet"}
    with_retired = build_options(data, the_asks.traffic, include_retired=True)
    retired = {o.key for o in with_retired if isinstance(o, TokenOption) and o.retired}
    assert retired == {"claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-3-5-sonnet"}
    ranked = rank(with_retired, the_asks)
    assert ranked[0].option.key == "claude-haiku-5-5"  # $0.00022 a request, below Claude 3 Haiku's $0.0005
    assert ranked[1].option.key == "claude-3-haiku"
    recommendation = recommend(ranked, the_asks, data.current)
    assert recommendation.choice.option.key != "claude-3-haiku"  # the tree's low-traffic pick, GPT-3.5 Turbo
    assert not getattr(recommendation.choice.option, "retired", False)


def test_superseded_models_are_marked_and_the_current_one_preferred(data):
    # Quality "high" at 50 req/h, no other ask: Sonnet 4.6 and 5.5 both meet it. Were 4.6 the cheaper, the
    # recommendation would still be the current model; here, price them the same to see the preference alone.
    the_asks = asks(rate=50, quality="high", latency=None, budget=None)
    options = build_options(data, the_asks.traffic)
    marks = {o.key: o.hosting for o in options if isinstance(o, TokenOption) and o.provider == "bedrock"}
    assert marks["claude-sonnet-4-6"] == "Bedrock (superseded)"
    assert marks["claude-sonnet-5-5"] == "Bedrock"
    cheap_old = [
        dataclasses.replace(o, request_usd=0.000001) if isinstance(o, TokenOption) and o.key == "claude-sonnet-4-6" else o
        for o in options
    ]
    ranked = rank(cheap_old, the_asks)
    assert ranked[0].option.key == "claude-sonnet-4-6"  # the cheapest that meets every ask, on paper
    recommendation = recommend(ranked, the_asks, data.current)
    assert recommendation.choice.option.key != "claude-sonnet-4-6"
    assert not getattr(recommendation.choice.option, "replaced", None)
    assert data.current("claude-sonnet-4-6") == "claude-sonnet-5-5"
    assert data.current("claude-3-sonnet") == "claude-sonnet-5-5"


def test_a_legacy_window_model_is_marked_legacy(registry):
    # Claude 3.5 Sonnet was legacy until its end of life on 2026-03-01.
    data = load_planner_data(registry, today=date(2026, 2, 1))
    assert data.token_prices["claude-3-5-sonnet"].replaced == "legacy"
    assert not data.token_prices["claude-3-5-sonnet"].retired
    assert data.current("claude-3-5-sonnet") == "claude-sonnet-5-5"
