"""Bundles: atomic publishing, manifest checksums, loading and its refusals, the LRU cache."""

import json
import os
import threading
import time

import numpy as np
import pytest

from model_fixture import publish_handmade
from scoring.bundle import BundleCache, BundleError, load_bundle, sha256_file


def test_published_bundle_loads_fast_and_memory_mapped(tmp_path):
    publish_handmade(tmp_path)
    started = time.perf_counter()
    bundle = load_bundle(tmp_path, "testwiki")
    assert time.perf_counter() - started < 0.5
    assert isinstance(bundle.anchors.count, np.memmap) and isinstance(bundle.targets.vectors, np.memmap)
    assert bundle.wiki == "testwiki" and bundle.language == "en"
    assert bundle.targets.id_of("Lutetia") == bundle.targets.id_of("Paris") == 1


def test_manifest_holds_sha256_of_every_artifact(tmp_path):
    version = publish_handmade(tmp_path)
    manifest = json.loads((version / "manifest.json").read_text())
    files = {p.name for p in version.iterdir()} - {"manifest.json"}
    assert set(manifest["artifacts"]) == files
    for name in files:
        assert manifest["artifacts"][name]["sha256"] == sha256_file(version / name)
    checksums = load_bundle(tmp_path, "testwiki").dataset_checksums
    assert checksums["model"] == manifest["artifacts"]["model.ubj"]["sha256"]
    assert set(checksums) == {"model", "anchors", "titles", "relatedness"}


def test_publish_swaps_a_symlink_and_keeps_only_the_previous_version(tmp_path):
    first = publish_handmade(tmp_path)
    second = publish_handmade(tmp_path)
    third = publish_handmade(tmp_path)
    assert (tmp_path / "testwiki").is_symlink()
    assert (tmp_path / "testwiki").resolve() == third.resolve()
    assert second.is_dir() and not first.exists()


def test_readers_never_see_a_half_bundle(tmp_path):
    publish_handmade(tmp_path)
    stop = threading.Event()
    errors = []

    def read():
        while not stop.is_set():
            try:
                load_bundle(tmp_path, "testwiki")
            except BundleError as error:  # pragma: no cover - the assertion below reports it
                errors.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(5):
        publish_handmade(tmp_path)
    stop.set()
    reader.join()
    assert errors == []


def test_unfinished_version_is_discarded_on_error(tmp_path):
    from scoring.bundle import BundleWriter

    with pytest.raises(RuntimeError):
        with BundleWriter(tmp_path, "testwiki") as writer:
            (writer.directory / "model.ubj").write_bytes(b"partial")
            raise RuntimeError("training failed")
    assert list(tmp_path.iterdir()) == []


def test_missing_wiki_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match="no model bundle for wiki 'xxwiki'"):
        load_bundle(tmp_path, "xxwiki")


def test_truncated_artifact_is_refused(tmp_path):
    version = publish_handmade(tmp_path)
    with open(version / "candidate_count.npy", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="candidate_count.npy"):
        load_bundle(tmp_path, "testwiki")


def test_verify_detects_a_changed_artifact_of_the_same_size(tmp_path):
    version = publish_handmade(tmp_path)
    path = version / "anchor_link_prob.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    load_bundle(tmp_path, "testwiki")  # sizes match: loads without verify
    with pytest.raises(BundleError, match="sha256"):
        load_bundle(tmp_path, "testwiki", verify=True)


def test_manifest_of_another_format_is_refused(tmp_path):
    version = publish_handmade(tmp_path)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["format_version"] = 99
    (version / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="not a supported bundle manifest"):
        load_bundle(tmp_path, "testwiki")


def test_cache_reuses_and_reloads_after_publish(tmp_path):
    publish_handmade(tmp_path, "awiki")
    publish_handmade(tmp_path, "bwiki")
    cache = BundleCache(tmp_path, capacity=1)
    first = cache.get("awiki")
    assert cache.get("awiki") is first
    publish_handmade(tmp_path, "awiki")
    assert cache.get("awiki") is not first
    cache.get("bwiki")  # evicts awiki
    assert cache.get("awiki") is not first
    os.unlink(tmp_path / "bwiki")
    with pytest.raises(BundleError):
        cache.get("bwiki")
