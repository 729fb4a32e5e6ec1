"""The classifier package's error tree.

Every failure of a layer, an artefact or the guard model is an error: nothing here ever degrades
to "safe". The gateway maps the root to a fail-closed refusal (HTTP 503, no content)::

    ClassifierError
    ├── ClassifierConfigError   an impossible configuration (no layer enabled, unknown layer)
    ├── ClassifierInputError    the value to classify is not text
    ├── ArtefactError           a shipped artefact cannot be trusted or used
    │   ├── ArtefactMissing     the file is absent or unreadable
    │   ├── ArtefactCorrupt     the bytes do not parse, or their shape/values are wrong
    │   └── ManifestMismatch    id, version or SHA-256 differ from the expected manifest
    ├── LayerError              a layer raised while scoring (wraps the cause)
    └── GuardError              the guard model layer failed
        ├── GuardBackendError   the backend raised or returned no text
        └── GuardVerdictError   the guard's answer is not a well-formed verdict

Messages name artefact ids, layer names, sizes and hashes; never the classified text.
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Root of every error raised by ``inference.classifiers``."""


class ClassifierConfigError(ClassifierError, ValueError):
    """The classifier configuration cannot be satisfied."""


class ClassifierInputError(ClassifierError, TypeError):
    """The value given to a classifier is not a ``str``."""


class ArtefactError(ClassifierError):
    """An artefact (pattern list, weights, calibration) is unusable."""

    def __init__(self, message: str, artefact_id: str) -> None:
        super().__init__(f"{message} (artefact {artefact_id!r})")
        self.artefact_id = artefact_id


class ArtefactMissing(ArtefactError):
    """The artefact's file is absent or cannot be read."""


class ArtefactCorrupt(ArtefactError):
    """The artefact's bytes do not parse or hold invalid values."""


class ManifestMismatch(ArtefactError):
    """The artefact on disk is not the one the manifest names."""


class LayerError(ClassifierError):
    """A layer failed while scoring; the request must be refused."""

    def __init__(self, layer: str) -> None:
        super().__init__(f"classifier layer {layer!r} failed")
        self.layer = layer


class GuardError(ClassifierError):
    """The guard model layer failed."""


class GuardBackendError(GuardError):
    """The backend serving the guard model failed or produced no text."""


class GuardVerdictError(GuardError):
    """The guard model's output is not a verdict this parser accepts."""
