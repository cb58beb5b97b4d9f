"""A router's policy: which of two routes a prompt goes to. Pure Python (the client installs with boto3 only), CPU,
deterministic, no network call: a few microseconds to tens of microseconds per decision.

A policy is a JSON object (the ``policy`` section of a policy file that ``./tasks.sh route calibrate`` writes, and
the ``policy`` of a router's SSM parameter)::

    {"format": "llm-endpoints-routing-policy/1", "kind": "learned" | "heuristic",
     "threshold": T, "model": {...} (learned only), "sha256": HEX}

``score(prompt)`` is the policy's estimate in [0, 1] that the strong route is needed; a prompt whose score is at or
above ``threshold`` goes to the strong route. ``threshold`` 0 sends everything to the strong route, above 1
everything to the weak one: the router is then a plain failover pair.

- ``heuristic``: the guide's keyword rule (more than 20 words and "based on", or "why", "how", "explain",
  "analyze" anywhere in the text, as substrings, as the guide wrote it): score 1 or 0.
- ``learned``: a logistic model over hashed word unigrams and bigrams plus the prompt's length, fitted by
  ``routing.calibrate`` on the user's own results to predict where the strong route's answer is better than the
  weak one's. Its weights are int8 (``scale`` per step), base64, so a policy fits in one SSM parameter.

``sha256`` is the SHA-256 of the policy's canonical JSON (keys sorted, no spaces, UTF-8) without ``sha256``: a
tampered or truncated policy is refused, never used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import math
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

POLICY_FORMAT = "llm-endpoints-routing-policy/1"
KINDS = ("learned", "heuristic")
TOKENIZER = "words-bigrams-crc32/1"  # the feature recipe; calibration and scoring must agree on it

_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
_REASONING_WORDS = ("why", "how", "explain", "analyze")


class PolicyError(ValueError):
    """A policy that cannot be used: the message names the field and the fix."""


def canonical_json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(policy: Mapping[str, Any]) -> str:
    """The integrity hash of a policy: SHA-256 of its canonical JSON without the ``sha256`` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in policy.items() if k != "sha256"})).hexdigest()


def seal(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The policy with its ``sha256`` set."""
    body = {k: v for k, v in policy.items() if k != "sha256"}
    return {**body, "sha256": digest(body)}


def features(prompt: str, buckets: int) -> list[int]:
    """The hashed feature indices of a prompt: distinct word unigrams and bigrams, each crc32 modulo ``buckets``."""
    tokens = _TOKEN.findall(prompt.lower())
    keys = set(tokens)
    keys.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    return sorted({zlib.crc32(key.encode("utf-8")) % buckets for key in keys})


def length_feature(prompt: str) -> float:
    return math.log1p(len(prompt)) / 8.0


def guide_heuristic(prompt: str) -> bool:
    """The guide's rule for "complex": more than 20 words and "based on", or a reasoning word (substring)."""
    text = prompt.lower()
    has_context = len(prompt.split()) > 20 and "based on" in text
    return has_context or any(word in text for word in _REASONING_WORDS)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Policy:
    kind: str
    threshold: float
    sha256: str
    buckets: int = 0
    weights: tuple[float, ...] = ()
    bias: float = 0.0
    length_weight: float = 0.0

    def score(self, prompt: str) -> float:
        """The estimate in [0, 1] that the strong route is needed (higher: strong)."""
        if self.kind == "heuristic":
            return 1.0 if guide_heuristic(prompt) else 0.0
        indices = features(prompt, self.buckets)
        z = self.bias + self.length_weight * length_feature(prompt)
        if indices:
            z += sum(self.weights[i] for i in indices) / math.sqrt(len(indices))
        return _sigmoid(z)

    def choose(self, prompt: str) -> tuple[str, float]:
        """``("strong" | "weak", score)`` for one prompt."""
        score = self.score(prompt)
        return ("strong" if score >= self.threshold else "weak"), score


def _field(policy: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = policy.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PolicyError(f"{where}: field '{name}' is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def load_policy(policy: Any, where: str = "policy") -> Policy:
    """A checked Policy from its JSON object; PolicyError (naming ``where``, the field and the fix) otherwise."""
    fix = "recalibrate it with ./tasks.sh route calibrate, or restore the reviewed file from git"
    if not isinstance(policy, Mapping):
        raise PolicyError(f"{where}: not a routing policy (a JSON object with format {POLICY_FORMAT}); {fix}")
    if policy.get("format") != POLICY_FORMAT:
        raise PolicyError(f"{where}: field 'format' is {policy.get('format')!r}, not {POLICY_FORMAT!r}; {fix}")
    claimed = policy.get("sha256")
    if not isinstance(claimed, str) or claimed != digest(policy):
        raise PolicyError(
            f"{where}: field 'sha256' does not match the policy's content (edited or truncated after calibration); {fix}"
        )
    kind = _field(policy, "kind", str, where)
    if kind not in KINDS:
        raise PolicyError(f"{where}: field 'kind' is {kind!r}; use one of {', '.join(KINDS)}")
    threshold = float(_field(policy, "threshold", (int, float), where))
    if not threshold >= 0.0 or math.isnan(threshold):
        raise PolicyError(f"{where}: field 'threshold' is {threshold}; use a number >= 0 (0: all strong, > 1: all weak)")
    if kind == "heuristic":
        return Policy(kind=kind, threshold=threshold, sha256=claimed)
    model = _field(policy, "model", Mapping, where)
    if model.get("tokenizer") != TOKENIZER:
        raise PolicyError(f"{where}: field 'model.tokenizer' is {model.get('tokenizer')!r}; this client reads {TOKENIZER}")
    buckets = int(_field(model, "buckets", int, f"{where} model"))
    scale = float(_field(model, "scale", (int, float), f"{where} model"))
    try:
        raw = base64.b64decode(_field(model, "weights", str, f"{where} model"), validate=True)
    except (binascii.Error, ValueError):
        raise PolicyError(f"{where}: field 'model.weights' is not base64; {fix}") from None
    if len(raw) != buckets or buckets < 1:
        raise PolicyError(f"{where}: field 'model.weights' holds {len(raw)} weights, not 'buckets' ({buckets}); {fix}")
    weights = tuple((b - 256 if b > 127 else b) * scale for b in raw)  # int8, two's complement
    return Policy(
        kind=kind,
        threshold=threshold,
        sha256=claimed,
        buckets=buckets,
        weights=weights,
        bias=float(_field(model, "bias", (int, float), f"{where} model")),
        length_weight=float(_field(model, "length_weight", (int, float), f"{where} model")),
    )


def heuristic_policy(threshold: float = 0.5) -> dict[str, Any]:
    """The guide's keyword rule as a sealed policy (the documented baseline)."""
    return seal({"format": POLICY_FORMAT, "kind": "heuristic", "threshold": threshold})
