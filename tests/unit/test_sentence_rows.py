"""Training rows in mwaddlink's sentence unit (corpus.py, examples.training_rows' SentenceRows): the operating point's data.

A tiny partial wiki. Every "Story" article's first linked sentence links [[Nile]] and, with an anchor
no other article uses, [[Nile|river number N]]; its second sentence names Cairo, linked in every
third story only, and a reference links [[Nile]] again (a link that is not top level, which the
page-level rows treat as already there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scoring.corpus import ArticleSample, ContextCounts, LinkCounts, spool_file
from scoring.dumps import read_siteinfo, split_of
from scoring.examples import STATS_FOLDS, training_rows
from scoring.relatedness import TargetContexts
from scoring.features import FEATURES
from scoring.linktrail import for_language
from scoring.site_scan import scan_site
from scoring.train import _dictionary

HEADER = (
    '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" xml:lang="en"><siteinfo><sitename>T</sitename>'
    '<namespaces><namespace key="0" case="first-letter" /></namespaces></siteinfo>\n'
)
STORY = ("Intro words here, and a list:\n* [[Alexandria]] item\n"
         "The river [[Nile]] runs by [[Nile|river number {n}]] north. Later {cairo} grew by the Nile."
         "&lt;ref&gt;[[Nile]] source&lt;/ref&gt; Cairo and Nile are old.")  # XML-escaped


def _page(page_id: int, title: str, text: str) -> str:
    return (f"<page><title>{title}</title><ns>0</ns><id>{page_id}</id><revision><id>{page_id}</id>"
            f"<timestamp>2023-01-01T00:00:00Z</timestamp><model>wikitext</model><text>{text}</text></revision></page>\n")


Corpus = tuple[ContextCounts, TargetContexts, list[ArticleSample]]


def _read(dump: Path, samples: int | None = None) -> tuple[ContextCounts, TargetContexts]:
    scan = scan_site(dump, read_siteinfo(dump))
    links = LinkCounts(language="en", prefixes=scan.namespaces.prefixes(), trail=for_language("en"))
    with spool_file() as spool:
        links.read_dump(dump, spool, progress=False, samples=samples)
        counts = ContextCounts.prepare(links, spool, "partial")
        return counts, counts.read_spool(spool, 100, progress=False)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train_ids = [i for i in range(100, 300) if split_of(i) == "train"]
    pages = [_page(train_ids[0], "Nile", "A river."), _page(train_ids[1], "Cairo", "A city.")]
    pages += [_page(page_id, f"Story {n}", STORY.format(n=n, cairo="[[Cairo]]" if n % 3 == 0 else "Cairo"))
              for n, page_id in enumerate(train_ids[2:22])]
    path = tmp_path_factory.mktemp("sentences") / "tiny.xml"
    path.write_text(HEADER + "".join(pages) + "</mediawiki>\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(dump: Path) -> Corpus:
    counts, contexts = _read(dump)
    return counts, contexts, [s for s in counts.samples if s.title_key.startswith("story")]


def test_only_the_articles_kept_as_samples_look_for_their_sentence(dump: Path) -> None:
    counts, _ = _read(dump, samples=4)  # Nile, Cairo, Story 0, Story 1
    assert [bool(s.sentence_gold) for s in counts.samples[:6]] == [False, False, True, True, False, False]


def test_a_sample_knows_its_first_linked_sentence_alone(corpus: Corpus) -> None:
    counts, _, stories = corpus
    nile, cairo = counts.target_ids["Nile"], counts.target_ids["Cairo"]
    story = stories[0]
    # The list item holds a link but is no sentence; the sentence is the one about the river.
    assert story.sentence_gold == {("nile", nile), ("river number 0", nile)}
    assert [key for key, _, _ in story.sentence_mentions] == ["nile"]  # the unique anchor is no candidate
    assert {key for key, _, _ in story.mentions} >= {"nile", "cairo", "alexandria"}
    assert (("cairo", cairo) in story.gold) and story.sentence_unknown == 0


def test_every_article_of_a_fold_reads_the_same_counts_linked_or_not(corpus: Corpus) -> None:
    counts, contexts, stories = corpus
    rows = training_rows(stories, _dictionary(counts), contexts, frozenset({counts.target_ids["Alexandria"]}))
    # Left: one row per story, "cairo" -> Cairo ("nile" is blocked by the reference's link); right in
    # every third story. Story n is in fold n % 10, so stories 0 and 10 share a fold, one linking Cairo.
    assert rows.groups.tolist() == list(range(len(stories)))
    assert rows.labels.tolist() == [float(n % 3 == 0) for n in range(len(stories))]
    linking = sum(n % 3 == 0 for n in range(len(stories)))
    for name in ("freq", "target_articles"):
        column = rows.features[:, FEATURES.index(name)]
        for n in range(len(stories)):
            in_fold = sum(m % 3 == 0 for m in range(n % STATS_FOLDS, len(stories), STATS_FOLDS))
            assert column[n] == linking - in_fold, (name, n)  # leave-one-out gave linked stories one less


def test_sentence_rows_are_labelled_by_the_sentence_and_blocked_by_nothing_else(corpus: Corpus) -> None:
    counts, contexts, stories = corpus
    dictionary = _dictionary(counts)
    assert "nile" in dictionary.candidates and "river number 0" not in dictionary.candidates
    nile, cairo, alexandria = (counts.target_ids[t] for t in ("Nile", "Cairo", "Alexandria"))
    # On the page, the reference's link to Nile blocks the mention "nile": only other rows are left.
    assert len(training_rows(stories, dictionary, contexts, frozenset({cairo, alexandria})).labels) == 0
    sentences = training_rows(stories, dictionary, contexts).sentences
    assert sentences.labels.tolist() == [1.0] * len(stories)  # one row each: "nile" -> Nile, right
    assert sentences.groups.tolist() == list(range(len(stories)))
    assert np.all(sentences.features[:, FEATURES.index("freq")] == len(stories) - 2)  # the article's fold left out
    # Recall counts every link of the sentences, the never-findable unique anchor's too.
    assert sentences.gold == 2 * len(stories)
    excluded = training_rows(stories, dictionary, contexts, frozenset({nile})).sentences
    assert len(excluded.labels) == 0 and excluded.gold == 0
