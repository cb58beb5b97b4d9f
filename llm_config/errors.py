"""The one error type bad input raises: it names the file, the field and the fix."""

from __future__ import annotations

import reprlib
from typing import Any

# One message is one screen at most, whatever the input (a huge value, a YAML alias bomb): each part is cut here.
MAX_PART_CHARS = 1000

_BRIEF = reprlib.Repr()  # keyword arguments need Python 3.12
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 2, 80, 80, 40
_BRIEF.maxdict = _BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxset = 4


def brief(value: Any) -> str:
    """``repr(value)``, shortened so that neither its length nor the time to build it grows with the value."""
    return bounded(_BRIEF.repr(value), 200)


def bounded(text: str, limit: int = MAX_PART_CHARS) -> str:
    return text if len(text) <= limit else f"{text[: limit - 40]} ... ({len(text) - limit + 40:,} characters cut)"


class ConfigError(Exception):
    """Bad user input: a config file, a deployment file or a `-c` context value.

    The app prints ``str(error)`` and exits non-zero, without a traceback or a template.
    """

    def __init__(self, source: str, field: str | None, problem: str, fix: str | None = None) -> None:
        self.source = bounded(source, 200)
        self.field = None if field is None else bounded(field, 200)
        self.problem = bounded(problem)
        self.fix = None if fix is None else bounded(fix)
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        text = f"{where}: {self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text
