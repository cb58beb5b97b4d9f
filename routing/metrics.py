"""The cost-quality curve of a router and RouteLLM's figures on it (lm-sys/RouteLLM, routellm/evals/evaluate.py):

- the curve: quality (mean per-case quality of the answers the routes would give) against the share of requests
  sent to the strong route, as the threshold sweeps the scores;
- PGR(share) = (quality - weak quality) / (strong quality - weak quality), the performance gap recovered;
- APGR: the area under the quality curve between weak and strong lines over strong share 0..1, divided by the
  area between the two lines: 0.5 is a random router, 1 the best possible;
- CPT(x): the strong share at which the router first recovers x of the gap (e.g. CPT(50%), CPT(80%)).

RouteLLM samples 10 thresholds (score deciles); here every distinct score is a point, and prompts with equal scores
are one step with linear interpolation across it, which is the expected curve under a random tie-break (the
heuristic's two scores give a straight segment, not an order-dependent staircase).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Curve:
    share: Floats  # strong share at each point, 0 .. 1, increasing
    quality: Floats  # mean quality there
    threshold: Floats  # the score threshold that gives the point (score >= threshold: strong); inf at share 0
    weak_quality: float
    strong_quality: float

    @property
    def gap(self) -> float:
        return self.strong_quality - self.weak_quality

    def apgr(self) -> float:
        if self.gap <= 0:
            return float("nan")
        area = float(np.trapezoid(self.quality, self.share))
        return (area - self.weak_quality) / self.gap

    def share_for_quality(self, quality: float) -> float:
        """The smallest strong share whose quality reaches ``quality`` (linear between points); 1.0 if none."""
        reached = np.nonzero(self.quality >= quality - 1e-12)[0]
        if len(reached) == 0:
            return 1.0
        i = int(reached[0])
        if i == 0:
            return 0.0
        q0, q1 = self.quality[i - 1], self.quality[i]
        s0, s1 = self.share[i - 1], self.share[i]
        return float(s0 + (s1 - s0) * (quality - q0) / (q1 - q0))

    def cpt(self, fraction: float) -> float:
        """RouteLLM's CPT(fraction): the strong share needed to recover ``fraction`` of the gap."""
        return self.share_for_quality(self.weak_quality + fraction * self.gap)

    def quality_at(self, share: float) -> float:
        return float(np.interp(share, self.share, self.quality))

    def threshold_for_share(self, share: float) -> float:
        """The score threshold whose strong share is the first point at or above ``share``."""
        i = int(np.searchsorted(self.share, share - 1e-12))
        return float(self.threshold[min(i, len(self.threshold) - 1)])


def curve(scores: Floats, weak: Floats, strong: Floats) -> Curve:
    """The curve of a router that sends a prompt to the strong route when its score is at or above a threshold."""
    n = len(scores)
    if n == 0:
        raise ValueError("no cases")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    gain = np.cumsum((strong - weak)[order])
    # Points only where the score changes: every prompt with that score or more goes strong.
    ends = [*np.nonzero(np.diff(sorted_scores) != 0)[0].tolist(), n - 1]
    share = [0.0] + [(e + 1) / n for e in ends]
    quality = [float(weak.mean())] + [float((weak.sum() + gain[e]) / n) for e in ends]
    threshold = [float("inf")] + [float(sorted_scores[e]) for e in ends]
    return Curve(
        share=np.array(share),
        quality=np.array(quality),
        threshold=np.array(threshold),
        weak_quality=float(weak.mean()),
        strong_quality=float(strong.mean()),
    )
