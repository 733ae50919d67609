"""The ``gelr_data`` JSON that GrowthExperiments stores and reads (reference growthexperiments.md §3.4).

Guarantees: every field is present, has its PHP-side type and is never null (GrowthExperiments reads
all eight link keys unconditionally into typed parameters, so a missing key or a null breaks the
task); ``meta.dataset_checksums`` always holds ``"model"`` (``revalidateLinkRecommendations
--exceptDatasetChecksums`` compares it); ``format_version`` is 1. ``to_json`` writes keys in the order
GrowthExperiments writes them, escaped like PHP's ``json_encode`` defaults (``\\/`` and ``\\uXXXX``), so
a row we write is byte-for-byte what MediaWiki itself would have written for the same data.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

__all__ = ["FORMAT_VERSION", "Gelr", "GelrLink", "GelrMeta"]

FORMAT_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class GelrLink(_Strict):
    """One suggested link. Offsets and lengths are in Unicode code points."""

    link_text: StrictStr = Field(min_length=1)
    link_target: StrictStr = Field(min_length=1)
    match_index: StrictInt = Field(ge=0)
    wikitext_offset: StrictInt = Field(ge=0)
    score: StrictFloat = Field(ge=0.0, le=1.0)
    context_before: StrictStr
    context_after: StrictStr
    link_index: StrictInt = Field(ge=0)


class GelrMeta(_Strict):
    application_version: StrictStr
    dataset_checksums: dict[StrictStr, StrictStr]
    format_version: Literal[1] = FORMAT_VERSION
    task_timestamp: StrictInt = Field(ge=0, description="Unix seconds when the recommendation was made")

    @field_validator("dataset_checksums")
    @classmethod
    def _has_model(cls, value: dict[str, str]) -> dict[str, str]:
        if "model" not in value:
            raise ValueError('dataset_checksums must contain "model"')
        return value


class Gelr(_Strict):
    """The whole ``gelr_data`` object: exactly ``links`` and ``meta``."""

    links: tuple[GelrLink, ...]
    meta: GelrMeta

    def to_json(self) -> str:
        """Compact JSON as PHP ``json_encode`` writes it (ASCII with ``\\uXXXX``, ``/`` as ``\\/``)."""
        text = json.dumps(self.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":"))
        return text.replace("/", "\\/")
