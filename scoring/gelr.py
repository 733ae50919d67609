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
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, field_validator

__all__ = ["FORMAT_VERSION", "Gelr", "GelrLink", "GelrMeta", "php_float"]

FORMAT_VERSION = 1
# ``score`` is the only float; a quote inside a JSON string is always escaped, so this never matches
# text of a string value.
_SCORE = re.compile(r'"score":([-+.0-9eE]+)')


def php_float(value: float) -> str:
    """A float as ``json_encode`` writes it (``serialize_precision = -1``): the shortest digits that
    read back exactly, as ``repr``, but an integral value without ".0" (``1``, ``0``) and an exponent
    as ``1.0e-5`` where Python writes ``1e-05``. Checked against PHP 8.2 on 0, 1 and 3,000 values in
    [1e-12, 1]; from 1e16 up PHP writes plain digits where this keeps an exponent (scores are <= 1)."""
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exponent):+d}"
    return text.removesuffix(".0")


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
        """Compact JSON as PHP ``json_encode`` writes it (ASCII with ``\\uXXXX``, ``/`` as ``\\/``,
        floats as ``php_float``)."""
        text = json.dumps(self.model_dump(mode="json"), ensure_ascii=True, separators=(",", ":"))
        text = _SCORE.sub(lambda match: f'"score":{php_float(float(match.group(1)))}', text)
        return text.replace("/", "\\/")
