"""The simulator's constants, each with its source: simulator/data/constants.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONSTANTS_FILE = Path(__file__).resolve().parent / "data" / "constants.yaml"
CONSTANTS: dict[str, dict[str, Any]] = yaml.safe_load(CONSTANTS_FILE.read_text(encoding="utf-8"))


def value(name: str) -> float:
    return float(CONSTANTS[name]["value"])
