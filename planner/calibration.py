"""The throughput model's calibration: published measurements, the model's prediction and its error at each.

python -m planner.calibration          # the table docs/planner.md shows
python -m planner.calibration --fit    # refit decode_efficiency per GPU and the all-reduce step per interconnect
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from llm_config import load_registry
from llm_config._strict import StrictModel
from llm_config.catalogue import InstanceCatalogue, PositiveFloat, PositiveInt
from llm_config.throughput import Hardware, ModelShape, timing
from llm_config.yaml_files import display_path, parse_as, read_yaml_mapping
from planner.assumptions import DATA_DIR

# Single-request benchmarks do not publish their prompt: a few hundred tokens of context in the KV cache.
ASSUMED_CONTEXT_INPUT_TOKENS = 128
ASSUMED_CONTEXT_OUTPUT_TOKENS = 256


class BenchmarkModel(StrictModel):
    parameters_billion: PositiveFloat
    layers: PositiveInt
    attention_heads: PositiveInt
    kv_heads: PositiveInt
    head_dim: PositiveInt
    bytes_per_parameter: PositiveFloat

    def shape(self) -> ModelShape:
        return ModelShape(active_parameters_billion=self.parameters_billion, **self.model_dump())


class Point(StrictModel):
    model: str
    gpu: str
    gpus: PositiveInt
    interconnect: str
    engine: str
    source: str
    tokens_per_second: PositiveFloat | None = None
    latency_seconds: PositiveFloat | None = None
    input_tokens: Annotated[int, Field(ge=1)] = 128
    output_tokens: Annotated[int, Field(ge=1)] = 20

    @model_validator(mode="after")
    def _one_measurement(self) -> Point:
        if (self.tokens_per_second is None) == (self.latency_seconds is None):
            raise ValueError("give exactly one of tokens_per_second and latency_seconds|see the file's header")
        return self


class CalibrationFile(StrictModel):
    sources: dict[str, str]
    models: dict[str, BenchmarkModel]
    points: list[Point]


@dataclass(frozen=True)
class Row:
    point: Point
    hardware: Hardware
    predicted: float
    ceiling: float

    @property
    def measured(self) -> float:
        value = self.point.tokens_per_second or self.point.latency_seconds
        assert value is not None
        return value

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return self.predicted / self.measured - 1

    @property
    def ceiling_is_beyond_measurement(self) -> bool:
        """No measurement may beat the physical limit: if one did, a datasheet figure would be wrong."""
        if self.point.tokens_per_second:
            return self.ceiling >= self.measured
        return self.ceiling <= self.measured

    @property
    def unit(self) -> str:
        return "tokens/s" if self.point.tokens_per_second else "s"


def load_calibration(path: Path = DATA_DIR / "calibration.yaml") -> CalibrationFile:
    source = display_path(path)
    return parse_as(CalibrationFile, read_yaml_mapping(path, source), source)


def evaluate(calibration: CalibrationFile, catalogue: InstanceCatalogue) -> list[Row]:
    rows = []
    for point in calibration.points:
        hardware = Hardware(
            gpu=catalogue.gpu_models[point.gpu], gpus=point.gpus, interconnect=catalogue.interconnects[point.interconnect]
        )
        rows.append(_row(point, calibration.models[point.model].shape(), hardware))
    return rows


def _row(point: Point, shape: ModelShape, hardware: Hardware) -> Row:
    def value(ideal: bool) -> float:
        if point.tokens_per_second:
            return timing(
                shape, hardware, ASSUMED_CONTEXT_INPUT_TOKENS, ASSUMED_CONTEXT_OUTPUT_TOKENS, 1, ideal
            ).tokens_per_second
        return timing(shape, hardware, point.input_tokens, point.output_tokens, 1, ideal).latency_seconds

    return Row(point=point, hardware=hardware, predicted=value(False), ceiling=value(True))


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| model | GPUs | engine | measured | model | ceiling | error | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        p = row.point
        lines.append(
            f"| {p.model} | {p.gpus} x {p.gpu} | {p.engine} | {row.measured:g} {row.unit} | {row.predicted:.3g} {row.unit}"
            f" | {row.ceiling:.3g} {row.unit} | {row.error:+.0%} | {p.source} |"
        )
    errors = [abs(row.error) for row in rows]
    lines += [
        "",
        f"{len(rows)} points: mean absolute error {statistics.mean(errors):.0%}, largest {max(errors):.0%}.",
    ]
    return "\n".join(lines)


def fit(calibration: CalibrationFile, catalogue: InstanceCatalogue) -> dict[str, float]:
    """Least squares on relative error, one parameter at a time: each GPU's decode_efficiency on its
    single-GPU points, then each interconnect's all-reduce step on its multi-GPU points."""
    fitted: dict[str, float] = {}
    gpus = dict(catalogue.gpu_models)
    for name in gpus:
        singles = [p for p in calibration.points if p.gpu == name and p.gpus == 1]
        if singles:
            best = _search(partial(_sq_gpu, calibration, catalogue, singles, name), 0.2, 1.0)
            gpus[name] = gpus[name].model_copy(update={"decode_efficiency": best})
            fitted[f"gpu_models.{name}.decode_efficiency"] = best
    catalogue = catalogue.model_copy(update={"gpu_models": gpus})
    for name in catalogue.interconnects:
        multis = [p for p in calibration.points if p.interconnect == name and p.gpus > 1]
        if multis:
            best = _search(partial(_sq_interconnect, calibration, catalogue, multis, name), 1.0, 100.0)
            fitted[f"interconnects.{name}.allreduce_step_microseconds"] = best
    return fitted


def _sq_gpu(calibration: CalibrationFile, catalogue: InstanceCatalogue, points: list[Point], name: str, value: float) -> float:
    return _sq(calibration, catalogue, points, gpu=(name, value))


def _sq_interconnect(
    calibration: CalibrationFile, catalogue: InstanceCatalogue, points: list[Point], name: str, value: float
) -> float:
    return _sq(calibration, catalogue, points, interconnect=(name, value))


def _sq(
    calibration: CalibrationFile,
    catalogue: InstanceCatalogue,
    points: list[Point],
    gpu: tuple[str, float] | None = None,
    interconnect: tuple[str, float] | None = None,
) -> float:
    total = 0.0
    for point in points:
        spec = catalogue.gpu_models[point.gpu]
        link = catalogue.interconnects[point.interconnect]
        if gpu and gpu[0] == point.gpu:
            spec = spec.model_copy(update={"decode_efficiency": gpu[1]})
        if interconnect and interconnect[0] == point.interconnect:
            link = link.model_copy(update={"allreduce_step_microseconds": interconnect[1]})
        row = _row(point, calibration.models[point.model].shape(), Hardware(gpu=spec, gpus=point.gpus, interconnect=link))
        total += row.error**2
    return total


def _search(cost: Callable[[float], float], low: float, high: float) -> float:
    """Golden-section search: the costs here are smooth and have one minimum in the range."""
    ratio = (5**0.5 - 1) / 2
    for _ in range(60):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if cost(a) < cost(b):
            high = b
        else:
            low = a
    return round((low + high) / 2, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planner.calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="print the fitted efficiency factors instead of the table")
    args = parser.parse_args(argv)
    calibration, catalogue = load_calibration(), load_registry().instances
    if args.fit:
        for key, value in fit(calibration, catalogue).items():
            print(f"{key}: {value}")
    else:
        print(markdown_table(evaluate(calibration, catalogue)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
