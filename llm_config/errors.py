"""The one error type bad input raises: it names the file, the field and the fix."""

from __future__ import annotations


class ConfigError(Exception):
    """Bad user input: a config file, a deployment file or a `-c` context value.

    The app prints ``str(error)`` and exits non-zero, without a traceback or a template.
    """

    def __init__(self, source: str, field: str | None, problem: str, fix: str | None = None) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source}: {self.field}" if self.field else self.source
        text = f"{where}: {self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text
