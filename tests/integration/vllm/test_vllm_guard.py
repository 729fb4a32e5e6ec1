"""The Llama Guard 3 layer against real vLLM serving the tiny model with dummy weights.

The model's "verdict" is nonsense, so what these tests check is the plumbing: the guard prompt is
built and reaches the engine whole (its prompt-token count is the tokenizer's count of the
rendered prompt), the engine's answer comes back as text (a verdict error, not a backend error),
and the strict parser refuses it, so the pipeline refuses the request rather than calling it
safe. The gateway's HTTP 503 for the same failure is in ``test_vllm_gateway.py``.
"""

from __future__ import annotations

import concurrent.futures
import tomllib
from pathlib import Path

import pytest
from vllm_support import (
    SERVED_MODEL,
    VllmServer,
    chat_request,
    collect,
    requires_vllm,
    texts,
    third_party_warnings,
    usage,
)

from inference.backends import Message, OpenAIBackend, Sampling, UpstreamSettings, VllmBackend
from inference.classifiers import (
    ClassifierConfig,
    GuardLayer,
    GuardTurn,
    GuardVerdictError,
    build_guard_prompt,
    load_classifiers,
    parse_guard_verdict,
    shipped_manifest,
)
from inference.errors import Refused
from inference.gates import GateDecision
from inference.pipeline import Evidence, Pipeline
from inference.policy import Policy, PolicyModel, shipped_policy_bytes
from inference.scoring import ClassifierScorer
from inference.service import load_guard
from inference.verdicts import VerdictRecord

pytestmark = [
    pytest.mark.vllm,
    requires_vllm,
    pytest.mark.asyncio(loop_scope="session"),
    *third_party_warnings,
]

QUESTION = "Hello there, how are you today?"
ANSWER = "I am fine, thank you for asking."


def rendered_prompt_tokens(model_dir: Path, prompt: str) -> int:
    """Tokens of ``prompt`` as the single user turn of the model's chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    messages = [{"role": "user", "content": prompt}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return len(tokenizer(rendered, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize(
    ("conversation", "turns", "target"),
    [
        ((Message("user", QUESTION),), (GuardTurn("User", QUESTION),), "User"),
        (
            (Message("user", QUESTION), Message("assistant", ANSWER)),
            (GuardTurn("User", QUESTION), GuardTurn("Agent", ANSWER)),
            "Agent",
        ),
    ],
    ids=["user", "agent"],
)
async def test_guard_prompt_runs_in_process_and_its_nonsense_fails_closed(
    vllm_backend: VllmBackend,
    tiny_model_dir: Path,
    conversation: tuple[Message, ...],
    turns: tuple[GuardTurn, ...],
    target: str,
) -> None:
    prompt = build_guard_prompt(turns, target)  # type: ignore[arg-type]
    # What GuardLayer sends: the prompt as one user message, greedy, 20 tokens.
    items = await collect(
        vllm_backend, chat_request(prompt, sampling=Sampling(max_tokens=20, temperature=0.0))
    )
    assert usage(items).prompt_tokens == rendered_prompt_tokens(tiny_model_dir, prompt)
    (answer,) = texts(items)
    assert answer.strip(), "the engine answered the guard prompt with nothing"
    with pytest.raises(GuardVerdictError):
        parse_guard_verdict(answer)
    # GuardLayer itself: the same answer comes back and is refused as a verdict, not as a
    # backend failure.
    with pytest.raises(GuardVerdictError):
        await GuardLayer(vllm_backend, SERVED_MODEL).check(conversation, target)  # type: ignore[arg-type]
    assert vllm_backend.unfinished_requests == 0


async def test_guard_prompt_runs_on_the_api_server_and_its_nonsense_fails_closed(
    vllm_server: VllmServer, tiny_model_dir: Path
) -> None:
    backend = await OpenAIBackend.connect(UpstreamSettings(base_url=vllm_server.base_url))
    try:
        prompt_tokens = vllm_server.metric("vllm:prompt_tokens_total")
        finished = vllm_server.metric("vllm:request_success_total")
        with pytest.raises(GuardVerdictError):
            await GuardLayer(backend, SERVED_MODEL).check((Message("user", QUESTION),), "User")
    finally:
        await backend.aclose()
    prompt = build_guard_prompt((GuardTurn("User", QUESTION),), "User")
    sent = vllm_server.metric("vllm:prompt_tokens_total") - prompt_tokens
    assert sent == rendered_prompt_tokens(tiny_model_dir, prompt)
    assert vllm_server.metric("vllm:request_success_total") - finished == 1


class Kept:
    """Keeps the verdicts the pipeline records (none are expected here)."""

    def __init__(self) -> None:
        self.records: list[VerdictRecord] = []

    async def record(self, record: VerdictRecord, decision: GateDecision, evidence: Evidence) -> int:
        self.records.append(record)
        return len(self.records) - 1


async def test_pipeline_with_the_in_process_guard_refuses_instead_of_answering(
    vllm_backend: VllmBackend,
) -> None:
    document = tomllib.loads(shipped_policy_bytes().decode())
    for rule in document["categories"].values():
        rule.pop("authority", None)
        rule.pop("disclosure_threshold", None)
    document["classifiers"]["guard_model"] = SERVED_MODEL
    policy = Policy(PolicyModel.model_validate(document), "0" * 64, "test")
    recorder = Kept()
    classifier = load_classifiers(ClassifierConfig(manifest=shipped_manifest()))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        pipeline = Pipeline(
            policy=policy,
            scorer=ClassifierScorer(classifier, 5.0, executor, guard=load_guard(policy, vllm_backend)),
            backend=vllm_backend,
            recorder=recorder,
        )
        request = chat_request(QUESTION, sampling=Sampling(max_tokens=8, temperature=0))
        with pytest.raises(Refused) as caught:
            await pipeline.complete(request)
        assert caught.value.stage == "guard"
        with pytest.raises(Refused):
            await pipeline.start_stream(request)
    assert recorder.records == []
    assert vllm_backend.unfinished_requests == 0
