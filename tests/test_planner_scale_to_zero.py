"""The planner's scale-to-zero model, pinned against figures computed by hand, and the docs' figures against it."""

from __future__ import annotations

import pytest

from planner.costs import token_option
from planner.scale_to_zero import DAYS_PER_MONTH, TrafficProfile, recommendation, scale_to_zero_cost
from tests.conftest import REPO_ROOT
from tests.test_planner_costs import TRAFFIC, data, finding, hosted  # noqa: F401 (fixture)

GUIDE_DAY = TrafficProfile(active_hours_per_day=8, requests_per_active_hour=12.5)


def test_billed_hours_add_each_bursts_cold_start_and_idle_tail():
    # A burst bills its cold start (10 min), the idle period (30) and the empty instance until its release (5).
    assert GUIDE_DAY.billed_hours_per_day == pytest.approx(8 + (10 + 30 + 5) / 60)  # 8.75
    assert TrafficProfile(2, 50, bursts_per_day=3).billed_hours_per_day == pytest.approx(2 + 3 * 45 / 60)
    assert TrafficProfile(23.9, 5).billed_hours_per_day == 24  # never more than a day
    with pytest.raises(ValueError, match="active hours"):
        TrafficProfile(0, 5)


def test_guide_day_by_hand(data):  # noqa: F811
    mistral, sonnet = hosted(data, "mistral-7b"), token_option(data, "claude-sonnet-4-6", TRAFFIC)
    cost = scale_to_zero_cost(mistral, sonnet, GUIDE_DAY)
    # 1.408 $/h x 8.75 h x 30.4167 days = $374.73; Sonnet 4.6: 100/day x 30.4167 x $0.0066 = $20.08.
    assert pytest.approx(730 / 24) == DAYS_PER_MONTH
    assert (cost.instances, round(cost.monthly_usd, 2), round(cost.api_usd, 2)) == (1, 374.73, 20.08)
    assert round(cost.always_on_usd, 2) == 1027.84
    # Break-even: 1.408 x 8.75 / (8 x 0.0066) = 233.3 requests per active hour; always-on: 24 - 0.75 h.
    assert cost.api_break_even_requests_per_active_hour == pytest.approx(233.3, abs=0.1)
    assert cost.always_on_break_even_active_hours == pytest.approx(23.25, abs=0.01)
    assert cost.beats_always_on and not cost.beats_api


def test_scale_to_zero_beats_the_api_above_the_break_even(data):  # noqa: F811
    mistral, sonnet = hosted(data, "mistral-7b"), token_option(data, "claude-sonnet-4-6", TRAFFIC)
    busy = scale_to_zero_cost(mistral, sonnet, TrafficProfile(8, 240))
    assert busy.instances == 1 and busy.beats_api
    text = recommendation(mistral, sonnet, busy)
    assert "Mistral 7B Instruct v0.2 scaling to zero is cheapest" in text
    assert "cold start of ~10 minutes" in text


def test_guide_finding_and_docs_agree(data):  # noqa: F811
    text = finding(data, "Scenario 2 at 100 requests/day with scale to zero (Mistral 7B vs Claude Sonnet 5.5")
    assert text.startswith("100 requests/day in 8 active hour(s): scale to zero $374.73/month (8.75 billed h/day)")
    # Sonnet 5.5: 100/day x 30.4167 x $0.0044 = $13.38; break-even 1.408 x 8.75 / (8 x 0.0044) = 350.0 per active hour
    assert "Claude Sonnet 5.5 on Bedrock is cheapest" in text and "above 350 requests per active hour" in text
    docs = " ".join((REPO_ROOT / "docs" / "planner.md").read_text(encoding="utf-8").split())
    for figure in ("8.75 billed hours", "$374.73/month instead of $1,027.84", "$13.38", "**350 requests per active hour**"):
        assert figure in docs
    assert "below 23.2 active hours a day" in docs
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "$374.73/month scaling to zero instead of\n$1,027.84 always on" in readme
    assert "$13.38; scale to zero beats it above 350 requests" in readme
    assert "(default 30)" in readme and "idle_minutes_before_zero" in readme
