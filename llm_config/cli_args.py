"""Argument types the project's command-line tools share (the planner, the simulator): one message per bad value."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def positive_number(text: str) -> float:
    """A finite number greater than 0 (``--requests-per-hour 100``, ``--rate-scale 0.5``)."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not number > 0 or math.isinf(number):
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text!r}")
    return number


def whole_number(minimum: int) -> Callable[[str], int]:
    """A whole number of at least ``minimum`` (``--output-tokens 300``, ``--min-instances 0``)."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {text!r}")
        return number

    return parse
