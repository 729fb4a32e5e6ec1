"""Fail closed: when a stage that must succeed cannot, the caller gets a 503 and no content.

Each failure is provoked for real where it can be: the audit database loses a table under the
running server, the upstream model is not there or dies mid-stream, the classifier misses its
deadline, the start-up finds an invalid policy, a manifest that does not match the artefacts, or
production mode on a machine without TDX. Only the classifier raising has no outside trigger (the
classifier stack is loaded and checked at start); there its worker pool is shut down under the
running server, so the real scorer fails on the real path.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_harness import (
    BENIGN,
    MODEL,
    RunningGateway,
    ServerLogs,
    demo_policy,
    gateway_settings,
    start_gateway,
    verdict_entries,
    write_policy,
)
from loopback import free_port
from scripted_upstream import SCRIPTED_MODEL, Script, serve_scripted_upstream

from audit_log import Mode
from inference import BackendKind, ConfigError, Settings
from inference.scoring import INLINE_CHARS

CANARY = "CANARY-fail-closed-9b27"
VERITEE = str(Path(sys.executable).with_name("veritee"))
DONE = b"data: [DONE]\n\n"


def chat(gateway: RunningGateway, content: str, model: str = MODEL, **extra: Any) -> tuple[int, bytes]:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        return response.status_code, response.read()


def assert_refused(status: int, raw: bytes, stage: str) -> None:
    assert status == 503
    error = json.loads(raw)
    assert set(error) == {"error"}
    assert error["error"]["code"] == "fail_closed"
    assert f"({stage})" in error["error"]["message"]
    assert CANARY.encode() not in raw


# -- the audit log ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_audit_append_failure_refuses_the_answer(
    start: Callable[..., RunningGateway], server_logs: ServerLogs, stream: bool
) -> None:
    running = start()
    assert chat(running, "echo: before")[0] == 200
    size = running.gateway.log.size
    with sqlite3.connect(running.settings.data_dir / "audit.db") as db:
        db.execute("DROP TABLE audit_outbox")
    status, raw = chat(running, f"echo: {CANARY}", stream=stream)
    assert_refused(status, raw, "audit")
    assert "request refused (fail closed) at stage audit" in [r.getMessage() for r in server_logs.records]
    assert running.gateway.log.size == size, "an entry was counted although its append failed"
    running.stop()  # the shutdown entry cannot be written either; stopping must still work


def test_audit_failure_at_the_end_of_a_stream_withholds_the_finish(
    start: Callable[..., RunningGateway],
) -> None:
    # The first windows were released under the durable input verdict; the final verdict cannot be
    # written, so the caller must get the error event and no finish_reason, usage or [DONE]: an
    # SDK would otherwise take the cut-off answer for a complete one.
    with serve_scripted_upstream() as upstream:
        upstream.scripts["slow"] = Script(BENIGN * 12, delay_s=0.02)
        running = start(backend=BackendKind.OPENAI, upstream=upstream.base_url, model=SCRIPTED_MODEL)
        body = {
            "model": SCRIPTED_MODEL,
            "messages": [{"role": "user", "content": "script:slow"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        with running.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: {")
            with sqlite3.connect(running.settings.data_dir / "audit.db") as db:
                db.execute("DROP TABLE audit_outbox")
            rest = [line for line in lines if line]
        assert rest[-1] != "data: [DONE]"
        assert json.loads(rest[-1].removeprefix("data: "))["error"]["code"] == "fail_closed"
        for line in rest[:-1]:
            chunk = json.loads(line.removeprefix("data: "))
            assert chunk["usage"] is None
            assert all(choice["finish_reason"] is None for choice in chunk["choices"])
        running.stop()


# -- the backend -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_not_listening_refuses_with_503(start: Callable[..., RunningGateway], stream: bool) -> None:
    running = start(
        backend=BackendKind.OPENAI, upstream=f"http://127.0.0.1:{free_port()}/v1", model="absent-model"
    )
    status, raw = chat(running, f"echo: {CANARY}", model="absent-model", stream=stream)
    assert_refused(status, raw, "backend")


def test_upstream_dying_before_the_first_window_is_503(start: Callable[..., RunningGateway]) -> None:
    with serve_scripted_upstream() as upstream:
        upstream.scripts["dies"] = Script(BENIGN * 6, die_after=2)
        running = start(backend=BackendKind.OPENAI, upstream=upstream.base_url, model=SCRIPTED_MODEL)
        status, raw = chat(running, "script:dies", model=SCRIPTED_MODEL, stream=True)
        assert_refused(status, raw, "backend")
        running.stop()


def test_upstream_dying_mid_stream_ends_with_an_error_event_and_no_done(
    start: Callable[..., RunningGateway],
) -> None:
    with serve_scripted_upstream() as upstream:
        text = BENIGN * 8
        upstream.scripts["dies"] = Script(text, die_after=15)  # 360 characters: one window released
        running = start(backend=BackendKind.OPENAI, upstream=upstream.base_url, model=SCRIPTED_MODEL)
        body = {
            "model": SCRIPTED_MODEL,
            "messages": [{"role": "user", "content": "script:dies"}],
            "stream": True,
        }
        with running.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
            raw = response.read()
            verdict_id = response.headers["x-veritee-verdict-id"]
        assert response.status_code == 200
        assert not raw.endswith(DONE)
        *chunks, last = raw.split(b"\n\n")[:-1]
        assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "fail_closed"
        released = "".join(
            json.loads(c.removeprefix(b"data: "))["choices"][0]["delta"].get("content", "") for c in chunks
        )
        assert released == text[:256]
        assert all(
            json.loads(c.removeprefix(b"data: "))["choices"][0]["finish_reason"] is None for c in chunks
        )
        outcomes = [(e["phase"], e["outcome"]) for e in verdict_entries(running, verdict_id)]
        assert outcomes == [("input", "completed"), ("final", "failed")]
        running.stop()


# -- the classifier --------------------------------------------------------------------------------


def test_classifier_missing_its_deadline_refuses(
    start: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    document = demo_policy(tmp_path)
    document["classifiers"]["timeout_ms"] = 1
    running = start(data_dir=tmp_path, policy=write_policy(tmp_path, document))
    assert chat(running, "echo: short prompts are scored inline")[0] == 200
    long_prompt = f"echo: {CANARY} " + BENIGN * 1500
    status, raw = chat(running, long_prompt)
    assert_refused(status, raw, "classifier")


@pytest.mark.parametrize("stream", [False, True])
def test_classifier_failing_refuses(start: Callable[..., RunningGateway], stream: bool) -> None:
    running = start()
    running.gateway._executor.shutdown()
    prompt = f"echo: {CANARY} " + "x" * INLINE_CHARS
    status, raw = chat(running, prompt, stream=stream)
    assert_refused(status, raw, "classifier")


# -- start-up refusals -----------------------------------------------------------------------------


def refused_start(settings: Settings) -> str:
    with pytest.raises(ConfigError) as caught:
        start_gateway(settings)
    return str(caught.value)


def test_invalid_policy_refuses_to_start(tmp_path: Path) -> None:
    document = demo_policy(tmp_path)
    document["categories"]["chem"]["thresold"] = 0.5
    message = refused_start(gateway_settings(tmp_path, policy=write_policy(tmp_path, document)))
    assert "categories.chem.thresold" in message
    assert not (tmp_path / "audit.db").exists(), "a refused start must not open the audit log"


def test_policy_weaker_than_the_disclosure_floor_refuses_to_start(tmp_path: Path) -> None:
    document = demo_policy(tmp_path)
    document["categories"]["csam"]["disclosure_threshold"] = 0.9
    message = refused_start(gateway_settings(tmp_path, policy=write_policy(tmp_path, document)))
    assert "disclosure_threshold" in message


def test_manifest_mismatch_refuses_to_start(tmp_path: Path) -> None:
    document = demo_policy(tmp_path)
    (entry,) = [e for e in document["classifiers"]["manifest"] if e["id"] == "patterns"]
    entry["sha256"] = ("0" if entry["sha256"][0] != "0" else "1") + entry["sha256"][1:]
    message = refused_start(gateway_settings(tmp_path, policy=write_policy(tmp_path, document)))
    assert "classifiers refused to load" in message
    assert "patterns" in message


def test_artefact_missing_from_the_manifest_refuses_to_start(tmp_path: Path) -> None:
    document = demo_policy(tmp_path)
    document["classifiers"]["manifest"] = [
        e for e in document["classifiers"]["manifest"] if e["id"] != "ngram_model"
    ]
    message = refused_start(gateway_settings(tmp_path, policy=write_policy(tmp_path, document)))
    assert "ngram_model" in message


def test_production_mode_without_tdx_refuses_to_start(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, demo_policy(tmp_path))
    message = refused_start(gateway_settings(tmp_path, mode=Mode.PRODUCTION, policy=policy))
    assert "production" in message
    assert not (tmp_path / "audit.db").exists()


def test_cli_refusal_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    document = demo_policy(tmp_path)
    document["version"] = ""
    policy = write_policy(tmp_path, document)
    port = free_port()
    done = subprocess.run(
        [VERITEE, "serve", "--data-dir", str(tmp_path), "--port", str(port), "--policy", str(policy)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "version: String should have at least 1 character" in " ".join(done.stderr.split())
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://127.0.0.1:{port}/v1/health", verify=False)
