"""Build the classifier stack from the shipped artefacts, failing closed on any problem.

Each artefact is read once; its bytes are hashed and, when the configuration pins a manifest,
checked against it before the same bytes are parsed (no window between check and use). A
missing, corrupt or mismatched artefact, an unknown layer set or an unavailable ``ml`` extra
raises a :class:`ClassifierError`; the loader never returns a classifier with a layer missing.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from inference.classifiers.base import Layer
from inference.classifiers.classifier import SafetyClassifier
from inference.classifiers.combine import Calibration, parse_calibration
from inference.classifiers.errors import (
    ArtefactCorrupt,
    ArtefactError,
    ClassifierConfigError,
    ManifestMismatch,
)
from inference.classifiers.learned import LearnedLayer, parse_ngram_model
from inference.classifiers.manifest import (
    EMBEDDING_MODEL_ID,
    ArtefactRef,
    check_ref,
    read_artefact,
    verify_manifest,
)
from inference.classifiers.patterns import PatternLayer, PatternMatcher, parse_patterns

T = TypeVar("T")
_PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile, OSError)


@dataclass(frozen=True)
class ClassifierConfig:
    """Which layers run, where the artefacts are, and the manifest they must match.

    ``manifest`` (from ``policy.toml``) is optional for tests and tools; the gateway always
    passes it. Every artefact loaded must then appear in it with the same id, version and hash,
    and every artefact it lists must verify, loaded or not.
    """

    patterns: bool = True
    learned: bool = True
    embedding: bool = False
    data_dir: Path | None = None
    manifest: tuple[ArtefactRef, ...] | None = None

    def __post_init__(self) -> None:
        if not (self.patterns or self.learned or self.embedding):
            raise ClassifierConfigError("at least one classifier layer must be enabled")


class _Reader:
    def __init__(self, config: ClassifierConfig) -> None:
        self._config = config
        self._pinned = {ref.id: ref for ref in config.manifest or ()}
        self.loaded: list[ArtefactRef] = []

    def load(self, artefact_id: str, parse: Callable[[bytes], T]) -> T:
        ref, raw = read_artefact(artefact_id, self._config.data_dir)
        self.check(ref)
        try:
            return parse(raw)
        except ArtefactError:
            raise
        except _PARSE_ERRORS:
            raise ArtefactCorrupt("artefact content is invalid", artefact_id) from None

    def check(self, ref: ArtefactRef) -> None:
        if self._config.manifest is not None:
            if ref.id not in self._pinned:
                raise ManifestMismatch("artefact is not in the manifest", ref.id)
            check_ref(self._pinned[ref.id], ref)
        self.loaded.append(ref)


def load_classifiers(config: ClassifierConfig) -> SafetyClassifier:
    """Build the configured layers from the artefacts; raises ClassifierError on any failure."""
    if config.manifest is not None:
        verify_manifest(config.manifest, config.data_dir)
    reader = _Reader(config)
    calibration: Calibration = reader.load("calibration", parse_calibration)
    layers: list[Layer] = []
    matcher: PatternMatcher | None = None
    if config.patterns or config.learned:
        _, matcher = reader.load("patterns", parse_patterns)
    if config.patterns and matcher is not None:
        layers.append(_build("calibration", lambda: PatternLayer(matcher, calibration.pattern_tiers)))
    if config.learned and matcher is not None:
        model = reader.load("ngram_model", parse_ngram_model)
        layers.append(
            _build(
                "ngram_model",
                lambda: LearnedLayer(
                    model, matcher, calibration.platt["learned"], calibration.fire_probability
                ),
            )
        )
    if config.embedding:
        layers.append(_embedding_layer(reader, calibration))
    try:
        stacker = calibration.stacker([layer.name for layer in layers])
    except KeyError:
        raise ArtefactCorrupt("no stacker for this set of layers", "calibration") from None
    return SafetyClassifier(layers, matcher, stacker, calibration.single_layer_cap, tuple(reader.loaded))


def _build(artefact_id: str, make: Callable[[], T]) -> T:
    try:
        return make()
    except _PARSE_ERRORS:
        raise ArtefactCorrupt("artefacts are inconsistent with each other", artefact_id) from None


def _embedding_layer(reader: _Reader, calibration: Calibration) -> Layer:
    """The optional MiniLM layer; its weights file is checked like any other artefact."""
    from inference.classifiers.embedding import (
        EmbeddingLayer,
        MiniLMEmbedder,
        parse_embedding_head,
    )
    from inference.classifiers.manifest import embedding_model_ref

    reader.check(embedding_model_ref())
    head = reader.load("embedding_head", parse_embedding_head)
    if "embedding" not in calibration.platt:
        raise ArtefactCorrupt("calibration has no embedding entry", "calibration")
    try:
        embedder = MiniLMEmbedder()
    except Exception as exc:
        raise ArtefactCorrupt("the embedding model failed to load", EMBEDDING_MODEL_ID) from exc
    return EmbeddingLayer(embedder, head, calibration.platt["embedding"], calibration.fire_probability)
