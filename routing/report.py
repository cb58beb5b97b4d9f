"""The calibration report: the cost-quality curve (SVG, matplotlib) and one self-contained HTML page with the
figures (no script, no network)."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from routing.calibrate import Calibration
from routing.pricing import RoutedCost


def curve_svg(result: Calibration, weak: str, strong: str) -> str:
    learned, heuristic = result.learned, result.heuristic
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(learned.share * 100, learned.quality, label="learned policy (cross-validated)", color="#1f77b4")
    ax.plot(heuristic.share * 100, heuristic.quality, label="guide's keyword heuristic", color="#ff7f0e", marker=".")
    ax.plot([0, 100], [learned.weak_quality, learned.strong_quality], label="random split", color="grey", linestyle=":")
    ax.axhline(learned.weak_quality, color="grey", linestyle="--", linewidth=0.8, label=f"weak: {weak}")
    ax.axhline(learned.strong_quality, color="red", linestyle="--", linewidth=0.8, label=f"strong: {strong}")
    ax.axhline(result.keep_quality * learned.strong_quality, color="green", linewidth=0.6, linestyle="-.")
    ax.plot([result.strong_share * 100], [result.quality], marker="o", color="green", label="calibrated threshold")
    ax.set_xlabel("requests sent to the strong route (%)")
    ax.set_ylabel("mean quality")
    ax.set_title("Cost-quality curve (out-of-fold)")
    ax.legend(fontsize=7, loc="lower right")
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})  # no date: same input, same file
    plt.close(fig)
    return buffer.getvalue()


def summary_lines(result: Calibration, cost: RoutedCost | None) -> list[str]:
    f = result.figures()
    lines = [
        f"{f['cases']} cases, {f['folds']}-fold cross-validation; weak quality {f['weak_quality']:.3f}, "
        f"strong quality {f['strong_quality']:.3f}",
        f"threshold {f['threshold']:.4f}: {f['strong_share']:.1%} to the strong route, quality {f['quality']:.3f} "
        f"({f['quality'] / f['strong_quality']:.1%} of the strong route's; asked {result.keep_quality:.0%})",
    ]
    for name, label in (("learned", "learned policy"), ("guide_heuristic", "guide heuristic")):
        g = f[name]
        lines.append(
            f"{label}: APGR {g['apgr']:.3f}, CPT(50%) {g['cpt50']:.1%}, CPT(80%) {g['cpt80']:.1%}, "
            f"strong share to keep {result.keep_quality:.0%}: {g['strong_share_to_keep']:.1%}"
        )
    lines.append(
        f"random split: APGR 0.500, strong share to keep {result.keep_quality:.0%}: {f['random']['strong_share_to_keep']:.1%}"
    )
    lines.append(cost.line("monthly cost") if cost else "monthly cost: not priced (give --weak-model and --strong-model)")
    return lines


def write_report(folder: Path, result: Calibration, cost: RoutedCost | None, labels: dict[str, Any]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    svg = curve_svg(result, labels["weak"], labels["strong"])
    (folder / "curve.svg").write_text(svg, encoding="utf-8")
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(result, cost))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Routing calibration</title></head><body>"
        f"<h1>Routing calibration: {html.escape(labels['weak'])} / {html.escape(labels['strong'])}</h1>"
        f"<p>Data: {html.escape(labels['source'])}. Every figure is out-of-fold: each prompt was scored by a model "
        "not fitted on it.</p>"
        f"<ul>{items}</ul>{svg[svg.find('<svg') :]}</body></html>\n"
    )
    (folder / "report.html").write_text(page, encoding="utf-8")
    return [folder / "report.html", folder / "curve.svg"]
