"""The backend protocol: what the gateway needs from a model server.

A backend turns a normalised chat request into a stream of :class:`Chunk` objects and one final
:class:`Usage`. It knows nothing about safety, audit or HTTP: the pipeline decides what reaches the
caller. Implementations: ``local`` (deterministic, for demos and tests), ``openai`` (any
OpenAI-compatible upstream over HTTP) and ``vllm`` (in-process ``AsyncLLM``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "developer", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True)
class ToolCall:
    """A function call requested by the model (or replayed from the conversation)."""

    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(frozen=True)
class Message:
    """One conversation message, with multi-part text content already joined."""

    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True)
class Tool:
    """A function tool offered to the model; ``parameters_json`` is the JSON Schema as text."""

    name: str
    description: str
    parameters_json: str


@dataclass(frozen=True)
class Sampling:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("n must be at least 1")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError("temperature must not be negative")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


@dataclass(frozen=True)
class GenerationRequest:
    request_id: str
    model: str
    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    tools: tuple[Tool, ...] = ()
    tool_choice: str | None = None  # "auto", "none", "required", or a function name


@dataclass(frozen=True)
class Chunk:
    """An incremental piece of choice ``index``: text, or its finish reason.

    Tool calls are emitted whole, once, in the chunk that carries the choice's finish reason.
    """

    index: int
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: FinishReason | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class Backend(Protocol):
    """A model server. ``generate`` yields chunks for every choice, then exactly one ``Usage``."""

    name: str

    @property
    def models(self) -> tuple[str, ...]:
        """Model ids this backend serves (``GET /v1/models``)."""
        ...

    def generate(self, request: GenerationRequest) -> AsyncGenerator[Chunk | Usage, None]:
        """Stream the answer. ``aclose()`` before the end must abort the generation upstream."""
        ...

    async def aclose(self) -> None:
        """Release connections, engines and threads."""
        ...
