"""Title and anchor normalisation, and telling article links from everything else.

- ``normalise_title`` follows MediaWiki's title normalisation as far as it matters for link targets
  (the same rules mwaddlink applies, plus MediaWiki's whitespace and direction-mark handling).
- ``normalise_anchor`` is mwaddlink's key function (strip + Python ``str.lower``); anchors dictionaries,
  training and inference must all use it, or lookups silently miss.
- ``is_article_link`` rejects targets in another namespace or on another wiki. The wiki's namespace
  names come from its own data (``scoring.namespaces.Namespaces``, in the bundle); Wikipedia language
  codes and common interwiki prefixes are the same on every wiki and known here. A missed prefix is
  harmless downstream (the target is not an article title, so it never matches a page).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from pathlib import Path

from scoring import native

__all__ = ["LANGUAGE_PREFIXES", "TITLE_RULES", "is_article_link", "is_article_target", "joined_anchor_keys",
           "namespace_prefix", "normalise_anchor", "normalise_title", "read_title_list"]

# MediaWiki treats these as spaces in titles and collapses runs of them (MediaWikiTitleCodec; the
# native normalisation has the same list).
_SPACES = re.compile(r"[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")

# Interwiki prefixes of sister projects and common external wikis (case-insensitive in MediaWiki).
_INTERWIKI = """w wikipedia wikt wiktionary q wikiquote b wikibooks s wikisource n wikinews v wikiversity
voy wikivoyage c commons m meta metawiki metawikimedia mw mediawikiwiki species wikispecies d wikidata
f foundation wmf wikimedia wmfblog phab phabricator gerrit incubator outreach wikitech testwiki mail
iarchive creativecommons planetmath toollabs wikiapiary translatewiki betawikiversity oldwikisource"""

# Wikipedia language editions (interlanguage prefixes).
_LANGUAGES = """aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az
azb ba ban bar bat-smg bbc bcl be be-tarask be-x-old bg bh bi bjn blk bm bn bo bpy br bs bug bxr ca
cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy da dag de din diq dsb dty dv dz ee el
eml en eo es et eu ext fa fat ff fi fiu-vro fj fo fon fr frp frr fur fy ga gag gan gcr gd gl glk gn
gom gor got gpe gu guc gur guw gv ha hak haw he hi hif ho hr hsb ht hu hy hyw hz ia id ie ig ii ik
ilo inh io is it iu ja jam jbo jv ka kaa kab kbd kbp kcg kg ki kj kk kl km kn ko koi kr krc ks ksh ku
kv kw ky la lad lb lbe lez lfn lg li lij lld lmo ln lo lrc lt ltg lv mad mai map-bms mdf mg mh mhr mi
min mk ml mn mni mnw mo mr mrj ms mt mus mwl my myv mzn na nah nap nds nds-nl ne new ng nia nl nn no
nov nqo nrm nso nv ny oc olo om or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn
qu rm rmy rn ro roa-rup roa-tara ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn si simple
sk skr sl sm smn sn so sq sr srn ss st stq su sv sw szl szy ta tay tcy te tet tg th ti tk tl tly tn to
tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec vep vi vls vo vro wa war wo wuu xal xh xmf yi yo
yue za zea zgh zh zh-classical zh-min-nan zh-yue zu"""


def _names(block: str) -> frozenset[str]:
    return frozenset(word.replace("_", " ").casefold() for word in block.split())


LANGUAGE_PREFIXES = _names(_LANGUAGES)  # interlanguage links
_OTHER_WIKIS = _names(_INTERWIKI) | LANGUAGE_PREFIXES


def _upper_first_table() -> dict[str, str]:
    """Every character whose ``str.upper()`` is one other character ($wgCapitalLinks). MediaWiki keeps
    characters whose uppercase is several characters (ß, ŉ) as they are, so those are left out."""
    table: dict[str, str] = {}
    for block in range(0, 0x110000, 256):
        chars = "".join(map(chr, range(block, block + 256)))
        if chars.upper() == chars:  # most blocks have no cased letter: one comparison each
            continue
        table.update((c, upper) for c in chars if len(upper := c.upper()) == 1 and upper != c)
    return table


# The native engine normalises; Python's own Unicode tables say what uppercase is, as they always did.
TITLE_RULES = native.Titles(_upper_first_table())


def normalise_title(raw: str) -> str:
    """URL-unquote (as ``urllib.parse.unquote``), drop ``#fragment`` and a leading ``:``, turn ``_``
    and other spaces into single spaces, drop direction marks, strip, uppercase the first character
    ($wgCapitalLinks). Returns "" for a fragment-only or empty title. The scanner gives every link's
    target normalised by the same native rule."""
    return TITLE_RULES.normalise(raw)


def read_title_list(path: str | Path) -> tuple[str, ...]:
    """The titles of a list file (UTF-8, one title per line, as in a link or with underscores; blank
    lines and lines starting with "#" skipped), normalised and de-duplicated, in file order.
    Raises OSError for an unreadable file and UnicodeDecodeError for one that is not UTF-8."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    titles = (normalise_title(line) for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return tuple(dict.fromkeys(title for title in titles if title))


def normalise_anchor(text: str) -> str:
    """The anchor-dictionary key: ``text.strip().lower()`` (Python lowercasing, as mwaddlink)."""
    return text.strip().lower()


def joined_anchor_keys(texts: Iterable[str]) -> str:
    """``"\\0".join(map(normalise_anchor, texts))`` with one ``lower`` of the whole: the same string, as
    only a final sigma's lowercase reads its neighbours and NUL is neither cased nor case-ignorable."""
    return "\0".join([text.strip() for text in texts]).lower()


def namespace_prefix(target: str) -> str | None:
    """The casefolded text before the first ``:`` of a title (spaces normalised), or None."""
    head, colon, _ = target.lstrip(":").partition(":")
    if not colon:
        return None
    return _SPACES.sub(" ", head).strip().casefold()


def is_article_link(target: str, namespace_prefixes: Collection[str]) -> bool:
    """False for an empty target and for one whose prefix names a namespace (``namespace_prefixes``:
    the wiki's ``Namespaces.prefixes()``), a Wikipedia language or a known interwiki."""
    return bool(normalise_title(target)) and _in_main_namespace(target, namespace_prefixes)


def is_article_target(target: str, namespace_prefixes: Collection[str]) -> bool:
    """``is_article_link`` for a target ``normalise_title`` already returned (a parsed ``Link``'s), without
    normalising it again: such a title has no "#", direction mark or spare space, so only a "%" or a
    leading ":" could still change under a second normalisation."""
    if ":" not in target and "%" not in target:  # most titles: no namespace prefix, nothing to normalise
        return bool(target)
    if "%" in target or target.startswith(":"):
        return is_article_link(target, namespace_prefixes)
    return bool(target) and _in_main_namespace(target, namespace_prefixes)


def _in_main_namespace(target: str, namespace_prefixes: Collection[str]) -> bool:
    prefix = namespace_prefix(target)
    return prefix is None or (prefix not in _OTHER_WIKIS and prefix not in namespace_prefixes)
