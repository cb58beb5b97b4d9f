"""Monthly cost against traffic as a hand-written SVG (log-log axes): no plotting dependency, deterministic output."""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from planner.costs import Option, SageMakerOption, TokenOption, Traffic

WIDTH, HEIGHT = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 70, 330, 50, 60  # plot margins; the legend sits in the right margin
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


@dataclass(frozen=True)
class BreakEven:
    hosted: SageMakerOption
    api: TokenOption
    requests_per_hour: float


@dataclass(frozen=True)
class Axes:
    """Log-scaled axes: decades from x_min to x_max requests/hour and y_min to y_max USD/month."""

    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def x(self, requests_per_hour: float) -> float:
        return LEFT + _fraction(requests_per_hour, self.x_min, self.x_max) * (WIDTH - LEFT - RIGHT)

    def y(self, usd: float) -> float:
        return HEIGHT - BOTTOM - _fraction(usd, self.y_min, self.y_max) * (HEIGHT - TOP - BOTTOM)


def _fraction(value: float, low: float, high: float) -> float:
    return (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))


def _decade_below(value: float) -> float:
    return 10.0 ** math.floor(math.log10(value))


def _decade_above(value: float) -> float:
    return 10.0 ** math.ceil(math.log10(value))


def cost_curve(option: Option, x_min: float, x_max: float) -> list[tuple[float, float]]:
    """Points of the option's monthly cost: a straight line for pay-per-token, steps where autoscaling adds an instance."""
    points = [(x_min, option.monthly_usd_at(x_min))]
    if isinstance(option, SageMakerOption) and option.serves_request:
        step = option.capacity_per_instance
        boundary = step * math.ceil(x_min / step)
        while boundary < x_max:
            if boundary > x_min:
                before, after = option.monthly_usd_at(boundary * (1 - 1e-9)), option.monthly_usd_at(boundary * (1 + 1e-9))
                points += [(boundary, before), (boundary, after)]
            boundary += step
    points.append((x_max, option.monthly_usd_at(x_max)))
    return points


def split_at_max_instances(
    option: Option, curve: list[tuple[float, float]]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The curve up to the traffic ``scaling.max_instances`` instances carry, and the rest (empty if the chart ends
    first). Past it the config's endpoint adds no instance: the rest is what it would cost if the cap were raised."""
    if not isinstance(option, SageMakerOption) or not option.serves_request:
        return curve, []
    cap = option.max_instances * option.capacity_per_instance
    if cap >= curve[-1][0]:
        return curve, []
    at_cap = (cap, option.monthly_usd_at(cap * (1 - 1e-9)))
    rest = [p for p in curve if p[0] >= cap and not (math.isclose(p[0], cap) and math.isclose(p[1], at_cap[1]))]
    return [p for p in curve if p[0] < cap] + [at_cap], [at_cap, *rest]


def render_svg(options: list[Option], break_evens: list[BreakEven], traffic: Traffic, budget_usd: float | None) -> str:
    marks = [traffic.requests_per_hour, *(b.requests_per_hour for b in break_evens)]
    x_min, x_max = _decade_below(min(marks)) / 10, _decade_above(max(marks)) * 10
    curves = [cost_curve(option, x_min, x_max) for option in options]
    costs = [usd for curve in curves for _, usd in curve] + ([budget_usd] if budget_usd else [])
    y_min, y_max = _decade_below(min(costs)), _decade_above(max(costs))
    axes = Axes(x_min, x_max, y_min, max(y_max, y_min * 10))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        ' font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        _text(
            LEFT,
            28,
            f"Monthly cost vs traffic ({traffic.input_tokens} in + {traffic.output_tokens} out tokens per request)",
            size=15,
        ),
        *_grid(axes),
    ]
    if budget_usd:
        y = axes.y(budget_usd)
        parts.append(_dashed(LEFT, y, WIDTH - RIGHT, y, "#666"))
        parts.append(_text(LEFT + 4, y - 4, f"budget ${budget_usd:,.0f}", fill="#666"))
    x = axes.x(traffic.requests_per_hour)
    parts.append(_dashed(x, TOP, x, HEIGHT - BOTTOM, "#666"))
    rate = traffic.requests_per_hour
    label = f"your traffic {rate:,.0f} req/h" if rate >= 1 else f"your traffic {rate:.3g} req/h"
    right_half = x > (LEFT + WIDTH - RIGHT) / 2
    parts.append(_text(x - 4 if right_half else x + 4, TOP + 12, label, fill="#666", anchor="end" if right_half else "start"))
    capped = False
    for index, (option, curve) in enumerate(zip(options, curves, strict=True)):
        colour = COLOURS[index % len(COLOURS)]
        served, beyond = split_at_max_instances(option, curve)
        points = " ".join(f"{axes.x(rate):.1f},{axes.y(usd):.1f}" for rate, usd in served)
        parts.append(
            f'<polyline data-option="{escape(option.key)}" points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        if beyond and isinstance(option, SageMakerOption):
            points = " ".join(f"{axes.x(rate):.1f},{axes.y(usd):.1f}" for rate, usd in beyond)
            parts.append(
                f'<polyline data-beyond-max-instances="{escape(option.key)}" points="{points}" fill="none"'
                f' stroke="{colour}" stroke-width="1.5" stroke-dasharray="5 4"/>'
            )
            cx, cy = axes.x(beyond[0][0]), axes.y(beyond[0][1])
            parts.append(
                f'<line x1="{cx:.1f}" y1="{cy - 8:.1f}" x2="{cx:.1f}" y2="{cy + 8:.1f}" stroke="{colour}" stroke-width="3"/>'
            )
            parts.append(_text(cx - 4, cy - 12, f"max {option.max_instances} instances", fill=colour, size=11, anchor="end"))
            capped = True
        legend_x, legend_y = WIDTH - RIGHT + 20, TOP + 10 + index * 36
        parts.append(
            f'<line x1="{legend_x}" y1="{legend_y}" x2="{legend_x + 24}" y2="{legend_y}" stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(_text(WIDTH - RIGHT + 50, legend_y + 4, option.display_name))
        parts.append(_text(WIDTH - RIGHT + 50, legend_y + 18, option.hosting, fill="#555", size=11))
    legend_y = TOP + 10 + len(options) * 36 + 10
    if capped:
        parts.append(_text(WIDTH - RIGHT + 20, legend_y, "dashed: past scaling.max_instances, where", size=11))
        parts.append(_text(WIDTH - RIGHT + 20, legend_y + 14, "the endpoint stops adding instances", size=11))
        legend_y += 38
    if break_evens:
        parts.append(_text(WIDTH - RIGHT + 20, legend_y, "Break-even (SageMaker = pay-per-token)"))
    for number, point in enumerate(break_evens, start=1):
        cx, cy = axes.x(point.requests_per_hour), axes.y(point.api.monthly_usd_at(point.requests_per_hour))
        parts.append(
            f'<circle data-break-even="{escape(point.hosted.key)}|{escape(point.api.key)}" cx="{cx:.1f}" cy="{cy:.1f}" r="5"'
            ' fill="white" stroke="black" stroke-width="2"/>'
        )
        label_y = cy + 18 if number % 2 else cy - 10
        parts.append(_text(cx, label_y, str(number), size=11, anchor="middle"))
        parts.append(
            _text(
                WIDTH - RIGHT + 20,
                legend_y + number * 18,
                f"{number}: {point.hosted.key} vs {point.api.key}, {point.requests_per_hour:,.0f} req/h",
                size=11,
            )
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _grid(axes: Axes) -> list[str]:
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" fill="none" stroke="#999"/>'
    ]
    for exponent in range(round(math.log10(axes.x_min)), round(math.log10(axes.x_max)) + 1):
        x = axes.x(10.0**exponent)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" stroke="#eee"/>')
        parts.append(_text(x, HEIGHT - BOTTOM + 18, _short(10.0**exponent), anchor="middle"))
    for exponent in range(round(math.log10(axes.y_min)), round(math.log10(axes.y_max)) + 1):
        y = axes.y(10.0**exponent)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(_text(LEFT - 6, y + 4, f"${_short(10.0**exponent)}", anchor="end"))
    parts.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 18, "requests per hour (log scale)", anchor="middle"))
    parts.append(_text(18, (TOP + HEIGHT - BOTTOM) / 2, "USD per month (log scale)", anchor="middle", rotate=True))
    return parts


def _short(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _dashed(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" stroke-dasharray="5,4"/>'


def _text(
    x: float, y: float, text: str, *, fill: str = "black", size: int = 12, anchor: str = "start", rotate: bool = False
) -> str:
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" fill="{fill}" font-size="{size}" text-anchor="{anchor}"{transform}>{escape(text)}</text>'
    )
