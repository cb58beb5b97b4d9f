"""Where requests come from: a trace in the Azure LLM inference schema, the planner's traffic profile as Poisson
arrivals, or a CloudWatch per-minute Invocations export; each becomes a ``Workload``: arrival seconds (sorted, from 0),
prompt tokens and output tokens per request, as numpy arrays.

Bad input raises ``TrafficError`` naming the file, the line and the fix; the command line turns it into exit 2.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simulator.constants import CONSTANTS
from simulator.scaling import MONDAY

TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
SHIPPED_TRACE = Path(__file__).resolve().parent / "data" / "traces" / "AzureLLMInferenceTrace_code.csv"
TRACE_CREDIT = (
    "Azure LLM inference trace 2023 (Azure Public Dataset, CC-BY 4.0), from Patel et al.,"
    " 'Splitwise: Efficient generative LLM inference using phase splitting', ISCA 2024"
)
MAX_ROWS = int(CONSTANTS["max_trace_rows"]["value"])
SECONDS_PER_DAY = 86_400
# The planner's active-hours curve for tiling a short trace over a day: traffic in the working hours, none outside.
DAY_START_HOUR = 8

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class TrafficError(Exception):
    """Bad traffic input: ``where`` (file:line or flag), what is wrong, and the fix."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(f"{where}: {problem}\n  fix: {fix}")


@dataclass(frozen=True)
class Workload:
    """Requests sorted by arrival: seconds from the start, prompt tokens, output tokens; ``duration`` seconds long."""

    arrivals: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray
    duration: float
    label: str
    start: datetime = MONDAY  # the wall-clock time of second 0 (for scheduled actions)

    @property
    def requests(self) -> int:
        return int(self.arrivals.size)

    def mean_rate(self) -> float:
        return self.requests / self.duration if self.duration > 0 else 0.0

    def peak_rate(self, window_seconds: float = 10.0) -> float:
        """The busiest ``window_seconds`` window's requests per second."""
        if not self.requests:
            return 0.0
        counts = np.bincount((self.arrivals // window_seconds).astype(np.int64))
        return float(counts.max() / window_seconds)

    def scaled(self, factor: float) -> Workload:
        """``factor`` times the rate: arrivals compressed in time (more than 1) or stretched (less than 1), so the
        trace's burst shape stays and its token mix is unchanged."""
        return Workload(
            self.arrivals / factor,
            self.input_tokens,
            self.output_tokens,
            self.duration / factor,
            f"{self.label} at {factor:g}x its rate",
            self.start,
        )

    def tiled(self, duration: float, active_hours: float | None) -> Workload:
        """The trace repeated to fill ``duration`` seconds. With ``active_hours`` (the planner's profile) copies fill
        only that many hours a day from 08:00, so the day has a quiet night as real traffic does."""
        windows = []
        for day in np.arange(0.0, duration, SECONDS_PER_DAY):
            start = day + (DAY_START_HOUR * 3600 if active_hours is not None else 0.0)
            length = active_hours * 3600 if active_hours is not None else SECONDS_PER_DAY
            windows.append((start, min(start + length, duration)))
        arrivals, inputs, outputs = [], [], []
        for start, end in windows:
            for offset in np.arange(start, end, self.duration):
                keep = int(np.searchsorted(self.arrivals, end - offset))
                arrivals.append(self.arrivals[:keep] + offset)
                inputs.append(self.input_tokens[:keep])
                outputs.append(self.output_tokens[:keep])
        if not arrivals:
            return Workload(np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), duration, self.label, self.start)
        return Workload(
            np.concatenate(arrivals),
            np.concatenate(inputs),
            np.concatenate(outputs),
            duration,
            f"{self.label}, tiled over {duration / 3600:g} h",
            self.start,
        )


def read_trace(path: Path) -> Workload:
    """A CSV with the columns TIMESTAMP, ContextTokens, GeneratedTokens (the Azure LLM inference schema)."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise TrafficError(f"--trace {path}", f"cannot read the file ({error.strerror})", "give a readable CSV file") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != list(TRACE_COLUMNS):
            raise TrafficError(
                f"{path}:1",
                f"the header is {header!r}, not the Azure LLM inference schema",
                f"start the file with the line {','.join(TRACE_COLUMNS)}",
            )
        stamps: list[str] = []
        inputs: list[str] = []
        outputs: list[str] = []
        for row in reader:
            if len(stamps) >= MAX_ROWS:
                raise TrafficError(
                    f"{path}:{MAX_ROWS + 2}",
                    f"the trace has more than {MAX_ROWS:,} rows, the documented limit (docs/capacity.md)",
                    "cut the trace (e.g. one day) or sample it, and use --rate-scale for the rate",
                )
            if len(row) < 3:
                raise TrafficError(
                    f"{path}:{reader.line_num}", f"expected 3 columns, got {row!r}", "give TIMESTAMP,prompt,output"
                )
            stamps.append(row[0].strip())
            inputs.append(row[1].strip())
            outputs.append(row[2].strip())
    if not stamps:
        raise TrafficError(f"{path}:2", "the trace has no rows", "add one row per request below the header")
    seconds, first = _timestamps(path, stamps)
    return Workload(
        arrivals=seconds - seconds[0],
        input_tokens=_tokens(path, inputs, "ContextTokens"),
        output_tokens=_tokens(path, outputs, "GeneratedTokens"),
        duration=max(float(seconds[-1] - seconds[0]), 1.0),
        label=f"trace {path.name}",
        start=first,
    )


def _timestamps(path: Path, stamps: list[str]) -> tuple[FloatArray, datetime]:
    """Seconds since the first timestamp, and the first as a UTC time (the Azure traces are UTC)."""
    try:
        times = np.array([s.replace(" ", "T") for s in stamps], dtype="datetime64[ns]")
    except ValueError:
        times = None
    if times is None or np.isnat(times).any():
        for number, stamp in enumerate(stamps, start=2):
            try:
                if np.isnat(np.datetime64(stamp.replace(" ", "T"), "ns")):
                    raise ValueError
            except ValueError:
                raise TrafficError(
                    f"{path}:{number}", f"cannot read the timestamp {stamp!r}", "write it as 2023-11-16 18:17:03.979960"
                ) from None
    assert times is not None
    seconds = (times - times[0]).astype(np.int64) / 1e9
    backwards = np.flatnonzero(np.diff(seconds) < 0)
    if backwards.size:
        line = int(backwards[0]) + 3
        raise TrafficError(
            f"{path}:{line}",
            f"the timestamp {stamps[line - 2]!r} is earlier than the one before it ({stamps[line - 3]!r})",
            "sort the rows by TIMESTAMP",
        )
    first = datetime.fromtimestamp(times[0].astype("datetime64[us]").astype(np.int64) / 1e6, tz=UTC)
    return np.asarray(seconds, dtype=np.float64), first


def _tokens(path: Path, texts: list[str], column: str) -> IntArray:
    for number, text in enumerate(texts, start=2):
        if not text.isdigit():
            raise TrafficError(
                f"{path}:{number}",
                f"{column} is {text!r}: token counts are whole numbers of 0 or more",
                "fix or drop the row",
            )
    return np.array(texts, dtype=np.int64)


def token_sampler(source: Workload, seed: int) -> Iterator[tuple[IntArray, IntArray]]:
    """Endless (prompt, output) token draws from ``source``'s mix, in blocks (for Poisson traffic)."""
    rng = np.random.default_rng(seed)
    while True:
        picks = rng.integers(0, source.requests, 65_536)
        yield source.input_tokens[picks], source.output_tokens[picks]


def poisson_workload(
    rates_per_second: FloatArray, step_seconds: float, mix: Workload, seed: int, label: str, start: datetime = MONDAY
) -> Workload:
    """Poisson arrivals at ``rates_per_second[i]`` during step i, tokens drawn from ``mix``."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rates_per_second * step_seconds)
    total = int(counts.sum())
    starts = np.repeat(np.arange(counts.size) * step_seconds, counts)
    arrivals = np.sort(starts + rng.random(total) * step_seconds)
    picks = rng.integers(0, max(mix.requests, 1), total)
    return Workload(arrivals, mix.input_tokens[picks], mix.output_tokens[picks], float(counts.size * step_seconds), label, start)


def profile_rates(requests_per_hour: float, active_hours: float, bursts_per_day: int, duration: float) -> FloatArray:
    """Per-minute rates of the planner's traffic profile (planner/scale_to_zero.py TrafficProfile): the active hours
    split into ``bursts_per_day`` equal periods spread over the day, ``requests_per_hour`` in each active hour."""
    minutes = max(1, math.ceil(duration / 60))
    rates = np.zeros(minutes)
    active_minutes = active_hours * 60
    burst = active_minutes / bursts_per_day
    spacing = 24 * 60 / bursts_per_day
    for day in range(math.ceil(minutes / 1440)):
        for b in range(bursts_per_day):
            start = day * 1440 + (DAY_START_HOUR * 60 if bursts_per_day == 1 else b * spacing)
            rates[int(start) : int(start + burst)] = requests_per_hour / 3600
    return rates


def invocations_rates(path: Path) -> tuple[FloatArray, datetime]:
    """Per-minute rates from a CloudWatch export: a CSV with a timestamp and an Invocations (Sum per minute) column,
    as `aws cloudwatch get-metric-data ... --output text` turned into CSV gives (docs/capacity.md)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise TrafficError(f"--invocations {path}", f"cannot read the file ({error.strerror})", "give a readable CSV") from None
    rows = [[cell.strip().strip('"') for cell in line.split(",")] for line in lines if line.strip()]
    if rows and not _is_number(rows[0][-1]):
        rows = rows[1:]
    if not rows:
        raise TrafficError(f"{path}:1", "no rows of Timestamp,Invocations", "export the metric as docs/capacity.md shows")
    stamps, counts = [], []
    for number, row in enumerate(rows, start=len(lines) - len(rows) + 1):
        if len(row) < 2 or not _is_number(row[-1]) or float(row[-1]) < 0:
            raise TrafficError(f"{path}:{number}", f"expected Timestamp,Invocations (a count >= 0), got {row!r}", "fix the row")
        stamps.append(_utc(row[0]))
        counts.append(float(row[-1]))
    try:
        times = np.array(stamps, dtype="datetime64[s]")
    except ValueError:
        raise TrafficError(f"{path}", "a timestamp cannot be read", "use ISO 8601, e.g. 2026-12-01T10:00:00Z") from None
    order = np.argsort(times)  # CloudWatch returns newest first
    minutes = ((times[order] - times[order][0]).astype(np.int64) // 60).astype(np.int64)
    rates = np.zeros(int(minutes[-1]) + 1)
    np.add.at(rates, minutes, np.asarray(counts)[order] / 60)
    return rates, datetime.fromtimestamp(int(times[order][0].astype(np.int64)), tz=UTC)


def _utc(text: str) -> str:
    """CloudWatch's timestamps are UTC ("2026-12-01T10:00:00Z", "...+00:00", quoted by jq's @csv): the bare time."""
    stamp = text.strip().strip('"').replace(" ", "T").removesuffix("Z")
    return stamp[:19] if len(stamp) > 19 and stamp[19] in "+-" else stamp


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
