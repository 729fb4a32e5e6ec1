"""The risk categories the classifiers score, as named in ``policy.toml`` and audit entries.

``csam`` (child sexual abuse material and the grooming of children), ``bio`` (biological weapons),
``chem`` (chemical, radiological, nuclear and explosive weapons: the rest of CBRNE, as in the
MLCommons "indiscriminate weapons" hazard that Llama Guard's S9 names) and ``cyber`` (malware,
intrusion and attacks on critical infrastructure). The order of :data:`CATEGORIES` is the column
order of every weight matrix and calibration table shipped under ``data/``.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    CSAM = "csam"
    BIO = "bio"
    CHEM = "chem"
    CYBER = "cyber"


CATEGORIES: tuple[Category, ...] = tuple(Category)
