"""Regular expressions of a test set (``expect.regex``, a JSON schema's ``pattern`` and ``patternProperties``), run
with a time bound.

Python's ``re`` backtracks without limit: ``(a|a)+$`` against 30 characters runs for minutes, and a C call cannot be
interrupted, not even by Ctrl-C. The ``regex`` package (https://pypi.org/project/regex/) reads the same syntax as
``re`` (its default VERSION0 behaves as ``re``) and takes a ``timeout``, which it checks while it backtracks. Every
match of one answer's checks shares one Deadline, so a check costs at most SCORING_SECONDS however many patterns a
schema holds (``regex`` counts processor time: on a busy machine a timed-out match takes longer on the clock).
google-re2 matches in linear time but refuses the look-arounds and back-references that ``re`` patterns use, so
existing test sets would break (README.md says why each dependency was chosen).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import regex

SCORING_SECONDS = 2.0  # per check of one answer (a regex, a JSON schema with its patterns)


class Deadline:
    """The time a check may still take; ``remaining()`` raises TimeoutError once it has passed."""

    def __init__(self, seconds: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = SCORING_SECONDS if seconds is None else seconds
        self._clock = clock
        self._end = clock() + self.seconds

    def remaining(self) -> float:
        left = self._end - self._clock()
        if left <= 0:
            raise self.passed()
        return left

    def passed(self) -> TimeoutError:
        return TimeoutError(f"not checked within {self.seconds:g} s: simplify the pattern or schema")


def compile_pattern(pattern: str) -> Any:  # a regex.Pattern (the package has no type hints)
    """The compiled pattern; ``regex.error`` (a ValueError) when it is not one."""
    return regex.compile(pattern)


def search(pattern: Any, text: str, deadline: Deadline) -> Any:
    """``pattern.search(text)``, TimeoutError when the deadline passes first."""
    compiled = compile_pattern(pattern) if isinstance(pattern, str) else pattern  # regex caches compiled patterns
    try:
        return compiled.search(text, timeout=deadline.remaining())
    except TimeoutError:
        raise deadline.passed() from None
