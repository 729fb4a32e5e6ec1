"""Pydantic models of the OpenAI-compatible HTTP API (the only place pydantic meets requests).

Unknown fields are rejected, except a few that OpenAI clients send routinely and that cannot weaken
safety; those are accepted and ignored. Validation messages name fields, never their values: a
location is reported only through the names in :data:`PARAMETER_NAMES`, so a caller's own keys
(an unknown parameter, a metadata key) are never echoed. Text must be valid Unicode: an unpaired
surrogate (JSON allows ``"\\ud800"``) can be neither classified reliably nor written back as UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from inference.backends.base import GenerationRequest, Message, Sampling, Tool, ToolCall
from inference.errors import BadRequest
from inference.pipeline import conversation_texts
from inference.policy import Limits


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Model):
    type: Literal["text"]
    text: str


class FunctionCall(_Model):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    arguments: str


class ToolCallIn(_Model):
    id: Annotated[str, Field(min_length=1, max_length=256)]
    type: Literal["function"] = "function"
    function: FunctionCall


class MessageIn(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: Annotated[str, Field(max_length=256)] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: Annotated[str, Field(max_length=256)] | None = None
    refusal: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class FunctionDef(_Model):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    description: str = ""
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(_Model):
    type: Literal["function"]
    function: FunctionDef


class NamedToolChoice(_Model):
    type: Literal["function"]
    function: dict[Literal["name"], str]


class StreamOptions(_Model):
    include_usage: bool = False
    include_obfuscation: bool | None = None


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_unpaired_surrogate(value: object) -> bool:
    """Whether any string (key or value) in decoded JSON holds a surrogate code point."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class ChatCompletionRequest(_Model):
    model: Annotated[str, Field(min_length=1, max_length=256)]
    messages: Annotated[list[MessageIn], Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: Annotated[int, Field(ge=1)] = 1
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolIn] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    # Accepted and ignored: they change neither what is classified nor what is released.
    user: str | None = None
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    parallel_tool_calls: bool | None = None
    logprobs: Literal[False] | None = None
    store: Literal[False] | None = None
    metadata: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        if has_unpaired_surrogate(data):
            raise PydanticCustomError("unpaired_surrogate", "text holds an unpaired surrogate")
        return data

    @field_validator("stop")
    @classmethod
    def _stop_strings_non_empty(cls, value: str | list[str] | None) -> str | list[str] | None:
        items = [value] if isinstance(value, str) else value or []
        if any(not s for s in items):
            raise ValueError("stop sequences must be non-empty")
        return value

    def to_generation(self, request_id: str, limits: Limits) -> GenerationRequest:
        """Check the policy's limits and build the backend-neutral request."""
        if len(self.messages) > limits.max_messages:
            raise BadRequest(f"too many messages (limit {limits.max_messages})", "messages")
        if self.n > limits.max_n:
            raise BadRequest(f"n must be at most {limits.max_n}", "n")
        if self.tools and len(self.tools) > limits.max_tools:
            raise BadRequest(f"too many tools (limit {limits.max_tools})", "tools")
        if self.stream_options is not None and not self.stream:
            raise BadRequest("stream_options is only allowed when stream is true", "stream_options")
        max_tokens = self.max_completion_tokens or self.max_tokens
        if max_tokens is not None and max_tokens > limits.max_tokens:
            raise BadRequest(f"max_tokens must be at most {limits.max_tokens}", "max_tokens")
        messages = tuple(self._message(i, m, limits) for i, m in enumerate(self.messages))
        generation = GenerationRequest(
            request_id=request_id,
            model=self.model,
            messages=messages,
            sampling=Sampling(
                max_tokens=max_tokens,
                temperature=self.temperature,
                top_p=self.top_p,
                stop=tuple([self.stop] if isinstance(self.stop, str) else self.stop or ()),
                n=self.n,
                seed=self.seed,
            ),
            tools=tuple(self._tool(t) for t in self.tools or ()),
            tool_choice=self._tool_choice(),
        )
        # Everything the classifiers must read counts: contents, tool-call arguments, tool schemas.
        if sum(len(text) for text in conversation_texts(generation)) > limits.max_total_chars:
            raise BadRequest(f"conversation too long (limit {limits.max_total_chars} characters)", "messages")
        return generation

    @staticmethod
    def _message(index: int, message: MessageIn, limits: Limits) -> Message:
        text = message.text()
        if len(text) > limits.max_message_chars:
            raise BadRequest(
                f"message {index} is too long (limit {limits.max_message_chars} characters)",
                f"messages[{index}].content",
            )
        if message.role == "tool" and not message.tool_call_id:
            raise BadRequest(f"message {index}: tool messages need tool_call_id", f"messages[{index}]")
        if message.tool_calls and message.role != "assistant":
            raise BadRequest(
                f"message {index}: only assistant messages carry tool_calls", f"messages[{index}]"
            )
        calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ())
        return Message(message.role, text, message.name, calls, message.tool_call_id)

    @staticmethod
    def _tool(tool: ToolIn) -> Tool:
        # No \u escapes: the schema's descriptions are classified as text, and the model reads them.
        schema = json.dumps(
            tool.function.parameters or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return Tool(tool.function.name, tool.function.description, schema)

    def _tool_choice(self) -> str | None:
        if isinstance(self.tool_choice, NamedToolChoice):
            name = self.tool_choice.function.get("name")
            if not name or not any(t.function.name == name for t in self.tools or ()):
                raise BadRequest("tool_choice names a tool that is not offered", "tool_choice")
            return name
        if self.tool_choice == "required" and not self.tools:
            raise BadRequest("tool_choice 'required' needs tools", "tool_choice")
        return self.tool_choice


#: OpenAI chat-completion parameters this gateway does not accept (named when refused).
UNSUPPORTED_OPENAI_PARAMETERS = frozenset(
    {
        "audio",
        "function_call",
        "functions",
        "logit_bias",
        "modalities",
        "prediction",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "service_tier",
        "top_logprobs",
        "verbosity",
        "web_search_options",
    }
)

#: Every name an error may use to point at a parameter: the fields of the request models above,
#: and the OpenAI parameters refused by name.
PARAMETER_NAMES = (
    frozenset(
        name
        for model in (
            TextPart,
            FunctionCall,
            ToolCallIn,
            MessageIn,
            FunctionDef,
            ToolIn,
            NamedToolChoice,
            StreamOptions,
            ChatCompletionRequest,
        )
        for name in model.model_fields
    )
    | UNSUPPORTED_OPENAI_PARAMETERS
)
