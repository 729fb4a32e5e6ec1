"""Adapter between the pipeline's :class:`~inference.pipeline.Scorer` and the classifier stack.

The stack is synchronous and CPU-bound. Small batches run inline (a thread hop costs more than
scoring a few hundred characters); larger ones run on a worker thread under the policy's deadline.
Either way a failure or a missed deadline raises, and the pipeline refuses the request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence

from inference.classifiers import Assessment, SafetyClassifier
from inference.errors import Refused
from inference.gates import Span, TextAssessment

#: Batches up to this many characters are scored on the event loop itself.
INLINE_CHARS = 2048


def to_text_assessment(assessment: Assessment) -> TextAssessment:
    return TextAssessment(
        scores={str(category): value for category, value in assessment.confidence.items()},
        spans=tuple(Span(s.start, s.end, str(s.category)) for s in assessment.spans),
    )


class ClassifierScorer:
    def __init__(
        self, classifier: SafetyClassifier, timeout_s: float, executor: concurrent.futures.Executor
    ) -> None:
        self._classifier = classifier
        self._timeout = timeout_s
        self._executor = executor

    def _assess_all(self, texts: Sequence[str]) -> list[TextAssessment]:
        return [to_text_assessment(self._classifier.assess(text)) for text in texts]

    async def assess(self, texts: Sequence[str]) -> list[TextAssessment]:
        if sum(len(t) for t in texts) <= INLINE_CHARS:
            return self._assess_all(texts)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._assess_all, texts), self._timeout
            )
        except TimeoutError as exc:
            raise Refused("classifier") from exc
