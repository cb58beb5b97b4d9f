"""The SVG chart: one cost curve per compared option, break-even points where the curves meet."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from llm_config import SageMakerModelConfig
from planner.assumptions import load_planner_data
from planner.chart import Axes, BreakEven, cost_curve, render_svg
from planner.costs import Traffic, break_even_requests_per_hour, sagemaker_option, token_option

SVG = "{http://www.w3.org/2000/svg}"
TRAFFIC = Traffic(requests_per_hour=100, input_tokens=500, output_tokens=300)


@pytest.fixture(scope="module")
def options(registry):
    data = load_planner_data(registry)
    model = registry.models["mistral-7b"]
    assert isinstance(model, SageMakerModelConfig)
    return sagemaker_option(data, model, TRAFFIC), token_option(data, "claude-3-sonnet", TRAFFIC)


def test_sagemaker_curve_steps_where_autoscaling_adds_an_instance(options):
    mistral, _ = options
    curve = cost_curve(mistral, 10, 10_000)  # one instance carries 2,671.54 req/h (its scaling target): steps at its multiples
    assert [round(rate) for rate, _ in curve] == [10, 2672, 2672, 5343, 5343, 8015, 8015, 10_000]
    assert [round(usd, 2) for _, usd in curve] == [1027.84, 1027.84, 2055.68, 2055.68, 3083.52, 3083.52, 4111.36, 4111.36]


def test_chart_marks_the_break_even_on_both_curves(options):
    mistral, sonnet = options
    rate = break_even_requests_per_hour(mistral, sonnet)
    assert rate is not None
    svg = ET.fromstring(render_svg([mistral, sonnet], [BreakEven(mistral, sonnet, rate)], TRAFFIC, 500))
    assert [line.get("data-option") for line in svg.iter(f"{SVG}polyline")] == ["mistral-7b", "claude-3-sonnet"]
    [marker] = svg.iter(f"{SVG}circle")
    assert marker.get("data-break-even") == "mistral-7b|claude-3-sonnet"
    # Traffic 100 and break-even 234.7 req/h: x = 10..10,000 req/h. Sonnet costs $43.80 at 10 req/h and $43,800
    # at 10,000: y = $10..$100k.
    axes = Axes(10, 10_000, 10, 100_000)
    assert float(marker.get("cx", "")) == pytest.approx(axes.x(rate), abs=0.05)
    assert float(marker.get("cy", "")) == pytest.approx(axes.y(1027.84), abs=0.05)
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert "1: mistral-7b vs claude-3-sonnet, 235 req/h" in texts
    assert "budget $500" in texts
    assert "your traffic 100 req/h" in texts


def test_chart_is_deterministic(options):
    mistral, sonnet = options
    assert render_svg([mistral, sonnet], [], TRAFFIC, None) == render_svg([mistral, sonnet], [], TRAFFIC, None)


def test_sagemaker_costs_past_max_instances_are_marked(options):
    """Mistral's config stops at scaling.max_instances (4): past 4 x 2,671.54 req/h the endpoint adds no instance, so
    the chart must not draw the cost of a 40-instance fleet as if the config served it."""
    mistral, sonnet = options
    cap = mistral.max_instances * mistral.capacity_per_instance
    svg = ET.fromstring(render_svg([mistral, sonnet], [], Traffic(50_000, 500, 300), None))
    axes_x = {line.get("data-option"): line.get("points", "").split() for line in svg.iter(f"{SVG}polyline")}
    beyond = [line for line in svg.iter(f"{SVG}polyline") if line.get("data-beyond-max-instances")]
    assert [line.get("data-beyond-max-instances") for line in beyond] == ["mistral-7b"]
    assert beyond[0].get("stroke-dasharray") == "5 4"
    axes = Axes(1000, 1_000_000, 1, 10)  # traffic 50,000 req/h: x = 1,000..1,000,000 req/h (y is not looked at)
    served_end = float(axes_x["mistral-7b"][-1].split(",")[0])
    assert served_end == pytest.approx(axes.x(cap), abs=0.05)
    assert beyond[0].get("points", "").split()[0] == axes_x["mistral-7b"][-1], "the dashed part starts where it stops"
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert f"max {mistral.max_instances} instances" in texts
    assert "dashed: past scaling.max_instances, where" in texts
    # Within the cap nothing is dashed.
    assert not any(
        line.get("data-beyond-max-instances")
        for line in ET.fromstring(render_svg([mistral], [], TRAFFIC, None)).iter(f"{SVG}polyline")
    )
