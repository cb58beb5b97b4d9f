"""What one `cdk synth|deploy` deploys, read from the `-c` context flags or a deployment file.

A SageMaker deployment is one named endpoint serving one model, or two during a migration: `model` (the one
serving now) and `candidate` (the one replacing it) with `candidate_weight` percent of the traffic.
docs/deployments.md documents the fields, docs/migrations.md the phases.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llm_config.deployment_file import load_deployment_file
from llm_config.errors import ConfigError, brief
from llm_config.guardrails import Guardrails, check_guardrails_fit
from llm_config.operations import (
    HOURS_PER_PERIOD,
    MAX_BUDGET_USD,
    BudgetSettings,
    check_budget_covers_floor,
    parse_emails,
)
from llm_config.registry import ModelConfig, ModelRegistry
from llm_config.sagemaker_model import SageMakerModelConfig

DEFAULT_MODEL = "mistral-7b"
DEFAULT_REGION = "us-east-1"
# Python patterns are used with fullmatch ($ would also match before a final newline) and spell digits [0-9]
# (\d also matches other scripts' digits).
ENDPOINT_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")  # SageMaker's own rule
MAX_COMPONENT_NAME = 63  # SageMaker's limit on an inference component's name
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# The flags a deployment file replaces: passing one with -c deployment is an error, so CI deploys what the file says.
SPEC_FLAGS = ("endpoint", "region", "model", "candidate", "candidate_weight", "retire", "scale_to_zero")
# Every -c key this module reads: app.py refuses any other key (llm_config.context_keys), so add a new flag here.
CONTEXT_KEYS = ("deployment", *SPEC_FLAGS, "alarm_email", "budget_usd")
MIGRATION_FIELDS = ("candidate", "candidate_weight", "retire")
RAW_FLAGS = ("candidate_weight", "scale_to_zero")  # read as given, then checked: not necessarily text
FLAGS_SOURCE = "-c flags"

Phase = Literal["serve", "split", "shift", "revert", "retire"]
Where = Callable[[str], tuple[str, str | None]]  # a field's name -> (source, field) for error messages


@dataclass(frozen=True)
class VariantPlan:
    """One production variant of a deployment: its model, its share of traffic, whether it autoscales.

    A variant at weight 0 is drained: no traffic and no Application Auto Scaling target, so that a later deploy
    may remove it (SageMaker refuses to remove a variant that is still a scalable target).
    """

    model: SageMakerModelConfig
    weight: int  # percent of the endpoint's traffic

    @property
    def name(self) -> str:
        return self.model.key

    @property
    def autoscaled(self) -> bool:
        return self.weight > 0


@dataclass(frozen=True)
class DeploymentSpec:
    """One stack: a named endpoint (or Bedrock access) for one model, or a SageMaker model and its candidate."""

    endpoint_name: str
    region: str
    model: ModelConfig
    alarm_emails: tuple[str, ...] = ()  # the SageMaker models' alarms.emails plus -c alarm_email
    budget_usd: float | None = None  # -c budget_usd: replaces the budget's amount_usd
    candidate: SageMakerModelConfig | None = None
    candidate_weight: int = 0  # percent of traffic the candidate gets, 0-100
    retire: str | None = None  # key of the model whose variant this deploy removes
    guardrails: Guardrails = field(default_factory=Guardrails)
    source: str = FLAGS_SOURCE  # where the spec came from: FLAGS_SOURCE or the deployment file
    # An inference component on an endpoint that scales to zero instances (docs/scale-to-zero.md): -c scale_to_zero,
    # the deployment file's scale_to_zero, or scaling.min_instances 0 in the model config.
    scale_to_zero: bool = False

    @property
    def component_name(self) -> str:
        """The serving model's inference component (scale to zero): see ``component_name_of``."""
        return self.component_name_of(self.model.key)

    def component_name_of(self, model_key: str) -> str:
        """A model's inference component name on this endpoint (scale to zero): endpoint and model, so it says what
        it serves, and each model of a migration gets its own."""
        return component_name(self.endpoint_name, model_key)

    @property
    def stack_name(self) -> str:
        return f"llm-{self.endpoint_name}"

    @property
    def phase(self) -> Phase:
        """serve (one model), split (both serve), shift (all on the candidate), revert (all on the model), retire."""
        if self.candidate is None:
            return "retire" if self.retire else "serve"
        ends: dict[int, Phase] = {0: "revert", 100: "shift"}
        return ends.get(self.candidate_weight, "split")

    @property
    def variants(self) -> tuple[VariantPlan, ...]:
        """The endpoint's production variants (SageMaker models only)."""
        assert isinstance(self.model, SageMakerModelConfig)
        if self.candidate is None:
            return (VariantPlan(self.model, 100),)
        return (VariantPlan(self.model, 100 - self.candidate_weight), VariantPlan(self.candidate, self.candidate_weight))

    @property
    def uses_guardrails(self) -> bool:
        """Whether this deploy carries the blue/green DeploymentConfig.

        SageMaker's guardrails need the new endpoint config to keep the old variant names. A split's first deploy
        adds the candidate and a retire removes a variant, so neither carries it; serve, shift and revert keep
        the variant set of the phase before them (docs/migrations.md). A scale-to-zero endpoint has no model
        variants: its component updates in place (rolling), so it never carries it.
        """
        return not self.scale_to_zero and self.phase in ("serve", "shift", "revert")

    @property
    def budget(self) -> BudgetSettings:
        """The SageMaker budget: the variants' most generous per hour (a migration's overlap must not alert every
        period), with -c budget_usd as its amount when given."""
        budgets = [plan.model.budget for plan in self.variants]
        return max(budgets, key=lambda b: b.amount_usd / HOURS_PER_PERIOD[b.time_unit]).with_amount(self.budget_usd)


def deployment_from_context(
    get_context: Callable[[str], Any], environ: Mapping[str, str], registry: ModelRegistry
) -> DeploymentSpec:
    """Read `-c deployment=FILE`, or the flags `-c model/endpoint/region/candidate/candidate_weight/retire`,
    plus `-c alarm_email` and `-c budget_usd`, applying the documented defaults."""
    path = _text(get_context, "deployment")
    if path:
        given = [name for name in SPEC_FLAGS if get_context(name) is not None]
        if given:
            raise ConfigError(
                f"-c {given[0]}",
                None,
                "cannot be combined with -c deployment: the deployment file is the whole spec",
                f"set {given[0]} in {path}, or drop -c deployment",
            )
        source, from_file = load_deployment_file(Path(path))
        return resolve_deployment(from_file, source, get_context, environ, registry)
    values: dict[str, Any] = {name: _text(get_context, name) for name in SPEC_FLAGS if name not in RAW_FLAGS}
    for name in RAW_FLAGS:
        values[name] = get_context(name)  # text from the CLI, a number or boolean from cdk.json
    return resolve_deployment(values, FLAGS_SOURCE, get_context, environ, registry)


def resolve_deployment(
    values: Mapping[str, Any],
    source: str,
    get_context: Callable[[str], Any],
    environ: Mapping[str, str],
    registry: ModelRegistry,
) -> DeploymentSpec:
    """Check one spec from ``source`` (FLAGS_SOURCE or a deployment file's path) with the same rules either way."""

    def where(name: str) -> tuple[str, str | None]:
        return (f"-c {name}", None) if source == FLAGS_SOURCE else (source, name)

    model = _model(registry, values.get("model") or DEFAULT_MODEL, where("model"))
    endpoint_name = values.get("endpoint") or model.key
    if not ENDPOINT_NAME_PATTERN.fullmatch(endpoint_name):
        raise ConfigError(
            *where("endpoint"),
            f"{endpoint_name!r} is not a valid SageMaker endpoint name",
            "use 1-63 letters, digits and hyphens, starting and ending with a letter or digit",
        )
    region = values.get("region") or environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    check_region(region, *where("region"))
    guardrails: Guardrails = values.get("guardrails") or Guardrails()
    if not isinstance(model, SageMakerModelConfig):
        for name in MIGRATION_FIELDS:
            if values.get(name) is not None:
                raise ConfigError(
                    *where(name),
                    f"{model.key} is a Bedrock model: variants, and so migrations between them, are SageMaker endpoints'",
                    f"drop {name} (docs/bedrock.md covers moving between Bedrock models)",
                )
        if guardrails != Guardrails():
            raise ConfigError(*where("guardrails"), f"{model.key} is a Bedrock model: there is no endpoint to update", "drop it")
        if values.get("scale_to_zero") is not None:
            raise ConfigError(
                *where("scale_to_zero"),
                f"{model.key} is a Bedrock model: it already costs nothing while idle (per-token pricing)",
                "drop scale_to_zero",
            )
        candidate, weight, retire, models, scale_to_zero = None, 0, None, [], False
    else:
        candidate, weight = _candidate(values, where, model, registry)
        retire = _retire(values, where, model, candidate, registry)
        models = [model] if candidate is None else [model, candidate]
        check_guardrails_fit(guardrails, [(m.key, *m.scaling.instance_range) for m in models], *where("guardrails"))
        scale_to_zero = _scale_to_zero(values, where, models, guardrails, endpoint_name)
    emails = list(dict.fromkeys(email for m in models for email in m.alarms.emails))
    extra_emails = _text(get_context, "alarm_email")
    if extra_emails:
        emails += [email for email in parse_emails(extra_emails, "-c alarm_email") if email not in emails]
    spec = DeploymentSpec(
        endpoint_name=endpoint_name,
        region=region,
        model=model,
        alarm_emails=tuple(emails),
        budget_usd=_budget_usd(get_context),
        candidate=candidate,
        candidate_weight=weight,
        retire=retire,
        guardrails=guardrails,
        source=source,
        scale_to_zero=scale_to_zero,
    )
    for served in models:
        _check_pools_offered(served, region, registry, where("region"))
    if models and (spec.budget_usd is not None or candidate is not None):
        # On each variant's dearest pool: a fallback may serve for as long as the first pool has no capacity.
        floor_hourly_usd = sum(m.scaling.min_instances * registry.hourly_usd_range(m)[1] for m in models)
        floor_hourly_usd = 0.0 if spec.scale_to_zero else floor_hourly_usd
        location = ("-c budget_usd", None) if spec.budget_usd is not None else where("candidate")
        pooled = " on each variant's dearest instance pool" if any(m.instance.fallback_types for m in models) else ""
        check_budget_covers_floor(spec.budget, floor_hourly_usd, *location, pools="" if spec.scale_to_zero else pooled)
    return spec


def check_region(region: str, source: str, field: str | None) -> None:
    """Refuse a region that is not an AWS region's name, or that no AWS partition has (``us-east-9``), before anything
    looks it up in a catalogue (whose message would blame the catalogue)."""
    if not REGION_PATTERN.fullmatch(region):
        raise ConfigError(source, field, f"{brief(region)} is not an AWS region name", "use a name like us-east-1")
    regions, version = known_regions()
    if region not in regions:
        nearest = difflib.get_close_matches(region, sorted(regions), n=1)
        raise ConfigError(
            source,
            field,
            f"{region!r} is not a known AWS region",
            (f"did you mean {nearest[0]}? " if nearest else "")
            + f"(botocore {version} lists {len(regions)} regions; a newer region needs a newer boto3 pin in requirements.txt)",
        )


def known_regions() -> tuple[frozenset[str], str]:
    """Every region of every AWS partition, and the botocore version that lists them."""
    partitions, version = _region_partitions()
    return frozenset(partitions), version


def partition_of_region(region: str) -> str:
    """The partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``, ...), from the same botocore data; ``aws`` for
    a name no partition lists. Read in Python: aws-cdk-lib's RegionInfo would load its fact tables into the jsii
    process on every synth (about 0.1 s; README.md, Development notes)."""
    return _region_partitions()[0].get(region, "aws")


@functools.cache
def _region_partitions() -> tuple[dict[str, str], str]:
    """Each region's partition, and the botocore version that lists them: botocore's partitions.json (boto3 is pinned
    in requirements.txt; read as a file, since importing botocore would slow every synth)."""
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.submodule_search_locations, "boto3 (requirements.txt) brings botocore"
    folder = Path(next(iter(spec.submodule_search_locations)))
    data = json.loads((folder / "data" / "partitions.json").read_text())
    version = re.search(r"__version__ = ['\"]([^'\"]+)", (folder / "__init__.py").read_text())
    partitions = {
        name: partition["id"]
        for partition in data["partitions"]
        for name in partition["regions"]
        if REGION_PATTERN.fullmatch(name)
    }
    return partitions, version[1] if version else "?"


def _candidate(
    values: Mapping[str, Any], where: Where, model: SageMakerModelConfig, registry: ModelRegistry
) -> tuple[SageMakerModelConfig | None, int]:
    name, weight = values.get("candidate"), values.get("candidate_weight")
    if name is None:
        if weight is not None:
            raise ConfigError(*where("candidate_weight"), "is set without a candidate", "name the candidate model, or drop it")
        return None, 0
    candidate = _model(registry, name, where("candidate"))
    if not isinstance(candidate, SageMakerModelConfig):
        raise ConfigError(
            *where("candidate"),
            f"{candidate.key} is a Bedrock model, not a variant a SageMaker endpoint can serve",
            "migrate to Bedrock by switching clients (docs/bedrock.md), or name a SageMaker model",
        )
    if candidate.key == model.key:
        raise ConfigError(
            *where("candidate"),
            f"{name!r} is the model the endpoint serves ({model.key}); a variant cannot replace itself",
            "to change the model's config, edit its file and deploy without a candidate",
        )
    if weight is None:
        raise ConfigError(
            *where("candidate_weight"),
            "is required with a candidate",
            "give the candidate's share of traffic in percent, e.g. candidate_weight=10",
        )
    return candidate, _percent(weight, where("candidate_weight"))


def _scale_to_zero(
    values: Mapping[str, Any], where: Where, models: list[SageMakerModelConfig], guardrails: Guardrails, endpoint: str
) -> bool:
    """Whether the endpoint scales to zero: the flag (true/false) when given, else any model's min_instances 0."""
    value = values.get("scale_to_zero")
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        value = value.strip().lower() == "true"
    if value is not None and not isinstance(value, bool):
        raise ConfigError(*where("scale_to_zero"), f"expected true or false, got {value!r}", "pass scale_to_zero=true")
    at_zero = [m.key for m in models if m.scaling.scales_to_zero]
    if value is False and at_zero:
        raise ConfigError(
            *where("scale_to_zero"),
            f"is false, but {at_zero[0]}'s scaling.min_instances is 0, which only a scale-to-zero endpoint allows",
            f"drop scale_to_zero=false, or set scaling.min_instances: 1 in model_configs/{at_zero[0]}.yaml",
        )
    if not (value or at_zero):
        return False
    if len(models) > 1:
        _check_components_share_instances(models, where, endpoint)
    if guardrails != Guardrails():
        raise ConfigError(
            *where("guardrails"),
            "blue/green guardrails update endpoint variants; a scale-to-zero endpoint updates its component in place",
            "drop guardrails, or drop scale_to_zero",
        )
    longest = max((m.key for m in models), key=len)
    name = component_name(endpoint, longest)
    if len(name) > MAX_COMPONENT_NAME:
        raise ConfigError(
            *where("endpoint"),
            f"the inference component's name {name!r} (endpoint-model) is longer than SageMaker's"
            f" {MAX_COMPONENT_NAME} characters",
            f"use an endpoint name of at most {MAX_COMPONENT_NAME - len(longest) - 1} characters",
        )
    return True


def _check_pools_offered(
    model: SageMakerModelConfig, region: str, registry: ModelRegistry, region_source: tuple[str, str | None]
) -> None:
    """A fallback pool whose type the region does not offer for hosting would fail CreateEndpointConfig: refuse it
    before the deploy (model_configs/hosting_regions.yaml). Only where the data says the region offers instance.type:
    a region it does not cover is unknown, and where it omits instance.type itself the data disagrees with regions the
    shipped configs deploy to (instance.type's availability is not checked here; docs/instance-pools.md)."""
    if not registry.hosting_regions.offers(model.instance.type, region):
        return
    for name in model.instance.fallback_types:
        if registry.hosting_regions.offers(name, region) is False:
            offered = registry.hosting_regions.instances.get(name, [])
            raise ConfigError(
                registry.sources[model.key],
                "instance.fallback_types",
                f"{name} is not offered for SageMaker hosting in {region} ({region_source[0]}), so the endpoint config"
                " would be refused (model_configs/hosting_regions.yaml)",
                f"remove {name} from instance.fallback_types to deploy to {region}, or deploy to a region that offers"
                f" it: {', '.join(offered) or 'none listed'}",
            )


def component_name(endpoint_name: str, model_key: str) -> str:
    return f"{endpoint_name}-{model_key}"


def _check_components_share_instances(models: list[SageMakerModelConfig], where: Where, endpoint: str) -> None:
    """A migration on a scale-to-zero endpoint runs both models as inference components on the endpoint's one
    variant, so on one instance type: the serving model's. The candidate's config must name the same type, so that
    no phase (the split, the shift, the retire that leaves only the candidate) changes the endpoint's instances.
    Changing the instance type under live components is an endpoint replacement, which no deploy does unasked."""
    model, candidate = models
    if candidate.instance.type == model.instance.type and candidate.instance.pool_types != model.instance.pool_types:
        raise ConfigError(
            *where("candidate"),
            f"{candidate.key}'s instance pools ({', '.join(candidate.instance.pool_types)}) differ from"
            f" {model.key}'s ({', '.join(model.instance.pool_types)}), but endpoint {endpoint}'s inference components"
            " share one variant's instances: a scale-to-zero migration keeps the endpoint's instance pools",
            f"give model_configs/{candidate.key}.yaml the same instance.fallback_types as {model.key}, or deploy it as"
            f" its own scale-to-zero endpoint (docs/scale-to-zero.md#migrations-between-components)",
        )
    if candidate.instance.type != model.instance.type:
        raise ConfigError(
            *where("candidate"),
            f"{candidate.key} runs on {candidate.instance.type} (model_configs/{candidate.key}.yaml) but endpoint "
            f"{endpoint}'s inference components share its {model.instance.type} instances ({model.key}'s instance"
            " type): a scale-to-zero migration keeps the endpoint's instance type",
            f"deploy {candidate.key} as its own scale-to-zero endpoint (-c endpoint={endpoint}-next -c model="
            f"{candidate.key} -c scale_to_zero=true) and move clients through its parameter (docs/scale-to-zero.md"
            f"#migrations-between-components), or use a config of {candidate.key} with instance.type"
            f" {model.instance.type} if it fits there",
        )


def _percent(value: Any, location: tuple[str, str | None]) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,4}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ConfigError(
            *location,
            f"expected a whole percentage from 0 to 100, got {value!r}",
            "10 sends the candidate 10% of requests; 100 moves everything to it; 0 moves everything back",
        )
    return value


def _retire(
    values: Mapping[str, Any],
    where: Where,
    model: SageMakerModelConfig,
    candidate: SageMakerModelConfig | None,
    registry: ModelRegistry,
) -> str | None:
    name = values.get("retire")
    if name is None:
        return None
    retired = _model(registry, name, where("retire"))
    if candidate is not None:
        raise ConfigError(
            *where("retire"),
            "cannot be combined with a candidate: retire removes the drained variant, leaving one model",
            "deploy retire with only the model that stays (docs/migrations.md: finish)",
        )
    if retired.key == model.key:
        raise ConfigError(
            *where("retire"),
            f"{name!r} is the model that stays; retire names the drained variant this deploy removes",
            "name the other model, or drop retire",
        )
    return retired.key


def _model(registry: ModelRegistry, name: str, location: tuple[str, str | None]) -> ModelConfig:
    try:
        return registry.resolve(name)
    except ConfigError as error:
        raise ConfigError(*location, error.problem, error.fix) from None


def _budget_usd(get_context: Callable[[str], Any]) -> float | None:
    value = get_context("budget_usd")
    if value is None:
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError, OverflowError):
        amount = math.nan
    if isinstance(value, bool) or not 0 < amount <= MAX_BUDGET_USD:  # nan fails every comparison
        raise ConfigError(
            "-c budget_usd",
            None,
            f"expected a positive number of US dollars per budget period, at most {MAX_BUDGET_USD:,}, got {value!r}",
            "pass e.g. -c budget_usd=250",
        )
    return amount


def _text(get_context: Callable[[str], Any], name: str) -> str | None:
    value = get_context(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"-c {name}", None, f"expected a non-empty text value, got {value!r}", f"pass -c {name}=VALUE")
    return value.strip()
