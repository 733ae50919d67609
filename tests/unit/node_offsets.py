"""Where each child of a mwparserfromhell node starts inside ``str(node)``.

mwparserfromhell nodes carry no source offsets. These functions mirror each node type's ``__str__``
(mwparserfromhell 0.6/0.7) so a walk can compute exact code-point offsets of nested nodes without
searching; ``tests/unit/test_wikitext.py`` checks the result against real articles.
"""

from __future__ import annotations

from collections.abc import Iterator

from mwparserfromhell.nodes import Argument, ExternalLink, Heading, Node, Tag, Template, Wikilink
from mwparserfromhell.nodes.extras import Attribute
from mwparserfromhell.wikicode import Wikicode

__all__ = ["children", "tag_children"]


def _len(code: Wikicode | Node | str) -> int:
    return len(str(code))


def _attribute_children(attr: Attribute, pos: int) -> Iterator[tuple[int, Wikicode]]:
    pos += len(attr.pad_first)
    yield pos, attr.name
    pos += _len(attr.name) + len(attr.pad_before_eq)
    if attr.value is not None:
        pos += 1 + len(attr.pad_after_eq) + len(attr.quotes or "")
        yield pos, attr.value


def children(node: Node) -> Iterator[tuple[int, Wikicode]]:
    """(offset inside ``str(node)``, child Wikicode) for every child of ``node``, in source order."""
    if isinstance(node, Template):
        yield 2, node.name
        pos = 2 + _len(node.name)
        for param in node.params:
            pos += 1
            if param.showkey:
                yield pos, param.name
                pos += _len(param.name) + 1
            yield pos, param.value
            pos += _len(param.value)
    elif isinstance(node, Wikilink):
        yield 2, node.title
        if node.text is not None:
            yield 3 + _len(node.title), node.text
    elif isinstance(node, ExternalLink):
        if not node.brackets:
            yield 0, node.url
            return
        yield 1, node.url
        if node.title is not None:
            yield 1 + _len(node.url) + (0 if node.suppress_space else 1), node.title
    elif isinstance(node, Heading):
        yield node.level, node.title
    elif isinstance(node, Argument):
        yield 3, node.name
        if node.default is not None:
            yield 4 + _len(node.name), node.default
    elif isinstance(node, Tag):
        yield from tag_children(node)


def tag_children(tag: Tag) -> Iterator[tuple[int, Wikicode]]:
    """``children`` for a tag; the last child yielded for a non-self-closing tag is its contents."""
    if tag.wiki_markup:
        pos = len(tag.wiki_markup)
    else:
        pos = 2 if tag.invalid else 1
        yield pos, tag.tag
        pos += _len(tag.tag)
    for attr in tag.attributes:
        yield from _attribute_children(attr, pos)
        pos += _len(attr)
    if tag.self_closing:
        return
    if tag.wiki_markup:
        pos += len(tag.padding or "") + len(tag.wiki_style_separator or "")
    else:
        pos += len(tag.padding) + 1
    yield pos, tag.contents
