"""A policy file (reviewed in git like a config): ``{"policy": SEALED POLICY, "calibration": {...}}``.

``policy`` is what the router's SSM parameter carries and what the client checks (llm_client.routing_policy);
``calibration`` records where it came from (data file, route labels, cross-validated figures, cost), for review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_client.routing_policy import Policy, PolicyError, load_policy
from routing.errors import RoutingInputError


def write_policy_file(path: Path, policy: dict[str, Any], calibration: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"policy": policy, "calibration": calibration}, indent=2, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def read_policy_file(path: Path, flag: str = "--policy") -> tuple[dict[str, Any], Policy, dict[str, Any]]:
    """``(policy JSON, checked Policy, calibration section)``; RoutingInputError names the file, field and fix."""
    fix = "recalibrate it with ./tasks.sh route calibrate, or restore the reviewed file from git"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutingInputError(f"{flag} {path}: no such file (write one with ./tasks.sh route calibrate)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RoutingInputError(f"{flag} {path}: not JSON, e.g. truncated ({error}); {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("policy"), dict):
        raise RoutingInputError(f"{flag} {path}: field 'policy' is missing; {fix}")
    try:
        checked = load_policy(data["policy"], where=f"{path}: policy")
    except PolicyError as error:
        raise RoutingInputError(str(error)) from None
    calibration = data.get("calibration")
    return data["policy"], checked, calibration if isinstance(calibration, dict) else {}
