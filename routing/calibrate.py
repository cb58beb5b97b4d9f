"""Calibrate a policy on per-prompt outcomes: every figure is cross-validated (each prompt scored by a model that
was not fitted on it), the threshold is the out-of-fold score at which the router first keeps ``keep_quality`` of
the strong route's quality, and the policy shipped is refitted on all the data with that threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from llm_client.routing_policy import guide_heuristic, load_policy
from routing import fit
from routing.data import Outcomes, RoutingInputError
from routing.metrics import Curve, curve

MIN_CASES = 100  # fewer and five folds of 20 cannot say much about a threshold
MIN_DISAGREEMENTS = 30  # prompts where the two routes' qualities differ: the only ones that teach the router anything
DEFAULT_KEEP_QUALITY = 0.95


@dataclass(frozen=True)
class Calibration:
    policy: dict[str, Any]
    learned: Curve  # out-of-fold
    heuristic: Curve
    keep_quality: float
    strong_share: float  # out-of-fold, at the threshold
    quality: float  # out-of-fold, at the threshold
    strength: float
    cases: int

    def figures(self) -> dict[str, Any]:
        def of(c: Curve) -> dict[str, float]:
            return {
                "apgr": round(c.apgr(), 4),
                "cpt50": round(c.cpt(0.5), 4),
                "cpt80": round(c.cpt(0.8), 4),
                "strong_share_to_keep": round(c.share_for_quality(self.keep_quality * c.strong_quality), 4),
            }

        return {
            "cases": self.cases,
            "folds": fit.FOLDS,
            "weak_quality": round(self.learned.weak_quality, 4),
            "strong_quality": round(self.learned.strong_quality, 4),
            "keep_quality": self.keep_quality,
            "threshold": self.policy["threshold"],
            "strong_share": round(self.strong_share, 4),
            "quality": round(self.quality, 4),
            "l2_strength": self.strength,
            "learned": of(self.learned),
            "guide_heuristic": of(self.heuristic),
            "random": {"apgr": 0.5, "strong_share_to_keep": round(self._random_share(), 4)},
        }

    def _random_share(self) -> float:
        gap = self.learned.gap
        return (
            1.0
            if gap <= 0
            else min(1.0, max(0.0, (self.keep_quality * self.learned.strong_quality - self.learned.weak_quality) / gap))
        )


def check_enough(outcomes: Outcomes) -> None:
    differ = int(np.sum(np.abs(outcomes.strong - outcomes.weak) > 1e-9))
    if len(outcomes.prompts) < MIN_CASES or differ < MIN_DISAGREEMENTS:
        raise RoutingInputError(
            f"{outcomes.source}: {len(outcomes.prompts)} cases scored by both routes, {differ} where they differ; "
            f"calibration needs at least {MIN_CASES} cases and {MIN_DISAGREEMENTS} where the routes differ to fit "
            "and cross-validate honestly: evaluate both routes on more of your prompts"
        )
    if outcomes.strong.mean() <= outcomes.weak.mean():
        raise RoutingInputError(
            f"{outcomes.source}: the strong route's mean quality ({outcomes.strong.mean():.3f}) is not above the weak "
            f"one's ({outcomes.weak.mean():.3f}); swap --weak and --strong, or route everything to the weak one"
        )


def calibrate(outcomes: Outcomes, keep_quality: float = DEFAULT_KEEP_QUALITY) -> Calibration:
    check_enough(outcomes)
    x = fit.design(outcomes.prompts)
    folds = fit.fold_of(outcomes.prompts)
    strength, scores = fit.choose_strength(x, outcomes.weak, outcomes.strong, folds)
    learned = curve(scores, outcomes.weak, outcomes.strong)
    share = learned.share_for_quality(keep_quality * learned.strong_quality)
    threshold = learned.threshold_for_share(share)
    if not np.isfinite(threshold):  # the weak route alone keeps the quality: send nothing to the strong one
        threshold = 1.5
    b = fit.fit(x, fit.target(outcomes.weak, outcomes.strong), strength)
    policy = fit.policy(b, threshold)
    load_policy(policy)  # what the client will check
    at = scores >= threshold
    heuristic_scores = np.array([1.0 if guide_heuristic(p) else 0.0 for p in outcomes.prompts])
    return Calibration(
        policy=policy,
        learned=learned,
        heuristic=curve(heuristic_scores, outcomes.weak, outcomes.strong),
        keep_quality=keep_quality,
        strong_share=float(at.mean()),
        quality=float(np.where(at, outcomes.strong, outcomes.weak).mean()),
        strength=strength,
        cases=len(outcomes.prompts),
    )
