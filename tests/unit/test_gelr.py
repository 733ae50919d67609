"""gelr_data: every field present, typed, never null; PHP json_encode-compatible output.

The PHP_* strings are genuine ``json_encode`` outputs, made once with PHP 8.2.36 CLI by
``php tests/data/php/gelr_json_encode.php`` (same data as LINK/META and ESCAPES here) and pasted as literals.
"""

import json

import pytest
from pydantic import ValidationError

from scoring.gelr import Gelr, GelrLink, GelrMeta, php_float

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
ESCAPES = [
    ("Αθήνα/Πειραιάς", "Αθήνα", 1.0, "tab\there\\", "\U0001F600 \U0002000B <&>"),
    ("東京", "東京都", 0.0, "", "\n"),
    ("x", "C++/CLI", 1.0e-5, "\x01", "é"),
    ("y", "Y", 0.30000000000000004, "a", "b"),
]
META = {
    "application_version": "5b4709d",
    "dataset_checksums": {"anchors": "a" * 64, "model": "b" * 64},
    "format_version": 1,
    "task_timestamp": 1724140800,
}

PHP_SAMPLE = (
    r'{"links":[{"link_text":"Light Entertainment","link_target":"Light entertainment","match_index":0'
    r',"wikitext_offset":8548,"score":0.7461552023887634,"context_before":" 42, \"The "'
    r',"context_after":" War\", Ada","link_index":0}],"meta":{"application_version":"5b4709d"'
    r',"dataset_checksums":{"anchors":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"'
    r',"model":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"format_version":1'
    r',"task_timestamp":1724140800}}'
)
PHP_ESCAPES = (
    r'{"links":[{"link_text":"\u0391\u03b8\u03ae\u03bd\u03b1\/\u03a0\u03b5\u03b9\u03c1\u03b1\u03b9\u03ac\u03c2"'
    r',"link_target":"\u0391\u03b8\u03ae\u03bd\u03b1","match_index":0,"wikitext_offset":8548,"score":1'
    r',"context_before":"tab\there\\","context_after":"\ud83d\ude00 \ud840\udc0b <&>","link_index":0}'
    r',{"link_text":"\u6771\u4eac","link_target":"\u6771\u4eac\u90fd","match_index":1'
    r',"wikitext_offset":8549,"score":0,"context_before":"","context_after":"\n","link_index":1}'
    r',{"link_text":"x","link_target":"C++\/CLI","match_index":2,"wikitext_offset":8550,"score":1.0e-5'
    r',"context_before":"\u0001","context_after":"\u00e9","link_index":2},{"link_text":"y"'
    r',"link_target":"Y","match_index":3,"wikitext_offset":8551,"score":0.30000000000000004'
    r',"context_before":"a","context_after":"b","link_index":3}],"meta":{"application_version":"5b4709d"'
    r',"dataset_checksums":{"anchors":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"'
    r',"model":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"format_version":1'
    r',"task_timestamp":1724140800}}'
)


def test_reads_growthexperiments_sample_and_writes_it_back_identically():
    # The sample of reference growthexperiments.md §3.4, as PHP writes it.
    assert Gelr(links=(GelrLink(**LINK),), meta=GelrMeta(**META)).to_json() == PHP_SAMPLE
    assert Gelr.model_validate_json(PHP_SAMPLE).to_json() == PHP_SAMPLE


def test_escapes_and_floats_are_written_as_php_writes_them():
    # Greek, CJK, astral characters (surrogate pairs), control characters, "/" and the floats PHP
    # writes differently from Python: 1.0 -> 1, 0.0 -> 0, 1e-05 -> 1.0e-5.
    links = tuple(GelrLink(**{**LINK, "link_text": text, "link_target": target, "score": score, "match_index": i,
                              "wikitext_offset": 8548 + i, "link_index": i, "context_before": before,
                              "context_after": after})
                  for i, (text, target, score, before, after) in enumerate(ESCAPES))
    assert Gelr(links=links, meta=GelrMeta(**META)).to_json() == PHP_ESCAPES
    assert Gelr.model_validate_json(PHP_ESCAPES).links == links


@pytest.mark.parametrize("value, php", [
    (0.0, "0"), (1.0, "1"), (0.5, "0.5"), (1.0e-5, "1.0e-5"), (1.5e-7, "1.5e-7"), (0.0001, "0.0001"),
    (0.00012345, "0.00012345"), (2.5e-10, "2.5e-10"), (0.30000000000000004, "0.30000000000000004"),
    (7.63082909753119e-14, "7.63082909753119e-14"),
])
def test_php_float(value, php):
    # Outputs of PHP 8.2 `echo json_encode($value);` for the same literals.
    assert php_float(value) == php


def test_key_order_is_growthexperiments_order():
    data = json.loads(Gelr(links=(GelrLink(**LINK),), meta=GelrMeta(**META)).to_json())
    assert list(data) == ["links", "meta"]
    assert list(data["links"][0]) == list(LINK)
    assert list(data["meta"]) == list(META)


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
