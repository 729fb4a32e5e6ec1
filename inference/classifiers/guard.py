"""Optional layer 4: a Llama Guard 3 model served by the configured backend.

Three parts, the first two pure:

* :func:`build_guard_prompt` renders a conversation in Llama Guard 3's task format (hazard
  categories S1..S14, ``User:``/``Agent:`` turns, "assessment for ONLY THE LAST ... message").
  The prompt is sent as the single user message of a chat request, so the backend's chat
  template adds the Llama 3 header tokens; a guard model must therefore be served with its own
  chat template disabled or pass-through (the vLLM ``--chat-template`` option). Text inside the
  conversation cannot forge the prompt's delimiters: ``<BEGIN``/``<END`` markers and ``<|...|>``
  special-token spellings are defused first.
* :func:`parse_guard_verdict` accepts exactly ``safe`` or ``unsafe`` + one line of known
  category codes; anything else (junk, empty, unknown codes, extra lines) raises
  :class:`GuardVerdictError`, so an unparseable answer fails closed.
* :class:`GuardLayer` sends the prompt through the :class:`~inference.backends.base.Backend`
  protocol and returns a :class:`GuardVerdict`, which maps the codes onto our categories.

Mapping (MLCommons hazard taxonomy as used by Llama Guard 3): S4 child sexual exploitation ->
``csam``; S9 indiscriminate weapons (chemical, biological, radiological, nuclear, high-yield
explosives) -> ``bio`` or ``chem``, whichever the synchronous layers rate higher (both on a tie);
S14 code interpreter abuse -> ``cyber``; S2 non-violent crimes, which include cyber crime but also
fraud and theft, -> ``cyber`` with weaker evidence. Other codes map to none of our categories. The
guard cannot be calibrated here, so the evidence it lends is a configuration value, folded in by
noisy-OR.
Model card: https://github.com/meta-llama/PurpleLlama/blob/main/Llama-Guard3/8B/MODEL_CARD.md
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from inference.backends.base import Backend, Chunk, GenerationRequest, Message, Sampling
from inference.classifiers.categories import Category
from inference.classifiers.combine import GuardEvidence
from inference.classifiers.errors import GuardBackendError, GuardVerdictError

LAYER_NAME = "guard"
GUARD_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "S1": "Violent Crimes",
        "S2": "Non-Violent Crimes",
        "S3": "Sex Crimes",
        "S4": "Child Exploitation",
        "S5": "Defamation",
        "S6": "Specialized Advice",
        "S7": "Privacy",
        "S8": "Intellectual Property",
        "S9": "Indiscriminate Weapons",
        "S10": "Hate",
        "S11": "Self-Harm",
        "S12": "Sexual Content",
        "S13": "Elections",
        "S14": "Code Interpreter Abuse",
    }
)
DEFAULT_EVIDENCE: Mapping[str, tuple[tuple[Category, ...], float]] = MappingProxyType(
    {
        "S4": ((Category.CSAM,), 0.95),
        "S9": ((Category.BIO, Category.CHEM), 0.9),
        "S14": ((Category.CYBER,), 0.9),
        "S2": ((Category.CYBER,), 0.5),
    }
)
GuardRole = Literal["User", "Agent"]
_CODE = re.compile(r"^S(1[0-4]|[1-9])$")
_DELIMITER = re.compile(r"<\s*(BEGIN|END)\b", re.IGNORECASE)
_SPECIAL_TOKEN = re.compile(r"<\|")


@dataclass(frozen=True)
class GuardTurn:
    role: GuardRole
    content: str


def _defuse(content: str) -> str:
    return _SPECIAL_TOKEN.sub("< |", _DELIMITER.sub(lambda m: "< " + m.group(1), content))


def build_guard_prompt(turns: Sequence[GuardTurn], target: GuardRole) -> str:
    """Render ``turns`` as a Llama Guard 3 task asking about the last ``target`` message."""
    if not turns or turns[-1].role != target:
        raise ValueError("the conversation must end with a message of the target role")
    categories = "\n".join(f"{code}: {name}." for code, name in GUARD_CATEGORIES.items())
    conversation = "\n\n".join(f"{turn.role}: {_defuse(turn.content)}" for turn in turns)
    return (
        f"Task: Check if there is unsafe content in '{target}' messages in conversations "
        "according our safety policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{categories}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{conversation}\n\n<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {target} message in the above "
        "conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories."
    )


@dataclass(frozen=True)
class GuardVerdict:
    """A parsed guard answer and the evidence it lends to our categories."""

    unsafe: bool
    codes: tuple[str, ...]
    mapping: Mapping[str, tuple[tuple[Category, ...], float]] = field(
        default_factory=lambda: DEFAULT_EVIDENCE, compare=False
    )

    def __post_init__(self) -> None:
        if self.unsafe != bool(self.codes) or not all(_CODE.fullmatch(c) for c in self.codes):
            raise ValueError("an unsafe verdict needs known codes; a safe one none")

    def evidence(self, base: Mapping[Category, float]) -> GuardEvidence:
        """Probability lent per category; S9 goes to the higher of bio/chem in ``base``."""
        lent: dict[Category, float] = {}
        for code in self.codes:
            if code not in self.mapping:
                continue
            categories, probability = self.mapping[code]
            if set(categories) == {Category.BIO, Category.CHEM}:
                top = max(base[Category.BIO], base[Category.CHEM])
                categories = tuple(c for c in categories if base[c] == top)
            for category in categories:
                lent[category] = max(lent.get(category, 0.0), probability)
        return GuardEvidence(LAYER_NAME, lent)


def parse_guard_verdict(
    text: str, mapping: Mapping[str, tuple[tuple[Category, ...], float]] = DEFAULT_EVIDENCE
) -> GuardVerdict:
    """Parse the guard's answer; anything but a well-formed verdict raises GuardVerdictError."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines == ["safe"]:
        return GuardVerdict(False, (), mapping)
    if len(lines) == 2 and lines[0] == "unsafe":
        codes = [code.strip() for code in lines[1].split(",")]
        if codes and all(_CODE.fullmatch(code) for code in codes) and len(set(codes)) == len(codes):
            return GuardVerdict(True, tuple(codes), mapping)
    raise GuardVerdictError(f"guard output is not a verdict ({len(text)} characters)")


def turns_from_messages(messages: Sequence[Message]) -> tuple[GuardTurn, ...]:
    """Backend messages as guard turns: the assistant is ``Agent``, every other role ``User``.

    Tool results and system text reach the model as input, so they are judged as user input;
    an assistant's tool-call arguments are appended to its turn.
    """
    turns: list[GuardTurn] = []
    for message in messages:
        if message.role == "assistant":
            calls = "\n".join(f"{call.name}({call.arguments})" for call in message.tool_calls)
            content = "\n".join(part for part in (message.content, calls) if part)
            turns.append(GuardTurn("Agent", content))
        else:
            turns.append(GuardTurn("User", message.content))
    return tuple(turns)


class GuardLayer:
    """Asks a Llama Guard 3 model, through any :class:`Backend`, about the last message."""

    def __init__(
        self,
        backend: Backend,
        model: str,
        *,
        max_tokens: int = 20,
        mapping: Mapping[str, tuple[tuple[Category, ...], float]] = DEFAULT_EVIDENCE,
    ) -> None:
        if not model:
            raise ValueError("the guard needs a model name")
        if max_tokens < 2:
            raise ValueError("max_tokens must leave room for a verdict")
        for categories, probability in mapping.values():
            if not categories or not 0.0 < probability < 1.0:
                raise ValueError("guard evidence must name categories and lie in (0, 1)")
        self._backend = backend
        self._model = model
        self._max_tokens = max_tokens
        self._mapping = MappingProxyType(dict(mapping))

    @property
    def name(self) -> str:
        return LAYER_NAME

    async def check(self, messages: Sequence[Message], target: GuardRole) -> GuardVerdict:
        """Classify the last ``target`` message of ``messages``; raises on any failure."""
        turns = turns_from_messages(messages)
        prompt = build_guard_prompt(turns, target)
        request = GenerationRequest(
            request_id=f"guard-{uuid.uuid4().hex}",
            model=self._model,
            messages=(Message(role="user", content=prompt),),
            sampling=Sampling(max_tokens=self._max_tokens, temperature=0.0),
        )
        parts: list[str] = []
        try:
            async for item in self._backend.generate(request):
                if isinstance(item, Chunk) and item.index == 0:
                    parts.append(item.text)
        except Exception as exc:
            raise GuardBackendError(f"guard backend failed ({type(exc).__name__})") from exc
        answer = "".join(parts)
        if not answer.strip():
            raise GuardBackendError("guard backend returned no text")
        return parse_guard_verdict(answer, self._mapping)
