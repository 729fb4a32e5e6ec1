"""Incremental decoder for ``text/event-stream`` bodies, as OpenAI-compatible servers stream them.

Implements the WHATWG HTML "server-sent events" parsing rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation) for
the one field a completion stream uses: lines end with LF, CRLF or CR; ``data:`` values (one
leading space dropped) are joined with LF; a blank line dispatches the event; ``:`` comments and
other fields (``event``, ``id``, ``retry``) are ignored. Pure: bytes in, data strings out.
"""

from __future__ import annotations

import codecs

from inference.backends.errors import BadBackendResponse

DEFAULT_MAX_EVENT_CHARS = 4 * 1024 * 1024


class SseDecoder:
    """Feed body bytes as they arrive; get the ``data`` of every completed event."""

    def __init__(self, max_event_chars: int = DEFAULT_MAX_EVENT_CHARS) -> None:
        if max_event_chars < 1:
            raise ValueError("max_event_chars must be positive")
        self._max = max_event_chars
        self._text = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._line = ""
        self._data: list[str] = []
        self._data_size = 0
        self._after_cr = False

    def feed(self, data: bytes) -> list[str]:
        """Decode ``data``; return the events it completed, in order."""
        try:
            text = self._text.decode(data)
        except UnicodeDecodeError as exc:
            raise BadBackendResponse("event stream is not UTF-8") from exc
        events: list[str] = []
        start = 0
        if self._after_cr and text.startswith("\n"):
            start = 1
        self._after_cr = False
        length = len(text)
        while start < length:
            cr = text.find("\r", start)
            lf = text.find("\n", start)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                self._line += text[start:]
                break
            end = min(ends)
            self._take_line(self._line + text[start:end], events)
            self._line = ""
            if text[end] == "\r":
                if end + 1 == length:
                    self._after_cr = True
                elif text[end + 1] == "\n":
                    end += 1
            start = end + 1
        if len(self._line) + self._data_size > self._max:
            raise BadBackendResponse(f"event longer than {self._max} characters")
        return events

    def close(self) -> list[str]:
        """End of body: a final event that lacks its blank line is still delivered."""
        try:
            self._text.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise BadBackendResponse("event stream ends inside a UTF-8 sequence") from exc
        events: list[str] = []
        if self._line:
            self._take_line(self._line, events)
            self._line = ""
        self._take_line("", events)
        return events

    def _take_line(self, line: str, events: list[str]) -> None:
        if not line:
            if self._data:
                events.append("\n".join(self._data))
            self._data = []
            self._data_size = 0
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if name != "data":
            return
        if colon and value.startswith(" "):
            value = value[1:]
        self._data_size += len(value) + 1
        if self._data_size > self._max:
            raise BadBackendResponse(f"event longer than {self._max} characters")
        self._data.append(value)
