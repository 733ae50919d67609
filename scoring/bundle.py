"""Per-wiki model bundles: a directory of memory-mappable arrays, an XGBoost model and a manifest.

Layout under a models directory ``DIR``::

    DIR/<wiki>                 symlink to the current version (replaced atomically on publish)
    DIR/.<wiki>-<stamp>-<id>/  one complete version:
        manifest.json          BundleManifest: wiki, language, format version, creation time, sha256 and
                               size of every other file, the backtest table and the release-gate result
        model.ubj              the booster (``Booster.save_model``, UBJSON), unless the bundle names a
                               shared model
        training_rows.npz      the training rows the wiki's own booster was (or would be) fitted on, so
                               that a shared model can pool many wikis (shared.py)
        *.npy                  anchors.py, targets.py, relatedness.py and pages.py tables
    DIR/_shared/<name>/        a shared model (shared.py): model.ubj and its manifest.json, never
                               rewritten once written; a bundle names it with its sha256

Guarantees:
- A reader never sees a half-written bundle: a version is written and fsynced in its own directory
  before the symlink is swapped with ``os.replace``; the previous version is kept until the next
  publish, and files a worker already mapped stay valid even after their directory is removed.
- ``load_bundle`` maps the arrays (nothing is read into Python objects) and takes milliseconds; it
  checks every artifact's size against the manifest, and its sha256 only with ``verify=True``.
- A bundle is immutable once loaded and safe to share between threads.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scoring import native
from scoring.anchors import Anchors
from scoring.features import FEATURES, feature_tables
from scoring.linktrail import LinkTrail, for_language, parse_rule
from scoring.model import LinkModel, ModelMismatch
from scoring.namespaces import Namespaces, canonical_namespaces
from scoring.pages import Pages
from scoring.relatedness import DIM, IDF_BUCKETS, Vectoriser
from scoring.targets import Targets

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "PROTOCOL_MWADDLINK",
    "PROTOCOL_PAGE",
    "Bundle",
    "BundleCache",
    "BundleError",
    "BundleManifest",
    "BundleWriter",
    "SharedModelRef",
    "SiteKnowledge",
    "load_bundle",
    "open_bundle",
    "shared_model_path",
]

BUNDLE_FORMAT_VERSION = 2  # 2: the anchor keys are an FST (anchors.fst), not a StringTable
MANIFEST = "manifest.json"
MODEL_FILE = "model.ubj"
IDF_FILE = "idf.npy"
ROWS_FILE = "training_rows.npz"
SHARED_DIR = "_shared"
# Files grouped into the datasets whose checksums go into gelr_data meta.dataset_checksums.
_DATASET_PREFIXES = {
    "model": ("model.",),
    "anchors": ("anchors.", "anchor_", "candidate_"),
    "titles": ("titles.", "target_articles", "target_known"),
    "relatedness": ("idf.", "target_vectors"),
}


class BundleError(Exception):
    """A bundle is missing, incomplete, corrupt or of an unsupported format."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BacktestRow(_Frozen):
    threshold: float
    precision: float = Field(description="0.0 when nothing was predicted")
    recall: float = Field(description="0.0 when there was nothing to find")
    predicted: int
    gold: int


PROTOCOL_PAGE = "page-level"
PROTOCOL_MWADDLINK = "mwaddlink-sentence"


class BacktestTable(_Frozen):
    """One unit of the backtest (backtest.py); ``addlink evaluate --json`` prints both."""

    wiki: str
    articles: int = Field(description="test articles with gold (one sentence each in the mwaddlink protocol)")
    thresholds: tuple[BacktestRow, ...]
    protocol: Literal["page-level", "mwaddlink-sentence"] = Field(
        default=PROTOCOL_PAGE, description="the unit: whole articles, or mwaddlink's one sentence per article"
    )
    reachable: int | None = Field(
        default=None, description="gold pairs the dictionary can produce (anchor known, target in its top 10)"
    )

    def at(self, threshold: float) -> BacktestRow:
        for row in self.thresholds:
            if abs(row.threshold - threshold) < 1e-9:
                return row
        raise KeyError(f"no backtest row for threshold {threshold}")


class GateResult(_Frozen):
    threshold: float
    min_precision: float
    min_recall: float
    precision: float
    recall: float
    passed: bool
    forced: bool = False
    reason: str


class Artifact(_Frozen):
    sha256: str
    bytes: int


class SiteKnowledge(_Frozen):
    """What the wiki's own dump says about it (scoring/site_scan.py): namespace names and aliases,
    disambiguation templates, and the size of the page table (pages.py) written next to it; and its
    link-trail rule, which comes from its language (or its MediaWiki:Linktrail)."""

    namespaces: Namespaces
    disambiguation_templates: tuple[str, ...] = Field(description="normalised names, without namespace prefix")
    pages: int = Field(description="main-namespace pages the dump lists (page table, pages.py)")
    pages_complete: bool = Field(
        default=False, description="the page table lists every page of the wiki: a title missing from it is a red link"
    )
    link_trail: str | None = Field(
        default=None, description="the wiki's link-trail rule (scoring/linktrail.py), resolved from its language at "
        "training or given with --link-trail; None in bundles written before it: the rule of the manifest's language"
    )


class SharedModelRef(_Frozen):
    """A shared model a bundle uses instead of its own (``DIR/_shared/<name>/model.ubj``)."""

    name: str
    sha256: str
    bytes: int
    margin_shift: float = Field(
        default=0.0, description="this wiki's operating point on the shared booster, chosen on its own training "
        "sentences (operating_point.point_for) and added to every margin at load"
    )


class BundleManifest(_Frozen):
    format_version: Literal[2] = BUNDLE_FORMAT_VERSION
    wiki: str
    language: str
    created: datetime
    application_version: str
    features: tuple[str, ...]
    relatedness: dict[str, int | str] = Field(
        description="how relatedness vectors were made: method, dim, idf_buckets (see relatedness.py)"
    )
    namespace_prefixes: tuple[str, ...] = Field(description="local namespace prefixes read from the dump")
    complete_dump: bool = Field(
        description="trained on a dump holding every article: red-link targets were dropped from the dictionary "
        "and are left out of the backtest gold"
    )
    training: dict[str, int | float | str] = Field(description="dump, split and model-fitting figures")
    backtest: BacktestTable | None = Field(
        description="page-level unit; None only while the bundle is being evaluated"
    )
    backtest_mwaddlink: BacktestTable | None = Field(
        default=None, description="mwaddlink's sentence unit, the one the gate applies to (absent in older bundles)"
    )
    gold_excluded: dict[str, int] = Field(
        default_factory=dict, description="removed links the backtest left out of the gold, by reason (backtest.py)"
    )
    gate: GateResult | None
    artifacts: dict[str, Artifact]
    excluded_targets: tuple[str, ...] = Field(
        default=(), description="titles training left out (over-linking control), normalised; the scorer never "
        "suggests them or the redirects to them (scoring.recommend.excluded_target_ids)"
    )
    siteinfo: SiteKnowledge | None = Field(default=None, description="None in bundles written before it existed")
    shared_model: SharedModelRef | None = Field(
        default=None, description="the shared model used instead of an own model.ubj; its sha256 is the model checksum"
    )

    def dataset_checksums(self) -> dict[str, str]:
        """sha256 per dataset for gelr_data meta: a one-file dataset (the model) gets its file's sha256,
        a multi-file one the sha256 of its sorted ``name sha256`` lines."""
        result = {}
        for dataset, prefixes in _DATASET_PREFIXES.items():
            names = sorted(n for n in self.artifacts if n.startswith(prefixes))
            if len(names) == 1:
                result[dataset] = self.artifacts[names[0]].sha256
            elif names:
                lines = "".join(f"{n} {self.artifacts[n].sha256}\n" for n in names)
                result[dataset] = hashlib.sha256(lines.encode()).hexdigest()
        if self.shared_model is not None:
            result["model"] = self.shared_model.sha256
        return result


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A loaded bundle: everything ``recommend`` needs for one wiki."""

    path: Path
    manifest: BundleManifest
    anchors: Anchors
    targets: Targets
    vectoriser: Vectoriser
    model: LinkModel
    dataset_checksums: dict[str, str]
    pages: Pages | None = None  # None for a bundle without a page table

    @property
    def wiki(self) -> str:
        return self.manifest.wiki

    @property
    def language(self) -> str:
        return self.manifest.language

    @property
    def namespaces(self) -> Namespaces:
        site = self.manifest.siteinfo
        return site.namespaces if site is not None else canonical_namespaces()

    @cached_property
    def link_trail(self) -> LinkTrail:
        """The rule the bundle was trained with; for a bundle written before it was stored, its language's."""
        site = self.manifest.siteinfo
        if site is not None and site.link_trail is not None:
            return parse_rule(site.link_trail)
        return for_language(self.language)

    @cached_property
    def namespace_prefixes(self) -> frozenset[str]:
        """Every non-main namespace name the wiki accepts (canonical ones also for older bundles)."""
        return self.namespaces.prefixes() | frozenset(self.manifest.namespace_prefixes)

    @cached_property
    def feature_tables(self) -> native.FeatureTables:
        """The anchor and target arrays as the native engine reads them (features.page_candidates)."""
        return feature_tables(self.anchors, self.targets)

    @property
    def pages_complete(self) -> bool:
        """Whether a title missing from ``pages`` has no page (a complete dump, or ``train(pages_dump=...)``)."""
        site = self.manifest.siteinfo
        return self.pages is not None and site is not None and site.pages_complete

    @property
    def disambiguation_templates(self) -> tuple[str, ...]:
        site = self.manifest.siteinfo
        return site.disambiguation_templates if site is not None else ()


def _version_dir(models_dir: Path, wiki: str) -> Path:
    link = models_dir / wiki
    if not link.exists():
        raise BundleError(f"no model bundle for wiki {wiki!r} in {models_dir}")
    return link.resolve()


def _read_manifest(directory: Path) -> BundleManifest:
    try:
        return BundleManifest.model_validate_json((directory / MANIFEST).read_bytes())
    except FileNotFoundError as exc:
        raise BundleError(f"{directory}: no {MANIFEST}") from exc
    except ValidationError as exc:
        raise BundleError(f"{directory}/{MANIFEST} is not a supported bundle manifest: {exc}") from exc


def current_model(models_dir: str | Path, wiki: str) -> str:
    """The model checksum (``dataset_checksums["model"]``) of ``wiki``'s current bundle, from its
    manifest alone: cheap enough to poll for a new model."""
    checksums = _read_manifest(_version_dir(Path(models_dir), wiki)).dataset_checksums()
    if "model" not in checksums:
        raise BundleError(f"the bundle of {wiki!r} in {models_dir} names no model")
    return checksums["model"]


def load_bundle(models_dir: str | Path, wiki: str, *, verify: bool = False) -> Bundle:
    """Open the current version of ``models_dir/wiki``; see ``open_bundle``. A version removed by a
    concurrent publish while it was being opened is retried once with the new one."""
    directory = _version_dir(Path(models_dir), wiki)
    try:
        return open_bundle(directory, wiki=wiki, verify=verify)
    except BundleError:
        if _version_dir(Path(models_dir), wiki) == directory:
            raise
        return open_bundle(_version_dir(Path(models_dir), wiki), wiki=wiki, verify=verify)


def open_bundle(directory: Path, *, wiki: str | None = None, verify: bool = False) -> Bundle:
    """Open the bundle version in ``directory``. Raises BundleError when it is incomplete, of another
    format, for another wiki or other feature columns, or (``verify=True``) when a file's sha256
    differs from the manifest."""
    manifest = _read_manifest(directory)
    if wiki is not None and manifest.wiki != wiki:
        raise BundleError(f"{directory}: manifest is for wiki {manifest.wiki!r}, not {wiki!r}")
    if tuple(manifest.features) != FEATURES:
        raise BundleError(f"{directory}: bundle has features {manifest.features}, this version computes {FEATURES}")
    if manifest.relatedness != relatedness_settings():
        raise BundleError(f"{directory}: relatedness {manifest.relatedness} differs from {relatedness_settings()}")
    for name, artifact in manifest.artifacts.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != artifact.bytes:
            raise BundleError(f"{directory}: artifact {name} is missing or has the wrong size")
        if verify and sha256_file(path) != artifact.sha256:
            raise BundleError(f"{directory}: artifact {name} does not match its sha256")
    model_path = directory / MODEL_FILE
    if manifest.shared_model is not None:
        model_path = shared_model_path(directory.parent, manifest.shared_model, verify=verify)
    try:
        idf = np.load(directory / IDF_FILE, mmap_mode="r", allow_pickle=False)
        return Bundle(
            path=directory,
            manifest=manifest,
            anchors=Anchors(directory),
            targets=Targets(directory),
            vectoriser=Vectoriser(idf),
            model=_model(model_path, manifest.shared_model),
            dataset_checksums=manifest.dataset_checksums(),
            pages=Pages(directory) if Pages.present(directory) else None,
        )
    except (OSError, ValueError, ModelMismatch) as exc:
        raise BundleError(f"{directory}: cannot load bundle: {exc}") from exc


def _model(path: Path, shared: SharedModelRef | None) -> LinkModel:
    model = LinkModel.load(path, FEATURES)
    return model.shifted(shared.margin_shift) if shared is not None and shared.margin_shift else model


def shared_model_path(models_dir: Path, ref: SharedModelRef, *, verify: bool = False) -> Path:
    """The file of shared model ``ref`` in ``models_dir``; BundleError when it is missing or is not the
    model the bundle names (size always, sha256 with ``verify``)."""
    path = models_dir / SHARED_DIR / ref.name / MODEL_FILE
    if not path.is_file() or path.stat().st_size != ref.bytes:
        raise BundleError(f"shared model {ref.name!r} is missing in {models_dir} or is not the one the bundle names")
    if verify and sha256_file(path) != ref.sha256:
        raise BundleError(f"shared model {ref.name!r} in {models_dir} does not match its sha256")
    return path


class BundleWriter:
    """Builds one new version of ``models_dir/wiki`` and publishes it atomically.

    Write files into ``directory``, then call ``publish`` (or ``discard``). Used as a context manager,
    an exception discards the unfinished version."""

    def __init__(self, models_dir: str | Path, wiki: str) -> None:
        self.models_dir = Path(models_dir)
        self.wiki = wiki
        self.models_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.directory = self.models_dir / f".{wiki}-{stamp}-{secrets.token_hex(3)}"
        self.directory.mkdir()
        self._done = False

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if not self._done:
            self.discard()

    def artifacts(self) -> dict[str, Artifact]:
        """sha256 and size of every file written so far (the manifest excluded)."""
        return {
            p.name: Artifact(sha256=sha256_file(p), bytes=p.stat().st_size)
            for p in sorted(self.directory.iterdir())
            if p.name != MANIFEST
        }

    def write_manifest(self, manifest: BundleManifest) -> None:
        (self.directory / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")

    def publish(self) -> Path:
        """Make this version current: fsync it, swap the ``models_dir/wiki`` symlink, remove versions
        older than the previous one. Returns the path of the published version."""
        if not (self.directory / MANIFEST).is_file():
            raise BundleError(f"{self.directory}: publish needs a manifest")
        for path in self.directory.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        link = self.models_dir / self.wiki
        previous = link.resolve() if link.is_symlink() else None
        if link.exists() and not link.is_symlink():
            # A plain directory (copied by hand): move it aside; readers briefly see no bundle.
            previous = link.rename(self.models_dir / f".{self.wiki}-replaced-{secrets.token_hex(3)}")
        temporary = self.models_dir / f".{self.wiki}.link-{secrets.token_hex(3)}"
        temporary.symlink_to(self.directory.name)
        os.replace(temporary, link)
        _fsync_dir(self.models_dir)
        self._done = True
        keep = {self.directory.resolve(), previous}
        for old in self.models_dir.glob(f".{self.wiki}-*"):
            if old.is_dir() and old.resolve() not in keep:
                shutil.rmtree(old, ignore_errors=True)
        return self.directory

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self._done = True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BundleCache:
    """A thread-safe LRU of loaded bundles for a worker serving many wikis.

    ``get`` returns the loaded bundle, reloading it when a newer version was published (checked with
    one ``readlink`` per call) and evicting the least recently used wiki beyond ``capacity``. Evicted
    bundles are unmapped once no caller holds them any more."""

    def __init__(self, models_dir: str | Path, capacity: int = 256) -> None:
        self.models_dir = Path(models_dir)
        self.capacity = capacity
        self._bundles: OrderedDict[str, Bundle] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, wiki: str) -> Bundle:
        current = _version_dir(self.models_dir, wiki)
        with self._lock:
            bundle = self._bundles.get(wiki)
            if bundle is not None and bundle.path == current:
                self._bundles.move_to_end(wiki)
                return bundle
        bundle = load_bundle(self.models_dir, wiki)
        with self._lock:
            self._bundles[wiki] = bundle
            self._bundles.move_to_end(wiki)
            while len(self._bundles) > self.capacity:
                self._bundles.popitem(last=False)
        return bundle


def relatedness_settings() -> dict[str, int | str]:
    """The manifest's ``relatedness`` entry for bundles written by this version."""
    return {"method": "hashed-tfidf-linking-articles", "dim": DIM, "idf_buckets": IDF_BUCKETS}

