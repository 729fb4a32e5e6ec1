"""``veritee serve`` as a real process: it announces itself, serves, and stops cleanly on SIGTERM.

After the stop the log ends with a ``shutdown`` entry, and ``veritee log verify`` accepts the whole
store, checked against a checkpoint the running gateway served (kept outside the store, as an
officer would keep it).
"""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_harness import HARMFUL_CHEM, MODEL, audit_entries

from inference import Settings

VERITEE = str(Path(sys.executable).with_name("veritee"))
LISTENING = re.compile(r"listening on (https://127\.0\.0\.1:\d+)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [VERITEE, "serve", "--data-dir", str(data_dir), "--port", "0", "--log-level", "info"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    url, banner, deadline = None, [], time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line)
        if found := LISTENING.search(line):
            url = found.group(1)
    assert url is not None, "".join(banner)
    try:
        yield process, url, data_dir
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def insecure_context() -> ssl.SSLContext:
    # The certificate is generated at start and announced only by its SPKI hash; this test is about
    # the process life cycle, so it does not pin it (the harness-based tests do).
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_sigterm_flushes_writes_shutdown_and_leaves_a_verifiable_log(
    served: tuple[subprocess.Popen[str], str, Path], tmp_path: Path
) -> None:
    process, url, data_dir = served
    canary = f"CANARY-{uuid.uuid4().hex}"
    with httpx.Client(base_url=url, verify=insecure_context(), timeout=30) as http:
        for content in (f"echo: {canary}", f"{HARMFUL_CHEM} {canary}"):
            for stream in (False, True):
                body = {"model": MODEL, "messages": [{"role": "user", "content": content}], "stream": stream}
                response = http.post("/v1/chat/completions", json=body)
                assert response.status_code in (200, 451)
                assert response.headers["x-veritee-mode"] == "simulated"
        trusted = tmp_path / "checkpoint"
        trusted.write_bytes(http.get("/v1/log/checkpoint").content)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "veritee gateway stopped." in output
    assert "Traceback" not in output
    assert canary not in output
    kinds = [e["kind"] for e in audit_entries(Settings(data_dir=data_dir))]
    assert kinds[:3] == ["key", "startup", "policy"]
    assert kinds.count("verdict") == 5  # an answer, a stream (input + final), two blocks
    assert kinds[-1] == "shutdown"
    verified = subprocess.run(
        [VERITEE, "log", "verify", "--data-dir", str(data_dir), "--trusted-checkpoint", str(trusted)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_restart_resumes_the_same_log(served: tuple[subprocess.Popen[str], str, Path]) -> None:
    process, url, data_dir = served
    with httpx.Client(base_url=url, verify=insecure_context(), timeout=30) as http:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "echo: first life"}]}
        assert http.post("/v1/chat/completions", json=body).status_code == 200
        first_key = http.get("/v1/log/key").text
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 0
    again = subprocess.Popen(
        [VERITEE, "serve", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert again.stdout is not None
        url = None
        while url is None and (line := again.stdout.readline()):
            if found := LISTENING.search(line):
                url = found.group(1)
        assert url is not None
        with httpx.Client(base_url=url, verify=insecure_context(), timeout=30) as http:
            assert http.get("/v1/log/key").text == first_key
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=30)
    kinds = [e["kind"] for e in audit_entries(Settings(data_dir=data_dir))]
    assert kinds == ["key", "startup", "policy", "verdict", "shutdown", "startup", "policy", "shutdown"]
