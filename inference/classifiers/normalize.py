"""Layer 1: fold a text into the canonical form every other layer reads, keeping offsets.

Obfuscations undone (each has a unit test):

* compatibility forms (full-width, mathematical letters, ligatures, circled digits): Unicode NFKD
  (UAX #15) per character, then case folding;
* combining marks (strike-through, accents), zero-width, bidi and other format characters
  (general categories Mn, Me, Cf, Cc): removed;
* confusable letters (Cyrillic and Greek look-alikes, after Unicode TR #39's idea of confusables)
  inside words that also hold Latin letters, or are made only of look-alikes: folded to Latin;
* leetspeak inside words (``s4r1n``, ``m4lw4r3``, ``p@ssw0rd``), leaving numbers, versions and
  ordinals (``4th``, ``x86``, ``CVE-2021-44228``) alone;
* filler characters inside words (``r*i*c*i*n``, ``an_thrax``) and letters spaced out with a
  consistent separator (``s a r i n``, ``s.a.r.i.n``, ``s - a - r - i - n``): joined;
* punctuation: every run of non-alphanumeric characters becomes one space.

The result is lowercase words separated by single spaces. Because punctuation is gone, the
sentence and clause boundaries of the original (``. ! ? ; :``, line breaks and their CJK and
full-width forms) are kept as :attr:`NormalizedText.breaks`, the offsets where a new sentence or
clause starts; the learned layers score windows of a few of them, so that a request keeps its
score however much text surrounds it (:mod:`inference.classifiers.windows`). Each character of
it remembers the span of original characters it came from, so a match found on the normalised
text maps back to exactly the original characters to redact, invisible characters inside the span
included.

The gateway runs this on every message and every output window, so it skips work that provably
changes nothing: plain ASCII is folded by one table lookup per character, a pass whose trigger
characters or shape do not occur is not run, and words are found by regular expressions instead of
character loops. Each shortcut gives exactly the character-by-character result
(``tests/unit/inference/classifiers/test_classifier_normalize_shortcuts.py`` compares them).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"}
LEET_INTERIOR_ONLY = {"!": "i"}
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w",
}  # fmt: skip
FILLERS = frozenset("*_|·•^~`'’‘\"")
SPACING_SEPARATORS = frozenset(" .-*_|/\\·•~+,:")
MAX_SEPARATOR = 3
MIN_SPACED_RUN = 3

_DROPPED = frozenset(("Mn", "Me", "Mc", "Cf", "Cc", "Cs", "Co", "Cn"))
_fold_cache: dict[str, str] = {}


def _fold_char(char: str) -> str:
    """Compatibility-decompose, drop marks and format characters, case-fold; cached per char."""
    folded = _fold_cache.get(char)
    if folded is not None:
        return folded
    if char.isspace():
        folded = " "
    else:
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", char).casefold())
        kept = "".join(part for part in decomposed if unicodedata.category(part) not in _DROPPED)
        folded = unicodedata.normalize("NFKC", kept)
        if folded.isspace():
            folded = " "
    _fold_cache[char] = folded
    return folded


#: Every ASCII character folds to at most one character, so a translation that keeps the length
#: dropped nothing and maps character ``i`` to character ``i``.
_ASCII_FOLD = {code: _fold_char(chr(code)) for code in range(128)}
#: ``[^\W_]`` is exactly ``str.isalnum`` (checked over all of Unicode by a unit test).
_ALNUM = r"[^\W_]"
_LETTERISH = rf"(?:{_ALNUM}|[{re.escape(''.join(sorted({*LEET, *LEET_INTERIOR_ONLY})))}])"
_SEPARATOR = rf"[{re.escape(''.join(sorted(SPACING_SEPARATORS)))}]{{1,{MAX_SEPARATOR}}}"
#: What any spaced-out run contains: MIN_SPACED_RUN isolated letters, one to MAX_SEPARATOR
#: separators apart. Where this never matches, joining spaced letters changes nothing.
_MAYBE_SPACED = re.compile(
    rf"(?<!{_LETTERISH}){_LETTERISH}(?:{_SEPARATOR}{_LETTERISH}){{{MIN_SPACED_RUN - 1}}}(?!{_LETTERISH})"
)
_ALNUM_RUN = re.compile(rf"{_ALNUM}+")
_WORD = re.compile(r"[^ ]+")
_FOLDABLE = re.compile(f"[{re.escape(''.join(sorted({*CONFUSABLES, *LEET, *LEET_INTERIOR_ONLY})))}]")
_FILLER = re.compile(f"[{re.escape(''.join(sorted(FILLERS)))}]")
#: Characters that end a sentence or clause in the ORIGINAL text (ASCII, CJK and full-width forms,
#: ellipsis, Arabic and Devanagari marks, line breaks).
_TERMINATOR = re.compile(
    "[.!?;:\n\r\u2026\u3002\uff01\uff1f\uff1b\uff1a\uff0e\u061f\u06d4\u0964\u203c\u2047-\u2049]"
)


@dataclass(frozen=True)
class NormalizedText:
    """The canonical text and, per character, the ``[start, end)`` span it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    original_length: int
    breaks: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (len(self.text) == len(self.starts) == len(self.ends)):
            raise ValueError("offset tables must have one entry per normalised character")
        if any(not 0 < b < len(self.text) or self.text[b - 1] != " " for b in self.breaks):
            raise ValueError("a break must start a word after a space")
        if any(a >= b for a, b in zip(self.breaks, self.breaks[1:], strict=False)):
            raise ValueError("breaks must be strictly increasing")

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the normalised span ``[start, end)`` to the original span it was built from."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError("span out of range")
        return self.starts[start], self.ends[end - 1]


def _is_letterish(char: str) -> bool:
    return char.isalnum() or char in LEET or char in LEET_INTERIOR_ONLY


def _is_leetish(char: str) -> bool:
    return char.isalpha() or char in LEET or char in LEET_INTERIOR_ONLY


class _Builder:
    """Parallel lists of characters and their original spans, rebuilt by each pass."""

    __slots__ = ("chars", "ends", "starts")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, char: str, start: int, end: int) -> None:
        self.chars.append(char)
        self.starts.append(start)
        self.ends.append(end)


def _fold_ascii(text: str) -> _Builder | None:
    """:func:`_fold` of an ASCII text without control characters; None for any other text."""
    if not text.isascii():
        return None
    folded = text.translate(_ASCII_FOLD)
    if len(folded) != len(text):
        return None
    out = _Builder()
    out.chars, out.starts, out.ends = list(folded), list(range(len(text))), list(range(1, len(text) + 1))
    return out


def _fold(text: str) -> _Builder:
    out = _Builder()
    for index, char in enumerate(text):
        folded = _fold_char(char) if not ("a" <= char <= "z" or char == " ") else char
        if not folded:
            if out.ends and out.chars[-1] != " ":
                out.ends[-1] = index + 1  # The dropped mark belongs to the previous character.
            continue
        for part in folded:
            out.add(part, index, index + 1)
    return out


def _drop_fillers(src: _Builder) -> _Builder:
    """Drop each filler between two letters; the letter before it takes over its span.

    No filler is a letter, so the character kept just before a filler is the one before it.
    """
    chars, n = src.chars, len(src.chars)
    dropped = [
        i
        for i in (found.start() for found in _FILLER.finditer("".join(chars)))
        if 0 < i < n - 1 and chars[i - 1].isalpha() and chars[i + 1].isalpha()
    ]
    if not dropped:
        return src
    out = _Builder()
    kept_from = 0
    for i in dropped:
        out.chars += chars[kept_from:i]
        out.starts += src.starts[kept_from:i]
        out.ends += src.ends[kept_from:i]
        out.ends[-1] = src.ends[i]
        kept_from = i + 1
    out.chars += chars[kept_from:]
    out.starts += src.starts[kept_from:]
    out.ends += src.ends[kept_from:]
    return out


def _join_spaced_letters(src: _Builder) -> _Builder:
    """Join runs like ``s a r i n`` or ``s.a.r.i.n``: single characters, one repeated separator."""
    chars, n = src.chars, len(src.chars)
    out = _Builder()
    i = 0
    while i < n:
        run = _spaced_run(chars, i, n)
        if run is None:
            out.add(chars[i], src.starts[i], src.ends[i])
            i += 1
            continue
        letters, stop = run
        for position, index in enumerate(letters):
            end = src.ends[letters[position + 1] - 1] if position + 1 < len(letters) else src.ends[index]
            out.add(chars[index], src.starts[index], end)
        i = stop
    return out


def _spaced_run(chars: list[str], i: int, n: int) -> tuple[list[int], int] | None:
    """If a spaced-out run starts at ``i``, return its letter indices and the index after it."""
    if not _is_letterish(chars[i]) or (i > 0 and _is_letterish(chars[i - 1])):
        return None
    letters = [i]
    separator: str | None = None
    j = i + 1
    while j < n:
        k = j
        while k < n and k - j < MAX_SEPARATOR and chars[k] in SPACING_SEPARATORS:
            k += 1
        candidate = "".join(chars[j:k])
        if not candidate:
            break
        if separator is None:
            separator = candidate
        if candidate != separator or k >= n or not _is_letterish(chars[k]):
            break
        if k + 1 < n and _is_letterish(chars[k + 1]):
            break
        letters.append(k)
        j = k + 1
    if len(letters) < MIN_SPACED_RUN:
        return None
    return letters, letters[-1] + 1


def _fold_words(src: _Builder) -> None:
    """Fold confusables and leetspeak inside each word, in place (words without a confusable or
    leet character are left as they are)."""
    chars = src.chars
    for found in _WORD.finditer("".join(chars)):
        if _FOLDABLE.search(found.group()) is not None:
            i, j = found.span()
            word = chars[i:j]
            _fold_word(word)
            chars[i:j] = word


def _fold_word(word: list[str]) -> None:
    has_latin = any("a" <= c <= "z" for c in word)
    letters = [c for c in word if c.isalpha()]
    if letters and (has_latin or all(c in CONFUSABLES for c in letters)):
        for index, char in enumerate(word):
            word[index] = CONFUSABLES.get(char, char)
    leet_positions = [i for i, c in enumerate(word) if c in LEET or c in LEET_INTERIOR_ONLY]
    if not leet_positions:
        return
    n_letters = sum(1 for c in word if c.isalpha())
    interior = {
        i
        for i in leet_positions
        if 0 < i < len(word) - 1
        and _is_leetish(word[i - 1])
        and _is_leetish(word[i + 1])
        and (word[i - 1].isalpha() or word[i + 1].isalpha())
    }
    if not interior or n_letters < 2 or n_letters * 4 < len(word):
        return
    for i in leet_positions:
        if word[i] in LEET:
            word[i] = LEET[word[i]]
        elif i in interior:
            word[i] = LEET_INTERIOR_ONLY[word[i]]


def _collapse(src: _Builder, original_length: int) -> NormalizedText:
    """Turn every run of non-alphanumerics into one space and trim both ends."""
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for found in _ALNUM_RUN.finditer("".join(src.chars)):
        i, j = found.span()
        if words:
            # The space stands for the gap between the two words (or, inside one
            # decomposed character such as "¼", for that character).
            start = src.starts[i]
            words.append(" ")
            starts.append(min(ends[-1], start))
            ends.append(max(ends[-1], start))
        words.append(found.group())
        starts.extend(src.starts[i:j])
        ends.extend(src.ends[i:j])
    return NormalizedText("".join(words), tuple(starts), tuple(ends), original_length)


def with_breaks(original: str, normalized: NormalizedText) -> NormalizedText:
    """Mark where sentences and clauses start: after each space of the normalised text whose
    original gap holds a terminator. Terminators inside a joined word (``s.a.r.i.n``) are part
    of that word's span and mark nothing."""
    breaks: list[int] = []
    for found in _TERMINATOR.finditer(original):
        after = bisect.bisect_right(normalized.starts, found.start())
        starts_word = 0 < after < len(normalized.text) and normalized.text[after - 1] == " "
        if starts_word and (not breaks or breaks[-1] < after):
            breaks.append(after)
    return NormalizedText(
        normalized.text, normalized.starts, normalized.ends, normalized.original_length, tuple(breaks)
    )


def normalize(text: str) -> NormalizedText:
    """Fold ``text`` to the canonical form; see the module docstring for what is undone."""
    folded = _drop_fillers(_fold_ascii(text) or _fold(text))
    if _MAYBE_SPACED.search("".join(folded.chars)) is not None:
        folded = _join_spaced_letters(folded)
    _fold_words(folded)
    return with_breaks(text, _collapse(folded, len(text)))
