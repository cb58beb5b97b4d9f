"""Shared pydantic settings: every config object is immutable, strict and rejects unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base for config objects: unknown keys and type coercion ("5" for 5) are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
