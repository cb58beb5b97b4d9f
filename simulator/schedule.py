"""`scaling.scheduled` actions as Application Auto Scaling runs them: at each minute their six-field cron matches (in
the action's time zone), the scalable target's min and max become the action's. The stack puts them on variant
endpoints (llm_constructs/endpoint_scaling.py). Cron fields: minutes hours day-of-month month day-of-week year, with
numbers, names (JAN, MON), `*`, `?`, lists, ranges and `/` steps; day-of-week 1-7 is SUN-SAT, as AWS counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from llm_config import ConfigError
from llm_config.operations import ScheduledScaling

MONTHS = {
    name: i
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)
}
DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
# (lowest, highest, names) of each field
FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, MONTHS),
    (1, 7, DAYS),
    (1970, 2199, {}),
)


def _values(text: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span in ("*", "?"):
            start, end = low, high
        elif "-" in span:
            first, last = span.split("-", 1)
            start, end = names.get(first) or int(first), names.get(last) or int(last)
        else:
            start = names.get(span) or int(span)
            end = high if step_text else start
        values |= set(range(start, end + 1, step))
    return values


@dataclass(frozen=True)
class Schedule:
    name: str
    fields: tuple[set[int], ...]
    zone: ZoneInfo
    min_instances: int
    max_instances: int

    def fires(self, moment: datetime) -> bool:
        """Whether the action runs in the minute starting at ``moment`` (UTC)."""
        local = moment.astimezone(self.zone)
        dow = (local.isoweekday() % 7) + 1  # Monday 1 -> 2, Sunday 7 -> 1
        parts = (local.minute, local.hour, local.day, local.month, dow, local.year)
        return all(value in allowed for value, allowed in zip(parts, self.fields, strict=True))


def parse_schedules(actions: list[ScheduledScaling], source: str) -> list[Schedule]:
    schedules = []
    for action in actions:
        try:
            fields = tuple(
                _values(text, low, high, names) for text, (low, high, names) in zip(action.cron.split(), FIELDS, strict=True)
            )
        except ValueError:
            raise ConfigError(
                source,
                f"scaling.scheduled.{action.name}.cron",
                f"the simulator reads numbers, names, *, ?, lists, ranges and steps; {action.cron!r} uses more (L, W, #)",
                "write the cron with those forms to simulate it (Application Auto Scaling accepts more than the simulator reads)",
            ) from None
        schedules.append(Schedule(action.name, fields, ZoneInfo(action.timezone), action.min_instances, action.max_instances))
    return schedules


def firing(schedules: list[Schedule], start: datetime, seconds: float) -> Schedule | None:
    """The last action (in config order) that fires in the minute ``seconds`` after ``start``."""
    moment = start + timedelta(seconds=seconds)
    fired = [s for s in schedules if s.fires(moment)]
    return fired[-1] if fired else None
