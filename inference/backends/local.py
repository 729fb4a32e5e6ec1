"""The ``local`` backend: a deterministic stand-in for a model, for the demo and the tests.

No machine learning runs here. The reply is a pure function of the request, so tests can make the
"model" say a chosen string and watch what the safety pipeline does with it. The conventions:

* ``echo:`` -- when the last user message starts with ``echo:``, the reply is the rest of that
  message verbatim (one space after the colon is dropped). This is how a test plants a canary or a
  harmful phrase in the *output*.
* ``call:NAME ARGS`` -- when tools are offered, ``tool_choice`` is not ``"none"`` and the last user
  message starts with ``call:NAME``, the reply is one call of tool ``NAME``. ``ARGS`` is used
  verbatim when it is a JSON object, otherwise it becomes ``{"text": ARGS}``. A named
  ``tool_choice`` calls that tool (finish reason ``stop``, as OpenAI does for a forced function);
  ``"required"`` calls the ``call:`` tool or else the first tool offered (finish reason
  ``tool_calls``).
* Otherwise the reply is a fixed sentence naming this backend plus counts only (messages, words,
  characters of the last message): no content of the request is repeated.

Tokens are whitespace-separated words. ``max_tokens`` cuts the reply after that many words (finish
reason ``length``; a tool call that does not fit is dropped), ``stop`` cuts it before the first
stop string (finish reason ``stop``). ``n`` choices are produced; with ``temperature == 0`` they are
identical, otherwise choice ``i`` picks its opening sentence by a hash of ``seed + i``
(``seed`` defaulting to 0) among the first ``ceil(top_p * 4)`` openings. Replies stream a few words
per chunk, choices interleaved, then one :class:`~inference.backends.base.Usage`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from inference.backends.base import (
    Chunk,
    FinishReason,
    GenerationRequest,
    Message,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from inference.backends.errors import BackendRejected

LOCAL_MODEL_ID = "veritee-local-echo"
ECHO_PREFIX = "echo:"
CALL_PREFIX = "call:"

_OPENINGS = (
    "This is the veritee local echo backend, not a language model.",
    "veritee local echo backend here: no model is running.",
    "A deterministic reply from the veritee local echo backend.",
    "The veritee local echo backend answers without a model.",
)
_WORD = re.compile(r"\s*\S+")
_CALL = re.compile(r"call:([A-Za-z0-9_.-]+)[ \t]*(.*)", re.DOTALL)


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into word tokens whose concatenation is ``text`` exactly."""
    pieces = _WORD.findall(text)
    trailing = text[sum(map(len, pieces)) :]
    if trailing:
        if pieces:
            pieces[-1] += trailing
        else:
            pieces.append(trailing)
    return pieces


def count_tokens(text: str) -> int:
    return len(text.split())


@dataclass(frozen=True)
class LocalReply:
    """One choice, fully decided: text pieces (one token each) or tool calls, and why it ended."""

    pieces: tuple[str, ...]
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    completion_tokens: int

    def __post_init__(self) -> None:
        if self.pieces and self.tool_calls:
            raise ValueError("a local reply is either text or tool calls")


def prompt_tokens(messages: Sequence[Message]) -> int:
    total = 0
    for message in messages:
        total += count_tokens(message.content)
        total += sum(count_tokens(call.arguments) for call in message.tool_calls)
    return total


def reply_for(request: GenerationRequest, index: int) -> LocalReply:
    """Decide choice ``index`` of ``request``; pure and deterministic."""
    sampling = request.sampling
    call = _tool_call_for(request, index)
    if call is not None:
        tool_call, finish_reason = call
        used = count_tokens(tool_call.arguments)
        if sampling.max_tokens is not None and used > sampling.max_tokens:
            return LocalReply((), (), "length", sampling.max_tokens)
        return LocalReply((), (tool_call,), finish_reason, used)
    text = _text_for(request.messages, sampling, index)
    for stop in sampling.stop:
        position = text.find(stop)
        if position >= 0:
            text = text[:position]
    pieces = split_tokens(text)
    words = sum(1 for piece in pieces if piece.strip())
    if sampling.max_tokens is not None and words > sampling.max_tokens:
        kept = pieces[: sampling.max_tokens]
        return LocalReply(tuple(kept), (), "length", len(kept))
    return LocalReply(tuple(pieces), (), "stop", words)


def _last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


def _text_for(messages: Sequence[Message], sampling: Sampling, index: int) -> str:
    last_user = _last_user_text(messages)
    if last_user.startswith(ECHO_PREFIX):
        rest = last_user[len(ECHO_PREFIX) :]
        return rest[1:] if rest.startswith(" ") else rest
    opening = _OPENINGS[_opening_index(sampling, index)]
    last = messages[-1] if messages else Message(role="user", content="")
    subject = "tool result" if last.role == "tool" else "message"
    return (
        f"{opening} Your conversation has {len(messages)} messages; the last {subject} has "
        f"{count_tokens(last.content)} words and {len(last.content)} characters. Start a "
        f"message with '{ECHO_PREFIX}' to have it repeated verbatim."
    )


def _opening_index(sampling: Sampling, index: int) -> int:
    if sampling.temperature == 0:
        return 0
    top_p = 1.0 if sampling.top_p is None else sampling.top_p
    pool = max(1, min(len(_OPENINGS), math.ceil(top_p * len(_OPENINGS))))
    seed = 0 if sampling.seed is None else sampling.seed
    digest = hashlib.sha256(str(seed + index).encode()).digest()
    return int.from_bytes(digest[:8], "big") % pool


def _tool_call_for(request: GenerationRequest, index: int) -> tuple[ToolCall, FinishReason] | None:
    tools = {tool.name: tool for tool in request.tools}
    choice = request.tool_choice
    if not tools or choice == "none":
        return None
    directive = _CALL.fullmatch(_last_user_text(request.messages).strip())
    named: Tool | None = None
    finish_reason: FinishReason = "tool_calls"
    if choice not in (None, "auto", "required"):
        named = tools.get(choice)
        if named is None:
            raise BackendRejected("tool_choice names a tool that was not offered")
        finish_reason = "stop"
    elif directive is not None and directive.group(1) in tools:
        named = tools[directive.group(1)]
    elif choice == "required":
        named = request.tools[0]
    if named is None:
        return None
    raw = directive.group(2).strip() if directive is not None else ""
    digest = hashlib.sha256(f"{request.request_id}:{index}".encode()).hexdigest()
    return ToolCall(id=f"call_{digest[:24]}", name=named.name, arguments=_arguments(raw)), (finish_reason)


def _arguments(raw: str) -> str:
    if not raw:
        return "{}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return raw if isinstance(parsed, dict) else json.dumps({"text": raw})


class LocalBackend:
    """Serves :data:`LOCAL_MODEL_ID`; ``tokens_per_chunk`` words per chunk, ``delay_s`` between."""

    name = "local"

    def __init__(self, *, tokens_per_chunk: int = 2, delay_s: float = 0.0) -> None:
        if tokens_per_chunk < 1:
            raise ValueError("tokens_per_chunk must be at least 1")
        if delay_s < 0:
            raise ValueError("delay_s must not be negative")
        self._tokens_per_chunk = tokens_per_chunk
        self._delay_s = delay_s

    @property
    def models(self) -> tuple[str, ...]:
        return (LOCAL_MODEL_ID,)

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Chunk | Usage, None]:
        if request.model != LOCAL_MODEL_ID:
            raise BackendRejected("unknown model for the local backend")
        if request.sampling.n < 1:
            raise BackendRejected("n must be at least 1")
        replies = [reply_for(request, index) for index in range(request.sampling.n)]
        step = self._tokens_per_chunk
        longest = max(len(reply.pieces) for reply in replies)
        for start in range(0, longest, step):
            for index, reply in enumerate(replies):
                text = "".join(reply.pieces[start : start + step])
                if text:
                    yield Chunk(index=index, text=text)
            await asyncio.sleep(self._delay_s)
        for index, reply in enumerate(replies):
            yield Chunk(index=index, tool_calls=reply.tool_calls, finish_reason=reply.finish_reason)
        yield Usage(prompt_tokens(request.messages), sum(r.completion_tokens for r in replies))

    async def aclose(self) -> None:
        """Nothing to release: the local backend holds no connections or threads."""
