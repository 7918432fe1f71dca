"""Token usage read from Anthropic Messages API responses as they pass through.

A JSON response carries ``usage`` at its top level; a streamed one carries it in
its ``message_start`` event (input and cache fields) and ``message_delta``
events (the running output count, sometimes the input fields again). Each field
keeps its latest value, as the API documents the counts to be cumulative; a null
field counts as 0.
"""

from __future__ import annotations

import json
from typing import Any

from ..providers.base import Usage

_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def usage_of_message(body: bytes) -> Usage:
    """The usage of a non-streamed response body (zero when it has none)."""
    try:
        message = json.loads(body)
    except ValueError:
        return Usage()
    meter = StreamMeter()
    if isinstance(message, dict):
        meter.merge(message.get("usage"))
    return meter.usage


class StreamMeter:
    """Reads a ``text/event-stream`` body chunk by chunk (chunks may split lines)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip(b"\r"))

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:"):
            return
        try:
            event = json.loads(line[5:])
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
            self.merge(event["message"].get("usage"))
        elif event.get("type") == "message_delta":
            self.merge(event.get("usage"))

    def merge(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for name in _FIELDS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                self._counts[name] = value

    @property
    def usage(self) -> Usage:
        return Usage(**self._counts)
