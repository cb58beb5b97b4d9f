"""The instance and container catalogues that sit beside the model configs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from llm_config._strict import StrictModel
from llm_config.errors import ConfigError
from llm_config.yaml_files import display_path, parse_as, read_yaml_mapping

PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
HOURS_PER_MONTH = 730  # AWS pricing's convention: 24 x 365 / 12.


Fraction = Annotated[float, Field(gt=0, le=1)]
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class GpuSpec(StrictModel):
    """One accelerator model: what the memory check and the throughput model need (llm_config/throughput.py)."""

    name: str
    memory_gb: PositiveFloat
    memory_bandwidth_gb_per_second: PositiveFloat
    fp16_tflops: PositiveFloat  # dense, without sparsity
    decode_efficiency: Fraction  # fitted: measured single-GPU decode speed / the bandwidth ceiling
    prefill_efficiency: Fraction  # share of fp16_tflops a prompt's prefill reaches
    source: str
    retrieved: Annotated[str, Field(pattern=ISO_DATE)]
    unconfirmed: str | None = None


class Interconnect(StrictModel):
    """How the GPUs of one instance talk during tensor-parallel decoding."""

    name: str
    description: str
    allreduce_step_microseconds: PositiveFloat  # fitted: fixed cost of one all-reduce step at batch 1
    link_gb_per_second: PositiveFloat  # one direction, per GPU
    source: str
    retrieved: Annotated[str, Field(pattern=ISO_DATE)]


class InstanceType(StrictModel):
    """One SageMaker hosting instance type, with its GPU and interconnect resolved from the catalogue."""

    gpu: GpuSpec
    gpus: PositiveInt
    vcpus: PositiveInt
    host_memory_gib: PositiveFloat
    nvme_gb: Annotated[int, Field(ge=0)]
    interconnect: Interconnect
    sagemaker_hourly_usd: PositiveFloat
    price_source: str
    unconfirmed: str | None = None

    @property
    def gpu_model(self) -> str:
        return self.gpu.name

    @property
    def gpu_memory_gb(self) -> float:
        return self.gpu.memory_gb

    @property
    def total_gpu_memory_gb(self) -> float:
        return self.gpus * self.gpu.memory_gb

    @property
    def memory_bandwidth_gb_per_second(self) -> float:
        """Aggregate over every GPU: tensor parallelism reads each GPU's shard at once."""
        return self.gpus * self.gpu.memory_bandwidth_gb_per_second

    @property
    def host_memory_gb(self) -> float:
        return self.host_memory_gib * 2**30 / 1e9

    @property
    def local_nvme(self) -> bool:
        """SageMaker rejects VolumeSizeInGB and a config-level KmsKeyId on instances with local NVMe."""
        return self.nvme_gb > 0

    def describe(self) -> str:
        return f"{self.gpus} x {self.gpu.name} {self.gpu.memory_gb:g} GB"


class PriceSource(StrictModel):
    region: str
    source: str
    retrieved: Annotated[str, Field(pattern=ISO_DATE)]


class NotSelectable(StrictModel):
    """An instance type SageMaker hosting offers that the catalogue cannot price or size yet: refused with ``reason``."""

    reason: str
    retrieved: Annotated[str, Field(pattern=ISO_DATE)]


class InstanceCatalogue(StrictModel):
    prices: PriceSource
    price_sources: dict[str, str]
    gpu_models: dict[str, GpuSpec]
    interconnects: dict[str, Interconnect]
    instances: dict[str, InstanceType]
    not_selectable: dict[str, NotSelectable] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _resolve_references(cls, data: Any) -> Any:
        """Each instance names its GPU model and interconnect; inline their specs so an instance is complete."""
        if not isinstance(data, dict):
            return data
        raw = {"gpu": data.get("gpu_models"), "interconnect": data.get("interconnects")}
        tables: dict[str, dict[str, Any]] = {field: table if isinstance(table, dict) else {} for field, table in raw.items()}
        named = {
            field: {key: {"name": key, **spec} for key, spec in table.items() if isinstance(spec, dict)}
            for field, table in tables.items()
        }
        resolved: dict[str, Any] = {}
        instances = data.get("instances")
        for name, instance in (instances if isinstance(instances, dict) else {}).items():
            if isinstance(instance, dict):
                instance = dict(instance)
                for field, table in named.items():
                    key = instance.get(field)
                    if isinstance(key, str):
                        if key not in table:
                            plural = "gpu_models" if field == "gpu" else "interconnects"
                            raise ValueError(
                                f"instances.{name}.{field}: {key!r} is not in {plural}|use one of {', '.join(sorted(table))}"
                            )
                        instance[field] = table[key]
            resolved[name] = instance
        return {**data, "gpu_models": named["gpu"], "interconnects": named["interconnect"], "instances": resolved}

    @model_validator(mode="after")
    def _price_sources_known(self) -> InstanceCatalogue:
        for name, instance in self.instances.items():
            if instance.price_source not in self.price_sources:
                raise ValueError(
                    f"instances.{name}.price_source: {instance.price_source!r} is not in price_sources"
                    f"|use one of {', '.join(sorted(self.price_sources))}, or add the source with the date you read it"
                )
        return self

    @model_validator(mode="after")
    def _selectable_or_not(self) -> InstanceCatalogue:
        for name in sorted(set(self.instances) & set(self.not_selectable)):
            raise ValueError(f"not_selectable.{name}: it is also in instances|remove one of the two entries")
        return self

    def get(self, name: str, source: str, field: str) -> InstanceType:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances))
            if name in self.not_selectable:
                raise ConfigError(
                    source,
                    field,
                    f"{name} is listed in model_configs/instances.yaml as not selectable: {self.not_selectable[name].reason}",
                    f"use one of {known}; or confirm its hosting price (source and date) and add it to instances",
                ) from None
            raise ConfigError(
                source, field, f"unknown instance type {name!r}", f"use one of {known}, or add it to model_configs/instances.yaml"
            ) from None

    def cheapest_first(self) -> list[tuple[str, InstanceType]]:
        return sorted(self.instances.items(), key=lambda item: (item[1].sagemaker_hourly_usd, item[0]))


ContainerFamilyName = Literal["lmi", "tgi"]
CudaVersion = Annotated[str, Field(pattern=r"^[0-9]+[.][0-9]+$")]
# The registry domain of each partition that is not plain amazonaws.com (longest prefix first).
ECR_DOMAINS = (
    ("cn-", "amazonaws.com.cn"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
)


def ecr_domain(region: str) -> str:
    """The domain of ``region``'s ECR registries (China and the isolated partitions have their own)."""
    return next((domain for prefix, domain in ECR_DOMAINS if region.startswith(prefix)), "amazonaws.com")


def cuda_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class SourceNote(StrictModel):
    source: str
    retrieved: str


class ContainerFamily(StrictModel):
    """A serving engine whose environment the project knows how to derive (llm_config/serving.py)."""

    description: str
    default_image: str


class InferenceAmi(StrictModel):
    """A SageMaker inference AMI (ProductionVariant InferenceAmiVersion): the host's NVIDIA driver."""

    nvidia_driver: PositiveInt
    cuda: CudaVersion


class ContainerImage(StrictModel):
    """A serving image pinned to an exact version, with its registry account per region and the AMI it needs."""

    family: ContainerFamilyName
    description: str
    framework: str
    version: str
    repository: str
    tag: str
    cuda: CudaVersion
    inference_ami_version: str
    source: str
    retrieved: str
    accounts: dict[str, Annotated[str, Field(pattern=r"^[0-9]{12}$")]]
    # What clients send (published in the endpoint's SSM parameter): "messages" when the container answers the
    # OpenAI-style Chat Completions schema on /invocations (LMI/vLLM, TGI >= 1.4), "text" for {"inputs": PROMPT} only.
    chat_api: Literal["messages", "text"] = "messages"

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
        return f"{account}.dkr.ecr.{region}.{ecr_domain(region)}/{self.repository}:{self.tag}"


class ContainerCatalogue(StrictModel):
    """model_configs/containers.yaml: the families, the inference AMIs and the pinned images."""

    families: dict[ContainerFamilyName, ContainerFamily]
    inference_amis: dict[str, InferenceAmi]
    inference_amis_source: SourceNote
    containers: dict[str, ContainerImage]

    @model_validator(mode="after")
    def _consistent(self) -> ContainerCatalogue:
        for family_name, family in self.families.items():
            default = self.containers.get(family.default_image)
            if default is None or default.family != family_name:
                raise ValueError(
                    f"family {family_name}'s default_image {family.default_image!r} is not one of its images"
                    f"|name an entry of `containers` whose family is {family_name}"
                )
        for name, image in self.containers.items():
            ami = self.inference_amis.get(image.inference_ami_version)
            if ami is None:
                raise ValueError(
                    f"{name}: inference_ami_version {image.inference_ami_version!r} is not listed"
                    f"|use one of {', '.join(sorted(self.inference_amis))}"
                )
            if cuda_tuple(image.cuda) > cuda_tuple(ami.cuda):
                raise ValueError(
                    f"{name} is built for CUDA {image.cuda} but {image.inference_ami_version} ships driver "
                    f"{ami.nvidia_driver} (CUDA {ami.cuda}): the container would fail on the GPU"
                    "|pick an inference_ami_version whose CUDA is at least the image's"
                )
        return self

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

    def image_for(self, family: ContainerFamilyName, image: str | None, source: str) -> ContainerImage:
        """The image a model config asks for: ``image``, else the family's default; it must belong to ``family``."""
        chosen = self.get(image or self.families[family].default_image, source, "container.image")
        if chosen.family != family:
            same_family = ", ".join(sorted(n for n, i in self.containers.items() if i.family == family))
            raise ConfigError(
                source,
                "container.image",
                f"{image} is a {chosen.family} image, but container.family is {family}",
                f"use one of {same_family}, or set container.family: {chosen.family}",
            )
        return chosen

    def ami_for(self, image: ContainerImage) -> InferenceAmi:
        return self.inference_amis[image.inference_ami_version]


def load_instance_catalogue(config_dir: Path) -> InstanceCatalogue:
    path = config_dir / "instances.yaml"
    source = display_path(path)
    return parse_as(InstanceCatalogue, read_yaml_mapping(path, source), source)


class HostingRegions(StrictModel):
    """Where SageMaker hosting offers each catalogued instance type (model_configs/hosting_regions.yaml)."""

    source: str = "none"
    retrieved: Annotated[str, Field(pattern=ISO_DATE)] | None = None
    regions: list[str] = Field(default_factory=list)  # the regions the source covers; any other is unknown
    instances: dict[str, list[str]] = Field(default_factory=dict)

    def offers(self, instance_type: str, region: str) -> bool | None:
        """Whether ``region`` offers ``instance_type`` for hosting; None where the source does not cover the region."""
        if region not in self.regions:
            return None
        return region in self.instances.get(instance_type, [])


HOSTING_REGIONS_FILE = "hosting_regions.yaml"


def load_hosting_regions(config_dir: Path) -> HostingRegions:
    """The file is optional: without it every region is unknown, and nothing is refused for want of it."""
    path = config_dir / HOSTING_REGIONS_FILE
    if not path.exists():
        return HostingRegions()
    source = display_path(path)
    return parse_as(HostingRegions, read_yaml_mapping(path, source), source)


def load_container_catalogue(config_dir: Path) -> ContainerCatalogue:
    path = config_dir / "containers.yaml"
    source = display_path(path)
    return parse_as(ContainerCatalogue, read_yaml_mapping(path, source), source)
