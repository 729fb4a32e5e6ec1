"""Adapter between the pipeline's :class:`~inference.pipeline.Scorer` and the classifier stack.

The stack is synchronous and CPU-bound. Small batches run inline (a thread hop costs more than
scoring a few hundred characters); larger ones run on a worker thread under the policy's deadline.
Either way a failure or a missed deadline raises, and the pipeline refuses the request.

With a guard model configured (``inference/guarding.py``), the texts the pipeline names as messages
in context are first judged by the guard, and each verdict is folded into the stack's assessment of
its text (``SafetyClassifier.assess(text, guard=verdict)``). The guard judges a whole message and
names no span, so a category it lent evidence to is flagged over the whole text: a ``redact``
action then removes the whole text rather than nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping, Sequence

from inference.classifiers import Assessment, GuardVerdict, SafetyClassifier
from inference.errors import Refused
from inference.gates import Span, TextAssessment
from inference.guarding import ConversationGuard
from inference.pipeline import MessageInContext

#: Batches up to this many characters are scored on the event loop itself.
INLINE_CHARS = 2048


def to_text_assessment(assessment: Assessment, whole: tuple[Span, ...] = ()) -> TextAssessment:
    return TextAssessment(
        scores={str(category): value for category, value in assessment.confidence.items()},
        spans=(*(Span(s.start, s.end, str(s.category)) for s in assessment.spans), *whole),
    )


class ClassifierScorer:
    def __init__(
        self,
        classifier: SafetyClassifier,
        timeout_s: float,
        executor: concurrent.futures.Executor,
        guard: ConversationGuard | None = None,
    ) -> None:
        self._classifier = classifier
        self._timeout = timeout_s
        self._executor = executor
        self._guard = guard

    def _assess_one(self, text: str, verdict: GuardVerdict | None) -> TextAssessment:
        assessment = self._classifier.assess(text, guard=verdict)
        if verdict is None or self._guard is None:
            return to_text_assessment(assessment)
        guard = self._guard.layer_name
        whole = tuple(
            Span(0, len(text), str(category))
            for category, layers in assessment.fired.items()
            if guard in layers
        )
        return to_text_assessment(assessment, whole)

    def _assess_all(self, texts: Sequence[str], verdicts: Mapping[int, GuardVerdict]) -> list[TextAssessment]:
        return [self._assess_one(text, verdicts.get(i)) for i, text in enumerate(texts)]

    async def assess(
        self, texts: Sequence[str], context: Sequence[MessageInContext] = ()
    ) -> list[TextAssessment]:
        verdicts: Mapping[int, GuardVerdict] = {}
        if self._guard is not None:
            if any(item.index >= len(texts) for item in context):
                raise ValueError("a message in context points past the batch")
            verdicts = await self._guard.verdicts(context)
        if sum(len(t) for t in texts) <= INLINE_CHARS:
            return self._assess_all(texts, verdicts)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._assess_all, texts, verdicts), self._timeout
            )
        except TimeoutError as exc:
            raise Refused("classifier") from exc
