"""Held-out quality and speed of a calibrated routing policy, on RouteLLM's MMLU results of Mixtral 8x7B (weak)
against GPT-4 (strong) shipped in routing/data/ (Apache-2.0, credit in routing/data/README.md).

The prompts are split by a hash of their text: the policy is calibrated (./tasks.sh route calibrate's code) on the
calibration part only, then scored with the client's pure-Python scorer on the held-out rest. Printed figures, all
on the held-out part:

- strong share to keep 95% of GPT-4's quality (target <= 45%; a random split needs ~67%), for the learned policy, the
  guide's keyword heuristic and a random router; and what the calibrated threshold actually sent and kept;
- APGR (target >= 0.65) and CPT(50%) / CPT(80%), as RouteLLM defines them (routing/metrics.py);
- time per routing decision (mean and p99, one core, the client's scorer: load it once, then score each prompt).

usage: python scripts/bench_routing.py [--data FILE] [--held-out-percent 30]
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "llm_client" / "src")]  # run as a script: the project is not on the path

from llm_client.routing_policy import guide_heuristic, load_policy  # noqa: E402
from routing.calibrate import calibrate  # noqa: E402
from routing.data import Outcomes, load_outcomes  # noqa: E402
from routing.metrics import Curve, curve  # noqa: E402

DATA = ROOT / "routing" / "data" / "mmlu_mixtral_vs_gpt4_dev.csv.gz"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"
KEEP = 0.95
TARGET_SHARE = 0.45
TARGET_APGR = 0.65


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


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--data", type=Path, default=DATA)
    args.add_argument("--held-out-percent", type=int, default=30)
    options = args.parse_args(argv)
    calibration_part, held = split(load_outcomes(options.data, WEAK, STRONG), options.held_out_percent)
    print(f"{len(calibration_part.prompts)} prompts to calibrate on, {len(held.prompts)} held out")
    started = time.perf_counter()
    result = calibrate(calibration_part, KEEP)
    print(f"calibrated in {time.perf_counter() - started:.1f} s (L2 strength {result.strength})")
    policy = load_policy(result.policy)
    timings = []  # CPU time of this thread: on a shared machine wall time also counts other processes' turns
    scores = []
    for prompt in held.prompts:
        t0 = time.thread_time_ns()
        _, score = policy.choose(prompt)
        timings.append(time.thread_time_ns() - t0)
        scores.append(score)
    learned = curve(np.array(scores), held.weak, held.strong)
    heuristic = curve(np.array([float(guide_heuristic(p)) for p in held.prompts]), held.weak, held.strong)
    # A random router's expected curve is the straight line from weak to strong: every score equal.
    random_curve = curve(np.zeros(len(held.prompts)), held.weak, held.strong)
    at = np.array(scores) >= policy.threshold
    quality = float(np.where(at, held.strong, held.weak).mean())
    print(f"held out: weak quality {held.weak.mean():.3f}, strong quality {held.strong.mean():.3f}")
    print(line("learned policy", learned))
    print(line("guide heuristic", heuristic))
    print(line("random", random_curve))
    print(
        f"  calibrated threshold {policy.threshold:.4f}: sent {at.mean():.1%} to the strong route, quality {quality:.3f} "
        f"= {quality / held.strong.mean():.1%} of the strong route's"
    )
    micro = np.array(timings) / 1000.0
    p99 = np.percentile(micro, 99)
    print(f"decision time (CPU): mean {micro.mean():.1f} us, median {np.median(micro):.1f} us, p99 {p99:.1f} us")
    share = learned.share_for_quality(KEEP * learned.strong_quality)
    ok = share <= TARGET_SHARE and learned.apgr() >= TARGET_APGR and p99 <= 1000
    print(
        f"targets: strong share to keep 95% <= {TARGET_SHARE:.0%}: {share:.1%}; APGR >= {TARGET_APGR}: "
        f"{learned.apgr():.3f}; p99 decision <= 1 ms: {'all met' if ok else 'NOT all met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
