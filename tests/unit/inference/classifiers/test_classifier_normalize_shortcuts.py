"""The normaliser's shortcuts give exactly what character-by-character passes give.

``normalize`` folds ASCII by table, skips the spaced-letter pass when its shape does not occur,
and finds fillers and words by regular expression. A shortcut that disagreed with the plain
passes would let an obfuscated phrase through, or cut the wrong characters when redacting, so
each is compared here with a per-character reference.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from inference.classifiers import NormalizedText, normalize
from inference.classifiers.normalize import (
    _ALNUM,
    _ASCII_FOLD,
    FILLERS,
    _Builder,
    _fold,
    _fold_word,
    _join_spaced_letters,
    with_breaks,
)

# Letters, digits, leet symbols, every separator and filler, controls, invisible and
# look-alike characters: the inputs where the shortcuts' preconditions are borderline.
TRICKY = list("abinrsxyzAIS0134578@$!.*-_|/\\·•~^’‘+,:;'\"` \t\n\x00\x1f\x7f\u200b\u00adаοéÅ¼ﬁ１ⓢ")
TEXTS = st.text(alphabet=st.sampled_from(TRICKY), max_size=60) | st.text(max_size=60)


def reference_drop_fillers(src: _Builder) -> _Builder:
    chars, n = src.chars, len(src.chars)
    out = _Builder()
    for i in range(n):
        char = chars[i]
        if char in FILLERS and out.chars and out.chars[-1].isalpha() and i + 1 < n and chars[i + 1].isalpha():
            out.ends[-1] = src.ends[i]
            continue
        out.add(char, src.starts[i], src.ends[i])
    return out


def reference_fold_words(src: _Builder) -> None:
    chars, n = src.chars, len(src.chars)
    i = 0
    while i < n:
        if chars[i] == " ":
            i += 1
            continue
        j = i
        while j < n and chars[j] != " ":
            j += 1
        word = chars[i:j]
        if not all("a" <= c <= "z" for c in word):
            _fold_word(word)
            chars[i:j] = word
        i = j


def reference_collapse(src: _Builder, original_length: int) -> NormalizedText:
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pending_space = False
    for char, start, end in zip(src.chars, src.starts, src.ends, strict=True):
        if char.isalnum():
            if pending_space and chars:
                chars.append(" ")
                starts.append(min(ends[-1], start))
                ends.append(max(ends[-1], start))
            pending_space = False
            chars.append(char)
            starts.append(start)
            ends.append(end)
        else:
            pending_space = True
    return NormalizedText("".join(chars), tuple(starts), tuple(ends), original_length)


def reference_normalize(text: str) -> NormalizedText:
    folded = _join_spaced_letters(reference_drop_fillers(_fold(text)))
    reference_fold_words(folded)
    return with_breaks(text, reference_collapse(folded, len(text)))


def folding(normalized: NormalizedText) -> tuple[str, tuple[int, ...], tuple[int, ...], int]:
    """What the passes produce: the text and its offsets (not what is derived from them later)."""
    return normalized.text, normalized.starts, normalized.ends, normalized.original_length


@given(TEXTS)
def test_shortcuts_never_change_the_normalised_text_or_its_offsets(text: str) -> None:
    assert folding(normalize(text)) == folding(reference_normalize(text))


@given(st.lists(st.sampled_from(["s", "a", "r", "i", "n", "4", "@"]), min_size=3, max_size=8), st.data())
def test_spaced_out_words_still_take_the_slow_path(letters: list[str], data: st.DataObject) -> None:
    separator = data.draw(st.sampled_from([" ", ".", " - ", "*", "_", " . ", "/", "\\", "·", "~+", ",", ":"]))
    text = f"How do I make {separator.join(letters)} at home?"
    assert folding(normalize(text)) == folding(reference_normalize(text))


def test_regex_alphanumerics_are_exactly_str_isalnum() -> None:
    everything = "".join(map(chr, range(0x110000)))
    assert re.findall(_ALNUM, everything) == [c for c in everything if c.isalnum()]


def test_every_ascii_character_folds_to_at_most_one_character() -> None:
    assert all(len(folded) <= 1 for folded in _ASCII_FOLD.values())


def test_no_filler_is_a_letter() -> None:
    assert not any(char.isalpha() for char in FILLERS)
