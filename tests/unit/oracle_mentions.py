"""scoring.mentions.find_mentions as it ran before the native engine (Python loops over sentences,
n-grams and an ``is_anchor`` callable), kept only as the oracle of test_native_differential.py, with the
editor's rank as ``str.find``/``str.count`` computed it before ``native.editor_ranks``. The editor text
(``_EditorText``), section exclusion and the Mention record are the product's own."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from oracle_tokenize import sentence_ngrams, sentences

from scoring.mentions import CONTEXT_CHARS, LEAD, Mention, _EditorText, _excluded
from scoring.titles import normalise_anchor
from scoring.tokenize import is_word_char
from scoring.wikitext import ParsedArticle, TextRun


def _glued(run: TextRun, start: int, end: int) -> bool:
    text = run.text
    return (start == 0 and run.glued_before and is_word_char(text[0])) or (
        end == len(text) and run.glued_after and is_word_char(text[end - 1])
    )


def _overlaps_itself(phrase: str) -> bool:
    """Whether two occurrences of ``phrase`` can overlap (a proper prefix is also a suffix)."""
    first = phrase[0]
    at = phrase.find(first, 1)
    while at != -1:  # a border must start where the first character recurs
        if phrase.startswith(phrase[at:]):
            return True
        at = phrase.find(first, at + 1)
    return False


def rank(editor: _EditorText, phrase: str, offset: int) -> int | None:
    """0-based rank of the match of ``phrase`` at wikitext ``offset`` in a left-to-right,
    non-overlapping scan, or None if the scan never matches there."""
    target = editor.position(offset)
    if target is None or not editor.joined.startswith(phrase, target):
        return None
    if not _overlaps_itself(phrase):
        # No earlier match can overlap this one, so the scan's count equals the plain count.
        return editor.joined.count(phrase, 0, target)
    count = 0
    at = editor.joined.find(phrase)
    while at != -1 and at < target:
        count += 1
        at = editor.joined.find(phrase, at + len(phrase))
    return count if at == target else None


def find_mentions(
    article: ParsedArticle,
    *,
    language: str,
    excluded_sections: Sequence[str],
    is_anchor: Callable[[str], bool],
) -> Iterator[Mention]:
    lead_excluded = LEAD in excluded_sections
    excluded = frozenset(s.strip().casefold() for s in excluded_sections if s != LEAD)
    editor = _EditorText(article)
    seen: set[str] = set()
    anchor_cache: dict[str, bool] = {}
    for run_index, run in enumerate(article.runs):
        if _excluded(run, lead_excluded, excluded):
            continue
        text = run.text
        last = len(text)
        for sentence_index, sentence in enumerate(sentences(text, language)):
            for start, end, _n in sentence_ngrams(sentence):
                surface = text[start:end]
                key = normalise_anchor(surface)
                if key in seen or "''" in surface:
                    continue
                if (start == 0 or end == last) and _glued(run, start, end):
                    continue
                known = anchor_cache.get(key)
                if known is None:
                    known = anchor_cache[key] = bool(key) and is_anchor(key)
                if not known:
                    continue
                offset = run.start + start
                found = rank(editor, surface, offset)
                if found is None:
                    continue
                seen.add(key)
                yield Mention(
                    text=surface,
                    key=key,
                    wikitext_offset=offset,
                    match_index=found,
                    context_before=text[max(0, start - CONTEXT_CHARS) : start],
                    context_after=text[end : end + CONTEXT_CHARS],
                    run_index=run_index,
                    sentence_index=sentence_index,
                )
