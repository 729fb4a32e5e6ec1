"""The whole gateway in front of real vLLM, called with the official ``openai`` SDK over pinned TLS.

Each test runs twice: with the ``vllm`` backend (an in-process engine started by the gateway from
``Settings(backend=vllm, model=<dir>, engine_options=...)``) and with the ``openai`` backend in
front of vLLM's own api_server. What vLLM generated is read from vLLM's metrics, not from the
gateway: a blocked prompt must leave no trace there, a caller who leaves must show up as an abort.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from integration.gateway.gateway_harness import (
    HARMFUL_CHEM,
    VERDICT_FIELDS,
    ServerLogs,
    audit_entries,
    capture_server_logs,
    demo_policy,
    files_containing,
    signature_with_receipt,
    verify_signature_document,
    write_policy,
)
from vllm_gateway import (
    GatewayUnderTest,
    in_process_metric,
    in_process_settings,
    run_gateway,
    upstream_settings,
    wait_for,
)
from vllm_support import MAX_MODEL_LEN, SERVED_MODEL, VllmServer, requires_vllm, third_party_warnings

pytestmark = [pytest.mark.vllm, requires_vllm, *third_party_warnings]

CANARY = "CANARY-vllm-gateway-3b9c41"


@pytest.fixture(scope="module")
def gateway_logs() -> Iterator[ServerLogs]:
    with capture_server_logs() as logs:
        yield logs


@pytest.fixture(scope="module", params=["vllm", "openai"])
def gateway(
    request: pytest.FixtureRequest,
    gateway_logs: ServerLogs,
    tiny_model_dir: Path,
    vllm_server: VllmServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayUnderTest]:
    data_dir = tmp_path_factory.mktemp(f"gateway-{request.param}")
    if request.param == "vllm":
        model = str(tiny_model_dir)  # the in-process engine serves the model under its path
        settings = in_process_settings(data_dir, tiny_model_dir)
        metric = in_process_metric(model)
    else:
        model = SERVED_MODEL
        settings = upstream_settings(data_dir, vllm_server)
        metric = vllm_server.metric
    with run_gateway(settings, model, metric) as running:
        yield running
    assert audit_entries(settings)[-1]["kind"] == "shutdown", "the gateway did not stop cleanly"


def vllm_reference(server: VllmServer, body: dict[str, Any]) -> dict[str, Any]:
    """vLLM's own answer to the same request, straight from its api_server."""
    response = httpx.post(
        f"{server.base_url}/chat/completions", json={**body, "model": server.model}, timeout=120
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def vllm_counters(gateway: GatewayUnderTest) -> dict[str, float]:
    """What vLLM says it did, from its own metrics."""
    metric = gateway.vllm_metric
    return {
        "finished": metric("vllm:request_success_total"),
        "prompt_tokens": metric("vllm:prompt_tokens_total"),
        "generated": metric("vllm:generation_tokens_total"),
    }


def settled(gateway: GatewayUnderTest) -> dict[str, float]:
    """:func:`vllm_counters` once no request runs and two reads a moment apart agree."""

    def quiet() -> dict[str, float] | None:
        first = vllm_counters(gateway)
        wait_for(lambda: False, timeout=0.3)
        running = gateway.vllm_metric("vllm:num_requests_running")
        return first if running == 0 and vllm_counters(gateway) == first else None

    counters: dict[str, float] | None = wait_for(quiet)
    assert counters is not None, "vLLM did not settle"
    return counters


def signed_verdict(gateway: GatewayUnderTest, verdict_id: str) -> dict[str, Any]:
    """The verdict's signature document, verified: DSSE by the log key, receipt, inclusion proof."""
    document = signature_with_receipt(gateway.http(), verdict_id)
    verdict: dict[str, Any] = json.loads(base64.b64decode(document["envelope"]["payload"]))["verdict"]
    assert verdict["verdict_id"] == verdict_id
    verify_signature_document(document, gateway.vkey(), verdict)
    return verdict


def test_answer_through_the_gateway_is_vllms_own_with_its_usage(
    gateway: GatewayUnderTest, vllm_server: VllmServer
) -> None:
    body = {"messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 12, "temperature": 0}
    raw = gateway.sdk().chat.completions.with_raw_response.create(model=gateway.model, **body)
    completion = raw.parse()
    expected = vllm_reference(vllm_server, body)
    (choice,) = completion.choices
    assert choice.message.content == expected["choices"][0]["message"]["content"]
    assert choice.finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 12
    assert completion.usage.prompt_tokens == expected["usage"]["prompt_tokens"]
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 12
    assert raw.headers["x-veritee-mode"] == "simulated"

    verdict_id = raw.headers["x-veritee-verdict-id"]
    verdict = signed_verdict(gateway, verdict_id)
    assert (verdict["action"], verdict["risk_category"]) == ("allow", "none")
    (entry,) = gateway.verdict_entries(verdict_id)
    assert (entry["phase"], entry["outcome"]) == ("final", "completed")
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (completion.usage.prompt_tokens, 12)
    assert entry["backend"] == gateway.listening.gateway.backend_name


def test_n_sampled_choices_each_finish_and_are_counted(gateway: GatewayUnderTest) -> None:
    completion = gateway.sdk().chat.completions.create(
        model=gateway.model,
        messages=[{"role": "user", "content": "Hello"}],
        n=3,
        max_tokens=8,
        temperature=1.0,
        seed=11,
    )
    assert sorted(c.index for c in completion.choices) == [0, 1, 2]
    assert {c.finish_reason for c in completion.choices} == {"length"}
    assert len({c.message.content for c in completion.choices}) > 1, "sampled choices all identical"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 24


def test_streamed_answer_is_the_unstreamed_one_with_usage_last(
    gateway: GatewayUnderTest, vllm_server: VllmServer
) -> None:
    messages = [{"role": "user", "content": "Tell me a story"}]
    expected = vllm_reference(vllm_server, {"messages": messages, "max_tokens": 40, "temperature": 0})
    stream = gateway.sdk().chat.completions.create(
        model=gateway.model,
        messages=messages,  # type: ignore[arg-type]
        max_completion_tokens=40,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == expected["choices"][0]["message"]["content"]
    assert finishes == ["length"]
    *_, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (
        expected["usage"]["prompt_tokens"],
        40,
    )
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_harmful_prompt_is_refused_451_without_reaching_the_model(
    gateway: GatewayUnderTest, stream: bool
) -> None:
    before = settled(gateway)
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.sdk().chat.completions.create(
            model=gateway.model,
            messages=[{"role": "user", "content": HARMFUL_CHEM}],
            max_tokens=8,
            stream=stream,
        )
    assert caught.value.status_code == 451
    body = caught.value.response.json()
    assert set(body) == {"error", "verdict"}
    assert (body["error"]["type"], body["error"]["code"]) == ("safety_block", "content_policy_violation")
    verdict = body["verdict"]
    assert set(verdict) == VERDICT_FIELDS
    assert (verdict["action"], verdict["risk_category"]) == ("block", "chem")
    assert settled(gateway) == before, "the blocked prompt reached vLLM"
    assert signed_verdict(gateway, verdict["verdict_id"]) == verdict


def test_closing_the_stream_early_aborts_the_generation_in_vllm(gateway: GatewayUnderTest) -> None:
    # Greedy decoding on the dummy weights never emits EOS: unless aborted, this request runs to
    # its whole budget and vLLM counts it as finished (by "length").
    budget = MAX_MODEL_LEN - 64
    before = settled(gateway)
    raw = gateway.sdk().chat.completions.with_raw_response.create(
        model=gateway.model,
        messages=[{"role": "user", "content": "Hello"}],
        max_tokens=budget,
        temperature=0,
        stream=True,
    )
    verdict_id = raw.headers["x-veritee-verdict-id"]
    stream = raw.parse()
    first = next(iter(stream))
    assert first.choices[0].delta.content
    stream.close()

    # No request is running any more, none finished (by length or otherwise) and fewer tokens than
    # the budget were generated: vLLM aborted it. (vLLM counts a finish reason "abort" only for
    # aborts decided inside the engine, not for a client that stops reading.)
    after = settled(gateway)
    assert after["finished"] == before["finished"], "the departed caller's generation ran to its end"
    assert 0 < after["generated"] - before["generated"] < budget

    def final() -> list[dict[str, Any]]:
        return [e for e in gateway.verdict_entries(verdict_id) if e["phase"] == "final"]

    (entry,) = wait_for(final)
    assert entry["outcome"] == "aborted"


def test_prompt_and_answer_text_stay_out_of_logs_and_files(
    gateway: GatewayUnderTest, gateway_logs: ServerLogs, vllm_server: VllmServer
) -> None:
    sdk = gateway.sdk()
    messages = [{"role": "user", "content": f"Remember {CANARY} please"}]
    answer = sdk.chat.completions.create(model=gateway.model, messages=messages, max_tokens=16, temperature=0)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    streamed = sdk.chat.completions.create(
        model=gateway.model,
        messages=messages,  # type: ignore[arg-type]
        max_tokens=16,
        temperature=0,
        stream=True,
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    data_dir = gateway.listening.gateway.settings.data_dir
    assert files_containing(data_dir, CANARY.encode()) == []
    assert not [line for line in gateway_logs.lines() if CANARY in line]
    # The upstream as these tests start it (vLLM's defaults) does not log prompts either.
    assert CANARY not in vllm_server.log_path.read_text(encoding="utf-8", errors="replace")


# -- the guard model, served by vLLM behind the gateway ------------------------------------------------


@pytest.fixture(scope="module")
def guarded_gateway(
    vllm_server: VllmServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayUnderTest]:
    """The ``openai`` backend in front of the api_server, with the served model as the guard too."""
    data_dir = tmp_path_factory.mktemp("guarded-gateway")
    document = demo_policy(data_dir)
    document["classifiers"]["guard_model"] = SERVED_MODEL
    settings = upstream_settings(data_dir, vllm_server, policy=write_policy(data_dir, document))
    with run_gateway(settings, SERVED_MODEL, vllm_server.metric) as running:
        yield running
    assert audit_entries(settings)[-1]["kind"] == "shutdown", "the gateway did not stop cleanly"


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_guard_nonsense_from_vllm_refuses_with_503_and_the_model_never_answers(
    guarded_gateway: GatewayUnderTest, stream: bool
) -> None:
    before = settled(guarded_gateway)
    log_size = guarded_gateway.listening.gateway.log.size
    with pytest.raises(openai.APIStatusError) as caught:
        guarded_gateway.sdk().chat.completions.create(
            model=SERVED_MODEL,
            messages=[{"role": "user", "content": f"Hello there {CANARY}"}],
            max_tokens=8,
            temperature=0,
            stream=stream,
        )
    assert caught.value.status_code == 503
    body = caught.value.response.json()
    assert body["error"]["code"] == "fail_closed"
    assert "(guard)" in body["error"]["message"]
    assert CANARY not in caught.value.response.text
    # vLLM ran exactly one generation: the guard's (its 20-token verdict); the caller's never ran.
    after = settled(guarded_gateway)
    assert after["finished"] - before["finished"] == 1
    assert after["generated"] - before["generated"] == 20
    # A refusal is not a verdict; the guard's own generation is not one either.
    assert guarded_gateway.listening.gateway.log.size == log_size
