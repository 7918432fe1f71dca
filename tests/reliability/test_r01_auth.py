"""R1: every route of the extension, every method, without credentials: 403.
Cookie-authenticated writes without the XSRF token are refused.

The routes are enumerated from the running server's routers (not from a list
kept by hand), and every HTTP method tornado dispatches is tried on each: the
ones a handler implements and the ones it does not (which would otherwise
answer 405 before any credential check), and OPTIONS (answered without
credentials only when the server is configured for cross-origin clients).
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from tests.reliability.helpers import (
    METHODS,
    WRITE_METHODS,
    collab_routes,
    raw_fetch,
    tree_fingerprint,
)

# Requests that must be treated as "no credentials".
BAD_CREDENTIALS = {
    "none": {},
    "wrong token header": {"Authorization": "token not-the-token"},
    "bearer garbage": {"Authorization": "Bearer " + "x" * 40},
    "forged login cookie": {"Cookie": "username-127-0-0-1=2|1:0|10:1700000000|forged"},
}


def _body(method: str) -> bytes | None:
    if method in ("POST", "PUT", "PATCH"):
        return json.dumps({"revision": 0, "prompt": "hi", "path": "nb.ipynb"}).encode()
    return None


async def test_r01_every_route_every_method_without_credentials_is_403(
    jp_serverapp,
    http_server,
    jp_http_port,
    jp_base_url,
    make_notebook,
    jp_root_dir,
    anthropic_env,
    figures,
):
    make_notebook("nb.ipynb")
    routes = collab_routes(jp_serverapp.web_app, jp_base_url)
    assert len(routes) >= 11
    before = tree_fingerprint(jp_root_dir)
    refused = 0
    for path, _handler in routes:
        for method in METHODS:
            for label, headers in BAD_CREDENTIALS.items():
                for query in ("?path=nb.ipynb", "?path=nb.ipynb&token=wrong"):
                    response = await raw_fetch(
                        f"http://127.0.0.1:{jp_http_port}{path}{query}",
                        method,
                        _body(method),
                        headers,
                    )
                    assert response.code == 403, (method, path, label, query, response.code)
                    text = (response.body or b"").decode("utf-8", "replace")
                    assert "Traceback" not in text
                    for leak in ('"schema_version"', '"provider"', '"amendments"', "event:"):
                        assert leak not in text, (method, path, text[:200])
                    refused += 1

    # The WebSocket upgrade too, with each kind of bad credential.
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/stream"
    for label, headers in BAD_CREDENTIALS.items():
        with pytest.raises(HTTPClientError) as info:
            await websocket_connect(HTTPRequest(url, headers=headers))
        assert info.value.code == 403, label
        refused += 1

    # Nothing was read from the model, nothing written to disk.
    assert anthropic_env.message_requests() == []
    assert tree_fingerprint(jp_root_dir) == before
    n = len(routes) * len(METHODS)
    figures.add(
        "R1",
        f"{len(routes)} routes (from the running server) x {len(METHODS)} methods x "
        f"{len(BAD_CREDENTIALS) * 2} kinds of missing/bad credentials: "
        f"{refused} of {refused} requests refused with 403 ({n} route-methods + "
        f"{len(BAD_CREDENTIALS)} WebSocket upgrades)",
    )


async def test_r01_options_preflight_is_answered_only_for_cors_setups(
    jp_serverapp, http_server, jp_http_port, jp_base_url
):
    """Browsers send CORS preflights without credentials; with no cross-origin
    client configured there is nothing to answer (403 like every other method)."""
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/context"
    response = await raw_fetch(url, "OPTIONS", headers={"Origin": "https://evil.example"})
    assert response.code == 403
    jp_serverapp.web_app.settings["allow_origin"] = "https://trusted.example"
    try:
        response = await raw_fetch(url, "OPTIONS", headers={"Origin": "https://trusted.example"})
        assert response.code in (200, 204)
        assert not response.body  # a preflight answer carries no data
    finally:
        jp_serverapp.web_app.settings.pop("allow_origin", None)


async def login_cookies(jp_http_port: int, jp_base_url: str, token: str) -> str:
    """Log in the way a browser does (a ``?token=`` URL); the Cookie header it gets."""
    response = await raw_fetch(
        f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/version?token={token}"
    )
    assert response.code == 200, response.body
    jar = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    assert jar, "no login cookie was set"
    return "; ".join(f"{k}={m.value}" for k, m in jar.items() if k != "_xsrf")


async def test_r01_cookie_authenticated_writes_need_the_xsrf_token(
    jp_serverapp,
    http_server,
    jp_http_port,
    jp_base_url,
    make_notebook,
    jp_root_dir,
    anthropic_env,
    figures,
):
    make_notebook("nb.ipynb")
    cookie = await login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    routes = collab_routes(jp_serverapp.web_app, jp_base_url)
    patch = json.dumps(
        {
            "revision": 0,
            "operations": [{"op": "add_amendment", "kind": "fact", "text": "A."}],
            "path": "nb.ipynb",
            "prompt": "hi",
            "amendment": {"kind": "fact", "text": "A."},
        }
    )
    xsrf = "0123456789abcdef0123456789abcdef"
    attempts = {
        "no XSRF token": {"Cookie": cookie},
        "XSRF cookie, no header": {"Cookie": f"{cookie}; _xsrf={xsrf}"},
        "XSRF header, no cookie": {"Cookie": cookie, "X-XSRFToken": xsrf},
        "mismatched XSRF": {"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf[::-1]},
    }
    before = tree_fingerprint(jp_root_dir)
    refused = 0
    for path, _handler in routes:
        url = f"http://127.0.0.1:{jp_http_port}{path}?path=nb.ipynb"
        # The login cookie alone authenticates (reads of GET routes succeed)...
        for method in WRITE_METHODS:
            for label, headers in attempts.items():
                response = await raw_fetch(url, method, patch, headers)
                assert response.code == 403, (method, path, label, response.code, response.body)
                refused += 1
    assert anthropic_env.message_requests() == []
    assert tree_fingerprint(jp_root_dir) == before

    # ...and with the token (cookie + header, as JupyterLab sends them) a write goes through.
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/context?path=nb.ipynb"
    response = await raw_fetch(url, headers={"Cookie": cookie})
    assert response.code == 200, response.body
    valid = {"revision": 0, "operations": [{"op": "add_amendment", "kind": "fact", "text": "A."}]}
    response = await raw_fetch(
        url,
        "PATCH",
        json.dumps(valid),
        {"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    assert response.code == 200, response.body
    assert (jp_root_dir / "nb.collab.json").exists()
    figures.add(
        "R1",
        f"{refused} cookie-authenticated writes without a valid XSRF token "
        f"({len(routes)} routes x {len(WRITE_METHODS)} methods x {len(attempts)} variants) "
        "refused with 403, nothing written",
    )


async def test_r01_cookie_websocket_from_another_origin_is_refused(
    jp_serverapp, http_server, jp_http_port, jp_base_url
):
    cookie = await login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/stream"
    for origin in ("https://evil.example", "null", f"http://127.0.0.1.evil.example:{jp_http_port}"):
        with pytest.raises(HTTPClientError) as info:
            await websocket_connect(HTTPRequest(url, headers={"Cookie": cookie, "Origin": origin}))
        assert info.value.code == 403, origin
    same = HTTPRequest(
        url, headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{jp_http_port}"}
    )
    ws = await websocket_connect(same)
    ws.close()
