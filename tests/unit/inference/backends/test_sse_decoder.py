"""SSE decoding of an upstream's answer: every framing a real server may use, split anywhere."""

from __future__ import annotations

import pytest

from inference.backends import BadBackendResponse
from inference.backends.sse import SseDecoder

OPENAI_FRAMED = b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n'
EXPECTED = ['{"a": 1}', '{"b": 2}', "[DONE]"]


def decode_all(body: bytes, step: int) -> list[str]:
    decoder = SseDecoder()
    events: list[str] = []
    for start in range(0, len(body), step):
        events += decoder.feed(body[start : start + step])
    return events + decoder.close()


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_openai_lf_framing_decodes_whatever_the_read_boundaries(step: int) -> None:
    assert decode_all(OPENAI_FRAMED, step) == EXPECTED


@pytest.mark.parametrize("step", [1, 2, 5, 1000])
def test_crlf_and_bare_cr_framing_split_between_cr_and_lf(step: int) -> None:
    crlf = OPENAI_FRAMED.replace(b"\n", b"\r\n")
    cr = OPENAI_FRAMED.replace(b"\n", b"\r")
    assert decode_all(crlf, step) == EXPECTED
    assert decode_all(cr, step) == EXPECTED


def test_comments_other_fields_and_missing_space_are_handled() -> None:
    body = b': keep-alive\n\nevent: message\nid: 7\nretry: 10\ndata:{"a": 1}\n\n'
    assert decode_all(body, 4) == ['{"a": 1}']


def test_multiline_data_is_joined_with_lf() -> None:
    assert decode_all(b"data: one\ndata:  two\n\n", 3) == ["one\n two"]


def test_final_event_without_blank_line_is_still_delivered() -> None:
    assert decode_all(b"data: [DONE]", 5) == ["[DONE]"]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert decode_all(b"\n\n\r\n: ping\n\n", 1) == []


def test_multibyte_utf8_split_across_reads() -> None:
    body = "data: caf\u00e9 \u65e5\u672c\n\n".encode()
    assert decode_all(body, 1) == ["caf\u00e9 \u65e5\u672c"]


def test_invalid_utf8_is_a_bad_response() -> None:
    with pytest.raises(BadBackendResponse):
        SseDecoder().feed(b"data: \xff\n\n")


def test_stream_ending_inside_a_utf8_sequence_is_a_bad_response() -> None:
    decoder = SseDecoder()
    decoder.feed(b"data: \xc3")
    with pytest.raises(BadBackendResponse):
        decoder.close()


def test_endless_line_from_a_hostile_upstream_is_bounded() -> None:
    decoder = SseDecoder(max_event_chars=64)
    decoder.feed(b"data: " + b"x" * 40)
    with pytest.raises(BadBackendResponse, match="longer than 64"):
        decoder.feed(b"x" * 40)


def test_endless_multiline_event_is_bounded() -> None:
    decoder = SseDecoder(max_event_chars=64)
    with pytest.raises(BadBackendResponse):
        decoder.feed(b"data: 0123456789\n" * 10)
