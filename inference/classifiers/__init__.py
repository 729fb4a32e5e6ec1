"""Safety classifiers: normalisation, pattern lists, a learned model, optional embedding and guard.

The gateway's whole interface::

    classifier = load_classifiers(ClassifierConfig(manifest=manifest_from_claims(policy_entries)))
    assessment = classifier.assess(text)            # sync, pure, thread-safe
    assessment.confidence[Category.CHEM]             # calibrated, in [0, 1]
    assessment.spans                                 # original-text offsets to redact
    assessment.fired[Category.CHEM]                  # layers that fired; >= 2 for >= 0.999

Every failure raises a :class:`ClassifierError`; nothing ever degrades to "safe".
"""

from inference.classifiers.assessment import Assessment, LayerScores, Span
from inference.classifiers.categories import CATEGORIES, Category
from inference.classifiers.classifier import SafetyClassifier
from inference.classifiers.combine import DISCLOSURE_THRESHOLD
from inference.classifiers.errors import (
    ArtefactCorrupt,
    ArtefactError,
    ArtefactMissing,
    ClassifierConfigError,
    ClassifierError,
    ClassifierInputError,
    GuardBackendError,
    GuardError,
    GuardVerdictError,
    LayerError,
    ManifestMismatch,
)
from inference.classifiers.guard import (
    GUARD_CATEGORIES,
    GuardLayer,
    GuardTurn,
    GuardVerdict,
    build_guard_prompt,
    parse_guard_verdict,
)
from inference.classifiers.loader import ClassifierConfig, load_classifiers
from inference.classifiers.manifest import (
    ArtefactRef,
    manifest_from_claims,
    shipped_manifest,
    verify_manifest,
)
from inference.classifiers.normalize import NormalizedText, normalize

__all__ = [
    "CATEGORIES",
    "DISCLOSURE_THRESHOLD",
    "GUARD_CATEGORIES",
    "ArtefactCorrupt",
    "ArtefactError",
    "ArtefactMissing",
    "ArtefactRef",
    "Assessment",
    "Category",
    "ClassifierConfig",
    "ClassifierConfigError",
    "ClassifierError",
    "ClassifierInputError",
    "GuardBackendError",
    "GuardError",
    "GuardLayer",
    "GuardTurn",
    "GuardVerdict",
    "GuardVerdictError",
    "LayerError",
    "LayerScores",
    "ManifestMismatch",
    "NormalizedText",
    "SafetyClassifier",
    "Span",
    "build_guard_prompt",
    "load_classifiers",
    "manifest_from_claims",
    "normalize",
    "parse_guard_verdict",
    "shipped_manifest",
    "verify_manifest",
]
