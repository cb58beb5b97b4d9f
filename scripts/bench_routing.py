"""Held-out quality and speed of a calibrated routing policy, on RouteLLM's MMLU results of Mixtral 8x7B (weak)
against GPT-4 (strong) shipped in routing/data/ (Apache-2.0, credit in routing/data/README.md).

The prompts are split by a hash of their text: the policy is calibrated (./tasks.sh route calibrate's code) on the
calibration part only, then scored with the client's pure-Python scorer on the held-out rest. Printed figures, all
on the held-out part:

- strong share to keep 95% of GPT-4's quality (target <= 45%; a random split needs ~67%), for the learned policy, the
  guide's keyword heuristic and a random router; and what the calibrated threshold actually sent and kept;
- APGR (target >= 0.65) and CPT(50%) / CPT(80%), as RouteLLM defines them (routing/metrics.py);
- time per routing decision (mean and p99, one core, the client's scorer: load it once, then score each prompt).

usage: python scripts/bench_routing.py [--data FILE] [--held-out-percent 30] [--write-policy FILE]
(exit status 1 when a target is not met)
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "llm_client" / "src")]  # run as a script: the project is not on the path

from llm_client.routing_policy import Policy, guide_heuristic, load_policy  # noqa: E402
from routing.calibrate import calibrate  # noqa: E402
from routing.data import Outcomes, load_outcomes  # noqa: E402
from routing.metrics import Curve, curve  # noqa: E402
from routing.policy_file import write_policy_file  # noqa: E402

DATA = ROOT / "routing" / "data" / "mmlu_mixtral_vs_gpt4_dev.csv.gz"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
KEEP = 0.95
TARGET_SHARE = 0.45
TARGET_APGR = 0.65
HELD_OUT_PERCENT = 30
SHIPPED_POLICY = ROOT / "routing" / "policies" / "mmlu-mixtral-vs-gpt4.json"  # calibrated by --write-policy


def split(outcomes: Outcomes, held_out_percent: int) -> tuple[Outcomes, Outcomes]:
    held = np.array([zlib.crc32(p.encode("utf-8")) % 100 < held_out_percent for p in outcomes.prompts])

    def part(mask: np.ndarray, name: str) -> Outcomes:
        index = np.nonzero(mask)[0]
        return Outcomes(
            f"{outcomes.source} ({name})",
            [outcomes.ids[i] for i in index],
            [outcomes.prompts[i] for i in index],
            outcomes.weak[mask],
            outcomes.strong[mask],
        )

    return part(~held, "calibration"), part(held, "held out")


def line(name: str, c: Curve) -> str:
    keep = c.share_for_quality(KEEP * c.strong_quality)
    figures = f"APGR {c.apgr():.3f}  CPT(50%) {c.cpt(0.5):6.1%}  CPT(80%) {c.cpt(0.8):6.1%}"
    return f"  {name:<16} {figures}  strong share to keep 95%: {keep:6.1%}"


@dataclass(frozen=True)
class HeldOut:
    """Figures of a policy on the held-out prompts."""

    learned: Curve
    heuristic: Curve
    random: Curve
    sent_strong: float  # what the calibrated threshold sent to the strong route
    quality: float  # and the quality it kept
    micros: np.ndarray  # CPU time per decision, microseconds

    @property
    def share_to_keep(self) -> float:
        return self.learned.share_for_quality(KEEP * self.learned.strong_quality)


def held_out_figures(policy: Policy, held: Outcomes) -> HeldOut:
    timings = []  # CPU time of this thread: on a shared machine wall time also counts other processes' turns
    scores = []
    for prompt in held.prompts:
        t0 = time.thread_time_ns()
        _, score = policy.choose(prompt)
        timings.append(time.thread_time_ns() - t0)
        scores.append(score)
    at = np.array(scores) >= policy.threshold
    return HeldOut(
        learned=curve(np.array(scores), held.weak, held.strong),
        heuristic=curve(np.array([float(guide_heuristic(p)) for p in held.prompts]), held.weak, held.strong),
        # A random router's expected curve is the straight line from weak to strong: every score equal.
        random=curve(np.zeros(len(held.prompts)), held.weak, held.strong),
        sent_strong=float(at.mean()),
        quality=float(np.where(at, held.strong, held.weak).mean()),
        micros=np.array(timings) / 1000.0,
    )


def readme_table(figures: HeldOut) -> str:
    """The README's table (tests/test_routing.py checks the README quotes it): held-out figures of the shipped policy."""
    rows = [
        "| router (held-out MMLU, Mixtral 8x7B / GPT-4) | APGR | CPT(50%) | CPT(80%) | strong share to keep 95% |",
        "|---|---|---|---|---|",
    ]
    for name, c in (
        ("learned policy (`route calibrate`)", figures.learned),
        ("guide's keyword heuristic", figures.heuristic),
        ("random split", figures.random),
    ):
        keep = c.share_for_quality(KEEP * c.strong_quality)
        rows.append(f"| {name} | {c.apgr():.2f} | {c.cpt(0.5):.0%} | {c.cpt(0.8):.0%} | {keep:.0%} |")
    return "\n".join(rows)


def shipped_split(held_out_percent: int = HELD_OUT_PERCENT) -> tuple[Outcomes, Outcomes]:
    return split(load_outcomes(DATA, WEAK, STRONG), held_out_percent)


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--data", type=Path, default=DATA)
    args.add_argument("--held-out-percent", type=int, default=HELD_OUT_PERCENT)
    args.add_argument(
        "--write-policy",
        type=Path,
        metavar="FILE",
        help=f"also write the calibrated policy file (the README's: {SHIPPED_POLICY})",
    )
    options = args.parse_args(argv)
    calibration_part, held = split(load_outcomes(options.data, WEAK, STRONG), options.held_out_percent)
    print(f"{len(calibration_part.prompts)} prompts to calibrate on, {len(held.prompts)} held out")
    started = time.perf_counter()
    result = calibrate(calibration_part, KEEP)
    print(f"calibrated in {time.perf_counter() - started:.1f} s (L2 strength {result.strength})")
    if options.write_policy:
        calibration = {
            "from": f"{DATA.name}, the {100 - options.held_out_percent}% calibration part",
            "weak": WEAK,
            "strong": STRONG,
        }
        write_policy_file(options.write_policy, result.policy, {**calibration, "figures": result.figures()})
    policy = load_policy(result.policy)
    figures = held_out_figures(policy, held)
    print(f"held out: weak quality {held.weak.mean():.3f}, strong quality {held.strong.mean():.3f}")
    print(line("learned policy", figures.learned))
    print(line("guide heuristic", figures.heuristic))
    print(line("random", figures.random))
    print(
        f"  calibrated threshold {policy.threshold:.4f}: sent {figures.sent_strong:.1%} to the strong route, quality "
        f"{figures.quality:.3f} = {figures.quality / held.strong.mean():.1%} of the strong route's"
    )
    micro = figures.micros
    p99 = np.percentile(micro, 99)
    print(f"decision time (CPU): mean {micro.mean():.1f} us, median {np.median(micro):.1f} us, p99 {p99:.1f} us")
    share, apgr = figures.share_to_keep, figures.learned.apgr()
    print(
        f"target: strong share to keep 95% <= {TARGET_SHARE:.0%}: {share:.1%} ({'met' if share <= TARGET_SHARE else 'NOT met'})"
    )
    print(f"target: APGR >= {TARGET_APGR}: {apgr:.3f} ({'met' if apgr >= TARGET_APGR else 'NOT met'})")
    print(f"target: p99 decision <= 1 ms: {p99:.1f} us ({'met' if p99 <= 1000 else 'NOT met'})")
    return 0 if share <= TARGET_SHARE and apgr >= TARGET_APGR and p99 <= 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
