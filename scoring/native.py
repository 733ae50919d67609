"""The typed face of the native engine (the ``addlink_native`` extension, crate ``native/``).

Nothing else imports ``addlink_native``: scoring's modules call these names, so the extension's
surface stays in one place. The rules themselves (terminators, abbreviations, character classes) are
given by scoring/tokenize.py; the engine only runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

try:
    from addlink_native import dict as _dict
    from addlink_native import features as _features
    from addlink_native import model as _model
    from addlink_native import scan as _scan
    from addlink_native import text as _text
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the native engine addlink_native is not installed: run `bash stack/ensure-venv.sh` "
        "(or `pip install ./native`, which needs cargo)"
    ) from error

__all__ = ["AnchorIndex", "CharClasses", "EditorSpan", "FeatureTables", "Forest", "Link", "Scanner", "StringTableIndex",
           "TextRun", "Titles", "Tokenizer", "Trail", "WordClasses", "build_anchor_index", "editor_ranks",
           "open_anchor_index", "stable_hash", "write_anchor_index"]

CharClasses = _text.CharClasses
Tokenizer = _text.Tokenizer
FeatureTables = _features.FeatureTables
WordClasses = _features.WordClasses
Forest = _model.Forest
Titles = _scan.Titles  # title normalisation (scoring/titles.py)
Scanner = _scan.Scanner  # the wikitext scan and its parts (scoring/wikitext.py)
Trail = _scan.Trail
Link = _scan.Link
TextRun = _scan.TextRun
EditorSpan = _scan.EditorSpan
StringTableIndex = _dict.StringTable  # lookups in a string table's arrays (scoring/stringtable.py)
stable_hash = _dict.StringTable.hash  # zlib's CRC-32 spread by Knuth's multiplier (scoring/stringtable.py)


class AnchorIndex(Protocol):
    """Normalised anchor key -> anchor index, as an FST (memory-mapped from a bundle, or in memory)."""

    def get(self, key: str) -> int: ...
    def __contains__(self, key: str) -> bool: ...
    def __len__(self) -> int: ...


def open_anchor_index(path: Path) -> AnchorIndex:
    """Memory-map an FST written by ``write_anchor_index``."""
    return _dict.AnchorIndex.open(path)


def build_anchor_index(keys: list[str], values: list[int] | None = None) -> AnchorIndex:
    """An in-memory index; values default to each key's position in ``keys``."""
    return _dict.AnchorIndex.build(keys, list(range(len(keys))) if values is None else values)


def write_anchor_index(path: Path, keys: list[str], values: list[int]) -> Path:
    """Write the FST of ``keys`` -> ``values`` (distinct keys, any order) to ``path``."""
    _dict.AnchorIndex.write(path, keys, values)
    return path


def editor_ranks(text: str, queries: list[tuple[str, int]]) -> list[int | None]:
    """For each (non-empty phrase, code point position), the 0-based rank of the match of the phrase at
    that position of ``text`` in a left-to-right, non-overlapping scan for it (``str.find`` from the end
    of the previous match), or None when the scan never matches there; one pass over ``text``."""
    return _text.editor_ranks(text, queries)
