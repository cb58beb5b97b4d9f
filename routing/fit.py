"""Fitting a learned policy (numpy, scipy; never needed to score): a logistic model over the hashed features of
``llm_client.routing_policy`` whose target is where the strong route's answer is better than the weak one's,
(strong quality - weak quality + 1) / 2, so a prompt both routes answer alike scores near the middle and one only
the strong route answers scores high. Predicting only where the weak route fails would also send the prompts
neither answers well, which buys nothing.

Folds are by a hash of the prompt (deterministic, and a prompt repeated in the data stays in one fold). The L2
strength is chosen by the same cross-validation (the best APGR on out-of-fold scores), from a short fixed list.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize

from llm_client.routing_policy import POLICY_FORMAT, TOKENIZER, features, length_feature, seal
from routing.metrics import Floats, curve

BUCKETS = 2048  # int8 weights, base64: 2.7 KB, so a policy and its routes fit one 4 KB SSM parameter
FOLDS = 5
STRENGTHS = (1.0, 3.0, 10.0)  # L2 strengths tried (per case summed loss); the CV picks one


@dataclass(frozen=True)
class Fitted:
    weights: Floats  # BUCKETS feature weights, then the length weight, then the bias
    strength: float


def design(prompts: Sequence[str], buckets: int = BUCKETS) -> sp.csr_matrix:
    """The feature matrix the pure-Python scorer computes: hashed n-grams / sqrt(count), length, 1."""
    rows, cols, values = [], [], []
    for i, prompt in enumerate(prompts):
        indices = features(prompt, buckets)
        for j in indices:
            rows.append(i)
            cols.append(j)
            values.append(1.0 / math.sqrt(len(indices)))
        rows += [i, i]
        cols += [buckets, buckets + 1]
        values += [length_feature(prompt), 1.0]
    return sp.csr_matrix((values, (rows, cols)), shape=(len(prompts), buckets + 2))


def target(weak: Floats, strong: Floats) -> Floats:
    return (strong - weak + 1.0) / 2.0


def fit(x: sp.csr_matrix, y: Floats, strength: float) -> Floats:
    """L2-regularised logistic regression with soft targets in [0, 1] (the bias is not penalised)."""

    def loss(b: Floats) -> tuple[float, Floats]:
        z = x @ b
        # log(1 + e^z) - y z, stable for large |z|
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + strength * np.sum(b[:-1] ** 2))
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (p - y)
        grad[:-1] += 2.0 * strength * b[:-1]
        return value, grad

    result = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return np.asarray(result.x, dtype=np.float64)


def fold_of(prompts: Sequence[str], folds: int = FOLDS) -> np.ndarray:
    return np.array([zlib.crc32(p.encode("utf-8")) % folds for p in prompts])


def out_of_fold(x: sp.csr_matrix, y: Floats, folds: np.ndarray, strength: float) -> Floats:
    """Each prompt's score from a model fitted without its fold."""
    scores = np.zeros(x.shape[0])
    for k in np.unique(folds):
        held = folds == k
        b = fit(x[~held], y[~held], strength)
        scores[held] = 1.0 / (1.0 + np.exp(-(x[held] @ b)))
    return scores


def quantize(b: Floats, buckets: int = BUCKETS) -> tuple[float, str]:
    """``(scale, base64 int8)`` of the feature weights: weight = int8 * scale."""
    top = float(np.max(np.abs(b[:buckets]))) or 1.0
    scale = top / 127.0
    q = np.clip(np.round(b[:buckets] / scale), -127, 127).astype(np.int8)
    return scale, base64.b64encode(q.tobytes()).decode("ascii")


def policy(b: Floats, threshold: float, buckets: int = BUCKETS) -> dict[str, object]:
    scale, weights = quantize(b, buckets)
    model = {
        "tokenizer": TOKENIZER,
        "buckets": buckets,
        "scale": float(f"{scale:.9g}"),
        "weights": weights,
        "length_weight": round(float(b[buckets]), 6),
        "bias": round(float(b[buckets + 1]), 6),
    }
    return seal({"format": POLICY_FORMAT, "kind": "learned", "threshold": round(threshold, 6), "model": model})


def choose_strength(x: sp.csr_matrix, weak: Floats, strong: Floats, folds: np.ndarray) -> tuple[float, Floats]:
    """The L2 strength with the best out-of-fold APGR, and those out-of-fold scores."""
    y = target(weak, strong)
    best: tuple[float, float, Floats] | None = None
    for strength in STRENGTHS:
        scores = out_of_fold(x, y, folds, strength)
        apgr = curve(scores, weak, strong).apgr()
        if best is None or apgr > best[0]:
            best = (apgr, strength, scores)
    assert best is not None
    return best[1], best[2]
