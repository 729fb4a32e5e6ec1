"""The safety pipeline: INPUT_CLASSIFY → PRE_GATE → INFERENCE → OUTPUT_CLASSIFY → POST_GATE → VERDICT_EMIT.

Pure orchestration over three protocols (a :class:`Scorer`, a model :class:`Backend`, a
:class:`Recorder` that makes verdicts durable); no HTTP, no storage, no threads of its own.

Invariants, each enforced here:

* every message of the conversation is classified (system, user, assistant, tool, tool-call
  arguments, offered tool definitions), not only the last; the last message and every answer are
  also handed to the scorer in their conversation (:class:`MessageInContext`), for a scorer that
  judges a message in context (the guard model, ``inference/guarding.py``);
* nothing the model wrote reaches the caller before it was classified and allowed;
* nothing reaches the caller before a verdict is durable: a non-streamed answer after its final
  verdict; a streamed answer after its ``input`` verdict, and its end (finish reasons, usage,
  ``[DONE]``) after its ``final`` verdict (docs/adr/0004-streaming-verdicts.md);
* any failure of a stage that must succeed raises :class:`~inference.errors.Refused` (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from audit_log.formats import jcs
from inference.backends.base import Backend, Chunk, GenerationRequest, Message, ToolCall, Usage
from inference.backends.errors import BackendError, BackendRejected
from inference.errors import BadRequest, GatewayError, Pushback, Refused, SafetyBlock
from inference.gates import GateDecision, TextAssessment, decide, redact
from inference.policy import Policy
from inference.streaming import Holdback, Window
from inference.verdicts import (
    NO_CATEGORY,
    Action,
    ExternalVerdict,
    Outcome,
    Phase,
    VerdictRecord,
    new_verdict_id,
    rounded_timestamp,
)


@dataclass(frozen=True)
class MessageInContext:
    """``texts[index]`` of a scoring batch is (part of) ``conversation[-1]``, read in that conversation.

    For the input that is the last message of the request; for an answer, the request's messages
    followed by the answer so far as an ``assistant`` message (its tool calls included).
    """

    index: int
    conversation: tuple[Message, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if self.index < 0 or not self.conversation:
            raise ValueError("a message in context needs a text index and a non-empty conversation")


class Scorer(Protocol):
    """Classifies texts; raises on any failure or timeout (the pipeline refuses then).

    ``context`` names the texts that are whole messages of a conversation; a scorer that only reads
    texts may ignore it.
    """

    async def assess(
        self, texts: Sequence[str], context: Sequence[MessageInContext] = ()
    ) -> list[TextAssessment]: ...


@dataclass(frozen=True)
class Evidence:
    """What only a sealed disclosure may carry about a blocked request; never logged or exported.

    ``content_sha256`` is SHA-256 of the JCS list of the texts that reached the deciding category's
    threshold at the deciding stage.
    """

    session_id: str = field(repr=False)
    content_sha256: str | None = field(default=None, repr=False)


class Recorder(Protocol):
    """Makes a verdict durable (audit entry, signed verdict, disclosures); returns its log index."""

    async def record(self, record: VerdictRecord, decision: GateDecision, evidence: Evidence) -> int: ...


@dataclass(frozen=True)
class Choice:
    index: int
    text: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str


@dataclass(frozen=True)
class Completion:
    verdict: ExternalVerdict
    choices: tuple[Choice, ...]
    usage: Usage


@dataclass(frozen=True)
class TextEvent:
    index: int
    text: str


@dataclass(frozen=True)
class ToolCallsEvent:
    index: int
    tool_calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class FinishEvent:
    index: int
    reason: str


@dataclass(frozen=True)
class UsageEvent:
    usage: Usage


@dataclass(frozen=True)
class ErrorEvent:
    """The stream is cut short, failing closed; ``stage`` says which stage failed."""

    stage: str


StreamEvent = TextEvent | ToolCallsEvent | FinishEvent | UsageEvent | ErrorEvent

_STRENGTH: dict[Action, int] = {"allow": 0, "redact": 1, "block": 2}


def combine(a: GateDecision, b: GateDecision) -> GateDecision:
    """The stronger of two decisions, carrying the highest score per category of both."""
    stronger = a
    if _STRENGTH[b.action] > _STRENGTH[a.action] or (
        _STRENGTH[b.action] == _STRENGTH[a.action] and b.confidence > a.confidence
    ):
        stronger = b
    scores = dict(a.scores)
    for category, value in b.scores.items():
        scores[category] = max(scores.get(category, 0.0), value)
    return replace(stronger, scores=scores)


def conversation_texts(request: GenerationRequest) -> list[str]:
    """Every piece of caller-supplied text the model will see, message contents first per message."""
    texts: list[str] = []
    for message in request.messages:
        texts.append(message.content)
        texts.extend(call_text(call) for call in message.tool_calls)
    texts.extend(f"{tool.name}\n{tool.description}\n{tool.parameters_json}" for tool in request.tools)
    return texts


def _content_positions(request: GenerationRequest) -> list[int]:
    """Where each message's content sits in :func:`conversation_texts`."""
    positions, position = [], 0
    for message in request.messages:
        positions.append(position)
        position += 1 + len(message.tool_calls)
    return positions


def _flags_structured(
    request: GenerationRequest, assessments: Sequence[TextAssessment], decision: GateDecision
) -> bool:
    contents = set(_content_positions(request))
    return any(
        span.category in decision.redact_categories
        for i, assessment in enumerate(assessments)
        if i not in contents
        for span in assessment.spans
    )


def _redact_contents(
    request: GenerationRequest, assessments: Sequence[TextAssessment], decision: GateDecision
) -> GenerationRequest:
    messages = tuple(
        replace(message, content=redact(message.content, assessments[i].spans, decision.redact_categories))
        for message, i in zip(request.messages, _content_positions(request), strict=True)
    )
    return replace(request, messages=messages)


def input_context(request: GenerationRequest) -> tuple[MessageInContext, ...]:
    """The request's last message, in its conversation, at its place in :func:`conversation_texts`."""
    if not request.messages:
        return ()
    return (MessageInContext(_content_positions(request)[-1], request.messages),)


def answer_context(
    request: GenerationRequest, index: int, text: str, calls: Sequence[ToolCall] = ()
) -> MessageInContext:
    """An answer (so far) as the ``assistant`` message that follows the request's messages."""
    answer = Message(role="assistant", content=text, tool_calls=tuple(calls))
    return MessageInContext(index, (*request.messages, answer))


def call_text(call: ToolCall) -> str:
    """A tool call as it is classified: its name and its arguments as the tool will read them.

    Arguments are JSON text, where an escape such as ``\\u0073`` hides its character from a
    classifier reading the raw text while every JSON parser decodes it. Valid JSON is re-serialised
    without escapes before it is classified; anything else is classified as it was sent.
    """
    try:
        readable = json.dumps(json.loads(call.arguments), ensure_ascii=False)
        readable.encode()  # an escaped lone surrogate cannot be classified decoded: keep it as sent
    except (ValueError, RecursionError):
        readable = call.arguments
    return f"{call.name}\n{readable}"


@dataclass
class _Exchange:
    """One request going through the pipeline: its verdict id and the numbers the audit keeps."""

    verdict_id: str
    request: GenerationRequest
    session_id: str
    stream: bool
    input_chars: int
    output_chars: int = 0
    usage: Usage = field(default_factory=lambda: Usage(0, 0))

    @classmethod
    def begin(cls, request: GenerationRequest, session_id: str | None, stream: bool) -> _Exchange:
        chars = sum(len(t) for t in conversation_texts(request))
        verdict_id = new_verdict_id()
        return cls(verdict_id, request, session_id or verdict_id, stream, chars)


def evidence_hash(
    texts: Sequence[str], assessments: Sequence[TextAssessment], category: str, threshold: float
) -> str | None:
    """SHA-256 over the texts that reached ``threshold`` for ``category`` (JCS list of strings)."""
    flagged = [t for t, a in zip(texts, assessments, strict=True) if a.scores.get(category, 0.0) >= threshold]
    return hashlib.sha256(jcs.canonicalize(flagged)).hexdigest() if flagged else None


class Pipeline:
    def __init__(
        self,
        *,
        policy: Policy,
        scorer: Scorer,
        backend: Backend,
        recorder: Recorder,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.backend = backend
        self._scorer = scorer
        self._recorder = recorder
        self._clock = clock

    # -- stages shared by both modes ----------------------------------------------------------

    async def classify(
        self, texts: Sequence[str], context: Sequence[MessageInContext] = ()
    ) -> list[TextAssessment]:
        """INPUT_CLASSIFY / OUTPUT_CLASSIFY."""
        try:
            assessments = await self._scorer.assess(texts, context)
        except GatewayError:
            raise
        except Exception as exc:
            raise Refused("classifier") from exc
        if len(assessments) != len(texts):
            raise Refused("classifier")
        return assessments

    def gate(self, assessments: Sequence[TextAssessment]) -> GateDecision:
        """PRE_GATE / POST_GATE."""
        try:
            return decide(assessments, self.policy.model)
        except GatewayError:
            raise
        except Exception as exc:
            raise Refused("policy") from exc

    async def emit(
        self,
        exchange: _Exchange,
        phase: Phase,
        decided_at: Literal["input", "output"],
        decision: GateDecision,
        outcome: Outcome,
        content_sha256: str | None = None,
    ) -> ExternalVerdict:
        """VERDICT_EMIT: build the verdict and return only once it is durable."""
        verdict = ExternalVerdict(
            verdict_id=exchange.verdict_id,
            risk_category=decision.risk_category if decision.action != "allow" else NO_CATEGORY,
            action=decision.action,
            policy_version=self.policy.version,
            timestamp=rounded_timestamp(self._clock()),
        )
        record = VerdictRecord(
            verdict=verdict,
            phase=phase,
            decided_at=decided_at,
            outcome=outcome,
            scores=decision.scores,
            model=exchange.request.model,
            backend=self.backend.name,
            stream=exchange.stream,
            messages=len(exchange.request.messages),
            input_chars=exchange.input_chars,
            output_chars=exchange.output_chars,
            prompt_tokens=exchange.usage.prompt_tokens,
            completion_tokens=exchange.usage.completion_tokens,
        )
        try:
            await self._recorder.record(record, decision, Evidence(exchange.session_id, content_sha256))
        except GatewayError:
            raise
        except Exception as exc:
            raise Refused("audit") from exc
        return verdict

    def evidence(
        self, texts: Sequence[str], assessments: Sequence[TextAssessment], decision: GateDecision
    ) -> str | None:
        rule = self.policy.model.categories.get(decision.risk_category)
        if rule is None:
            return None
        return evidence_hash(texts, assessments, decision.risk_category, rule.threshold)

    async def pre_gate(self, exchange: _Exchange) -> GateDecision:
        """Classify the whole conversation; block (451) or redact the request in place."""
        request = exchange.request
        texts = conversation_texts(request)
        assessments = await self.classify(texts, input_context(request))
        decision = self.gate(assessments)
        if decision.action == "redact" and _flags_structured(request, assessments, decision):
            # Spans in tool calls or tool definitions cannot be cut without breaking their JSON.
            decision = replace(decision, action="block")
        if decision.action == "block":
            evidence = self.evidence(texts, assessments, decision)
            raise SafetyBlock(await self.emit(exchange, "final", "input", decision, "blocked", evidence))
        if decision.action == "redact":
            exchange.request = _redact_contents(request, assessments, decision)
        return decision

    # -- non-streaming ------------------------------------------------------------------------

    async def complete(self, request: GenerationRequest, session_id: str | None = None) -> Completion:
        exchange = _Exchange.begin(request, session_id, stream=False)
        input_decision = await self.pre_gate(exchange)

        texts: dict[int, list[str]] = {}
        calls: dict[int, list[ToolCall]] = {}
        finish: dict[int, str] = {}
        async for item in _guarded(self.backend.generate(exchange.request)):
            if isinstance(item, Usage):
                exchange.usage = item
                continue
            texts.setdefault(item.index, []).append(item.text)
            calls.setdefault(item.index, []).extend(item.tool_calls)
            if item.finish_reason is not None:
                finish[item.index] = item.finish_reason
        indices = sorted(set(texts) | set(calls) | set(finish)) or [0]
        outputs = {i: "".join(texts.get(i, [])) for i in indices}
        exchange.output_chars = sum(len(t) for t in outputs.values())

        output_texts = [outputs[i] for i in indices]
        call_texts = [call_text(c) for i in indices for c in calls.get(i, [])]
        answers = [
            answer_context(exchange.request, position, outputs[i], calls.get(i, ()))
            for position, i in enumerate(indices)
        ]
        all_assessments = await self.classify([*output_texts, *call_texts], answers)
        text_assessments = all_assessments[: len(output_texts)]
        call_assessments = all_assessments[len(output_texts) :]
        output_decision = self.gate(all_assessments)
        if output_decision.action == "redact" and any(
            s.category in output_decision.redact_categories for a in call_assessments for s in a.spans
        ):
            output_decision = replace(output_decision, action="block")
        decision = combine(input_decision, output_decision)
        if decision.action == "block":
            evidence = self.evidence([*output_texts, *call_texts], all_assessments, decision)
            raise SafetyBlock(await self.emit(exchange, "final", "output", decision, "blocked", evidence))
        if output_decision.action == "redact":
            for i, assessment in zip(indices, text_assessments, strict=True):
                outputs[i] = redact(outputs[i], assessment.spans, output_decision.redact_categories)
        verdict = await self.emit(exchange, "final", "output", decision, "completed")
        choices = tuple(
            Choice(i, outputs[i], tuple(calls.get(i, [])), finish.get(i, "stop")) for i in indices
        )
        return Completion(verdict, choices, exchange.usage)

    # -- streaming ----------------------------------------------------------------------------

    async def start_stream(self, request: GenerationRequest, session_id: str | None = None) -> StreamSession:
        """Run the pipeline up to the first releasable output.

        A block decided before anything is released raises :class:`SafetyBlock` here, so the HTTP
        layer can still answer 451.
        """
        exchange = _Exchange.begin(request, session_id, stream=True)
        decision = await self.pre_gate(exchange)
        session = StreamSession(self, exchange, decision)
        await session.prime()
        return session


async def _guarded(source: AsyncGenerator[Chunk | Usage, None]) -> AsyncGenerator[Chunk | Usage, None]:
    """Backend errors become refusals: a rejected request is the caller's 400, the rest a 503.

    Closing this generator closes the backend's at once, which aborts the generation; leaving that
    to garbage collection would let the model run on after a block or a caller that went away.
    """
    try:
        async for item in source:
            yield item
    except BackendRejected as exc:
        raise BadRequest("the model rejected the request (for example, the prompt is too long)") from exc
    except BackendError as exc:
        raise Refused("backend") from exc
    finally:
        with contextlib.suppress(Exception):
            await source.aclose()


def _failed_stage(exc: GatewayError) -> str:
    if isinstance(exc, Refused):
        return exc.stage
    return "audit" if isinstance(exc, Pushback) else "backend"


class StreamSession:
    """One streamed answer: windows released after classification, verdicts around them."""

    def __init__(self, pipeline: Pipeline, exchange: _Exchange, input_decision: GateDecision) -> None:
        self._pipeline = pipeline
        self._exchange = exchange
        self._decision = input_decision
        streaming = pipeline.policy.model.streaming
        self._window = (streaming.window_chars, streaming.overlap_chars)
        self._holdbacks: dict[int, Holdback] = {}
        self._released: dict[int, list[str]] = {}
        self._tool_calls: dict[int, list[ToolCall]] = {}
        self._closed_choices: set[int] = set()
        self._ready: list[StreamEvent] = []
        # Finish reasons end an answer, so they wait for the final verdict (ADR 0004).
        self._held_finishes: list[FinishEvent] = []
        self._source = _guarded(pipeline.backend.generate(exchange.request))
        self._finished = False
        self._input_recorded = False

    @property
    def verdict_id(self) -> str:
        return self._exchange.verdict_id

    async def prime(self) -> None:
        """Pull from the model until something can be released, then record the input verdict."""
        try:
            while not self._ready and not self._finished:
                await self._pull()
            await self._record_input()
        except BaseException:
            await self._close_source()
            raise

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Released events in order; the last ones follow the durable final verdict."""
        try:
            while True:
                while self._ready:
                    yield self._ready.pop(0)
                if self._finished:
                    return
                await self._pull()
        except GatewayError as exc:
            self._finished = True
            await self._close_source()
            yield ErrorEvent(_failed_stage(exc))
            await asyncio.shield(self._record_end("failed"))
        finally:
            if not self._finished:
                # The caller went away: stop the model and still account for the request.
                self._finished = True
                await self._close_source()
                await asyncio.shield(self._record_end("aborted"))

    # -- internals ----------------------------------------------------------------------------

    def _holdback(self, index: int) -> Holdback:
        if index not in self._holdbacks:
            self._holdbacks[index] = Holdback(*self._window)
        return self._holdbacks[index]

    async def _record_input(self) -> None:
        if not self._input_recorded:
            await self._pipeline.emit(self._exchange, "input", "input", self._decision, "completed")
            self._input_recorded = True

    async def _record_end(self, outcome: Outcome) -> None:
        with contextlib.suppress(Exception):
            await self._pipeline.emit(self._exchange, "final", "output", self._decision, outcome)

    async def _pull(self) -> None:
        """Consume one backend item and queue whatever became releasable."""
        try:
            item = await anext(self._source)
        except StopAsyncIteration:
            await self._finish_all()
            return
        if isinstance(item, Usage):
            self._exchange.usage = item
            return
        if item.text:
            self._exchange.output_chars += len(item.text)
            holdback = self._holdback(item.index)
            holdback.push(item.text)
            while not self._finished and (window := holdback.next_window()) is not None:
                await self._release(item.index, window)
        if item.tool_calls:
            self._holdback(item.index)
            self._tool_calls.setdefault(item.index, []).extend(item.tool_calls)
        if item.finish_reason is not None and not self._finished:
            await self._finish_choice(item.index, item.finish_reason)

    def _note(self, decision: GateDecision) -> None:
        self._decision = combine(self._decision, decision)

    def _answer_so_far(self, index: int, more: str = "") -> str:
        return "".join(self._released.get(index, ())) + more

    async def _release(self, index: int, window: Window) -> None:
        answer = answer_context(self._exchange.request, 0, self._answer_so_far(index, window.text))
        (assessment,) = await self._pipeline.classify([window.context], (answer,))
        decision = self._pipeline.gate([assessment])
        self._note(decision)
        if decision.action == "block":
            await self._block(self._pipeline.evidence([window.context], [assessment], decision))
            return
        text = window.text
        if decision.action == "redact":
            # Spans below the offset were released already; the floor leaves that prefix untouched.
            redacted = redact(window.context, assessment.spans, decision.redact_categories, window.offset)
            text = redacted[window.offset :]
        self._holdback(index).released(text)
        if text:
            self._released.setdefault(index, []).append(text)
            self._ready.append(TextEvent(index, text))

    async def _finish_choice(self, index: int, reason: str) -> None:
        holdback = self._holdback(index)
        while not self._finished and (window := holdback.next_window(final=True)) is not None:
            await self._release(index, window)
        if self._finished:
            return
        calls = tuple(self._tool_calls.pop(index, []))
        if calls:
            call_texts = [call_text(c) for c in calls]
            answer = answer_context(self._exchange.request, 0, self._answer_so_far(index), calls)
            assessments = await self._pipeline.classify(call_texts, (answer,))
            decision = self._pipeline.gate(assessments)
            self._note(decision)
            if decision.action != "allow":
                await self._block(self._pipeline.evidence(call_texts, assessments, decision))
                return
            self._ready.append(ToolCallsEvent(index, calls))
        # Closed only now: a block in its last window or its tool calls still ends it with content_filter.
        self._closed_choices.add(index)
        self._held_finishes.append(FinishEvent(index, reason))

    async def _finish_all(self) -> None:
        # A backend that ended without a finish reason for some choice still gets it flushed.
        for index in sorted(set(self._holdbacks) - self._closed_choices):
            await self._finish_choice(index, "stop")
            if self._finished:
                return
        await self._record_input()
        await self._pipeline.emit(self._exchange, "final", "output", self._decision, "completed")
        self._finished = True
        self._ready.extend(self._held_finishes)
        self._ready.append(UsageEvent(self._exchange.usage))

    async def _block(self, content_sha256: str | None) -> None:
        """Cut the stream: the block is recorded, then every open choice ends with ``content_filter``."""
        await self._close_source()
        self._finished = True
        block = replace(self._decision, action="block")
        verdict = await self._pipeline.emit(
            self._exchange, "final", "output", block, "blocked", content_sha256
        )
        if not self._input_recorded:
            # Nothing was released yet: the HTTP layer can still answer 451.
            raise SafetyBlock(verdict)
        filtered = [FinishEvent(i, "content_filter") for i in set(self._holdbacks) - self._closed_choices]
        finishes: list[FinishEvent] = sorted([*self._held_finishes, *filtered], key=lambda e: e.index)
        self._ready.extend(finishes)
        self._ready.append(UsageEvent(self._exchange.usage))

    async def _close_source(self) -> None:
        with contextlib.suppress(Exception):
            await self._source.aclose()
