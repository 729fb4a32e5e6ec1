"""veritee model backends: ``local`` (deterministic), ``openai`` (upstream) and ``vllm`` (in-process).

The gateway codes against :class:`Backend` (``base.py``) and builds one with :func:`make_backend`.
``vllm`` itself is imported only inside ``vllm.py``, when a vLLM backend is started.
"""

from inference.backends.base import (
    Backend,
    Chunk,
    FinishReason,
    GenerationRequest,
    Message,
    Role,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from inference.backends.errors import (
    BackendConfigError,
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    BadBackendResponse,
)
from inference.backends.factory import BACKEND_KINDS, BackendKind, make_backend
from inference.backends.local import ECHO_PREFIX, LOCAL_MODEL_ID, LocalBackend
from inference.backends.upstream import OpenAIBackend, UpstreamSettings
from inference.backends.vllm import VllmBackend

__all__ = [
    "BACKEND_KINDS",
    "ECHO_PREFIX",
    "LOCAL_MODEL_ID",
    "Backend",
    "BackendConfigError",
    "BackendError",
    "BackendKind",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "BadBackendResponse",
    "Chunk",
    "FinishReason",
    "GenerationRequest",
    "LocalBackend",
    "Message",
    "OpenAIBackend",
    "Role",
    "Sampling",
    "Tool",
    "ToolCall",
    "UpstreamSettings",
    "Usage",
    "VllmBackend",
    "make_backend",
]
