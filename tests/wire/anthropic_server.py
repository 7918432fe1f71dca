"""A local HTTP server that speaks the Anthropic Messages API wire format.

It is real HTTP on 127.0.0.1 (HTTP/1.1, chunked SSE), so the official SDK runs
unmodified against it: ``POST /v1/messages`` (JSON or SSE) and
``POST /v1/messages/count_tokens``.

Scripting (see :class:`Reply`)::

    server.script(Reply.error(429, retry_after="0.05"), Reply.text("hello world"))
    server.responder = lambda body: Reply.text("…")   # used when the script is empty
    server.requests / server.message_requests() / server.clear()

With nothing scripted, a deterministic "model" answers: an echo of the last user
message (and a summary of the system prompt), a schema-plausible object for a
forced ``tool_choice`` or an ``output_config.format`` JSON schema.

Prompt caching is simulated as Anthropic documents it: the prefix up to each
``cache_control`` breakpoint (tools, then system, then messages; up to 4
breakpoints) is cached when its estimated size (characters / 4) reaches
``cache_min_tokens``; a request reads the longest prefix an earlier request
cached at one of its breakpoints or up to 20 blocks before one
(``cache_read_input_tokens``), writes the rest up to its last breakpoint
(``cache_creation_input_tokens``), and pays ``input_tokens`` for what follows.
"""

from __future__ import annotations

import copy
import hashlib
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAKE_API_KEY = "sk-ant-test-wire-0000000000000000"
#: How many blocks before each breakpoint the API looks for an earlier cache entry.
LOOKBACK_BLOCKS = 20
DEFAULT_MODEL_REPLY = "Answer"

_STATUS_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Reply:
    """One scripted answer to a ``POST /v1/messages`` request.

    ``kind`` is ``"text"``, ``"tool_use"`` or ``"error"`` (an HTTP error status).
    Streaming faults apply to text and tool_use replies when the request streams:
    ``stream_error_after=K`` sends an ``event: error`` after K deltas,
    ``drop_after=K`` closes the connection after K deltas.
    """

    kind: str = "text"
    answer: str = ""
    chunks: int | None = None  # number of text deltas; None: one per word
    tool_input: dict[str, Any] | None = None
    tool_name: str | None = None
    status: int = 200
    error_type: str | None = None
    error_message: str = ""
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream_error_after: int | None = None
    drop_after: int | None = None
    first_token_delay: float = 0.0
    delta_delay: float = 0.0
    stop_reason: str | None = None
    output_tokens: int | None = None
    null_cache_fields: bool = False  # report the cache usage fields as null

    @classmethod
    def text(cls, answer: str, **options: Any) -> Reply:
        return cls(kind="text", answer=answer, **options)

    @classmethod
    def tool(cls, tool_input: dict[str, Any], name: str | None = None, **options: Any) -> Reply:
        return cls(kind="tool_use", tool_input=tool_input, tool_name=name, **options)

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        retry_after: str | None = None,
        **options: Any,
    ) -> Reply:
        error_type = error_type or _STATUS_ERROR_TYPES.get(status, "api_error")
        return cls(
            kind="error",
            status=status,
            error_type=error_type,
            error_message=message or _default_message(error_type),
            retry_after=retry_after,
            **options,
        )

    @classmethod
    def stream_error(
        cls,
        text: str,
        after: int,
        error_type: str = "overloaded_error",
        message: str = "Overloaded",
        **options: Any,
    ) -> Reply:
        """Stream ``after`` deltas of ``text``, then an ``event: error``."""
        return cls(
            kind="text",
            answer=text,
            stream_error_after=after,
            error_type=error_type,
            error_message=message,
            **options,
        )

    @classmethod
    def drop(cls, text: str, after: int, **options: Any) -> Reply:
        """Stream ``after`` deltas of ``text``, then close the connection."""
        return cls(kind="text", answer=text, drop_after=after, **options)


def _default_message(error_type: str) -> str:
    return {
        "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
        "overloaded_error": "Overloaded",
        "api_error": "Internal server error",
        "authentication_error": "invalid x-api-key",
        "invalid_request_error": "Invalid request",
        "not_found_error": "Not found",
    }.get(error_type, error_type)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names; auth header values are kept for assertions
    body: Any
    time: float
    status: int | None = None

    def __getitem__(self, key: str) -> Any:  # dict-style access in tests
        return getattr(self, key)

    @property
    def api_key(self) -> str | None:
        """The key the client sent: ``x-api-key``, or an ``Authorization: Bearer`` token
        (the SDK sends API keys as bearer tokens since API version 2026-10-21)."""
        return request_api_key(self.headers)


def request_api_key(headers: dict[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key:
        return key
    authorization = headers.get("authorization") or ""
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :].strip() or None
    return None


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: more clients connecting at
    # once than that have their connection attempt dropped and retried by the kernel
    # a second later, which no API server does (a check opens a hundred at once).
    request_queue_size = 1024


class AnthropicWireServer:
    """A threaded HTTP server on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        *,
        cache_min_tokens: int = 1024,
        required_api_key: str | None = None,
        max_concurrent_messages: int | None = None,
    ):
        self.cache_min_tokens = cache_min_tokens
        self.required_api_key = required_api_key
        # An account's rate limit, as the API enforces it: a Messages request
        # beyond this many in flight is refused with 429 and a retry-after.
        self.max_concurrent_messages = max_concurrent_messages
        self.refused_for_load = 0
        self.peak_in_flight = 0
        self._in_flight = 0
        self.responder: Callable[[dict[str, Any]], Reply | None] | None = None
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self._disconnected = threading.Event()
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._cache: set[str] = set()
        self._counter = 0
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> AnthropicWireServer:
        handler = type("Handler", (_Handler,), {"wire": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> AnthropicWireServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -----------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies, used one per ``POST /v1/messages`` in order."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Forget logged requests, queued replies, the cache and disconnects."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._cache.clear()
            self.disconnects = 0
            self._disconnected.clear()

    def reset_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def message_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/messages"]

    def answer_systems(self) -> list[str]:
        """The system prompt (as JSON text) of each answer request: the Messages
        requests that are not structured calls (a judge, an operation)."""
        return [
            json.dumps(r.body.get("system"))
            for r in self.message_requests()
            if not is_structured(r.body)
        ]

    def received_api_key(self, key: str) -> bool:
        """True if every logged request carried exactly this key (either auth header)."""
        with self._lock:
            return bool(self.requests) and all(r.api_key == key for r in self.requests)

    def wait_for_disconnect(self, timeout: float = 1.0) -> bool:
        """Wait until a client closed a connection while a response was being sent."""
        return self._disconnected.wait(timeout)

    # -- internals used by the handler ---------------------------------------

    def _enter_messages(self) -> bool:
        """Count a Messages request in; False when the account's limit refuses it."""
        with self._lock:
            limit = self.max_concurrent_messages
            if limit is not None and self._in_flight >= limit:
                self.refused_for_load += 1
                return False
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            return True

    def _leave_messages(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}_wire{self._counter:06d}"

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        if scripted is not None:
            return scripted
        if self.responder is not None:
            reply = self.responder(body)
            if reply is not None:
                return reply
        return default_reply(body)

    def _note_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1
        self._disconnected.set()

    def _cache_usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Usage as the Messages API reports it with prompt caching.

        As documented: a cache entry is written only at a breakpoint (the hash of
        the whole prefix up to and including that block, in the order tools,
        system, messages), and only when that prefix reaches the model's minimum
        cacheable length; a lookup starts at each breakpoint and walks back up to
        20 blocks looking for an entry an earlier request wrote there. The longest
        prefix found is read, the rest up to the last breakpoint is written, and
        what follows the last breakpoint is ordinary input."""
        segments, breakpoints = _segments(body)
        sizes = [_estimate_tokens(text) for _, text in segments]
        total = max(1, sum(sizes))
        if not breakpoints:
            return _usage(total, 0, 0)
        last = breakpoints[-1]

        def key(end: int) -> str:
            prefix = [c for c, _ in segments[: end + 1]]
            return hashlib.sha256(
                json.dumps([body.get("model"), prefix], sort_keys=True).encode()
            ).hexdigest()

        def tokens(end: int) -> int:
            return sum(sizes[: end + 1])

        candidates = sorted(
            {end for mark in breakpoints for end in range(max(0, mark - LOOKBACK_BLOCKS), mark + 1)}
        )
        with self._lock:
            read_end = max((end for end in candidates if key(end) in self._cache), default=None)
            for end in breakpoints:
                if tokens(end) >= self.cache_min_tokens:
                    self._cache.add(key(end))
        if tokens(last) < self.cache_min_tokens:
            return _usage(total, 0, 0)
        read = tokens(read_end) if read_end is not None else 0
        creation = tokens(last) - read
        return _usage(total - read - creation, creation, read)


def _usage(input_tokens: int, creation: int, read: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
    }


def _estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _segments(body: dict[str, Any]) -> tuple[list[tuple[str, str]], list[int]]:
    """Prompt blocks in cache order (tools, system, messages) as (canonical, text),
    and the indices of the blocks with ``cache_control``. A message's string
    content counts as one text block, as the API treats it."""
    segments: list[tuple[str, str]] = []
    marks: list[int] = []

    def add(block: Any, text: str, role: str | None = None) -> None:
        if isinstance(block, dict) and block.get("cache_control"):
            marks.append(len(segments))
            block = {k: v for k, v in block.items() if k != "cache_control"}
        if role is not None:
            block = {"role": role, **block}
        segments.append((json.dumps(block, sort_keys=True), text))

    for tool in body.get("tools") or []:
        add(tool, json.dumps({k: v for k, v in tool.items() if k != "cache_control"}))
    system = body.get("system")
    if isinstance(system, str):
        add(system, system)
    elif isinstance(system, list):
        for block in system:
            add(block, _block_text(block))
    for message in body.get("messages") or []:
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            add({"type": "text", "text": content}, content, role)
        elif isinstance(content, list):
            for block in content:
                add(block, _block_text(block), role)
    if body.get("cache_control") and segments:  # top-level (automatic) caching
        marks.append(len(segments) - 1)
    return segments, sorted(set(marks))


def _block_text(block: Any) -> str:
    if isinstance(block, dict):
        if block.get("type") == "text":
            return str(block.get("text", ""))
        return json.dumps(block.get("input", block), sort_keys=True)
    return str(block)


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def message_text(message: dict[str, Any]) -> str:
    """A message's text, whether its content is a string or text blocks (a message
    that closes a cached prefix carries its ``cache_control`` on a text block)."""
    return _message_text(message.get("content"))


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n\n".join(_block_text(b) for b in system)
    return ""


# -- the deterministic default "model" ----------------------------------------


def is_structured(body: dict[str, Any]) -> bool:
    """A structured call (a tool the model must use, or a JSON schema), not an answer."""
    return bool(body.get("output_config") or body.get("tool_choice"))


def default_reply(body: dict[str, Any]) -> Reply:
    """Echo for plain requests; a schema-built object for structured requests."""
    choice = body.get("tool_choice") or {}
    tools = body.get("tools") or []
    if choice.get("type") in ("tool", "any") and tools:
        name = choice.get("name") or tools[0].get("name")
        tool = next((t for t in tools if t.get("name") == name), tools[0])
        schema = tool.get("input_schema") or {"type": "object"}
        return Reply.tool(example_from_schema(schema), name=tool.get("name"))
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return Reply.text(json.dumps(example_from_schema(fmt.get("schema") or {})), chunks=3)
    return Reply.text(echo_text(body))


def echo_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    last_user = next(
        (_message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )
    system = " ".join(_system_text(body.get("system")).split())
    summary = f" [system: {len(system)} chars, starts {system[:40]!r}]" if system else ""
    return f"{DEFAULT_MODEL_REPLY} to: {last_user}{summary}"


def example_from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A small deterministic value that validates against ``schema``."""
    root = root if root is not None else schema
    if "$ref" in schema:
        ref = schema["$ref"]
        target: Any = root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return example_from_schema(target, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return copy.deepcopy(schema["default"])
    for combo in ("anyOf", "oneOf", "allOf"):
        if schema.get(combo):
            variants = schema[combo]
            pick = next((v for v in variants if v.get("type") != "null"), variants[0])
            return example_from_schema(pick, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        return {
            name: _named_example(name, prop, root)
            for name, prop in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        item = schema.get("items") or {"type": "string"}
        return [example_from_schema(item, root) for _ in range(count)]
    if kind == "string":
        return _string_example("value", schema)
    if kind in ("integer", "number"):
        if "minimum" in schema:
            low = schema["minimum"]
        elif "exclusiveMinimum" in schema:
            low = schema["exclusiveMinimum"] + 1
        else:
            low = 0
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    return None


def _named_example(name: str, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    if schema.get("type") == "string" and not any(k in schema for k in ("enum", "const", "$ref")):
        return _string_example(name, schema)
    return example_from_schema(schema, root)


def _string_example(name: str, schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-01-01T00:00:00Z"
    if fmt == "date":
        return "2026-01-01"
    value = f"example {name}"
    minimum = int(schema.get("minLength", 0))
    if len(value) < minimum:
        value = value + "x" * (minimum - len(value))
    maximum = schema.get("maxLength")
    if maximum is not None:
        value = value[: int(maximum)]
    return value


def generation_seconds(reply: Reply) -> float:
    """How long ``reply`` takes to be written: the first token's delay, then the
    delay before each further delta (as :meth:`_Handler._stream` sends them)."""
    if not reply.delta_delay:
        return reply.first_token_delay
    if reply.kind == "text":
        pieces = split_chunks(reply.answer, reply.chunks)
    else:
        pieces = split_chunks(json.dumps(reply.tool_input or {}), reply.chunks or 3)
    return reply.first_token_delay + reply.delta_delay * max(0, len(pieces) - 1)


def split_chunks(text: str, chunks: int | None) -> list[str]:
    """``chunks`` nearly equal pieces, or one piece per word (keeping spaces)."""
    if not text:
        return []
    if chunks is None:
        pieces: list[str] = []
        for word in text.split(" "):
            if pieces:
                pieces[-1] += " "
            pieces.append(word)
        return [p for p in pieces if p]
    chunks = max(1, min(chunks, len(text)))
    size, extra = divmod(len(text), chunks)
    out, start = [], 0
    for i in range(chunks):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


# -- HTTP ---------------------------------------------------------------------


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "anthropic-wire-test/1.0"
    wire: AnthropicWireServer  # set on the subclass made in start()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.wire._lock:
            self.wire._connections.add(self.connection)

    def finish(self) -> None:
        with self.wire._lock:
            self.wire._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # -- routing -------------------------------------------------------------

    def do_GET(self) -> None:
        self._read_and_record(None)
        self._send_error_json(404, "not_found_error", f"Not found: {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        record = self._read_and_record(body)
        path = self.path.split("?", 1)[0]
        key = record.api_key
        if not key:
            self._send_error_json(401, "authentication_error", "x-api-key header is required")
        elif self.wire.required_api_key is not None and key != self.wire.required_api_key:
            self._send_error_json(401, "authentication_error", "invalid x-api-key")
        elif not isinstance(body, dict):
            self._send_error_json(400, "invalid_request_error", "request body is not JSON")
        elif path == "/v1/messages":
            if self.wire._enter_messages():
                try:
                    self._messages(body)
                finally:
                    self.wire._leave_messages()
            else:
                self._send_error_json(
                    429,
                    "rate_limit_error",
                    "Number of concurrent requests exceeds your rate limit.",
                    {"retry-after": "0.2"},
                )
        elif path == "/v1/messages/count_tokens":
            self._count_tokens(body)
        else:
            self._send_error_json(404, "not_found_error", f"Not found: {path}")

    def _read_and_record(self, body: Any) -> RecordedRequest:
        record = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            time=time.time(),
        )
        self.wire._record(record)
        self._current = record
        return record

    def send_response(self, code: int, message: str | None = None) -> None:
        # Logged before the body goes out, so a client that has read it sees the status.
        current: RecordedRequest | None = getattr(self, "_current", None)
        if current is not None:
            current.status = code
        super().send_response(code, message)

    # -- endpoints -----------------------------------------------------------

    def _count_tokens(self, body: dict[str, Any]) -> int:
        problem = _validate(body, need_max_tokens=False)
        if problem:
            return self._send_error_json(400, "invalid_request_error", problem)
        segments, _ = _segments(body)
        tokens = max(1, sum(_estimate_tokens(text) for _, text in segments))
        return self._send_json(200, {"input_tokens": tokens})

    def _messages(self, body: dict[str, Any]) -> int:
        problem = _validate(body, need_max_tokens=True)
        if problem:
            return self._send_error_json(400, "invalid_request_error", problem)
        reply = self.wire._next_reply(body)
        if reply.kind == "error":
            headers = dict(reply.headers)
            if reply.retry_after is not None:
                headers["retry-after"] = reply.retry_after
            return self._send_error_json(
                reply.status, reply.error_type or "api_error", reply.error_message, headers
            )
        usage: dict[str, Any] = dict(self.wire._cache_usage(body))
        if reply.null_cache_fields:
            usage.update(cache_creation_input_tokens=None, cache_read_input_tokens=None)
        if body.get("stream"):
            return self._stream(body, reply, usage)
        # A whole answer arrives when the model has written all of it: the same
        # time the stream's last delta would have taken.
        if not self._pause(generation_seconds(reply)):
            self.wire._note_disconnect()
            return 200
        if reply.drop_after is not None:  # no response at all
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return 200
        return self._send_json(200, self._message_json(body, reply, usage))

    def _content(self, body: dict[str, Any], reply: Reply) -> tuple[list[dict], str]:
        if reply.kind == "tool_use":
            tools = body.get("tools") or [{}]
            name = reply.tool_name or (body.get("tool_choice") or {}).get("name")
            block = {
                "type": "tool_use",
                "id": self.wire._next_id("toolu"),
                "name": name or tools[0].get("name", "tool"),
                "input": reply.tool_input or {},
            }
            return [block], reply.stop_reason or "tool_use"
        return [{"type": "text", "text": reply.answer}], reply.stop_reason or "end_turn"

    def _message_json(self, body: dict[str, Any], reply: Reply, usage: dict) -> dict[str, Any]:
        content, stop_reason = self._content(body, reply)
        text = reply.answer if reply.kind == "text" else json.dumps(reply.tool_input or {})
        return {
            "id": self.wire._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": _output_tokens(reply, text)},
        }

    def _stream(self, body: dict[str, Any], reply: Reply, usage: dict) -> int:
        content, stop_reason = self._content(body, reply)
        block = content[0]
        if block["type"] == "text":
            start_block = {"type": "text", "text": ""}
            pieces = split_chunks(reply.answer, reply.chunks)
            deltas = [{"type": "text_delta", "text": p} for p in pieces]
            produced = reply.answer
        else:
            start_block = {**block, "input": {}}
            produced = json.dumps(block["input"])
            pieces = split_chunks(produced, reply.chunks or 3)
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", self.wire._next_id("req"))
        self.end_headers()
        try:
            for event in self._events(
                body, reply, usage, start_block, deltas, stop_reason, produced
            ):
                if event is None:  # drop the connection
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return 200
                name, data = event
                self._write_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self._write_raw(b"0\r\n\r\n")
        except _ClientGone:
            self.close_connection = True
            self.wire._note_disconnect()
        return 200

    def _events(
        self,
        body: dict[str, Any],
        reply: Reply,
        usage: dict,
        start_block: dict,
        deltas: list[dict],
        stop_reason: str,
        produced: str,
    ) -> Iterator[tuple[str, dict] | None]:
        message = {
            "id": self.wire._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 1},
        }
        yield "message_start", {"type": "message_start", "message": message}
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": start_block,
            },
        )
        yield "ping", {"type": "ping"}
        if reply.first_token_delay and not self._pause(reply.first_token_delay):
            raise _ClientGone
        for index, delta in enumerate(deltas):
            if reply.stream_error_after is not None and index >= reply.stream_error_after:
                yield (
                    "error",
                    {
                        "type": "error",
                        "error": {
                            "type": reply.error_type or "overloaded_error",
                            "message": reply.error_message or "Overloaded",
                        },
                    },
                )
                return
            if reply.drop_after is not None and index >= reply.drop_after:
                yield None
                return
            if index and reply.delta_delay and not self._pause(reply.delta_delay):
                raise _ClientGone
            yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": 0}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {**usage, "output_tokens": _output_tokens(reply, produced)},
            },
        )
        yield "message_stop", {"type": "message_stop"}

    # -- low-level I/O ---------------------------------------------------------

    def _pause(self, seconds: float) -> bool:
        """Sleep, watching the socket; False if the client closed the connection meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            try:
                readable, _, _ = select.select([self.connection], [], [], remaining)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    self.close_connection = True
                    return False
            except (OSError, ValueError):
                self.close_connection = True
                return False
            if readable:  # unexpected bytes (a pipelined request): just wait
                time.sleep(min(remaining, 0.01))

    def _write_chunk(self, data: bytes) -> None:
        self._write_raw(b"%x\r\n%s\r\n" % (len(data), data))

    def _write_raw(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError) as err:
            raise _ClientGone from err

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> int:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", self.wire._next_id("req"))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            self.wire._note_disconnect()
        return status

    def _send_error_json(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> int:
        payload = {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": self.wire._next_id("req"),
        }
        return self._send_json(status, payload, headers)


def _output_tokens(reply: Reply, produced: str) -> int:
    if reply.output_tokens is not None:
        return reply.output_tokens
    return max(1, _estimate_tokens(produced))


def _validate(body: dict[str, Any], *, need_max_tokens: bool) -> str | None:
    """The request checks of the real API that catch client bugs."""
    if not body.get("model"):
        return "model: Field required"
    if need_max_tokens and not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required"
    breakpoints = 0
    system = body.get("system")
    blocks: list[Any] = list(system) if isinstance(system, list) else []
    for message in messages:
        if message.get("role") not in ("user", "assistant"):
            return f"messages: Unexpected role {message.get('role')!r}"
        content = message.get("content")
        if isinstance(content, list):
            blocks.extend(content)
        elif not isinstance(content, str) or not content:
            return "messages: text content blocks must be non-empty"
    for tool in body.get("tools") or []:
        blocks.append(tool)
    for block in blocks:
        if isinstance(block, dict):
            if block.get("type") == "text" and not block.get("text"):
                return "system: text content blocks must be non-empty"
            if block.get("cache_control"):
                breakpoints += 1
    if breakpoints > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."
    return None


if __name__ == "__main__":  # python -m tests.wire.anthropic_server --port N (see serve.py)
    from tests.wire.serve import main

    raise SystemExit(main())
