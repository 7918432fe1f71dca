"""Shared helpers of the reliability suite: routes of the running server, raw
HTTP and WebSocket clients, and file fingerprints."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import tornado.routing
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.web import RequestHandler
from tornado.websocket import WebSocketClientConnection

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def registered_routes(web_app) -> list[tuple[str, type[RequestHandler]]]:
    """Every (path, handler class) the running server routes, found by walking its routers."""
    found: list[tuple[str, type[RequestHandler]]] = []

    def walk(router) -> None:
        for rule in getattr(router, "rules", []):
            target = rule.target
            if isinstance(target, tornado.routing.Router):
                walk(target)
            elif isinstance(target, type) and issubclass(target, RequestHandler):
                path = getattr(rule.matcher, "_path", None)
                found.append((path, target))

    walk(web_app.wildcard_router)
    walk(web_app.default_router)
    return found


def collab_routes(web_app, base_url: str) -> list[tuple[str, type[RequestHandler]]]:
    """The extension's routes, checked to be exactly those under its namespace."""
    routes = registered_routes(web_app)
    ours = [(p, h) for p, h in routes if h.__module__.startswith("jupyter_collab.")]
    prefix = f"{base_url}jupyter-collab/"
    assert ours and all(path and path.startswith(prefix) for path, _ in ours), ours
    assert {p for p, _ in routes if p and p.startswith(prefix)} == {p for p, _ in ours}
    return sorted(ours)


def implemented_verbs(handler: type[RequestHandler]) -> list[str]:
    """The verbs a handler class answers itself (not tornado's default 405)."""
    return [
        verb
        for verb in METHODS
        if verb != "OPTIONS"
        and getattr(handler, verb.lower()) is not getattr(RequestHandler, verb.lower())
    ]


async def raw_fetch(
    url: str,
    method: str = "GET",
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> HTTPResponse:
    """One request, no credentials unless given, errors returned (not raised)."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        return await client.fetch(
            HTTPRequest(
                url,
                method=method,
                body=body,
                headers=headers or {},
                follow_redirects=False,
                allow_nonstandard_methods=True,
                request_timeout=timeout,
            ),
            raise_error=False,
        )
    finally:
        client.close()


async def post_raw_complete(
    port: int, base_url: str, auth_header: dict[str, str], body: dict[str, Any]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``POST jupyter-collab/complete`` on a bare socket, to read the server-sent
    events as they come and to drop the connection at a chosen moment."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode()
    head = (
        f"POST {base_url}jupyter-collab/complete HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: {auth_header['Authorization']}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    writer.write(head + data)
    await writer.drain()
    return reader, writer


async def ws_send(ws: WebSocketClientConnection, message: dict[str, Any]) -> None:
    await ws.write_message(json.dumps(message))


async def ws_until(
    ws: WebSocketClientConnection, request_id: str | None, *final: str, timeout: float = 30
) -> list[dict[str, Any]]:
    """Messages for ``request_id`` up to the first whose type is in ``final``."""
    messages = []
    while True:
        raw = await asyncio.wait_for(ws.read_message(), timeout=timeout)
        assert raw is not None, "the socket closed"
        message = json.loads(raw)
        if message.get("id") != request_id:
            continue
        messages.append(message)
        if message["type"] in final:
            return messages


def fingerprint(path: Path) -> tuple[str, int, int] | None:
    """Content hash, size and mtime (ns) of a file; ``None`` when it does not exist."""
    try:
        data = path.read_bytes()
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return hashlib.sha256(data).hexdigest(), info.st_size, info.st_mtime_ns


def tree_fingerprint(root: Path) -> dict[str, tuple[str, int, int] | None]:
    return {
        str(p.relative_to(root)): fingerprint(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def valid_context_json(*texts: str, revision: int = 0) -> str:
    from jupyter_collab.core.context_format import serialize_context
    from jupyter_collab.core.context_model import Amendment, CollabContext

    return serialize_context(
        CollabContext(revision=revision, amendments=[Amendment(kind="fact", text=t) for t in texts])
    )


# -- valid request bodies of every route (R3 swaps in bad paths, R10 mutates them) --

HIGHLIGHT = {
    "answer": "The cohort is patients admitted between 2019 and 2021.",
    "prompt": "Describe the cohort.",
    "position": {"start": 4, "end": 10},
    "quote": {"exact": "cohort", "prefix": "The ", "suffix": " is patients"},
}
DRAFT = {"kind": "fact", "text": "The cohort spans 2019 to 2021."}


def sample_bodies(path: str = "nb.ipynb") -> dict[tuple[str, str], dict[str, Any]]:
    """``(route, method) -> body`` that each route accepts (``path`` where it takes one
    in the body; the context routes take it as ``?path=``)."""
    return {
        ("context", "PUT"): {"context": {"schema_version": 1}, "revision": 0},
        ("context", "PATCH"): {
            "revision": 0,
            "operations": [{"op": "add_amendment", "kind": "fact", "text": "A fact."}],
        },
        ("context/accept", "POST"): {"revision": 0},
        ("cell", "POST"): {"source": "%%collab --mode learning\nDescribe {df}."},
        ("complete", "POST"): {"path": path, "prompt": "hi"},
        ("suggest", "POST"): {"path": path, "highlight": HIGHLIGHT, "n": 1},
        ("propose", "POST"): {
            "path": path,
            "highlight": HIGHLIGHT,
            "correction": {"operation": "replace", "text": "group"},
            "n": 1,
        },
        ("probes", "POST"): {"amendment": DRAFT, "n": 1},
        ("preview", "POST"): {
            "path": path,
            "amendment": DRAFT,
            "probes": [{"prompt": "Who is in the cohort?", "kind": "user"}],
        },
        ("finalize", "POST"): {"path": path, "amendment": DRAFT},
        ("check", "POST"): {"path": path},
        ("layers/move", "POST"): {
            "path": path,
            "entry_id": "a-000000000001",
            "from_layer": "notebook",
            "to_layer": "personal",
        },
        ("layers/preview", "POST"): {
            "path": path,
            "entry_id": "a-000000000001",
            "from_layer": "notebook",
            "to_layer": "personal",
        },
        ("layers/effect", "POST"): {
            "path": path,
            "entry_id": "a-000000000001",
            "from_layer": "notebook",
            "to_layer": "personal",
        },
        ("layers/import", "POST"): {"path": path, "from_path": "other.ipynb"},
        ("layers/import/effect", "POST"): {
            "path": path,
            "from_path": "other.ipynb",
            "entry_id": "a-000000000001",
        },
        ("layers/contradictions", "POST"): {"path": path},
        ("anchors", "POST"): {
            "items": [{"id": "h-1", "text": "The cohort is small.", "quote": {"exact": "cohort"}}]
        },
    }


QUERY_PATH_ROUTES = (
    ("context", "GET"),
    ("context", "PUT"),
    ("context", "PATCH"),
    ("context/accept", "POST"),
    ("layers", "GET"),
    ("layers/importable", "GET"),
)
BODY_PATH_ROUTES = (
    ("complete", "POST"),
    ("suggest", "POST"),
    ("propose", "POST"),
    ("preview", "POST"),
    ("finalize", "POST"),
    ("check", "POST"),
    ("layers/preview", "POST"),
    ("layers/move", "POST"),
    ("layers/effect", "POST"),
    ("layers/import", "POST"),
    ("layers/import/effect", "POST"),
    ("layers/contradictions", "POST"),
)
