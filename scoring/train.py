"""Train a wiki's bundle from a dump: dictionaries, relatedness, model, backtest, gate, publish.

Steps, in order:
0. Pass 0 over the dump: what it says about the wiki (site_scan.py): namespace aliases, disambiguation
   templates and the page table, so nothing about the wiki's language has to be known in code.
1. Pass 1 over the dump and pass 2 over the spooled training articles (corpus.py).
2. The anchor dictionary with mwaddlink's filters: anchors linked more than once (aslink > 1), link
   probability >= 0.065, number-only anchors dropped; targets resolved one redirect hop; targets are
   titles, kept whether or not they are pages of the dump. Beyond mwaddlink, every article title and
   redirect title of the dump is a candidate for its own text, linked or not (anchors.py).
3. Leave-one-out training rows (examples.py), stored in the bundle; excluded targets (over-linking
   control: titles, resolved one redirect hop like link targets) yield no rows, and the bundle records
   them so that the backtest and every scorer leave them out too; hyper-parameters chosen by
   cross-validation over the training articles (tune.py); an XGBoost classifier fitted on all training
   rows with them (model.py), its margin shifted to the operating point chosen on out-of-fold
   predictions (operating_point.py) — or, with ``shared_model``, a shared model named instead (shared.py).
4. The bundle is written into a fresh version directory, backtested on the dump's test articles in
   both units (backtest.py) and gated on mwaddlink's sentence unit: published (symlink swapped) only
   if it passes, or with ``force``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from scoring.anchors import AnchorSet, write_anchors
from scoring.backtest import THRESHOLDS, backtest, gate
from scoring.bundle import (
    IDF_FILE,
    MODEL_FILE,
    BundleManifest,
    BundleWriter,
    GateResult,
    SiteKnowledge,
    open_bundle,
    relatedness_settings,
    shared_model_path,
)
from scoring.corpus import ContextCounts, LinkCounts, spool_file
from scoring.dumps import read_siteinfo
from scoring.examples import MIN_LINK_PROBABILITY, Dictionary, link_probability, training_rows
from scoring.features import FEATURES
from scoring.linktrail import for_language, parse_rule
from scoring.model import LinkModel
from scoring.operating_point import operating_point, point_for
from scoring.pages import write_pages
from scoring.recommend import APPLICATION_VERSION
from scoring.relatedness import TargetContexts
from scoring.shared import save_rows, shared_ref
from scoring.site_scan import scan_site
from scoring.targets import write_targets
from scoring.titles import normalise_title
from scoring.tokenize import word_spans
from scoring.tune import MAX_ROUNDS, choose

__all__ = ["TrainReport", "TrainingError", "train"]

DEFAULT_MAX_SAMPLES = 5000


class TrainingError(Exception):
    """The dump cannot produce a model (no training articles, no anchors, no positive examples)."""


@dataclass(frozen=True)
class TrainReport:
    manifest: BundleManifest
    published: Path | None  # the version directory, or None when the gate refused it
    gate: GateResult


def _dictionary(counts: ContextCounts) -> Dictionary:
    """mwaddlink's filtered dictionary (step 2) with every title's own text added (anchors.py): an anchor
    that passes the filters keeps all its linked targets plus its title targets; one that does not, but
    is a title, keeps only its title targets (their counts are the links they got, often 0)."""
    links = counts.links
    linked: dict[str, dict[int, int]] = {}
    for (key, target), n in sorted(counts.pair_articles.items()):
        linked.setdefault(key, {})[target] = n
    kept: dict[str, dict[int, int]] = {}
    for key in sorted(linked.keys() | counts.titled.keys()):
        pairs = linked.get(key, {})
        titled = {t: pairs.get(t, 0) for t in sorted(counts.titled.get(key, ()))}
        if pairs and links.aslink[key] > 1 and link_probability(links.aslink[key], counts.astext[key]) >= MIN_LINK_PROBABILITY:
            kept[key] = {**pairs, **titled}
        elif titled:
            kept[key] = titled
    known = np.array([t in links.articles for t in counts.titles], dtype=np.int8)
    return Dictionary(
        candidates=kept,
        aslink={k: links.aslink[k] for k in kept},
        astext={k: counts.astext[k] for k in kept},
        ngram={k: max(len(word_spans(k, links.language)), 1) for k in kept},
        titles=counts.titles,
        target_articles=counts.target_articles,
        target_known=known,
        titled={k: counts.titled[k] for k in kept if k in counts.titled},
        redirected={k: counts.redirected[k] for k in kept if k in counts.redirected},
    )


def _write_tables(directory: Path, dictionary: Dictionary, counts: ContextCounts, contexts: TargetContexts) -> int:
    """Write anchors, targets and idf; targets are renumbered to those the dictionary uses.
    Returns the number of targets written."""
    used = sorted({t for cands in dictionary.candidates.values() for t in cands})
    new_id = {old: new for new, old in enumerate(used)}
    titles = [dictionary.titles[t] for t in used]
    anchors = [
        AnchorSet(
            key=key,
            link_prob=dictionary.link_prob(key),
            ngram=dictionary.ngram[key],
            candidates=[(new_id[t], c) for t, c in cands.items()],
            redirected=frozenset(new_id[t] for t in dictionary.redirected.get(key, ())),
        )
        for key, cands in sorted(dictionary.candidates.items())
    ]
    write_anchors(directory, anchors, titles)
    links = counts.links
    redirects = sorted(
        (source, new_id[old])
        for source, target in links.redirects.items()
        if (old := counts.target_ids.get(target)) is not None and old in new_id and source not in counts.target_ids
    )
    index = np.array(used, dtype=np.int64)
    write_targets(
        directory,
        titles,
        redirects,
        dictionary.target_articles[index],
        dictionary.target_known[index],
        contexts.unit_vectors()[index],
    )
    np.save(directory / IDF_FILE, links.df.idf(), allow_pickle=False)
    return len(used)


def train(
    dump: str | Path,
    models_dir: str | Path,
    *,
    wiki: str,
    language: str | None = None,
    link_trail: str | None = None,
    threshold: float = 0.5,
    force: bool = False,
    coverage: str = "auto",
    excluded_targets: Iterable[str] = (),
    max_samples: int = DEFAULT_MAX_SAMPLES,
    max_rounds: int = MAX_ROUNDS,
    n_jobs: int = 2,
    progress: bool = True,
    pages_dump: str | Path | None = None,
    shared_model: str | None = None,
) -> TrainReport:
    """Train, backtest and (if the gate passes or ``force``) publish ``models_dir/wiki``.

    ``pages_dump``: a dump of the whole wiki (pages-articles or a stub dump, no text needed for the
    page table) to read the wiki's own data from (pass 0) when ``dump`` is only a part of it; its
    page table then counts as complete, so the worker prunes red links of a partial-dump model.

    ``language`` defaults to the dump's ``xml:lang``; ``link_trail`` (a rule in linktrail.py's forms, for a
    wiki with its own MediaWiki:Linktrail) to the language's rule, and is stored in the bundle;
    ``coverage`` is explained in
    ``corpus.ContextCounts.prepare``. ``excluded_targets``: titles never to suggest (see step 3).
    ``shared_model`` names a shared model of ``models_dir`` (shared.py) to use instead of fitting one;
    the training rows are stored either way. Raises TrainingError when the dump yields no usable
    training data, ValueError for an unreadable dump header or a gate ``threshold`` that is not one of
    the backtest thresholds, LinkTrailError for a rule that is no character class, BundleError for a
    missing shared model."""
    if threshold not in THRESHOLDS:
        raise ValueError(f"gate threshold must be one of {THRESHOLDS}, got {threshold}")
    shared = None if shared_model is None else shared_ref(models_dir, shared_model)
    started = time.monotonic()
    dump = Path(dump)
    site = read_siteinfo(dump)
    language = language or site.language or wiki.removesuffix("wiki")
    trail = parse_rule(link_trail) if link_trail else for_language(language)
    scan = scan_site(pages_dump or dump, read_siteinfo(pages_dump) if pages_dump else site, progress=progress)
    prefixes = scan.namespaces.prefixes()
    links = LinkCounts(
        language=language, prefixes=prefixes, trail=trail,
        disambiguation_templates=frozenset(scan.disambiguation_templates),
        listed=frozenset(title for title, redirect in zip(scan.titles, scan.redirects) if not redirect),
    )
    with spool_file() as spool:
        links.read_dump(dump, spool, progress, samples=max_samples)
        if not links.train_articles:
            raise TrainingError(f"{dump}: no training articles (ns 0, wikitext, train split)")
        counts = ContextCounts.prepare(links, spool, coverage)
        contexts = counts.read_spool(spool, max_samples, progress)
    dictionary = _dictionary(counts)
    if not dictionary.candidates:
        raise TrainingError(f"{dump}: no anchor is linked more than once with link probability >= 0.065, and no title")
    excluded = tuple(dict.fromkeys(t for t in map(normalise_title, excluded_targets) if t))
    excluded_ids = frozenset(
        target for title in excluded if (target := counts.target_ids.get(links.resolve(title))) is not None
    )
    rows = training_rows(counts.samples, dictionary, contexts, excluded_ids)
    positives = int(rows.labels.sum())
    if positives == 0 or positives == len(rows.labels):
        raise TrainingError(f"{dump}: {len(rows.labels)} training rows with {positives} positives; cannot fit a classifier")
    if shared is None:
        tuning = choose(rows.features, rows.labels, rows.groups, FEATURES, max_rounds=max_rounds, n_jobs=n_jobs)
        point = operating_point(rows.features, rows.labels, rows.groups, tuning, rows.sentences, n_jobs=n_jobs)
        model = LinkModel.fit(
            rows.features, rows.labels, FEATURES, n_jobs=n_jobs, rounds=tuning.rounds, params=tuning.params
        ).shifted(point.shift)
        fitting: dict[str, int | float | str] = {**tuning.summary(), **point.summary()}
    else:
        # The shared booster as it is, with this wiki's own operating point (shared.py).
        point = point_for(LinkModel.load(shared_model_path(Path(models_dir), shared), FEATURES), rows.sentences)
        shared = shared.model_copy(update={"margin_shift": point.shift})
        fitting = {"shared_model": shared.name, **point.summary()}
    fitted = time.monotonic()

    with BundleWriter(models_dir, wiki) as writer:
        targets = _write_tables(writer.directory, dictionary, counts, contexts)
        write_pages(writer.directory, scan.titles, scan.page_ids, scan.redirects)
        save_rows(writer.directory, rows)
        if shared is None:
            model.save(writer.directory / MODEL_FILE)
        manifest = BundleManifest(
            wiki=wiki,
            language=language,
            created=datetime.now(timezone.utc),
            application_version=APPLICATION_VERSION,
            features=FEATURES,
            relatedness=relatedness_settings(),
            namespace_prefixes=tuple(sorted(prefixes)),
            complete_dump=counts.complete,
            training={
                "dump": dump.name,
                "pages": links.pages,
                "malformed_pages": links.malformed,
                "train_articles": links.train_articles,
                "test_articles": links.test_articles,
                "sample_articles": rows.articles,
                "anchors": len(dictionary.candidates),
                "targets": targets,
                "redirects": len(links.redirects),
                "rows": len(rows.labels),
                "positives": positives,
                "excluded_targets": len(excluded),
                **fitting,
                "seconds_to_fit": round(fitted - started, 1),
            },
            backtest=None,
            gate=None,
            artifacts=writer.artifacts(),
            excluded_targets=excluded,
            siteinfo=SiteKnowledge(
                namespaces=scan.namespaces,
                disambiguation_templates=scan.disambiguation_templates,
                pages=len(scan.titles),
                pages_complete=pages_dump is not None or counts.complete,
                link_trail=trail.pattern,
            ),
            shared_model=shared,
        )
        writer.write_manifest(manifest)
        tested = backtest(dump, open_bundle(writer.directory, wiki=wiki), progress=progress)
        result = gate(tested.sentences, threshold, forced=force)
        manifest = manifest.model_copy(
            update={
                "backtest": tested.table,
                "backtest_mwaddlink": tested.sentences,
                "gold_excluded": tested.excluded,
                "gate": result,
            }
        )
        writer.write_manifest(manifest)
        if result.passed or force:
            return TrainReport(manifest=manifest, published=writer.publish(), gate=result)
        writer.discard()
        return TrainReport(manifest=manifest, published=None, gate=result)
