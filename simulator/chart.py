"""The timeline chart: requests per second, requests in flight, instances and p90 latency per minute, as SVG and
as an HTML page around it (matplotlib, already pinned for the evaluation report)."""

from __future__ import annotations

import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from simulator.results import Summary


def render_svg(summary: Summary, title: str, credit: str) -> str:
    timeline = summary.timeline
    minutes = list(range(len(timeline.instances)))
    figure, axes = plt.subplots(4, 1, figsize=(9, 8), sharex=True)
    panels = [
        (timeline.requests_per_second, "requests/s"),
        (timeline.in_flight, "in flight\n(queued incl.)"),
        (timeline.instances, "instances"),
        (timeline.p90_seconds, "p90 latency (s)"),
    ]
    for axis, (values, label) in zip(axes, panels, strict=True):
        if label == "instances":
            axis.step(minutes, values, where="post", color="tab:green")
        else:
            axis.plot(minutes, values, linewidth=1)
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[3].axhline(summary.latency_budget_s, color="tab:red", linestyle="--", linewidth=1, label="latency budget")
    axes[3].legend(loc="upper right")
    axes[3].set_xlabel("minute")
    figure.suptitle(title, fontsize=10)
    if credit:
        figure.text(0.01, 0.005, credit, fontsize=6)
    figure.tight_layout(rect=(0, 0.02, 1, 1))
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # no timestamp: the same run writes the same file
    plt.close(figure)
    return buffer.getvalue()


def write_chart(stem: Path, summary: Summary, title: str, credit: str) -> tuple[Path, Path]:
    """``stem``.svg and ``stem``.html."""
    svg = render_svg(summary, title, credit)
    svg_path, html_path = stem.with_suffix(".svg"), stem.with_suffix(".html")
    svg_path.write_text(svg, encoding="utf-8")
    body = svg[svg.index("<svg") :]
    html_path.write_text(
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n<p>{html.escape(credit)}</p></body></html>\n",
        encoding="utf-8",
    )
    return svg_path, html_path
