"""Real bundles for the scoring tests: a hand-made one (tables written directly, a tiny real booster)
and one trained by ``scoring.train`` on tests/data/model/ltgwiki-excerpt.xml.bz2 (see its ATTRIBUTION.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import numpy as np

from scoring.anchors import AnchorSet, write_anchors
from scoring.dumps import read_siteinfo
from scoring.namespaces import Namespaces
from scoring.bundle import IDF_FILE, MODEL_FILE, BundleManifest, BundleWriter, relatedness_settings
from scoring.features import FEATURES
from scoring.model import LinkModel
from scoring.relatedness import DIM, IDF_BUCKETS
from scoring.targets import write_targets

DATA = Path(__file__).resolve().parents[1] / "data"
LTG_EXCERPT = DATA / "model" / "ltgwiki-excerpt.xml.bz2"
TITLES = ["Athens", "Paris", "Paris (mythology)", "Rome"]


def local_prefixes(dump: Path) -> frozenset[str]:
    """Canonical and local namespace names of a dump (its <siteinfo>), for remove_links."""
    return Namespaces.build(read_siteinfo(dump).namespaces).prefixes()


def write_handmade(directory: Path) -> None:
    """Anchors athens/paris/rome, a redirect "Lutetia" -> Paris, and a booster that scores by link_prob."""
    write_anchors(
        directory,
        [
            AnchorSet("athens", link_prob=0.9, ngram=1, candidates=[(0, 5)]),
            AnchorSet("paris", link_prob=0.8, ngram=1, candidates=[(1, 7), (2, 2)]),
            AnchorSet("rome", link_prob=0.1, ngram=1, candidates=[(3, 3)]),
        ],
        TITLES,
    )
    vectors = np.zeros((len(TITLES), DIM), dtype=np.float16)
    write_targets(directory, TITLES, [("Lutetia", 1)], np.array([5, 7, 2, 3]), np.ones(4), vectors)
    np.save(directory / IDF_FILE, np.ones(IDF_BUCKETS, dtype=np.float32), allow_pickle=False)
    rng = np.random.default_rng(0)
    features = rng.random((300, len(FEATURES)), dtype=np.float32)
    labels = (features[:, FEATURES.index("link_prob")] > 0.5).astype(np.float32)
    LinkModel.fit(features, labels, FEATURES, n_jobs=1, rounds=10).save(directory / MODEL_FILE)


def publish_handmade(models_dir: Path, wiki: str = "testwiki") -> Path:
    with BundleWriter(models_dir, wiki) as writer:
        write_handmade(writer.directory)
        writer.write_manifest(_manifest(writer, wiki, "en"))
        return writer.publish()


def _manifest(writer: BundleWriter, wiki: str, language: str) -> BundleManifest:
    return BundleManifest(
        wiki=wiki,
        language=language,
        created=datetime.now(timezone.utc),
        application_version="test",
        features=FEATURES,
        relatedness=relatedness_settings(),
        namespace_prefixes=(),
        complete_dump=False,
        training={},
        backtest=None,
        gate=None,
        artifacts=writer.artifacts(),
    )


def publish_dictionary(models_dir: Path, wiki: str, language: str, anchors: dict[str, list[str]]) -> Path:
    """A bundle whose dictionary is ``anchors`` (key -> target titles, counts 1) and whose booster is the
    hand-made one: for scorer tests on real text of any language without training."""
    titles = sorted({t for targets in anchors.values() for t in targets})
    ids = {t: i for i, t in enumerate(titles)}
    with BundleWriter(models_dir, wiki) as writer:
        write_handmade(writer.directory)  # booster and idf; the tables are overwritten below
        write_anchors(
            writer.directory,
            [AnchorSet(key, 0.9, 1, [(ids[t], 1) for t in targets]) for key, targets in sorted(anchors.items())],
            titles,
        )
        count = len(titles)
        write_targets(writer.directory, titles, [], np.ones(count), np.zeros(count), np.zeros((count, DIM)))
        writer.write_manifest(_manifest(writer, wiki, language))
        return writer.publish()


@cache
def trained_models(root: Path) -> Path:
    """Train ltgwiki into ``root`` once per test session (force: the excerpt is too small for the gate)."""
    from scoring.train import train

    train(LTG_EXCERPT, root, wiki="ltgwiki", force=True, rounds=50, n_jobs=1, progress=False)
    return root
