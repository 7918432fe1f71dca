"""Authentication, XSRF, secrets and the info routes of the server extension."""

from __future__ import annotations

import asyncio
import json
import logging
from http.cookies import SimpleCookie

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_collab.core.context_model import SCHEMA_VERSION
from tests.reliability.helpers import collab_routes, implemented_verbs
from tests.wire.anthropic_server import FAKE_API_KEY, Reply


async def test_every_route_refuses_requests_without_credentials(
    jp_serverapp, http_server, jp_http_port, jp_base_url
):
    # Every handler of the extension lives under its namespace, and vice versa.
    ours = collab_routes(jp_serverapp.web_app, jp_base_url)
    assert len(ours) >= 11
    prefix = f"{jp_base_url}jupyter-collab/"

    client = AsyncHTTPClient(force_instance=True)  # no Authorization header, no cookie
    checked = []
    try:
        for path, handler in ours:
            verbs = implemented_verbs(handler)
            assert verbs, handler
            for verb in verbs:
                body = b"{}" if verb in ("POST", "PUT", "PATCH") else None
                response = await client.fetch(
                    HTTPRequest(
                        f"http://127.0.0.1:{jp_http_port}{path}?path=nb.ipynb",
                        method=verb,
                        body=body,
                        follow_redirects=False,
                    ),
                    raise_error=False,
                )
                assert response.code == 403, (verb, path, response.code, response.body)
                if verb != "HEAD":
                    assert b"Traceback" not in response.body
                checked.append((verb, path))
    finally:
        client.close()
    assert ("GET", f"{prefix}stream") in checked
    assert ("PATCH", f"{prefix}context") in checked


async def test_websocket_upgrade_without_credentials_is_403(
    jp_serverapp, http_server, jp_http_port, jp_base_url
):
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/stream")
    assert info.value.code == 403


async def login_cookies(jp_http_port, jp_base_url, token) -> dict[str, str]:
    """Log in the way a browser does (a ``?token=`` URL) and keep the cookies it sets."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        response = await client.fetch(
            f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/version?token={token}"
        )
    finally:
        client.close()
    jar = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    assert jar, "no login cookie was set"
    return {name: morsel.value for name, morsel in jar.items()}


async def test_cookie_authenticated_writes_need_the_xsrf_token(
    jp_serverapp, http_server, jp_http_port, jp_base_url, make_notebook, jp_root_dir
):
    make_notebook("nb.ipynb")
    cookies = await login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/context?path=nb.ipynb"
    patch = json.dumps(
        {"revision": 0, "operations": [{"op": "add_amendment", "kind": "fact", "text": "A."}]}
    )
    client = AsyncHTTPClient(force_instance=True)
    try:
        cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
        # The login cookie alone authenticates reads...
        response = await client.fetch(url, headers={"Cookie": cookie_header}, raise_error=False)
        assert response.code == 200, response.body
        # ...but a write without the XSRF token is refused, and nothing is written.
        for method, route in (("PATCH", "context"), ("POST", "context/accept")):
            response = await client.fetch(
                url.replace("/context?", f"/{route}?"),
                method=method,
                body=patch,
                headers={"Cookie": cookie_header},
                raise_error=False,
            )
            assert response.code == 403, (method, route, response.body)
        assert not (jp_root_dir / "nb.collab.json").exists()
        # With the token (cookie + header, as JupyterLab sends them) it goes through.
        xsrf = "0123456789abcdef0123456789abcdef"
        response = await client.fetch(
            url,
            method="PATCH",
            body=patch,
            headers={"Cookie": f"{cookie_header}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
            raise_error=False,
        )
        assert response.code == 200, response.body
        assert (jp_root_dir / "nb.collab.json").exists()
    finally:
        client.close()


async def test_cookie_authenticated_websocket_from_another_origin_is_refused(
    jp_serverapp, http_server, jp_http_port, jp_base_url
):
    cookies = await login_cookies(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-collab/stream"
    evil = HTTPRequest(url, headers={"Cookie": cookie_header, "Origin": "https://evil.example"})
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(evil)
    assert info.value.code == 403
    same = HTTPRequest(
        url, headers={"Cookie": cookie_header, "Origin": f"http://127.0.0.1:{jp_http_port}"}
    )
    ws = await websocket_connect(same)
    ws.close()


# -- info routes -------------------------------------------------------------------


async def test_version(collab_api):
    code, body = await collab_api("version")
    assert code == 200
    assert set(body) == {"version", "schema_version", "provider"}
    assert body["schema_version"] == SCHEMA_VERSION
    assert body["provider"] == "anthropic"


async def test_models_never_shows_the_key(collab_api, monkeypatch):
    code, body = await collab_api("models")
    assert code == 200
    assert body["provider"] == "anthropic"
    assert body["key_configured"] is True
    assert body["default_mode"] == "research"
    assert body["model"]
    assert FAKE_API_KEY not in json.dumps(body)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, body = await collab_api("models")
    assert body["key_configured"] is False


async def test_no_response_or_log_line_contains_the_api_key(
    collab_api, jp_ws_fetch, make_notebook, anthropic_env, caplog
):
    caplog.set_level(logging.DEBUG)
    make_notebook("nb.ipynb")
    seen: list[str] = []

    async def call(route, **kwargs):
        code, body = await collab_api(route, **kwargs)
        seen.append(json.dumps(body))
        return code, body

    await call("version")
    await call("models")
    await call("context", params={"path": "nb.ipynb"})
    await call("complete", method="POST", body={"path": "nb.ipynb", "prompt": "hi"})
    # A provider whose error message quotes the key back: scrubbed on the way out.
    anthropic_env.script(Reply.error(401, f"invalid x-api-key: {FAKE_API_KEY}"))
    code, body = await call("complete", method="POST", body={"prompt": "hi"})
    assert code == 502 and "invalid x-api-key" in body["message"]
    anthropic_env.script(Reply.error(401, f"invalid x-api-key: {FAKE_API_KEY}"))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "complete", "id": "1", "prompt": "hi"}))
    seen.append(await asyncio.wait_for(ws.read_message(), timeout=20))
    ws.close()
    assert anthropic_env.received_api_key(FAKE_API_KEY)  # the key was really used

    for text in seen:
        assert FAKE_API_KEY not in text
    assert any("[secret]" in text or "[redacted]" in text for text in seen)
    assert caplog.records
    for record in caplog.records:
        assert FAKE_API_KEY not in record.getMessage()
    assert FAKE_API_KEY not in caplog.text
