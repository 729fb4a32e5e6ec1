"""The guard model in the pipeline: asked before and after inference, folded in, failing closed.

The guard is served by the same backend as the answers. :class:`GuardServingBackend` is that
backend: the real ``local`` backend for the served model, plus a guard model whose verdict the test
scripts per target (``User`` / ``Agent``), as a multi-model server would serve a Llama Guard next to
the main model. With the ``local`` model itself as the guard, the verdict is the local backend's
fixed sentence, which is no verdict at all: that path must refuse, never allow.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import tomllib
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from inference.backends.base import Chunk, GenerationRequest, Message, Sampling, Usage
from inference.backends.errors import BackendUnavailable
from inference.backends.local import LOCAL_MODEL_ID, LocalBackend
from inference.classifiers import ClassifierConfig, GuardLayer, load_classifiers, shipped_manifest
from inference.errors import ConfigError, Refused, SafetyBlock
from inference.gates import REDACTION_MARK, GateDecision
from inference.guarding import ConversationGuard
from inference.pipeline import Evidence, MessageInContext, Pipeline, TextEvent
from inference.policy import Policy, PolicyModel, shipped_policy_bytes
from inference.scoring import ClassifierScorer
from inference.service import load_guard
from inference.verdicts import VerdictRecord

GUARD_MODEL = "llama-guard-3-8b"
CANARY = "CANARY-guard-5d1e-never-in-logs"
BENIGN = "The museum opens at nine and the guided tour of the old harbour takes about an hour. "
CLASSIFIER = load_classifiers(ClassifierConfig(manifest=shipped_manifest()))


@dataclass
class GuardServingBackend:
    """The ``local`` model and a guard model on one backend; the guard's answers are scripted."""

    user: str = "safe"
    agent: str = "safe"
    fail: bool = False
    hang: bool = False
    name: str = "local+guard"
    local: LocalBackend = field(default_factory=LocalBackend)
    prompts: list[str] = field(default_factory=list)
    answered: list[GenerationRequest] = field(default_factory=list)
    abandoned: int = 0

    @property
    def models(self) -> tuple[str, ...]:
        return (LOCAL_MODEL_ID, GUARD_MODEL)

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Chunk | Usage, None]:
        if request.model != GUARD_MODEL:
            self.answered.append(request)
            async for item in self.local.generate(request):
                yield item
            return
        (message,) = request.messages
        self.prompts.append(message.content)
        if self.fail:
            raise BackendUnavailable("the guard model went away")
        finished = False
        try:
            if self.hang:
                await asyncio.sleep(3600)
            agent = "ONLY THE LAST Agent message" in message.content
            yield Chunk(0, self.agent if agent else self.user)
            yield Chunk(0, finish_reason="stop")
            yield Usage(1, 2)
            finished = True
        finally:
            self.abandoned += not finished

    async def aclose(self) -> None:
        """Nothing held."""

    def targets(self) -> list[str]:
        return ["Agent" if "ONLY THE LAST Agent message" in p else "User" for p in self.prompts]


@dataclass
class Recorded:
    records: list[VerdictRecord] = field(default_factory=list)

    async def record(self, record: VerdictRecord, decision: GateDecision, evidence: Evidence) -> int:
        self.records.append(record)
        return len(self.records) - 1


def policy(
    *, guard_model: str | None = GUARD_MODEL, timeout_ms: int = 5_000, window: int = 256, **categories: Any
) -> Policy:
    document = tomllib.loads(shipped_policy_bytes().decode())
    for rule in document["categories"].values():
        rule.pop("authority", None)
        rule.pop("disclosure_threshold", None)
    document["categories"].update(categories)
    if guard_model is not None:
        document["classifiers"].update(guard_model=guard_model, guard_timeout_ms=timeout_ms)
    document["streaming"] = {"window_chars": window, "overlap_chars": 16}
    return Policy(PolicyModel.model_validate(document), "0" * 64, "test")


@pytest.fixture(scope="module")
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def guarded(
    executor: concurrent.futures.Executor,
    backend: GuardServingBackend | LocalBackend,
    rules: Policy | None = None,
) -> tuple[Pipeline, Recorded]:
    rules = rules or policy()
    guard = load_guard(rules, backend)
    assert guard is not None
    recorder = Recorded()
    pipe = Pipeline(
        policy=rules,
        scorer=ClassifierScorer(CLASSIFIER, 5.0, executor, guard=guard),
        backend=backend,
        recorder=recorder,
    )
    return pipe, recorder


def ask(*messages: str | Message, n: int = 1) -> GenerationRequest:
    """A request to the local model; plain strings are user messages."""
    conversation = tuple(m if isinstance(m, Message) else Message("user", m) for m in messages)
    return GenerationRequest("r1", LOCAL_MODEL_ID, conversation, Sampling(n=n, temperature=0.0))


# -- the guard's evidence is folded in -------------------------------------------------------------


async def test_guard_blocks_a_request_the_other_layers_let_through(executor: Any) -> None:
    backend = GuardServingBackend(user="unsafe\nS9")
    pipe, recorder = guarded(executor, backend)
    with pytest.raises(SafetyBlock) as caught:
        await pipe.complete(ask(f"echo: {BENIGN}"))
    assert caught.value.verdict.risk_category in ("bio", "chem")
    assert [(r.decided_at, r.verdict.action) for r in recorder.records] == [("input", "block")]
    assert backend.answered == [], "the model ran although the guard refused the prompt"
    # Without the guard the same request is allowed: the block is the guard's evidence alone.
    unguarded = Pipeline(
        policy=policy(guard_model=None),
        scorer=ClassifierScorer(CLASSIFIER, 5.0, executor),
        backend=backend,
        recorder=Recorded(),
    )
    assert (await unguarded.complete(ask(f"echo: {BENIGN}"))).verdict.action == "allow"


async def test_guard_judges_the_prompt_then_the_answer_in_their_conversation(executor: Any) -> None:
    backend = GuardServingBackend()
    pipe, recorder = guarded(executor, backend)
    completion = await pipe.complete(ask("first question", f"echo: {BENIGN}"))
    assert completion.choices[0].text == BENIGN
    assert backend.targets() == ["User", "Agent"]
    before, after = backend.prompts
    assert f"User: first question\n\nUser: echo: {BENIGN}\n\n<END CONVERSATION>" in before
    assert f"User: echo: {BENIGN}\n\nAgent: {BENIGN}\n\n<END CONVERSATION>" in after
    assert [r.verdict.action for r in recorder.records] == ["allow"]
    # The guard's generations are not verdicts: only the caller's request was recorded.
    assert len(recorder.records) == 1


async def test_a_conversation_ending_with_an_assistant_turn_is_judged_as_the_agent(executor: Any) -> None:
    backend = GuardServingBackend(agent="unsafe\nS14")
    pipe, _ = guarded(executor, backend)
    with pytest.raises(SafetyBlock) as caught:
        await pipe.complete(ask("hello", Message("assistant", BENIGN)))
    assert caught.value.verdict.risk_category == "cyber"
    assert backend.targets() == ["Agent"]


async def test_guard_blocks_an_answer_it_finds_unsafe(executor: Any) -> None:
    backend = GuardServingBackend(agent="unsafe\nS14")
    pipe, recorder = guarded(executor, backend)
    with pytest.raises(SafetyBlock) as caught:
        await pipe.complete(ask(f"echo: {BENIGN}"))
    assert caught.value.verdict.risk_category == "cyber"
    assert [(r.decided_at, r.verdict.action) for r in recorder.records] == [("output", "block")]


async def test_every_choice_is_judged_on_its_own(executor: Any) -> None:
    backend = GuardServingBackend()
    pipe, _ = guarded(executor, backend)
    completion = await pipe.complete(ask(f"echo: {BENIGN}", n=3))
    assert len(completion.choices) == 3
    assert backend.targets() == ["User", "Agent", "Agent", "Agent"]


async def test_guard_finding_in_a_redact_category_redacts_the_whole_answer(executor: Any) -> None:
    rules = policy(cyber={"threshold": 0.5, "action": "redact"})
    pipe, _ = guarded(executor, GuardServingBackend(agent="unsafe\nS14"), rules)
    completion = await pipe.complete(ask(f"echo: {BENIGN}"))
    assert completion.choices[0].text == REDACTION_MARK


async def test_codes_outside_our_categories_change_nothing(executor: Any) -> None:
    pipe, _ = guarded(executor, GuardServingBackend(user="unsafe\nS10,S13", agent="unsafe\nS5"))
    assert (await pipe.complete(ask(f"echo: {BENIGN}"))).verdict.action == "allow"


# -- streaming ---------------------------------------------------------------------------------------


async def test_streamed_windows_are_each_judged_with_the_answer_so_far(executor: Any) -> None:
    backend = GuardServingBackend()
    pipe, _ = guarded(executor, backend, policy(window=64))
    session = await pipe.start_stream(ask(f"echo: {BENIGN * 3}"))
    released = "".join([e.text async for e in session.events() if isinstance(e, TextEvent)])
    assert released == BENIGN * 3
    agent_prompts = [p for p, t in zip(backend.prompts, backend.targets(), strict=True) if t == "Agent"]
    assert len(agent_prompts) == -(-len(BENIGN * 3) // 64)
    # Window k is judged as the answer up to its end: what was released before, then the window.
    for k, prompt in enumerate(agent_prompts):
        so_far = (BENIGN * 3)[: min(64 * (k + 1), len(BENIGN * 3))]
        assert f"Agent: {so_far}\n\n<END CONVERSATION>" in prompt


async def test_unsafe_first_window_is_a_451_before_any_byte(executor: Any) -> None:
    backend = GuardServingBackend(agent="unsafe\nS9")
    pipe, recorder = guarded(executor, backend)
    with pytest.raises(SafetyBlock):
        await pipe.start_stream(ask(f"echo: {BENIGN}"))
    assert [(r.phase, r.verdict.action) for r in recorder.records] == [("final", "block")]


# -- fail closed ------------------------------------------------------------------------------------


async def test_the_local_models_non_verdict_refuses_the_request(executor: Any) -> None:
    rules = policy(guard_model=LOCAL_MODEL_ID)
    pipe, recorder = guarded(executor, LocalBackend(), rules)
    with pytest.raises(Refused) as caught:
        await pipe.complete(ask(f"echo: {BENIGN}"))
    assert caught.value.stage == "guard"
    assert recorder.records == []


@pytest.mark.parametrize("answer", ["", "Safe.", "unsafe", "unsafe\nS99", f"safe {CANARY}"])
async def test_unparseable_verdicts_refuse_without_echoing_anything(
    executor: Any, answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = GuardServingBackend(user=answer)
    pipe, recorder = guarded(executor, backend)
    with caplog.at_level(logging.DEBUG), pytest.raises(Refused) as caught:
        await pipe.complete(ask(f"echo: {CANARY}"))
    assert caught.value.stage == "guard"
    assert (recorder.records, backend.answered) == ([], [])
    assert CANARY not in str(caught.value)
    assert CANARY not in caplog.text
    assert "guard model failed" in caplog.text


async def test_guard_backend_failure_refuses(executor: Any) -> None:
    pipe, recorder = guarded(executor, GuardServingBackend(fail=True))
    with pytest.raises(Refused) as caught:
        await pipe.complete(ask(f"echo: {BENIGN}"))
    assert caught.value.stage == "guard"
    assert recorder.records == []


async def test_a_guard_that_does_not_answer_is_refused_at_its_deadline(executor: Any) -> None:
    backend = GuardServingBackend(hang=True)
    pipe, recorder = guarded(executor, backend, policy(timeout_ms=50))
    with pytest.raises(Refused) as caught:
        await asyncio.wait_for(pipe.complete(ask(f"echo: {BENIGN}")), 5)
    assert caught.value.stage == "guard"
    assert backend.abandoned == 1, "the guard's generation was left running"
    assert recorder.records == []


async def test_one_failed_check_cancels_the_others() -> None:
    hanging, failing = GuardServingBackend(hang=True), GuardServingBackend(fail=True)

    @dataclass
    class EachItsOwn(GuardServingBackend):
        """The first conversation's guard hangs, the second's fails."""

        async def generate(self, request: GenerationRequest) -> AsyncGenerator[Chunk | Usage, None]:
            source = failing if "User: second" in request.messages[0].content else hanging
            async for item in source.generate(request):
                yield item

    guard = ConversationGuard(GuardLayer(EachItsOwn(), GUARD_MODEL), 5.0)
    items = [
        MessageInContext(0, (Message("user", "first"),)),
        MessageInContext(1, (Message("user", "second"),)),
    ]
    with pytest.raises(Refused):
        await asyncio.wait_for(guard.verdicts(items), 5)
    assert hanging.abandoned == 1, "the hanging check was left running when its sibling failed"


# -- configuration ------------------------------------------------------------------------------------


def test_no_guard_unless_the_policy_names_one() -> None:
    assert policy(guard_model=None).model.classifiers.guard_model is None
    assert load_guard(policy(guard_model=None), LocalBackend()) is None


def test_a_guard_model_the_backend_does_not_serve_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="not served"):
        load_guard(policy(guard_model=GUARD_MODEL), LocalBackend())


@pytest.mark.parametrize("settings", [{"guard_model": ""}, {"guard_timeout_ms": 0}, {"guard_model": 3}])
def test_malformed_guard_settings_are_refused(settings: dict[str, object]) -> None:
    document = tomllib.loads(shipped_policy_bytes().decode())
    document["classifiers"].update(settings)
    with pytest.raises(ValueError, match="guard"):
        PolicyModel.model_validate(document)


async def test_context_must_point_into_the_batch(executor: Any) -> None:
    backend = GuardServingBackend()
    guard = load_guard(policy(), backend)
    scorer = ClassifierScorer(CLASSIFIER, 5.0, executor, guard=guard)
    conversation = (Message("user", "hi"),)
    with pytest.raises(ValueError, match="past the batch"):
        await scorer.assess(["hi"], [MessageInContext(1, conversation)])
    assert guard is not None
    with pytest.raises(ValueError, match="one context"):
        await guard.verdicts([MessageInContext(0, conversation), MessageInContext(0, conversation)])
