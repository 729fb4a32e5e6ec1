"""The optional guard model in the gateway: ask it about each message in its conversation.

With ``[classifiers] guard_model`` set in the policy, the scorer hands every
:class:`~inference.pipeline.MessageInContext` of a batch to :class:`ConversationGuard`: the
request's last message before inference (Llama Guard target ``User``, or ``Agent`` when the
conversation ends with an assistant turn) and every answer window after it (target ``Agent``).
The guard model is served by the configured backend and asked through
:class:`~inference.classifiers.GuardLayer`; its verdicts are folded into the classifier stack's
assessment of the same text by the scorer (``inference/scoring.py``).

Fail closed: an unparseable verdict, a backend failure, an empty answer or a missed deadline
refuses the request (:class:`~inference.errors.Refused` at stage ``guard``: HTTP 503); a guard
that cannot answer is never read as "safe". The guard's own generations bypass the pipeline: they
are not verdicts, are never audited, and their text is dropped once parsed. Logs carry the
failure's type only.

Prompt and output format: https://github.com/meta-llama/PurpleLlama/blob/main/Llama-Guard3/8B/MODEL_CARD.md
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Literal

from inference.classifiers import GuardLayer, GuardVerdict
from inference.errors import Refused
from inference.pipeline import MessageInContext

log = logging.getLogger("veritee.gateway")

STAGE = "guard"


def target_role(item: MessageInContext) -> Literal["User", "Agent"]:
    """Llama Guard's name for the role of the message judged: the assistant is the ``Agent``."""
    return "Agent" if item.conversation[-1].role == "assistant" else "User"


class ConversationGuard:
    """Runs a :class:`GuardLayer` on messages in context, all within one deadline."""

    def __init__(self, layer: GuardLayer, timeout_s: float) -> None:
        if timeout_s <= 0:
            raise ValueError("the guard needs a positive timeout")
        self._layer = layer
        self._timeout = timeout_s

    @property
    def layer_name(self) -> str:
        """The name the classifier stack lists among the layers that fired when the guard lent evidence."""
        return self._layer.name

    async def verdicts(self, context: Sequence[MessageInContext]) -> Mapping[int, GuardVerdict]:
        """The guard's verdict per text index; raises :class:`Refused` if any one is missing.

        The checks run concurrently; the first failure cancels the others (aborting their
        generations in the backend).
        """
        if len({item.index for item in context}) != len(context):
            raise ValueError("each text may be judged in one context only")
        if not context:
            return {}
        try:
            async with asyncio.timeout(self._timeout):
                async with asyncio.TaskGroup() as group:
                    tasks = {
                        item.index: group.create_task(self._layer.check(item.conversation, target_role(item)))
                        for item in context
                    }
        except TimeoutError as exc:
            log.warning("guard model missed its %.1f s deadline; request refused", self._timeout)
            raise Refused(STAGE) from exc
        except Exception as exc:  # the checks' failures, gathered by the task group
            causes = exc.exceptions if isinstance(exc, ExceptionGroup) else (exc,)
            kinds = sorted({type(cause).__name__ for cause in causes})
            log.warning("guard model failed (%s); request refused", ", ".join(kinds))
            raise Refused(STAGE) from exc
        return {index: task.result() for index, task in tasks.items()}
