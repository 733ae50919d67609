"""Memory-mapped string tables and the anchor dictionary files."""

import math
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.anchors import AnchorSet, Anchors, padded_kurtosis, write_anchors
from scoring.stringtable import StringTable, stable_hash, write_string_table

KEYS = ["αθήνα", "athens", "", "日本", "new york city", "a" * 300]


def test_string_table_finds_every_key_and_nothing_else(tmp_path):
    write_string_table(tmp_path, "t", KEYS, [10 * i for i in range(len(KEYS))])
    table = StringTable(tmp_path, "t")
    assert len(table) == len(KEYS)
    for i, key in enumerate(KEYS):
        assert table.get(key) == 10 * i
        assert table.index(key) == i
        assert table.key(i) == key
    for missing in ["Athens", "athens ", "αθηνα", "日", "x"]:
        assert table.get(missing) == -1 and missing not in table
    asked = [*KEYS, "Athens", "x", KEYS[0]]
    assert table.get_many(asked) == [table.get(key) for key in asked]
    with pytest.raises(IndexError):
        table.key(len(KEYS))


def test_string_table_is_memory_mapped(tmp_path):
    write_string_table(tmp_path, "t", KEYS, range(len(KEYS)))
    table = StringTable(tmp_path, "t")
    assert isinstance(table.values, np.memmap)


def test_string_table_handles_many_colliding_slots(tmp_path):
    keys = [f"k{i}" for i in range(5000)]
    write_string_table(tmp_path, "t", keys, range(5000))
    table = StringTable(tmp_path, "t")
    assert [table.get(k) for k in keys] == list(range(5000))
    assert table.get("k5000") == -1


def test_string_table_rejects_duplicates(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        write_string_table(tmp_path, "t", ["a", "b", "a"], [0, 1, 2])


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_stable_hash_is_zlib_crc32_spread_by_knuths_multiplier(data):
    # The native hash must keep placing keys where tables already written put them.
    assert stable_hash(data) == (zlib.crc32(data) * 0x9E3779B1) & 0xFFFFFFFF


def test_empty_string_table_finds_nothing(tmp_path):
    write_string_table(tmp_path, "t", [], [])
    table = StringTable(tmp_path, "t")
    assert len(table) == 0 and table.get("") == -1 and "a" not in table


def test_stable_hash_is_the_same_in_another_process():
    # Python's hash() is salted per process; the table's hash must not be.
    code = "from scoring.stringtable import stable_hash; print(stable_hash('ελληνικά'.encode()))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123"})
    assert int(other.stdout) == stable_hash("ελληνικά".encode())


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy's own warning for the constant input
@pytest.mark.parametrize("counts", [[5, 3, 1], [100, 1], [2], list(range(1, 1500)), [7] * 1200])
def test_padded_kurtosis_matches_scipy_on_mwaddlink_padding(counts):
    from scipy.stats import kurtosis  # scipy comes with xgboost

    values = sorted(counts, reverse=True)
    padded = values + [1] * (1000 - len(values)) if len(values) < 1000 else values
    expected = kurtosis(padded)
    got = padded_kurtosis(counts)
    assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected, rel=1e-9)


def test_padded_kurtosis_is_nan_when_every_count_is_one():
    assert math.isnan(padded_kurtosis([1, 1, 1]))


def test_anchor_files_round_trip_with_candidates_most_frequent_first(tmp_path):
    titles = ["Athens", "Athens, Georgia", "Paris"]
    write_anchors(
        tmp_path,
        [
            AnchorSet("athens", link_prob=0.5, ngram=1, candidates=[(1, 2), (0, 9)]),
            AnchorSet("paris", link_prob=0.25, ngram=1, candidates=[(2, 4)]),
        ],
        titles,
    )
    anchors = Anchors(tmp_path)
    assert len(anchors) == 2 and "athens" in anchors and "Athens" not in anchors
    index = anchors.index("athens")
    rows = anchors.candidate_rows(index)
    assert list(anchors.target[rows.start : rows.stop]) == [0, 1]
    assert list(anchors.count[rows.start : rows.stop]) == [9, 2]
    assert anchors.jaro[rows.start] == pytest.approx(1.0)
    assert anchors.total[index] == 11
    assert anchors.link_prob[anchors.index("paris")] == pytest.approx(0.25)
    assert len(anchors.candidate_rows(index, limit=1)) == 1
    assert anchors.candidates("paris") == {2: 4}
    assert anchors.candidates("rome") is None
