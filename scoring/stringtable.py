"""An immutable, memory-mapped map from strings to int32 values (open addressing on disk).

Why: a worker holds the anchor dictionaries and title tables of hundreds of wikis. Loading them as
Python dicts would take seconds and gigabytes; here opening a table maps a few ``.npy`` files and
costs well under a millisecond, pages are read from disk only when a lookup touches them, and the
operating system shares them between processes.

Layout (files ``<name>.<part>.npy`` in one directory, written by ``write_string_table``):

    blob     uint8   the UTF-8 bytes of every key, concatenated in key order
    offsets  int64   key ``i`` is ``blob[offsets[i]:offsets[i + 1]]``
    values   int32   the value of key ``i``
    slots    int32   open-addressing table (a power of two, at most half full): key index or -1
    hashes   uint32  the hash of the key in each slot, so a miss rarely touches the blob

Guarantees: ``get`` is exact (a hash match is confirmed by comparing bytes); keys are compared as
given (callers normalise first); the hash is ``zlib.crc32`` mixed by a multiplication, stable across
processes and machines (never Python's ``hash()``, which is salted per process). Hashing and lookups
run in the native engine (``native.stable_hash``, ``native.StringTableIndex``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scoring import native

__all__ = ["PARTS", "StringTable", "slot_count", "stable_hash", "write_string_table"]

PARTS = ("blob", "offsets", "values", "slots", "hashes")
_EMPTY = -1


def stable_hash(data: bytes) -> int:
    """32-bit hash of ``data``, identical on every machine; CRC32 spread by Knuth's multiplier."""
    return native.stable_hash(data)


def slot_count(n: int) -> int:
    size = 8
    while size < 2 * n:
        size *= 2
    return size


def write_string_table(directory: Path, name: str, keys: Sequence[str], values: Sequence[int] | np.ndarray) -> list[Path]:
    """Write the table files for ``keys`` -> ``values`` and return their paths.

    Raises ValueError on a duplicate key or when the lengths differ."""
    if len(keys) != len(values):
        raise ValueError(f"{name}: {len(keys)} keys but {len(values)} values")
    encoded = [key.encode("utf-8") for key in keys]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    size = slot_count(len(encoded))
    slots = np.full(size, _EMPTY, dtype=np.int32)
    hashes = np.zeros(size, dtype=np.uint32)
    mask = size - 1
    for index, data in enumerate(encoded):
        h = stable_hash(data)
        slot = h & mask
        while slots[slot] != _EMPTY:
            other = int(slots[slot])
            if hashes[slot] == h and encoded[other] == data:
                raise ValueError(f"{name}: duplicate key {keys[index]!r}")
            slot = (slot + 1) & mask
        slots[slot] = index
        hashes[slot] = h
    arrays = {
        "blob": blob,
        "offsets": offsets,
        "values": np.asarray(values, dtype=np.int32),
        "slots": slots,
        "hashes": hashes,
    }
    paths = []
    for part, array in arrays.items():
        path = directory / f"{name}.{part}.npy"
        np.save(path, array, allow_pickle=False)
        paths.append(path)
    return paths


class StringTable:
    """Read-only view of a table written by ``write_string_table``; safe to share between threads."""

    def __init__(self, directory: Path, name: str) -> None:
        def load(part: str) -> np.ndarray:
            return np.load(directory / f"{name}.{part}.npy", mmap_mode="r", allow_pickle=False)

        self.name = name
        self._blob = load("blob")
        self._offsets_array = load("offsets")
        self._values_array = load("values")
        # memoryviews index ~5x faster than numpy scalars; the arrays stay memory-mapped underneath.
        self._blob_view = memoryview(self._blob) if self._blob.size else memoryview(b"")
        self._offsets = memoryview(self._offsets_array) if self._offsets_array.size else memoryview(b"").cast("q")
        self._values = memoryview(self._values_array) if self._values_array.size else memoryview(b"").cast("i")
        self._index = native.StringTableIndex(self._blob, self._offsets_array, load("slots"), load("hashes"))

    def __len__(self) -> int:
        return len(self._values)

    def index(self, key: str) -> int:
        """Position of ``key`` in the table's key order, or -1 when absent."""
        return self._index.index(key)

    def get(self, key: str, default: int = -1) -> int:
        """The value stored for ``key``, or ``default`` when absent."""
        index = self.index(key)
        return default if index < 0 else self._values[index]

    def get_many(self, keys: list[str]) -> list[int]:
        """``get`` of each of ``keys`` (-1 when absent), looked up in one native call."""
        values = self._values
        return [values[index] if index >= 0 else -1 for index in self._index.indices(keys)]

    def __contains__(self, key: str) -> bool:
        return self.index(key) >= 0

    def key(self, index: int) -> str:
        """The key at position ``index`` (0 <= index < len(self)); raises IndexError otherwise."""
        if not 0 <= index < len(self._values):
            raise IndexError(f"{self.name}: no key {index}")
        return bytes(self._blob_view[self._offsets[index] : self._offsets[index + 1]]).decode("utf-8")

    @property
    def values(self) -> np.ndarray:
        """All values in key order (memory-mapped)."""
        return self._values_array
