"""A caller that goes away mid-stream: the model is stopped and the request is still accounted for.

ADR 0004: a streamed answer whose caller disconnects gets a ``final`` verdict with outcome
``aborted``; the generation upstream is abandoned (the gateway closes its connection to the model).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gateway_harness import BENIGN, RunningGateway, verdict_entries
from scripted_upstream import SCRIPTED_MODEL, Script, serve_scripted_upstream

from inference import BackendKind


def wait_for(condition: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    return condition()


def test_caller_leaving_mid_stream_aborts_the_model_and_records_it(
    start: Callable[..., RunningGateway],
) -> None:
    with serve_scripted_upstream() as upstream:
        upstream.scripts["long"] = Script(BENIGN * 200, delay_s=0.01)
        running = start(backend=BackendKind.OPENAI, upstream=upstream.base_url, model=SCRIPTED_MODEL)
        body = {
            "model": SCRIPTED_MODEL,
            "messages": [{"role": "user", "content": "script:long"}],
            "stream": True,
        }
        with running.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
            verdict_id = response.headers["x-veritee-verdict-id"]
            first = next(response.iter_lines())
            assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["content"]
        # The client is gone; the gateway must notice, stop the upstream and record the end.

        def finals() -> list[dict[str, Any]]:
            return [e for e in verdict_entries(running, verdict_id) if e["phase"] == "final"]

        (final,) = wait_for(finals)
        assert final["outcome"] == "aborted"
        assert wait_for(lambda: upstream.abandoned == 1), "the upstream generation was not abandoned"
        running.stop()
