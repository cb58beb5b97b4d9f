"""What every model config has, whatever hosts it: the names `-c model=` resolves, and what it is for."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from llm_config._strict import StrictModel

KEY_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class ModelIdentity(StrictModel):
    """The fields every hosting type's config starts with (model_configs/README.md)."""

    key: Annotated[str, Field(pattern=KEY_PATTERN, max_length=40)]
    aliases: list[Annotated[str, Field(pattern=KEY_PATTERN)]] = Field(default_factory=list)
    display_name: str
    best_for: str

    @property
    def names(self) -> list[str]:
        return [self.key, *self.aliases]
