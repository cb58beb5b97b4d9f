"""Loads every file in model_configs/ once, validates it, and resolves `-c model=` names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from llm_config.bedrock_model import BedrockModelConfig
from llm_config.catalogue import (
    HOSTING_REGIONS_FILE,
    ContainerCatalogue,
    ContainerImage,
    HostingRegions,
    InstanceCatalogue,
    InstanceType,
    load_container_catalogue,
    load_hosting_regions,
    load_instance_catalogue,
)
from llm_config.errors import ConfigError
from llm_config.operations import check_budget_covers_floor
from llm_config.sagemaker_model import SageMakerModelConfig
from llm_config.serving import check_engine_rules
from llm_config.sizing import check_fits, check_pools_fit
from llm_config.yaml_files import SCHEMA_DOC, display_path, parse_as, read_yaml_mapping, unknown_key_fix

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "model_configs"
CATALOGUE_FILES = frozenset({"instances.yaml", "containers.yaml", HOSTING_REGIONS_FILE})

ModelConfig = SageMakerModelConfig | BedrockModelConfig
HOSTING_SCHEMAS: dict[str, type[SageMakerModelConfig] | type[BedrockModelConfig]] = {
    "sagemaker": SageMakerModelConfig,
    "bedrock": BedrockModelConfig,
}


@dataclass(frozen=True)
class ModelRegistry:
    """Every model config, keyed by its key, plus the catalogues they refer to."""

    models: dict[str, ModelConfig]
    aliases: dict[str, str]
    instances: InstanceCatalogue
    containers: ContainerCatalogue
    sources: dict[str, str]
    hosting_regions: HostingRegions = field(default_factory=HostingRegions)

    def resolve(self, name: str, source: str = "-c model") -> ModelConfig:
        key = self.aliases.get(name, name)
        if key not in self.models:
            raise ConfigError(source, None, f"unknown model {name!r}", self.unknown_name_fix(name))
        return self.models[key]

    def unknown_name_fix(self, name: str) -> str:
        """The fix for an unknown model name: the nearest name when one is close (a retired key too: resolving it
        then names its successor), else the names of the models one can deploy today; the retired keys, which Bedrock
        refuses, are counted rather than listed."""
        nearest = difflib.get_close_matches(name, self.known_names(), n=1, cutoff=0.6)
        if nearest:
            return f"did you mean {nearest[0]}?"
        current = [n for n in self.known_names() if not self.retired(self.aliases.get(n, n))]
        retired = len(self.known_names()) - len(current)
        return f"use one of {', '.join(current)}" + (f" ({retired} retired keys are left out)" if retired else "")

    def retired(self, key: str, today: date | None = None) -> bool:
        """Whether ``key`` is a Bedrock model past its end of life (its recorded state, before any region's)."""
        model = self.models[key]
        return isinstance(model, BedrockModelConfig) and model.lifecycle.state("", today or date.today()).status == "end-of-life"

    def known_names(self) -> list[str]:
        return sorted([*self.models, *self.aliases])

    def instance_for(self, model: SageMakerModelConfig) -> InstanceType:
        return self.instances.get(model.instance.type, self.sources[model.key], "instance.type")

    def pools_for(self, model: SageMakerModelConfig) -> list[tuple[str, InstanceType]]:
        """instance.type and its fallbacks, in priority order, each with its catalogue entry."""
        source = self.sources[model.key]
        return [(name, self.instances.get(name, source, "instance.fallback_types")) for name in model.instance.pool_types]

    def hourly_usd_range(self, model: SageMakerModelConfig) -> tuple[float, float]:
        """One instance's on-demand price on the cheapest and on the dearest of the model's pools."""
        prices = [instance.sagemaker_hourly_usd for _, instance in self.pools_for(model)]
        return min(prices), max(prices)

    def image_for(self, model: SageMakerModelConfig) -> ContainerImage:
        return self.containers.image_for(model.container.family, model.container.image, self.sources[model.key])


def load_registry(config_dir: Path = DEFAULT_CONFIG_DIR) -> ModelRegistry:
    instances = load_instance_catalogue(config_dir)
    containers = load_container_catalogue(config_dir)
    models: dict[str, ModelConfig] = {}
    aliases: dict[str, str] = {}
    sources: dict[str, str] = {}
    paths: dict[str, Path] = {}
    for path in sorted(config_dir.glob("*.yaml")):
        if path.name in CATALOGUE_FILES:
            continue
        source = display_path(path)
        model = _load_model_file(path, source, instances, containers)
        for name in model.names:
            owner = aliases.get(name, name if name in models else None)
            if owner is not None:
                raise _duplicate_name(name, path, paths[owner])
        models[model.key] = model
        paths[model.key] = path
        aliases.update({alias: model.key for alias in model.aliases})
        sources[model.key] = source
    if not models:
        raise ConfigError(display_path(config_dir), None, "no model config files found", "add a <key>.yaml model config")
    _check_successors(models, sources)
    return ModelRegistry(
        models=models,
        aliases=aliases,
        instances=instances,
        containers=containers,
        sources=sources,
        hosting_regions=load_hosting_regions(config_dir),
    )


def _duplicate_name(name: str, path: Path, other: Path) -> ConfigError:
    """Two files claim ``name``. Blame the one changed last: it is the copy or the edit that made the clash, not the
    untouched original (file order alone would blame whichever sorts later). Both files are named either way."""
    blamed, kept = sorted([other, path], key=lambda p: (p.stat().st_mtime_ns, p.name))[::-1]
    return ConfigError(
        display_path(blamed),
        "key" if name == blamed.stem else "aliases",
        f"{name!r} is already a model key or alias in {display_path(kept)}: keys and aliases must be unique",
        f"give this file its own key and aliases (a copied config keeps the original's aliases: remove {name!r} here)",
    )


def pools_of(model: SageMakerModelConfig, instances: InstanceCatalogue) -> list[tuple[str, InstanceType]]:
    return [(name, instances.instances[name]) for name in model.instance.pool_types if name in instances.instances]


def dearest_pool_note(model: SageMakerModelConfig, dearest: str) -> str:
    """What a budget refusal adds when the model has fallback pools: which one the floor was priced on."""
    return f" on {dearest}, the dearest of its instance pools" if model.instance.fallback_types else ""


def _load_model_file(path: Path, source: str, instances: InstanceCatalogue, containers: ContainerCatalogue) -> ModelConfig:
    data = read_yaml_mapping(path, source)
    hosting = data.get("hosting")
    schema = HOSTING_SCHEMAS.get(hosting) if isinstance(hosting, str) else None
    known = sorted({name for schema_ in HOSTING_SCHEMAS.values() for name in schema_.model_fields})
    unknown = [str(name) for name in data if name not in known]
    if schema is None and unknown:  # `hostng: sagemaker` is a typo, not a missing hosting
        raise ConfigError(source, unknown[0], "unknown key", unknown_key_fix(unknown[0], known, SCHEMA_DOC))
    if schema is None:
        raise ConfigError(source, "hosting", f"got {hosting!r}", f"use one of {', '.join(sorted(HOSTING_SCHEMAS))}")
    model = parse_as(schema, data, source)
    if model.key != path.stem:
        raise ConfigError(
            source,
            "key",
            f"key {model.key!r} differs from the file name",
            f"rename the file to {model.key}.yaml or set key: {path.stem}",
        )
    if isinstance(model, SageMakerModelConfig):
        containers.image_for(model.container.family, model.container.image, source)
        check_fits(model, instances, source)
        check_engine_rules(model, instances.get(model.instance.type, source, "instance.type"), source)
        for report in check_pools_fit(model, instances, source):
            check_engine_rules(model, report.instance, source, report.instance_type, "instance.fallback_types")
        # The dearest pool: a fallback may serve for as long as the first pool has no capacity.
        dearest = max(pools_of(model, instances), key=lambda pool: pool[1].sagemaker_hourly_usd)
        floor_hourly_usd = model.scaling.min_instances * dearest[1].sagemaker_hourly_usd
        check_budget_covers_floor(
            model.budget, floor_hourly_usd, source, "budget.amount_usd", dearest_pool_note(model, dearest[0])
        )
    return model


def _check_successors(models: dict[str, ModelConfig], sources: dict[str, str]) -> None:
    """Every Bedrock lifecycle.successor names another Bedrock config, so the refusal's command works."""
    bedrock = sorted(key for key, model in models.items() if isinstance(model, BedrockModelConfig))
    for key in bedrock:
        model = models[key]
        assert isinstance(model, BedrockModelConfig)
        successor = model.lifecycle.successor
        if successor is not None and (successor == key or successor not in bedrock):
            raise ConfigError(
                sources[key],
                "lifecycle.successor",
                f"{successor!r} is not another Bedrock model config",
                f"use one of {', '.join(k for k in bedrock if k != key)}",
            )
