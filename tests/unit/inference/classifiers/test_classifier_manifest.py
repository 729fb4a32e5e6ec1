"""Manifest computation and checking, and the loader's refusal of broken or swapped artefacts.

These tests copy the shipped artefacts into a temporary folder and damage the copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from inference.classifiers import (
    ArtefactCorrupt,
    ArtefactMissing,
    ArtefactRef,
    ClassifierConfig,
    ClassifierConfigError,
    ManifestMismatch,
    load_classifiers,
    manifest_from_claims,
    shipped_manifest,
    verify_manifest,
)
from inference.classifiers.manifest import ARTEFACT_FILES, DATA_DIR


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    copy.mkdir()
    for name in ARTEFACT_FILES.values():
        shutil.copyfile(DATA_DIR / name, copy / name)
    return copy


def test_shipped_manifest_lists_every_artefact_with_its_hash() -> None:
    manifest = shipped_manifest()
    assert [ref.id for ref in manifest] == list(ARTEFACT_FILES)
    for ref in manifest:
        digest = hashlib.sha256((DATA_DIR / ARTEFACT_FILES[ref.id]).read_bytes()).hexdigest()
        assert ref.sha256 == digest
        assert ref.claim() == {"id": ref.id, "version": ref.version, "sha256": digest}


def test_shipped_manifest_verifies_and_round_trips_through_claims() -> None:
    manifest = shipped_manifest()
    parsed = manifest_from_claims([ref.claim() for ref in manifest])
    assert verify_manifest(parsed) == manifest


@pytest.mark.parametrize("artefact_id", list(ARTEFACT_FILES))
def test_tampered_artefact_is_named_in_the_mismatch(data_dir: Path, artefact_id: str) -> None:
    manifest = shipped_manifest()
    path = data_dir / ARTEFACT_FILES[artefact_id]
    if path.suffix == ".json":
        spec = json.loads(path.read_text(encoding="utf-8"))
        spec["tampered"] = True
        path.write_text(json.dumps(spec), encoding="utf-8")
    else:
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))
    with pytest.raises((ManifestMismatch, ArtefactCorrupt)) as info:
        verify_manifest(manifest, data_dir)
    assert info.value.artefact_id == artefact_id
    with pytest.raises((ManifestMismatch, ArtefactCorrupt)):
        load_classifiers(ClassifierConfig(embedding=False, data_dir=data_dir, manifest=manifest))


@pytest.mark.parametrize("artefact_id", list(ARTEFACT_FILES))
def test_missing_artefact_is_named(data_dir: Path, artefact_id: str) -> None:
    (data_dir / ARTEFACT_FILES[artefact_id]).unlink()
    with pytest.raises(ArtefactMissing) as info:
        verify_manifest(shipped_manifest(), data_dir)
    assert info.value.artefact_id == artefact_id


def test_pinned_version_differs() -> None:
    ref = shipped_manifest()[0]
    with pytest.raises(ManifestMismatch, match="version"):
        verify_manifest([ArtefactRef(ref.id, "0.0.0", ref.sha256)])


def test_unknown_artefact_id_is_missing() -> None:
    with pytest.raises(ArtefactMissing):
        verify_manifest([ArtefactRef("not-shipped", "1", "0" * 64)])


def test_loader_refuses_an_artefact_the_manifest_does_not_list() -> None:
    calibration_only = tuple(r for r in shipped_manifest() if r.id == "calibration")
    with pytest.raises(ManifestMismatch) as info:
        load_classifiers(ClassifierConfig(manifest=calibration_only))
    assert info.value.artefact_id == "patterns"


@pytest.mark.parametrize("artefact_id", ["patterns", "ngram_model", "calibration"])
def test_loader_without_manifest_still_refuses_corrupt_artefacts(data_dir: Path, artefact_id: str) -> None:
    (data_dir / ARTEFACT_FILES[artefact_id]).write_bytes(b"\x00garbage")
    with pytest.raises(ArtefactCorrupt) as info:
        load_classifiers(ClassifierConfig(data_dir=data_dir))
    assert info.value.artefact_id == artefact_id


def test_loader_refuses_well_formed_but_inconsistent_weights(data_dir: Path) -> None:
    spec = json.loads((data_dir / "patterns.json").read_text(encoding="utf-8"))
    spec["shared_groups"]["extra"] = ["zzz"]
    (data_dir / "patterns.json").write_text(json.dumps(spec), encoding="utf-8")
    # The n-gram model was trained on the shipped list's concepts; a changed list breaks it.
    with pytest.raises(ArtefactCorrupt) as info:
        load_classifiers(ClassifierConfig(data_dir=data_dir))
    assert info.value.artefact_id == "ngram_model"


def test_pickled_npz_is_refused(data_dir: Path) -> None:
    import numpy as np

    with (data_dir / "ngram_model.npz").open("wb") as handle:
        np.savez(handle, meta=np.array([{"id": "ngram_model"}], dtype=object))
    with pytest.raises(ArtefactCorrupt):
        load_classifiers(ClassifierConfig(data_dir=data_dir))


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [{"id": "patterns", "version": "1"}],
        [{"id": "patterns", "version": "1", "sha256": "xyz"}],
        [{"id": "Patterns!", "version": "1", "sha256": "0" * 64}],
        [{"id": "patterns", "version": 1, "sha256": "0" * 64}],
        [{"id": "p", "version": "1", "sha256": "0" * 64}] * 2,
    ],
)
def test_malformed_policy_manifest_is_a_config_error(entries: list[dict[str, object]]) -> None:
    with pytest.raises(ClassifierConfigError):
        manifest_from_claims(entries)


def test_empty_manifest_verifies_nothing_so_is_refused() -> None:
    with pytest.raises(ClassifierConfigError):
        verify_manifest([])


def test_no_layer_is_a_config_error() -> None:
    with pytest.raises(ClassifierConfigError):
        ClassifierConfig(patterns=False, learned=False, embedding=False)
