"""``veritee serve``: run the gateway."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvloop
from rich.console import Console

from audit_log import Mode
from inference import (
    SIMULATED_BANNER,
    BackendKind,
    Listening,
    Settings,
    default_data_dir,
    parse_engine_option,
    serve_gateway,
)
from reporting.cli.exit_codes import handled

console = Console(stderr=True, soft_wrap=True)

Host = Annotated[str, typer.Option(envvar="VERITEE_HOST", help="Address to listen on.")]
Port = Annotated[int, typer.Option(envvar="VERITEE_PORT", help="Port to listen on (0 = any free port).")]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="VERITEE_DATA_DIR",
        help="Keys, the SQLite audit log and demo authorities. [default: ~/.local/share/veritee]",
    ),
]
PolicyOption = Annotated[
    Path | None,
    typer.Option(
        envvar="VERITEE_POLICY",
        help="policy.toml. Default (simulated only): the shipped policy with demo authorities.",
    ),
]
BackendOption = Annotated[
    BackendKind,
    typer.Option(
        envvar="VERITEE_BACKEND",
        help="local (deterministic demo backend), openai (an upstream server) or vllm (in-process).",
    ),
]
Upstream = Annotated[
    str | None,
    typer.Option(envvar="VERITEE_UPSTREAM", help="OpenAI-compatible upstream base URL (with /v1)."),
]
Model = Annotated[
    str | None, typer.Option(envvar="VERITEE_MODEL", help="Model path or name (vllm), or the upstream model.")
]
EngineOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--engine-option",
        envvar="VERITEE_ENGINE_OPTIONS",
        help=(
            "vllm backend: a vllm AsyncEngineArgs field as KEY=VALUE (repeatable; VALUE read as JSON "
            "when it is a number or boolean), e.g. max_model_len=8192 enforce_eager=true."
        ),
    ),
]
ApiKeyFile = Annotated[
    Path | None,
    typer.Option(envvar="VERITEE_API_KEY_FILE", help="Bearer keys callers must present, one per line."),
]
Database = Annotated[
    str | None,
    typer.Option(
        envvar="VERITEE_DB", help="SQLAlchemy URL of the audit store [default: SQLite in data dir]."
    ),
]
ModeOption = Annotated[
    Mode,
    typer.Option(
        envvar="VERITEE_MODE", help="simulated (no TEE, loudly labelled) or production (needs TDX)."
    ),
]
Tls = Annotated[
    bool,
    typer.Option(
        envvar="VERITEE_TLS", help="Serve HTTPS with a key generated at start (always on in production)."
    ),
]
LogLevel = Annotated[str, typer.Option(envvar="VERITEE_LOG_LEVEL", help="Logging level.")]
Debug = Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; turning SIGTERM into an exception
    # (instead of the default immediate exit) lets the gateway flush and write its shutdown entry.
    raise KeyboardInterrupt


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def banner(listening: Listening) -> None:
    gateway = listening.gateway
    if gateway.mode is Mode.SIMULATED:
        console.print(f"[bold red]{SIMULATED_BANNER}[/]", highlight=False)
    console.print(f"[bold]veritee gateway[/] listening on [cyan]{listening.url}[/]")
    console.print(f"  mode          {gateway.mode.value}")
    console.print(f"  backend       {gateway.backend_name} (models: {', '.join(gateway.models)})")
    console.print(f"  policy        {gateway.policy.version} sha256:{gateway.policy.sha256}")
    console.print(f"  policy file   {gateway.policy.source}")
    console.print(f"  guard model   {gateway.policy.model.classifiers.guard_model or 'none'}")
    console.print(f"  audit log     {gateway.log_origin}, size {gateway.log.size}, {gateway.database_label}")
    console.print(f"  log key       {gateway.log.verifier.vkey}")
    if listening.certificate_pem is not None:
        console.print(f"  TLS SPKI      sha256:{gateway.tls.spki_sha256.hex()}")
    console.print("Stop with Ctrl-C: pending audit appends are flushed and a shutdown entry is written.")


def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    data_dir: DataDirOption = None,
    policy: PolicyOption = None,
    backend: BackendOption = BackendKind.LOCAL,
    upstream: Upstream = None,
    model: Model = None,
    engine_option: EngineOptions = None,
    api_key_file: ApiKeyFile = None,
    db: Database = None,
    mode: ModeOption = Mode.SIMULATED,
    tls: Tls = True,
    log_level: LogLevel = "info",
    debug: Debug = False,
) -> None:
    """Run the in-TEE gateway: OpenAI-compatible API, fail-closed safety pipeline, audit log."""
    configure_logging(log_level)
    with handled(debug):
        settings = Settings(
            data_dir=data_dir or default_data_dir(),
            host=host,
            port=port,
            mode=mode,
            policy=policy,
            backend=backend,
            upstream=upstream,
            model=model,
            engine_options=dict(parse_engine_option(option) for option in engine_option or ()),
            api_key_file=api_key_file,
            db=db,
            tls=tls,
        )
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            # uvloop: what uvicorn itself picks when it owns the loop (benchmarks/RESULTS.md, Gateway).
            uvloop.run(serve_gateway(settings, on_ready=banner))
        except KeyboardInterrupt:
            console.print("veritee gateway stopped.")
