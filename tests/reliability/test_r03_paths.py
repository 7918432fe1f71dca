"""R3: notebook and context paths with ``..``, absolute paths, symlinks out of the
root and odd encodings are refused with 400/403, on every route that takes a
path (``?path=`` of the context routes, the body of the loop routes, WebSocket
messages), and nothing outside the root is read or written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

from tests.reliability.helpers import (
    BODY_PATH_ROUTES,
    QUERY_PATH_ROUTES,
    fingerprint,
    raw_fetch,
    sample_bodies,
    tree_fingerprint,
    valid_context_json,
    ws_send,
    ws_until,
)

SECRET = "secret note outside the root"

# name -> path (as the client sends it, before URL-encoding)
BAD_PATHS = {
    "parent": "../outside/nb.ipynb",
    "nested parent": "sub/../../outside/nb.ipynb",
    "absolute": "/etc/passwd.ipynb",
    "dot segment": "./nb.ipynb",
    "empty segment": "sub//nb.ipynb",
    "trailing slash": "nb.ipynb/",
    "backslashes": "..\\outside\\nb.ipynb",
    "windows drive": "C:\\outside\\nb.ipynb",
    "percent-encoded dots": "%2e%2e/outside/nb.ipynb",
    "percent-encoded slash": "..%2foutside%2fnb.ipynb",
    "double-encoded": "%252e%252e%252foutside%252fnb.ipynb",
    "fullwidth dots": "\uff0e\uff0e/outside/nb.ipynb",
    "fullwidth solidus": "..\uff0foutside\uff0fnb.ipynb",
    "two-dot leader": "\u2025/outside/nb.ipynb",
    "NUL": "nb.ipynb\x00.txt",
    "newline": "nb\n.ipynb",
    "right-to-left override": "bypn\u202e.ipynb",
    "zero-width space": "..\u200b/outside/nb.ipynb",
    "hidden folder": ".hidden/nb.ipynb",
    "encoded hidden": "%2ehidden/nb.ipynb",
    "not a notebook": "nb.collab.json",
    "only a suffix": ".ipynb",
    "too long": "a/" * 3000 + "nb.ipynb",
    "symlinked folder out": "link_out/nb.ipynb",
    "symlinked notebook out": "out_nb.ipynb",
    "symlinked sidecar out": "victim.ipynb",
    "symlink chain out": "chain/nb.ipynb",
}
# Sent only in JSON bodies (not encodable as UTF-8 in a URL).
JSON_ONLY = {"lone surrogate": "\udc80.ipynb"}
# Raw query strings (already percent-encoded, possibly invalid UTF-8).
RAW_QUERIES = {
    "overlong UTF-8 dots": "%c0%ae%c0%ae/outside/nb.ipynb",
    "invalid UTF-8": "%ff%fe.ipynb",
    "encoded surrogate": "%ed%b2%80.ipynb",
    "encoded NUL": "nb%00.ipynb",
    "encoded traversal": "..%2F..%2Foutside%2Fnb.ipynb",
}


@pytest.fixture
def layout(jp_root_dir: Path, tmp_path_factory, make_notebook):
    """A root with a real notebook, and symlinks that lead out of it."""
    outside = tmp_path_factory.mktemp("outside")
    nbformat.write(nbformat.v4.new_notebook(), outside / "nb.ipynb")
    (outside / "nb.collab.json").write_text(valid_context_json(SECRET))
    (outside / "victim.collab.json").write_text(valid_context_json(SECRET))
    make_notebook("nb.ipynb")
    make_notebook("victim.ipynb")
    (jp_root_dir / "sub").mkdir()
    os.symlink(outside, jp_root_dir / "link_out")
    os.symlink(outside / "nb.ipynb", jp_root_dir / "out_nb.ipynb")
    os.symlink(outside / "victim.collab.json", jp_root_dir / "victim.collab.json")
    os.symlink(jp_root_dir / "link_out", jp_root_dir / "inner")
    os.symlink(jp_root_dir / "inner", jp_root_dir / "chain")
    return outside


async def test_r03_bad_paths_are_refused_on_every_route(
    http_server,
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    jp_root_dir,
    layout,
    anthropic_env,
    figures,
):
    outside = layout
    before_out = tree_fingerprint(outside)
    before_root = tree_fingerprint(jp_root_dir)
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/"
    refused = 0
    statuses: dict[int, int] = {}

    async def expect_refused(label: str, response) -> None:
        nonlocal refused
        assert response.code in (400, 403), (label, response.code, response.body[:300])
        text = response.body.decode("utf-8", "replace")
        assert SECRET not in text and "Traceback" not in text
        statuses[response.code] = statuses.get(response.code, 0) + 1
        refused += 1

    for route, method in QUERY_PATH_ROUTES:
        body = sample_bodies().get((route, method))
        payload = json.dumps(body) if body is not None else None
        queries = {n: quote(p, safe="") for n, p in BAD_PATHS.items()} | RAW_QUERIES
        for name, query in queries.items():
            response = await raw_fetch(
                f"{base}{route}?path={query}", method, payload, jp_auth_header
            )
            await expect_refused(f"{method} {route} {name}", response)

    for route, method in BODY_PATH_ROUTES:
        for name, path in (BAD_PATHS | JSON_ONLY).items():
            body = sample_bodies(path)[(route, method)]
            response = await raw_fetch(f"{base}{route}", method, json.dumps(body), jp_auth_header)
            await expect_refused(f"{method} {route} {name}", response)

    # WebSocket requests carry their path in the message.
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(
        HTTPRequest(base.replace("http", "ws", 1) + "stream", headers=jp_auth_header)
    )
    for kind, route in (("complete", "complete"), ("preview", "preview")):
        for index, (name, path) in enumerate((BAD_PATHS | JSON_ONLY).items()):
            request_id = f"{kind}-{index}"
            body = sample_bodies(path)[(route, "POST")]
            await ws_send(ws, {"type": kind, "id": request_id, **body})
            message = (await ws_until(ws, request_id, "error", "result", "progress"))[-1]
            assert message["type"] == "error", (kind, name, message)
            assert message["status"] in (400, 403), (kind, name, message)
            assert SECRET not in json.dumps(message)
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1
            refused += 1
    ws.close()

    # Nothing outside the root was read into a prompt or changed; nothing was written.
    assert anthropic_env.message_requests() == []
    assert tree_fingerprint(outside) == before_out
    assert tree_fingerprint(jp_root_dir) == before_root
    kinds = len(BAD_PATHS) + len(JSON_ONLY) + len(RAW_QUERIES)
    figures.add(
        "R3",
        f"{kinds} kinds of bad path ('..', absolute, symlinks out, encodings) x "
        f"{len(QUERY_PATH_ROUTES) + len(BODY_PATH_ROUTES) + 2} route/transports: "
        f"{refused} requests refused ({statuses.get(400, 0)} x 400, "
        f"{statuses.get(403, 0)} x 403), 0 files outside the root touched",
    )


async def test_r03_symlinks_out_of_the_root_are_403(collab_api, layout, jp_root_dir):
    for path in ("link_out/nb.ipynb", "out_nb.ipynb", "victim.ipynb", "chain/nb.ipynb"):
        code, body = await collab_api("context", params={"path": path})
        assert code == 403, (path, body)
        assert body["reason"] == "forbidden_path"
        assert "outside the server root" in body["message"]
        code, body = await collab_api(
            "context",
            method="PATCH",
            params={"path": path},
            body={
                "revision": 0,
                "operations": [{"op": "add_amendment", "kind": "fact", "text": "x"}],
            },
        )
        assert code == 403, (path, body)
    assert SECRET in (layout / "victim.collab.json").read_text()


async def test_r03_symlinks_inside_the_root_keep_working(collab_api, make_notebook, jp_root_dir):
    """A sidecar shared through a symlink inside the root is written through the link."""
    make_notebook("real.ipynb")
    (jp_root_dir / "shared.collab.json").write_text(valid_context_json("Shared fact."))
    os.symlink(jp_root_dir / "shared.collab.json", jp_root_dir / "real.collab.json")
    os.symlink(jp_root_dir / "real.ipynb", jp_root_dir / "alias.ipynb")
    code, body = await collab_api("context", params={"path": "real.ipynb"})
    assert code == 200 and body["context"]["amendments"][0]["text"] == "Shared fact."
    code, body = await collab_api(
        "context",
        method="PATCH",
        params={"path": "real.ipynb"},
        body={"revision": 0, "operations": [{"op": "add_amendment", "kind": "fact", "text": "B"}]},
    )
    assert code == 200, body
    assert (jp_root_dir / "real.collab.json").is_symlink()
    assert '"B"' in (jp_root_dir / "shared.collab.json").read_text()
    code, body = await collab_api("context", params={"path": "alias.ipynb"})
    assert code == 200, body
    assert fingerprint(jp_root_dir / "alias.collab.json") is None
