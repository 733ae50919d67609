"""scoring.native and the native walk (tokenize.anchor_hits): the FST dictionary, and the walk
against the former Python loop (oracle_tokenize + str.lower + a set) on generated text full of the
characters where Rust and Python could part: final sigma, "İ" (lowercases to two code points),
white space Python knows and Rust's char methods do not, astral letters, spaceless scripts."""

from __future__ import annotations

from pathlib import Path

import oracle_tokenize
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.native import build_anchor_index, open_anchor_index, write_anchor_index
from scoring.tokenize import anchor_hits, run_anchor_hits


def test_index_maps_keys_to_values_in_memory_and_memory_mapped(tmp_path: Path) -> None:
    keys = ["νέα υόρκη", "new york", "a", "ab", "i̇stanbul"]
    path = write_anchor_index(tmp_path / "anchors.fst", keys, [10, 11, 12, 13, 14])
    for index in (build_anchor_index(keys, [10, 11, 12, 13, 14]), open_anchor_index(path)):
        assert [index.get(k) for k in keys] == [10, 11, 12, 13, 14]
        assert len(index) == 5 and "ab" in index and "abc" not in index and "" not in index
        assert index.get("new") == -1  # a prefix of a key is not a key


def test_index_refuses_duplicate_keys_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_anchor_index(["a", "b", "a"])
    with pytest.raises(OSError):
        open_anchor_index(tmp_path / "missing.fst")


def test_final_sigma_key_follows_the_whole_ngram() -> None:
    text = "Η ΟΔΟΣ ΑΘΗΝΩΝ και ΟΔΟΣ."
    index = build_anchor_index(["οδος", "οδος αθηνων", "η οδος"])
    hits = [(text[s:e], v) for s, e, _, v in anchor_hits(text, "el", index)]
    assert hits == [("Η ΟΔΟΣ", 2), ("ΟΔΟΣ ΑΘΗΝΩΝ", 1), ("ΟΔΟΣ", 0), ("ΟΔΟΣ", 0)]


_ALPHABET = "aAbB ΣσςΑΟΔλ İiI.,;:'\"()-–\n\u00a0\u001c\u2028\u3000中文。𝐀𝐁\u0301\u02bc0"


def _oracle_hits(text: str, language: str, keys: list[str]) -> list[tuple[int, int, int, int]]:
    values = {key: i for i, key in enumerate(keys)}
    return [
        (start, end, number, values[text[start:end].lower()])
        for number, sentence in enumerate(oracle_tokenize.sentences(text, language))
        for start, end, _ in oracle_tokenize.sentence_ngrams(sentence)
        if text[start:end].lower() in values
    ]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_ALPHABET, max_size=80), language=st.sampled_from(["en", "el", "zh"]),
       data=st.data())
def test_walk_matches_the_python_loop(text: str, language: str, data: st.DataObject) -> None:
    every = sorted({text[s:e].lower() for sentence in oracle_tokenize.sentences(text, language)
                    for s, e, _ in oracle_tokenize.sentence_ngrams(sentence)})
    keys = data.draw(st.lists(st.sampled_from(every), unique=True)) if every else []
    index = build_anchor_index(keys)
    assert anchor_hits(text, language, index) == _oracle_hits(text, language, keys)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=_ALPHABET, max_size=80), language=st.sampled_from(["en", "el", "zh", "ja"]),
       cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
       glued=st.lists(st.booleans(), min_size=14, max_size=14))
def test_runs_walked_in_one_call_equal_each_run_walked_alone(text: str, language: str, cuts: list[int],
                                                             glued: list[bool]) -> None:
    """A page's runs in one native call give each run's own hits, relative to the run, in run order."""
    edges = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    runs = [(start, end, glued[2 * i], glued[2 * i + 1]) for i, (start, end) in enumerate(zip(edges, edges[1:]))]
    runs.reverse()  # walked in the order given, not in text order
    index = build_anchor_index(["a", "ab", "a a", "σ", "οδος", "中", "中文", "i"])
    expected = [(number, *hit) for number, (start, end, before, after) in enumerate(runs)
                for hit in anchor_hits(text[start:end], language, index, markup_filter=True, glued_before=before,
                                       glued_after=after)]
    assert run_anchor_hits(text, runs, language, index, markup_filter=True) == expected


def test_runs_outside_the_text_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        run_anchor_hits("abc", [(1, 5, False, False)], "en", build_anchor_index(["a"]))
