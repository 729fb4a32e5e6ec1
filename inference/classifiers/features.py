"""Hashed character and word n-grams of a normalised text, with their positions (numpy only).

Features: character 3-, 4- and 5-grams of `` text `` and word unigrams and bigrams, each hashed
(the "hashing trick", Weinberger et al. 2009, https://arxiv.org/abs/0902.2206) into
``2**FEATURE_BITS`` buckets with a fixed, process-independent hash (polynomial rolling hash over
code points, or CRC-32 for words, then a splitmix64 finaliser), so the shipped weights mean the
same thing on every machine. Each feature carries the span of the normalised text it covers
(``end`` may be ``len(text) + 1`` for an n-gram that takes in the space padded after the text),
so a layer can cut the features of any window out of one position-sorted array, keeping only
those that lie inside it.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

FEATURE_BITS = 18
N_FEATURES = 1 << FEATURE_BITS
CHAR_NGRAMS = (3, 4, 5)
_POLY = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SALT_WORD = np.uint64(0x9E3779B97F4A7C15)
_SALT_BIGRAM = np.uint64(0xD6E8FEB86659FD93)
_SHIFT = np.uint64(64 - FEATURE_BITS)
_SPACE = np.uint64(ord(" "))

IntArray = npt.NDArray[np.int64]


def _bucket(hashes: npt.NDArray[np.uint64]) -> IntArray:
    """splitmix64 finaliser, then the top FEATURE_BITS bits as the bucket index."""
    x = hashes ^ (hashes >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    x = x ^ (x >> np.uint64(31))
    buckets: IntArray = (x >> _SHIFT).astype(np.int64)
    return buckets


def featurize(text: str) -> tuple[IntArray, IntArray, IntArray]:
    """Return ``(buckets, positions, ends)`` of every n-gram feature of the normalised ``text``.

    ``positions`` is where a feature starts (an n-gram that opens with the space before a word
    starts at that word) and ``ends`` where it stops (exclusive).
    """
    buckets: list[IntArray] = []
    positions: list[IntArray] = []
    ends: list[IntArray] = []
    padded = np.frombuffer((" " + text + " ").encode("utf-32-le"), dtype=np.uint32)
    codes = padded.astype(np.uint64)
    last = max(len(text) - 1, 0)
    for n in CHAR_NGRAMS:
        count = len(codes) - n + 1
        if count <= 0:
            continue
        hashes = np.full(count, np.uint64(n), dtype=np.uint64)
        for k in range(n):
            hashes = hashes * _POLY + codes[k : k + count]
        buckets.append(_bucket(hashes))
        # An n-gram that starts with the space before a word belongs to that word, so that a
        # sentence has the same features whether it opens the text or follows another one.
        leading_space = (codes[:count] == _SPACE).astype(np.int64)
        starts = np.arange(count, dtype=np.int64) - 1
        positions.append(np.clip(starts + leading_space, 0, last))
        ends.append(starts + n)
    words = text.split(" ") if text else []
    if words:
        word_hashes = np.fromiter(
            (zlib.crc32(word.encode("utf-8")) for word in words), dtype=np.uint64, count=len(words)
        )
        starts = np.zeros(len(words), dtype=np.int64)
        if len(words) > 1:
            starts[1:] = np.cumsum(np.fromiter((len(w) + 1 for w in words[:-1]), dtype=np.int64))
        word_ends = starts + np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        buckets.append(_bucket(word_hashes ^ _SALT_WORD))
        positions.append(starts)
        ends.append(word_ends)
        if len(words) > 1:
            bigrams = (word_hashes[:-1] * _POLY + word_hashes[1:]) ^ _SALT_BIGRAM
            buckets.append(_bucket(bigrams))
            positions.append(starts[:-1])
            ends.append(word_ends[1:])
    if not buckets:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(buckets), np.concatenate(positions), np.concatenate(ends)
