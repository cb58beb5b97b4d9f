"""The numbers the planner works from, each traceable to a file.

- SageMaker models, their instance type and count, and instance prices; Bedrock models with their
  per-1K token prices, lifecycle, throughput and quality tier: `model_configs/` (the same registry
  `cdk synth` uses), so a new Bedrock model is one file.
- OpenAI token prices and throughput, and the quality tiers of SageMaker and OpenAI models: `planner/data/*.yaml`.
- SageMaker models' speed: the throughput model (llm_config/throughput.py) on the config's instance.
- A user's overrides (region multiplier, negotiated discount, replacement prices or throughput):
  one YAML file given with `--overrides`, applied on top of both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field

from llm_config import BedrockModelConfig, ConfigError, ModelRegistry, SageMakerModelConfig, load_registry
from llm_config._strict import StrictModel
from llm_config.catalogue import PositiveFloat
from llm_config.yaml_files import display_path, parse_as, read_yaml_mapping

DATA_DIR = Path(__file__).resolve().parent / "data"
PRICE_FILES = "model_configs/instances.yaml, model_configs/claude-*.yaml, planner/data/token_prices.yaml"
# Where the errors about the planner's own files point: the keys of its data files and of an --overrides file.
DATA_DOC = "docs/planner.md#data-files"
OVERRIDES_DOC = "docs/planner.md#overrides-your-region-your-discount-your-measurements"

Quality = Literal["good", "high", "critical"]
QUALITY_TIERS: tuple[Quality, ...] = ("good", "high", "critical")
Provider = Literal["bedrock", "openai"]
Schema = TypeVar("Schema", bound=StrictModel)


class TokenPrice(StrictModel):
    """On-demand pay-per-token price of one hosted model."""

    display_name: str
    provider: Provider
    input_per_1k_usd: PositiveFloat
    output_per_1k_usd: PositiveFloat
    source: str
    retrieved: str
    retired: bool = False  # a Bedrock model past end of life in the planner's price region
    # A Bedrock model Bedrock still serves but that is on its way out: "legacy" (its Bedrock legacy window, before
    # end of life) or "superseded" (active, but its lifecycle names a newer generation). Marked, never preferred.
    replaced: Literal["legacy", "superseded"] | None = None
    successor: str | None = None  # its lifecycle.successor


class TokenPriceFile(StrictModel):
    prices: dict[str, TokenPrice]


class Throughput(StrictModel):
    """How fast a pay-per-token model answers, or a self-hosted model's measured speed from an overrides file."""

    stream_tokens_per_second: PositiveFloat
    first_token_seconds: PositiveFloat
    source: str


class ThroughputFile(StrictModel):
    models: dict[str, Throughput]


class QualityFile(StrictModel):
    source: str
    retrieved: str
    tiers: dict[str, Quality]


class TokenPriceOverride(StrictModel):
    input_per_1k_usd: PositiveFloat
    output_per_1k_usd: PositiveFloat


class ThroughputOverride(StrictModel):
    """Measured speeds. For a SageMaker model both are needed: they replace the throughput model's estimate."""

    stream_tokens_per_second: PositiveFloat | None = None
    first_token_seconds: PositiveFloat | None = None


class Overrides(StrictModel):
    """A user's `--overrides` file. Replacement prices set the base; multipliers then scale every price."""

    label: str = "overrides"
    sagemaker_price_multiplier: PositiveFloat = 1.0
    token_price_multiplier: PositiveFloat = 1.0
    sagemaker_hourly_usd: dict[str, PositiveFloat] = Field(default_factory=dict)
    token_prices: dict[str, TokenPriceOverride] = Field(default_factory=dict)
    throughput: dict[str, ThroughputOverride] = Field(default_factory=dict)


@dataclass(frozen=True)
class PlannerData:
    """Everything the cost arithmetic needs, with overrides applied."""

    registry: ModelRegistry
    sagemaker_hourly_usd: dict[str, float]
    token_prices: dict[str, TokenPrice]
    throughput: dict[str, Throughput]
    quality: dict[str, Quality]
    price_basis: str
    today: date = field(default_factory=date.today)

    def is_retired(self, key: str) -> bool:
        price = self.token_prices.get(key)
        return price is not None and price.retired

    def is_replaced(self, key: str) -> bool:
        """Past end of life, in its legacy window or superseded by a newer generation: a Bedrock model to move off."""
        price = self.token_prices.get(key)
        return price is not None and (price.retired or price.replaced is not None)

    def current(self, key: str) -> str:
        """``key``, or, when ``key`` is to be moved off (retired, legacy or superseded), the first successor that is not."""
        seen = {key}
        while self.is_replaced(key) and (successor := self.token_prices[key].successor) and successor not in seen:
            key = successor
            seen.add(key)
        return key

    def sagemaker_models(self) -> list[SageMakerModelConfig]:
        return [m for m in self.registry.models.values() if isinstance(m, SageMakerModelConfig)]

    def known_models(self) -> list[str]:
        return sorted({*self.registry.known_names(), *self.token_prices})


def pay_per_token_prices(registry: ModelRegistry, data_dir: Path = DATA_DIR, today: date | None = None) -> dict[str, TokenPrice]:
    """The pay-per-token prices, keyed by model key: Bedrock models from their configs in
    ``registry`` (what `cdk deploy` deploys), OpenAI models from planner/data/token_prices.yaml."""
    region = registry.instances.prices.region
    prices = {
        model.key: bedrock_token_price(model, region, today or date.today())
        for model in registry.models.values()
        if isinstance(model, BedrockModelConfig)
    }
    path = data_dir / "token_prices.yaml"
    source = display_path(path)
    for key, price in parse_as(TokenPriceFile, read_yaml_mapping(path, source), source, schema_doc=DATA_DOC).prices.items():
        if key in prices or price.provider == "bedrock":
            raise ConfigError(
                source,
                f"prices.{key}",
                "Bedrock prices belong in the model's config",
                "remove the entry; set prices in model_configs/<key>.yaml (model_configs/README.md)",
            )
        prices[key] = price
    return prices


def bedrock_token_price(model: BedrockModelConfig, region: str, today: date) -> TokenPrice:
    """A Bedrock model config's on-demand prices (for its configured inference profile scope), as the planner's
    ``TokenPrice``, marked retired when the model is past end of life in ``region`` on ``today``, legacy in its
    legacy window, superseded when it is active but its lifecycle names a successor."""
    prices = model.prices
    input_usd, output_usd = model.price_per_1k
    status = model.lifecycle.state(region, today).status
    replaced: Literal["legacy", "superseded"] | None = None
    if status == "legacy":
        replaced = "legacy"
    elif status == "active" and model.lifecycle.successor:
        replaced = "superseded"
    return TokenPrice(
        display_name=model.display_name,
        provider="bedrock",
        input_per_1k_usd=input_usd,
        output_per_1k_usd=output_usd,
        source=f"{prices.source.strip()}, {prices.region} (model_configs/{model.key}.yaml)",
        retrieved=prices.retrieved,
        retired=status == "end-of-life",
        replaced=replaced,
        successor=model.lifecycle.successor,
    )


def load_planner_data(
    registry: ModelRegistry | None = None,
    overrides_path: Path | None = None,
    data_dir: Path = DATA_DIR,
    today: date | None = None,
) -> PlannerData:
    """Read the model configs and the planner's data files, check they cover each other, apply overrides.

    ``today`` (default: the clock's date) decides which Bedrock models are retired.
    """
    registry = registry or load_registry()
    today = today or date.today()
    token_prices = pay_per_token_prices(registry, data_dir, today)
    throughput_file = _read(ThroughputFile, data_dir / "throughput.yaml")
    quality_file = _read(QualityFile, data_dir / "quality.yaml")
    bedrock = {m.key: m for m in registry.models.values() if isinstance(m, BedrockModelConfig)}
    for path, entries in (
        (data_dir / "throughput.yaml", throughput_file.models),
        (data_dir / "quality.yaml", quality_file.tiers),
    ):
        for key in entries:
            if key in bedrock:
                raise ConfigError(
                    display_path(path),
                    key,
                    "Bedrock models keep their planner figures in their own config",
                    f"remove the entry; set planner: in model_configs/{key}.yaml (model_configs/README.md)",
                )
    throughput = dict(throughput_file.models)
    quality = dict(quality_file.tiers)
    for key, model in bedrock.items():
        figures = model.planner_figures
        throughput[key] = Throughput(
            stream_tokens_per_second=figures.stream_tokens_per_second,
            first_token_seconds=figures.first_token_seconds,
            source=f"{figures.source} (model_configs/{key}.yaml)",
        )
        quality[key] = figures.quality
    model_keys = sorted({*(m.key for m in registry.models.values()), *token_prices})
    pay_per_token_keys = [key for key in model_keys if not _is_sagemaker(registry, key)]
    for path, covered, keys in (
        (data_dir / "throughput.yaml", throughput, pay_per_token_keys),
        (data_dir / "quality.yaml", quality, model_keys),
    ):
        missing = [key for key in keys if key not in covered]
        if missing:
            raise ConfigError(
                display_path(path), None, f"no entry for {', '.join(missing)}", "add one per model (see the file's header)"
            )
    for key in throughput_file.models:
        if _is_sagemaker(registry, key):
            raise ConfigError(
                display_path(data_dir / "throughput.yaml"),
                f"models.{key}",
                "a SageMaker model's speed comes from the throughput model (llm_config/throughput.py)",
                "remove the entry; give measured figures with --overrides (docs/planner.md)",
            )
    data = PlannerData(
        registry=registry,
        sagemaker_hourly_usd={name: i.sagemaker_hourly_usd for name, i in registry.instances.instances.items()},
        token_prices=token_prices,
        throughput=throughput,
        quality=quality,
        price_basis=f"{registry.instances.prices.region} on-demand ({PRICE_FILES})",
        today=today,
    )
    if overrides_path is None:
        return data
    return apply_overrides(data, _read(Overrides, overrides_path, OVERRIDES_DOC), display_path(overrides_path))


def apply_overrides(data: PlannerData, overrides: Overrides, source: str) -> PlannerData:
    _check_known(source, "sagemaker_hourly_usd", overrides.sagemaker_hourly_usd, data.sagemaker_hourly_usd, "instance type")
    _check_known(source, "token_prices", overrides.token_prices, data.token_prices, "pay-per-token model")
    _check_known(source, "throughput", overrides.throughput, {*data.throughput, *data.registry.models}, "model")
    hourly = {
        name: overrides.sagemaker_hourly_usd.get(name, price) * overrides.sagemaker_price_multiplier
        for name, price in data.sagemaker_hourly_usd.items()
    }
    token_prices = {}
    for key, price in data.token_prices.items():
        replaced = overrides.token_prices.get(key)
        base = replaced or price
        token_prices[key] = price.model_copy(
            update={
                "input_per_1k_usd": base.input_per_1k_usd * overrides.token_price_multiplier,
                "output_per_1k_usd": base.output_per_1k_usd * overrides.token_price_multiplier,
                "source": f"replaced by {source}" if replaced else price.source,
            }
        )
    throughput = dict(data.throughput)
    for key, override in overrides.throughput.items():
        if key in throughput:
            throughput[key] = throughput[key].model_copy(update=override.model_dump(exclude_none=True))
        elif override.stream_tokens_per_second is None or override.first_token_seconds is None:
            raise ConfigError(
                source,
                f"throughput.{key}",
                "a SageMaker model's measured speed needs both figures",
                "give stream_tokens_per_second and first_token_seconds (they replace the throughput model's estimate)",
            )
        else:
            throughput[key] = Throughput(
                stream_tokens_per_second=override.stream_tokens_per_second,
                first_token_seconds=override.first_token_seconds,
                source=f"measured ({source})",
            )
    return PlannerData(
        registry=data.registry,
        sagemaker_hourly_usd=hourly,
        token_prices=token_prices,
        throughput=throughput,
        quality=data.quality,
        price_basis=f"{data.price_basis} with {overrides.label} ({source})",
        today=data.today,
    )


def _is_sagemaker(registry: ModelRegistry, key: str) -> bool:
    return isinstance(registry.models.get(key), SageMakerModelConfig)


def _check_known(source: str, field: str, given: Mapping[str, object], known: Collection[str], what: str) -> None:
    for name in given:
        if name not in known:
            raise ConfigError(source, f"{field}.{name}", f"unknown {what}", f"use one of {', '.join(sorted(known))}")


def _read(schema: type[Schema], path: Path, schema_doc: str = DATA_DOC) -> Schema:
    source = display_path(path)
    return parse_as(schema, read_yaml_mapping(path, source), source, schema_doc=schema_doc)
