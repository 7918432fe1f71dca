"""A small OpenAI-compatible chat server for tests (stdlib only, 127.0.0.1).

It speaks enough of the wire format for the real ``openai`` SDK:
``POST /v1/chat/completions`` as JSON or as SSE (``data: {...}`` chunks, a
final usage chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``), and ``GET /v1/models``. Faults are queued with
:meth:`OpenAIWireServer.fail_next`: an HTTP status with an OpenAI-style JSON
error body and optional ``retry-after``, or an error event in the middle of a
stream. Every request is recorded (path, headers, JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    status: int = 500
    message: str = "internal error"
    error_type: str = "server_error"
    retry_after: str | None = None
    # "http": answer with the status; "midstream": send some chunks, then an error event.
    kind: str = "http"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any] | None


@dataclass
class WireState:
    reply_text: str = "Hello from the wire server. It streams word by word."
    structured_reply: str = '{"answer": "forty-two", "confidence": 0.5}'
    model: str = "wire-model"
    models: list[str] = field(default_factory=lambda: ["wire-model"])
    prompt_tokens: int = 21
    completion_tokens: int = 9
    cached_tokens: int | None = 16
    reject_json_schema: bool = False
    reject_stream_options: bool = False
    chunk_delay: float = 0.0
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    disconnects: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -------------------------------------------------------------

    def _record(self, body: dict[str, Any] | None) -> None:
        with self.server.state.lock:
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.server.state.requests.append(Recorded(self.command, self.path, headers, body))

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req-{time.monotonic_ns()}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, fault: Fault) -> None:
        headers = {"retry-after": fault.retry_after} if fault.retry_after else {}
        # Tell the SDK explicitly; otherwise it decides from the status.
        self._send_json(
            fault.status,
            {"error": {"message": fault.message, "type": fault.error_type, "code": None}},
            headers,
        )

    def _next_fault(self, kind: str) -> Fault | None:
        state = self.server.state
        with state.lock:
            if state.faults and state.faults[0].kind == kind:
                return state.faults.popleft()
        return None

    # -- verbs ------------------------------------------------------------------

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            data = [
                {"id": m, "object": "model", "owned_by": "test"} for m in self.server.state.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": {"message": "body is not JSON"}})
            return
        self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        fault = self._next_fault("http")
        if fault is not None:
            self._send_error(fault)
            return
        state = self.server.state
        if body.get("stream"):
            if state.reject_stream_options and "stream_options" in body:
                self._send_json(400, {"error": {"message": "unknown field: stream_options"}})
                return
            self._stream(body)
            return
        response_format = body.get("response_format") or {}
        if state.reject_json_schema and response_format.get("type") == "json_schema":
            message = "response_format.type json_schema is not supported by this server"
            self._send_json(400, {"error": {"message": message, "type": "invalid_request_error"}})
            return
        content = state.structured_reply if response_format else state.reply_text
        if state.chunk_delay and not response_format:
            # A whole answer arrives when the stream's last chunk would have.
            time.sleep(state.chunk_delay * len(content.split(" ")))
        self._send_json(200, self._completion(body, content))

    # -- payloads -----------------------------------------------------------------

    def _usage(self) -> dict[str, Any]:
        state = self.server.state
        usage: dict[str, Any] = {
            "prompt_tokens": state.prompt_tokens,
            "completion_tokens": state.completion_tokens,
            "total_tokens": state.prompt_tokens + state.completion_tokens,
        }
        if state.cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": state.cached_tokens}
        return usage

    def _completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-wire-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.server.state.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(),
        }

    def _chunk(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict:
        return {
            "id": "chatcmpl-wire-stream",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or self.server.state.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _stream(self, body: dict[str, Any]) -> None:
        state = self.server.state
        fault = self._next_fault("midstream")
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

        def send(payload: Any) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        words = state.reply_text.split(" ")
        try:
            send(self._chunk(body, {"role": "assistant", "content": ""}, None))
            for i, word in enumerate(words):
                if fault is not None and i == len(words) // 2:
                    send({"error": {"message": fault.message, "type": fault.error_type}})
                    return
                piece = word if i == 0 else " " + word
                send(self._chunk(body, {"content": piece}, None))
                if state.chunk_delay:
                    time.sleep(state.chunk_delay)
            send(self._chunk(body, {}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage_chunk = self._chunk(body, {}, None)
                usage_chunk["choices"] = []
                usage_chunk["usage"] = self._usage()
                send(usage_chunk)
            send("[DONE]")
        except (BrokenPipeError, ConnectionResetError):
            with state.lock:
                state.disconnects += 1
            state.disconnected.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Not the standard library's backlog of 5: clients connecting at once past it
    # would have their connection retried by the kernel a second later.
    request_queue_size = 1024
    state: WireState


class OpenAIWireServer:
    """Start with :meth:`start` (or as a context manager); ``base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.state = WireState()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/v1/chat/completions")]

    def fail_next(self, status: int = 500, message: str = "internal error", **kwargs: Any) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(status=status, message=message, **kwargs))

    def start(self) -> OpenAIWireServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.state = self.state
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-wire-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIWireServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
