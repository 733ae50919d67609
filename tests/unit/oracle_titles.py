"""scoring.titles.normalise_title as it was written in Python before the native engine took it over,
kept only as the oracle of test_native_titles.py."""

from __future__ import annotations

import re
from urllib.parse import unquote

_SPACES = re.compile(r"[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_DIRECTION_MARKS = re.compile(r"[\u200e\u200f\u202a-\u202e]")


def _upper_first(text: str) -> str:
    first = text[0].upper()
    return (first if len(first) == 1 else text[0]) + text[1:]


def normalise_title(raw: str) -> str:
    title = unquote(raw)
    title = title.split("#", 1)[0]
    title = _DIRECTION_MARKS.sub("", title)
    title = _SPACES.sub(" ", title).strip()
    if title.startswith(":"):
        title = title[1:].lstrip()
    return _upper_first(title) if title else ""
