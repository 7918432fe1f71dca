"""Run the wire-level Anthropic server as a process (for the browser tests).

    python -m tests.wire.anthropic_server --port 8765 [--delta-delay 0.03]

Besides the Messages API it answers a few control routes, so a test in
another process can script and inspect it:

* ``GET /_log``: the requests received so far (JSON list; API keys redacted);
* ``POST /_script``: queue replies, a JSON list of :class:`Reply` fields, e.g.
  ``[{"kind": "text", "answer": "hello", "delta_delay": 0.2}]`` or
  ``[{"kind": "error", "status": 529, "error_message": "Overloaded"}]``;
* ``POST /_clear``: forget the log, the queue and the prompt cache.

With nothing scripted the deterministic echo model answers, one delta per word,
``--delta-delay`` seconds apart (so a browser can watch the answer stream in).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from .anthropic_server import AnthropicWireServer, Reply, _Handler, default_reply

_SECRET_HEADERS = ("x-api-key", "authorization")
_REPLY_FIELDS = {f.name for f in dataclasses.fields(Reply)}


def _reply(spec: dict[str, Any]) -> Reply:
    unknown = set(spec) - _REPLY_FIELDS
    if unknown:
        raise ValueError(f"unknown reply fields: {sorted(unknown)}")
    return Reply(**spec)


class _ControlHandler(_Handler):
    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/_log":
            self._send_json(200, self.wire.log_json())  # type: ignore[attr-defined]
            return
        super().do_GET()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/_script", "/_clear"):
            super().do_POST()
            return
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path == "/_clear":
            self.wire.clear()
            self._send_json(200, {"ok": True})
            return
        try:
            specs = json.loads(raw or b"[]")
            replies = [_reply(spec) for spec in specs]
        except (ValueError, TypeError) as err:
            self._send_json(400, {"error": str(err)})
            return
        self.wire.script(*replies)
        self._send_json(200, {"queued": len(replies), "pending": self.wire.pending})


class CliWireServer(AnthropicWireServer):
    """The wire server on a fixed port, with the control routes."""

    def __init__(self, port: int, delta_delay: float = 0.0, **options: Any):
        super().__init__(**options)
        self._fixed_port = port
        self.delta_delay = delta_delay
        self.responder = self._slow_default

    def _slow_default(self, body: dict[str, Any]) -> Reply:
        reply = default_reply(body)
        if reply.kind == "text" and not reply.delta_delay:
            reply.delta_delay = self.delta_delay
        return reply

    def start(self) -> CliWireServer:
        handler = type("Handler", (_ControlHandler,), {"wire": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._fixed_port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def log_json(self) -> list[dict[str, Any]]:
        with self._lock:
            requests = list(self.requests)
        return [
            {
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "time": r.time,
                "headers": {
                    k: ("[redacted]" if k in _SECRET_HEADERS else v) for k, v in r.headers.items()
                },
                "body": r.body,
            }
            for r in requests
            if not r.path.startswith("/_")
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.wire.anthropic_server")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument(
        "--delta-delay", type=float, default=0.0, help="seconds between streamed deltas"
    )
    parser.add_argument("--cache-min-tokens", type=int, default=1024)
    args = parser.parse_args(argv)
    server = CliWireServer(
        args.port, delta_delay=args.delta_delay, cache_min_tokens=args.cache_min_tokens
    ).start()
    print(f"anthropic wire server on {server.url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
