"""Bad input gets a clear 4xx in OpenAI's error shape: never a 5xx, a traceback, or its own echo.

Every bad request carries a canary where the input goes wrong (a value, a key, a model name, an API
key); the error body must name the problem without repeating it, and nothing the server logged
may contain it either.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import MODEL, RunningGateway, ServerLogs

CANARY = "CANARY-bad-input-5f1e0c"
MESSAGES = [{"role": "user", "content": "hello"}]
TOOL = {"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}


UUID = "0b7d5c2e-8f4a-4e1b-9c3d-2a6f8e9b1c4d"


def body(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": MESSAGES, **fields}


BAD_BODIES: dict[str, tuple[bytes | dict[str, Any] | list[Any], int]] = {
    "malformed JSON": (b'{"model": "' + CANARY.encode() + b'", "messages": [', 400),
    "JSON that is not an object": ([CANARY], 400),
    "messages not a list": (body(messages=CANARY), 400),
    "message not an object": (body(messages=[CANARY]), 400),
    "unknown role": (body(messages=[{"role": CANARY, "content": "x"}]), 400),
    "content of the wrong type": (body(messages=[{"role": "user", "content": {"text": CANARY}}]), 400),
    "temperature not a number": (body(temperature=CANARY), 400),
    "temperature out of range": (body(temperature=7), 400),
    "top_p zero": (body(top_p=0), 400),
    "n not an integer": (body(n=CANARY), 400),
    "n over the policy limit": (body(n=5), 400),
    "max_tokens over the policy limit": (body(max_tokens=10**6), 400),
    "max_tokens zero": (body(max_tokens=0), 400),
    "empty stop string": (body(stop=[""]), 400),
    "too many stop strings": (body(stop=["a", "b", "c", "d", CANARY]), 400),
    "stream not a boolean": (body(stream=CANARY), 400),
    "stream_options without stream": (body(stream_options={"include_usage": True}), 400),
    "unknown parameter": (body(**{CANARY: 1}), 400),
    "unknown parameter inside a message": (body(messages=[{"role": "user", "content": "x", CANARY: 1}]), 400),
    "unsupported OpenAI parameter": (body(response_format={"type": CANARY}), 400),
    "metadata key with a bad value": (body(metadata={CANARY: 1}), 400),
    "empty messages": (body(messages=[]), 400),
    "missing messages": ({"model": MODEL}, 400),
    "missing model": ({"messages": [{"role": "user", "content": CANARY}]}, 400),
    "too many messages": (body(messages=[{"role": "user", "content": CANARY}] * 257), 400),
    "over-long message": (body(messages=[{"role": "user", "content": CANARY + "x" * 131_072}]), 400),
    "conversation over the total limit": (
        body(messages=[{"role": "user", "content": CANARY + "y" * 131_000}] * 5),
        400,
    ),
    "unpaired surrogate in a message": (
        b'{"model": "' + MODEL.encode() + b'", "messages": [{"role": "user", '
        b'"content": "echo: ' + CANARY.encode() + b' \\ud800"}]}',
        400,
    ),
    "unpaired surrogate in a tool description": (
        json.dumps(body(tools=[{"type": "function", "function": {"name": "run", "description": "\ud800"}}]))
        .replace(r"\ud800", r"\udfff " + CANARY)
        .encode(),
        400,
    ),
    "tool message without tool_call_id": (body(messages=[{"role": "tool", "content": CANARY}]), 400),
    "tool calls on a user message": (
        body(
            messages=[
                {
                    "role": "user",
                    "content": "x",
                    "tool_calls": [
                        {"id": "1", "type": "function", "function": {"name": "a", "arguments": "{}"}}
                    ],
                }
            ]
        ),
        400,
    ),
    "tool name with spaces": (body(tools=[{"type": "function", "function": {"name": f"a {CANARY}"}}]), 400),
    "too many tools": (
        body(tools=[{"type": "function", "function": {"name": f"t{i}"}} for i in range(65)]),
        400,
    ),
    "tool_choice naming a tool not offered": (
        body(tools=[TOOL], tool_choice={"type": "function", "function": {"name": CANARY}}),
        400,
    ),
    "tool_choice with an unknown key": (
        body(tools=[TOOL], tool_choice={"type": "function", "function": {CANARY: "run"}}),
        400,
    ),
    "tool_choice required without tools": (body(tool_choice="required"), 400),
    "tool parameters not an object": (
        body(tools=[{"type": "function", "function": {"name": "run", "parameters": [CANARY]}}]),
        400,
    ),
    "unknown model": (body(model=CANARY), 404),
    "deeply nested JSON": (b'{"model": "x", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
}


def send(
    gateway: RunningGateway, payload: bytes | dict[str, Any] | list[Any], **options: Any
) -> httpx.Response:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json", **options.pop("headers", {})}
    with gateway.http() as http:
        return http.post("/v1/chat/completions", content=content, headers=headers, **options)


def assert_clean_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-veritee-mode"] == "simulated"
    error_body = response.json()
    assert set(error_body) == {"error"}
    error: dict[str, Any] = error_body["error"]
    assert {"message", "type", "code"} <= set(error) <= {"message", "type", "code", "param"}
    assert error["type"] == "invalid_request_error"
    assert CANARY not in response.text
    assert "Traceback" not in response.text
    return error


@pytest.fixture(scope="module", autouse=True)
def no_canary_in_server_logs(module_logs: ServerLogs) -> Iterator[None]:
    yield
    assert not [line for line in module_logs.lines() if CANARY in line]


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_body_is_a_clean_4xx_that_does_not_echo(gateway: RunningGateway, case: str) -> None:
    payload, status = BAD_BODIES[case]
    assert_clean_error(send(gateway, payload), status)


def test_unsupported_openai_parameter_is_named(gateway: RunningGateway) -> None:
    error = assert_clean_error(send(gateway, body(response_format={"type": "json_object"})), 400)
    assert error["param"] == "response_format"


def test_invalid_field_is_named_by_its_path(gateway: RunningGateway) -> None:
    error = assert_clean_error(send(gateway, body(messages=[MESSAGES[0], {"role": CANARY}])), 400)
    assert error["param"] == "messages.1.role"


def test_body_over_the_limit_is_413(gateway: RunningGateway) -> None:
    limit = gateway.gateway.policy.model.limits.max_body_bytes
    oversized = body(messages=[{"role": "user", "content": CANARY + "z" * limit}])
    error = assert_clean_error(send(gateway, oversized), 413)
    assert error["code"] == "request_too_large"


def test_chunked_body_over_the_limit_is_413(gateway: RunningGateway) -> None:
    limit = gateway.gateway.policy.model.limits.max_body_bytes
    data = json.dumps(body(messages=[{"role": "user", "content": CANARY + "z" * limit}])).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    with gateway.http() as http:
        response = http.post(
            "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert_clean_error(response, 413)


def test_unknown_route_is_404(gateway: RunningGateway) -> None:
    with gateway.http() as http:
        response = http.get(f"/v1/{CANARY}")
    assert assert_clean_error(response, 404)["code"] == "not_found"


def test_wrong_method_is_405(gateway: RunningGateway) -> None:
    with gateway.http() as http:
        response = http.put("/v1/chat/completions", json=body())
    assert assert_clean_error(response, 405)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: CANARY-bad-input-5f1e0c\r\n\r\n{}",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}",
        b"CANARY-bad-input-5f1e0c / HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["content-length not a number", "two content-lengths", "no such method"],
)
def test_malformed_http_is_400_without_echo(gateway: RunningGateway, request_bytes: bytes) -> None:
    # Refused by the HTTP server before the application sees it: uvicorn's own plain-text 400.
    host, port = gateway.url.removeprefix("https://").rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        gateway.ssl_context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(request_bytes)
        answer = tls.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert CANARY.encode() not in answer


def test_sdk_sees_bad_input_as_bad_request(gateway: RunningGateway) -> None:
    with pytest.raises(openai.BadRequestError):
        gateway.client().chat.completions.create(model=MODEL, messages=[], temperature=0)


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, module_logs: ServerLogs) -> Iterator[RunningGateway]:
    from gateway_harness import gateway_settings, start_gateway, stop_cleanly

    data_dir = tmp_path_factory.mktemp("keyed")
    key_file = data_dir / "api-keys"
    key_file.write_text("# callers\nsk-right-key-1\nsk-right-key-2\n")
    running = start_gateway(gateway_settings(data_dir, api_key_file=key_file))
    yield running
    stop_cleanly(running)


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {CANARY}", "Bearer", "Basic sk-right-key-1", "sk-right-key-1", "Bearer sk-right-key-1x"],
)
def test_missing_or_wrong_api_key_is_401(keyed: RunningGateway, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    with keyed.http() as http:
        keyed_routes = (
            ("POST", "/v1/chat/completions"),
            ("GET", "/v1/models"),
            ("GET", f"/v1/signature/{UUID}"),
        )
        for method, path in keyed_routes:
            response = http.request(method, path, json=body(), headers=headers)
            assert assert_clean_error(response, 401)["code"] == "invalid_api_key"


def test_right_api_key_is_served(keyed: RunningGateway) -> None:
    for key in ("sk-right-key-1", "sk-right-key-2"):
        client = keyed.client(api_key=key)
        assert client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "echo: in"}])
        assert [m.id for m in client.models.list()] == [MODEL]


def test_sdk_with_a_wrong_key_gets_authentication_error(keyed: RunningGateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        keyed.client(api_key=CANARY).chat.completions.create(model=MODEL, messages=MESSAGES)


def test_api_key_is_checked_before_the_body_is_judged(keyed: RunningGateway) -> None:
    # An unauthenticated caller learns nothing about which parameters the gateway accepts.
    response = send(keyed, body(temperature=CANARY, n=99), headers={"authorization": "Bearer wrong"})
    assert_clean_error(response, 401)


@pytest.mark.parametrize("payload", [b'{"model": ', b"\xff\xfe not json", b"[]"])
def test_an_unauthenticated_body_is_not_even_parsed(keyed: RunningGateway, payload: bytes) -> None:
    # Without a valid key the caller gets 401, whatever the body: the gateway spends no parsing on it.
    assert_clean_error(send(keyed, payload), 401)
    assert_clean_error(send(keyed, payload, headers={"authorization": "Bearer wrong"}), 401)


def test_key_file_comments_are_not_keys(keyed: RunningGateway, tmp_path: Path) -> None:
    with keyed.http() as http:
        response = http.get("/v1/models", headers={"authorization": "Bearer # callers"})
    assert response.status_code == 401
