"""The instance and container catalogues that sit beside the model configs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from llm_config._strict import StrictModel
from llm_config.errors import ConfigError
from llm_config.yaml_files import display_path, parse_as, read_yaml_mapping

PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
HOURS_PER_MONTH = 730  # AWS pricing's convention: 24 x 365 / 12.


class InstanceType(StrictModel):
    """One SageMaker hosting instance type."""

    gpus: PositiveInt
    gpu_model: str
    gpu_memory_gb: PositiveFloat
    vcpus: PositiveInt
    host_memory_gib: PositiveFloat
    local_nvme: bool
    sagemaker_hourly_usd: PositiveFloat

    @property
    def total_gpu_memory_gb(self) -> float:
        return self.gpus * self.gpu_memory_gb


class PriceSource(StrictModel):
    region: str
    source: str
    retrieved: str


class InstanceCatalogue(StrictModel):
    prices: PriceSource
    instances: dict[str, InstanceType]

    def get(self, name: str, source: str, field: str) -> InstanceType:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances))
            raise ConfigError(
                source, field, f"unknown instance type {name!r}", f"use one of {known}, or add it to model_configs/instances.yaml"
            ) from None

    def cheapest_first(self) -> list[tuple[str, InstanceType]]:
        return sorted(self.instances.items(), key=lambda item: (item[1].sagemaker_hourly_usd, item[0]))


class ContainerImage(StrictModel):
    """A serving image pinned to an exact version, with its registry account per region."""

    description: str
    framework: str
    version: str
    repository: str
    tag: str
    accounts: dict[str, Annotated[str, Field(pattern=r"^[0-9]{12}$")]]
    # What clients send (published in the endpoint's SSM parameter): "messages" when the container answers the
    # OpenAI-style Chat Completions schema on /invocations (LMI/vLLM, TGI >= 1.4), "text" for {"inputs": PROMPT} only.
    chat_api: Literal["messages", "text"] = "messages"
    # Whether its Messages API takes `tools`: TGI >= 1.4.3 does for any model (grammar-constrained); vLLM only when
    # started with a tool-call parser (--enable-auto-tool-choice --tool-call-parser ...).
    tool_calling: bool = True

    def account_for(self, region: str, source: str) -> str:
        try:
            return self.accounts[region]
        except KeyError:
            raise ConfigError(
                source,
                "region",
                f"the image {self.repository}:{self.tag} has no registry account listed for {region}",
                "deploy to a listed region, or add the region's Deep Learning Containers account to "
                "model_configs/containers.yaml (the sagemaker SDK's image_uris.retrieve tells it)",
            ) from None

    def uri(self, region: str, source: str = "model_configs/containers.yaml") -> str:
        account = self.account_for(region, source)
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{account}.dkr.ecr.{region}.{suffix}/{self.repository}:{self.tag}"


class ContainerCatalogue(StrictModel):
    containers: dict[str, ContainerImage]

    def get(self, name: str, source: str, field: str) -> ContainerImage:
        try:
            return self.containers[name]
        except KeyError:
            known = ", ".join(sorted(self.containers))
            raise ConfigError(
                source,
                field,
                f"unknown container image {name!r}",
                f"use one of {known}, or add it to model_configs/containers.yaml",
            ) from None


def load_instance_catalogue(config_dir: Path) -> InstanceCatalogue:
    path = config_dir / "instances.yaml"
    source = display_path(path)
    return parse_as(InstanceCatalogue, read_yaml_mapping(path, source), source)


def load_container_catalogue(config_dir: Path) -> ContainerCatalogue:
    path = config_dir / "containers.yaml"
    source = display_path(path)
    return parse_as(ContainerCatalogue, read_yaml_mapping(path, source), source)
