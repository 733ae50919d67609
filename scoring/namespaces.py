"""A wiki's namespaces: every name a link or transclusion may use for each namespace number.

Where the names come from (nothing here is about a particular language):
- MediaWiki's canonical names and their built-in aliases (``CANONICAL``: core, and the extension
  namespaces Wikipedias run), valid on every wiki whatever its language;
- the wiki's local names, from its dump's ``<siteinfo>``;
- the wiki's other aliases ("Εικόνα" for File on elwiki, "Tiêu bản" for Template on viwiki), which a
  pages-articles dump does not list: ``scoring.site_scan`` finds them in the dump's own links.

Names are kept in ``titles.namespace_prefix`` form (casefolded, spaces normalised), as link
targets and template names are compared. The numbers 6, 10 and 14 are MediaWiki constants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property

from pydantic import BaseModel, ConfigDict

from scoring.titles import namespace_prefix

__all__ = ["CANONICAL", "CATEGORY", "FILE", "MEDIA", "TEMPLATE", "Namespaces", "canonical_namespaces"]

MEDIA, FILE, TEMPLATE, CATEGORY = -2, 6, 10, 14

# MediaWiki's canonical namespace names (Language::getNamespaces, NamespaceInfo) and built-in aliases
# ("Image" for File), plus the namespaces of extensions installed on Wikipedias (Portal, Draft,
# TimedText, Module, Gadget, Topic...), by number.
CANONICAL: dict[int, tuple[str, ...]] = {
    -2: ("Media",),
    -1: ("Special",),
    1: ("Talk",),
    2: ("User",),
    3: ("User talk",),
    4: ("Project",),
    5: ("Project talk",),
    6: ("File", "Image"),
    7: ("File talk", "Image talk"),
    8: ("MediaWiki",),
    9: ("MediaWiki talk",),
    10: ("Template",),
    11: ("Template talk",),
    12: ("Help",),
    13: ("Help talk",),
    14: ("Category",),
    15: ("Category talk",),
    100: ("Portal",),
    101: ("Portal talk",),
    108: ("Book",),
    109: ("Book talk",),
    118: ("Draft",),
    119: ("Draft talk",),
    446: ("Education Program",),
    447: ("Education Program talk",),
    710: ("TimedText",),
    711: ("TimedText talk",),
    828: ("Module",),
    829: ("Module talk",),
    1198: ("Translations",),
    1199: ("Translations talk",),
    2300: ("Gadget",),
    2301: ("Gadget talk",),
    2302: ("Gadget definition",),
    2303: ("Gadget definition talk",),
    2600: ("Topic",),
}


class Namespaces(BaseModel):
    """Namespace number -> its names in ``namespace_prefix`` form. Immutable; part of the bundle
    manifest (``siteinfo.namespaces``), so a worker knows a wiki's names without its dump."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: dict[int, tuple[str, ...]]

    @classmethod
    def build(cls, local: Mapping[int, str], aliases: Mapping[int, Iterable[str]] | None = None) -> Namespaces:
        """Canonical names, the wiki's ``local`` names (``SiteInfo.namespaces``) and ``aliases``."""
        merged: dict[int, dict[str, None]] = {}
        sources: list[tuple[int, Iterable[str]]] = [*CANONICAL.items()]
        sources += [(number, (name,)) for number, name in local.items()]
        sources += list((aliases or {}).items())
        for number, names in sources:
            if number == 0:
                continue
            for name in names:
                if (prefix := namespace_prefix(name + ":")) is not None:
                    merged.setdefault(number, {})[prefix] = None
        return cls(names={number: tuple(names) for number, names in sorted(merged.items())})

    @cached_property
    def _numbers(self) -> dict[str, int]:
        return {name: number for number, names in self.names.items() for name in names}

    def number(self, prefix: str | None) -> int | None:
        """The namespace a ``namespace_prefix`` names, or None (main namespace, interwiki, unknown)."""
        return None if prefix is None else self._numbers.get(prefix)

    def of_title(self, title: str) -> int | None:
        """The namespace named by the prefix of ``title`` (as written), or None."""
        return self.number(namespace_prefix(title))

    @cached_property
    def media_names(self) -> frozenset[str]:
        """Every name of the media, file and category namespaces (links to them take no link trail)."""
        return frozenset(name for number in (MEDIA, FILE, CATEGORY) for name in self.names.get(number, ()))

    def prefixes(self) -> frozenset[str]:
        """Every name of every namespace except the main one, for ``titles.is_article_link``."""
        return frozenset(self._numbers)


def canonical_namespaces() -> Namespaces:
    """MediaWiki's canonical names only: what any wiki accepts, for callers without a bundle."""
    return _CANONICAL_ONLY


_CANONICAL_ONLY = Namespaces.build({})
