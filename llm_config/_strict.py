"""Shared pydantic settings: every config object is immutable, strict and rejects unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for config objects: unknown keys, type coercion ("5" for 5) and YAML's .nan/.inf are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
