"""gelr_data: every field present, typed, never null; PHP json_encode-compatible output."""

import json

import pytest
from pydantic import ValidationError

from scoring.gelr import Gelr, GelrLink, GelrMeta

LINK = {
    "link_text": "Light Entertainment",
    "link_target": "Light entertainment",
    "match_index": 0,
    "wikitext_offset": 8548,
    "score": 0.7461552023887634,
    "context_before": ' 42, "The ',
    "context_after": ' War", Ada',
    "link_index": 0,
}
META = {
    "application_version": "5b4709d",
    "dataset_checksums": {"anchors": "a" * 64, "model": "b" * 64},
    "format_version": 1,
    "task_timestamp": 1724140800,
}


def test_reads_growthexperiments_sample_and_writes_it_back_identically():
    # The sample of reference growthexperiments.md §3.4, as PHP writes it.
    php = json.dumps({"links": [LINK], "meta": META}, separators=(",", ":")).replace("/", "\\/")
    gelr = Gelr.model_validate_json(php)
    assert gelr.to_json() == php


def test_key_order_is_growthexperiments_order():
    data = json.loads(Gelr(links=(GelrLink(**LINK),), meta=GelrMeta(**META)).to_json())
    assert list(data) == ["links", "meta"]
    assert list(data["links"][0]) == list(LINK)
    assert list(data["meta"]) == list(META)


def test_non_ascii_and_slash_are_escaped_like_php():
    link = GelrLink(**{**LINK, "link_text": "Αθήνα/Πειραιάς", "link_target": "Αθήνα"})
    text = Gelr(links=(link,), meta=GelrMeta(**META)).to_json()
    assert "\\u0391\\u03b8" in text and "\\/" in text
    assert json.loads(text)["links"][0]["link_text"] == "Αθήνα/Πειραιάς"


@pytest.mark.parametrize("field", list(LINK))
def test_every_link_field_is_required_and_not_null(field):
    with pytest.raises(ValidationError):
        GelrLink(**{k: v for k, v in LINK.items() if k != field})
    with pytest.raises(ValidationError):
        GelrLink(**{**LINK, field: None})


@pytest.mark.parametrize(
    "field, value",
    [("match_index", "0"), ("wikitext_offset", 1.0), ("score", "0.5"), ("score", 1.5), ("link_index", -1),
     ("link_text", ""), ("link_target", 3)],
)
def test_link_field_types_are_strict(field, value):
    with pytest.raises(ValidationError):
        GelrLink(**{**LINK, field: value})


def test_meta_needs_model_checksum_and_format_version_1():
    with pytest.raises(ValidationError, match="model"):
        GelrMeta(**{**META, "dataset_checksums": {"anchors": "x"}})
    with pytest.raises(ValidationError):
        GelrMeta(**{**META, "format_version": 2})
    with pytest.raises(ValidationError):
        Gelr(links=(), meta=GelrMeta(**META), extra=1)
