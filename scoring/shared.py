"""One shared model for many wikis: an XGBoost booster fitted on the pooled training rows of their bundles.

The features are language-independent (counts, ranks, string similarity, relatedness, position), so
one booster can serve many wikis, each keeping its own dictionary. Every bundle stores the rows its
own booster was (or would be) fitted on (``training_rows.npz``); ``train_shared`` pools the rows of
the named wikis, chooses hyper-parameters by grouped cross-validation with whole wikis as groups
(tune.py: what is chosen is what carries over to a wiki it was not fitted on; the search runs on
whole articles sampled down to ``SEARCH_ROWS`` rows, the final fit on all of them), and writes
``DIR/_shared/<name>/`` (``model.ubj`` and ``manifest.json``). A bundle trained with ``shared_model``
names it with its sha256 (``BundleManifest.shared_model``), which gelr_data reports as the model
checksum. A bundle applies the shared booster at its own operating point: the shift chosen on the
wiki's own training sentences (operating_point.point_for, recorded as ``SharedModelRef.margin_shift``).
Wikis differ in how many of an anchor's mentions their editors link, so one shift for all wikis puts
0.5 in the wrong place for some. When the shared model was fitted with the wiki in its pool, those
sentences' articles were among its training rows (their sentence rows were not), so the choice is
somewhat optimistic there; for a wiki outside the pool (leave-one-wiki-out, a new wiki) it is out of
sample.

Guarantees: a shared model is written into a temporary directory and renamed into place, and a name
is never written twice (bundles name its exact bytes; a refitted model needs a new name).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from scoring.bundle import (
    MANIFEST,
    MODEL_FILE,
    ROWS_FILE,
    SHARED_DIR,
    Bundle,
    BundleError,
    SharedModelRef,
    load_bundle,
    sha256_file,
    shared_model_path,
)
from scoring.examples import SentenceRows, TrainingRows
from scoring.features import FEATURES
from scoring.model import LinkModel
from scoring.operating_point import operating_point, point_for
from scoring.tune import MAX_ROUNDS, choose, whole_units

__all__ = ["SEARCH_ROWS", "SharedModelManifest", "save_rows", "shared_ref", "train_shared", "with_shared_model"]

# Cross-validating every setting on all pooled rows (hundreds of thousands) would take most of an hour
# on two cores; the search runs on whole training articles sampled down to this, the final fit on all.
SEARCH_ROWS = 60_000


class SharedModelManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    created: datetime
    features: tuple[str, ...]
    wikis: dict[str, str]  # wiki -> sha256 of the training_rows.npz pooled
    rows: int
    positives: int
    search_rows: int  # rows the hyper-parameter search saw (whole articles sampled from all rows)
    tuning: dict[str, int | float]  # tune.Tuning.summary() and the operating point, folds of whole wikis


def save_rows(directory: Path, rows: TrainingRows) -> None:
    """Write ``rows`` and their sentence rows as the bundle's ``training_rows.npz`` (plain arrays,
    loadable without pickle)."""
    sentences = rows.sentences
    np.savez(directory / ROWS_FILE, features=rows.features, labels=rows.labels, groups=rows.groups,
             sentence_features=sentences.features, sentence_labels=sentences.labels,
             sentence_groups=sentences.groups, sentence_gold=np.array(sentences.gold, dtype=np.int64))


def _bundle_rows(bundle: Bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray, SentenceRows, str]:
    older = f"{bundle.path}: bundle of {bundle.wiki} holds no {ROWS_FILE} with sentence rows (trained by an older version)"
    if ROWS_FILE not in bundle.manifest.artifacts:
        raise BundleError(older)
    with np.load(bundle.path / ROWS_FILE, allow_pickle=False) as rows:
        if "sentence_gold" not in rows:
            raise BundleError(older)
        sentences = SentenceRows(rows["sentence_features"], rows["sentence_labels"], rows["sentence_groups"],
                                 int(rows["sentence_gold"]))
        return rows["features"], rows["labels"], rows["groups"], sentences, bundle.manifest.artifacts[ROWS_FILE].sha256


def train_shared(
    models_dir: str | Path,
    name: str,
    wikis: Sequence[str],
    *,
    max_rounds: int = MAX_ROUNDS,
    n_jobs: int = 2,
    search_rows: int = SEARCH_ROWS,
) -> SharedModelManifest:
    """Fit the shared model ``name`` on the pooled training rows of ``wikis``' current bundles; the
    hyper-parameter search sees whole articles sampled down to about ``search_rows`` rows.
    Raises BundleError when a bundle is missing or holds no rows, FileExistsError when ``name`` exists."""
    if not name or name != Path(name).name or name.startswith("."):
        raise ValueError(f"a shared model name is one plain path component, got {name!r}")
    models_dir = Path(models_dir)
    target = models_dir / SHARED_DIR / name
    if target.exists():
        raise FileExistsError(f"shared model {name!r} already exists in {models_dir}; shared models are never rewritten")
    features, labels, wiki_of, articles, sentences, sources = [], [], [], [], [], {}
    for index, wiki in enumerate(dict.fromkeys(wikis)):
        wiki_features, wiki_labels, wiki_articles, wiki_sentences, sources[wiki] = _bundle_rows(
            load_bundle(models_dir, wiki))
        features.append(wiki_features)
        labels.append(wiki_labels)
        wiki_of.append(np.full(len(wiki_labels), index, dtype=np.int64))
        articles.append((index << 32) + wiki_articles)
        sentences.append(replace(wiki_sentences, groups=(index << 32) + wiki_sentences.groups))
    pooled_features, pooled_labels = np.concatenate(features), np.concatenate(labels)
    pooled_wikis = np.concatenate(wiki_of)
    pooled_articles = np.concatenate(articles)
    pooled_sentences = SentenceRows(np.concatenate([s.features for s in sentences]),
                                    np.concatenate([s.labels for s in sentences]),
                                    np.concatenate([s.groups for s in sentences]), sum(s.gold for s in sentences))
    search = whole_units(pooled_articles, search_rows)
    tuning = choose(pooled_features[search], pooled_labels[search], pooled_wikis[search], FEATURES,
                    max_rounds=max_rounds, n_jobs=n_jobs, units=pooled_articles[search])
    point = operating_point(pooled_features[search], pooled_labels[search], pooled_wikis[search], tuning,
                            pooled_sentences, sentence_groups=pooled_sentences.groups >> 32, n_jobs=n_jobs)
    model = LinkModel.fit(pooled_features, pooled_labels, FEATURES, n_jobs=n_jobs, rounds=tuning.rounds,
                          params=tuning.params).shifted(point.shift)
    manifest = SharedModelManifest(
        name=name,
        created=datetime.now(timezone.utc),
        features=FEATURES,
        wikis=sources,
        rows=len(pooled_labels),
        positives=int(pooled_labels.sum()),
        search_rows=int(search.sum()),
        tuning={**tuning.summary(), **point.summary()},
    )
    temporary = models_dir / SHARED_DIR / f".{name}-{secrets.token_hex(3)}"
    temporary.mkdir(parents=True)
    try:
        model.save(temporary / MODEL_FILE)
        (temporary / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.rename(temporary, target)  # fails if another process took the name meanwhile
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return manifest


def shared_ref(models_dir: str | Path, name: str) -> SharedModelRef:
    """What a bundle records to name the shared model ``name`` of ``models_dir``."""
    directory = Path(models_dir) / SHARED_DIR / name
    try:
        SharedModelManifest.model_validate_json((directory / MANIFEST).read_bytes())
    except (OSError, ValidationError) as exc:
        raise BundleError(f"no usable shared model {name!r} in {models_dir}: {exc}") from exc
    path = directory / MODEL_FILE
    return SharedModelRef(name=name, sha256=sha256_file(path), bytes=path.stat().st_size)


def with_shared_model(bundle: Bundle, models_dir: str | Path, name: str) -> Bundle:
    """``bundle`` scoring with the shared model ``name`` instead of its own (for ``addlink evaluate``), at
    the wiki's own operating point on it, chosen on the bundle's stored sentence rows as ``addlink train
    --shared-model`` chooses it."""
    ref = shared_ref(models_dir, name)
    model = LinkModel.load(shared_model_path(Path(models_dir), ref), FEATURES)
    shift = point_for(model, _bundle_rows(bundle)[3]).shift
    manifest = bundle.manifest.model_copy(update={"shared_model": ref.model_copy(update={"margin_shift": shift})})
    return replace(bundle, manifest=manifest, model=model.shifted(shift), dataset_checksums=manifest.dataset_checksums())
